//! Jira webhooks into the durable outbox, over real HTTP.

use crate::support::app::{TestApp, between, spawn_app, spawn_app_with};
use crate::support::webhook::fixture;
use diesel::prelude::*;
use jira_teams_bridge::db::schema::{jira_instance, outbox};
use serde_json::Value;

fn hmac(secret: &str, body: &[u8]) -> String {
    use openssl::{hash::MessageDigest, pkey::PKey, sign::Signer};
    let key = PKey::hmac(secret.as_bytes()).unwrap();
    let mut s = Signer::new(MessageDigest::sha256(), &key).unwrap();
    s.update(body).unwrap();
    format!("sha256={}", hex::encode(s.sign_to_vec().unwrap()))
}

struct Hook {
    public_id: String,
    instance: uuid::Uuid,
}

async fn setup(app: &TestApp) -> Hook {
    app.complete_setup().await;
    let (public_id, _) = app.register_instance("https://jira.example.com").await;
    let mut conn = app.db.conn();
    let instance = jira_instance::table
        .filter(jira_instance::public_id.eq(&public_id))
        .select(jira_instance::id)
        .first(&mut conn)
        .unwrap();
    for chat in ["19:aaa@thread.v2", "19:bbb@thread.v2"] {
        diesel::sql_query(format!("INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id) VALUES (gen_random_uuid(), '{instance}', 10045, 'JIRAUSER10100', '{chat}')"))
            .execute(&mut conn)
            .unwrap();
    }
    Hook {
        public_id,
        instance,
    }
}

async fn url_token(app: &TestApp, hook: &Hook) -> String {
    let html = app
        .post_form(
            &format!("/admin/instances/{}/webhook/token", hook.instance),
            &[],
        )
        .await
        .text()
        .await
        .unwrap();
    let url = between(
        &html,
        "<code id=\"webhook-url\" class=\"secret\">",
        "</code>",
    );
    url.split("token=").nth(1).unwrap().to_owned()
}

async fn post(
    app: &TestApp,
    path: &str,
    body: Vec<u8>,
    signature: Option<String>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(path))
        .header("Content-Type", "application/json")
        .body(body);
    if let Some(s) = signature {
        req = req.header("X-Hub-Signature", s);
    }
    req.send().await.unwrap()
}

fn queued(app: &TestApp) -> Vec<(String, Value)> {
    let mut conn = app.db.conn();
    outbox::table
        .order(outbox::id)
        .select((outbox::kind, outbox::payload))
        .load(&mut conn)
        .unwrap()
}

async fn code(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

#[actix_web::test]
async fn an_issue_event_is_queued_once_per_linked_chat_and_repeats_add_nothing() {
    let app = spawn_app().await;
    let hook = setup(&app).await;
    let token = url_token(&app, &hook).await;
    let path = format!("/webhooks/jira/{}?token={token}", hook.public_id);
    let res = post(&app, &path, fixture("issue_updated"), None).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["queued"].as_u64(), body["duplicates"].as_u64()),
        (Some(2), Some(0))
    );
    let rows = queued(&app);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0, "chat_notification");
    let chats: Vec<&str> = rows
        .iter()
        .map(|(_, p)| p["chatId"].as_str().unwrap())
        .collect();
    assert_eq!(chats, vec!["19:aaa@thread.v2", "19:bbb@thread.v2"]);
    assert_eq!(rows[0].1["event"]["issue_key"], "ABC-1");
    assert_eq!(rows[0].1["event"]["changed_fields"][0], "status");
    assert!(!rows[0].1.to_string().contains("alice@example.com"));
    // Jira delivers the same webhook again
    let body: Value = post(&app, &path, fixture("issue_updated"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (body["queued"].as_u64(), body["duplicates"].as_u64()),
        (Some(0), Some(2))
    );
    assert_eq!(queued(&app).len(), 2);
    // an older event arriving late is still queued
    assert_eq!(
        post(&app, &path, fixture("issue_created"), None)
            .await
            .status(),
        200
    );
    assert_eq!(queued(&app).len(), 4);
}

