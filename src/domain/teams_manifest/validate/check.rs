//! The field checks every rule group uses (required text with a length, GUIDs, https URLs,
//! bounded arrays, names from a list, host names), each recording a [`ManifestError`] at its
//! JSON path, and the patterns they test against.

use std::collections::HashSet;

use serde_json::Value;
use uuid::Uuid;

use super::ManifestError;

pub(super) const SCOPES: &[&str] = &["personal", "team", "groupChat"];
/// Longest URL the schema accepts.
pub(super) const MAX_URL: usize = 2048;

pub(super) struct Check {
    pub(super) errors: Vec<ManifestError>,
}

impl Check {
    pub(super) fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ManifestError {
            path: path.into(),
            message: message.into(),
        });
    }

    /// A required (or optional) string of `min..=max` characters; its value when present.
    pub(super) fn text<'a>(
        &mut self,
        obj: &'a Value,
        path: &str,
        key: &str,
        required: bool,
        max: usize,
    ) -> Option<&'a str> {
        let at = format!("{path}{}{key}", if path.is_empty() { "" } else { "." });
        match obj.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.err(at, "is required");
                }
                None
            }
            Some(Value::String(s)) => {
                let n = s.chars().count();
                if n == 0 {
                    self.err(at, "must not be empty");
                } else if n > max {
                    self.err(
                        at,
                        format!("is {n} characters long; at most {max} are allowed"),
                    );
                }
                Some(s)
            }
            Some(_) => {
                self.err(at, "must be a string");
                None
            }
        }
    }

    pub(super) fn guid(&mut self, obj: &Value, path: &str, key: &str) {
        if let Some(s) = self.text(obj, path, key, true, 36)
            && !is_guid(s)
        {
            self.err(
                format!("{path}.{key}"),
                format!("\"{s}\" is not a GUID (8-4-4-4-12 hexadecimal digits)"),
            );
        }
    }

    /// An https URL; its host when it is one.
    pub(super) fn https(&mut self, obj: &Value, path: &str, key: &str) -> Option<String> {
        let s = self.text(obj, path, key, true, MAX_URL)?;
        match url::Url::parse(s) {
            Ok(u) if u.scheme() == "https" && u.host_str().is_some() => {
                u.host_str().map(str::to_lowercase)
            }
            _ => {
                self.err(
                    format!("{path}.{key}"),
                    format!("\"{s}\" is not an https URL"),
                );
                None
            }
        }
    }

    /// An optional array of at most `max` items (`min` when present).
    pub(super) fn array<'a>(
        &mut self,
        obj: &'a Value,
        path: &str,
        key: &str,
        min: usize,
        max: usize,
    ) -> &'a [Value] {
        let at = format!("{path}{}{key}", if path.is_empty() { "" } else { "." });
        match obj.get(key) {
            None => &[],
            Some(Value::Array(items)) => {
                if items.len() < min {
                    self.err(at, format!("needs at least {min} item(s)"));
                } else if items.len() > max {
                    self.err(
                        at,
                        format!("has {} items; at most {max} are allowed", items.len()),
                    );
                }
                items
            }
            Some(_) => {
                self.err(at, "must be an array");
                &[]
            }
        }
    }

    /// Scope or context names, each from `allowed` (exact spelling) and none twice.
    pub(super) fn names(
        &mut self,
        obj: &Value,
        path: &str,
        key: &str,
        allowed: &[&str],
        required: bool,
    ) {
        if required && obj.get(key).is_none() {
            self.err(format!("{path}.{key}"), "is required");
            return;
        }
        let items = self.array(obj, path, key, 1, allowed.len());
        let mut seen = HashSet::new();
        for (i, item) in items.iter().enumerate() {
            let at = format!("{path}.{key}[{i}]");
            let Some(s) = item.as_str() else {
                self.err(at, "must be a string");
                continue;
            };
            if !allowed.contains(&s) {
                let hint = allowed
                    .iter()
                    .find(|a| a.eq_ignore_ascii_case(s))
                    .map(|a| format!(" (spelled \"{a}\")"))
                    .unwrap_or_default();
                self.err(
                    at,
                    format!("\"{s}\" is not one of {}{hint}", allowed.join(", ")),
                );
            } else if !seen.insert(s) {
                self.err(at, format!("\"{s}\" is listed twice"));
            }
        }
    }

    /// A host name as Teams takes it: no scheme, port or path; a wildcard only as the whole
    /// first label and never over a top-level domain.
    pub(super) fn domain(&mut self, value: &Value, at: String) -> Option<String> {
        let Some(d) = value.as_str() else {
            self.err(at, "must be a string");
            return None;
        };
        if d.is_empty() || d.len() > 253 {
            self.err(at, "must be a host name of 1 to 253 characters");
            return None;
        }
        if d.contains("://") || d.contains(['/', ':', '?', '#', '@']) {
            self.err(
                at,
                format!("\"{d}\" must be a host name only (no scheme, port or path)"),
            );
            return None;
        }
        if d == "*" || d == "*." {
            self.err(
                at,
                "a bare wildcard would match every host and is not allowed",
            );
            return None;
        }
        let rest = d.strip_prefix("*.").unwrap_or(d);
        if rest.contains('*') {
            self.err(
                at,
                format!("\"{d}\": a wildcard may only be the whole first label (*.example.com)"),
            );
            return None;
        }
        let labels: Vec<&str> = rest.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !labels.iter().all(label_ok) {
            self.err(at, format!("\"{d}\" is not a valid host name"));
            return None;
        }
        if d.starts_with("*.") && labels.len() < 2 {
            self.err(
                at,
                format!("\"{d}\": wildcards over a top-level domain are not allowed"),
            );
            return None;
        }
        Some(d.to_lowercase())
    }
}

pub(super) fn is_guid(s: &str) -> bool {
    s.len() == 36 && s.as_bytes()[8] == b'-' && Uuid::parse_str(s).is_ok()
}

/// `x.y.z`, digits only, no leading zeros (the schema's pattern).
pub(super) fn is_semver(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 9
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
}

pub(super) fn is_accent_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
}
