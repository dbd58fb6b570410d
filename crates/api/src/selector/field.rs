//! Field selectors: `k8s.io/apimachinery/pkg/fields` (`ParseSelector`, `EscapeValue`, `UnescapeValue`).
//!
//! A selector is comma-separated terms `field=value`, `field==value` or `field!=value`. Values may contain
//! `\,`, `\=` and `\\`; field names have no escapes and end at the first operator. There is no trimming:
//! `a = b` compares field `a ` with value ` b`. Which field names are allowed is the server's business,
//! per kind; see [`FieldSelector::requirements`].

use std::fmt;
use std::str::FromStr;

/// How a [`FieldRequirement`] compares the field with its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    /// `=` or `==`: the field equals the value.
    Equals,
    /// `!=`: the field differs from the value.
    NotEquals,
}

/// One term of a field selector.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldRequirement {
    /// The field path, e.g. `metadata.name` or `involvedObject.uid`.
    pub field: String,
    /// The comparison.
    pub operator: FieldOperator,
    /// The value, unescaped.
    pub value: String,
}

impl FieldRequirement {
    /// Whether a field whose value is `actual` satisfies this term; a missing field counts as `""`, as in
    /// Kubernetes (so `spec.nodeName=` selects objects without a node).
    #[must_use]
    pub fn matches(&self, actual: Option<&str>) -> bool {
        let actual = actual.unwrap_or_default();
        match self.operator {
            FieldOperator::Equals => actual == self.value,
            FieldOperator::NotEquals => actual != self.value,
        }
    }
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let operator = match self.operator {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        };
        write!(f, "{}{operator}{}", self.field, escape_field_value(&self.value))
    }
}

/// A field selector: the conjunction of its terms. The empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// The selector that matches every object (the empty string).
    #[must_use]
    pub fn everything() -> Self {
        Self::default()
    }

    /// Parses the string form (`fieldSelector` query parameter, `kubectl --field-selector`). Terms are
    /// kept in the order of their sorted raw text, as Kubernetes does; empty terms are skipped.
    ///
    /// # Errors
    /// `invalid selector: 'x'; can't understand 'x'` for a term without an operator;
    /// `invalid field selector: invalid escape sequence: \n` or
    /// `invalid field selector: unescaped character in value: 61` (Go prints the rune's code) for values.
    pub fn parse(selector: &str) -> Result<Self, String> {
        let mut terms = split_terms(selector);
        terms.sort_unstable();
        let mut requirements = Vec::with_capacity(terms.len());
        for term in terms.into_iter().filter(|t| !t.is_empty()) {
            let (field, operator, raw_value) = split_term(term)
                .ok_or_else(|| format!("invalid selector: '{selector}'; can't understand '{term}'"))?;
            requirements.push(FieldRequirement {
                field: field.to_owned(),
                operator,
                value: unescape_field_value(raw_value)?,
            });
        }
        Ok(Self { requirements })
    }

    /// The terms, so the server can reject fields a kind does not support (the caller's job: the error is
    /// `"x" is not a known field selector: only "metadata.name", "metadata.namespace"`).
    #[must_use]
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// Whether this selector has no terms, i.e. matches everything.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether an object matches every term; `field_value` returns an object's value for a field path
    /// (`None` = the field is absent, compared as `""`).
    #[must_use]
    pub fn matches<F>(&self, field_value: F) -> bool
    where
        F: Fn(&str) -> Option<String>,
    {
        self.requirements
            .iter()
            .all(|r| r.matches(field_value(&r.field).as_deref()))
    }

    /// The value `field` must equal for this selector to match, if a `field=value` term pins it (e.g.
    /// `metadata.name=x`, which lets a server turn a list into a single get).
    #[must_use]
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.operator == FieldOperator::Equals)
            .map(|r| r.value.as_str())
    }
}

/// The canonical form: terms joined by `,`, `==` printed as `=`, values escaped.
impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}

