//! OpenAPI: the `/openapi/v3` index and per-group/version documents, and `/openapi/v2`.
//!
//! # What is served
//! - `GET /openapi/v3` → `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=<HASH>"}, …}}`
//!   with one entry per served group/version; `<HASH>` is the uppercase hex SHA-512 of that document (as
//!   kube-apiserver computes it), so it changes exactly when the document does.
//! - `GET /openapi/v3/api/v1`, `GET /openapi/v3/apis/<group>/<version>` → an OpenAPI 3.0 document whose
//!   `components.schemas` hold every served kind of that group/version, its `<Kind>List`, and everything they
//!   reference (`ObjectMeta`, `PodSpec`, …, with descriptions), named as kube names them
//!   (`io.k8s.api.apps.v1.Deployment`); top-level kinds carry `x-kubernetes-group-version-kind`. `paths` has
//!   kube's operations for every resource URL, each with `x-kubernetes-action`,
//!   `x-kubernetes-group-version-kind` and its query parameters (PATCH lists `fieldValidation`, which makes
//!   kubectl validate on the server instead of on the client).
//! - `GET /openapi/v2`: kubectl asks only for `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`;
//!   it gets 200 with an empty body, i.e. an empty `openapi_v2.Document` (no client-side schemas: kubectl then
//!   relies on v3 and on server-side validation). A client asking for JSON gets a Swagger 2.0 document built
//!   from the same schemas and operations.
//!
//! Every response is `Content-Type: application/json` (except the protobuf one), carries an `ETag` with the
//! hash, and answers a matching `If-None-Match` with 304. An unsatisfiable `Accept` gets a 406 Status, an
//! unknown group/version a 404 Status.
//!
//! # Cost
//! The documents are built once per distinct set of served resources (normally once per process), on the
//! first request or through [`spawn_prebuild`], on a blocking thread, and cached: [`specs`].

mod patch_meta;
mod paths;
mod schemas;
mod v2;

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{Arc, Mutex, OnceLock, PoisonError},
    time::{Duration, Instant},
};

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha512};

use self::schemas::SchemaSet;
use crate::{error::ApiError, registry::Registry, version};

/// The response Content-Type of the (empty) protobuf `/openapi/v2`. Note `.v1.0`: the `@v1.0` form kubectl
/// puts in its `Accept` header cannot be parsed by Go's mime parser as a response type.
pub const V2_PROTOBUF_CONTENT_TYPE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// The media type (without version) kubectl asks `/openapi/v2` for.
const V2_PROTOBUF_ACCEPT: &str = "application/com.github.proto-openapi.spec.v2";

/// One cached JSON document and its hash.
#[derive(Debug, Clone)]
pub struct Document {
    /// The serialized JSON.
    pub body: Bytes,
    /// Uppercase hex SHA-512 of `body`.
    pub hash: String,
}

impl Document {
    fn new(value: &Value) -> Self {
        let body = Bytes::from(value.to_string());
        let hash = hex_upper(&Sha512::digest(&body));
        Self { body, hash }
    }
}

/// All OpenAPI documents of one set of served resources, built by [`build`].
#[derive(Debug)]
pub struct OpenApiSpecs {
    index: Document,
    documents: BTreeMap<String, Document>,
    v2: Document,
    untyped_kinds: Vec<String>,
    build_time: Duration,
}

impl OpenApiSpecs {
    /// The `/openapi/v3` index.
    #[must_use]
    pub fn index(&self) -> &Document {
        &self.index
    }

    /// The document of `gv_path` (`api/v1`, `apis/apps/v1`), if that group/version is served.
    #[must_use]
    pub fn document(&self, gv_path: &str) -> Option<&Document> {
        self.documents.get(gv_path.trim_matches('/'))
    }

    /// Every group/version document, keyed by `api/v1`, `apis/<group>/<version>`.
    #[must_use]
    pub fn documents(&self) -> &BTreeMap<String, Document> {
        &self.documents
    }

    /// The Swagger 2.0 JSON document (`/openapi/v2` for JSON clients).
    #[must_use]
    pub fn v2(&self) -> &Document {
        &self.v2
    }

