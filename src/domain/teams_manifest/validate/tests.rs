//! One test per rule: a manifest broken in that one way is refused with the right message.

use serde_json::json;

use super::super::SCHEMA_URL;
use super::super::tests::manifest;
use super::*;

/// The manifest with `edit` applied must be refused with an error at `path` whose message
/// contains `says`.
fn refused(edit: impl FnOnce(&mut Value), path: &str, says: &str) {
    let mut m = manifest();
    edit(&mut m);
    let errors = validate(&m).expect_err("refused");
    assert!(
        errors
            .iter()
            .any(|e| e.path == path && e.message.contains(says)),
        "expected `{path}: …{says}…`, got {errors:?}"
    );
}

#[test]
fn unknown_top_level_keys_are_refused() {
    refused(
        |m| m["packageName"] = json!("x"),
        "packageName",
        "not a manifest field",
    );
}

#[test]
fn schema_and_manifest_version_must_agree() {
    refused(
        |m| m["$schema"] = json!(SCHEMA_URL.replace("v1.22", "v1.21")),
        "$schema",
        "does not agree with manifestVersion 1.22",
    );
    refused(
        |m| m["manifestVersion"] = json!("1.9"),
        "manifestVersion",
        "v1.22",
    );
}

#[test]
fn required_fields_must_be_present() {
    for key in [
        "id",
        "version",
        "developer",
        "name",
        "description",
        "icons",
        "accentColor",
    ] {
        refused(
            |m| {
                m.as_object_mut().map(|o| o.remove(key));
            },
            key,
            "is required",
        );
    }
    refused(
        |m| {
            m["developer"]
                .as_object_mut()
                .map(|o| o.remove("privacyUrl"));
        },
        "developer.privacyUrl",
        "is required",
    );
    refused(
        |m| {
            m["icons"].as_object_mut().map(|o| o.remove("outline"));
        },
        "icons.outline",
        "is required",
    );
    refused(
        |m| {
            m["webApplicationInfo"]
                .as_object_mut()
                .map(|o| o.remove("id"));
        },
        "webApplicationInfo.id",
        "is required",
    );
}

#[test]
fn lengths_are_limited() {
    refused(
        |m| m["name"]["short"] = json!("x".repeat(31)),
        "name.short",
        "at most 30",
    );
    refused(
        |m| m["name"]["full"] = json!("x".repeat(101)),
        "name.full",
        "at most 100",
    );
    refused(
        |m| m["description"]["short"] = json!("x".repeat(81)),
        "description.short",
        "at most 80",
    );
    refused(
        |m| m["description"]["full"] = json!("x".repeat(4001)),
        "description.full",
        "at most 4000",
    );
    refused(
        |m| m["developer"]["name"] = json!("x".repeat(33)),
        "developer.name",
        "at most 32",
    );
    refused(
        |m| m["name"]["short"] = json!(""),
        "name.short",
        "must not be empty",
    );
    refused(
        |m| m["bots"][0]["commandLists"][0]["commands"][0]["title"] = json!("x".repeat(33)),
        "bots[0].commandLists[0].commands[0].title",
        "at most 32",
    );
    refused(
        |m| m["composeExtensions"][0]["commands"][0]["title"] = json!("x".repeat(33)),
        "composeExtensions[0].commands[0].title",
        "at most 32",
    );
    refused(
        |m| m["composeExtensions"][0]["commands"][0]["id"] = json!("x".repeat(65)),
        "composeExtensions[0].commands[0].id",
        "at most 64",
    );
}

#[test]
fn the_short_description_differs_from_the_full_one() {
    refused(
        |m| m["description"]["full"] = m["description"]["short"].clone(),
        "description.full",
        "must differ",
    );
}

#[test]
fn the_accent_color_is_six_hex_digits() {
    for bad in ["0052CC", "#0052C", "#0052CG", "#0052CCFF", "blue"] {
        refused(
            |m| m["accentColor"] = json!(bad),
            "accentColor",
            "is not a colour",
        );
    }
}

#[test]
fn the_version_is_semver() {
    for bad in ["1.0", "1.0.0.0", "v1.0.0", "1.0.0-beta", "01.0.0", "1..0"] {
        refused(
            |m| m["version"] = json!(bad),
            "version",
            "not a semantic version",
        );
    }
}

#[test]
fn ids_are_guids() {
    refused(|m| m["id"] = json!("my-app"), "id", "not a GUID");
    refused(
        |m| m["bots"][0]["botId"] = json!("28:abc"),
        "bots[0].botId",
        "not a GUID",
    );
    refused(
        |m| m["webApplicationInfo"]["id"] = json!("{0e3419f7-4c4d-47e7-b98a-7b9b9de02b80}"),
        "webApplicationInfo.id",
        "",
    );
    refused(
        |m| m["composeExtensions"][0]["botId"] = json!("0e3419f7-4c4d-47e7-b98a-7b9b9de02b80"),
        "composeExtensions[0].botId",
        "differs from the bot's id",
    );
}

