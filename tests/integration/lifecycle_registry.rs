//! Export and erase cannot forget a table: every table the migrations create is either in the
//! lifecycle's registry (exported and erased with a user or an instance) or on its list of
//! tables left alone on purpose, with the reason — and neither list names a table that does not
//! exist.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::Text;
use jira_teams_bridge::db::models::lifecycle::{OUTSIDE_LIFECYCLE, covered_tables};

use crate::support::db::TestDb;

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

fn tables_in_database(conn: &mut PgConnection) -> BTreeSet<String> {
    diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' \
           AND table_name <> '__diesel_schema_migrations'",
    )
    .load::<Name>(conn)
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect()
}

/// Tables neither in the registry nor on the left-alone list.
fn forgotten(tables: &BTreeSet<String>) -> Vec<String> {
    let covered = covered_tables();
    tables
        .iter()
        .filter(|t| {
            !covered.contains(&t.as_str()) && !OUTSIDE_LIFECYCLE.iter().any(|(o, _)| o == t)
        })
        .cloned()
        .collect()
}

#[test]
fn every_table_is_exported_and_erased_or_said_to_be_left_alone_and_why() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let tables = tables_in_database(&mut conn);
    assert!(tables.len() > 20, "read the tables: {tables:?}");
    assert!(
        forgotten(&tables).is_empty(),
        "tables neither exported/erased nor listed in OUTSIDE_LIFECYCLE with a reason \
         (db/models/lifecycle/registry.rs): {:?}",
        forgotten(&tables)
    );
    let covered: BTreeSet<String> = covered_tables().iter().map(|t| (*t).to_owned()).collect();
    let outside: BTreeSet<String> = OUTSIDE_LIFECYCLE
        .iter()
        .map(|(t, _)| (*t).to_owned())
        .collect();
    let both: Vec<&String> = covered.intersection(&outside).collect();
    assert!(both.is_empty(), "tables in both lists: {both:?}");
    let stale: Vec<&String> = covered
        .union(&outside)
        .filter(|t| !tables.contains(*t))
        .collect();
    assert!(
        stale.is_empty(),
        "listed tables that do not exist: {stale:?}"
    );
    for (table, why) in OUTSIDE_LIFECYCLE {
        assert!(why.len() > 10, "{table} is left alone without a reason");
    }

    // a table a future migration adds is caught until someone decides what happens to it
    diesel::sql_query("CREATE TABLE chat_reaction (id bigint PRIMARY KEY, jira_user_key text)")
        .execute(&mut conn)
        .unwrap();
    assert_eq!(
        forgotten(&tables_in_database(&mut conn)),
        vec!["chat_reaction".to_owned()]
    );
}

#[test]
fn every_table_naming_an_instance_is_covered_or_goes_with_the_instance() {
    // A table with a jira_instance_id column holds an instance's data: the registry must export
    // and erase it, or (listed as left alone) the database must delete it with the instance.
    #[derive(QueryableByName)]
    struct Fk {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Text)]
        on_delete: String,
    }
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let rows = diesel::sql_query(
        "SELECT c.table_name::text AS name, \
                coalesce((SELECT r.delete_rule::text \
                            FROM information_schema.key_column_usage k \
                            JOIN information_schema.referential_constraints r \
                              ON r.constraint_name = k.constraint_name \
                           WHERE k.table_name = c.table_name \
                             AND k.column_name = 'jira_instance_id' LIMIT 1), 'NONE') AS on_delete \
           FROM information_schema.columns c \
          WHERE c.table_schema = 'public' AND c.column_name = 'jira_instance_id'",
    )
    .load::<Fk>(&mut conn)
    .unwrap();
    assert!(rows.len() > 5, "found the instance tables: {}", rows.len());
    let covered = covered_tables();
    for row in rows {
        assert!(
            covered.contains(&row.name.as_str()) || row.on_delete == "CASCADE",
            "{} names an instance but is neither exported/erased nor deleted with it ({})",
            row.name,
            row.on_delete
        );
    }
}
