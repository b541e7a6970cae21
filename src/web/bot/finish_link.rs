//! Finishing a link made from Teams (PROTOCOLS.md §6.4): the six-digit code the sign-in page
//! showed, sent back by the same Teams user (same `29:` id), typed into the chat or as
//! `signin/verifyState` (the card's Teams sign-in button opens the URL in a Teams pop-up, whose
//! last page hands the code to Teams with TeamsJS `notifySuccess`).
//!
//! Only a current code of that user stores the link and both token pairs, in one transaction
//! with the confirmation. A wrong code counts against the pending link (dropped after
//! [`MAX_ATTEMPTS`]); an expired or used code links nothing.

use actix_web::HttpResponse;
use chrono::Utc;
use diesel::Connection;
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::crypto::random;
use crate::db;
use crate::db::models::access_token::TokenSet;
use crate::db::models::audit::Actor;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::outbox::OutboxItem;
use crate::db::models::outbox_kind::{BOT_MESSAGE, conversation_order};
use crate::db::models::secret::{
    self, FLOW_MS_REFRESH_TOKEN, FLOW_MS_TOKEN, ReadContext, TEAMS_FLOW_JIRA_REFRESH_TOKEN,
    TEAMS_FLOW_JIRA_TOKEN,
};
use crate::db::models::sign_in_flow::SignInFlow;
use crate::db::models::teams_sign_in::{MAX_ATTEMPTS, TeamsSignIn};
use crate::db::models::user_mapping::NewLink;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::auth::from_teams::{code_mac, instance_label};
use crate::web::auth::store_link;

use super::context::TeamsContext;

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
                let order = conversation_order(
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
}
