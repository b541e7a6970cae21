//! Working with Jira from Teams, always as the sender's linked Jira user (their OAuth token, so
//! Jira applies their permissions): `find`, the search message extension and link unfurling
//! here; creating issues in [`super::jira_create`]. Invoke answers are the HTTP body and Teams
//! waits 5 s at most (PROTOCOLS.md §6.1), so every Jira step has a short time limit and a
//! failure still answers something the user can act on. An unlinked sender is asked to link
//! and never sees issue data.

use std::time::Duration;

use actix_web::HttpResponse;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::clients::jira::{FoundIssue, JiraCallError, JiraClient, JiraError, SearchQuery};
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::user_mapping::UserMapping;
use crate::domain::jira_card::{self, IssueView};
use crate::domain::{issue_link, jql};
use crate::error::AppError;
use crate::services::tokens;
use crate::state::AppState;

use super::account_link;
use super::context::TeamsContext;

/// Time limit of one Jira step (token renewal, search, fetch, create) inside a Teams request.
pub(super) const JIRA_STEP: Duration = Duration::from_secs(3);
/// Most issues `find` lists.
const FIND_MAX: u32 = 10;
/// Most results of one message-extension page.
const SEARCH_PAGE_MAX: u64 = 25;

/// Why a Jira step did not produce its answer, in words for the user.
#[derive(Debug)]
pub(super) enum Trouble {
    /// The sender has no link to Jira (for this instance).
    NotLinked,
    /// The link must be renewed.
    SignIn,
    /// Jira understood and refused (400/403): its own message.
    Refused(String),
    /// Jira did not answer in time: the step's effect is unknown.
    TimedOut,
    /// Anything else, said safely.
    Failed(String),
}

impl Trouble {
    /// What the user is told.
    pub(super) fn message(&self) -> String {
        match self {
            Trouble::NotLinked => {
                "Link your Jira account first: type **link** in a chat with me.".into()
            }
            Trouble::SignIn => {
                "Your link to Jira must be renewed: type **link** in a chat with me.".into()
            }
            Trouble::Refused(m) => format!("Jira refused: {m}"),
            Trouble::TimedOut => "Jira did not answer in time; try again in a moment.".into(),
            Trouble::Failed(m) => m.clone(),
        }
    }
}

impl From<JiraError> for Trouble {
    fn from(e: JiraError) -> Self {
        if e.needs_sign_in() {
            return Trouble::SignIn;
        }
        tracing::warn!(error = %e, "Jira call as the user failed");
        match e {
            JiraError::Outbound(crate::clients::http::OutboundError::Timeout { .. }) => {
                Trouble::TimedOut
            }
            _ => Trouble::Failed("Jira could not be reached just now; try again later.".into()),
        }
    }
}

impl From<JiraCallError> for Trouble {
    fn from(e: JiraCallError) -> Self {
        match e {
            JiraCallError::Refused(r) => Trouble::Refused(r.0),
            JiraCallError::Other(e) => e.into(),
        }
    }
}

impl From<AppError> for Trouble {
    fn from(e: AppError) -> Self {
        match e.code() {
            "needs_sign_in" => Trouble::SignIn,
            "jira_oauth_not_configured" => Trouble::Failed(
                "This Jira instance is not connected to Teams yet; ask your Jira administrator."
                    .into(),
            ),
            _ => {
                tracing::warn!(error = %e, "acting as the Jira user failed");
                Trouble::Failed("Jira could not be reached just now; try again later.".into())
            }
        }
    }
}

