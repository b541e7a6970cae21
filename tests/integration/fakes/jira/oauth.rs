//! The OAuth 2.0 provider of an incoming application link: `authorize` (PKCE S256, exact
//! redirect URI, single-use codes) and `token` (parameters from the form body or the query
//! string; refresh-token rotation that disables the used refresh token).

use super::*;

pub(super) fn redirect(redirect_uri: &str, pairs: &[(&str, &str)]) -> HttpResponse {
    let mut url = url::Url::parse(redirect_uri).unwrap();
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    HttpResponse::Found()
        .insert_header(("Location", url.as_str()))
        .finish()
}

pub(super) async fn authorize(
    query: web::Query<Vec<(String, String)>>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("client_id") != Some(CLIENT_ID) {
        return error_page("Unknown client_id.");
    }
    let Some(redirect_uri) = get("redirect_uri").filter(|r| url::Url::parse(r).is_ok()) else {
        return error_page("Missing or invalid redirect_uri.");
    };
    if let Some(registered) = fake.redirect_uri.lock().unwrap().as_deref()
        && registered != redirect_uri
    {
        // Never redirect to an unregistered URI: show the error in Jira instead.
        return error_page("redirect_uri does not match the application link.");
    }
    let state = get("state").unwrap_or_default();
    let refuse = |error: &str, description: &str| {
        redirect(
            redirect_uri,
            &[
                ("error", error),
                ("error_description", description),
                ("state", state),
            ],
        )
    };
    if get("response_type") != Some("code") {
        return refuse("unsupported_response_type", "response_type must be code");
    }
    let scope = get("scope").unwrap_or_default();
    if scope.is_empty() || !scope.split_whitespace().all(|s| SCOPES.contains(&s)) {
        return refuse(
            "invalid_scope",
            "scope must be READ, WRITE, ADMIN or SYSTEM_ADMIN",
        );
    }
    let code_challenge = get("code_challenge").map(str::to_owned);
    // Plain authorization code (no PKCE) is allowed; with PKCE only S256 is accepted here.
    if code_challenge.is_some() && get("code_challenge_method") != Some("S256") {
        return refuse("invalid_request", "code_challenge_method must be S256");
    }
    let signed_in = fake.signed_in.lock().unwrap().clone();
    let Some(user_key) = signed_in.filter(|k| fake.users.lock().unwrap().contains_key(k)) else {
        return refuse("access_denied", "no user logged in");
    };
    if fake.links.lock().unwrap().consent_refused {
        // the user pressed "Deny" on Jira's consent screen
        return refuse("access_denied", "The resource owner denied the request.");
    }
    let code = random_hex(16);
    fake.codes.lock().unwrap().insert(
        code.clone(),
        Grant {
            user_key,
            redirect_uri: redirect_uri.to_owned(),
            code_challenge,
            scope: scope.to_owned(),
            used: false,
        },
    );
    let mut pairs = vec![("code", code.as_str())];
    if get("state").is_some() {
        pairs.push(("state", state));
    }
    redirect(redirect_uri, &pairs)
}

pub(super) async fn token(
    req: HttpRequest,
    body: web::Bytes,
    fake: web::Data<Jira>,
) -> HttpResponse {
    // Atlassian's examples put every parameter in the query string of the POST; regular OAuth
    // clients send a form body. Accept both; the body wins on conflicts.
    let mut params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    params.extend(
        serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string()).unwrap_or_default(),
    );
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if get("client_id") != CLIENT_ID || get("client_secret") != CLIENT_SECRET {
        return oauth_error(401, "invalid_client", "Client authentication failed");
    }
    let registered = fake.redirect_uri.lock().unwrap().clone();
    match get("grant_type").as_str() {
        "authorization_code" => {
            let (user_key, scope) = {
                let mut codes = fake.codes.lock().unwrap();
                let Some(grant) = codes.get_mut(&get("code")) else {
                    return oauth_error(400, "invalid_grant", "Unknown authorization code");
                };
                if grant.used {
                    return oauth_error(400, "invalid_grant", "Authorization code already used");
                }
                grant.used = true;
                if grant.redirect_uri != get("redirect_uri") {
                    return oauth_error(400, "invalid_grant", "redirect_uri mismatch");
                }
                if let Some(challenge) = &grant.code_challenge
                    && pkce_challenge(&get("code_verifier")) != *challenge
                {
                    return oauth_error(400, "invalid_grant", "PKCE verification failed");
                }
                (grant.user_key.clone(), grant.scope.clone())
            };
            fake.issue_tokens(&user_key, &scope)
        }
        "refresh_token" => {
            fake.refresh_calls.fetch_add(1, Ordering::SeqCst);
            if let Some(r) = registered
                && !get("redirect_uri").is_empty()
                && get("redirect_uri") != r
            {
                return oauth_error(400, "invalid_grant", "redirect_uri mismatch");
            }
            let (user_key, scope) = {
                let mut rts = fake.refresh_tokens.lock().unwrap();
                match rts.get_mut(&get("refresh_token")) {
                    Some(g) if !g.disabled => {
                        // Rotation: the presented RT is spent whatever happens next.
                        g.disabled = true;
                        (g.user_key.clone(), g.scope.clone())
                    }
                    _ => {
                        return oauth_error(400, "invalid_grant", "Refresh token is invalid");
                    }
                }
            };
            fake.issue_tokens(&user_key, &scope)
        }
        _ => oauth_error(400, "unsupported_grant_type", "Unsupported grant type"),
    }
}
