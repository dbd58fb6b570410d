//! The `paths` of a group/version document: one path item per resource URL, with kube's operations, their
//! `x-kubernetes-action` and `x-kubernetes-group-version-kind`, and their query parameters.
//!
//! kubectl reads two things from here: a PATCH operation of the kind that lists the `fieldValidation` query
//! parameter tells it the server validates fields itself (so it skips client-side validation), and the
//! operations' GVKs tell it which kinds a group/version serves. The operations are built once in a neutral
//! form ([`PathItem`]) and rendered as OpenAPI 3 ([`PathItem::to_v3`]) or Swagger 2 ([`PathItem::to_v2`]).

use serde_json::{Map, Value, json};

use super::schemas::{DELETE_OPTIONS, Gvk, KindNames, PATCH, SCALE, STATUS};
use crate::registry::ResourceDef;

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum In {
    Path,
    Query,
}

/// One operation parameter.
#[derive(Debug, Clone, Copy)]
struct Param {
    name: &'static str,
    location: In,
    ty: &'static str,
    description: &'static str,
}

impl Param {
    fn to_v3(self) -> Value {
        let mut param = json!({
            "description": self.description,
            "in": in_name(self.location),
            "name": self.name,
            "schema": {"type": self.ty, "uniqueItems": true},
        });
        if self.location == In::Path {
            param["required"] = json!(true);
        }
        param
    }

    fn to_v2(self) -> Value {
        let mut param = json!({
            "description": self.description,
            "in": in_name(self.location),
            "name": self.name,
            "type": self.ty,
            "uniqueItems": true,
        });
        if self.location == In::Path {
            param["required"] = json!(true);
        }
        param
    }
}

fn in_name(location: In) -> &'static str {
    match location {
        In::Path => "path",
        In::Query => "query",
    }
}

const NAME: Param = Param {
    name: "name",
    location: In::Path,
    ty: "string",
    description: "name of the resource",
};
const NAMESPACE: Param = Param {
    name: "namespace",
    location: In::Path,
    ty: "string",
    description: "object name and auth scope, such as for teams and projects",
};
const PRETTY: Param = query(
    "pretty",
    "string",
    "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).",
);
const DRY_RUN: Param = query(
    "dryRun",
    "string",
    "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed",
);
const FIELD_MANAGER: Param = query(
    "fieldManager",
    "string",
    "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.",
);
/// The parameter whose presence on a kind's PATCH operation makes kubectl rely on server-side validation.
const FIELD_VALIDATION: Param = query(
    "fieldValidation",
    "string",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.",
);
const FORCE: Param = query(
    "force",
    "boolean",
    "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
);
const GRACE_PERIOD: Param = query(
    "gracePeriodSeconds",
    "integer",
    "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately.",
);
const ORPHAN: Param = query(
    "orphanDependents",
    "boolean",
    "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the \"orphan\" finalizer will be added to/removed from the object's finalizers list. Either this field or PropagationPolicy may be set, but not both.",
);
const PROPAGATION: Param = query(
    "propagationPolicy",
    "string",
    "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground.",
);
const LIST_PARAMS: [Param; 10] = [
    query(
        "allowWatchBookmarks",
        "boolean",
        "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should not assume bookmarks are returned at any specific interval, nor may they assume the server will send any BOOKMARK event during a session. If this is not a watch, this field is ignored.",
    ),
    query(
        "continue",
        "string",
        "The continue option should be set when retrieving more results from the server. Since this value is server defined, clients may only use the continue value from a previous query result with identical query parameters (except for the value of continue) and the server may reject a continue value it does not recognize.",
    ),
    query(
        "fieldSelector",
        "string",
        "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
    ),
    query(
        "labelSelector",
        "string",
        "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
    ),
    query(
        "limit",
        "integer",
        "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results.",
    ),
    query(
        "resourceVersion",
        "string",
        "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
    ),
    query(
        "resourceVersionMatch",
        "string",
        "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
    ),
    query(
        "sendInitialEvents",
        "boolean",
        "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection. Once all such events have been sent, a synthetic \"Bookmark\" event  will be sent. The bookmark will report the ResourceVersion (RV) corresponding to the set of objects, and be marked with `\"k8s.io/initial-events-end\": \"true\"` annotation.",
    ),
    query(
        "timeoutSeconds",
        "integer",
        "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.",
    ),
    query(
        "watch",
        "boolean",
        "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.",
    ),
];

const fn query(name: &'static str, ty: &'static str, description: &'static str) -> Param {
    Param {
        name,
        location: In::Query,
        ty,
        description,
    }
}

