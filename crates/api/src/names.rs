//! Annotation, label and finalizer names of Federation v1, spelled exactly as v1 spells them.
//!
//! Names are grouped by what they sit on. The catalogue is reference/federation-v1.md §1.5.

// ---------------------------------------------------------------------------------------------------------
// Placement and scheduling (set by users on federated objects)
// ---------------------------------------------------------------------------------------------------------

/// On any federated object: a JSON array of `{key, operator, values}` matched against **Cluster** labels;
/// only matching clusters receive the object. Absent = all ready clusters.
pub const CLUSTER_SELECTOR_ANNOTATION: &str = "federation.alpha.kubernetes.io/cluster-selector";

/// The [`CLUSTER_SELECTOR_ANNOTATION`] value the controller manager puts on the objects that must never be
/// propagated (its `federation-only` namespace, its leader-election ConfigMap). It works because it is not
/// valid JSON, so selection fails and the object is never synced.
pub const FEDERATION_CONTROL_PLANE_SELECTOR_VALUE: &str =
    "federation.kubernetes.io/federation-control-plane=true";

/// On a federated ReplicaSet: replica allocation preferences (JSON) for spreading replicas over clusters.
pub const REPLICA_SET_PREFERENCES_ANNOTATION: &str = "federation.kubernetes.io/replica-set-preferences";

/// On a federated Deployment: replica allocation preferences (JSON) for spreading replicas over clusters.
pub const DEPLOYMENT_PREFERENCES_ANNOTATION: &str = "federation.kubernetes.io/deployment-preferences";

/// On a federated Job: allocation preferences (JSON) applied to `parallelism` and `completions`.
pub const JOB_PREFERENCES_ANNOTATION: &str = "federation.kubernetes.io/job-preferences";

// ---------------------------------------------------------------------------------------------------------
// Written by controllers
// ---------------------------------------------------------------------------------------------------------

/// On a ReplicaSet or Deployment targeted by a federated HPA: `{"Names":[...]}`, the clusters where a
/// local HPA exists; written by the HPA controller.
pub const HPA_TARGET_CLUSTER_LIST_ANNOTATION: &str = "federation.kubernetes.io/hpa-target-cluster-list";

/// On a federated Service: the load-balancer ingress of every cluster (JSON), written by the service
/// controller.
pub const SERVICE_INGRESSES_ANNOTATION: &str = "federation.kubernetes.io/service-ingresses";

/// On a federated Ingress: the cluster where the ingress was created first (its load balancer is shared).
pub const FIRST_CLUSTER_ANNOTATION: &str = "ingress.federation.kubernetes.io/first-cluster";

/// On a federated Ingress: the GCE global static IP name, copied from the first cluster's ingress.
pub const GLOBAL_STATIC_IP_NAME_ANNOTATION: &str = "kubernetes.io/ingress.global-static-ip-name";

/// On a member cluster's Ingress (set by GLBC, read-only for us): the static IP the load balancer uses.
pub const STATIC_IP_ANNOTATION: &str = "ingress.kubernetes.io/static-ip";

/// On Cluster objects: the GLBC UID shared by all clusters, written by the ingress controller.
pub const INGRESS_UID_ANNOTATION: &str = "kubernetes.io/ingress.uid";

// ---------------------------------------------------------------------------------------------------------
// Written by kubefed
// ---------------------------------------------------------------------------------------------------------

/// On every object kubefed creates, in the host and in member clusters: the federation's name.
pub const FEDERATION_NAME_ANNOTATION: &str = "federation.alpha.kubernetes.io/federation-name";

/// On objects kubefed creates in or for a joining cluster: the cluster's name in the federation.
pub const CLUSTER_NAME_ANNOTATION: &str = "federation.alpha.kubernetes.io/cluster-name";

/// On a Cluster object: the ServiceAccount `kubefed join` created in the member cluster. The typo
/// ("servive") is v1's and is part of the wire format.
pub const SERVICE_ACCOUNT_NAME_ANNOTATION: &str = "federation.kubernetes.io/servive-account-name";

/// On a Cluster object: the ClusterRole and ClusterRoleBinding `kubefed join` created in the member cluster.
pub const CLUSTER_ROLE_NAME_ANNOTATION: &str = "federation.kubernetes.io/cluster-role-name";

/// On the controller-manager Deployment (unprefixed): `<federation>=<domain>`, read by `kubefed join` to
/// configure the member cluster's kube-dns.
pub const FEDERATIONS_ANNOTATION: &str = "federations";

/// On the controller-manager Deployment (unprefixed): the DNS zone the federation's records live in.
pub const DNS_ZONE_NAME_ANNOTATION: &str = "dns-zone-name";

/// On the controller-manager Deployment (unprefixed): the zone's nameserver, for kube-dns stub domains.
pub const NAMESERVER_ANNOTATION: &str = "nameserver";

/// On the controller-manager Deployment (unprefixed): the DNS provider (`coredns`, `google-clouddns`, …).
pub const DNS_PROVIDER_ANNOTATION: &str = "dns-provider";

