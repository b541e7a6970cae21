//! `/webhooks/jira/{public_id}`: Jira DC webhooks. Authenticated by `X-Hub-Signature:
//! sha256=<hex>` (HMAC over the raw body) when the instance has a webhook secret, otherwise by
//! the `token` query parameter. An accepted issue event is fanned out into one outbox row per
//! chat linked to the issue, in one transaction shared with the events arriving at the same
//! moment (see `db::webhook_writer`); the 2xx is sent after the commit. Repeats add nothing (dedupe
//! key per event and chat), nor does the second shape of one comment event (see
//! `JiraEvent::dedupe_key`). A comment event that names its issue only by id is queued for the
//! fan-out, which asks Jira for the issue first. A `jira:issue_deleted` also marks the issue's
//! links `issue_deleted` (kept for export; the issue's page answers 410). Nothing is sent to
//! Microsoft here.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;

use crate::crypto::random;
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::issue_chat::IssueChat;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::jira_instance_setup::JiraInstanceSetup;
use crate::db::models::posted_card::PostedCard;
use crate::db::models::secret::JIRA_WEBHOOK_SECRET;
use crate::domain::PublicId;
use crate::domain::jira_event;
use crate::error::AppError;
use crate::services::secrets::cached_secret;
use crate::state::AppState;

/// Routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/webhooks/jira/{public_id}",
        web::post().to(receive_jira_webhook),
    );
}

/// The URL token of instances without a webhook secret.
#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    pub token: Option<String>,
}

fn unauthorized(code: &'static str, message: &str) -> AppError {
    AppError::client(StatusCode::UNAUTHORIZED, code, message)
}

/// True when `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`.
pub fn signature_matches(secret: &[u8], body: &[u8], header: &str) -> Result<bool, AppError> {
    let Some(hex_sig) = header.strip_prefix("sha256=") else {
        return Err(unauthorized(
            "signature_algorithm",
            "Only X-Hub-Signature: sha256=<hex> is accepted.",
        ));
    };
    let Ok(given) = hex::decode(hex_sig.trim()) else {
        return Ok(false);
    };
    let key = PKey::hmac(secret).map_err(AppError::internal)?;
    let mut signer = Signer::new(MessageDigest::sha256(), &key).map_err(AppError::internal)?;
    signer.update(body).map_err(AppError::internal)?;
    let expected = signer.sign_to_vec().map_err(AppError::internal)?;
    Ok(random::constant_time_eq(&expected, &given))
}

async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    instance: &JiraInstance,
    token: Option<&str>,
    body: &[u8],
) -> Result<(), AppError> {
    if let Some(ciphertext) = &instance.webhook_secret {
        let header = req
            .headers()
            .get("x-hub-signature")
            .and_then(|v| v.to_str().ok());
        let Some(header) = header else {
            return Err(unauthorized(
                "signature_missing",
                "This instance requires signed webhooks (X-Hub-Signature).",
            ));
        };
        let secret = cached_secret(
            state,
            instance,
            JIRA_WEBHOOK_SECRET,
            ciphertext,
            Actor::Api(instance.public_id.clone()),
            "verify Jira webhook signature",
        )
        .await?;
        if !signature_matches(secret.expose_secret().as_bytes(), body, header)? {
            return Err(unauthorized(
                "signature_invalid",
                "The webhook signature does not match the body.",
            ));
        }
        return Ok(());
    }
    match (&instance.webhook_token_hash, token) {
        (Some(hash), Some(t)) if random::constant_time_eq(hash, &random::token_hash(t)) => Ok(()),
        (Some(_), _) => Err(unauthorized(
            "webhook_token_invalid",
            "The webhook URL token is missing or wrong.",
        )),
        (None, _) => Err(unauthorized(
            "webhook_not_configured",
            "Set up this instance's webhook in the appliance's admin UI first.",
        )),
    }
}