impl FromStr for FieldSelector {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Escapes a value for use in a field selector: `\` → `\\`, `,` → `\,`, `=` → `\=`.
#[must_use]
pub fn escape_field_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Splits at commas not preceded by a backslash; escapes stay in the terms.
fn split_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in selector.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(&selector[start..i]);
            start = i + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// Splits a term at the first operator (`!=`, then `==`, then `=` at each position).
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    const OPERATORS: [(&str, FieldOperator); 3] = [
        ("!=", FieldOperator::NotEquals),
        ("==", FieldOperator::Equals),
        ("=", FieldOperator::Equals),
    ];
    term.char_indices().find_map(|(i, _)| {
        let rest = &term[i..];
        OPERATORS
            .iter()
            .find(|(op, _)| rest.starts_with(op))
            .map(|(op, operator)| (&term[..i], *operator, &rest[op.len()..]))
    })
}

fn unescape_field_value(raw: &str) -> Result<String, String> {
    let mut value = String::with_capacity(raw.len());
    let mut escaped = false;
    for c in raw.chars() {
        if escaped {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(format!("invalid field selector: invalid escape sequence: \\{c}"));
            }
            value.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' || c == '=' {
            return Err(format!(
                "invalid field selector: unescaped character in value: {}",
                u32::from(c)
            ));
        } else {
            value.push(c);
        }
    }
    if escaped {
        return Err("invalid field selector: invalid escape sequence: \\".to_owned());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn parse(input: &str) -> FieldSelector {
        FieldSelector::parse(input).unwrap_or_else(|e| panic!("{input:?} should parse: {e}"))
    }

    fn lookup(set: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = set
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |field| map.get(field).cloned()
    }

    #[test]
    fn good_selectors_round_trip() {
        // apimachinery's TestSelectorParse.
        for input in ["x=a,y=b,z=c", "", "x!=a,y=b", r"x=a||y\=b", r"x=a\=\=b"] {
            assert_eq!(parse(input).to_string(), input, "{input:?}");
        }
        assert_eq!(parse(r"x=a||y\=b").requirements()[0].value, "a||y=b");
        assert_eq!(
            parse("b=2,a==1").to_string(),
            "a=1,b=2",
            "terms sorted, == printed as ="
        );
    }

    #[test]
    fn bad_selectors_are_rejected() {
        for input in ["x=a||y=b", "x==a==b", "x=a,b", "x in (a)", "x in (a,b,c)", "x"] {
            assert!(FieldSelector::parse(input).is_err(), "{input:?} should not parse");
        }
        assert_eq!(
            FieldSelector::parse("x").unwrap_err(),
            "invalid selector: 'x'; can't understand 'x'"
        );
        assert_eq!(
            FieldSelector::parse("x=a,b").unwrap_err(),
            "invalid selector: 'x=a,b'; can't understand 'b'"
        );
        assert_eq!(
            FieldSelector::parse("x==a==b").unwrap_err(),
            "invalid field selector: unescaped character in value: 61"
        );
    }

    #[test]
    fn operators_and_requirements() {
        let selector = parse("metadata.name=web,status.phase!=Running,spec.nodeName==n1");
        assert_eq!(
            selector.requirements(),
            &[
                FieldRequirement {
                    field: "metadata.name".into(),
                    operator: FieldOperator::Equals,
                    value: "web".into()
                },
                FieldRequirement {
                    field: "spec.nodeName".into(),
                    operator: FieldOperator::Equals,
                    value: "n1".into()
                },
                FieldRequirement {
                    field: "status.phase".into(),
                    operator: FieldOperator::NotEquals,
                    value: "Running".into()
                },
            ]
        );
        assert_eq!(selector.requires_exact_match("metadata.name"), Some("web"));
        assert_eq!(selector.requires_exact_match("status.phase"), None);
        assert!(FieldSelector::everything().is_empty());
        assert!(parse(",,").is_empty(), "empty terms are skipped");
    }

    #[test]
    fn the_first_operator_splits_the_term() {
        assert_eq!(split_term("a=b=c"), Some(("a", FieldOperator::Equals, "b=c")));
        assert_eq!(split_term("a==b"), Some(("a", FieldOperator::Equals, "b")));
        assert_eq!(split_term("a!=b"), Some(("a", FieldOperator::NotEquals, "b")));
        assert_eq!(split_term("a!b=c"), Some(("a!b", FieldOperator::Equals, "c")));
        assert_eq!(split_term("=b"), Some(("", FieldOperator::Equals, "b")));
        assert_eq!(split_term("a"), None);
        assert_eq!(split_term("ä=ö"), Some(("ä", FieldOperator::Equals, "ö")));
    }

    #[test]
    fn splits_terms_at_unescaped_commas() {
        assert_eq!(split_terms(""), Vec::<&str>::new());
        assert_eq!(split_terms("a"), vec!["a"]);
        assert_eq!(split_terms("a,b"), vec!["a", "b"]);
        assert_eq!(split_terms(",a,"), vec!["", "a", ""]);
        assert_eq!(split_terms(r"a\,b,c"), vec![r"a\,b", "c"]);
        assert_eq!(split_terms(r"a\\,b"), vec![r"a\\", "b"]);
    }

    #[test]
    fn escapes_and_unescapes_values() {
        for (raw, escaped) in [
            ("", ""),
            ("a", "a"),
            ("=", r"\="),
            (",", r"\,"),
            ("\\", r"\\"),
            (r"\=\,\", r"\\\=\\\,\\"),
        ] {
            assert_eq!(escape_field_value(raw), escaped);
            assert_eq!(unescape_field_value(escaped).as_deref(), Ok(raw));
        }
        for (input, error) in [
            (r"\", r"invalid field selector: invalid escape sequence: \"),
            (r"\\\", r"invalid field selector: invalid escape sequence: \"),
            (r"\n", r"invalid field selector: invalid escape sequence: \n"),
            (",", "invalid field selector: unescaped character in value: 44"),
            (r"\\,", "invalid field selector: unescaped character in value: 44"),
            ("=", "invalid field selector: unescaped character in value: 61"),
            (r"\\=", "invalid field selector: unescaped character in value: 61"),
            (r"\\\n", r"invalid field selector: invalid escape sequence: \n"),
        ] {
            assert_eq!(unescape_field_value(input), Err(error.to_owned()), "{input:?}");
        }
    }

    #[test]
    fn matches_like_kubernetes() {
        let expect = |selector: &str, set: &[(&str, &str)], expected: bool| {
            assert_eq!(
                parse(selector).matches(lookup(set)),
                expected,
                "{selector:?} on {set:?}"
            );
        };
        expect("", &[("x", "y")], true);
        expect("x=y", &[("x", "y")], true);
        expect("x=y,z=w", &[("x", "y"), ("z", "w")], true);
        expect("x!=y,z!=w", &[("x", "z"), ("z", "a")], true);
        expect("notin=in", &[("notin", "in")], true);
        expect("x=y", &[("x", "z")], false);
        expect("x=y,z=w", &[("x", "w"), ("z", "w")], false);
        expect("x!=y,z!=w", &[("x", "z"), ("z", "w")], false);

        let set = [("foo", "bar"), ("baz", "blah"), ("complex", r"=value\,\")];
        expect("foo=bar", &set, true);
        expect("baz=blah", &set, true);
        expect("foo=bar,baz=blah", &set, true);
        expect(r"foo=bar,baz=blah,complex=\=value\\\,\\", &set, true);
        expect("foo=blah", &set, false);
        expect("baz=bar", &set, false);
        expect("foo=bar,foobar=bar,baz=blah", &set, false);
    }

    #[test]
    fn missing_fields_compare_as_empty() {
        assert!(parse("spec.nodeName=").matches(lookup(&[])));
        assert!(parse("spec.nodeName!=n1").matches(lookup(&[])));
        assert!(!parse("spec.nodeName=n1").matches(lookup(&[])));
    }

    #[test]
    fn no_whitespace_trimming() {
        let selector = parse("a = b");
        assert_eq!(selector.requirements()[0].field, "a ");
        assert_eq!(selector.requirements()[0].value, " b");
        assert!(!selector.matches(lookup(&[("a", "b")])));
    }

    #[test]
    fn display_round_trips_escaped_values() {
        let selector = parse(r"metadata.name=a\,b\=c\\d,involvedObject.kind!=Pod");
        let printed = selector.to_string();
        assert_eq!(printed, r"involvedObject.kind!=Pod,metadata.name=a\,b\=c\\d");
        assert_eq!(printed.parse::<FieldSelector>(), Ok(selector));
    }
}
