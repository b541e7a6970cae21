//! The Teams app manifest (schema v1.22, PROTOCOLS.md §6.5): what the appliance needs to build
//! it ([`plan`]), the manifest itself ([`build`]), the fingerprint that decides when its
//! `version` goes up, and a validator of the schema's rules ([`validate`]). Pure.

mod validate;

pub use validate::{ManifestError, validate};

use serde_json::{Value, json};
use uuid::Uuid;

/// The pinned manifest version; `$schema` names the same one.
pub const MANIFEST_VERSION: &str = "1.22";
/// The schema document of [`MANIFEST_VERSION`].
pub const SCHEMA_URL: &str =
    "https://developer.microsoft.com/json-schemas/teams/v1.22/MicrosoftTeams.schema.json";
/// File names of the icons inside the package.
pub const COLOR_ICON: &str = "color.png";
pub const OUTLINE_ICON: &str = "outline.png";
/// Colour behind the colour icon.
pub const ACCENT_COLOR: &str = "#0052CC";
/// Most link-unfurling domains one message handler may list (v1.22).
pub const MAX_UNFURL_DOMAINS: usize = 5;
/// Most static tabs (v1.22).
pub const MAX_STATIC_TABS: usize = 16;
/// Most valid domains (v1.22).
pub const MAX_VALID_DOMAINS: usize = 16;
/// The version of the first package.
pub const FIRST_VERSION: &str = "1.0.0";

/// Where the project lives: the developer's website, and the privacy and terms pages (the
/// README's Security and License sections; the appliance keeps every piece of data on premises).
const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

/// A JSM portal app shown as a personal tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalTab {
    pub id: Uuid,
    pub name: String,
}

/// The Microsoft registration as configured (config.toml or the admin page), unchecked.
#[derive(Debug, Clone, Default)]
pub struct RegistrationIds {
    pub client_id: String,
    pub bot_app_id: String,
}

/// Everything the manifest is made from, as found.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `None` when no Microsoft app registration exists.
    pub registration: Option<RegistrationIds>,
    /// How browsers reach the internal listener.
    pub internal_url: String,
    /// Where Microsoft reaches `/bot/messages` (may be empty).
    pub public_url: String,
    /// Base URLs of the enabled Jira instances.
    pub jira_base_urls: Vec<String>,
    /// Portal apps with a usable tab name.
    pub portal_apps: Vec<PortalTab>,
}

/// The checked content of a manifest, without its id and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub bot_app_id: Uuid,
    pub client_id: Uuid,
    /// https, no trailing slash.
    pub internal_url: String,
    pub internal_host: String,
    pub public_host: Option<String>,
    /// Sorted, unique, at most [`MAX_UNFURL_DOMAINS`].
    pub jira_hosts: Vec<String>,
    /// Sorted by name then id, at most [`MAX_STATIC_TABS`].
    pub portal_apps: Vec<PortalTab>,
}

/// What [`plan`] found: the content when nothing needed is missing, what is missing (each a
/// sentence saying what to do), and what had to be left out of the package.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub content: Option<Content>,
    pub missing: Vec<String>,
    pub left_out: Vec<String>,
}

/// The lower-cased host of an absolute http(s) URL.
fn host_of(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url.host_str().map(|h| {
        h.trim_start_matches('[')
            .trim_end_matches(']')
            .to_lowercase()
    })
}

