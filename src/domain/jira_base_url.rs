//! The base URL of a Jira Data Center instance, normalised so one instance has one spelling:
//! lower-case scheme and host, no default port, no trailing slash, context path kept as typed.

use std::fmt;

/// A normalised Jira base URL such as `https://servicedesk.example.com/jira`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JiraBaseUrl(String);

/// Why a Jira base URL was refused; each has a message fit for the form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JiraBaseUrlError {
    #[error("Enter the Jira base URL.")]
    Empty,
    #[error("This is not a valid URL; use the form https://jira.example.com.")]
    Unparsable,
    #[error("Only http and https URLs are allowed.")]
    Scheme,
    #[error("The URL must name a host.")]
    NoHost,
    #[error("Remove the user name and password from the URL.")]
    Credentials,
    #[error("Remove the #fragment from the URL.")]
    Fragment,
    #[error("Remove the ?query from the URL; enter the base URL only.")]
    Query,
    #[error("The URL is too long (at most 2048 characters).")]
    TooLong,
    #[error("The host name may contain only letters, digits, dots and hyphens.")]
    HostCharacters,
}

impl JiraBaseUrl {
    /// Validates and normalises what an admin typed.
    pub fn parse(input: &str) -> Result<JiraBaseUrl, JiraBaseUrlError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(JiraBaseUrlError::Empty);
        }
        if input.len() > 2048 {
            return Err(JiraBaseUrlError::TooLong);
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(JiraBaseUrlError::Unparsable);
        }
        let lower = input.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return if lower.contains("://")
                || lower.starts_with("javascript:")
                || lower.starts_with("data:")
            {
                Err(JiraBaseUrlError::Scheme)
            } else {
                Err(JiraBaseUrlError::Unparsable)
            };
        }
        // WHATWG parsing would read `https:///host` as `https://host`; refuse the empty authority
        if lower
            .split_once("://")
            .is_some_and(|(_, rest)| rest.is_empty() || rest.starts_with('/'))
        {
            return Err(JiraBaseUrlError::NoHost);
        }
        let url = url::Url::parse(input).map_err(|e| match e {
            url::ParseError::EmptyHost => JiraBaseUrlError::NoHost,
            _ => JiraBaseUrlError::Unparsable,
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(JiraBaseUrlError::Scheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(JiraBaseUrlError::Credentials);
        }
        if url.fragment().is_some() {
            return Err(JiraBaseUrlError::Fragment);
        }
        if url.query().is_some() {
            return Err(JiraBaseUrlError::Query);
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => {
                if !d
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                {
                    return Err(JiraBaseUrlError::HostCharacters);
                }
                d.trim_end_matches('.').to_ascii_lowercase()
            }
            Some(url::Host::Domain(_)) | None => return Err(JiraBaseUrlError::NoHost),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
        };
        if host.is_empty() {
            return Err(JiraBaseUrlError::NoHost);
        }
        let mut out = format!("{}://{}", url.scheme(), host);
        if let Some(port) = url.port() {
            out.push_str(&format!(":{port}"));
        }
        let path = url.path().trim_end_matches('/');
        // collapse `//` runs so `https://h//jira/` and `https://h/jira` are one instance
        let mut collapsed = String::with_capacity(path.len());
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            collapsed.push('/');
            collapsed.push_str(seg);
        }
        out.push_str(&collapsed);
        if out.len() > 2048 {
            return Err(JiraBaseUrlError::TooLong);
        }
        Ok(JiraBaseUrl(out))
    }

    /// The normalised URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The context path (`/jira`), or empty.
    pub fn context_path(&self) -> &str {
        let after_scheme = self.0.split_once("://").map(|(_, r)| r).unwrap_or("");
        after_scheme
            .find('/')
            .map(|i| &after_scheme[i..])
            .unwrap_or("")
    }
}

impl fmt::Display for JiraBaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        JiraBaseUrl::parse(s).unwrap().as_str().to_owned()
    }

    #[test]
    fn normalises_case_slashes_and_default_ports() {
        assert_eq!(ok("HTTPS://Jira.Example.COM/"), "https://jira.example.com");
        assert_eq!(
            ok("https://servicedesk.example.com/jira/"),
            "https://servicedesk.example.com/jira"
        );
        assert_eq!(
            ok("https://jira.example.com:443"),
            "https://jira.example.com"
        );
        assert_eq!(
            ok("http://jira.example.com:8080/"),
            "http://jira.example.com:8080"
        );
        assert_eq!(ok("https://h.example//Jira//"), "https://h.example/Jira");
        assert_eq!(
            ok("  https://jira.example.com.  "),
            "https://jira.example.com"
        );
    }

    #[test]
    fn keeps_context_path() {
        let u = JiraBaseUrl::parse("https://servicedesk.example.com/jira").unwrap();
        assert_eq!(u.context_path(), "/jira");
        assert_eq!(
            JiraBaseUrl::parse("https://a.example")
                .unwrap()
                .context_path(),
            ""
        );
    }

    #[test]
    fn refuses_each_bad_class() {
        use JiraBaseUrlError::*;
        let cases = [
            ("", Empty),
            ("ftp://jira.example.com", Scheme),
            ("javascript:alert(1)", Scheme),
            ("jira.example.com", Unparsable),
            ("https://user:pw@jira.example.com", Credentials),
            ("https://jira.example.com/#x", Fragment),
            ("https://jira.example.com/?a=b", Query),
            ("https:///nohost", NoHost),
            ("https://jira example.com", Unparsable),
            ("https://jira_host.corp", HostCharacters),
            ("https://a!b.example", HostCharacters),
        ];
        for (input, want) in cases {
            assert_eq!(JiraBaseUrl::parse(input), Err(want), "{input}");
        }
    }
}
