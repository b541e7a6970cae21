//! Channel subscriptions (`subscribe`, `unsubscribe`) and personal notification settings
//! (`notifications`).
//!
//! `subscribe ABC [events] [where <JQL>]` in a channel: the project's events reach the channel
//! as the subscriber sees them (Jira is asked as them for every event, and their JQL must match
//! the issue). The JQL is checked by Jira once, when saved (PROTOCOLS.md §7.3).

use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::bot_membership::{BotMembership, Place};
use crate::db::models::channel_subscription::{ChannelSubscription, EVENTS, NewSubscription};
use crate::db::models::teams_user_setting::{NOTIFICATION_KINDS, TeamsUserSetting};
use crate::error::AppError;
use crate::services::tokens;
use crate::state::AppState;

use super::context::TeamsContext;

/// Words for events, as typed, and what they stand for.
const EVENT_WORDS: [(&str, &str); 8] = [
    ("created", "issue_created"),
    ("updated", "issue_updated"),
    ("deleted", "issue_deleted"),
    ("commented", "comment_created"),
    ("comment_edited", "comment_updated"),
    ("comment_updated", "comment_updated"),
    ("comment_deleted", "comment_deleted"),
    ("comments", "comment_*"),
];

/// A parsed `subscribe` line.
#[derive(Debug, PartialEq, Eq)]
pub struct SubscribeArgs {
    pub project: String,
    pub events: Vec<String>,
    pub jql: Option<String>,
}

/// Parses `ABC [created,commented|all] [where <JQL>]`; the error is the answer to show.
pub fn parse_subscribe(rest: &str) -> Result<SubscribeArgs, String> {
    let usage = "Usage: **subscribe** *PROJECT* [created,updated,deleted,commented,comment_edited,comment_deleted | all] [where *JQL*]";
    let (head, jql) = match find_where(rest) {
        Some(i) => (&rest[..i], Some(rest[i + 5..].trim())),
        None => (rest, None),
    };
    let mut words = head.split_whitespace();
    let project = words.next().ok_or_else(|| usage.to_owned())?.to_uppercase();
    let valid_key = project.len() <= 100
        && project.starts_with(|c: char| c.is_ascii_uppercase())
        && project
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !valid_key {
        return Err(format!(
            "\"{}\" is not a Jira project key. {usage}",
            clip(&project)
        ));
    }
    let mut events: Vec<String> = Vec::new();
    for list in words {
        for word in list.split(',').filter(|w| !w.is_empty()) {
            let word = word.to_lowercase();
            if word == "all" {
                events.extend(EVENTS.iter().map(|e| e.to_string()));
                continue;
            }
            match EVENT_WORDS.iter().find(|(w, _)| *w == word) {
                Some((_, "comment_*")) => events.extend(
                    EVENTS
                        .iter()
                        .filter(|e| e.starts_with("comment_"))
                        .map(|e| e.to_string()),
                ),
                Some((_, e)) => events.push(e.to_string()),
                None => return Err(format!("\"{}\" is not an event. {usage}", clip(&word))),
            }
        }
    }
    if events.is_empty() {
        events = EVENTS.iter().map(|e| e.to_string()).collect();
    }
    events.sort();
    events.dedup();
    let jql = match jql {
        Some("") => return Err(format!("Nothing follows \"where\". {usage}")),
        Some(j) if j.chars().count() > 2000 => {
            return Err("The JQL is longer than 2000 characters.".into());
        }
        Some(j) if j.to_lowercase().contains("order by") => {
            return Err("Leave ORDER BY out of a subscription's JQL.".into());
        }
        j => j.map(str::to_owned),
    };
    Ok(SubscribeArgs {
        project,
        events,
        jql,
    })
}

