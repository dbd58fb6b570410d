//! Field validation with Kubernetes' exact wording.
//!
//! Three layers, mirroring apimachinery:
//!
//! * string checks that return human-readable complaints (`Vec<String>`, empty = valid):
//!   [`is_dns1123_subdomain`], [`is_dns1123_label`], [`is_dns1035_label`], [`is_qualified_name`],
//!   [`is_valid_label_value`], [`is_valid_path_segment_name`];
//! * [`FieldError`]: one complaint about one field, formatted like `field.Error` (`metadata.name: Invalid
//!   value: "Foo_": …`) and carrying the `Status` cause reason (`FieldValueInvalid`, …);
//! * [`validate_object_meta`]: the checks kube-apiserver runs on every object's metadata at creation.
//!
//! The texts match apimachinery (`k8s.io/apimachinery/pkg/util/validation`, `…/api/validation/objectmeta.go`,
//! `…/util/validation/field/errors.go`) because clients and people grep for them.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta, OwnerReference};

/// Maximum length of a DNS-1123 label, a DNS-1035 label and of a label value.
pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
/// Maximum length of a DNS-1123 subdomain.
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
/// Maximum length of a DNS-1035 label.
pub const DNS1035_LABEL_MAX_LENGTH: usize = 63;
/// Maximum length of a label value.
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;
/// Maximum length of the name part of a qualified name (the part after the optional `prefix/`).
pub const QUALIFIED_NAME_MAX_LENGTH: usize = 63;
/// Maximum total size, in bytes, of all annotation keys and values of one object.
pub const TOTAL_ANNOTATION_SIZE_LIMIT_BYTES: usize = 256 * 1024;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric \
                                     characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
                                         alphanumeric characters, '-' or '.', and must start and end with an \
                                         alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_ERR_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or \
                                     '-', start with an alphabetic character, and end with an alphanumeric \
                                     character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_ERR_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must \
                                      start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR_MSG: &str = "a valid label must be an empty string or consist of alphanumeric \
                                   characters, '-', '_' or '.', and must start and end with an alphanumeric \
                                   character";

/// Finalizer names kube accepts without a `domain/` prefix.
const STANDARD_FINALIZERS: [&str; 3] = ["kubernetes", "orphan", "foregroundDeletion"];

// ---------------------------------------------------------------------------------------------------------
// Field errors
// ---------------------------------------------------------------------------------------------------------

/// What is wrong with a field; selects the message prefix and the `Status` cause reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldErrorKind {
    /// A required value is missing (`Required value`).
    Required,
    /// The value is malformed (`Invalid value`).
    Invalid,
    /// The value collides with another that must be unique (`Duplicate value`).
    Duplicate,
    /// The value is not one of an enumerated set (`Unsupported value`).
    NotSupported,
    /// The value is too long; the value itself is not echoed (`Too long`).
    TooLong,
    /// The value is well-formed but not allowed here (`Forbidden`).
    Forbidden,
    /// A list has too many items (`Too many`).
    TooMany,
}

impl FieldErrorKind {
    /// The `reason` of the `Status` cause, e.g. `FieldValueInvalid`.
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid => "FieldValueInvalid",
            Self::Duplicate => "FieldValueDuplicate",
            Self::NotSupported => "FieldValueNotSupported",
            Self::TooLong => "FieldValueTooLong",
            Self::Forbidden => "FieldValueForbidden",
            Self::TooMany => "FieldValueTooMany",
        }
    }

    /// The human prefix of the message, e.g. `Invalid value`.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Required => "Required value",
            Self::Invalid => "Invalid value",
            Self::Duplicate => "Duplicate value",
            Self::NotSupported => "Unsupported value",
            Self::TooLong => "Too long",
            Self::Forbidden => "Forbidden",
            Self::TooMany => "Too many",
        }
    }

    /// Whether apimachinery prints the offending value in the message for this kind.
    fn shows_value(self) -> bool {
        !matches!(self, Self::Required | Self::Forbidden | Self::TooLong)
    }
}

/// One validation failure on one field, as apimachinery's `field.Error`.
///
/// Build it with the constructors ([`FieldError::required`], [`FieldError::invalid`], …) so that `value`
/// is rendered the way Kubernetes renders it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldError {
    /// The JSON path of the field, e.g. `metadata.name` or `spec.serverAddressByClientCIDRs[0].clientCIDR`.
    pub path: String,
    /// What is wrong.
    pub kind: FieldErrorKind,
    /// The offending value **as it appears in the message**: strings Go-quoted (`"Foo_"`), numbers and
    /// booleans bare (`-1`), anything else as JSON (`["a","b"]`, `null`). `None` prints no value.
    /// Kinds that never echo the value (`Required`, `Forbidden`, `TooLong`) ignore it.
    pub value: Option<String>,
    /// The explanation after the value; may be empty.
    pub detail: String,
}

