//! The Jira calls behind showing Teams chats in a Jira issue without a plugin
//! (`shared/design/JIRA-SURFACE.md`), made by the appliance's Jira client against the Jira DC
//! double: remote links upserted and deleted by `globalId`, Jira's refusals kept as Jira's words,
//! and the users who may browse an issue.

use jira_teams_bridge::clients::http::{OutboundHttp, RetryPolicy};
use jira_teams_bridge::clients::jira::{JiraCallError, JiraClient, RemoteLink};
use jira_teams_bridge::config::OutboundSettings;
use secrecy::SecretString;

use crate::fakes::jira::{self, Jira};

const ALICE: &str = "JIRAUSER10100";
const BOB: &str = "JIRAUSER10200";
const CAROL: &str = "JIRAUSER10300";

fn world() -> (JiraClient, actix_web::web::Data<Jira>) {
    let (base, fake) = jira::start("/jira");
    fake.add_user(ALICE, "alice", "Alice Adams");
    fake.add_user(BOB, "bob", "Bob Brown");
    fake.add_user(CAROL, "carol", "Carol Clark");
    fake.add_issue(10045, "ABC-1", "Printer on fire", &[CAROL]);
    let http =
        OutboundHttp::from_settings(&OutboundSettings::default(), RetryPolicy::default()).unwrap();
    let client = JiraClient::new(
        http,
        &base,
        jira::CLIENT_ID,
        SecretString::from("unused".to_owned()),
    );
    (client, fake)
}

fn token(fake: &Jira, key: &str) -> SecretString {
    SecretString::from(fake.mint_token(key))
}

fn link(global_id: &str, title: &str, resolved: bool) -> RemoteLink {
    RemoteLink {
        global_id: global_id.to_owned(),
        application_name: "Microsoft Teams".into(),
        application_type: "com.microsoft.teams".into(),
        relationship: "Teams chat".into(),
        url: "https://bridge.example/jira/tHXLY2/issues/10045/chats/1".into(),
        title: title.to_owned(),
        summary: "Private chat started by Alice Adams".into(),
        icon_url: "https://bridge.example/static/teams-16.png".into(),
        icon_title: "Microsoft Teams".into(),
        resolved,
    }
}

#[actix_web::test]
async fn a_remote_link_is_created_once_and_then_updated_in_place_by_its_global_id() {
    let (jira, fake) = world();
    let t = token(&fake, ALICE);
    let gid = "jira-teams-bridge:tHXLY2:chat:19:abc@thread.v2";
    assert!(
        jira.upsert_remote_link(&t, 10045, &link(gid, "ABC-1: Printer on fire", false))
            .await
            .unwrap()
    );
    assert!(
        !jira
            .upsert_remote_link(&t, 10045, &link(gid, "ABC-1: renamed", true))
            .await
            .unwrap(),
        "the second write updates"
    );
    let other = "jira-teams-bridge:tHXLY2:chat:19:def@thread.v2";
    assert!(
        jira.upsert_remote_link(&t, 10045, &link(other, "another chat", false))
            .await
            .unwrap()
    );
    let links = fake.remote_links(10045);
    assert_eq!(links.len(), 2, "one link per chat: {links:?}");
    let (g, shown) = &links[0];
    assert_eq!(g, gid);
    assert_eq!(shown["object"]["title"], "ABC-1: renamed");
    assert_eq!(
        shown["object"]["status"]["resolved"], true,
        "struck through"
    );
    assert_eq!(
        shown["object"]["icon"]["url16x16"],
        "https://bridge.example/static/teams-16.png"
    );
    assert_eq!(
        shown["object"]["summary"],
        "Private chat started by Alice Adams"
    );
    assert_eq!(shown["application"]["name"], "Microsoft Teams");

    assert!(jira.delete_remote_link(&t, 10045, gid).await.unwrap());
    assert!(
        !jira.delete_remote_link(&t, 10045, gid).await.unwrap(),
        "already gone"
    );
    let left = fake.remote_links(10045);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].0, other);
}

#[actix_web::test]
async fn jiras_refusals_are_kept_in_jiras_words_and_nothing_is_written() {
    let (jira, fake) = world();
    let gid = "jira-teams-bridge:tHXLY2:chat:19:abc@thread.v2";
    let refusal = |r: Result<bool, JiraCallError>| match r {
        Err(JiraCallError::Refused(why)) => why.0,
        other => panic!("expected a refusal, got {other:?}"),
    };
    // no Link Issues permission
    fake.deny_linking(BOB);
    let why = refusal(
        jira.upsert_remote_link(&token(&fake, BOB), 10045, &link(gid, "t", false))
            .await,
    );
    assert!(why.contains("permission to link issues"), "{why}");
    // an issue hidden from the user, and one that does not exist
    let why = refusal(
        jira.upsert_remote_link(&token(&fake, CAROL), 10045, &link(gid, "t", false))
            .await,
    );
    assert!(why.contains("permission to see"), "{why}");
    let why = refusal(
        jira.upsert_remote_link(&token(&fake, ALICE), 99999, &link(gid, "t", false))
            .await,
    );
    assert!(why.contains("Does Not Exist"), "{why}");
    // linking switched off for the site
    fake.set_linking_disabled(true);
    let why = refusal(
        jira.upsert_remote_link(&token(&fake, ALICE), 10045, &link(gid, "t", false))
            .await,
    );
    assert!(why.contains("linking is currently disabled"), "{why}");
    fake.set_linking_disabled(false);
    // a link Jira cannot store: its field is named
    let why = refusal(
        jira.upsert_remote_link(&token(&fake, ALICE), 10045, &link(gid, "", false))
            .await,
    );
    assert!(why.contains("title"), "{why}");
    let why = refusal(
        jira.upsert_remote_link(
            &token(&fake, ALICE),
            10045,
            &link(&"g".repeat(256), "t", false),
        )
        .await,
    );
    assert!(why.contains("globalId"), "{why}");
    assert!(fake.remote_links(10045).is_empty(), "nothing was written");
    // consent revoked in Jira: the token stops working, which asks for a new sign-in
    let t = token(&fake, ALICE);
    fake.revoke_user(ALICE);
    match jira
        .upsert_remote_link(&t, 10045, &link(gid, "t", false))
        .await
    {
        Err(JiraCallError::Other(e)) => assert!(e.needs_sign_in(), "{e}"),
        other => panic!("expected a sign-in error, got {other:?}"),
    }
}

#[actix_web::test]
async fn the_members_offered_are_the_users_jira_says_may_browse_the_issue() {
    let (jira, fake) = world();
    let t = token(&fake, ALICE);
    let names = |users: Vec<jira_teams_bridge::clients::jira::JiraUser>| {
        users.into_iter().map(|u| u.key).collect::<Vec<_>>()
    };
    let all = jira
        .users_who_can_browse(&t, "ABC-1", "", 20)
        .await
        .unwrap();
    assert_eq!(names(all), [ALICE, BOB], "Carol may not browse ABC-1");
    let by_name = jira
        .users_who_can_browse(&t, "ABC-1", "bro", 20)
        .await
        .unwrap();
    assert_eq!(names(by_name), [BOB], "a display name's word matches");
    assert!(
        jira.users_who_can_browse(&t, "ABC-1", "carol", 20)
            .await
            .unwrap()
            .is_empty()
    );
    fake.deny_browse_users(ALICE);
    match jira.users_who_can_browse(&t, "ABC-1", "", 20).await {
        Err(JiraCallError::Refused(why)) => assert!(why.0.contains("Browse users"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}
