//! What the appliance accepts as a Jira user key (the JWT `sub`, `jiraUser` members): it is
//! stored and looked up in PostgreSQL, whose text cannot hold NUL, so control characters are
//! refused up front instead of failing in the database as a server error.

/// Longest key accepted (Jira's own keys are far shorter).
pub const MAX_LEN: usize = 255;

/// Whether `key` can be a Jira user key: not blank, at most [`MAX_LEN`] bytes, no control
/// characters.
pub fn is_valid(key: &str) -> bool {
    !key.trim().is_empty() && key.len() <= MAX_LEN && !key.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_jira_hands_out_are_valid() {
        assert!(is_valid("JIRAUSER10100"));
        assert!(is_valid("admin"));
        assert!(is_valid("jöhn.doe@example.com"));
    }

    #[test]
    fn blank_overlong_and_control_characters_are_not() {
        assert!(!is_valid(""));
        assert!(!is_valid("   "));
        assert!(!is_valid(&"k".repeat(MAX_LEN + 1)));
        assert!(!is_valid("JIRA\0USER"));
        assert!(!is_valid("JIRAUSER\n10100"));
        assert!(!is_valid("x\u{0085}"));
    }
}
