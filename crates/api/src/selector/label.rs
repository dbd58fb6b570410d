//! Label selectors: the grammar of `k8s.io/apimachinery/pkg/labels`, ported token for token so that the
//! same strings are accepted and rejected with the same messages.
//!
//! ```text
//! <selector>    ::= "" | <requirement> | <requirement> "," <selector>
//! <requirement> ::= [!] KEY [ <set-based> | <exact> | <numeric> ]
//! <set-based>   ::= ("in" | "notin") "(" [VALUE {"," VALUE}] ")"
//! <exact>       ::= ("=" | "==" | "!=") VALUE
//! <numeric>     ::= (">" | "<") INTEGER
//! ```
//!
//! Whitespace (space, tab, CR, LF) may surround any token. KEY is a qualified name, VALUE a label value
//! (possibly empty).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as K8sLabelSelector;

use crate::validation::{FieldError, aggregate_messages, is_qualified_name, is_valid_label_value};

/// How a [`Requirement`] relates a label's value to its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operator {
    /// `k`: the label is present, with any value.
    Exists,
    /// `!k`: the label is absent.
    DoesNotExist,
    /// `k=v`: the label is present and equals the value.
    Equals,
    /// `k==v`: the same as [`Operator::Equals`], kept apart only to print it back as written.
    DoubleEquals,
    /// `k!=v`: the label is absent or differs from the value.
    NotEquals,
    /// `k in (a,b)`: the label is present and equals one of the values.
    In,
    /// `k notin (a,b)`: the label is absent or equals none of the values.
    NotIn,
    /// `k>N`: the label is present, an integer, and greater than N.
    GreaterThan,
    /// `k<N`: the label is present, an integer, and less than N.
    LessThan,
}

/// One condition on one label key; a [`LabelSelector`] is their conjunction.
///
/// Invariants (checked by [`Requirement::new`]): the key is a qualified name; every value is a label value;
/// `In`/`NotIn` have at least one value; `Equals`/`DoubleEquals`/`NotEquals` exactly one; `Exists`/
/// `DoesNotExist` none; `GreaterThan`/`LessThan` exactly one, an integer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// Builds a requirement, checking the invariants above.
    ///
    /// # Errors
    /// apimachinery's `NewRequirement` messages, aggregated, e.g.
    /// `values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty` or
    /// `key: Invalid value: "a b": name part must consist of …`.
    pub fn new(key: impl Into<String>, operator: Operator, values: Vec<String>) -> Result<Self, String> {
        let key = key.into();
        let mut errors = Vec::new();
        if let Some(error) = check_label_key(&key, "key") {
            errors.push(error);
        }
        // Kubernetes renders the offending list as JSON; an empty list came from a nil slice there.
        let rendered_values = || {
            if values.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::Value::from(values.clone())
            }
        };
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => errors.push(FieldError::invalid_value(
                "values",
                rendered_values(),
                "for 'in', 'notin' operators, values set can't be empty",
            )),
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if values.len() != 1 => {
                errors.push(FieldError::invalid_value(
                    "values",
                    rendered_values(),
                    "exact-match compatibility requires one single value",
                ));
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                errors.push(FieldError::invalid_value(
                    "values",
                    rendered_values(),
                    "values set must be empty for exists and does not exist",
                ));
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errors.push(FieldError::invalid_value(
                        "values",
                        rendered_values(),
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, value) in values.iter().enumerate() {
                    if value.parse::<i64>().is_err() {
                        errors.push(FieldError::invalid(
                            format!("values[{i}]"),
                            Some(value),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
            _ => {}
        }
        for (i, value) in values.iter().enumerate() {
            let complaints = is_valid_label_value(value);
            if !complaints.is_empty() {
                errors.push(FieldError::invalid(
                    format!("values[{i}][{key}]"),
                    Some(value),
                    complaints.join("; "),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(aggregate_messages(&errors));
        }
        let mut values = values;
        if matches!(operator, Operator::In | Operator::NotIn) {
            // A set: normalized so that equal selectors compare equal.
            values.sort_unstable();
            values.dedup();
        }
        Ok(Self {
            key,
            operator,
            values,
        })
    }

    /// The label key.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    #[must_use]
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values; for `In` and `NotIn` sorted and deduplicated.
    #[must_use]
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether `labels` satisfy this requirement. `!=`, `notin` and `!k` match objects without the key;
    /// `>`/`<` never match a value that is not an integer.
    #[must_use]
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let actual = labels.get(&self.key);
        let has_value = |v: &String| self.values.contains(v);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => actual.is_some_and(has_value),
            Operator::NotIn | Operator::NotEquals => !actual.is_some_and(has_value),
            Operator::Exists => actual.is_some(),
            Operator::DoesNotExist => actual.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(actual) = actual.and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                let [bound] = self.values.as_slice() else {
                    return false;
                };
                let Ok(bound) = bound.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    actual > bound
                } else {
                    actual < bound
                }
            }
        }
    }
}

/// The canonical form: `!k`, `k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k>1`, `k<1`;
/// several values are printed sorted.
impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let (before, after) = match self.operator {
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
            Operator::Equals => ("=", ""),
            Operator::DoubleEquals => ("==", ""),
            Operator::NotEquals => ("!=", ""),
            Operator::GreaterThan => (">", ""),
            Operator::LessThan => ("<", ""),
            Operator::In => (" in (", ")"),
            Operator::NotIn => (" notin (", ")"),
        };
        f.write_str(before)?;
        if let [single] = self.values.as_slice() {
            f.write_str(single)?;
        } else {
            let mut sorted: Vec<&str> = self.values.iter().map(String::as_str).collect();
            sorted.sort_unstable();
            f.write_str(&sorted.join(","))?;
        }
        f.write_str(after)
    }
}

