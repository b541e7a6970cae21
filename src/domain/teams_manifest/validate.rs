//! The rules of PROTOCOLS.md §6.5 (schema v1.22) that a manifest must pass before it goes into a
//! package: each broken rule is one [`ManifestError`] naming the field and the rule.
//!
//! The rules are grouped by the part of the manifest they check: `header` (top-level keys and
//! the app's identity), `bots` (the bot and its message extensions), `tabs` (valid domains and
//! static tabs); `check` holds the field checks they share.

mod bots;
mod check;
mod header;
mod tabs;

use std::fmt;

use serde_json::Value;

use check::{Check, MAX_URL};

/// One broken rule: where (a JSON path such as `bots[0].scopes[1]`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Checks `manifest` against the rules; every broken rule is reported, not just the first.
pub fn validate(manifest: &Value) -> Result<(), Vec<ManifestError>> {
    let mut c = Check { errors: vec![] };
    let Some(top) = manifest.as_object() else {
        return Err(vec![ManifestError {
            path: "$".into(),
            message: "the manifest must be a JSON object".into(),
        }]);
    };
    header::unknown_keys(&mut c, top);
    header::header(&mut c, manifest);
    let valid_domains = tabs::valid_domains(&mut c, manifest);
    let bot_id = bots::bots(&mut c, manifest);
    bots::compose_extensions(&mut c, manifest, bot_id.as_deref());
    tabs::static_tabs(&mut c, manifest, &valid_domains);
    let web = manifest.get("webApplicationInfo");
    if let Some(w) = web {
        c.guid(w, "webApplicationInfo", "id");
        c.text(w, "webApplicationInfo", "resource", false, MAX_URL);
    }
    if c.errors.is_empty() {
        Ok(())
    } else {
        Err(c.errors)
    }
}

#[cfg(test)]
mod tests;
