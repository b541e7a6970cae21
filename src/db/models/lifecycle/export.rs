//! Export: every row stored about a subject as JSON, secrets and hashes redacted.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde_json::{Value, json};

use super::registry::{TableSpec, specs};
use super::scope::{JsonRow, Scope, audit_rows, bind, resolve};
use super::{LifecycleError, Subject, not_found};

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

fn export_scope(conn: &mut PgConnection, subject: &Subject, s: &Scope) -> QueryResult<Value> {
    let mut tables = serde_json::Map::new();
    let mut notes = serde_json::Map::new();
    for spec in specs() {
        let sql = format!(
            "SELECT to_jsonb(t) AS row FROM {} t WHERE {} ORDER BY 1",
            spec.table, spec.filter
        );
        let rows: Vec<JsonRow> = bind(sql, s).load(conn)?;
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|r| {
                let mut v = r.row;
                redact(&mut v, &spec);
                v
            })
            .collect();
        tables.insert(spec.table.to_owned(), Value::Array(rows));
        if let Some(n) = spec.note {
            notes.insert(spec.table.to_owned(), Value::String(n.to_owned()));
        }
    }
    tables.insert(
        "secret_access_audit".into(),
        Value::Array(audit_rows(conn, s)?),
    );
    notes.insert(
        "secret_access_audit".into(),
        "append-only: kept on erase, removed after retention.audit_days".into(),
    );
    Ok(json!({
        "subject": match subject {
            Subject::User { public_id, jira_user_key } =>
                json!({ "kind": "user", "instance": public_id, "jiraUserKey": jira_user_key }),
            Subject::Instance { public_id } => json!({ "kind": "instance", "instance": public_id }),
        },
        "exportedAt": chrono::Utc::now().to_rfc3339(),
        "tables": tables,
        "notes": notes,
    }))
}

fn total_rows(export: &Value) -> usize {
    export["tables"]
        .as_object()
        .map(|t| {
            t.iter()
                .filter(|(k, _)| *k != "secret_access_audit")
                .map(|(_, v)| v.as_array().map_or(0, Vec::len))
                .sum()
        })
        .unwrap_or(0)
}

/// Everything stored about the subject, as JSON, secrets redacted. A user about whom nothing is
/// stored is `NotFound`.
pub fn export(conn: &mut PgConnection, subject: &Subject) -> Result<Value, LifecycleError> {
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(|conn| {
            let scope = resolve(conn, subject, false)?;
            let out = export_scope(conn, subject, &scope)?;
            if total_rows(&out) == 0 {
                return Err(not_found(subject));
            }
            Ok(out)
        })
}

/// Rows per table of an export (for progress and tests).
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
