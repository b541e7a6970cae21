//! Linking a Jira account from Teams (PROTOCOLS.md §6.4): `link`, `unlink`, and the code that
//! finishes a link.
//!
//! `link` answers in the 1:1 chat only, with a card whose URL carries a one-time token (stored
//! hashed, ten minutes) bound to the asking Teams user and one Jira instance. The browser side
//! (`web::auth::from_teams`) proves the Microsoft user is that Teams user and ends with a six-digit
//! code; the link is stored only when the same Teams user (same `29:` id) sends the code back,
//! typed into the chat or as `signin/verifyState` (the card's Teams sign-in button opens the URL
//! in a Teams pop-up, whose last page hands the code to Teams with TeamsJS `notifySuccess`). A
//! wrong code counts against the pending link (dropped after [`MAX_ATTEMPTS`]); an expired or
//! used code links nothing.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use chrono::Utc;
use diesel::Connection;
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::clients::microsoft::MicrosoftConn;
use crate::crypto::random;
use crate::db;
use crate::db::models::access_token::TokenSet;
use crate::db::models::audit::Actor;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::outbox::OutboxItem;
use crate::db::models::secret::{
    self, FLOW_MS_REFRESH_TOKEN, FLOW_MS_TOKEN, ReadContext, TEAMS_FLOW_JIRA_REFRESH_TOKEN,
    TEAMS_FLOW_JIRA_TOKEN,
};
use crate::db::models::sign_in_flow::SignInFlow;
use crate::db::models::teams_sign_in::{MAX_ATTEMPTS, NewTeamsSignIn, TeamsSignIn, URL_TTL_SECS};
use crate::db::models::user_mapping::{NewLink, UserMapping};
use crate::error::AppError;
use crate::jobs::notify::BOT_MESSAGE;
use crate::state::AppState;
use crate::web::auth::store_link;
use crate::web::auth::from_teams::{code_mac, instance_label};

use super::teams::TeamsContext;

const PRIVATE_ONLY: &str = "Account linking is personal: open your 1:1 chat with me and type **link** (or **unlink**) there. I never post sign-in links in shared conversations.";

/// Instances a user can link to: enabled, with a Jira OAuth client; oldest first.
async fn ready_instances(state: &AppState) -> Result<Vec<JiraInstance>, AppError> {
    let all = db::run(&state.pool, |conn| Ok(JiraInstance::list(conn)?)).await?;
    Ok(all
        .into_iter()
        .filter(|i| i.enabled && i.oauth_client_id.is_some())
        .collect())
}

/// Picks from `items` by 1-based number or by instance label / host.
fn pick<'a, T>(items: &'a [T], arg: &str, label: impl Fn(&T) -> String) -> Option<&'a T> {
    let arg = arg.trim().trim_end_matches('/').to_lowercase();
    let arg = arg
        .strip_prefix("https://")
        .or_else(|| arg.strip_prefix("http://"))
        .unwrap_or(&arg);
    if let Ok(n) = arg.parse::<usize>() {
        return n.checked_sub(1).and_then(|i| items.get(i));
    }
    let exact: Vec<&T> = items
        .iter()
        .filter(|i| label(i).to_lowercase() == arg)
        .collect();
    if let [one] = exact.as_slice() {
        return Some(one);
    }
    // the host alone, when it names one instance
    let by_host: Vec<&T> = items
        .iter()
        .filter(|i| label(i).to_lowercase().split('/').next() == Some(arg))
        .collect();
    match by_host.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

/// Stores a new one-time URL for this Teams user and instance; returns it.
async fn issue_url(
    state: &AppState,
    ctx: &TeamsContext,
    instance: Uuid,
) -> Result<String, AppError> {
    let Some(oid) = ctx.aad_object_id else {
        return Err(no_identity());
    };
    let token = random::token(32);
    let hash = random::token_hash(&token);
    let (tenant, user) = (ctx.tenant_id, ctx.teams_user_id.clone());
    db::run(&state.pool, move |conn| {
        TeamsSignIn::purge_expired(conn)?;
        NewTeamsSignIn {
            id: Uuid::new_v4(),
            token_hash: &hash,
            tenant_id: tenant,
            aad_object_id: oid,
            teams_user_id: &user,
            jira_instance_id: instance,
            stage: "issued",
            expires_at: Utc::now() + chrono::Duration::seconds(URL_TTL_SECS),
        }
        .insert(conn)?;
        Ok(())
    })
    .await?;
    Ok(format!("{}/auth/teams/start?t={token}", state.internal_url))
}

