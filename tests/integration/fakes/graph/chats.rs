//! Chats and their messages: creating one (members bound by id or UPN), reading it and its
//! members, paging its messages, posting, installing the Teams app.

use super::*;

pub(super) fn bad_request(message: &str) -> HttpResponse {
    error(400, "BadRequest", message)
}

pub(super) fn parse_json(body: &[u8]) -> Result<Value, Refusal> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| Box::new(bad_request("Invalid request body.")))
}

/// Validates one `members[]` entry and returns (user, role).
pub(super) fn parse_member(fake: &Graph, m: &Value) -> Result<(User, String), Refusal> {
    if m["@odata.type"] != MEMBER_TYPE {
        return Err(Box::new(bad_request(
            "Member @odata.type must be aadUserConversationMember.",
        )));
    }
    let role = match m["roles"].as_array().map(Vec::as_slice) {
        Some([r]) if r == "owner" || r == "guest" => r.as_str().unwrap_or_default().to_owned(),
        _ => {
            return Err(Box::new(bad_request(
                "Member roles must be [\"owner\"] or [\"guest\"].",
            )));
        }
    };
    let bind = m["user@odata.bind"].as_str().unwrap_or_default();
    // Exactly this fake's root: another host means the daemon picked the wrong (national) cloud.
    let prefix = format!("{}/v1.0/users('", fake.base);
    let Some(ident) = bind
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix("')"))
    else {
        return Err(Box::new(bad_request(&format!(
            "Invalid user@odata.bind '{bind}': expected {prefix}<id>')."
        ))));
    };
    let user = fake.entra.find_user(ident).ok_or_else(|| {
        Box::new(error(
            404,
            "NotFound",
            &format!("Request_ResourceNotFound: Resource '{ident}' does not exist."),
        ))
    })?;
    Ok((user, role))
}

pub(super) async fn create_chat(
    req: HttpRequest,
    body: web::Bytes,
    fake: web::Data<Graph>,
) -> HttpResponse {
    let caller = ok_or_return!(fake.caller(&req));
    let body = ok_or_return!(parse_json(&body));
    let chat_type = body["chatType"].as_str().unwrap_or_default();
    if !matches!(chat_type, "group" | "oneOnOne") {
        return bad_request("chatType must be oneOnOne or group.");
    }
    let Some(members) = body["members"].as_array() else {
        return bad_request("members is required.");
    };
    let mut parsed = Vec::new();
    for m in members {
        parsed.push(ok_or_return!(parse_member(&fake, m)));
    }
    let oids: HashSet<&str> = parsed.iter().map(|(u, _)| u.oid.as_str()).collect();
    if oids.len() != parsed.len() || parsed.len() < 2 {
        return bad_request("A chat needs at least two distinct members.");
    }
    if let Some(me) = &caller.oid
        && !oids.contains(me.as_str())
    {
        return bad_request("The caller must be one of the members of the chat.");
    }
    let topic = body["topic"].as_str().map(str::to_owned);
    let id = if chat_type == "oneOnOne" {
        if parsed.len() != 2 {
            return bad_request("A oneOnOne chat has exactly two members.");
        }
        if !body["topic"].is_null() {
            return bad_request("A oneOnOne chat cannot have a topic.");
        }
        one_on_one_id(&parsed[0].0.oid, &parsed[1].0.oid)
    } else {
        group_id()
    };
    let mut chats = fake.chats.lock().unwrap();
    // Only one oneOnOne chat exists per pair: asking again returns it (201 again).
    let chat = chats.entry(id.clone()).or_insert_with(|| Chat {
        id,
        chat_type: chat_type.to_owned(),
        topic,
        created: Utc::now(),
        members: parsed
            .into_iter()
            .map(|(u, role)| Member { oid: u.oid, role })
            .collect(),
        messages: Vec::new(),
        installed_apps: HashSet::new(),
    });
    HttpResponse::Created().json(fake.chat_json(chat, false))
}

