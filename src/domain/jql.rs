//! JQL built from what a user typed: a string literal is always quoted and escaped, so typed
//! text can never close the literal and add clauses; free text for `~` is reduced to words, so
//! Lucene's own operators (`OR`, `*`, `(`, `"`…) cannot change the search either.

/// Longest free text searched (characters).
const MAX_TEXT_CHARS: usize = 200;

/// `s` as a JQL string literal: double quotes, with `\` and `"` escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An issue key (`ABC-12`, any case) in canonical upper case; `None` for anything else.
pub fn issue_key(s: &str) -> Option<String> {
    let s = s.trim();
    let (project, number) = s.split_once('-')?;
    let mut chars = project.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    let number_ok = !number.is_empty()
        && number.len() <= 18
        && number.bytes().all(|b| b.is_ascii_digit())
        && !number.starts_with('0');
    (first_ok && rest_ok && project.len() <= 255 && number_ok).then(|| s.to_ascii_uppercase())
}

/// Free text reduced to lower-case words (letters, digits and `.`/`'`/`@` inside them).
pub fn words(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .take(MAX_TEXT_CHARS)
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '\'' | '@') {
                c
            } else {
                ' '
            }
        })
        .collect();
    cleaned
        .split_whitespace()
        .map(|w| w.trim_matches(|c| matches!(c, '.' | '\'' | '@')))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The JQL for what a user typed after `find`: a key matches that key, anything else is a
/// text search; `None` when nothing searchable is left.
pub fn find(input: &str) -> Option<String> {
    if let Some(key) = issue_key(input) {
        return Some(format!("key = {}", quote(&key)));
    }
    let w = words(input);
    (!w.is_empty()).then(|| format!("text ~ {}", quote(&w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_backslashes_stay_inside_the_literal() {
        assert_eq!(quote(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(quote("x\\"), r#""x\\""#);
        assert_eq!(quote("line\nbreak"), r#""line break""#);
    }

    #[test]
    fn keys_are_recognised_and_upper_cased() {
        assert_eq!(issue_key("abc-12").as_deref(), Some("ABC-12"));
        assert_eq!(issue_key(" A_1-7 ").as_deref(), Some("A_1-7"));
        for not in [
            "ABC",
            "ABC-",
            "1BC-2",
            "ABC-01",
            "ABC-1 OR x",
            "AB C-1",
            "ABC-1x",
        ] {
            assert_eq!(issue_key(not), None, "{not}");
        }
    }

    #[test]
    fn typed_text_cannot_add_clauses_or_lucene_operators() {
        assert_eq!(find("ABC-7").unwrap(), r#"key = "ABC-7""#);
        assert_eq!(
            find(r#"login" OR project = SECRET OR text ~ "x"#).unwrap(),
            r#"text ~ "login or project secret or text x""#
        );
        assert_eq!(
            find(r#"C:\temp "quoted" fail*"#).unwrap(),
            r#"text ~ "c temp quoted fail""#
        );
        assert_eq!(find("  \"\\ ()"), None);
    }
}
