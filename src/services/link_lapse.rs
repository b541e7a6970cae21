//! A link whose Microsoft or Jira sign-in lapsed ("needs sign-in again"): marking it, from every
//! place that finds out (a refused refresh in `services::tokens`, Graph or Jira refusing a stored
//! token). The first mark of a lapse queues, in its transaction, the one message that tells the
//! user in their 1:1 chat with the bot and the one that tells each channel their subscriptions
//! fed (`UserMapping::mark_needs_reauth`); later marks of the same lapse change nothing. Signing
//! in again puts the link back to `linked`, so the next lapse is told again.

use uuid::Uuid;

use crate::db;
use crate::db::models::user_mapping::{SignIn, UserMapping};
use crate::error::AppError;
use crate::state::AppState;

/// Marks the link as needing a new sign-in of `sign_in`, with `why` for the admin page; returns
/// whether this call started the lapse (and queued its messages).
pub async fn mark(
    state: &AppState,
    mapping: Uuid,
    sign_in: SignIn,
    why: &str,
) -> Result<bool, AppError> {
    let w = why.to_owned();
    let first = db::run(&state.pool, move |conn| {
        Ok(UserMapping::mark_needs_reauth(conn, mapping, sign_in, &w)?)
    })
    .await?;
    if first {
        state.outbox_wake.notify_one();
        tracing::warn!(mapping.id = %mapping, link.sign_in = sign_in.as_str(), "link needs a new sign-in; the user is told once");
    }
    Ok(first)
}

/// Jira answered 401 to a call made with the user's stored (unexpired) token: the grant was
/// revoked, so the link needs a new Jira sign-in. Marks it (a failure to mark is logged: the
/// next call finds out again); always `false`, what a refused check means to its caller.
pub async fn jira_refused(state: &AppState, mapping: &UserMapping) -> bool {
    if let Err(e) = mark(
        state,
        mapping.id,
        SignIn::Jira,
        "Jira: the stored token was refused",
    )
    .await
    {
        tracing::warn!(mapping.id = %mapping.id, error = %e, "could not mark a link whose Jira token was refused");
    }
    false
}
