//! How Go's `encoding/json` matches object keys to struct fields, for the annotation payloads v1 decodes
//! with it.
//!
//! Go prefers an exact match and otherwise accepts any key equal to the field name under Unicode simple
//! case folding (`bytes.EqualFold`). Every field name here is ASCII, and the only non-ASCII characters
//! that fold to an ASCII letter are `ſ` (U+017F, folds to `s`) and the Kelvin sign `K` (U+212A, folds to
//! `k`), so those are the only non-ASCII characters a matching key can contain.

/// Whether the JSON object key `key` selects the struct field named `field` (ASCII), as Go decides it.
pub(crate) fn key_matches_field(key: &str, field: &str) -> bool {
    let mut key_chars = key.chars();
    for expected in field.bytes() {
        let Some(actual) = key_chars.next() else {
            return false;
        };
        let folded = match actual {
            '\u{17F}' => b'S',
            '\u{212A}' => b'K',
            c if c.is_ascii() => (c as u8).to_ascii_uppercase(),
            _ => return false,
        };
        if folded != expected.to_ascii_uppercase() {
            return false;
        }
    }
    key_chars.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::key_matches_field;

    #[test]
    fn keys_match_fields_ignoring_ascii_case() {
        assert!(key_matches_field("Weight", "Weight"));
        assert!(key_matches_field("weight", "Weight"));
        assert!(key_matches_field("WEIGHT", "Weight"));
        assert!(key_matches_field("minreplicas", "MinReplicas"));
        assert!(!key_matches_field("min_replicas", "MinReplicas"));
        assert!(!key_matches_field("Weigh", "Weight"));
        assert!(!key_matches_field("Weights", "Weight"));
        assert!(!key_matches_field("", "Weight"));
    }

    #[test]
    fn long_s_and_kelvin_sign_fold_like_go() {
        assert!(key_matches_field("Cluster\u{17F}", "Clusters"));
        assert!(key_matches_field("\u{212A}ey", "key"));
        assert!(!key_matches_field("W\u{E9}ight", "Weight"));
    }
}
