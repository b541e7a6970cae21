//! `/bot/messages` on the public listener against the fake Bot Framework: token checks
//! (PROTOCOLS.md §3.1), the service URL allow-list, installation events recorded once, the
//! whole path from a Teams installation to a Jira event's card in the chat, and where the bot's
//! own Connector token comes from (§3.2).

use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::fakes::{self};
use crate::support::app::between;
use crate::support::bot::{BotWorld, bot_world, bot_world_with_bot_tokens_from};
use crate::support::jwt::{BOT_ID, bot_claims};
use crate::support::world::create_chat_with_bob;
use crate::support::world::{ALICE_KEY, ALICE_OID, BOB_KEY, BOB_OID};

fn install(chat: &str, service_url: &str) -> Value {
    json!({
        "type": "installationUpdate", "action": "add", "channelId": "msteams",
        "serviceUrl": service_url, "id": "f:1",
        "from": {"id": "29:alice", "aadObjectId": ALICE_OID},
        "recipient": {"id": format!("28:{BOT_ID}")},
        "conversation": {"id": chat, "conversationType": "groupChat", "tenantId": fakes::entra::TENANT_ID},
    })
}

fn memberships(s: &BotWorld) -> Vec<(String, String, String)> {
    use jira_teams_bridge::db::schema::bot_membership as b;
    let mut conn = s.w.conn();
    b::table
        .select((b::conversation_id, b::service_url, b::status))
        .load(&mut conn)
        .unwrap()
}

