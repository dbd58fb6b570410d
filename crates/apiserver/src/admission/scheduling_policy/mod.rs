//! `SchedulingPolicy`: federation v1's external policy engine (`plugin/pkg/admission/schedulingpolicy` in
//! Kubernetes 1.8–1.10). The engine (typically OPA) decides where federated objects go, by rejecting them
//! or by adding annotations such as `federation.alpha.kubernetes.io/replica-set-preferences`.
//!
//! On every create and update by a user (writes of the server itself are not checked, which also covers the
//! Events this plugin records):
//! 1. if the namespace `kube-federation-scheduling-policy` holds no ConfigMap (no policy is loaded), the
//!    object is admitted unchanged and the engine is not asked; if they cannot be listed, it is rejected;
//! 2. the object, as JSON in the request's version with `apiVersion` and `kind`, is POSTed to the `server` of
//!    the configured kubeconfig (retried with exponential backoff on connection failures, 5xx and 429; see
//!    [`engine`]);
//! 3. HTTP 404 rejects (`policy decision is undefined`), as do other failures; the answer
//!    `{"errors": [...], "annotations": {...}}` rejects when `errors` is not empty (`reason(s): e1; e2`),
//!    else its annotations are merged into the object's, the engine's values winning.
//!
//! A rejection is a 403 `<resource>[.<group>] "<name>" is forbidden: <reason>`, and (unless the write is a
//! dry run) a Warning Event about the object, reason `PolicyRejected`, source component `schedulingpolicy`,
//! in the object's namespace (`default` for cluster-scoped objects). Failing to record it is only logged.
//!
//! Configuration: [`plugin_config`] finds the plugin's entry of `--admission-control-config-file`;
//! [`SchedulingPolicy::from_config`] reads it ([`config`]) and the kubeconfig it names ([`kubeconfig`]).

pub mod config;
pub mod engine;
pub mod kubeconfig;

use std::{collections::BTreeMap, sync::Arc};

use async_trait::async_trait;
use serde_json::{Map, Value, json};

pub use self::config::plugin_config;
use self::{config::PluginConfig, engine::PolicyEngine};
use super::{AdmissionPlugin, AdmissionRequest, SCHEDULING_POLICY};
use crate::{
    error::{ApiError, ApiResult},
    registry::{
        Registry, ResourceDef,
        store::{ListOptions, Store, Target},
    },
};

/// The namespace whose ConfigMaps are the policies (the engine loads them; the plugin only checks that
/// there are some).
pub const POLICY_NAMESPACE: &str = "kube-federation-scheduling-policy";
/// `source.component` of the Events this plugin records.
pub const EVENT_COMPONENT: &str = "schedulingpolicy";
/// `reason` of the Events this plugin records.
pub const EVENT_REASON: &str = "PolicyRejected";
/// Where Events about cluster-scoped objects go.
const CLUSTER_EVENT_NAMESPACE: &str = "default";

/// The plugin; see the [module documentation](self).
#[derive(Debug)]
pub struct SchedulingPolicy {
    engine: PolicyEngine,
    configmaps: Arc<ResourceDef>,
    events: Arc<ResourceDef>,
}

impl SchedulingPolicy {
    /// The plugin from its configuration object (what [`plugin_config`] returns): reads `kubeconfig` and
    /// `retryBackoff` ([`PluginConfig::parse`]), loads the kubeconfig and builds the engine's HTTP client.
    ///
    /// `registry` gives the core v1 `configmaps` and `events` resources. The plugin holds no store: every
    /// [`AdmissionRequest`] carries the store being written (holding it would make a reference cycle: store
    /// → admission chain → plugin → store).
    ///
    /// # Errors
    /// One line naming the field or file and the cause (see [`PluginConfig::parse`] and
    /// [`kubeconfig::load`]); the server refuses to start with it.
    pub fn from_config(config: &Value, registry: &Registry) -> Result<Self, String> {
        let config = PluginConfig::parse(config)?;
        let endpoint = kubeconfig::load(&config.kubeconfig)?;
        let engine = PolicyEngine::new(endpoint, config.retry_backoff)
            .map_err(|e| format!("kubeconfig {}: {e}", config.kubeconfig.display()))?;
        let core = |plural: &str| {
            registry.lookup("", "v1", plural).cloned().ok_or_else(|| {
                format!("the server does not serve v1 {plural}, which {SCHEDULING_POLICY} needs")
            })
        };
        let plugin = Self {
            engine,
            configmaps: core("configmaps")?,
            events: core("events")?,
        };
        tracing::info!(
            url = %plugin.engine.url(),
            retry_backoff = ?config.retry_backoff,
            "SchedulingPolicy configured"
        );
        Ok(plugin)
    }

