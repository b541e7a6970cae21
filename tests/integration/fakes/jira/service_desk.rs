//! Jira Service Management servicedeskapi (PROTOCOLS.md §4.6).

use super::*;

// ---------------------------------------------------------------------------------------------
// Jira Service Management servicedeskapi (PROTOCOLS.md §4.6): service desks visible per user,
// request types and the user's requests in the real paging envelope (`size`, `start`, `limit`,
// `isLastPage`, `values`, `_links`; `start`/`limit` honoured, limit capped at 50), request
// creation recording the bearer token's user, and JSM's error shape
// `{"errorMessage": .., "i18nErrorMessage": {"i18nKey": .., "parameters": []}}` [mem].

/// A service desk of the fake JSM.
#[derive(Clone, Debug)]
pub struct Desk {
    pub id: String,
    pub project_key: String,
    /// User keys that may use it; `None` = everyone.
    pub visible_to: Option<Vec<String>>,
    /// `(id, name, description)`.
    pub request_types: Vec<(String, String, String)>,
}

/// A request raised through the fake.
#[derive(Clone, Debug)]
pub struct JsmRequest {
    pub issue_key: String,
    pub desk_id: String,
    pub request_type_id: String,
    pub summary: String,
    pub description: String,
    /// The user whose token raised it.
    pub creator: String,
    pub open: bool,
}

/// JSM state of one fake Jira.
#[derive(Default)]
pub struct Jsm {
    pub desks: Mutex<Vec<Desk>>,
    pub requests: Mutex<Vec<JsmRequest>>,
    /// When set, the next create answers 400 with this `errorMessage` (a required field, a
    /// workflow validator: rules only Jira knows).
    pub reject_next_create: Mutex<Option<String>>,
    /// Project names of desks (`projectName`); a desk without one is "<KEY> service desk".
    pub desk_names: Mutex<HashMap<String, String>>,
}

/// JSM state by fake base URL (kept beside `Jira` so its struct stays as it is).
static JSM: std::sync::LazyLock<Mutex<HashMap<String, std::sync::Arc<Jsm>>>> =
    std::sync::LazyLock::new(Mutex::default);

impl Jira {
    /// This fake's JSM state.
    pub fn jsm(&self) -> std::sync::Arc<Jsm> {
        JSM.lock()
            .unwrap()
            .entry(self.base.clone())
            .or_default()
            .clone()
    }

    /// Adds a service desk with `n_types` request types named `Type <desk>-<i>`; ids are
    /// `<desk id * 1000 + i>`.
    pub fn add_desk(
        &self,
        id: &str,
        project_key: &str,
        n_types: usize,
        visible_to: Option<&[&str]>,
    ) {
        let base: u64 = id.parse::<u64>().unwrap() * 1000;
        let request_types = (1..=n_types as u64)
            .map(|i| {
                (
                    (base + i).to_string(),
                    format!("Type {id}-{i}"),
                    format!("Request type {i} of desk {id}"),
                )
            })
            .collect();
        self.jsm().desks.lock().unwrap().push(Desk {
            id: id.to_owned(),
            project_key: project_key.to_owned(),
            visible_to: visible_to.map(|v| v.iter().map(|s| (*s).to_owned()).collect()),
            request_types,
        });
    }

    /// Names a desk's project (what `GET /rest/servicedeskapi/servicedesk` shows as
    /// `projectName`).
    pub fn name_desk(&self, id: &str, name: &str) {
        self.jsm()
            .desk_names
            .lock()
            .unwrap()
            .insert(id.to_owned(), name.to_owned());
    }

    /// Adds a request as if `creator` had raised it.
    pub fn add_jsm_request(
        &self,
        desk_id: &str,
        key: &str,
        summary: &str,
        creator: &str,
        open: bool,
    ) {
        self.jsm().requests.lock().unwrap().push(JsmRequest {
            issue_key: key.to_owned(),
            desk_id: desk_id.to_owned(),
            request_type_id: String::new(),
            summary: summary.to_owned(),
            description: String::new(),
            creator: creator.to_owned(),
            open,
        });
    }