/// The byte offset in `s` of the keyword `where` (any case) standing as a word. Offsets come
/// from `s` itself: lower-casing first would shift them wherever a character's lower case is
/// longer than it (`Ⱥ` → `ⱥ`).
fn find_where(s: &str) -> Option<usize> {
    s.char_indices().map(|(i, _)| i).find(|&i| {
        s.get(i..i + 5)
            .is_some_and(|w| w.eq_ignore_ascii_case("where"))
            && s[..i].chars().next_back().is_none_or(char::is_whitespace)
            && s[i + 5..].chars().next().is_none_or(char::is_whitespace)
    })
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

/// The channel a message came from: the conversation id without `;messageid=…`.
fn channel_of(ctx: &TeamsContext) -> &str {
    ctx.conversation_id
        .split(';')
        .next()
        .unwrap_or(&ctx.conversation_id)
}

fn describe(s: &ChannelSubscription) -> String {
    let events = if s.events.len() == EVENTS.len() {
        "all events".to_owned()
    } else {
        s.events.join(", ")
    };
    match &s.jql {
        Some(j) => format!("**{}**: {events}, where {j}", s.project_key),
        None => format!("**{}**: {events}", s.project_key),
    }
}

/// `subscribe` (in a channel).
pub async fn subscribe(state: &AppState, ctx: &TeamsContext, rest: &str) -> Result<(), AppError> {
    if ctx.scope != "team" {
        return ctx
            .reply_text(
                state,
                "subscribe",
                "Subscriptions are for channels: mention me in a channel of a team with **subscribe** *PROJECT*.",
            )
            .await;
    }
    let channel = channel_of(ctx).to_owned();
    if rest.trim().is_empty() {
        let c = channel.clone();
        let subs = db::run(&state.pool, move |conn| {
            Ok(ChannelSubscription::of_conversation(conn, &c)?)
        })
        .await?;
        let text = if subs.is_empty() {
            "This channel has no subscriptions. Add one with **subscribe** *PROJECT*.".to_owned()
        } else {
            let lines: Vec<String> = subs.iter().map(|s| format!("- {}", describe(s))).collect();
            format!("This channel gets:\n\n{}", lines.join("\n"))
        };
        return ctx.reply_text(state, "subscribe", &text).await;
    }
    let args = match parse_subscribe(rest) {
        Ok(a) => a,
        Err(why) => return ctx.reply_text(state, "subscribe", &why).await,
    };
    let links = ctx.links(state).await?;
    if links.is_empty() {
        return ctx
            .reply_text(
                state,
                "subscribe",
                "Link your Jira account first (type **link** in your chat with me): the channel sees what you may see.",
            )
            .await;
    }
    let actor = Actor::Job("bot".into());
    let mut refusal = None;
    for (mapping, instance) in &links {
        let (token, jira) =
            match tokens::jira_token(state, instance, mapping, &actor, "subscribe a channel").await
            {
                Ok(t) => t,
                Err(e) if e.code() == "needs_sign_in" => {
                    refusal = Some(
                        "Your Jira link needs a new sign-in: type **link** in your chat with me."
                            .to_owned(),
                    );
                    continue;
                }
                Err(e) => return Err(e),
            };
        match jira.project_visible(&token, &args.project).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => return Err(AppError::internal(e)),
        }
        if let Some(jql) = &args.jql {
            match jira.validate_jql(&token, jql).await {
                Ok(()) => {}
                Err(crate::clients::jira::JiraCallError::Refused(why)) => {
                    return ctx
                        .reply_text(state, "subscribe", &format!("Jira refused the JQL: {why}"))
                        .await;
                }
                Err(e) => return Err(AppError::internal(e)),
            }
        }
        let sub_channel = channel.clone();
        let (tenant, user, service_url, team) = (
            ctx.tenant_id,
            ctx.teams_user_id.clone(),
            ctx.service_url.as_str().to_owned(),
            ctx.team.clone(),
        );
        let (instance_id, owner) = (instance.id, mapping.id);
        let (project, events, jql) = (args.project.clone(), args.events.clone(), args.jql.clone());
        let saved = db::run(&state.pool, move |conn| {
            use diesel::Connection;
            conn.transaction(|conn| {
                // the bot heard from this channel, so it is installed in its team
                BotMembership::note_channel(
                    conn,
                    &Place {
                        conversation_id: &sub_channel,
                        tenant,
                        scope: "team",
                        service_url: &service_url,
                        team: team.as_ref().map(|t| (t.id.as_str(), t.name.as_deref())),
                    },
                )?;
                ChannelSubscription::upsert(
                    conn,
                    &NewSubscription {
                        instance: instance_id,
                        conversation_id: &sub_channel,
                        tenant_id: tenant,
                        project_key: &project,
                        events: &events,
                        jql: jql.as_deref(),
                        owner_mapping_id: owner,
                        created_by: &user,
                    },
                )?;
                let subs = ChannelSubscription::of_conversation(conn, &sub_channel)?;
                Ok::<_, diesel::result::Error>(subs.into_iter().find(|s| s.project_key == project))
            })
            .map_err(db::DbError::from)
        })
        .await?;
        let line = saved.as_ref().map(describe).unwrap_or_default();
        let who = mapping
            .jira_user_name
            .as_deref()
            .unwrap_or(&mapping.jira_user_key);
        return ctx
            .reply_text(
                state,
                "subscribe",
                &format!("Subscribed. This channel gets {line}, as Jira shows them to {who}."),
            )
            .await;
    }
    let text = refusal.unwrap_or_else(|| {
        format!(
            "No Jira project {} that you can see. Check the key.",
            args.project
        )
    });
    ctx.reply_text(state, "subscribe", &text).await
}

/// `unsubscribe PROJECT` (in a channel).
pub async fn unsubscribe(state: &AppState, ctx: &TeamsContext, rest: &str) -> Result<(), AppError> {
    let project = rest.trim().to_uppercase();
    if ctx.scope != "team" || project.is_empty() || project.contains(char::is_whitespace) {
        return ctx
            .reply_text(
                state,
                "unsubscribe",
                "Usage, in a channel: **unsubscribe** *PROJECT*.",
            )
            .await;
    }
    let channel = channel_of(ctx).to_owned();
    let p = project.clone();
    let removed = db::run(&state.pool, move |conn| {
        Ok(ChannelSubscription::remove(conn, &channel, &p)?)
    })
    .await?;
    let text = if removed > 0 {
        format!("Unsubscribed: this channel no longer gets {project} events.")
    } else {
        format!("This channel was not subscribed to {}.", clip(&project))
    };
    ctx.reply_text(state, "unsubscribe", &text).await
}

