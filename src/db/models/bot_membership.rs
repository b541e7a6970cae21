//! Where the bot is installed: conversation (team, group chat, personal), tenant, the latest
//! service URL, and status (`installationAdded`, `teamMemberAdded`, removed, blocked). A team
//! has a row for each channel the bot was added in or heard from, each naming the team, so that
//! the bot leaving the team stops all of them at once.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::bot_membership;

/// Statuses under which the bot may post.
pub const ACTIVE: &[&str] = &["installationAdded", "teamMemberAdded"];

/// Statuses that say the app or bot was taken out (a new installation undoes them; a block does
/// not, only the user who blocked can).
const REMOVED: &[&str] = &["installationRemoved", "teamMemberRemoved"];

/// Where an installation event happened: the conversation, its team (channels only) and the
/// latest tenant and service URL.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub conversation_id: &'a str,
    pub tenant: Uuid,
    /// `personal`, `team` or `groupChat`.
    pub scope: &'a str,
    pub service_url: &'a str,
    /// The team's id and name, for a channel of a team.
    pub team: Option<(&'a str, Option<&'a str>)>,
}

/// One installation.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = bot_membership)]
pub struct BotMembership {
    pub id: Uuid,
    pub conversation_id: String,
    pub tenant_id: Uuid,
    pub scope: String,
    pub service_url: String,
    pub status: String,
    pub team_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The team of a channel (`channelData.team.id`), when known.
    pub team_id: Option<String>,
}

impl BotMembership {
    /// The installation in a conversation, whatever its status.
    pub fn find(
        conn: &mut PgConnection,
        conversation_id: &str,
    ) -> QueryResult<Option<BotMembership>> {
        bot_membership::table
            .filter(bot_membership::conversation_id.eq(conversation_id))
            .select(BotMembership::as_select())
            .first(conn)
            .optional()
    }

    /// The service URL Teams used most recently in a tenant (proactive 1:1 conversations).
    pub fn latest_service_url(
        conn: &mut PgConnection,
        tenant: Uuid,
    ) -> QueryResult<Option<String>> {
        bot_membership::table
            .filter(bot_membership::tenant_id.eq(tenant))
            .order(bot_membership::updated_at.desc())
            .select(bot_membership::service_url)
            .first(conn)
            .optional()
    }

    /// True when the bot may post here.
    pub fn is_active(&self) -> bool {
        ACTIVE.contains(&self.status.as_str())
    }

