//! The Graph double: chats, paged messages, throttling, posting and installing, batches.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fakes::entra::TENANT_ID;
use crate::fakes::graph;
use crate::support::oauth_client::*;

fn bind(base: &str, who: &str, role: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.aadUserConversationMember",
        "roles": [role],
        "user@odata.bind": format!("{base}/v1.0/users('{who}')"),
    })
}

#[actix_web::test]
async fn graph_creates_one_on_one_chats_idempotently_and_checks_member_binds() {
    let (entra_addr, entra) = entra_with_users();
    let (addr, graph) = graph::start(entra.clone());
    let base = format!("http://{addr}");
    let at = access_token(entra_addr, &entra, ALICE).await;
    let body = json!({"chatType": "oneOnOne", "members": [
        bind(&base, ALICE, "owner"), bind(&base, "bob@contoso.example", "owner")]});
    let mut ids = Vec::new();
    for _ in 0..2 {
        let res = client()
            .post(format!("{base}/v1.0/chats"))
            .bearer_auth(&at)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let chat: Value = res.json().await.unwrap();
        assert_eq!(chat["tenantId"], TENANT_ID);
        ids.push(chat["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0], format!("19:{ALICE}_{BOB}@unq.gbl.spaces"));

    let refusals = [
        // the global cloud's host instead of this fake's
        json!({"chatType": "group", "topic": "t", "members": [
            bind("https://graph.microsoft.com", ALICE, "owner"), bind(&base, BOB, "owner")]}),
        // the caller is not a member
        json!({"chatType": "oneOnOne", "members": [
            bind(&base, BOB, "owner"), bind(&base, BOB, "guest")]}),
        // a oneOnOne chat has no topic
        json!({"chatType": "oneOnOne", "topic": "x", "members": [
            bind(&base, ALICE, "owner"), bind(&base, BOB, "owner")]}),
    ];
    for body in refusals {
        let res = client()
            .post(format!("{base}/v1.0/chats"))
            .bearer_auth(&at)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
        let err: Value = res.json().await.unwrap();
        assert!(err["error"]["innerError"]["request-id"].is_string());
    }
    let res = client()
        .post(format!("{base}/v1.0/chats"))
        .bearer_auth(&at)
        .json(&json!({"chatType": "group", "topic": "t", "members": [
            bind(&base, ALICE, "owner"), bind(&base, "nobody@contoso.example", "owner")]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // raw and percent-encoded ids both work; a double-encoded one is another (unknown) id
    for (path, want) in [
        (ids[0].clone(), StatusCode::OK),
        (
            ids[0].replace(':', "%3A").replace('@', "%40"),
            StatusCode::OK,
        ),
        (
            ids[0].replace(':', "%253A").replace('@', "%2540"),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let res = client()
            .get(format!("{base}/v1.0/chats/{path}?$expand=members"))
            .bearer_auth(&at)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), want, "{path}");
        if want == StatusCode::OK {
            let chat: Value = res.json().await.unwrap();
            assert_eq!(chat["members"].as_array().unwrap().len(), 2);
            assert_eq!(chat["members"][1]["email"], "bob@contoso.example");
        }
    }
    let res = client()
        .get(format!("{base}/v1.0/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(graph.chat_members(&ids[0]), vec![ALICE, BOB]);
}

#[actix_web::test]
async fn graph_pages_messages_newest_first_through_next_links_to_the_end() {
    let (entra_addr, entra) = entra_with_users();
    let (addr, graph) = graph::start(entra.clone());
    let at = access_token(entra_addr, &entra, ALICE).await;
    let chat = graph.create_chat_directly(&[ALICE, BOB], Some("Incidents"));
    graph.seed_messages(&chat, 44, BOB);
    graph.add_system_event(&chat);

    let mut url = format!("http://{addr}/v1.0/chats/{chat}/messages?$top=20");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page: Value = client()
            .get(&url)
            .bearer_auth(&at)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(page["@odata.context"].is_string());
        pages += 1;
        seen.extend(page["value"].as_array().unwrap().iter().cloned());
        match page["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&format!("http://{addr}/v1.0/chats/")));
                url = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!((pages, seen.len()), (3, 45));
    // asked without `Prefer: include-unknown-enum-members`, a system event hides its type
    assert_eq!(seen[0]["messageType"], "unknownFutureValue");
    assert!(seen[0]["eventDetail"]["@odata.type"].is_string());
    assert!(seen[0]["from"].is_null());
    assert_eq!(seen[1]["messageType"], "message");
    for prefer in [
        "include-unknown-enum-members",
        "odata.maxpagesize=5, Include-Unknown-Enum-Members",
    ] {
        let page: Value = client()
            .get(format!("http://{addr}/v1.0/chats/{chat}/messages?$top=2"))
            .bearer_auth(&at)
            .header("Prefer", prefer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            page["value"][0]["messageType"], "systemEventMessage",
            "{prefer}"
        );
        assert!(page["value"][0]["eventDetail"]["@odata.type"].is_string());
    }
    let page: Value = client()
        .get(format!("http://{addr}/v1.0/chats/{chat}/messages?$top=1"))
        .bearer_auth(&at)
        .header("Prefer", "include-unknown-enum-members-please")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["value"][0]["messageType"], "unknownFutureValue",
        "only the exact preference"
    );
    assert_eq!(
        graph.prefers.lock().unwrap().last().unwrap().1.as_deref(),
        Some("include-unknown-enum-members-please"),
        "the Prefer header is recorded"
    );
    assert_eq!(seen[1]["body"]["content"], "<p>message 44</p>");
    assert_eq!(seen[44]["body"]["content"], "<p>message 1</p>");
    let dates: Vec<&str> = seen
        .iter()
        .map(|m| m["createdDateTime"].as_str().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] > w[1]));

    let res = client()
        .get(format!("http://{addr}/v1.0/chats/{chat}/messages?$top=51"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // a non-member is refused
    let bob_only = graph.create_chat_directly(&[BOB, "33333333-3333-3333-3333-333333333333"], None);
    let res = client()
        .get(format!("http://{addr}/v1.0/chats/{bob_only}/messages"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn graph_throttles_with_retry_after_and_then_answers() {
    let (entra_addr, entra) = entra_with_users();
    let (addr, graph) = graph::start(entra.clone());
    let at = access_token(entra_addr, &entra, ALICE).await;
    graph.throttle_next(1, 1);
    let res = client()
        .get(format!("http://{addr}/v1.0/me"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "1");
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["code"], "TooManyRequests");
    assert_eq!(err["error"]["innerError"]["code"], "429");
    let me: Value = client()
        .get(format!("http://{addr}/v1.0/me"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["userPrincipalName"], "alice@contoso.example");
    let log = graph.requests.lock().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].2, "/v1.0/me");
}

#[actix_web::test]
async fn graph_lets_members_post_messages_and_install_apps_but_not_app_only_tokens_post() {
    let (entra_addr, entra) = entra_with_users();
    let (addr, graph) = graph::start(entra.clone());
    let base = format!("http://{addr}");
    let user_at = access_token(entra_addr, &entra, ALICE).await;
    let app_at = app_token(entra_addr).await;
    // An app-only token may create the chat...
    let res = client()
        .post(format!("{base}/v1.0/chats"))
        .bearer_auth(&app_at)
        .json(&json!({"chatType": "group", "topic": "PROJ-1", "members": [
            bind(&base, ALICE, "owner"), bind(&base, BOB, "owner")]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let chat: Value = res.json().await.unwrap();
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    assert!(chat_id.starts_with("19:") && chat_id.ends_with("@thread.v2"));
    let url = format!("{base}/v1.0/chats/{chat_id}/messages");
    let card = json!({"body": {"contentType": "html",
        "content": "<attachment id=\"c1\"></attachment>"},
        "attachments": [{"id": "c1", "contentType": "application/vnd.microsoft.card.adaptive",
            "content": "{\"type\":\"AdaptiveCard\"}"}]});
    // ...but cannot post in it.
    let res = client()
        .post(&url)
        .bearer_auth(&app_at)
        .json(&card)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = client()
        .post(&url)
        .bearer_auth(&user_at)
        .json(&card)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let msg: Value = res.json().await.unwrap();
    assert_eq!(msg["from"]["user"]["id"], ALICE);
    assert_eq!(msg["chatId"], chat_id.as_str());
    for bad in [
        json!({"body": {"contentType": "html", "content": "<attachment id=\"c2\"></attachment>"},
            "attachments": [{"id": "c1", "content": "{}"}]}),
        json!({"body": {"contentType": "html", "content": "<attachment id=\"c1\"></attachment>"},
            "attachments": [{"id": "c1", "content": {"type": "AdaptiveCard"}}]}),
        json!({"body": {"contentType": "text"}}),
    ] {
        let res = client()
            .post(&url)
            .bearer_auth(&user_at)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(graph.messages(&chat_id).len(), 1);

    graph.catalog_apps.lock().unwrap().insert("cat-1".into());
    let install = |app: &str| {
        client()
            .post(format!("{base}/v1.0/chats/{chat_id}/installedApps"))
            .bearer_auth(&user_at)
            .json(
                &json!({"teamsApp@odata.bind": format!("{base}/v1.0/appCatalogs/teamsApps/{app}")}),
            )
            .send()
    };
    assert_eq!(
        install("cat-1").await.unwrap().status(),
        StatusCode::CREATED
    );
    assert_eq!(
        install("cat-1").await.unwrap().status(),
        StatusCode::CONFLICT
    );
    assert_eq!(
        install("cat-2").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        graph.installs.lock().unwrap().clone(),
        vec![(chat_id.clone(), "cat-1".to_owned())]
    );
}

#[actix_web::test]
async fn graph_batches_run_each_item_on_its_own_and_fail_dependents_with_424() {
    let (entra_addr, entra) = entra_with_users();
    let (addr, graph) = graph::start(entra.clone());
    let at = access_token(entra_addr, &entra, ALICE).await;
    let chat = graph.create_chat_directly(&[ALICE, BOB], Some("t"));
    let post = |body: Value| {
        client()
            .post(format!("http://{addr}/v1.0/$batch"))
            .bearer_auth(&at)
            .json(&body)
            .send()
    };
    let res = post(json!({"requests": [
        {"id": "1", "method": "GET", "url": "/me"},
        {"id": "2", "method": "GET", "url": "/chats/19:missing@thread.v2"},
        {"id": "3", "method": "GET", "url": "/me", "dependsOn": ["2"]},
        {"id": "4", "method": "POST", "url": format!("/chats/{chat}/messages"),
         "headers": {"Content-Type": "application/json"}, "body": {"body": {"content": "hi"}}},
    ]}))
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let status_of = |id: &str| {
        body["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["status"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        [
            status_of("1"),
            status_of("2"),
            status_of("3"),
            status_of("4")
        ],
        [200, 404, 424, 201]
    );
    assert_eq!(graph.messages(&chat).len(), 1);
    // duplicate ids (case-insensitive) and a body without Content-Type reject the whole batch
    for bad in [
        json!({"requests": [{"id": "a", "method": "GET", "url": "/me"},
                            {"id": "A", "method": "GET", "url": "/me"}]}),
        json!({"requests": [{"id": "a", "method": "POST", "url": "/chats", "body": {}}]}),
    ] {
        assert_eq!(post(bad).await.unwrap().status(), StatusCode::BAD_REQUEST);
    }
}
