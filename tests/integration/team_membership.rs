//! The bot's membership of a Teams team as Teams really reports it (issue 14): the bot is added
//! in one channel, a subscription lives in another, and the removal (or the app's uninstall)
//! arrives from a third, naming the team only by `channelData.team.id`. Every channel of the
//! team must stop getting cards, the data inventory must show the team's rows removed, and a new
//! install must bring them back. Activities are the fixtures in `fixtures/teams/` (their README
//! names the real shape each stands for).

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::support::bot::{BotWorld, bot_world};
use crate::support::wait::outbox_settled;
use crate::support::webhook::webhook_path;
use crate::support::world::{ALICE_KEY, ALICE_OID};

/// The team of the fixtures, and three of its channels.
const TEAM: &str = "19:Kq3vX8pLm2Rt5Wz9Yb1Nc4Hd7Jf0Gs6A@thread.tacv2";
/// Where the bot was added ("Releases", the selected channel).
const ADDED_IN: &str = "19:5e1f0c6a2b9d4e7f8a3b1c2d4e6f8a0b@thread.tacv2";
/// Where Alice subscribed the channel to ABC.
const SUBSCRIBED: &str = "19:9d7c5b3a1e0f4c2d8b6a4e2c0a8f6d4b@thread.tacv2";
/// Where Teams reports the removal from ("Incidents").
const REMOVED_FROM: &str = "19:3b8e1d6f0a2c4e9b7d5f3a1c8e6b4d2f@thread.tacv2";

struct Team {
    s: BotWorld,
    hook: String,
    /// Jira events sent so far (each one new, so none is a repeat of another).
    sent: std::cell::Cell<i64>,
}

