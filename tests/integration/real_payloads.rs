//! The webhook bodies and Teams activities captured from real systems
//! (`../shared/real-payloads/`, listed with their sources in its `SOURCES.md`; they are other
//! projects' data and are not in this repository), sent byte for byte: Jira's to a registered
//! instance whose chat is linked to the payload's issue, Teams' with only the service URL and the
//! bot's id adapted to the doubles (so that the token checks pass). Every Jira one must be answered
//! 2xx and every Teams one without a server error, and no comment may be announced twice in the linked chat. Prints what the appliance
//! answered and what the linked chat received, per file.
//!
//! Run on a machine that has the captures:
//! `cargo test --test integration real_payloads -- --ignored --nocapture`
//! (`JTB_REAL_PAYLOADS` names another directory).

use std::collections::BTreeMap;
use std::path::PathBuf;

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::fakes;
use crate::support::cards::{Cards, cards};
use crate::support::world::ALICE_KEY;

/// A payload as sent: Jira's timestamp, the file's name, its bytes and what they parse to.
type Sent = (i64, String, Vec<u8>, Value);

fn payloads() -> Option<PathBuf> {
    let dir = std::env::var_os("JTB_REAL_PAYLOADS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/real-payloads")
        });
    dir.is_dir().then_some(dir)
}

fn files(dir: &PathBuf) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The issue a Jira payload is about: its id, and its key and summary when it says them.
fn issue_of(v: &Value) -> Option<(u64, Option<String>, Option<String>)> {
    if let Some(i) = v.get("issue") {
        let id = i["id"].as_str().and_then(|s| s.parse().ok())?;
        return Some((
            id,
            i["key"].as_str().map(str::to_owned),
            i["fields"]["summary"].as_str().map(str::to_owned),
        ));
    }
    let url = v["comment"]["self"].as_str()?;
    let id = url
        .split("/issue/")
        .nth(1)?
        .split('/')
        .next()?
        .parse()
        .ok()?;
    Some((id, None, None))
}

/// The new cards (posted and updated) of a conversation since `before`.
fn texts_since(c: &Cards, conversation: &str, before: (usize, usize)) -> Vec<String> {
    let posted = c.posted(conversation);
    let updated = c.updates(conversation);
    let mut out: Vec<String> = posted[before.0..]
        .iter()
        .map(|t| format!("posted \"{t}\""))
        .collect();
    out.extend(
        updated[before.1..]
            .iter()
            .map(|(_, t)| format!("updated \"{t}\"")),
    );
    out
}

