//! Linking a Teams group chat to a Jira issue from the chat itself (JIRA-SURFACE.md "Linking a
//! chat from Teams"): `attach <KEY> [instance]`, `detach <KEY> [instance]`, the *Attach this
//! chat* button of search and unfurl cards, and "Link this chat" on the create form
//! ([`link_new_issue`]). All of them come to [`link_chat`], which asks Jira as the sender for
//! the issue (a hidden issue and a missing one are both "not available to you", as Jira DC tells
//! them apart only by 403/404) and hands the numeric issue id to `services::chat_attach`.
//!
//! Which instance: the one named after the key (number, host or label, as `link` takes it);
//! otherwise each instance the sender is linked on is asked for the key, and when it is visible
//! on more than one the sender is asked to name one. Only group chats: a channel gets a pointer
//! to `subscribe`, the 1:1 chat an explanation.

use serde_json::Value;

use crate::clients::jira::{FoundIssue, IssueLookup};
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::user_mapping::UserMapping;
use crate::domain::bot_activity::Activity;
use crate::domain::{jira_card, jql};
use crate::error::AppError;
use crate::services::chat_attach::{self, Attached, TeamsChat};
use crate::state::AppState;
use crate::web::auth::from_teams::instance_label;

use super::account_link::pick;
use super::context::TeamsContext;
use super::jira_actions::{Trouble, acting, reply_sign_in, timed};

/// The `action` of *Attach this chat*.
pub const ATTACH_ACTION: &str = jira_card::ATTACH_CHAT_ACTION;

const IN_CHANNEL: &str = "**attach** and **detach** link a group chat to a Jira issue. In a channel, type **subscribe** *PROJECT* to post a project's events here instead.";
const IN_PERSONAL: &str = "**attach** and **detach** work in a group chat: add me to the group chat and type **attach** *KEY* there, and that chat gets the issue's updates. Here, in our 1:1 chat, you get your own notifications (see **notifications**).";
const NOT_AVAILABLE: &str =
    "is not available to you: it does not exist, or Jira does not let you see it";

/// Why a conversation cannot be linked, or `None` for a group chat.
fn refusal(ctx: &TeamsContext) -> Option<&'static str> {
    match ctx.scope {
        "team" => Some(IN_CHANNEL),
        // a conversation without a type is taken for a group chat; only a `19:…@thread.v2` id
        // is one (1:1 chats are `a:…` or `…@unq.gbl.spaces`)
        "groupChat"
            if ctx.conversation_id.starts_with("19:")
                && ctx.conversation_id.ends_with("@thread.v2") =>
        {
            None
        }
        _ => Some(IN_PERSONAL),
    }
}

/// The key and the instance named after it, or the usage line.
fn args<'a>(word: &str, rest: &'a str) -> Result<(String, Option<&'a str>), String> {
    let (key, instance) = match rest.split_once(char::is_whitespace) {
        Some((k, i)) => (k, Some(i.trim()).filter(|i| !i.is_empty())),
        None => (rest, None),
    };
    jql::issue_key(key).map(|k| (k, instance)).ok_or_else(|| {
        format!("Type **{word}** and an issue key, e.g. **{word} ABC-12** (and the Jira instance's host when you use several).")
    })
}

/// What a sender was told instead of an issue.
enum Unresolved {
    /// Ask them to link first (a sign-in card).
    SignIn,
    /// A sentence.
    Say(String),
}

/// The sender's link and the issue as they see it, for `key` typed in a command.
async fn resolve(
    state: &AppState,
    ctx: &TeamsContext,
    key: &str,
    instance: Option<&str>,
) -> Result<((UserMapping, JiraInstance), FoundIssue), Unresolved> {
    let links = ctx
        .links(state)
        .await
        .map_err(|e| Unresolved::Say(Trouble::from(e).message()))?;
    if links.is_empty() {
        return Err(Unresolved::SignIn);
    }
    let label = |(_, i): &(UserMapping, JiraInstance)| instance_label(i);
    let candidates: Vec<&(UserMapping, JiraInstance)> = match instance {
        Some(arg) => match pick(&links, arg, label) {
            Some(l) => vec![l],
            None => {
                let shown: String = arg.chars().take(60).collect();
                let yours: Vec<String> = links.iter().map(label).collect();
                return Err(Unresolved::Say(format!(
                    "You are not linked on a Jira instance \"{}\". Yours: {}.",
                    jira_card::text(&shown, 60),
                    yours.join(", ")
                )));
            }
        },
        None => links.iter().collect(),
    };
    let mut found = Vec::new();
    let mut trouble = None;
    for link in candidates {
        match visible(state, link, key).await {
            Ok(Some(issue)) => found.push((link.clone(), issue)),
            Ok(None) => {}
            Err(t) => {
                trouble.get_or_insert(t);
            }
        }
    }
    match (found.len(), trouble) {
        (1, _) => Ok(found.remove(0)),
        (0, Some(Trouble::NotLinked)) => Err(Unresolved::SignIn),
        (0, Some(t)) => Err(Unresolved::Say(t.message())),
        (0, None) => Err(Unresolved::Say(format!("{key} {NOT_AVAILABLE}."))),
        _ => {
            let hosts: Vec<String> = found.iter().map(|(l, _)| label(l)).collect();
            Err(Unresolved::Say(format!(
                "{key} exists on several of your Jira instances ({}). Name one after the key, e.g. **attach {key} {}**.",
                hosts.join(", "),
                hosts[0]
            )))
        }
    }
}

