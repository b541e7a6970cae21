//! Creating Jira issues from Teams as the sender's Jira user: the `create` command's form (its
//! Action.Submit comes back as a message with `value`), and the "Create Jira issue" message
//! action (`fetchTask` opens the form prefilled from the message, `submitAction` creates).
//! One form creates at most one issue: its nonce (or the activity id) is claimed in the
//! database before Jira is called, so Teams repeating an activity or a second click finds the
//! first result. A refusal from Jira gives the key back so the corrected form can be sent.
//! Opened from a message in a group chat, the form offers to link that chat to the new issue
//! (`web::bot::attach`, the path `attach` takes), after the issue is created.

use std::time::{Duration, Instant};

use actix_web::HttpResponse;
use serde_json::{Value, json};

use crate::clients::jira::NewIssue;
use crate::clients::microsoft::MicrosoftConn;
use crate::crypto::random;
use crate::db;
use crate::db::models::bot_action::{BotAction, Claim};
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::user_mapping::UserMapping;
use crate::domain::bot_activity::Activity;
use crate::domain::jira_card::{self, CreateTarget, DESCRIPTION_MAX_CHARS, SUMMARY_MAX_CHARS};
use crate::domain::wiki_markup;
use crate::error::AppError;
use crate::state::AppState;

use super::attach;
use super::context::TeamsContext;
use super::jira_actions::{
    Trouble, acting, me_sign_in_or, reply_sign_in, timed, timed_within, view,
};

/// Time spent collecting projects and issue types for one form (Teams waits 5 s in all).
const FORM_BUDGET: Duration = Duration::from_millis(3800);
/// Projects asked for their creatable issue types, per instance.
const MAX_PROJECTS: usize = 15;
/// Choices on one form.
const MAX_TARGETS: usize = 100;
/// How long a dialog submit may take in all before it answers (Teams waits 5 s).
const SUBMIT_BUDGET: Duration = Duration::from_millis(4500);
/// The `action` of the form's Action.Submit.
const CREATE_ACTION: &str = "createIssue";

/// The form's inputs, as submitted.
#[derive(Debug, Clone)]
struct Form {
    target: String,
    summary: String,
    description: String,
    nonce: Option<String>,
}

impl Form {
    fn of(data: &Value) -> Form {
        let s = |k: &str| data[k].as_str().unwrap_or_default().to_owned();
        Form {
            target: s("target"),
            summary: s("summary").trim().to_owned(),
            description: s("description"),
            nonce: data["nonce"]
                .as_str()
                .filter(|n| !n.is_empty() && n.len() <= 64)
                .map(str::to_owned),
        }
    }

    /// `(instance public id, project key, issue type id)`, or what is wrong with the form.
    fn parse(&self) -> Result<(&str, &str, &str), String> {
        let mut parts = self.target.splitn(3, ':');
        let (Some(instance), Some(project), Some(kind)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err("Choose a project and issue type.".into());
        };
        let project_ok = project
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && project.len() <= 255
            && project
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        let kind_ok =
            !kind.is_empty() && kind.len() <= 18 && kind.bytes().all(|b| b.is_ascii_digit());
        if instance.is_empty() || !project_ok || !kind_ok {
            return Err("Choose a project and issue type.".into());
        }
        if self.summary.is_empty() {
            return Err("Enter a summary.".into());
        }
        if self.summary.chars().count() > SUMMARY_MAX_CHARS {
            return Err(format!(
                "The summary is longer than {SUMMARY_MAX_CHARS} characters."
            ));
        }
        if self.description.chars().count() > DESCRIPTION_MAX_CHARS {
            return Err(format!(
                "The description is longer than {DESCRIPTION_MAX_CHARS} characters."
            ));
        }
        Ok((instance, project, kind))
    }
}