fn no_identity() -> AppError {
    AppError::client(
        StatusCode::BAD_REQUEST,
        "teams_user_unknown",
        "Teams did not say which Microsoft account you use, so I cannot link it.",
    )
}

fn link_card(url: &str, instance: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": "Link your Jira account", "weight": "bolder", "size": "medium"},
                    {"type": "TextBlock", "wrap": true, "text": format!(
                        "Sign in to Microsoft and to Jira ({instance}) in your browser. The last page shows a code: send it to me here to finish. The link works once, for {} minutes, and only for you — don't forward it.",
                        URL_TTL_SECS / 60
                    )},
                ],
                "actions": [{"type": "Action.OpenUrl", "title": "Link Jira", "url": url}],
            },
        }, {
            // Teams' own sign-in (PROTOCOLS.md §6.4): the same URL in a Teams pop-up (its host,
            // the internal URL's, is in the app's validDomains); the code page there hands the
            // code to Teams, which sends it back as `signin/verifyState`
            "contentType": "application/vnd.microsoft.card.signin",
            "content": {
                "text": "Or sign in without leaving Teams:",
                "buttons": [{"type": "signin", "title": "Sign in here", "value": url}],
            },
        }],
    })
}

/// `link` [`number` | `host`].
pub async fn link(
    state: &AppState,
    _ms: &MicrosoftConn,
    ctx: &TeamsContext,
    rest: &str,
) -> Result<(), AppError> {
    if ctx.scope != "personal" {
        return ctx.reply_text(state, "link", PRIVATE_ONLY).await;
    }
    if ctx.aad_object_id.is_none() {
        return ctx
            .reply_text(state, "link", &no_identity().to_string())
            .await;
    }
    let instances = ready_instances(state).await?;
    if instances.is_empty() {
        return ctx
            .reply_text(
                state,
                "link",
                "No Jira instance is ready for linking yet. Ask your Jira administrator to set up its OAuth link in the appliance.",
            )
            .await;
    }
    let links = ctx.links(state).await?;
    let chosen = if rest.is_empty() {
        (instances.len() == 1).then(|| &instances[0])
    } else {
        match pick(&instances, rest, instance_label) {
            Some(i) => Some(i),
            None => {
                let shown: String = rest.chars().take(60).collect();
                return ctx
                    .reply_text(
                        state,
                        "link",
                        &format!(
                            "I don't know the Jira instance \"{shown}\".\n\n{}",
                            instance_list(&instances, &links)
                        ),
                    )
                    .await;
            }
        }
    };
    let Some(instance) = chosen else {
        return ctx
            .reply_text(state, "link", &instance_list(&instances, &links))
            .await;
    };
    // a link that needs a new sign-in gets a new URL; a working one is not replaced silently
    if let Some((m, _)) = links
        .iter()
        .find(|(m, _)| m.jira_instance_id == instance.id && m.status == "linked")
    {
        let label = instance_label(instance);
        let unlink = if instances.len() > 1 {
            format!("**unlink {label}**")
        } else {
            "**unlink**".to_owned()
        };
        return ctx
            .reply_text(
                state,
                "link",
                &format!(
                    "You are already linked to the Jira user **{}** on {label}. To link another Jira account, type {unlink} first and then **link** again; {unlink} alone removes the link and the tokens I keep for you.",
                    m.jira_user_name.as_deref().unwrap_or(&m.jira_user_key),
                ),
            )
            .await;
    }
    let url = issue_url(state, ctx, instance.id).await?;
    tracing::info!(instance.public_id = %instance.public_id, "Teams sign-in link issued");
    ctx.reply(state, "link", link_card(&url, &instance_label(instance)))
        .await
}