#[actix_web::test]
#[ignore = "reads ../shared/real-payloads, which is not in the repository"]
async fn every_real_jira_payload_is_answered_and_no_comment_is_announced_twice() {
    let Some(dir) = payloads() else {
        println!("no real payloads here; nothing sent");
        return;
    };
    // one world per issue, its payloads in the order Jira sent them
    let mut by_issue: BTreeMap<u64, Vec<Sent>> = BTreeMap::new();
    let mut unnamed = Vec::new();
    for (name, bytes) in files(&dir.join("jira-webhook")) {
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let ts = v["timestamp"].as_i64().unwrap_or(0);
        match issue_of(&v) {
            Some((id, ..)) => by_issue.entry(id).or_default().push((ts, name, bytes, v)),
            None => unnamed.push((name, bytes)),
        }
    }
    let mut table = vec![
        "| file | answer | linked chat received |".to_owned(),
        "|---|---|---|".to_owned(),
    ];
    for (issue, mut sent) in by_issue {
        sent.sort_by_key(|(ts, name, ..)| (*ts, name.clone()));
        let c = cards().await;
        let (key, summary) = sent
            .iter()
            .find_map(|(.., v)| match issue_of(v) {
                Some((_, Some(k), s)) => Some((k, s.unwrap_or_default())),
                _ => None,
            })
            .unwrap_or_else(|| (format!("X-{issue}"), "an issue".into()));
        c.s.w.jira.add_issue(issue, &key, &summary, &[]);
        let mut conn = c.s.w.conn();
        diesel::sql_query(
            "INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id) \
             VALUES (gen_random_uuid(), $1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind::<diesel::sql_types::Uuid, _>(c.s.w.instance_id)
        .bind::<diesel::sql_types::BigInt, _>(issue as i64)
        .bind::<diesel::sql_types::Text, _>(ALICE_KEY)
        .bind::<diesel::sql_types::Text, _>(&c.chat)
        .execute(&mut conn)
        .unwrap();
        drop(conn);
        let mut comment_creations = std::collections::HashSet::new();
        for (_, name, bytes, v) in &sent {
            let before = (c.posted(&c.chat).len(), c.updates(&c.chat).len());
            let res =
                c.s.w
                    .app
                    .client
                    .post(c.s.w.app.url(&c.hook))
                    .header("Content-Type", "application/json")
                    .body(bytes.clone())
                    .send()
                    .await
                    .unwrap();
            let status = res.status().as_u16();
            let answer: Value = res.json().await.unwrap_or(Value::Null);
            c.settle().await;
            let got = texts_since(&c, &c.chat, before);
            table.push(format!(
                "| {name} | {status} {} | {} |",
                answer["status"]
                    .as_str()
                    .or(answer["code"].as_str())
                    .unwrap_or(""),
                if got.is_empty() {
                    "nothing".to_owned()
                } else {
                    got.join("; ")
                }
            ));
            assert!(status == 200 || status == 202, "{name}: {status} {answer}");
            let event = v["issue_event_type_name"]
                .as_str()
                .or(v["webhookEvent"].as_str())
                .unwrap_or_default();
            if let Some(id) = v["comment"]["id"].as_str()
                && (event == "comment_created" || event == "issue_commented")
            {
                comment_creations.insert(id.to_owned());
            }
        }
        let announced = c
            .posted(&c.chat)
            .iter()
            .filter(|t| t.ends_with(" commented"))
            .count();
        assert!(
            announced <= comment_creations.len().max(1),
            "issue {issue}: {announced} \"commented\" cards for {} comments",
            comment_creations.len()
        );
    }
    // events the appliance does not relay (they name no issue it could announce)
    let c = cards().await;
    for (name, bytes) in unnamed {
        let res =
            c.s.w
                .app
                .client
                .post(c.s.w.app.url(&c.hook))
                .header("Content-Type", "application/json")
                .body(bytes)
                .send()
                .await
                .unwrap();
        let status = res.status().as_u16();
        let answer: Value = res.json().await.unwrap_or(Value::Null);
        table.push(format!(
            "| {name} | {status} {} | nothing (no chat is linked to what it names) |",
            answer["status"].as_str().unwrap_or("")
        ));
        assert_eq!(status, 202, "{name}: {answer}");
    }
    println!("{}", table.join("\n"));
}

#[actix_web::test]
#[ignore = "reads ../shared/real-payloads, which is not in the repository"]
async fn every_real_teams_activity_is_answered() {
    let Some(dir) = payloads() else {
        println!("no real payloads here; nothing sent");
        return;
    };
    let c = cards().await;
    let mut table = vec![
        "| file | answer | what the bot sent back |".to_owned(),
        "|---|---|---|".to_owned(),
    ];
    for (name, bytes) in files(&dir.join("teams-activity")) {
        let mut a: Value = serde_json::from_slice(&bytes).unwrap();
        a["serviceUrl"] = json!(c.s.bot.service_url());
        a["recipient"]["id"] = json!(format!("28:{}", fakes::entra::CLIENT_ID));
        a["channelId"] = json!("msteams");
        let conversation = a["conversation"]["id"].as_str().unwrap_or("").to_owned();
        let before = c.s.bot.received_for(&conversation).len();
        let res = c.s.post_signed(&a).await;
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        c.settle().await;
        let sent: Vec<String> = c.s.bot.received_for(&conversation)[before..]
            .iter()
            .map(|m| {
                m["text"]
                    .as_str()
                    .unwrap_or("(card)")
                    .replace('\n', " ")
                    .chars()
                    .take(60)
                    .collect()
            })
            .collect();
        let shown: String = body.chars().take(80).collect();
        table.push(format!(
            "| {name} | {status} {} | {} |",
            shown.replace('|', "/"),
            if sent.is_empty() {
                "nothing".to_owned()
            } else {
                sent.join("; ").replace('|', "/")
            }
        ));
        // answered, never a server error (an invoke naming no tenant, as Teams sent them before
        // 2018, is refused as such)
        assert!(status < 500, "{name}: {status} {body}");
    }
    println!("{}", table.join("\n"));
}