    /// Whether any policy ConfigMap exists.
    async fn policies_exist(&self, store: &Store) -> ApiResult<bool> {
        let target = Target {
            resource: &self.configmaps,
            namespace: Some(POLICY_NAMESPACE),
            user: None,
        };
        let options = ListOptions {
            limit: 1,
            ..ListOptions::default()
        };
        let list = store.list(target, &options).await?;
        Ok(list["items"].as_array().is_some_and(|items| !items.is_empty()))
    }

    /// The decision for the request's object: `Ok` with the annotations to merge, or the rejection reason.
    async fn decide(&self, request: &AdmissionRequest<'_>) -> Result<BTreeMap<String, String>, String> {
        match self.policies_exist(request.store).await {
            Ok(true) => {}
            Ok(false) => return Ok(BTreeMap::new()),
            Err(e) => return Err(format!("cannot list the scheduling policies: {}", e.message)),
        }
        let mut object = request.object.clone();
        if let Some(map) = object.as_object_mut() {
            let resource = request.resource;
            map.entry("apiVersion")
                .or_insert_with(|| json!(resource.api_version()));
            map.entry("kind").or_insert_with(|| json!(resource.kind));
        }
        let decision = self.engine.query(&object).await?;
        match decision.rejection() {
            Some(why) => Err(why),
            None => Ok(decision.annotations),
        }
    }

    /// Records the Warning Event of a rejection; failures are logged.
    async fn record_event(&self, request: &AdmissionRequest<'_>, name: &str, message: &str) {
        let resource = request.resource;
        let object = &*request.object;
        let namespace = request
            .namespace
            .filter(|ns| resource.namespaced() && !ns.is_empty());
        let mut involved = Map::new();
        let api_version = object["apiVersion"]
            .as_str()
            .map_or_else(|| resource.api_version(), str::to_owned);
        involved.insert("apiVersion".to_owned(), json!(api_version));
        let kind = object["kind"].as_str().unwrap_or(resource.kind);
        involved.insert("kind".to_owned(), json!(kind));
        involved.insert("name".to_owned(), json!(name));
        if let Some(ns) = namespace {
            involved.insert("namespace".to_owned(), json!(ns));
        }
        for field in ["uid", "resourceVersion"] {
            if let Some(value) = object["metadata"][field].as_str().filter(|v| !v.is_empty()) {
                involved.insert(field.to_owned(), json!(value));
            }
        }
        let event_namespace = namespace.unwrap_or(CLUSTER_EVENT_NAMESPACE);
        let prefix = if request.name.is_empty() {
            EVENT_COMPONENT
        } else {
            request.name
        };
        let now = k8s_openapi::jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": format!("{prefix}."), "namespace": event_namespace},
            "involvedObject": involved,
            "reason": EVENT_REASON,
            "message": message,
            "type": "Warning",
            "source": {"component": EVENT_COMPONENT},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        });
        let target = Target {
            resource: &self.events,
            namespace: Some(event_namespace),
            user: None,
        };
        if let Err(e) = request.store.create(target, event, false).await {
            tracing::warn!(
                namespace = event_namespace,
                kind,
                name,
                error = %e,
                "SchedulingPolicy: cannot record the rejection event"
            );
        }
    }
}

