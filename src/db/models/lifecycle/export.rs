//! Export: every row stored about a subject as JSON, secrets and hashes redacted, written to the
//! writer as it is read. Each table is read through a server-side cursor in chunks inside one
//! read-only repeatable-read transaction, so memory stays at one chunk whatever the subject
//! holds.

use std::collections::BTreeMap;
use std::io::Write;

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::BoxedSqlQuery;
use diesel::sql_types::Bool;
use serde_json::{Value, json};

use super::registry::{AUDIT_TABLE, TableSpec, specs};
use super::scope::{JsonRow, Scope, audit_query, bind, resolve};
use super::{LifecycleError, Subject, not_found};

/// Rows fetched from the cursor at a time (the export's memory: one chunk of rows).
const CHUNK: usize = 500;

/// The cursor each table is read through (one at a time).
const CURSOR: &str = "lifecycle_export";

/// The advisory lock an export that is [`Concurrency::OneAtATime`] holds for its transaction.
/// Advisory keys in use: 7164031 migrations, 7164032 setup token, 7164033 retention.
const EXPORT_LOCK: i64 = 7_164_040;

/// Whether an export may run while another one does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// Always runs (the CLI: the operator's own process).
    Any,
    /// Refused with [`LifecycleError::Busy`] while another such export runs on the same
    /// database (the daemon's download: one at a time, whichever daemon serves it).
    OneAtATime,
}

fn redact(row: &mut Value, spec: &TableSpec) {
    let Some(obj) = row.as_object_mut() else {
        return;
    };
    for (cols, marker) in [
        (spec.encrypted, "<encrypted, 1 value>"),
        (spec.hashed, "<hash>"),
        (spec.redacted, "<redacted>"),
    ] {
        for c in cols {
            if let Some(v) = obj.get_mut(*c)
                && !v.is_null()
            {
                *v = Value::String(marker.to_owned());
            }
        }
    }
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    v: bool,
}

/// Holds what is written back until the first row is: a user about whom nothing is stored
/// gets `NotFound` with nothing written (no probe query first, which PostgreSQL plans for the
/// first row found and may answer by scanning the whole outbox).
struct Gate<'w> {
    out: &'w mut dyn Write,
    held: Option<Vec<u8>>,
}

impl Gate<'_> {
    fn open(&mut self) -> std::io::Result<()> {
        match self.held.take() {
            Some(held) => self.out.write_all(&held),
            None => Ok(()),
        }
    }
}

impl Write for Gate<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.held {
            Some(held) => {
                held.extend_from_slice(buf);
                Ok(buf.len())
            }
            None => self.out.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.held {
            Some(_) => Ok(()),
            None => self.out.flush(),
        }
    }
}

/// Runs `declare` (a `DECLARE` of [`CURSOR`]) and hands each row to `each`, [`CHUNK`] rows
/// at a time; returns how many.
fn each_row(
    conn: &mut PgConnection,
    declare: BoxedSqlQuery<'_, Pg, diesel::query_builder::SqlQuery>,
    mut each: impl FnMut(Value) -> Result<(), LifecycleError>,
) -> Result<usize, LifecycleError> {
    declare.execute(conn)?;
    let fetch = format!("FETCH FORWARD {CHUNK} FROM {CURSOR}");
    let mut n = 0;
    loop {
        let rows: Vec<JsonRow> = diesel::sql_query(&fetch).load(conn)?;
        let got = rows.len();
        for r in rows {
            each(r.row)?;
        }
        n += got;
        if got < CHUNK {
            break;
        }
    }
    diesel::sql_query(format!("CLOSE {CURSOR}")).execute(conn)?;
    Ok(n)
}

/// Writes the JSON document piece by piece: `{"subject", "exportedAt", "tables": {name: [rows]},
/// "notes"}`, one row per line.
struct Doc<'w> {
    out: Gate<'w>,
}

impl Doc<'_> {
    fn raw(&mut self, s: &str) -> Result<(), LifecycleError> {
        self.out
            .write_all(s.as_bytes())
            .map_err(LifecycleError::Write)
    }

    fn json(&mut self, v: &impl serde::Serialize) -> Result<(), LifecycleError> {
        serde_json::to_writer(&mut self.out, v)
            .map_err(|e| LifecycleError::Write(std::io::Error::other(e)))
    }

    /// `"table": [` … `]`, the rows from the cursor `declare` opens.
    fn table(
        &mut self,
        conn: &mut PgConnection,
        first: bool,
        name: &str,
        declare: BoxedSqlQuery<'_, Pg, diesel::query_builder::SqlQuery>,
        spec: Option<&TableSpec>,
    ) -> Result<usize, LifecycleError> {
        self.raw(if first { "\n    " } else { ",\n    " })?;
        self.json(&name)?;
        self.raw(": [")?;
        let mut row_no = 0usize;
        let n = each_row(conn, declare, |mut row| {
            if let Some(spec) = spec {
                redact(&mut row, spec);
            }
            if row_no == 0 {
                // a row: the subject is found, what was held back goes out
                self.out.open().map_err(LifecycleError::Write)?;
            }
            self.raw(if row_no == 0 { "\n      " } else { ",\n      " })?;
            row_no += 1;
            self.json(&row)
        })?;
        self.raw(if n == 0 { "]" } else { "\n    ]" })?;
        Ok(n)
    }
}

