//! Issue ↔ chat links and shared access through the signed API.

use crate::support::jwt::{app_with_instance, call};
use serde_json::{Value, json};

const CHAT: &str = "19:91571ee8ad174aefaccd2e4605d87a24@thread.v2";
const ALICE: &str = "JIRAUSER10100";
const BOB: &str = "JIRAUSER10200";

#[actix_web::test]
async fn a_linked_chat_is_private_to_its_creator_until_shared() {
    let (app, jira) = app_with_instance().await;
    let res = call(
        &app,
        &jira,
        "POST",
        "/api/v1/issues/10045/chats",
        ALICE,
        Some(json!({"chatId": CHAT})),
    )
    .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["createdBy"], ALICE);
    assert_eq!(body["access"]["publicAccess"], "none");

    let mine: Value = call(
        &app,
        &jira,
        "GET",
        "/api/v1/issues/10045/chats",
        ALICE,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let bobs: Value = call(&app, &jira, "GET", "/api/v1/issues/10045/chats", BOB, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        bobs["items"].as_array().unwrap().len(),
        0,
        "private: Bob does not see it"
    );
    let access = format!("/api/v1/issues/10045/chats/{CHAT}/access");
    assert_eq!(
        call(&app, &jira, "GET", &access, BOB, None).await.status(),
        404
    );

    // Bob may not share Alice's chat; Alice may
    assert_eq!(
        call(
            &app,
            &jira,
            "PUT",
            &access,
            BOB,
            Some(json!({"publicAccess": "share"}))
        )
        .await
        .status(),
        404
    );
    let res = call(
        &app,
        &jira,
        "PUT",
        &access,
        ALICE,
        Some(json!({"publicAccess": "share"})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let shared: Value = res.json().await.unwrap();
    assert_eq!(shared["publicAccess"], "share");
    assert_eq!(shared["setBy"], ALICE);
    let bobs: Value = call(&app, &jira, "GET", "/api/v1/issues/10045/chats", BOB, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bobs["items"][0]["chatId"], CHAT, "shared: Bob sees it");
    // Bob sees it but cannot change or unlink it
    assert_eq!(
        call(
            &app,
            &jira,
            "PUT",
            &access,
            BOB,
            Some(json!({"publicAccess": "none"}))
        )
        .await
        .status(),
        403
    );
    let unlink = format!("/api/v1/issues/10045/chats/{CHAT}");
    let res = call(&app, &jira, "DELETE", &unlink, BOB, None).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "not_chat_creator"
    );
    // other issues and other instances see nothing
    let other: Value = call(
        &app,
        &jira,
        "GET",
        "/api/v1/issues/10046/chats",
        ALICE,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(other["items"].as_array().unwrap().len(), 0);
    // unshare, unlink
    call(
        &app,
        &jira,
        "PUT",
        &access,
        ALICE,
        Some(json!({"publicAccess": "none"})),
    )
    .await;
    let bobs: Value = call(&app, &jira, "GET", "/api/v1/issues/10045/chats", BOB, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bobs["items"].as_array().unwrap().len(), 0);
    assert_eq!(
        call(&app, &jira, "DELETE", &unlink, ALICE, None)
            .await
            .status(),
        204
    );
    let mine: Value = call(
        &app,
        &jira,
        "GET",
        "/api/v1/issues/10045/chats",
        ALICE,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 0);
    assert_eq!(
        call(&app, &jira, "DELETE", &unlink, ALICE, None)
            .await
            .status(),
        404
    );
}

#[actix_web::test]
async fn bad_input_gets_a_clear_error_and_stores_nothing() {
    let (app, jira) = app_with_instance().await;
    let cases = [
        (
            "/api/v1/issues/10045/chats",
            json!({"chatId": "not-a-chat"}),
            400,
            "invalid_chat_id",
        ),
        (
            "/api/v1/issues/ABC-1/chats",
            json!({"chatId": CHAT}),
            400,
            "invalid_issue_id",
        ),
        (
            "/api/v1/issues/10045/chats",
            json!({"chat": CHAT}),
            400,
            "invalid_json",
        ),
        (
            "/api/v1/issues/10045/chats",
            json!({"chatId": CHAT, "extra": 1}),
            400,
            "invalid_json",
        ),
    ];
    for (path, body, status, code) in cases {
        let res = call(&app, &jira, "POST", path, ALICE, Some(body.clone())).await;
        assert_eq!(res.status(), status, "{path} {body}");
        assert_eq!(
            res.headers().get("content-type").unwrap(),
            "application/problem+json"
        );
        assert_eq!(
            res.json::<Value>().await.unwrap()["code"],
            code,
            "{path} {body}"
        );
    }
    let res = call(
        &app,
        &jira,
        "PUT",
        &format!("/api/v1/issues/10045/chats/{CHAT}/access"),
        ALICE,
        Some(json!({"publicAccess": "everyone"})),
    )
    .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "invalid_public_access"
    );
    assert_eq!(
        call(
            &app,
            &jira,
            "POST",
            "/api/v1/issues/10045/chats",
            ALICE,
            Some(json!({"chatId": CHAT}))
        )
        .await
        .status(),
        201
    );
    let res = call(
        &app,
        &jira,
        "POST",
        "/api/v1/issues/10045/chats",
        ALICE,
        Some(json!({"chatId": CHAT})),
    )
    .await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "chat_already_linked"
    );
    let all: Value = call(
        &app,
        &jira,
        "GET",
        "/api/v1/issues/10045/chats",
        ALICE,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        all["items"].as_array().unwrap().len(),
        1,
        "only the one good link stored"
    );
}

#[actix_web::test]
async fn chat_lists_are_paged_with_a_cursor_over_visible_chats_only() {
    let (app, jira) = app_with_instance().await;
    for i in 0..7 {
        let who = if i % 2 == 0 { ALICE } else { BOB };
        let chat = format!("19:chat{i:02}@thread.v2");
        assert_eq!(
            call(
                &app,
                &jira,
                "POST",
                "/api/v1/issues/42/chats",
                who,
                Some(json!({"chatId": chat}))
            )
            .await
            .status(),
            201
        );
    }
    // Alice sees her 4 chats, 3 per page
    let p1: Value = call(
        &app,
        &jira,
        "GET",
        "/api/v1/issues/42/chats?limit=3",
        ALICE,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(p1["items"].as_array().unwrap().len(), 3);
    let cursor = p1["nextCursor"].as_str().unwrap().to_owned();
    let p2: Value = call(
        &app,
        &jira,
        "GET",
        &format!("/api/v1/issues/42/chats?limit=3&cursor={cursor}"),
        ALICE,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let items = p2["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert!(p2["nextCursor"].is_null());
    let all: Vec<String> = p1["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(items)
        .map(|i| i["chatId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        all,
        vec![
            "19:chat00@thread.v2",
            "19:chat02@thread.v2",
            "19:chat04@thread.v2",
            "19:chat06@thread.v2"
        ]
    );
    let res = call(
        &app,
        &jira,
        "GET",
        "/api/v1/issues/42/chats?cursor=garbage",
        ALICE,
        None,
    )
    .await;
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "invalid_cursor");
    let res = call(
        &app,
        &jira,
        "GET",
        "/api/v1/issues/42/chats?limit=1000",
        ALICE,
        None,
    )
    .await;
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "invalid_limit");
}
