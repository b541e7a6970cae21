//! Account linking end to end: the Jira app asks `/api/v1/me` for a sign-in link, a browser
//! signs in with the fake Entra ID and the fake Jira DC, and the link is stored. Tampering,
//! forwarded links and refused refreshes are tested against the same doubles.

use std::sync::atomic::Ordering;

use diesel::prelude::*;
use serde_json::json;
use uuid::Uuid;

use crate::fakes::{self};
use crate::support::app::location;
use crate::support::world::{
    ALICE_KEY, ALICE_OID, BOB_KEY, BOB_OID, World, browser, expire_microsoft_token, follow, world,
};

fn audit_count(conn: &mut PgConnection, kind: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT count(*) AS n FROM secret_access_audit WHERE secret_kind = $1")
        .bind::<diesel::sql_types::Text, _>(kind)
        .get_result::<N>(conn)
        .unwrap()
        .n
}

#[actix_web::test]
async fn a_jira_user_links_microsoft_and_jira_accounts_in_one_browser_dance() {
    let w = world().await;
    let me = w.me(ALICE_KEY).await;
    assert_eq!(me["status"], "unlinked");
    let url = me["signInUrl"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/auth/start?t=", w.app.state.internal_url)));

    w.entra.sign_in_as(ALICE_OID);
    w.jira.sign_in_as(ALICE_KEY);
    let b = browser();
    let (res, hops) = follow(&b, url).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("Accounts linked"), "{page}");
    assert!(page.contains("alice@contoso.example") && page.contains("alice (Jira)"));
    // the Microsoft leg asked for PKCE S256, a nonce and the exact redirect URI
    let authorize = &hops[1];
    assert!(authorize.starts_with(&format!(
        "{}/{}/oauth2/v2.0/authorize?",
        w.entra.base,
        fakes::entra::TENANT_ID
    )));
    let q: Vec<(String, String)> = url::Url::parse(authorize)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(get("code_challenge_method"), "S256");
    assert_eq!(get("code_challenge").len(), 43);
    assert!(!get("nonce").is_empty());
    assert_eq!(
        get("redirect_uri"),
        format!("{}/auth/microsoft/callback", w.app.state.internal_url)
    );
    assert!(
        get("scope").contains("offline_access")
            && get("scope").contains(&format!("{}/Chat.ReadWrite", w.graph.base))
    );
    // the Jira leg went to the context path with PKCE too
    assert!(hops.iter().any(|h| {
        h.starts_with(&format!("{}/rest/oauth2/latest/authorize?", w.jira.base))
            && h.contains("code_challenge_method=S256")
    }));

    let me = w.me(ALICE_KEY).await;
    assert_eq!(me["status"], "linked");
    assert!(me.get("signInUrl").is_none());
    assert_eq!(me["microsoft"]["userId"], ALICE_OID);
    assert_eq!(me["microsoft"]["tenantId"], fakes::entra::TENANT_ID);

    // tokens are stored encrypted: neither access token appears in clear in the database
    let mut conn = w.conn();
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        kind: String,
        #[diesel(sql_type = diesel::sql_types::Bytea)]
        token: Vec<u8>,
    }
    let rows: Vec<Row> = diesel::sql_query("SELECT kind, token FROM access_token ORDER BY kind")
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
        ["jira_user", "microsoft_user"]
    );
    let issued: Vec<String> = w.entra.tokens.lock().unwrap().keys().cloned().collect();
    for r in &rows {
        assert!(r.token.starts_with(b"JTB1"));
        for t in &issued {
            assert!(!String::from_utf8_lossy(&r.token).contains(t.as_str()));
        }
    }
    // the pending tokens of the flow are gone
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let pending: N =
        diesel::sql_query("SELECT count(*) AS n FROM sign_in_flow WHERE ms_token IS NOT NULL")
            .get_result(&mut conn)
            .unwrap();
    assert_eq!(pending.n, 0);
    // the sign-in link was spent: opening it again does not start another sign-in
    let (again, _) = follow(&browser(), url).await;
    assert_eq!(again.status(), 409);
    assert!(again.text().await.unwrap().contains("already used"));
    // once expired, flows are purged when the next sign-in starts
    diesel::sql_query("UPDATE sign_in_flow SET expires_at = now() - interval '1 second'")
        .execute(&mut conn)
        .unwrap();
    let next = w.me(ALICE_KEY).await;
    assert!(next.get("signInUrl").is_none(), "linked users get no link");
    let url = w.me(BOB_KEY).await["signInUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    browser().get(&url).send().await.unwrap();
    let left: N =
        diesel::sql_query("SELECT count(*) AS n FROM sign_in_flow WHERE expires_at < now()")
            .get_result(&mut conn)
            .unwrap();
    assert_eq!(left.n, 0);
}