/// The issue `id_or_key` as the linked user sees it; `None` when Jira answers 403 or 404.
async fn visible(
    state: &AppState,
    link: &(UserMapping, JiraInstance),
    id_or_key: &str,
) -> Result<Option<FoundIssue>, Trouble> {
    let a = acting(state, link, "look up an issue to link a chat").await?;
    Ok(
        match timed(a.jira.issue_lookup(&a.token, id_or_key)).await? {
            IssueLookup::Visible(issue) => Some(issue),
            IssueLookup::Hidden | IssueLookup::Missing => None,
        },
    )
}

/// The one path that links this chat to a visible issue (`attach`, *Attach this chat*, the
/// create form): `Err` carries the reason for the user.
async fn link_chat(
    state: &AppState,
    ctx: &TeamsContext,
    link: &(UserMapping, JiraInstance),
    issue: &FoundIssue,
    from_message: bool,
) -> Result<Attached, String> {
    let issue_id: i64 = issue
        .id
        .parse()
        .map_err(|_| "Jira gave the issue an id I cannot read".to_owned())?;
    let chat = TeamsChat {
        chat_id: ctx.conversation_id.clone(),
        tenant_id: ctx.tenant_id,
        service_url_from_chat: from_message.then(|| ctx.service_url.as_str().to_owned()),
    };
    chat_attach::attach(state, &link.1, &link.0, issue_id, &chat)
        .await
        .map_err(|e| e.message())
}

/// What the chat is told after [`link_chat`].
fn attached_answer(issue: &FoundIssue, outcome: Result<Attached, String>) -> String {
    match outcome {
        Ok(Attached::Linked(_)) => format!(
            "This chat is now linked to {}: {}. Its updates will appear here.",
            issue.key,
            jira_card::text(&issue.fields.summary, 200)
        ),
        Ok(Attached::Already) => format!("This chat is already attached to {}.", issue.key),
        Err(why) => format!("I could not attach this chat to {}: {why}.", issue.key),
    }
}

/// `attach <KEY> [instance]`.
pub async fn attach_command(
    state: &AppState,
    ctx: &TeamsContext,
    rest: &str,
) -> Result<(), AppError> {
    if let Some(r) = refusal(ctx) {
        return ctx.reply_text(state, "attach", r).await;
    }
    let (key, instance) = match args("attach", rest) {
        Ok(a) => a,
        Err(usage) => return ctx.reply_text(state, "attach", &usage).await,
    };
    match resolve(state, ctx, &key, instance).await {
        Ok((link, issue)) => {
            let outcome = link_chat(state, ctx, &link, &issue, true).await;
            ctx.reply_text(state, "attach", &attached_answer(&issue, outcome))
                .await
        }
        Err(Unresolved::SignIn) => reply_sign_in(state, ctx).await,
        Err(Unresolved::Say(s)) => ctx.reply_text(state, "attach", &s).await,
    }
}

/// `detach <KEY> [instance]`: any linked member of the chat who may see the issue (Teams
/// delivered their message, so they are in the chat); the remote link is deleted as them.
pub async fn detach_command(
    state: &AppState,
    ctx: &TeamsContext,
    rest: &str,
) -> Result<(), AppError> {
    if let Some(r) = refusal(ctx) {
        return ctx.reply_text(state, "detach", r).await;
    }
    let (key, instance) = match args("detach", rest) {
        Ok(a) => a,
        Err(usage) => return ctx.reply_text(state, "detach", &usage).await,
    };
    let ((mapping, instance), issue) = match resolve(state, ctx, &key, instance).await {
        Ok(r) => r,
        Err(Unresolved::SignIn) => return reply_sign_in(state, ctx).await,
        Err(Unresolved::Say(s)) => return ctx.reply_text(state, "detach", &s).await,
    };
    let Ok(issue_id) = issue.id.parse::<i64>() else {
        return ctx
            .reply_text(state, "detach", "Jira gave the issue an id I cannot read.")
            .await;
    };
    let text =
        if chat_attach::detach(state, &instance, &mapping, issue_id, &ctx.conversation_id).await? {
            format!(
                "This chat is no longer linked to {}; its updates will not appear here any more.",
                issue.key
            )
        } else {
            format!("This chat is not attached to {}.", issue.key)
        };
    ctx.reply_text(state, "detach", &text).await
}

