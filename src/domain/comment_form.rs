//! The "Add a comment to a Jira issue" dialog (PROTOCOLS.md §6.2, §7.5): the form with the
//! comment text, the issue (a field to find it, the issues found to choose from, or one issue
//! fixed by the card it was opened from) and the "visible to the customer" toggle of service
//! projects; what its Action.Submit sends back; and the checks made before Jira is asked.
//! Everything the next step needs travels in the form's data (nonce, what was searched, the
//! choices offered), so a dialog shown again after an error asks Jira for nothing twice. Pure.

use serde_json::{Value, json};

use super::jira_card::{self, text};
use super::{jql, wiki_markup};

/// Jira's longest text field (`jira.text.field.character.limit`, counted as Java counts:
/// UTF-16 code units).
pub const COMMENT_MAX_CHARS: usize = 32_767;
/// The `action` of the dialog's Action.Submit.
pub const SUBMIT_ACTION: &str = "commentIssue";
/// Most issues offered to choose from.
pub const MAX_CHOICES: usize = 25;

/// An issue offered in the dialog: value `<instance public id>:<issue id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueChoice {
    pub value: String,
    pub title: String,
}

/// Which issue the dialog is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The user finds it: the search text, and the issues that text found (`searched`).
    Search {
        query: String,
        searched: String,
        choices: Vec<IssueChoice>,
        chosen: String,
    },
    /// Opened from an issue's card: `instance` public id, issue id (or key), what the dialog
    /// says about it, and whether it is in a service project (the toggle is shown only there).
    Fixed {
        instance: String,
        issue: String,
        title: String,
        service_desk: bool,
    },
}

/// The dialog's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentForm {
    pub target: Target,
    pub comment: String,
    /// "Visible to the customer" switched on.
    pub public: bool,
    pub nonce: String,
}

/// What the user asked the submit to do with the issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// One issue: instance public id (`None`: any linked instance, for a typed key) and id or key.
    Issue(Option<String>, String),
    /// Find issues matching this text first.
    Search(String),
    /// Nothing was said about the issue.
    Nothing,
}

impl CommentForm {
    /// The form as its Action.Submit sent it back (inputs and data merged, as Teams does).
    pub fn of(data: &Value) -> CommentForm {
        let s = |k: &str| data[k].as_str().unwrap_or_default().to_owned();
        let target = if !s("instance").is_empty() && !s("issue").is_empty() {
            Target::Fixed {
                instance: cut(&s("instance"), 64),
                issue: cut(&s("issue"), 300),
                title: cut(&s("title"), 300),
                service_desk: data["serviceDesk"] == true,
            }
        } else {
            let choices = data["choices"]
                .as_array()
                .into_iter()
                .flatten()
                .take(MAX_CHOICES)
                .filter_map(|c| {
                    Some(IssueChoice {
                        value: cut(c["value"].as_str()?, 100),
                        title: cut(c["title"].as_str()?, 300),
                    })
                })
                .collect();
            Target::Search {
                query: cut(&s("query"), 300),
                searched: cut(&s("searched"), 300),
                choices,
                chosen: cut(&s("choice"), 100),
            }
        };
        CommentForm {
            target,
            comment: s("comment"),
            public: data["public"] == "true" || data["public"] == true,
            nonce: data["nonce"]
                .as_str()
                .filter(|n| !n.is_empty() && n.len() <= 64)
                .map(str::to_owned)
                .unwrap_or_default(),
        }
    }

    /// What the comment's text is wrong with, if anything: empty, or over Jira's limit.
    pub fn check_comment(&self) -> Result<(), String> {
        if self.comment.trim().is_empty() {
            return Err("Enter the comment.".into());
        }
        let units = self.comment.encode_utf16().count();
        if units > COMMENT_MAX_CHARS {
            return Err(format!(
                "The comment is {units} characters long; Jira takes at most 32,767. Shorten it."
            ));
        }
        Ok(())
    }