/// `notifications [on|off] [assignee|reporter|watcher|mention]`: shows or changes the sender's
/// personal notifications.
pub async fn notifications(
    state: &AppState,
    ctx: &TeamsContext,
    rest: &str,
) -> Result<(), AppError> {
    let usage = "Usage: **notifications** [on|off] [assignee|reporter|watcher|mention]";
    let mut words = rest.split_whitespace().map(str::to_lowercase);
    let change = match words.next().as_deref() {
        None => None,
        Some("on") => Some(true),
        Some("off") => Some(false),
        Some(_) => return ctx.reply_text(state, "notifications", usage).await,
    };
    let kinds: Vec<&str> = match words.next() {
        None => NOTIFICATION_KINDS.to_vec(),
        Some(k) => match NOTIFICATION_KINDS
            .iter()
            .find(|n| k.trim_end_matches('s') == **n)
        {
            Some(n) if words.next().is_none() => vec![*n],
            _ => return ctx.reply_text(state, "notifications", usage).await,
        },
    };
    let Some(oid) = ctx.aad_object_id else {
        return ctx
            .reply_text(state, "notifications", "Teams did not say who you are.")
            .await;
    };
    let (user, tenant) = (ctx.teams_user_id.clone(), ctx.tenant_id);
    let setting = db::run(&state.pool, move |conn| {
        let current = TeamsUserSetting::find(conn, &user)?;
        let mut prefs = current
            .as_ref()
            .map(|s| s.settings["notifications"].clone())
            .filter(|p| p.is_object())
            .unwrap_or_else(|| serde_json::json!({}));
        if let Some(on) = change {
            for k in &kinds {
                prefs[*k] = serde_json::Value::Bool(on);
            }
        }
        Ok(TeamsUserSetting::merge(
            conn,
            &user,
            &serde_json::json!({
                "tenantId": tenant,
                "aadObjectId": oid,
                "notifications": prefs,
            }),
        )?)
    })
    .await?;
    let lines: Vec<String> = NOTIFICATION_KINDS
        .iter()
        .map(|k| {
            let on = if setting.notification_on(k) {
                "on"
            } else {
                "off"
            };
            format!("- {k}: **{on}**")
        })
        .collect();
    let head = if change.is_some() {
        "Saved. Your personal notifications:"
    } else {
        "Your personal notifications:"
    };
    ctx.reply_text(
        state,
        "notifications",
        &format!("{head}\n\n{}\n\n{usage}", lines.join("\n")),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_lines_are_parsed() {
        let a = parse_subscribe("abc created,commented where priority = High").unwrap();
        assert_eq!(a.project, "ABC");
        assert_eq!(a.events, vec!["comment_created", "issue_created"]);
        assert_eq!(a.jql.as_deref(), Some("priority = High"));
        let all = parse_subscribe("ABC").unwrap();
        assert_eq!(all.events.len(), EVENTS.len());
        assert_eq!(all.jql, None);
        // "where" inside a word is not the keyword
        let w = parse_subscribe("ABC comments WHERE summary ~ somewhere").unwrap();
        assert_eq!(w.events.len(), 3);
        assert_eq!(w.jql.as_deref(), Some("summary ~ somewhere"));
        assert!(parse_subscribe("").is_err());
        assert!(
            parse_subscribe("1ABC")
                .unwrap_err()
                .contains("not a Jira project key")
        );
        assert!(
            parse_subscribe("ABC exploded")
                .unwrap_err()
                .contains("not an event")
        );
        assert!(
            parse_subscribe("ABC where")
                .unwrap_err()
                .contains("Nothing follows")
        );
        assert!(
            parse_subscribe("ABC where a = b ORDER BY key")
                .unwrap_err()
                .contains("ORDER BY")
        );
    }

    /// Found while writing the `bot_activity` fuzz target: letters whose lower case is longer
    /// (`Ⱥ`, `İ`) before `where` shifted the split (`ABC İ w` | `here x`), or past the end of the
    /// line, and the handler panicked.
    #[test]
    fn letters_that_grow_when_lower_cased_do_not_break_the_where_split() {
        assert!(
            parse_subscribe("ȺȺȺȺȺȺ where x")
                .unwrap_err()
                .contains("not a Jira project key")
        );
        let a = parse_subscribe("ABC where summary ~ \"ȺȺȺ\" AND text ~ İstanbul").unwrap();
        assert_eq!(
            a.jql.as_deref(),
            Some("summary ~ \"ȺȺȺ\" AND text ~ İstanbul")
        );
        assert!(
            parse_subscribe("ABC İ WHERE x")
                .unwrap_err()
                .contains("not an event")
        );
    }
}