/// Where the sender may create issues: per linked instance, the projects they see and the
/// (non-subtask) issue types they may create there, as far as the time budget allows.
async fn targets(
    state: &AppState,
    links: &[(UserMapping, JiraInstance)],
) -> Result<Vec<CreateTarget>, Trouble> {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut first_trouble = None;
    for link in links {
        let a = match acting(state, link, "list where the user may create issues").await {
            Ok(a) => a,
            Err(t) => {
                first_trouble.get_or_insert(t);
                continue;
            }
        };
        let left = FORM_BUDGET.saturating_sub(started.elapsed());
        let projects = match timed_within(left, a.jira.projects(&a.token)).await {
            Ok(p) => p,
            Err(t) => {
                first_trouble.get_or_insert(t);
                continue;
            }
        };
        let host = url::Url::parse(&a.instance.base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        for p in projects.iter().take(MAX_PROJECTS) {
            let left = FORM_BUDGET.saturating_sub(started.elapsed());
            if left < Duration::from_millis(200) || out.len() >= MAX_TARGETS {
                break;
            }
            let types =
                match timed_within(left, a.jira.creatable_issue_types(&a.token, &p.key)).await {
                    Ok(t) => t,
                    Err(t) => {
                        first_trouble.get_or_insert(t);
                        break;
                    }
                };
            for t in types.iter().filter(|t| !t.subtask) {
                let mut title = format!("{} · {} ({})", p.key, t.name, p.name);
                if links.len() > 1 {
                    title = format!("{host}: {title}");
                }
                out.push(CreateTarget {
                    value: format!("{}:{}:{}", a.instance.public_id, p.key, t.id),
                    title,
                });
            }
        }
    }
    match (out.is_empty(), first_trouble) {
        (true, Some(t)) => Err(t),
        (true, None) => Err(Trouble::Failed(
            "There is no Jira project in which you may create issues.".into(),
        )),
        _ => Ok(out),
    }
}

/// What creating from a form came to.
enum Created {
    /// Created now: the issue key, and its card (`instance base`, card).
    Now(String, Value),
    /// This form (or activity) created it before.
    Before(String),
    /// Another request with this form is creating it right now.
    InProgress,
}

/// Creates the issue a form describes as the sender (at most once per form).
/// `with_card`: read the new issue back for its card (one more call; message answers only).
async fn create(
    state: &AppState,
    ctx: &TeamsContext,
    form: &Form,
    with_card: bool,
) -> Result<Created, Trouble> {
    let (public_id, project, kind) = form.parse().map_err(Trouble::Failed)?;
    let links = ctx.links(state).await.map_err(Trouble::from)?;
    let Some(link) = links.iter().find(|(_, i)| i.public_id == public_id) else {
        return Err(Trouble::NotLinked);
    };
    let key = match (&form.nonce, &ctx.activity_id) {
        (Some(n), _) => format!("create:{}:{n}", ctx.teams_user_id),
        (None, Some(a)) => format!("create:{}:activity:{a}", ctx.teams_user_id),
        (None, None) => format!("create:{}:{}", ctx.teams_user_id, random::token(16)),
    };
    let (k, user) = (key.clone(), ctx.teams_user_id.clone());
    let claim = db::run(&state.pool, move |conn| {
        Ok(BotAction::claim(conn, &k, &user)?)
    })
    .await
    .map_err(|e| Trouble::from(AppError::from(e)))?;
    match claim {
        Claim::Fresh => {}
        Claim::Pending => return Ok(Created::InProgress),
        Claim::Done(issue) => return Ok(Created::Before(issue)),
    }
    let release = |key: String| async move {
        let _ = db::run(&state.pool, move |conn| Ok(BotAction::release(conn, &key)?)).await;
    };
    let a = match acting(state, link, "create an issue as the user").await {
        Ok(a) => a,
        Err(t) => {
            release(key).await;
            return Err(t);
        }
    };
    let issue = NewIssue {
        project_key: project.to_owned(),
        issue_type_id: kind.to_owned(),
        summary: form.summary.clone(),
        description: form.description.clone(),
    };
    let created = match timed(a.jira.create_issue(&a.token, &issue)).await {
        Ok(c) => c,
        // the issue may exist (a timeout, a 5xx from a proxy after Jira created it): keep the
        // claim, so this form cannot create a second one
        Err(t @ (Trouble::TimedOut | Trouble::Failed(_))) => return Err(t),
        Err(t) => {
            release(key).await;
            return Err(t);
        }
    };
    let (k, issue_key) = (key.clone(), created.key.clone());
    if let Err(e) = db::run(&state.pool, move |conn| {
        Ok(BotAction::finish(conn, &k, &issue_key)?)
    })
    .await
    {
        tracing::warn!(error = %e, "created issue not recorded against its form");
    }
    tracing::info!(instance.public_id = %a.instance.public_id, issue.key = %created.key, "issue created from Teams");
    // the card shows what Jira now says; if that read fails, what was sent
    let read = if with_card {
        timed(a.jira.issue_card(&a.token, &created.key)).await
    } else {
        Ok(None)
    };
    let shown = match read {
        Ok(Some(found)) => view(&found),
        _ => jira_card::IssueView {
            key: created.key.clone(),
            summary: form.summary.clone(),
            ..Default::default()
        },
    };
    // a bot message in the chat: its Comment button opens the comment dialog
    let card = jira_card::with_comment_action(
        jira_card::issue_card(&a.instance.base_url, &shown),
        &a.instance.public_id,
        &created.id,
    );
    Ok(Created::Now(created.key.clone(), card))
}

/// `create <summary>`: the form, with the summary filled in.
pub async fn create_command(
    state: &AppState,
    _ms: &MicrosoftConn,
    ctx: &TeamsContext,
    rest: &str,
) -> Result<(), AppError> {
    let links = ctx.links(state).await?;
    if links.is_empty() {
        return reply_sign_in(state, ctx).await;
    }
    match targets(state, &links).await {
        Ok(t) => {
            let summary: String = rest.trim().chars().take(SUMMARY_MAX_CHARS).collect();
            let form = jira_card::create_form(&t, &summary, "", &random::token(16), None);
            ctx.reply(
                state,
                "create",
                jira_card::message("Create a Jira issue", form),
            )
            .await
        }
        Err(t) => ctx.reply_text(state, "create", &t.message()).await,
    }
}

/// The create form's Action.Submit, back as a message with `value`.
pub async fn card_submit(
    state: &AppState,
    _ms: &MicrosoftConn,
    activity: &Activity,
    ctx: &TeamsContext,
) -> Result<(), AppError> {
    if activity.value["action"] != CREATE_ACTION {
        return Ok(());
    }
    let form = Form::of(&activity.value);
    match create(state, ctx, &form, true).await {
        Ok(Created::Now(key, card)) => {
            ctx.reply(
                state,
                "created",
                jira_card::message(&format!("Created {key}"), card),
            )
            .await
        }
        Ok(Created::Before(key)) => {
            ctx.reply_text(
                state,
                "created",
                &format!("This form already created {key}."),
            )
            .await
        }
        Ok(Created::InProgress) => Ok(()),
        Err(Trouble::NotLinked) => reply_sign_in(state, ctx).await,
        Err(t) => ctx.reply_text(state, "created", &t.message()).await,
    }
}

fn task_message(text: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({"task": {"type": "message", "value": text}}))
}

