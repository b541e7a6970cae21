//! Per-instance settings (JSON by name).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::instance_setting;

/// A stored setting.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = instance_setting)]
pub struct InstanceSetting {
    pub id: Uuid,
    pub jira_instance_id: Uuid,
    pub name: String,
    pub value: serde_json::Value,
    pub updated_by: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl InstanceSetting {
    /// One setting of an instance.
    pub fn find(
        conn: &mut PgConnection,
        instance: Uuid,
        name: &str,
    ) -> QueryResult<Option<InstanceSetting>> {
        instance_setting::table
            .filter(instance_setting::jira_instance_id.eq(instance))
            .filter(instance_setting::name.eq(name))
            .select(InstanceSetting::as_select())
            .first(conn)
            .optional()
    }

    /// Creates or replaces a setting.
    pub fn upsert(
        conn: &mut PgConnection,
        instance: Uuid,
        name: &str,
        value: &serde_json::Value,
        by: &str,
    ) -> QueryResult<InstanceSetting> {
        diesel::insert_into(instance_setting::table)
            .values((
                instance_setting::id.eq(Uuid::new_v4()),
                instance_setting::jira_instance_id.eq(instance),
                instance_setting::name.eq(name),
                instance_setting::value.eq(value),
                instance_setting::updated_by.eq(by),
            ))
            .on_conflict((instance_setting::jira_instance_id, instance_setting::name))
            .do_update()
            .set((
                instance_setting::value.eq(value),
                instance_setting::updated_by.eq(by),
                instance_setting::updated_at.eq(diesel::dsl::now),
            ))
            .returning(InstanceSetting::as_returning())
            .get_result(conn)
    }
}
