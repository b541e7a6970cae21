//! Idempotency of the bot's actions in Jira: a key (the form's nonce or the activity id) is
//! claimed before the action and its result stored after, so a repeated activity or a second
//! click finds the first outcome instead of acting again.

use diesel::prelude::*;

use crate::db::schema::bot_action;

/// Rows older than this are forgotten (Teams repeats within minutes).
const KEEP_DAYS: i64 = 7;

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new: act, then [`BotAction::finish`] or [`BotAction::release`].
    Fresh,
    /// Another request with this key is acting right now (or died acting).
    Pending,
    /// Done before, with this result.
    Done(String),
}

/// Namespace for the table's functions.
pub struct BotAction;

impl BotAction {
    /// Claims `key` for the Teams user (and forgets week-old keys).
    pub fn claim(conn: &mut PgConnection, key: &str, teams_user_id: &str) -> QueryResult<Claim> {
        diesel::delete(bot_action::table.filter(
            bot_action::created_at.lt(chrono::Utc::now() - chrono::Duration::days(KEEP_DAYS)),
        ))
        .execute(conn)?;
        let n = diesel::insert_into(bot_action::table)
            .values((
                bot_action::dedupe_key.eq(key),
                bot_action::teams_user_id.eq(teams_user_id),
                bot_action::outcome.eq("pending"),
            ))
            .on_conflict_do_nothing()
            .execute(conn)?;
        if n == 1 {
            return Ok(Claim::Fresh);
        }
        let result: Option<Option<String>> = bot_action::table
            .find(key)
            .select(bot_action::result)
            .first(conn)
            .optional()?;
        Ok(match result {
            Some(Some(r)) => Claim::Done(r),
            // a row removed between the insert and the read: treat as in progress
            _ => Claim::Pending,
        })
    }

    /// Records the result of a claimed action.
    pub fn finish(conn: &mut PgConnection, key: &str, result: &str) -> QueryResult<()> {
        diesel::update(bot_action::table.find(key))
            .set((
                bot_action::outcome.eq("done"),
                bot_action::result.eq(Some(result)),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Gives a claimed key back after an action that certainly did nothing (Jira refused it),
    /// so the same form can be corrected and sent again.
    pub fn release(conn: &mut PgConnection, key: &str) -> QueryResult<()> {
        diesel::delete(
            bot_action::table
                .find(key)
                .filter(bot_action::outcome.eq("pending")),
        )
        .execute(conn)?;
        Ok(())
    }
}
