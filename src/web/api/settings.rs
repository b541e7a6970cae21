//! Instance settings by name, JSM portal apps, and Teams user settings.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::jira_caller::JiraCaller;
use crate::db;
use crate::db::models::instance_setting::InstanceSetting;
use crate::db::models::jsm_portal_app::JsmPortalApp;
use crate::db::models::teams_user_setting::TeamsUserSetting;
use crate::domain::settings::{self, PortalAppSettings, SettingError};
use crate::error::{AppError, ProblemDoc};
use crate::state::AppState;

/// A setting as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingView {
    pub name: String,
    pub value: serde_json::Value,
    /// Null while the default applies.
    pub updated_by: Option<String>,
    pub updated_at: Option<String>,
}

fn unknown_setting() -> AppError {
    AppError::client(
        StatusCode::NOT_FOUND,
        "unknown_setting",
        format!("Known settings: {}.", settings::KNOWN_SETTINGS.join(", ")),
    )
}

/// `GET /api/v1/settings/{name}`: the stored value or the default.
#[utoipa::path(get, path = "/api/v1/settings/{name}", tag = "settings", params(("name" = String, Path, description = "Setting name; known: appearance", example = "appearance")), responses((status = 200, description = "Stored value or the default", body = SettingView), (status = 401, description = "Refused by JWT authentication (jwt_missing, jwt_malformed, jwt_alg, jwt_signature, jwt_expired, jwt_not_yet_valid, jwt_lifetime, jwt_qsh, jwt_claims, jwt_replayed, instance_unknown, instance_disabled)", body = ProblemDoc, content_type = "application/problem+json"), (status = 404, description = "unknown_setting", body = ProblemDoc, content_type = "application/problem+json")), security(("jiraJwt" = [])))]
pub async fn get_setting(
    state: web::Data<AppState>,
    caller: JiraCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    let default = settings::default_setting(&name).ok_or_else(unknown_setting)?;
    let (id, n) = (caller.instance_id, name.clone());
    let stored = db::run(&state.pool, move |conn| {
        Ok(InstanceSetting::find(conn, id, &n)?)
    })
    .await?;
    let view = match stored {
        Some(s) => SettingView {
            name,
            value: s.value,
            updated_by: s.updated_by,
            updated_at: Some(s.updated_at.to_rfc3339()),
        },
        None => SettingView {
            name,
            value: default,
            updated_by: None,
            updated_at: None,
        },
    };
    Ok(HttpResponse::Ok().json(view))
}

/// `PUT /api/v1/settings/{name}`: replaces the value after checking it against the name's schema.
#[utoipa::path(put, path = "/api/v1/settings/{name}", tag = "settings", params(("name" = String, Path, description = "Setting name; known: appearance", example = "appearance")), request_body(content = Object, description = "appearance: {\"viewLocation\": \"issueContent\"|\"issueSidebar\"|\"issueActivity\", \"quickCreateEnabled\": bool}", example = json!({"viewLocation": "issueSidebar", "quickCreateEnabled": true})), responses((status = 200, description = "Stored", body = SettingView), (status = 401, description = "Refused by JWT authentication (jwt_missing, jwt_malformed, jwt_alg, jwt_signature, jwt_expired, jwt_not_yet_valid, jwt_lifetime, jwt_qsh, jwt_claims, jwt_replayed, instance_unknown, instance_disabled)", body = ProblemDoc, content_type = "application/problem+json"), (status = 404, description = "unknown_setting", body = ProblemDoc, content_type = "application/problem+json"), (status = 422, description = "invalid_setting", body = ProblemDoc, content_type = "application/problem+json")), security(("jiraJwt" = [])))]
pub async fn put_setting(
    state: web::Data<AppState>,
    caller: JiraCaller,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    let value = settings::validate_setting(&name, &body).map_err(|e| match e {
        SettingError::Unknown => unknown_setting(),
        SettingError::Invalid(why) => {
            AppError::client(StatusCode::UNPROCESSABLE_ENTITY, "invalid_setting", why)
        }
    })?;
    let (id, n, by) = (caller.instance_id, name.clone(), caller.user_key.clone());
    let s = db::run(&state.pool, move |conn| {
        Ok(InstanceSetting::upsert(conn, id, &n, &value, &by)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(SettingView {
        name,
        value: s.value,
        updated_by: s.updated_by,
        updated_at: Some(s.updated_at.to_rfc3339()),
    }))
}

/// A portal app as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortalAppView {
    pub id: String,
    pub settings: serde_json::Value,
    pub updated_at: String,
}

fn portal_view(p: JsmPortalApp) -> PortalAppView {
    PortalAppView {
        id: p.id.to_string(),
        settings: p.settings,
        updated_at: p.updated_at.to_rfc3339(),
    }
}

fn portal_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw).map_err(|_| {
        AppError::client(
            StatusCode::BAD_REQUEST,
            "invalid_portal_app_id",
            "The portal app id must be a GUID.",
        )
    })
}

