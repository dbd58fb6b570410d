//! Who is asking and what they may do: authentication ([`authn`]), the attributes of a request
//! ([`request_info`]), authorization ([`authz`], [`rbac`]), and the HTTP filter that applies them in
//! kube-apiserver's order ([`filter`]): authenticate (401) → limit in-flight requests (429) → authorize (403)
//! → serve → audit line.

pub mod authn;
pub mod authz;
pub mod filter;
pub mod rbac;
pub mod request_info;
pub mod reviews;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Group of every user with all rights, whatever the authorizer (kube's `system:masters`).
pub const SYSTEM_MASTERS: &str = "system:masters";
/// Group every authenticated user is in.
pub const SYSTEM_AUTHENTICATED: &str = "system:authenticated";
/// Group of the anonymous user.
pub const SYSTEM_UNAUTHENTICATED: &str = "system:unauthenticated";
/// The user of requests without credentials when `--anonymous-auth` is on.
pub const ANONYMOUS_USER: &str = "system:anonymous";
/// The user of requests on the insecure port, and of the server's own work (bootstrap, controllers).
pub const PRIVILEGED_USER: &str = "system:apiserver";

/// An authenticated identity, as kube's `user.Info` (and `UserInfo` in TokenReview/SelfSubjectReview).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UserInfo {
    /// The user name (`alice`, `system:anonymous`).
    #[serde(rename = "username")]
    pub name: String,
    /// A stable id, when the authenticator has one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// Groups, including `system:authenticated` or `system:unauthenticated`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Extra attributes (none of our authenticators set any).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// A user named `name` in `groups`.
    #[must_use]
    pub fn new(name: &str, uid: &str, groups: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            uid: uid.to_owned(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            extra: BTreeMap::new(),
        }
    }

    /// The identity of the insecure port and of the server's own work: in `system:masters`.
    #[must_use]
    pub fn privileged() -> Self {
        Self::new(PRIVILEGED_USER, "", &[SYSTEM_MASTERS, SYSTEM_AUTHENTICATED])
    }

    /// Whether the user is in `group`.
    #[must_use]
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// Whether the user holds every right (member of `system:masters`).
    #[must_use]
    pub fn is_superuser(&self) -> bool {
        self.in_group(SYSTEM_MASTERS)
    }
}
