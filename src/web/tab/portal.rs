//! `/teams/portal/{portal_app_id}`: the JSM portal tab. For the signed-in Teams user's linked
//! Jira user (never anyone else), it lists the request types of the portal app's service desks
//! (`deskIds`), raises requests and shows the user's open requests, every Jira call made with
//! that user's token (PROTOCOLS.md §4.6). A user without a link gets instructions, and no Jira
//! call is made.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::portal_app::{find_portal, not_found};
use super::portal_session::{self, PortalUser};
use crate::clients::jira::{JiraClient, JsmError, RequestType};
use crate::crypto::random::constant_time_eq;
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::jsm_portal_app::JsmPortalApp;
use crate::db::models::user_mapping::UserMapping;
use crate::domain::settings::PortalAppSettings;
use crate::error::{AppError, PageError};
use crate::state::AppState;
use crate::web::admin::{Layout, html};
use crate::web::session::CsrfToken;

/// Longest summary accepted (Jira's summary field limit).
const MAX_SUMMARY: usize = 255;
/// Longest description accepted (Jira's default text field limit).
const MAX_DESCRIPTION: usize = 32_767;

/// The tab's script, compiled in.
pub async fn static_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../../templates/static/portal.js"))
}

/// A service desk as the page shows it.
struct DeskView {
    id: String,
    types: Vec<RequestType>,
    problem: Option<String>,
}

/// One open request.
struct RequestView {
    key: String,
    summary: String,
    status: String,
}

/// What the page shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// No session yet: the script signs in through Teams.
    SignIn,
    /// Signed in to Teams, but no link to a Jira user of this instance.
    Unlinked,
    /// The link must be renewed.
    Renew,
    /// The Jira instance is disabled or not set up.
    Unavailable,
    /// Desks, form and requests.
    Ready,
}

#[derive(Template)]
#[template(path = "teams/portal.html")]
struct PortalPage {
    layout: Layout,
    title: String,
    icon: String,
    portal_id: String,
    stage: Stage,
    ok: Option<String>,
    errors: Vec<String>,
    desks: Vec<DeskView>,
    requests: Vec<RequestView>,
    requests_problem: Option<String>,
    form_token: String,
    summary: String,
    description: String,
    selected: String,
}

impl PortalPage {
    fn new(csrf: &CsrfToken, app: &JsmPortalApp, s: &PortalAppSettings, stage: Stage) -> Self {
        PortalPage {
            layout: Layout::anonymous(csrf),
            title: s.tab_name.clone(),
            icon: s.icon.clone(),
            portal_id: app.id.to_string(),
            stage,
            ok: None,
            errors: vec![],
            desks: vec![],
            requests: vec![],
            requests_problem: None,
            form_token: String::new(),
            summary: String::new(),
            description: String::new(),
            selected: String::new(),
        }
    }

    fn is(&self, stage: Stage) -> bool {
        self.stage == stage
    }
}

fn render(p: PortalPage, status: StatusCode) -> Result<HttpResponse, PageError> {
    html(p.render(), status)
}

fn actor(user: &PortalUser) -> Actor {
    Actor::System(format!("teams portal {}", user.user_id))
}