/// Label on the objects `kubefed init` creates; its value is [`FEDERATED_CLUSTER_APP`].
pub const APP_LABEL: &str = "app";

/// Value of [`APP_LABEL`] on the federation control plane's pods and services.
pub const FEDERATED_CLUSTER_APP: &str = "federated-cluster";

/// Label telling the two control-plane components apart; values [`APISERVER_MODULE`] and
/// [`CONTROLLER_MANAGER_MODULE`].
pub const MODULE_LABEL: &str = "module";

/// Value of [`MODULE_LABEL`] on the federation apiserver's pods and service.
pub const APISERVER_MODULE: &str = "federation-apiserver";

/// Value of [`MODULE_LABEL`] on the federation controller manager's pods.
pub const CONTROLLER_MANAGER_MODULE: &str = "federation-controller-manager";

// ---------------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------------

/// Mutation marker the generic CRUD tests put on objects to check that updates propagate.
pub const TEST_CRUD_UPDATE_ANNOTATION: &str = "federation.kubernetes.io/test-federation-crud-update";

// ---------------------------------------------------------------------------------------------------------
// Finalizers
// ---------------------------------------------------------------------------------------------------------

/// Finalizer the controllers add to every object they sync: deleting the federated object first deletes
/// its copies in the member clusters (unless [`ORPHAN_FINALIZER`] is also present).
pub const DELETE_FROM_UNDERLYING_CLUSTERS_FINALIZER: &str =
    "federation.kubernetes.io/delete-from-underlying-clusters";

/// Standard finalizer meaning "leave dependents (here: the member clusters' copies) in place"; the
/// controllers add it too, and the apiserver keeps or drops it according to the delete options.
pub const ORPHAN_FINALIZER: &str = "orphan";

/// Standard finalizer for foreground cascading deletion, added by the apiserver on `propagationPolicy:
/// Foreground`.
pub const FOREGROUND_DELETION_FINALIZER: &str = "foregroundDeletion";

/// Finalizer in a Namespace's `spec.finalizers`: the namespace's content is deleted before the namespace.
pub const KUBERNETES_FINALIZER: &str = "kubernetes";

// ---------------------------------------------------------------------------------------------------------
// Node labels read for Cluster status
// ---------------------------------------------------------------------------------------------------------

/// Legacy node label with the node's failure-domain zone; what v1 reads for `status.zones`.
pub const ZONE_LABEL_BETA: &str = "failure-domain.beta.kubernetes.io/zone";

/// Legacy node label with the node's region; what v1 reads for `status.region`.
pub const REGION_LABEL_BETA: &str = "failure-domain.beta.kubernetes.io/region";

/// Current node label with the node's zone (replaces [`ZONE_LABEL_BETA`] since Kubernetes 1.17).
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// Current node label with the node's region (replaces [`REGION_LABEL_BETA`] since Kubernetes 1.17).
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::{is_qualified_name, validate_finalizers};

    #[test]
    fn annotation_and_label_names_are_valid_keys() {
        for name in [
            CLUSTER_SELECTOR_ANNOTATION,
            REPLICA_SET_PREFERENCES_ANNOTATION,
            DEPLOYMENT_PREFERENCES_ANNOTATION,
            JOB_PREFERENCES_ANNOTATION,
            HPA_TARGET_CLUSTER_LIST_ANNOTATION,
            SERVICE_INGRESSES_ANNOTATION,
            FIRST_CLUSTER_ANNOTATION,
            GLOBAL_STATIC_IP_NAME_ANNOTATION,
            STATIC_IP_ANNOTATION,
            INGRESS_UID_ANNOTATION,
            FEDERATION_NAME_ANNOTATION,
            CLUSTER_NAME_ANNOTATION,
            SERVICE_ACCOUNT_NAME_ANNOTATION,
            CLUSTER_ROLE_NAME_ANNOTATION,
            FEDERATIONS_ANNOTATION,
            DNS_ZONE_NAME_ANNOTATION,
            NAMESERVER_ANNOTATION,
            DNS_PROVIDER_ANNOTATION,
            TEST_CRUD_UPDATE_ANNOTATION,
            APP_LABEL,
            MODULE_LABEL,
            ZONE_LABEL_BETA,
            REGION_LABEL_BETA,
            ZONE_LABEL,
            REGION_LABEL,
        ] {
            assert!(is_qualified_name(name).is_empty(), "{name}");
        }
    }

    #[test]
    fn finalizer_names_pass_kube_validation() {
        let finalizers = [
            DELETE_FROM_UNDERLYING_CLUSTERS_FINALIZER,
            ORPHAN_FINALIZER,
            KUBERNETES_FINALIZER,
        ]
        .map(str::to_owned);
        assert!(validate_finalizers(&finalizers, "metadata.finalizers").is_empty());
        assert!(validate_finalizers(&[FOREGROUND_DELETION_FINALIZER.to_owned()], "f").is_empty());
    }
}
