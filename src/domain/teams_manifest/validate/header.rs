//! The manifest's top level and the app's identity: no unknown keys, `manifestVersion` and
//! `$schema`, `version`, `id`, `developer`, `name`, `description`, `icons` and `accentColor`.

use serde_json::{Map, Value};

use super::super::{MANIFEST_VERSION, SCHEMA_URL};
use super::check::{Check, MAX_URL, is_accent_color, is_guid, is_semver};

/// Top-level keys of the v1.22 schema (`additionalProperties: false`). [sdk-ish: read from the
/// schema's property list; a key this list lacks is refused, which is the safe side.]
pub(super) const TOP_LEVEL_KEYS: &[&str] = &[
    "$schema",
    "manifestVersion",
    "version",
    "id",
    "localizationInfo",
    "developer",
    "name",
    "description",
    "icons",
    "accentColor",
    "configurableTabs",
    "staticTabs",
    "bots",
    "connectors",
    "subscriptionOffer",
    "composeExtensions",
    "permissions",
    "devicePermissions",
    "validDomains",
    "webApplicationInfo",
    "graphConnector",
    "showLoadingIndicator",
    "isFullScreen",
    "activities",
    "configurableProperties",
    "supportedChannelTypes",
    "defaultBlockUntilAdminAction",
    "publisherDocsUrl",
    "defaultInstallScope",
    "defaultGroupCapability",
    "meetingExtensionDefinition",
    "authorization",
    "extensions",
    "actions",
    "dashboardCards",
    "copilotAgents",
    "elementRelationshipSet",
    "backgroundLoadConfiguration",
];

pub(super) fn unknown_keys(c: &mut Check, top: &Map<String, Value>) {
    for key in top.keys() {
        if !TOP_LEVEL_KEYS.contains(&key.as_str()) {
            c.err(
                key.clone(),
                "is not a manifest field (the schema allows no other top-level keys)",
            );
        }
    }
}

pub(super) fn header(c: &mut Check, m: &Value) {
    if let Some(v) = c.text(m, "", "manifestVersion", true, 16) {
        if v != MANIFEST_VERSION {
            c.err(
                "manifestVersion",
                format!("\"{v}\": this appliance builds and checks v{MANIFEST_VERSION} manifests"),
            );
        } else if let Some(s) = c.text(m, "", "$schema", true, MAX_URL)
            && s != SCHEMA_URL
        {
            c.err(
                "$schema",
                format!("\"{s}\" does not agree with manifestVersion {v}; use {SCHEMA_URL}"),
            );
        }
    }
    if let Some(v) = c.text(m, "", "version", true, 256)
        && !is_semver(v)
    {
        c.err(
            "version",
            format!("\"{v}\" is not a semantic version such as 1.0.0"),
        );
    }
    if let Some(id) = c.text(m, "", "id", true, 36)
        && !is_guid(id)
    {
        c.err("id", format!("\"{id}\" is not a GUID"));
    }
    match m.get("developer") {
        None => c.err("developer", "is required"),
        Some(d) => {
            c.text(d, "developer", "name", true, 32);
            c.https(d, "developer", "websiteUrl");
            c.https(d, "developer", "privacyUrl");
            c.https(d, "developer", "termsOfUseUrl");
        }
    }
    match m.get("name") {
        None => c.err("name", "is required"),
        Some(n) => {
            c.text(n, "name", "short", true, 30);
            c.text(n, "name", "full", true, 100);
        }
    }
    match m.get("description") {
        None => c.err("description", "is required"),
        Some(d) => {
            let short = c.text(d, "description", "short", true, 80);
            let full = c.text(d, "description", "full", true, 4000);
            if let (Some(s), Some(f)) = (short, full)
                && s == f
            {
                c.err("description.full", "must differ from description.short");
            }
        }
    }
    match m.get("icons") {
        None => c.err("icons", "is required"),
        Some(i) => {
            c.text(i, "icons", "color", true, MAX_URL);
            c.text(i, "icons", "outline", true, MAX_URL);
        }
    }
    if let Some(a) = c.text(m, "", "accentColor", true, 7)
        && !is_accent_color(a)
    {
        c.err(
            "accentColor",
            format!("\"{a}\" is not a colour such as #0052CC (^#[0-9a-fA-F]{{6}}$)"),
        );
    }
}
