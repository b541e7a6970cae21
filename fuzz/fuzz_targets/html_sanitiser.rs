//! Fuzz target `html_sanitiser`: `domain::chat_html::sanitize`, which turns Teams message HTML
//! into what is posted to Jira.
//!
//! Input: the first byte picks the content type (odd: `html`, even: `text`), the rest is the
//! body. Checked besides "never panics": the output is well-formed serializer output made only
//! of the allowed tags, with no attribute but `href` and `rel` on `a`; no `href` is a
//! `javascript:`, `vbscript:` or `data:` URL; text bodies only gain `<br>` tags; and sanitising
//! the output again (as Jira's or a browser's parser reads it) keeps all of that and the text.
//!
//! Sanitising twice is NOT byte-for-byte the same as once, and that is not a bug of ours: the
//! HTML parser builds trees its serialization cannot reproduce. The fuzzer found both kinds:
//! the first newline after `<pre>` is dropped on every parse (see
//! [`without_newlines_after_pre`]), and an `<a>` that table foster-parenting nested inside
//! another `<a>` is closed earlier when the output is parsed again. Neither can add a tag, an
//! attribute or a URL, which is what `check_markup` holds each pass to.
#![no_main]

use jira_teams_bridge::domain::chat_html::sanitize;
use libfuzzer_sys::fuzz_target;

/// The tags `chat_html` allows.
const TAGS: &str = "p br b strong i em u s strike a ul ol li blockquote code pre h1 h2 h3 table \
                    thead tbody tr td th";

/// Decodes the entities the serializer writes into attribute values.
fn unescape(value: &str) -> String {
    value
        .replace("&quot;", "\"")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

fn check_href(value: &str) {
    // as a browser parses a URL (WHATWG): leading and trailing C0 controls and spaces are
    // trimmed, tabs and newlines removed anywhere; any other control character inside the
    // scheme makes the URL relative (the fuzzer found `Javascript\x1d:...`, which is harmless)
    let unescaped = unescape(value);
    let squeezed: String = unescaped
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect::<String>()
        .to_ascii_lowercase();
    for scheme in ["javascript:", "vbscript:", "data:"] {
        assert!(!squeezed.starts_with(scheme), "href {value:?} survived");
    }
}

/// Walks the output as the HTML serializer writes it: text never holds a raw `<`, tags are
/// `<name attr="value" ...>` or `</name>` with double-quoted values holding no `"`.
fn check_markup(html: &str) {
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let closing = rest.starts_with('/');
        if closing {
            rest = &rest[1..];
        }
        let name_end = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        assert!(
            TAGS.split_whitespace().any(|t| t == name),
            "tag <{name}> in {html:?}"
        );
        rest = &rest[name_end..];
        loop {
            if let Some(after) = rest.strip_prefix('>') {
                rest = after;
                break;
            }
            assert!(!closing, "attributes on </{name}> in {html:?}");
            let after = rest
                .strip_prefix(' ')
                .unwrap_or_else(|| panic!("junk in <{name}>"));
            let (attr, value_on) = after
                .split_once("=\"")
                .unwrap_or_else(|| panic!("attribute without a value in {html:?}"));
            assert!(
                name == "a" && matches!(attr, "href" | "rel"),
                "attribute {attr} on <{name}> in {html:?}"
            );
            let (value, after) = value_on
                .split_once('"')
                .unwrap_or_else(|| panic!("unterminated attribute in {html:?}"));
            if attr == "href" {
                check_href(value);
            }
            rest = after;
        }
    }
}

/// The text of serialized markup: everything outside tags (attribute values are double-quoted,
/// with `"` escaped, but may hold a `>`).
fn text_of(html: &str) -> String {
    let (mut out, mut in_tag, mut in_value) = (String::new(), false, false);
    for c in html.chars() {
        match c {
            '<' if !in_tag => in_tag = true,
            '"' if in_tag => in_value = !in_value,
            '>' if in_tag && !in_value => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// `s` without the newlines right after each `<pre>`. The HTML parser drops the first newline
/// after `<pre>`, and the serializer does not write it back (the spec's serializer neither), so
/// each pass drops one leading newline of a `<pre>` block. Browsers render both the same, minus
/// that blank first line: not a sanitising bug, so the idempotence check ignores it.
fn without_newlines_after_pre(s: &str) -> String {
    let mut out = s.to_owned();
    while out.contains("<pre>\n") {
        out = out.replace("<pre>\n", "<pre>");
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let Ok(body) = std::str::from_utf8(body) else {
        return;
    };
    let content_type = if kind % 2 == 1 { "html" } else { "text" };
    let clean = sanitize(body, content_type);
    if content_type == "html" {
        check_markup(&clean);
        let twice = sanitize(&clean, "html");
        check_markup(&twice);
        assert_eq!(
            text_of(&without_newlines_after_pre(&twice)),
            text_of(&without_newlines_after_pre(&clean)),
            "sanitising twice changed the text"
        );
    } else {
        assert_eq!(clean.replace("<br>", "").find('<'), None, "{clean:?}");
    }
});
