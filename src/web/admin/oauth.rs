//! Per-instance Jira OAuth 2.0 incoming-link client: client id and secret (through the vault),
//! the redirect URL to register in Jira, and a connection test that tells what is wrong.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;
use uuid::Uuid;

use super::Layout;
use crate::clients::jira::JiraError;
use crate::db;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::jira_instance_setup::JiraInstanceSetup;
use crate::error::{AppError, PageError};
use crate::services::connections;
use crate::state::AppState;
use crate::web::session::{Admin, CsrfForm, CsrfToken, EmptyForm};

#[derive(Template, WebTemplate)]
#[template(path = "admin/instance_oauth.html")]
struct OAuthPage {
    layout: Layout,
    id: Uuid,
    base_url: String,
    redirect_url: String,
    client_id: Option<String>,
    typed_client_id: String,
    client_id_error: Option<String>,
    client_secret_error: Option<String>,
    test_results: Vec<(bool, String)>,
}

async fn load(state: &AppState, id: Uuid) -> Result<JiraInstance, PageError> {
    db::run(&state.pool, move |conn| Ok(JiraInstance::find(conn, id)?))
        .await?
        .ok_or_else(|| PageError(AppError::not_found("This Jira instance")))
}

#[expect(
    clippy::too_many_arguments,
    reason = "one page, its form state and its notices"
)]
fn render(
    state: &AppState,
    admin: &Admin,
    csrf: &CsrfToken,
    i: &JiraInstance,
    typed: Option<String>,
    errors: (Option<String>, Option<String>),
    test_results: Vec<(bool, String)>,
    notice: Option<&'static str>,
) -> Result<HttpResponse, PageError> {
    let status = if errors.0.is_some() || errors.1.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = OAuthPage {
        layout: Layout::for_admin(admin, csrf, notice),
        id: i.id,
        base_url: i.base_url.clone(),
        redirect_url: format!("{}/auth/jira/callback", state.internal_url),
        client_id: i.oauth_client_id.clone(),
        typed_client_id: typed
            .or_else(|| i.oauth_client_id.clone())
            .unwrap_or_default()
            .chars()
            .take(255)
            .collect(),
        client_id_error: errors.0,
        client_secret_error: errors.1,
        test_results,
    };
    super::html(page.render(), status)
}

