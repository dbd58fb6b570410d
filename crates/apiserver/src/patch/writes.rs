//! The glue between HTTP writes and the store: serving a PATCH of any type, and recording non-apply writes
//! (create, update, patch) in `managedFields`.

use serde_json::{Value, json};

use super::{
    PatchOptions, PatchType,
    apply::{ApplyRequest, apply},
    decode_body,
    managed_fields::{self, Part},
    merge_keys, patch_object,
};
use crate::{
    error::{ApiError, ApiResult},
    registry::{
        ResourceDef,
        field_validation::{self, FieldValidation},
        store::{Store, Target, UpdateMode},
    },
};

/// What a PATCH request carries besides its target.
#[derive(Debug, Clone, Copy)]
pub struct PatchRequest<'a> {
    /// The request's `Content-Type` (media type).
    pub content_type: &'a str,
    /// The `fieldManager` query parameter.
    pub field_manager: Option<&'a str>,
    /// The `force` query parameter, raw.
    pub force: Option<&'a str>,
    /// The `User-Agent` header (the default manager of non-apply patches).
    pub user_agent: Option<&'a str>,
    /// `dryRun=All`.
    pub dry_run: bool,
    /// The body.
    pub body: &'a [u8],
    /// What to do with fields the kind does not know (`fieldValidation`).
    pub field_validation: FieldValidation,
}

/// The part of the object an update mode writes.
#[must_use]
pub fn part_for(resource: &ResourceDef, mode: UpdateMode) -> Part {
    match mode {
        UpdateMode::Main => Part::Main {
            status_subresource: resource.subresources.status,
        },
        UpdateMode::Status => Part::Status,
        UpdateMode::Finalize => Part::Finalize,
    }
}

/// Serves `PATCH` of object `name` (any patch type) through `mode`. Returns the object and whether it was
/// created (server-side apply creates missing objects: 201).
///
/// # Errors
/// 415 for patch types the resource does not accept, 422 for invalid `PatchOptions`, 400 for bodies that do
/// not decode, the patch type's own failures, and the store's.
pub async fn serve_patch(
    store: &Store,
    target: Target<'_>,
    name: &str,
    mode: UpdateMode,
    request: PatchRequest<'_>,
) -> ApiResult<(Value, bool, Vec<String>)> {
    let resource = target.resource;
    let patch_type = PatchType::accepted_by(request.content_type, resource)?;
    let options = PatchOptions::from_query(request.field_manager, request.force)?;
    options.validate(patch_type)?;
    let patch = decode_body(patch_type, request.body)?;
    // JSON patches name paths, not fields; merge, strategic and apply bodies are partial objects.
    let warnings = match patch_type {
        PatchType::Json => Vec::new(),
        _ => field_validation::check(resource, &patch, request.field_validation)?,
    };
    let part = part_for(resource, mode);
    let api_version = resource.api_version();
    if patch_type == PatchType::Apply {
        let apply_request = ApplyRequest {
            manager: options.field_manager.as_deref().unwrap_or_default(),
            force: options.force.unwrap_or(false),
            api_version: &api_version,
            ty: merge_keys::apply_root(resource.group, resource.kind),
            part,
        };
        check_applied_identity(resource, &patch, name)?;
        let (object, created) = store
            .update_or_create(target, name, mode, request.dry_run, |current| {
                apply(current, &patch, &apply_request)
            })
            .await?;
        return Ok((object, created, warnings));
    }
    let manager = managed_fields::manager_or_user_agent(options.field_manager.as_deref(), request.user_agent);
    let patched = store
        .guaranteed_update(target, name, mode, request.dry_run, |current| {
            let mut object = current.clone();
            // The current resourceVersion is not a precondition; one in the patch is.
            if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("resourceVersion");
            }
            let mut patched = patch_object(patch_type, &object, &patch, resource)?;
            record_update(resource, mode, Some(current), &mut patched, &manager);
            Ok(patched)
        })
        .await?;
    Ok((patched, false, warnings))
}

/// An applied configuration must name its kind, version and object (kube: 400 otherwise).
fn check_applied_identity(resource: &ResourceDef, config: &Value, name: &str) -> ApiResult<()> {
    let Some(map) = config.as_object() else {
        return Err(ApiError::bad_request(
            "error decoding YAML: the applied configuration must be an object",
        ));
    };
    let api_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
    if api_version.is_empty() || kind.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Object 'Kind' is missing in '{}'",
            Value::Object(map.clone())
        )));
    }
    if api_version != resource.api_version() || kind != resource.kind {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            resource.api_version()
        )));
    }
    match config["metadata"]["name"].as_str() {
        Some(n) if n == name => Ok(()),
        Some(n) => Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        ))),
        None => Err(ApiError::bad_request(
            "metadata.name: Required value: name is required",
        )),
    }
}

/// Records a non-apply write by `manager` in `new`'s `managedFields` (kube's `FieldManager.Update`). Only
/// `metadata.managedFields` of `new` is touched: the ownership is computed on a normalized (defaulted) copy,
/// so fields the server defaults belong to the writer as in kube. A body that does not normalize is left
/// alone for the store to reject. `live` is the current object (`None` for a create).
pub fn record_update(
    resource: &ResourceDef,
    mode: UpdateMode,
    live: Option<&Value>,
    new: &mut Value,
    manager: &str,
) {
    let Some(map) = new.as_object() else {
        return;
    };
    let mut probe = Value::Object(map.clone());
    if let Some(probe) = probe.as_object_mut() {
        probe.insert("apiVersion".to_owned(), json!(resource.api_version()));
        probe.insert("kind".to_owned(), json!(resource.kind));
    }
    let Ok(mut normalized) = resource.strategy.normalize(probe) else {
        return;
    };
    managed_fields::track_update(
        live,
        &mut normalized,
        manager,
        &resource.api_version(),
        merge_keys::apply_root(resource.group, resource.kind),
        part_for(resource, mode),
    );
    let managed = normalized["metadata"].get("managedFields").cloned();
    if let Some(meta) = new
        .as_object_mut()
        .map(|o| o.entry("metadata").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
    {
        match managed {
            Some(managed) => meta.insert("managedFields".to_owned(), managed),
            None => meta.remove("managedFields"),
        };
    }
}

/// Validates a create or update's `fieldManager` (kube's `ValidateFieldManager` on `CreateOptions` and
/// `UpdateOptions`).
///
/// # Errors
/// 422 `Invalid` for `<options_kind>.meta.k8s.io`.
pub fn validate_write_manager(options_kind: &str, field_manager: Option<&str>) -> ApiResult<()> {
    let errors = super::validate_field_manager(field_manager.unwrap_or_default());
    if errors.is_empty() {
        Ok(())
    } else {
        Err(super::invalid_options(options_kind, &errors))
    }
}
