//! The parts of a Bot Framework activity the appliance reads (PROTOCOLS.md §3.3, §3.5), and what
//! an installation event means for the bot's membership in a conversation.

use serde::Deserialize;
use uuid::Uuid;

/// An account (bot or user) in an activity.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    #[serde(default)]
    pub id: String,
    /// Display name, as Teams sends it.
    #[serde(default)]
    pub name: Option<String>,
    /// The Entra object id of a user (`from` only).
    #[serde(default)]
    pub aad_object_id: Option<String>,
}

/// The conversation of an activity.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub id: String,
    #[serde(default)]
    pub conversation_type: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// An inbound activity, reduced.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    #[serde(rename = "type")]
    pub kind: String,
    /// The activity id (a message's id; replies and dedupe keys use it).
    #[serde(default)]
    pub id: Option<String>,
    /// An invoke's name (`composeExtension/query`, `signin/verifyState`, …).
    #[serde(default)]
    pub name: Option<String>,
    /// A message's text (HTML-ish: mentions arrive as `<at>…</at>`).
    #[serde(default)]
    pub text: Option<String>,
    /// An invoke's value, or the data of an `Action.Submit` in a message.
    #[serde(default)]
    pub value: serde_json::Value,
    pub channel_id: String,
    pub service_url: String,
    pub conversation: Conversation,
    #[serde(default)]
    pub recipient: Option<Account>,
    #[serde(default)]
    pub from: Option<Account>,
    #[serde(default)]
    pub members_added: Vec<Account>,
    #[serde(default)]
    pub members_removed: Vec<Account>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub channel_data: serde_json::Value,
}

/// What an installation event does to the bot's membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipChange {
    pub conversation_id: String,
    pub tenant_id: Uuid,
    /// `personal`, `team` or `groupChat`.
    pub scope: &'static str,
    /// `installationAdded`, `installationRemoved`, `teamMemberAdded` or `teamMemberRemoved`.
    pub status: &'static str,
    /// The team of a channel event (`channelData.team`), when Teams names a valid one. A team
    /// event may come from any of the team's channels, so a removal is meant for the team, not
    /// only for `conversation_id`.
    pub team: Option<Team>,
}

impl MembershipChange {
    /// True when the bot leaves the conversation (or its whole team).
    pub fn is_removal(&self) -> bool {
        matches!(self.status, "installationRemoved" | "teamMemberRemoved")
    }
}

/// A Teams team as channel activities name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    /// The team's thread id (`19:…@thread.tacv2`, older `@thread.skype`); the team's General
    /// channel has the same id.
    pub id: String,
    /// The team's display name when Teams sent it, at most 512 characters.
    pub name: Option<String>,
}

/// Longest team name kept.
const TEAM_NAME_MAX_CHARS: usize = 512;

impl Activity {
    /// The Teams user (`29:…`) who installed the app personally, when this is such an event:
    /// they get the welcome message (once).
    pub fn personal_installer(&self) -> Option<&str> {
        let change = self.membership_change()?;
        let from = self.from.as_ref()?.id.as_str();
        (change.scope == "personal"
            && change.status == "installationAdded"
            && from.starts_with("29:"))
        .then_some(from)
    }

