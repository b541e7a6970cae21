//! Message-extension invokes answered only with response types Microsoft documents for each
//! (PROTOCOLS.md §6.1, §6.4), also when the sender cannot link a Jira account because no
//! instance has an OAuth link yet: a `task` message for `fetchTask` and `submitAction`, an
//! empty `result` for `queryLink` (the pasted URL stays a plain link), `message` for a search.

use serde_json::{Value, json};

use crate::fakes;
use crate::support::bot::{BotWorld, bot_world};
use crate::support::jwt::BOT_ID;
use crate::support::world::CAROL_OID;

/// Posts an invoke from Carol, who is not linked, and returns the answer's body.
async fn invoke(s: &BotWorld, name: &str, value: Value) -> Value {
    let activity = json!({
        "type": "invoke", "name": name, "value": value,
        "id": format!("inv-{}", uuid::Uuid::new_v4()), "channelId": "msteams",
        "serviceUrl": s.bot.service_url(),
        "from": {"id": "29:carol", "aadObjectId": CAROL_OID, "name": "Carol"},
        "recipient": {"id": format!("28:{BOT_ID}")},
        "conversation": {"id": "a:1carol-personal", "conversationType": "personal", "tenantId": fakes::entra::TENANT_ID},
    });
    let res = s.post_signed(&activity).await;
    assert_eq!(res.status(), 200, "{name}");
    res.json().await.unwrap()
}

fn invokes(s: &BotWorld) -> [(&'static str, Value); 4] {
    let message = json!({"id": "1700000000000", "body": {"contentType": "text", "content": "Printer on fire"}});
    [
        (
            "composeExtension/fetchTask",
            json!({"commandId": "createFromMessage", "commandContext": "message", "messagePayload": message}),
        ),
        (
            "composeExtension/submitAction",
            json!({"commandId": "createFromMessage", "commandContext": "message",
                   "data": {"action": "createIssue", "target": format!("{}:ABC:10001", s.w.jira_app.public_id),
                            "summary": "Printer on fire", "nonce": "n-1"}}),
        ),
        (
            "composeExtension/queryLink",
            json!({"url": format!("{}/browse/ABC-1", s.w.jira.base)}),
        ),
        (
            "composeExtension/query",
            json!({"commandId": "searchIssues", "parameters": [{"name": "query", "value": "printer"}]}),
        ),
    ]
}

#[actix_web::test]
async fn an_unlinked_sender_is_offered_the_sign_in_link_by_every_message_extension_invoke() {
    let s = bot_world().await;
    s.w.jira.add_issue(10045, "ABC-1", "Printer on fire", &[]);
    for (name, value) in invokes(&s) {
        let answer = invoke(&s, name, value).await;
        assert_eq!(
            answer["composeExtension"]["type"], "auth",
            "{name}: {answer}"
        );
        let action = &answer["composeExtension"]["suggestedActions"]["actions"][0];
        assert_eq!(action["type"], "openUrl", "{name}: {answer}");
        assert!(
            action["value"].as_str().unwrap().starts_with("http"),
            "{name}: {answer}"
        );
        assert!(!answer.to_string().contains("Printer"), "{name}: {answer}");
    }
}

#[actix_web::test]
async fn without_an_instance_ready_for_linking_each_invoke_answers_with_a_type_documented_for_it() {
    let s = bot_world().await;
    s.w.jira.add_issue(10045, "ABC-1", "Printer on fire", &[]);
    let res =
        s.w.app
            .post_form(
                &format!("/admin/instances/{}/oauth/remove", s.w.instance_id),
                &[],
            )
            .await;
    assert_eq!(res.status(), 200);
    let told = "Link your Jira account first";
    for (name, value) in invokes(&s) {
        let answer = invoke(&s, name, value).await;
        assert!(!answer.to_string().contains("Printer"), "{name}: {answer}");
        match name {
            // a dialog answer: Teams shows the text in place of the dialog
            "composeExtension/fetchTask" | "composeExtension/submitAction" => {
                assert_eq!(answer["task"]["type"], "message", "{name}: {answer}");
                assert!(answer["task"]["value"].as_str().unwrap().contains(told));
                assert!(answer.get("composeExtension").is_none(), "{name}: {answer}");
            }
            // result, auth and config only: nothing to unfurl leaves the link as it is
            "composeExtension/queryLink" => assert_eq!(
                answer,
                json!({"composeExtension": {"type": "result", "attachmentLayout": "list", "attachments": []}}),
            ),
            // a search may answer with a message
            _ => {
                assert_eq!(
                    answer["composeExtension"]["type"], "message",
                    "{name}: {answer}"
                );
                assert!(
                    answer["composeExtension"]["text"]
                        .as_str()
                        .unwrap()
                        .contains(told)
                );
            }
        }
    }
}
