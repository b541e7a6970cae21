//! SIGKILL of the real daemon while remote-link jobs are in flight: 200 chats linked through
//! `/api/v1`, each to its own issue, with the "Teams chat started" comment on; Jira answers each
//! write (link or comment) only after it stored it, slowly, and the kill comes while writes of
//! both kinds that Jira has already stored are unanswered. After a restart every chat has exactly
//! one remote link and one comment.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use jira_teams_bridge::crypto::Vault;
use jira_teams_bridge::db::models::access_token::{JIRA_USER, TokenRow, TokenSet};
use jira_teams_bridge::db::models::jira_instance::JiraInstance;
use jira_teams_bridge::db::models::user_mapping::{NewLink, UserMapping};
use jira_teams_bridge::db::schema::{issue_chat, outbox};
use jira_teams_bridge::domain::{JiraBaseUrl, SharedSecret};

use crate::fakes;
use crate::support::app::TempDir;
use crate::support::daemon::{Daemon, free_port};
use crate::support::db::TestDb;
use crate::support::jwt::{JiraApp, claims, sign};
use crate::support::wait::holds_within;
use crate::support::world::{ALICE_KEY, ALICE_OID};

const CHATS: usize = 200;
const ISSUE_BASE: u64 = 40_000;
const LEASE_SECS: u64 = 5;

/// An instance on the Jira double with its OAuth client, remote links and comments on, and
/// Alice linked with a Jira token an hour from expiry, laid out in the database at `db_url`;
/// the Jira app that signs API calls for it.
fn lay_out(
    db_url: &str,
    state_dir: &TempDir,
    jira_base: &str,
    jira: &fakes::jira::Jira,
) -> JiraApp {
    let (vault, _) = Vault::open(&state_dir.0.join("master-key"), true).unwrap();
    let mut conn = PgConnection::establish(db_url).unwrap();
    let secret = SharedSecret::generate();
    let instance = JiraInstance::create(
        &mut conn,
        &vault,
        &JiraBaseUrl::parse(jira_base).unwrap(),
        &secret,
    )
    .unwrap();
    JiraInstance::set_oauth_client(
        &mut conn,
        &vault,
        instance.id,
        Some((fakes::jira::CLIENT_ID, Some(fakes::jira::CLIENT_SECRET))),
    )
    .unwrap();
    JiraInstance::set_remote_link_switches(&mut conn, instance.id, true, true).unwrap();
    let alice = UserMapping::link(
        &mut conn,
        &NewLink {
            instance: instance.id,
            jira_user_key: ALICE_KEY,
            jira_user_name: "Alice Adams",
            ms_tenant_id: fakes::entra::TENANT_ID.parse().unwrap(),
            ms_user_id: ALICE_OID.parse().unwrap(),
            ms_user_name: "alice@contoso.example",
        },
    )
    .unwrap();
    let token = jira.mint_token(ALICE_KEY);
    TokenRow::store(
        &mut conn,
        &vault,
        JIRA_USER,
        alice.id,
        Some(instance.id),
        None,
        &TokenSet {
            access_token: &token,
            refresh_token: None,
            expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
            scopes: "WRITE",
        },
    )
    .unwrap();
    JiraApp {
        public_id: instance.public_id,
        secret: secret.expose().to_owned(),
    }
}

