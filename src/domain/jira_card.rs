//! Adaptive Cards for working with Jira from Teams (PROTOCOLS.md §6.2): an issue's card and its
//! thumbnail preview (message-extension results and unfurls need one), the list a `find`
//! answers with, and the create-issue form. Text from Jira or from users is shown as text:
//! markdown characters are escaped, and the longest texts cut.

use serde_json::{Value, json};

/// The content type of an Adaptive Card attachment.
pub const ADAPTIVE: &str = "application/vnd.microsoft.card.adaptive";
/// Longest summary a form accepts (Jira's own limit).
pub const SUMMARY_MAX_CHARS: usize = 255;
/// Longest description a form accepts.
pub const DESCRIPTION_MAX_CHARS: usize = 30_000;

/// An issue as the cards show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueView {
    pub key: String,
    pub summary: String,
    pub status: Option<String>,
    pub issue_type: Option<String>,
    pub assignee: Option<String>,
}

/// `text` safe inside an Adaptive Card TextBlock (which reads a markdown subset), cut to `max`:
/// emphasis, links, code, headings and HTML-like characters are escaped, and so is a list marker
/// the text starts with (`- x`, `+ x`, `1. x` become `\- x`, `\+ x`, `1\. x`).
pub fn text(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let list_dot = (digits > 0 && s[digits..].starts_with(['.', ')'])).then_some(digits);
    for (i, c) in s.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        let leading_marker = i == 0 && matches!(c, '-' | '+');
        if leading_marker
            || Some(i) == list_dot
            || matches!(
                c,
                '\\' | '*' | '_' | '[' | ']' | '`' | '<' | '>' | '#' | '~'
            )
        {
            out.push('\\');
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// `<base>/browse/KEY`.
pub fn browse_url(base: &str, key: &str) -> String {
    format!("{}/browse/{key}", base.trim_end_matches('/'))
}

/// A card in its attachment wrapper.
pub fn attachment(card: Value) -> Value {
    json!({"contentType": ADAPTIVE, "content": card})
}

/// A message activity carrying one card.
pub fn message(summary_text: &str, card: Value) -> Value {
    json!({"type": "message", "text": summary_text, "attachments": [attachment(card)]})
}

fn card(body: Vec<Value>, actions: Vec<Value>) -> Value {
    let mut c = json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
    });
    if !actions.is_empty() {
        c["actions"] = Value::Array(actions);
    }
    c
}

/// One issue: key and summary, status, type and assignee, and a link to it.
pub fn issue_card(base: &str, i: &IssueView) -> Value {
    let mut facts = Vec::new();
    for (title, v) in [
        ("Status", &i.status),
        ("Type", &i.issue_type),
        ("Assignee", &i.assignee),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            facts.push(json!({"title": title, "value": text(v, 100)}));
        }
    }
    let mut body = vec![json!({
        "type": "TextBlock", "weight": "Bolder", "wrap": true, "size": "Medium",
        "text": format!("{} · {}", i.key, text(&i.summary, 200)),
    })];
    if !facts.is_empty() {
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    card(
        body,
        vec![
            json!({"type": "Action.OpenUrl", "title": "Open in Jira", "url": browse_url(base, &i.key)}),
        ],
    )
}

/// The `action` of an issue card's *Comment* button: a `task/fetch` (PROTOCOLS.md §6.2) that
/// opens the comment dialog for that issue.
pub const COMMENT_ON_ISSUE: &str = "commentOnIssue";

/// `card` with a *Comment* button for `issue` (its id; a key also works) of the Jira instance
/// `instance` (public id), for cards posted where people can act on them.
pub fn with_comment_action(mut card: Value, instance: &str, issue: &str) -> Value {
    let action = json!({"type": "Action.Submit", "title": "Comment", "data": {
        "msteams": {"type": "task/fetch"},
        "action": COMMENT_ON_ISSUE, "instance": instance, "issue": issue,
    }});
    match card["actions"].as_array_mut() {
        Some(actions) => actions.push(action),
        None => card["actions"] = json!([action]),
    }
    card
}

