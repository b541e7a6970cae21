//! A Teams message (HTML) as Jira wiki markup (API v2 descriptions), or as plain text. The HTML
//! is first reduced to the safe subset of [`super::chat_html`]; its tags then become wiki
//! markup and its text is escaped, so nothing a message says is read as a Jira macro, link or
//! image, and no raw HTML reaches Jira.

use super::chat_html;

enum Token<'a> {
    Open(String, Option<String>),
    Close(String),
    Text(&'a str),
}

fn attr_href(tag: &str) -> Option<String> {
    let start = tag.find("href=\"")? + "href=\"".len();
    let end = tag[start..].find('"')? + start;
    Some(decode(&tag[start..end]))
}

fn tokens(html: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut rest = html;
    while !rest.is_empty() {
        match rest.find('<') {
            Some(0) => {
                let Some(end) = rest.find('>') else {
                    out.push(Token::Text(rest));
                    break;
                };
                let inner = &rest[1..end];
                let (closing, body) = match inner.strip_prefix('/') {
                    Some(b) => (true, b),
                    None => (false, inner),
                };
                let name: String = body
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
                    .to_ascii_lowercase();
                out.push(if closing {
                    Token::Close(name)
                } else {
                    Token::Open(name, attr_href(body))
                });
                rest = &rest[end + 1..];
            }
            Some(i) => {
                out.push(Token::Text(&rest[..i]));
                rest = &rest[i..];
            }
            None => {
                out.push(Token::Text(rest));
                break;
            }
        }
    }
    out
}

/// HTML entities back to characters (what the sanitiser's serialiser writes).
fn decode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Plain text with every wiki-markup character escaped.
fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '{' | '}' | '[' | ']' | '|' | '*' | '_' | '+' | '^' | '~' | '!' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
}

fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = 0;
    for line in s.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}

/// A Teams message body (`contentType` `html` or `text`) as Jira wiki markup.
pub fn from_message(content: &str, content_type: &str) -> String {
    let safe = chat_html::sanitize(content, content_type);
    let mut out = String::new();
    let mut lists: Vec<char> = Vec::new();
    let mut links: Vec<(usize, Option<String>)> = Vec::new();
    let mut pre = 0usize;
    let mut header_row = false;
    for t in tokens(&safe) {
        match t {
            Token::Text(text) => {
                let text = decode(text);
                if pre > 0 {
                    out.push_str(&text.replace("{noformat}", "{ noformat}"));
                } else {
                    escape(&text.replace(['\n', '\r'], " "), &mut out);
                }
            }
            Token::Open(name, href) => match name.as_str() {
                "p" | "div" => out.push_str("\n\n"),
                "br" => out.push('\n'),
                "b" | "strong" => out.push('*'),
                "i" | "em" => out.push('_'),
                "u" => out.push('+'),
                "s" | "strike" => out.push('-'),
                "code" if pre == 0 => out.push_str("{{"),
                "pre" => {
                    pre += 1;
                    out.push_str("\n{noformat}\n");
                }
                "blockquote" => out.push_str("\n{quote}\n"),
                "ul" => lists.push('*'),
                "ol" => lists.push('#'),
                "li" => {
                    out.push('\n');
                    let marks: String = if lists.is_empty() {
                        "*".into()
                    } else {
                        lists.iter().collect()
                    };
                    out.push_str(&marks);
                    out.push(' ');
                }
                "h1" | "h2" | "h3" => {
                    out.push_str("\n\n");
                    out.push_str(&name);
                    out.push_str(". ");
                }
                "tr" => {
                    out.push('\n');
                    header_row = false;
                }
                "th" => {
                    header_row = true;
                    out.push_str("||");
                }
                "td" => out.push('|'),
                "a" => links.push((out.len(), href)),
                _ => {}
            },
            Token::Close(name) => match name.as_str() {
                "p" | "div" => out.push_str("\n\n"),
                "b" | "strong" => out.push('*'),
                "i" | "em" => out.push('_'),
                "u" => out.push('+'),
                "s" | "strike" => out.push('-'),
                "code" if pre == 0 => out.push_str("}}"),
                "pre" => {
                    pre = pre.saturating_sub(1);
                    out.push_str("\n{noformat}\n");
                }
                "blockquote" => out.push_str("\n{quote}\n"),
                "ul" | "ol" => {
                    lists.pop();
                    out.push('\n');
                }
                "h1" | "h2" | "h3" => out.push('\n'),
                "tr" => out.push_str(if header_row { "||" } else { "|" }),
                "a" => {
                    if let Some((start, href)) = links.pop() {
                        let text = out.split_off(start);
                        match href.filter(|h| !h.contains(['|', ']', '[', ' '])) {
                            Some(h) if text.trim().is_empty() => {
                                out.push('[');
                                out.push_str(&h);
                                out.push(']');
                            }
                            Some(h) => {
                                out.push('[');
                                out.push_str(text.trim());
                                out.push('|');
                                out.push_str(&h);
                                out.push(']');
                            }
                            None => out.push_str(&text),
                        }
                    }
                }
                _ => {}
            },
        }
    }
    tidy(&out)
}

