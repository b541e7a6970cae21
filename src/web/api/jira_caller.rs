//! The `JiraCaller` extractor: authenticates a request from the Jira app.
//!
//! Order: header → token shape and `alg` → instance by the claimed `iss` → signature with that
//! instance's shared secret (decrypted through the audited read, cached a few minutes per
//! ciphertext) → claims and `qsh` → instance enabled → single use for state-changing methods.
//! Every refusal is 401 problem+json with a stable code and never names a secret.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{Method, StatusCode};
use actix_web::{FromRequest, HttpRequest, web};
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::crypto::jwt::{self, JwtError};
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::jwt_replay::JwtReplay;
use crate::db::models::secret::JIRA_SHARED_SECRET;
use crate::domain::{PublicId, qsh};
use crate::error::AppError;
use crate::services::secrets::cached_secret;
use crate::state::AppState;

/// An authenticated call from the Jira app on behalf of one Jira user.
#[derive(Debug, Clone)]
pub struct JiraCaller {
    pub instance_id: Uuid,
    pub public_id: String,
    pub base_url: String,
    /// The Jira user key (`sub`).
    pub user_key: String,
}

impl JiraCaller {
    /// The audit actor of this caller (`<public id>:<user key>`).
    pub fn actor(&self) -> crate::db::models::audit::Actor {
        crate::db::models::audit::Actor::Api(format!("{}:{}", self.public_id, self.user_key))
    }
}

fn refuse(code: &'static str, message: &str) -> AppError {
    AppError::client(StatusCode::UNAUTHORIZED, code, message)
}

fn from_jwt(e: JwtError) -> AppError {
    refuse(e.code(), &e.to_string())
}

fn state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

async fn authenticate(
    state: web::Data<AppState>,
    method: Method,
    path: String,
    query: String,
    header: Option<String>,
) -> Result<JiraCaller, AppError> {
    let token = header
        .as_deref()
        .and_then(|h| h.strip_prefix("JWT "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| from_jwt(JwtError::Missing))?;
    let unverified = jwt::parse_unverified(token).map_err(from_jwt)?;
    let unknown = || {
        refuse(
            "instance_unknown",
            "No Jira instance is registered for this token's issuer.",
        )
    };
    let public_id = PublicId::parse(&unverified.iss).ok_or_else(unknown)?;
    let pid = public_id.as_str().to_owned();
    let instance = db::run(&state.pool, move |conn| {
        Ok(JiraInstance::find_by_public_id(conn, &pid)?)
    })
    .await?
    .ok_or_else(unknown)?;
    let secret = cached_secret(
        &state,
        &instance,
        JIRA_SHARED_SECRET,
        &instance.shared_secret,
        Actor::Api(instance.public_id.clone()),
        "verify Jira app request signature",
    )
    .await?;
    let base_path = url::Url::parse(&state.internal_url)
        .map(|u| u.path().to_owned())
        .unwrap_or_default();
    let expected = qsh::qsh(method.as_str(), &path, &query, &base_path);
    let now = chrono::Utc::now().timestamp();
    let claims = unverified
        .verify(
            secret.expose_secret().as_bytes(),
            &expected,
            &instance.public_id,
            now,
            crate::domain::jira_user_key::is_valid,
        )
        .map_err(from_jwt)?;
    if !instance.enabled {
        return Err(refuse(
            "instance_disabled",
            "This Jira instance is disabled in the appliance.",
        ));
    }
    if state_changing(&method) {
        let hash = unverified.hash();
        let expires = chrono::DateTime::from_timestamp(claims.exp + jwt::SKEW_SECS, 0)
            .unwrap_or_else(chrono::Utc::now);
        let id = instance.id;
        let fresh = db::run(&state.pool, move |conn| {
            Ok(JwtReplay::claim(conn, &hash, id, expires)?)
        })
        .await?;
        if !fresh {
            return Err(refuse(
                "jwt_replayed",
                "This token was already used for a change; sign each request anew.",
            ));
        }
    }
    Ok(JiraCaller {
        instance_id: instance.id,
        public_id: instance.public_id,
        base_url: instance.base_url,
        user_key: claims.sub.unwrap_or_default(),
    })
}

impl FromRequest for JiraCaller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let method = req.method().clone();
        let path = req.path().to_owned();
        let query = req.query_string().to_owned();
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Box::pin(async move {
            let state =
                state.ok_or_else(|| AppError::internal(anyhow::anyhow!("state missing")))?;
            authenticate(state, method, path, query, header).await
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::crypto::jwt::{JwtError, parse_unverified};
    use crate::domain::{jira_user_key, qsh};

    /// Made by Atlassian's own Python library (atlassian-jwt 3.0.0 with PyJWT 2.15.1):
    /// `encode_token("GET", "/api/v1/issues/10045/chats?b=2&a=x%20y&a=0&jwt=ignored", "tHXLY2",
    /// FIXTURE_SECRET, payload_kwargs={"sub": "JIRAUSER10100", "iat": 1790000000, "exp": 1790000300})`.
    const FIXTURE_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJ0SFhMWTIiLCJleHAiOjE3OTAwMDAzMDAsImlhdCI6MTc5MDAwMDAwMCwiaXNzIjoidEhYTFkyIiwicXNoIjoiMThhNDg4ZDczYTM0OTg4MGNjYWRjYTk5Nzc3NTk4NmZmOGM4ZTRhYjc1N2Q0MDE0YmUzN2FiM2VlNTkzNWRhOSIsInN1YiI6IkpJUkFVU0VSMTAxMDAifQ.PwHFKGCNu90k2dfUjIugP8huPBzzs_hEOvoms9TYFu4";
    const FIXTURE_SECRET: &[u8] = b"fixture-shared-secret-NqM6OM3rtHsO-uNw0123456789";

    #[test]
    fn a_token_from_atlassians_library_is_accepted() {
        let path = "/api/v1/issues/10045/chats";
        let query = "b=2&a=x%20y&a=0&jwt=ignored";
        // the same canonical request and hash the library computed
        assert_eq!(
            qsh::canonical_request("GET", path, query, ""),
            "GET&/api/v1/issues/10045/chats&a=0,x%20y&b=2"
        );
        let expected = qsh::qsh("GET", path, query, "");
        assert_eq!(
            expected,
            "18a488d73a349880ccadca997775986ff8c8e4ab757d4014be37ab3ee5935da9"
        );
        let claims = parse_unverified(FIXTURE_TOKEN)
            .unwrap()
            .verify(
                FIXTURE_SECRET,
                &expected,
                "tHXLY2",
                1_790_000_010,
                jira_user_key::is_valid,
            )
            .unwrap();
        assert_eq!(claims.sub.as_deref(), Some("JIRAUSER10100"));
        // behind a context path the same request hashes the same
        assert_eq!(
            qsh::qsh("GET", &format!("/bridge{path}"), query, "/bridge"),
            expected
        );
        // and a different query does not
        let other = qsh::qsh("GET", path, "b=2&a=0", "");
        assert_eq!(
            parse_unverified(FIXTURE_TOKEN)
                .unwrap()
                .verify(
                    FIXTURE_SECRET,
                    &other,
                    "tHXLY2",
                    1_790_000_010,
                    jira_user_key::is_valid
                )
                .unwrap_err(),
            JwtError::Qsh
        );
        assert_eq!(
            parse_unverified(FIXTURE_TOKEN)
                .unwrap()
                .verify(
                    FIXTURE_SECRET,
                    &expected,
                    "tHXLY2",
                    1_790_000_400,
                    jira_user_key::is_valid
                )
                .unwrap_err(),
            JwtError::Expired
        );
    }
}
