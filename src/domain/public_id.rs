//! The public ID of a Jira instance (`tHXLY2` in the seed): short, unambiguous characters only.

/// Characters without look-alikes: no 0/O/o, 1/I/l.
pub const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz";
/// Length of generated IDs (55^7, about 1.5e12 values).
pub const LENGTH: usize = 7;

/// A validated public ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicId(String);

impl PublicId {
    /// Accepts IDs made of the alphabet, 6 to 12 characters (the database CHECK agrees).
    pub fn parse(s: &str) -> Option<PublicId> {
        let ok = (6..=12).contains(&s.len()) && s.bytes().all(|b| ALPHABET.contains(&b));
        ok.then(|| PublicId(s.to_owned()))
    }

    /// A fresh random ID.
    pub fn generate() -> PublicId {
        PublicId(crate::crypto::random::from_alphabet(ALPHABET, LENGTH))
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse() {
        for _ in 0..100 {
            let id = PublicId::generate();
            assert_eq!(id.as_str().len(), LENGTH);
            assert!(PublicId::parse(id.as_str()).is_some());
        }
    }

    #[test]
    fn ambiguous_characters_are_refused() {
        assert!(PublicId::parse("tHXLY2").is_some());
        assert!(PublicId::parse("tHXLY0").is_none());
        assert!(PublicId::parse("abc").is_none());
        assert!(PublicId::parse("abcdef/").is_none());
    }
}
