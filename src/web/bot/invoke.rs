//! `invoke` activities (PROTOCOLS.md §6.1): the answer is the HTTP response of the POST itself.
//! Every name gets an answer — an unknown one an empty 200 — since Teams shows "Unable to reach
//! app" for a 501.

use actix_web::HttpResponse;

use crate::clients::microsoft::MicrosoftConn;
use crate::domain::bot_activity::Activity;
use crate::domain::{comment_form, jira_card};
use crate::error::AppError;
use crate::state::AppState;

use super::context::TeamsContext;
use super::{attach, finish_link, jira_actions, jira_comment, jira_create};

/// Answers one invoke.
pub async fn handle(
    state: &AppState,
    ms: &MicrosoftConn,
    activity: &Activity,
    ctx: &TeamsContext,
) -> Result<HttpResponse, AppError> {
    let value = &activity.value;
    match activity.name.as_deref().unwrap_or_default() {
        // the comment dialog's invokes, told apart by command id or button/form action
        "composeExtension/fetchTask" if value["commandId"] == jira_comment::COMMAND_ID => {
            jira_comment::fetch_task(state, ctx, value).await
        }
        "task/fetch" if value["data"]["action"] == jira_card::COMMENT_ON_ISSUE => {
            jira_comment::fetch_from_card(state, ctx, value).await
        }
        name @ ("composeExtension/submitAction" | "task/submit")
            if value["data"]["action"] == comment_form::SUBMIT_ACTION =>
        {
            jira_comment::submit(state, ctx, value, name == "task/submit").await
        }
        // a button on a card a user inserted from the message extension (search, unfurl)
        "composeExtension/onCardButtonClicked" if value["action"] == attach::ATTACH_ACTION => {
            attach::card_button(state, value, ctx).await?;
            Ok(HttpResponse::Ok().json(serde_json::json!({})))
        }
        "signin/verifyState" => finish_link::verify_state(state, ctx, &activity.value).await,
        "composeExtension/query" | "composeExtension/selectItem" => {
            jira_actions::search(state, ctx, &activity.value).await
        }
        "composeExtension/queryLink" => jira_actions::unfurl(state, ctx, &activity.value).await,
        "composeExtension/anonymousQueryLink" => {
            jira_actions::unfurl_anonymous(state, ctx, &activity.value).await
        }
        "composeExtension/fetchTask" | "task/fetch" => {
            jira_create::fetch_task(state, ms, ctx, &activity.value).await
        }
        "composeExtension/submitAction" | "task/submit" => {
            jira_create::submit_action(state, ms, ctx, &activity.value).await
        }
        other => {
            tracing::debug!(
                bot.invoke = other,
                "invoke without a handler answered empty"
            );
            Ok(HttpResponse::Ok().json(serde_json::json!({})))
        }
    }
}
