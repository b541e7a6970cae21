//! Resolving the outside connections a request needs: the Microsoft app registration (pinned in
//! config.toml, else entered in the admin UI; its client secret or certificate read through the
//! audited vault) and a
//! Jira instance's OAuth client. Built clients are cached until the registration changes.

use std::sync::Arc;

use actix_web::http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::clients::entra::ClientCredential;
use crate::clients::jira::JiraClient;
use crate::clients::microsoft::{MicrosoftConn, Registration, Source};
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::microsoft_app::MicrosoftApp;
use crate::db::models::secret::{
    self, JIRA_OAUTH_CLIENT_SECRET, MICROSOFT_CLIENT_CERTIFICATE, MICROSOFT_CLIENT_SECRET,
    ReadContext,
};
use crate::domain::cloud::Cloud;
use crate::error::AppError;
use crate::services::secrets::cached_secret;
use crate::state::AppState;

/// The answer when no Microsoft app registration is set up.
pub fn microsoft_not_configured() -> AppError {
    AppError::client(
        StatusCode::SERVICE_UNAVAILABLE,
        "microsoft_not_configured",
        "The appliance has no Microsoft app registration yet; an administrator enters it under Admin › Microsoft.",
    )
}

/// True when `[microsoft]` in config.toml pins the registration.
pub fn pinned_in_config(state: &AppState) -> bool {
    !state.settings.microsoft.client_id.is_empty()
}

fn config_secret(state: &AppState) -> Result<Option<SecretString>, AppError> {
    let m = &state.settings.microsoft;
    if let Some(s) = &m.client_secret {
        return Ok(Some(s.clone()));
    }
    if m.client_secret_file.is_empty() {
        return Ok(None);
    }
    std::fs::read_to_string(&m.client_secret_file)
        .map(|s| Some(SecretString::from(s.trim().to_owned())))
        .map_err(|e| {
            AppError::internal(anyhow::anyhow!(
                "cannot read microsoft.client_secret_file: {e}"
            ))
        })
}

/// How long the built connection is used before the registration row is compared again (other
/// daemons see an admin's change within this time; this one at once).
const RECHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Forgets the built connection (after the admin changed the registration).
pub async fn forget_microsoft(state: &AppState) {
    *state.microsoft.lock().await = None;
}

/// The credential pinned in config.toml: the certificate file (validated at start, read again
/// here in case it was rotated since), else the client secret.
fn config_credential(state: &AppState) -> Result<Option<ClientCredential>, AppError> {
    let cert = state
        .settings
        .microsoft
        .client_certificate()
        .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?;
    if let Some(cert) = cert {
        return Ok(Some(ClientCredential::Certificate(cert)));
    }
    Ok(config_secret(state)?.map(ClientCredential::Secret))
}

