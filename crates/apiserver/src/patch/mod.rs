//! PATCH: the four patch types kube-apiserver accepts, their options, and `managedFields` bookkeeping.
//!
//! * [`merge`]: JSON merge patch (RFC 7386);
//! * [`json_patch`]: JSON patch (RFC 6902) with Go's evanphx semantics;
//! * [`strategic_merge`]: strategic merge patch over the merge keys of [`merge_keys`];
//! * [`apply`]: server-side apply, over [`managed_fields`].
//!
//! Everything here is pure: the HTTP layer reads the current object, calls [`patch_object`] or
//! [`apply::apply`] inside the store's read-modify-write loop, and records non-apply writes with
//! [`managed_fields::track_update`].

pub mod apply;
pub mod json_patch;
pub mod managed_fields;
mod merge;
pub mod merge_keys;
pub mod strategic_merge;
pub mod writes;

use fcp_api::validation::{FieldError, aggregate_messages};
use serde_json::{Value, json};

pub use self::merge::merge_patch;
use self::{json_patch::JsonPatchError, strategic_merge::SmpError};
use crate::{error::ApiError, registry::ResourceDef};

/// The patch types a PATCH request can carry, by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/merge-patch+json`.
    Merge,
    /// `application/json-patch+json`.
    Json,
    /// `application/strategic-merge-patch+json`.
    StrategicMerge,
    /// `application/apply-patch+yaml`.
    Apply,
}

impl PatchType {
    /// The patch type of a `Content-Type` value, ignoring parameters.
    #[must_use]
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/merge-patch+json" => Some(Self::Merge),
            "application/json-patch+json" => Some(Self::Json),
            "application/strategic-merge-patch+json" => Some(Self::StrategicMerge),
            "application/apply-patch+yaml" => Some(Self::Apply),
            _ => None,
        }
    }

    /// The media type.
    #[must_use]
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Merge => "application/merge-patch+json",
            Self::Json => "application/json-patch+json",
            Self::StrategicMerge => "application/strategic-merge-patch+json",
            Self::Apply => "application/apply-patch+yaml",
        }
    }

    /// The patch type of `content_type` if `resource` accepts it: every type for built-in kinds, all but
    /// strategic merge for the federation group (kube's behaviour for custom resources).
    ///
    /// # Errors
    /// 415 `UnsupportedMediaType` naming the accepted types.
    pub fn accepted_by(content_type: &str, resource: &ResourceDef) -> Result<Self, ApiError> {
        let accepted = Self::accepted(resource);
        match Self::from_content_type(content_type) {
            Some(t) if accepted.contains(&t) => Ok(t),
            _ => {
                let names: Vec<&str> = accepted.iter().map(|t| t.media_type()).collect();
                Err(ApiError {
                    code: 415,
                    reason: "UnsupportedMediaType",
                    message: format!(
                        "the body of the request was in an unknown format - accepted media types include: {}",
                        names.join(", ")
                    ),
                    details: None,
                    retry_after_seconds: None,
                })
            }
        }
    }

    fn accepted(resource: &ResourceDef) -> Vec<Self> {
        if merge_keys::supports_strategic_merge(resource.group, resource.kind) {
            vec![Self::Json, Self::Merge, Self::StrategicMerge, Self::Apply]
        } else {
            vec![Self::Json, Self::Merge, Self::Apply]
        }
    }
}

/// The `PatchOptions` of a request (query parameters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchOptions {
    /// `fieldManager`.
    pub field_manager: Option<String>,
    /// `force`, when given.
    pub force: Option<bool>,
}

impl PatchOptions {
    /// Reads the options from the raw `fieldManager` and `force` query values.
    ///
    /// # Errors
    /// 400 when `force` is not a Go boolean.
    pub fn from_query(field_manager: Option<&str>, force: Option<&str>) -> Result<Self, ApiError> {
        let force = force
            .map(|f| match f {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
                other => Err(ApiError::bad_request(format!(
                    "invalid value for force: strconv.ParseBool: parsing {other:?}: invalid syntax"
                ))),
            })
            .transpose()?;
        Ok(Self {
            field_manager: field_manager.map(str::to_owned),
            force,
        })
    }

    /// kube's `ValidatePatchOptions`: apply needs a `fieldManager`, only apply may say `force`, a manager
    /// name is at most 128 printable characters.
    ///
    /// # Errors
    /// 422 `Invalid` for `PatchOptions.meta.k8s.io`.
    pub fn validate(&self, patch_type: PatchType) -> Result<(), ApiError> {
        let mut errors = Vec::new();
        let manager = self.field_manager.as_deref().unwrap_or_default();
        if patch_type == PatchType::Apply {
            if manager.is_empty() {
                errors.push(FieldError::required(
                    "fieldManager",
                    "is required for apply patch",
                ));
            }
        } else if self.force.is_some() {
            errors.push(FieldError::forbidden(
                "force",
                "may not be specified for non-apply patch",
            ));
        }
        errors.extend(validate_field_manager(manager));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(invalid_options("PatchOptions", &errors))
        }
    }
}

/// kube's `ValidateFieldManager` (also used for create and update options).
#[must_use]
pub fn validate_field_manager(manager: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if manager.chars().count() > 128 {
        errors.push(FieldError::too_long("fieldManager", 128));
    }
    if manager.chars().any(char::is_control) {
        errors.push(FieldError::invalid(
            "fieldManager",
            Some(manager),
            "must only contain printable characters",
        ));
    }
    errors
}

