//! Adding a comment to a Jira issue from Teams as the sender's Jira user (PROTOCOLS.md §6.1,
//! §6.2, §7.5): the "Add to a Jira issue as a comment" message action (`composeExtension/
//! fetchTask` opens the dialog with the message as wiki markup) and the *Comment* button of
//! issue cards (`task/fetch`, the issue fixed); both dialogs submit to [`submit`]. Words in
//! place of a key find the issues the user can see, offered in a next step of the same dialog;
//! a key is looked up as the user. One dialog adds at most one comment: its nonce is claimed
//! before Jira is asked, as creating issues does, and a post Jira did not answer keeps the
//! claim. In service projects the comment is internal unless the user made it visible to the
//! customer.

use std::time::{Duration, Instant};

use actix_web::HttpResponse;
use serde_json::{Value, json};

use crate::clients::jira::{CommentTarget, SearchQuery};
use crate::crypto::random;
use crate::db;
use crate::db::models::bot_action::{BotAction, Claim};
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::user_mapping::UserMapping;
use crate::domain::comment_form::{self, CommentForm, IssueChoice, MAX_CHOICES, Target, Wanted};
use crate::domain::{jira_card, jql};
use crate::error::AppError;
use crate::state::AppState;

use super::context::TeamsContext;
use super::jira_actions::{
    Acting, Trouble, acting, me_sign_in_or, sign_in_url, timed, timed_within,
};

/// The message action's command id (the manifest's `composeExtensions` command).
pub const COMMAND_ID: &str = "commentFromMessage";
/// Time spent searching for the issues to choose from (Teams waits 5 s in all).
const SEARCH_BUDGET: Duration = Duration::from_millis(3800);
/// Time by which the comment must have been sent: later, Jira could write it after Teams gave
/// up on the answer, and the user would add it again.
const POST_BUDGET: Duration = Duration::from_millis(4500);
/// Issues one instance contributes to the choice.
const SEARCH_MAX_PER_INSTANCE: u32 = 10;

type Link = (UserMapping, JiraInstance);

fn task_message(text: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({"task": {"type": "message", "value": text}}))
}

fn dialog(f: &CommentForm, error: Option<&str>) -> HttpResponse {
    HttpResponse::Ok().json(comment_form::task(comment_form::form(f, error)))
}

/// What an unlinked sender is answered: the message extension's `auth` answer, or in a card's
/// dialog (where Teams reads only a `task`) a dialog with the sign-in button.
async fn sign_in(state: &AppState, ctx: &TeamsContext, from_card: bool) -> HttpResponse {
    if !from_card {
        return me_sign_in_or(state, ctx, task_message).await;
    }
    match sign_in_url(state, ctx).await {
        Some(url) => HttpResponse::Ok().json(json!({"task": {"type": "continue", "value": {
            "title": "Link your Jira account",
            "width": "small",
            "height": "small",
            "card": jira_card::attachment(jira_card::sign_in_card(&url)),
        }}})),
        None => task_message(&Trouble::NotLinked.message()),
    }
}

fn empty_search() -> Target {
    Target::Search {
        query: String::new(),
        searched: String::new(),
        choices: Vec::new(),
        chosen: String::new(),
    }
}

/// `composeExtension/fetchTask` of "Add to a Jira issue as a comment": the dialog, the comment
/// prefilled with the message (sanitised HTML as wiki markup) and a link back to it.
pub async fn fetch_task(
    state: &AppState,
    ctx: &TeamsContext,
    value: &Value,
) -> Result<HttpResponse, AppError> {
    if ctx.links(state).await?.is_empty() {
        return Ok(sign_in(state, ctx, false).await);
    }
    let message = &value["messagePayload"];
    let body = &message["body"];
    let f = CommentForm {
        target: empty_search(),
        comment: comment_form::prefill(
            body["content"].as_str().unwrap_or_default(),
            body["contentType"].as_str().unwrap_or("html"),
            message["linkToMessage"].as_str(),
        ),
        public: false,
        nonce: random::token(16),
    };
    // a message too long for Jira is said at once; an empty one (an image only) is not an error yet
    let warning = f
        .check_comment()
        .err()
        .filter(|_| !f.comment.trim().is_empty());
    Ok(dialog(&f, warning.as_deref()))
}

