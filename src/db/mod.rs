//! PostgreSQL access: the r2d2 pool, the blocking-call helper, embedded migrations and models.
//! Nothing here opens a network connection other than to the database.

pub mod keyset;
pub mod models;
pub mod schema;
pub mod webhook_writer;

use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use secrecy::{ExposeSecret, SecretString};

/// The connection pool.
pub type DbPool = Pool<ConnectionManager<PgConnection>>;
/// A pooled connection.
pub type DbConn = PooledConnection<ConnectionManager<PgConnection>>;

/// Every migration, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Errors from database work done through [`run`].
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database unavailable: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database task was cancelled")]
    Cancelled,
}

impl DbError {
    /// True when the database could not be reached or dropped the connection (answer 503, not
    /// 500): pool time-outs, closed connections, server shutdown or restart.
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            DbError::Pool(_) => true,
            DbError::Query(Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _)) => true,
            DbError::Query(Error::DatabaseError(_, info)) => {
                let m = info.message();
                m.contains("terminating connection")
                    || m.contains("server closed the connection")
                    || m.contains("no connection to the server")
                    || m.contains("the database system is shutting down")
                    || m.contains("the database system is starting up")
            }
            _ => false,
        }
    }
}

/// A request that failed in the database answers 503 when the database is unreachable and 500
/// otherwise (the cause is logged, never shown).
impl From<DbError> for crate::error::AppError {
    fn from(e: DbError) -> Self {
        if e.is_unavailable() {
            crate::error::AppError::Unavailable(e.into())
        } else {
            crate::error::AppError::Internal(e.into())
        }
    }
}

impl From<DbError> for crate::error::PageError {
    fn from(e: DbError) -> Self {
        crate::error::PageError(e.into())
    }
}

/// Builds the pool. Connections are made lazily, so the database may come up later.
pub fn build_pool(
    url: &SecretString,
    max_size: u32,
    connect_timeout_secs: u64,
) -> anyhow::Result<DbPool> {
    let manager = ConnectionManager::<PgConnection>::new(with_connect_timeout(
        url.expose_secret(),
        connect_timeout_secs,
    ));
    let pool = Pool::builder()
        .max_size(max_size)
        .min_idle(Some(0))
        .connection_timeout(Duration::from_secs(connect_timeout_secs.max(1)))
        // no round trip per checkout: broken connections are detected when a query fails
        .test_on_check_out(false)
        .build_unchecked(manager);
    Ok(pool)
}

/// Adds libpq's `connect_timeout` unless the URL has one.
fn with_connect_timeout(url: &str, secs: u64) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}connect_timeout={}", secs.max(1))
}

/// Runs blocking diesel work on the blocking thread pool with a pooled connection checked out
/// inside the closure's thread, so async workers never wait on the database.
pub async fn run<T, F>(pool: &DbPool, f: F) -> Result<T, DbError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, DbError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::rt::task::spawn_blocking(move || {
        let mut conn = pool.get()?;
        f(&mut conn)
    })
    .await
    .map_err(|_| DbError::Cancelled)?
}

/// Applies pending migrations, logging each; returns how many ran.
pub fn migrate(conn: &mut PgConnection) -> anyhow::Result<usize> {
    migrate_reporting(conn, |name| {
        tracing::info!(migration = name, "applying migration");
    })
}

/// Applies pending migrations one by one, calling `report` with each name before it runs;
/// returns how many ran. One migrator at a time when several daemons start together.
pub fn migrate_reporting(
    conn: &mut PgConnection,
    mut report: impl FnMut(&str),
) -> anyhow::Result<usize> {
    diesel::sql_query("SELECT pg_advisory_lock(7164031)").execute_ext(conn)?;
    let result = (|| {
        let pending = conn
            .pending_migrations(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("cannot read migration state: {e}"))?;
        let n = pending.len();
        for m in pending {
            let name = m.name().to_string();
            report(&name);
            conn.run_migration(&*m)
                .map_err(|e| anyhow::anyhow!("migration {name} failed: {e}"))?;
        }
        Ok(n)
    })();
    diesel::sql_query("SELECT pg_advisory_unlock(7164031)").execute_ext(conn)?;
    result
}

/// Takes a session-level advisory lock if it is free; returns whether it was taken.
pub fn try_advisory_lock(conn: &mut PgConnection, key: i64) -> diesel::QueryResult<bool> {
    #[derive(diesel::QueryableByName)]
    struct Taken {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        taken: bool,
    }
    use diesel::RunQueryDsl;
    let t: Taken = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS taken")
        .bind::<diesel::sql_types::Int8, _>(key)
        .get_result(conn)?;
    Ok(t.taken)
}

/// Waits for a session-level advisory lock (released with the connection).
pub fn advisory_lock(conn: &mut PgConnection, key: i64) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl;
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<diesel::sql_types::Int8, _>(key)
        .execute(conn)?;
    Ok(())
}

/// Reverts every applied migration (tests and `migrate --revert-all`).
pub fn revert_all(conn: &mut PgConnection) -> anyhow::Result<usize> {
    conn.revert_all_migrations(MIGRATIONS)
        .map(|v| v.len())
        .map_err(|e| anyhow::anyhow!("revert failed: {e}"))
}

/// Number of migrations not yet applied.
pub fn pending_migrations(conn: &mut PgConnection) -> anyhow::Result<usize> {
    conn.pending_migrations(MIGRATIONS)
        .map(|v| v.len())
        .map_err(|e| anyhow::anyhow!("cannot read migration state: {e}"))
}

/// The newest applied migration version, if any.
pub fn schema_version(conn: &mut PgConnection) -> anyhow::Result<Option<String>> {
    let applied = conn
        .applied_migrations()
        .map_err(|e| anyhow::anyhow!("cannot read migration state: {e}"))?;
    Ok(applied.iter().map(|v| v.to_string()).max())
}

trait ExecuteExt {
    fn execute_ext(self, conn: &mut PgConnection) -> anyhow::Result<usize>;
}

impl ExecuteExt for diesel::query_builder::SqlQuery {
    fn execute_ext(self, conn: &mut PgConnection) -> anyhow::Result<usize> {
        use diesel::RunQueryDsl;
        Ok(self.execute(conn)?)
    }
}
