//! The add / edit form of a JSM portal app: instance, tab name, icon and service desks, checked
//! with the rules of `domain::settings::PortalAppSettings` (the API's), one message next to each
//! field. When the admin's browser carries a live Jira user session of the instance (signed in
//! with Jira there), its service desks are listed from Jira as that user and offered as
//! checkboxes, and a desk id Jira did not list is refused; otherwise a text field of ids and a
//! link to sign in with Jira and come back.

use actix_web::HttpRequest;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use askama_web::WebTemplate;
use serde_json::json;
use uuid::Uuid;

use super::Layout;
use crate::clients::jira::ServiceDesk;
use crate::db::models::jira_instance::JiraInstance;
use crate::domain::settings::{MAX_DESKS, MAX_TAB_NAME, PortalAppSettings};
use crate::error::{AppError, PageError};
use crate::services::service_desks;
use crate::state::AppState;
use crate::web::jira::session::{cookie_token, sign_in_url};

/// What the form sent (every field as typed; checkboxes may repeat).
#[derive(Debug, Default, Clone)]
pub(super) struct Submitted {
    /// The chosen instance's id, as sent.
    pub instance: String,
    pub tab_name: String,
    pub icon: String,
    /// The ticked desk checkboxes.
    pub desk_checked: Vec<String>,
    /// The typed desk ids (comma-separated).
    pub desk_text: String,
}

impl Submitted {
    /// From the form's pairs (`desk` repeats, one per ticked checkbox).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Submitted {
        let mut s = Submitted::default();
        let cut = |v: String, n: usize| v.chars().take(n).collect::<String>();
        for (k, v) in pairs {
            match k.as_str() {
                "instance" => s.instance = cut(v, 64),
                "tab_name" => s.tab_name = cut(v, 200),
                "icon" => s.icon = cut(v, 64),
                "desk" if s.desk_checked.len() < 1000 => s.desk_checked.push(cut(v, 64)),
                "desk_ids" => s.desk_text = cut(v, 2000),
                _ => {}
            }
        }
        s
    }

    /// The form as stored settings show it (editing): desks Jira listed are ticked, the rest
    /// typed.
    pub fn from_settings(
        instance: Uuid,
        s: &PortalAppSettings,
        listed: Option<&[ServiceDesk]>,
    ) -> Submitted {
        let (ticked, typed): (Vec<String>, Vec<String>) = s
            .desk_ids
            .iter()
            .cloned()
            .partition(|d| listed.is_some_and(|l| l.iter().any(|x| x.id == *d)));
        Submitted {
            instance: instance.to_string(),
            tab_name: s.tab_name.clone(),
            icon: s.icon.clone(),
            desk_checked: ticked,
            desk_text: typed.join(", "),
        }
    }

    /// Ticked desks, then typed ones (split at commas, semicolons and spaces), each once.
    pub fn desk_ids(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let typed = self
            .desk_text
            .split([',', ';', ' ', '\n', '\r', '\t'])
            .map(str::trim)
            .filter(|d| !d.is_empty());
        for d in self.desk_checked.iter().map(|d| d.trim()).chain(typed) {
            if !out.iter().any(|o| o == d) {
                out.push(d.to_owned());
            }
        }
        out
    }
}

/// A message next to each field that was refused.
#[derive(Debug, Default)]
pub(super) struct FieldErrors {
    pub instance: Option<String>,
    pub tab_name: Option<String>,
    pub icon: Option<String>,
    pub desk_ids: Option<String>,
}

impl FieldErrors {
    /// True when any field was refused.
    pub fn any(&self) -> bool {
        self.instance.is_some()
            || self.tab_name.is_some()
            || self.icon.is_some()
            || self.desk_ids.is_some()
    }
}

/// Where the desks on the form come from.
pub(super) enum Desks {
    /// Listed from Jira as the Jira user signed in in this browser.
    Listed {
        user_name: String,
        desks: Vec<ServiceDesk>,
    },
    /// Not listed: typed ids only, with a sign-in link when one can work and why not.
    Typed {
        sign_in: Option<String>,
        note: Option<String>,
    },
}

impl Desks {
    fn listed(&self) -> Option<&[ServiceDesk]> {
        match self {
            Desks::Listed { desks, .. } => Some(desks),
            Desks::Typed { .. } => None,
        }
    }
}