#[actix_web::test]
async fn every_relayed_event_kind_is_accepted_and_others_ignored() {
    let app = spawn_app().await;
    let hook = setup(&app).await;
    let token = url_token(&app, &hook).await;
    let path = format!("/webhooks/jira/{}?token={token}", hook.public_id);
    // (fixture, rows it queues for the two linked chats)
    for (name, rows) in [
        ("issue_created", 2),
        ("issue_updated", 2),
        ("issue_deleted", 2),
        // Jira DC's `comment_*` name the issue only by its id: the fan-out asks Jira for it as a
        // linked user first, and nobody is linked here, so nothing is queued
        ("comment_created", 0),
        ("comment_updated", 0),
        ("comment_deleted", 0),
        // the same comments as `jira:issue_updated` events carry their issue
        ("issue_commented", 2),
        ("issue_comment_edited", 2),
        ("issue_comment_deleted", 2),
    ] {
        let before = queued(&app).len();
        let res = post(&app, &path, fixture(name), None).await;
        assert_eq!(res.status(), 200, "{name}");
        assert_eq!(queued(&app).len() - before, rows, "{name}");
    }
    assert_eq!(queued(&app).len(), 12);
    let res = post(&app, &path, fixture("worklog_created"), None).await;
    assert_eq!(res.status(), 202);
    assert_eq!(queued(&app).len(), 12);
    // broken payloads are refused and queue nothing
    for bad in [
        b"{not json".to_vec(),
        b"[]".to_vec(),
        br#"{"webhookEvent":"jira:issue_updated"}"#.to_vec(),
    ] {
        assert_eq!(
            code(post(&app, &path, bad, None).await).await,
            (400, "invalid_payload".into())
        );
    }
    assert_eq!(queued(&app).len(), 12);
    // an issue without linked chats queues nothing
    let other = String::from_utf8(fixture("issue_updated"))
        .unwrap()
        .replace("\"10045\"", "\"99999\"");
    let body: Value = post(&app, &path, other.into_bytes(), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["queued"], 0);
}

#[actix_web::test]
async fn the_url_token_is_required_and_checked() {
    let app = spawn_app().await;
    let hook = setup(&app).await;
    let base = format!("/webhooks/jira/{}", hook.public_id);
    assert_eq!(
        code(post(&app, &base, fixture("issue_updated"), None).await).await,
        (401, "webhook_not_configured".into())
    );
    let token = url_token(&app, &hook).await;
    assert_eq!(
        code(post(&app, &base, fixture("issue_updated"), None).await).await,
        (401, "webhook_token_invalid".into())
    );
    assert_eq!(
        code(
            post(
                &app,
                &format!("{base}?token=wrong"),
                fixture("issue_updated"),
                None
            )
            .await
        )
        .await,
        (401, "webhook_token_invalid".into())
    );
    // a new token replaces the old one
    let newer = url_token(&app, &hook).await;
    assert_eq!(
        code(
            post(
                &app,
                &format!("{base}?token={token}"),
                fixture("issue_updated"),
                None
            )
            .await
        )
        .await,
        (401, "webhook_token_invalid".into())
    );
    assert_eq!(
        post(
            &app,
            &format!("{base}?token={newer}"),
            fixture("issue_updated"),
            None
        )
        .await
        .status(),
        200
    );
    assert_eq!(queued(&app).len(), 2);
}

#[actix_web::test]
async fn signed_webhooks_are_verified_over_the_raw_body() {
    let app = spawn_app().await;
    let hook = setup(&app).await;
    let token = url_token(&app, &hook).await;
    let html = app
        .post_form(
            &format!("/admin/instances/{}/webhook/secret", hook.instance),
            &[],
        )
        .await
        .text()
        .await
        .unwrap();
    let secret = between(
        &html,
        "<code id=\"webhook-secret\" class=\"secret\">",
        "</code>",
    );
    let page = app
        .get(&format!("/admin/instances/{}/webhook", hook.instance))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("signed deliveries required") && !page.contains(&secret),
        "shown once only"
    );
    let path = format!("/webhooks/jira/{}", hook.public_id);
    let body = fixture("issue_commented");
    assert_eq!(
        code(post(&app, &path, body.clone(), None).await).await,
        (401, "signature_missing".into())
    );
    // once a secret is set, the URL token alone is not enough
    assert_eq!(
        code(post(&app, &format!("{path}?token={token}"), body.clone(), None).await).await,
        (401, "signature_missing".into())
    );
    assert_eq!(
        code(post(&app, &path, body.clone(), Some(hmac("wrong", &body))).await).await,
        (401, "signature_invalid".into())
    );
    assert_eq!(
        code(post(&app, &path, body.clone(), Some("sha1=abcdef".into())).await).await,
        (401, "signature_algorithm".into())
    );
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    assert_eq!(
        code(post(&app, &path, tampered, Some(hmac(&secret, &body))).await).await,
        (401, "signature_invalid".into())
    );
    assert!(queued(&app).is_empty());
    assert_eq!(
        post(&app, &path, body.clone(), Some(hmac(&secret, &body)))
            .await
            .status(),
        200
    );
    assert_eq!(queued(&app).len(), 2);
    // the secret is read through the audited vault
    let mut conn = app.db.conn();
    let kinds: Vec<String> = jira_teams_bridge::db::schema::secret_access_audit::table
        .select(jira_teams_bridge::db::schema::secret_access_audit::secret_kind)
        .load(&mut conn)
        .unwrap();
    assert!(kinds.iter().any(|k| k == "jira_webhook_secret"));
}

