//! Projects, create-issue metadata and issue creation as the calling user (PROTOCOLS.md §4.5,
//! §7.3). An issue's project is the part of its key before the `-`.

use super::*;

/// A project: its issue types `(id, name)`, who may not see it, who may not create in it, and
/// fields its create screen requires (never filled by the appliance: 400 `errors.<field>`).
#[derive(Clone, Debug)]
pub struct FakeProject {
    pub id: u64,
    pub key: String,
    pub name: String,
    pub issue_types: Vec<(String, String)>,
    pub hidden_from: Vec<String>,
    pub no_create: Vec<String>,
    pub required: Vec<(String, String)>,
}

/// An issue created through `POST /rest/api/2/issue`.
#[derive(Clone, Debug)]
pub struct CreatedIssue {
    pub key: String,
    /// The user key behind the bearer token.
    pub creator: String,
    /// The `fields` object as sent.
    pub fields: Value,
}

/// What the fake knows beyond users and issues.
#[derive(Default)]
pub struct JiraWork {
    pub projects: Mutex<Vec<FakeProject>>,
    pub created: Mutex<Vec<CreatedIssue>>,
    /// Descriptions and issue type names of issues, by key (searched by `text ~`).
    pub descriptions: Mutex<HashMap<String, String>>,
    pub issue_types: Mutex<HashMap<String, String>>,
    /// Every search body received.
    pub searches: Mutex<Vec<Value>>,
    /// createmeta page size (0 = 2, so paging is exercised).
    pub createmeta_page: AtomicUsize,
    /// Every issue read: (user key, issue id).
    pub issue_reads: Mutex<Vec<(String, u64)>>,
}

impl Jira {
    /// Adds a project with issue types `(id, name)`, hidden from the given user keys.
    pub fn add_project(
        &self,
        id: u64,
        key: &str,
        name: &str,
        types: &[(&str, &str)],
        hidden_from: &[&str],
    ) {
        self.work.projects.lock().unwrap().push(FakeProject {
            id,
            key: key.to_owned(),
            name: name.to_owned(),
            issue_types: types
                .iter()
                .map(|(i, n)| ((*i).to_owned(), (*n).to_owned()))
                .collect(),
            hidden_from: hidden_from.iter().map(|s| (*s).to_owned()).collect(),
            no_create: Vec::new(),
            required: Vec::new(),
        });
    }

    /// The user may see but not create in the project.
    pub fn deny_create(&self, project: &str, user_key: &str) {
        for p in self.work.projects.lock().unwrap().iter_mut() {
            if p.key == project {
                p.no_create.push(user_key.to_owned());
            }
        }
    }

    /// The project's create screen requires `field` (Jira answers 400 with `message`).
    pub fn require_field(&self, project: &str, field: &str, message: &str) {
        for p in self.work.projects.lock().unwrap().iter_mut() {
            if p.key == project {
                p.required.push((field.to_owned(), message.to_owned()));
            }
        }
    }

    /// Issues created so far.
    pub fn created(&self) -> Vec<CreatedIssue> {
        self.work.created.lock().unwrap().clone()
    }

    /// The JQL of every search so far.
    pub fn searched_jql(&self) -> Vec<String> {
        self.work
            .searches
            .lock()
            .unwrap()
            .iter()
            .map(|b| b["jql"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub(super) fn visible_project(&self, key_or_id: &str, user: &str) -> Option<FakeProject> {
        self.work
            .projects
            .lock()
            .unwrap()
            .iter()
            .find(|p| {
                (p.key.eq_ignore_ascii_case(key_or_id) || p.id.to_string() == key_or_id)
                    && !p.hidden_from.iter().any(|h| h == user)
            })
            .cloned()
    }
}

pub(super) fn fields_error(errors: Value) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({"errorMessages": [], "errors": errors}))
}

pub(super) async fn projects(req: HttpRequest, fake: web::Data<Jira>) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let list: Vec<Value> = fake
        .work
        .projects
        .lock()
        .unwrap()
        .iter()
        .filter(|p| !p.hidden_from.contains(&user.key))
        .map(|p| {
            json!({
                "self": format!("{}/rest/api/2/project/{}", fake.base, p.id),
                "id": p.id.to_string(), "key": p.key, "name": p.name,
                "projectTypeKey": "software",
            })
        })
        .collect();
    HttpResponse::Ok().json(list)
}

