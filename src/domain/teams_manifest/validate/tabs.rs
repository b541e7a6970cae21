//! `validDomains` (hosts, no duplicates) and `staticTabs`, whose content URLs must be on one of
//! those hosts.

use std::collections::HashSet;

use serde_json::Value;

use super::super::{MAX_STATIC_TABS, MAX_VALID_DOMAINS};
use super::check::{Check, SCOPES};

pub(super) fn valid_domains(c: &mut Check, m: &Value) -> HashSet<String> {
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

pub(super) fn static_tabs(c: &mut Check, m: &Value, valid_domains: &HashSet<String>) {
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