fn instance_list(instances: &[JiraInstance], links: &[(UserMapping, JiraInstance)]) -> String {
    let mut out = String::from("Which Jira instance? Type **link** and its number or host:\n\n");
    for (n, i) in instances.iter().enumerate() {
        let linked = links
            .iter()
            .find(|(m, _)| m.jira_instance_id == i.id)
            .map(|(m, _)| {
                format!(
                    " — linked to **{}**",
                    m.jira_user_name.as_deref().unwrap_or(&m.jira_user_key)
                )
            })
            .unwrap_or_default();
        out.push_str(&format!("{}. {}{linked}\n", n + 1, instance_label(i)));
    }
    out
}

/// `unlink` [`number` | `host` | `all`].
pub async fn unlink(state: &AppState, ctx: &TeamsContext, rest: &str) -> Result<(), AppError> {
    if ctx.scope != "personal" {
        return ctx.reply_text(state, "unlink", PRIVATE_ONLY).await;
    }
    let links = ctx.links(state).await?;
    if links.is_empty() {
        return ctx
            .reply_text(state, "unlink", "You have no linked Jira account.")
            .await;
    }
    let label = |(_, i): &(UserMapping, JiraInstance)| instance_label(i);
    let chosen: Vec<&(UserMapping, JiraInstance)> = if rest.eq_ignore_ascii_case("all") {
        links.iter().collect()
    } else if rest.is_empty() && links.len() == 1 {
        vec![&links[0]]
    } else if rest.is_empty() {
        let mut out = String::from(
            "You are linked on several Jira instances. Type **unlink** and a number or host, or **unlink all** to remove every link:\n\n",
        );
        for (n, (m, i)) in links.iter().enumerate() {
            out.push_str(&format!(
                "{}. {} — **{}**\n",
                n + 1,
                instance_label(i),
                m.jira_user_name.as_deref().unwrap_or(&m.jira_user_key)
            ));
        }
        return ctx.reply_text(state, "unlink", &out).await;
    } else {
        match pick(&links, rest, label) {
            Some(l) => vec![l],
            None => {
                let shown: String = rest.chars().take(60).collect();
                return ctx
                    .reply_text(
                        state,
                        "unlink",
                        &format!(
                            "You have no link on \"{shown}\". Type **unlink** to see your links."
                        ),
                    )
                    .await;
            }
        }
    };
    let (tenant, oid) = (ctx.tenant_id, ctx.aad_object_id);
    let ids: Vec<Uuid> = chosen.iter().map(|(m, _)| m.id).collect();
    let removed = db::run(&state.pool, move |conn| {
        use crate::db::schema::user_mapping as um;
        use diesel::prelude::*;
        // only this Teams user's own links, whatever changed since they were listed; their
        // tokens go with them (ON DELETE CASCADE), as with the admin's unlink
        Ok(diesel::delete(
            um::table
                .filter(um::id.eq_any(&ids))
                .filter(um::ms_tenant_id.eq(tenant))
                .filter(um::ms_user_id.nullable().eq(oid)),
        )
        .returning(um::id)
        .get_results::<Uuid>(conn)?)
    })
    .await?;
    let mut out = String::new();
    for (m, i) in chosen.iter().filter(|(m, _)| removed.contains(&m.id)) {
        tracing::info!(mapping.id = %m.id, instance.public_id = %i.public_id, "user unlinked from Teams; tokens erased");
        out.push_str(&format!(
            "Unlinked the Jira user **{}** on {}.\n\n",
            m.jira_user_name.as_deref().unwrap_or(&m.jira_user_key),
            instance_label(i)
        ));
    }
    if out.is_empty() {
        out.push_str("That link was already gone.");
    } else {
        out.push_str(
            "I erased the Microsoft and Jira tokens I kept for you. Type **link** to link again.",
        );
    }
    ctx.reply_text(state, "unlink", &out).await
}

/// The digits of a verification code in a message, if the message is just that (`123456`,
/// `123 456`, `123-456`).
fn code_of(text: &str) -> Option<String> {
    let text = text.trim();
    if text.len() > 9 {
        return None;
    }
    let mut digits = String::with_capacity(6);
    for c in text.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' => {}
            _ => return None,
        }
    }
    (digits.len() == 6).then_some(digits)
}

/// Whether a message is a typed-back verification code.
pub fn is_verification_code(text: &str) -> bool {
    code_of(text).is_some()
}