/// Runs one Jira step with the [`JIRA_STEP`] limit.
pub(super) async fn timed<T, E: Into<Trouble>>(
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, Trouble> {
    timed_within(JIRA_STEP, f).await
}

/// Runs one Jira step with a limit of at most `limit`.
pub(super) async fn timed_within<T, E: Into<Trouble>>(
    limit: Duration,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, Trouble> {
    match actix_web::rt::time::timeout(limit.min(JIRA_STEP), f).await {
        Ok(r) => r.map_err(Into::into),
        Err(_) => Err(Trouble::TimedOut),
    }
}

/// The sender acting as their Jira user on one instance.
pub(super) struct Acting {
    pub instance: JiraInstance,
    pub token: SecretString,
    pub jira: JiraClient,
}

/// The sender's token and client for one of their links.
pub(super) async fn acting(
    state: &AppState,
    link: &(UserMapping, JiraInstance),
    purpose: &str,
) -> Result<Acting, Trouble> {
    let (mapping, instance) = link;
    if !instance.enabled {
        return Err(Trouble::Failed(
            "This Jira instance is switched off in the appliance.".into(),
        ));
    }
    let actor = Actor::Api(format!("{}:{}", instance.public_id, mapping.jira_user_key));
    let (token, jira) = timed(tokens::jira_token(
        state, instance, mapping, &actor, purpose,
    ))
    .await?;
    Ok(Acting {
        instance: instance.clone(),
        token,
        jira,
    })
}

/// The issue as cards show it.
pub(super) fn view(i: &FoundIssue) -> IssueView {
    IssueView {
        key: i.key.clone(),
        summary: i.fields.summary.clone(),
        status: i.fields.status.as_ref().map(|s| s.name.clone()),
        issue_type: i.fields.issuetype.as_ref().map(|s| s.name.clone()),
        assignee: i.fields.assignee.as_ref().map(|a| a.display_name.clone()),
    }
}

/// A one-time sign-in URL for the sender, when linking from Teams is available.
pub(super) async fn sign_in_url(state: &AppState, ctx: &TeamsContext) -> Option<String> {
    match account_link::sign_in_url(state, ctx).await {
        Ok(url) => Some(url),
        Err(e) => {
            tracing::info!(error.code = e.code(), "no sign-in URL for an unlinked user");
            None
        }
    }
}

/// Asks an unlinked sender (in a message answer) to link their account.
pub(super) async fn reply_sign_in(state: &AppState, ctx: &TeamsContext) -> Result<(), AppError> {
    match sign_in_url(state, ctx).await {
        Some(url) => {
            ctx.reply(
                state,
                "sign-in",
                jira_card::message(
                    "Link your Jira account first.",
                    jira_card::sign_in_card(&url),
                ),
            )
            .await
        }
        None => {
            ctx.reply_text(state, "sign-in", &Trouble::NotLinked.message())
                .await
        }
    }
}

/// The search message extension's `auth` answer (PROTOCOLS.md §6.4), or a plain message when
/// linking from Teams is not available (no instance has an OAuth link yet).
pub(super) async fn me_sign_in(state: &AppState, ctx: &TeamsContext) -> HttpResponse {
    me_sign_in_or(state, ctx, me_message).await
}

/// The message-extension `auth` answer (PROTOCOLS.md §6.4), or `fallback` with the reason when
/// linking from Teams is not available: `message` is a documented answer to a search only, so
/// each invoke brings its own (an empty `result` for `queryLink`, a `task` message for
/// `fetchTask`).
pub(super) async fn me_sign_in_or(
    state: &AppState,
    ctx: &TeamsContext,
    fallback: impl FnOnce(&str) -> HttpResponse,
) -> HttpResponse {
    match sign_in_url(state, ctx).await {
        Some(url) => HttpResponse::Ok().json(json!({"composeExtension": {
            "type": "auth",
            "suggestedActions": {"actions": [
                {"type": "openUrl", "value": url, "title": "Link Jira account"},
            ]},
        }})),
        None => fallback(&Trouble::NotLinked.message()),
    }
}

fn me_message(text: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({"composeExtension": {"type": "message", "text": text}}))
}

fn me_results(attachments: Vec<Value>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"composeExtension": {
        "type": "result", "attachmentLayout": "list", "attachments": attachments,
    }}))
}

/// A search result or unfurl: the issue's card with its preview, and in a group chat *Attach
/// this chat* (`web::bot::attach`), since only a group chat can be linked to an issue.
fn result_for(ctx: &TeamsContext, instance: &JiraInstance, issue: &FoundIssue) -> Value {
    let mut a = jira_card::result_attachment(&instance.base_url, &view(issue));
    if ctx.scope == "groupChat" {
        a["content"] =
            jira_card::with_attach_action(a["content"].take(), &instance.public_id, &issue.id);
    }
    a
}

/// `find <text or key>`: up to ten issues the sender can see, as a card.
pub async fn find_command(
    state: &AppState,
    ctx: &TeamsContext,
    rest: &str,
) -> Result<(), AppError> {
    let Some(jql) = jql::find(rest) else {
        return ctx
            .reply_text(
                state,
                "find",
                "Type **find** followed by words or an issue key, e.g. **find printer** or **find ABC-12**.",
            )
            .await;
    };
    let links = ctx.links(state).await?;
    let Some(link) = links.first() else {
        return reply_sign_in(state, ctx).await;
    };
    let found = async {
        let a = acting(state, link, "search Jira as the user").await?;
        let mut q = SearchQuery::new(jql, FIND_MAX);
        // an unknown or invisible key is "no hits", not an error that tells it exists
        q.validate_query = false;
        let page = timed(a.jira.search(&a.token, &q)).await?;
        Ok::<_, Trouble>((a.instance.base_url, page))
    }
    .await;
    let shown: String = rest.trim().chars().take(80).collect();
    match found {
        Ok((_, page)) if page.issues.is_empty() => {
            ctx.reply_text(
                state,
                "find",
                &format!(
                    "No issue you can see matches \"{}\".",
                    jira_card::text(&shown, 80)
                ),
            )
            .await
        }
        Ok((base, page)) => {
            let views: Vec<IssueView> = page
                .issues
                .iter()
                .take(FIND_MAX as usize)
                .map(view)
                .collect();
            let card = jira_card::results_card(&base, &shown, &views, page.total);
            ctx.reply(
                state,
                "find",
                jira_card::message(&format!("{} issue(s) found", views.len()), card),
            )
            .await
        }
        Err(t) => ctx.reply_text(state, "find", &t.message()).await,
    }
}