/// `task/fetch` of an issue card's *Comment* button: the dialog for that issue, which the
/// sender must be able to see.
pub async fn fetch_from_card(
    state: &AppState,
    ctx: &TeamsContext,
    value: &Value,
) -> Result<HttpResponse, AppError> {
    let data = &value["data"];
    let instance = data["instance"].as_str().unwrap_or_default();
    let issue = match &data["issue"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let links = ctx.links(state).await?;
    let Some(link) = links.iter().find(|(_, i)| i.public_id == instance) else {
        return Ok(sign_in(state, ctx, true).await);
    };
    if issue.is_empty() || issue.len() > 255 {
        return Ok(task_message("There is nothing to open here."));
    }
    let found = async {
        let a = acting(state, link, "read an issue to comment on as the user").await?;
        timed(a.jira.comment_target(&a.token, &issue)).await
    }
    .await;
    Ok(match found {
        Ok(Some(t)) => dialog(
            &CommentForm {
                target: Target::Fixed {
                    instance: instance.to_owned(),
                    title: format!(
                        "Comment on {} · {}",
                        t.key,
                        t.fields.summary.as_deref().unwrap_or_default()
                    ),
                    service_desk: t.in_service_desk(),
                    issue: t.id,
                },
                comment: String::new(),
                public: false,
                nonce: random::token(16),
            },
            None,
        ),
        Ok(None) => task_message("This issue is not available to you in Jira."),
        Err(t) => task_message(&t.message()),
    })
}

/// What posting came to.
enum Posted {
    /// Added now, to this issue (key).
    Now(String),
    /// This dialog added it before.
    Before(String),
    /// Another request with this dialog is adding it right now.
    InProgress,
    /// Sent, but Jira did not answer in time: it may be there.
    Unconfirmed(String),
}

/// `composeExtension/submitAction` or `task/submit` of the dialog: finds the issues to choose
/// from (a next step), or adds the comment and closes the dialog with "Added a comment to
/// KEY", or shows the dialog again with what went wrong and the inputs kept.
pub async fn submit(
    state: &AppState,
    ctx: &TeamsContext,
    value: &Value,
    from_card: bool,
) -> Result<HttpResponse, AppError> {
    let mut f = CommentForm::of(&value["data"]);
    let once = match (f.nonce.as_str(), &ctx.activity_id) {
        ("", Some(a)) => format!("comment:{}:activity:{a}", ctx.teams_user_id),
        ("", None) => format!("comment:{}:{}", ctx.teams_user_id, random::token(16)),
        (n, _) => format!("comment:{}:{n}", ctx.teams_user_id),
    };
    if f.nonce.is_empty() {
        f.nonce = random::token(16);
    }
    let links = ctx.links(state).await?;
    if links.is_empty() {
        return Ok(sign_in(state, ctx, from_card).await);
    }
    if let Err(e) = f.check_comment() {
        return Ok(dialog(&f, Some(&e)));
    }
    Ok(match f.wanted() {
        Wanted::Nothing => dialog(&f, Some("Enter the issue's key, or words to find it.")),
        Wanted::Search(query) => match choices(state, &links, &query).await {
            Ok(found) => {
                let none = found.is_empty();
                f.target = Target::Search {
                    searched: query.clone(),
                    chosen: found.first().map(|c| c.value.clone()).unwrap_or_default(),
                    query: query.clone(),
                    choices: found,
                };
                let shown: String = query.chars().take(80).collect();
                let error = none.then(|| format!("No issue you can see matches \"{shown}\"."));
                dialog(&f, error.as_deref())
            }
            Err(t) => dialog(&f, Some(&t.message())),
        },
        Wanted::Issue(instance, issue) => {
            match post(state, ctx, &links, instance.as_deref(), &issue, &f, once).await {
                Ok(Posted::Now(key) | Posted::Before(key)) => {
                    task_message(&format!("Added a comment to {key}"))
                }
                Ok(Posted::InProgress) => task_message("This comment is being added already."),
                Ok(Posted::Unconfirmed(key)) => task_message(&format!(
                    "Jira did not answer in time: the comment may be on {key} already. Look there before you add it again."
                )),
                Err(Trouble::NotLinked) => sign_in(state, ctx, from_card).await,
                Err(t) => dialog(&f, Some(&t.message())),
            }
        }
    })
}

/// The issues matching `query` that the sender can see, on each linked instance (as far as the
/// time budget allows), as choices `<instance>:<issue id>`.
async fn choices(
    state: &AppState,
    links: &[Link],
    query: &str,
) -> Result<Vec<IssueChoice>, Trouble> {
    let Some(jql) = jql::find(query) else {
        return Ok(Vec::new());
    };
    let started = Instant::now();
    let mut out = Vec::new();
    let mut first_trouble = None;
    for link in links {
        let left = SEARCH_BUDGET.saturating_sub(started.elapsed());
        if left < Duration::from_millis(200) {
            break;
        }
        let found = async {
            let a = acting(state, link, "search Jira as the user").await?;
            let mut q = SearchQuery::new(jql.clone(), SEARCH_MAX_PER_INSTANCE);
            // an unknown or invisible key is "no hits", not an error that tells it exists
            q.validate_query = false;
            let page = timed_within(left, a.jira.search(&a.token, &q)).await?;
            Ok::<_, Trouble>((a.instance, page))
        }
        .await;
        match found {
            Ok((instance, page)) => {
                let host = url::Url::parse(&instance.base_url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_default();
                for i in page.issues {
                    let summary: String = i.fields.summary.chars().take(150).collect();
                    let mut title = format!("{} · {summary}", i.key);
                    if links.len() > 1 {
                        title = format!("{host}: {title}");
                    }
                    out.push(IssueChoice {
                        value: format!("{}:{}", instance.public_id, i.id),
                        title,
                    });
                }
            }
            Err(t) => {
                first_trouble.get_or_insert(t);
            }
        }
    }
    match first_trouble {
        Some(t) if out.is_empty() => Err(t),
        _ => {
            out.truncate(MAX_CHOICES);
            Ok(out)
        }
    }
}

/// The issue as the sender sees it, on the instance named or else on the first linked one that
/// shows it (a typed key); `None` when none does.
async fn find_target(
    state: &AppState,
    candidates: &[&Link],
    issue: &str,
) -> Result<Option<(Acting, CommentTarget)>, Trouble> {
    let mut first_trouble = None;
    for link in candidates {
        let found = async {
            let a = acting(state, link, "comment on an issue as the user").await?;
            let t = timed(a.jira.comment_target(&a.token, issue)).await?;
            Ok::<_, Trouble>(t.map(|t| (a, t)))
        }
        .await;
        match found {
            Ok(Some(x)) => return Ok(Some(x)),
            Ok(None) => {}
            Err(t) => {
                first_trouble.get_or_insert(t);
            }
        }
    }
    first_trouble.map_or(Ok(None), Err)
}

/// Adds the dialog's comment to `issue` (id or key) as the sender, at most once per `once`.
async fn post(
    state: &AppState,
    ctx: &TeamsContext,
    links: &[Link],
    instance: Option<&str>,
    issue: &str,
    f: &CommentForm,
    once: String,
) -> Result<Posted, Trouble> {
    let started = Instant::now();
    let candidates: Vec<&Link> = links
        .iter()
        .filter(|(_, i)| instance.is_none_or(|p| i.public_id == p))
        .collect();
    if candidates.is_empty() {
        return Err(Trouble::NotLinked);
    }
    let (k, user) = (once.clone(), ctx.teams_user_id.clone());
    let claim = db::run(&state.pool, move |conn| {
        Ok(BotAction::claim(conn, &k, &user)?)
    })
    .await
    .map_err(|e| Trouble::from(AppError::from(e)))?;
    match claim {
        Claim::Fresh => {}
        Claim::Pending => return Ok(Posted::InProgress),
        Claim::Done(key) => return Ok(Posted::Before(key)),
    }
    // nothing was written: the same dialog may be corrected and sent again
    let release = |key: String| async move {
        let _ = db::run(&state.pool, move |conn| Ok(BotAction::release(conn, &key)?)).await;
    };
    let (a, target) = match find_target(state, &candidates, issue).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            release(once).await;
            let named = if issue.bytes().all(|b| b.is_ascii_digit()) {
                "This issue".to_owned()
            } else {
                issue.to_owned()
            };
            return Err(Trouble::Failed(format!(
                "{named} is not available to you in Jira."
            )));
        }
        Err(t) => {
            release(once).await;
            return Err(t);
        }
    };
    let Some(id) = target.numeric_id() else {
        release(once).await;
        return Err(Trouble::Failed(
            "Jira answered something unexpected; try again later.".into(),
        ));
    };
    let left = POST_BUDGET.saturating_sub(started.elapsed());
    if left < Duration::from_secs(1) {
        release(once).await;
        return Err(Trouble::TimedOut);
    }
    let internal = target.in_service_desk() && !f.public;
    match timed_within(left, a.jira.add_comment(&a.token, id, &f.comment, internal)).await {
        Ok(_) => {}
        // it may have been written (a timeout, a 5xx from a proxy after Jira stored it, a
        // connection lost after sending): keep the claim, so this dialog cannot add a second one
        Err(Trouble::TimedOut | Trouble::Failed(_)) => {
            return Ok(Posted::Unconfirmed(target.key));
        }
        Err(t) => {
            release(once).await;
            return Err(t);
        }
    }
    let (k, key) = (once, target.key.clone());
    if let Err(e) = db::run(&state.pool, move |conn| {
        Ok(BotAction::finish(conn, &k, &key)?)
    })
    .await
    {
        tracing::warn!(error = %e, "added comment not recorded against its dialog");
    }
    tracing::info!(
        instance.public_id = %a.instance.public_id,
        issue.key = %target.key,
        comment.internal = internal,
        "comment added from Teams"
    );
    Ok(Posted::Now(target.key))
}
