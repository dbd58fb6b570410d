//! The filter every request passes before a handler, in kube-apiserver's order:
//! 1. authenticate — wrong or missing credentials get 401 (`Unauthorized`, nothing more);
//! 2. limit in-flight requests — over `--max-requests-inflight` (reads) or `--max-mutating-requests-inflight`
//!    (writes) get 429 with `Retry-After: 1`; watches are long-running and not counted;
//! 3. authorize — a request no authorizer allows gets 403 naming user, verb, resource and namespace;
//! 4. the handler runs with the [`UserInfo`] in the request's extensions (admission and the review APIs
//!    read it there);
//! 5. an audit line for every mutating request: user, verb, resource, namespace, name, code, latency
//!    (target `audit`; never bodies, tokens or passwords).
//!
//! The insecure port uses the same filter without steps 1 and 3: its requests act as a superuser.

use std::{sync::Arc, time::Instant};

use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{
    UserInfo,
    authn::{Authenticated, Authenticator},
    authz::{Authorizer, Decision, RequestAttributes},
    request_info,
};
use crate::{error::ApiError, serving::ClientCertificate};

/// How many requests may be served at once, per kind; `None` is unlimited.
#[derive(Debug)]
pub struct InflightLimits {
    read_only: Option<Arc<Semaphore>>,
    mutating: Option<Arc<Semaphore>>,
}

impl InflightLimits {
    /// Limits of `read_only` non-mutating and `mutating` mutating requests (0 = unlimited).
    #[must_use]
    pub fn new(read_only: usize, mutating: usize) -> Self {
        let semaphore = |n: usize| (n > 0).then(|| Arc::new(Semaphore::new(n)));
        Self {
            read_only: semaphore(read_only),
            mutating: semaphore(mutating),
        }
    }

    /// A slot for one request, held until it is answered; `Err` when every slot is taken.
    fn try_acquire(&self, mutating: bool) -> Result<Option<OwnedSemaphorePermit>, ()> {
        let semaphore = if mutating { &self.mutating } else { &self.read_only };
        match semaphore {
            None => Ok(None),
            Some(semaphore) => semaphore.clone().try_acquire_owned().map(Some).map_err(|_| ()),
        }
    }
}

/// What the filter of one listener applies.
#[derive(Debug, Clone)]
pub struct Security {
    /// `None` on the insecure port: every request is [`UserInfo::privileged`] and is not authorized.
    pub authenticator: Option<Arc<Authenticator>>,
    /// The authorizer chain of `--authorization-mode`.
    pub authorizer: Arc<dyn Authorizer>,
    /// Shared by every listener.
    pub limits: Arc<InflightLimits>,
}

/// The filter, as an axum middleware: `axum::middleware::from_fn_with_state(security, filter::apply)`.
pub async fn apply(State(security): State<Security>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let user = match &security.authenticator {
        None => PRIVILEGED.clone(),
        Some(authenticator) => {
            let certificate = request.extensions().get::<ClientCertificate>();
            match authenticator.authenticate(request.headers(), certificate) {
                Authenticated::User(user) => Arc::new(user),
                Authenticated::Unauthorized => return unauthorized(),
            }
        }
    };
    let attributes = request_info::resolve(request.method(), request.uri().path(), request.uri().query());
    let mutating = attributes.is_mutating();
    let _slot = if request_info::is_long_running(&attributes) {
        None
    } else {
        match security.limits.try_acquire(mutating) {
            Ok(slot) => slot,
            Err(()) => return too_many_requests(),
        }
    };
    if security.authenticator.is_some() {
        match security.authorizer.authorize(&user, &attributes) {
            Decision::Allow(_) => {}
            Decision::Deny(reason) | Decision::NoOpinion(reason) => {
                let response = forbidden(&user, &attributes, &reason).into_response();
                if mutating {
                    audit(&user, &attributes, response.status(), started);
                }
                return response;
            }
        }
    }
    let audited = mutating.then(|| user.clone());
    request.extensions_mut().insert(user);
    let response = next.run(request).await;
    if let Some(user) = audited {
        audit(&user, &attributes, response.status(), started);
    }
    response
}

/// The user the filter put on a request (the privileged user when there is none: a handler called
/// without the filter, as in unit tests of the router).
#[must_use]
pub fn request_user(extensions: &axum::http::Extensions) -> Arc<UserInfo> {
    extensions
        .get::<Arc<UserInfo>>()
        .cloned()
        .unwrap_or_else(|| PRIVILEGED.clone())
}

/// The user of the insecure port, shared: no allocation per request.
static PRIVILEGED: std::sync::LazyLock<Arc<UserInfo>> =
    std::sync::LazyLock::new(|| Arc::new(UserInfo::privileged()));

/// kube's 401: the same answer whatever was wrong.
fn unauthorized() -> Response {
    ApiError {
        code: 401,
        reason: "Unauthorized",
        message: "Unauthorized".to_owned(),
        details: None,
        retry_after_seconds: None,
    }
    .into_response()
}

