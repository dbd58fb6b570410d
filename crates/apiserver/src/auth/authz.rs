//! Authorization: an [`Authorizer`] decides whether a user may do what a request asks, described by
//! [`RequestAttributes`]. `--authorization-mode` lists authorizers; the first that allows or denies decides
//! ([`AuthorizerChain`]); when none does the request is denied.

use std::{fmt::Debug, sync::Arc};

use serde::Serialize;

use super::UserInfo;

/// What a request asks to do, as kube's `authorizer.Attributes` (without the user).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestAttributes {
    /// The verb: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection` for
    /// resource requests; the lower-cased HTTP method (`get`, `post`, …) for non-resource requests; or a
    /// special verb checked by the server itself (`bind`, `escalate`, `impersonate`).
    pub verb: String,
    /// Whether this is a request on an API resource (`/api/...`, `/apis/...` naming a resource) rather
    /// than a non-resource path (`/healthz`, `/version`, discovery documents).
    pub resource_request: bool,
    /// The URL path, for non-resource requests.
    pub path: String,
    /// API group (`""` for core, `apps`).
    pub api_group: String,
    /// API version (`v1`).
    pub api_version: String,
    /// Resource plural (`deployments`).
    pub resource: String,
    /// Subresource (`status`, `scale`), or empty.
    pub subresource: String,
    /// Namespace, or empty for cluster-scoped resources and all-namespace lists.
    pub namespace: String,
    /// Object name, or empty for collections and creates.
    pub name: String,
}

impl RequestAttributes {
    /// A resource request.
    #[must_use]
    pub fn resource(verb: &str, api_group: &str, resource: &str, namespace: &str, name: &str) -> Self {
        Self {
            verb: verb.to_owned(),
            resource_request: true,
            api_group: api_group.to_owned(),
            resource: resource.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            ..Self::default()
        }
    }

    /// A non-resource request.
    #[must_use]
    pub fn non_resource(verb: &str, path: &str) -> Self {
        Self {
            verb: verb.to_owned(),
            path: path.to_owned(),
            ..Self::default()
        }
    }

    /// Whether the verb changes state (and so counts against `--max-mutating-requests-inflight` and gets
    /// an audit line).
    #[must_use]
    pub fn is_mutating(&self) -> bool {
        if self.resource_request {
            matches!(
                self.verb.as_str(),
                "create" | "update" | "patch" | "delete" | "deletecollection"
            )
        } else {
            matches!(self.verb.as_str(), "post" | "put" | "patch" | "delete")
        }
    }

    /// The resource with its subresource, as RBAC rules name it (`deployments/status`).
    #[must_use]
    pub fn resource_with_subresource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

/// An authorizer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed; the string says why (for SubjectAccessReview `reason`).
    Allow(String),
    /// Denied outright; no later authorizer is asked. The string says why.
    Deny(String),
    /// No rule applies; the next authorizer is asked. The string may say why (or be empty).
    NoOpinion(String),
}

/// One rule of a [`RulesReview`] on resources (kube's `ResourceRule`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRule {
    /// Verbs.
    pub verbs: Vec<String>,
    /// API groups.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub api_groups: Vec<String>,
    /// Resources (`pods`, `deployments/status`, `*`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Names the rule is limited to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
}

/// One rule of a [`RulesReview`] on non-resource URLs (kube's `NonResourceRule`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NonResourceRule {
    /// Verbs.
    pub verbs: Vec<String>,
    /// URL paths, `*` suffix for prefixes.
    #[serde(rename = "nonResourceURLs", skip_serializing_if = "Vec::is_empty")]
    pub non_resource_urls: Vec<String>,
}

/// What a user may do in a namespace (the status of a SelfSubjectRulesReview).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RulesReview {
    /// Rules on resources.
    pub resource_rules: Vec<ResourceRule>,
    /// Rules on non-resource URLs.
    pub non_resource_rules: Vec<NonResourceRule>,
    /// Whether the list may be missing rules (an authorizer that cannot enumerate its rules).
    pub incomplete: bool,
    /// Why the list is incomplete, if it is.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub evaluation_error: String,
}

/// Decides whether `user` may do what `request` asks. Implementations answer from memory: they are called
/// on every request.
pub trait Authorizer: Send + Sync + Debug {
    /// The decision for one request.
    fn authorize(&self, user: &UserInfo, request: &RequestAttributes) -> Decision;

    /// What `user` may do in `namespace` (empty: cluster-wide rules only), for SelfSubjectRulesReview.
    fn rules_for(&self, user: &UserInfo, namespace: &str) -> RulesReview;
}

/// Allows everything (`--authorization-mode=AlwaysAllow`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysAllow;

impl Authorizer for AlwaysAllow {
    fn authorize(&self, _user: &UserInfo, _request: &RequestAttributes) -> Decision {
        Decision::Allow(String::new())
    }

    fn rules_for(&self, _user: &UserInfo, _namespace: &str) -> RulesReview {
        RulesReview {
            resource_rules: vec![ResourceRule {
                verbs: vec!["*".to_owned()],
                api_groups: vec!["*".to_owned()],
                resources: vec!["*".to_owned()],
                resource_names: Vec::new(),
            }],
            non_resource_rules: vec![NonResourceRule {
                verbs: vec!["*".to_owned()],
                non_resource_urls: vec!["*".to_owned()],
            }],
            incomplete: false,
            evaluation_error: String::new(),
        }
    }
}

/// Denies everything (`--authorization-mode=AlwaysDeny`; for tests of the chain).
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysDeny;

impl Authorizer for AlwaysDeny {
    fn authorize(&self, _user: &UserInfo, _request: &RequestAttributes) -> Decision {
        Decision::Deny(String::new())
    }

    fn rules_for(&self, _user: &UserInfo, _namespace: &str) -> RulesReview {
        RulesReview::default()
    }
}

/// Authorizers asked in order; the first `Allow` or `Deny` decides. Members of `system:masters` are always
/// allowed (kube's privileged-group authorizer, first in every chain).
#[derive(Debug, Clone, Default)]
pub struct AuthorizerChain {
    authorizers: Vec<Arc<dyn Authorizer>>,
}

impl AuthorizerChain {
    /// A chain of `authorizers`, asked in this order.
    #[must_use]
    pub fn new(authorizers: Vec<Arc<dyn Authorizer>>) -> Self {
        Self { authorizers }
    }
}

impl Authorizer for AuthorizerChain {
    fn authorize(&self, user: &UserInfo, request: &RequestAttributes) -> Decision {
        if user.is_superuser() {
            return Decision::Allow(String::new());
        }
        let mut reasons = Vec::new();
        for authorizer in &self.authorizers {
            match authorizer.authorize(user, request) {
                Decision::NoOpinion(reason) => {
                    if !reason.is_empty() {
                        reasons.push(reason);
                    }
                }
                decided => return decided,
            }
        }
        Decision::NoOpinion(reasons.join("; "))
    }

    fn rules_for(&self, user: &UserInfo, namespace: &str) -> RulesReview {
        if user.is_superuser() {
            return AlwaysAllow.rules_for(user, namespace);
        }
        let mut review = RulesReview::default();
        for authorizer in &self.authorizers {
            let part = authorizer.rules_for(user, namespace);
            review.resource_rules.extend(part.resource_rules);
            review.non_resource_rules.extend(part.non_resource_rules);
            review.incomplete |= part.incomplete;
            if !part.evaluation_error.is_empty() {
                if !review.evaluation_error.is_empty() {
                    review.evaluation_error.push_str("; ");
                }
                review.evaluation_error.push_str(&part.evaluation_error);
            }
        }
        review
    }
}