/// The user's link on the portal's instance, the instance, and the user's Jira client + token;
/// or the stage to show instead.
async fn jira_as_user(
    state: &AppState,
    app: &JsmPortalApp,
    user: PortalUser,
) -> Result<Result<(JiraClient, secrecy::SecretString), (Stage, Vec<String>)>, AppError> {
    let instance_id = app.jira_instance_id;
    let found = db::run(&state.pool, move |conn| {
        let instance = JiraInstance::find(conn, instance_id)?;
        let links = UserMapping::of_microsoft_user(conn, user.tenant_id, user.user_id)?;
        Ok((
            instance,
            links
                .into_iter()
                .map(|(m, _)| m)
                .find(|m| m.jira_instance_id == instance_id),
        ))
    })
    .await?;
    let (Some(instance), mapping) = found else {
        return Err(not_found());
    };
    let Some(mapping) = mapping else {
        return Ok(Err((Stage::Unlinked, vec![])));
    };
    if !instance.enabled {
        return Ok(Err((
            Stage::Unavailable,
            vec!["This Jira instance is disabled in the appliance.".into()],
        )));
    }
    match crate::services::tokens::jira_token(
        state,
        &instance,
        &mapping,
        &actor(&user),
        "use the JSM portal in Teams",
    )
    .await
    {
        Ok((token, client)) => Ok(Ok((client, token))),
        Err(AppError::Client {
            code: "needs_sign_in",
            message,
            ..
        }) => Ok(Err((Stage::Renew, vec![message]))),
        Err(AppError::Client { message, .. }) => Ok(Err((Stage::Unavailable, vec![message]))),
        Err(e) => Err(e),
    }
}

fn jsm_problem(e: &JsmError) -> String {
    match e {
        JsmError::Rejected(m) => m.join(" "),
        JsmError::Forbidden => "You may not use this service desk in Jira.".into(),
        JsmError::NotFound => "This service desk does not exist or is not visible to you.".into(),
        e if e.needs_sign_in() => {
            "Jira no longer accepts your sign-in: sign in again (see below).".into()
        }
        e => format!("Jira could not be asked: {e}"),
    }
}

/// Fills desks and open requests as the user; true when Jira refused the sign-in.
async fn load(
    page: &mut PortalPage,
    client: &JiraClient,
    token: &secrecy::SecretString,
    desk_ids: &[String],
) -> bool {
    let mut renew = false;
    for id in desk_ids {
        let (types, problem) = match client.request_types(token, id).await {
            Ok(t) => (t, None),
            Err(e) => {
                renew |= e.needs_sign_in();
                (vec![], Some(jsm_problem(&e)))
            }
        };
        page.desks.push(DeskView {
            id: id.clone(),
            types,
            problem,
        });
    }
    match client.my_open_requests(token).await {
        Ok(r) => {
            page.requests = r
                .iter()
                .map(|r| RequestView {
                    key: r.issue_key.clone(),
                    summary: r.summary().to_owned(),
                    status: r.status().to_owned(),
                })
                .collect()
        }
        Err(e) => {
            renew |= e.needs_sign_in();
            page.requests_problem = Some(jsm_problem(&e));
        }
    }
    if renew {
        page.stage = Stage::Renew;
    }
    renew
}

/// `GET /teams/portal/{id}`.
pub async fn portal_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    csrf: CsrfToken,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let (app, settings) = find_portal(&state, &path).await?;
    let Some((session, user)) = portal_session::current(&req, &state) else {
        return render(
            PortalPage::new(&csrf, &app, &settings, Stage::SignIn),
            StatusCode::OK,
        );
    };
    let mut page = PortalPage::new(&csrf, &app, &settings, Stage::Ready);
    match jira_as_user(&state, &app, user).await? {
        Err((stage, errors)) => {
            page.stage = stage;
            page.errors = errors;
        }
        Ok((client, token)) => {
            page.form_token =
                portal_session::form_token(&state.vault, &session).unwrap_or_default();
            load(&mut page, &client, &token, &settings.desk_ids).await;
        }
    }
    render(page, StatusCode::OK)
}

/// The raise-a-request form.
#[derive(Deserialize)]
pub struct RequestForm {
    csrf: Option<String>,
    #[serde(default)]
    request_type: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    description: String,
}

fn forbidden(message: &str) -> PageError {
    PageError(AppError::client(
        StatusCode::FORBIDDEN,
        "csrf_failed",
        message,
    ))
}