pub(super) async fn createmeta_issue_types(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let Some(project) = fake.visible_project(&path.into_inner(), &user.key) else {
        return rest_error(404, "No project could be found with key or id.");
    };
    let get = |k: &str| {
        query
            .iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.parse::<usize>().ok())
    };
    let start = get("startAt").unwrap_or(0);
    let page = match fake.work.createmeta_page.load(Ordering::SeqCst) {
        0 => 2,
        n => n,
    };
    let max = get("maxResults").unwrap_or(50).clamp(1, 50).min(page);
    // without Create permission the list is empty (PROTOCOLS.md §7.4)
    let types: Vec<(String, String)> = if project.no_create.contains(&user.key) {
        Vec::new()
    } else {
        project.issue_types.clone()
    };
    let values: Vec<Value> = types
        .iter()
        .skip(start)
        .take(max)
        .map(|(id, name)| {
            json!({
                "self": format!("{}/rest/api/2/issuetype/{id}", fake.base),
                "id": id, "name": name, "subtask": name == "Sub-task",
                "description": "", "iconUrl": format!("{}/images/icons/{id}.png", fake.base),
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({
        "startAt": start, "maxResults": max, "total": types.len(),
        "isLast": start + values.len() >= types.len(), "values": values,
    }))
}

pub(super) async fn create_issue(
    req: HttpRequest,
    body: web::Bytes,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return rest_error(400, "Unexpected character: the body is not JSON.");
    };
    let fields = body["fields"].clone();
    let project_ref = fields["project"]["key"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| fields["project"]["id"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let Some(project) = fake.visible_project(&project_ref, &user.key) else {
        return fields_error(json!({"project": "valid project is required"}));
    };
    if project.no_create.contains(&user.key) {
        return rest_error(
            403,
            "You do not have permission to create issues in this project.",
        );
    }
    let type_ref = |k: &str| fields["issuetype"][k].as_str().map(str::to_owned);
    let Some((_, type_name)) = project.issue_types.iter().find(|(id, name)| {
        type_ref("id").as_deref() == Some(id.as_str())
            || type_ref("name").as_deref() == Some(name.as_str())
    }) else {
        return fields_error(json!({"issuetype": "valid issue type is required"}));
    };
    let mut errors = serde_json::Map::new();
    let summary = fields["summary"].as_str().unwrap_or_default().to_owned();
    if summary.trim().is_empty() {
        errors.insert(
            "summary".into(),
            json!("You must specify a summary of the issue."),
        );
    } else if summary.chars().count() > 255 {
        errors.insert(
            "summary".into(),
            json!("Summary must be less than 255 characters."),
        );
    }
    for (field, message) in &project.required {
        if fields.get(field).is_none() {
            errors.insert(field.clone(), json!(message));
        }
    }
    if !errors.is_empty() {
        return fields_error(Value::Object(errors));
    }
    let (id, key) = {
        let mut issues = fake.issues.lock().unwrap();
        let id = issues
            .values()
            .map(|i| i.id)
            .max()
            .unwrap_or(10000)
            .max(10000)
            + 1;
        let prefix = format!("{}-", project.key);
        let n = issues
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix).and_then(|n| n.parse::<u64>().ok()))
            .max()
            .unwrap_or(0)
            + 1;
        let key = format!("{}{n}", prefix);
        issues.insert(
            key.clone(),
            Issue {
                id,
                key: key.clone(),
                summary: summary.clone(),
                hidden_from: Vec::new(),
            },
        );
        (id, key)
    };
    let description = fields["description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    fake.work
        .descriptions
        .lock()
        .unwrap()
        .insert(key.clone(), description);
    fake.work
        .issue_types
        .lock()
        .unwrap()
        .insert(key.clone(), type_name.clone());
    fake.work.created.lock().unwrap().push(CreatedIssue {
        key: key.clone(),
        creator: user.key.clone(),
        fields,
    });
    HttpResponse::Created().json(json!({
        "id": id.to_string(), "key": key,
        "self": format!("{}/rest/api/2/issue/{id}", fake.base),
    }))
}