impl FieldError {
    /// `Required value`: `spec.selector: Required value` (detail may be empty).
    #[must_use]
    pub fn required(path: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            kind: FieldErrorKind::Required,
            value: None,
            detail: detail.into(),
        }
    }

    /// `Invalid value` for a string value (quoted in the message); `None` leaves the value out.
    #[must_use]
    pub fn invalid(path: impl Into<String>, value: Option<&str>, detail: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            kind: FieldErrorKind::Invalid,
            value: value.map(go_quote),
            detail: detail.into(),
        }
    }

    /// `Invalid value` for any JSON-representable value (numbers, booleans, lists, `null`), rendered as
    /// apimachinery renders a bad value: strings quoted, numbers and booleans bare, the rest as JSON.
    #[must_use]
    pub fn invalid_value(
        path: impl Into<String>,
        value: impl Into<serde_json::Value>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            kind: FieldErrorKind::Invalid,
            value: Some(render_value(&value.into())),
            detail: detail.into(),
        }
    }

    /// `Duplicate value: "x"`.
    #[must_use]
    pub fn duplicate(path: impl Into<String>, value: &str) -> Self {
        Self {
            path: path.into(),
            kind: FieldErrorKind::Duplicate,
            value: Some(go_quote(value)),
            detail: String::new(),
        }
    }

    /// `Unsupported value: "x": supported values: "a", "b"`.
    #[must_use]
    pub fn not_supported(path: impl Into<String>, value: &str, supported: &[&str]) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self {
            path: path.into(),
            kind: FieldErrorKind::NotSupported,
            value: Some(go_quote(value)),
            detail,
        }
    }

    /// `Forbidden: detail`.
    #[must_use]
    pub fn forbidden(path: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            kind: FieldErrorKind::Forbidden,
            value: None,
            detail: detail.into(),
        }
    }

    /// `Too long: may not be more than N bytes` (the value is never echoed).
    #[must_use]
    pub fn too_long(path: impl Into<String>, max_bytes: usize) -> Self {
        let unit = if max_bytes == 1 { "byte" } else { "bytes" };
        Self {
            path: path.into(),
            kind: FieldErrorKind::TooLong,
            value: None,
            detail: format!("may not be more than {max_bytes} {unit}"),
        }
    }

    /// `Too many: 5: must have at most 4 items`.
    #[must_use]
    pub fn too_many(path: impl Into<String>, actual: usize, max: usize) -> Self {
        let unit = if max == 1 { "item" } else { "items" };
        Self {
            path: path.into(),
            kind: FieldErrorKind::TooMany,
            value: Some(actual.to_string()),
            detail: format!("must have at most {max} {unit}"),
        }
    }

    /// The `Status` cause reason for this error, e.g. `FieldValueRequired`.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        self.kind.reason()
    }

    /// The message without the path (apimachinery's `ErrorBody`), e.g. `Invalid value: "Foo_": …`.
    /// kube-apiserver puts this in `Status.details.causes[].message`, next to `field`.
    #[must_use]
    pub fn body(&self) -> String {
        let mut body = self.kind.label().to_owned();
        if self.kind.shows_value()
            && let Some(value) = &self.value
        {
            body.push_str(": ");
            body.push_str(value);
        }
        if !self.detail.is_empty() {
            body.push_str(": ");
            body.push_str(&self.detail);
        }
        body
    }

    /// The full message, `path: body`, e.g. `metadata.name: Required value: name or generateName is
    /// required`. This is what `Status.message` aggregates.
    #[must_use]
    pub fn message(&self) -> String {
        format!("{}: {}", self.path, self.body())
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for FieldError {}

/// Joins error messages the way apimachinery's `ErrorList.ToAggregate().Error()` does: duplicates dropped,
/// one message bare, several as `[a, b]`, none as the empty string.
///
/// `Status.message` of a 422 is `<Kind.group> "<name>" is invalid: <this>`.
#[must_use]
pub fn aggregate_messages(errors: &[FieldError]) -> String {
    let mut seen = HashSet::new();
    let unique: Vec<String> = errors
        .iter()
        .map(FieldError::message)
        .filter(|m| seen.insert(m.clone()))
        .collect();
    match unique.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// Quotes `s` as Go's `strconv.Quote` does (`%q`): double quotes, `\"` and `\\`, C escapes for control
/// characters, `\u`/`\U` for other non-printable characters.
///
/// Go's notion of "printable" is Unicode's graphic categories plus the ASCII space; here it is
/// approximated by "not a control character, not a non-ASCII space, not a common format or private-use
/// character", which agrees for everything a Kubernetes name or label can contain.
#[must_use]
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0B}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7F}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    let format_char = matches!(c,
        '\u{AD}' | '\u{600}'..='\u{605}' | '\u{61C}' | '\u{6DD}' | '\u{70F}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E000}'..='\u{F8FF}' | '\u{E0001}' | '\u{E0020}'..='\u{E007F}' | '\u{F0000}'..);
    !c.is_control() && !c.is_whitespace() && !format_char
}

/// Renders a bad value as apimachinery's `ErrorBody` does: strings with `%q`, numbers and booleans with
/// `%v`, everything else through `json.Marshal` (which escapes `<`, `>`, `&`, U+2028 and U+2029).
fn render_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => go_quote(s),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        other => {
            let json = other.to_string();
            let mut out = String::with_capacity(json.len());
            for c in json.chars() {
                match c {
                    '<' => out.push_str("\\u003c"),
                    '>' => out.push_str("\\u003e"),
                    '&' => out.push_str("\\u0026"),
                    '\u{2028}' => out.push_str("\\u2028"),
                    '\u{2029}' => out.push_str("\\u2029"),
                    c => out.push(c),
                }
            }
            out
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// String checks (apimachinery/pkg/util/validation)
// ---------------------------------------------------------------------------------------------------------

fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

fn empty_error() -> &'static str {
    "must be non-empty"
}