#[actix_web::test]
async fn a_teams_installation_is_recorded_and_then_jira_events_reach_the_chat() {
    let s = bot_world().await;
    s.w.jira.add_issue(10045, "ABC-1", "Printer on fire", &[]);
    s.w.link(ALICE_KEY, ALICE_OID).await;
    s.w.link(BOB_KEY, BOB_OID).await;
    let chat = create_chat_with_bob(&s.w).await;
    // Teams tells the bot it was added to the chat, twice and at once, as it sometimes does
    let url = s.bot.service_url();
    let token = s.bot.signer.mint("bf-key-1", &bot_claims(&url));
    let activity = install(&chat, &url);
    let twice: Vec<_> = (0..2)
        .map(|_| {
            let req = reqwest::Client::new()
                .post(format!("{}/bot/messages", s.public))
                .header("Authorization", format!("Bearer {token}"))
                .json(&activity);
            actix_web::rt::spawn(async move { req.send().await.unwrap().status().as_u16() })
        })
        .collect();
    for t in twice {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(
        memberships(&s),
        vec![(chat.clone(), url.clone(), "installationAdded".to_owned())]
    );

    let html =
        s.w.app
            .post_form(
                &format!("/admin/instances/{}/webhook/token", s.w.instance_id),
                &[],
            )
            .await
            .text()
            .await
            .unwrap();
    let hook = between(
        &html,
        "<code id=\"webhook-url\" class=\"secret\">",
        "</code>",
    );
    let res = reqwest::Client::new()
        .post(&hook)
        .header("Content-Type", "application/json")
        .body(crate::support::webhook::fixture("issue_updated"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let until = Instant::now() + Duration::from_secs(10);
    while s.bot.received_for(&chat).is_empty() {
        assert!(Instant::now() < until, "no card arrived");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn activities_with_bad_tokens_are_refused_before_anything_is_stored() {
    let s = bot_world().await;
    let url = s.bot.service_url();
    let chat = "19:refused@thread.v2";
    let now = chrono::Utc::now().timestamp();
    let good = bot_claims(&url);
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &good,
        &jsonwebtoken::EncodingKey::from_secret(b"guess"),
    )
    .unwrap();
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        (
            "wrong issuer",
            Some(s.bot.signer.mint(
                "bf-key-1",
                &with("iss", json!("https://sts.windows.net/x/")),
            )),
        ),
        (
            "wrong audience",
            Some(
                s.bot
                    .signer
                    .mint("bf-key-1", &with("aud", json!("another-bot"))),
            ),
        ),
        (
            "expired beyond the skew",
            Some(
                s.bot
                    .signer
                    .mint("bf-key-1", &with("exp", json!(now - 400))),
            ),
        ),
        (
            "serviceurl mismatch",
            Some(s.bot.signer.mint(
                "bf-key-1",
                &with("serviceurl", json!("https://smba.trafficmanager.net/amer/")),
            )),
        ),
        (
            "key not endorsed for msteams",
            Some(s.bot.signer.mint("bf-unendorsed", &good)),
        ),
        ("unpublished key", Some(s.bot.signer.mint("bf-late", &good))),
        ("HS256", Some(hs256)),
    ];
    for (what, token) in cases {
        let res = s.post(token, &install(chat, &url)).await;
        assert_eq!(res.status(), 401, "{what}");
        assert!(
            res.headers()
                .get("content-type")
                .unwrap()
                .to_str()
                .unwrap()
                .contains("problem+json")
        );
    }
    assert!(memberships(&s).is_empty());
    // within the five minutes of skew an expired token still passes
    let res = s
        .post(
            Some(s.bot.signer.mint("bf-key-1", &with("exp", json!(now - 60)))),
            &install(chat, &url),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn an_unknown_signing_key_is_refused_without_refetching_keys_every_time() {
    let s = bot_world().await;
    let url = s.bot.service_url();
    let res = s
        .post(
            Some(s.bot.signer.mint("bf-key-1", &bot_claims(&url))),
            &install("19:one@thread.v2", &url),
        )
        .await;
    assert_eq!(res.status(), 200);
    let fetches = s.bot.key_fetches.load(std::sync::atomic::Ordering::SeqCst);
    s.bot.signer.publish_late_key();
    // the keys were fetched less than a minute ago: an unknown kid is refused without hammering
    let res = s
        .post(
            Some(s.bot.signer.mint("bf-late", &bot_claims(&url))),
            &install("19:two@thread.v2", &url),
        )
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        s.bot.key_fetches.load(std::sync::atomic::Ordering::SeqCst),
        fetches
    );
}

#[actix_web::test]
async fn a_service_url_an_attacker_chose_is_refused_and_never_stored() {
    let s = bot_world().await;
    for url in [
        "https://evil.example/amer/".to_owned(),
        s.bot.service_url().replace("https://", "http://"),
        "https://127.0.0.1:1/amer/".to_owned(),
    ] {
        // even with a valid token whose serviceurl claim matches
        let token = s.bot.signer.mint("bf-key-1", &bot_claims(&url));
        let res = s
            .post(Some(token), &install("19:evil@thread.v2", &url))
            .await;
        assert_eq!(res.status(), 403, "{url}");
    }
    assert!(memberships(&s).is_empty());
}

#[actix_web::test]
async fn a_personal_installer_is_welcomed_exactly_once_even_when_teams_repeats_the_event() {
    let s = bot_world().await;
    let url = s.bot.service_url();
    let token = s.bot.signer.mint("bf-key-1", &bot_claims(&url));
    let personal = json!({
        "type": "installationUpdate", "action": "add", "channelId": "msteams",
        "serviceUrl": url, "from": {"id": "29:alice-teams-id"},
        "recipient": {"id": format!("28:{BOT_ID}")},
        "conversation": {"id": "a:1personal-alice", "conversationType": "personal", "tenantId": fakes::entra::TENANT_ID},
    });
    // twice at once, then once more later (a reinstall)
    let twice: Vec<_> = (0..2)
        .map(|_| {
            let req = reqwest::Client::new()
                .post(format!("{}/bot/messages", s.public))
                .header("Authorization", format!("Bearer {token}"))
                .json(&personal);
            actix_web::rt::spawn(async move { req.send().await.unwrap().status().as_u16() })
        })
        .collect();
    for t in twice {
        assert_eq!(t.await.unwrap(), 200);
    }
    let until = Instant::now() + Duration::from_secs(10);
    while s.bot.received_for("a:1personal-alice").is_empty() {
        if Instant::now() > until {
            use jira_teams_bridge::db::schema::outbox;
            let rows: Vec<(String, String, Option<String>)> = outbox::table
                .select((outbox::kind, outbox::status, outbox::last_error))
                .load(&mut s.w.conn())
                .unwrap();
            panic!("no welcome arrived; outbox: {rows:?}");
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s.post(Some(token.clone()), &personal).await.status(), 200);
    // a group chat install welcomes nobody
    assert_eq!(
        s.post(Some(token), &install("19:group@thread.v2", &url))
            .await
            .status(),
        200
    );
    actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
    let welcomes = s.bot.received_for("a:1personal-alice");
    assert_eq!(welcomes.len(), 1, "one welcome, ever");
    assert!(welcomes[0]["text"].as_str().unwrap().contains("Jira"));
    assert!(s.bot.received_for("19:group@thread.v2").is_empty());
    let mut conn = s.w.conn();
    let setting = jira_teams_bridge::db::models::teams_user_setting::TeamsUserSetting::find(
        &mut conn,
        "29:alice-teams-id",
    )
    .unwrap()
    .unwrap();
    assert_eq!(setting.settings["botWelcomeSent"], true);
}

#[actix_web::test]
async fn the_bot_takes_its_connector_token_from_the_configured_bot_token_url() {
    // a legacy multi-tenant bot: its tokens come from the botframework.com authority, which
    // here is a second Entra ID; the Bot Connector accepts only tokens that one issued
    let (_, bot_entra) = fakes::entra::start(3600);
    let token_url = format!("{}/botframework.com/oauth2/v2.0/token", bot_entra.base);
    let configured = token_url.clone();
    let s = bot_world_with_bot_tokens_from(bot_entra.clone(), move |settings| {
        settings.microsoft.bot_token_url = configured;
    })
    .await;
    let url = s.bot.service_url();
    let personal = json!({
        "type": "installationUpdate", "action": "add", "channelId": "msteams",
        "serviceUrl": url, "from": {"id": "29:alice-teams-id"},
        "recipient": {"id": format!("28:{BOT_ID}")},
        "conversation": {"id": "a:1personal-alice", "conversationType": "personal", "tenantId": fakes::entra::TENANT_ID},
    });
    assert_eq!(s.post_signed(&personal).await.status(), 200);
    let until = Instant::now() + Duration::from_secs(10);
    while s.bot.received_for("a:1personal-alice").is_empty() {
        assert!(
            Instant::now() < until,
            "no welcome arrived: the Bot Connector refused the token or none came"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let form = bot_entra.last_form.lock().unwrap().clone();
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(field("grant_type").as_deref(), Some("client_credentials"));
    assert_eq!(
        field("scope").as_deref(),
        Some("https://api.botframework.com/.default")
    );
    let issued: Vec<String> = bot_entra
        .tokens
        .lock()
        .unwrap()
        .values()
        .map(|t| t.tid.clone())
        .collect();
    assert_eq!(
        issued,
        vec!["botframework.com"],
        "one token, from {token_url}"
    );
    assert!(
        !s.w.entra
            .tokens
            .lock()
            .unwrap()
            .values()
            .any(|t| t.audience == fakes::bot::AUDIENCE),
        "no bot token was asked of the registration's tenant"
    );
}
