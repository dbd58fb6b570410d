//! RBAC authorization (`rbac.authorization.k8s.io/v1`, with kube-apiserver 1.33's semantics):
//!
//! - [`rules`]: what one rule allows, and whether rules cover others (kube's `rbac/v1` helpers);
//! - [`index`]: [`RbacAuthorizer`], the policy held in memory and followed from the store, answering
//!   [`Authorizer`] calls;
//! - [`bootstrap`]: the default cluster roles and bindings, created and reconciled at start-up;
//! - [`aggregation`]: cluster roles with an `aggregationRule` kept filled with their components' rules;
//! - [`escalation`]: [`EscalationCheck`], the admission plugin that stops users granting what they do not
//!   hold.
//!
//! # Start-up
//! [`start`] does it all, in this order: bootstrap (create or reconcile the defaults), one aggregation pass
//! (so `admin`, `edit` and `view` carry their rules before the first request), load the index, then keep
//! aggregation running until shutdown. The server then puts [`Rbac::authorizer`] in its authorizer chain and
//! [`Rbac::escalation_check`] (built with that chain) in its admission chain.

pub mod aggregation;
pub mod bootstrap;
pub mod escalation;
pub mod index;
pub mod rules;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use escalation::EscalationCheck;
pub use index::RbacAuthorizer;
pub use rules::Rule;

use crate::{
    auth::authz::Authorizer,
    error::{ApiError, ApiResult},
    registry::{Registry, ResourceDef, store::Store},
};

/// The RBAC API group.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The four RBAC resources as the registry serves them (`rbac.authorization.k8s.io/v1`).
#[derive(Debug, Clone)]
pub struct RbacResources {
    /// `roles`.
    pub roles: Arc<ResourceDef>,
    /// `rolebindings`.
    pub role_bindings: Arc<ResourceDef>,
    /// `clusterroles`.
    pub cluster_roles: Arc<ResourceDef>,
    /// `clusterrolebindings`.
    pub cluster_role_bindings: Arc<ResourceDef>,
}

impl RbacResources {
    /// The RBAC resources of `registry`.
    ///
    /// # Errors
    /// 500 when the registry does not serve one of them.
    pub fn lookup(registry: &Registry) -> ApiResult<Self> {
        let find = |plural: &str| {
            registry.lookup(RBAC_GROUP, "v1", plural).cloned().ok_or_else(|| {
                ApiError::internal(format!("the registry does not serve {RBAC_GROUP}/v1 {plural}"))
            })
        };
        Ok(Self {
            roles: find("roles")?,
            role_bindings: find("rolebindings")?,
            cluster_roles: find("clusterroles")?,
            cluster_role_bindings: find("clusterrolebindings")?,
        })
    }
}

/// RBAC, started: the authorizer, and what builds the escalation check.
#[derive(Debug, Clone)]
pub struct Rbac {
    authorizer: Arc<RbacAuthorizer>,
}

impl Rbac {
    /// The RBAC authorizer, for the authorizer chain (and for SelfSubjectRulesReview through it).
    #[must_use]
    pub fn authorizer(&self) -> Arc<RbacAuthorizer> {
        self.authorizer.clone()
    }

    /// The escalation check for the admission chain; `chain` is the server's whole authorizer chain (it
    /// decides the `escalate` and `bind` verbs).
    #[must_use]
    pub fn escalation_check(&self, chain: Arc<dyn Authorizer>) -> Arc<EscalationCheck> {
        Arc::new(EscalationCheck::new(self.authorizer.clone(), chain))
    }
}

/// Starts RBAC on `store`: bootstraps the default policy, aggregates cluster roles once, loads the index,
/// and spawns the index's watches and the aggregation controller, which run until `shutdown`. When it
/// returns, the index holds the whole policy, including the aggregated `admin`, `edit` and `view` rules.
///
/// # Errors
/// 500 when the registry does not serve the RBAC kinds; the bootstrap's or a list's error (storage
/// unavailable, ...). A failed first aggregation pass is logged, not fatal (the controller retries).
pub async fn start(
    store: Arc<Store>,
    registry: Arc<Registry>,
    shutdown: CancellationToken,
) -> ApiResult<Rbac> {
    let resources = RbacResources::lookup(&registry)?;
    bootstrap::reconcile(&store, &registry, &resources).await?;
    if let Err(e) = aggregation::aggregate_once(&store, &resources.cluster_roles).await {
        tracing::warn!(error = %e, "first cluster role aggregation pass failed; the controller retries");
    }
    let authorizer = RbacAuthorizer::start(store.clone(), registry, shutdown.clone()).await?;
    tokio::spawn(aggregation::run_aggregation(
        store,
        resources.cluster_roles.clone(),
        authorizer.cluster_role_changes(),
        shutdown,
    ));
    Ok(Rbac { authorizer })
}