    /// Which issue the submit is for. A choice counts only while the search text is the one
    /// that offered it (a changed text is searched again); a typed key is that issue.
    pub fn wanted(&self) -> Wanted {
        match &self.target {
            Target::Fixed {
                instance, issue, ..
            } => Wanted::Issue(Some(instance.clone()), issue.clone()),
            Target::Search {
                query,
                searched,
                choices,
                chosen,
            } => {
                let query = query.trim();
                if !chosen.is_empty()
                    && query == searched.trim()
                    && choices.iter().any(|c| &c.value == chosen)
                    && let Some((instance, id)) = chosen.split_once(':')
                    && !id.is_empty()
                    && id.bytes().all(|b| b.is_ascii_digit())
                {
                    return Wanted::Issue(Some(instance.to_owned()), id.to_owned());
                }
                if let Some(key) = jql::issue_key(query) {
                    return Wanted::Issue(None, key);
                }
                if jql::words(query).is_empty() {
                    Wanted::Nothing
                } else {
                    Wanted::Search(query.to_owned())
                }
            }
        }
    }
}

fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The comment text a message prefills: its body as wiki markup (sanitised HTML), then a link
/// back to the message when Teams gave one that is safe inside wiki link syntax.
pub fn prefill(content: &str, content_type: &str, link_to_message: Option<&str>) -> String {
    let mut out = wiki_markup::from_message(content, content_type);
    if let Some(link) =
        link_to_message.filter(|l| l.starts_with("https://") && !l.contains(['|', ']', '[', ' ']))
    {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(&format!("[Teams message|{link}]"));
    }
    out
}

/// The dialog: `error` (what went wrong last time) on top, the issue, the comment, the toggle.
pub fn form(f: &CommentForm, error: Option<&str>) -> Value {
    let mut body = vec![
        json!({"type": "TextBlock", "weight": "Bolder", "size": "Medium",
        "text": "Add a comment to a Jira issue"}),
    ];
    if let Some(e) = error {
        body.push(
            json!({"type": "TextBlock", "text": text(e, 600), "wrap": true, "color": "Attention"}),
        );
    }
    let mut data = json!({"action": SUBMIT_ACTION, "nonce": f.nonce});
    let toggle = match &f.target {
        Target::Fixed {
            instance,
            issue,
            title,
            service_desk,
        } => {
            body.push(json!({"type": "TextBlock", "wrap": true, "text": text(title, 300)}));
            data["instance"] = json!(instance);
            data["issue"] = json!(issue);
            data["title"] = json!(title);
            data["serviceDesk"] = json!(service_desk);
            *service_desk
        }
        Target::Search {
            query,
            searched,
            choices,
            chosen,
        } => {
            body.push(
                json!({"type": "Input.Text", "id": "query", "label": "Issue",
                "placeholder": "An issue key (ABC-12) or words to find it", "value": query}),
            );
            if !choices.is_empty() {
                let offered: Vec<Value> = choices
                    .iter()
                    .map(|c| json!({"title": c.title, "value": c.value}))
                    .collect();
                let value = if choices.iter().any(|c| &c.value == chosen) {
                    chosen.clone()
                } else {
                    choices[0].value.clone()
                };
                body.push(json!({"type": "Input.ChoiceSet", "id": "choice",
                    "label": "Issues you can see", "style": "expanded", "value": value,
                    "choices": offered}));
                data["searched"] = json!(searched);
                data["choices"] = Value::Array(offered);
            }
            true
        }
    };
    body.push(
        json!({"type": "Input.Text", "id": "comment", "label": "Comment (Jira wiki markup)",
        "isMultiline": true, "isRequired": true, "errorMessage": "Enter the comment.",
        "value": f.comment}),
    );
    if toggle {
        body.push(json!({"type": "Input.Toggle", "id": "public",
            "title": "Visible to the customer (service projects)",
            "value": if f.public { "true" } else { "false" },
            "valueOn": "true", "valueOff": "false"}));
    }
    json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.Submit", "title": "Add comment", "data": data}],
    })
}

