//! `/api/v1/me`: the calling Jira user's link to Microsoft.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::jira_caller::JiraCaller;
use crate::db;
use crate::db::models::user_mapping::UserMapping;
use crate::error::{AppError, ProblemDoc};
use crate::services::account_link;
use crate::state::AppState;
use crate::web::auth::link;

/// The Microsoft side of a link.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MicrosoftUser {
    pub tenant_id: String,
    pub user_id: String,
}

/// Link status of the calling Jira user.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub instance: String,
    pub jira_user: String,
    /// `linked`, `needs_reauth` (sign in with Microsoft again) or `unlinked`.
    pub status: String,
    pub microsoft: Option<MicrosoftUser>,
    /// Why the link needs a new sign-in, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<String>,
    /// Where the user links (or re-links) their accounts: a single-use link, valid ten minutes,
    /// for this Jira user only. Absent while linked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_in_url: Option<String>,
}

/// `GET /api/v1/me`.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", responses((status = 200, description = "Link status of the calling Jira user", body = Me), (status = 401, description = "Refused by JWT authentication (jwt_missing, jwt_malformed, jwt_alg, jwt_signature, jwt_expired, jwt_not_yet_valid, jwt_lifetime, jwt_qsh, jwt_claims, jwt_replayed, instance_unknown, instance_disabled)", body = ProblemDoc, content_type = "application/problem+json")), security(("jiraJwt" = [])))]
pub async fn get_me(
    state: web::Data<AppState>,
    caller: JiraCaller,
) -> Result<HttpResponse, AppError> {
    let (id, key) = (caller.instance_id, caller.user_key.clone());
    let mapping = db::run(&state.pool, move |conn| {
        Ok(UserMapping::find(conn, id, &key)?)
    })
    .await?;
    let status = mapping
        .as_ref()
        .map(|m| m.status.clone())
        .unwrap_or_else(|| "unlinked".into());
    let sign_in_url = if status == "linked" {
        None
    } else {
        let t = link::make(
            &state.vault,
            caller.instance_id,
            &caller.user_key,
            chrono::Utc::now().timestamp(),
        )
        .map_err(AppError::internal)?;
        Some(format!("{}/auth/start?t={t}", state.internal_url))
    };
    let body = Me {
        instance: caller.public_id,
        jira_user: caller.user_key,
        status,
        status_detail: mapping.as_ref().and_then(|m| m.status_detail.clone()),
        microsoft: mapping.map(|m| MicrosoftUser {
            tenant_id: m.ms_tenant_id.to_string(),
            user_id: m.ms_user_id.to_string(),
        }),
        sign_in_url,
    };
    Ok(HttpResponse::Ok().json(body))
}

/// `DELETE /api/v1/me`: unlinks the user and erases their tokens.
#[utoipa::path(delete, path = "/api/v1/me", tag = "me", responses((status = 204, description = "Unlinked; the user's tokens are erased"), (status = 401, description = "Refused by JWT authentication (jwt_missing, jwt_malformed, jwt_alg, jwt_signature, jwt_expired, jwt_not_yet_valid, jwt_lifetime, jwt_qsh, jwt_claims, jwt_replayed, instance_unknown, instance_disabled)", body = ProblemDoc, content_type = "application/problem+json")), security(("jiraJwt" = [])))]
pub async fn delete_me(
    state: web::Data<AppState>,
    caller: JiraCaller,
) -> Result<HttpResponse, AppError> {
    account_link::unlink(
        &state,
        caller.instance_id,
        &caller.public_id,
        &caller.user_key,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
