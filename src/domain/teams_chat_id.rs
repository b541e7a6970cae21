//! A Teams chat id as Graph returns it (`19:…@thread.v2`, `19:…@unq.gbl.spaces`, …). Opaque:
//! only its shape is checked (the database CHECK agrees).

/// Host parts a chat id may end with.
const SUFFIXES: &[&str] = &[
    "thread.v2",
    "thread.tacv2",
    "thread.skype",
    "unq.gbl.spaces",
];

/// A validated chat id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamsChatId(String);

impl TeamsChatId {
    /// Accepts `19:<id>@<known suffix>` up to 512 characters.
    pub fn parse(s: &str) -> Option<TeamsChatId> {
        if s.len() > 512 {
            return None;
        }
        let rest = s.strip_prefix("19:")?;
        let (id, suffix) = rest.rsplit_once('@')?;
        let ok = !id.is_empty()
            && SUFFIXES.contains(&suffix)
            && !id
                .chars()
                .any(|c| c.is_whitespace() || c == '/' || c.is_control());
        ok.then(|| TeamsChatId(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ids_parse_and_others_do_not() {
        assert!(TeamsChatId::parse("19:91571ee8ad174aefaccd2e4605d87a24@thread.v2").is_some());
        assert!(TeamsChatId::parse("19:a050c65057f689@thread.skype").is_some());
        assert!(TeamsChatId::parse("19:aaa_bbb@unq.gbl.spaces").is_some());
        for bad in [
            "",
            "19:@thread.v2",
            "20:x@thread.v2",
            "19:x@evil.example",
            "19:a b@thread.v2",
            "19:a/b@thread.v2",
            "a:1qhN",
        ] {
            assert!(TeamsChatId::parse(bad).is_none(), "{bad}");
        }
    }
}