#[actix_web::test]
async fn a_forwarded_link_cannot_tie_someone_elses_jira_account() {
    let w = world().await;
    // Alice's link, opened by Bob: Bob signs in to Microsoft and to Jira as himself
    let url = w.me(ALICE_KEY).await["signInUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    w.entra.sign_in_as(BOB_OID);
    w.jira.sign_in_as(BOB_KEY);
    let (res, _) = follow(&browser(), &url).await;
    assert_eq!(res.status(), 403);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("made for another Jira user") && page.contains("Nothing was linked"),
        "{page}"
    );
    assert_eq!(w.me(ALICE_KEY).await["status"], "unlinked");
    assert_eq!(w.me(BOB_KEY).await["status"], "unlinked");
    let mut conn = w.conn();
    assert_eq!(
        audit_count(&mut conn, "access_token"),
        0,
        "no user token was ever stored"
    );
}

#[actix_web::test]
async fn a_callback_in_another_browser_or_with_a_replayed_or_forged_state_is_refused() {
    let w = world().await;
    let url = w.me(ALICE_KEY).await["signInUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    w.entra.sign_in_as(ALICE_OID);
    let mine = browser();
    let res = mine.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let authorize = location(&res);
    let res = mine.get(&authorize).send().await.unwrap();
    let callback = location(&res);
    assert!(callback.contains("/auth/microsoft/callback?code="));

    // a forged state is unknown
    let forged = format!(
        "{}/auth/microsoft/callback?code=x&state=forged",
        w.app.state.internal_url
    );
    let res = mine.get(&forged).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("unknown, expired or was already used")
    );

    // the genuine answer opened in another browser is refused, and the flow is spent
    let res = browser().get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("started in another browser")
    );
    let res = mine.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 400, "the state works once, whoever used it");
    assert_eq!(w.me(ALICE_KEY).await["status"], "unlinked");
}

