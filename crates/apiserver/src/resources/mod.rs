//! The served kinds: one [`ResourceDef`] per group/version/resource, with the strategy of its kind.
//!
//! The federation profile (DESIGN.md §5) is what `fcp federation-apiserver` serves. Resources are listed in
//! discovery order: core first, then `apps` before any group that also serves deployments.

mod apps;
mod autoscaling;
mod batch;
mod conversion;
mod coordination;
mod core;
mod events;
mod federation;
mod member;
mod networking;
mod pod_template;
mod printers;
mod rbac;

use std::sync::Arc;

use serde_json::Value;

use crate::registry::{Conversion, KindRules, ResourceDef, Scope, Subresources, Typed};

/// The resources `fcp federation-apiserver` serves.
#[must_use]
pub fn federation_profile() -> Vec<ResourceDef> {
    let mut resources = Vec::new();
    resources.extend(core::resources());
    resources.extend(apps::resources());
    resources.extend(batch::resources());
    resources.extend(autoscaling::resources());
    resources.extend(networking::resources());
    resources.extend(coordination::resources());
    resources.extend(events::resources());
    resources.extend(rbac::resources());
    resources.extend(federation::resources());
    resources
}

/// The resources a member cluster serves (`fcp sim-cluster`): the federation profile minus
/// `federation/v1beta1` clusters, plus the kinds a real cluster's workloads need.
#[must_use]
pub fn member_profile() -> Vec<ResourceDef> {
    let mut resources = federation_profile();
    resources.retain(|def| def.group != fcp_api::cluster::GROUP);
    // Core kinds stay together in discovery order.
    let core_end = resources.iter().take_while(|def| def.group.is_empty()).count();
    resources.splice(core_end..core_end, member::resources());
    resources
}

/// The names and shape of one resource, from which [`def`] builds its [`ResourceDef`].
struct Names {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    scope: Scope,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
}

/// Builds the definition of a resource whose kind is the typed struct `K`.
fn def<K: KindRules>(
    names: Names,
    storage_path: &'static str,
    subresources: Subresources,
    tracks_generation: bool,
) -> ResourceDef {
    ResourceDef {
        group: names.group,
        version: names.version,
        kind: names.kind,
        plural: names.plural,
        singular: names.singular,
        scope: names.scope,
        short_names: names.short_names,
        categories: names.categories,
        subresources,
        storage_path,
        tracks_generation,
        strategy: Arc::new(Typed::<K>::new()),
        conversion: None,
    }
}

/// Like [`def`], for a resource stored in another version through `conversion`.
fn converted<K: KindRules>(
    names: Names,
    storage_path: &'static str,
    subresources: Subresources,
    tracks_generation: bool,
    conversion: impl Conversion,
) -> ResourceDef {
    ResourceDef {
        conversion: Some(Arc::new(conversion)),
        ..def::<K>(names, storage_path, subresources, tracks_generation)
    }
}

/// Only a status subresource.
const STATUS: Subresources = Subresources {
    status: true,
    scale: false,
};
/// Status and scale subresources.
const STATUS_SCALE: Subresources = Subresources {
    status: true,
    scale: true,
};
/// No subresources.
const NONE: Subresources = Subresources {
    status: false,
    scale: false,
};

/// kube's field-label conversion for a kind that registers its own: `Ok` for the `supported` fields, else
/// `field label not supported: <field>` (the message of most built-in conversions).
fn check_field_label(field: &str, supported: &[&str]) -> Result<(), String> {
    if supported.contains(&field) {
        Ok(())
    } else {
        Err(format!("field label not supported: {field}"))
    }
}

/// The string at JSON `pointer` in `object`, `""` when absent (kube's field sets hold Go zero values).
fn string_at(object: &Value, pointer: &str) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The integer at JSON `pointer` in `object` in decimal, `"0"` when absent (`strconv.Itoa` of a Go int32).
fn int_at(object: &Value, pointer: &str) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_i64)
        .unwrap_or_default()
        .to_string()
}

/// Helpers for the per-kind tests: run a body through a kind's [`Typed`] strategy as the store does.
#[cfg(test)]
mod test_support {
    use fcp_api::validation::FieldError;
    use serde_json::Value;

    use crate::registry::{KindRules, Strategy, Typed};

    /// `body` decoded, defaulted and encoded by kind `K`; also checks that the result decodes again into
    /// the same object (defaults survive the typed round trip and are idempotent).
    pub(super) fn normalized<K: KindRules>(body: Value) -> Value {
        let strategy = Typed::<K>::new();
        let once = strategy.normalize(body).expect("normalizes");
        let twice = strategy.normalize(once.clone()).expect("normalizes again");
        assert_eq!(once, twice, "defaulting is idempotent and round-trips");
        once
    }

    /// The messages of kind `K`'s validation of `body` (normalized first, as on a create).
    pub(super) fn create_errors<K: KindRules>(body: Value) -> Vec<String> {
        let strategy = Typed::<K>::new();
        messages(&strategy.validate(&normalized::<K>(body)))
    }

    /// The messages of kind `K`'s update validation (both normalized).
    pub(super) fn update_errors<K: KindRules>(new: Value, old: Value) -> Vec<String> {
        let strategy = Typed::<K>::new();
        messages(&strategy.validate_update(&normalized::<K>(new), &normalized::<K>(old)))
    }

    /// Full messages (`path: body`).
    pub(super) fn messages(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(FieldError::message).collect()
    }

    /// kind `K`'s table row of `object`, with the cells paired with their column names.
    pub(super) fn row<K: KindRules>(object: &Value) -> Vec<(String, Value)> {
        let strategy = Typed::<K>::new();
        let columns = strategy.table_columns();
        let cells = strategy.table_row(object);
        assert_eq!(columns.len(), cells.len(), "one cell per column");
        columns
            .iter()
            .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
            .zip(cells)
            .collect()
    }
}