    /// `personal`, `team` (a channel) or `groupChat`.
    pub fn scope(&self) -> &'static str {
        match self.conversation.conversation_type.as_deref() {
            Some("personal") => "personal",
            Some("channel") => "team",
            _ => "groupChat",
        }
    }

    /// The conversation's tenant, from `conversation.tenantId` or `channelData.tenant.id`.
    pub fn tenant(&self) -> Option<Uuid> {
        self.conversation
            .tenant_id
            .as_deref()
            .or_else(|| self.channel_data["tenant"]["id"].as_str())
            .and_then(|t| Uuid::parse_str(t).ok())
    }

    /// A message's text as a command: mentions of the bot (`<at>…</at>`) and surrounding space
    /// removed, entities such as `&nbsp;` turned into spaces; `None` when nothing is left.
    pub fn command_text(&self) -> Option<String> {
        let raw = self.text.as_deref()?;
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(start) = rest.find("<at>") {
            out.push_str(&rest[..start]);
            match rest[start..].find("</at>") {
                Some(end) => rest = &rest[start + end + "</at>".len()..],
                None => {
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        let out = out.replace("&nbsp;", " ").replace('\u{a0}', " ");
        let out = out.trim();
        (!out.is_empty()).then(|| out.to_owned())
    }

    /// The team of a channel activity (`channelData.team.id`, `.name`): `None` outside a team or
    /// when the id is not a team thread id. Control characters are dropped from the name.
    pub fn team(&self) -> Option<Team> {
        if self.scope() != "team" {
            return None;
        }
        let team = &self.channel_data["team"];
        let id = team["id"].as_str()?;
        let is_team_thread = id.ends_with("@thread.tacv2") || id.ends_with("@thread.skype");
        if !is_team_thread || super::TeamsChatId::parse(id).is_none() {
            return None;
        }
        let name = team["name"]
            .as_str()
            .map(|n| {
                n.chars()
                    .filter(|c| !c.is_control())
                    .take(TEAM_NAME_MAX_CHARS)
                    .collect::<String>()
            })
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty());
        Some(Team {
            id: id.to_owned(),
            name,
        })
    }

    fn bot_in(&self, accounts: &[Account]) -> bool {
        self.recipient
            .as_ref()
            .is_some_and(|r| accounts.iter().any(|a| a.id == r.id))
    }

    /// The membership change this activity means, if any: `installationUpdate` add/remove, a
    /// `conversationUpdate` that adds or removes the bot itself, or one saying the team was
    /// deleted (`channelData.eventType` `teamDeleted`, any case). The conversation id must be one
    /// Teams uses (`19:…@thread…`, `a:…`) and the tenant must be named.
    pub fn membership_change(&self) -> Option<MembershipChange> {
        let team = self.scope() == "team";
        let team_deleted = self.channel_data["eventType"]
            .as_str()
            .is_some_and(|e| e.eq_ignore_ascii_case("teamDeleted"));
        let status = match self.kind.as_str() {
            "installationUpdate" => match self.action.as_deref()? {
                "add" | "add-upgrade" => "installationAdded",
                "remove" | "remove-upgrade" => "installationRemoved",
                _ => return None,
            },
            "conversationUpdate" if self.bot_in(&self.members_added) => {
                if team {
                    "teamMemberAdded"
                } else {
                    "installationAdded"
                }
            }
            "conversationUpdate" if self.bot_in(&self.members_removed) => {
                if team {
                    "teamMemberRemoved"
                } else {
                    "installationRemoved"
                }
            }
            "conversationUpdate" if team && team_deleted => "teamMemberRemoved",
            _ => return None,
        };
        let tenant_id = self.tenant()?;
        // a channel thread id (`…;messageid=…`) names the team's channel before the `;`
        let id = self.conversation.id.split(';').next().unwrap_or_default();
        let valid = super::TeamsChatId::parse(id).is_some()
            || (id.starts_with("a:") && id.len() <= 512 && !id.chars().any(char::is_whitespace));
        valid.then(|| MembershipChange {
            conversation_id: id.to_owned(),
            tenant_id,
            scope: self.scope(),
            status,
            team: self.team(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn activity(v: serde_json::Value) -> Activity {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn installation_events_become_membership_changes() {
        let a = activity(json!({
            "type": "installationUpdate", "action": "add", "channelId": "msteams",
            "serviceUrl": "https://smba.trafficmanager.net/amer/",
            "recipient": {"id": "28:bot"},
            "conversation": {"id": "19:abc@thread.v2", "conversationType": "groupChat", "tenantId": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"},
        }));
        let c = a.membership_change().unwrap();
        assert_eq!(
            (c.scope, c.status, c.conversation_id.as_str()),
            ("groupChat", "installationAdded", "19:abc@thread.v2")
        );
        let team = activity(json!({
            "type": "conversationUpdate", "channelId": "msteams",
            "serviceUrl": "https://smba.trafficmanager.net/amer/",
            "recipient": {"id": "28:bot"}, "membersRemoved": [{"id": "28:bot"}],
            "conversation": {"id": "19:team@thread.tacv2;messageid=1", "conversationType": "channel"},
            "channelData": {"tenant": {"id": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"}},
        }));
        let c = team.membership_change().unwrap();
        assert_eq!(
            (c.scope, c.status, c.conversation_id.as_str()),
            ("team", "teamMemberRemoved", "19:team@thread.tacv2")
        );
        assert!(!c.tenant_id.is_nil());
        // no tenant, no membership
        let no_tenant = activity(json!({
            "type": "installationUpdate", "action": "add", "channelId": "msteams",
            "serviceUrl": "https://x/", "conversation": {"id": "19:abc@thread.v2"},
        }));
        assert_eq!(no_tenant.membership_change(), None);
        // someone else joining is not the bot's business
        let other = activity(json!({
            "type": "conversationUpdate", "channelId": "msteams", "serviceUrl": "https://x/",
            "recipient": {"id": "28:bot"}, "membersAdded": [{"id": "29:user"}],
            "conversation": {"id": "19:abc@thread.v2"},
        }));
        assert_eq!(other.membership_change(), None);
    }

    #[test]
    fn a_team_event_names_its_team_even_from_another_channel() {
        let tenant = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";
        let event = |kind: &str, extra: serde_json::Value| {
            let mut v = json!({
                "type": kind, "channelId": "msteams", "serviceUrl": "https://x/",
                "recipient": {"id": "28:bot"},
                "conversation": {"id": "19:design@thread.tacv2", "conversationType": "channel", "tenantId": tenant},
                "channelData": {"team": {"id": "19:team@thread.tacv2", "name": " Platform\u{7}  "}, "tenant": {"id": tenant}},
            });
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            activity(v)
        };
        let removed = event(
            "conversationUpdate",
            json!({"membersRemoved": [{"id": "28:bot"}]}),
        )
        .membership_change()
        .unwrap();
        assert_eq!(removed.conversation_id, "19:design@thread.tacv2");
        assert_eq!(
            removed.team,
            Some(Team {
                id: "19:team@thread.tacv2".into(),
                name: Some("Platform".into())
            })
        );
        assert!(removed.is_removal());
        let uninstalled = event("installationUpdate", json!({"action": "remove-upgrade"}))
            .membership_change()
            .unwrap();
        assert_eq!(uninstalled.status, "installationRemoved");
        assert_eq!(uninstalled.team.unwrap().id, "19:team@thread.tacv2");
        let deleted = event(
            "conversationUpdate",
            json!({"channelData": {"eventType": "teamDeleted", "team": {"id": "19:team@thread.tacv2"}, "tenant": {"id": tenant}}}),
        )
        .membership_change()
        .unwrap();
        assert_eq!(
            (deleted.status, deleted.is_removal()),
            ("teamMemberRemoved", true)
        );
        // a team id that is not a team thread is not trusted as one; the channel still is
        for bad in ["19:chat@thread.v2", "team-1", "19:a b@thread.tacv2"] {
            let c = event(
                "conversationUpdate",
                json!({"membersRemoved": [{"id": "28:bot"}], "channelData": {"team": {"id": bad}, "tenant": {"id": tenant}}}),
            )
            .membership_change()
            .unwrap();
            assert_eq!(
                (c.team, c.conversation_id.as_str()),
                (None, "19:design@thread.tacv2"),
                "{bad}"
            );
        }
        // a user leaving the team is not the bot leaving it
        let user_left = event(
            "conversationUpdate",
            json!({"membersRemoved": [{"id": "29:someone"}]}),
        );
        assert_eq!(user_left.membership_change(), None);
    }

    #[test]
    fn command_text_drops_the_bot_mention() {
        let msg = |t: &str| {
            activity(json!({
                "type": "message", "channelId": "msteams", "serviceUrl": "https://x/",
                "conversation": {"id": "a:1"}, "text": t,
            }))
        };
        assert_eq!(
            msg("<at>Jira</at>&nbsp;find  login bug ")
                .command_text()
                .as_deref(),
            Some("find  login bug")
        );
        assert_eq!(msg(" help").command_text().as_deref(), Some("help"));
        assert_eq!(msg("<at>Jira</at> ").command_text(), None);
        assert_eq!(msg("<at>broken").command_text(), None);
    }
}