#[test]
fn scopes_are_spelt_exactly() {
    refused(
        |m| m["bots"][0]["scopes"] = json!(["personal", "groupchat"]),
        "bots[0].scopes[1]",
        "(spelled \"groupChat\")",
    );
    refused(
        |m| m["bots"][0]["scopes"] = json!(["team", "team"]),
        "bots[0].scopes[1]",
        "listed twice",
    );
    refused(
        |m| m["composeExtensions"][0]["commands"][1]["context"] = json!(["commandbox"]),
        "composeExtensions[0].commands[1].context[0]",
        "(spelled \"commandBox\")",
    );
    refused(
        |m| m["staticTabs"][0]["scopes"] = json!(["everyone"]),
        "staticTabs[0].scopes[0]",
        "not one of",
    );
}

#[test]
fn counts_are_limited() {
    refused(
        |m| {
            let bot = m["bots"][0].clone();
            m["bots"] = json!([bot.clone(), bot]);
        },
        "bots",
        "at most 1",
    );
    refused(
        |m| {
            let cmd = m["bots"][0]["commandLists"][0]["commands"][0].clone();
            m["bots"][0]["commandLists"][0]["commands"] = json!(vec![cmd; 11]);
        },
        "bots[0].commandLists[0].commands",
        "at most 10",
    );
    refused(
        |m| {
            let list = m["bots"][0]["commandLists"][0].clone();
            m["bots"][0]["commandLists"] = json!(vec![list; 4]);
        },
        "bots[0].commandLists",
        "at most 3",
    );
    refused(
        |m| {
            m["composeExtensions"][0]["messageHandlers"][0]["value"]["domains"] = json!([
                "a.example",
                "b.example",
                "c.example",
                "d.example",
                "e.example",
                "f.example"
            ])
        },
        "composeExtensions[0].messageHandlers[0].value.domains",
        "at most 5",
    );
    refused(
        |m| {
            let tabs: Vec<Value> = (0..17)
                .map(|i| {
                    let mut t = m["staticTabs"][0].clone();
                    t["entityId"] = json!(format!("tab{i}"));
                    t
                })
                .collect();
            m["staticTabs"] = json!(tabs);
        },
        "staticTabs",
        "at most 16",
    );
    refused(
        |m| {
            let d: Vec<String> = (0..17).map(|i| format!("h{i}.example")).collect();
            m["validDomains"] = json!(d);
        },
        "validDomains",
        "at most 16",
    );
    refused(
        |m| m["composeExtensions"][0]["commands"][0]["parameters"] = json!([]),
        "composeExtensions[0].commands[0].parameters",
        "at least 1",
    );
}

#[test]
fn urls_are_https() {
    refused(
        |m| m["developer"]["websiteUrl"] = json!("http://example.com"),
        "developer.websiteUrl",
        "not an https URL",
    );
    refused(
        |m| m["staticTabs"][0]["contentUrl"] = json!("http://teams-bridge.corp.example/x"),
        "staticTabs[0].contentUrl",
        "not an https URL",
    );
    refused(
        |m| m["staticTabs"][0]["contentUrl"] = json!("https://elsewhere.example/x"),
        "staticTabs[0].contentUrl",
        "not in validDomains",
    );
}

#[test]
fn domains_are_hosts_without_tld_wildcards() {
    for (bad, says) in [
        ("https://jira.example.com", "host name only"),
        ("jira.example.com:8443", "host name only"),
        ("jira.example.com/browse", "host name only"),
        ("*.com", "top-level domain"),
        ("*", "bare wildcard"),
        ("jira.*.com", "whole first label"),
        ("ji ra.example.com", "not a valid host name"),
    ] {
        refused(
            |m| m["composeExtensions"][0]["messageHandlers"][0]["value"]["domains"] = json!([bad]),
            "composeExtensions[0].messageHandlers[0].value.domains[0]",
            says,
        );
        refused(
            |m| m["validDomains"][0] = json!(bad),
            "validDomains[0]",
            says,
        );
    }
    let mut m = manifest();
    m["composeExtensions"][0]["messageHandlers"][0]["value"]["domains"] = json!(["*.corp.example"]);
    assert_eq!(validate(&m), Ok(()), "a wildcard over one label is fine");
}

#[test]
fn link_unfurling_needs_a_command() {
    refused(
        |m| m["composeExtensions"][0]["commands"] = json!([]),
        "composeExtensions[0].messageHandlers",
        "needs at least one message extension command",
    );
}

#[test]
fn every_broken_rule_is_reported_at_once() {
    let mut m = manifest();
    m["version"] = json!("1");
    m["accentColor"] = json!("red");
    m["extra"] = json!(true);
    let errors = validate(&m).expect_err("refused");
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(
        errors[0].to_string(),
        "extra: is not a manifest field (the schema allows no other top-level keys)"
    );
}