/// A label selector: the conjunction of its [`Requirement`]s, kept sorted by key. The empty selector
/// matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// The selector that matches every object (the empty string).
    #[must_use]
    pub fn everything() -> Self {
        Self::default()
    }

    /// A selector from requirements, sorted by key (stable, so equal keys keep their order).
    #[must_use]
    pub fn from_requirements(requirements: impl IntoIterator<Item = Requirement>) -> Self {
        let mut requirements: Vec<Requirement> = requirements.into_iter().collect();
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Self { requirements }
    }

    /// Parses the string form (`labelSelector` query parameter, `kubectl -l`).
    ///
    /// # Errors
    /// apimachinery's parser messages, e.g. `unable to parse requirement: found '', expected: identifier`
    /// or `found ')', expected: ',' or 'end of string'`.
    pub fn parse(selector: &str) -> Result<Self, String> {
        Parser::new(selector).parse().map(Self::from_requirements)
    }

    /// Converts a structured selector (`matchLabels` + `matchExpressions` with `In`, `NotIn`, `Exists`,
    /// `DoesNotExist`), as `metav1.LabelSelectorAsSelector` does. One with neither matches everything.
    /// (Kubernetes treats an *absent* selector as matching nothing; callers holding an `Option` decide.)
    ///
    /// # Errors
    /// `"Foo" is not a valid label selector operator`, or a [`Requirement::new`] message.
    pub fn from_k8s(selector: &K8sLabelSelector) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for (key, value) in selector.match_labels.iter().flatten() {
            requirements.push(Requirement::new(
                key.clone(),
                Operator::Equals,
                vec![value.clone()],
            )?);
        }
        for expression in selector.match_expressions.iter().flatten() {
            let operator = match expression.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(format!(
                        "{} is not a valid label selector operator",
                        crate::validation::go_quote(other)
                    ));
                }
            };
            let values = expression.values.clone().unwrap_or_default();
            requirements.push(Requirement::new(expression.key.clone(), operator, values)?);
        }
        Ok(Self::from_requirements(requirements))
    }

    /// The requirements, sorted by key.
    #[must_use]
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether this selector has no requirements, i.e. matches everything.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether `labels` satisfy every requirement.
    #[must_use]
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

