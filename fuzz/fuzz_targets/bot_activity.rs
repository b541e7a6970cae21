//! Fuzz target `bot_activity`: what `/bot/messages` reads from a request before and after the
//! Bot Framework token's signature is checked (`clients::activity_token::bearer_token`,
//! `domain::bot_activity::Activity` and its readings, the service URL allow-list, and the
//! command line parsing of `web::bot`), all pure.
//!
//! Input: the first line is the `Authorization` header value, the rest the activity JSON body.
//! Checked besides "never panics": a trusted service URL is on the allow-list and stays the same
//! when parsed again; a membership change names a conversation without `;messageid=`; a personal
//! installer is a Teams user (`29:`); a command text is trimmed and not empty.
#![no_main]

use jira_teams_bridge::clients::activity_token;
use jira_teams_bridge::domain::bot_activity::Activity;
use jira_teams_bridge::domain::cloud::Cloud;
use jira_teams_bridge::domain::issue_link;
use jira_teams_bridge::domain::jira_card;
use jira_teams_bridge::domain::service_url::ServiceUrl;
use jira_teams_bridge::web::bot::commands::split_command;
use jira_teams_bridge::web::bot::context::TeamsContext;
use jira_teams_bridge::web::bot::finish_link::is_verification_code;
use jira_teams_bridge::web::bot::subscriptions::parse_subscribe;
use libfuzzer_sys::fuzz_target;

fn check_command(text: &str) {
    assert!(!text.is_empty() && text.trim() == text, "{text:?}");
    let (word, rest) = split_command(text);
    assert!(!word.chars().any(char::is_whitespace));
    let _ = is_verification_code(text);
    if let Ok(args) = parse_subscribe(rest) {
        assert!(!args.project.is_empty() && !args.events.is_empty());
    }
}

fuzz_target!(|data: &[u8]| {
    let (auth, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    if let Ok(auth) = std::str::from_utf8(auth) {
        let _ = activity_token::bearer_token(Some(auth));
    }
    let Ok(activity) = serde_json::from_slice::<Activity>(body) else {
        return;
    };
    let hosts = Cloud::parse("global")
        .expect("the global cloud")
        .endpoints()
        .service_url_hosts;
    let _ = activity.scope();
    let _ = activity.tenant();
    if let Some(change) = activity.membership_change() {
        assert!(!change.conversation_id.contains(';'));
    }
    if let Some(user) = activity.personal_installer() {
        assert!(user.starts_with("29:"));
    }
    if let Some(text) = activity.command_text() {
        check_command(&text);
    }
    let _ = jira_card::submitted_choices(&activity.value);
    if let Some(url) = activity.value["url"].as_str() {
        let _ = issue_link::issue_key_in(url, "https://jira.example.com/jira");
    }
    if let Ok(service_url) = ServiceUrl::parse(&activity.service_url, &hosts) {
        let again = ServiceUrl::parse(service_url.as_str(), &hosts);
        assert_eq!(
            again.as_ref(),
            Ok(&service_url),
            "a trusted URL reparsed differently"
        );
        assert!(service_url.as_str().ends_with('/'));
        if let Some(ctx) = TeamsContext::of(&activity, service_url) {
            assert!(ctx.teams_user_id.starts_with("29:"));
        }
    }
});