/// What became of a code sent back.
#[derive(Debug)]
enum Outcome {
    Linked { jira_user: String, instance: String },
    NothingPending,
    Expired,
    Wrong { left: i32 },
    Dropped,
    Refused(String),
}

impl Outcome {
    fn text(&self) -> String {
        match self {
            Outcome::Linked {
                jira_user,
                instance,
            } => format!(
                "Done: your Teams account is linked to the Jira user **{jira_user}** on {instance}. Type **unlink** to remove the link."
            ),
            Outcome::NothingPending => {
                "I am not waiting for a code from you. Type **link** to link your Jira account."
                    .to_owned()
            }
            Outcome::Expired => {
                "That code has expired, so nothing was linked. Type **link** to start again."
                    .to_owned()
            }
            Outcome::Wrong { left } => format!(
                "That is not the code on the sign-in page, so nothing was linked. {left} {} left.",
                if *left == 1 { "try" } else { "tries" }
            ),
            Outcome::Dropped => format!(
                "That is not the code either. After {MAX_ATTEMPTS} wrong codes I dropped the pending link; type **link** to start again."
            ),
            Outcome::Refused(why) => format!("Nothing was linked: {why}"),
        }
    }
}

/// The reply key and payload `TeamsContext::reply` would queue, for writing it in a transaction.
fn reply_item(ctx: &TeamsContext, what: &str, text: &str) -> (String, serde_json::Value) {
    let key = match &ctx.activity_id {
        Some(id) => format!("reply:{}:{id}:{what}", ctx.conversation_id),
        None => format!("reply:{}:{}:{what}", ctx.conversation_id, Uuid::new_v4()),
    };
    let payload = serde_json::json!({
        "conversationId": ctx.conversation_id,
        "serviceUrl": ctx.service_url.as_str(),
        "activity": {"type": "message", "textFormat": "markdown", "text": text},
    });
    (key, payload)
}

/// Checks a code sent back by this Teams user and, when it is theirs and current, stores the
/// link and both token pairs in one transaction with the confirmation (queued only when
/// `confirm`).
async fn check_code(
    state: &AppState,
    ctx: &TeamsContext,
    code: &str,
    confirm: bool,
) -> Result<Outcome, AppError> {
    let user = ctx.teams_user_id.clone();
    let row = db::run(&state.pool, move |conn| {
        Ok(TeamsSignIn::awaiting_code(conn, &user)?)
    })
    .await?;
    let Some(row) = row else {
        return Ok(Outcome::NothingPending);
    };
    if row.tenant_id != ctx.tenant_id || Some(row.aad_object_id) != ctx.aad_object_id {
        // same 29: id, other Entra identity: not the person the link was made for
        return Ok(Outcome::NothingPending);
    }
    let start = row.token_hash.clone();
    if row.expires_at <= Utc::now() {
        drop_pending(state, row.id, start).await?;
        return Ok(Outcome::Expired);
    }
    let expected = code_mac(&state.vault, row.id, code)?;
    let matches = row
        .code_hash
        .as_deref()
        .is_some_and(|h| random::constant_time_eq(h, &expected));
    if !matches {
        let id = row.id;
        let left = db::run(&state.pool, move |conn| {
            Ok(TeamsSignIn::wrong_code(conn, id)?)
        })
        .await?;
        tracing::warn!(teams_sign_in.id = %row.id, tries.left = left, "wrong Teams sign-in code");
        if left == 0 {
            drop_pending(state, row.id, start).await?;
            return Ok(Outcome::Dropped);
        }
        return Ok(Outcome::Wrong { left });
    }
    commit(state, ctx, row, confirm).await
}

