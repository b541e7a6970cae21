//! The session of a Jira user signed in with Jira: sign-out, idle and absolute expiry, Jira
//! revoking the appliance's access, the audited reads of its token, and several instances side
//! by side (a session and a cookie per instance).

use diesel::prelude::*;

use crate::support::app::location;
use crate::support::jira_user::{
    browser_with_jar, cookie_names, csrf_of, open_as, post_form, second_instance, sessions_of,
    signed_in, sql,
};
use crate::support::world::{ALICE_KEY, BOB_KEY, World, world};

fn me_path(w: &World) -> String {
    format!("/jira/{}/me", w.jira_app.public_id)
}

/// Where the account page sends this browser: `None` when it shows the page.
async fn sent_to(w: &World, b: &reqwest::Client, path: &str) -> Option<String> {
    let res = b.get(w.app.url(path)).send().await.unwrap();
    match res.status().as_u16() {
        200 => None,
        303 => Some(location(&res)),
        s => panic!("{path}: HTTP {s}"),
    }
}

fn asks_to_sign_in(to: Option<String>, w: &World) {
    let to = to.expect("a redirect to sign in");
    assert!(
        to.starts_with(&format!(
            "/auth/jira/signin?i={}&next=",
            w.jira_app.public_id
        )),
        "{to}"
    );
}

#[actix_web::test]
async fn signing_out_ends_the_session_removes_the_cookie_and_the_next_page_asks_to_sign_in() {
    let w = world().await;
    let b = signed_in(&w, ALICE_KEY).await;
    let csrf = csrf_of(&w, &b, &me_path(&w)).await;
    let res = post_form(
        &w,
        &b,
        &format!("/jira/{}/signout", w.jira_app.public_id),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 200);
    let removal = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("jtb_jira_{}=", w.jira_app.public_id)))
        .expect("the session cookie is removed")
        .to_owned();
    assert!(removal.contains("Max-Age=0"), "{removal}");
    let text = res.text().await.unwrap();
    assert!(
        text.contains("You are signed out of the appliance"),
        "{text}"
    );
    assert!(text.contains("Signing out does not change the link"));
    assert_eq!(sessions_of(&w, w.instance_id, ALICE_KEY), 0);
    asks_to_sign_in(sent_to(&w, &b, &me_path(&w)).await, &w);
}

#[actix_web::test]
async fn signing_out_after_the_session_expired_still_signs_you_out() {
    let w = world().await;
    let b = signed_in(&w, ALICE_KEY).await;
    let csrf = csrf_of(&w, &b, &me_path(&w)).await;
    sql(
        &w,
        "UPDATE jira_user_session SET expires_at = now() - interval '1 minute'",
    );
    let res = post_form(
        &w,
        &b,
        &format!("/jira/{}/signout", w.jira_app.public_id),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 200, "no detour through Jira to sign out");
    assert!(res.text().await.unwrap().contains("You are signed out"));
}

#[actix_web::test]
async fn a_session_left_idle_longer_than_the_idle_limit_asks_to_sign_in_again() {
    let w = world().await;
    let b = signed_in(&w, ALICE_KEY).await;
    // default jira.user_session_idle_mins = 120: a minute short is still signed in
    sql(
        &w,
        "UPDATE jira_user_session SET last_seen_at = now() - interval '119 minutes'",
    );
    assert_eq!(sent_to(&w, &b, &me_path(&w)).await, None);
    sql(
        &w,
        "UPDATE jira_user_session SET last_seen_at = now() - interval '121 minutes'",
    );
    asks_to_sign_in(sent_to(&w, &b, &me_path(&w)).await, &w);
    assert_eq!(
        sessions_of(&w, w.instance_id, ALICE_KEY),
        0,
        "the ended session is deleted, its Jira token with it"
    );
}

#[actix_web::test]
async fn a_session_past_its_absolute_end_asks_to_sign_in_again_however_active() {
    let w = world().await;
    let b = signed_in(&w, ALICE_KEY).await;
    let hours: f64 = {
        #[derive(QueryableByName)]
        struct H {
            #[diesel(sql_type = diesel::sql_types::Double)]
            h: f64,
        }
        diesel::sql_query(
            "SELECT extract(epoch FROM expires_at - created_at)::float8 / 3600 AS h FROM jira_user_session",
        )
        .get_result::<H>(&mut w.conn())
        .unwrap()
        .h
    };
    assert!(
        (hours - 12.0).abs() < 0.01,
        "jira.user_session_absolute_hours = 12: {hours}"
    );
    // just seen, but past its end
    sql(
        &w,
        "UPDATE jira_user_session SET last_seen_at = now(), expires_at = now() - interval '1 second'",
    );
    asks_to_sign_in(sent_to(&w, &b, &me_path(&w)).await, &w);
    assert_eq!(sessions_of(&w, w.instance_id, ALICE_KEY), 0);
}