    /// Records that the conversation blocked the bot: nothing more is sent there.
    pub fn mark_blocked(conn: &mut PgConnection, id: Uuid) -> QueryResult<()> {
        diesel::update(bot_membership::table.find(id))
            .set((
                bot_membership::status.eq("messageWritesBlocked"),
                bot_membership::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Records an installation event: inserts or updates the conversation's row with the latest
    /// service URL, tenant, status and team (a team already known is kept when the event names
    /// none).
    pub fn record(
        conn: &mut PgConnection,
        place: &Place<'_>,
        status: &str,
    ) -> QueryResult<BotMembership> {
        let (team_id, team_name) = place.team.unzip();
        let team_name = team_name.flatten();
        let values = (
            bot_membership::tenant_id.eq(place.tenant),
            bot_membership::scope.eq(place.scope),
            bot_membership::service_url.eq(place.service_url),
            bot_membership::status.eq(status),
            bot_membership::updated_at.eq(diesel::dsl::now),
        );
        diesel::insert_into(bot_membership::table)
            .values((
                bot_membership::id.eq(Uuid::new_v4()),
                bot_membership::conversation_id.eq(place.conversation_id),
                bot_membership::team_id.eq(team_id),
                bot_membership::team_name.eq(team_name),
                values,
            ))
            .on_conflict(bot_membership::conversation_id)
            .do_update()
            .set((
                values,
                bot_membership::team_id.eq(diesel::dsl::sql::<
                    diesel::sql_types::Nullable<diesel::sql_types::Text>,
                >(
                    "coalesce(excluded.team_id, bot_membership.team_id)"
                )),
                bot_membership::team_name.eq(diesel::dsl::sql::<
                    diesel::sql_types::Nullable<diesel::sql_types::Text>,
                >(
                    "coalesce(excluded.team_name, bot_membership.team_name)",
                )),
            ))
            .returning(BotMembership::as_returning())
            .get_result(conn)
    }

    /// Records a membership event for a whole team: the bot was added to it (rows of its
    /// channels that were removed become `status` again: the bot is in every channel of a team)
    /// or removed from it (every row of the team gets `status`: Teams may report the removal
    /// from any channel, not the one the bot was added in). The event's own conversation is
    /// recorded when it is an addition, or when no row of the team is known. Returns how many
    /// rows changed.
    pub fn record_team(
        conn: &mut PgConnection,
        place: &Place<'_>,
        team_id: &str,
        status: &str,
    ) -> QueryResult<usize> {
        use diesel::Connection;
        let removal = REMOVED.contains(&status);
        conn.transaction(|conn| {
            let of_team = bot_membership::team_id
                .eq(team_id)
                .or(bot_membership::conversation_id.eq(team_id))
                .or(bot_membership::conversation_id.eq(place.conversation_id));
            let targets = bot_membership::table
                .filter(bot_membership::scope.eq("team"))
                .filter(of_team);
            // the latest service URL goes with the change (the newest row names it per tenant)
            let change = (
                bot_membership::status.eq(status),
                bot_membership::service_url.eq(place.service_url),
                bot_membership::updated_at.eq(diesel::dsl::now),
            );
            let changed = if removal {
                diesel::update(targets.filter(bot_membership::status.ne(status)))
                    .set(change)
                    .execute(conn)?
            } else {
                diesel::update(targets.filter(bot_membership::status.eq_any(REMOVED)))
                    .set(change)
                    .execute(conn)?
            };
            // every row of the team learns its team (older rows were stored without it)
            diesel::update(
                bot_membership::table
                    .filter(bot_membership::scope.eq("team"))
                    .filter(bot_membership::team_id.is_null())
                    .filter(
                        bot_membership::conversation_id
                            .eq(team_id)
                            .or(bot_membership::conversation_id.eq(place.conversation_id)),
                    ),
            )
            .set(bot_membership::team_id.eq(team_id))
            .execute(conn)?;
            // and its latest name, when the event gives one
            if let Some((_, Some(name))) = place.team {
                diesel::update(bot_membership::table.filter(bot_membership::team_id.eq(team_id)))
                    .set(bot_membership::team_name.eq(name))
                    .execute(conn)?;
            }
            let known = bot_membership::table
                .filter(bot_membership::team_id.eq(team_id))
                .count()
                .get_result::<i64>(conn)?;
            if !removal || known == 0 {
                Self::record(conn, place, status)?;
            }
            Ok(changed)
        })
    }

    /// Notes that the bot heard from a channel of a team (a command there): the channel gets a
    /// row if it has none (with the team's name another of its rows knows, as messages carry
    /// only the team's id), and learns its team if it did not know it. An existing row's status
    /// is left alone.
    pub fn note_channel(conn: &mut PgConnection, place: &Place<'_>) -> QueryResult<()> {
        match Self::find(conn, place.conversation_id)? {
            None => {
                let known_name = match place.team {
                    Some((team, None)) => bot_membership::table
                        .filter(bot_membership::team_id.eq(team))
                        .filter(bot_membership::team_name.is_not_null())
                        .order(bot_membership::updated_at.desc())
                        .select(bot_membership::team_name)
                        .first::<Option<String>>(conn)
                        .optional()?
                        .flatten(),
                    _ => None,
                };
                let team = place
                    .team
                    .map(|(id, name)| (id, name.or(known_name.as_deref())));
                Self::record(conn, &Place { team, ..*place }, "teamMemberAdded")?;
            }
            Some(m) if m.team_id.is_none() && m.scope == "team" => {
                if let Some((team, _)) = place.team {
                    diesel::update(bot_membership::table.find(m.id))
                        .set(bot_membership::team_id.eq(team))
                        .execute(conn)?;
                }
            }
            Some(_) => {}
        }
        Ok(())
    }
}
