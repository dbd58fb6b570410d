//! Authentication: who sent a request, from the credentials kube-apiserver accepts, tried in its order:
//! basic auth (`--basic-auth-file`), the verified x509 client certificate (`--client-ca-file`; CommonName =
//! user, Organizations = groups), bearer tokens (`--token-auth-file`), then — only for requests that carry no
//! credentials at all — the anonymous user when `--anonymous-auth` is on.
//!
//! A request whose credentials are present but wrong is rejected (401), even with anonymous access on, and
//! the client is never told which part was wrong. Every authenticated user is also in
//! `system:authenticated`.

use std::{collections::HashMap, path::Path};

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{ANONYMOUS_USER, SYSTEM_AUTHENTICATED, SYSTEM_UNAUTHENTICATED, UserInfo};
use crate::serving::ClientCertificate;

/// Why a credentials file cannot be used; one line naming the file, the line and the cause (never the
/// secret itself).
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct CredentialsFileError {
    file: String,
    message: String,
}

/// The configured authenticators.
#[derive(Default)]
pub struct Authenticator {
    /// Users of `--token-auth-file`, by the SHA-256 of their token.
    tokens: HashMap<[u8; 32], UserInfo>,
    /// Users of `--basic-auth-file`, by name: the SHA-256 of the password and the user.
    passwords: HashMap<String, ([u8; 32], UserInfo)>,
    /// Whether client certificates identify users (the TLS layer verified them against `--client-ca-file`).
    client_certificates: bool,
    /// Whether requests without credentials are `system:anonymous`.
    anonymous: bool,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Counts only: tokens and password hashes stay out of logs.
        f.debug_struct("Authenticator")
            .field("tokens", &self.tokens.len())
            .field("passwords", &self.passwords.len())
            .field("client_certificates", &self.client_certificates)
            .field("anonymous", &self.anonymous)
            .finish()
    }
}

/// The outcome of authenticating a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authenticated {
    /// The request's user.
    User(UserInfo),
    /// Credentials were missing (and anonymous access is off) or wrong: 401.
    Unauthorized,
}

impl Authenticator {
    /// Reads the credential files the flags name.
    ///
    /// # Errors
    /// A file that cannot be read or has a malformed line.
    pub fn new(
        token_file: Option<&Path>,
        basic_auth_file: Option<&Path>,
        client_certificates: bool,
        anonymous: bool,
    ) -> Result<Self, CredentialsFileError> {
        let mut authenticator = Self {
            client_certificates,
            anonymous,
            ..Self::default()
        };
        if let Some(file) = token_file {
            for (token, user) in read_credentials(file)? {
                authenticator.tokens.insert(digest(&token), user);
            }
        }
        if let Some(file) = basic_auth_file {
            for (password, user) in read_credentials(file)? {
                authenticator
                    .passwords
                    .insert(user.name.clone(), (digest(&password), user));
            }
        }
        Ok(authenticator)
    }

    /// Whether any way of authenticating is configured (else every request is anonymous or refused).
    #[must_use]
    pub fn has_credentials(&self) -> bool {
        !self.tokens.is_empty() || !self.passwords.is_empty() || self.client_certificates
    }

    /// Who sent a request with these headers over a connection with this verified client certificate.
    #[must_use]
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        certificate: Option<&ClientCertificate>,
    ) -> Authenticated {
        let authorization = headers
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or_default().trim());
        let mut presented = false;
        // Basic auth first, as kube-apiserver orders its authenticators.
        if let Some(value) = authorization
            && let Some(encoded) = strip_scheme(value, "basic")
        {
            presented = true;
            if let Some(user) = self.basic(encoded) {
                return Authenticated::User(with_authenticated_group(user));
            }
        }
        if self.client_certificates
            && let Some(certificate) = certificate
            && !certificate.common_name.is_empty()
        {
            let groups: Vec<&str> = certificate.organizations.iter().map(String::as_str).collect();
            return Authenticated::User(with_authenticated_group(UserInfo::new(
                &certificate.common_name,
                "",
                &groups,
            )));
        }
        if let Some(value) = authorization
            && let Some(token) = strip_scheme(value, "bearer")
        {
            presented = true;
            if let Some(user) = self.tokens.get(&digest(token.trim())) {
                return Authenticated::User(with_authenticated_group(user.clone()));
            }
        }
        if authorization.is_some_and(|v| !v.is_empty()) {
            presented = true;
        }
        if !presented && self.anonymous {
            return Authenticated::User(UserInfo::new(ANONYMOUS_USER, "", &[SYSTEM_UNAUTHENTICATED]));
        }
        Authenticated::Unauthorized
    }

    /// The user of `Authorization: Basic <base64(user:password)>`, when the password matches.
    fn basic(&self, encoded: &str) -> Option<UserInfo> {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (name, password) = decoded.split_once(':')?;
        let (expected, user) = self.passwords.get(name)?;
        // Compared as fixed-size digests, so the time taken says nothing about the password.
        constant_time_eq(expected, &digest(password)).then(|| user.clone())
    }
}

/// `<scheme> <credentials>` with the scheme matched case-insensitively.
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (found, rest) = value.split_once(' ')?;
    found.eq_ignore_ascii_case(scheme).then_some(rest)
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Adds `system:authenticated` unless the user already has it.
fn with_authenticated_group(mut user: UserInfo) -> UserInfo {
    if !user.in_group(SYSTEM_AUTHENTICATED) {
        user.groups.push(SYSTEM_AUTHENTICATED.to_owned());
    }
    user
}

