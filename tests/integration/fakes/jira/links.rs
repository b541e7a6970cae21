//! What the appliance needs of Jira to serve Jira users without a plugin
//! (`shared/design/JIRA-SURFACE.md`), as Jira DC 8–10 does it:
//! - remote issue links: `POST …/issue/{idOrKey}/remotelink` upserts by `globalId` (201 when
//!   created, 200 when an existing link was updated; fields left out become null), `GET` and
//!   `DELETE …/remotelink?globalId=…` (404 when there is none); 403 without *Link Issues* on the
//!   project, 400 while issue linking is off for the whole site, 400 naming `title` / `url` /
//!   `globalId` for a bad body;
//! - consent refused: the authorize page redirects with `error=access_denied` (consent revoked is
//!   `revoke_user`: every token of the user stops working);
//! - comments as the appliance writes them: `POST …/issue/{id}/comment` (wiki markup, optional
//!   `properties` such as JSM's `sd.public.comment`; 400 `errors.comment` for a blank body or one
//!   over 32,767 UTF-16 units, 403 without *Add Comments*), `GET …/comment?orderBy=-created&maxResults=`;
//!   a project's `projectTypeKey` (`service_desk` for a JSM project) on the issue's `project`;
//! - scripted failures of the remote-link write (HTTP 500) and a slow answer *after* the link was
//!   stored, as a Jira whose answer is lost in a crash;
//! - `GET /rest/api/2/user/viewissue/search?issueKey=&username=&maxResults=`: the active users who
//!   may browse the issue whose name or display name starts with the query, 403 without *Browse
//!   users*.

use super::*;

/// Remote links per issue id and the permissions around them.
#[derive(Default)]
pub struct Links {
    /// issue id → (globalId, link id, the link as Jira returns it), in creation order.
    pub remote: HashMap<u64, Vec<(String, u64, Value)>>,
    next_id: u64,
    /// User keys without *Link Issues* (on every project).
    pub no_link_permission: Vec<String>,
    /// Issue linking switched off site-wide.
    pub linking_disabled: bool,
    /// User keys without the global *Browse users* permission.
    pub no_browse_users: Vec<String>,
    /// The signed-in user answers Jira's consent screen with *Deny*.
    pub consent_refused: bool,
    /// The next remote-link writes answer with this status (count, status).
    fail_next: (usize, u16),
    /// How long a remote-link write waits, after storing the link, before it answers.
    pub answer_delay_ms: u64,
    /// Remote-link writes received, and those answered (the rest were in flight).
    pub writes_received: usize,
    pub writes_answered: usize,
    /// Comment posts received, and those answered (they wait `answer_delay_ms` too).
    pub comments_received: usize,
    pub comments_answered: usize,
    /// issue id → comments in creation order: (comment id, author key, body, properties).
    pub comments: HashMap<u64, Vec<(u64, String, String, Value)>>,
    /// Project keys whose `projectTypeKey` is not `software` (e.g. `service_desk`).
    pub project_types: HashMap<String, String>,
    /// User keys without *Add Comments* (on every project).
    pub no_comment_permission: Vec<String>,
}

