//! The Microsoft app registration page: cloud, tenant, client id, its credential (a client secret
//! or a certificate with its private key, either through the vault and never shown back), bot app
//! id and Teams app catalog id; read-only when `config.toml` pins it. "Test connection" tries
//! each leg and says precisely what is wrong.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;
use uuid::Uuid;

use super::Layout;
use crate::clients::entra::{CertificateCredential, CertificateError, EntraError};
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::microsoft_app::{MicrosoftApp, MicrosoftAppForm};
use crate::error::{AppError, PageError};
use crate::services::connections;
use crate::state::AppState;
use crate::web::session::{Admin, CsrfForm, CsrfToken, EmptyForm};

const CLOUDS: &[(&str, &str)] = &[
    ("global", "Global (and GCC)"),
    ("usgov", "US Government GCC High"),
    ("usgovdod", "US Government DoD"),
    ("china", "China (21Vianet)"),
];

#[derive(Default)]
struct Errors {
    cloud: Option<String>,
    tenant_id: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_certificate: Option<String>,
    bot_app_id: Option<String>,
    catalog_id: Option<String>,
}

impl Errors {
    fn any(&self) -> bool {
        self.cloud.is_some()
            || self.tenant_id.is_some()
            || self.client_id.is_some()
            || self.client_secret.is_some()
            || self.client_certificate.is_some()
            || self.bot_app_id.is_some()
            || self.catalog_id.is_some()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/microsoft.html")]
struct MicrosoftPage {
    layout: Layout,
    redirect_uri: String,
    pinned: bool,
    updated_by: Option<String>,
    clouds: &'static [(&'static str, &'static str)],
    cloud: String,
    tenant_id: String,
    client_id: String,
    has_secret: bool,
    has_certificate: bool,
    /// `secret` or `certificate`: the credential the form shows as chosen.
    credential: String,
    /// Subject, expiry and SHA-1 thumbprint of a certificate just saved, from the submitted PEM
    /// (nothing about it is stored in clear, so it is shown only right after saving).
    saved_certificate: Option<(String, String, String)>,
    bot_app_id: String,
    catalog_id: String,
    errors: Errors,
    test_results: Vec<(bool, String)>,
}

async fn page(
    state: &AppState,
    admin: &Admin,
    csrf: &CsrfToken,
    typed: Option<(&SaveForm, Errors)>,
    test_results: Vec<(bool, String)>,
    notice: Option<&'static str>,
    saved_certificate: Option<&CertificateCredential>,
) -> Result<HttpResponse, PageError> {
    let pinned = connections::pinned_in_config(state);
    let row = db::run(&state.pool, |conn| Ok(MicrosoftApp::get(conn)?)).await?;
    let m = &state.settings.microsoft;
    let mut p = MicrosoftPage {
        layout: Layout::for_admin(admin, csrf, notice),
        redirect_uri: format!("{}/auth/microsoft/callback", state.internal_url),
        pinned,
        updated_by: row.as_ref().map(|r| r.updated_by.clone()),
        clouds: CLOUDS,
        cloud: "global".into(),
        tenant_id: String::new(),
        client_id: String::new(),
        has_secret: false,
        has_certificate: false,
        credential: "secret".into(),
        saved_certificate: saved_certificate.map(|c| {
            (
                c.subject.clone(),
                c.not_after.clone(),
                c.thumbprint_hex.clone(),
            )
        }),
        bot_app_id: String::new(),
        catalog_id: String::new(),
        errors: Errors::default(),
        test_results,
    };
    if pinned {
        p.cloud = m.cloud.clone();
        p.tenant_id = m.tenant_id.clone();
        p.client_id = m.client_id.clone();
        p.has_secret = m.client_secret.is_some() || !m.client_secret_file.is_empty();
        p.has_certificate = !m.client_certificate_file.is_empty();
        p.bot_app_id = m.bot_app_id.clone();
    } else if let Some(r) = row {
        p.cloud = r.cloud;
        p.tenant_id = r.tenant_id;
        p.client_id = r.client_id.to_string();
        p.has_secret = r.client_secret.is_some();
        p.has_certificate = r.client_certificate.is_some();
        p.bot_app_id = r.bot_app_id.map(|b| b.to_string()).unwrap_or_default();
        p.catalog_id = r.teams_app_catalog_id.unwrap_or_default();
    }
    if p.has_certificate {
        p.credential = "certificate".into();
    }
    let status = match typed {
        Some((f, errors)) => {
            p.credential = f.credential().into();
            p.cloud = f.cloud.clone();
            p.tenant_id = f.tenant_id.chars().take(253).collect();
            p.client_id = f.client_id.chars().take(36).collect();
            p.bot_app_id = f.bot_app_id.chars().take(36).collect();
            p.catalog_id = f.teams_app_catalog_id.chars().take(64).collect();
            p.errors = errors;
            StatusCode::UNPROCESSABLE_ENTITY
        }
        None => StatusCode::OK,
    };
    super::html(p.render(), status)
}

/// `GET /admin/microsoft`.
pub async fn microsoft_page(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
) -> Result<HttpResponse, PageError> {
    page(&state, &admin, &csrf, None, vec![], None, None).await
}

/// Longest PEM accepted: a certificate chain with its key is a few KiB.
const MAX_PEM_BYTES: usize = 64 * 1024;

/// The form.
#[derive(Debug, Deserialize)]
pub struct SaveForm {
    #[serde(default)]
    cloud: String,
    #[serde(default)]
    tenant_id: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    /// `secret` (also when absent, as before certificates existed) or `certificate`.
    #[serde(default)]
    credential: String,
    #[serde(default)]
    client_certificate_pem: String,
    #[serde(default)]
    bot_app_id: String,
    #[serde(default)]
    teams_app_catalog_id: String,
}

impl SaveForm {
    fn credential(&self) -> &'static str {
        if self.credential == "certificate" {
            "certificate"
        } else {
            "secret"
        }
    }
}

/// What to tell the admin about a PEM that is not a usable certificate credential.
fn certificate_problem(e: &CertificateError) -> &'static str {
    match e {
        CertificateError::NoCertificate => {
            "This is not a certificate: paste the certificate (-----BEGIN CERTIFICATE-----) together with its private key."
        }
        CertificateError::NoPrivateKey => {
            "The private key is missing: paste the certificate together with its private key (-----BEGIN PRIVATE KEY-----)."
        }
        CertificateError::EncryptedKey => {
            "The private key is encrypted: decrypt it first (openssl pkey -in key.pem -out plain.pem) and paste the plain key."
        }
        CertificateError::NotRsa => {
            "The key is not RSA: Entra ID client assertions are signed with RS256, so use an RSA certificate."
        }
        CertificateError::KeyMismatch => {
            "The private key does not belong to this certificate: paste the matching key."
        }
    }
}

