//! `/bot/messages`, the Bot Framework endpoint on the public listener.
//!
//! Every activity's token is checked as PROTOCOLS.md §3.1 says before anything in it is used
//! (401 otherwise); a `serviceUrl` off the cloud's allow-list is refused (403) and never stored,
//! so the bot's token is never sent where an attacker points. Installation events record where
//! the bot is (the seed's bot membership; a team's events count for all of the team's channels,
//! whichever channel Teams reports them from), and a personal install queues the user's one
//! welcome message. Messages are commands ([`commands`]), invokes get their answer in the response
//! ([`invoke`]); other activities are acknowledged and ignored.
//! Answers to messages go through the outbox, so the POST is acknowledged at once.

pub mod account_link;
pub mod attach;
pub mod commands;
pub mod context;
pub mod finish_link;
pub mod invoke;
pub mod jira_actions;
pub mod jira_comment;
pub mod jira_create;
pub mod subscriptions;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::bot_membership::{BotMembership, Place};
use crate::db::models::teams_user_setting::TeamsUserSetting;
use crate::domain::bot_activity::Activity;
use crate::domain::service_url::ServiceUrl;
use crate::error::AppError;
use crate::services::connections;
use crate::state::AppState;

fn not_configured() -> AppError {
    AppError::client(
        StatusCode::SERVICE_UNAVAILABLE,
        "bot_not_configured",
        "The bot is not configured yet (Microsoft app registration and bot app id).",
    )
}

/// `POST /bot/messages`.
pub async fn messages(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let auth = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if auth.is_none() {
        return Err(AppError::client(
            StatusCode::UNAUTHORIZED,
            "bot_token_missing",
            "No Bot Framework token.",
        ));
    }
    let ms = match connections::microsoft(&state, &Actor::System("bot".into())).await {
        Ok(ms) if !ms.registration.bot_app_id.is_empty() => ms,
        Ok(_) => return Err(not_configured()),
        Err(e) if e.code() == "microsoft_not_configured" => return Err(not_configured()),
        Err(e) => return Err(e),
    };
    // channelId and serviceUrl are needed to check the token; nothing else is read before that
    let activity: Activity = serde_json::from_slice(&body).map_err(|_| {
        AppError::client(
            StatusCode::BAD_REQUEST,
            "bot_activity_invalid",
            "The body is not a Bot Framework activity.",
        )
    })?;
    if let Err(e) = ms
        .bot_auth
        .validate(
            auth.as_deref(),
            &ms.registration.bot_app_id,
            &activity.channel_id,
            &activity.service_url,
        )
        .await
    {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "cannot check Bot Framework tokens");
            return Err(AppError::client(
                StatusCode::SERVICE_UNAVAILABLE,
                "bot_keys_unavailable",
                "The Bot Framework signing keys cannot be fetched right now.",
            ));
        }
        tracing::warn!(error = %e, "Bot Framework activity refused");
        return Err(AppError::client(
            StatusCode::UNAUTHORIZED,
            "bot_token_invalid",
            e.to_string(),
        ));
    }
    let service_url = ServiceUrl::parse(&activity.service_url, &ms.endpoints.service_url_hosts)
        .map_err(|e| {
            tracing::warn!(error = %e, "activity with an untrusted serviceUrl refused");
            AppError::client(
                StatusCode::FORBIDDEN,
                "service_url_not_allowed",
                e.to_string(),
            )
        })?;
    if let Some(change) = activity.membership_change() {
        let url = service_url.as_str().to_owned();
        let c = change.clone();
        let installer = activity.personal_installer().map(str::to_owned);
        let installer_oid = activity
            .from
            .as_ref()
            .and_then(|f| f.aad_object_id.as_deref())
            .and_then(|o| uuid::Uuid::parse_str(o).ok());
        let welcomed = db::run(&state.pool, move |conn| {
            let place = Place {
                conversation_id: &c.conversation_id,
                tenant: c.tenant_id,
                scope: c.scope,
                service_url: &url,
                team: c.team.as_ref().map(|t| (t.id.as_str(), t.name.as_deref())),
            };
            match &c.team {
                // a team event may come from any of its channels: it is the team's
                Some(team) => {
                    BotMembership::record_team(conn, &place, &team.id, c.status)?;
                }
                None => {
                    BotMembership::record(conn, &place, c.status)?;
                }
            }
            if let (Some(user), Some(oid)) = (&installer, installer_oid) {
                // where personal notifications for this user go
                TeamsUserSetting::remember_personal_chat(
                    conn,
                    user,
                    c.tenant_id,
                    oid,
                    &c.conversation_id,
                    &url,
                )?;
            }
            Ok(match installer {
                Some(user) => TeamsUserSetting::queue_welcome_once(
                    conn,
                    &user,
                    &serde_json::json!({ "conversationId": c.conversation_id }),
                )?,
                None => false,
            })
        })
        .await?;
        tracing::info!(
            bot.scope = change.scope,
            bot.status = change.status,
            bot.team = change.team.as_ref().map(|t| t.id.as_str()),
            bot.welcome_queued = welcomed,
            "bot membership recorded"
        );
    }
    let ctx = context::TeamsContext::of(&activity, service_url);
    match (activity.kind.as_str(), ctx) {
        ("message", Some(ctx)) => {
            commands::handle(&state, &ms, &activity, &ctx).await?;
        }
        ("invoke", Some(ctx)) => return invoke::handle(&state, &ms, &activity, &ctx).await,
        ("invoke", None) => {
            return Err(AppError::client(
                StatusCode::BAD_REQUEST,
                "bot_activity_invalid",
                "An invoke must come from a Teams user of a named tenant.",
            ));
        }
        _ => {}
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({})))
}