/// Reads a kube credentials CSV (`secret,user,uid[,"group1,group2"]`): one entry per line, blank lines and
/// lines starting with `#` skipped.
fn read_credentials(file: &Path) -> Result<Vec<(String, UserInfo)>, CredentialsFileError> {
    let error = |message: String| CredentialsFileError {
        file: file.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(file).map_err(|e| error(format!("cannot read: {e}")))?;
    parse_credentials(&text).map_err(error)
}

/// Parses the text of a credentials CSV; see [`read_credentials`].
fn parse_credentials(text: &str) -> Result<Vec<(String, UserInfo)>, String> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields = split_csv_line(trimmed).map_err(|e| format!("line {number}: {e}"))?;
        if fields.len() < 3 {
            return Err(format!(
                "line {number}: expected at least 3 columns (secret,user,uid[,groups]), found {}",
                fields.len()
            ));
        }
        if fields[0].is_empty() || fields[1].is_empty() {
            return Err(format!(
                "line {number}: the secret and the user name must not be empty"
            ));
        }
        let groups: Vec<String> = fields
            .get(3)
            .map(|g| {
                g.split(',')
                    .map(str::trim)
                    .filter(|g| !g.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let user = UserInfo {
            name: fields[1].clone(),
            uid: fields[2].clone(),
            groups,
            extra: std::collections::BTreeMap::new(),
        };
        entries.push((fields[0].clone(), user));
    }
    Ok(entries)
}

/// Splits one CSV line: fields separated by commas, optionally in double quotes (`""` is a quote inside a
/// quoted field); spaces before a field are dropped as Go's csv reader does with `TrimLeadingSpace`.
fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("unterminated quoted field".to_owned()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return Err("extra text after a quoted field".to_owned()),
            }
        } else {
            loop {
                match chars.next() {
                    Some(',') => {
                        fields.push(field);
                        break;
                    }
                    Some(c) => field.push(c),
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn authenticator(anonymous: bool) -> Authenticator {
        let mut a = Authenticator {
            anonymous,
            client_certificates: true,
            ..Authenticator::default()
        };
        for (token, user) in parse_credentials("tok-1,alice,1001,\"dev,ops\"\n").unwrap_or_default() {
            a.tokens.insert(digest(&token), user);
        }
        for (password, user) in parse_credentials("s3cret,bob,1002\n").unwrap_or_default() {
            a.passwords.insert(user.name.clone(), (digest(&password), user));
        }
        a
    }

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(authorization) {
            headers.insert(header::AUTHORIZATION, value);
        }
        headers
    }

    fn user(outcome: Authenticated) -> Option<UserInfo> {
        match outcome {
            Authenticated::User(user) => Some(user),
            Authenticated::Unauthorized => None,
        }
    }

    #[test]
    fn csv_lines_parse_like_kube() {
        let entries = parse_credentials("# comment\n\ntok,alice,1,\"a,b\"\n  other, bob ,2\nq,\"c,d\",3,g\n")
            .unwrap_or_default();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].1.groups, vec!["a", "b"]);
        assert_eq!(entries[1].0, "other");
        assert_eq!(entries[1].1.name, "bob ");
        assert_eq!(entries[2].1.name, "c,d");
        assert!(parse_credentials("tok,alice\n").is_err_and(|e| e.contains("line 1")));
        assert!(parse_credentials("\"tok,alice,1\n").is_err());
        assert!(parse_credentials(",alice,1\n").is_err());
    }

    #[test]
    fn each_method_yields_its_user_with_the_authenticated_group() {
        let a = authenticator(false);
        let alice = user(a.authenticate(&headers("Bearer tok-1"), None));
        assert_eq!(
            alice.map(|u| (u.name, u.uid, u.groups)),
            Some((
                "alice".to_owned(),
                "1001".to_owned(),
                vec![
                    "dev".to_owned(),
                    "ops".to_owned(),
                    SYSTEM_AUTHENTICATED.to_owned()
                ]
            ))
        );
        let basic = base64::engine::general_purpose::STANDARD.encode("bob:s3cret");
        let bob = user(a.authenticate(&headers(&format!("Basic {basic}")), None));
        assert_eq!(bob.map(|u| u.name), Some("bob".to_owned()));
        let certificate = ClientCertificate {
            common_name: "carol".to_owned(),
            organizations: vec!["system:masters".to_owned()],
        };
        let carol = user(a.authenticate(&HeaderMap::new(), Some(&certificate)));
        assert!(carol.is_some_and(|u| u.name == "carol" && u.is_superuser()));
    }

    #[test]
    fn wrong_or_missing_credentials_are_unauthorized_even_with_anonymous_on() {
        let closed = authenticator(false);
        assert_eq!(
            closed.authenticate(&HeaderMap::new(), None),
            Authenticated::Unauthorized
        );
        let open = authenticator(true);
        let anonymous = user(open.authenticate(&HeaderMap::new(), None));
        assert_eq!(
            anonymous.map(|u| (u.name, u.groups)),
            Some((ANONYMOUS_USER.to_owned(), vec![SYSTEM_UNAUTHENTICATED.to_owned()]))
        );
        for wrong in [
            "Bearer nope".to_owned(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("bob:wrong")
            ),
            "Basic !!!".to_owned(),
            "Negotiate xyz".to_owned(),
        ] {
            assert_eq!(
                open.authenticate(&headers(&wrong), None),
                Authenticated::Unauthorized,
                "{wrong}"
            );
        }
    }
}
