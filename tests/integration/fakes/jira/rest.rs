//! Bearer-authenticated REST as the calling user: `myself`, anonymous `serverInfo`, issues (DC's
//! 404 missing / 403 hidden; a moved issue's old key still resolves, a deleted issue is 404), and the watchers, comments, projects and users behind personal
//! notifications and subscriptions.

use super::*;

pub(super) async fn myself(req: HttpRequest, fake: web::Data<Jira>) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    HttpResponse::Ok().json(fake.user_json(&user))
}

pub(super) async fn server_info(fake: web::Data<Jira>) -> HttpResponse {
    let version = fake.webhooks.lock().unwrap().version.clone();
    let numbers: Vec<u64> = version.split('.').filter_map(|n| n.parse().ok()).collect();
    HttpResponse::Ok().json(json!({
        "baseUrl": fake.base,
        "version": version,
        "versionNumbers": numbers,
        "deploymentType": "Server",
        "buildNumber": 10030001,
        "buildDate": "2026-01-01T00:00:00.000+0000",
        "serverTitle": "Fake Jira",
    }))
}

pub(super) async fn issue(
    req: HttpRequest,
    path: web::Path<String>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let wanted = path.into_inner();
    let found = {
        let issues = fake.issues.lock().unwrap();
        if wanted.bytes().all(|b| b.is_ascii_digit()) {
            issues
                .values()
                .find(|i| i.id.to_string() == wanted)
                .cloned()
        } else {
            // Lower-case keys are retried upper-cased, and a moved issue's old key still finds
            // it, as Jira does.
            issues.get(&fake.current_key(&wanted)).cloned()
        }
    };
    let Some(issue) = found else {
        return rest_error(404, "Issue Does Not Exist");
    };
    if issue.hidden_from.contains(&user.key) {
        // DC leaks existence: 403, not 404, when the issue exists but is not browsable.
        return rest_error(
            403,
            "You do not have the permission to see the specified issue.",
        );
    }
    // the fields asked for (`fields=a,b`), all of them without the parameter, as Jira does;
    // an unset assignee is `null`, as Jira sends it
    let wanted: Option<Vec<String>> = req.query_string().split('&').find_map(|kv| {
        kv.strip_prefix("fields=").map(|v| {
            v.split("%2C")
                .flat_map(|p| p.split(','))
                .map(str::to_owned)
                .collect()
        })
    });
    let (assignee, reporter) = fake
        .people
        .lock()
        .unwrap()
        .roles
        .get(&issue.id)
        .cloned()
        .unwrap_or_default();
    let person = |key: Option<String>| {
        key.map_or(Value::Null, |k| {
            json!({"self": format!("{}/rest/api/2/user?key={k}", fake.base), "key": k, "name": k,
                   "displayName": k, "active": true})
        })
    };
    let project = issue.key.split('-').next().unwrap_or_default().to_owned();
    let all = json!({
        "summary": issue.summary,
        "status": {"name": "Open", "id": "1"},
        "project": {"self": format!("{}/rest/api/2/project/{project}", fake.base), "key": project, "name": project,
                    "projectTypeKey": fake.project_type(&project)},
        "assignee": person(assignee),
        "reporter": person(reporter),
    });
    let fields: serde_json::Map<String, Value> = all
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| wanted.as_ref().is_none_or(|w| w.iter().any(|f| f == *k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    fake.work
        .issue_reads
        .lock()
        .unwrap()
        .push((user.key.clone(), issue.id));
    HttpResponse::Ok().json(json!({
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": issue.id.to_string(),
        "key": issue.key,
        "self": format!("{}/rest/api/2/issue/{}", fake.base, issue.id),
        "fields": fields,
    }))
}

impl Jira {
    /// Makes users watch an issue.
    pub fn add_watchers(&self, issue_id: u64, keys: &[&str]) {
        self.people
            .lock()
            .unwrap()
            .watchers
            .entry(issue_id)
            .or_default()
            .extend(keys.iter().map(|k| (*k).to_owned()));
    }

    /// Sets an issue's assignee and reporter (user keys).
    pub fn set_roles(&self, issue_id: u64, assignee: Option<&str>, reporter: Option<&str>) {
        self.people.lock().unwrap().roles.insert(
            issue_id,
            (assignee.map(str::to_owned), reporter.map(str::to_owned)),
        );
    }

    /// Who read which issue (`GET /rest/api/2/issue/{id}`), in order: (user key, issue id).
    pub fn issue_reads(&self) -> Vec<(String, u64)> {
        self.work.issue_reads.lock().unwrap().clone()
    }

    /// Adds a comment, readable by everyone who sees the issue (`readers` = `None`) or only by
    /// the listed users (a role or group visibility).
    pub fn add_comment(&self, issue_id: u64, comment_id: &str, readers: Option<&[&str]>) {
        self.people.lock().unwrap().comments.insert(
            (issue_id, comment_id.to_owned()),
            readers.map(|r| r.iter().map(|k| (*k).to_owned()).collect()),
        );
    }

    /// The issue with this id if the user may see it; else the DC error answer.
    pub(super) fn visible_issue(
        &self,
        user: &JiraUser,
        id: &str,
    ) -> Result<Issue, Box<HttpResponse>> {
        let issue = self
            .issues
            .lock()
            .unwrap()
            .values()
            .find(|i| i.id.to_string() == id || i.key == self.current_key(id))
            .cloned();
        match issue {
            None => Err(Box::new(rest_error(404, "Issue Does Not Exist"))),
            Some(i) if i.hidden_from.contains(&user.key) => Err(Box::new(rest_error(
                403,
                "You do not have the permission to see the specified issue.",
            ))),
            Some(i) => Ok(i),
        }
    }
}

pub(super) async fn watchers(
    req: HttpRequest,
    path: web::Path<String>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let issue = ok_or_return!(fake.visible_issue(&user, &path.into_inner()));
    let keys = fake
        .people
        .lock()
        .unwrap()
        .watchers
        .get(&issue.id)
        .cloned()
        .unwrap_or_default();
    let users = fake.users.lock().unwrap().clone();
    let watchers: Vec<Value> = keys
        .iter()
        .filter_map(|k| users.get(k))
        .map(|u| fake.user_json(u))
        .collect();
    HttpResponse::Ok().json(json!({
        "self": format!("{}/rest/api/2/issue/{}/watchers", fake.base, issue.key),
        "isWatching": keys.contains(&user.key),
        "watchCount": watchers.len(),
        "watchers": watchers,
    }))
}

pub(super) async fn comment(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let (id, comment_id) = path.into_inner();
    let issue = ok_or_return!(fake.visible_issue(&user, &id));
    let readers = fake
        .people
        .lock()
        .unwrap()
        .comments
        .get(&(issue.id, comment_id.clone()))
        .cloned();
    match readers {
        // DC filters comments the user may not read (getCommentsForUser): not found
        Some(Some(keys)) if !keys.contains(&user.key) => rest_error(404, "Comment not found"),
        Some(_) => HttpResponse::Ok().json(json!({
            "id": comment_id,
            "self": format!("{}/rest/api/2/issue/{}/comment/{comment_id}", fake.base, issue.id),
            "body": "a comment",
        })),
        None => rest_error(404, "Comment not found"),
    }
}

pub(super) async fn project(
    req: HttpRequest,
    path: web::Path<String>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let key = path.into_inner().to_ascii_uppercase();
    // a project is visible when one of its issues is
    let visible = fake.issues.lock().unwrap().values().any(|i| {
        i.key.split('-').next() == Some(key.as_str()) && !i.hidden_from.contains(&user.key)
    });
    if !visible {
        return rest_error(404, &format!("No project could be found with key '{key}'."));
    }
    HttpResponse::Ok().json(json!({
        "self": format!("{}/rest/api/2/project/{key}", fake.base),
        "id": "10000",
        "key": key,
        "name": format!("Project {key}"),
    }))
}

pub(super) async fn user_by_name(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let _ = ok_or_return!(fake.caller(&req));
    let Some(name) = query.get("username").or_else(|| query.get("key")) else {
        return rest_error(400, "The username or key query parameter is required.");
    };
    let found = fake
        .users
        .lock()
        .unwrap()
        .values()
        .find(|u| &u.name == name || &u.key == name)
        .cloned();
    match found {
        Some(u) => HttpResponse::Ok().json(fake.user_json(&u)),
        None => rest_error(404, &format!("The user named '{name}' does not exist")),
    }
}