/// The Microsoft connection, built on first use and after the registration changed.
pub async fn microsoft(state: &AppState, actor: &Actor) -> Result<Arc<MicrosoftConn>, AppError> {
    let mut slot = state.microsoft.lock().await;
    if let Some((_, conn, checked)) = slot.as_ref()
        && checked.elapsed() < RECHECK
    {
        return Ok(conn.clone());
    }
    let (fingerprint, registration) = if pinned_in_config(state) {
        if let Some((f, conn, _)) = slot.as_ref()
            && f == "config"
        {
            return Ok(conn.clone());
        }
        let m = &state.settings.microsoft;
        let credential = config_credential(state)?.ok_or_else(microsoft_not_configured)?;
        (
            "config".to_owned(),
            Registration {
                source: Source::Config,
                cloud: Cloud::parse(&m.cloud).unwrap_or(Cloud::Global),
                tenant_id: m.tenant_id.clone(),
                client_id: m.client_id.clone(),
                credential: Arc::new(credential),
                bot_app_id: m.bot_app_id.clone(),
                teams_app_catalog_id: None,
            },
        )
    } else {
        let row = db::run(&state.pool, |conn| Ok(MicrosoftApp::get(conn)?))
            .await?
            .ok_or_else(microsoft_not_configured)?;
        let fingerprint = format!("{}:{}", row.id, row.updated_at.timestamp_micros());
        if let Some((f, conn, checked)) = slot.as_mut()
            && *f == fingerprint
        {
            *checked = std::time::Instant::now();
            return Ok(conn.clone());
        }
        // the certificate when there is one: saving one removes the secret anyway
        let column = match (&row.client_certificate, &row.client_secret) {
            (Some(_), _) => MICROSOFT_CLIENT_CERTIFICATE,
            (None, Some(_)) => MICROSOFT_CLIENT_SECRET,
            (None, None) => return Err(microsoft_not_configured()),
        };
        let (vault, actor, id) = (state.vault.clone(), actor.clone(), row.id);
        let secret = db::run(&state.pool, move |conn| {
            let ctx = ReadContext {
                actor: &actor,
                purpose: "authenticate the appliance to Entra ID",
                label: "microsoft app",
            };
            Ok(secret::read(conn, &vault, column, id, &ctx))
        })
        .await?
        .map_err(AppError::internal)?;
        let credential = if column == MICROSOFT_CLIENT_CERTIFICATE {
            // the admin page parsed it before storing; failing here means tampering or a bug
            ClientCredential::from_pem(secret.expose_secret().as_bytes()).map_err(|e| {
                AppError::internal(anyhow::anyhow!("the stored client certificate: {e}"))
            })?
        } else {
            ClientCredential::Secret(secret)
        };
        (
            fingerprint,
            Registration {
                source: Source::Admin,
                cloud: Cloud::parse(&row.cloud).unwrap_or(Cloud::Global),
                tenant_id: row.tenant_id,
                client_id: row.client_id.to_string(),
                credential: Arc::new(credential),
                bot_app_id: row.bot_app_id.map(|b| b.to_string()).unwrap_or_default(),
                teams_app_catalog_id: row.teams_app_catalog_id,
            },
        )
    };
    let m = &state.settings.microsoft;
    let endpoints = registration.cloud.endpoints().with_overrides(
        &m.login_url,
        &m.graph_url,
        &m.bot_openid_metadata_url,
        &m.bot_token_url,
        &m.service_url_hosts,
    );
    let conn = Arc::new(MicrosoftConn::new(
        &state.http,
        registration,
        endpoints,
        state.settings.outbound.max_concurrent_per_tenant,
    ));
    *slot = Some((fingerprint, conn.clone(), std::time::Instant::now()));
    Ok(conn)
}

/// The answer when an instance has no Jira OAuth client.
pub fn jira_not_configured() -> AppError {
    AppError::client(
        StatusCode::SERVICE_UNAVAILABLE,
        "jira_oauth_not_configured",
        "This Jira instance has no OAuth 2.0 incoming link in the appliance yet; an administrator enters it under Admin › Jira instances.",
    )
}

/// The OAuth client of an instance (its secret through the audited, cached read).
pub async fn jira(state: &AppState, instance: &JiraInstance) -> Result<JiraClient, AppError> {
    let (Some(client_id), Some(ciphertext)) =
        (&instance.oauth_client_id, &instance.oauth_client_secret)
    else {
        return Err(jira_not_configured());
    };
    let secret = cached_secret(
        state,
        instance,
        JIRA_OAUTH_CLIENT_SECRET,
        ciphertext,
        Actor::Api(instance.public_id.clone()),
        "authenticate the appliance to Jira OAuth",
    )
    .await?;
    Ok(JiraClient::new(
        state.http.clone(),
        &instance.base_url,
        client_id,
        secret,
    ))
}

/// An instance by id, or 404.
pub async fn instance(state: &AppState, id: Uuid) -> Result<JiraInstance, AppError> {
    db::run(&state.pool, move |conn| Ok(JiraInstance::find(conn, id)?))
        .await?
        .ok_or_else(|| {
            AppError::client(
                StatusCode::NOT_FOUND,
                "instance_unknown",
                "No such Jira instance.",
            )
        })
}