#[actix_web::test]
async fn the_configured_idle_limit_is_the_one_that_counts() {
    let w = crate::support::world::world_with(|s| s.jira.user_session_idle_mins = 5).await;
    let b = signed_in(&w, ALICE_KEY).await;
    sql(
        &w,
        "UPDATE jira_user_session SET last_seen_at = now() - interval '6 minutes'",
    );
    asks_to_sign_in(sent_to(&w, &b, &me_path(&w)).await, &w);
}

#[actix_web::test]
async fn consent_revoked_in_jira_ends_the_session_with_a_page_that_says_to_sign_in_again() {
    let w = world().await;
    let b = signed_in(&w, ALICE_KEY).await;
    w.jira.revoke_user(ALICE_KEY);
    let res = b.get(w.app.url(&me_path(&w))).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let removal = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|c| c.starts_with(&format!("jtb_jira_{}=;", w.jira_app.public_id)));
    assert!(removal, "the cookie is removed");
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Jira no longer accepts your sign-in to the appliance"),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "href=\"/auth/jira/signin?i={}&#38;next=%2Fjira%2F{}%2Fme\"",
            w.jira_app.public_id, w.jira_app.public_id
        )),
        "{html}"
    );
    assert_eq!(sessions_of(&w, w.instance_id, ALICE_KEY), 0);
    // signing in again works and shows the page
    let (res, seen) = open_as(&w, &b, &w.jira, ALICE_KEY, &me_path(&w)).await;
    assert_eq!(res.status(), 200, "{seen:?}");
}

#[actix_web::test]
async fn the_account_page_reads_the_session_token_through_the_audited_store() {
    use jira_teams_bridge::db::schema::secret_access_audit as a;
    let w = world().await;
    let _b = signed_in(&w, ALICE_KEY).await;
    let rows: Vec<(String, String, String, String)> = a::table
        .filter(a::secret_kind.eq("jira_session_access_token"))
        .select((a::actor_kind, a::actor, a::purpose, a::outcome))
        .load(&mut w.conn())
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (kind, actor, purpose, outcome) = &rows[0];
    assert_eq!(kind, "api");
    assert_eq!(actor, &format!("{}:{ALICE_KEY}", w.jira_app.public_id));
    assert_eq!(purpose, "show the Jira user their account");
    assert_eq!(outcome, "ok");
    // Jira was asked with that token, as Alice
    assert!(
        w.jira
            .requests
            .lock()
            .unwrap()
            .iter()
            .any(|(_, _, p)| p.ends_with("/rest/api/2/myself"))
    );
}

#[actix_web::test]
async fn sessions_are_per_instance_each_with_its_own_cookie_and_signing_out_of_one_keeps_the_other()
{
    let w = world().await;
    let other = second_instance(&w).await;
    let (b, jar) = browser_with_jar();
    let (a_me, b_me) = (me_path(&w), format!("/jira/{}/me", other.public_id));

    let (res, _) = open_as(&w, &b, &w.jira, ALICE_KEY, &a_me).await;
    assert_eq!(res.status(), 200);
    // signed in on A is not signed in on B: B asks its own Jira
    let res = b.get(w.app.url(&b_me)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with(&format!("/auth/jira/signin?i={}&", other.public_id)));
    let (res, seen) = open_as(&w, &b, &other.jira, BOB_KEY, &b_me).await;
    assert_eq!(res.status(), 200);
    assert!(
        seen.iter().any(|u| u.starts_with(&other.jira.base)),
        "B's sign-in went to B's Jira: {seen:?}"
    );
    assert!(res.text().await.unwrap().contains("bob (second Jira)"));

    let names = cookie_names(&w, &jar);
    for pid in [&w.jira_app.public_id, &other.public_id] {
        assert!(names.contains(&format!("jtb_jira_{pid}")), "{names:?}");
    }
    assert_eq!(sessions_of(&w, w.instance_id, ALICE_KEY), 1);
    assert_eq!(sessions_of(&w, other.id, BOB_KEY), 1);
    assert_eq!(
        sessions_of(&w, other.id, ALICE_KEY),
        0,
        "no session on B for A's user"
    );

    // A's cookie does not open B's pages even under B's cookie name
    let a_token = jar_value(&w, &jar, &format!("jtb_jira_{}", w.jira_app.public_id));
    let stranger = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = stranger
        .get(w.app.url(&b_me))
        .header("cookie", format!("jtb_jira_{}={a_token}", other.public_id))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "a session of A is no session of B");

    // signing out of A keeps B
    let csrf = csrf_of(&w, &b, &a_me).await;
    let res = post_form(
        &w,
        &b,
        &format!("/jira/{}/signout", w.jira_app.public_id),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(sent_to(&w, &b, &b_me).await, None, "still signed in on B");
    asks_to_sign_in(sent_to(&w, &b, &a_me).await, &w);
    assert_eq!(sessions_of(&w, other.id, BOB_KEY), 1);
}

fn jar_value(w: &World, jar: &reqwest::cookie::Jar, name: &str) -> String {
    use reqwest::cookie::CookieStore;
    let url: reqwest::Url = w.app.base.parse().unwrap();
    let header = jar.cookies(&url).unwrap();
    header
        .to_str()
        .unwrap()
        .split("; ")
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_owned))
        .unwrap()
}