/// `POST /teams/portal/{id}/requests`: raises a request as the linked user.
pub async fn request_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    csrf: CsrfToken,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (app, settings) = find_portal(&state, &path).await?;
    let Some((session, user)) = portal_session::current(&req, &state) else {
        return Err(PageError(AppError::client(
            StatusCode::UNAUTHORIZED,
            "portal_session_expired",
            "Your session in this tab has expired. Reload the tab and send the request again.",
        )));
    };
    let form: Option<RequestForm> = serde_urlencoded::from_bytes(&body).ok();
    let expected = portal_session::form_token(&state.vault, &session).unwrap_or_default();
    let Some(form) = form.filter(|f| {
        f.csrf.as_deref().is_some_and(|c| {
            !expected.is_empty() && constant_time_eq(c.as_bytes(), expected.as_bytes())
        })
    }) else {
        return Err(forbidden(
            "This form has expired or was sent from another site. Reload the tab and try again.",
        ));
    };
    if !portal_session::same_site_post(&req) {
        return Err(forbidden("This form was sent from another site."));
    }
    let mut page = PortalPage::new(&csrf, &app, &settings, Stage::Ready);
    let (client, token) = match jira_as_user(&state, &app, user).await? {
        Ok(j) => j,
        Err((stage, errors)) => {
            page.stage = stage;
            page.errors = errors;
            return render(page, StatusCode::OK);
        }
    };
    page.form_token = expected;
    page.summary = form.summary.clone();
    page.description = form.description.clone();
    page.selected = form.request_type.clone();
    let summary = form.summary.trim();
    let mut errors = vec![];
    if summary.is_empty() {
        errors.push("Enter a summary.".to_owned());
    } else if summary.chars().count() > MAX_SUMMARY {
        errors.push(format!(
            "The summary is longer than {MAX_SUMMARY} characters."
        ));
    }
    if form.description.chars().count() > MAX_DESCRIPTION {
        errors.push(format!(
            "The description is longer than {MAX_DESCRIPTION} characters."
        ));
    }
    // `<desk id>:<request type id>`, and the desk must be one of this portal's
    let choice = form
        .request_type
        .split_once(':')
        .filter(|(d, t)| {
            settings.desk_ids.iter().any(|id| id == d)
                && !t.is_empty()
                && t.len() <= 10
                && t.bytes().all(|b| b.is_ascii_digit())
        })
        .map(|(d, t)| (d.to_owned(), t.to_owned()));
    if choice.is_none() {
        errors.push("Choose a request type of this portal.".to_owned());
    }
    let renew = load(&mut page, &client, &token, &settings.desk_ids).await;
    if renew {
        return render(page, StatusCode::OK);
    }
    // the request type must be one the user may see on that desk, as Jira lists it now
    if let Some((desk, kind)) = &choice
        && !page
            .desks
            .iter()
            .any(|d| d.id == *desk && d.types.iter().any(|t| t.id == *kind))
    {
        errors.push("Choose a request type of this portal.".to_owned());
    }
    let (Some((desk, kind)), true) = (choice, errors.is_empty()) else {
        errors.dedup();
        page.errors = errors;
        return render(page, StatusCode::UNPROCESSABLE_ENTITY);
    };
    match client
        .create_request(&token, &desk, &kind, summary, form.description.trim())
        .await
    {
        Ok(key) => {
            tracing::info!(portal.id = %app.id, request.key = %key, "JSM request raised from Teams");
            page.ok = Some(format!("Request {key} was raised."));
            page.summary.clear();
            page.description.clear();
            page.selected.clear();
            page.desks.clear();
            page.requests.clear();
            page.requests_problem = None;
            load(&mut page, &client, &token, &settings.desk_ids).await;
            render(page, StatusCode::OK)
        }
        Err(e) => {
            if e.needs_sign_in() {
                page.stage = Stage::Renew;
            }
            page.errors = vec![jsm_problem(&e)];
            let status = match e {
                JsmError::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
                JsmError::Forbidden => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_GATEWAY,
            };
            render(page, status)
        }
    }
}