/// `s` safe in the `text` of a hero or thumbnail card, which reads a subset of HTML (not
/// markdown; its title and subtitle read no formatting at all), cut to `max` characters.
pub fn thumbnail_text(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().take(max) {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The thumbnail preview of an issue (what the compose box and the result list show).
pub fn preview(i: &IssueView) -> Value {
    let mut content = json!({
        "title": i.key,
        "text": thumbnail_text(&i.summary, 200),
    });
    if let Some(s) = &i.status {
        content["subtitle"] = json!(s);
    }
    json!({"contentType": "application/vnd.microsoft.card.thumbnail", "content": content})
}

/// A message-extension result or unfurl: the issue's card with its preview.
pub fn result_attachment(base: &str, i: &IssueView) -> Value {
    let mut a = attachment(issue_card(base, i));
    a["preview"] = preview(i);
    a
}

/// What `find` answers: up to ten issues, each a link with its summary and status.
pub fn results_card(base: &str, searched: &str, issues: &[IssueView], total: u32) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock", "weight": "Bolder", "wrap": true,
        "text": if total as usize > issues.len() {
            format!("{} issues match \"{}\"; the first {}:", total, text(searched, 80), issues.len())
        } else {
            format!("Issues matching \"{}\":", text(searched, 80))
        },
    })];
    for i in issues {
        let status = i
            .status
            .as_deref()
            .map(|s| format!(" · {}", text(s, 40)))
            .unwrap_or_default();
        body.push(json!({
            "type": "TextBlock", "wrap": true, "spacing": "Small",
            "text": format!("[{}]({}) {}{}", i.key, browse_url(base, &i.key), text(&i.summary, 150), status),
        }));
    }
    card(body, Vec::new())
}

/// A choice of where to create an issue: value `<instance>:<PROJECT>:<issue type id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTarget {
    pub value: String,
    pub title: String,
}

/// The create-issue form: where, summary, description; Action.Submit sends the inputs with
/// `action: "createIssue"`, the form's `nonce` (one issue per form) and the offered choices (so
/// a dialog can be shown again after an error without asking Jira for them again).
pub fn create_form(
    targets: &[CreateTarget],
    summary: &str,
    description: &str,
    nonce: &str,
    error: Option<&str>,
) -> Value {
    let mut body = vec![
        json!({"type": "TextBlock", "text": "Create a Jira issue", "weight": "Bolder", "size": "Medium"}),
    ];
    if let Some(e) = error {
        body.push(
            json!({"type": "TextBlock", "text": text(e, 600), "wrap": true, "color": "Attention"}),
        );
    }
    let choices: Vec<Value> = targets
        .iter()
        .map(|t| json!({"title": t.title, "value": t.value}))
        .collect();
    body.push(json!({
        "type": "Input.ChoiceSet", "id": "target", "label": "Project and issue type",
        "style": "compact", "isRequired": true, "errorMessage": "Choose where to create the issue.",
        "value": targets.first().map(|t| t.value.clone()).unwrap_or_default(),
        "choices": choices,
    }));
    body.push(json!({
        "type": "Input.Text", "id": "summary", "label": "Summary", "isRequired": true,
        "errorMessage": "Enter a summary.", "maxLength": SUMMARY_MAX_CHARS,
        "value": summary.chars().take(SUMMARY_MAX_CHARS).collect::<String>(),
    }));
    body.push(json!({
        "type": "Input.Text", "id": "description", "label": "Description", "isMultiline": true,
        "maxLength": DESCRIPTION_MAX_CHARS,
        "value": description.chars().take(DESCRIPTION_MAX_CHARS).collect::<String>(),
    }));
    card(
        body,
        vec![json!({"type": "Action.Submit", "title": "Create",
                "data": {"action": "createIssue", "nonce": nonce, "choices": choices}})],
    )
}

/// The choices a form's Action.Submit carried back (at most 100, titles cut).
pub fn submitted_choices(data: &Value) -> Vec<CreateTarget> {
    data["choices"]
        .as_array()
        .into_iter()
        .flatten()
        .take(100)
        .filter_map(|c| {
            Some(CreateTarget {
                value: c["value"].as_str()?.chars().take(300).collect(),
                title: c["title"].as_str()?.chars().take(200).collect(),
            })
        })
        .collect()
}

