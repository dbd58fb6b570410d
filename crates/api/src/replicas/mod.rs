//! Replica scheduling for federated ReplicaSets, Deployments and Jobs (reference §3.6): the allocation
//! preferences annotation, v1's planner, and the per-cluster state the planner starts from.
//!
//! * [`preferences`]: [`ReplicaAllocationPreferences`], decoded like Go's `encoding/json` (keys
//!   case-insensitive), encoded PascalCase; [`preferences_from_annotations`] falls back to the default.
//! * [`planner`]: [`plan`] (bit-exact port of v1's `Planner.Plan`, FNV-1 tie-breaks) and
//!   [`schedule_for_clusters`].
//! * [`pods`]: [`analyze_pods`] and [`ClusterReplicaState`], the planner's `current_replicas` and
//!   `estimated_capacity` inputs.
//!
//! Status roll-up is the controller's business and is not here.

pub mod planner;
pub mod pods;
pub mod preferences;

pub use planner::{ClusterSchedule, Plan, fnv1_32, fnv1_32_extend, plan, schedule_for_clusters};
pub use pods::{
    ClusterReplicaState, ClustersReplicaState, PodAnalysis, UNSCHEDULABLE_THRESHOLD, analyze_pods,
    pods_needed,
};
pub use preferences::{
    ANY_CLUSTER, ClusterPreferences, PreferencesError, ReplicaAllocationPreferences,
    preferences_from_annotations,
};
