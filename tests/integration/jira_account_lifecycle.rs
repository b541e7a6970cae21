//! What the appliance keeps about Jira users signed in on its pages, through the data lifecycle:
//! the admin's data inventory (metadata, never a token), `export --user`, erase of a user and of
//! an instance, pruning of ended sessions; and `doctor`'s check of the OAuth incoming link that
//! signing in runs on.

use diesel::prelude::*;
use jira_teams_bridge::db::models::audit::Actor;
use jira_teams_bridge::db::models::secret::{self, JIRA_SESSION_TOKEN, ReadContext};
use secrecy::ExposeSecret;
use serde_json::Value;
use uuid::Uuid;

use crate::support::cli::{check, cli_env, doctor, run_cli};
use crate::support::db::scalar;
use crate::support::jira_user::{
    browser_with_jar, open_as, second_instance, sessions_of, signed_in, sql,
};
use crate::support::world::{ALICE_KEY, BOB_KEY, World, browser, world};

/// The plaintext Jira access token of the user's session (read as the test, audited).
fn session_token(w: &World, key: &str) -> String {
    use jira_teams_bridge::db::schema::jira_user_session as s;
    let mut conn = w.conn();
    let id: Uuid = s::table
        .filter(s::jira_user_key.eq(key))
        .select(s::id)
        .first(&mut conn)
        .unwrap();
    let ctx = ReadContext {
        actor: &Actor::System("test".into()),
        purpose: "test",
        label: key,
    };
    secret::read(&mut conn, &w.app.state.vault, JIRA_SESSION_TOKEN, id, &ctx)
        .unwrap()
        .expose_secret()
        .to_owned()
}

fn cookie_value(w: &World, jar: &reqwest::cookie::Jar) -> String {
    use reqwest::cookie::CookieStore;
    let url: reqwest::Url = w.app.base.parse().unwrap();
    let name = format!("jtb_jira_{}=", w.jira_app.public_id);
    jar.cookies(&url)
        .unwrap()
        .to_str()
        .unwrap()
        .split("; ")
        .find_map(|kv| kv.strip_prefix(&name).map(str::to_owned))
        .unwrap()
}

fn export(w: &World, user: &str) -> (i32, Value, String) {
    let (code, out, err) = run_cli(&["export", "--user", user], &cli_env(&w.app));
    (
        code,
        serde_json::from_str(&out).unwrap_or(Value::Null),
        format!("{out}{err}"),
    )
}