/// Links chat number `i` to its issue through the daemon's API, as Alice; the HTTP status.
async fn link(client: &reqwest::Client, base: &str, app: &JiraApp, i: usize) -> u16 {
    let path = format!("/api/v1/issues/{}/chats", ISSUE_BASE + i as u64);
    let token = sign(&app.secret, &claims(app, "POST", &path, ALICE_KEY));
    client
        .post(format!("{base}{path}"))
        .header("Authorization", format!("JWT {token}"))
        .json(&serde_json::json!({ "chatId": format!("19:sigkill-{i:04}@thread.v2") }))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// (remote links, comments) of every issue.
fn per_issue(jira: &fakes::jira::Jira) -> Vec<(usize, usize)> {
    (0..CHATS as u64)
        .map(|i| {
            (
                jira.remote_links(ISSUE_BASE + i).len(),
                jira.comments_of(ISSUE_BASE + i).len(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn a_sigkill_while_remote_links_are_written_leaves_each_chat_with_exactly_one_link_and_one_comment()
 {
    let db = TestDb::migrated();
    let state_dir = TempDir::new();
    let (jira_base, jira) = fakes::jira::start("/jira");
    jira.add_user(ALICE_KEY, "alice", "Alice Adams");
    for i in 0..CHATS as u64 {
        jira.add_issue(
            ISSUE_BASE + i,
            &format!("SK-{i}"),
            &format!("Crash item {i}"),
            &[],
        );
    }
    let app = lay_out(&db.url, &state_dir, &jira_base, &jira);
    let port = free_port();
    let env = vec![
        ("JTB__DATABASE__URL", db.url.clone()),
        ("JTB__DATABASE__CONNECT_TIMEOUT_SECS", "2".to_owned()),
        ("JTB__PATHS__STATE_DIR", state_dir.0.display().to_string()),
        ("JTB__LISTEN__INTERNAL", format!("127.0.0.1:{port}")),
        ("JTB__OUTBOX__LEASE_SECS", LEASE_SECS.to_string()),
        ("JTB__LOG__LEVEL", "info".to_owned()),
    ];
    let log = state_dir.0.join("serve.log");

    // first life: Jira stores each write at once but answers it only after 400 ms
    jira.delay_link_answers(400);
    let mut first = Daemon::start(&env, port, &log).await;
    let app = std::sync::Arc::new(app);
    let mut senders = Vec::new();
    for lane in 0..8 {
        let (app, base) = (app.clone(), first.base.clone());
        senders.push(actix_web::rt::spawn(async move {
            let client = reqwest::Client::new();
            let mut got = Vec::new();
            for i in (lane..CHATS).step_by(8) {
                got.push(link(&client, &base, &app, i).await);
            }
            got
        }));
    }
    let mut statuses = Vec::new();
    for s in senders {
        statuses.extend(s.await.unwrap());
    }
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let until = Instant::now() + Duration::from_secs(30);
    let (answered, in_flight, comments_in_flight) = loop {
        let (got, answered) = jira.link_writes();
        let (c_got, c_answered) = jira.comment_posts();
        // writes of both kinds stored by Jira and not yet answered
        if (answered >= CHATS / 4 && got > answered && c_got > c_answered) || Instant::now() > until
        {
            first.kill();
            break (answered, got - answered, c_got - c_answered);
        }
        actix_web::rt::time::sleep(Duration::from_millis(2)).await;
    };
    assert!(
        answered < CHATS && in_flight > 0 && comments_in_flight > 0,
        "the kill came mid-way: {answered} writes answered, {in_flight} links and \
         {comments_in_flight} comments in flight"
    );

    // second life: leases of the dead process expire and every write is done, once
    jira.delay_link_answers(0);
    let second = Daemon::start(&env, port, &log).await;
    let all_linked = holds_within(120, || per_issue(&jira).iter().all(|c| *c == (1, 1))).await;
    // a late repeat would come within a lease: wait one out before counting
    actix_web::rt::time::sleep(Duration::from_secs(LEASE_SECS + 1)).await;
    let counts = per_issue(&jira);
    println!(
        "remote-link SIGKILL: {answered} writes answered and {in_flight} remote-link writes and \
         {comments_in_flight} comments in flight at the kill; afterwards {} links, {} comments for {CHATS} chats",
        counts.iter().map(|c| c.0).sum::<usize>(),
        counts.iter().map(|c| c.1).sum::<usize>(),
    );
    assert!(all_linked, "{counts:?}\n{}", second.log_text());
    assert!(counts.iter().all(|c| *c == (1, 1)), "{counts:?}");
    let mut conn = PgConnection::establish(&db.url).unwrap();
    let states: Vec<String> = issue_chat::table
        .select(issue_chat::remote_link_state)
        .load(&mut conn)
        .unwrap();
    assert_eq!(states.len(), CHATS);
    assert!(states.iter().all(|s| s == "linked"), "{states:?}");
    let not_done: i64 = outbox::table
        .filter(outbox::status.ne("done"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(not_done, 0, "nothing pending or dead");
    drop(second);
}
