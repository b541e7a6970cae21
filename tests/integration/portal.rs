//! The JSM portal tab (`/teams/portal/{id}`): Teams tab SSO proves the user, the page acts as the
//! linked Jira user against the fake JSM (paged request types, raising requests, open requests),
//! and only these pages may be framed by Teams.

use jira_teams_bridge::db::models::jsm_portal_app::JsmPortalApp;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fakes::entra::{CLIENT_ID, TENANT_ID};
use crate::support::world::{ALICE_KEY, ALICE_OID, BOB_KEY, BOB_OID, World, browser, world};

/// A world with desks 14 (120 request types: three pages), 15 (3 types), 16 (Carol only) and 99
/// (not in the portal), a portal app over 14, 15 and 16, and Alice linked.
async fn portal_world() -> (World, Uuid) {
    let w = world().await;
    w.jira.add_desk("14", "HD", 120, None);
    w.jira.add_desk("15", "IT", 3, None);
    w.jira.add_desk("16", "HR", 2, Some(&["JIRAUSER10300"]));
    w.jira.add_desk("99", "XX", 2, None);
    let id = Uuid::new_v4();
    let mut conn = w.conn();
    JsmPortalApp::upsert(
        &mut conn,
        w.instance_id,
        id,
        &json!({"icon": "icon3", "deskIds": ["14", "15", "16"], "tabName": "Helpdesk"}),
    )
    .unwrap()
    .unwrap();
    let (status, page) = w.link(ALICE_KEY, ALICE_OID).await;
    assert_eq!(status, 200, "{page}");
    (w, id)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn app_id_uri(w: &World) -> String {
    let u = url::Url::parse(&w.app.state.internal_url).unwrap();
    format!(
        "api://{}:{}/{CLIENT_ID}",
        u.host_str().unwrap(),
        u.port().unwrap()
    )
}

/// The claims of a Teams SSO token for `oid` (v2 access token for this app).
fn sso_claims(w: &World, oid: &str) -> Value {
    json!({
        "iss": w.entra.issuer(),
        "aud": app_id_uri(w),
        "tid": TENANT_ID,
        "oid": oid,
        "sub": "pairwise-subject",
        "scp": "access_as_user",
        "azp": "5e3ce6c0-2b1f-4285-8d4b-75ee78787346",
        "preferred_username": "user@contoso.example",
        "iat": now(),
        "nbf": now(),
        "exp": now() + 3600,
        "ver": "2.0",
    })
}

async fn post_token(
    w: &World,
    b: &reqwest::Client,
    portal: Uuid,
    token: &str,
) -> reqwest::Response {
    b.post(w.app.url(&format!("/teams/portal/{portal}/session")))
        .header("Origin", w.app.base.clone())
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap()
}

/// A browser signed in to the tab as `oid`.
async fn tab_browser(w: &World, portal: Uuid, oid: &str) -> reqwest::Client {
    let b = browser();
    let token = w.entra.mint_id_token(sso_claims(w, oid));
    let res = post_token(w, &b, portal, &token).await;
    assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
    b
}

async fn page(w: &World, b: &reqwest::Client, portal: Uuid) -> (u16, String) {
    let res = b
        .get(w.app.url(&format!("/teams/portal/{portal}")))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The form token on a ready page.
fn form_token(html: &str) -> String {
    crate::support::app::between(html, "name=\"csrf\" value=\"", "\"")
}

async fn raise(
    w: &World,
    b: &reqwest::Client,
    portal: Uuid,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let res = b
        .post(w.app.url(&format!("/teams/portal/{portal}/requests")))
        .header("Origin", w.app.base.clone())
        .form(fields)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[actix_web::test]
async fn a_linked_teams_user_sees_every_request_type_across_pages_and_only_their_open_requests() {
    let (w, portal) = portal_world().await;
    w.jira
        .add_jsm_request("14", "HD-1", "Printer on fire", ALICE_KEY, true);
    w.jira
        .add_jsm_request("14", "HD-2", "Old closed one", ALICE_KEY, false);
    w.jira
        .add_jsm_request("15", "IT-1", "Bob's laptop", BOB_KEY, true);
    let b = tab_browser(&w, portal, ALICE_OID).await;
    let (status, html) = page(&w, &b, portal).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<h1>Helpdesk</h1>"), "{html}");
    // every request type of desk 14, first and last page included
    for t in [
        "Type 14-1<",
        "Type 14-50<",
        "Type 14-51<",
        "Type 14-120<",
        "Type 15-3<",
    ] {
        assert!(html.contains(t), "{t} missing");
    }
    assert!(html.contains("value=\"14:14120\""));
    // the desk Alice may not see is a message, not a failure of the page
    assert!(html.contains("does not exist or is not visible to you"));
    assert!(html.contains("HD-1") && html.contains("Printer on fire"));
    assert!(!html.contains("HD-2") && !html.contains("IT-1"));
    // the paging loop went on until isLastPage
    let calls = w.jira.jsm_calls();
    let desk14: Vec<&String> = calls
        .iter()
        .map(|(_, p)| p)
        .filter(|p| p.contains("/servicedesk/14/requesttype"))
        .collect();
    assert_eq!(desk14.len(), 3, "{desk14:?}");
    assert!(desk14[1].contains("start=50") && desk14[2].contains("start=100"));
    assert!(calls.iter().any(|(_, p)| p.contains(
        "/rest/servicedeskapi/request?requestOwnership=OWNED_REQUESTS&requestStatus=OPEN_REQUESTS"
    )));
}

#[actix_web::test]
async fn raising_a_request_creates_it_as_the_linked_jira_user() {
    let (w, portal) = portal_world().await;
    let b = tab_browser(&w, portal, ALICE_OID).await;
    let (_, html) = page(&w, &b, portal).await;
    let token = form_token(&html);
    let (status, html) = raise(
        &w,
        &b,
        portal,
        &[
            ("csrf", &token),
            ("request_type", "14:14077"),
            ("summary", "  VPN does not connect "),
            ("description", "Since this morning."),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Request HD-1 was raised."), "{html}");
    let requests = w.jira.jsm().requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        (
            r.creator.as_str(),
            r.desk_id.as_str(),
            r.request_type_id.as_str()
        ),
        (ALICE_KEY, "14", "14077")
    );
    assert_eq!(
        (r.summary.as_str(), r.description.as_str()),
        ("VPN does not connect", "Since this morning.")
    );
    // and it is listed among the open requests right away
    assert!(
        html.contains("<td>HD-1</td><td>VPN does not connect</td>"),
        "{html}"
    );
}

#[actix_web::test]
async fn an_unlinked_teams_user_gets_link_instructions_and_jira_is_not_called() {
    let (w, portal) = portal_world().await;
    let before = w.jira.jsm_calls().len();
    let b = tab_browser(&w, portal, BOB_OID).await;
    let (status, html) = page(&w, &b, portal).await;
    assert_eq!(status, 200);
    assert!(html.contains("Link your Jira account first"), "{html}");
    assert!(html.contains("<strong>link</strong>"));
    assert!(!html.contains("Raise request"));
    assert_eq!(w.jira.jsm_calls().len(), before);
}

#[actix_web::test]
async fn forged_expired_foreign_and_misaddressed_tokens_are_refused() {
    let (w, portal) = portal_world().await;
    let good = sso_claims(&w, ALICE_OID);
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let other_tenant = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
    let cases = [
        (
            "foreign key",
            w.entra.mint_id_token_with_foreign_key(good.clone()),
        ),
        (
            "expired",
            w.entra.mint_id_token(with("exp", json!(now() - 3600))),
        ),
        (
            "foreign tenant",
            w.entra.mint_id_token({
                let mut c = with("tid", json!(other_tenant));
                c["iss"] = json!(format!("{}/{other_tenant}/v2.0", w.entra.base));
                c
            }),
        ),
        (
            "wrong audience",
            w.entra.mint_id_token(with(
                "aud",
                json!(format!("api://evil.example/{CLIENT_ID}")),
            )),
        ),
        (
            "wrong issuer",
            w.entra
                .mint_id_token(with("iss", json!("https://evil.example/v2.0"))),
        ),
        (
            "an ID token (no scope)",
            w.entra.mint_id_token(with("scp", json!(""))),
        ),
        ("not a JWT", "nonsense".to_owned()),
    ];
    for (what, token) in cases {
        let b = browser();
        let res = post_token(&w, &b, portal, &token).await;
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("jtb_portal="));
        let status = res.status();
        assert_eq!(status, 401, "{what}: {}", res.text().await.unwrap());
        assert!(!cookie, "{what}");
        let (_, html) = page(&w, &b, portal).await;
        assert!(html.contains("portal-signin"), "{what}: still signing in");
        assert!(!html.contains("Raise request"), "{what}");
    }
    // a query parameter names nobody
    let b = browser();
    let res = b
        .get(w.app.url(&format!(
            "/teams/portal/{portal}?oid={ALICE_OID}&tid={TENANT_ID}"
        )))
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains("portal-signin"));
    // a tampered session cookie is no session
    let b = tab_browser(&w, portal, ALICE_OID).await;
    let (_, html) = page(&w, &b, portal).await;
    assert!(html.contains("Raise request"));
    let forged = browser();
    let res = forged
        .get(w.app.url(&format!("/teams/portal/{portal}")))
        .header("Cookie", "jtb_portal=eyJ0IjoiYSJ9.AAAA")
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains("portal-signin"));
    // a cross-site post of a valid token is refused (login CSRF)
    let res = browser()
        .post(w.app.url(&format!("/teams/portal/{portal}/session")))
        .header("Origin", "https://evil.example")
        .json(&json!({"token": w.entra.mint_id_token(good.clone())}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[actix_web::test]
async fn an_unknown_portal_app_is_not_found() {
    let (w, _) = portal_world().await;
    let b = browser();
    for path in [
        format!("/teams/portal/{}", Uuid::new_v4()),
        "/teams/portal/not-a-guid".to_owned(),
    ] {
        let res = b.get(w.app.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    let token = w.entra.mint_id_token(sso_claims(&w, ALICE_OID));
    let res = post_token(&w, &b, Uuid::new_v4(), &token).await;
    assert_eq!(res.status(), 404);
}

#[actix_web::test]
async fn an_empty_summary_or_a_request_type_outside_the_portal_creates_nothing() {
    let (w, portal) = portal_world().await;
    let b = tab_browser(&w, portal, ALICE_OID).await;
    let (_, html) = page(&w, &b, portal).await;
    let token = form_token(&html);
    let cases: [(&str, &str, &str); 5] = [
        ("14:14001", "   ", "Enter a summary."),
        (
            "99:99001",
            "Not this portal's desk",
            "Choose a request type of this portal.",
        ),
        (
            "14:15001",
            "Type of desk 15 under 14",
            "Choose a request type of this portal.",
        ),
        (
            "16:16001",
            "Desk Alice cannot see",
            "Choose a request type of this portal.",
        ),
        ("", "No type", "Choose a request type of this portal."),
    ];
    for (kind, summary, message) in cases {
        let (status, html) = raise(
            &w,
            &b,
            portal,
            &[
                ("csrf", &token),
                ("request_type", kind),
                ("summary", summary),
                ("description", ""),
            ],
        )
        .await;
        assert_eq!(status, 422, "{kind}");
        assert!(html.contains(message), "{kind}: {html}");
    }
    assert!(w.jira.jsm().requests.lock().unwrap().is_empty());
    assert!(
        !w.jira
            .jsm_calls()
            .iter()
            .any(|(m, p)| m == "POST" && p.contains("/rest/servicedeskapi/request"))
    );
}

#[actix_web::test]
async fn a_request_without_the_form_token_or_from_another_site_is_refused() {
    let (w, portal) = portal_world().await;
    let b = tab_browser(&w, portal, ALICE_OID).await;
    let (_, html) = page(&w, &b, portal).await;
    let token = form_token(&html);
    let fields = [("request_type", "14:14001"), ("summary", "Sneaky")];
    let (status, _) = raise(&w, &b, portal, &fields).await;
    assert_eq!(status, 403);
    let (status, _) = raise(&w, &b, portal, &[("csrf", "wrong"), fields[0], fields[1]]).await;
    assert_eq!(status, 403);
    let res = b
        .post(w.app.url(&format!("/teams/portal/{portal}/requests")))
        .header("Origin", "https://evil.example")
        .form(&[("csrf", token.as_str()), fields[0], fields[1]])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // another user's form token does not fit this session
    let carol = tab_browser(&w, portal, crate::support::world::CAROL_OID).await;
    let (status, _) = raise(
        &w,
        &carol,
        portal,
        &[("csrf", &token), fields[0], fields[1]],
    )
    .await;
    assert_eq!(status, 403);
    // no session at all
    let (status, _) = raise(
        &w,
        &browser(),
        portal,
        &[("csrf", &token), fields[0], fields[1]],
    )
    .await;
    assert_eq!(status, 401);
    assert!(w.jira.jsm().requests.lock().unwrap().is_empty());
}

#[actix_web::test]
async fn a_revoked_jira_sign_in_asks_the_user_to_sign_in_again() {
    let (w, portal) = portal_world().await;
    let b = tab_browser(&w, portal, ALICE_OID).await;
    w.jira.revoke_user(ALICE_KEY);
    let (status, html) = page(&w, &b, portal).await;
    assert_eq!(status, 200);
    assert!(html.contains("Sign in again"), "{html}");
    assert!(!html.contains("Raise request"));
}

#[actix_web::test]
async fn only_the_portal_pages_may_be_framed_and_only_by_teams() {
    let (w, portal) = portal_world().await;
    let res = browser()
        .get(w.app.url(&format!("/teams/portal/{portal}")))
        .send()
        .await
        .unwrap();
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(res.headers().get("x-frame-options").is_none());
    assert!(csp.contains("frame-ancestors https://teams.microsoft.com https://*.teams.microsoft.com https://*.cloud.microsoft"), "{csp}");
    assert!(!csp.contains("frame-ancestors 'none'"));
    assert!(csp.contains("script-src 'self' https://res.cdn.office.net"));
    // the unknown portal's 404 is shown in the tab too
    let res = browser()
        .get(w.app.url(&format!("/teams/portal/{}", Uuid::new_v4())))
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("x-frame-options").is_none());
    for path in [
        "/login",
        "/admin",
        "/auth/start",
        "/static/portal.js",
        "/teams/portalx",
    ] {
        let res = browser().get(w.app.url(path)).send().await.unwrap();
        assert_eq!(res.headers()["x-frame-options"], "DENY", "{path}");
        let csp = res.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    }
}

#[actix_web::test]
async fn a_request_jira_refuses_shows_jiras_message_and_nothing_is_created() {
    let (w, portal) = portal_world().await;
    let b = tab_browser(&w, portal, ALICE_OID).await;
    let (_, html) = page(&w, &b, portal).await;
    let token = form_token(&html);
    *w.jira.jsm().reject_next_create.lock().unwrap() =
        Some("Affected system: You must choose a value.".into());
    let (status, html) = raise(
        &w,
        &b,
        portal,
        &[
            ("csrf", &token),
            ("request_type", "15:15002"),
            ("summary", "Needs a field"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        html.contains("Affected system: You must choose a value."),
        "{html}"
    );
    // what the user typed stays in the form
    assert!(html.contains("value=\"Needs a field\""));
    assert!(html.contains("value=\"15:15002\" selected"));
    assert!(w.jira.jsm().requests.lock().unwrap().is_empty());
}