fn valid_tenant(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 253
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && !matches!(
            t.to_ascii_lowercase().as_str(),
            "common" | "consumers" | "organizations"
        )
}

/// `POST /admin/microsoft`: validates every field and saves, or shows the errors in place.
pub async fn microsoft_submit(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    form: CsrfForm<SaveForm>,
) -> Result<HttpResponse, PageError> {
    if connections::pinned_in_config(&state) {
        return Err(PageError(AppError::client(
            StatusCode::CONFLICT,
            "pinned_in_config",
            "The Microsoft app registration is pinned in config.toml; change it there.",
        )));
    }
    let f = form.0;
    let mut e = Errors::default();
    let tenant = f.tenant_id.trim();
    if !valid_tenant(tenant) {
        e.tenant_id = Some("Enter the directory (tenant) id or a verified domain; common, organizations and consumers cannot be used by a single-tenant appliance.".into());
    }
    let client_id = Uuid::parse_str(f.client_id.trim()).ok();
    if client_id.is_none() {
        e.client_id = Some(
            "The application (client) id is a GUID such as 0e3419f7-4c4d-47e7-b98a-7b9b9de02b80."
                .into(),
        );
    }
    let existing = db::run(&state.pool, |conn| Ok(MicrosoftApp::get(conn)?)).await?;
    let use_certificate = f.credential() == "certificate";
    // only the chosen credential counts; the other field is ignored, not saved
    let secret = if use_certificate {
        ""
    } else {
        f.client_secret.trim()
    };
    if !use_certificate
        && secret.is_empty()
        && existing.as_ref().is_none_or(|r| r.client_secret.is_none())
    {
        e.client_secret = Some("Enter the client secret (its value, not its id).".into());
    }
    let pem = if use_certificate {
        f.client_certificate_pem.trim()
    } else {
        ""
    };
    let mut certificate = None;
    if use_certificate {
        if pem.is_empty() {
            if existing
                .as_ref()
                .is_none_or(|r| r.client_certificate.is_none())
            {
                e.client_certificate = Some(
                    "Paste the certificate together with its private key, both in PEM form.".into(),
                );
            }
        } else if pem.len() > MAX_PEM_BYTES {
            e.client_certificate =
                Some("This is too long for a certificate with its private key.".into());
        } else {
            match CertificateCredential::from_pem(pem.as_bytes()) {
                Ok(c) => certificate = Some(c),
                Err(err) => e.client_certificate = Some(certificate_problem(&err).into()),
            }
        }
    }
    let bot = f.bot_app_id.trim();
    let bot_id = if bot.is_empty() {
        None
    } else {
        Uuid::parse_str(bot).ok()
    };
    if !bot.is_empty() && bot_id.is_none() {
        e.bot_app_id = Some("The bot app id is a GUID.".into());
    }
    let catalog = f.teams_app_catalog_id.trim();
    let catalog_ok = catalog.len() <= 64
        && catalog
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !catalog_ok {
        e.catalog_id = Some("The catalog id is the GUID Teams gives the uploaded app.".into());
    }
    let cloud = CLOUDS.iter().find(|c| c.0 == f.cloud).map(|c| c.0);
    if cloud.is_none() {
        e.cloud = Some("Choose one of the listed clouds.".into());
    }
    let (Some(cloud), Some(client_id), false) = (cloud, client_id, e.any()) else {
        return page(&state, &admin, &csrf, Some((&f, e)), vec![], None, None).await;
    };
    let (vault, by) = (state.vault.clone(), admin.username.clone());
    let (tenant, secret, catalog) = (tenant.to_owned(), secret.to_owned(), catalog.to_owned());
    let pem = zeroize::Zeroizing::new(pem.to_owned());
    db::run(&state.pool, move |conn| {
        Ok(MicrosoftApp::save(
            conn,
            &vault,
            &MicrosoftAppForm {
                cloud,
                tenant_id: &tenant,
                client_id,
                client_secret: (!secret.is_empty()).then_some(secret.as_str()),
                client_certificate_pem: (!pem.is_empty()).then_some(pem.as_str()),
                bot_app_id: bot_id,
                teams_app_catalog_id: (!catalog.is_empty()).then_some(catalog.as_str()),
            },
            &by,
        ))
    })
    .await?
    .map_err(|e| PageError(AppError::internal(e)))?;
    connections::forget_microsoft(&state).await;
    tracing::info!(admin.id = %admin.id, "Microsoft app registration saved");
    page(
        &state,
        &admin,
        &csrf,
        None,
        vec![],
        Some("The Microsoft app registration is saved."),
        certificate.as_ref(),
    )
    .await
}

