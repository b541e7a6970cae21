//! What a Graph `chatMessage` shows a reader (PROTOCOLS.md §2.4, §2.5): who sent it (a user, or
//! an app or bot: `from.user` null and `from.application` set), whether it is a system event,
//! a one-line text for a system event, and a one-line summary of the cards a message carries
//! (bots, our own included, often send a card and an empty body or only an
//! `<attachment id="…">` tag). Graph gives `attachments[].content` as a JSON string; the Bot
//! Framework form (an object) is read too.

use serde_json::Value;

/// Longest card summary, in characters, before it is cut with `…`.
pub const SUMMARY_MAX_CHARS: usize = 160;
/// TextBlocks (or card titles and texts) a summary takes at most.
const SUMMARY_TEXTS: usize = 3;
/// How deep containers are followed inside a card.
const MAX_DEPTH: usize = 8;

/// Who sent a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// `user` or `application` (an app or bot).
    pub kind: &'static str,
    pub name: Option<String>,
    /// The user's Entra object id; `None` for an application.
    pub user_id: Option<String>,
}

fn text_of(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The sender: the user, else the application; `None` when Graph names neither (system events).
pub fn sender(m: &Value) -> Option<Sender> {
    let from = &m["from"];
    if from["user"].is_object() {
        return Some(Sender {
            kind: "user",
            name: text_of(&from["user"]["displayName"]),
            user_id: text_of(&from["user"]["id"]),
        });
    }
    if from["application"].is_object() {
        return Some(Sender {
            kind: "application",
            name: text_of(&from["application"]["displayName"]),
            user_id: None,
        });
    }
    None
}

/// The message's type: `systemEventMessage` for a system event (also when Graph, asked without
/// `Prefer: include-unknown-enum-members`, calls it `unknownFutureValue` but gives its
/// `eventDetail`), else Graph's `messageType` (`message` when absent).
pub fn kind(m: &Value) -> String {
    match m["messageType"].as_str() {
        Some("systemEventMessage") => "systemEventMessage".into(),
        Some("unknownFutureValue") if m["eventDetail"].is_object() => "systemEventMessage".into(),
        Some(other) => other.to_owned(),
        None => "message".into(),
    }
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .map(|a| a.iter().filter_map(|x| text_of(&x[key])).take(5).collect())
        .unwrap_or_default()
}

fn with_names(what: &str, names: &[String]) -> String {
    if names.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {}", names.join(", "))
    }
}

/// A system event in words, from its `eventDetail` (`Teams event` when the detail is unknown).
pub fn system_event_text(m: &Value) -> String {
    let d = &m["eventDetail"];
    let kind = d["@odata.type"]
        .as_str()
        .and_then(|t| t.strip_prefix("#microsoft.graph."))
        .and_then(|t| t.strip_suffix("EventMessageDetail"))
        .unwrap_or_default();
    let members = |what: &str| with_names(what, &names(&d["members"], "displayName"));
    let app = |what: &str| match text_of(&d["teamsAppDisplayName"]) {
        Some(name) => format!("{what}: {name}"),
        None => what.to_owned(),
    };
    let text = match kind {
        "chatRenamed" => match text_of(&d["chatDisplayName"]) {
            Some(name) => format!("Chat renamed to “{name}”"),
            None => "Chat renamed".to_owned(),
        },
        "membersAdded" => members("Members added"),
        "membersDeleted" => members("Members removed"),
        "membersJoined" => members("Members joined"),
        "membersLeft" => members("Members left"),
        "teamsAppInstalled" => app("App added"),
        "teamsAppRemoved" => app("App removed"),
        "teamsAppUpgraded" => app("App updated"),
        "callStarted" => "Call started".to_owned(),
        "callEnded" => "Call ended".to_owned(),
        "callRecording" => "Call recorded".to_owned(),
        "callTranscript" => "Call transcribed".to_owned(),
        "messagePinned" => "Message pinned".to_owned(),
        "messageUnpinned" => "Message unpinned".to_owned(),
        "chatHistoryShared" | "conversationMemberRoleUpdated" => "Chat settings changed".to_owned(),
        _ => "Teams event".to_owned(),
    };
    one_line(&text, SUMMARY_MAX_CHARS)
}

/// Markdown (the subset TextBlocks render) reduced to its text: `[label](url)` to `label`,
/// `**` and `__` dropped, backslash escapes resolved; anything else stays as it is.
fn plain(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    let mut rest = markdown;
    while let Some(c) = rest.chars().next() {
        let after = &rest[c.len_utf8()..];
        match c {
            '\\' => {
                let next = after.chars().next();
                out.extend(next);
                rest = &after[next.map_or(0, char::len_utf8)..];
            }
            '*' | '_' if after.starts_with(c) => rest = &after[1..],
            '[' => match after
                .split_once("](")
                .filter(|(label, _)| !label.contains('['))
                .and_then(|(label, target)| Some((label, link_end(target)?)))
            {
                Some((label, next)) => {
                    out.push_str(&plain(label));
                    rest = next;
                }
                None => {
                    out.push('[');
                    rest = after;
                }
            },
            c => {
                out.push(c);
                rest = after;
            }
        }
    }
    out
}

