//! The bot (`bots`: id, scopes, command lists) and its message extensions
//! (`composeExtensions`: commands, parameters, link-unfurling handlers).

use std::collections::HashSet;

use serde_json::Value;

use super::super::MAX_UNFURL_DOMAINS;
use super::check::{Check, SCOPES};

const CONTEXTS: &[&str] = &["compose", "commandBox", "message"];

/// Checks `bots`; the bot's id when there is one.
pub(super) fn bots(c: &mut Check, m: &Value) -> Option<String> {
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

pub(super) fn compose_extensions(c: &mut Check, m: &Value, bot_id: Option<&str>) {
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