#[actix_web::test]
async fn unknown_disabled_and_oversize_deliveries_are_refused() {
    let app = spawn_app_with(|s| s.jira.webhook_max_body_bytes = 2048).await;
    let hook = setup(&app).await;
    let token = url_token(&app, &hook).await;
    assert_eq!(
        code(
            post(
                &app,
                &format!("/webhooks/jira/zzzzzzz?token={token}"),
                fixture("issue_updated"),
                None
            )
            .await
        )
        .await,
        (404, "instance_unknown".into())
    );
    let path = format!("/webhooks/jira/{}?token={token}", hook.public_id);
    let big = format!(
        "{{\"webhookEvent\":\"jira:issue_updated\",\"pad\":\"{}\"}}",
        "x".repeat(4096)
    );
    assert_eq!(
        code(post(&app, &path, big.into_bytes(), None).await).await,
        (413, "payload_too_large".into())
    );
    let mut conn = app.db.conn();
    diesel::sql_query("UPDATE jira_instance SET enabled = false")
        .execute(&mut conn)
        .unwrap();
    assert_eq!(
        code(post(&app, &path, fixture("issue_updated"), None).await).await,
        (403, "instance_disabled".into())
    );
    assert!(queued(&app).is_empty());
}

#[actix_web::test]
async fn webhooks_arriving_together_are_each_committed_and_a_bad_one_fails_alone() {
    let app = spawn_app().await;
    let hook = setup(&app).await;
    let token = url_token(&app, &hook).await;
    let path = format!("/webhooks/jira/{}?token={token}", hook.public_id);
    let event = |n: u64, changelog: String| {
        let mut v: Value = serde_json::from_slice(&fixture("issue_updated")).unwrap();
        v["timestamp"] = Value::from(1_764_100_000_000 + n);
        v["changelog"]["id"] = Value::from(changelog);
        serde_json::to_vec(&v).unwrap()
    };
    // sent at once, so the writer takes several in one statement; the bad one's changelog id is
    // not an identifier (far longer than Jira's numbers), which is refused before it is queued
    let bad = 7;
    let posts: Vec<_> = (0..24u64)
        .map(|n| {
            let changelog = if n == bad {
                "9".repeat(600)
            } else {
                n.to_string()
            };
            let req = app
                .client
                .post(app.url(&path))
                .header("Content-Type", "application/json")
                .body(event(n, changelog));
            actix_web::rt::spawn(async move { req.send().await.unwrap() })
        })
        .collect();
    for (n, task) in posts.into_iter().enumerate() {
        let res = task.await.unwrap();
        if n as u64 == bad {
            assert_eq!(res.status(), 400, "the bad event was refused");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["code"], "invalid_payload");
            assert!(
                body["detail"].as_str().unwrap().contains("changelog.id"),
                "{body}"
            );
        } else {
            assert_eq!(res.status(), 200, "event {n}");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["queued"], 2, "event {n}");
        }
    }
    // every good event's two rows, none of the bad one's
    let rows = queued(&app);
    assert_eq!(rows.len(), 23 * 2);
    assert!(rows.iter().all(|(_, p)| {
        p["event"]["changelog_id"]
            .as_str()
            .is_some_and(|c| c.len() < 600)
    }));
}

#[actix_web::test]
async fn the_same_event_from_two_instances_is_fanned_out_for_each() {
    // Jira numbers issues and comments from 10000 on every site: two instances send events
    // with the same ids, and each instance's linked people must hear of their own
    let app = spawn_app().await;
    let a = setup(&app).await;
    let (public_b, _) = app.register_instance("https://jira-b.example.com").await;
    let mut conn = app.db.conn();
    let b = Hook {
        instance: jira_instance::table
            .filter(jira_instance::public_id.eq(&public_b))
            .select(jira_instance::id)
            .first(&mut conn)
            .unwrap(),
        public_id: public_b,
    };
    for hook in [&a, &b] {
        diesel::sql_query(format!(
            "INSERT INTO user_mapping (id, jira_instance_id, jira_user_key, ms_tenant_id, ms_user_id) \
             VALUES (gen_random_uuid(), '{}', 'JIRAUSER10100', gen_random_uuid(), gen_random_uuid())",
            hook.instance
        ))
        .execute(&mut conn)
        .unwrap();
    }
    for hook in [&a, &b] {
        let token = url_token(&app, hook).await;
        let res = post(
            &app,
            &format!("/webhooks/jira/{}?token={token}", hook.public_id),
            fixture("issue_commented"),
            None,
        )
        .await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }
    let fanouts: Vec<Option<uuid::Uuid>> = outbox::table
        .filter(outbox::kind.eq("event_fanout"))
        .select(outbox::jira_instance_id)
        .order(outbox::id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(fanouts, vec![Some(a.instance), Some(b.instance)]);
}
