//! HTTP: the router, content negotiation, and the handlers that turn requests into registry calls.

mod discovery;
mod negotiate;
mod path;
mod query;

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;

use self::{
    negotiate::{IncludeObject, Rendering},
    path::ResourcePath,
    query::Query,
};
use crate::{
    auth::{UserInfo, authz::Authorizer, filter, reviews},
    error::{ApiError, ApiResult},
    patch::{
        PatchType, merge_patch,
        writes::{self, PatchRequest},
    },
    registry::{
        Registry, ResourceDef,
        field_validation::{self, FieldValidation},
        scale,
        store::{DeleteOptions, Deleted, Store, Target, UpdateMode, dry_run_from},
        watch,
    },
    version,
};

/// Everything a request handler needs; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The served resources.
    pub registry: Arc<Registry>,
    /// The generic store.
    pub store: Arc<Store>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Longest a non-watch request may take.
    pub request_timeout: Duration,
    /// `host:port` clients should use, reported by `/api`.
    pub server_address: String,
    /// Cancelled when the server shuts down: watches end.
    pub shutdown: CancellationToken,
    /// The authorizer chain, for the review APIs (requests were already authorized by the filter).
    pub authorizer: Arc<dyn Authorizer>,
}

/// The API server's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(healthz))
        .route("/readyz", get(readyz))
        .route("/version", get(version_info))
        .route("/api", get(api_versions))
        .route("/apis", get(api_groups))
        .route("/openapi/v2", get(openapi_v2))
        .route("/openapi/v3", get(openapi_v3_index))
        .route("/openapi/v3/{*path}", get(openapi_v3_document))
        .fallback(dispatch)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

/// `GET /openapi/v2`: see [`crate::openapi`].
async fn openapi_v2(State(state): State<AppState>, headers: HeaderMap) -> Response {
    crate::openapi::serve_v2(state.registry, &headers).await
}

/// `GET /openapi/v3`: the index of group/version documents.
async fn openapi_v3_index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    crate::openapi::serve_v3_index(state.registry, &headers).await
}

/// `GET /openapi/v3/api/v1`, `GET /openapi/v3/apis/<group>/<version>`.
async fn openapi_v3_document(
    State(state): State<AppState>,
    axum::extract::Path(path): axum::extract::Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    crate::openapi::serve_v3_document(state.registry, &path, uri.query(), &headers).await
}

async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(5), state.store.backend().health()).await {
        Ok(Ok(())) => "ok".into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("[-]storage failed: {e}\nreadyz check failed"),
        )
            .into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "[-]storage failed: timed out\nreadyz check failed",
        )
            .into_response(),
    }
}

async fn version_info() -> Response {
    json_response(StatusCode::OK, &json!(version::info()))
}

async fn api_versions(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match aggregated_discovery(&state, &headers, true) {
        Some(response) => response,
        None => with_vary(json_response(
            StatusCode::OK,
            &discovery::api_versions(&state.server_address),
        )),
    }
}

async fn api_groups(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match aggregated_discovery(&state, &headers, false) {
        Some(response) => response,
        None => with_vary(json_response(
            StatusCode::OK,
            &discovery::api_group_list(&state.registry),
        )),
    }
}

/// The aggregated discovery document when the client's `Accept` asks for one (kubectl does); the response
/// Content-Type tells the client which format it got.
fn aggregated_discovery(state: &AppState, headers: &HeaderMap, core: bool) -> Option<Response> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())?;
    let version = discovery::aggregated_version(accept)?;
    let body = discovery::aggregated(&state.registry, core, version);
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    if let Ok(content_type) = HeaderValue::from_str(&discovery::aggregated_content_type(version)) {
        response.headers_mut().insert(header::CONTENT_TYPE, content_type);
    }
    Some(with_vary(response))
}

