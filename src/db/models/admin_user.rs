//! Admin accounts (argon2id hashes only).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::admin_user;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// An admin account.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = admin_user)]
pub struct AdminUser {
    pub id: Uuid,
    pub username: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

/// A new admin account.
#[derive(Debug, Insertable)]
#[diesel(table_name = admin_user)]
pub struct NewAdminUser<'a> {
    pub id: Uuid,
    pub username: &'a str,
    pub password_hash: &'a str,
}

impl AdminUser {
    /// True once any admin exists (setup is done).
    pub fn any_exists(conn: &mut PgConnection) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            admin_user::table.select(admin_user::id),
        ))
        .get_result(conn)
    }

    /// Looks an admin up by user name, case-insensitively.
    pub fn find_by_username(conn: &mut PgConnection, name: &str) -> QueryResult<Option<AdminUser>> {
        admin_user::table
            .filter(lower(admin_user::username).eq(name.to_ascii_lowercase()))
            .select(AdminUser::as_select())
            .first(conn)
            .optional()
    }

    /// Looks an admin up by id.
    pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<AdminUser>> {
        admin_user::table
            .find(id)
            .select(AdminUser::as_select())
            .first(conn)
            .optional()
    }

    /// Inserts an admin.
    pub fn insert(conn: &mut PgConnection, new: &NewAdminUser<'_>) -> QueryResult<AdminUser> {
        diesel::insert_into(admin_user::table)
            .values(new)
            .returning(AdminUser::as_returning())
            .get_result(conn)
    }

    /// Records a successful login.
    pub fn touch_login(conn: &mut PgConnection, id: Uuid) -> QueryResult<usize> {
        diesel::update(admin_user::table.find(id))
            .set(admin_user::last_login_at.eq(diesel::dsl::now))
            .execute(conn)
    }
}