/// A card asking the user to link their Jira account first.
pub fn sign_in_card(url: &str) -> Value {
    card(
        vec![json!({"type": "TextBlock", "wrap": true,
            "text": "Link your Jira account first, so that I can act as you in Jira."})],
        vec![json!({"type": "Action.OpenUrl", "title": "Link Jira account", "url": url})],
    )
}

/// The `action` of *Attach this chat* (a card's Action.Submit, back as a message with `value`).
pub const ATTACH_CHAT_ACTION: &str = "attachChat";
/// The id of the create form's "Link this chat to the new issue" toggle.
pub const LINK_CHAT_INPUT: &str = "linkChat";

/// `card` with *Attach this chat* added to its actions: it sends the instance's public id and the
/// issue's numeric id (never its key, which changes when the issue moves).
pub fn with_attach_action(mut card: Value, public_id: &str, issue_id: &str) -> Value {
    let action = json!({"type": "Action.Submit", "title": "Attach this chat",
        "data": {"action": ATTACH_CHAT_ACTION, "instance": public_id, "issue": issue_id}});
    match card["actions"].as_array_mut() {
        Some(actions) => actions.push(action),
        None => card["actions"] = json!([action]),
    }
    card
}

/// The create form with a "Link this chat to the new issue" toggle (on), for a form opened from
/// a message in a group chat; it submits `linkChat` `"true"` or `"false"`.
pub fn with_link_chat_toggle(mut form: Value) -> Value {
    if let Some(body) = form["body"].as_array_mut() {
        body.push(json!({
            "type": "Input.Toggle", "id": LINK_CHAT_INPUT,
            "title": "Link this chat to the new issue (its updates appear here)",
            "value": "true", "valueOn": "true", "valueOff": "false",
        }));
    }
    form
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue() -> IssueView {
        IssueView {
            key: "ABC-1".into(),
            summary: "Fix *login* [now](javascript:x)".into(),
            status: Some("Open".into()),
            issue_type: Some("Bug".into()),
            assignee: None,
        }
    }

    #[test]
    fn a_result_carries_its_card_and_a_thumbnail_preview() {
        let a = result_attachment("https://jira.example.com/jira/", &issue());
        assert_eq!(a["contentType"], ADAPTIVE);
        assert_eq!(a["content"]["version"], "1.4");
        assert_eq!(
            a["content"]["actions"][0]["url"],
            "https://jira.example.com/jira/browse/ABC-1"
        );
        assert_eq!(
            a["content"]["body"][0]["text"],
            r"ABC-1 · Fix \*login\* \[now\](javascript:x)"
        );
        assert_eq!(
            a["preview"]["contentType"],
            "application/vnd.microsoft.card.thumbnail"
        );
        assert_eq!(a["preview"]["content"]["title"], "ABC-1");
        assert_eq!(
            a["preview"]["content"]["text"], "Fix *login* [now](javascript:x)",
            "a thumbnail's text reads HTML, not markdown"
        );
        assert_eq!(
            thumbnail_text("<b>bold</b> & <a href=x>y</a>\n", 100),
            "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;a href=x&gt;y&lt;/a&gt; "
        );
        assert_eq!(a["preview"]["content"]["subtitle"], "Open");
    }

    #[test]
    fn the_form_prefills_and_submits_with_its_nonce() {
        let t = [CreateTarget {
            value: "tHXLY2:ABC:1".into(),
            title: "ABC · Task".into(),
        }];
        let f = create_form(&t, &"s".repeat(300), "d", "n1", Some("summary: too long"));
        assert_eq!(f["body"][2]["value"], "tHXLY2:ABC:1");
        assert_eq!(f["body"][3]["value"].as_str().unwrap().len(), 255);
        assert_eq!(
            f["actions"][0]["data"],
            json!({"action": "createIssue", "nonce": "n1",
                   "choices": [{"title": "ABC · Task", "value": "tHXLY2:ABC:1"}]})
        );
    }
}