fn with_vary(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

/// Everything under `/api/...` and `/apis/...` that is not a fixed route.
async fn dispatch(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .split('/')
        .collect();
    // Discovery documents.
    if request.method() == Method::GET {
        let doc = match segments.as_slice() {
            ["api", version] => Some(discovery::api_resource_list(&state.registry, "", version)),
            ["apis", group] => Some(discovery::api_group_doc(&state.registry, group)),
            ["apis", group, version] => Some(discovery::api_resource_list(&state.registry, group, version)),
            _ => None,
        };
        if let Some(doc) = doc {
            return match doc {
                Some(doc) => json_response(StatusCode::OK, &doc),
                None => ApiError::path_not_found().into_response(),
            };
        }
    }
    if let Some(review) = reviews::lookup(&path) {
        return match serve_review(&state, review, request).await {
            Ok(response) => response,
            Err(err) => err.into_response(),
        };
    }
    match path::parse(&state.registry, &path) {
        Ok(target) => match handle_resource(state, target, request).await {
            Ok(response) => response,
            Err(err) => err.into_response(),
        },
        Err(err) => err.into_response(),
    }
}

/// `POST` of a review ([`reviews`]): answered, not stored.
async fn serve_review(
    state: &AppState,
    review: &reviews::ReviewResource,
    request: Request,
) -> ApiResult<Response> {
    if request.method() != Method::POST {
        return Err(ApiError::method_not_allowed(request.method().as_str()));
    }
    let user = filter::request_user(request.extensions());
    let (parts, body) = request.into_parts();
    let body = read_body(body, state.max_body_bytes).await?;
    let body = decode_json(&parts.headers, &body)?;
    let answered = reviews::answer(review, state.authorizer.as_ref(), &user, body)?;
    Ok(json_response(StatusCode::CREATED, &answered))
}

async fn handle_resource(state: AppState, target: ResourcePath, request: Request) -> ApiResult<Response> {
    let user = filter::request_user(request.extensions());
    let (parts, body) = request.into_parts();
    let accept = parts.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let rendering = negotiate::rendering(accept)?;
    let query = Query::parse(parts.uri.query());
    let include = IncludeObject::parse(query.get("includeObject"))?;
    let is_watch = parts.method == Method::GET && target.name.is_none() && query.is_watch()?;
    if is_watch {
        return watch_collection(&state, &target, &query, rendering, include);
    }
    let body = read_body(body, state.max_body_bytes).await?;
    let timeout = state.request_timeout;
    match tokio::time::timeout(
        timeout,
        serve_resource(
            &state,
            &target,
            &Incoming {
                method: &parts.method,
                headers: &parts.headers,
                query: &query,
                user: &user,
            },
            body,
            Render { rendering, include },
        ),
    )
    .await
    {
        Ok(result) => result,
        Err(_) => Err(ApiError::timeout(format!(
            "the request did not complete within the allowed duration of {}s",
            timeout.as_secs()
        ))),
    }
}

/// What a resource request carries besides its path and body.
struct Incoming<'a> {
    method: &'a Method,
    headers: &'a HeaderMap,
    query: &'a Query,
    /// Who asks (from the authentication filter).
    user: &'a UserInfo,
}

async fn serve_resource(
    state: &AppState,
    path: &ResourcePath,
    incoming: &Incoming<'_>,
    body: Bytes,
    render: Render,
) -> ApiResult<Response> {
    let Incoming {
        method,
        headers,
        query,
        user,
    } = *incoming;
    let store = &state.store;
    let target = Target {
        resource: &path.resource,
        namespace: path.namespace.as_deref(),
        user: Some(user),
    };
    let dry_run = dry_run_from(&query.all("dryRun"))?;
    let field_validation =
        FieldValidation::parse(query.get("fieldValidation")).map_err(ApiError::bad_request)?;
    let subresource = path.subresource.as_deref();
    if subresource == Some("scale") {
        return serve_scale(state, path, method, headers, body, dry_run, user).await;
    }
    let mode = match subresource {
        None => UpdateMode::Main,
        Some("status") => UpdateMode::Status,
        Some("finalize") if method == Method::PUT => UpdateMode::Finalize,
        Some(_) => return Err(ApiError::method_not_allowed(method.as_str())),
    };
    match (method, path.name.as_deref()) {
        (&Method::GET, None) => {
            let list = store.list(target, &query.list_options(&path.resource)?).await?;
            Ok(json_response(StatusCode::OK, &render.list(&path.resource, list)))
        }
        (&Method::GET, Some(name)) => {
            let object = store.get(target, name).await?;
            Ok(json_response(
                StatusCode::OK,
                &render.object(&path.resource, object, true),
            ))
        }
        (&Method::POST, None) if subresource.is_none() => {
            writes::validate_write_manager("CreateOptions", query.get("fieldManager"))?;
            let mut body = decode_json(headers, &body)?;
            let warnings = field_validation::check(&path.resource, &body, field_validation)?;
            let manager = write_manager(headers, query);
            writes::record_update(&path.resource, mode, None, &mut body, &manager);
            let created = store.create(target, body, dry_run).await?;
            Ok(with_warnings(
                json_response(StatusCode::CREATED, &created),
                &warnings,
            ))
        }
        (&Method::PUT, Some(name)) => {
            writes::validate_write_manager("UpdateOptions", query.get("fieldManager"))?;
            let body = decode_json(headers, &body)?;
            let warnings = field_validation::check(&path.resource, &body, field_validation)?;
            let manager = write_manager(headers, query);
            let updated = store
                .guaranteed_update(target, name, mode, dry_run, |current| {
                    let mut new = body.clone();
                    writes::record_update(&path.resource, mode, Some(current), &mut new, &manager);
                    Ok(new)
                })
                .await?;
            Ok(with_warnings(json_response(StatusCode::OK, &updated), &warnings))
        }
        (&Method::PATCH, Some(name)) => {
            let content_type = content_type(headers).unwrap_or_default();
            let request = PatchRequest {
                content_type: &content_type,
                field_manager: query.get("fieldManager"),
                force: query.get("force"),
                user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()),
                dry_run,
                body: &body,
                field_validation,
            };
            let (object, created, warnings) = writes::serve_patch(store, target, name, mode, request).await?;
            let code = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(with_warnings(json_response(code, &object), &warnings))
        }
        (&Method::DELETE, Some(name)) if subresource.is_none() => {
            let mut options = delete_options(headers, query, &body)?;
            if options.dry_run.is_empty() && dry_run {
                options.dry_run = vec!["All".to_owned()];
            }
            match store.delete(target, name, &options).await? {
                Deleted::Gone(status) => Ok(json_response(StatusCode::OK, &status)),
                Deleted::Pending(object) => Ok(json_response(StatusCode::OK, &object)),
            }
        }
        (&Method::DELETE, None) if subresource.is_none() => {
            let mut options = delete_options(headers, query, &body)?;
            if options.dry_run.is_empty() && dry_run {
                options.dry_run = vec!["All".to_owned()];
            }
            let deleted = store
                .delete_collection(target, &query.list_options(&path.resource)?, &options)
                .await?;
            Ok(json_response(StatusCode::OK, &deleted))
        }
        _ => Err(ApiError::method_not_allowed(method.as_str())),
    }
}

