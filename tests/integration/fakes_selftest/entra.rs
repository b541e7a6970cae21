//! The Entra ID double: sign-in with PKCE, its refusals, refresh-token rotation.

use std::sync::atomic::Ordering;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fakes::entra::{self, CLIENT_ID, CLIENT_SECRET, TENANT_ID, pkce_challenge};
use crate::support::oauth_client::*;

#[actix_web::test]
async fn entra_signs_a_user_in_with_pkce_and_its_jwks_verifies_the_id_token() {
    let (addr, fake) = entra_with_users();
    let q = authorize(addr, &fake, ALICE, &pkce_challenge(VERIFIER)).await;
    assert_eq!(param(&q, "state").unwrap(), "st&te=1 2");
    assert_eq!(
        param(&fake.last_authorize.lock().unwrap(), "nonce").unwrap(),
        "n-0S6_WzA2Mj"
    );
    let code = param(&q, "code").unwrap();
    let (status, body) = redeem(addr, &code, VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert!(body["refresh_token"].as_str().unwrap().len() >= 40);
    let at = body["access_token"].as_str().unwrap();
    let issued = fake.tokens.lock().unwrap()[at].clone();
    assert_eq!(issued.oid.as_deref(), Some(ALICE));
    assert_eq!(issued.audience, "https://graph.microsoft.com");
    assert_eq!(issued.tid, TENANT_ID);

    let keys: Value = client()
        .get(format!("http://{addr}/{TENANT_ID}/discovery/v2.0/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = &keys["keys"][0];
    assert_eq!(jwk["kid"], entra::KID);
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[CLIENT_ID]);
    validation.set_issuer(&[format!("http://{addr}/{TENANT_ID}/v2.0")]);
    let id_token = body["id_token"].as_str().unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(id_token)
            .unwrap()
            .kid
            .as_deref(),
        Some(entra::KID)
    );
    let claims = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["oid"], ALICE);
    assert_eq!(claims["tid"], TENANT_ID);
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["preferred_username"], "alice@contoso.example");
    assert_eq!(claims["ver"], "2.0");

    // A forged token with the right kid but a foreign key fails; a re-signed tampered one passes
    // the signature (so tests can probe the claim checks).
    let forged = fake.mint_id_token_with_foreign_key(claims.clone());
    assert!(jsonwebtoken::decode::<Value>(&forged, &key, &validation).is_err());
    let mut tampered = claims;
    tampered["oid"] = json!(BOB);
    let resigned = fake.mint_id_token(tampered);
    assert!(jsonwebtoken::decode::<Value>(&resigned, &key, &validation).is_ok());

    // The code is single-use.
    let (status, body) = redeem(addr, &code, VERIFIER).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(aadsts(&body), 54005);
}

#[actix_web::test]
async fn entra_refuses_a_wrong_pkce_verifier_a_changed_redirect_and_plain_challenges() {
    let (addr, fake) = entra_with_users();
    let q = authorize(addr, &fake, ALICE, &pkce_challenge(VERIFIER)).await;
    let (status, body) = redeem(addr, &param(&q, "code").unwrap(), "another-verifier").await;
    assert_eq!((status, aadsts(&body)), (StatusCode::BAD_REQUEST, 501481));

    let q = authorize(addr, &fake, ALICE, &pkce_challenge(VERIFIER)).await;
    let (status, body) = token_call(
        addr,
        &[
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("grant_type", "authorization_code"),
            ("code", &param(&q, "code").unwrap()),
            (
                "redirect_uri",
                "https://bridge.example/auth/microsoft/callback",
            ),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!((status, aadsts(&body)), (StatusCode::BAD_REQUEST, 500112));

    let res = client()
        .get(with_query(
            &format!("http://{addr}/organizations/oauth2/v2.0/authorize"),
            &[
                ("client_id", CLIENT_ID),
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("scope", SCOPE),
                ("state", "s"),
                ("code_challenge", VERIFIER),
                ("code_challenge_method", "plain"),
            ],
        ))
        .send()
        .await
        .unwrap();
    let q = query_of(res.headers()["location"].to_str().unwrap());
    assert_eq!(param(&q, "error").unwrap(), "invalid_request");
    assert_eq!(param(&q, "state").unwrap(), "s");
    assert!(param(&q, "code").is_none());

    *fake.authorize_error.lock().unwrap() = Some("access_denied".into());
    let q = authorize(addr, &fake, ALICE, &pkce_challenge(VERIFIER)).await;
    assert_eq!(param(&q, "error").unwrap(), "access_denied");
    assert!(
        param(&q, "error_description")
            .unwrap()
            .starts_with("AADSTS65004:")
    );
}

#[actix_web::test]
async fn entra_returns_a_new_refresh_token_on_every_refresh_until_the_user_is_revoked() {
    let (addr, fake) = entra_with_users();
    let first = sign_in(addr, &fake, ALICE).await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_owned();
    let (status, second) = refresh(addr, &rt1).await;
    assert_eq!(status, StatusCode::OK);
    let rt2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    assert_ne!(first["access_token"], second["access_token"]);
    // Entra leaves the old RT usable; the fake counts its uses so tests can spot stale reuse.
    let (status, third) = refresh(addr, &rt1).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(third["refresh_token"].as_str().unwrap(), rt2);
    assert_eq!(fake.rt_uses.lock().unwrap()[&rt1], 2);
    assert_eq!(fake.refresh_calls.load(Ordering::SeqCst), 2);

    *fake.refresh_error.lock().unwrap() = Some((400, "invalid_grant".into(), 65001));
    let (status, body) = refresh(addr, &rt2).await;
    assert_eq!((status, aadsts(&body)), (StatusCode::BAD_REQUEST, 65001));
    assert_eq!(body["suberror"], "consent_required");
    *fake.refresh_error.lock().unwrap() = None;

    fake.revoke_user(ALICE);
    let (status, body) = refresh(addr, &rt2).await;
    assert_eq!((status, aadsts(&body)), (StatusCode::BAD_REQUEST, 50173));
    let at = second["access_token"].as_str().unwrap();
    assert!(fake.tokens.lock().unwrap()[at].revoked);
}