#[actix_web::test]
async fn a_tampered_sign_in_link_or_a_cancelled_sign_in_links_nothing() {
    let w = world().await;
    let url = w.me(ALICE_KEY).await["signInUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let tampered = url.replace("t=", "t=x");
    let res = browser().get(&tampered).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("damaged"));
    let res = browser()
        .get(format!("{}/auth/start", w.app.state.internal_url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    *w.entra.authorize_error.lock().unwrap() = Some("access_denied".into());
    w.entra.sign_in_as(ALICE_OID);
    let (res, _) = follow(&browser(), &url).await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("refused or cancelled (access_denied)"),
        "{page}"
    );
    assert!(
        !page.contains("AADSTS"),
        "provider descriptions are not echoed"
    );
    assert_eq!(w.me(ALICE_KEY).await["status"], "unlinked");
}

#[actix_web::test]
async fn id_tokens_with_a_foreign_key_another_nonce_or_audience_are_refused() {
    let w = world().await;
    let url = w.me(ALICE_KEY).await["signInUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    w.entra.sign_in_as(ALICE_OID);
    let b = browser();
    let res = b.get(&url).send().await.unwrap();
    let res = b.get(location(&res)).send().await.unwrap();
    let callback = location(&res);
    // tokens the fake mints on request, checked by the same validator the callback uses
    let forged = w.entra.mint_id_token_with_foreign_key(json!({
        "iss": w.entra.issuer(), "aud": fakes::entra::CLIENT_ID, "tid": fakes::entra::TENANT_ID,
        "oid": ALICE_OID, "nonce": "whatever", "exp": chrono::Utc::now().timestamp() + 600,
    }));
    let clients = jira_teams_bridge::services::connections::microsoft(
        &w.app.state,
        &jira_teams_bridge::db::models::audit::Actor::System("test".into()),
    )
    .await
    .unwrap();
    let err = clients
        .signin
        .validate_id_token(Some(&forged), "whatever")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a valid RS256 token"), "{err}");
    let genuine = w.entra.mint_id_token(json!({
        "iss": w.entra.issuer(), "aud": fakes::entra::CLIENT_ID, "tid": fakes::entra::TENANT_ID,
        "oid": ALICE_OID, "nonce": "other", "exp": chrono::Utc::now().timestamp() + 600,
    }));
    let err = clients
        .signin
        .validate_id_token(Some(&genuine), "whatever")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nonce"), "{err}");
    let wrong_aud = w.entra.mint_id_token(json!({
        "iss": w.entra.issuer(), "aud": "someone-else", "tid": fakes::entra::TENANT_ID,
        "oid": ALICE_OID, "nonce": "whatever", "exp": chrono::Utc::now().timestamp() + 600,
    }));
    assert!(
        clients
            .signin
            .validate_id_token(Some(&wrong_aud), "whatever")
            .await
            .is_err()
    );
    // the real flow still completes
    let res = b.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 303);
}

#[actix_web::test]
async fn a_wrong_pkce_verifier_is_refused_by_entra_and_the_sign_in_stops() {
    let w = world().await;
    let url = w.me(ALICE_KEY).await["signInUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    w.entra.sign_in_as(ALICE_OID);
    let b = browser();
    let res = b.get(&url).send().await.unwrap();
    let res = b.get(location(&res)).send().await.unwrap();
    let callback = location(&res);
    // change the stored verifier, as an attacker who swapped codes would present the wrong one
    let mut conn = w.conn();
    diesel::sql_query("UPDATE sign_in_flow SET pkce_verifier = repeat('A', 64)")
        .execute(&mut conn)
        .unwrap();
    let res = b.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 502);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("AADSTS501481") || page.contains("501481"),
        "{page}"
    );
    assert_eq!(w.me(ALICE_KEY).await["status"], "unlinked");
}

#[actix_web::test]
async fn one_microsoft_account_cannot_be_linked_to_two_jira_users() {
    let w = world().await;
    assert_eq!(w.link(ALICE_KEY, ALICE_OID).await.0, 200);
    let (status, page) = w.link(BOB_KEY, ALICE_OID).await;
    assert_eq!(status, 409);
    assert!(page.contains("already linked to another Jira user"));
    assert_eq!(w.me(BOB_KEY).await["status"], "unlinked");
}

#[actix_web::test]
async fn the_admin_sees_linked_users_and_can_unlink_them() {
    let w = world().await;
    w.link(ALICE_KEY, ALICE_OID).await;
    let html = w.app.get("/admin/users").await.text().await.unwrap();
    assert!(
        html.contains("alice@contoso.example")
            && html.contains(ALICE_KEY)
            && html.contains("linked")
    );
    let id: Uuid = {
        let mut conn = w.conn();
        jira_teams_bridge::db::schema::user_mapping::table
            .select(jira_teams_bridge::db::schema::user_mapping::id)
            .first(&mut conn)
            .unwrap()
    };
    let res = w
        .app
        .post_form(&format!("/admin/users/{id}/unlink"), &[])
        .await;
    assert_eq!(res.status(), 303);
    let html = w
        .app
        .get("/admin/users?notice=unlinked")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("tokens erased") && !html.contains("alice@contoso.example"));
    assert_eq!(w.me(ALICE_KEY).await["status"], "unlinked");
    let mut conn = w.conn();
    let n: i64 = jira_teams_bridge::db::schema::access_token::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(n, 0);
    // without a CSRF token the unlink form is refused
    let res = w
        .app
        .post_raw(&format!("/admin/users/{id}/unlink"), &[])
        .await;
    assert_eq!(res.status(), 403);
}

/// Alice's link.
fn alice_mapping(w: &World) -> jira_teams_bridge::db::models::user_mapping::UserMapping {
    let mut conn = w.conn();
    jira_teams_bridge::db::models::user_mapping::UserMapping::find(
        &mut conn,
        w.instance_id,
        ALICE_KEY,
    )
    .unwrap()
    .unwrap()
}