/// 422 for invalid `<kind>.meta.k8s.io` options.
#[must_use]
pub fn invalid_options(kind: &str, errors: &[FieldError]) -> ApiError {
    let causes: Vec<Value> = errors
        .iter()
        .map(|e| json!({"reason": e.reason(), "message": e.body(), "field": e.path}))
        .collect();
    ApiError {
        code: 422,
        reason: "Invalid",
        message: format!(
            "{kind}.meta.k8s.io \"\" is invalid: {}",
            aggregate_messages(errors)
        ),
        details: Some(json!({"group": "meta.k8s.io", "kind": kind, "causes": causes})),
        retry_after_seconds: None,
    }
}

/// Decodes a patch body: JSON for the JSON-based types (a JSON patch must be a list of operations), YAML or
/// JSON for apply.
///
/// # Errors
/// 400 `BadRequest` for bodies that do not decode; 413 for a JSON patch with too many operations.
pub fn decode_body(patch_type: PatchType, body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    match patch_type {
        PatchType::Apply => serde_yaml_ng::from_slice::<Value>(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}"))),
        PatchType::Json => {
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?;
            json_patch::validate(&value).map_err(json_patch_error)?;
            Ok(value)
        }
        PatchType::Merge | PatchType::StrategicMerge => serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}"))),
    }
}

/// Applies a JSON, merge or strategic merge patch to `current` (an object of `resource`). The caller drops
/// `metadata.resourceVersion` from `current` first unless it wants it as a precondition.
///
/// # Errors
/// JSON patch failures: 422 `Invalid` with kube's message ("the server rejected our request due to an error
/// in our request"; the detail is in `details.causes`); malformed strategic merge patches: 400; apply
/// patches are not handled here (400).
pub fn patch_object(
    patch_type: PatchType,
    current: &Value,
    patch: &Value,
    resource: &ResourceDef,
) -> Result<Value, ApiError> {
    match patch_type {
        PatchType::Merge => {
            let mut object = current.clone();
            merge_patch(&mut object, patch);
            Ok(object)
        }
        PatchType::Json => {
            let mut object = current.clone();
            json_patch::apply(&mut object, patch).map_err(json_patch_error)?;
            Ok(object)
        }
        PatchType::StrategicMerge => {
            let root = merge_keys::root(resource.group, resource.kind).ok_or_else(|| {
                ApiError::bad_request("strategic merge patch is not supported for this kind")
            })?;
            strategic_merge::apply(current, patch, root).map_err(|e| match e {
                SmpError::BadRequest(message) => ApiError::bad_request(message),
            })
        }
        PatchType::Apply => Err(ApiError::bad_request(
            "apply patches are handled by server-side apply",
        )),
    }
}

fn json_patch_error(err: JsonPatchError) -> ApiError {
    match err {
        JsonPatchError::Malformed(message) => ApiError::bad_request(message),
        JsonPatchError::TooManyOperations(_) => ApiError {
            code: 413,
            reason: "RequestEntityTooLarge",
            message: format!("Request entity too large: {err}"),
            details: None,
            retry_after_seconds: None,
        },
        // kube: NewGenericServerResponse(422, …), which keeps only its generic message.
        JsonPatchError::Failed(detail) => ApiError {
            code: 422,
            reason: "Invalid",
            message: "the server rejected our request due to an error in our request".to_owned(),
            details: Some(json!({"causes": [{"message": detail}]})),
            retry_after_seconds: None,
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            PatchType::from_content_type("application/apply-patch+yaml; charset=utf-8"),
            Some(PatchType::Apply)
        );
        assert_eq!(PatchType::from_content_type("application/json"), None);
    }

    #[test]
    fn options_are_validated_like_kube() {
        let apply_without_manager = PatchOptions::default().validate(PatchType::Apply).unwrap_err();
        assert_eq!(apply_without_manager.code, 422);
        assert_eq!(
            apply_without_manager.message,
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
        );
        let force_on_merge = PatchOptions::from_query(None, Some("false"))
            .unwrap()
            .validate(PatchType::Merge)
            .unwrap_err();
        assert_eq!(
            force_on_merge.message,
            "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch"
        );
        assert!(
            PatchOptions::from_query(Some("m"), Some("true"))
                .unwrap()
                .validate(PatchType::Apply)
                .is_ok()
        );
        assert_eq!(
            PatchOptions::from_query(None, Some("maybe")).unwrap_err().code,
            400
        );
        let long = "m".repeat(129);
        assert_eq!(
            PatchOptions::from_query(Some(&long), None)
                .unwrap()
                .validate(PatchType::Merge)
                .unwrap_err()
                .code,
            422
        );
    }

    #[test]
    fn bodies_decode_per_type() {
        let yaml = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: \"1\"\n";
        assert_eq!(
            decode_body(PatchType::Apply, yaml).unwrap(),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "1"}})
        );
        assert_eq!(
            decode_body(PatchType::Apply, br#"{"a": 1}"#).unwrap(),
            json!({"a": 1})
        );
        assert_eq!(
            decode_body(PatchType::Json, br#"{"op": "add"}"#)
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(decode_body(PatchType::Merge, b"{").unwrap_err().code, 400);
        assert_eq!(decode_body(PatchType::Apply, b"a: [").unwrap_err().code, 400);
        assert_eq!(decode_body(PatchType::Merge, b"  ").unwrap_err().code, 400);
    }

    #[test]
    fn json_patch_failures_are_422_invalid() {
        let err = json_patch_error(JsonPatchError::Failed("testing value /a failed".into()));
        assert_eq!((err.code, err.reason), (422, "Invalid"));
    }
}