/// Alice linked, ABC-1 visible to her, the bot added to the team in one channel and ABC
/// subscribed in another; checks that the subscription works before anything is removed.
async fn team_with_a_subscription() -> Team {
    let s = bot_world().await;
    s.w.jira.add_issue(10045, "ABC-1", "Printer on fire", &[]);
    s.w.link(ALICE_KEY, ALICE_OID).await;
    let hook = webhook_path(&s.w).await;
    let t = Team {
        s,
        hook,
        sent: std::cell::Cell::new(0),
    };
    t.teams("team_bot_added").await;
    t.teams("channel_subscribe").await;
    t.settle().await;
    let thread = format!("{SUBSCRIBED};messageid=1764230400123");
    let answers: Vec<Value> = t.s.bot.received_for(&thread);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert!(
        answers[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Subscribed"),
        "{answers:?}"
    );
    t.jira_update().await;
    assert_eq!(
        t.cards(SUBSCRIBED),
        1,
        "the subscription works to begin with"
    );
    t
}

impl Team {
    /// Posts a fixture activity with a valid token; Teams must get its 200.
    async fn teams(&self, fixture: &str) {
        self.teams_activity(self.s.activity_fixture(fixture)).await;
    }

    async fn teams_activity(&self, activity: Value) {
        let res = self.s.post_signed(&activity).await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }

    /// Jira reports a new change to ABC-1 (by someone else than Alice); waits until it is
    /// handled.
    async fn jira_update(&self) {
        let n = self.sent.get() + 1;
        self.sent.set(n);
        let body = json!({
            "timestamp": 1_764_300_000_000_i64 + n,
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_generic",
            "user": {"key": "dave", "name": "dave", "displayName": "Dave D"},
            "issue": {"id": "10045", "key": "ABC-1", "fields": {
                "summary": "Printer on fire",
                "project": {"key": "ABC", "id": "10000"},
            }},
            "changelog": {"id": (20_000 + n).to_string(), "items": [{"field": "priority", "fromString": "Low", "toString": format!("P{n}")}]},
        });
        let res = self
            .s
            .w
            .app
            .client
            .post(self.s.w.app.url(&self.hook))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
        self.settle().await;
    }

    async fn settle(&self) {
        outbox_settled(&self.s.w.app.db.url, 15).await;
    }

    /// Cards (activities with attachments) a channel received.
    fn cards(&self, channel: &str) -> usize {
        self.s
            .bot
            .received_for(channel)
            .iter()
            .filter(|a| a["attachments"].is_array())
            .count()
    }

    /// (conversation, team, status) of every membership row, by conversation.
    fn memberships(&self) -> Vec<(String, Option<String>, String)> {
        use jira_teams_bridge::db::schema::bot_membership as b;
        b::table
            .order(b::conversation_id)
            .select((b::conversation_id, b::team_id, b::status))
            .load(&mut self.s.w.conn())
            .unwrap()
    }

    /// Outbox rows of `kind` by status.
    fn outbox(&self, kind: &str) -> Vec<String> {
        use jira_teams_bridge::db::schema::outbox;
        outbox::table
            .filter(outbox::kind.eq(kind))
            .select(outbox::status)
            .load(&mut self.s.w.conn())
            .unwrap()
    }
}

fn rows(statuses: [(&str, &str); 2]) -> Vec<(String, Option<String>, String)> {
    let mut v: Vec<_> = statuses
        .iter()
        .map(|(c, s)| ((*c).to_owned(), Some(TEAM.to_owned()), (*s).to_owned()))
        .collect();
    v.sort();
    v
}

#[actix_web::test]
async fn a_bot_removed_from_a_team_in_another_channel_stops_the_teams_cards_and_shows_removed() {
    let t = team_with_a_subscription().await;
    assert_eq!(
        t.memberships(),
        rows([
            (ADDED_IN, "teamMemberAdded"),
            (SUBSCRIBED, "teamMemberAdded")
        ]),
        "both channels are known as the team's"
    );
    // someone else leaving the team is not the bot leaving it
    t.teams("team_user_removed").await;
    t.jira_update().await;
    assert_eq!(t.cards(SUBSCRIBED), 2);

    // Teams reports the bot's removal from a channel it was neither added in nor subscribed in
    t.teams("team_bot_removed").await;
    assert_eq!(
        t.memberships(),
        rows([
            (ADDED_IN, "teamMemberRemoved"),
            (SUBSCRIBED, "teamMemberRemoved")
        ]),
        "every channel of the team is removed, and no stray row for the reporting channel"
    );
    t.jira_update().await;
    assert_eq!(t.cards(SUBSCRIBED), 2, "nothing more reaches the team");
    assert_eq!(
        t.outbox("chat_notification"),
        vec!["done", "done"],
        "nothing is queued for a removed channel, so nothing fails there either"
    );
    assert!(t.s.bot.received_for(REMOVED_FROM).is_empty());

    // the admin's data inventory says so
    let html =
        t.s.w
            .app
            .get("/admin/data/bot_membership")
            .await
            .text()
            .await
            .unwrap();
    for channel in [ADDED_IN, SUBSCRIBED] {
        let row = html
            .split("<tr")
            .find(|r| r.contains(channel))
            .unwrap_or_else(|| panic!("no row for {channel} in {html}"));
        assert!(row.contains("teamMemberRemoved"), "{row}");
        assert!(row.contains(&format!("Platform Team ({TEAM})")), "{row}");
    }
    assert!(!html.contains("teamMemberAdded"), "{html}");
}

#[actix_web::test]
async fn uninstalling_the_app_from_a_team_stops_every_channel_and_a_new_install_resumes_them() {
    let t = team_with_a_subscription().await;
    // a team id that is no team's (a group chat's thread) is not trusted: only the reporting
    // channel is recorded, the team's channels keep their cards
    let mut forged = t.s.activity_fixture("team_app_uninstalled");
    forged["channelData"]["team"]["id"] = json!("19:notateam@thread.v2");
    t.teams_activity(forged).await;
    let mut expected = vec![
        (
            ADDED_IN.to_owned(),
            Some(TEAM.to_owned()),
            "teamMemberAdded".to_owned(),
        ),
        (
            REMOVED_FROM.to_owned(),
            None,
            "installationRemoved".to_owned(),
        ),
        (
            SUBSCRIBED.to_owned(),
            Some(TEAM.to_owned()),
            "teamMemberAdded".to_owned(),
        ),
    ];
    expected.sort();
    assert_eq!(t.memberships(), expected);
    t.jira_update().await;
    assert_eq!(t.cards(SUBSCRIBED), 2);

    // the real uninstall, reported from that same channel, reaches the whole team
    t.teams("team_app_uninstalled").await;
    let removed = t.memberships();
    assert_eq!(removed.len(), 3);
    assert!(
        removed
            .iter()
            .all(|(_, team, s)| team.as_deref() == Some(TEAM) && s == "installationRemoved"),
        "{removed:?}"
    );
    t.jira_update().await;
    assert_eq!(
        t.cards(SUBSCRIBED),
        2,
        "nothing reaches an uninstalled team"
    );

    // installed again: the bot is in every channel of the team again, the subscription included
    t.teams("team_bot_added").await;
    let back = t.memberships();
    assert!(
        back.iter().all(|(_, _, s)| s == "teamMemberAdded"),
        "{back:?}"
    );
    t.jira_update().await;
    assert_eq!(t.cards(SUBSCRIBED), 3);
}
