//! Edits and deletions of a Jira comment replace the card the bot posted for it, in place
//! (Bot Connector `PUT .../activities/{id}`, PROTOCOLS.md §3.3), in linked chats, personal chats
//! and subscribed channels; a card that is unknown (posted before the appliance remembered
//! cards) or gone from Teams is posted anew; failures of an update are handled as for a send.

use crate::fakes::bot::Scripted;
use crate::support::cards::{ALICE_CHAT, CHANNEL, cards};

#[actix_web::test]
async fn an_edited_then_deleted_comment_updates_its_one_card_in_the_linked_chat() {
    let c = cards().await;
    c.comment("comment_created", 1_000).await;
    assert_eq!(c.posted(&c.chat), ["ABC-1: Dave commented"]);
    let card = c.posted_ids(&c.chat)[0].clone();

    c.comment("comment_updated", 2_000).await;
    assert_eq!(c.posted(&c.chat).len(), 1, "an edit posts no new card");
    assert_eq!(
        c.updates(&c.chat),
        [(card.clone(), "ABC-1: Dave edited a comment".to_owned())]
    );
    let edited = &c.s.bot.updated_for(&c.chat)[0].1;
    assert_eq!(
        edited["attachments"][0]["content"]["body"][1]["text"], "Dave edited a comment",
        "the same card layout"
    );

    c.comment("comment_deleted", 3_000).await;
    assert_eq!(c.posted(&c.chat).len(), 1, "a deletion posts no new card");
    let updates = c.s.bot.updated_for(&c.chat);
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[1].0, card);
    assert_eq!(updates[1].1["text"], "ABC-1: Dave deleted a comment");
    assert!(
        !updates[1].1.to_string().contains("toner"),
        "a deleted comment's content is not shown"
    );
}

#[actix_web::test]
async fn an_edit_of_a_comment_whose_card_is_unknown_posts_a_new_card_that_later_edits_update() {
    let c = cards().await;
    // the comment was made before the appliance remembered cards: its first event is an edit
    c.comment("comment_updated", 2_000).await;
    assert_eq!(c.posted(&c.chat), ["ABC-1: Dave edited a comment"]);
    assert!(c.updates(&c.chat).is_empty());
    let card = c.posted_ids(&c.chat)[0].clone();
    c.comment("comment_updated", 3_000).await;
    assert_eq!(c.posted(&c.chat).len(), 1);
    assert_eq!(
        c.updates(&c.chat),
        [(card, "ABC-1: Dave edited a comment".to_owned())]
    );
}

#[actix_web::test]
async fn a_card_gone_from_teams_is_posted_anew_when_its_comment_is_edited() {
    let c = cards().await;
    c.comment("comment_created", 1_000).await;
    let first = c.posted_ids(&c.chat)[0].clone();
    c.s.bot.delete_message(&c.chat, &first);
    // Teams answers 404 to the update: a new card is posted instead, and remembered
    c.comment("comment_updated", 2_000).await;
    assert_eq!(
        c.posted(&c.chat),
        ["ABC-1: Dave commented", "ABC-1: Dave edited a comment"]
    );
    assert!(c.updates(&c.chat).is_empty());
    let second = c.posted_ids(&c.chat)[1].clone();
    c.comment("comment_deleted", 3_000).await;
    assert_eq!(c.posted(&c.chat).len(), 2);
    assert_eq!(
        c.updates(&c.chat),
        [(second, "ABC-1: Dave deleted a comment".to_owned())]
    );
}

#[actix_web::test]
async fn an_older_edit_arriving_late_does_not_overwrite_a_newer_card() {
    let c = cards().await;
    c.comment("comment_created", 1_000).await;
    c.comment("comment_deleted", 3_000).await;
    // Jira DC sends webhooks asynchronously: the edit made before the deletion comes last
    c.comment("comment_updated", 2_000).await;
    let updates = c.updates(&c.chat);
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0].1, "ABC-1: Dave deleted a comment");
    assert_eq!(c.posted(&c.chat).len(), 1);
}

#[actix_web::test]
async fn a_persons_card_for_a_comment_is_updated_in_their_own_chat() {
    let c = cards().await;
    c.comment("comment_created", 1_000).await;
    let mine = c.posted(ALICE_CHAT);
    assert_eq!(mine, ["You are the assignee · ABC-1: Dave commented"]);
    let card = c.posted_ids(ALICE_CHAT)[0].clone();
    c.comment("comment_updated", 2_000).await;
    assert_eq!(c.posted(ALICE_CHAT).len(), 1, "{:?}", c.posted(ALICE_CHAT));
    assert_eq!(
        c.updates(ALICE_CHAT),
        [(
            card,
            "You are the assignee · ABC-1: Dave edited a comment".to_owned()
        )]
    );
    // the linked chat's card is a different activity, updated on its own
    let chat_card = c.posted_ids(&c.chat)[0].clone();
    assert_eq!(
        c.updates(&c.chat),
        [(chat_card, "ABC-1: Dave edited a comment".to_owned())]
    );
}

