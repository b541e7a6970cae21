//! The Jira DC double under a context path: OAuth, rotation, hidden issues.

use std::sync::atomic::Ordering;

use reqwest::StatusCode;
use serde_json::Value;

use crate::fakes::entra::pkce_challenge;
use crate::fakes::jira;
use crate::support::oauth_client::*;

#[actix_web::test]
async fn jira_under_a_context_path_takes_token_parameters_in_the_query_and_rotates_refresh_tokens()
{
    let (base, fake) = jira::start("/jira");
    assert!(base.ends_with("/jira"));
    fake.add_user("JIRAUSER10100", "alice", "Alice Adams");
    fake.add_user("JIRAUSER10200", "bob", "Bob Brown");
    fake.add_issue(10001, "ABC-1", "Printer on fire", &["JIRAUSER10200"]);
    fake.set_redirect_uri("https://bridge.example/auth/jira/callback");
    fake.sign_in_as("JIRAUSER10100");

    let root = base.trim_end_matches("/jira");
    let res = client()
        .get(format!("{root}/rest/api/2/serverInfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "outside the context path"
    );
    let info: Value = client()
        .get(format!("{base}/rest/api/2/serverInfo"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["baseUrl"], base.as_str());

    let res = client()
        .get(with_query(
            &format!("{base}/rest/oauth2/latest/authorize"),
            &[
                ("client_id", jira::CLIENT_ID),
                ("redirect_uri", "https://bridge.example/auth/jira/callback"),
                ("response_type", "code"),
                ("scope", "WRITE"),
                ("state", "xyz"),
                ("code_challenge", &pkce_challenge(VERIFIER)),
                ("code_challenge_method", "S256"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let q = query_of(res.headers()["location"].to_str().unwrap());
    assert_eq!(param(&q, "state").unwrap(), "xyz");
    let code = param(&q, "code").unwrap();
    // Everything in the query string of the POST, as in Atlassian's examples.
    let token = |params: Vec<(&'static str, String)>| {
        client()
            .post(with_query(
                &format!("{base}/rest/oauth2/latest/token"),
                &params,
            ))
            .send()
    };
    let common = |grant: &str| {
        vec![
            ("client_id", jira::CLIENT_ID.to_owned()),
            ("client_secret", jira::CLIENT_SECRET.to_owned()),
            ("grant_type", grant.to_owned()),
            (
                "redirect_uri",
                "https://bridge.example/auth/jira/callback".to_owned(),
            ),
        ]
    };
    let mut p = common("authorization_code");
    p.push(("code", code.clone()));
    p.push(("code_verifier", "wrong".to_owned()));
    assert_eq!(token(p).await.unwrap().status(), StatusCode::BAD_REQUEST);
    // the failed attempt spent the code; a fresh one with the right verifier works
    let res = client()
        .get(with_query(
            &format!("{base}/rest/oauth2/latest/authorize"),
            &[
                ("client_id", jira::CLIENT_ID),
                ("redirect_uri", "https://bridge.example/auth/jira/callback"),
                ("response_type", "code"),
                ("scope", "WRITE"),
                ("code_challenge", &pkce_challenge(VERIFIER)),
                ("code_challenge_method", "S256"),
            ],
        ))
        .send()
        .await
        .unwrap();
    let code = param(
        &query_of(res.headers()["location"].to_str().unwrap()),
        "code",
    )
    .unwrap();
    let mut p = common("authorization_code");
    p.push(("code", code));
    p.push(("code_verifier", VERIFIER.to_owned()));
    let tokens: Value = token(p).await.unwrap().json().await.unwrap();
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 3600);
    let at = tokens["access_token"].as_str().unwrap().to_owned();
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();

    let me: Value = client()
        .get(format!("{base}/rest/api/2/myself"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["key"].as_str(), me["name"].as_str()),
        (Some("JIRAUSER10100"), Some("alice"))
    );
    for (key, want) in [
        ("ABC-1", StatusCode::OK),
        ("abc-1", StatusCode::OK),
        ("10001", StatusCode::OK),
        ("ABC-2", StatusCode::NOT_FOUND),
    ] {
        let res = client()
            .get(format!("{base}/rest/api/2/issue/{key}"))
            .bearer_auth(&at)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), want, "{key}");
    }

    // refresh in a form body this time: a new pair, and the used RT is spent
    let refresh = |rt: &str| {
        let mut p = common("refresh_token");
        p.push(("refresh_token", rt.to_owned()));
        client()
            .post(format!("{base}/rest/oauth2/latest/token"))
            .form(&p)
            .send()
    };
    let res = refresh(&rt).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let next: Value = res.json().await.unwrap();
    let rt2 = next["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt2, rt);
    let res = refresh(&rt).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "invalid_grant");
    assert_eq!(fake.refresh_calls.load(Ordering::SeqCst), 2);

    fake.throttle_next(1, 2);
    let res = client()
        .get(format!("{base}/rest/api/2/myself"))
        .bearer_auth(next["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "2");

    fake.revoke_user("JIRAUSER10100");
    let res = client()
        .get(format!("{base}/rest/api/2/myself"))
        .bearer_auth(next["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refresh(&rt2).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
}

#[actix_web::test]
async fn jira_answers_403_for_an_issue_hidden_from_the_caller() {
    let (base, fake) = jira::start("/jira");
    fake.add_user("JIRAUSER10200", "bob", "Bob Brown");
    fake.add_issue(10001, "ABC-1", "Printer on fire", &["JIRAUSER10200"]);
    fake.sign_in_as("JIRAUSER10200");
    let res = client()
        .get(with_query(
            &format!("{base}/rest/oauth2/latest/authorize"),
            &[
                ("client_id", jira::CLIENT_ID),
                ("redirect_uri", "http://127.0.0.1:9/cb"),
                ("response_type", "code"),
                ("scope", "READ"),
            ],
        ))
        .send()
        .await
        .unwrap();
    let code = param(
        &query_of(res.headers()["location"].to_str().unwrap()),
        "code",
    )
    .unwrap();
    let tokens: Value = client()
        .post(format!("{base}/rest/oauth2/latest/token"))
        .form(&[
            ("client_id", jira::CLIENT_ID),
            ("client_secret", jira::CLIENT_SECRET),
            ("grant_type", "authorization_code"),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("code", &code),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = client()
        .get(format!("{base}/rest/api/2/issue/ABC-1"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = client()
        .get(format!("{base}/rest/api/2/issue/ABC-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_user_who_denies_consent_is_sent_back_with_access_denied_and_no_code() {
    let (base, fake) = jira::start("/jira");
    fake.add_user("JIRAUSER10100", "alice", "Alice Adams");
    fake.set_redirect_uri("https://bridge.example/auth/jira/callback");
    fake.sign_in_as("JIRAUSER10100");
    fake.refuse_consent(true);
    let authorize = || {
        client()
            .get(with_query(
                &format!("{base}/rest/oauth2/latest/authorize"),
                &[
                    ("client_id", jira::CLIENT_ID),
                    ("redirect_uri", "https://bridge.example/auth/jira/callback"),
                    ("response_type", "code"),
                    ("scope", "WRITE"),
                    ("state", "s1"),
                    ("code_challenge", &pkce_challenge(VERIFIER)),
                    ("code_challenge_method", "S256"),
                ],
            ))
            .send()
    };
    let res = authorize().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("https://bridge.example/auth/jira/callback?"));
    let q = query_of(&location);
    assert_eq!(param(&q, "error").unwrap(), "access_denied");
    assert_eq!(param(&q, "state").unwrap(), "s1");
    assert!(param(&q, "code").is_none());
    // allowed again: a code is issued
    fake.refuse_consent(false);
    let res = authorize().await.unwrap();
    let q = query_of(res.headers()["location"].to_str().unwrap());
    assert!(param(&q, "code").is_some());
}