/// Alice's Microsoft token as the relay would get it (refreshed when due).
async fn alice_microsoft_token(
    w: &World,
) -> Result<secrecy::SecretString, jira_teams_bridge::error::AppError> {
    let actor = jira_teams_bridge::db::models::audit::Actor::System("test".into());
    jira_teams_bridge::services::tokens::microsoft_token(
        &w.app.state,
        &alice_mapping(w),
        &actor,
        "test",
        false,
    )
    .await
}

#[actix_web::test]
async fn concurrent_callers_refresh_a_users_token_once_and_keep_the_rotated_refresh_token() {
    let w = world().await;
    w.link(ALICE_KEY, ALICE_OID).await;
    expire_microsoft_token(&w);
    w.entra.token_delay_ms.store(300, Ordering::SeqCst);
    let before = w.entra.refresh_calls.load(Ordering::SeqCst);
    let mapping = alice_mapping(&w);
    let actor = jira_teams_bridge::db::models::audit::Actor::System("test".into());
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let (state, mapping, actor) = (w.app.state.clone(), mapping.clone(), actor.clone());
            actix_web::rt::spawn(async move {
                jira_teams_bridge::services::tokens::microsoft_token(
                    &state, &mapping, &actor, "test", false,
                )
                .await
                .map(|t| secrecy::ExposeSecret::expose_secret(&t).to_owned())
                .map_err(|e| e.to_string())
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for c in calls {
        tokens.push(c.await.unwrap().unwrap());
    }
    assert_eq!(
        w.entra.refresh_calls.load(Ordering::SeqCst) - before,
        1,
        "one refresh for eight callers"
    );
    assert!(
        tokens.iter().all(|t| t == &tokens[0]),
        "everyone got the new token"
    );
    // no refresh token was ever presented twice
    assert!(w.entra.rt_uses.lock().unwrap().values().all(|n| *n == 1));
    // the next refresh presents the rotated refresh token, not the first one
    expire_microsoft_token(&w);
    alice_microsoft_token(&w).await.unwrap();
    let uses = w.entra.rt_uses.lock().unwrap().clone();
    assert_eq!(uses.len(), 2, "two different refresh tokens used: {uses:?}");
    assert!(uses.values().all(|n| *n == 1));
}

#[actix_web::test]
async fn a_withdrawn_consent_marks_the_link_for_a_new_sign_in_and_me_offers_one() {
    let w = world().await;
    w.link(ALICE_KEY, ALICE_OID).await;
    expire_microsoft_token(&w);
    *w.entra.refresh_error.lock().unwrap() = Some((400, "invalid_grant".into(), 65001));
    let err = alice_microsoft_token(&w).await.unwrap_err();
    assert!(err.to_string().contains("sign in again"), "{err}");
    let me = w.me(ALICE_KEY).await;
    assert_eq!(me["status"], "needs_reauth");
    assert!(me["statusDetail"].as_str().unwrap().contains("65001"));
    assert!(me["signInUrl"].as_str().unwrap().contains("/auth/start?t="));
    // signing in again restores the link
    *w.entra.refresh_error.lock().unwrap() = None;
    assert_eq!(w.link(ALICE_KEY, ALICE_OID).await.0, 200);
    assert_eq!(w.me(ALICE_KEY).await["status"], "linked");
}

#[actix_web::test]
async fn an_expired_client_secret_is_a_configuration_problem_not_a_user_one() {
    let w = world().await;
    w.link(ALICE_KEY, ALICE_OID).await;
    expire_microsoft_token(&w);
    *w.entra.refresh_error.lock().unwrap() = Some((401, "invalid_client".into(), 7000222));
    let err = alice_microsoft_token(&w).await.unwrap_err();
    assert!(err.to_string().contains("app registration"), "{err}");
    assert_eq!(
        w.me(ALICE_KEY).await["status"],
        "linked",
        "the user need not sign in again"
    );
    // and the lease is released: once the secret is fixed, the refresh works
    *w.entra.refresh_error.lock().unwrap() = None;
    alice_microsoft_token(&w).await.unwrap();
}