    /// `group/version/Kind` of every served kind whose schema is a placeholder (no typed schema known).
    #[must_use]
    pub fn untyped_kinds(&self) -> &[String] {
        &self.untyped_kinds
    }

    /// How long [`build`] took.
    #[must_use]
    pub fn build_time(&self) -> Duration {
        self.build_time
    }
}

/// `api/v1` for the core group, `apis/<group>/<version>` otherwise: the key of a group/version in the index.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// Builds every document for the resources `registry` serves. Deterministic: the same registry gives
/// byte-identical documents (and hashes).
#[must_use]
pub fn build(registry: &Registry) -> OpenApiSpecs {
    let started = Instant::now();
    let info = json!({"title": "Kubernetes", "version": format!("v1.{}.0", version::KUBERNETES_MINOR)});
    let mut documents = BTreeMap::new();
    let mut untyped_kinds = Vec::new();
    let mut v2_paths = Map::new();
    let mut v2_definitions = Map::new();
    for group in registry.groups() {
        for version in group.versions {
            let mut set = SchemaSet::new();
            let mut items = Vec::new();
            for resource in registry.resources_of(group.group, version) {
                let names = set.add_kind(resource.group, resource.version, resource.kind);
                if !names.known {
                    untyped_kinds.push(format!(
                        "{}/{}/{}",
                        resource.group, resource.version, resource.kind
                    ));
                }
                if resource.subresources.scale {
                    set.add_scale();
                }
                items.extend(paths::resource_paths(resource, &names));
            }
            let schemas = set.finish();
            let v3_paths: Map<String, Value> = items
                .iter()
                .map(|item| (item.path.clone(), item.to_v3()))
                .collect();
            v2_paths.extend(items.iter().map(|item| (item.path.clone(), item.to_v2())));
            v2::merge_definitions(&mut v2_definitions, &schemas);
            let document = json!({
                "openapi": "3.0.0",
                "info": info,
                "paths": v3_paths,
                "components": {"schemas": schemas},
            });
            documents.insert(gv_path(group.group, version), Document::new(&document));
        }
    }
    if !untyped_kinds.is_empty() {
        tracing::warn!(kinds = ?untyped_kinds, "served kinds without an OpenAPI schema; publishing placeholders");
    }
    let index_paths: Map<String, Value> = documents
        .iter()
        .map(|(key, document)| {
            let url = format!("/openapi/v3/{key}?hash={}", document.hash);
            (key.clone(), json!({"serverRelativeURL": url}))
        })
        .collect();
    let index = Document::new(&json!({"paths": index_paths}));
    let v2 = Document::new(&json!({
        "swagger": "2.0",
        "info": info,
        "paths": v2_paths,
        "definitions": v2_definitions,
    }));
    OpenApiSpecs {
        index,
        documents,
        v2,
        untyped_kinds,
        build_time: started.elapsed(),
    }
}

/// Cached specs, one cell per distinct set of served resources (see [`fingerprint`]).
type Cell = Arc<OnceLock<Arc<OpenApiSpecs>>>;
static CACHE: Mutex<Vec<(String, Cell)>> = Mutex::new(Vec::new());

/// What the documents depend on: every served resource's names, scope and subresources.
fn fingerprint(registry: &Registry) -> String {
    let mut out = String::new();
    for r in registry.all() {
        let _ = write!(
            out,
            "{}/{}/{}/{}/{:?}/{}{};",
            r.group, r.version, r.kind, r.plural, r.scope, r.subresources.status, r.subresources.scale
        );
    }
    out
}

fn cell_for(registry: &Registry) -> Cell {
    let key = fingerprint(registry);
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, cell)) = cache.iter().find(|(k, _)| *k == key) {
        return cell.clone();
    }
    let cell = Cell::default();
    cache.push((key, cell.clone()));
    cell
}

/// The documents for `registry`, built on first use (on a blocking thread) and cached for the life of the
/// process; concurrent first callers wait for one build.
///
/// # Errors
/// Only when the build thread panicked (a bug): a 500 Status.
pub async fn specs(registry: Arc<Registry>) -> Result<Arc<OpenApiSpecs>, ApiError> {
    let cell = cell_for(&registry);
    if let Some(specs) = cell.get() {
        return Ok(specs.clone());
    }
    tokio::task::spawn_blocking(move || cell.get_or_init(|| Arc::new(build(&registry))).clone())
        .await
        .map_err(|e| ApiError::internal(format!("building the OpenAPI documents failed: {e}")))
}

