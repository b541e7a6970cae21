//! The rules of PROTOCOLS.md §6.5 (schema v1.22) that a manifest must pass before it goes into a
//! package: each broken rule is one [`ManifestError`] naming the field and the rule.

use std::collections::HashSet;
use std::fmt;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::{MANIFEST_VERSION, MAX_STATIC_TABS, MAX_UNFURL_DOMAINS, MAX_VALID_DOMAINS, SCHEMA_URL};

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

/// Top-level keys of the v1.22 schema (`additionalProperties: false`). [sdk-ish: read from the
/// schema's property list; a key this list lacks is refused, which is the safe side.]
const TOP_LEVEL_KEYS: &[&str] = &[
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

const SCOPES: &[&str] = &["personal", "team", "groupChat"];
const CONTEXTS: &[&str] = &["compose", "commandBox", "message"];
/// Longest URL the schema accepts.
const MAX_URL: usize = 2048;

struct Check {
    errors: Vec<ManifestError>,
}

impl Check {
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ManifestError {
            path: path.into(),
            message: message.into(),
        });
    }

    /// A required (or optional) string of `min..=max` characters; its value when present.
    fn text<'a>(
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

    fn guid(&mut self, obj: &Value, path: &str, key: &str) {
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
    fn https(&mut self, obj: &Value, path: &str, key: &str) -> Option<String> {
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
    fn array<'a>(
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
    fn names(&mut self, obj: &Value, path: &str, key: &str, allowed: &[&str], required: bool) {
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
    fn domain(&mut self, value: &Value, at: String) -> Option<String> {
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

fn is_guid(s: &str) -> bool {
    s.len() == 36 && s.as_bytes()[8] == b'-' && Uuid::parse_str(s).is_ok()
}

/// `x.y.z`, digits only, no leading zeros (the schema's pattern).
fn is_semver(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 9
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
}

fn is_accent_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
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
    unknown_keys(&mut c, top);
    header(&mut c, manifest);
    let valid_domains = valid_domains(&mut c, manifest);
    let bot_id = bots(&mut c, manifest);
    compose_extensions(&mut c, manifest, bot_id.as_deref());
    static_tabs(&mut c, manifest, &valid_domains);
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

fn unknown_keys(c: &mut Check, top: &Map<String, Value>) {
    for key in top.keys() {
        if !TOP_LEVEL_KEYS.contains(&key.as_str()) {
            c.err(
                key.clone(),
                "is not a manifest field (the schema allows no other top-level keys)",
            );
        }
    }
}

fn header(c: &mut Check, m: &Value) {
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

fn valid_domains(c: &mut Check, m: &Value) -> HashSet<String> {
    let mut seen = HashSet::new();
    let items = c.array(m, "", "validDomains", 0, MAX_VALID_DOMAINS);
    for (i, d) in items.iter().enumerate() {
        if let Some(host) = c.domain(d, format!("validDomains[{i}]"))
            && !seen.insert(host.clone())
        {
            c.err(
                format!("validDomains[{i}]"),
                format!("\"{host}\" is listed twice"),
            );
        }
    }
    seen
}

/// Checks `bots`; the bot's id when there is one.
fn bots(c: &mut Check, m: &Value) -> Option<String> {
    let bots = c.array(m, "", "bots", 0, 1);
    for (i, bot) in bots.iter().enumerate() {
        let path = format!("bots[{i}]");
        c.guid(bot, &path, "botId");
        c.names(bot, &path, "scopes", SCOPES, true);
        let lists = c.array(bot, &path, "commandLists", 0, 3);
        for (j, list) in lists.iter().enumerate() {
            let lp = format!("{path}.commandLists[{j}]");
            c.names(list, &lp, "scopes", SCOPES, true);
            if list.get("commands").is_none() {
                c.err(format!("{lp}.commands"), "is required");
            }
            for (k, cmd) in c.array(list, &lp, "commands", 1, 10).iter().enumerate() {
                let cp = format!("{lp}.commands[{k}]");
                c.text(cmd, &cp, "title", true, 32);
                c.text(cmd, &cp, "description", true, 128);
            }
        }
    }
    bots.first()
        .and_then(|b| b.get("botId"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn compose_extensions(c: &mut Check, m: &Value, bot_id: Option<&str>) {
    for (i, ext) in c.array(m, "", "composeExtensions", 0, 1).iter().enumerate() {
        let path = format!("composeExtensions[{i}]");
        c.guid(ext, &path, "botId");
        if let (Some(b), Some(e)) = (bot_id, ext.get("botId").and_then(Value::as_str))
            && !b.eq_ignore_ascii_case(e)
        {
            c.err(
                format!("{path}.botId"),
                format!("\"{e}\" differs from the bot's id \"{b}\""),
            );
        }
        let commands = c.array(ext, &path, "commands", 0, 10);
        let mut ids = HashSet::new();
        for (j, cmd) in commands.iter().enumerate() {
            let cp = format!("{path}.commands[{j}]");
            if let Some(id) = c.text(cmd, &cp, "id", true, 64)
                && !ids.insert(id)
            {
                c.err(format!("{cp}.id"), format!("\"{id}\" is used twice"));
            }
            c.text(cmd, &cp, "title", true, 32);
            c.text(cmd, &cp, "description", false, 128);
            let kind = cmd.get("type").and_then(Value::as_str).unwrap_or("query");
            if !matches!(kind, "query" | "action") {
                c.err(
                    format!("{cp}.type"),
                    format!("\"{kind}\" is not query or action"),
                );
            }
            c.names(cmd, &cp, "context", CONTEXTS, false);
            let min_params = usize::from(kind == "query");
            if kind == "query" && cmd.get("parameters").is_none() {
                c.err(
                    format!("{cp}.parameters"),
                    "a query command needs 1 to 5 parameters",
                );
            }
            for (k, p) in c
                .array(cmd, &cp, "parameters", min_params, 5)
                .iter()
                .enumerate()
            {
                let pp = format!("{cp}.parameters[{k}]");
                c.text(p, &pp, "name", true, 64);
                c.text(p, &pp, "title", true, 32);
                c.text(p, &pp, "description", false, 128);
            }
        }
        let handlers = c.array(ext, &path, "messageHandlers", 0, 5);
        if !handlers.is_empty() && commands.is_empty() {
            c.err(
                format!("{path}.messageHandlers"),
                "link unfurling needs at least one message extension command",
            );
        }
        for (j, h) in handlers.iter().enumerate() {
            let hp = format!("{path}.messageHandlers[{j}]");
            if h.get("type").and_then(Value::as_str) != Some("link") {
                c.err(format!("{hp}.type"), "must be \"link\"");
            }
            let value = h.get("value").unwrap_or(&Value::Null);
            if value.get("domains").is_none() {
                c.err(format!("{hp}.value.domains"), "is required");
            }
            let vp = format!("{hp}.value");
            for (k, d) in c
                .array(value, &vp, "domains", 1, MAX_UNFURL_DOMAINS)
                .iter()
                .enumerate()
            {
                c.domain(d, format!("{vp}.domains[{k}]"));
            }
        }
    }
}

fn static_tabs(c: &mut Check, m: &Value, valid_domains: &HashSet<String>) {
    let mut ids = HashSet::new();
    for (i, tab) in c
        .array(m, "", "staticTabs", 0, MAX_STATIC_TABS)
        .iter()
        .enumerate()
    {
        let path = format!("staticTabs[{i}]");
        if let Some(id) = c.text(tab, &path, "entityId", true, 64)
            && !ids.insert(id)
        {
            c.err(
                format!("{path}.entityId"),
                format!("\"{id}\" is used twice"),
            );
        }
        c.text(tab, &path, "name", false, 128);
        c.names(tab, &path, "scopes", SCOPES, true);
        if tab.get("contentUrl").is_some()
            && let Some(host) = c.https(tab, &path, "contentUrl")
            && !valid_domains.contains(&host)
        {
            c.err(
                format!("{path}.contentUrl"),
                format!("its host \"{host}\" is not in validDomains"),
            );
        }
    }
}

#[cfg(test)]
mod tests;