#[actix_web::test]
async fn a_subscribed_channels_comment_card_is_updated_in_place() {
    let c = cards().await;
    c.subscribe(CHANNEL, "comments").await;
    c.comment("comment_created", 1_000).await;
    assert_eq!(c.posted(CHANNEL), ["ABC-1: Dave commented"]);
    let card = c.posted_ids(CHANNEL)[0].clone();
    c.comment("comment_updated", 2_000).await;
    c.comment("comment_deleted", 3_000).await;
    assert_eq!(c.posted(CHANNEL).len(), 1);
    assert_eq!(
        c.updates(CHANNEL),
        [
            (card.clone(), "ABC-1: Dave edited a comment".to_owned()),
            (card, "ABC-1: Dave deleted a comment".to_owned())
        ]
    );
}

#[actix_web::test]
async fn a_throttled_update_is_retried_and_a_blocked_one_stops_deliveries_to_the_chat() {
    let c = cards().await;
    // nobody but the linked chat hears of these comments, so the scripted answers are its own
    c.comment_with_assignee("comment_created", 1_000, "dave")
        .await;
    let card = c.posted_ids(&c.chat)[0].clone();
    // the update is throttled once, then a gateway fails: retried, never posted as a new card
    c.s.bot
        .script(&[Scripted::Throttled(1), Scripted::Status(502)]);
    let tries = c.s.bot.attempts.lock().unwrap().len();
    c.comment_with_assignee("comment_updated", 2_000, "dave")
        .await;
    assert_eq!(c.posted(&c.chat).len(), 1);
    assert_eq!(
        c.updates(&c.chat),
        [(card, "ABC-1: Dave edited a comment".to_owned())]
    );
    assert!(c.s.bot.attempts.lock().unwrap().len() - tries >= 3);
    // the chat blocks the bot: the update fails for good and the chat is marked blocked
    c.s.bot.script(&[Scripted::Blocked]);
    c.comment_with_assignee("comment_deleted", 3_000, "dave")
        .await;
    assert_eq!(c.updates(&c.chat).len(), 1);
    assert_eq!(c.posted(&c.chat).len(), 1);
    assert_eq!(c.membership_status(&c.chat), "messageWritesBlocked");
}

#[test]
fn cards_unused_for_90_days_are_forgotten_when_another_is_remembered() {
    use diesel::prelude::*;
    use jira_teams_bridge::db::models::posted_card::{CardKey, PostedCard};
    let db = crate::support::db::TestDb::migrated();
    let mut conn = db.conn();
    diesel::sql_query("INSERT INTO jira_instance (id, base_url, public_id, shared_secret, shared_secret_hint) \
        VALUES ('00000000-0000-4000-8000-000000000001', 'https://jira.example.com', 'tHXLY2', decode(repeat('ab', 40), 'hex'), 'NqM6OM')")
        .execute(&mut conn)
        .unwrap();
    let key = |comment: &str, conversation: &str| CardKey {
        conversation_id: conversation.to_owned(),
        jira_instance_id: uuid::Uuid::parse_str("00000000-0000-4000-8000-000000000001").unwrap(),
        issue_id: 10045,
        comment_id: comment.to_owned(),
    };
    PostedCard::remember(&mut conn, &key("1", "19:old@thread.v2"), "1:1", 1, false).unwrap();
    PostedCard::remember(&mut conn, &key("2", "19:recent@thread.v2"), "1:2", 1, false).unwrap();
    diesel::sql_query(
        "UPDATE posted_card SET updated_at = now() - interval '91 days' WHERE comment_id = '1'",
    )
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query(
        "UPDATE posted_card SET updated_at = now() - interval '89 days' WHERE comment_id = '2'",
    )
    .execute(&mut conn)
    .unwrap();
    PostedCard::remember(&mut conn, &key("3", "a:someone"), "1:3", 1, false).unwrap();
    assert!(
        PostedCard::find(&mut conn, &key("1", "19:old@thread.v2"))
            .unwrap()
            .is_none()
    );
    let recent = PostedCard::find(&mut conn, &key("2", "19:recent@thread.v2")).unwrap();
    assert_eq!(recent.unwrap().activity_id, "1:2");
    // remembering again moves a card to its new activity and keeps it another 90 days
    PostedCard::remember(&mut conn, &key("2", "19:recent@thread.v2"), "1:4", 2, false).unwrap();
    let moved = PostedCard::find(&mut conn, &key("2", "19:recent@thread.v2"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (moved.activity_id.as_str(), moved.last_event_ms),
        ("1:4", 2)
    );
    assert!(moved.updated_at > chrono::Utc::now() - chrono::Duration::minutes(1));
}