/// Looks the chat up and checks membership for delegated callers (app-only passes when
/// `app_allowed`).
pub(super) fn member_chat(
    fake: &Graph,
    req: &HttpRequest,
    caller: &Caller,
    app_allowed: bool,
) -> Result<Chat, Refusal> {
    let id = chat_id(req);
    let chat = fake
        .chats
        .lock()
        .unwrap()
        .get(&id)
        .cloned()
        .ok_or_else(|| Box::new(error(404, "NotFound", &format!("Chat '{id}' not found."))))?;
    let allowed = match &caller.oid {
        Some(oid) => chat.members.iter().any(|m| &m.oid == oid),
        None => app_allowed,
    };
    if allowed {
        Ok(chat)
    } else {
        Err(Box::new(error(
            403,
            "Forbidden",
            "Forbidden: the caller is not a member of this chat.",
        )))
    }
}

pub(super) async fn get_chat(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    fake: web::Data<Graph>,
) -> HttpResponse {
    let caller = ok_or_return!(fake.caller(&req));
    let chat = ok_or_return!(member_chat(&fake, &req, &caller, true));
    let expand = query.get("$expand").is_some_and(|e| e == "members");
    HttpResponse::Ok().json(fake.chat_json(&chat, expand))
}

/// `GET /chats/{id}/members`: 404 for an unknown chat, 403 when the delegated caller is not a
/// member; every member in one page, as Graph answers for chats.
pub(super) async fn list_members(req: HttpRequest, fake: web::Data<Graph>) -> HttpResponse {
    let caller = ok_or_return!(fake.caller(&req));
    let chat = ok_or_return!(member_chat(&fake, &req, &caller, true));
    let members = fake.member_values(&chat);
    HttpResponse::Ok().json(json!({
        "@odata.context": format!(
            "{}/v1.0/$metadata#chats('{}')/members",
            fake.base,
            encode_chat_id(&chat.id)
        ),
        "@odata.count": members.len(),
        "value": members,
    }))
}

/// Whether the request asks for enum members newer than `unknownFutureValue` (one of its
/// `Prefer` headers, or one item of a comma-separated list, is `include-unknown-enum-members`).
fn wants_new_enum_members(req: &HttpRequest) -> bool {
    req.headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| {
            p.trim()
                .eq_ignore_ascii_case("include-unknown-enum-members")
        })
}

/// A stored message as Graph answers it: `chatMessageType` members added after
/// `unknownFutureValue` (`systemEventMessage`) are called `unknownFutureValue` unless asked for.
pub(super) fn as_answered(req: &HttpRequest, mut m: Value) -> Value {
    if m["messageType"] == "systemEventMessage" && !wants_new_enum_members(req) {
        m["messageType"] = json!("unknownFutureValue");
    }
    m
}

pub(super) async fn list_messages(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    fake: web::Data<Graph>,
) -> HttpResponse {
    let caller = ok_or_return!(fake.caller(&req));
    if caller.oid.is_none() {
        // App-only listing is a protected, metered API the daemon is not approved for.
        return error(403, "Forbidden", "Missing role permissions on the request.");
    }
    let chat = ok_or_return!(member_chat(&fake, &req, &caller, false));
    let top = match query.get("$top").map(|t| t.parse::<usize>()) {
        None => 20,
        Some(Ok(n)) if (1..=50).contains(&n) => n,
        Some(_) => return bad_request("Invalid page size requested: $top must be 1 to 50."),
    };
    let skip = match query.get("$skiptoken") {
        None => 0,
        Some(t) => {
            let decoded = URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.strip_prefix("skip:").and_then(|n| n.parse().ok()));
            match decoded {
                Some(n) => n,
                None => return bad_request("Invalid skip token."),
            }
        }
    };
    let mut all = chat.messages.clone();
    all.sort_by(|a, b| {
        b["createdDateTime"]
            .as_str()
            .cmp(&a["createdDateTime"].as_str())
    });
    let page: Vec<Value> = all
        .iter()
        .skip(skip)
        .take(top)
        .map(|m| as_answered(&req, m.clone()))
        .collect();
    let encoded = encode_chat_id(&chat.id);
    let mut body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#chats('{encoded}')/messages", fake.base),
        "@odata.count": page.len(),
        "value": page,
    });
    if skip + top < all.len() {
        let token = URL_SAFE_NO_PAD.encode(format!("skip:{}", skip + top));
        body["@odata.nextLink"] = json!(format!(
            "{}/v1.0/chats/{encoded}/messages?$top={top}&$skiptoken={token}",
            fake.base
        ));
    }
    HttpResponse::Ok().json(body)
}

