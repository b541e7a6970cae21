//! JQL search as the calling user (PROTOCOLS.md §7.4): the clauses the fake understands.

use super::*;

/// A parsed JQL query: the clauses the fake understands, joined by AND.
#[derive(Debug)]
enum Jql {
    And(Vec<Jql>),
    Eq(String, String),
    Contains(String, String),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    Op(String),
    Word(String),
    Str(String),
}

fn jql_tokens(jql: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = jql.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            '"' | '\'' => {
                let quote = c;
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err("unterminated string literal".into()),
                        Some('\\') => match chars.next() {
                            Some(e) => s.push(e),
                            None => return Err("unterminated escape".into()),
                        },
                        Some(c) if c == quote => break,
                        Some(c) => s.push(c),
                    }
                }
                out.push(Tok::Str(s));
            }
            '=' | '~' | '!' | '<' | '>' => {
                let mut op = String::new();
                while let Some(&c) = chars.peek() {
                    if matches!(c, '=' | '~' | '!' | '<' | '>') {
                        op.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Tok::Op(op));
            }
            c if c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@') => {
                let mut w = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@') {
                        w.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Tok::Word(w));
            }
            c => return Err(format!("the character '{c}' is a reserved JQL character")),
        }
    }
    Ok(out)
}

fn jql_expr(toks: &[Tok], pos: &mut usize) -> Result<Jql, String> {
    let mut terms = vec![jql_term(toks, pos)?];
    while let Some(Tok::Word(w)) = toks.get(*pos) {
        if !w.eq_ignore_ascii_case("AND") {
            return Err(format!("Expecting 'AND' but got '{w}'."));
        }
        *pos += 1;
        terms.push(jql_term(toks, pos)?);
    }
    Ok(Jql::And(terms))
}

fn jql_term(toks: &[Tok], pos: &mut usize) -> Result<Jql, String> {
    match toks.get(*pos) {
        Some(Tok::Open) => {
            *pos += 1;
            let e = jql_expr(toks, pos)?;
            if toks.get(*pos) != Some(&Tok::Close) {
                return Err("Expecting ')'.".into());
            }
            *pos += 1;
            Ok(e)
        }
        Some(Tok::Word(field)) => {
            let field = field.to_ascii_lowercase();
            let op = match toks.get(*pos + 1) {
                Some(Tok::Op(op)) => op.clone(),
                _ => return Err(format!("Expecting an operator after '{field}'.")),
            };
            let value = match toks.get(*pos + 2) {
                Some(Tok::Word(v)) | Some(Tok::Str(v)) => v.clone(),
                _ => return Err(format!("Expecting a value after '{field} {op}'.")),
            };
            *pos += 3;
            match (field.as_str(), op.as_str()) {
                ("project" | "key" | "issue" | "issuekey", "=") => Ok(Jql::Eq(field, value)),
                ("text" | "summary", "~") => Ok(Jql::Contains(field, value)),
                _ => Err(format!(
                    "The operator '{op}' is not supported by the '{field}' field (in this fake)."
                )),
            }
        }
        other => Err(format!("Expecting a field name but got {other:?}.")),
    }
}

