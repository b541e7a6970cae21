//! One Microsoft connection: the app registration's clients for one cloud (sign-in, app-only
//! tokens, Graph), all over the same outbound stack and endpoint set.

use std::sync::Arc;

use super::activity_token::BotAuth;
use secrecy::SecretString;

use super::entra::{AppTokens, ClientCredential, EntraError};
use super::entra_signin::SignInClient;
use super::graph::GraphClient;
use super::http::OutboundHttp;
use crate::domain::cloud::{Cloud, Endpoints};

/// Where the registration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `[microsoft]` in config.toml (read-only in the admin UI).
    Config,
    /// Entered on the admin page.
    Admin,
}

/// The effective app registration.
#[derive(Debug)]
pub struct Registration {
    pub source: Source,
    pub cloud: Cloud,
    pub tenant_id: String,
    pub client_id: String,
    /// Client secret or certificate; shared by the sign-in and app-only clients.
    pub credential: Arc<ClientCredential>,
    pub bot_app_id: String,
    pub teams_app_catalog_id: Option<String>,
}

/// Clients for one registration.
pub struct MicrosoftConn {
    pub registration: Registration,
    pub endpoints: Endpoints,
    pub signin: SignInClient,
    pub app_tokens: AppTokens,
    pub graph: GraphClient,
    /// Checks inbound Bot Framework activities.
    pub bot_auth: BotAuth,
}

impl MicrosoftConn {
    /// Builds the clients; `endpoints` already carries the configured overrides.
    pub fn new(
        http: &OutboundHttp,
        registration: Registration,
        endpoints: Endpoints,
        max_concurrent: usize,
    ) -> Self {
        MicrosoftConn {
            signin: SignInClient::new(
                http.clone(),
                &endpoints.login,
                &endpoints.graph,
                &registration.tenant_id,
                &registration.client_id,
                registration.credential.clone(),
            ),
            app_tokens: AppTokens::new(
                http.clone(),
                &endpoints.login,
                &registration.client_id,
                registration.credential.clone(),
            ),
            graph: GraphClient::new(http.clone(), &endpoints.graph, max_concurrent),
            bot_auth: BotAuth::new(
                http.clone(),
                &endpoints.bot_openid_metadata,
                &endpoints.bot_issuer,
            ),
            registration,
            endpoints,
        }
    }
}

impl MicrosoftConn {
    /// The bot's app-only token for the Bot Connector: from `microsoft.bot_token_url` when
    /// configured, else from the registration's tenant (a single-tenant bot, PROTOCOLS.md §3.2).
    pub async fn bot_token(&self) -> Result<SecretString, EntraError> {
        let scope = &self.endpoints.bot_scope;
        match &self.endpoints.bot_token {
            Some(url) => self.app_tokens.token_at(url, scope).await,
            None => {
                self.app_tokens
                    .token(&self.registration.tenant_id, scope)
                    .await
            }
        }
    }
}