fn task_form(form: Value) -> HttpResponse {
    HttpResponse::Ok().json(json!({"task": {"type": "continue", "value": {
        "title": "Create Jira issue",
        "width": "medium",
        "height": "large",
        "card": jira_card::attachment(form),
    }}}))
}

/// `composeExtension/fetchTask` of "Create Jira issue" on a message: the form, with the
/// summary from the message's first line and its body as the description (wiki markup made
/// from the sanitised HTML).
pub async fn fetch_task(
    state: &AppState,
    _ms: &MicrosoftConn,
    ctx: &TeamsContext,
    value: &Value,
) -> Result<HttpResponse, AppError> {
    if value["commandId"] != "createFromMessage" {
        return Ok(task_message("There is nothing to open here."));
    }
    let links = ctx.links(state).await?;
    if links.is_empty() {
        return Ok(me_sign_in_or(state, ctx, task_message).await);
    }
    let body = &value["messagePayload"]["body"];
    let content = body["content"].as_str().unwrap_or_default();
    let content_type = body["contentType"].as_str().unwrap_or("html");
    let summary = wiki_markup::first_line(content, content_type, SUMMARY_MAX_CHARS);
    let mut description = wiki_markup::from_message(content, content_type);
    if let Some(link) = value["messagePayload"]["linkToMessage"]
        .as_str()
        .filter(|l| l.starts_with("https://") && !l.contains(['|', ']', '[', ' ']))
    {
        description.push_str(&format!("\n\n[Teams message|{link}]"));
    }
    Ok(match targets(state, &links).await {
        Ok(t) => {
            let form = jira_card::create_form(&t, &summary, &description, &random::token(16), None);
            // a message in a group chat: offer to link that chat to the new issue
            task_form(if ctx.scope == "groupChat" {
                jira_card::with_link_chat_toggle(form)
            } else {
                form
            })
        }
        Err(t) => task_message(&t.message()),
    })
}