/// The instance's desks as the browser's Jira user sees them, when the browser is signed in
/// with Jira there; `back` is this form's address, to return to after signing in.
pub(super) async fn desks_for(
    state: &AppState,
    req: &HttpRequest,
    instance: &JiraInstance,
    back: &str,
) -> Result<Desks, AppError> {
    if !instance.enabled {
        let note = Some(
            "The instance is disabled, so nobody can sign in with Jira there: type the desk ids."
                .to_owned(),
        );
        return Ok(Desks::Typed {
            sign_in: None,
            note,
        });
    }
    if instance.oauth_client_id.is_none() {
        let note = Some("Set up the OAuth link of this instance to pick desks from Jira; until then type the desk ids.".to_owned());
        return Ok(Desks::Typed {
            sign_in: None,
            note,
        });
    }
    let sign_in = Some(sign_in_url(&instance.public_id, back));
    let Some(token) = cookie_token(req, state, &instance.public_id) else {
        return Ok(Desks::Typed {
            sign_in,
            note: None,
        });
    };
    let Some(user) = service_desks::session_user(state, instance, &token).await? else {
        return Ok(Desks::Typed {
            sign_in,
            note: None,
        });
    };
    match service_desks::desks_of(state, &user).await {
        Ok(desks) => Ok(Desks::Listed {
            user_name: user.user_name,
            desks,
        }),
        Err(AppError::Client {
            code: "jira_session_ended",
            ..
        }) => Ok(Desks::Typed {
            sign_in,
            note: Some(
                "Jira no longer accepts your sign-in there: sign in with Jira again.".to_owned(),
            ),
        }),
        Err(AppError::Client { message, .. }) => Ok(Desks::Typed {
            sign_in,
            note: Some(format!("{message} Type the desk ids instead.")),
        }),
        Err(e) => Err(e),
    }
}

/// The rule of one field, checked by the domain's own parser with good values elsewhere.
fn field_rule(icon: &str, desks: &[String], tab: &str) -> Option<String> {
    PortalAppSettings::parse(&json!({"icon": icon, "deskIds": desks, "tabName": tab})).err()
}

/// Checks the form: each field on its own (so every refused field gets its message), then the
/// settings as a whole, which is what is stored. When Jira listed the desks, an id it did not
/// list is refused, except the ones the portal app already has (`kept`: a desk the admin's
/// own Jira user cannot see, set by someone else, must not block every later save).
pub(super) fn check(
    sub: &Submitted,
    desks: &Desks,
    kept: &[String],
) -> Result<PortalAppSettings, FieldErrors> {
    let ok_desk = vec!["1".to_owned()];
    let mut errors = FieldErrors {
        tab_name: field_rule("icon1", &ok_desk, &sub.tab_name)
            .map(|_| format!("Enter a tab name of 1 to {MAX_TAB_NAME} characters.")),
        icon: field_rule(sub.icon.trim(), &ok_desk, "Tab").map(|_| {
            "Enter one of the app's icons: icon1 to icon99 (for example icon3).".to_owned()
        }),
        ..FieldErrors::default()
    };
    let ids = sub.desk_ids();
    let not_numeric = ids
        .iter()
        .find(|d| d.len() > 10 || !d.bytes().all(|b| b.is_ascii_digit()));
    errors.desk_ids = if let Some(bad) = not_numeric {
        Some(format!(
            "“{bad}” is not a service desk id: ids are numbers, such as 14."
        ))
    } else if let Some(unknown) = desks.listed().filter(|l| !l.is_empty()).and_then(|l| {
        ids.iter()
            .find(|d| !l.iter().any(|x| x.id == **d) && !kept.contains(d))
    }) {
        Some(format!(
            "Service desk {unknown} is not one of the service desks of this instance (as Jira lists them for you)."
        ))
    } else if ids.is_empty() {
        Some("Choose or type at least one service desk.".to_owned())
    } else if ids.len() > MAX_DESKS {
        Some(format!(
            "A portal app shows at most {MAX_DESKS} service desks; {} were given.",
            ids.len()
        ))
    } else {
        field_rule("icon1", &ids, "Tab")
    };
    if errors.any() {
        return Err(errors);
    }
    PortalAppSettings::parse(
        &json!({"icon": sub.icon.trim(), "deskIds": ids, "tabName": sub.tab_name}),
    )
    .map_err(|e| FieldErrors {
        desk_ids: Some(e),
        ..FieldErrors::default()
    })
}

/// An instance in the select.
pub(super) struct InstanceChoice {
    pub id: Uuid,
    pub base_url: String,
    pub selected: bool,
}

