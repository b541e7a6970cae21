//! Teams message HTML reduced to a safe subset before it reaches Jira: formatting, lists, quotes,
//! code and http(s) links survive; scripts, styles, event handlers, iframes, images (Graph-hosted
//! content needs a token) and every other attribute are removed. Mentions (`<at>`) keep their
//! text. Plain text for posting is escaped, never interpreted.

use std::collections::HashSet;
use std::sync::OnceLock;

fn cleaner() -> &'static ammonia::Builder<'static> {
    static B: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    B.get_or_init(|| {
        let tags: HashSet<&str> = [
            "p",
            "br",
            "b",
            "strong",
            "i",
            "em",
            "u",
            "s",
            "strike",
            "a",
            "ul",
            "ol",
            "li",
            "blockquote",
            "code",
            "pre",
            "h1",
            "h2",
            "h3",
            "table",
            "thead",
            "tbody",
            "tr",
            "td",
            "th",
        ]
        .into_iter()
        .collect();
        let mut b = ammonia::Builder::default();
        b.tags(tags)
            .generic_attributes(HashSet::new())
            .tag_attributes(
                [("a", ["href"].into_iter().collect::<HashSet<_>>())]
                    .into_iter()
                    .collect(),
            )
            .url_schemes(["https", "http", "mailto"].into_iter().collect())
            .link_rel(Some("noopener noreferrer nofollow"))
            .strip_comments(true);
        b
    })
}

/// The safe subset of a message body (`contentType` `html`); `text` bodies are escaped.
pub fn sanitize(content: &str, content_type: &str) -> String {
    if content_type.eq_ignore_ascii_case("html") {
        cleaner().clean(content).to_string()
    } else {
        escape_text(content)
    }
}

/// Plain text as HTML: escaped, line breaks kept.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_handlers_and_foreign_schemes_are_removed() {
        let dirty = r#"<p onclick="x()">Hi <b>there</b><script>alert(1)</script>
            <a href="javascript:alert(1)">bad</a> <a href="https://jira.example/browse/ABC-1" target="_blank">ABC-1</a>
            <img src="https://graph.microsoft.com/x" onerror="y()"><iframe src="https://evil"></iframe>
            <style>p{}</style><at id="0">Alice</at></p>"#;
        let clean = sanitize(dirty, "html");
        for gone in [
            "script",
            "onclick",
            "javascript:",
            "<img",
            "iframe",
            "<style",
            "target=",
            "<at",
        ] {
            assert!(!clean.contains(gone), "{gone} survived in {clean}");
        }
        assert!(clean.contains("<b>there</b>"));
        assert!(clean.contains(r#"href="https://jira.example/browse/ABC-1""#));
        assert!(clean.contains("Alice"), "mention text stays");
    }

    #[test]
    fn text_bodies_are_escaped_not_interpreted() {
        assert_eq!(
            sanitize("<b>1 < 2</b>\nnext", "text"),
            "&lt;b&gt;1 &lt; 2&lt;/b&gt;<br>next"
        );
    }
}
