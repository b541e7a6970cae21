//! A Jira user's link to their Microsoft account, as the user themselves sees and changes it:
//! reading it and unlinking. `DELETE /api/v1/me` (a Jira plugin) and the account page for Jira
//! users (`/jira/{public_id}/me`) both call [`unlink`], so the two ways out behave the same.

use uuid::Uuid;

use crate::db;
use crate::db::models::user_mapping::UserMapping;
use crate::error::AppError;
use crate::state::AppState;

/// The link of a Jira user of an instance, if any (`linked` or `needs_reauth`).
pub async fn find(
    state: &AppState,
    instance: Uuid,
    jira_user_key: &str,
) -> Result<Option<UserMapping>, AppError> {
    let key = jira_user_key.to_owned();
    Ok(db::run(&state.pool, move |conn| {
        Ok(UserMapping::find(conn, instance, &key)?)
    })
    .await?)
}

/// Unlinks a Jira user from Microsoft: the link goes and the user's stored tokens with it
/// (ON DELETE CASCADE). Chats they linked, and their Jira user sessions, stay. `true` when
/// there was a link to remove.
pub async fn unlink(
    state: &AppState,
    instance: Uuid,
    public_id: &str,
    jira_user_key: &str,
) -> Result<bool, AppError> {
    let key = jira_user_key.to_owned();
    let removed = db::run(&state.pool, move |conn| {
        Ok(UserMapping::delete(conn, instance, &key)?)
    })
    .await?;
    if removed {
        tracing::info!(instance.public_id = %public_id, "user unlinked and tokens erased");
    }
    Ok(removed)
}