    /// Requests the servicedeskapi got (method, path and query).
    pub fn jsm_calls(&self) -> Vec<(String, String)> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, p)| p.contains("/rest/servicedeskapi/"))
            .map(|(_, m, p)| (m.clone(), p.clone()))
            .collect()
    }
}

pub(super) fn jsm_error(status: u16, key: &str, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(json!({
        "errorMessage": message,
        "i18nErrorMessage": {"i18nKey": key, "parameters": []},
    }))
}

pub(super) fn visible(desk: &Desk, user: &str) -> bool {
    desk.visible_to
        .as_ref()
        .is_none_or(|v| v.iter().any(|u| u == user))
}

/// The servicedeskapi page of `items` for `start`/`limit` from the query.
pub(super) fn jsm_page(
    fake: &Jira,
    path: &str,
    query: &HashMap<String, String>,
    items: Vec<Value>,
) -> HttpResponse {
    let start: usize = match query.get("start").map(|s| s.parse()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return jsm_error(400, "sd.error.start", "start must be a number"),
    };
    let limit: usize = match query.get("limit").map(|s| s.parse::<usize>()) {
        None => 50,
        Some(Ok(n)) if n > 0 => n.min(50),
        _ => return jsm_error(400, "sd.error.limit", "limit must be a positive number"),
    };
    let total = items.len();
    let values: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    let last = start + values.len() >= total;
    let mut links = json!({
        "base": fake.base,
        "context": "",
        "self": format!("{}{path}?start={start}&limit={limit}", fake.base),
    });
    if !last {
        links["next"] = json!(format!(
            "{}{path}?start={}&limit={limit}",
            fake.base,
            start + limit
        ));
    }
    if start > 0 {
        links["prev"] = json!(format!(
            "{}{path}?start={}&limit={limit}",
            fake.base,
            start.saturating_sub(limit)
        ));
    }
    HttpResponse::Ok().json(json!({
        "size": values.len(),
        "start": start,
        "limit": limit,
        "isLastPage": last,
        "values": values,
        "_links": links,
    }))
}

pub(super) fn request_json(fake: &Jira, r: &JsmRequest) -> Value {
    json!({
        "issueId": r.issue_key.split('-').next_back().unwrap_or("0"),
        "issueKey": r.issue_key,
        "requestTypeId": r.request_type_id,
        "serviceDeskId": r.desk_id,
        "reporter": {"key": r.creator, "name": r.creator},
        "requestFieldValues": [
            {"fieldId": "summary", "label": "What do you need?", "value": r.summary},
            {"fieldId": "description", "label": "Why do you need this?", "value": r.description},
        ],
        "currentStatus": {"status": if r.open { "Waiting for support" } else { "Resolved" }},
        "_links": {"web": format!("{}/servicedesk/customer/portal/{}/{}", fake.base, r.desk_id, r.issue_key)},
    })
}

/// `GET /rest/servicedeskapi/servicedesk`: the desks the bearer token's user may see, paged like
/// JSM (`start`, `limit` capped at 50, `isLastPage`); 401 without a valid token.
pub(super) async fn jsm_service_desks(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let jsm = fake.jsm();
    let names = jsm.desk_names.lock().unwrap().clone();
    let items = jsm
        .desks
        .lock()
        .unwrap()
        .iter()
        .filter(|d| visible(d, &user.key))
        .map(|d| {
            let name = names
                .get(&d.id)
                .cloned()
                .unwrap_or_else(|| format!("{} service desk", d.project_key));
            json!({"id": d.id, "projectId": format!("1{:04}", d.id.parse::<u64>().unwrap_or(0)),
                   "projectName": name, "projectKey": d.project_key,
                   "_links": {"self": format!("{}/rest/servicedeskapi/servicedesk/{}", fake.base, d.id)}})
        })
        .collect();
    jsm_page(&fake, "/rest/servicedeskapi/servicedesk", &query, items)
}

