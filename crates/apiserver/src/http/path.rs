//! Parsing of Kubernetes resource URLs:
//! `/api/v1[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]` and the same under `/apis/{group}/{version}`.

use std::sync::Arc;

use crate::{
    error::{ApiError, ApiResult},
    registry::{Registry, ResourceDef},
};

/// A resource URL, resolved against the registry.
#[derive(Debug, Clone)]
pub struct ResourcePath {
    /// The resource addressed.
    pub resource: Arc<ResourceDef>,
    /// The namespace from the URL (`None` for cluster-scoped resources and all-namespace collections).
    pub namespace: Option<String>,
    /// The object name (`None` for the collection).
    pub name: Option<String>,
    /// The subresource (`status`, `scale`, `finalize`).
    pub subresource: Option<String>,
}

/// Resolves a request path. Paths that do not name a served resource are a 404 with kube's message.
///
/// # Errors
/// 404 for anything not served.
pub fn parse(registry: &Registry, path: &str) -> ApiResult<ResourcePath> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(ApiError::path_not_found()),
    };
    if rest.iter().any(|s| s.is_empty()) {
        return Err(ApiError::path_not_found());
    }
    let lookup = |plural: &str| registry.lookup(group, version, plural).cloned();
    let resolved = match rest {
        // /namespaces/{ns}/{resource}[/{name}[/{sub}]] when {resource} is a namespaced resource; otherwise
        // it is the namespace object itself with a subresource (`/namespaces/{name}/status`).
        ["namespaces", ns, plural, tail @ ..] if lookup(plural).is_some_and(|r| r.namespaced()) => {
            lookup(plural).map(|resource| (resource, Some(*ns), tail))
        }
        [plural, tail @ ..] => lookup(plural).map(|resource| (resource, None, tail)),
        [] => None,
    };
    let Some((resource, namespace, tail)) = resolved else {
        return Err(ApiError::path_not_found());
    };
    let (name, subresource) = match tail {
        [] => (None, None),
        [name] => (Some(*name), None),
        [name, sub] => (Some(*name), Some(*sub)),
        _ => return Err(ApiError::path_not_found()),
    };
    let subresource_served = match subresource {
        None => true,
        Some("status") => resource.subresources.status,
        Some("scale") => resource.subresources.scale,
        Some("finalize") => resource.plural == "namespaces" && resource.group.is_empty(),
        Some(_) => false,
    };
    if !subresource_served {
        return Err(ApiError::path_not_found());
    }
    Ok(ResourcePath {
        resource,
        namespace: namespace.map(str::to_owned),
        name: name.map(str::to_owned),
        subresource: subresource.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::federation_profile;

    fn registry() -> Registry {
        Registry::new(federation_profile())
    }

    #[test]
    fn namespaced_collection_object_and_subresource() {
        let registry = registry();
        let p = parse(&registry, "/apis/apps/v1/namespaces/ns1/deployments/web/status").unwrap();
        assert_eq!(p.resource.plural, "deployments");
        assert_eq!(p.namespace.as_deref(), Some("ns1"));
        assert_eq!(p.name.as_deref(), Some("web"));
        assert_eq!(p.subresource.as_deref(), Some("status"));
        let p = parse(&registry, "/api/v1/namespaces/ns1/configmaps").unwrap();
        assert_eq!((p.namespace.as_deref(), p.name.as_deref()), (Some("ns1"), None));
        let p = parse(&registry, "/api/v1/configmaps").unwrap();
        assert_eq!((p.namespace, p.name), (None, None));
    }

    #[test]
    fn namespace_objects_and_their_subresources() {
        let registry = registry();
        let p = parse(&registry, "/api/v1/namespaces/ns1").unwrap();
        assert_eq!(
            (p.resource.plural, p.name.as_deref()),
            ("namespaces", Some("ns1"))
        );
        let p = parse(&registry, "/api/v1/namespaces/ns1/finalize").unwrap();
        assert_eq!(p.subresource.as_deref(), Some("finalize"));
        let p = parse(&registry, "/api/v1/namespaces/ns1/status").unwrap();
        assert_eq!(p.subresource.as_deref(), Some("status"));
    }

    #[test]
    fn unknown_paths_are_not_found() {
        let registry = registry();
        for path in [
            "/api/v1/pods",
            "/apis/apps/v1/namespaces/ns1/configmaps",
            "/api/v1/namespaces/ns1/configmaps/a/b/c",
            "/api/v1/namespaces/ns1/configmaps/a/scale",
            "/apis/federation/v1beta1/namespaces/ns1/clusters",
            "/api/v2/configmaps",
            "/api/v1/configmaps//x",
            "/foo",
        ] {
            assert_eq!(parse(&registry, path).unwrap_err().code, 404, "{path}");
        }
    }
}