/// Like [`specs`], on the calling thread (for tests and tools).
#[must_use]
pub fn specs_blocking(registry: &Registry) -> Arc<OpenApiSpecs> {
    cell_for(registry)
        .get_or_init(|| Arc::new(build(registry)))
        .clone()
}

/// Starts building the documents in the background so the first kubectl request does not wait for them.
/// Call from within a Tokio runtime (server start-up); a no-op when they are already built.
pub fn spawn_prebuild(registry: Arc<Registry>) {
    let cell = cell_for(&registry);
    if cell.get().is_none() {
        // Detached: the handle is not needed, the cell holds the result.
        drop(tokio::task::spawn_blocking(move || {
            cell.get_or_init(|| Arc::new(build(&registry)));
        }));
    }
}

/// `GET /openapi/v3`: the index.
pub async fn serve_v3_index(registry: Arc<Registry>, headers: &HeaderMap) -> Response {
    if let Some(refusal) = refuse_non_json(headers) {
        return refusal;
    }
    match specs(registry).await {
        Ok(specs) => serve_document(specs.index(), headers, false),
        Err(err) => err.into_response(),
    }
}

/// `GET /openapi/v3/<gv_path>` (`api/v1`, `apis/apps/v1`); `query` is the raw query string (`hash=…`).
/// A matching `hash` makes the response cacheable forever, as kube-apiserver does.
pub async fn serve_v3_document(
    registry: Arc<Registry>,
    gv_path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    if let Some(refusal) = refuse_non_json(headers) {
        return refusal;
    }
    let specs = match specs(registry).await {
        Ok(specs) => specs,
        Err(err) => return err.into_response(),
    };
    let Some(document) = specs.document(gv_path) else {
        return ApiError::path_not_found().into_response();
    };
    let hash_matches = query.is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "hash" && v == document.hash.as_str())
    });
    serve_document(document, headers, hash_matches)
}

/// `GET /openapi/v2`: an empty protobuf document for kubectl, Swagger 2.0 JSON for JSON clients.
pub async fn serve_v2(registry: Arc<Registry>, headers: &HeaderMap) -> Response {
    let accept = accept(headers);
    if accept.is_some_and(|a| a.to_ascii_lowercase().contains(V2_PROTOBUF_ACCEPT)) {
        let mut response = (StatusCode::OK, Body::empty()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(V2_PROTOBUF_CONTENT_TYPE),
        );
        return response;
    }
    if let Some(refusal) = refuse_non_json(headers) {
        return refusal;
    }
    match specs(registry).await {
        Ok(specs) => serve_document(specs.v2(), headers, false),
        Err(err) => err.into_response(),
    }
}

fn accept(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// A 406 Status when `Accept` is present and admits no JSON.
fn refuse_non_json(headers: &HeaderMap) -> Option<Response> {
    let accept = accept(headers)?;
    let json_ok = accept.split(',').any(|range| {
        let media = range.split(';').next().unwrap_or_default().trim();
        media.eq_ignore_ascii_case("application/json")
            || media == "*/*"
            || media.eq_ignore_ascii_case("application/*")
    });
    (!json_ok).then(|| ApiError::not_acceptable(accept).into_response())
}

/// 200 with the document (or 304 when `If-None-Match` names its hash), with `ETag` and `Cache-Control`.
fn serve_document(document: &Document, headers: &HeaderMap, immutable: bool) -> Response {
    let etag = format!("\"{}\"", document.hash);
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|tag| {
                let tag = tag.trim();
                let tag = tag.strip_prefix("W/").unwrap_or(tag);
                tag == "*" || tag.trim_matches('"') == document.hash
            })
        });
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, document.body.clone()).into_response()
    };
    let response_headers = response.headers_mut();
    if !not_modified {
        response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, etag);
    }
    response_headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, immutable"
        } else {
            "no-cache, private"
        }),
    );
    response_headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

fn hex_upper(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02X}");
    }
    out
}

#[cfg(test)]
mod tests;
