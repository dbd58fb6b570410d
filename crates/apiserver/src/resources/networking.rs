//! `networking.k8s.io/v1` kinds: ingresses.

use fcp_api::validation::{FieldError, is_dns1123_subdomain};
use jiff::Timestamp;
use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};
use serde_json::{Value, json};

use super::{
    Names, STATUS, def,
    pod_template::PORT_RANGE,
    printers::{age_cell, age_column, column, load_balancer_addresses, name_column},
};
use crate::registry::{KindRules, ResourceDef, Scope};

/// The path types networking.k8s.io/v1 supports.
const PATH_TYPES: [&str; 3] = ["Exact", "ImplementationSpecific", "Prefix"];

pub(super) fn resources() -> Vec<ResourceDef> {
    let names = Names {
        group: "networking.k8s.io",
        version: "v1",
        kind: "Ingress",
        plural: "ingresses",
        singular: "ingress",
        scope: Scope::Namespaced,
        short_names: &["ing"],
        categories: &[],
    };
    // kube-apiserver keeps ingresses under the singular `ingress` path.
    vec![def::<Ingress>(names, "ingress", STATUS, true)]
}

impl KindRules for Ingress {
    /// The core of kube's `ValidateIngressSpec`: a default backend or rules; rule hosts are DNS names
    /// (a leading `*.` allowed); every path has a supported `pathType` and, for `Exact`/`Prefix`, an absolute
    /// path; backends name a service with a port (number in range or name) or a resource, not both.
    fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        // kube prints the (Go, internal) rules value: a nil slice, or an empty one.
        let no_rules = |rules: Option<&Vec<_>>| FieldError {
            path: "spec".to_owned(),
            kind: fcp_api::validation::FieldErrorKind::Invalid,
            value: Some(
                if rules.is_some() {
                    "[]networking.IngressRule{}"
                } else {
                    "[]networking.IngressRule(nil)"
                }
                .to_owned(),
            ),
            detail: "either `defaultBackend` or `rules` must be specified".to_owned(),
        };
        let Some(spec) = &self.spec else {
            return vec![no_rules(None)];
        };
        let rules = spec.rules.as_deref().unwrap_or_default();
        if spec.default_backend.is_none() && rules.is_empty() {
            errs.push(no_rules(spec.rules.as_ref()));
        }
        if let Some(backend) = &spec.default_backend {
            errs.extend(validate_backend(backend, "spec.defaultBackend"));
        }
        for (i, rule) in rules.iter().enumerate() {
            let rule_path = format!("spec.rules[{i}]");
            if let Some(host) = rule.host.as_deref().filter(|h| !h.is_empty()) {
                let name = host.strip_prefix("*.").unwrap_or(host);
                for msg in is_dns1123_subdomain(name) {
                    errs.push(FieldError::invalid(format!("{rule_path}.host"), Some(host), msg));
                }
            }
            let Some(http) = &rule.http else { continue };
            for (j, path) in http.paths.iter().enumerate() {
                let path_path = format!("{rule_path}.http.paths[{j}]");
                if path.path_type.is_empty() {
                    errs.push(FieldError::required(
                        format!("{path_path}.pathType"),
                        "pathType must be specified",
                    ));
                } else if !PATH_TYPES.contains(&path.path_type.as_str()) {
                    errs.push(FieldError::not_supported(
                        format!("{path_path}.pathType"),
                        &path.path_type,
                        &PATH_TYPES,
                    ));
                }
                let value = path.path.as_deref().unwrap_or_default();
                if path.path_type != "ImplementationSpecific" && !value.starts_with('/') {
                    errs.push(FieldError::invalid(
                        format!("{path_path}.path"),
                        Some(value),
                        "must be an absolute path",
                    ));
                }
                errs.extend(validate_backend(&path.backend, &format!("{path_path}.backend")));
            }
        }
        errs
    }

    fn table_columns() -> Vec<Value> {
        vec![
            name_column(),
            column(
                "Class",
                "string",
                0,
                "The name of the IngressClass resource that should be used for this Ingress",
            ),
            column(
                "Hosts",
                "string",
                0,
                "Hosts that incoming requests are matched against before the ingress rule",
            ),
            column(
                "Address",
                "string",
                0,
                "Address is a list containing ingress points for the load-balancer",
            ),
            column("Ports", "string", 0, "Ports of TLS configurations that open"),
            age_column(),
        ]
    }

    /// kube's `printIngress`: class (`<none>`), up to three hosts (`*` when none), addresses, `80` or
    /// `80, 443` with TLS, age.
    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        let spec = self.spec.clone().unwrap_or_default();
        let rules = spec.rules.unwrap_or_default();
        let mut hosts: Vec<String> = Vec::new();
        let mut more = false;
        for rule in &rules {
            if hosts.len() == 3 {
                more = true;
            }
            if let Some(host) = rule.host.as_ref().filter(|h| !more && !h.is_empty()) {
                hosts.push(host.clone());
            }
        }
        let hosts = match (hosts.is_empty(), more) {
            (true, _) => "*".to_owned(),
            (false, true) => format!("{} + {} more...", hosts.join(","), rules.len() - 3),
            (false, false) => hosts.join(","),
        };
        let ingress = object
            .pointer("/status/loadBalancer/ingress")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let ports = if spec.tls.as_ref().is_some_and(|t| !t.is_empty()) {
            "80, 443"
        } else {
            "80"
        };
        vec![
            object["metadata"]["name"].clone(),
            json!(spec.ingress_class_name.unwrap_or_else(|| "<none>".to_owned())),
            json!(hosts),
            json!(load_balancer_addresses(&ingress)),
            json!(ports),
            age_cell(object, now),
        ]
    }
}

