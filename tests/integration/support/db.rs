//! Test databases: one of its own per test, cloned from a template migrated once per
//! migration set (shared by test processes), dropped with the test.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use diesel::prelude::*;
use diesel::sql_types::BigInt;

/// Where the harness creates and drops databases.
pub fn admin_database_url() -> String {
    std::env::var("JTB_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgresql:///postgres?host=/var/run/postgresql".into())
}

/// The URL of database `name` on the same server as the admin URL.
pub fn database_url(name: &str) -> String {
    let admin = admin_database_url();
    let parsed = url::Url::parse(&admin).expect("JTB_TEST_DATABASE_URL is a URL");
    let mut u = parsed.clone();
    u.set_path(&format!("/{name}"));
    u.to_string()
}

fn admin_conn() -> PgConnection {
    PgConnection::establish(&admin_database_url())
        .expect("connect to the test PostgreSQL (set JTB_TEST_DATABASE_URL)")
}

fn migrations_fingerprint() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let mut all = Vec::new();
    for e in entries {
        for f in ["up.sql", "down.sql"] {
            all.extend_from_slice(e.file_name().unwrap().as_encoded_bytes());
            all.extend_from_slice(&std::fs::read(e.join(f)).unwrap_or_default());
        }
    }
    hex::encode(&openssl::sha::sha256(&all)[..6])
}

static TEMPLATE: OnceLock<String> = OnceLock::new();
static CREATE_LOCK: Mutex<()> = Mutex::new(());

/// The migrated template database (created once per migration set, shared by test processes).
fn template() -> &'static str {
    TEMPLATE.get_or_init(|| {
        let name = format!("jtb_template_{}", migrations_fingerprint());
        let mut conn = admin_conn();
        diesel::sql_query("SELECT pg_advisory_lock(7164099)")
            .execute(&mut conn)
            .unwrap();
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let exists: N = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM pg_database WHERE datname = '{name}'"
        ))
        .get_result(&mut conn)
        .unwrap();
        if exists.n == 0 {
            diesel::sql_query(format!("CREATE DATABASE {name}_building"))
                .execute(&mut conn)
                .unwrap();
            {
                let mut t =
                    PgConnection::establish(&database_url(&format!("{name}_building"))).unwrap();
                jira_teams_bridge::db::migrate(&mut t).unwrap();
            }
            diesel::sql_query(format!("ALTER DATABASE {name}_building RENAME TO {name}"))
                .execute(&mut conn)
                .unwrap();
        }
        diesel::sql_query("SELECT pg_advisory_unlock(7164099)")
            .execute(&mut conn)
            .unwrap();
        name
    })
}

/// A database of its own for one test; dropped when this value is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// A migrated database cloned from the template.
    pub fn migrated() -> TestDb {
        Self::create(Some(template()))
    }

    /// An empty database (no migrations).
    pub fn empty() -> TestDb {
        Self::create(None)
    }

    fn create(template: Option<&str>) -> TestDb {
        let name = format!("jtb_test_{}", uuid::Uuid::new_v4().simple());
        let _guard = CREATE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let mut conn = admin_conn();
        let sql = match template {
            Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
            None => format!("CREATE DATABASE {name}"),
        };
        let mut tries = 0;
        loop {
            match diesel::sql_query(&sql).execute(&mut conn) {
                Ok(_) => break,
                // another process may be cloning the same template this instant
                Err(e) if tries < 50 && e.to_string().contains("being accessed") => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => panic!("cannot create test database: {e}"),
            }
        }
        let url = database_url(&name);
        TestDb { name, url }
    }

    /// A connection to this database.
    pub fn conn(&self) -> PgConnection {
        PgConnection::establish(&self.url).unwrap()
    }

    /// Makes this database refuse connections and ends the ones it has (an outage).
    pub fn cut_off(&self) {
        let mut admin = admin_conn();
        diesel::sql_query(format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS false",
            self.name
        ))
        .execute(&mut admin)
        .unwrap();
        diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
            self.name
        ))
        .execute(&mut admin)
        .unwrap();
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let mut conn = admin_conn();
        let _ = diesel::sql_query(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn);
    }
}

/// Runs `sql` (fails naming it).
pub fn exec(conn: &mut PgConnection, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

/// The `n` column of the one row `sql` returns (`SELECT count(*) AS n ...`).
pub fn scalar(conn: &mut PgConnection, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql).get_result::<N>(conn).unwrap().n
}