/// `POST /webhooks/jira/{public_id}`; counted for `/metrics` and the dashboard by outcome.
pub async fn receive_jira_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<TokenQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let metrics = state.metrics.clone();
    let result = receive(state, req, path, query, payload).await;
    metrics.webhook(match &result {
        Ok(r) if r.status() == StatusCode::ACCEPTED => "ignored",
        Ok(_) => "accepted",
        Err(_) => "refused",
    });
    result
}

async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<TokenQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let unknown = || {
        AppError::client(
            StatusCode::NOT_FOUND,
            "instance_unknown",
            "No Jira instance has this public ID.",
        )
    };
    let public_id = PublicId::parse(&path).ok_or_else(unknown)?;
    let limit = state.settings.jira.webhook_max_body_bytes;
    let body = match payload.to_bytes_limited(limit).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            return Err(AppError::client(
                StatusCode::BAD_REQUEST,
                "body_unreadable",
                format!("The body could not be read: {e}"),
            ));
        }
        Err(_) => {
            return Err(AppError::client(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("Webhook bodies may be at most {limit} bytes."),
            ));
        }
    };
    let pid = public_id.as_str().to_owned();
    let (instance, marks) = db::run(&state.pool, move |conn| {
        let Some(i) = JiraInstance::find_by_public_id(conn, &pid)? else {
            return Ok(None);
        };
        let marks = JiraInstanceSetup::get(conn, i.id)?;
        Ok(Some((i, marks)))
    })
    .await?
    .ok_or_else(unknown)?;
    authenticate(&state, &req, &instance, query.token.as_deref(), &body).await?;
    if !instance.enabled {
        return Err(AppError::client(
            StatusCode::FORBIDDEN,
            "instance_disabled",
            "This Jira instance is disabled in the appliance.",
        ));
    }
    // the overview's "last event": written at most once a minute per instance, and a failure
    // to write it never costs the event
    if marks.event_mark_due(chrono::Utc::now()) {
        let id = instance.id;
        if let Err(e) = db::run(&state.pool, move |conn| {
            Ok(JiraInstanceSetup::note_event(conn, id)?)
        })
        .await
        {
            tracing::warn!(instance.public_id = %instance.public_id, error = %e, "the webhook's last-event time was not stored");
        }
    }
    let mut event = match jira_event::parse(&body) {
        Ok(Some(e)) => e,
        Ok(None) => return Ok(HttpResponse::Accepted().json(json!({ "status": "ignored" }))),
        Err(e) => {
            return Err(AppError::client(
                StatusCode::BAD_REQUEST,
                "invalid_payload",
                e.to_string(),
            ));
        }
    };
    if event.kind == jira_event::EventKind::CommentDeleted && event.comment_id.is_none() {
        // which comment an `issue_comment_deleted` removed, so that its cards are updated
        let (id, issue) = (instance.id, event.issue_id);
        let carded = db::run(&state.pool, move |conn| {
            Ok(PostedCard::comments_of_issue(conn, id, issue)?)
        })
        .await?;
        event.settle_deletion(&carded);
    }
    if event.kind == jira_event::EventKind::IssueDeleted {
        // the issue's links stay (export, inventory) but its page now answers 410
        let (id, issue) = (instance.id, event.issue_id);
        db::run(&state.pool, move |conn| {
            Ok(IssueChat::mark_issue_deleted(conn, id, issue)?)
        })
        .await?;
    }
    let written = state
        .webhook_writer
        .write(instance.id, event.clone())
        .await?;
    let (added, chats) = (written.queued, written.chats);
    state.outbox_wake.notify_one();
    tracing::info!(instance.public_id = %instance.public_id, issue.id = event.issue_id, webhook.event = ?event.kind, deliveries.queued = added, chats, "Jira webhook accepted");
    Ok(HttpResponse::Ok()
        .json(json!({ "status": "accepted", "queued": added, "duplicates": chats - added })))
}
