//! The Atlassian query string hash (`qsh`): SHA-256 of the canonical request
//! `METHOD&canonical-URI&canonical-query` (PROTOCOLS.md §4.1).

use std::collections::BTreeMap;

/// RFC 3986 percent-encoding: unreserved characters stay, everything else is `%XX` (upper case),
/// space is `%20` (never `+`), UTF-8 bytes encoded one by one.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The canonical URI: the request path relative to the app's base path, no trailing slash
/// (unless it is only `/`), a leading slash, and `&` as `%26`.
pub fn canonical_uri(path: &str, base_path: &str) -> String {
    let base = base_path.trim_end_matches('/');
    let relative = if !base.is_empty() && (path == base || path.starts_with(&format!("{base}/"))) {
        &path[base.len()..]
    } else {
        path
    };
    let trimmed = relative.trim_matches('/');
    format!("/{}", trimmed.replace('&', "%26"))
}

/// The canonical query: `jwt` dropped, names and values decoded then RFC 3986 encoded, sorted
/// by encoded name, repeated names joined as `name=v1,v2` (values sorted), pairs joined by `&`.
pub fn canonical_query(raw_query: &str) -> String {
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        if name == "jwt" {
            continue;
        }
        params
            .entry(percent_encode(&name))
            .or_default()
            .push(value.into_owned());
    }
    params
        .into_iter()
        .map(|(name, mut values)| {
            values.sort();
            let joined: Vec<String> = values.iter().map(|v| percent_encode(v)).collect();
            format!("{name}={}", joined.join(","))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical request string.
pub fn canonical_request(method: &str, path: &str, raw_query: &str, base_path: &str) -> String {
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        canonical_uri(path, base_path),
        canonical_query(raw_query)
    )
}

/// The `qsh` claim value: lower-case hex SHA-256 of the canonical request.
pub fn qsh(method: &str, path: &str, raw_query: &str, base_path: &str) -> String {
    hex::encode(openssl::sha::sha256(
        canonical_request(method, path, raw_query, base_path).as_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_examples() {
        assert_eq!(
            canonical_request("get", "/", "param=foo", ""),
            "GET&/&param=foo"
        );
        assert_eq!(canonical_request("POST", "/user", "", ""), "POST&/user&");
        assert_eq!(
            canonical_request(
                "GET",
                "/path/to/service",
                "zee_last=param&repeated=parameter%201&first=param&repeated=parameter+2",
                ""
            ),
            "GET&/path/to/service&first=param&repeated=parameter%201,parameter%202&zee_last=param"
        );
    }

    #[test]
    fn known_sha256_vector() {
        assert_eq!(
            hex::encode(openssl::sha::sha256(b"foo")),
            "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
        );
    }

    #[test]
    fn jwt_parameter_is_dropped_and_names_sort_by_encoded_bytes() {
        assert_eq!(canonical_query("jwt=abc&b=2&B=1&a=3"), "B=1&a=3&b=2");
    }

    #[test]
    fn encoding_follows_rfc_3986() {
        assert_eq!(
            canonical_query("q=a b*c~d&e=%C3%A9"),
            "e=%C3%A9&q=a%20b%2Ac~d"
        );
        assert_eq!(canonical_query("empty=&x"), "empty=&x=");
        assert_eq!(
            canonical_query("v=%2C"),
            "v=%2C",
            "a literal comma in a value is encoded"
        );
    }

    #[test]
    fn context_paths_and_trailing_slashes() {
        assert_eq!(canonical_uri("/bridge/api/v1/me", "/bridge"), "/api/v1/me");
        assert_eq!(
            canonical_uri("/bridge/api/v1/me/", "/bridge/"),
            "/api/v1/me"
        );
        assert_eq!(
            canonical_uri("/bridgeway/api", "/bridge"),
            "/bridgeway/api",
            "prefix must end at a segment"
        );
        assert_eq!(canonical_uri("/", ""), "/");
        assert_eq!(canonical_uri("", ""), "/");
        assert_eq!(canonical_uri("/a&b/c", ""), "/a%26b/c");
    }

    #[test]
    fn qsh_is_lower_hex_sha256_of_the_canonical_request() {
        let q = qsh("GET", "/api/v1/me", "", "");
        assert_eq!(q, hex::encode(openssl::sha::sha256(b"GET&/api/v1/me&")));
        assert_eq!(q.len(), 64);
    }
}