/// `composeExtension/query` (and `selectItem`): issues as cards with previews, paged by
/// `queryOptions`.
pub async fn search(
    state: &AppState,
    ctx: &TeamsContext,
    value: &Value,
) -> Result<HttpResponse, AppError> {
    let params = value["parameters"].as_array().cloned().unwrap_or_default();
    let text = params
        .iter()
        .filter(|p| p["name"] != "initialRun")
        .find_map(|p| p["value"].as_str())
        .unwrap_or_default()
        .to_owned();
    let links = ctx.links(state).await?;
    let Some(link) = links.first() else {
        return Ok(me_sign_in(state, ctx).await);
    };
    let Some(jql) = jql::find(&text) else {
        return Ok(me_message("Type words or an issue key to search Jira."));
    };
    let skip = value["queryOptions"]["skip"]
        .as_u64()
        .unwrap_or(0)
        .min(1000);
    let count = value["queryOptions"]["count"]
        .as_u64()
        .unwrap_or(10)
        .clamp(1, SEARCH_PAGE_MAX);
    let found = async {
        let a = acting(state, link, "search Jira as the user").await?;
        let mut q = SearchQuery::new(jql, count as u32);
        q.start_at = skip as u32;
        q.validate_query = false;
        let page = timed(a.jira.search(&a.token, &q)).await?;
        Ok::<_, Trouble>((a.instance, page))
    }
    .await;
    Ok(match found {
        Ok((instance, page)) => me_results(
            page.issues
                .iter()
                .map(|i| result_for(ctx, &instance, i))
                .collect(),
        ),
        Err(t) => me_message(&t.message()),
    })
}

/// `composeExtension/queryLink`: a pasted issue URL of a registered instance becomes the
/// issue's card, fetched as the sender; other URLs, unlinked senders and issues the sender
/// cannot see get no issue data.
pub async fn unfurl(
    state: &AppState,
    ctx: &TeamsContext,
    value: &Value,
) -> Result<HttpResponse, AppError> {
    let url = value["url"].as_str().unwrap_or_default().to_owned();
    if url.len() > 4096 {
        return Ok(me_results(Vec::new()));
    }
    let instances = db::run(&state.pool, |conn| Ok(JiraInstance::list(conn)?)).await?;
    let Some((instance, key)) = instances
        .into_iter()
        .filter(|i| i.enabled)
        .find_map(|i| issue_link::issue_key_in(&url, &i.base_url).map(|k| (i, k)))
    else {
        return Ok(me_results(Vec::new()));
    };
    let links = ctx.links(state).await?;
    // without a way to link, the URL stays a plain link (an empty result)
    let unlinked = |_: &str| me_results(Vec::new());
    let Some(link) = links.into_iter().find(|(_, i)| i.id == instance.id) else {
        return Ok(me_sign_in_or(state, ctx, unlinked).await);
    };
    let found = async {
        let a = acting(state, &link, "show an issue link as the user").await?;
        timed(a.jira.issue_card(&a.token, &key)).await
    }
    .await;
    Ok(match found {
        Ok(Some(issue)) => HttpResponse::Ok().json(json!({"composeExtension": {
            "type": "result",
            "attachmentLayout": "list",
            "attachments": [result_for(ctx, &instance, &issue)],
            // what one user may see is not what the next one may: Teams must not reuse it
            "suggestedActions": {"actions": [
                {"type": "setCachePolicy", "value": "{\"type\":\"no-cache\"}"},
            ]},
        }})),
        Ok(None) => me_results(Vec::new()),
        Err(Trouble::SignIn) => me_sign_in_or(state, ctx, unlinked).await,
        Err(t) => {
            tracing::info!(trouble = ?t, "issue link not unfurled");
            me_results(Vec::new())
        }
    })
}

/// `composeExtension/anonymousQueryLink`: the sender is not known to the app, so no issue data.
pub async fn unfurl_anonymous(
    _state: &AppState,
    _ctx: &TeamsContext,
    _value: &Value,
) -> Result<HttpResponse, AppError> {
    Ok(me_results(Vec::new()))
}
