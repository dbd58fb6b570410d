//! The registry: which resources are served, and the generic store that serves them.

mod apply;
pub mod cache;
pub mod event_ttl;
pub mod field_validation;
mod meta;
pub mod namespaces;
mod resource;
pub mod scale;
pub mod store;
mod strategy;
pub mod watch;

use std::{collections::HashMap, sync::Arc};

pub use resource::{ResourceDef, Scope, Subresources};
pub use strategy::{Conversion, KindRules, Strategy, Typed, default_field_value};

/// Every served resource, in discovery order, with lookups by URL.
#[derive(Debug, Default)]
pub struct Registry {
    resources: Vec<Arc<ResourceDef>>,
    by_url: HashMap<(String, String, String), Arc<ResourceDef>>,
}

/// One API group with its versions (preferred first), as discovery lists it.
#[derive(Debug, Clone)]
pub struct GroupVersions {
    /// Group name (`""` for core).
    pub group: &'static str,
    /// Versions served, preferred first.
    pub versions: Vec<&'static str>,
}

impl Registry {
    /// A registry serving `resources`; groups appear in discovery in the order of their first resource.
    ///
    /// # Panics
    /// When two definitions claim the same group/version/resource (a programming error).
    #[must_use]
    pub fn new(resources: Vec<ResourceDef>) -> Self {
        let mut registry = Self::default();
        for resource in resources {
            let resource = Arc::new(resource);
            let key = (
                resource.group.to_owned(),
                resource.version.to_owned(),
                resource.plural.to_owned(),
            );
            let previous = registry.by_url.insert(key, resource.clone());
            assert!(previous.is_none(), "resource {resource:?} registered twice");
            registry.resources.push(resource);
        }
        registry
    }

    /// The resource served at `/apis/<group>/<version>/<plural>` (or `/api/v1/<plural>` for group `""`).
    #[must_use]
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<&Arc<ResourceDef>> {
        self.by_url
            .get(&(group.to_owned(), version.to_owned(), plural.to_owned()))
    }

    /// Every served resource, in registration order.
    pub fn all(&self) -> impl Iterator<Item = &ResourceDef> {
        self.resources.iter().map(AsRef::as_ref)
    }

    /// All resources of one group/version, in registration order.
    pub fn resources_of<'a>(
        &'a self,
        group: &'a str,
        version: &'a str,
    ) -> impl Iterator<Item = &'a Arc<ResourceDef>> {
        self.resources
            .iter()
            .filter(move |r| r.group == group && r.version == version)
    }

    /// Whether any resource is served in `group`/`version`.
    #[must_use]
    pub fn serves(&self, group: &str, version: &str) -> bool {
        self.resources_of(group, version).next().is_some()
    }

    /// The served groups with their versions, in registration order (core first when registered first).
    #[must_use]
    pub fn groups(&self) -> Vec<GroupVersions> {
        let mut groups: Vec<GroupVersions> = Vec::new();
        for resource in &self.resources {
            match groups.iter_mut().find(|g| g.group == resource.group) {
                Some(group) if !group.versions.contains(&resource.version) => {
                    group.versions.push(resource.version)
                }
                Some(_) => {}
                None => groups.push(GroupVersions {
                    group: resource.group,
                    versions: vec![resource.version],
                }),
            }
        }
        groups
    }
}
