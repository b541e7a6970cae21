//! A Jira user's whole way through the appliance, in a Chromium that runs no JavaScript: from the
//! remote link the appliance wrote into the Jira issue, through signing in with Jira, to reading
//! the chat, replying, starting a new chat for the issue and sharing it.

use crate::support::browser::{Browser, Javascript};
use crate::support::wait::eventually;
use crate::support::world::{ALICE_KEY, BOB_KEY, ISSUE, create_chat_with_bob, linked_world};

#[actix_web::test]
async fn from_the_remote_link_in_jira_a_user_signs_in_reads_replies_starts_and_shares_a_chat() {
    let w = linked_world().await;
    // Alice started a chat with Bob (through the Jira app's API); the appliance shows it in Jira
    create_chat_with_bob(&w).await;
    eventually("the remote link in the Jira issue", 20, || {
        !w.jira.remote_links(ISSUE).is_empty()
    })
    .await;
    let link = w.jira.remote_links(ISSUE)[0].1.clone();
    let url = link["object"]["url"].as_str().unwrap().to_owned();
    assert_eq!(link["object"]["title"], "ABC-1: Printer on fire");

    let browser = Browser::start_with("jira_walk", Javascript::Off).await;
    w.jira.sign_in_as(ALICE_KEY);
    // the link from the Jira issue: signing in with Jira and back to the chat, no step to click
    browser.goto(&url).await;
    assert_eq!(
        format!("{}{}", w.app.base, browser.path().await),
        url,
        "back on the chat page the link named"
    );
    assert_eq!(browser.heading().await, "ABC-1: Printer on fire");
    let page = browser.text().await;
    assert!(page.contains("Private to its members"), "{page}");
    assert!(page.contains("Read with your Microsoft account."), "{page}");
    browser.shot("chat-page-after-sign-in").await;

    // a reply from the page reaches Teams and shows on the page
    browser
        .fill("#reply-text", "Looking into it from Jira")
        .await;
    browser.click("form.reply button").await;
    assert!(
        browser.text().await.contains("Looking into it from Jira"),
        "{}",
        browser.text().await
    );
    browser.shot("replied").await;

    // back to the issue, start a second chat with Bob picked from who can see the issue
    browser.click("a[href$='/issues/10045']").await;
    assert!(
        browser.text().await.contains("ABC-1"),
        "{}",
        browser.text().await
    );
    browser.shot("issue-page").await;
    browser.click("a.start").await;
    browser.shot("start-form").await;
    browser
        .click_only(&format!("input[name=member][value='{BOB_KEY}']"))
        .await;
    browser
        .click("form[method=post][action$='/start'] button[type=submit]")
        .await;
    let started = browser.path().await;
    assert!(
        started.contains("/chats/"),
        "on the new chat's page: {started}"
    );
    assert!(browser.text().await.contains("Private to its members"));
    browser.shot("new-chat").await;

    // share it: the page says so, and so does the issue in Jira
    browser.click("form[action$='/share'] button").await;
    let page = browser.text().await;
    assert!(
        page.contains("Shared with everyone who can see the issue"),
        "{page}"
    );
    browser.shot("shared").await;
    let new_link = started.rsplit('/').next().unwrap().to_owned();
    eventually("the shared chat's remote link to say so", 20, || {
        w.jira.remote_links(ISSUE).iter().any(|(g, l)| {
            g.ends_with(&new_link)
                && l["object"]["summary"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("Shared"))
        })
    })
    .await;
    assert_eq!(
        w.jira.remote_links(ISSUE).len(),
        2,
        "one remote link per chat"
    );
    browser.quit().await;
}
