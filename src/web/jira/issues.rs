//! `/jira/{public_id}/issues/{issue}`: an issue's Teams chats for a signed-in Jira user.

use actix_web::web;

pub(super) fn routes(_cfg: &mut web::ServiceConfig) {}
