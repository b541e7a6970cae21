//! Doctor's check of each instance's OAuth 2.0 incoming link (what signing in with Jira and
//! account linking run on): that the admin entered one, that Jira's authorize endpoint answers
//! for its client ID, and that Jira accepts the appliance's redirect URI. The request is the one
//! a browser would send, without a user: Jira either sends it back to the redirect URI (no one
//! logged in), or to its log-in page; a 400 error page means the client ID or the redirect URL
//! does not match the link.

use crate::clients::http::OutboundHttp;
use crate::clients::jira::JIRA_SCOPE;
use crate::crypto::{pkce, random};
use crate::db::models::jira_instance::JiraInstance;

use super::{Check, fail, ok, skipped};

/// Where to create the link, for the fix texts.
fn create_link(redirect: &str) -> String {
    format!(
        "in Jira › Administration › Applications › Application links, create an External application › Incoming link with Redirect URL {redirect} and permission Write, then enter its client ID and secret under Admin › Jira instances"
    )
}

/// The check of one enabled instance. `redirect` is `<listen.internal_url>/auth/jira/callback`.
pub(super) async fn check(http: &OutboundHttp, i: &JiraInstance, redirect: &str) -> Check {
    let name = format!("jira {} oauth", i.public_id);
    let Some(client_id) = i.oauth_client_id.as_deref() else {
        return skipped(
            &name,
            format!(
                "no OAuth 2.0 incoming link entered: Jira users cannot sign in with Jira or link their Microsoft account; {}",
                create_link(redirect)
            ),
        );
    };
    let q = serde_urlencoded::to_string([
        ("client_id", client_id),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("scope", JIRA_SCOPE),
        ("state", &random::token(16)),
        ("code_challenge", &pkce::challenge(&random::token(48))),
        ("code_challenge_method", "S256"),
    ])
    .unwrap_or_default();
    let url = format!("{}/rest/oauth2/latest/authorize?{q}", i.base_url);
    let res = match http.send("jira", |c| c.get(&url)).await {
        Ok(r) => r,
        Err(e) => {
            return fail(
                &name,
                format!("the authorize endpoint did not answer: {e}"),
                "check DNS, firewall and outbound.proxy / no_proxy for this host",
            );
        }
    };
    let status = res.status();
    let location = res
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if status.is_redirection() && location.starts_with(redirect) {
        let error = url::Url::parse(&location).ok().and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "error")
                .map(|(_, v)| v.into_owned())
        });
        return match error.as_deref() {
            // nobody is logged in to Jira in this request: the link and its redirect URL work
            None | Some("access_denied") | Some("login_required") => ok(
                &name,
                format!("the incoming link answers and accepts the redirect URL {redirect}"),
            ),
            Some(e) => fail(
                &name,
                format!("Jira refused the sign-in request: {e}"),
                "give the incoming link the permission Write (the appliance asks for WRITE)",
            ),
        };
    }
    if status.is_redirection() || status.is_success() {
        // Jira's log-in page first: the redirect URL is only checked once a user logs in
        return ok(
            &name,
            format!(
                "the incoming link answers (Jira asks to log in first; its Redirect URL must be exactly {redirect})"
            ),
        );
    }
    match status.as_u16() {
        400 => fail(
            &name,
            "Jira refused the authorize request (HTTP 400): the client ID or the redirect URL does not match the incoming link",
            format!(
                "the incoming link's Redirect URL must be exactly {redirect} (and listen.internal_url must be how browsers reach the appliance); the client ID under Admin › Jira instances must be the link's"
            ),
        ),
        404 => fail(
            &name,
            format!("{} has no OAuth 2.0 provider (HTTP 404)", i.base_url),
            "check the base URL (context path such as /jira); Jira Data Center 8.22 or later provides OAuth 2.0 incoming links",
        ),
        s => fail(
            &name,
            format!("the authorize endpoint answered HTTP {s}"),
            create_link(redirect),
        ),
    }
}