#[async_trait]
impl AdmissionPlugin for SchedulingPolicy {
    fn name(&self) -> &'static str {
        SCHEDULING_POLICY
    }

    async fn admit(&self, request: &mut AdmissionRequest<'_>) -> ApiResult<()> {
        if request.user.is_none() {
            return Ok(());
        }
        match self.decide(request).await {
            Ok(annotations) => {
                merge_annotations(request.object, annotations);
                Ok(())
            }
            Err(why) => {
                // kube's admission name: the object's own (empty on a create with generateName).
                let name = request.object["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                tracing::info!(
                    resource = %request.resource.qualified_resource(),
                    namespace = request.namespace.unwrap_or_default(),
                    name,
                    operation = request.operation.as_str(),
                    reason = %why,
                    "SchedulingPolicy rejected a write"
                );
                if !request.dry_run {
                    self.record_event(request, &name, &why).await;
                }
                Err(ApiError::forbidden(request.resource, &name, &why))
            }
        }
    }
}

/// Sets `annotations` on the object (`metadata.annotations`, created when missing): returned values win over
/// the object's own, whose other annotations are kept. Nothing changes when `annotations` is empty.
pub fn merge_annotations(object: &mut Value, annotations: BTreeMap<String, String>) {
    if annotations.is_empty() {
        return;
    }
    let Some(map) = object.as_object_mut() else {
        return;
    };
    let metadata = map.entry("metadata").or_insert_with(|| json!({}));
    if !metadata.is_object() {
        *metadata = json!({});
    }
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    let existing = metadata.entry("annotations").or_insert_with(|| json!({}));
    if !existing.is_object() {
        *existing = json!({});
    }
    if let Some(existing) = existing.as_object_mut() {
        for (key, value) in annotations {
            existing.insert(key, Value::String(value));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn returned_annotations_win_and_others_are_kept() {
        // v1's TestAdmitSuccessWithAnnotationMerge.
        let mut object = json!({"metadata": {"name": "myapp", "annotations": {"foo": "bar", "bar": "baz"}}});
        merge_annotations(&mut object, annotations(&[("foo", "bar-2")]));
        assert_eq!(
            object["metadata"]["annotations"],
            json!({"foo": "bar-2", "bar": "baz"})
        );
    }

    #[test]
    fn annotations_are_created_when_missing_and_untouched_when_none_return() {
        let mut object = json!({"metadata": {"name": "myapp"}});
        merge_annotations(&mut object, BTreeMap::new());
        assert_eq!(object, json!({"metadata": {"name": "myapp"}}));
        merge_annotations(&mut object, annotations(&[("a", "1")]));
        assert_eq!(object["metadata"]["annotations"], json!({"a": "1"}));

        let mut bare = json!({"kind": "ConfigMap"});
        merge_annotations(&mut bare, annotations(&[("a", "1")]));
        assert_eq!(bare["metadata"]["annotations"], json!({"a": "1"}));

        let mut null = json!({"metadata": {"annotations": null}});
        merge_annotations(&mut null, annotations(&[("a", "1")]));
        assert_eq!(null["metadata"]["annotations"], json!({"a": "1"}));
    }

    #[test]
    fn configuration_errors_name_the_cause() {
        let registry = Registry::new(crate::resources::federation_profile());
        let dir = tempfile::tempdir().unwrap();
        let build = |config: Value| SchedulingPolicy::from_config(&config, &registry);

        // v1's "kubeconfig not found".
        let err = build(json!({"kubeconfig": "/kube-federation-scheduling-policy-file-not-found-test"}))
            .unwrap_err();
        assert!(
            err.starts_with("cannot read kubeconfig /kube-federation-scheduling-policy-file-not-found-test"),
            "{err}"
        );
        assert_eq!(
            build(json!({"kubeconfig": "/k", "retryBackoff": -1})).unwrap_err(),
            "retryBackoff must not be negative"
        );
        assert!(build(json!({"foo": {}})).unwrap_err().contains("kubeconfig"));

        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            "clusters: [{name: foo, cluster: {server: 'https://example.com'}}]\n\
             users: [{name: alice, user: {token: deadbeef}}]\n\
             contexts: [{name: default, context: {cluster: foo, user: alice}}]\ncurrent-context: default\n",
        )
        .unwrap();
        let plugin = build(json!({"kubeconfig": kubeconfig, "retryBackoff": 200})).unwrap();
        assert_eq!(plugin.name(), SCHEDULING_POLICY);
        assert_eq!(plugin.engine.url(), "https://example.com/");
        assert!(!format!("{plugin:?}").contains("deadbeef"));
    }
}