/// Ids in `<attachment id="X">` tags of an html body.
pub(super) fn attachment_refs(content: &str) -> Vec<String> {
    content
        .split("<attachment id=\"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(id, _)| id.to_owned()))
        .collect()
}

pub(super) async fn post_message(
    req: HttpRequest,
    body: web::Bytes,
    fake: web::Data<Graph>,
) -> HttpResponse {
    let caller = ok_or_return!(fake.caller(&req));
    let Some(oid) = caller.oid.clone() else {
        // Application permission for this is Teamwork.Migrate.All only (import mode).
        return error(
            403,
            "Forbidden",
            "Forbidden: application permissions can only post messages in migration mode.",
        );
    };
    let chat = ok_or_return!(member_chat(&fake, &req, &caller, false));
    let body = ok_or_return!(parse_json(&body));
    let Some(content) = body["body"]["content"].as_str() else {
        return bad_request("body.content is required.");
    };
    let content_type = match &body["body"]["contentType"] {
        Value::Null => "text",
        Value::String(t) if t == "text" || t == "html" => t.as_str(),
        _ => return bad_request("body.contentType must be text or html."),
    };
    let attachments = match &body["attachments"] {
        Value::Null => Vec::new(),
        Value::Array(a) => a.clone(),
        _ => return bad_request("attachments must be an array."),
    };
    let ids: Vec<&str> = attachments
        .iter()
        .map(|a| a["id"].as_str().unwrap_or_default())
        .collect();
    let refs = attachment_refs(content);
    if refs.iter().any(|r| !ids.contains(&r.as_str()))
        || ids.iter().any(|i| !refs.iter().any(|r| r == i))
    {
        return bad_request(
            "Attachment references in the body do not match the attachments collection.",
        );
    }
    if attachments
        .iter()
        .any(|a| !(a["content"].is_string() || a["content"].is_null()))
    {
        return bad_request("attachments[].content must be a string (serialized JSON).");
    }
    let user = fake.entra.find_user(&oid);
    let message = fake.message(
        &chat.id,
        user.as_ref(),
        json!({"contentType": content_type, "content": content}),
        json!(attachments),
        body.get("mentions").cloned().unwrap_or(json!([])),
    );
    fake.push_message(&chat.id, message.clone());
    let mut response = as_answered(&req, message);
    response["@odata.context"] = json!(format!(
        "{}/v1.0/$metadata#chats('{}')/messages/$entity",
        fake.base,
        encode_chat_id(&chat.id)
    ));
    HttpResponse::Created().json(response)
}

pub(super) async fn install_app(
    req: HttpRequest,
    body: web::Bytes,
    fake: web::Data<Graph>,
) -> HttpResponse {
    let caller = ok_or_return!(fake.caller(&req));
    let chat = ok_or_return!(member_chat(&fake, &req, &caller, true));
    let body = ok_or_return!(parse_json(&body));
    let bind = body["teamsApp@odata.bind"].as_str().unwrap_or_default();
    let prefix = format!("{}/v1.0/appCatalogs/teamsApps/", fake.base);
    let Some(catalog_id) = bind.strip_prefix(&prefix).filter(|c| !c.is_empty()) else {
        return bad_request(&format!("teamsApp@odata.bind must be {prefix}<catalogId>."));
    };
    if !fake.catalog_apps.lock().unwrap().contains(catalog_id) {
        return error(
            404,
            "NotFound",
            &format!("App '{catalog_id}' not found in the catalog."),
        );
    }
    let mut chats = fake.chats.lock().unwrap();
    let Some(stored) = chats.get_mut(&chat.id) else {
        return error(404, "NotFound", "Chat not found.");
    };
    if !stored.installed_apps.insert(catalog_id.to_owned()) {
        return error(
            409,
            "Conflict",
            "The app is already installed in this chat.",
        );
    }
    fake.installs
        .lock()
        .unwrap()
        .push((chat.id.clone(), catalog_id.to_owned()));
    HttpResponse::Created().finish()
}