fn words_of(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

impl Jira {
    /// Whether the clause holds for the issue; with `validate`, a clause naming an issue or
    /// project the caller cannot see is an error, as on DC.
    fn jql_matches(
        &self,
        q: &Jql,
        issue: &Issue,
        user: &str,
        validate: bool,
    ) -> Result<bool, String> {
        match q {
            Jql::And(all) => {
                let mut ok = true;
                for c in all {
                    ok &= self.jql_matches(c, issue, user, validate)?;
                }
                Ok(ok)
            }
            Jql::Eq(field, value) => {
                if field == "project" {
                    if validate && self.visible_project(value, user).is_none() {
                        return Err(format!(
                            "The value '{value}' does not exist for the field 'project'."
                        ));
                    }
                    let prefix = issue.key.split('-').next().unwrap_or_default();
                    let by_id = self
                        .work
                        .projects
                        .lock()
                        .unwrap()
                        .iter()
                        .any(|p| p.id.to_string() == *value && p.key == prefix);
                    return Ok(prefix.eq_ignore_ascii_case(value) || by_id);
                }
                let named = |i: &Issue| {
                    i.key.eq_ignore_ascii_case(value)
                        || (field != "key" && i.id.to_string() == *value)
                };
                if validate {
                    let visible = self
                        .issues
                        .lock()
                        .unwrap()
                        .values()
                        .any(|i| named(i) && !i.hidden_from.iter().any(|h| h == user));
                    if !visible {
                        return Err(format!(
                            "An issue with key '{value}' does not exist for field '{field}'."
                        ));
                    }
                }
                Ok(named(issue))
            }
            Jql::Contains(field, value) => {
                let mut haystack = words_of(&issue.summary);
                if field == "text"
                    && let Some(d) = self.work.descriptions.lock().unwrap().get(&issue.key)
                {
                    haystack.extend(words_of(d));
                }
                let wanted = words_of(value);
                Ok(!wanted.is_empty() && wanted.iter().all(|w| haystack.contains(w)))
            }
        }
    }
}

pub(super) async fn search(
    req: HttpRequest,
    body: web::Bytes,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return rest_error(400, "The request body is not JSON.");
    };
    fake.work.searches.lock().unwrap().push(body.clone());
    let jql = body["jql"].as_str().unwrap_or_default();
    let validate = body["validateQuery"].as_bool().unwrap_or(true);
    let start = body["startAt"].as_u64().unwrap_or(0) as usize;
    let max = body["maxResults"].as_u64().unwrap_or(50).min(1000) as usize;
    let wants = |f: &str| {
        body["fields"]
            .as_array()
            .is_none_or(|a| a.iter().any(|x| x == f || x == "*all" || x == "*navigable"))
    };
    let parsed = jql_tokens(jql).and_then(|toks| {
        let mut pos = 0;
        let q = jql_expr(&toks, &mut pos)?;
        match toks.get(pos) {
            None => Ok(q),
            Some(t) => Err(format!(
                "Expecting either 'AND' or the end of the query but got {t:?}."
            )),
        }
    });
    let q = match parsed {
        Ok(q) => q,
        Err(e) => return rest_error(400, &format!("Error in the JQL Query: {e}")),
    };
    let mut issues: Vec<Issue> = fake
        .issues
        .lock()
        .unwrap()
        .values()
        .filter(|i| !i.hidden_from.contains(&user.key))
        .cloned()
        .collect();
    issues.sort_by_key(|i| std::cmp::Reverse(i.id));
    let mut hits = Vec::new();
    for i in issues {
        match fake.jql_matches(&q, &i, &user.key, validate) {
            Ok(true) => hits.push(i),
            Ok(false) => {}
            Err(e) => {
                return HttpResponse::BadRequest()
                    .json(json!({"errorMessages": [e], "errors": {}}));
            }
        }
    }
    // validation also applies when nothing visible is left to test against
    if hits.is_empty() && validate {
        let probe = Issue {
            id: 0,
            key: String::new(),
            summary: String::new(),
            hidden_from: Vec::new(),
        };
        if let Err(e) = fake.jql_matches(&q, &probe, &user.key, true) {
            return HttpResponse::BadRequest().json(json!({"errorMessages": [e], "errors": {}}));
        }
    }
    let total = hits.len();
    let page: Vec<Value> = hits
        .iter()
        .skip(start)
        .take(max)
        .map(|i| {
            let mut fields = serde_json::Map::new();
            if wants("summary") {
                fields.insert("summary".into(), json!(i.summary));
            }
            if wants("status") {
                fields.insert("status".into(), json!({"name": "Open", "id": "1"}));
            }
            if wants("issuetype") {
                let t = fake
                    .work
                    .issue_types
                    .lock()
                    .unwrap()
                    .get(&i.key)
                    .cloned()
                    .unwrap_or_else(|| "Task".into());
                fields.insert("issuetype".into(), json!({"name": t}));
            }
            json!({
                "id": i.id.to_string(), "key": i.key,
                "self": format!("{}/rest/api/2/issue/{}", fake.base, i.id),
                "fields": fields,
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({
        "expand": "schema,names", "startAt": start, "maxResults": max, "total": total,
        "issues": page, "warningMessages": [],
    }))
}