#[actix_web::test]
async fn the_data_inventory_lists_jira_user_sessions_and_sign_ins_in_progress_without_tokens() {
    let w = world().await;
    let pid = w.jira_app.public_id.clone();
    let (b, jar) = browser_with_jar();
    let (res, _) = open_as(&w, &b, &w.jira, ALICE_KEY, &format!("/jira/{pid}/me")).await;
    assert_eq!(res.status(), 200);
    // Bob has started to sign in from an issue's link and not come back from Jira yet
    let res = browser()
        .get(w.app.url(&format!(
            "/auth/jira/signin?i={pid}&next=%2Fjira%2F{pid}%2Fissues%2F10045"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let secrets = [session_token(&w, ALICE_KEY), cookie_value(&w, &jar)];

    let res = w.app.get("/admin/data/jira_user_session").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    for needle in [
        ALICE_KEY,
        "alice (Jira)",
        w.jira.base.as_str(),
        "Last seen",
        "Ends",
    ] {
        assert!(
            html.contains(needle),
            "sessions page lacks {needle}: {html}"
        );
    }
    let res = w.app.get("/admin/data/sign_in_return").await;
    assert_eq!(res.status(), 200);
    let returns = res.text().await.unwrap();
    assert!(
        returns.contains(&format!("/jira/{pid}/issues/10045")),
        "{returns}"
    );
    for page in [&html, &returns] {
        for s in &secrets {
            assert!(!page.contains(s.as_str()), "a token on the inventory page");
        }
    }
    let index = w.app.get("/admin/data").await.text().await.unwrap();
    assert!(index.contains("Jira user sessions"));
    assert!(index.contains("Sign-ins with Jira in progress"));
    let dash = w.app.get("/admin").await.text().await.unwrap();
    assert!(
        dash.contains("<a href=\"/admin/data/jira_user_session\">Jira user sessions</a></td><td class=\"num\">1</td>"),
        "session count on the dashboard"
    );
}

#[actix_web::test]
async fn a_user_export_holds_their_sessions_without_the_token_values() {
    let w = world().await;
    let (b, jar) = browser_with_jar();
    let pid = w.jira_app.public_id.clone();
    let (res, _) = open_as(&w, &b, &w.jira, ALICE_KEY, &format!("/jira/{pid}/me")).await;
    assert_eq!(res.status(), 200);
    let _bob = signed_in(&w, BOB_KEY).await;
    let secrets = [session_token(&w, ALICE_KEY), cookie_value(&w, &jar)];

    // Alice never linked Microsoft: her sessions are all the appliance keeps about her
    let (code, export, raw) = export(&w, &format!("{pid}:{ALICE_KEY}"));
    assert_eq!(code, 0, "{raw}");
    let sessions = export["tables"]["jira_user_session"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "only hers");
    let s = &sessions[0];
    assert_eq!(s["jira_user_key"], ALICE_KEY);
    assert_eq!(s["jira_user_name"], "alice (Jira)");
    assert_eq!(s["access_token"], "<encrypted, 1 value>");
    assert_eq!(s["refresh_token"], "<encrypted, 1 value>");
    assert_eq!(s["token_hash"], "<hash>");
    assert!(s["last_seen_at"].is_string() && s["expires_at"].is_string());
    assert!(
        export["notes"]["jira_user_session"]
            .as_str()
            .unwrap()
            .contains("never exported")
    );
    assert!(
        !export["tables"]["secret_access_audit"]
            .as_array()
            .unwrap()
            .is_empty(),
        "the reads of her session's token are hers too"
    );
    for secret in &secrets {
        assert!(!raw.contains(secret.as_str()), "a token in the export");
    }
    assert!(!raw.contains(BOB_KEY));
}

#[actix_web::test]
async fn erasing_a_user_ends_their_sessions_and_erasing_an_instance_ends_all_of_its_sessions() {
    let w = world().await;
    let other = second_instance(&w).await;
    let pid = w.jira_app.public_id.clone();
    let alice = signed_in(&w, ALICE_KEY).await;
    let _bob = signed_in(&w, BOB_KEY).await;
    let (res, _) = open_as(
        &w,
        &alice,
        &other.jira,
        ALICE_KEY,
        &format!("/jira/{}/me", other.public_id),
    )
    .await;
    assert_eq!(res.status(), 200);

    let (code, out, err) = run_cli(
        &["erase", "--user", &format!("{pid}:{ALICE_KEY}"), "--yes"],
        &cli_env(&w.app),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("jira_user_session"), "{out}");
    assert_eq!(sessions_of(&w, w.instance_id, ALICE_KEY), 0);
    let res = alice
        .get(w.app.url(&format!("/jira/{pid}/me")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "her browser must sign in again");
    assert_eq!(
        sessions_of(&w, w.instance_id, BOB_KEY),
        1,
        "Bob is not erased"
    );
    assert_eq!(
        sessions_of(&w, other.id, ALICE_KEY),
        1,
        "her session on the other instance is another instance's data"
    );

    let (code, out, err) = run_cli(&["erase", "--instance", &pid, "--yes"], &cli_env(&w.app));
    assert_eq!(code, 0, "{out}{err}");
    let left = scalar(&mut w.conn(), "SELECT count(*) AS n FROM jira_user_session");
    assert_eq!(left, 1, "only the other instance's session is left");
    assert_eq!(sessions_of(&w, other.id, ALICE_KEY), 1);
}

#[actix_web::test]
async fn pruning_removes_ended_sessions_and_keeps_live_ones() {
    let w = world().await;
    let alice = signed_in(&w, ALICE_KEY).await;
    let _bob = signed_in(&w, BOB_KEY).await;
    let other = second_instance(&w).await;
    let (res, _) = open_as(
        &w,
        &alice,
        &other.jira,
        ALICE_KEY,
        &format!("/jira/{}/me", other.public_id),
    )
    .await;
    assert_eq!(res.status(), 200);
    // Bob left three hours ago (idle limit 120 minutes); Alice's session on the world's
    // instance passed its absolute end; her other one is live
    sql(
        &w,
        &format!(
            "UPDATE jira_user_session SET last_seen_at = now() - interval '3 hours' WHERE jira_user_key = '{BOB_KEY}'"
        ),
    );
    sql(
        &w,
        &format!(
            "UPDATE jira_user_session SET expires_at = now() - interval '1 minute' \
             WHERE jira_user_key = '{ALICE_KEY}' AND jira_instance_id = '{}'",
            w.instance_id
        ),
    );
    let (code, out, err) = run_cli(&["prune"], &cli_env(&w.app));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("; 2 ended Jira user session(s)"), "{out}");
    assert_eq!(sessions_of(&w, w.instance_id, BOB_KEY), 0);
    assert_eq!(sessions_of(&w, w.instance_id, ALICE_KEY), 0);
    assert_eq!(
        sessions_of(&w, other.id, ALICE_KEY),
        1,
        "the live one stays"
    );
    let res = alice
        .get(w.app.url(&format!("/jira/{}/me", other.public_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "and still works");
}

#[actix_web::test]
async fn doctor_checks_each_instances_oauth_incoming_link_and_its_redirect_url() {
    let w = world().await;
    let pid = w.jira_app.public_id.clone();
    let (no_oauth, _) = w.app.register_instance("https://jira.example.org").await;
    let env = vec![(
        "JTB__LISTEN__INTERNAL_URL",
        w.app.state.internal_url.clone(),
    )];
    let (_, report, stderr) = doctor(&w.app, env.clone()).await;
    let c = check(&report, &format!("jira {pid} oauth"));
    assert_eq!(c["status"], "ok", "{c} {stderr}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("{}/auth/jira/callback", w.app.state.internal_url)),
        "{c}"
    );
    let c = check(&report, &format!("jira {no_oauth} oauth"));
    assert_eq!(c["status"], "skipped", "{c}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("no OAuth 2.0 incoming link entered: Jira users cannot sign in with Jira"),
        "{c}"
    );

    // the link in Jira names another address: doctor says which one it must be
    w.jira
        .set_redirect_uri("https://old-bridge.example/auth/jira/callback");
    let (code, report, _) = doctor(&w.app, env).await;
    assert_ne!(code, 0);
    let c = check(&report, &format!("jira {pid} oauth"));
    assert_eq!(c["status"], "fail", "{c}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("the client ID or the redirect URL does not match"),
        "{c}"
    );
    assert!(
        c["fix"].as_str().unwrap().contains(&format!(
            "Redirect URL must be exactly {}/auth/jira/callback",
            w.app.state.internal_url
        )),
        "{c}"
    );
    assert!(
        !report
            .to_string()
            .contains(crate::fakes::jira::CLIENT_SECRET),
        "no secret in the report"
    );
}
