//! fcp's API vocabulary: the `federation/v1beta1` [`Cluster`] kind, the annotation, label and finalizer
//! names of Federation v1, label and field selectors, and Kubernetes-exact validation.
//!
//! Pure types and functions: no I/O, no async, no global state. The apiserver uses this crate to store,
//! validate and filter objects; the controllers and kubefed use it to read and write the same objects.
//!
//! * [`cluster`]: [`Cluster`], its spec and status, `k8s_openapi::Resource` so `kube::Api<Cluster>` works,
//!   and [`validate_cluster`].
//! * [`cluster_selector`]: [`ClusterSelector`], the cluster-selector annotation parsed and matched against
//!   Cluster labels, and the control plane's "never propagate" marker.
//! * [`names`]: every annotation, label and finalizer name v1 uses.
//! * [`replicas`]: replica allocation preferences, v1's replica planner, and the pod analysis feeding it.
//! * [`selector`]: [`LabelSelector`] and [`FieldSelector`], parsed and printed like apimachinery.
//! * [`validation`]: [`FieldError`] and the name/label/metadata checks with Kubernetes' messages.

#![deny(missing_docs)]

pub mod cluster;
pub mod cluster_selector;
mod go_json;
pub mod names;
pub mod replicas;
pub mod selector;
pub mod validation;

pub use cluster::{
    Cluster, ClusterCondition, ClusterList, ClusterSpec, ClusterStatus, ServerAddressByClientCIDR,
    validate_cluster,
};
pub use cluster_selector::{ClusterSelector, ClusterSelectorError};
pub use selector::{FieldSelector, LabelSelector};
pub use validation::{FieldError, FieldErrorKind, NameRule, validate_object_meta};