/// Checks the sources and says exactly what is missing.
pub fn plan(src: &Sources) -> Plan {
    let mut missing = Vec::new();
    let mut left_out = Vec::new();
    let (mut client_id, mut bot_app_id) = (None, None);
    match &src.registration {
        None => missing.push(
            "No Microsoft app registration: enter it under Admin › Microsoft (or pin it in config.toml [microsoft])."
                .to_owned(),
        ),
        Some(r) => {
            client_id = Uuid::parse_str(r.client_id.trim()).ok();
            if client_id.is_none() {
                missing.push(format!(
                    "The Microsoft client id \"{}\" is not a GUID (Teams needs it in webApplicationInfo).",
                    r.client_id.chars().take(40).collect::<String>()
                ));
            }
            if r.bot_app_id.trim().is_empty() {
                missing.push(
                    "No bot app id: enter the Azure Bot's app id under Admin › Microsoft (or microsoft.bot_app_id in config.toml)."
                        .to_owned(),
                );
            } else {
                bot_app_id = Uuid::parse_str(r.bot_app_id.trim()).ok();
                if bot_app_id.is_none() {
                    missing.push(format!(
                        "The bot app id \"{}\" is not a GUID.",
                        r.bot_app_id.chars().take(40).collect::<String>()
                    ));
                }
            }
        }
    }
    let internal_url = src.internal_url.trim_end_matches('/').to_owned();
    let internal_host = host_of(&internal_url);
    if !internal_url.starts_with("https://") || internal_host.is_none() {
        missing.push(format!(
            "The internal URL is \"{internal_url}\": Teams loads tabs and sign-in pages only over https. Set [listen] internal_url to the https address browsers use."
        ));
    }
    let public_host = if src.public_url.is_empty() {
        None
    } else {
        host_of(&src.public_url)
    };
    let mut hosts: Vec<String> = src
        .jira_base_urls
        .iter()
        .filter_map(|u| host_of(u))
        .collect();
    hosts.sort();
    hosts.dedup();
    if hosts.len() > MAX_UNFURL_DOMAINS {
        let rest = hosts.split_off(MAX_UNFURL_DOMAINS);
        left_out.push(format!(
            "Links to {} are not unfurled: Teams takes at most {MAX_UNFURL_DOMAINS} link domains.",
            rest.join(", ")
        ));
    }
    let mut tabs = src.portal_apps.clone();
    tabs.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    if tabs.len() > MAX_STATIC_TABS {
        let rest = tabs.split_off(MAX_STATIC_TABS);
        let names: Vec<String> = rest.iter().map(|t| format!("\"{}\"", t.name)).collect();
        left_out.push(format!(
            "The portal apps {} get no tab: Teams takes at most {MAX_STATIC_TABS} tabs.",
            names.join(", ")
        ));
    }
    let content = match (client_id, bot_app_id, internal_host, missing.is_empty()) {
        (Some(client_id), Some(bot_app_id), Some(internal_host), true) => Some(Content {
            bot_app_id,
            client_id,
            internal_url,
            internal_host,
            public_host,
            jira_hosts: hosts,
            portal_apps: tabs,
        }),
        _ => None,
    };
    Plan {
        content,
        missing,
        left_out,
    }
}

/// The bot's command lists, one per scope, from the one list of commands
/// ([`super::bot_commands`]).
fn command_lists() -> Vec<Value> {
    super::bot_commands::command_lists()
        .into_iter()
        .map(|(scope, commands)| {
            let commands: Vec<Value> = commands
                .iter()
                .map(|(title, description)| json!({"title": title, "description": description}))
                .collect();
            json!({"scopes": [scope.manifest_name()], "commands": commands})
        })
        .collect()
}

