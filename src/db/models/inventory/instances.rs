//! The inventory's Jira side: registered instances (secrets shortened), their settings and the
//! JSM portal apps, each on an index of its sort key.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::{Paged, TablePage, table, ts, with};
use crate::db::keyset::{self, Window, seek_by};
use crate::db::schema::{instance_setting, jira_instance, jira_instance_setup, jsm_portal_app};

pub(super) fn page(
    conn: &mut PgConnection,
    key: &str,
    window: &Window<String>,
    limit: i64,
) -> QueryResult<Option<Paged>> {
    match key {
        "jira_instance" => with(window, |w| instances(conn, w, limit)),
        "instance_setting" => with(window, |w| settings(conn, w, limit)),
        "jsm_portal_app" => with(window, |w| portal_apps(conn, w, limit)),
        _ => Ok(None),
    }
}

type InstanceCells = (
    DateTime<Utc>,
    Uuid,
    String,
    String,
    String,
    bool,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

/// Oldest first: the order they were registered in.
fn instances(
    conn: &mut PgConnection,
    window: &Window<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> QueryResult<TablePage> {
    let page = keyset::read(window, limit, |s| {
        seek_by!(
            jira_instance::table
                .left_join(jira_instance_setup::table)
                .into_boxed(),
            s,
            desc = false,
            jira_instance::created_at,
            jira_instance::id
        )
        .select((
            jira_instance::created_at,
            jira_instance::id,
            jira_instance::base_url,
            jira_instance::shared_secret_hint,
            jira_instance::public_id,
            jira_instance::enabled,
            jira_instance_setup::oauth_tested_at.nullable(),
            jira_instance_setup::last_event_at.nullable(),
        ))
        .load::<InstanceCells>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(at, id, a, b, c, d, f, g)| {
                    (
                        (at, id),
                        vec![
                            a,
                            format!("{b}…"),
                            c,
                            if d { "yes".into() } else { "no".into() },
                            ts(at),
                            f.map(ts).unwrap_or_else(|| "–".into()),
                            g.map(ts).unwrap_or_else(|| "–".into()),
                        ],
                    )
                })
                .collect()
        })
    })?;
    Ok(table(
        vec![
            "Jira URL",
            "Shared secret (shortened)",
            "Public ID",
            "Enabled",
            "Registered",
            "OAuth link tested",
            "Last webhook event",
        ],
        page,
    ))
}

type SettingCells = (
    Uuid,
    String,
    String,
    serde_json::Value,
    Option<String>,
    DateTime<Utc>,
);

/// Grouped by instance, by name within one (the `(jira_instance_id, name)` unique index).
fn settings(
    conn: &mut PgConnection,
    window: &Window<(Uuid, String)>,
    limit: i64,
) -> QueryResult<TablePage> {
    let page = keyset::read(window, limit, |s| {
        seek_by!(
            instance_setting::table
                .inner_join(jira_instance::table)
                .into_boxed(),
            s,
            desc = false,
            instance_setting::jira_instance_id,
            instance_setting::name
        )
        .select((
            instance_setting::jira_instance_id,
            instance_setting::name,
            jira_instance::base_url,
            instance_setting::value,
            instance_setting::updated_by,
            instance_setting::updated_at,
        ))
        .load::<SettingCells>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(i, name, a, c, d, e)| {
                    (
                        (i, name.clone()),
                        vec![a, name, c.to_string(), d.unwrap_or_default(), ts(e)],
                    )
                })
                .collect()
        })
    })?;
    Ok(table(
        vec![
            "Jira instance",
            "Setting name",
            "Setting value",
            "Updated by",
            "Updated",
        ],
        page,
    ))
}

fn portal_apps(
    conn: &mut PgConnection,
    window: &Window<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> QueryResult<TablePage> {
    let page = keyset::read(window, limit, |s| {
        seek_by!(
            jsm_portal_app::table
                .inner_join(jira_instance::table)
                .into_boxed(),
            s,
            desc = true,
            jsm_portal_app::updated_at,
            jsm_portal_app::id
        )
        .select((
            jsm_portal_app::updated_at,
            jsm_portal_app::id,
            jira_instance::base_url,
            jsm_portal_app::settings,
        ))
        .load::<(DateTime<Utc>, Uuid, String, serde_json::Value)>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(at, id, b, c)| ((at, id), vec![id.to_string(), b, c.to_string(), ts(at)]))
                .collect()
        })
    })?;
    Ok(table(
        vec!["Portal app ID", "Jira instance", "Settings", "Updated"],
        page,
    ))
}