/// apimachinery's `RegexError`: `msg (e.g. 'a',  or 'b', regex used for validation is 'fmt')`. The double
/// space after each example but the last is Kubernetes' own and is kept.
fn regex_error(msg: &str, regex: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{regex}')");
    }
    let mut out = format!("{msg} (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push('\'');
        out.push_str(example);
        out.push_str("', ");
    }
    out.push_str("regex used for validation is '");
    out.push_str(regex);
    out.push_str("')");
    out
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn matches_dns1123_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            alnum(first) && alnum(last) && bytes.iter().all(|&b| alnum(b) || b == b'-')
        }
        _ => false,
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`
fn matches_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(matches_dns1123_label)
}

/// `[a-z]([-a-z0-9]*[a-z0-9])?`
fn matches_dns1035_label(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_lowercase) && matches_dns1123_label(s)
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn matches_qualified_name_part(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// Checks a DNS-1123 subdomain (`example.com`): at most 253 characters of lowercase alphanumerics, `-`
/// and `.`, each dot-separated part starting and ending with an alphanumeric. Returns Kubernetes'
/// complaints; empty means valid.
#[must_use]
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !matches_dns1123_subdomain(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// Checks a DNS-1123 label (`my-name`, `123-abc`): at most 63 lowercase alphanumerics or `-`, starting and
/// ending with an alphanumeric. A valid subdomain with dots gets `must not contain dots`.
#[must_use]
pub fn is_dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns1123_label(value) {
        if matches_dns1123_subdomain(value) {
            // A valid subdomain but not a label: the length is already reported, so it must be the dots.
            errs.push("must not contain dots".to_owned());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_ERR_MSG,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// Checks a DNS-1035 label (`my-name`, `abc-123`): like a DNS-1123 label but starting with a letter.
#[must_use]
pub fn is_dns1035_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1035_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1035_LABEL_MAX_LENGTH));
    }
    if !matches_dns1035_label(value) {
        errs.push(regex_error(
            DNS1035_LABEL_ERR_MSG,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// Checks a qualified name — the syntax of label keys, annotation keys and finalizers: an optional
/// DNS-1123 subdomain prefix and `/`, then a name of at most 63 alphanumerics, `-`, `_` or `.` that starts
/// and ends with an alphanumeric (`MyName`, `my.name`, `example.com/MyName`).
#[must_use]
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let name = match value.split_once('/') {
        None => value,
        Some((_, rest)) if rest.contains('/') => {
            errs.push(format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_ERR_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
        Some((prefix, name)) => {
            if prefix.is_empty() {
                errs.push(format!("prefix part {}", empty_error()));
            } else {
                errs.extend(
                    is_dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|msg| format!("prefix part {msg}")),
                );
            }
            name
        }
    };
    if name.is_empty() {
        errs.push(format!("name part {}", empty_error()));
    } else if name.len() > QUALIFIED_NAME_MAX_LENGTH {
        errs.push(format!("name part {}", max_len_error(QUALIFIED_NAME_MAX_LENGTH)));
    }
    if !matches_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_ERR_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// Checks a label value: empty, or at most 63 alphanumerics, `-`, `_` or `.` that start and end with an
/// alphanumeric.
#[must_use]
pub fn is_valid_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(max_len_error(LABEL_VALUE_MAX_LENGTH));
    }
    if !value.is_empty() && !matches_qualified_name_part(value) {
        errs.push(regex_error(
            LABEL_VALUE_ERR_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// Checks a name that only has to be usable as one URL path segment: not `.` or `..`, no `/`, no `%`.
#[must_use]
pub fn is_valid_path_segment_name(value: &str) -> Vec<String> {
    if value == "." || value == ".." {
        return vec![format!("may not be '{value}'")];
    }
    is_valid_path_segment_prefix(value)
}

fn is_valid_path_segment_prefix(value: &str) -> Vec<String> {
    ["/", "%"]
        .into_iter()
        .filter(|illegal| value.contains(illegal))
        .map(|illegal| format!("may not contain '{illegal}'"))
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// Object metadata
// ---------------------------------------------------------------------------------------------------------

/// Which syntax a kind's `metadata.name` must follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameRule {
    /// [`is_dns1123_subdomain`]: most kinds (ConfigMap, Deployment, Secret, …).
    Dns1123Subdomain,
    /// [`is_dns1123_label`]: Namespace.
    Dns1123Label,
    /// [`is_dns1035_label`]: Service, federation Cluster.
    Dns1035Label,
    /// [`is_valid_path_segment_name`]: kinds whose names may be almost anything (RBAC roles and bindings).
    PathSegment,
}

impl NameRule {
    /// Checks `name` against this rule. With `is_prefix` (a `generateName`), the name is a prefix that
    /// random characters will follow, so a trailing `-` is allowed and `.`/`..` are not special.
    #[must_use]
    pub fn check(self, name: &str, is_prefix: bool) -> Vec<String> {
        let masked;
        let name = if is_prefix && !matches!(self, Self::PathSegment) {
            masked = mask_trailing_dash(name);
            masked.as_str()
        } else {
            name
        };
        match self {
            Self::Dns1123Subdomain => is_dns1123_subdomain(name),
            Self::Dns1123Label => is_dns1123_label(name),
            Self::Dns1035Label => is_dns1035_label(name),
            Self::PathSegment if is_prefix => is_valid_path_segment_prefix(name),
            Self::PathSegment => is_valid_path_segment_name(name),
        }
    }
}

/// apimachinery's `maskTrailingDash`: a `generateName` may end in `-`, so the tail is replaced by an
/// alphanumeric before checking. Kubernetes drops the last **two** bytes and appends `a`; kept as is.
fn mask_trailing_dash(name: &str) -> String {
    match name.len().checked_sub(2).and_then(|end| name.get(..end)) {
        Some(head) if name.ends_with('-') => format!("{head}a"),
        _ => name.to_owned(),
    }
}

/// Validates an object's metadata on creation, as kube-apiserver's `ValidateObjectMeta` does, with paths
/// under `metadata.`. Expects name generation to have happened already (an empty `name` is an error even
/// when `generateName` is set).
///
/// Checks: `generateName` and `name` against `name_rule`; `namespace` required and a DNS-1123 label when
/// `namespaced`, forbidden otherwise; `generation` not negative; label keys and values; annotation keys
/// (qualified names, case-insensitive) and their total size; owner references (apiVersion, kind, name,
/// uid present; at most one controller); finalizers (qualified names, or one of the standard unprefixed
/// `kubernetes`, `orphan`, `foregroundDeletion`; not both `orphan` and `foregroundDeletion`); managed fields
/// (operation `Apply` or `Update`, fieldsType `FieldsV1`).
#[must_use]
pub fn validate_object_meta(meta: &ObjectMeta, namespaced: bool, name_rule: NameRule) -> Vec<FieldError> {
    let mut errs = Vec::new();

    if let Some(generate_name) = meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
        for msg in name_rule.check(generate_name, true) {
            errs.push(FieldError::invalid(
                "metadata.generateName",
                Some(generate_name),
                msg,
            ));
        }
    }
    match meta.name.as_deref().filter(|n| !n.is_empty()) {
        None => errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        )),
        Some(name) => {
            for msg in name_rule.check(name, false) {
                errs.push(FieldError::invalid("metadata.name", Some(name), msg));
            }
        }
    }

    let namespace = meta.namespace.as_deref().filter(|ns| !ns.is_empty());
    match (namespaced, namespace) {
        (true, None) => errs.push(FieldError::required("metadata.namespace", "")),
        (true, Some(ns)) => {
            for msg in is_dns1123_label(ns) {
                errs.push(FieldError::invalid("metadata.namespace", Some(ns), msg));
            }
        }
        (false, Some(_)) => errs.push(FieldError::forbidden(
            "metadata.namespace",
            "not allowed on this type",
        )),
        (false, None) => {}
    }

    if let Some(generation) = meta.generation.filter(|g| *g < 0) {
        errs.push(FieldError::invalid_value(
            "metadata.generation",
            generation,
            "must be greater than or equal to 0",
        ));
    }

    if let Some(labels) = &meta.labels {
        errs.extend(validate_labels(labels, "metadata.labels"));
    }
    if let Some(annotations) = &meta.annotations {
        errs.extend(validate_annotations(annotations, "metadata.annotations"));
    }
    if let Some(owners) = &meta.owner_references {
        errs.extend(validate_owner_references(owners, "metadata.ownerReferences"));
    }
    if let Some(finalizers) = &meta.finalizers {
        errs.extend(validate_finalizers(finalizers, "metadata.finalizers"));
    }
    if let Some(managed_fields) = &meta.managed_fields {
        errs.extend(validate_managed_fields(managed_fields, "metadata.managedFields"));
    }
    errs
}

/// Validates label keys (qualified names) and values; every error is reported at `path` itself, with the
/// offending key or value as the value, as Kubernetes does.
#[must_use]
pub fn validate_labels(labels: &BTreeMap<String, String>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (key, value) in labels {
        for msg in is_qualified_name(key) {
            errs.push(FieldError::invalid(path, Some(key), msg));
        }
        for msg in is_valid_label_value(value) {
            errs.push(FieldError::invalid(path, Some(value), msg));
        }
    }
    errs
}

/// Validates annotation keys (qualified names, checked in lower case) and the total size of keys plus
/// values (at most [`TOTAL_ANNOTATION_SIZE_LIMIT_BYTES`]).
#[must_use]
pub fn validate_annotations(annotations: &BTreeMap<String, String>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for key in annotations.keys() {
        for msg in is_qualified_name(&key.to_lowercase()) {
            errs.push(FieldError::invalid(path, Some(key), msg));
        }
    }
    let total: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT_BYTES));
    }
    errs
}

/// Validates finalizer names: a qualified name, and unprefixed names only from the standard set
/// (`kubernetes`, `orphan`, `foregroundDeletion`); `orphan` and `foregroundDeletion` are exclusive.
#[must_use]
pub fn validate_finalizers(finalizers: &[String], path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for finalizer in finalizers {
        for msg in is_qualified_name(finalizer) {
            errs.push(FieldError::invalid(path, Some(finalizer), msg));
        }
        if !finalizer.contains('/') && !STANDARD_FINALIZERS.contains(&finalizer.as_str()) {
            errs.push(FieldError::invalid(
                path,
                Some(finalizer),
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    let has = |name: &str| finalizers.iter().any(|f| f == name);
    if has("orphan") && has("foregroundDeletion") {
        errs.push(FieldError::invalid_value(
            path,
            finalizers.to_vec(),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

fn validate_owner_references(owners: &[OwnerReference], path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut first_controller: Option<String> = None;
    for owner in owners {
        if api_version_version(&owner.api_version).is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.apiVersion"),
                Some(&owner.api_version),
                "version must not be empty",
            ));
        }
        if owner.kind.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.kind"),
                Some(&owner.kind),
                "must not be empty",
            ));
        }
        if owner.name.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.name"),
                Some(&owner.name),
                "must not be empty",
            ));
        }
        if owner.uid.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.uid"),
                Some(&owner.uid),
                "must not be empty",
            ));
        }
        if owner.api_version == "v1" && owner.kind == "Event" {
            errs.push(FieldError::invalid_value(
                path,
                serde_json::to_value(owner).unwrap_or_default(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if owner.controller == Some(true) {
            let current = format!("{}/{}", owner.kind, owner.name);
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid_value(
                    path,
                    serde_json::to_value(owners).unwrap_or_default(),
                    format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for \
                         {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

/// The version part of an `apiVersion` (`v1` → `v1`, `apps/v1` → `v1`); empty when it cannot be parsed.
fn api_version_version(api_version: &str) -> &str {
    match api_version.split('/').collect::<Vec<_>>().as_slice() {
        [version] => version,
        [_, version] => version,
        _ => "",
    }
}

fn validate_managed_fields(entries: &[ManagedFieldsEntry], path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for entry in entries {
        let operation = entry.operation.as_deref().unwrap_or_default();
        if !matches!(operation, "Apply" | "Update") {
            errs.push(FieldError::invalid(
                format!("{path}.operation"),
                Some(operation),
                "must be `Apply` or `Update`",
            ));
        }
        if let Some(fields_type) = entry
            .fields_type
            .as_deref()
            .filter(|t| !t.is_empty() && *t != "FieldsV1")
        {
            errs.push(FieldError::invalid(
                format!("{path}.fieldsType"),
                Some(fields_type),
                "must be `FieldsV1`",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
        characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', \
        regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters \
        or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex \
        used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', \
        start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or \
        'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
    const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and \
        must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', \
        regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric \
        characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  \
        or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        }
    }

    fn messages(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(FieldError::message).collect()
    }

    #[test]
    fn dns1123_subdomain_accepts_kubernetes_good_values() {
        let long_label = "a".repeat(63);
        let longest = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61)
        );
        assert_eq!(longest.len(), 253);
        for good in [
            "a",
            "ab",
            "abc",
            "a1",
            "a-1",
            "a--1--2--b",
            "0",
            "01",
            "012",
            "1a",
            "1-a",
            "1--a--b--2",
            "a.a",
            "ab.a",
            "abc.a",
            "a1.a",
            "a-1.a",
            "a--1--2--b.a",
            "a.1",
            "ab.1",
            "0.a",
            "01.a",
            "1--a--b--2.0",
            "a.b.c.d.e",
            "aa.bb.cc.dd.ee",
            "1.2.3.4.5",
            &long_label,
            &longest,
        ] {
            assert!(is_dns1123_subdomain(good).is_empty(), "{good:?} should be valid");
        }
    }

    #[test]
    fn dns1123_subdomain_rejects_kubernetes_bad_values() {
        for bad in [
            "",
            "A",
            "ABC",
            "aBc",
            "A1",
            "A-1",
            "1-A",
            "-",
            "a-",
            "-a",
            "1-",
            "-1",
            "_",
            "a_",
            "_a",
            "a_b",
            "1_",
            "_1",
            "1_2",
            ".",
            "a.",
            ".a",
            "a..b",
            "1.",
            ".1",
            "1..2",
            " ",
            "a ",
            " a",
            "a b",
            "1 ",
            " 1",
            "1 2",
            "A.a",
            "aB.a",
            "ab.A",
            "A1.a",
            "a1.A",
            "A.1",
            "aB.1",
            "A1.1",
            "1A.1",
            "0.A",
            "01.A",
            "012.A",
            "1A.a",
            "1a.A",
            "A.B.C.D.E",
            "AA.BB.CC.DD.EE",
            "a.B.c.d.e",
            "aa.bB.cc.dd.ee",
            "a@b",
            "a,b",
            "a_b",
            "a;b",
            "a:b",
            "a%b",
            "a?b",
            "a$b",
        ] {
            assert!(!is_dns1123_subdomain(bad).is_empty(), "{bad:?} should be invalid");
        }
        assert_eq!(is_dns1123_subdomain("Foo_"), vec![SUBDOMAIN_MSG]);
        let too_long = "a".repeat(254);
        assert_eq!(
            is_dns1123_subdomain(&too_long),
            vec!["must be no more than 253 characters"]
        );
    }

    #[test]
    fn dns1123_label_checks_length_charset_and_dots() {
        for good in [
            "a",
            "ab",
            "abc",
            "a1",
            "a-1",
            "a--1--2--b",
            "0",
            "01",
            "012",
            "1a",
            "1-a",
            "1--a--b--2",
        ] {
            assert!(is_dns1123_label(good).is_empty(), "{good:?} should be valid");
        }
        assert!(is_dns1123_label(&"a".repeat(63)).is_empty());
        for bad in [
            "", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1", "_", "a_", "_a", "a b",
        ] {
            assert_eq!(is_dns1123_label(bad), vec![LABEL_MSG], "{bad:?}");
        }
        assert_eq!(is_dns1123_label("a.b"), vec!["must not contain dots"]);
        assert_eq!(
            is_dns1123_label(&"a".repeat(64)),
            vec!["must be no more than 63 characters"],
            "too long but otherwise well-formed"
        );
    }

    #[test]
    fn dns1035_label_must_start_with_a_letter() {
        for good in ["a", "ab", "abc", "a1", "a-1", "a--1--2--b"] {
            assert!(is_dns1035_label(good).is_empty(), "{good:?} should be valid");
        }
        assert!(is_dns1035_label(&"a".repeat(63)).is_empty());
        for bad in [
            "0",
            "01",
            "012",
            "1a",
            "1-a",
            "1--a--b--2",
            "",
            "A",
            "aBc",
            "-",
            "a-",
            "-a",
            "a_b",
            "a.b",
        ] {
            assert_eq!(is_dns1035_label(bad), vec![DNS1035_MSG], "{bad:?}");
        }
        assert_eq!(
            is_dns1035_label(&"a".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
    }

    #[test]
    fn qualified_names_follow_apimachinery() {
        let max_prefix = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61)
        );
        for good in [
            "simple",
            "now-with-dashes",
            "1-starts-with-num",
            "1234",
            "simple/simple",
            "now-with-dashes/simple",
            "now-with-dashes/now-with-dashes",
            "now.with.dots/simple",
            "now-with.dashes-and.dots/simple",
            "1-num.2-num/3-num",
            "1234/5678",
            "1.2.3.4/5678",
            "Uppercase_Is_OK_123",
            "example.com/Uppercase_Is_OK_123",
            "requests.storage-foo",
            &"a".repeat(63),
            &format!("{max_prefix}/{}", "b".repeat(63)),
        ] {
            assert!(
                is_qualified_name(good).is_empty(),
                "{good:?} should be valid: {:?}",
                is_qualified_name(good)
            );
        }
        for bad in [
            "nospecialchars%^=@",
            "cantendwithadash-",
            "-cantstartwithadash-",
            "only/one/slash",
            "Example.com/abc",
            "example_com/abc",
            "example.com/",
            "/simple",
            &"a".repeat(64),
            &format!("{}/b", "a".repeat(254)),
        ] {
            assert!(!is_qualified_name(bad).is_empty(), "{bad:?} should be invalid");
        }
        assert_eq!(is_qualified_name("a b"), vec![NAME_PART_MSG]);
        assert_eq!(
            is_qualified_name(""),
            vec!["name part must be non-empty".to_owned(), NAME_PART_MSG.to_owned()]
        );
        assert_eq!(
            is_qualified_name("/simple"),
            vec!["prefix part must be non-empty"],
            "an empty prefix is reported alone"
        );
        assert_eq!(
            is_qualified_name("Example.com/abc"),
            vec![format!("prefix part {SUBDOMAIN_MSG}")],
            "the prefix is a lowercase subdomain"
        );
        assert_eq!(
            is_qualified_name("a/b/c"),
            vec![
                "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and \
                 end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for \
                 validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix \
                 and '/' (e.g. 'example.com/MyName')"
            ]
        );
        assert_eq!(
            is_qualified_name(&"a".repeat(64)),
            vec!["name part must be no more than 63 characters"],
            "only the length is wrong"
        );
    }

    #[test]
    fn label_values_may_be_empty() {
        for good in [
            "simple",
            "now-with-dashes",
            "1-starts-with-num",
            "end-with-num-1",
            "1234",
            "",
            "A.B_C-D",
            &"a".repeat(63),
        ] {
            assert!(is_valid_label_value(good).is_empty(), "{good:?} should be valid");
        }
        for bad in [
            "nospecialchars%^=@",
            "Tama-nui-te-rā.is.Māori.sun",
            "\\backslashes\\are\\bad",
            "-starts-with-dash",
            "ends-with-dash-",
            ".starts.with.dot",
            "ends.with.dot.",
            "a b",
        ] {
            assert_eq!(is_valid_label_value(bad), vec![LABEL_VALUE_MSG], "{bad:?}");
        }
        assert_eq!(
            is_valid_label_value(&"a".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
    }

    #[test]
    fn path_segment_names() {
        assert!(is_valid_path_segment_name("system:controller:x").is_empty());
        assert!(is_valid_path_segment_name("Anything_goes.here").is_empty());
        assert_eq!(is_valid_path_segment_name("."), vec!["may not be '.'"]);
        assert_eq!(is_valid_path_segment_name(".."), vec!["may not be '..'"]);
        assert_eq!(
            is_valid_path_segment_name("a/b%c"),
            vec!["may not contain '/'", "may not contain '%'"]
        );
        assert!(
            NameRule::PathSegment.check("..", true).is_empty(),
            "a prefix may be '..'"
        );
    }

    #[test]
    fn generate_name_may_end_with_a_dash() {
        assert!(NameRule::Dns1123Subdomain.check("web-", true).is_empty());
        assert!(NameRule::Dns1123Label.check("web-", true).is_empty());
        assert!(NameRule::Dns1035Label.check("c-", true).is_empty());
        assert!(!NameRule::Dns1123Subdomain.check("web-", false).is_empty());
        assert!(!NameRule::Dns1123Subdomain.check("Web-", true).is_empty());
        // Kubernetes masks two bytes ("a-" → "a"), so a one-letter prefix plus dash is fine too.
        assert!(NameRule::Dns1035Label.check("a-", true).is_empty());
        assert!(!NameRule::Dns1035Label.check("-", true).is_empty());
    }

    #[test]
    fn field_error_messages_match_apimachinery() {
        let invalid = FieldError::invalid(
            "metadata.name",
            Some("Foo_"),
            is_dns1123_subdomain("Foo_").remove(0),
        );
        assert_eq!(
            invalid.message(),
            format!("metadata.name: Invalid value: \"Foo_\": {SUBDOMAIN_MSG}")
        );
        assert_eq!(invalid.reason(), "FieldValueInvalid");
        assert_eq!(
            FieldError::required("spec.selector", "").message(),
            "spec.selector: Required value"
        );
        assert_eq!(
            FieldError::required("metadata.name", "name or generateName is required").message(),
            "metadata.name: Required value: name or generateName is required"
        );
        assert_eq!(
            FieldError::forbidden("metadata.namespace", "not allowed on this type").message(),
            "metadata.namespace: Forbidden: not allowed on this type"
        );
        assert_eq!(
            FieldError::too_long("metadata.annotations", 262_144).message(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
        assert_eq!(FieldError::too_long("x", 1).detail, "may not be more than 1 byte");
        assert_eq!(
            FieldError::too_many("spec.items", 5, 4).message(),
            "spec.items: Too many: 5: must have at most 4 items"
        );
        assert_eq!(
            FieldError::duplicate("spec.ports[1].name", "http").message(),
            "spec.ports[1].name: Duplicate value: \"http\""
        );
        assert_eq!(
            FieldError::not_supported("spec.type", "Weird", &["ClusterIP", "NodePort"]).message(),
            "spec.type: Unsupported value: \"Weird\": supported values: \"ClusterIP\", \"NodePort\""
        );
        assert_eq!(
            FieldError::invalid_value("spec.replicas", -1, "must be greater than or equal to 0").message(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(
            FieldError::invalid_value("x", true, "").body(),
            "Invalid value: true"
        );
        assert_eq!(
            FieldError::invalid_value("x", vec!["a", "b"], "d").body(),
            "Invalid value: [\"a\",\"b\"]: d"
        );
        assert_eq!(
            FieldError::invalid_value("x", serde_json::Value::Null, "d").body(),
            "Invalid value: null: d"
        );
        assert_eq!(
            FieldError::invalid_value("x", vec!["<&>"], "").body(),
            "Invalid value: [\"\\u003c\\u0026\\u003e\"]"
        );
        assert_eq!(
            FieldError::invalid("", None, "bad body").message(),
            ": Invalid value: bad body"
        );
    }

    #[test]
    fn every_kind_has_its_reason() {
        let reasons = [
            (FieldErrorKind::Required, "FieldValueRequired"),
            (FieldErrorKind::Invalid, "FieldValueInvalid"),
            (FieldErrorKind::Duplicate, "FieldValueDuplicate"),
            (FieldErrorKind::NotSupported, "FieldValueNotSupported"),
            (FieldErrorKind::TooLong, "FieldValueTooLong"),
            (FieldErrorKind::Forbidden, "FieldValueForbidden"),
            (FieldErrorKind::TooMany, "FieldValueTooMany"),
        ];
        for (kind, reason) in reasons {
            assert_eq!(kind.reason(), reason);
        }
    }

    #[test]
    fn go_quote_escapes_like_strconv_quote() {
        assert_eq!(go_quote("plain"), "\"plain\"");
        assert_eq!(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(go_quote("tab\tnl\ncr\r"), "\"tab\\tnl\\ncr\\r\"");
        assert_eq!(go_quote("\u{0}\u{1b}\u{7f}"), "\"\\x00\\x1b\\x7f\"");
        assert_eq!(go_quote("Māori ☃"), "\"Māori ☃\"");
        assert_eq!(go_quote("\u{a0}\u{200b}"), "\"\\u00a0\\u200b\"");
        assert_eq!(go_quote("\u{e0001}"), "\"\\U000e0001\"");
    }

    #[test]
    fn aggregate_deduplicates_and_brackets() {
        let a = FieldError::required("a", "");
        let b = FieldError::required("b", "");
        assert_eq!(aggregate_messages(&[]), "");
        assert_eq!(aggregate_messages(std::slice::from_ref(&a)), "a: Required value");
        assert_eq!(
            aggregate_messages(&[a.clone(), b, a]),
            "[a: Required value, b: Required value]"
        );
    }

    #[test]
    fn object_meta_requires_a_name() {
        let errors = validate_object_meta(&ObjectMeta::default(), false, NameRule::Dns1123Subdomain);
        assert_eq!(
            messages(&errors),
            vec!["metadata.name: Required value: name or generateName is required"]
        );
        assert_eq!(errors[0].reason(), "FieldValueRequired");
    }

    #[test]
    fn object_meta_applies_the_name_rule() {
        assert!(validate_object_meta(&meta("a.b"), false, NameRule::Dns1123Subdomain).is_empty());
        let errors = validate_object_meta(&meta("a.b"), false, NameRule::Dns1035Label);
        assert_eq!(
            messages(&errors),
            vec![format!("metadata.name: Invalid value: \"a.b\": {DNS1035_MSG}")]
        );
        let errors = validate_object_meta(&meta("Foo_"), false, NameRule::Dns1123Subdomain);
        assert_eq!(
            messages(&errors),
            vec![format!("metadata.name: Invalid value: \"Foo_\": {SUBDOMAIN_MSG}")]
        );
        assert!(validate_object_meta(&meta("system:admin"), false, NameRule::PathSegment).is_empty());
    }

    #[test]
    fn object_meta_checks_generate_name_as_a_prefix() {
        let mut m = meta("web-x7k2p");
        m.generate_name = Some("web-".to_owned());
        assert!(validate_object_meta(&m, false, NameRule::Dns1123Subdomain).is_empty());
        m.generate_name = Some("Web_".to_owned());
        let errors = validate_object_meta(&m, false, NameRule::Dns1123Subdomain);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "metadata.generateName");
    }

    #[test]
    fn object_meta_namespace_depends_on_scope() {
        let errors = validate_object_meta(&meta("x"), true, NameRule::Dns1123Subdomain);
        assert_eq!(messages(&errors), vec!["metadata.namespace: Required value"]);

        let mut m = meta("x");
        m.namespace = Some("Bad.NS".to_owned());
        let errors = validate_object_meta(&m, true, NameRule::Dns1123Subdomain);
        assert_eq!(
            messages(&errors),
            vec![format!(
                "metadata.namespace: Invalid value: \"Bad.NS\": {LABEL_MSG}"
            )]
        );

        m.namespace = Some("default".to_owned());
        assert!(validate_object_meta(&m, true, NameRule::Dns1123Subdomain).is_empty());
        let errors = validate_object_meta(&m, false, NameRule::Dns1123Subdomain);
        assert_eq!(
            messages(&errors),
            vec!["metadata.namespace: Forbidden: not allowed on this type"]
        );
        assert_eq!(errors[0].reason(), "FieldValueForbidden");
    }

    #[test]
    fn object_meta_rejects_negative_generation() {
        let mut m = meta("x");
        m.generation = Some(-1);
        assert_eq!(
            messages(&validate_object_meta(&m, false, NameRule::Dns1123Subdomain)),
            vec!["metadata.generation: Invalid value: -1: must be greater than or equal to 0"]
        );
    }

    #[test]
    fn object_meta_validates_labels() {
        let mut m = meta("x");
        m.labels = Some(BTreeMap::from([
            ("app".to_owned(), "web".to_owned()),
            ("example.com/tier".to_owned(), String::new()),
            ("bad key".to_owned(), "ok".to_owned()),
            ("k".to_owned(), "-bad".to_owned()),
        ]));
        let errors = validate_object_meta(&m, false, NameRule::Dns1123Subdomain);
        assert_eq!(
            messages(&errors),
            vec![
                format!("metadata.labels: Invalid value: \"bad key\": {NAME_PART_MSG}"),
                format!("metadata.labels: Invalid value: \"-bad\": {LABEL_VALUE_MSG}"),
            ]
        );
    }

    #[test]
    fn object_meta_validates_annotation_keys_case_insensitively_and_total_size() {
        let mut m = meta("x");
        m.annotations = Some(BTreeMap::from([
            ("Example.COM/Thing".to_owned(), "v".to_owned()),
            (
                "kubectl.kubernetes.io/last-applied-configuration".to_owned(),
                "{\"any\": \"thing\"}".to_owned(),
            ),
        ]));
        assert!(validate_object_meta(&m, false, NameRule::Dns1123Subdomain).is_empty());

        m.annotations = Some(BTreeMap::from([("a/b/c".to_owned(), String::new())]));
        let errors = validate_object_meta(&m, false, NameRule::Dns1123Subdomain);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "metadata.annotations");

        // Exactly at the limit is fine; one byte more is not.
        let key = "k".to_owned();
        m.annotations = Some(BTreeMap::from([(
            key.clone(),
            "v".repeat(TOTAL_ANNOTATION_SIZE_LIMIT_BYTES - 1),
        )]));
        assert!(validate_object_meta(&m, false, NameRule::Dns1123Subdomain).is_empty());
        m.annotations = Some(BTreeMap::from([(
            key,
            "v".repeat(TOTAL_ANNOTATION_SIZE_LIMIT_BYTES),
        )]));
        let errors = validate_object_meta(&m, false, NameRule::Dns1123Subdomain);
        assert_eq!(
            messages(&errors),
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
        assert_eq!(errors[0].reason(), "FieldValueTooLong");
    }

    #[test]
    fn object_meta_validates_finalizers() {
        let mut m = meta("x");
        m.finalizers = Some(
            [
                "kubernetes",
                "orphan",
                "federation.kubernetes.io/delete-from-underlying-clusters",
            ]
            .map(str::to_owned)
            .to_vec(),
        );
        assert!(validate_object_meta(&m, false, NameRule::Dns1123Subdomain).is_empty());

        m.finalizers = Some(vec!["custom".to_owned(), "a/b/c".to_owned()]);
        let errors = validate_object_meta(&m, false, NameRule::Dns1123Subdomain);
        assert_eq!(errors.len(), 2);
        assert_eq!(
            errors[0].message(),
            "metadata.finalizers: Invalid value: \"custom\": name is neither a standard finalizer name nor is it \
             fully qualified"
        );
        assert!(
            errors[1]
                .message()
                .starts_with("metadata.finalizers: Invalid value: \"a/b/c\": a valid label key")
        );

        m.finalizers = Some(vec!["orphan".to_owned(), "foregroundDeletion".to_owned()]);
        assert_eq!(
            messages(&validate_object_meta(&m, false, NameRule::Dns1123Subdomain)),
            vec![
                "metadata.finalizers: Invalid value: [\"orphan\",\"foregroundDeletion\"]: finalizer orphan and \
                 foregroundDeletion cannot be both set"
            ]
        );
    }

    #[test]
    fn object_meta_validates_owner_references() {
        let owner = |api_version: &str, kind: &str, name: &str, uid: &str, controller: bool| OwnerReference {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            name: name.to_owned(),
            uid: uid.to_owned(),
            controller: Some(controller),
            block_owner_deletion: None,
        };
        let mut m = meta("x");
        m.owner_references = Some(vec![owner("apps/v1", "ReplicaSet", "rs", "u1", true)]);
        assert!(validate_object_meta(&m, false, NameRule::Dns1123Subdomain).is_empty());

        m.owner_references = Some(vec![owner("apps/", "", "", "", false)]);
        assert_eq!(
            messages(&validate_object_meta(&m, false, NameRule::Dns1123Subdomain)),
            vec![
                "metadata.ownerReferences.apiVersion: Invalid value: \"apps/\": version must not be empty",
                "metadata.ownerReferences.kind: Invalid value: \"\": must not be empty",
                "metadata.ownerReferences.name: Invalid value: \"\": must not be empty",
                "metadata.ownerReferences.uid: Invalid value: \"\": must not be empty",
            ]
        );

        m.owner_references = Some(vec![
            owner("apps/v1", "ReplicaSet", "a", "u1", true),
            owner("apps/v1", "ReplicaSet", "b", "u2", true),
        ]);
        let errors = validate_object_meta(&m, false, NameRule::Dns1123Subdomain);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "metadata.ownerReferences");
        assert!(
            errors[0]
                .value
                .as_deref()
                .is_some_and(|v| v.starts_with("[{\"apiVersion\":\"apps/v1\""))
        );
        assert_eq!(
            errors[0].detail,
            "Only one reference can have Controller set to true. Found \"true\" in references for ReplicaSet/a \
             and ReplicaSet/b"
        );

        m.owner_references = Some(vec![owner("v1", "Event", "e", "u", false)]);
        let errors = validate_object_meta(&m, false, NameRule::Dns1123Subdomain);
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].detail,
            "/v1, Kind=Event is disallowed from being an owner"
        );
    }

    #[test]
    fn object_meta_validates_managed_fields() {
        let mut m = meta("x");
        m.managed_fields = Some(vec![
            ManagedFieldsEntry {
                operation: Some("Apply".to_owned()),
                fields_type: Some("FieldsV1".to_owned()),
                ..ManagedFieldsEntry::default()
            },
            ManagedFieldsEntry {
                operation: Some("Patch".to_owned()),
                fields_type: Some("FieldsV2".to_owned()),
                ..ManagedFieldsEntry::default()
            },
        ]);
        assert_eq!(
            messages(&validate_object_meta(&m, false, NameRule::Dns1123Subdomain)),
            vec![
                "metadata.managedFields.operation: Invalid value: \"Patch\": must be `Apply` or `Update`",
                "metadata.managedFields.fieldsType: Invalid value: \"FieldsV2\": must be `FieldsV1`",
            ]
        );
    }
}