/// The manifest of `content` under `id` and `version`.
pub fn build(content: &Content, id: Uuid, version: &str) -> Value {
    let bot = content.bot_app_id.to_string();
    let mut valid_domains = vec![content.internal_host.clone()];
    if let Some(h) = &content.public_host
        && !valid_domains.contains(h)
    {
        valid_domains.push(h.clone());
    }
    let mut compose = json!({
        "botId": bot,
        "canUpdateConfiguration": false,
        "commands": [
            {
                "id": "search",
                "type": "query",
                "title": "Search Jira",
                "description": "Find Jira issues you can see and share them",
                "context": ["compose", "commandBox"],
                "initialRun": false,
                "parameters": [{
                    "name": "q",
                    "title": "Search",
                    "description": "Text or issue key",
                    "inputType": "text"
                }]
            },
            {
                "id": "createFromMessage",
                "type": "action",
                "title": "Create Jira issue",
                "description": "Create a Jira issue from this message",
                "context": ["message"],
                "fetchTask": true
            },
            {
                "id": "commentFromMessage",
                "type": "action",
                "title": "Add to a Jira issue as a comment",
                "description": "Add this message to a Jira issue as a comment",
                "context": ["message"],
                "fetchTask": true
            }
        ]
    });
    if !content.jira_hosts.is_empty() {
        compose["messageHandlers"] = json!([
            {"type": "link", "value": {"domains": content.jira_hosts}}
        ]);
    }
    let tabs: Vec<Value> = content
        .portal_apps
        .iter()
        .map(|t| {
            json!({
                "entityId": t.id.to_string(),
                "name": t.name,
                "contentUrl": format!("{}/teams/portal/{}", content.internal_url, t.id),
                "scopes": ["personal"]
            })
        })
        .collect();
    let mut manifest = json!({
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": version,
        "id": id.to_string(),
        "developer": {
            "name": "jira-teams-bridge",
            "websiteUrl": REPOSITORY,
            "privacyUrl": format!("{REPOSITORY}#security"),
            "termsOfUseUrl": format!("{REPOSITORY}#license")
        },
        "name": {"short": "Jira DC", "full": "Jira Data Center for Microsoft Teams"},
        "description": {
            "short": "Jira Data Center issues, notifications and search in Teams",
            "full": "Link your Jira Data Center account, get notified about the issues you work on, search and share issues, unfurl issue links, create issues from messages and open your service desk portals, through your organisation's own jira-teams-bridge appliance."
        },
        "icons": {"color": COLOR_ICON, "outline": OUTLINE_ICON},
        "accentColor": ACCENT_COLOR,
        "bots": [{
            "botId": bot,
            "scopes": ["personal", "team", "groupChat"],
            "supportsFiles": false,
            "isNotificationOnly": false,
            "commandLists": command_lists()
        }],
        "composeExtensions": [compose],
        "validDomains": valid_domains,
        "webApplicationInfo": {
            "id": content.client_id.to_string(),
            "resource": format!("api://{}/{}", content.internal_host, content.client_id)
        }
    });
    if !tabs.is_empty() {
        manifest["staticTabs"] = Value::Array(tabs);
    }
    manifest
}

/// SHA-256 over everything that reaches Teams except the id and version: the manifest built with
/// placeholders, then each icon. Equal fingerprints mean an equal package.
pub fn fingerprint(content: &Content, icons: &[&[u8]]) -> [u8; 32] {
    let manifest = build(content, Uuid::nil(), "0.0.0");
    let mut h = openssl::sha::Sha256::new();
    h.update(manifest.to_string().as_bytes());
    for icon in icons {
        h.update(&(icon.len() as u64).to_be_bytes());
        h.update(icon);
    }
    h.finish()
}

