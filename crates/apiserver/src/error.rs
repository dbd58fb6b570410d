//! Every failure the API answers with, and its one translation into a Kubernetes `Status` object.
//!
//! Handlers return [`ApiError`]; storage errors become API errors in [`ApiError::from_storage`] and nowhere
//! else. Messages follow apimachinery's wording, because clients (and people) match on them.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use fcp_api::validation::{FieldError, aggregate_messages};
use fcp_storage::StorageError;
use serde_json::{Value, json};

use crate::registry::ResourceDef;

/// A failed API request: an HTTP code, a machine-readable reason and a message, rendered as a `Status`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status code (also `Status.code`).
    pub code: u16,
    /// `Status.reason` (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, ...).
    pub reason: &'static str,
    /// `Status.message`, shown to users by kubectl.
    pub message: String,
    /// `Status.details`, when the reason has any.
    pub details: Option<Value>,
    /// Seconds a client should wait before retrying (`Retry-After`, `details.retryAfterSeconds`).
    pub retry_after_seconds: Option<u32>,
}

/// The result of an API operation.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after_seconds: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// 404 for an object that does not exist: `configmaps "x" not found`.
    #[must_use]
    pub fn not_found(resource: &ResourceDef, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", resource.qualified_resource()),
        )
        .with_details(resource.status_details(name))
    }

    /// 404 for a path the server does not serve.
    #[must_use]
    pub fn path_not_found() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    /// 409 for a create whose name is taken.
    #[must_use]
    pub fn already_exists(resource: &ResourceDef, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", resource.qualified_resource()),
        )
        .with_details(resource.status_details(name))
    }

    /// 409 for a write whose resourceVersion (or other precondition) no longer matches.
    #[must_use]
    pub fn conflict(resource: &ResourceDef, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                resource.qualified_resource()
            ),
        )
        .with_details(resource.status_details(name))
    }

    /// The optimistic-lock message kube uses for a stale resourceVersion.
    pub const OPTIMISTIC_LOCK_MESSAGE: &'static str =
        "the object has been modified; please apply your changes to the latest version and try again";

    /// 422 with one cause per field error: `Deployment.apps "x" is invalid: spec.selector: Required value`.
    #[must_use]
    pub fn invalid(resource: &ResourceDef, name: &str, errors: &[FieldError]) -> Self {
        let summary = aggregate_messages(errors);
        let causes = errors
            .iter()
            .map(|e| json!({"reason": e.reason(), "message": e.body(), "field": e.path}))
            .collect::<Vec<_>>();
        let mut details = resource.status_details(name);
        details["kind"] = json!(resource.kind);
        details["causes"] = json!(causes);
        Self::new(
            422,
            "Invalid",
            format!("{} \"{name}\" is invalid: {summary}", resource.qualified_kind()),
        )
        .with_details(details)
    }

    /// 422 for list or watch options that do not go together (kube validates them as `ListOptions`).
    #[must_use]
    pub fn invalid_options(message: &str) -> Self {
        Self::new(
            422,
            "Invalid",
            format!("ListOptions.meta.k8s.io \"\" is invalid: {message}"),
        )
        .with_details(json!({"group": "meta.k8s.io", "kind": "ListOptions"}))
    }

    /// 422 for a Scale with negative replicas.
    #[must_use]
    pub fn invalid_scale(name: &str, replicas: i64) -> Self {
        let message = format!("spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0");
        Self::new(422, "Invalid", format!("Scale.autoscaling \"{name}\" is invalid: {message}")).with_details(json!({
            "name": name, "group": "autoscaling", "kind": "Scale",
            "causes": [{"reason": "FieldValueInvalid", "message": format!("Invalid value: {replicas}: must be greater than or equal to 0"), "field": "spec.replicas"}]
        }))
    }

    /// 400 for a malformed request.
    #[must_use]
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 403 with kube's `<resource> "<name>" is forbidden: <why>` message.
    #[must_use]
    pub fn forbidden(resource: &ResourceDef, name: &str, why: &str) -> Self {
        Self::new(
            403,
            "Forbidden",
            format!("{} \"{name}\" is forbidden: {why}", resource.qualified_resource()),
        )
        .with_details(resource.status_details(name))
    }

    /// 405 for a verb the resource does not support.
    #[must_use]
    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
        )
    }

    /// 410 for a resourceVersion that has been compacted away.
    #[must_use]
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 413 for a body over the size limit.
    #[must_use]
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("request body too large: the limit is {limit} bytes"),
        )
    }

    /// 415 for a body in a media type the server cannot read.
    #[must_use]
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json (got {content_type:?})"
            ),
        )
    }

    /// 406 when nothing in `Accept` can be produced.
    #[must_use]
    pub fn not_acceptable(accept: &str) -> Self {
        Self::new(
            406,
            "NotAcceptable",
            format!("only the following media types are accepted: application/json (got {accept:?})"),
        )
    }

    /// 500 whose message is safe to show; the cause is logged here, once.
    #[must_use]
    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::error!(error = %message, "internal error");
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
        )
    }

    /// 503 while storage is unreachable.
    #[must_use]
    pub fn unavailable(message: impl Into<String>) -> Self {
        let mut err = Self::new(503, "ServiceUnavailable", message);
        err.retry_after_seconds = Some(1);
        err
    }

    /// 504 when a request took longer than the server allows.
    #[must_use]
    pub fn timeout(message: impl Into<String>) -> Self {
        let mut err = Self::new(504, "Timeout", message);
        err.retry_after_seconds = Some(1);
        err
    }

    /// Translates a storage error about `name` of `resource`: the one place storage meets the API.
    #[must_use]
    pub fn from_storage(err: StorageError, resource: &ResourceDef, name: &str) -> Self {
        match err {
            StorageError::NotFound { .. } => Self::not_found(resource, name),
            StorageError::AlreadyExists { .. } => Self::already_exists(resource, name),
            StorageError::Conflict { .. } => Self::conflict(resource, name, Self::OPTIMISTIC_LOCK_MESSAGE),
            StorageError::Compacted { requested, compacted } => {
                Self::expired(format!("too old resource version: {requested} ({compacted})"))
            }
            StorageError::FutureRevision { requested, current } => {
                let mut err = Self::timeout(format!(
                    "Too large resource version: {requested}, current: {current}"
                ));
                err.details = Some(json!({
                    "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                    "retryAfterSeconds": 1
                }));
                err
            }
            StorageError::Unavailable(cause) => {
                tracing::warn!(%cause, "storage unavailable");
                Self::unavailable("storage is unavailable, please try again")
            }
            StorageError::Internal(cause) => Self::internal(cause),
        }
    }

    /// The `Status` object for this error.
    #[must_use]
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        if let Some(seconds) = self.retry_after_seconds {
            let details = status
                .as_object_mut()
                .map(|s| s.entry("details").or_insert_with(|| json!({})))
                .and_then(Value::as_object_mut);
            if let Some(details) = details {
                details.entry("retryAfterSeconds").or_insert(json!(seconds));
            }
        }
        status
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = self.to_status().to_string();
        let mut response = (code, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(seconds) = self.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