/// `GET /admin/instances/{id}/oauth`.
pub async fn oauth_page(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, PageError> {
    let i = load(&state, path.into_inner()).await?;
    render(&state, &admin, &csrf, &i, None, (None, None), vec![], None)
}

/// The form.
#[derive(Deserialize)]
pub struct OAuthForm {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
}

/// `POST /admin/instances/{id}/oauth`: saves the client (the secret encrypted).
pub async fn oauth_submit(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<Uuid>,
    form: CsrfForm<OAuthForm>,
) -> Result<HttpResponse, PageError> {
    let i = load(&state, path.into_inner()).await?;
    let client_id = form.0.client_id.trim().to_owned();
    let secret = form.0.client_secret.trim().to_owned();
    let id_error = (client_id.is_empty()
        || client_id.len() > 255
        || client_id.chars().any(|c| !c.is_ascii_graphic()))
    .then(|| "Enter the client id Jira showed for the incoming link.".to_owned());
    let secret_error = (secret.is_empty() && i.oauth_client_secret.is_none())
        .then(|| "Enter the client secret Jira showed for the incoming link.".to_owned());
    if id_error.is_some() || secret_error.is_some() {
        return render(
            &state,
            &admin,
            &csrf,
            &i,
            Some(client_id),
            (id_error, secret_error),
            vec![],
            None,
        );
    }
    let (vault, id) = (state.vault.clone(), i.id);
    db::run(&state.pool, move |conn| {
        Ok(JiraInstance::set_oauth_client(
            conn,
            &vault,
            id,
            Some((&client_id, (!secret.is_empty()).then_some(secret.as_str()))),
        ))
    })
    .await?
    .map_err(|e| PageError(AppError::internal(e)))?;
    tracing::info!(instance.public_id = %i.public_id, admin.id = %admin.id, "Jira OAuth client saved");
    let i = load(&state, i.id).await?;
    render(
        &state,
        &admin,
        &csrf,
        &i,
        None,
        (None, None),
        vec![],
        Some("The Jira OAuth link is saved."),
    )
}

/// `POST /admin/instances/{id}/oauth/remove`: users can no longer link on this instance.
pub async fn oauth_remove_submit(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<Uuid>,
    _f: EmptyForm,
) -> Result<HttpResponse, PageError> {
    let (vault, id) = (state.vault.clone(), path.into_inner());
    db::run(&state.pool, move |conn| {
        Ok(JiraInstance::set_oauth_client(conn, &vault, id, None))
    })
    .await?
    .map_err(|e| PageError(AppError::internal(e)))?;
    let i = load(&state, id).await?;
    tracing::info!(instance.public_id = %i.public_id, admin.id = %admin.id, "Jira OAuth client removed");
    render(
        &state,
        &admin,
        &csrf,
        &i,
        None,
        (None, None),
        vec![],
        Some("The Jira OAuth link is removed."),
    )
}

/// `POST /admin/instances/{id}/oauth/test`: Jira reachable, OAuth provider present, client
/// accepted (a made-up code must be refused as `invalid_grant`, not `invalid_client`).
pub async fn oauth_test_submit(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<Uuid>,
    _f: EmptyForm,
) -> Result<HttpResponse, PageError> {
    let i = load(&state, path.into_inner()).await?;
    let mut results = Vec::new();
    let info = format!("{}/rest/api/2/serverInfo", i.base_url);
    match state.http.send("jira", |c| c.get(&info)).await {
        Ok(r) if r.status().is_success() => {
            results.push((true, format!("Jira answers at {}.", i.base_url)))
        }
        Ok(r) => results.push((
            false,
            format!(
                "Jira answered HTTP {} at {} (wrong base URL or context path?).",
                r.status().as_u16(),
                i.base_url
            ),
        )),
        Err(e) => results.push((
            false,
            format!(
                "Jira is unreachable: {e}. Check the URL and [outbound] proxy and CA settings."
            ),
        )),
    }
    match connections::jira(&state, &i).await {
        Err(e) => results.push((false, e.to_string())),
        Ok(client) => {
            let redirect = format!("{}/auth/jira/callback", state.internal_url);
            let verdict = match client.redeem_code("connection-test-not-a-code", &redirect, "connection-test-verifier-connection-test-verifier").await {
                Err(JiraError::OAuth { error }) if error == "invalid_grant" => (true, "Jira OAuth: the client id and secret are accepted.".to_owned()),
                Err(JiraError::OAuth { error }) if error == "invalid_client" || error == "unauthorized_client" => (false, "Jira OAuth: Jira does not accept this client id and secret; copy them again from the incoming link.".to_owned()),
                Err(JiraError::OAuth { error }) => (false, format!("Jira OAuth refused the test: {error}.")),
                Err(JiraError::Status(404)) => (false, "Jira OAuth: no OAuth 2.0 provider at /rest/oauth2/latest (Jira older than 8.22, or a wrong context path).".to_owned()),
                Err(e) => (false, format!("Jira OAuth: {e}.")),
                Ok(_) => (false, "Jira OAuth accepted a made-up code; this is not a Jira OAuth 2.0 provider.".to_owned()),
            };
            let accepted = verdict.0;
            results.push(verdict);
            if accepted {
                // the overview shows the link as tested
                let id = i.id;
                db::run(&state.pool, move |conn| {
                    Ok(JiraInstanceSetup::mark_oauth_tested(conn, id)?)
                })
                .await?;
            }
        }
    }
    render(&state, &admin, &csrf, &i, None, (None, None), results, None)
}
