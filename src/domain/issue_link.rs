//! Which issue a pasted URL names, for link unfurling (PROTOCOLS.md §6.2): only URLs under a
//! registered instance's base URL (same scheme, host, port and context path) count, so the
//! appliance never looks at, let alone fetches, a host someone else chose.

use url::Url;

use super::jql::issue_key;

/// The issue key a URL names when it lies under `base` (an instance's base URL):
/// `<base>/browse/KEY`, `<base>/projects/P/issues/KEY`, or any page under the base with
/// `?selectedIssue=KEY` (boards).
pub fn issue_key_in(url: &str, base: &str) -> Option<String> {
    let u = Url::parse(url.trim()).ok()?;
    let b = Url::parse(base).ok()?;
    if !matches!(u.scheme(), "http" | "https")
        || u.scheme() != b.scheme()
        || !u.host_str()?.eq_ignore_ascii_case(b.host_str()?)
        || u.port_or_known_default() != b.port_or_known_default()
    {
        return None;
    }
    let prefix = b.path().trim_end_matches('/');
    let rest = u.path().strip_prefix(prefix)?;
    // `/jira` must not match `/jiraother`
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let segments: Vec<&str> = rest.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["browse", key] => return issue_key(key),
        ["projects", _, "issues", key] => return issue_key(key),
        _ => {}
    }
    u.query_pairs()
        .find(|(k, _)| k == "selectedIssue")
        .and_then(|(_, v)| issue_key(&v))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://jira.example.com/jira";

    #[test]
    fn issue_urls_under_the_base_name_their_key() {
        for (url, key) in [
            ("https://jira.example.com/jira/browse/ABC-12", "ABC-12"),
            ("https://JIRA.example.com:443/jira/browse/abc-12/", "ABC-12"),
            (
                "https://jira.example.com/jira/browse/ABC-12?focusedCommentId=1",
                "ABC-12",
            ),
            (
                "https://jira.example.com/jira/projects/ABC/issues/ABC-3",
                "ABC-3",
            ),
            (
                "https://jira.example.com/jira/secure/RapidBoard.jspa?rapidView=4&selectedIssue=ABC-9",
                "ABC-9",
            ),
        ] {
            assert_eq!(issue_key_in(url, BASE).as_deref(), Some(key), "{url}");
        }
    }

    #[test]
    fn other_hosts_ports_schemes_and_paths_name_nothing() {
        for url in [
            "https://evil.example/jira/browse/ABC-12",
            "https://jira.example.com.evil.example/jira/browse/ABC-12",
            "http://jira.example.com/jira/browse/ABC-12",
            "https://jira.example.com:8443/jira/browse/ABC-12",
            "https://jira.example.com/browse/ABC-12",
            "https://jira.example.com/jiraother/browse/ABC-12",
            "https://jira.example.com/jira/browse/ABC-12/extra",
            "https://jira.example.com/jira/browse/not-a-key",
            "javascript:alert(1)",
            "not a url",
        ] {
            assert_eq!(issue_key_in(url, BASE), None, "{url}");
        }
        assert_eq!(
            issue_key_in("http://127.0.0.1:8080/browse/X-1", "http://127.0.0.1:8080").as_deref(),
            Some("X-1")
        );
    }
}