/// Ends a pending sign-in and its browser flow without a link (pending tokens erased).
async fn drop_pending(state: &AppState, id: Uuid, start: Vec<u8>) -> Result<(), AppError> {
    db::run(&state.pool, move |conn| {
        TeamsSignIn::fail(conn, id)?;
        if let Some(flow) = SignInFlow::by_start(conn, &start)? {
            SignInFlow::close(conn, flow.id, "failed")?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

async fn commit(
    state: &AppState,
    ctx: &TeamsContext,
    row: TeamsSignIn,
    confirm: bool,
) -> Result<Outcome, AppError> {
    let (vault, c) = (state.vault.clone(), ctx.clone());
    let outcome = db::run(&state.pool, move |conn| {
        let Some(flow) = SignInFlow::by_start(conn, &row.token_hash)?.filter(|f| f.stage == "verify")
        else {
            return Ok(Outcome::NothingPending);
        };
        let instance = JiraInstance::find(conn, row.jira_instance_id)?;
        let (Some(instance), Some(key), Some(tenant), Some(ms_user)) = (
            instance,
            row.jira_user_key.clone(),
            flow.ms_tenant_id,
            flow.ms_user_id,
        ) else {
            return Ok(Outcome::NothingPending);
        };
        let actor = Actor::System("account linking".into());
        let rctx = ReadContext {
            actor: &actor,
            purpose: "complete account linking from Teams",
            label: &key,
        };
        let ms_token = secret::read(conn, &vault, FLOW_MS_TOKEN, flow.id, &rctx);
        let ms_refresh = flow
            .ms_refresh_token
            .is_some()
            .then(|| secret::read(conn, &vault, FLOW_MS_REFRESH_TOKEN, flow.id, &rctx))
            .transpose();
        let jira_token = secret::read(conn, &vault, TEAMS_FLOW_JIRA_TOKEN, row.id, &rctx);
        let jira_refresh = row
            .jira_refresh_token
            .is_some()
            .then(|| secret::read(conn, &vault, TEAMS_FLOW_JIRA_REFRESH_TOKEN, row.id, &rctx))
            .transpose();
        let (Ok(ms_token), Ok(ms_refresh), Ok(jira_token), Ok(jira_refresh)) =
            (ms_token, ms_refresh, jira_token, jira_refresh)
        else {
            return Ok(Outcome::Refused(
                "the tokens of this sign-in are gone. Type **link** to start again.".into(),
            ));
        };
        let jira_name = row.jira_user_name.clone().unwrap_or_else(|| key.clone());
        let label = instance_label(&instance);
        let done = Outcome::Linked {
            jira_user: jira_name.clone(),
            instance: label,
        };
        let (reply_key, payload) = reply_item(&c, "linked", &done.text());
        let ms_refresh = ms_refresh.as_ref().map(|r| r.expose_secret().to_owned());
        let jira_refresh = jira_refresh.as_ref().map(|r| r.expose_secret().to_owned());
        let mut refused: Option<String> = None;
        let stored = conn.transaction::<_, diesel::result::Error, _>(|conn| {
            // the conditional UPDATE makes the code single use, also against a concurrent twin
            if !TeamsSignIn::complete(conn, row.id)? {
                return Ok(Err(Outcome::NothingPending));
            }
            let linked = store_link(
                conn,
                &vault,
                &NewLink {
                    instance: row.jira_instance_id,
                    jira_user_key: &key,
                    jira_user_name: &jira_name,
                    ms_tenant_id: tenant,
                    ms_user_id: ms_user,
                    ms_user_name: flow.ms_user_name.as_deref().unwrap_or_default(),
                },
                &TokenSet {
                    access_token: ms_token.expose_secret(),
                    refresh_token: ms_refresh.as_deref(),
                    expires_at: flow.ms_expires_at.unwrap_or_else(Utc::now),
                    scopes: "",
                },
                &TokenSet {
                    access_token: jira_token.expose_secret(),
                    refresh_token: jira_refresh.as_deref(),
                    expires_at: row.jira_expires_at.unwrap_or_else(Utc::now),
                    scopes: &row.jira_scopes,
                },
            )?;
            let mapping = match linked {
                Ok(m) => m,
                // e.g. this Microsoft account is linked to another Jira user: roll the
                // completion back, then end the sign-in below
                Err(e) => {
                    refused = Some(e.to_string());
                    return Err(diesel::result::Error::RollbackTransaction);
                }
            };
            SignInFlow::close(conn, flow.id, "done")?;
            if confirm {
                let order = crate::jobs::fanout::conversation_order(
                    payload["conversationId"].as_str().unwrap_or_default(),
                );
                OutboxItem::enqueue_ordered(
                    conn,
                    BOT_MESSAGE,
                    None,
                    &reply_key,
                    &payload,
                    Some(&order),
                )?;
            }
            tracing::info!(mapping.id = %mapping.id, instance.public_id = %instance.public_id, "Jira user linked to Microsoft from Teams");
            Ok(Ok(()))
        });
        match (stored, refused) {
            (Ok(Ok(())), _) => Ok(done),
            (Ok(Err(o)), _) => Ok(o),
            (Err(diesel::result::Error::RollbackTransaction), Some(why)) => {
                TeamsSignIn::fail(conn, row.id)?;
                SignInFlow::close(conn, flow.id, "failed")?;
                Ok(Outcome::Refused(why))
            }
            (Err(e), _) => Err(e.into()),
        }
    })
    .await?;
    Ok(outcome)
}

/// A typed-back verification code.
pub async fn verify_code(state: &AppState, ctx: &TeamsContext, text: &str) -> Result<(), AppError> {
    if ctx.scope != "personal" {
        return ctx
            .reply_text(
                state,
                "code",
                "Send the code in your 1:1 chat with me, not here.",
            )
            .await;
    }
    let Some(code) = code_of(text) else {
        return Ok(());
    };
    match check_code(state, ctx, &code, true).await? {
        // the confirmation was queued with the link
        Outcome::Linked { .. } => Ok(()),
        other => ctx.reply_text(state, "code", &other.text()).await,
    }
}

/// `signin/verifyState`: `value.state` is the code the sign-in page passed to Teams. 200 with
/// an empty body when it linked; otherwise a refusal (404, as the Bot Framework SDKs answer a
/// state that yields no token [mem]), and the reason in the 1:1 chat.
pub async fn verify_state(
    state: &AppState,
    ctx: &TeamsContext,
    value: &serde_json::Value,
) -> Result<HttpResponse, AppError> {
    let personal = ctx.scope == "personal";
    let outcome = match value["state"].as_str().and_then(code_of) {
        Some(code) => check_code(state, ctx, &code, personal).await?,
        None => Outcome::Refused("the sign-in did not return a code.".into()),
    };
    if matches!(outcome, Outcome::Linked { .. }) {
        return Ok(HttpResponse::Ok().finish());
    }
    if personal {
        ctx.reply_text(state, "verify", &outcome.text()).await?;
    }
    Ok(HttpResponse::NotFound().json(serde_json::json!({
        "code": "sign_in_not_verified",
        "message": outcome.text(),
    })))
}

/// A one-time sign-in URL for this Teams user (what `link` offers), for answers that ask an
/// unlinked user to link first (message-extension `auth` replies, sign-in cards). It is bound
/// to this Teams user and to the first Jira instance ready for linking.
pub async fn sign_in_url(state: &AppState, ctx: &TeamsContext) -> Result<String, AppError> {
    let instances = ready_instances(state).await?;
    let Some(first) = instances.first() else {
        return Err(AppError::client(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_instance_ready",
            "No Jira instance is ready for linking yet.",
        ));
    };
    issue_url(state, ctx, first.id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_message_that_is_just_six_digits_is_a_code() {
        assert_eq!(code_of(" 123456 ").as_deref(), Some("123456"));
        assert_eq!(code_of("123 456").as_deref(), Some("123456"));
        assert_eq!(code_of("123-456").as_deref(), Some("123456"));
        for not in [
            "12345",
            "1234567",
            "abc123",
            "link 123456",
            "",
            "１２３４５６",
        ] {
            assert!(!is_verification_code(not), "{not}");
        }
    }

    #[test]
    fn instances_are_picked_by_number_label_or_unique_host() {
        let items = [
            "jira.example.com/jira",
            "jira.example.com/other",
            "tracker.example.org",
        ];
        let label = |s: &&str| (*s).to_owned();
        assert_eq!(pick(&items, "2", label), Some(&items[1]));
        assert_eq!(pick(&items, "0", label), None);
        assert_eq!(pick(&items, "4", label), None);
        assert_eq!(
            pick(&items, "https://JIRA.example.com/jira/", label),
            Some(&items[0])
        );
        assert_eq!(pick(&items, "tracker.example.org", label), Some(&items[2]));
        // a host with two instances is ambiguous
        assert_eq!(pick(&items, "jira.example.com", label), None);
    }
}
