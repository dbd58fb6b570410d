//! Events on federated objects (`CreateInCluster`, `UpdateInCluster`, `DeleteInCluster`, their failures,
//! and warnings about the object itself), written to the federation apiserver by one background task so
//! that a reconcile never waits for them. When the task falls behind by more than [`BACKLOG`] events, new
//! ones are dropped (and counted in the log) rather than slowing reconciles.

use jiff::Timestamp;
use k8s_openapi::{
    api::core::v1::{Event, EventSource, ObjectReference},
    apimachinery::pkg::apis::meta::v1::Time,
};
use kube::{
    Api,
    api::{DynamicObject, ObjectMeta, PostParams},
};
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// Events waiting to be written before new ones are dropped.
pub const BACKLOG: usize = 4096;

/// Normal or Warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Something happened as asked.
    Normal,
    /// Something failed or needs attention.
    Warning,
}

/// Sends events to the writer task.
#[derive(Clone)]
pub struct EventRecorder {
    sender: mpsc::Sender<Event>,
}

impl EventRecorder {
    /// A recorder and its writer task (which ends when every recorder is dropped).
    #[must_use]
    pub fn start(federation: kube::Client) -> (Self, tokio::task::JoinHandle<()>) {
        let (sender, mut receiver) = mpsc::channel::<Event>(BACKLOG);
        let task = tokio::spawn(async move {
            while let Some(event) = receiver.recv().await {
                let namespace = event
                    .metadata
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".to_owned());
                let api = Api::<Event>::namespaced(federation.clone(), &namespace);
                if let Err(error) = api.create(&PostParams::default(), &event).await {
                    debug!(%error, reason = ?event.reason, "writing an event failed");
                }
            }
        });
        (Self { sender }, task)
    }

    /// Records an event about `object` from `component` (e.g. `federation-configmaps-controller`).
    pub fn record(
        &self,
        component: &str,
        object: &DynamicObject,
        kind: EventType,
        reason: &str,
        message: String,
    ) {
        let now = Timestamp::now();
        let name = object.metadata.name.clone().unwrap_or_default();
        let event = Event {
            metadata: ObjectMeta {
                generate_name: Some(format!("{name}.")),
                namespace: Some(
                    object
                        .metadata
                        .namespace
                        .clone()
                        .unwrap_or_else(|| "default".to_owned()),
                ),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: object.types.as_ref().map(|t| t.api_version.clone()),
                kind: object.types.as_ref().map(|t| t.kind.clone()),
                name: Some(name),
                namespace: object.metadata.namespace.clone(),
                uid: object.metadata.uid.clone(),
                resource_version: object.metadata.resource_version.clone(),
                ..ObjectReference::default()
            },
            reason: Some(reason.to_owned()),
            message: Some(message),
            type_: Some(
                match kind {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .to_owned(),
            ),
            source: Some(EventSource {
                component: Some(component.to_owned()),
                host: None,
            }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            ..Event::default()
        };
        if self.sender.try_send(event).is_err() {
            warn!(reason, "event backlog full; event dropped");
        }
    }
}