/// `GET`, `PUT` and merge `PATCH` of a `/scale` subresource.
async fn serve_scale(
    state: &AppState,
    path: &ResourcePath,
    method: &Method,
    headers: &HeaderMap,
    body: Bytes,
    dry_run: bool,
    user: &UserInfo,
) -> ApiResult<Response> {
    let target = Target {
        resource: &path.resource,
        namespace: path.namespace.as_deref(),
        user: Some(user),
    };
    let Some(name) = path.name.as_deref() else {
        return Err(ApiError::method_not_allowed(method.as_str()));
    };
    let scale = match *method {
        Method::GET => scale::get(&state.store, target, name).await?,
        Method::PUT => {
            let new = decode_json(headers, &body)?;
            scale::update(&state.store, target, name, dry_run, |_| Ok(new.clone())).await?
        }
        Method::PATCH => {
            let content_type = content_type(headers).unwrap_or_default();
            if PatchType::from_content_type(&content_type) != Some(PatchType::Merge) {
                return Err(ApiError::unsupported_media_type(&content_type));
            }
            let patch = parse_json(&body)?;
            scale::update(&state.store, target, name, dry_run, |current| {
                let mut scale = current.clone();
                if let Some(meta) = scale.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove("resourceVersion");
                }
                merge_patch(&mut scale, &patch);
                Ok(scale)
            })
            .await?
        }
        _ => return Err(ApiError::method_not_allowed(method.as_str())),
    };
    Ok(json_response(StatusCode::OK, &scale))
}

fn watch_collection(
    state: &AppState,
    path: &ResourcePath,
    query: &Query,
    rendering: Rendering,
    include: IncludeObject,
) -> ApiResult<Response> {
    let options = query.watch_options(&path.resource)?;
    let events = watch::start(
        state.store.clone(),
        path.resource.clone(),
        path.namespace.clone(),
        options,
        state.shutdown.clone(),
    )?;
    let render = Render { rendering, include };
    let resource = path.resource.clone();
    let mut first = true;
    let lines = ReceiverStream::new(events).map(move |line| {
        let object = match line.event_type {
            "ADDED" | "MODIFIED" | "DELETED" => {
                // Only the first Table of a watch carries the column definitions, as kube sends them.
                let rendered = render.object(&resource, line.object, first);
                first = false;
                rendered
            }
            _ => line.object,
        };
        // Serialized straight from the parts: `json!` would deep-copy the object first.
        let event = WatchEventLine {
            event_type: line.event_type,
            object: &object,
        };
        let mut bytes = serde_json::to_vec(&event).unwrap_or_default();
        bytes.push(b'\n');
        Ok::<_, Infallible>(Bytes::from(bytes))
    });
    let mut response = Response::new(Body::from_stream(lines));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(response)
}

