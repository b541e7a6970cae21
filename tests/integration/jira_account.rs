//! The account page of a Jira user signed in with Jira (`/jira/{public_id}/me`, JIRA-SURFACE.md
//! "Sign-in for Jira users"): who they are in Jira, their Microsoft link, *Link Microsoft
//! account* (the existing linking flow, started from the page) and *Unlink* (what
//! `DELETE /api/v1/me` does), each with a notice; and CSRF on every one of its forms.

use diesel::prelude::*;

use crate::support::app::location;
use crate::support::jira_user::{continue_url, csrf_of, post_form, sessions_of, signed_in, sql};
use crate::support::world::{
    ALICE_KEY, ALICE_OID, BOB_KEY, follow, link_alice_and_bob, linked_world, world,
};

fn me_path(w: &crate::support::world::World) -> String {
    format!("/jira/{}/me", w.jira_app.public_id)
}

async fn page(w: &crate::support::world::World, b: &reqwest::Client, path: &str) -> String {
    let res = b.get(w.app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.unwrap()
}

fn tokens_of(w: &crate::support::world::World, key: &str) -> i64 {
    use jira_teams_bridge::db::schema::{access_token as t, user_mapping as m};
    t::table
        .inner_join(m::table)
        .filter(m::jira_user_key.eq(key))
        .count()
        .get_result(&mut w.conn())
        .unwrap()
}

#[actix_web::test]
async fn the_account_page_shows_who_you_are_in_jira_and_that_no_microsoft_account_is_linked() {
    let w = world().await;
    let b = signed_in(&w, ALICE_KEY).await;
    let html = page(&w, &b, &me_path(&w)).await;
    assert!(html.contains("alice (Jira)"), "Jira display name: {html}");
    assert!(html.contains(ALICE_KEY), "user key");
    assert!(html.contains(&w.jira.base), "Jira base URL");
    assert!(html.contains("Not linked."), "{html}");
    assert!(html.contains(&format!(
        "action=\"/jira/{}/me/link-microsoft\"",
        w.jira_app.public_id
    )));
    assert!(html.contains(">Link Microsoft account</button>"));
    assert!(!html.contains("/me/unlink"), "nothing to unlink");
    // the header names the user and offers to sign out
    assert!(html.contains(&format!(
        "action=\"/jira/{}/signout\"",
        w.jira_app.public_id
    )));
}

#[actix_web::test]
async fn link_microsoft_account_runs_the_linking_flow_for_the_signed_in_user_and_the_page_then_shows_the_link()
 {
    let w = world().await;
    w.jira.add_issue(
        crate::support::world::ISSUE,
        "ABC-1",
        "Printer on fire",
        &[],
    );
    let b = signed_in(&w, ALICE_KEY).await;
    let csrf = csrf_of(&w, &b, &me_path(&w)).await;
    let res = post_form(
        &w,
        &b,
        &format!("{}/link-microsoft", me_path(&w)),
        &[("csrf", &csrf)],
    )
    .await;
    let to = continue_url(res).await;
    assert!(to.starts_with(&w.entra.base), "to Microsoft first: {to}");
    w.entra.sign_in_as(ALICE_OID);
    w.jira.sign_in_as(ALICE_KEY);
    let (done, seen) = follow(&b, &to).await;
    assert_eq!(done.status(), 200, "{seen:?}");
    let text = done.text().await.unwrap();
    assert!(
        text.contains("Your Jira and Microsoft accounts are linked."),
        "{text}"
    );

    let html = page(&w, &b, &me_path(&w)).await;
    assert!(
        html.contains("Linked to <strong>alice@contoso.example</strong> since"),
        "{html}"
    );
    assert!(html.contains(">Unlink</button>"));
    // the same link the Jira app sees
    assert_eq!(w.me(ALICE_KEY).await["status"], "linked");
    assert_eq!(
        tokens_of(&w, ALICE_KEY),
        2,
        "Microsoft and Jira tokens stored"
    );
}

#[actix_web::test]
async fn link_microsoft_account_links_nothing_when_another_jira_user_signs_in_at_the_jira_step() {
    let w = world().await;
    let b = signed_in(&w, ALICE_KEY).await;
    let csrf = csrf_of(&w, &b, &me_path(&w)).await;
    let res = post_form(
        &w,
        &b,
        &format!("{}/link-microsoft", me_path(&w)),
        &[("csrf", &csrf)],
    )
    .await;
    w.entra.sign_in_as(ALICE_OID);
    // someone else is logged in to Jira in this browser by the time the Jira step runs
    w.jira.sign_in_as(BOB_KEY);
    let (done, _) = follow(&b, &continue_url(res).await).await;
    assert_eq!(done.status(), 403);
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("this sign-in link was made for another Jira user. Nothing was linked.")
    );
    assert_eq!(w.me(ALICE_KEY).await["status"], "unlinked");
    assert_eq!(w.me(BOB_KEY).await["status"], "unlinked");
}