/// A desk checkbox.
pub(super) struct DeskChoice {
    pub id: String,
    pub name: String,
    pub key: String,
    pub checked: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/portal_app_form.html")]
struct PortalAppFormPage {
    layout: Layout,
    heading: &'static str,
    action: String,
    /// The portal app's id when editing (its instance then stays as it is).
    editing: Option<Uuid>,
    instances: Vec<InstanceChoice>,
    /// The instance whose desks are offered (editing: the portal app's).
    instance_name: String,
    tab_name: String,
    icon: String,
    listed_by: Option<String>,
    desks: Vec<DeskChoice>,
    desk_text: String,
    sign_in: Option<String>,
    desk_note: Option<String>,
    errors: FieldErrors,
    max_tab: usize,
    max_desks: usize,
}

/// What a form page shows.
pub(super) struct FormView<'a> {
    pub heading: &'static str,
    pub action: String,
    pub editing: Option<Uuid>,
    pub instances: &'a [JiraInstance],
    /// The instance whose desks are offered, if one is chosen.
    pub instance: Option<&'a JiraInstance>,
    pub submitted: Submitted,
    pub desks: Desks,
    pub errors: FieldErrors,
}

/// Renders the form (422 when any field was refused).
pub(super) fn render(layout: Layout, v: FormView<'_>) -> Result<HttpResponse, PageError> {
    let status = if v.errors.any() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let selected = v.instance.map(|i| i.id);
    let (listed_by, desks, sign_in, desk_note) = match v.desks {
        Desks::Listed { user_name, desks } => {
            let choices = desks
                .into_iter()
                .map(|d| DeskChoice {
                    checked: v.submitted.desk_checked.contains(&d.id),
                    id: d.id,
                    name: d.project_name,
                    key: d.project_key,
                })
                .collect();
            (Some(user_name), choices, None, None)
        }
        Desks::Typed { sign_in, note } => (None, Vec::new(), sign_in, note),
    };
    // a ticked desk that is no longer offered keeps its place in the text field
    let mut desk_text = v.submitted.desk_text.clone();
    for c in &v.submitted.desk_checked {
        if !desks.iter().any(|d: &DeskChoice| d.id == *c) {
            desk_text = if desk_text.trim().is_empty() {
                c.clone()
            } else {
                format!("{desk_text}, {c}")
            };
        }
    }
    let page = PortalAppFormPage {
        layout,
        heading: v.heading,
        action: v.action,
        editing: v.editing,
        instances: v
            .instances
            .iter()
            .map(|i| InstanceChoice {
                id: i.id,
                base_url: i.base_url.clone(),
                selected: Some(i.id) == selected,
            })
            .collect(),
        instance_name: v.instance.map(|i| i.base_url.clone()).unwrap_or_default(),
        tab_name: v.submitted.tab_name,
        icon: v.submitted.icon,
        listed_by,
        desks,
        desk_text,
        sign_in,
        desk_note,
        errors: v.errors,
        max_tab: MAX_TAB_NAME,
        max_desks: MAX_DESKS,
    };
    super::html(page.render(), status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed() -> Desks {
        Desks::Typed {
            sign_in: None,
            note: None,
        }
    }

    fn form(tab: &str, icon: &str, ticked: &[&str], text: &str) -> Submitted {
        Submitted {
            instance: String::new(),
            tab_name: tab.into(),
            icon: icon.into(),
            desk_checked: ticked.iter().map(|s| (*s).to_owned()).collect(),
            desk_text: text.into(),
        }
    }

    #[test]
    fn ticked_and_typed_desks_are_merged_once_each() {
        let s = form("Helpdesk", "icon3", &["14"], "15, 14;16");
        assert_eq!(s.desk_ids(), vec!["14", "15", "16"]);
        let ok = check(&s, &typed(), &[]).unwrap();
        assert_eq!(ok.desk_ids, vec!["14", "15", "16"]);
    }

    #[test]
    fn every_refused_field_gets_its_own_message() {
        let e = check(&form("", "skull", &[], "abc"), &typed(), &[]).unwrap_err();
        assert!(e.tab_name.is_some() && e.icon.is_some());
        assert!(e.desk_ids.unwrap().contains("abc"));
        let e = check(&form(&"x".repeat(31), "icon3", &[], ""), &typed(), &[]).unwrap_err();
        assert!(e.tab_name.is_some() && e.icon.is_none());
        assert!(e.desk_ids.is_some(), "no desk at all");
    }

    #[test]
    fn a_desk_jira_did_not_list_is_refused() {
        let listed = Desks::Listed {
            user_name: "alice".into(),
            desks: vec![ServiceDesk {
                id: "14".into(),
                project_key: "HD".into(),
                project_name: "Helpdesk".into(),
            }],
        };
        assert!(check(&form("Helpdesk", "icon3", &["14"], ""), &listed, &[]).is_ok());
        let e = check(&form("Helpdesk", "icon3", &["14"], "99"), &listed, &[]).unwrap_err();
        assert!(e.desk_ids.unwrap().contains("99"));
    }
}
