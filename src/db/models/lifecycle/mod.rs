//! Data lifecycle: export everything stored about one linked user or one Jira instance (secrets
//! redacted), and erase it all leaving an audit tombstone (a user in one transaction, an instance
//! disabled first and its deliveries in batches). One implementation for the CLI (`export`,
//! `erase`) and the admin UI. An export is written as it is read (a cursor per table), so its
//! memory does not grow with the subject.
//!
//! A user is `<public_id>:<jira_user_key>`. Rows on the Microsoft side (Teams user settings,
//! bot actions, the personal bot installation) are keyed by Teams ids, not by instance: they
//! are exported always, and erased only when no other instance links the same Microsoft user.
//!
//! `registry` lists the tables that hold a subject's rows and how each is filtered, redacted
//! and erased; `scope` resolves a subject to the ids those filters bind; `export` and `erase`
//! read and remove the rows.

mod erase;
mod export;
mod registry;
mod scope;

pub use erase::{EraseReport, erase, erase_preview};
pub use export::{Concurrency, counts, export_to};
pub use registry::{OUTSIDE_LIFECYCLE, covered_tables};

/// Whose data: one user of one instance, or a whole instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `<public_id>:<jira_user_key>`.
    User {
        public_id: String,
        jira_user_key: String,
    },
    /// A Jira instance by public ID.
    Instance { public_id: String },
}

impl Subject {
    /// Parses `<public_id>:<jira_user_key>` (the key may itself contain `:`).
    pub fn parse_user(s: &str) -> Result<Subject, LifecycleError> {
        match s.split_once(':') {
            Some((p, k)) if !p.trim().is_empty() && !k.trim().is_empty() && k.len() <= 255 => {
                Ok(Subject::User {
                    public_id: p.trim().to_owned(),
                    jira_user_key: k.trim().to_owned(),
                })
            }
            _ => Err(LifecycleError::BadArgument(
                "a user is <public_id>:<jira_user_key>, e.g. tHXLY2:JIRAUSER10100".into(),
            )),
        }
    }

    /// The identifier as typed (what the tombstone keeps).
    pub fn label(&self) -> String {
        match self {
            Subject::User {
                public_id,
                jira_user_key,
            } => format!("{public_id}:{jira_user_key}"),
            Subject::Instance { public_id } => public_id.clone(),
        }
    }
}

/// Why an export or erase could not be done.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadArgument(String),
    /// Another export that runs one at a time is running (nothing was written).
    #[error("{0}")]
    Busy(String),
    /// The export's writer failed (a full disk, a closed pipe, a browser that left).
    #[error("cannot write the export: {0}")]
    Write(std::io::Error),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

pub(super) fn not_found(subject: &Subject) -> LifecycleError {
    LifecycleError::NotFound(format!(
        "nothing is stored about {}; check the public ID and the Jira user key",
        subject.label()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_public_id_colon_key() {
        assert_eq!(
            Subject::parse_user("tHXLY2:JIRAUSER10100").unwrap(),
            Subject::User {
                public_id: "tHXLY2".into(),
                jira_user_key: "JIRAUSER10100".into()
            }
        );
        // keys may contain colons; only the first one splits
        assert_eq!(
            Subject::parse_user("tHXLY2:a:b").unwrap().label(),
            "tHXLY2:a:b"
        );
        for bad in ["tHXLY2", ":key", "tHXLY2:", ""] {
            assert!(matches!(
                Subject::parse_user(bad),
                Err(LifecycleError::BadArgument(_))
            ));
        }
    }
}