pub(super) async fn jsm_request_types(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let id = path.into_inner();
    let jsm = fake.jsm();
    let desk = jsm
        .desks
        .lock()
        .unwrap()
        .iter()
        .find(|d| d.id == id)
        .cloned();
    let Some(desk) = desk.filter(|d| visible(d, &user.key)) else {
        return jsm_error(
            404,
            "sd.service.desk.error.not.found",
            &format!(
                "The service desk with ID {id} does not exist or you do not have permission to view it."
            ),
        );
    };
    let items = desk
        .request_types
        .iter()
        .map(|(tid, name, description)| {
            json!({"id": tid, "name": name, "description": description, "helpText": "",
                   "serviceDeskId": desk.id, "groupIds": ["1"]})
        })
        .collect();
    jsm_page(
        &fake,
        &format!("/rest/servicedeskapi/servicedesk/{id}/requesttype"),
        &query,
        items,
    )
}

pub(super) async fn jsm_my_requests(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let status = query
        .get("requestStatus")
        .map(String::as_str)
        .unwrap_or("ALL_REQUESTS");
    let ownership = query
        .get("requestOwnership")
        .map(String::as_str)
        .unwrap_or("ALL_REQUESTS");
    if !matches!(status, "OPEN_REQUESTS" | "CLOSED_REQUESTS" | "ALL_REQUESTS")
        || !matches!(
            ownership,
            "OWNED_REQUESTS" | "PARTICIPATED_REQUESTS" | "ALL_REQUESTS"
        )
    {
        return jsm_error(
            400,
            "sd.request.error.filter",
            "Unknown requestStatus or requestOwnership",
        );
    }
    let jsm = fake.jsm();
    let items = jsm
        .requests
        .lock()
        .unwrap()
        .iter()
        // no participants in the fake: only own requests are anyone's
        .filter(|r| ownership != "PARTICIPATED_REQUESTS" && r.creator == user.key)
        .filter(|r| match status {
            "OPEN_REQUESTS" => r.open,
            "CLOSED_REQUESTS" => !r.open,
            _ => true,
        })
        .map(|r| request_json(&fake, r))
        .collect();
    jsm_page(&fake, "/rest/servicedeskapi/request", &query, items)
}

pub(super) async fn jsm_create_request(
    req: HttpRequest,
    body: web::Bytes,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return jsm_error(
            400,
            "sd.request.error.body",
            "The request body is not valid JSON.",
        );
    };
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let (Some(desk_id), Some(type_id)) =
        (text(&body["serviceDeskId"]), text(&body["requestTypeId"]))
    else {
        return jsm_error(
            400,
            "sd.request.error.ids",
            "serviceDeskId and requestTypeId are required.",
        );
    };
    let jsm = fake.jsm();
    let desk = jsm
        .desks
        .lock()
        .unwrap()
        .iter()
        .find(|d| d.id == desk_id)
        .cloned();
    let Some(desk) = desk.filter(|d| visible(d, &user.key)) else {
        return jsm_error(
            404,
            "sd.service.desk.error.not.found",
            &format!(
                "The service desk with ID {desk_id} does not exist or you do not have permission to view it."
            ),
        );
    };
    if !desk.request_types.iter().any(|(id, _, _)| *id == type_id) {
        return jsm_error(
            400,
            "sd.request.type.error.not.found",
            &format!("The request type with ID {type_id} does not exist in this service desk."),
        );
    }
    if let Some(message) = jsm.reject_next_create.lock().unwrap().take() {
        return jsm_error(400, "sd.request.create.error", &message);
    }
    let fields = &body["requestFieldValues"];
    let summary = fields["summary"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_owned();
    if summary.is_empty() {
        return jsm_error(
            400,
            "sd.request.create.field.required",
            "Summary: You must specify a summary of the issue.",
        );
    }
    let created = {
        let mut requests = jsm.requests.lock().unwrap();
        let n = requests.iter().filter(|r| r.desk_id == desk.id).count() + 1;
        let r = JsmRequest {
            issue_key: format!("{}-{n}", desk.project_key),
            desk_id: desk.id.clone(),
            request_type_id: type_id,
            summary,
            description: fields["description"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            creator: user.key.clone(),
            open: true,
        };
        requests.push(r.clone());
        r
    };
    HttpResponse::Created().json(request_json(&fake, &created))
}