/// `composeExtension/submitAction` (and `task/submit`) of the form: creates the issue and
/// closes the dialog with "Created KEY", or shows the form again with what went wrong.
pub async fn submit_action(
    state: &AppState,
    _ms: &MicrosoftConn,
    ctx: &TeamsContext,
    value: &Value,
) -> Result<HttpResponse, AppError> {
    let started = Instant::now();
    let data = &value["data"];
    if data["action"] != CREATE_ACTION {
        return Ok(HttpResponse::Ok().json(json!({})));
    }
    let form = Form::of(data);
    Ok(match create(state, ctx, &form, false).await {
        Ok(Created::Now(key, _)) | Ok(Created::Before(key)) => {
            // linking is idempotent, so a repeated submit links (at most) once too
            if data[jira_card::LINK_CHAT_INPUT] == "true" {
                let public_id = form.target.split(':').next().unwrap_or_default();
                // what is left of Teams' 5 s: a late answer would make Teams send it again
                let left = SUBMIT_BUDGET.saturating_sub(started.elapsed());
                match actix_web::rt::time::timeout(
                    left,
                    attach::link_new_issue(state, ctx, public_id, &key),
                )
                .await
                {
                    Ok(said) => task_message(&said),
                    Err(_) => task_message(&format!(
                        "Created {key}; linking this chat took longer than Teams waits. Type attach {key} in the chat to link it."
                    )),
                }
            } else {
                task_message(&format!("Created {key}"))
            }
        }
        Ok(Created::InProgress) => task_message("This issue is being created already."),
        Err(Trouble::NotLinked) => me_sign_in_or(state, ctx, task_message).await,
        Err(t) => {
            // the dialog stays usable: same choices offered again, inputs kept, error shown
            let choices = jira_card::submitted_choices(data);
            let nonce = form.nonce.clone().unwrap_or_else(|| random::token(16));
            let mut card = jira_card::create_form(
                &choices,
                &form.summary,
                &form.description,
                &nonce,
                Some(&t.message()),
            );
            if data.get(jira_card::LINK_CHAT_INPUT).is_some() {
                card = jira_card::with_link_chat_toggle(card);
                for input in card["body"].as_array_mut().into_iter().flatten() {
                    if input["id"] == jira_card::LINK_CHAT_INPUT {
                        input["value"] = data[jira_card::LINK_CHAT_INPUT].clone();
                    }
                }
            }
            // keep the chosen target selected
            if choices.iter().any(|c| c.value == form.target) {
                for input in card["body"].as_array_mut().into_iter().flatten() {
                    if input["id"] == "target" {
                        input["value"] = json!(form.target);
                    }
                }
            }
            task_form(card)
        }
    })
}