/// The canonical string form: requirements in key order joined by `,` (`""` for everything). It parses
/// back to an equal selector.
impl fmt::Display for LabelSelector {
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

impl FromStr for LabelSelector {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Checks a label key as the parser does; `path` is where Kubernetes reports it.
fn check_label_key(key: &str, path: &str) -> Option<FieldError> {
    let complaints = is_qualified_name(key);
    (!complaints.is_empty()).then(|| FieldError::invalid(path, Some(key), complaints.join("; ")))
}

// ---------------------------------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn special_token(literal: &str) -> Option<Token> {
    Some(match literal {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special_symbol(byte: u8) -> bool {
    matches!(byte, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Splits the input into tokens, ending with [`Token::EndOfString`]. Like Kubernetes' lexer it works on
/// bytes and treats a NUL byte as the end of the input.
struct Lexer<'a> {
    input: &'a str,
    position: usize,
}

impl<'a> Lexer<'a> {
    /// The next byte, or 0 at the end (and the position does not move past the end).
    fn read(&mut self) -> u8 {
        match self.input.as_bytes().get(self.position) {
            Some(&byte) => {
                self.position += 1;
                byte
            }
            None => 0,
        }
    }

    fn unread(&mut self) {
        self.position -= 1;
    }

    fn lex(&mut self) -> (Token, &'a str) {
        let mut byte = self.read();
        while is_whitespace(byte) {
            byte = self.read();
        }
        if byte == 0 {
            return (Token::EndOfString, "");
        }
        self.unread();
        if is_special_symbol(byte) {
            self.scan_special_symbol()
        } else {
            self.scan_identifier_or_keyword()
        }
    }

    /// Reads up to the next whitespace or special symbol; `in` and `notin` are keywords.
    fn scan_identifier_or_keyword(&mut self) -> (Token, &'a str) {
        let start = self.position;
        let mut end;
        loop {
            end = self.position;
            let byte = self.read();
            if byte == 0 {
                break;
            }
            if is_special_symbol(byte) || is_whitespace(byte) {
                self.unread();
                break;
            }
        }
        // Both ends sit next to ASCII bytes (or the ends of the input), so they are char boundaries.
        let literal = self.input.get(start..end).unwrap_or_default();
        let token = match literal {
            "in" => Token::In,
            "notin" => Token::NotIn,
            _ => Token::Identifier,
        };
        (token, literal)
    }

    /// Reads the longest operator starting here (`!=` over `!`, `==` over `=`).
    fn scan_special_symbol(&mut self) -> (Token, &'a str) {
        let start = self.position;
        let mut longest: Option<(Token, usize)> = None;
        loop {
            let byte = self.read();
            if byte == 0 {
                break;
            }
            if !is_special_symbol(byte) {
                self.unread();
                break;
            }
            match special_token(self.input.get(start..self.position).unwrap_or_default()) {
                Some(token) => longest = Some((token, self.position)),
                None if longest.is_some() => {
                    self.unread();
                    break;
                }
                None => {}
            }
        }
        match longest {
            Some((token, end)) => (token, self.input.get(start..end).unwrap_or_default()),
            // Unreachable with Kubernetes' operator set (every special symbol is a token on its own), but
            // the lexer stays total.
            None => (
                Token::Identifier,
                self.input.get(start..self.position).unwrap_or_default(),
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------------------

/// In a value position `in` and `notin` are plain identifiers (`x in (in)`, `notin=in`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

/// The recursive-descent parser of apimachinery's `labels.Parser`, over the whole token list.
struct Parser<'a> {
    items: Vec<(Token, &'a str)>,
    position: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        let mut lexer = Lexer { input, position: 0 };
        let mut items = Vec::new();
        loop {
            let item = lexer.lex();
            items.push(item);
            if item.0 == Token::EndOfString {
                break;
            }
        }
        Self { items, position: 0 }
    }

    fn in_context(token: Token, context: Context) -> Token {
        match token {
            Token::In | Token::NotIn if context == Context::Values => Token::Identifier,
            token => token,
        }
    }

    fn lookahead(&self, context: Context) -> (Token, &'a str) {
        let (token, literal) = self
            .items
            .get(self.position)
            .copied()
            .unwrap_or((Token::EndOfString, ""));
        (Self::in_context(token, context), literal)
    }

    fn consume(&mut self, context: Context) -> (Token, &'a str) {
        let item = self.lookahead(context);
        self.position += 1;
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.lookahead(Context::Values);
            match token {
                Token::Identifier | Token::DoesNotExist => {
                    let requirement = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(requirement);
                    let (token, literal) = self.consume(Context::Values);
                    match token {
                        Token::EndOfString => return Ok(requirements),
                        Token::Comma => {
                            let (next, next_literal) = self.lookahead(Context::Values);
                            if next != Token::Identifier && next != Token::DoesNotExist {
                                return Err(format!(
                                    "found '{next_literal}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return Err(format!("found '{literal}', expected: ',' or 'end of string'")),
                    }
                }
                Token::EndOfString => return Ok(requirements),
                _ => {
                    return Err(format!(
                        "found '{literal}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, inferred) = self.parse_key_and_infer_operator()?;
        if let Some(operator) = inferred {
            return Requirement::new(key, operator, Vec::new());
        }
        let operator = self.parse_operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        Requirement::new(key, operator, values.into_iter().collect())
    }

    /// Reads `[!]KEY`; the operator is known already for `!KEY` and for a bare `KEY` (followed by `,` or
    /// the end), otherwise `None` and [`Parser::parse_operator`] reads it.
    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut operator = None;
        let (mut token, mut literal) = self.consume(Context::Values);
        if token == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        // The parser has no field path, which Kubernetes prints as "<nil>".
        if let Some(error) = check_label_key(literal, "<nil>") {
            return Err(error.message());
        }
        let (next, _) = self.lookahead(Context::Values);
        if operator.is_none() && matches!(next, Token::EndOfString | Token::Comma) {
            operator = Some(Operator::Exists);
        }
        Ok((literal.to_owned(), operator))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (token, literal) = self.consume(Context::KeyAndOperator);
        Ok(match token {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            // The missing quote before notin is Kubernetes' own.
            _ => {
                return Err(format!(
                    "found '{literal}', expected: '=', '!=', '==', 'in', notin'"
                ));
            }
        })
    }

    /// Reads `( [VALUE {, VALUE}] )`; empty entries are the empty value, so `()` is `{""}`.
    fn parse_values(&mut self) -> Result<BTreeSet<String>, String> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(format!("found '{literal}' expected: '('"));
        }
        let (token, literal) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let values = self.parse_identifiers_list()?;
                let (token, _) = self.consume(Context::Values);
                if token != Token::ClosedPar {
                    return Err(format!("found '{literal}', expected: ')'"));
                }
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(BTreeSet::from([String::new()]))
            }
            _ => Err(format!("found '{literal}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<BTreeSet<String>, String> {
        let mut values = BTreeSet::new();
        loop {
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    values.insert(literal.to_owned());
                    let (next, next_literal) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => {}
                        Token::ClosedPar => return Ok(values),
                        _ => return Err(format!("found '{next_literal}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.insert(String::new()); // "(,"
                    }
                    match self.lookahead(Context::Values).0 {
                        Token::ClosedPar => {
                            values.insert(String::new()); // ",)"
                            return Ok(values);
                        }
                        Token::Comma => {
                            self.consume(Context::Values);
                            values.insert(String::new()); // ",,"
                        }
                        _ => {}
                    }
                }
                _ => return Err(format!("found '{literal}', expected: ',', or identifier")),
            }
        }
    }

    /// Reads the single value after `=`, `==`, `!=`, `>` or `<`; nothing before `,` or the end is `""`.
    fn parse_exact_value(&mut self) -> Result<BTreeSet<String>, String> {
        let (token, _) = self.lookahead(Context::Values);
        if matches!(token, Token::EndOfString | Token::Comma) {
            return Ok(BTreeSet::from([String::new()]));
        }
        let (token, literal) = self.consume(Context::Values);
        if token == Token::Identifier {
            Ok(BTreeSet::from([literal.to_owned()]))
        } else {
            Err(format!("found '{literal}', expected: identifier"))
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and \
        must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', \
        regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric \
        characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  \
        or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn tokens(input: &str) -> Vec<Token> {
        Parser::new(input)
            .items
            .into_iter()
            .map(|(token, _)| token)
            .collect()
    }

    fn parse(input: &str) -> LabelSelector {
        LabelSelector::parse(input).unwrap_or_else(|e| panic!("{input:?} should parse: {e}"))
    }

    fn parse_error(input: &str) -> String {
        match LabelSelector::parse(input) {
            Ok(selector) => panic!("{input:?} should not parse, got {selector:?}"),
            Err(e) => e,
        }
    }

    fn requirement(key: &str, operator: Operator, values: &[&str]) -> Requirement {
        Requirement::new(key, operator, values.iter().map(|v| (*v).to_owned()).collect())
            .unwrap_or_else(|e| panic!("{key}: {e}"))
    }

    #[test]
    fn lexes_single_tokens_longest_first() {
        use Token::*;
        for (input, expected) in [
            ("", EndOfString),
            (",", Comma),
            ("notin", NotIn),
            ("in", In),
            ("=", Equals),
            ("==", DoubleEquals),
            (">", GreaterThan),
            ("<", LessThan),
            ("!", DoesNotExist),
            ("!=", NotEquals),
            ("(", OpenPar),
            (")", ClosedPar),
            ("~", Identifier),
            ("||", Identifier),
        ] {
            assert_eq!(tokens(input)[0], expected, "{input:?}");
        }
    }

    #[test]
    fn lexes_token_sequences() {
        use Token::*;
        for (input, expected) in [
            (
                "key in ( value )",
                vec![Identifier, In, OpenPar, Identifier, ClosedPar],
            ),
            (
                "key notin ( value )",
                vec![Identifier, NotIn, OpenPar, Identifier, ClosedPar],
            ),
            (
                "key in ( value1, value2 )",
                vec![Identifier, In, OpenPar, Identifier, Comma, Identifier, ClosedPar],
            ),
            ("key", vec![Identifier]),
            ("!key", vec![DoesNotExist, Identifier]),
            ("()", vec![OpenPar, ClosedPar]),
            (
                "x in (),y",
                vec![Identifier, In, OpenPar, ClosedPar, Comma, Identifier],
            ),
            (
                "== != (), = notin",
                vec![DoubleEquals, NotEquals, OpenPar, ClosedPar, Comma, Equals, NotIn],
            ),
            ("key>2", vec![Identifier, GreaterThan, Identifier]),
            ("key<1", vec![Identifier, LessThan, Identifier]),
            ("a===b", vec![Identifier, DoubleEquals, Equals, Identifier]),
            ("!!=", vec![DoesNotExist, NotEquals]),
        ] {
            let mut expected = expected;
            expected.push(EndOfString);
            assert_eq!(tokens(input), expected, "{input:?}");
        }
    }

    #[test]
    fn parses_and_restrings_good_selectors() {
        // apimachinery's TestSelectorParse: the string form is the input without spaces.
        for input in [
            "x=a,y=b,z=c",
            "",
            "x!=a,y=b",
            "x=",
            "x= ",
            "x=,z= ",
            "x= ,z= ",
            "!x",
            "x>1",
            "x>1,z<5",
        ] {
            assert_eq!(parse(input).to_string(), input.replace(' ', ""), "{input:?}");
        }
    }

    #[test]
    fn parses_each_operator() {
        let cases = [
            ("x", Operator::Exists, vec![]),
            ("!x", Operator::DoesNotExist, vec![]),
            ("x=a", Operator::Equals, vec!["a"]),
            ("x==a", Operator::DoubleEquals, vec!["a"]),
            ("x!=a", Operator::NotEquals, vec!["a"]),
            ("x in (b,a)", Operator::In, vec!["a", "b"]),
            ("x notin (a)", Operator::NotIn, vec!["a"]),
            ("x>1", Operator::GreaterThan, vec!["1"]),
            ("x<10", Operator::LessThan, vec!["10"]),
        ];
        for (input, operator, values) in cases {
            let selector = parse(input);
            let [r] = selector.requirements() else {
                panic!("{input:?}: one requirement expected")
            };
            assert_eq!((r.key(), r.operator()), ("x", operator), "{input:?}");
            assert_eq!(
                r.values(),
                values.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>(),
                "{input:?}"
            );
        }
    }

    #[test]
    fn parses_set_based_selectors() {
        // apimachinery's TestSetSelectorParser, good cases.
        let cases = [
            ("", LabelSelector::everything()),
            (
                "\rx",
                LabelSelector::from_requirements([requirement("x", Operator::Exists, &[])]),
            ),
            (
                "this-is-a-dns.domain.com/key-with-dash",
                LabelSelector::from_requirements([requirement(
                    "this-is-a-dns.domain.com/key-with-dash",
                    Operator::Exists,
                    &[],
                )]),
            ),
            (
                "this-is-another-dns.domain.com/key-with-dash in (so,what)",
                LabelSelector::from_requirements([requirement(
                    "this-is-another-dns.domain.com/key-with-dash",
                    Operator::In,
                    &["so", "what"],
                )]),
            ),
            (
                "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
                LabelSelector::from_requirements([requirement(
                    "0.1.2.domain/99",
                    Operator::NotIn,
                    &["10.10.100.1", "tick.tack.clock"],
                )]),
            ),
            (
                "foo  in\t (abc)",
                LabelSelector::from_requirements([requirement("foo", Operator::In, &["abc"])]),
            ),
            (
                "x notin\n (abc)",
                LabelSelector::from_requirements([requirement("x", Operator::NotIn, &["abc"])]),
            ),
            (
                "x  notin\t\t(abc,def)",
                LabelSelector::from_requirements([requirement("x", Operator::NotIn, &["abc", "def"])]),
            ),
            (
                "x in (abc,)",
                LabelSelector::from_requirements([requirement("x", Operator::In, &["", "abc"])]),
            ),
            (
                "x in ()",
                LabelSelector::from_requirements([requirement("x", Operator::In, &[""])]),
            ),
            (
                "x notin (abc,,def),bar,z in (),w",
                LabelSelector::from_requirements([
                    requirement("bar", Operator::Exists, &[]),
                    requirement("w", Operator::Exists, &[]),
                    requirement("x", Operator::NotIn, &["", "abc", "def"]),
                    requirement("z", Operator::In, &[""]),
                ]),
            ),
            (
                "x,y in (a)",
                LabelSelector::from_requirements([
                    requirement("y", Operator::In, &["a"]),
                    requirement("x", Operator::Exists, &[]),
                ]),
            ),
            (
                "x=a,y!=b,z in (h,i,j)",
                LabelSelector::from_requirements([
                    requirement("x", Operator::Equals, &["a"]),
                    requirement("y", Operator::NotEquals, &["b"]),
                    requirement("z", Operator::In, &["h", "i", "j"]),
                ]),
            ),
            (
                "x in (in)",
                LabelSelector::from_requirements([requirement("x", Operator::In, &["in"])]),
            ),
            (
                "notin=in",
                LabelSelector::from_requirements([requirement("notin", Operator::Equals, &["in"])]),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input), expected, "{input:?}");
        }
    }

    #[test]
    fn whitespace_around_operators_and_parens() {
        let spaced = parse("  env  in  ( prod , staging )  ,  tier != db ,! legacy , x > 3 ");
        assert_eq!(
            spaced.to_string(),
            "env in (prod,staging),!legacy,tier!=db,x>3",
            "sorted by key"
        );
        assert_eq!(spaced, parse("env in (prod,staging),!legacy,tier!=db,x>3"));
    }

    #[test]
    fn rejects_bad_selectors() {
        for input in [
            "x=a||y=b",
            "x==a==b",
            "!x=a",
            "x<a",
            "x>1.1",
            "x<1.1",
            "x in ((",
            "(",
            "x in (a b)",
            "x=a,",
            ",x",
            "x in a",
            "x notin",
            "x=(",
            "a b",
            "k@=v",
            "x=a@",
            "x>-1",
        ] {
            assert!(LabelSelector::parse(input).is_err(), "{input:?} should not parse");
        }
    }

    #[test]
    fn parse_errors_use_kubernetes_messages() {
        assert_eq!(parse_error("x=a,"), "found '', expected: identifier after ','");
        assert_eq!(
            parse_error(",x"),
            "found ',', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(parse_error("x=a)"), "found ')', expected: ',' or 'end of string'");
        assert_eq!(parse_error("!x=a"), "found '=', expected: ',' or 'end of string'");
        assert_eq!(
            parse_error("x=a y"),
            "found 'y', expected: ',' or 'end of string'"
        );
        assert_eq!(
            parse_error("x=a||y=b"),
            format!("unable to parse requirement: values[0][x]: Invalid value: \"a||y\": {LABEL_VALUE_MSG}")
        );
        assert_eq!(
            parse_error("x==a==b"),
            "found '==', expected: ',' or 'end of string'"
        );
        assert_eq!(
            parse_error("!"),
            "unable to parse requirement: found '', expected: identifier"
        );
        assert_eq!(
            parse_error("x in a"),
            "unable to parse requirement: found 'a' expected: '('"
        );
        assert_eq!(
            parse_error("a b"),
            "unable to parse requirement: found 'b', expected: '=', '!=', '==', 'in', notin'"
        );
        assert_eq!(
            parse_error("x in (a b)"),
            "unable to parse requirement: found 'b', expected: ',' or ')'"
        );
        assert_eq!(
            parse_error("x in (=)"),
            "unable to parse requirement: found '=', expected: ',', ')' or identifier"
        );
        assert_eq!(
            parse_error("x in (a,=)"),
            "unable to parse requirement: found '=', expected: ',', or identifier"
        );
        assert_eq!(
            parse_error("x=("),
            "unable to parse requirement: found '(', expected: identifier"
        );
        assert_eq!(
            parse_error("k@=v"),
            format!("unable to parse requirement: <nil>: Invalid value: \"k@\": {NAME_PART_MSG}")
        );
        assert_eq!(
            parse_error("x=a@"),
            format!("unable to parse requirement: values[0][x]: Invalid value: \"a@\": {LABEL_VALUE_MSG}")
        );
        assert_eq!(
            parse_error("x<a"),
            "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value \
             must be an integer"
        );
        assert_eq!(
            parse_error("x>a_"),
            format!(
                "unable to parse requirement: [values[0]: Invalid value: \"a_\": for 'Gt', 'Lt' operators, the \
                 value must be an integer, values[0][x]: Invalid value: \"a_\": {LABEL_VALUE_MSG}]"
            )
        );
    }

    #[test]
    fn matches_like_kubernetes() {
        let expect = |selector: &str, set: &[(&str, &str)], expected: bool| {
            assert_eq!(
                parse(selector).matches(&labels(set)),
                expected,
                "{selector:?} on {set:?}"
            );
        };
        expect("", &[("x", "y")], true);
        expect("x=y", &[("x", "y")], true);
        expect("x==y", &[("x", "y")], true);
        expect("x=y,z=w", &[("x", "y"), ("z", "w")], true);
        expect("x!=y,z!=w", &[("x", "z"), ("z", "a")], true);
        expect("notin=in", &[("notin", "in")], true);
        expect("x", &[("x", "z")], true);
        expect("!x", &[("y", "z")], true);
        expect("x>1", &[("x", "2")], true);
        expect("x<1", &[("x", "0")], true);
        expect("x=z", &[], false);
        expect("x=y", &[("x", "z")], false);
        expect("x=y,z=w", &[("x", "w"), ("z", "w")], false);
        expect("x!=y,z!=w", &[("x", "z"), ("z", "w")], false);
        expect("x", &[("y", "z")], false);
        expect("!x", &[("x", "z")], false);
        expect("x>1", &[("x", "0")], false);
        expect("x<1", &[("x", "2")], false);
        expect("x>1", &[("x", "two")], false);
        expect("x>1", &[], false);

        let set = [("foo", "bar"), ("baz", "blah")];
        expect("foo=bar", &set, true);
        expect("baz=blah", &set, true);
        expect("foo=bar,baz=blah", &set, true);
        expect("foo=blah", &set, false);
        expect("baz=bar", &set, false);
        expect("foo=bar,foobar=bar,baz=blah", &set, false);
    }

    #[test]
    fn negative_operators_match_objects_without_the_key() {
        let none = labels(&[]);
        assert!(parse("x!=a").matches(&none));
        assert!(parse("x notin (a,b)").matches(&none));
        assert!(parse("!x").matches(&none));
        assert!(!parse("x in (a,b)").matches(&none));
        assert!(parse("x in (a,b)").matches(&labels(&[("x", "b")])));
        assert!(!parse("x notin (a,b)").matches(&labels(&[("x", "b")])));
        assert!(parse("x notin (a,b)").matches(&labels(&[("x", "c")])));
        assert!(parse("x=").matches(&labels(&[("x", "")])));
        assert!(!parse("x=").matches(&none));
        assert!(parse("x in ()").matches(&labels(&[("x", "")])));
    }

    #[test]
    fn requirements_print_canonically() {
        // apimachinery's TestToString.
        let cases = [
            (
                vec![
                    requirement("x", Operator::In, &["def", "abc"]),
                    requirement("y", Operator::NotIn, &["jkl"]),
                    requirement("z", Operator::Exists, &[]),
                ],
                "x in (abc,def),y notin (jkl),z",
            ),
            (
                vec![
                    requirement("x", Operator::NotIn, &["abc", "def"]),
                    requirement("y", Operator::NotEquals, &["jkl"]),
                    requirement("z", Operator::DoesNotExist, &[]),
                ],
                "x notin (abc,def),y!=jkl,!z",
            ),
            (
                vec![
                    requirement("x", Operator::NotIn, &["abc"]),
                    requirement("y", Operator::In, &["jkl", "mno"]),
                    requirement("z", Operator::NotIn, &[""]),
                ],
                "x notin (abc),y in (jkl,mno),z notin ()",
            ),
            (
                vec![
                    requirement("x", Operator::Equals, &["abc"]),
                    requirement("y", Operator::DoubleEquals, &["jkl"]),
                    requirement("z", Operator::NotEquals, &["a"]),
                    requirement("z", Operator::Exists, &[]),
                ],
                "x=abc,y==jkl,z!=a,z",
            ),
            (
                vec![
                    requirement("x", Operator::GreaterThan, &["2"]),
                    requirement("y", Operator::LessThan, &["8"]),
                    requirement("z", Operator::Exists, &[]),
                ],
                "x>2,y<8,z",
            ),
        ];
        for (requirements, expected) in cases {
            let selector = LabelSelector::from_requirements(requirements);
            assert_eq!(selector.to_string(), expected);
            assert_eq!(parse(expected), selector, "round trip of {expected:?}");
        }
    }

    #[test]
    fn display_round_trips() {
        for input in [
            "a in (x,,y),!b,c notin (),d==e,f!=,g,h>10,i<0",
            "example.com/tier in (backend,frontend),app.kubernetes.io/name=web",
            "k in (in,notin)",
        ] {
            let selector = parse(input);
            let printed = selector.to_string();
            assert_eq!(parse(&printed), selector, "{input:?} printed as {printed:?}");
            assert_eq!(printed.parse::<LabelSelector>(), Ok(selector));
        }
        assert_eq!(parse("z=1,a=2,m").to_string(), "a=2,m,z=1");
    }

    #[test]
    fn requirement_constructor_checks_invariants() {
        let none: Vec<String> = Vec::new();
        assert_eq!(
            Requirement::new("x", Operator::In, none.clone()).unwrap_err(),
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
        );
        assert_eq!(
            Requirement::new("x", Operator::Equals, vec!["a".into(), "b".into()]).unwrap_err(),
            "values: Invalid value: [\"a\",\"b\"]: exact-match compatibility requires one single value"
        );
        assert_eq!(
            Requirement::new("x", Operator::Exists, vec!["a".into()]).unwrap_err(),
            "values: Invalid value: [\"a\"]: values set must be empty for exists and does not exist"
        );
        assert_eq!(
            Requirement::new("x", Operator::GreaterThan, none).unwrap_err(),
            "values: Invalid value: null: for 'Gt', 'Lt' operators, exactly one value is required"
        );
        assert_eq!(
            Requirement::new("a b", Operator::Exists, Vec::new()).unwrap_err(),
            format!("key: Invalid value: \"a b\": {NAME_PART_MSG}")
        );
        assert!(Requirement::new(format!("{}/x", "a".repeat(253)), Operator::Exists, Vec::new()).is_ok());
        assert!(Requirement::new("x", Operator::NotIn, vec![String::new()]).is_ok());
    }

    #[test]
    fn converts_structured_selectors() {
        let structured = K8sLabelSelector {
            match_labels: Some(BTreeMap::from([
                ("foo".to_owned(), "bar".to_owned()),
                ("baz".to_owned(), "qux".to_owned()),
            ])),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "zone".into(),
                    operator: "In".into(),
                    values: Some(vec!["b".into(), "a".into()]),
                },
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "NotIn".into(),
                    values: Some(vec!["x".into()]),
                },
                LabelSelectorRequirement {
                    key: "gpu".into(),
                    operator: "Exists".into(),
                    values: None,
                },
                LabelSelectorRequirement {
                    key: "legacy".into(),
                    operator: "DoesNotExist".into(),
                    values: Some(vec![]),
                },
            ]),
        };
        let selector = LabelSelector::from_k8s(&structured).expect("valid selector");
        assert_eq!(
            selector.to_string(),
            "baz=qux,foo=bar,gpu,!legacy,tier notin (x),zone in (a,b)"
        );
        assert!(selector.matches(&labels(&[
            ("foo", "bar"),
            ("baz", "qux"),
            ("gpu", ""),
            ("zone", "a")
        ])));
        assert!(!selector.matches(&labels(&[
            ("foo", "bar"),
            ("baz", "qux"),
            ("gpu", ""),
            ("zone", "c")
        ])));

        assert!(
            LabelSelector::from_k8s(&K8sLabelSelector::default())
                .expect("empty")
                .is_empty()
        );

        let bad_operator = K8sLabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "k".into(),
                operator: "Near".into(),
                values: Some(vec!["v".into()]),
            }]),
        };
        assert_eq!(
            LabelSelector::from_k8s(&bad_operator).unwrap_err(),
            "\"Near\" is not a valid label selector operator"
        );

        let empty_in = K8sLabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "k".into(),
                operator: "In".into(),
                values: None,
            }]),
        };
        assert_eq!(
            LabelSelector::from_k8s(&empty_in).unwrap_err(),
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
        );

        let bad_label = K8sLabelSelector {
            match_labels: Some(BTreeMap::from([("k".to_owned(), "bad value".to_owned())])),
            match_expressions: None,
        };
        assert_eq!(
            LabelSelector::from_k8s(&bad_label).unwrap_err(),
            format!("values[0][k]: Invalid value: \"bad value\": {LABEL_VALUE_MSG}")
        );
    }

    #[test]
    fn nul_byte_ends_the_input_like_kubernetes() {
        assert!(parse("\0x=y").is_empty());
        assert!(LabelSelector::parse("a\0b").is_err());
    }

    #[test]
    fn non_ascii_keys_are_rejected_not_panicking() {
        assert!(LabelSelector::parse("schlüssel=wert").is_err());
        assert!(LabelSelector::parse("k=wért").is_err());
        assert!(LabelSelector::parse("ü").is_err());
    }
}
