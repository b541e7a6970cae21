//! Commands typed to the bot (`help`, `link`, `unlink`, `create`, `find`, `subscribe`,
//! `unsubscribe`, `notifications`): the first word picks the command, the rest is its argument.

use crate::clients::microsoft::MicrosoftConn;
use crate::domain::bot_activity::Activity;
use crate::error::AppError;
use crate::state::AppState;

use super::context::TeamsContext;
use super::{account_link, finish_link, jira_actions, jira_create, subscriptions};

/// What `help` answers.
pub const HELP: &str = "Here is what I can do:\n\n\
- **link**: link your Jira account, so that I can act as you in Jira\n\
- **unlink**: remove that link and the tokens I keep for you\n\
- **create** *summary*: create a Jira issue (I ask for project and type)\n\
- **find** *text or key*: search Jira issues you can see\n\
- **subscribe** *PROJECT* [*events*] [*JQL*]: in a channel, post that project's events here\n\
- **unsubscribe** *PROJECT*: stop them\n\
- **notifications** [on|off] [*kind*]: your personal notifications (assignee, reporter, watcher, mention)\n\
- **help**: this list";

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
            return jira_create::card_submit(state, ms, activity, ctx).await;
        }
        return Ok(());
    };
    let (word, rest) = split_command(&text);
    match word.as_str() {
        "help" | "?" => ctx.reply_text(state, "help", HELP).await,
        "link" => account_link::link(state, ms, ctx, rest).await,
        "unlink" => account_link::unlink(state, ctx, rest).await,
        "create" => jira_create::create_command(state, ms, ctx, rest).await,
        "find" | "search" => jira_actions::find_command(state, ctx, rest).await,
        "subscribe" => subscriptions::subscribe(state, ctx, rest).await,
        "unsubscribe" => subscriptions::unsubscribe(state, ctx, rest).await,
        "notifications" => subscriptions::notifications(state, ctx, rest).await,
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
    fn the_first_word_picks_the_command() {
        assert_eq!(
            split_command(" Find  login bug "),
            ("find".into(), "login bug")
        );
        assert_eq!(split_command("HELP"), ("help".into(), ""));
    }
}
