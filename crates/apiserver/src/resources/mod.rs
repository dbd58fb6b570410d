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
mod networking;
mod rbac;

use std::sync::Arc;

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