/// A Teams message body as plain text: tags dropped, line breaks kept, entities decoded.
pub fn plain_text(content: &str, content_type: &str) -> String {
    let safe = chat_html::sanitize(content, content_type);
    let mut out = String::new();
    for t in tokens(&safe) {
        match t {
            Token::Text(text) => out.push_str(&decode(text).replace(['\n', '\r'], " ")),
            Token::Open(name, _) | Token::Close(name)
                if matches!(
                    name.as_str(),
                    "p" | "div" | "br" | "li" | "tr" | "h1" | "h2" | "h3" | "pre" | "blockquote"
                ) =>
            {
                out.push('\n')
            }
            _ => {}
        }
    }
    tidy(&out)
}

/// The first non-empty line of a message as plain text, at most `max_chars` characters (an
/// issue summary).
pub fn first_line(content: &str, content_type: &str, max_chars: usize) -> String {
    let text = plain_text(content, content_type);
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let collapsed = line.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teams_html_becomes_wiki_markup_without_html_or_macros() {
        let html = r#"<p>Printer <b>on fire</b> &amp; <i>smoking</i><script>alert(1)</script></p>
            <ul><li>one</li><li>two <a href="https://jira.example.com/browse/ABC-1">ABC-1</a></li></ul>
            <p>{html}&lt;img src=x&gt;{html} [evil|javascript:x] !https://x/y.png!</p>
            <pre>code {noformat} here</pre><img src="https://graph.microsoft.com/x" onerror="y()">"#;
        let wiki = from_message(html, "html");
        for tag in [
            "<p", "<b", "<i>", "<ul", "<li", "<a ", "<script", "<pre", "onerror", "alert",
        ] {
            assert!(!wiki.contains(tag), "{tag} in {wiki}");
        }
        // text that merely looks like HTML stays text (Jira's renderer escapes it)
        assert!(wiki.contains(r"\{html\}<img src=x>\{html\}"), "{wiki}");
        assert!(wiki.starts_with("Printer *on fire* & _smoking_"), "{wiki}");
        assert!(
            wiki.contains("\n\n* one\n* two [ABC-1|https://jira.example.com/browse/ABC-1]"),
            "{wiki}"
        );
        assert!(wiki.contains(r"\{html\}"), "{wiki}");
        assert!(
            wiki.contains(r"\[evil\|javascript:x\] \!https://x/y.png\!"),
            "{wiki}"
        );
        assert!(
            wiki.contains("{noformat}\ncode { noformat} here\n{noformat}"),
            "{wiki}"
        );
    }

    #[test]
    fn plain_text_bodies_are_escaped_and_the_first_line_makes_a_summary() {
        assert_eq!(
            from_message("a *b* <c>\nnext", "text"),
            "a \\*b\\* <c>\nnext"
        );
        let html = "<p></p><p>  Login   <b>fails</b> for &quot;bob&quot;</p><p>details</p>";
        assert_eq!(first_line(html, "html", 255), "Login fails for \"bob\"");
        assert_eq!(first_line(html, "html", 5), "Login");
        assert_eq!(first_line("", "html", 255), "");
    }
}
