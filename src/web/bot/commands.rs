//! Commands typed to the bot (the list is `domain::bot_commands`): the first word picks the
//! command, the rest is its argument. A card's Action.Submit comes here too, routed by its
//! `action`.

use crate::clients::microsoft::MicrosoftConn;
use crate::domain::bot_activity::Activity;
use crate::domain::bot_commands;
use crate::error::AppError;
use crate::state::AppState;

use super::context::TeamsContext;
use super::{account_link, attach, finish_link, jira_actions, jira_create, subscriptions};

/// What `help` answers in a scope (`personal`, `team` or `groupChat`), made from the one list
/// of commands ([`crate::domain::bot_commands`]) the manifest is made from too.
pub fn help(scope: &str) -> String {
    bot_commands::help(bot_commands::Scope::of_context(scope))
}

/// Splits a command line into its lower-cased first word and the rest, trimmed.
pub fn split_command(text: &str) -> (String, &str) {
    let text = text.trim();
    match text.split_once(char::is_whitespace) {
        Some((word, rest)) => (word.to_lowercase(), rest.trim()),
        None => (text.to_lowercase(), ""),
    }
}

/// Handles one `message` activity.
pub async fn handle(
    state: &AppState,
    ms: &MicrosoftConn,
    activity: &Activity,
    ctx: &TeamsContext,
) -> Result<(), AppError> {
    let Some(text) = activity.command_text() else {
        // a card's Action.Submit arrives as a message with `value` and no text
        if activity.value.is_object() {
            // card submits are told apart by their `action`
            return match activity.value["action"].as_str() {
                Some(attach::ATTACH_ACTION) => attach::card_submit(state, activity, ctx).await,
                _ => jira_create::card_submit(state, ms, activity, ctx).await,
            };
        }
        return Ok(());
    };
    let (word, rest) = split_command(&text);
    match word.as_str() {
        "help" | "?" => ctx.reply_text(state, "help", &help(ctx.scope)).await,
        "link" => account_link::link(state, ms, ctx, rest).await,
        "unlink" => account_link::unlink(state, ctx, rest).await,
        "create" => jira_create::create_command(state, ms, ctx, rest).await,
        "find" | "search" => jira_actions::find_command(state, ctx, rest).await,
        "subscribe" => subscriptions::subscribe(state, ctx, rest).await,
        "unsubscribe" => subscriptions::unsubscribe(state, ctx, rest).await,
        "notifications" => subscriptions::notifications(state, ctx, rest).await,
        "attach" => attach::attach_command(state, ctx, rest).await,
        "detach" => attach::detach_command(state, ctx, rest).await,
        _ => {
            if finish_link::is_verification_code(&text) {
                return finish_link::verify_code(state, ctx, &text).await;
            }
            let shown: String = word.chars().take(40).collect();
            ctx.reply_text(
                state,
                "unknown",
                &format!("I don't know the command \"{shown}\". Type **help** for the list."),
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_in_each_scope_names_every_command_offered_there() {
        for c in bot_commands::COMMANDS {
            for (scope, s) in [
                ("personal", bot_commands::Scope::Personal),
                ("groupChat", bot_commands::Scope::GroupChat),
                ("team", bot_commands::Scope::Team),
            ] {
                let listed = help(scope).contains(&format!("- **{}**", c.name));
                assert_eq!(listed, c.offered_in(s), "{} in {scope}", c.name);
            }
        }
    }

    #[test]
    fn the_first_word_picks_the_command() {
        assert_eq!(
            split_command(" Find  login bug "),
            ("find".into(), "login bug")
        );
        assert_eq!(split_command("HELP"), ("help".into(), ""));
    }
}