/// The request body of an operation.
#[derive(Debug, Clone)]
enum Body {
    /// An object of the named schema, as JSON.
    Object(String),
    /// A patch document, in any of the four patch media types.
    Patch,
}

/// The patch media types kube accepts.
const PATCH_TYPES: [&str; 4] = [
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

/// One response: HTTP code, description and the schema of its body.
#[derive(Debug, Clone)]
struct Reply {
    code: u16,
    description: &'static str,
    schema: String,
}

fn replies(codes: &[u16], schema: &str) -> Vec<Reply> {
    codes
        .iter()
        .map(|&code| Reply {
            code,
            description: match code {
                201 => "Created",
                202 => "Accepted",
                _ => "OK",
            },
            schema: schema.to_owned(),
        })
        .collect()
}

/// One operation of a path item.
#[derive(Debug, Clone)]
struct Operation {
    method: &'static str,
    action: &'static str,
    description: String,
    id: String,
    tag: String,
    gvk: Gvk,
    params: Vec<Param>,
    body: Option<Body>,
    replies: Vec<Reply>,
    /// Whether the 200 reply may also be a watch stream (`application/json;stream=watch`).
    watch: bool,
}

impl Operation {
    fn to_v3(&self) -> Value {
        let ref_of = |schema: &str| json!({"$ref": format!("#/components/schemas/{schema}")});
        let mut op = Map::new();
        op.insert("description".into(), json!(self.description));
        op.insert("operationId".into(), json!(self.id));
        if !self.params.is_empty() {
            op.insert(
                "parameters".into(),
                Value::Array(self.params.iter().map(|p| p.to_v3()).collect()),
            );
        }
        match &self.body {
            Some(Body::Object(schema)) => {
                op.insert(
                    "requestBody".into(),
                    json!({"content": {"application/json": {"schema": ref_of(schema)}}, "required": true}),
                );
            }
            Some(Body::Patch) => {
                let content: Map<String, Value> = PATCH_TYPES
                    .iter()
                    .map(|t| ((*t).to_owned(), json!({"schema": ref_of(PATCH)})))
                    .collect();
                op.insert(
                    "requestBody".into(),
                    json!({"content": content, "required": true}),
                );
            }
            None => {}
        }
        let mut responses = Map::new();
        for reply in &self.replies {
            let mut content = Map::new();
            content.insert(
                "application/json".into(),
                json!({"schema": ref_of(&reply.schema)}),
            );
            if self.watch && reply.code == 200 {
                content.insert(
                    "application/json;stream=watch".into(),
                    json!({"schema": ref_of(&reply.schema)}),
                );
            }
            responses.insert(
                reply.code.to_string(),
                json!({"content": content, "description": reply.description}),
            );
        }
        responses.insert("401".into(), json!({"description": "Unauthorized"}));
        op.insert("responses".into(), Value::Object(responses));
        op.insert("tags".into(), json!([self.tag]));
        op.insert("x-kubernetes-action".into(), json!(self.action));
        op.insert("x-kubernetes-group-version-kind".into(), self.gvk.to_json());
        Value::Object(op)
    }

    fn to_v2(&self) -> Value {
        let ref_of = |schema: &str| json!({"$ref": format!("#/definitions/{schema}")});
        let mut op = Map::new();
        op.insert("description".into(), json!(self.description));
        op.insert("operationId".into(), json!(self.id));
        let consumes = match self.body {
            Some(Body::Patch) => json!(PATCH_TYPES),
            _ => json!(["*/*"]),
        };
        op.insert("consumes".into(), consumes);
        let mut params: Vec<Value> = Vec::new();
        match &self.body {
            Some(Body::Object(schema)) => {
                params.push(json!({"in": "body", "name": "body", "required": true, "schema": ref_of(schema)}))
            }
            Some(Body::Patch) => {
                params.push(json!({"in": "body", "name": "body", "required": true, "schema": ref_of(PATCH)}))
            }
            None => {}
        }
        params.extend(self.params.iter().map(|p| p.to_v2()));
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        let produces = if self.watch {
            json!(["application/json", "application/json;stream=watch"])
        } else {
            json!(["application/json"])
        };
        op.insert("produces".into(), produces);
        let mut responses = Map::new();
        for reply in &self.replies {
            responses.insert(
                reply.code.to_string(),
                json!({"description": reply.description, "schema": ref_of(&reply.schema)}),
            );
        }
        responses.insert("401".into(), json!({"description": "Unauthorized"}));
        op.insert("responses".into(), Value::Object(responses));
        op.insert("schemes".into(), json!(["https"]));
        op.insert("tags".into(), json!([self.tag]));
        op.insert("x-kubernetes-action".into(), json!(self.action));
        op.insert("x-kubernetes-group-version-kind".into(), self.gvk.to_json());
        Value::Object(op)
    }
}

/// One URL with its operations.
#[derive(Debug, Clone)]
pub(crate) struct PathItem {
    /// `/api/v1/namespaces/{namespace}/configmaps/{name}`.
    pub path: String,
    params: Vec<Param>,
    ops: Vec<Operation>,
}

impl PathItem {
    /// The OpenAPI 3 path item.
    pub(crate) fn to_v3(&self) -> Value {
        let mut item = Map::new();
        for op in &self.ops {
            item.insert(op.method.into(), op.to_v3());
        }
        item.insert(
            "parameters".into(),
            Value::Array(self.params.iter().map(|p| p.to_v3()).collect()),
        );
        Value::Object(item)
    }

    /// The Swagger 2.0 path item.
    pub(crate) fn to_v2(&self) -> Value {
        let mut item = Map::new();
        for op in &self.ops {
            item.insert(op.method.into(), op.to_v2());
        }
        item.insert(
            "parameters".into(),
            Value::Array(self.params.iter().map(|p| p.to_v2()).collect()),
        );
        Value::Object(item)
    }
}

/// `Core`, `Apps`, `RbacAuthorization`, `Networking`: the group as kube spells it in operation ids.
fn group_pascal(group: &str) -> String {
    if group.is_empty() {
        return "Core".to_owned();
    }
    group
        .trim_end_matches(".k8s.io")
        .split(['.', '-'])
        .map(capitalize)
        .collect()
}

/// `core_v1`, `apps_v1`, `rbacAuthorization_v1`: the operation tag of a group/version.
fn tag(group: &str, version: &str) -> String {
    let pascal = group_pascal(group);
    let mut chars = pascal.chars();
    let camel: String = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    };
    format!("{camel}_{version}")
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The path items of one served resource: its collection, its objects, the all-namespaces list of a
/// namespaced resource, and its `status`, `scale` (and, for namespaces, `finalize`) subresources.
pub(crate) fn resource_paths(resource: &ResourceDef, names: &KindNames) -> Vec<PathItem> {
    let group = resource.group;
    let version = resource.version;
    let kind = resource.kind;
    let namespaced = resource.namespaced();
    let gv = format!("{}{}", group_pascal(group), capitalize(version));
    let scoped = if namespaced { "Namespaced" } else { "" };
    let tag = tag(group, version);
    let gvk = Gvk {
        group: group.to_owned(),
        version: version.to_owned(),
        kind: kind.to_owned(),
    };
    let base = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let collection = if namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", resource.plural)
    } else {
        format!("{base}/{}", resource.plural)
    };
    let item = format!("{collection}/{{name}}");
    let scope_params = |mut params: Vec<Param>| {
        if namespaced {
            params.push(NAMESPACE);
        }
        params.push(PRETTY);
        params
    };
    let op = |method, action, description: String, id: String| Operation {
        method,
        action,
        description,
        id,
        tag: tag.clone(),
        gvk: gvk.clone(),
        params: Vec::new(),
        body: None,
        replies: Vec::new(),
        watch: false,
    };
    let write_params = vec![DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
    let patch_params = vec![DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE];
    let delete_params = vec![GRACE_PERIOD, ORPHAN, PROPAGATION, DRY_RUN];

    let mut items = Vec::new();
    let mut collection_params = delete_params.clone();
    collection_params.extend(LIST_PARAMS);
    items.push(PathItem {
        path: collection,
        params: scope_params(Vec::new()),
        ops: vec![
            Operation {
                params: LIST_PARAMS.to_vec(),
                replies: replies(&[200], &names.list),
                watch: true,
                ..op(
                    "get",
                    "list",
                    format!("list or watch objects of kind {kind}"),
                    format!("list{gv}{scoped}{kind}"),
                )
            },
            Operation {
                params: write_params.clone(),
                body: Some(Body::Object(names.kind.clone())),
                replies: replies(&[200, 201, 202], &names.kind),
                ..op(
                    "post",
                    "post",
                    format!("create a {kind}"),
                    format!("create{gv}{scoped}{kind}"),
                )
            },
            Operation {
                params: collection_params,
                body: Some(Body::Object(DELETE_OPTIONS.to_owned())),
                replies: replies(&[200], STATUS),
                ..op(
                    "delete",
                    "deletecollection",
                    format!("delete collection of {kind}"),
                    format!("delete{gv}Collection{scoped}{kind}"),
                )
            },
        ],
    });
    items.push(PathItem {
        path: item.clone(),
        params: scope_params(vec![NAME]),
        ops: vec![
            Operation {
                replies: replies(&[200], &names.kind),
                ..op(
                    "get",
                    "get",
                    format!("read the specified {kind}"),
                    format!("read{gv}{scoped}{kind}"),
                )
            },
            Operation {
                params: write_params.clone(),
                body: Some(Body::Object(names.kind.clone())),
                replies: replies(&[200, 201], &names.kind),
                ..op(
                    "put",
                    "put",
                    format!("replace the specified {kind}"),
                    format!("replace{gv}{scoped}{kind}"),
                )
            },
            Operation {
                params: patch_params.clone(),
                body: Some(Body::Patch),
                replies: replies(&[200, 201], &names.kind),
                ..op(
                    "patch",
                    "patch",
                    format!("partially update the specified {kind}"),
                    format!("patch{gv}{scoped}{kind}"),
                )
            },
            Operation {
                params: delete_params,
                body: Some(Body::Object(DELETE_OPTIONS.to_owned())),
                replies: replies(&[200, 202], STATUS),
                ..op(
                    "delete",
                    "delete",
                    format!("delete a {kind}"),
                    format!("delete{gv}{scoped}{kind}"),
                )
            },
        ],
    });
    if namespaced {
        items.push(PathItem {
            path: format!("{base}/{}", resource.plural),
            params: vec![PRETTY],
            ops: vec![Operation {
                params: LIST_PARAMS.to_vec(),
                replies: replies(&[200], &names.list),
                watch: true,
                ..op(
                    "get",
                    "list",
                    format!("list or watch objects of kind {kind}"),
                    format!("list{gv}{kind}ForAllNamespaces"),
                )
            }],
        });
    }
    let subresource = |name: &str, schema: &str, gvk: &Gvk, what: &str| PathItem {
        path: format!("{item}/{name}"),
        params: scope_params(vec![NAME]),
        ops: vec![
            Operation {
                gvk: gvk.clone(),
                replies: replies(&[200], schema),
                ..op(
                    "get",
                    "get",
                    format!("read {what} of the specified {kind}"),
                    format!("read{gv}{scoped}{kind}{}", capitalize(name)),
                )
            },
            Operation {
                gvk: gvk.clone(),
                params: write_params.clone(),
                body: Some(Body::Object(schema.to_owned())),
                replies: replies(&[200, 201], schema),
                ..op(
                    "put",
                    "put",
                    format!("replace {what} of the specified {kind}"),
                    format!("replace{gv}{scoped}{kind}{}", capitalize(name)),
                )
            },
            Operation {
                gvk: gvk.clone(),
                params: patch_params.clone(),
                body: Some(Body::Patch),
                replies: replies(&[200, 201], schema),
                ..op(
                    "patch",
                    "patch",
                    format!("partially update {what} of the specified {kind}"),
                    format!("patch{gv}{scoped}{kind}{}", capitalize(name)),
                )
            },
        ],
    };
    if resource.subresources.status {
        items.push(subresource("status", &names.kind, &gvk, "status"));
    }
    if resource.subresources.scale {
        let scale = Gvk {
            group: "autoscaling".to_owned(),
            version: "v1".to_owned(),
            kind: "Scale".to_owned(),
        };
        items.push(subresource("scale", SCALE, &scale, "scale"));
    }
    if group.is_empty() && kind == "Namespace" {
        items.push(PathItem {
            path: format!("{item}/finalize"),
            params: vec![NAME, PRETTY],
            ops: vec![Operation {
                params: write_params.clone(),
                body: Some(Body::Object(names.kind.clone())),
                replies: replies(&[200, 201], &names.kind),
                ..op(
                    "put",
                    "put",
                    format!("replace finalize of the specified {kind}"),
                    format!("replace{gv}{kind}Finalize"),
                )
            }],
        });
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_spelling_of_groups() {
        assert_eq!(group_pascal(""), "Core");
        assert_eq!(group_pascal("apps"), "Apps");
        assert_eq!(group_pascal("rbac.authorization.k8s.io"), "RbacAuthorization");
        assert_eq!(group_pascal("networking.k8s.io"), "Networking");
        assert_eq!(tag("rbac.authorization.k8s.io", "v1"), "rbacAuthorization_v1");
        assert_eq!(tag("", "v1"), "core_v1");
    }
}
