//! Linking a Jira account from Teams (PROTOCOLS.md §6.4) end to end: `link` in the 1:1 chat
//! arrives at `/bot/messages` with a valid token, the card reaches the Bot Connector double, a
//! browser follows its URL through the Entra and Jira doubles, and the link is stored only when
//! the same Teams user sends back the code the page showed (typed or `signin/verifyState`).

use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::fakes::{self};
use crate::support::app::between;
use crate::support::bot::{BotWorld, bot_world};
use crate::support::jwt::BOT_ID;
use crate::support::world::{ALICE_KEY, ALICE_OID, BOB_KEY, BOB_OID, browser, follow};

const ALICE_TEAMS: &str = "29:1alice-teams";
const BOB_TEAMS: &str = "29:1bob-teams";
const ALICE_CHAT: &str = "a:1personal-alice";
const BOB_CHAT: &str = "a:1personal-bob";

/// Who sends an activity, and where.
#[derive(Clone, Copy)]
struct From {
    teams_id: &'static str,
    oid: &'static str,
    conversation: &'static str,
    kind: &'static str,
}

const ALICE: From = From {
    teams_id: ALICE_TEAMS,
    oid: ALICE_OID,
    conversation: ALICE_CHAT,
    kind: "personal",
};
const BOB: From = From {
    teams_id: BOB_TEAMS,
    oid: BOB_OID,
    conversation: BOB_CHAT,
    kind: "personal",
};