fn explain(e: &EntraError) -> String {
    let why = match e {
        EntraError::Refused { code: 7000215, .. } => {
            "the client secret is wrong (use the secret's value, not its id)"
        }
        EntraError::Refused { code: 7000222, .. } => {
            "the client secret has expired: create a new one in Entra ID"
        }
        // [mem] AADSTS700027: the client assertion failed signature validation, which Entra
        // also answers when the certificate is not uploaded to the app registration
        EntraError::Refused { code: 700027, .. } => {
            "Entra ID does not accept the certificate: upload it (the .cer/.pem without the key) under Certificates & secrets of the app registration"
        }
        // [mem] AADSTS700024: the client assertion is not within its valid time range
        EntraError::Refused { code: 700024, .. } => {
            "the client assertion is outside its validity: check this host's clock"
        }
        EntraError::Refused { code: 700016, .. } => {
            "no app with this client id exists in this tenant (wrong client id or tenant)"
        }
        EntraError::Refused { code: 90002, .. } => {
            "the tenant does not exist in this cloud (wrong tenant id or cloud)"
        }
        EntraError::Refused { code: 500011, .. } => {
            "Microsoft Graph is not available in this tenant (wrong tenant?)"
        }
        EntraError::Refused { .. } => "Entra ID refused the app registration",
        EntraError::Assertion(_) => "the certificate could not sign a client assertion",
        EntraError::Outbound(_) => {
            "the login host is unreachable: check [outbound] proxy and CA settings"
        }
        _ => "Entra ID answered unexpectedly",
    };
    format!("Entra ID app-only token: {why} ({e}).")
}

/// `POST /admin/microsoft/test`: token, signing keys and Graph, each with a verdict.
pub async fn microsoft_test_submit(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    _f: EmptyForm,
) -> Result<HttpResponse, PageError> {
    let actor = Actor::Admin(admin.username.clone());
    let mut results = Vec::new();
    match connections::microsoft(&state, &actor).await {
        Err(e) => results.push((false, e.to_string())),
        Ok(ms) => {
            let r = &ms.registration;
            match ms
                .app_tokens
                .token(&r.tenant_id, &ms.endpoints.graph_scope)
                .await
            {
                Ok(_) => results.push((
                    true,
                    format!(
                        "Entra ID: the app registration works in tenant {} ({}), authenticated with its {}.",
                        r.tenant_id,
                        ms.endpoints.login,
                        if r.credential.is_certificate() {
                            "certificate"
                        } else {
                            "client secret"
                        }
                    ),
                )),
                Err(e) => results.push((false, explain(&e))),
            }
            match ms.signin.validate_id_token(Some("x.e30.x"), "").await {
                Err(crate::clients::entra_signin::IdTokenError::Keys(e)) => results.push((
                    false,
                    format!("User sign-in: the tenant's signing keys could not be fetched ({e})."),
                )),
                _ => results.push((
                    true,
                    "User sign-in: the tenant's signing keys are reachable.".into(),
                )),
            }
            let url = format!("{}/v1.0/", ms.endpoints.graph);
            match state.http.send("graph", |c| c.get(&url)).await {
                Ok(res) if res.status().as_u16() < 500 => results.push((true, format!("Microsoft Graph answers at {}.", ms.endpoints.graph))),
                Ok(res) => results.push((false, format!("Microsoft Graph answered HTTP {}.", res.status().as_u16()))),
                Err(e) => results.push((false, format!("Microsoft Graph is unreachable: {e}. Check [outbound] proxy and CA settings."))),
            }
        }
    }
    page(&state, &admin, &csrf, None, results, None, None).await
}
