//! What a request asks to do, from its method, path and query alone — kube's `RequestInfoFactory`, so that
//! RBAC rules written for kube-apiserver mean the same here.
//!
//! `/api/v1/namespaces/a/configmaps/x` is a resource request (verb from the method: `get`, `create`,
//! `update`, `patch`, `delete`; a collection GET is `list` or `watch`, a collection DELETE is
//! `deletecollection`); `/healthz`, `/version`, `/api`, `/apis/apps` are non-resource requests (verb = the
//! lower-cased method).

use axum::http::Method;

use super::authz::RequestAttributes;

/// Subresources of a namespace that keep `namespaces` as the resource (`/api/v1/namespaces/x/status`).
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

/// The attributes of a request on `path` with `query` (the raw query string, if any).
#[must_use]
pub fn resolve(method: &Method, path: &str, query: Option<&str>) -> RequestAttributes {
    let lower_method = method.as_str().to_ascii_lowercase();
    let non_resource = || RequestAttributes::non_resource(&lower_method, path);
    let parts: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() < 3 {
        return non_resource();
    }
    let (api_group, rest) = match parts[0] {
        "api" => ("", &parts[1..]),
        "apis" if parts.len() >= 4 => (parts[1], &parts[2..]),
        _ => return non_resource(),
    };
    let api_version = rest[0];
    let mut rest = &rest[1..];
    let mut attributes = RequestAttributes {
        resource_request: true,
        path: path.to_owned(),
        api_group: api_group.to_owned(),
        api_version: api_version.to_owned(),
        ..RequestAttributes::default()
    };
    // `/watch/...` paths of old clients.
    let mut verb = if rest.first() == Some(&"watch") && rest.len() >= 2 {
        rest = &rest[1..];
        "watch"
    } else {
        match *method {
            Method::POST => "create",
            Method::GET | Method::HEAD => "get",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE => "delete",
            _ => "",
        }
    };
    if rest.first() == Some(&"namespaces") && rest.len() > 1 {
        attributes.namespace = rest[1].to_owned();
        if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
            rest = &rest[2..];
        }
    }
    if let Some(resource) = rest.first() {
        attributes.resource = (*resource).to_owned();
    }
    if let Some(name) = rest.get(1) {
        attributes.name = (*name).to_owned();
    }
    if let Some(subresource) = rest.get(2) {
        attributes.subresource = (*subresource).to_owned();
    }
    if attributes.name.is_empty() && verb == "get" {
        let mut watch = false;
        for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "watch" => watch = matches!(value.as_ref(), "true" | "1"),
                // `kubectl get cm x -w` lists and watches one object by field selector: authorized by name.
                "fieldSelector" => {
                    if let Some(name) = single_name_selector(&value) {
                        attributes.name = name.to_owned();
                    }
                }
                _ => {}
            }
        }
        verb = if watch { "watch" } else { "list" };
    }
    if attributes.name.is_empty() && verb == "delete" {
        verb = "deletecollection";
    }
    attributes.verb = verb.to_owned();
    attributes
}

/// `metadata.name=x` (or `==`) as the only requirement of a field selector.
fn single_name_selector(selector: &str) -> Option<&str> {
    if selector.contains(',') {
        return None;
    }
    let name = selector
        .strip_prefix("metadata.name==")
        .or_else(|| selector.strip_prefix("metadata.name="))?;
    (!name.is_empty()).then_some(name)
}

/// Whether the request is long-running (a watch), and so not counted against the in-flight limits nor
/// bound by the request timeout.
#[must_use]
pub fn is_long_running(attributes: &RequestAttributes) -> bool {
    attributes.resource_request && attributes.verb == "watch"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(method: Method, path: &str, query: Option<&str>) -> RequestAttributes {
        resolve(&method, path, query)
    }

    #[test]
    fn resource_requests_resolve_like_kube() {
        let a = resolved(Method::GET, "/api/v1/namespaces/a/configmaps", None);
        assert_eq!(
            (
                a.verb.as_str(),
                a.api_group.as_str(),
                a.resource.as_str(),
                a.namespace.as_str()
            ),
            ("list", "", "configmaps", "a")
        );
        let a = resolved(Method::GET, "/api/v1/namespaces/a/configmaps", Some("watch=1"));
        assert_eq!(a.verb, "watch");
        assert!(is_long_running(&a));
        let a = resolved(
            Method::GET,
            "/api/v1/namespaces/a/configmaps",
            Some("fieldSelector=metadata.name%3Dx&watch=true"),
        );
        assert_eq!((a.verb.as_str(), a.name.as_str()), ("watch", "x"));
        let a = resolved(
            Method::PUT,
            "/apis/apps/v1/namespaces/a/deployments/d/status",
            None,
        );
        assert_eq!(
            (
                a.verb.as_str(),
                a.api_group.as_str(),
                a.api_version.as_str(),
                a.resource_with_subresource().as_str(),
                a.name.as_str()
            ),
            ("update", "apps", "v1", "deployments/status", "d")
        );
        let a = resolved(Method::DELETE, "/api/v1/namespaces/a/secrets", None);
        assert_eq!(a.verb, "deletecollection");
        assert!(a.is_mutating());
        let a = resolved(Method::POST, "/api/v1/namespaces", None);
        assert_eq!(
            (a.verb.as_str(), a.resource.as_str(), a.namespace.as_str()),
            ("create", "namespaces", "")
        );
        // The namespace object itself: its name is also its namespace.
        let a = resolved(Method::GET, "/api/v1/namespaces/a", None);
        assert_eq!(
            (
                a.verb.as_str(),
                a.resource.as_str(),
                a.name.as_str(),
                a.namespace.as_str()
            ),
            ("get", "namespaces", "a", "a")
        );
        let a = resolved(Method::PUT, "/api/v1/namespaces/a/finalize", None);
        assert_eq!(
            (a.resource_with_subresource().as_str(), a.name.as_str()),
            ("namespaces/finalize", "a")
        );
        let a = resolved(Method::GET, "/apis/federation/v1beta1/clusters/c1", None);
        assert_eq!(
            (a.resource.as_str(), a.name.as_str(), a.namespace.as_str()),
            ("clusters", "c1", "")
        );
        let a = resolved(Method::GET, "/api/v1/watch/namespaces/a/configmaps", None);
        assert_eq!((a.verb.as_str(), a.resource.as_str()), ("watch", "configmaps"));
    }

    #[test]
    fn other_paths_are_non_resource_requests() {
        for path in [
            "/healthz",
            "/version",
            "/api",
            "/api/v1",
            "/apis",
            "/apis/apps",
            "/apis/apps/v1",
            "/openapi/v2",
        ] {
            let a = resolved(Method::GET, path, None);
            assert!(!a.resource_request, "{path}");
            assert_eq!((a.verb.as_str(), a.path.as_str()), ("get", path));
        }
        assert!(resolved(Method::POST, "/healthz", None).is_mutating());
    }
}