/// One Ingress backend: exactly one of service and resource; a service backend needs a port number in range
/// or a port name, not both.
fn validate_backend(backend: &IngressBackend, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match (&backend.service, &backend.resource) {
        (Some(_), Some(_)) => errs.push(FieldError::invalid(
            path,
            None,
            "cannot set both resource and service backends",
        )),
        (None, None) => errs.push(FieldError::invalid(
            path,
            None,
            "resource or service backend is required",
        )),
        (Some(service), None) => {
            if service.name.is_empty() {
                errs.push(FieldError::required(format!("{path}.service.name"), ""));
            }
            let port_path = format!("{path}.service.port");
            match service.port.as_ref().map(|p| {
                (
                    p.name.as_deref().filter(|n| !n.is_empty()),
                    p.number.filter(|n| *n != 0),
                )
            }) {
                None | Some((None, None)) => errs.push(FieldError::invalid(
                    port_path,
                    None,
                    "port name or number is required",
                )),
                Some((Some(_), Some(_))) => errs.push(FieldError::invalid(
                    port_path,
                    None,
                    "cannot set both port name & port number",
                )),
                Some((None, Some(number))) if !(1..=65535).contains(&number) => {
                    errs.push(FieldError::invalid_value(
                        format!("{port_path}.number"),
                        number,
                        PORT_RANGE,
                    ));
                }
                Some(_) => {}
            }
        }
        (None, Some(_)) => {}
    }
    errs
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::resources::test_support::{create_errors, normalized, row};

    fn ingress(path_type: &str, path: &str) -> Value {
        json!({"metadata": {"name": "web"}, "spec": {"rules": [{"host": "a.example.com", "http": {"paths": [
            {"path": path, "pathType": path_type, "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}})
    }

    #[test]
    fn ingress_validation() {
        assert!(create_errors::<Ingress>(ingress("Prefix", "/")).is_empty());
        assert_eq!(
            create_errors::<Ingress>(json!({"metadata": {"name": "i"}})),
            vec![
                "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"
            ]
        );
        assert_eq!(
            create_errors::<Ingress>(ingress("Regex", "/")),
            vec![
                "spec.rules[0].http.paths[0].pathType: Unsupported value: \"Regex\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\""
            ]
        );
        assert_eq!(
            create_errors::<Ingress>(ingress("Exact", "api")),
            vec!["spec.rules[0].http.paths[0].path: Invalid value: \"api\": must be an absolute path"]
        );
        // k8s-openapi decodes a missing pathType as "": kube's Required error.
        let mut missing = ingress("Prefix", "/");
        missing["spec"]["rules"][0]["http"]["paths"][0]
            .as_object_mut()
            .expect("object")
            .remove("pathType");
        assert_eq!(
            create_errors::<Ingress>(missing),
            vec!["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"]
        );
    }

    #[test]
    fn ingress_row() {
        let mut ing = normalized::<Ingress>(ingress("Prefix", "/"));
        ing["status"] = json!({"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}});
        let cells: Vec<Value> = row::<Ingress>(&ing).into_iter().map(|(_, v)| v).collect();
        assert_eq!(
            cells[..5],
            [
                json!("web"),
                json!("<none>"),
                json!("a.example.com"),
                json!("10.0.0.1"),
                json!("80")
            ]
        );
    }
}