/// kube's 429 from the max-in-flight filter.
fn too_many_requests() -> Response {
    let mut response = ApiError {
        code: 429,
        reason: "TooManyRequests",
        message: "Too many requests, please try again later.".to_owned(),
        details: None,
        retry_after_seconds: Some(1),
    }
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// kube's 403 from the authorization filter: `<resource>[.<group>] ["<name>"] is forbidden: User "u" cannot
/// <verb> resource "<resource>" in API group "<group>" in the namespace "<ns>"[: <reason>]`.
#[must_use]
pub fn forbidden(user: &UserInfo, attributes: &RequestAttributes, reason: &str) -> ApiError {
    let mut why = forbidden_message(user, attributes);
    if !reason.is_empty() {
        why.push_str(": ");
        why.push_str(reason);
    }
    let qualified = if !attributes.resource_request || attributes.resource.is_empty() {
        String::new()
    } else if attributes.api_group.is_empty() {
        attributes.resource.clone()
    } else {
        format!("{}.{}", attributes.resource, attributes.api_group)
    };
    let message = if qualified.is_empty() {
        format!("forbidden: {why}")
    } else if attributes.name.is_empty() {
        format!("{qualified} is forbidden: {why}")
    } else {
        format!("{qualified} \"{}\" is forbidden: {why}", attributes.name)
    };
    let details = (!qualified.is_empty()).then(|| {
        let mut details = json!({"group": attributes.api_group, "kind": attributes.resource});
        if !attributes.name.is_empty() {
            details["name"] = json!(attributes.name);
        }
        details
    });
    ApiError {
        code: 403,
        reason: "Forbidden",
        message,
        details,
        retry_after_seconds: None,
    }
}

/// kube's `forbiddenMessage`: `User "u" cannot <verb> resource "<resource>" in API group "<group>" in the
/// namespace "<ns>"` (or `at the cluster scope`), or `User "u" cannot <verb> path "<path>"`.
#[must_use]
pub fn forbidden_message(user: &UserInfo, attributes: &RequestAttributes) -> String {
    if !attributes.resource_request {
        return format!(
            "User \"{}\" cannot {} path \"{}\"",
            user.name, attributes.verb, attributes.path
        );
    }
    let resource = attributes.resource_with_subresource();
    if attributes.namespace.is_empty() {
        format!(
            "User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" at the cluster scope",
            user.name, attributes.verb, attributes.api_group
        )
    } else {
        format!(
            "User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" in the namespace \"{}\"",
            user.name, attributes.verb, attributes.api_group, attributes.namespace
        )
    }
}

/// One structured line per mutating request.
fn audit(user: &UserInfo, attributes: &RequestAttributes, code: StatusCode, started: Instant) {
    tracing::info!(
        target: "audit",
        user = %user.name,
        groups = ?user.groups,
        verb = %attributes.verb,
        group = %attributes.api_group,
        resource = %attributes.resource_with_subresource(),
        namespace = %attributes.namespace,
        name = %attributes.name,
        path = %if attributes.resource_request { "" } else { attributes.path.as_str() },
        code = code.as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "audit"
    );
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use super::*;

    #[test]
    fn forbidden_messages_match_kube() {
        let user = UserInfo::new("alice", "", &["system:authenticated"]);
        let list = request_info::resolve(&Method::GET, "/api/v1/namespaces/b/configmaps", None);
        assert_eq!(
            forbidden(&user, &list, "").message,
            "configmaps is forbidden: User \"alice\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"b\""
        );
        let get = request_info::resolve(
            &Method::GET,
            "/apis/apps/v1/namespaces/a/deployments/d/status",
            None,
        );
        assert_eq!(
            forbidden(&user, &get, "").message,
            "deployments.apps \"d\" is forbidden: User \"alice\" cannot get resource \"deployments/status\" in API group \"apps\" in the namespace \"a\""
        );
        let cluster = request_info::resolve(&Method::POST, "/apis/federation/v1beta1/clusters", None);
        assert_eq!(
            forbidden(&user, &cluster, "no").message,
            "clusters.federation is forbidden: User \"alice\" cannot create resource \"clusters\" in API group \"federation\" at the cluster scope: no"
        );
        let path = request_info::resolve(&Method::GET, "/version", None);
        assert_eq!(
            forbidden(&user, &path, "").message,
            "forbidden: User \"alice\" cannot get path \"/version\""
        );
    }

    #[test]
    fn limits_refuse_past_their_size_and_free_on_drop() {
        let limits = InflightLimits::new(1, 0);
        let first = limits.try_acquire(false);
        assert!(matches!(first, Ok(Some(_))));
        assert!(limits.try_acquire(false).is_err());
        assert!(matches!(limits.try_acquire(true), Ok(None)));
        drop(first);
        assert!(limits.try_acquire(false).is_ok());
    }
}
