//! The Teams app package's identity (one row): the manifest id, made once and kept, and the
//! version, bumped exactly when the fingerprint of what goes into the package changes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::teams_app_package;
use crate::domain::teams_manifest::{FIRST_VERSION, next_version};

/// The stored identity.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = teams_app_package)]
pub struct TeamsAppPackage {
    pub manifest_id: Uuid,
    pub version: String,
    pub content_sha256: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TeamsAppPackage {
    /// The stored identity, if a package was ever made.
    pub fn get(conn: &mut PgConnection) -> QueryResult<Option<TeamsAppPackage>> {
        teams_app_package::table
            .select(TeamsAppPackage::as_select())
            .first(conn)
            .optional()
    }

    /// The id and version for a package whose content has `fingerprint`: the first call makes
    /// the id at [`FIRST_VERSION`]; later calls keep both while the fingerprint is the same and
    /// bump the version when it differs. The row is locked, so daemons sharing the database
    /// agree on one version per content.
    pub fn settle(conn: &mut PgConnection, fingerprint: &[u8; 32]) -> QueryResult<TeamsAppPackage> {
        conn.transaction(|conn| {
            diesel::insert_into(teams_app_package::table)
                .values((
                    teams_app_package::manifest_id.eq(Uuid::new_v4()),
                    teams_app_package::version.eq(FIRST_VERSION),
                    teams_app_package::content_sha256.eq(fingerprint.as_slice()),
                ))
                .on_conflict(teams_app_package::singleton)
                .do_nothing()
                .execute(conn)?;
            let row: TeamsAppPackage = teams_app_package::table
                .select(TeamsAppPackage::as_select())
                .for_update()
                .first(conn)?;
            if row.content_sha256 == fingerprint.as_slice() {
                return Ok(row);
            }
            diesel::update(teams_app_package::table.find(row.manifest_id))
                .set((
                    teams_app_package::version.eq(next_version(&row.version)),
                    teams_app_package::content_sha256.eq(fingerprint.as_slice()),
                    teams_app_package::updated_at.eq(diesel::dsl::now),
                ))
                .returning(TeamsAppPackage::as_returning())
                .get_result(conn)
        })
    }
}