/// The version after `current`: the patch number goes up (`1.0.4` → `1.0.5`); anything that is
/// not `x.y.z` starts again at [`FIRST_VERSION`].
pub fn next_version(current: &str) -> String {
    let parts: Vec<u64> = current
        .split('.')
        .map_while(|p| p.parse::<u64>().ok())
        .collect();
    match parts.as_slice() {
        [major, minor, patch] if current.split('.').count() == 3 => {
            format!("{major}.{minor}.{}", patch.saturating_add(1))
        }
        _ => FIRST_VERSION.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: &str = "0e3419f7-4c4d-47e7-b98a-7b9b9de02b80";
    const BOT: &str = "6f2f0f2e-8f0b-4e35-9a7e-5a8b1e1f0c11";

    pub(super) fn sources() -> Sources {
        Sources {
            registration: Some(RegistrationIds {
                client_id: CLIENT.into(),
                bot_app_id: BOT.into(),
            }),
            internal_url: "https://teams-bridge.corp.example/".into(),
            public_url: "https://bot.example.com".into(),
            jira_base_urls: vec![
                "https://jira.corp.example/jira".into(),
                "https://JIRA.corp.example".into(),
            ],
            portal_apps: vec![PortalTab {
                id: Uuid::from_u128(7),
                name: "Helpdesk".into(),
            }],
        }
    }

    pub(super) fn manifest() -> Value {
        let content = plan(&sources()).content.expect("complete");
        build(&content, Uuid::from_u128(1), "1.0.0")
    }

    #[test]
    fn the_bot_command_lists_are_the_one_list_of_commands_per_scope() {
        let m = manifest();
        let lists = m["bots"][0]["commandLists"].as_array().expect("lists");
        assert_eq!(lists.len(), 3);
        for c in crate::domain::bot_commands::COMMANDS {
            for scope in crate::domain::bot_commands::Scope::ALL {
                let list = lists
                    .iter()
                    .find(|l| l["scopes"] == json!([scope.manifest_name()]))
                    .expect("a list per scope");
                let offered = list["commands"]
                    .as_array()
                    .expect("commands")
                    .iter()
                    .any(|x| x["title"] == c.name && x["description"] == c.manifest_description());
                assert_eq!(offered, c.offered_in(scope), "{} in {scope:?}", c.name);
            }
        }
        assert!(validate(&m).is_ok(), "{:?}", validate(&m));
    }

    #[test]
    fn a_complete_configuration_builds_a_valid_manifest() {
        let m = manifest();
        assert_eq!(validate(&m), Ok(()));
        assert_eq!(m["bots"][0]["botId"], BOT);
        assert_eq!(m["composeExtensions"][0]["botId"], BOT);
        assert_eq!(
            m["composeExtensions"][0]["messageHandlers"][0]["value"]["domains"],
            json!(["jira.corp.example"])
        );
        assert_eq!(
            m["validDomains"],
            json!(["teams-bridge.corp.example", "bot.example.com"])
        );
        assert_eq!(
            m["staticTabs"][0]["contentUrl"],
            format!(
                "https://teams-bridge.corp.example/teams/portal/{}",
                Uuid::from_u128(7)
            )
        );
        assert_eq!(
            m["webApplicationInfo"]["resource"],
            format!("api://teams-bridge.corp.example/{CLIENT}")
        );
    }

    #[test]
    fn every_missing_piece_is_named() {
        let p = plan(&Sources {
            registration: None,
            internal_url: "http://127.0.0.1:8080".into(),
            ..Sources::default()
        });
        assert!(p.content.is_none());
        assert_eq!(p.missing.len(), 2, "{:?}", p.missing);
        assert!(p.missing[0].contains("No Microsoft app registration"));
        assert!(p.missing[1].contains("only over https"));
        let mut s = sources();
        s.registration = Some(RegistrationIds {
            client_id: "nope".into(),
            bot_app_id: String::new(),
        });
        let p = plan(&s);
        assert!(p.content.is_none());
        assert!(p.missing[0].contains("\"nope\" is not a GUID"));
        assert!(p.missing[1].contains("No bot app id"));
    }

    #[test]
    fn what_does_not_fit_is_left_out_and_said() {
        let mut s = sources();
        s.jira_base_urls = (0..7).map(|i| format!("https://j{i}.example")).collect();
        s.portal_apps = (0..18)
            .map(|i| PortalTab {
                id: Uuid::from_u128(i),
                name: format!("Desk {i:02}"),
            })
            .collect();
        let p = plan(&s);
        let c = p.content.expect("still complete");
        assert_eq!(c.jira_hosts.len(), MAX_UNFURL_DOMAINS);
        assert_eq!(c.portal_apps.len(), MAX_STATIC_TABS);
        assert!(p.left_out[0].contains("j5.example, j6.example"));
        assert!(p.left_out[1].contains("\"Desk 16\", \"Desk 17\""));
        assert_eq!(validate(&build(&c, Uuid::from_u128(1), "1.0.0")), Ok(()));
    }

    #[test]
    fn the_fingerprint_follows_the_content_only() {
        let c = plan(&sources()).content.expect("complete");
        let f = fingerprint(&c, &[b"a", b"b"]);
        assert_eq!(f, fingerprint(&c, &[b"a", b"b"]));
        assert_ne!(f, fingerprint(&c, &[b"a", b"c"]));
        let mut other = c.clone();
        other.portal_apps[0].name = "Service desk".into();
        assert_ne!(f, fingerprint(&other, &[b"a", b"b"]));
    }

    #[test]
    fn versions_go_up_by_patch() {
        assert_eq!(next_version("1.0.0"), "1.0.1");
        assert_eq!(next_version("2.3.41"), "2.3.42");
        assert_eq!(next_version("garbage"), FIRST_VERSION);
        assert_eq!(next_version("1.2.3.4"), FIRST_VERSION);
    }
}