/// One watch event as it goes on the wire.
#[derive(serde::Serialize)]
struct WatchEventLine<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    object: &'a Value,
}

/// How GET, LIST and WATCH responses are rendered for this request.
#[derive(Debug, Clone, Copy)]
struct Render {
    rendering: Rendering,
    include: IncludeObject,
}

impl Render {
    /// One object (a GET, or a watch event): itself, a one-row Table, or its metadata.
    fn object(self, resource: &ResourceDef, object: Value, with_definitions: bool) -> Value {
        match self.rendering {
            Rendering::Object => object,
            Rendering::Metadata(version) => negotiate::partial_metadata(&object, version),
            Rendering::Table(version) => {
                let metadata = json!({"resourceVersion": object["metadata"]["resourceVersion"]});
                negotiate::table(
                    resource,
                    &[object],
                    metadata,
                    self.include,
                    version,
                    with_definitions,
                )
            }
        }
    }

    /// A list document: itself, a Table, or a `PartialObjectMetadataList`.
    fn list(self, resource: &ResourceDef, list: Value) -> Value {
        match self.rendering {
            Rendering::Object => list,
            Rendering::Metadata(version) => negotiate::partial_metadata_list(&list, version),
            Rendering::Table(version) => {
                let items: Vec<Value> = list["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|item| {
                        let mut item = item.clone();
                        item["kind"] = json!(resource.kind);
                        item["apiVersion"] = json!(resource.api_version());
                        item
                    })
                    .collect();
                let metadata = list.get("metadata").cloned().unwrap_or_else(|| json!({}));
                negotiate::table(resource, &items, metadata, self.include, version, true)
            }
        }
    }
}

/// DeleteOptions from a non-empty JSON body, else from the query (as kube-apiserver reads them).
fn delete_options(headers: &HeaderMap, query: &Query, body: &Bytes) -> ApiResult<DeleteOptions> {
    if !body.iter().all(u8::is_ascii_whitespace) {
        let value = decode_json(headers, body)?;
        return serde_json::from_value(value)
            .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")));
    }
    let grace_period_seconds = query
        .get("gracePeriodSeconds")
        .map(|g| {
            g.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid gracePeriodSeconds {g:?}")))
        })
        .transpose()?;
    Ok(DeleteOptions {
        preconditions: None,
        dry_run: query.all("dryRun"),
        propagation_policy: query.get("propagationPolicy").map(str::to_owned),
        orphan_dependents: query
            .get("orphanDependents")
            .map(|o| {
                o.parse::<bool>()
                    .map_err(|_| ApiError::bad_request(format!("invalid orphanDependents {o:?}")))
            })
            .transpose()?,
        grace_period_seconds,
    })
}

/// Adds one `Warning: 299 - "<message>"` header per warning, as kube-apiserver sends them (kubectl prints
/// them as `Warning: <message>`).
fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for warning in warnings {
        let quoted = warning.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(value) = HeaderValue::from_str(&format!("299 - \"{quoted}\"")) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}

/// Who a non-apply write is recorded as in `managedFields`: `fieldManager`, else the User-Agent's product.
fn write_manager(headers: &HeaderMap, query: &Query) -> String {
    crate::patch::managed_fields::manager_or_user_agent(
        query.get("fieldManager"),
        headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()),
    )
}

/// The media type of the request body, lower-cased, without parameters.
fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|v| !v.is_empty())
}

/// Decodes a request body into JSON by its `Content-Type`: JSON (also when there is none: the Python client sends
/// none), or Kubernetes protobuf (kubectl ≥ 1.32's typed clients: `create configmap|deployment|...`, `autoscale`).
fn decode_json(headers: &HeaderMap, body: &Bytes) -> ApiResult<Value> {
    match content_type(headers).as_deref() {
        None | Some("application/json") => parse_json(body),
        Some(crate::protobuf::MEDIA_TYPE) => Ok(crate::protobuf::decode(body)?),
        Some(other) => Err(ApiError::unsupported_media_type(other)),
    }
}

fn parse_json(body: &Bytes) -> ApiResult<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

/// Reads the whole body, refusing more than `limit` bytes with 413 (without reading past the limit).
async fn read_body(body: Body, limit: usize) -> ApiResult<Bytes> {
    let mut stream = body.into_data_stream();
    let mut buffer = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))?;
        if buffer.len() + chunk.len() > limit {
            return Err(ApiError::too_large(limit));
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buffer))
}

fn json_response(code: StatusCode, body: &Value) -> Response {
    let mut response = (code, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