#[actix_web::test]
async fn unlink_on_the_account_page_does_what_the_api_does_and_says_so() {
    let w = linked_world().await;
    let b = signed_in(&w, ALICE_KEY).await;
    assert_eq!(tokens_of(&w, ALICE_KEY), 2);
    let csrf = csrf_of(&w, &b, &me_path(&w)).await;
    let res = post_form(
        &w,
        &b,
        &format!("{}/unlink", me_path(&w)),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), format!("{}?notice=unlinked", me_path(&w)));
    let html = page(&w, &b, &location(&res)).await;
    assert!(
        html.contains("Your Microsoft account is unlinked."),
        "{html}"
    );
    assert!(html.contains("Not linked."));
    let me = w.me(ALICE_KEY).await;
    assert_eq!(me["status"], "unlinked");
    assert!(
        me["signInUrl"].is_string(),
        "the Jira app may offer linking again"
    );
    assert_eq!(tokens_of(&w, ALICE_KEY), 0, "her tokens are erased");
    assert_eq!(w.me(BOB_KEY).await["status"], "linked", "Bob keeps his");
    assert_eq!(
        sessions_of(&w, w.instance_id, ALICE_KEY),
        1,
        "she stays signed in with Jira"
    );

    // once more: nothing to unlink, and the page says that instead
    let res = post_form(
        &w,
        &b,
        &format!("{}/unlink", me_path(&w)),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(location(&res), format!("{}?notice=not_linked", me_path(&w)));
    let html = page(&w, &b, &location(&res)).await;
    assert!(html.contains("There was no Microsoft account to unlink."));
}

#[actix_web::test]
async fn a_link_that_needs_a_new_microsoft_sign_in_says_why_and_offers_to_link_again() {
    let w = world().await;
    link_alice_and_bob(&w).await;
    sql(
        &w,
        &format!(
            "UPDATE user_mapping SET status = 'needs_reauth', \
             status_detail = 'Microsoft refused the refresh token (AADSTS70043)' \
             WHERE jira_user_key = '{ALICE_KEY}'"
        ),
    );
    let b = signed_in(&w, ALICE_KEY).await;
    let html = page(&w, &b, &me_path(&w)).await;
    assert!(
        html.contains("it needs you to sign in with Microsoft again: Microsoft refused the refresh token (AADSTS70043)"),
        "{html}"
    );
    assert!(html.contains(">Link Microsoft account</button>"));
    assert!(html.contains(">Unlink</button>"));
}

#[actix_web::test]
async fn notices_come_from_a_fixed_list_and_never_from_the_url() {
    let w = world().await;
    let b = signed_in(&w, ALICE_KEY).await;
    for notice in [
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "Your%20account%20was%20hacked",
    ] {
        let html = page(&w, &b, &format!("{}?notice={notice}", me_path(&w))).await;
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("hacked"));
        assert!(!html.contains("class=\"notice\""), "no notice at all");
    }
}

#[actix_web::test]
async fn every_form_of_the_account_page_is_refused_without_its_csrf_token_or_from_another_site() {
    let w = linked_world().await;
    let b = signed_in(&w, ALICE_KEY).await;
    let csrf = csrf_of(&w, &b, &me_path(&w)).await;
    let pid = &w.jira_app.public_id;
    for path in [
        format!("/jira/{pid}/me/unlink"),
        format!("/jira/{pid}/me/link-microsoft"),
        format!("/jira/{pid}/signout"),
    ] {
        let res = post_form(&w, &b, &path, &[]).await;
        assert_eq!(res.status(), 403, "{path} without a token");
        let res = post_form(&w, &b, &path, &[("csrf", "not-the-token")]).await;
        assert_eq!(res.status(), 403, "{path} with a wrong token");
        let res = b
            .post(w.app.url(&path))
            .header("origin", "https://evil.example")
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path} from another site");
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("This form has expired or was sent from another site.")
        );
    }
    // nothing happened: still linked, still signed in
    assert_eq!(w.me(ALICE_KEY).await["status"], "linked");
    assert_eq!(sessions_of(&w, w.instance_id, ALICE_KEY), 1);
    let html = page(&w, &b, &me_path(&w)).await;
    assert!(html.contains("Linked to"));
}

#[actix_web::test]
async fn a_form_sent_after_the_session_ended_signs_in_again_and_returns_to_the_account_page() {
    let w = linked_world().await;
    let b = signed_in(&w, ALICE_KEY).await;
    let csrf = csrf_of(&w, &b, &me_path(&w)).await;
    sql(&w, "DELETE FROM jira_user_session");
    let res = post_form(
        &w,
        &b,
        &format!("{}/unlink", me_path(&w)),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 303);
    let to = location(&res);
    assert!(to.starts_with("/auth/jira/signin?"), "{to}");
    assert!(
        to.ends_with(&format!("next=%2Fjira%2F{}%2Fme", w.jira_app.public_id)),
        "back to the page, not to the form's address: {to}"
    );
    assert_eq!(
        w.me(ALICE_KEY).await["status"],
        "linked",
        "the form did nothing"
    );
}

#[actix_web::test]
async fn the_account_page_still_shows_when_jira_cannot_be_asked_and_says_so() {
    let w = world().await;
    let b = signed_in(&w, ALICE_KEY).await;
    w.jira.throttle_next(10, 0);
    let html = page(&w, &b, &me_path(&w)).await;
    assert!(
        html.contains("Jira could not confirm your sign-in just now"),
        "{html}"
    );
    assert!(html.contains("HTTP 429"), "{html}");
    assert!(html.contains("alice (Jira)"), "what she signed in with");
    assert!(html.contains("Not linked."));
    assert_eq!(
        sessions_of(&w, w.instance_id, ALICE_KEY),
        1,
        "a busy Jira ends no session"
    );
}