/// The dialog's `task` answer (`continue`): the form in its attachment wrapper.
pub fn task(card: Value) -> Value {
    json!({"task": {"type": "continue", "value": {
        "title": "Add a comment to Jira",
        "width": "medium",
        "height": "large",
        "card": jira_card::attachment(card),
    }}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(query: &str, searched: &str, chosen: &str) -> CommentForm {
        CommentForm {
            target: Target::Search {
                query: query.into(),
                searched: searched.into(),
                choices: vec![IssueChoice {
                    value: "pid:10045".into(),
                    title: "ABC-1 · Printer".into(),
                }],
                chosen: chosen.into(),
            },
            comment: "x".into(),
            public: false,
            nonce: "n".into(),
        }
    }

    #[test]
    fn a_choice_counts_only_for_the_text_that_offered_it() {
        assert_eq!(
            search("printer", "printer", "pid:10045").wanted(),
            Wanted::Issue(Some("pid".into()), "10045".into())
        );
        assert_eq!(
            search("toner", "printer", "pid:10045").wanted(),
            Wanted::Search("toner".into())
        );
        // a value that was never offered is not taken
        assert_eq!(
            search("printer", "printer", "other:1").wanted(),
            Wanted::Search("printer".into())
        );
        assert_eq!(
            search(" abc-7 ", "", "").wanted(),
            Wanted::Issue(None, "ABC-7".into())
        );
        assert_eq!(search(" ** ", "", "").wanted(), Wanted::Nothing);
    }

    #[test]
    fn the_comment_must_have_text_within_jiras_limit_counted_as_java_does() {
        let mut f = search("", "", "");
        f.comment = " \n ".into();
        assert_eq!(f.check_comment(), Err("Enter the comment.".into()));
        f.comment = "a".repeat(COMMENT_MAX_CHARS);
        assert_eq!(f.check_comment(), Ok(()));
        // 16,384 emoji are 32,768 UTF-16 units: one over
        f.comment = "😀".repeat(16_384);
        assert!(
            f.check_comment()
                .unwrap_err()
                .contains("is 32768 characters long")
        );
    }

    #[test]
    fn the_form_round_trips_through_its_submit_data() {
        let mut f = search("printer", "printer", "pid:10045");
        f.public = true;
        let card = form(&f, Some("Jira refused: comment: *no*"));
        assert_eq!(card["body"][1]["text"], r"Jira refused: comment: \*no\*");
        let mut data = card["actions"][0]["data"].clone();
        // Teams merges the inputs' values into the data
        for input in card["body"].as_array().unwrap() {
            if let Some(id) = input["id"].as_str() {
                data[id] = input["value"].clone();
            }
        }
        assert_eq!(CommentForm::of(&data), f);
        let fixed = CommentForm {
            target: Target::Fixed {
                instance: "pid".into(),
                issue: "10045".into(),
                title: "ABC-1 · Printer".into(),
                service_desk: false,
            },
            ..f
        };
        let card = form(&fixed, None);
        assert!(
            !card.to_string().contains("Input.Toggle"),
            "no customer outside service projects"
        );
        let mut data = card["actions"][0]["data"].clone();
        data["comment"] = json!("x");
        data["public"] = json!("true");
        assert_eq!(CommentForm::of(&data), fixed);
    }

    #[test]
    fn a_message_prefills_wiki_markup_and_a_safe_link_back() {
        assert_eq!(
            prefill(
                "<p>Toner <b>low</b></p>",
                "html",
                Some("https://teams.microsoft.com/l/message/1")
            ),
            "Toner *low*\n\n[Teams message|https://teams.microsoft.com/l/message/1]"
        );
        assert_eq!(
            prefill("hi", "text", Some("javascript:x|y")),
            "hi",
            "an odd link is left out"
        );
    }
}