impl Jira {
    /// The remote links of an issue, in creation order: (globalId, link as Jira returns it).
    pub fn remote_links(&self, issue_id: u64) -> Vec<(String, Value)> {
        self.links
            .lock()
            .unwrap()
            .remote
            .get(&issue_id)
            .map(|l| l.iter().map(|(g, _, v)| (g.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// Takes *Link Issues* away from a user.
    pub fn deny_linking(&self, user_key: &str) {
        self.links
            .lock()
            .unwrap()
            .no_link_permission
            .push(user_key.to_owned());
    }

    /// Switches issue linking off (or on) for the whole site.
    pub fn set_linking_disabled(&self, off: bool) {
        self.links.lock().unwrap().linking_disabled = off;
    }

    /// Makes the user deny (or, with `false`, allow) the next consent screens.
    pub fn refuse_consent(&self, refused: bool) {
        self.links.lock().unwrap().consent_refused = refused;
    }

    /// The next `n` remote-link writes answer `status` (e.g. 500), before anything is stored.
    pub fn fail_link_writes(&self, n: usize, status: u16) {
        self.links.lock().unwrap().fail_next = (n, status);
    }

    /// Every remote-link write and comment post waits `ms` after storing before it answers.
    pub fn delay_link_answers(&self, ms: u64) {
        self.links.lock().unwrap().answer_delay_ms = ms;
    }

    /// (remote-link writes received, answered).
    pub fn link_writes(&self) -> (usize, usize) {
        let l = self.links.lock().unwrap();
        (l.writes_received, l.writes_answered)
    }

    /// (comment posts received, answered).
    pub fn comment_posts(&self) -> (usize, usize) {
        let l = self.links.lock().unwrap();
        (l.comments_received, l.comments_answered)
    }

    /// The comments of an issue: (author key, body, properties).
    pub fn comments_of(&self, issue_id: u64) -> Vec<(String, String, Value)> {
        self.links
            .lock()
            .unwrap()
            .comments
            .get(&issue_id)
            .map(|c| {
                c.iter()
                    .map(|(_, a, b, p)| (a.clone(), b.clone(), p.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Makes `project` a project of another type (`service_desk`: Jira Service Management).
    pub fn set_project_type(&self, project: &str, kind: &str) {
        self.links
            .lock()
            .unwrap()
            .project_types
            .insert(project.to_owned(), kind.to_owned());
    }

    /// The `projectTypeKey` of a project (`software` unless set).
    pub(super) fn project_type(&self, project: &str) -> String {
        self.links
            .lock()
            .unwrap()
            .project_types
            .get(project)
            .cloned()
            .unwrap_or_else(|| "software".to_owned())
    }

    /// Takes *Add Comments* away from a user (they still see the issues).
    pub fn deny_commenting(&self, user_key: &str) {
        self.links
            .lock()
            .unwrap()
            .no_comment_permission
            .push(user_key.to_owned());
    }

    /// Takes *Browse users* away from a user.
    pub fn deny_browse_users(&self, user_key: &str) {
        self.links
            .lock()
            .unwrap()
            .no_browse_users
            .push(user_key.to_owned());
    }
}

#[derive(serde::Deserialize)]
pub(super) struct GlobalIdQuery {
    #[serde(rename = "globalId")]
    global_id: Option<String>,
}

fn link_json(fake: &Jira, issue: &Issue, id: u64, body: &Value) -> Value {
    json!({
        "id": id,
        "self": format!("{}/rest/api/2/issue/{}/remotelink/{id}", fake.base, issue.key),
        "globalId": body.get("globalId").cloned().unwrap_or(Value::Null),
        "application": body.get("application").cloned().unwrap_or(json!({})),
        "relationship": body.get("relationship").cloned().unwrap_or(Value::Null),
        "object": body.get("object").cloned().unwrap_or(Value::Null),
    })
}

fn field_errors(errors: Value) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({"errorMessages": [], "errors": errors}))
}

pub(super) async fn upsert_remote_link(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<Value>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let issue = ok_or_return!(fake.visible_issue(&user, &path.into_inner()));
    let body = body.into_inner();
    {
        let mut links = fake.links.lock().unwrap();
        links.writes_received += 1;
        if links.fail_next.0 > 0 {
            links.fail_next.0 -= 1;
            links.writes_answered += 1;
            let status = links.fail_next.1;
            return rest_error(status, "Internal server error");
        }
        if links.linking_disabled {
            return rest_error(400, "Issue linking is currently disabled.");
        }
        if links.no_link_permission.contains(&user.key) {
            return rest_error(
                403,
                "You do not have the permission to link issues in this project.",
            );
        }
    }
    let object = &body["object"];
    if object["title"].as_str().is_none_or(str::is_empty) {
        return field_errors(json!({"title": "'title' is required."}));
    }
    if object["url"]
        .as_str()
        .is_none_or(|u| url::Url::parse(u).is_err())
    {
        return field_errors(json!({"url": "'url' is required and must be a valid URL."}));
    }
    let global = body["globalId"].as_str().map(str::to_owned);
    if global.as_deref().is_some_and(|g| g.chars().count() > 255) {
        return field_errors(json!({"globalId": "The global id must be at most 255 characters."}));
    }
    let (answer, delay) = {
        let mut links = fake.links.lock().unwrap();
        links.next_id += 1;
        let fresh = 10_000 + links.next_id;
        let delay = links.answer_delay_ms;
        let list = links.remote.entry(issue.id).or_default();
        // an existing globalId is updated in place: the whole link is replaced, as Jira does
        let answer = if let Some(g) = &global
            && let Some(at) = list.iter().position(|(x, ..)| x == g)
        {
            let id = list[at].1;
            list[at].2 = link_json(&fake, &issue, id, &body);
            HttpResponse::Ok().json(json!({
                "id": id,
                "self": format!("{}/rest/api/2/issue/{}/remotelink/{id}", fake.base, issue.key),
            }))
        } else {
            list.push((
                global.unwrap_or_default(),
                fresh,
                link_json(&fake, &issue, fresh, &body),
            ));
            HttpResponse::Created().json(json!({
                "id": fresh,
                "self": format!("{}/rest/api/2/issue/{}/remotelink/{fresh}", fake.base, issue.key),
            }))
        };
        (answer, delay)
    };
    // stored already: a caller that dies now never learns it was written
    if delay > 0 {
        actix_web::rt::time::sleep(Duration::from_millis(delay)).await;
    }
    fake.links.lock().unwrap().writes_answered += 1;
    answer
}

#[derive(serde::Deserialize)]
pub(super) struct CommentQuery {
    #[serde(rename = "orderBy")]
    order_by: Option<String>,
    #[serde(rename = "maxResults")]
    max_results: Option<usize>,
}

pub(super) async fn add_comment(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<Value>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let issue = ok_or_return!(fake.visible_issue(&user, &path.into_inner()));
    if fake
        .links
        .lock()
        .unwrap()
        .no_comment_permission
        .contains(&user.key)
    {
        return rest_error(
            403,
            "You do not have the permission to comment on this issue.",
        );
    }
    let Some(text) = body["body"].as_str().filter(|b| !b.trim().is_empty()) else {
        return field_errors(json!({"comment": "Comment body can not be empty!"}));
    };
    // jira.text.field.character.limit, counted as Java counts a String
    if text.encode_utf16().count() > 32_767 {
        return field_errors(json!({"comment":
            "The entered text is too long. It exceeds the allowed limit of 32,767 characters."}));
    }
    let properties = body.get("properties").cloned().unwrap_or(json!([]));
    let (id, delay) = {
        let mut links = fake.links.lock().unwrap();
        links.comments_received += 1;
        links.next_id += 1;
        let id = 20_000 + links.next_id;
        links.comments.entry(issue.id).or_default().push((
            id,
            user.key.clone(),
            text.to_owned(),
            properties,
        ));
        (id, links.answer_delay_ms)
    };
    if delay > 0 {
        actix_web::rt::time::sleep(Duration::from_millis(delay)).await;
    }
    fake.links.lock().unwrap().comments_answered += 1;
    HttpResponse::Created().json(json!({
        "id": id.to_string(),
        "self": format!("{}/rest/api/2/issue/{}/comment/{id}", fake.base, issue.id),
        "body": text,
        "author": {"key": user.key, "name": user.name, "displayName": user.display},
    }))
}

pub(super) async fn list_comments(
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<CommentQuery>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let issue = ok_or_return!(fake.visible_issue(&user, &path.into_inner()));
    let mut all = fake
        .links
        .lock()
        .unwrap()
        .comments
        .get(&issue.id)
        .cloned()
        .unwrap_or_default();
    let total = all.len();
    if q.order_by.as_deref() == Some("-created") {
        all.reverse();
    }
    all.truncate(q.max_results.unwrap_or(50).clamp(1, 5000));
    let comments: Vec<Value> = all
        .iter()
        .map(|(id, author, body, _)| json!({"id": id.to_string(), "body": body, "author": {"key": author}}))
        .collect();
    HttpResponse::Ok().json(json!({
        "startAt": 0,
        "maxResults": comments.len(),
        "total": total,
        "comments": comments,
    }))
}

pub(super) async fn get_remote_links(
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<GlobalIdQuery>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let issue = ok_or_return!(fake.visible_issue(&user, &path.into_inner()));
    let links = fake.links.lock().unwrap();
    let list = links.remote.get(&issue.id).cloned().unwrap_or_default();
    match &q.global_id {
        None => HttpResponse::Ok().json(list.into_iter().map(|(.., v)| v).collect::<Vec<_>>()),
        Some(g) => match list.into_iter().find(|(x, ..)| x == g) {
            Some((.., v)) => HttpResponse::Ok().json(v),
            None => rest_error(404, "No remote link with the given globalId."),
        },
    }
}

pub(super) async fn delete_remote_link(
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<GlobalIdQuery>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let issue = ok_or_return!(fake.visible_issue(&user, &path.into_inner()));
    let Some(g) = &q.global_id else {
        return rest_error(400, "The globalId query parameter is required.");
    };
    let mut links = fake.links.lock().unwrap();
    if links.no_link_permission.contains(&user.key) {
        return rest_error(
            403,
            "You do not have the permission to link issues in this project.",
        );
    }
    let list = links.remote.entry(issue.id).or_default();
    let before = list.len();
    list.retain(|(x, ..)| x != g);
    if list.len() == before {
        return rest_error(404, "No remote link with the given globalId.");
    }
    HttpResponse::NoContent().finish()
}

#[derive(serde::Deserialize)]
pub(super) struct ViewIssueQuery {
    #[serde(rename = "issueKey")]
    issue_key: Option<String>,
    username: Option<String>,
    #[serde(rename = "maxResults")]
    max_results: Option<usize>,
}

pub(super) async fn users_who_can_view(
    req: HttpRequest,
    q: web::Query<ViewIssueQuery>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    if fake
        .links
        .lock()
        .unwrap()
        .no_browse_users
        .contains(&user.key)
    {
        return rest_error(
            403,
            "You do not have the permission to browse users (Browse users).",
        );
    }
    let Some(key) = q.issue_key.as_deref() else {
        return rest_error(
            400,
            "Either the 'issueKey' or 'projectKey' must be specified.",
        );
    };
    let issue = ok_or_return!(fake.visible_issue(&user, key));
    let wanted = q.username.as_deref().unwrap_or_default().to_lowercase();
    let max = q.max_results.unwrap_or(50).clamp(1, 1000);
    let mut users: Vec<JiraUser> = fake
        .users
        .lock()
        .unwrap()
        .values()
        .filter(|u| !issue.hidden_from.contains(&u.key))
        .filter(|u| {
            wanted.is_empty()
                || u.name.to_lowercase().starts_with(&wanted)
                || u.display
                    .to_lowercase()
                    .split_whitespace()
                    .any(|w| w.starts_with(&wanted))
        })
        .cloned()
        .collect();
    users.sort_by(|a, b| a.name.cmp(&b.name));
    users.truncate(max);
    HttpResponse::Ok().json(users.iter().map(|u| fake.user_json(u)).collect::<Vec<_>>())
}