fn activity(s: &BotWorld, from: From, kind: &str, extra: Value) -> Value {
    let mut a = json!({
        "type": kind, "channelId": "msteams", "serviceUrl": s.bot.service_url(),
        "id": format!("m{}", uuid::Uuid::new_v4().simple()),
        "from": {"id": from.teams_id, "aadObjectId": from.oid, "name": "someone"},
        "recipient": {"id": format!("28:{BOT_ID}")},
        "conversation": {"id": from.conversation, "conversationType": from.kind, "tenantId": fakes::entra::TENANT_ID},
        "channelData": {"tenant": {"id": fakes::entra::TENANT_ID}},
    });
    for (k, v) in extra.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

async fn post(s: &BotWorld, a: &Value) -> reqwest::Response {
    s.post_signed(a).await
}

/// Sends a message as `from`; the POST is acknowledged with 200.
async fn say(s: &BotWorld, from: From, text: &str) {
    let res = post(s, &activity(s, from, "message", json!({ "text": text }))).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

/// Waits until `n` activities reached the conversation; returns them.
async fn messages(s: &BotWorld, conversation: &str, n: usize) -> Vec<Value> {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let got = s.bot.received_for(conversation);
        if got.len() >= n {
            return got;
        }
        assert!(
            Instant::now() < until,
            "only {} of {n} messages arrived in {conversation}: {got:?}",
            got.len()
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `link` and returns the card's URL.
async fn link_url(s: &BotWorld, from: From) -> String {
    let before = s.bot.received_for(from.conversation).len();
    say(s, from, "link").await;
    let card = messages(s, from.conversation, before + 1).await[before].clone();
    let content = &card["attachments"][0]["content"];
    assert_eq!(content["type"], "AdaptiveCard", "{card}");
    let action = &content["actions"][0];
    assert_eq!(action["type"], "Action.OpenUrl");
    action["url"].as_str().unwrap().to_owned()
}

/// Follows a sign-in URL as the given Microsoft and Jira users; returns status and page.
async fn sign_in(s: &BotWorld, url: &str, oid: &str, key: &str) -> (u16, String) {
    s.w.entra.sign_in_as(oid);
    s.w.jira.sign_in_as(key);
    let (res, _) = follow(&browser(), url).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

fn code_of(page: &str) -> String {
    between(page, "<strong id=\"verification-code\">", "</strong>")
}

/// Links of the instance as (Jira user key, Microsoft user id).
fn links(s: &BotWorld) -> Vec<(String, uuid::Uuid)> {
    use jira_teams_bridge::db::schema::user_mapping as um;
    um::table
        .select((um::jira_user_key, um::ms_user_id))
        .order(um::jira_user_key)
        .load(&mut s.w.conn())
        .unwrap()
}

fn token_kinds(s: &BotWorld) -> Vec<String> {
    use jira_teams_bridge::db::schema::access_token as at;
    at::table
        .select(at::kind)
        .order(at::kind)
        .load(&mut s.w.conn())
        .unwrap()
}

fn pending_tokens(s: &BotWorld) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(
        "SELECT (SELECT count(*) FROM sign_in_flow WHERE ms_token IS NOT NULL) + \
                (SELECT count(*) FROM teams_sign_in WHERE jira_token IS NOT NULL) AS n",
    )
    .get_result::<N>(&mut s.w.conn())
    .unwrap()
    .n
}

fn last_text(msgs: &[Value]) -> String {
    msgs.last().unwrap()["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[actix_web::test]
async fn a_teams_user_links_jira_with_the_card_the_browser_and_the_code_typed_back() {
    let s = bot_world().await;
    let url = link_url(&s, ALICE).await;
    assert!(
        url.starts_with(&format!(
            "{}/auth/teams/start?t=",
            s.w.app.state.internal_url
        )),
        "{url}"
    );
    // the one-time token is stored hashed only
    let t = url.split("t=").nth(1).unwrap();
    let stored: Vec<Vec<u8>> = {
        use jira_teams_bridge::db::schema::teams_sign_in as ts;
        ts::table
            .select(ts::token_hash)
            .load(&mut s.w.conn())
            .unwrap()
    };
    assert_eq!(stored.len(), 1);
    assert!(!String::from_utf8_lossy(&stored[0]).contains(t));

    let (status, page) = sign_in(&s, &url, ALICE_OID, ALICE_KEY).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("send this code in Teams") && page.contains("alice (Jira)"),
        "{page}"
    );
    let code = code_of(&page);
    assert_eq!(code.len(), 6);
    // not linked yet: the code has to come back from Alice's Teams account
    assert!(links(&s).is_empty());
    assert!(token_kinds(&s).is_empty());
    assert_eq!(
        pending_tokens(&s),
        2,
        "Microsoft and Jira tokens wait, sealed"
    );

    say(&s, ALICE, &code).await;
    let msgs = messages(&s, ALICE_CHAT, 2).await;
    let done = last_text(&msgs);
    assert!(
        done.contains("linked") && done.contains("alice (Jira)"),
        "{done}"
    );
    assert_eq!(
        links(&s),
        vec![(ALICE_KEY.to_owned(), ALICE_OID.parse().unwrap())]
    );
    assert_eq!(token_kinds(&s), ["jira_user", "microsoft_user"]);
    assert_eq!(pending_tokens(&s), 0, "the pending tokens are gone");
    // a replayed code links nothing more and says so
    say(&s, ALICE, &code).await;
    let msgs = messages(&s, ALICE_CHAT, 3).await;
    assert!(
        last_text(&msgs).contains("not waiting for a code"),
        "{msgs:?}"
    );

    // linked: `link` now says to whom, and how to change it
    say(&s, ALICE, "link").await;
    let msgs = messages(&s, ALICE_CHAT, 4).await;
    let text = last_text(&msgs);
    assert!(
        text.contains("already linked") && text.contains("alice (Jira)") && text.contains("unlink"),
        "{text}"
    );
    assert!(msgs[3].get("attachments").is_none(), "no new sign-in link");
    // a link that needs a new sign-in gets a new card
    diesel::sql_query("UPDATE user_mapping SET status = 'needs_reauth'")
        .execute(&mut s.w.conn())
        .unwrap();
    let url = link_url(&s, ALICE).await;
    let (status, page) = sign_in(&s, &url, ALICE_OID, ALICE_KEY).await;
    assert_eq!(status, 200, "{page}");
    say(&s, ALICE, &code_of(&page)).await;
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        use jira_teams_bridge::db::schema::user_mapping as um;
        let st: String = um::table.select(um::status).first(&mut s.w.conn()).unwrap();
        if st == "linked" {
            break;
        }
        assert!(Instant::now() < until, "not relinked");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn a_forwarded_url_completed_with_someone_elses_microsoft_account_links_nothing() {
    let s = bot_world().await;
    let url = link_url(&s, ALICE).await;
    // Bob opens Alice's link and signs in as himself
    let (status, page) = sign_in(&s, &url, BOB_OID, BOB_KEY).await;
    assert_eq!(status, 403, "{page}");
    assert!(
        page.contains("made in Teams for someone else") && page.contains("Nothing was linked"),
        "{page}"
    );
    assert!(!page.contains("verification-code"));
    assert!(links(&s).is_empty());
    assert_eq!(pending_tokens(&s), 0);
    // the link is spent: Alice herself cannot use it any more either
    let (status, page) = sign_in(&s, &url, ALICE_OID, ALICE_KEY).await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("already used"));
    assert!(links(&s).is_empty());
}

#[actix_web::test]
async fn a_replayed_or_unknown_url_starts_nothing() {
    let s = bot_world().await;
    let url = link_url(&s, ALICE).await;
    let (status, page) = sign_in(&s, &url, ALICE_OID, ALICE_KEY).await;
    assert_eq!(status, 200, "{page}");
    let (status, page) = sign_in(&s, &url, ALICE_OID, ALICE_KEY).await;
    assert_eq!(status, 409);
    assert!(page.contains("already used"), "{page}");
    let forged = format!("{}x", url);
    let (status, page) = sign_in(&s, &forged, ALICE_OID, ALICE_KEY).await;
    assert_eq!(status, 400);
    assert!(page.contains("unknown or has expired"), "{page}");
    // an URL older than ten minutes is refused
    let url = link_url(&s, BOB).await;
    diesel::sql_query(
        "UPDATE teams_sign_in SET expires_at = now() - interval '1 second' WHERE stage = 'issued'",
    )
    .execute(&mut s.w.conn())
    .unwrap();
    let (status, page) = sign_in(&s, &url, BOB_OID, BOB_KEY).await;
    assert_eq!(status, 400);
    assert!(page.contains("expired"), "{page}");
    assert!(links(&s).is_empty());
}

#[actix_web::test]
async fn a_code_from_another_teams_user_a_wrong_or_an_expired_code_links_nothing() {
    let s = bot_world().await;
    let url = link_url(&s, ALICE).await;
    let (_, page) = sign_in(&s, &url, ALICE_OID, ALICE_KEY).await;
    let code = code_of(&page);
    // Bob types Alice's code in his own chat
    say(&s, BOB, &code).await;
    let bob = messages(&s, BOB_CHAT, 1).await;
    assert!(
        last_text(&bob).contains("not waiting for a code"),
        "{bob:?}"
    );
    assert!(links(&s).is_empty());
    // Alice mistypes
    let wrong = if code == "000000" { "111111" } else { "000000" };
    say(&s, ALICE, wrong).await;
    let msgs = messages(&s, ALICE_CHAT, 2).await;
    assert!(
        last_text(&msgs).contains("not the code") && last_text(&msgs).contains("4 tries left"),
        "{msgs:?}"
    );
    assert!(links(&s).is_empty());
    // ... still fine with the right one afterwards? Not once it expired.
    diesel::sql_query("UPDATE teams_sign_in SET expires_at = now() - interval '1 second'")
        .execute(&mut s.w.conn())
        .unwrap();
    say(&s, ALICE, &code).await;
    let msgs = messages(&s, ALICE_CHAT, 3).await;
    assert!(last_text(&msgs).contains("expired"), "{msgs:?}");
    assert!(links(&s).is_empty());
    assert_eq!(pending_tokens(&s), 0, "an expired sign-in keeps no tokens");

    // too many wrong codes drop the pending link: the right code no longer works
    let url = link_url(&s, ALICE).await;
    let (_, page) = sign_in(&s, &url, ALICE_OID, ALICE_KEY).await;
    let code = code_of(&page);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let before = s.bot.received_for(ALICE_CHAT).len();
    for i in 0..5 {
        say(&s, ALICE, wrong).await;
        messages(&s, ALICE_CHAT, before + i + 1).await;
    }
    let msgs = messages(&s, ALICE_CHAT, before + 5).await;
    assert!(
        last_text(&msgs).contains("dropped the pending link"),
        "{msgs:?}"
    );
    assert_eq!(pending_tokens(&s), 0);
    say(&s, ALICE, &code).await;
    let msgs = messages(&s, ALICE_CHAT, before + 6).await;
    assert!(
        last_text(&msgs).contains("not waiting for a code"),
        "{msgs:?}"
    );
    assert!(links(&s).is_empty());
    assert!(token_kinds(&s).is_empty());
}

#[actix_web::test]
async fn the_verify_state_invoke_links_with_the_right_code_only() {
    let s = bot_world().await;
    let url = link_url(&s, ALICE).await;
    let (_, page) = sign_in(&s, &url, ALICE_OID, ALICE_KEY).await;
    let code = code_of(&page);
    let invoke = |from: From, state: &str| {
        activity(
            &s,
            from,
            "invoke",
            json!({"name": "signin/verifyState", "value": {"state": state}}),
        )
    };
    // Bob's client sends Alice's code: refused
    let res = post(&s, &invoke(BOB, &code)).await;
    assert_eq!(res.status(), 404);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let res = post(&s, &invoke(ALICE, wrong)).await;
    assert_eq!(res.status(), 404);
    let res = post(&s, &invoke(ALICE, "not a code")).await;
    assert_eq!(res.status(), 404);
    assert!(links(&s).is_empty());
    // the right code from Alice: 200 with an empty body, the link, and a confirmation
    let res = post(&s, &invoke(ALICE, &code)).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().is_empty());
    assert_eq!(
        links(&s),
        vec![(ALICE_KEY.to_owned(), ALICE_OID.parse().unwrap())]
    );
    assert_eq!(token_kinds(&s), ["jira_user", "microsoft_user"]);
    let until = Instant::now() + Duration::from_secs(10);
    while !s
        .bot
        .received_for(ALICE_CHAT)
        .iter()
        .any(|m| m["text"].as_str().unwrap_or_default().starts_with("Done"))
    {
        assert!(Instant::now() < until, "no confirmation");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    // replayed: refused
    let res = post(&s, &invoke(ALICE, &code)).await;
    assert_eq!(res.status(), 404);
}

#[actix_web::test]
async fn unlink_removes_the_link_and_erases_its_tokens() {
    let s = bot_world().await;
    let url = link_url(&s, ALICE).await;
    let (_, page) = sign_in(&s, &url, ALICE_OID, ALICE_KEY).await;
    say(&s, ALICE, &code_of(&page)).await;
    messages(&s, ALICE_CHAT, 2).await;
    // Bob's link, made the Jira way, is not Alice's to remove
    s.w.link(BOB_KEY, BOB_OID).await;
    assert_eq!(links(&s).len(), 2);
    assert_eq!(token_kinds(&s).len(), 4);

    say(&s, ALICE, "unlink").await;
    let msgs = messages(&s, ALICE_CHAT, 3).await;
    let text = last_text(&msgs);
    assert!(
        text.contains("Unlinked") && text.contains("alice (Jira)") && text.contains("erased"),
        "{text}"
    );
    assert_eq!(
        links(&s),
        vec![(BOB_KEY.to_owned(), BOB_OID.parse().unwrap())]
    );
    assert_eq!(
        token_kinds(&s),
        ["jira_user", "microsoft_user"],
        "only Bob's tokens remain"
    );
    say(&s, ALICE, "unlink").await;
    let msgs = messages(&s, ALICE_CHAT, 4).await;
    assert!(last_text(&msgs).contains("no linked Jira account"));
}

#[actix_web::test]
async fn link_in_a_channel_posts_no_personal_url_there() {
    let s = bot_world().await;
    let channel = From {
        teams_id: ALICE_TEAMS,
        oid: ALICE_OID,
        conversation: "19:general@thread.tacv2",
        kind: "channel",
    };
    say(&s, channel, "<at>Jira</at> link").await;
    let msgs = messages(&s, channel.conversation, 1).await;
    let text = last_text(&msgs);
    assert!(text.contains("1:1 chat"), "{text}");
    let all = serde_json::to_string(&msgs).unwrap();
    assert!(!all.contains("/auth/teams/start"), "{all}");
    assert!(msgs[0].get("attachments").is_none());
    // and no URL was issued for it
    let issued: i64 = {
        use jira_teams_bridge::db::schema::teams_sign_in as ts;
        ts::table.count().get_result(&mut s.w.conn()).unwrap()
    };
    assert_eq!(issued, 0);
    // a code typed in a group chat is not taken there either
    let group = From {
        conversation: "19:group@thread.v2",
        kind: "groupChat",
        ..channel
    };
    say(&s, group, "123456").await;
    let msgs = messages(&s, group.conversation, 1).await;
    assert!(last_text(&msgs).contains("1:1 chat"), "{msgs:?}");
}

#[actix_web::test]
async fn with_several_instances_link_and_unlink_name_one_and_unlink_all_removes_every_link() {
    let s = bot_world().await;
    let (base2, jira2) = fakes::jira::start("/second");
    jira2.add_user(ALICE_KEY, "alice", "alice (second Jira)");
    let (public_id, _) = s.w.app.register_instance(&base2).await;
    let second = {
        use jira_teams_bridge::db::models::jira_instance::JiraInstance;
        JiraInstance::find_by_public_id(&mut s.w.conn(), &public_id)
            .unwrap()
            .unwrap()
            .id
    };
    let res =
        s.w.app
            .post_form(
                &format!("/admin/instances/{second}/oauth"),
                &[
                    ("client_id", fakes::jira::CLIENT_ID),
                    ("client_secret", fakes::jira::CLIENT_SECRET),
                ],
            )
            .await;
    assert_eq!(res.status(), 200);
    let label2 = base2.trim_start_matches("http://").to_owned();

    // `link` alone lists the instances instead of guessing
    say(&s, ALICE, "link").await;
    let msgs = messages(&s, ALICE_CHAT, 1).await;
    let text = last_text(&msgs);
    assert!(
        text.contains("1. ") && text.contains(&format!("2. {label2}")),
        "{text}"
    );
    assert!(msgs[0].get("attachments").is_none());
    say(&s, ALICE, "link 7").await;
    let msgs = messages(&s, ALICE_CHAT, 2).await;
    assert!(last_text(&msgs).contains("don't know the Jira instance"));
    // `link <host>` gives a URL for that instance only
    let before = s.bot.received_for(ALICE_CHAT).len();
    say(&s, ALICE, &format!("link {label2}")).await;
    let card = messages(&s, ALICE_CHAT, before + 1).await[before].clone();
    assert!(card["attachments"][0]["content"]["actions"][0]["url"].is_string());
    let bound: Vec<uuid::Uuid> = {
        use jira_teams_bridge::db::schema::teams_sign_in as ts;
        ts::table
            .select(ts::jira_instance_id)
            .load(&mut s.w.conn())
            .unwrap()
    };
    assert_eq!(bound, vec![second]);

    // linked on both (the Jira way on the first, a stored link on the second)
    s.w.link(ALICE_KEY, ALICE_OID).await;
    diesel::sql_query(format!(
        "INSERT INTO user_mapping (id, jira_instance_id, jira_user_key, ms_tenant_id, ms_user_id, jira_user_name) \
         VALUES (gen_random_uuid(), '{second}', '{ALICE_KEY}', '{}', '{ALICE_OID}', 'alice (second Jira)')",
        fakes::entra::TENANT_ID
    ))
    .execute(&mut s.w.conn())
    .unwrap();
    let n = s.bot.received_for(ALICE_CHAT).len();
    say(&s, ALICE, "unlink").await;
    let msgs = messages(&s, ALICE_CHAT, n + 1).await;
    assert!(last_text(&msgs).contains("unlink all"), "{msgs:?}");
    assert_eq!(links(&s).len(), 2, "nothing removed without a choice");
    say(&s, ALICE, "unlink 2").await;
    let msgs = messages(&s, ALICE_CHAT, n + 2).await;
    assert!(last_text(&msgs).contains("alice (second Jira)"), "{msgs:?}");
    assert_eq!(links(&s).len(), 1);
    say(&s, ALICE, "unlink all").await;
    let msgs = messages(&s, ALICE_CHAT, n + 3).await;
    assert!(last_text(&msgs).contains("Unlinked"), "{msgs:?}");
    assert!(links(&s).is_empty());
    assert!(token_kinds(&s).is_empty());
}

#[actix_web::test]
async fn the_link_card_offers_the_browser_and_the_teams_sign_in_pop_up_with_one_url() {
    let s = bot_world().await;
    let url = link_url(&s, ALICE).await;
    let card = s.bot.received_for(ALICE_CHAT).last().unwrap().clone();
    let signin = &card["attachments"][1];
    assert_eq!(
        signin["contentType"], "application/vnd.microsoft.card.signin",
        "{card}"
    );
    let button = &signin["content"]["buttons"][0];
    assert_eq!(button["type"], "signin");
    assert_eq!(button["value"], url.as_str(), "the same one-time URL");
    // the pop-up opens only hosts in the app's validDomains: the URL is on the internal host
    let host = url::Url::parse(&url)
        .unwrap()
        .host_str()
        .unwrap()
        .to_owned();
    assert!(
        s.w.app.state.internal_url.contains(&host),
        "{url} is not on the internal URL's host"
    );
}

#[actix_web::test]
async fn in_the_teams_pop_up_the_code_page_hands_the_code_to_teams_by_a_script_not_inline() {
    let s = bot_world().await;
    let url = link_url(&s, ALICE).await;
    s.w.entra.sign_in_as(ALICE_OID);
    s.w.jira.sign_in_as(ALICE_KEY);
    // follow the pop-up's redirects: every page of ours keeps the opener (Teams talks to the
    // pop-up through window.opener)
    let b = browser();
    let mut res = b.get(&url).send().await.unwrap();
    let mut ours = 0;
    loop {
        if res.url().as_str().starts_with(&s.w.app.state.internal_url) {
            ours += 1;
            assert_eq!(
                res.headers()["cross-origin-opener-policy"],
                "unsafe-none",
                "{}",
                res.url()
            );
        }
        if !res.status().is_redirection() {
            break;
        }
        let next = crate::support::app::location(&res);
        res = b.get(&next).send().await.unwrap();
    }
    assert!(ours >= 3, "start, Microsoft callback and code page: {ours}");
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self' https://res.cdn.office.net"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let page = res.text().await.unwrap();
    let code = code_of(&page);
    assert!(
        page.contains(&format!("id=\"teams-signin\" data-code=\"{code}\"")),
        "{page}"
    );
    assert!(page.contains("<script src=\"/static/teams-signin.js\"></script>"));
    assert!(page.contains(
        "<script src=\"https://res.cdn.office.net/teams-js/2.23.0/js/MicrosoftTeams.min.js\" integrity=\"sha384-"
    ));
    assert_eq!(
        page.matches("<script").count(),
        page.matches("<script src=").count(),
        "no inline script"
    );
    // without JavaScript the code is still shown, to be typed back
    assert_eq!(code.len(), 6);

    let js = s.w.app.get("/static/teams-signin.js").await;
    assert_eq!(js.status(), 200);
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let js = js.text().await.unwrap();
    assert!(js.contains("authentication.notifySuccess(code)") && js.contains("data-code"));

    // what Teams does with the code: signin/verifyState from Alice's client links
    let res = post(
        &s,
        &activity(
            &s,
            ALICE,
            "invoke",
            json!({"name": "signin/verifyState", "value": {"state": code}}),
        ),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        links(&s),
        vec![(ALICE_KEY.to_owned(), ALICE_OID.parse().unwrap())]
    );
}