/// What follows a link target (`url)…`, parentheses inside it balanced), or `None` when the
/// target never closes.
fn link_end(target: &str) -> Option<&str> {
    let mut depth = 1usize;
    for (i, c) in target.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&target[i + 1..]);
                }
            }
            _ => {}
        }
    }
    None
}

/// `text` on one line: whitespace and control characters collapsed to single spaces, cut to
/// `max` characters with `…`.
pub fn one_line(text: &str, max: usize) -> String {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let joined = words.join(" ");
    if joined.chars().count() <= max {
        return joined;
    }
    let mut cut: String = joined.chars().take(max.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

/// The texts of an Adaptive Card's elements, in reading order, at most `SUMMARY_TEXTS`.
fn adaptive_texts(elements: &Value, depth: usize, out: &mut Vec<String>) {
    let Some(list) = elements.as_array() else {
        return;
    };
    for e in list {
        if out.len() >= SUMMARY_TEXTS || depth > MAX_DEPTH {
            return;
        }
        match e["type"].as_str() {
            Some("TextBlock") => out.extend(text_of(&e["text"]).map(|t| plain(&t))),
            Some("RichTextBlock") => {
                let runs: Vec<String> = e["inlines"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|i| text_of(i).or_else(|| text_of(&i["text"])))
                            .collect()
                    })
                    .unwrap_or_default();
                if !runs.is_empty() {
                    out.push(runs.join(" "));
                }
            }
            Some("FactSet") => {
                let facts: Vec<String> = e["facts"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|f| {
                                let v = text_of(&f["value"])?;
                                Some(match text_of(&f["title"]) {
                                    Some(t) => format!("{}: {}", plain(&t), plain(&v)),
                                    None => plain(&v),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if !facts.is_empty() {
                    out.push(facts.join(", "));
                }
            }
            Some("ColumnSet") => {
                for col in e["columns"].as_array().into_iter().flatten() {
                    adaptive_texts(&col["items"], depth + 1, out);
                }
            }
            Some("Table") => {
                for row in e["rows"].as_array().into_iter().flatten() {
                    for cell in row["cells"].as_array().into_iter().flatten() {
                        adaptive_texts(&cell["items"], depth + 1, out);
                    }
                }
            }
            _ => adaptive_texts(&e["items"], depth + 1, out),
        }
    }
}

/// The texts of one attachment's card; `None` for attachments that are not cards (files,
/// quoted messages).
fn card_texts(a: &Value) -> Option<Vec<String>> {
    let content_type = a["contentType"].as_str()?;
    let card = match &a["content"] {
        Value::String(s) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
        other => other.clone(),
    };
    let mut texts = Vec::new();
    match content_type {
        "application/vnd.microsoft.card.adaptive" => {
            adaptive_texts(&card["body"], 0, &mut texts);
            if texts.is_empty() {
                texts.extend(text_of(&card["fallbackText"]));
            }
        }
        t if t.starts_with("application/vnd.microsoft.card.")
            || t.starts_with("application/vnd.microsoft.teams.card.") =>
        {
            for key in ["title", "subtitle", "summary", "text"] {
                texts.extend(text_of(&card[key]).map(|t| plain(&t)));
            }
        }
        _ => return None,
    }
    Some(texts)
}

/// A one-line summary of the cards a message carries (the first texts of each, joined with
/// ` — `, at most [`SUMMARY_MAX_CHARS`]); `Card` for a card without text; `None` when the message
/// carries no card.
pub fn card_summary(m: &Value) -> Option<String> {
    let cards: Vec<Vec<String>> = m["attachments"]
        .as_array()?
        .iter()
        .filter_map(card_texts)
        .collect();
    if cards.is_empty() {
        return None;
    }
    let texts: Vec<String> = cards
        .into_iter()
        .flatten()
        .map(|t| one_line(&t, SUMMARY_MAX_CHARS))
        .filter(|t| !t.is_empty())
        .take(SUMMARY_TEXTS)
        .collect();
    if texts.is_empty() {
        return Some("Card".to_owned());
    }
    Some(one_line(&texts.join(" — "), SUMMARY_MAX_CHARS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bot_message(body: &str, attachments: Value) -> Value {
        json!({
            "messageType": "message",
            "from": {"application": {"id": "b1", "displayName": "Jira", "applicationIdentityType": "bot"}, "device": null, "user": null},
            "body": {"contentType": "html", "content": body},
            "attachments": attachments,
        })
    }

    fn adaptive(card: &Value) -> Value {
        json!({"id": "c1", "contentType": "application/vnd.microsoft.card.adaptive", "content": card.to_string()})
    }

    #[test]
    fn an_apps_message_is_from_the_app_and_summarised_from_its_card() {
        let card = json!({"type": "AdaptiveCard", "body": [
            {"type": "TextBlock", "text": "ABC-1 · Printer \\*on\\* fire", "weight": "Bolder"},
            {"type": "ColumnSet", "columns": [{"items": [{"type": "TextBlock", "text": "**Dave** updated [the issue](https://jira.example/browse/ABC-1)"}]}]},
            {"type": "TextBlock", "text": "Changed: priority"},
            {"type": "TextBlock", "text": "never reached"},
        ]});
        let m = bot_message(
            "<attachment id=\"c1\"></attachment>",
            json!([adaptive(&card)]),
        );
        assert_eq!(
            sender(&m),
            Some(Sender {
                kind: "application",
                name: Some("Jira".into()),
                user_id: None
            })
        );
        assert_eq!(
            card_summary(&m).as_deref(),
            Some("ABC-1 · Printer *on* fire — Dave updated the issue — Changed: priority")
        );
        // the Bot Framework form (an object), a hero card, and a card without any text
        let object =
            json!([{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]);
        assert!(
            card_summary(&bot_message("", object))
                .unwrap()
                .starts_with("ABC-1")
        );
        let hero = json!([{"contentType": "application/vnd.microsoft.card.hero", "content": {"title": "Standup", "text": "Tomorrow 9:00"}}]);
        assert_eq!(
            card_summary(&bot_message("", hero)).as_deref(),
            Some("Standup — Tomorrow 9:00")
        );
        let empty = json!([adaptive(
            &json!({"type": "AdaptiveCard", "body": [{"type": "Image", "url": "https://x/y.png"}]})
        )]);
        assert_eq!(
            card_summary(&bot_message("", empty)).as_deref(),
            Some("Card")
        );
    }

    #[test]
    fn long_or_broken_cards_give_one_short_line_and_files_are_not_cards() {
        let long = "word ".repeat(100);
        let card = json!({"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": format!("first\nline\t{long}")}]});
        let s = card_summary(&bot_message("", json!([adaptive(&card)]))).unwrap();
        assert!(
            s.chars().count() <= SUMMARY_MAX_CHARS && s.ends_with('…'),
            "{s}"
        );
        assert!(s.starts_with("first line word"), "{s}");
        let broken = json!([{"contentType": "application/vnd.microsoft.card.adaptive", "content": "{not json"}]);
        assert_eq!(
            card_summary(&bot_message("", broken)).as_deref(),
            Some("Card")
        );
        let file = json!([{"contentType": "reference", "contentUrl": "https://x/f.docx", "name": "f.docx"}]);
        assert_eq!(card_summary(&bot_message("", file)), None);
        assert_eq!(card_summary(&json!({"attachments": []})), None);
        // nesting deeper than a card may go is cut off, not followed forever
        let mut deep = json!({"type": "TextBlock", "text": "bottom"});
        for _ in 0..50 {
            deep = json!({"type": "Container", "items": [deep]});
        }
        let card = json!({"type": "AdaptiveCard", "body": [deep]});
        assert_eq!(
            card_summary(&bot_message("", json!([adaptive(&card)]))).as_deref(),
            Some("Card")
        );
    }

    #[test]
    fn system_events_are_named_whatever_graph_calls_their_type() {
        let renamed = json!({
            "messageType": "unknownFutureValue", "from": null,
            "body": {"contentType": "html", "content": "<systemEventMessage/>"},
            "eventDetail": {"@odata.type": "#microsoft.graph.chatRenamedEventMessageDetail", "chatDisplayName": "ABC-1 war room"},
        });
        assert_eq!(kind(&renamed), "systemEventMessage");
        assert_eq!(sender(&renamed), None);
        assert_eq!(
            system_event_text(&renamed),
            "Chat renamed to “ABC-1 war room”"
        );
        let added = json!({"messageType": "systemEventMessage", "eventDetail": {
            "@odata.type": "#microsoft.graph.membersAddedEventMessageDetail",
            "members": [{"id": "1", "displayName": "Bob"}, {"id": "2", "displayName": null}],
        }});
        assert_eq!(system_event_text(&added), "Members added: Bob");
        let odd = json!({"messageType": "systemEventMessage", "eventDetail": {"@odata.type": "#microsoft.graph.somethingNewEventMessageDetail"}});
        assert_eq!(system_event_text(&odd), "Teams event");
        // without an eventDetail an unknown type stays what Graph said
        assert_eq!(
            kind(&json!({"messageType": "unknownFutureValue"})),
            "unknownFutureValue"
        );
        assert_eq!(kind(&json!({})), "message");
    }

    #[test]
    fn markdown_becomes_its_text_and_brackets_that_are_no_link_stay() {
        assert_eq!(
            plain("[WIP] **fix** [ABC-1](https://j/browse/ABC-1) now"),
            "[WIP] fix ABC-1 now"
        );
        assert_eq!(
            plain("a \\[b\\] snake_case __c__ \\"),
            "a [b] snake_case c "
        );
        assert_eq!(plain("[unclosed](nowhere"), "[unclosed](nowhere");
        assert_eq!(plain("[x](javascript:alert(2)) after"), "x after");
    }
}
