//! JSM portal apps shown in Teams (JSON settings per portal app id).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::jsm_portal_app;

/// A portal app.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = jsm_portal_app)]
pub struct JsmPortalApp {
    pub id: Uuid,
    pub jira_instance_id: Uuid,
    pub settings: serde_json::Value,
    pub updated_at: DateTime<Utc>,
}

impl JsmPortalApp {
    /// Portal apps of an instance after `after` (by id).
    pub fn list(
        conn: &mut PgConnection,
        instance: Uuid,
        after: Option<Uuid>,
        limit: i64,
    ) -> QueryResult<Vec<JsmPortalApp>> {
        let mut q = jsm_portal_app::table
            .filter(jsm_portal_app::jira_instance_id.eq(instance))
            .into_boxed();
        if let Some(a) = after {
            q = q.filter(jsm_portal_app::id.gt(a));
        }
        q.order(jsm_portal_app::id.asc())
            .limit(limit)
            .select(JsmPortalApp::as_select())
            .load(conn)
    }

    /// One portal app of an instance.
    pub fn find(
        conn: &mut PgConnection,
        instance: Uuid,
        id: Uuid,
    ) -> QueryResult<Option<JsmPortalApp>> {
        jsm_portal_app::table
            .filter(jsm_portal_app::jira_instance_id.eq(instance))
            .filter(jsm_portal_app::id.eq(id))
            .select(JsmPortalApp::as_select())
            .first(conn)
            .optional()
    }

    /// Creates or replaces; `None` when the id belongs to another instance. The bool is true when created.
    pub fn upsert(
        conn: &mut PgConnection,
        instance: Uuid,
        id: Uuid,
        settings: &serde_json::Value,
    ) -> QueryResult<Option<(JsmPortalApp, bool)>> {
        conn.transaction(|conn| {
            let existing: Option<Uuid> = jsm_portal_app::table
                .find(id)
                .select(jsm_portal_app::jira_instance_id)
                .for_update()
                .first(conn)
                .optional()?;
            match existing {
                Some(owner) if owner != instance => Ok(None),
                Some(_) => {
                    let row = diesel::update(jsm_portal_app::table.find(id))
                        .set((
                            jsm_portal_app::settings.eq(settings),
                            jsm_portal_app::updated_at.eq(diesel::dsl::now),
                        ))
                        .returning(JsmPortalApp::as_returning())
                        .get_result(conn)?;
                    Ok(Some((row, false)))
                }
                None => {
                    let row = diesel::insert_into(jsm_portal_app::table)
                        .values((
                            jsm_portal_app::id.eq(id),
                            jsm_portal_app::jira_instance_id.eq(instance),
                            jsm_portal_app::settings.eq(settings),
                        ))
                        .returning(JsmPortalApp::as_returning())
                        .get_result(conn)?;
                    Ok(Some((row, true)))
                }
            }
        })
    }

    /// Replaces the settings of an existing portal app; `None` when there is none with this id.
    pub fn update(
        conn: &mut PgConnection,
        id: Uuid,
        settings: &serde_json::Value,
    ) -> QueryResult<Option<JsmPortalApp>> {
        diesel::update(jsm_portal_app::table.find(id))
            .set((
                jsm_portal_app::settings.eq(settings),
                jsm_portal_app::updated_at.eq(diesel::dsl::now),
            ))
            .returning(JsmPortalApp::as_returning())
            .get_result(conn)
            .optional()
    }

    /// Deletes a portal app of an instance.
    pub fn delete(conn: &mut PgConnection, instance: Uuid, id: Uuid) -> QueryResult<bool> {
        let n = diesel::delete(
            jsm_portal_app::table
                .filter(jsm_portal_app::jira_instance_id.eq(instance))
                .filter(jsm_portal_app::id.eq(id)),
        )
        .execute(conn)?;
        Ok(n == 1)
    }
}

/// Most portal apps read for the Teams app package (Teams shows 16 tabs; the rest are named as
/// left out, up to this many).
pub const PACKAGE_READ_LIMIT: i64 = 1000;

impl JsmPortalApp {
    /// Portal apps of the enabled instances, by id (for the Teams app package).
    pub fn of_enabled_instances(conn: &mut PgConnection) -> QueryResult<Vec<JsmPortalApp>> {
        use crate::db::schema::jira_instance;
        jsm_portal_app::table
            .inner_join(jira_instance::table)
            .filter(jira_instance::enabled.eq(true))
            .order(jsm_portal_app::id.asc())
            .limit(PACKAGE_READ_LIMIT)
            .select(JsmPortalApp::as_select())
            .load(conn)
    }
}

impl JsmPortalApp {
    /// A portal app by its id alone (the Teams tab knows only that).
    pub fn get(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<JsmPortalApp>> {
        jsm_portal_app::table
            .find(id)
            .select(JsmPortalApp::as_select())
            .first(conn)
            .optional()
    }
}

/// A portal app with its instance's base URL (the admin list of every instance's portal apps).
#[derive(Debug, Clone)]
pub struct PortalAppRow {
    pub app: JsmPortalApp,
    pub base_url: String,
}

impl JsmPortalApp {
    /// A page of every instance's portal apps by id after `after` (keyset paging on the primary
    /// key: no OFFSET, no count).
    pub fn page_all(
        conn: &mut PgConnection,
        after: Option<Uuid>,
        limit: i64,
    ) -> QueryResult<Vec<PortalAppRow>> {
        use crate::db::schema::jira_instance;
        let mut q = jsm_portal_app::table
            .inner_join(jira_instance::table)
            .into_boxed();
        if let Some(a) = after {
            q = q.filter(jsm_portal_app::id.gt(a));
        }
        q.order(jsm_portal_app::id.asc())
            .limit(limit)
            .select((JsmPortalApp::as_select(), jira_instance::base_url))
            .load::<(JsmPortalApp, String)>(conn)
            .map(|rows| {
                rows.into_iter()
                    .map(|(app, base_url)| PortalAppRow { app, base_url })
                    .collect()
            })
    }
}
