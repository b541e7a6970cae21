//! A chat attached from Teams keeps its history among its members: whoever attached it cannot
//! share it with everyone who can see the issue (a chat started from the issue can be shared).

use serde_json::json;

use crate::support::bot::bot_world;
use crate::support::issue_pages::{get, post};
use crate::support::jira_user::signed_in;
use crate::support::wait::eventually;
use crate::support::world::{ALICE_KEY, ALICE_OID, BOB_KEY, BOB_OID, ISSUE};

#[actix_web::test]
async fn a_chat_attached_from_teams_cannot_be_shared_from_the_issue_page() {
    let s = bot_world().await;
    let w = &s.w;
    w.jira.add_issue(ISSUE, "ABC-1", "Printer on fire", &[]);
    assert_eq!(w.link(ALICE_KEY, ALICE_OID).await.0, 200);
    assert_eq!(w.link(BOB_KEY, BOB_OID).await.0, 200);
    let group = "19:attachedhistory0123456789ab@thread.v2";
    w.graph
        .add_group_chat(group, &[ALICE_OID, BOB_OID], Some("Printer war room"));
    let mut attach = s.activity_fixture("group_chat_attach");
    attach["id"] = json!("share-attach-1");
    attach["text"] = json!("<at>Jira</at> attach ABC-1");
    attach["from"] = json!({"id": "29:alice-teams-id", "aadObjectId": ALICE_OID});
    attach["conversation"]["id"] = json!(group);
    assert_eq!(s.post_signed(&attach).await.status(), 200);
    eventually("the chat attached", 20, || {
        s.bot
            .received_for(group)
            .iter()
            .any(|a| a.to_string().contains("linked to ABC-1"))
    })
    .await;
    let (link, attached): (uuid::Uuid, bool) = {
        use diesel::prelude::*;
        use jira_teams_bridge::db::schema::issue_chat;
        issue_chat::table
            .select((issue_chat::id, issue_chat::attached))
            .first(&mut w.conn())
            .unwrap()
    };
    assert!(attached);

    // Alice attached it, so she is its creator on the issue page, but no Share is offered
    let alice = signed_in(w, ALICE_KEY).await;
    let chat = format!("/jira/{}/issues/{ISSUE}/chats/{link}", w.jira_app.public_id);
    let page = get(w, &alice, &chat).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("attached from Teams"), "{}", page.html);
    assert!(!page.html.contains("Share with everyone"), "{}", page.html);
    assert!(
        page.html.contains("Unlink from the issue"),
        "unlinking stays possible"
    );

    // a forged form is refused and nothing is shared
    let res = post(w, &alice, &format!("{chat}/share"), &[("to", "shared")]).await;
    assert_eq!(res.status, 409, "{}", res.html);
    assert!(res.html.contains("stays private to them"), "{}", res.html);
    let page = get(w, &alice, &chat).await;
    assert!(
        page.html.contains("Private to its members"),
        "{}",
        page.html
    );
    use diesel::prelude::*;
    let shared: i64 = jira_teams_bridge::db::schema::shared_chat_access::table
        .count()
        .get_result(&mut w.conn())
        .unwrap();
    assert_eq!(shared, 0);
}
