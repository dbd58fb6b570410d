//! Response content negotiation: what the client's `Accept` asks the object to be rendered as.
//!
//! - plain JSON (`application/json`, `*/*`, no header): the object itself;
//! - `application/json;as=Table;v=v1;g=meta.k8s.io`: a `meta.k8s.io/v1` Table (what `kubectl get` prints);
//! - `application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io` (and `...List`): metadata only (kube-rs
//!   `metadata_watcher`, client-go metadata informers).
//!
//! Entries are tried in order; the first one the server can produce wins. Protobuf, CBOR and YAML responses
//! are not produced: a client that accepts nothing else gets 406.

use serde_json::{Value, json};

use crate::{
    error::{ApiError, ApiResult},
    registry::ResourceDef,
};

/// How a response object is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendering {
    /// The object (or list) itself.
    Object,
    /// A `meta.k8s.io` Table of the given version (`v1` or `v1beta1`).
    Table(&'static str),
    /// `PartialObjectMetadata` / `PartialObjectMetadataList` of the given version.
    Metadata(&'static str),
}

/// What goes into each Table row's `object` (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object.
    None,
    /// `PartialObjectMetadata` (the default).
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` query parameter.
    ///
    /// # Errors
    /// 400 for values other than `None`, `Metadata`, `Object`.
    pub fn parse(value: Option<&str>) -> ApiResult<Self> {
        match value {
            None | Some("" | "Metadata") => Ok(Self::Metadata),
            Some("None") => Ok(Self::None),
            Some("Object") => Ok(Self::Object),
            Some(other) => Err(ApiError::bad_request(format!(
                "invalid includeObject {other:?}: supported values are None, Metadata, Object"
            ))),
        }
    }
}

/// Picks the rendering from an `Accept` header (`None` = no header).
///
/// # Errors
/// 406 when no entry can be produced.
pub fn rendering(accept: Option<&str>) -> ApiResult<Rendering> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Rendering::Object);
    };
    for entry in accept.split(',') {
        let mut parts = entry.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let params: Vec<(String, String)> = parts
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        if !matches!(media.as_str(), "application/json" | "*/*" | "application/*") {
            continue;
        }
        match (param("as"), param("g"), param("v")) {
            (None, _, _) => return Ok(Rendering::Object),
            (Some("Table"), Some("meta.k8s.io"), Some("v1")) => return Ok(Rendering::Table("v1")),
            (Some("Table"), Some("meta.k8s.io"), Some("v1beta1")) => return Ok(Rendering::Table("v1beta1")),
            (
                Some("PartialObjectMetadata" | "PartialObjectMetadataList"),
                Some("meta.k8s.io"),
                Some("v1"),
            ) => {
                return Ok(Rendering::Metadata("v1"));
            }
            (
                Some("PartialObjectMetadata" | "PartialObjectMetadataList"),
                Some("meta.k8s.io"),
                Some("v1beta1"),
            ) => {
                return Ok(Rendering::Metadata("v1beta1"));
            }
            _ => {}
        }
    }
    Err(ApiError::not_acceptable(accept))
}

/// `PartialObjectMetadata` of an object.
#[must_use]
pub fn partial_metadata(object: &Value, version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// `PartialObjectMetadataList` of a list document.
#[must_use]
pub fn partial_metadata_list(list: &Value, version: &str) -> Value {
    let items: Vec<Value> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            let mut partial = partial_metadata(item, version);
            if let Some(map) = partial.as_object_mut() {
                map.remove("kind");
                map.remove("apiVersion");
            }
            partial
        })
        .collect();
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": list.get("metadata").cloned().unwrap_or_else(|| json!({})),
        "items": items,
    })
}

/// A Table of `objects` (served objects, with kind/apiVersion) with the resource's columns.
/// `with_definitions` is false for watch events after the first, as kube sends them.
#[must_use]
pub fn table(
    resource: &ResourceDef,
    objects: &[Value],
    list_metadata: Value,
    include: IncludeObject,
    version: &str,
    with_definitions: bool,
) -> Value {
    let columns = resource.strategy.table_columns();
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let mut row = json!({"cells": resource.strategy.table_row(object)});
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => row["object"] = partial_metadata(object, "v1"),
                IncludeObject::Object => row["object"] = object.clone(),
            }
            row
        })
        .collect();
    let mut table = json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": list_metadata,
        "rows": rows,
    });
    if with_definitions {
        table["columnDefinitions"] = json!(columns);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_get_asks_for_a_table_first() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(rendering(Some(kubectl)).unwrap(), Rendering::Table("v1"));
        assert_eq!(
            rendering(Some("application/json;as=Table;v=v1beta1;g=meta.k8s.io")).unwrap(),
            Rendering::Table("v1beta1")
        );
    }

    #[test]
    fn plain_and_wildcard_accepts_get_objects() {
        for accept in [
            None,
            Some(""),
            Some("*/*"),
            Some("application/json"),
            Some("application/json, */*"),
            Some("application/json;charset=utf-8"),
        ] {
            assert_eq!(rendering(accept).unwrap(), Rendering::Object, "{accept:?}");
        }
        // client-go typed clients: protobuf first, JSON accepted.
        assert_eq!(
            rendering(Some("application/vnd.kubernetes.protobuf,application/json")).unwrap(),
            Rendering::Object
        );
    }

    #[test]
    fn metadata_only_and_unacceptable() {
        assert_eq!(
            rendering(Some(
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
            ))
            .unwrap(),
            Rendering::Metadata("v1")
        );
        assert_eq!(
            rendering(Some("application/vnd.kubernetes.protobuf"))
                .unwrap_err()
                .code,
            406
        );
        assert_eq!(
            rendering(Some("application/json;as=Table;v=v2;g=meta.k8s.io"))
                .unwrap_err()
                .code,
            406
        );
        assert_eq!(rendering(Some("text/html")).unwrap_err().code, 406);
    }
}
