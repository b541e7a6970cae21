//! Marks of an instance's setup that its own row does not hold (one row per instance, made on
//! first use): when the OAuth link last proved to work, and when the webhook last delivered an
//! authenticated event, to the minute.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::jira_instance_setup;

/// How stale the stored last-event time may get before an event writes it again.
pub const EVENT_MARK_SECS: i64 = 60;

/// The marks of one instance.
#[derive(Debug, Clone, Default, Queryable, Selectable)]
#[diesel(table_name = jira_instance_setup)]
pub struct JiraInstanceSetup {
    pub jira_instance_id: Uuid,
    /// When the OAuth link last proved to work (the admin's test, a Jira sign-in).
    pub oauth_tested_at: Option<DateTime<Utc>>,
    /// When the webhook last delivered an authenticated event.
    pub last_event_at: Option<DateTime<Utc>>,
}

impl JiraInstanceSetup {
    /// The marks of an instance (none stored yet: all empty).
    pub fn get(conn: &mut PgConnection, instance: Uuid) -> QueryResult<JiraInstanceSetup> {
        Ok(jira_instance_setup::table
            .find(instance)
            .select(JiraInstanceSetup::as_select())
            .first(conn)
            .optional()?
            .unwrap_or(JiraInstanceSetup {
                jira_instance_id: instance,
                ..Default::default()
            }))
    }

    /// The marks of these instances (one row per instance at most, read by primary key).
    pub fn of(conn: &mut PgConnection, instances: &[Uuid]) -> QueryResult<Vec<JiraInstanceSetup>> {
        jira_instance_setup::table
            .filter(jira_instance_setup::jira_instance_id.eq_any(instances))
            .select(JiraInstanceSetup::as_select())
            .load(conn)
    }

    /// Records that the OAuth link just proved to work.
    pub fn mark_oauth_tested(conn: &mut PgConnection, instance: Uuid) -> QueryResult<()> {
        diesel::insert_into(jira_instance_setup::table)
            .values((
                jira_instance_setup::jira_instance_id.eq(instance),
                jira_instance_setup::oauth_tested_at.eq(diesel::dsl::now),
            ))
            .on_conflict(jira_instance_setup::jira_instance_id)
            .do_update()
            .set(jira_instance_setup::oauth_tested_at.eq(diesel::dsl::now))
            .execute(conn)?;
        Ok(())
    }

    /// Forgets that the OAuth link was tested (its client changed or was removed).
    pub fn clear_oauth_tested(conn: &mut PgConnection, instance: Uuid) -> QueryResult<()> {
        diesel::update(jira_instance_setup::table.find(instance))
            .set(jira_instance_setup::oauth_tested_at.eq(None::<DateTime<Utc>>))
            .execute(conn)?;
        Ok(())
    }

    /// Records that the webhook delivered an authenticated event now, unless a time less than
    /// [`EVENT_MARK_SECS`] old is stored already (so daemons sharing the database write it about
    /// once a minute however busy the webhook). `true` when the row was written.
    pub fn note_event(conn: &mut PgConnection, instance: Uuid) -> QueryResult<bool> {
        let n = diesel::sql_query(
            "INSERT INTO jira_instance_setup (jira_instance_id, last_event_at) VALUES ($1, now()) \
             ON CONFLICT (jira_instance_id) DO UPDATE SET last_event_at = now() \
              WHERE jira_instance_setup.last_event_at IS NULL \
                 OR jira_instance_setup.last_event_at < now() - make_interval(secs => $2)",
        )
        .bind::<diesel::sql_types::Uuid, _>(instance)
        .bind::<diesel::sql_types::Double, _>(EVENT_MARK_SECS as f64)
        .execute(conn)?;
        Ok(n == 1)
    }

    /// True when [`JiraInstanceSetup::note_event`] would write (checked on the marks already
    /// read, so most events cost no write).
    pub fn event_mark_due(&self, now: DateTime<Utc>) -> bool {
        self.last_event_at
            .is_none_or(|t| now - t >= chrono::Duration::seconds(EVENT_MARK_SECS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_mark_is_due_when_none_or_a_minute_old() {
        let now = Utc::now();
        let mut m = JiraInstanceSetup::default();
        assert!(m.event_mark_due(now));
        m.last_event_at = Some(now - chrono::Duration::seconds(59));
        assert!(!m.event_mark_due(now));
        m.last_event_at = Some(now - chrono::Duration::seconds(60));
        assert!(m.event_mark_due(now));
    }
}