/// The rows of every table, then the audit rows, as the document's `tables`; returns the
/// counts (table, rows) in the order written.
fn write_scope(
    conn: &mut PgConnection,
    subject: &Subject,
    s: &Scope,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(&str, usize),
) -> Result<Vec<(String, usize)>, LifecycleError> {
    let mut doc = Doc {
        out: Gate {
            out,
            held: Some(Vec::new()),
        },
    };
    let subject_json = match subject {
        Subject::User {
            public_id,
            jira_user_key,
        } => json!({ "kind": "user", "instance": public_id, "jiraUserKey": jira_user_key }),
        Subject::Instance { public_id } => json!({ "kind": "instance", "instance": public_id }),
    };
    doc.raw("{\n  \"subject\": ")?;
    doc.json(&subject_json)?;
    doc.raw(",\n  \"exportedAt\": ")?;
    doc.json(&chrono::Utc::now().to_rfc3339())?;
    doc.raw(",\n  \"tables\": {")?;
    let mut counts = Vec::new();
    let mut notes = serde_json::Map::new();
    for (i, spec) in specs().iter().enumerate() {
        let declare = bind(
            format!(
                "DECLARE {CURSOR} NO SCROLL CURSOR FOR \
                 SELECT to_jsonb(t) AS row FROM {} t WHERE {} ORDER BY {}",
                spec.table, spec.filter, spec.key
            ),
            s,
        );
        let n = doc.table(conn, i == 0, spec.table, declare, Some(spec))?;
        progress(spec.table, n);
        counts.push((spec.table.to_owned(), n));
        if let Some(note) = spec.note {
            notes.insert(spec.table.to_owned(), Value::String(note.to_owned()));
        }
    }
    if doc.out.held.is_some() {
        return Err(not_found(subject));
    }
    let declare = audit_query(
        &format!("DECLARE {CURSOR} NO SCROLL CURSOR FOR SELECT to_jsonb(a) AS row"),
        "ORDER BY a.id",
        s,
    );
    let n = doc.table(conn, false, AUDIT_TABLE, declare, None)?;
    progress(AUDIT_TABLE, n);
    counts.push((AUDIT_TABLE.to_owned(), n));
    notes.insert(
        AUDIT_TABLE.into(),
        "append-only: kept on erase, removed after retention.audit_days".into(),
    );
    doc.raw("\n  },\n  \"notes\": ")?;
    doc.json(&Value::Object(notes))?;
    doc.raw("\n}\n")?;
    Ok(counts)
}

/// Writes everything stored about the subject to `out` as one JSON document (`subject`,
/// `exportedAt`, `tables` {name: [rows]}, `notes`), secrets redacted, table by table as the
/// rows are read; `progress` is told each table's count once written. Returns the counts per
/// table in the order written. A user about whom nothing is stored is `NotFound`, and an
/// export that must run alone finds another running `Busy`; both before anything is written.
pub fn export_to(
    conn: &mut PgConnection,
    subject: &Subject,
    concurrency: Concurrency,
    out: &mut dyn Write,
    mut progress: impl FnMut(&str, usize),
) -> Result<Vec<(String, usize)>, LifecycleError> {
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(|conn| {
            // cursors are planned for the whole result (the default plans for the first 10 %,
            // which can prefer walking the primary key over the filter's indexes)
            diesel::sql_query("SET LOCAL cursor_tuple_fraction = 1.0").execute(conn)?;
            if concurrency == Concurrency::OneAtATime {
                let locked: Flag = diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS v")
                    .bind::<diesel::sql_types::BigInt, _>(EXPORT_LOCK)
                    .get_result(conn)?;
                if !locked.v {
                    return Err(LifecycleError::Busy(
                        "Another data export is being downloaded right now; exports run one at a time. Try again when it has finished.".into(),
                    ));
                }
            }
            let scope = resolve(conn, subject, false)?;
            let mut buffered = std::io::BufWriter::with_capacity(64 * 1024, out);
            let counts = write_scope(conn, subject, &scope, &mut buffered, &mut progress)?;
            buffered.flush().map_err(LifecycleError::Write)?;
            Ok(counts)
        })
}

/// Rows per table of a parsed export (for progress and tests).
pub fn counts(export: &Value) -> BTreeMap<String, usize> {
    export["tables"]
        .as_object()
        .map(|t| {
            t.iter()
                .map(|(k, v)| (k.clone(), v.as_array().map_or(0, Vec::len)))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_hashes_are_redacted_and_nulls_stay_null() {
        let spec = specs()
            .into_iter()
            .find(|s| s.table == "sign_in_flow")
            .unwrap();
        let mut row = json!({"ms_token": "\\xdeadbeef", "ms_refresh_token": null,
                             "start_hash": "\\x00", "nonce": "n", "stage": "jira"});
        redact(&mut row, &spec);
        assert_eq!(row["ms_token"], "<encrypted, 1 value>");
        assert!(row["ms_refresh_token"].is_null());
        assert_eq!(row["start_hash"], "<hash>");
        assert_eq!(row["nonce"], "<redacted>");
        assert_eq!(row["stage"], "jira");
    }
}
