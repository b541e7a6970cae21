//! A Jira user's link to their Microsoft account, as the user themselves sees and changes it:
//! reading it and unlinking. `DELETE /api/v1/me` (a Jira plugin) and the account page for Jira
//! users (`/jira/{public_id}/me`) both call [`unlink`], so the two ways out behave the same.
//! The one-time sign-in URL of a link started from Teams ([`teams_sign_in_url`]) is made here
//! too: the bot's `link` command hands it out, and so does the message telling a user their
//! link lapsed (a job).

use chrono::Utc;
use uuid::Uuid;

use crate::crypto::random;
use crate::db;
use crate::db::models::teams_sign_in::{NewTeamsSignIn, TeamsSignIn, URL_TTL_SECS};
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

/// Stores a new one-time sign-in URL (`/auth/teams/start?t=`, the token kept hashed, valid
/// [`URL_TTL_SECS`]) bound to this Teams user (tenant, Entra object id, `29:` id) and one Jira
/// instance; returns it. Expired ones are purged on the way.
pub async fn teams_sign_in_url(
    state: &AppState,
    tenant: Uuid,
    aad_object_id: Uuid,
    teams_user_id: &str,
    instance: Uuid,
) -> Result<String, AppError> {
    let token = random::token(32);
    let hash = random::token_hash(&token);
    let user = teams_user_id.to_owned();
    db::run(&state.pool, move |conn| {
        TeamsSignIn::purge_expired(conn)?;
        NewTeamsSignIn {
            id: Uuid::new_v4(),
            token_hash: &hash,
            tenant_id: tenant,
            aad_object_id,
            teams_user_id: &user,
            jira_instance_id: instance,
            stage: "issued",
            expires_at: Utc::now() + chrono::Duration::seconds(URL_TTL_SECS),
        }
        .insert(conn)?;
        Ok(())
    })
    .await?;
    Ok(format!("{}/auth/teams/start?t={token}", state.internal_url))
}