/// *Attach this chat* on a card the bot posted: `{"action":"attachChat","instance":<public
/// id>,"issue":<issue id>}`, back as a message with `value` (the message shows the bot is in
/// the chat).
pub async fn card_submit(
    state: &AppState,
    activity: &Activity,
    ctx: &TeamsContext,
) -> Result<(), AppError> {
    attach_from_button(state, &activity.value, ctx, true).await
}

/// *Attach this chat* on a search or unfurl card a user inserted: Teams sends the click as a
/// `composeExtension/onCardButtonClicked` invoke with the button's data as `value`. The invoke
/// does not show that the bot is in the chat, so it must be known there already.
pub async fn card_button(
    state: &AppState,
    value: &Value,
    ctx: &TeamsContext,
) -> Result<(), AppError> {
    attach_from_button(state, value, ctx, false).await
}

async fn attach_from_button(
    state: &AppState,
    v: &Value,
    ctx: &TeamsContext,
    from_message: bool,
) -> Result<(), AppError> {
    if let Some(r) = refusal(ctx) {
        return ctx.reply_text(state, "attach", r).await;
    }
    let (public_id, issue_id) = (
        v["instance"].as_str().unwrap_or_default(),
        v["issue"].as_str().unwrap_or_default(),
    );
    if issue_id.is_empty() || issue_id.len() > 18 || !issue_id.bytes().all(|b| b.is_ascii_digit()) {
        return ctx
            .reply_text(state, "attach", "This button names no issue I can read.")
            .await;
    }
    let links = ctx.links(state).await?;
    let Some(link) = links.into_iter().find(|(_, i)| i.public_id == public_id) else {
        return reply_sign_in(state, ctx).await;
    };
    let text = match visible(state, &link, issue_id).await {
        Ok(Some(issue)) => {
            let outcome = link_chat(state, ctx, &link, &issue, from_message).await;
            attached_answer(&issue, outcome)
        }
        Ok(None) => format!("This issue {NOT_AVAILABLE}."),
        Err(Trouble::NotLinked) => return reply_sign_in(state, ctx).await,
        Err(t) => t.message(),
    };
    ctx.reply_text(state, "attach", &text).await
}

/// Links this chat to an issue just created from the form (as `attach` does) and says what
/// happened, starting with "Created KEY". The form's invoke may come from a chat the bot is
/// not in, so the bot must already be known there.
pub(super) async fn link_new_issue(
    state: &AppState,
    ctx: &TeamsContext,
    public_id: &str,
    key: &str,
) -> String {
    let failed = |why: String| format!("Created {key}; the chat could not be linked: {why}.");
    if refusal(ctx).is_some() {
        return format!("Created {key}.");
    }
    let links = match ctx.links(state).await {
        Ok(l) => l,
        Err(e) => return failed(Trouble::from(e).message()),
    };
    let Some(link) = links.into_iter().find(|(_, i)| i.public_id == public_id) else {
        return failed(Trouble::NotLinked.message());
    };
    match visible(state, &link, key).await {
        Ok(Some(issue)) => match link_chat(state, ctx, &link, &issue, false).await {
            Ok(Attached::Linked(_)) => {
                format!("Created {key} and linked this chat to it; its updates will appear here.")
            }
            Ok(Attached::Already) => format!("Created {key}; this chat is linked to it."),
            Err(why) => failed(why),
        },
        Ok(None) => failed(format!("{key} {NOT_AVAILABLE}")),
        Err(t) => failed(t.message()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_and_an_optional_instance_are_read() {
        assert_eq!(args("attach", "abc-12"), Ok(("ABC-12".into(), None)));
        assert_eq!(
            args("attach", "ABC-12  jira.example.com"),
            Ok(("ABC-12".into(), Some("jira.example.com")))
        );
        assert!(
            args("attach", "")
                .unwrap_err()
                .contains("**attach ABC-12**")
        );
        assert!(args("detach", "12").is_err());
    }
}