fn portal_not_found() -> AppError {
    AppError::client(
        StatusCode::NOT_FOUND,
        "portal_app_not_found",
        "No portal app with this id.",
    )
}

/// Paging of portal apps.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PortalQuery {
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 100; default 50.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// A page of portal apps.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortalPage {
    pub items: Vec<PortalAppView>,
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/jsm/portal-apps`.
#[utoipa::path(get, path = "/api/v1/jsm/portal-apps", tag = "jsm", params(PortalQuery), responses((status = 200, description = "Portal apps of the instance", body = PortalPage), (status = 400, description = "invalid_cursor or invalid_limit", body = ProblemDoc, content_type = "application/problem+json"), (status = 401, description = "Refused by JWT authentication (jwt_missing, jwt_malformed, jwt_alg, jwt_signature, jwt_expired, jwt_not_yet_valid, jwt_lifetime, jwt_qsh, jwt_claims, jwt_replayed, instance_unknown, instance_disabled)", body = ProblemDoc, content_type = "application/problem+json")), security(("jiraJwt" = [])))]
pub async fn list_portal_apps(
    state: web::Data<AppState>,
    caller: JiraCaller,
    q: web::Query<PortalQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(AppError::client(
            StatusCode::BAD_REQUEST,
            "invalid_limit",
            "limit must be between 1 and 100.",
        ));
    }
    let after = match q.cursor.as_deref() {
        Some(c) => Some(Uuid::parse_str(c).map_err(|_| {
            AppError::client(
                StatusCode::BAD_REQUEST,
                "invalid_cursor",
                "The cursor is not one this API returned.",
            )
        })?),
        None => None,
    };
    let id = caller.instance_id;
    let rows = db::run(&state.pool, move |conn| {
        Ok(JsmPortalApp::list(conn, id, after, limit)?)
    })
    .await?;
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(HttpResponse::Ok().json(PortalPage {
        items: rows.into_iter().map(portal_view).collect(),
        next_cursor,
    }))
}

/// `GET /api/v1/jsm/portal-apps/{id}`.
#[utoipa::path(get, path = "/api/v1/jsm/portal-apps/{id}", tag = "jsm", params(("id" = String, Path, description = "Portal app id (GUID)", format = "uuid")), responses((status = 200, description = "The portal app", body = PortalAppView), (status = 400, description = "invalid_portal_app_id", body = ProblemDoc, content_type = "application/problem+json"), (status = 401, description = "Refused by JWT authentication (jwt_missing, jwt_malformed, jwt_alg, jwt_signature, jwt_expired, jwt_not_yet_valid, jwt_lifetime, jwt_qsh, jwt_claims, jwt_replayed, instance_unknown, instance_disabled)", body = ProblemDoc, content_type = "application/problem+json"), (status = 404, description = "portal_app_not_found", body = ProblemDoc, content_type = "application/problem+json")), security(("jiraJwt" = [])))]
pub async fn get_portal_app(
    state: web::Data<AppState>,
    caller: JiraCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let pid = portal_id(&path)?;
    let id = caller.instance_id;
    let row = db::run(&state.pool, move |conn| {
        Ok(JsmPortalApp::find(conn, id, pid)?)
    })
    .await?
    .ok_or_else(portal_not_found)?;
    Ok(HttpResponse::Ok().json(portal_view(row)))
}

/// `PUT /api/v1/jsm/portal-apps/{id}`: creates (201) or replaces (200).
#[utoipa::path(put, path = "/api/v1/jsm/portal-apps/{id}", tag = "jsm", params(("id" = String, Path, description = "Portal app id (GUID)", format = "uuid")), request_body(content = Object, description = "{\"icon\": \"icon1\"…\"icon99\", \"deskIds\": [\"14\"] (1–50 numeric ids), \"tabName\": 1–30 characters}", example = json!({"icon": "icon3", "deskIds": ["14", "15"], "tabName": "Helpdesk"})), responses((status = 200, description = "Replaced", body = PortalAppView), (status = 201, description = "Created", body = PortalAppView), (status = 400, description = "invalid_portal_app_id", body = ProblemDoc, content_type = "application/problem+json"), (status = 401, description = "Refused by JWT authentication (jwt_missing, jwt_malformed, jwt_alg, jwt_signature, jwt_expired, jwt_not_yet_valid, jwt_lifetime, jwt_qsh, jwt_claims, jwt_replayed, instance_unknown, instance_disabled)", body = ProblemDoc, content_type = "application/problem+json"), (status = 409, description = "portal_app_id_taken", body = ProblemDoc, content_type = "application/problem+json"), (status = 422, description = "invalid_portal_app", body = ProblemDoc, content_type = "application/problem+json")), security(("jiraJwt" = [])))]
pub async fn put_portal_app(
    state: web::Data<AppState>,
    caller: JiraCaller,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, AppError> {
    let pid = portal_id(&path)?;
    let parsed = PortalAppSettings::parse(&body).map_err(|why| {
        AppError::client(StatusCode::UNPROCESSABLE_ENTITY, "invalid_portal_app", why)
    })?;
    let value = serde_json::to_value(parsed).map_err(AppError::internal)?;
    let id = caller.instance_id;
    let result = db::run(&state.pool, move |conn| {
        Ok(JsmPortalApp::upsert(conn, id, pid, &value)?)
    })
    .await?;
    // an id of another instance looks like any id that cannot be used here
    let (row, created) = result.ok_or_else(|| {
        AppError::client(
            StatusCode::CONFLICT,
            "portal_app_id_taken",
            "This portal app id is in use elsewhere.",
        )
    })?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(portal_view(row)))
}

/// `DELETE /api/v1/jsm/portal-apps/{id}`.
#[utoipa::path(delete, path = "/api/v1/jsm/portal-apps/{id}", tag = "jsm", params(("id" = String, Path, description = "Portal app id (GUID)", format = "uuid")), responses((status = 204, description = "Deleted"), (status = 400, description = "invalid_portal_app_id", body = ProblemDoc, content_type = "application/problem+json"), (status = 401, description = "Refused by JWT authentication (jwt_missing, jwt_malformed, jwt_alg, jwt_signature, jwt_expired, jwt_not_yet_valid, jwt_lifetime, jwt_qsh, jwt_claims, jwt_replayed, instance_unknown, instance_disabled)", body = ProblemDoc, content_type = "application/problem+json"), (status = 404, description = "portal_app_not_found", body = ProblemDoc, content_type = "application/problem+json")), security(("jiraJwt" = [])))]
pub async fn delete_portal_app(
    state: web::Data<AppState>,
    caller: JiraCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let pid = portal_id(&path)?;
    let id = caller.instance_id;
    if !db::run(&state.pool, move |conn| {
        Ok(JsmPortalApp::delete(conn, id, pid)?)
    })
    .await?
    {
        return Err(portal_not_found());
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/v1/teams-users/{teamsUserId}/settings`.
#[utoipa::path(get, path = "/api/v1/teams-users/{id}/settings", tag = "teams users", params(("id" = String, Path, description = "Teams user id, 29:…", max_length = 512, pattern = r"^29:[^\x00-\x1f\x7f-\x9f]*$")), responses((status = 200, description = "Settings of the Teams user", body = Object), (status = 400, description = "invalid_teams_user_id", body = ProblemDoc, content_type = "application/problem+json"), (status = 401, description = "Refused by JWT authentication (jwt_missing, jwt_malformed, jwt_alg, jwt_signature, jwt_expired, jwt_not_yet_valid, jwt_lifetime, jwt_qsh, jwt_claims, jwt_replayed, instance_unknown, instance_disabled)", body = ProblemDoc, content_type = "application/problem+json"), (status = 404, description = "teams_user_not_found", body = ProblemDoc, content_type = "application/problem+json")), security(("jiraJwt" = [])))]
pub async fn get_teams_user_settings(
    state: web::Data<AppState>,
    _caller: JiraCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let user = path.into_inner();
    // PostgreSQL text cannot hold NUL: a control character is a bad id, not a server error
    if !user.starts_with("29:") || user.len() > 512 || user.chars().any(char::is_control) {
        return Err(AppError::client(
            StatusCode::BAD_REQUEST,
            "invalid_teams_user_id",
            "Teams user ids look like 29:…",
        ));
    }
    let row = db::run(&state.pool, move |conn| {
        Ok(TeamsUserSetting::find(conn, &user)?)
    })
    .await?
    .ok_or_else(|| {
        AppError::client(
            StatusCode::NOT_FOUND,
            "teams_user_not_found",
            "No settings are stored for this Teams user.",
        )
    })?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "teamsUserId": row.teams_user_id, "settings": row.settings, "updatedAt": row.updated_at.to_rfc3339() })))
}
