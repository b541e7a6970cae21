//! App-only tokens from (fake) Entra ID: caching, tenant authority, scope rules, error codes.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use jira_teams_bridge::clients::entra::{AppTokens, ClientCredential, EntraError};
use jira_teams_bridge::clients::http::{OutboundHttp, RetryPolicy};
use jira_teams_bridge::config::OutboundSettings;
use secrecy::{ExposeSecret, SecretString};

use crate::fakes::entra::{self, CLIENT_ID, CLIENT_SECRET};

const TENANT: &str = "0c60ce18-654d-441a-badf-14404098f38e";
const GRAPH: &str = "https://graph.microsoft.com/.default";

fn tokens(addr: std::net::SocketAddr, secret: &str) -> AppTokens {
    let http =
        OutboundHttp::from_settings(&OutboundSettings::default(), RetryPolicy::default()).unwrap();
    AppTokens::new(
        http,
        &format!("http://{addr}"),
        CLIENT_ID,
        ClientCredential::Secret(SecretString::from(secret.to_owned())),
    )
}

#[actix_web::test]
async fn an_app_token_is_fetched_once_and_served_from_the_cache() {
    let (addr, fake) = entra::start(3599);
    let t = Arc::new(tokens(addr, CLIENT_SECRET));
    let first = t.token(TENANT, GRAPH).await.unwrap();
    assert!(
        first
            .expose_secret()
            .starts_with("eyJ0eXAiOiJKV1QifQ.fake-app-token")
    );
    // concurrent callers share the one token
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let t = t.clone();
            actix_web::rt::spawn(async move {
                t.token(TENANT, GRAPH)
                    .await
                    .unwrap()
                    .expose_secret()
                    .to_owned()
            })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap(), first.expose_secret());
    }
    assert_eq!(fake.token_calls.load(Ordering::SeqCst), 1);
    let form = fake.last_form.lock().unwrap().clone();
    assert!(
        form.contains(&("scope".into(), GRAPH.into()))
            && form.contains(&("grant_type".into(), "client_credentials".into()))
    );
    // another resource is another token
    t.token(TENANT, "https://api.botframework.com/.default")
        .await
        .unwrap();
    assert_eq!(fake.token_calls.load(Ordering::SeqCst), 2);
}

#[actix_web::test]
async fn a_short_lived_token_is_renewed_before_it_expires() {
    let (addr, fake) = entra::start(2);
    let t = tokens(addr, CLIENT_SECRET);
    let a = t.token(TENANT, GRAPH).await.unwrap();
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    let b = t.token(TENANT, GRAPH).await.unwrap();
    assert_ne!(
        a.expose_secret(),
        b.expose_secret(),
        "renewed at half its life"
    );
    assert_eq!(fake.token_calls.load(Ordering::SeqCst), 2);
}

#[actix_web::test]
async fn wrong_secrets_and_authorities_are_configuration_errors() {
    let (addr, fake) = entra::start(3599);
    let bad = tokens(addr, "not-the-secret");
    let err = bad.token(TENANT, GRAPH).await.unwrap_err();
    assert!(
        matches!(err, EntraError::Refused { code: 7000215, .. }),
        "{err}"
    );
    assert!(err.is_configuration());
    assert!(!err.to_string().contains("not-the-secret"), "{err}");
    let good = tokens(addr, CLIENT_SECRET);
    for tenant in ["common", "consumers", "organizations", ""] {
        assert!(
            matches!(
                good.token(tenant, GRAPH).await.unwrap_err(),
                EntraError::NotATenant(_)
            ),
            "{tenant}"
        );
    }
    assert!(matches!(
        good.token(TENANT, "Chat.ReadWrite").await.unwrap_err(),
        EntraError::Scope(_)
    ));
    assert_eq!(
        fake.token_calls.load(Ordering::SeqCst),
        1,
        "refused locally without a request"
    );
    // nothing is cached after a refusal
    assert!(bad.token(TENANT, GRAPH).await.is_err());
    assert_eq!(fake.token_calls.load(Ordering::SeqCst), 2);
}
