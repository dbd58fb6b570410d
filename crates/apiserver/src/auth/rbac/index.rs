//! The RBAC policy index: roles, cluster roles and their bindings held in memory, fed from the store by
//! list + watch, and the [`Authorizer`] that answers from it.
//!
//! # Contract
//! - [`RbacAuthorizer::start`] returns once the index holds the state of a consistent list of each of the
//!   four kinds; afterwards background tasks follow changes with watches from that list's revision. On a
//!   watch ERROR (such as 410 Expired) or the end of a stream a task re-lists, replacing what the index holds
//!   of that kind, and watches again (with a backoff growing from 100 ms to 5 s while lists fail) until
//!   `shutdown`. While it re-lists, decisions keep using the last state held: nothing is denied for lack of
//!   data.
//! - [`Authorizer::authorize`] takes a read lock and walks only the bindings that name the user (by user
//!   name, service account user name, or one of the user's groups): cluster role bindings first, then role
//!   bindings of the request's namespace. It allocates nothing unless it allows (the reason) or a referenced
//!   role is missing (the message).
//! - Semantics are kube's `rbac/v1` authorizer: see [`Rule::allows`]; a RoleBinding applies only to
//!   namespaced resource requests in its own namespace (never to cluster-scoped resources nor to
//!   non-resource URLs), a ClusterRoleBinding to every request. RBAC never denies: when nothing allows, the
//!   answer is [`Decision::NoOpinion`], whose reason is empty unless referenced roles are missing (then
//!   `RBAC: clusterrole.rbac.authorization.k8s.io "x" not found`, as kube).

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard},
    time::Duration,
};

use fcp_api::validation::go_quote;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding, RoleRef, Subject};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::watch as notify;
use tokio_util::sync::CancellationToken;

use super::{RbacResources, rules::Rule};
use crate::{
    auth::{
        UserInfo,
        authz::{Authorizer, Decision, RequestAttributes, RulesReview},
    },
    error::ApiResult,
    registry::{
        Registry, ResourceDef,
        store::{ListOptions, Store, Target},
        watch::{self, WatchOptions},
    },
};

/// First wait before re-listing after a watch ended, and after a failed list it doubles up to
/// [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between failed lists.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The prefix of a service account's user name.
const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// The four RBAC kinds the index follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `roles`.
    Role,
    /// `clusterroles`.
    ClusterRole,
    /// `rolebindings`.
    RoleBinding,
    /// `clusterrolebindings`.
    ClusterRoleBinding,
}

impl Kind {
    /// Every kind, in the order they are loaded at start (roles before the bindings that use them).
    pub const ALL: [Self; 4] = [
        Self::ClusterRole,
        Self::Role,
        Self::ClusterRoleBinding,
        Self::RoleBinding,
    ];

    fn resource(self, resources: &RbacResources) -> &Arc<ResourceDef> {
        match self {
            Self::Role => &resources.roles,
            Self::ClusterRole => &resources.cluster_roles,
            Self::RoleBinding => &resources.role_bindings,
            Self::ClusterRoleBinding => &resources.cluster_role_bindings,
        }
    }
}

/// Why the rules of a binding's role are unknown (kube's lister error text).
fn role_missing(role_ref_kind: &str, name: &str) -> String {
    match role_ref_kind {
        "ClusterRole" => format!(
            "clusterrole.rbac.authorization.k8s.io {} not found",
            go_quote(name)
        ),
        "Role" => format!("role.rbac.authorization.k8s.io {} not found", go_quote(name)),
        other => format!("unsupported role reference kind: {}", go_quote(other)),
    }
}

/// kube's `utilerrors.NewAggregate(errs).Error()`: messages deduplicated; one is itself, several are
/// `[a, b]`; none is empty.
#[must_use]
pub fn aggregate_errors(errors: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for e in errors {
        if !seen.contains(&e.as_str()) {
            seen.push(e);
        }
    }
    match seen.as_slice() {
        [] => String::new(),
        [one] => (*one).to_owned(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// One binding, compiled: its role reference and who it names.
#[derive(Debug)]
struct Binding {
    name: String,
    /// The binding's namespace; empty for a ClusterRoleBinding.
    namespace: String,
    role_kind: String,
    role_name: String,
    /// The subjects as written (for the Allow reason).
    subjects: Vec<Subject>,
    /// User names the binding names: User subjects, and service accounts as
    /// `system:serviceaccount:<ns>:<name>` (a RoleBinding's service account without a namespace is in the
    /// binding's).
    users: Vec<String>,
    /// Group names the binding names.
    groups: Vec<String>,
}

impl Binding {
    fn new(name: String, namespace: String, role_ref: &RoleRef, subjects: Vec<Subject>) -> Self {
        let mut users = Vec::new();
        let mut groups = Vec::new();
        for subject in &subjects {
            match subject.kind.as_str() {
                "User" => users.push(subject.name.clone()),
                "Group" => groups.push(subject.name.clone()),
                "ServiceAccount" => {
                    let sa_namespace = subject
                        .namespace
                        .as_deref()
                        .filter(|ns| !ns.is_empty())
                        .unwrap_or(&namespace);
                    if !sa_namespace.is_empty() {
                        users.push(format!("{SERVICE_ACCOUNT_PREFIX}{sa_namespace}:{}", subject.name));
                    }
                }
                _ => {}
            }
        }
        users.dedup();
        groups.dedup();
        Self {
            name,
            namespace,
            role_kind: role_ref.kind.clone(),
            role_name: role_ref.name.clone(),
            subjects,
            users,
            groups,
        }
    }

    /// Whether `subject` names `user` (kube's `appliesToUser`).
    fn subject_applies(&self, subject: &Subject, user: &UserInfo) -> bool {
        match subject.kind.as_str() {
            "User" => subject.name == user.name,
            "Group" => user.in_group(&subject.name),
            "ServiceAccount" => {
                let sa_namespace = subject
                    .namespace
                    .as_deref()
                    .filter(|ns| !ns.is_empty())
                    .unwrap_or(&self.namespace);
                !sa_namespace.is_empty()
                    && user
                        .name
                        .strip_prefix(SERVICE_ACCOUNT_PREFIX)
                        .and_then(|rest| rest.strip_prefix(sa_namespace))
                        .and_then(|rest| rest.strip_prefix(':'))
                        == Some(subject.name.as_str())
            }
            _ => false,
        }
    }

    /// kube's binding describer: `ClusterRoleBinding "b" of ClusterRole "r" to User "alice"`, or
    /// `RoleBinding "b/ns" of Role "r" to ServiceAccount "sa/ns"` (the first subject naming `user`).
    fn describe(&self, user: &UserInfo) -> String {
        let subject = self
            .subjects
            .iter()
            .find(|s| self.subject_applies(s, user))
            .map_or_else(String::new, |s| {
                if s.kind == "ServiceAccount" {
                    let ns = s
                        .namespace
                        .as_deref()
                        .filter(|ns| !ns.is_empty())
                        .unwrap_or(&self.namespace);
                    format!("{} {}", s.kind, go_quote(&format!("{}/{ns}", s.name)))
                } else {
                    format!("{} {}", s.kind, go_quote(&s.name))
                }
            });
        if self.namespace.is_empty() {
            format!(
                "ClusterRoleBinding {} of {} {} to {subject}",
                go_quote(&self.name),
                self.role_kind,
                go_quote(&self.role_name)
            )
        } else {
            format!(
                "RoleBinding {} of {} {} to {subject}",
                go_quote(&format!("{}/{}", self.name, self.namespace)),
                self.role_kind,
                go_quote(&self.role_name)
            )
        }
    }
}

/// Bindings by the user and group names they name; each list sorted by binding name.
#[derive(Debug, Default)]
struct SubjectIndex {
    users: HashMap<String, Vec<Arc<Binding>>>,
    groups: HashMap<String, Vec<Arc<Binding>>>,
}

impl SubjectIndex {
    fn insert(&mut self, binding: &Arc<Binding>) {
        fn add(map: &mut HashMap<String, Vec<Arc<Binding>>>, key: &str, binding: &Arc<Binding>) {
            let list = map.entry(key.to_owned()).or_default();
            if let Err(at) = list.binary_search_by(|b| b.name.cmp(&binding.name)) {
                list.insert(at, binding.clone());
            }
        }
        for user in &binding.users {
            add(&mut self.users, user, binding);
        }
        for group in &binding.groups {
            add(&mut self.groups, group, binding);
        }
    }

    fn remove(&mut self, binding: &Binding) {
        fn drop_from(map: &mut HashMap<String, Vec<Arc<Binding>>>, key: &str, name: &str) {
            if let Some(list) = map.get_mut(key) {
                list.retain(|b| b.name != name);
                if list.is_empty() {
                    map.remove(key);
                }
            }
        }
        for user in &binding.users {
            drop_from(&mut self.users, user, &binding.name);
        }
        for group in &binding.groups {
            drop_from(&mut self.groups, group, &binding.name);
        }
    }

    /// Calls `visit` once per binding naming `user` (by name, or any of its groups): user matches first,
    /// then groups in the user's order. Stops when `visit` returns false; returns false then.
    fn visit(&self, user: &UserInfo, visit: &mut dyn FnMut(&Binding) -> bool) -> bool {
        for binding in self.users.get(user.name.as_str()).into_iter().flatten() {
            if !visit(binding) {
                return false;
            }
        }
        for (i, group) in user.groups.iter().enumerate() {
            for binding in self.groups.get(group.as_str()).into_iter().flatten() {
                // Seen already through the user name or an earlier group.
                let seen = binding.users.contains(&user.name)
                    || user.groups[..i].iter().any(|g| binding.groups.contains(g));
                if !seen && !visit(binding) {
                    return false;
                }
            }
        }
        true
    }
}

/// What [`Policy::visit_rules_for`] calls: a binding, and the rules of its role or why they are unknown;
/// returns whether to go on.
type RuleVisitor<'a> = dyn FnMut(&Binding, Result<&[Rule], String>) -> bool + 'a;

/// The policy as held in memory.
#[derive(Debug, Default)]
struct Policy {
    cluster_roles: HashMap<String, Arc<[Rule]>>,
    /// Roles by namespace, then name.
    roles: HashMap<String, HashMap<String, Arc<[Rule]>>>,
    cluster_bindings: HashMap<String, Arc<Binding>>,
    /// Role bindings by namespace, then name.
    role_bindings: HashMap<String, HashMap<String, Arc<Binding>>>,
    cluster_subjects: SubjectIndex,
    /// Role bindings by subject, per namespace.
    namespace_subjects: HashMap<String, SubjectIndex>,
}

/// One object of a watch or list, compiled for the index.
enum Entry {
    Role {
        namespace: String,
        name: String,
        rules: Arc<[Rule]>,
    },
    ClusterRole {
        name: String,
        rules: Arc<[Rule]>,
    },
    Binding(Arc<Binding>),
}

fn parse<T: DeserializeOwned>(object: &Value) -> Option<T> {
    match serde_json::from_value(object.clone()) {
        Ok(typed) => Some(typed),
        Err(e) => {
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            tracing::warn!(name, error = %e, "RBAC: cannot decode a stored object; ignoring it");
            None
        }
    }
}

fn compile_rules(rules: Option<&Vec<k8s_openapi::api::rbac::v1::PolicyRule>>) -> Arc<[Rule]> {
    rules.into_iter().flatten().map(Rule::from_policy).collect()
}

impl Entry {
    fn compile(kind: Kind, object: &Value) -> Option<Self> {
        match kind {
            Kind::Role => {
                let role: Role = parse(object)?;
                Some(Self::Role {
                    namespace: role.metadata.namespace.unwrap_or_default(),
                    name: role.metadata.name.unwrap_or_default(),
                    rules: compile_rules(role.rules.as_ref()),
                })
            }
            Kind::ClusterRole => {
                let role: ClusterRole = parse(object)?;
                Some(Self::ClusterRole {
                    name: role.metadata.name.unwrap_or_default(),
                    rules: compile_rules(role.rules.as_ref()),
                })
            }
            Kind::RoleBinding => {
                let binding: RoleBinding = parse(object)?;
                Some(Self::Binding(Arc::new(Binding::new(
                    binding.metadata.name.unwrap_or_default(),
                    binding.metadata.namespace.unwrap_or_default(),
                    &binding.role_ref,
                    binding.subjects.unwrap_or_default(),
                ))))
            }
            Kind::ClusterRoleBinding => {
                let binding: ClusterRoleBinding = parse(object)?;
                Some(Self::Binding(Arc::new(Binding::new(
                    binding.metadata.name.unwrap_or_default(),
                    String::new(),
                    &binding.role_ref,
                    binding.subjects.unwrap_or_default(),
                ))))
            }
        }
    }
}

impl Policy {
    fn upsert(&mut self, entry: Entry) {
        match entry {
            Entry::Role {
                namespace,
                name,
                rules,
            } => {
                self.roles.entry(namespace).or_default().insert(name, rules);
            }
            Entry::ClusterRole { name, rules } => {
                self.cluster_roles.insert(name, rules);
            }
            Entry::Binding(binding) => {
                self.remove_binding(&binding.namespace, &binding.name);
                if binding.namespace.is_empty() {
                    self.cluster_subjects.insert(&binding);
                    self.cluster_bindings.insert(binding.name.clone(), binding);
                } else {
                    self.namespace_subjects
                        .entry(binding.namespace.clone())
                        .or_default()
                        .insert(&binding);
                    self.role_bindings
                        .entry(binding.namespace.clone())
                        .or_default()
                        .insert(binding.name.clone(), binding);
                }
            }
        }
    }

    fn remove(&mut self, kind: Kind, namespace: &str, name: &str) {
        match kind {
            Kind::Role => {
                if let Some(roles) = self.roles.get_mut(namespace) {
                    roles.remove(name);
                    if roles.is_empty() {
                        self.roles.remove(namespace);
                    }
                }
            }
            Kind::ClusterRole => {
                self.cluster_roles.remove(name);
            }
            Kind::RoleBinding => self.remove_binding(namespace, name),
            Kind::ClusterRoleBinding => self.remove_binding("", name),
        }
    }

    fn remove_binding(&mut self, namespace: &str, name: &str) {
        if namespace.is_empty() {
            if let Some(old) = self.cluster_bindings.remove(name) {
                self.cluster_subjects.remove(&old);
            }
            return;
        }
        let Some(bindings) = self.role_bindings.get_mut(namespace) else {
            return;
        };
        if let Some(old) = bindings.remove(name)
            && let Some(index) = self.namespace_subjects.get_mut(namespace)
        {
            index.remove(&old);
            if index.users.is_empty() && index.groups.is_empty() {
                self.namespace_subjects.remove(namespace);
            }
        }
        if bindings.is_empty() {
            self.role_bindings.remove(namespace);
        }
    }

    /// Drops everything of `kind` (before a re-list puts its state back).
    fn clear(&mut self, kind: Kind) {
        match kind {
            Kind::Role => self.roles.clear(),
            Kind::ClusterRole => self.cluster_roles.clear(),
            Kind::RoleBinding => {
                self.role_bindings.clear();
                self.namespace_subjects.clear();
            }
            Kind::ClusterRoleBinding => {
                self.cluster_bindings.clear();
                self.cluster_subjects = SubjectIndex::default();
            }
        }
    }

    /// The rules of `binding`'s role (kube's `GetRoleReferenceRules`), or why they are unknown.
    fn role_rules(&self, binding: &Binding) -> Result<&[Rule], String> {
        let found = match binding.role_kind.as_str() {
            "ClusterRole" => self.cluster_roles.get(&binding.role_name),
            "Role" => self
                .roles
                .get(&binding.namespace)
                .and_then(|roles| roles.get(&binding.role_name)),
            _ => None,
        };
        found
            .map(AsRef::as_ref)
            .ok_or_else(|| role_missing(&binding.role_kind, &binding.role_name))
    }

    /// kube's `VisitRulesFor`: every binding naming `user`, cluster role bindings first, then the role
    /// bindings of `namespace` when it is not empty, each with the rules of its role or why they are
    /// unknown. Stops when `visit` returns false.
    fn visit_rules_for(&self, user: &UserInfo, namespace: &str, visit: &mut RuleVisitor<'_>) {
        let mut each = |binding: &Binding| visit(binding, self.role_rules(binding));
        if !self.cluster_subjects.visit(user, &mut each) {
            return;
        }
        if !namespace.is_empty()
            && let Some(index) = self.namespace_subjects.get(namespace)
        {
            index.visit(user, &mut each);
        }
    }
}

/// The RBAC authorizer: the policy index and the decisions made from it. Cheap to share (`Arc`).
pub struct RbacAuthorizer {
    policy: RwLock<Policy>,
    /// Bumped after every change to cluster roles the index applies (for the aggregation controller).
    cluster_role_changes: notify::Sender<u64>,
    /// The RBAC resources, when the index follows a store (for the escalation check's reads).
    resources: Option<RbacResources>,
}

impl std::fmt::Debug for RbacAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let policy = self.read();
        f.debug_struct("RbacAuthorizer")
            .field("cluster_roles", &policy.cluster_roles.len())
            .field("cluster_bindings", &policy.cluster_bindings.len())
            .field("role_namespaces", &policy.roles.len())
            .field("role_binding_namespaces", &policy.role_bindings.len())
            .finish_non_exhaustive()
    }
}

impl RbacAuthorizer {
    fn new(resources: Option<RbacResources>) -> Self {
        let (cluster_role_changes, _) = notify::channel(0);
        Self {
            policy: RwLock::default(),
            cluster_role_changes,
            resources,
        }
    }

    /// An index that follows no store and holds `objects` (Roles, ClusterRoles, RoleBindings and
    /// ClusterRoleBindings as API JSON with `kind`); objects of other kinds are ignored. For tests and tools.
    #[must_use]
    pub fn from_objects(objects: &[Value]) -> Self {
        let this = Self::new(None);
        for object in objects {
            this.apply_object(object);
        }
        this
    }

    /// Adds or replaces one object by its `kind` (see [`RbacAuthorizer::from_objects`]).
    pub fn apply_object(&self, object: &Value) {
        let kind = match object["kind"].as_str() {
            Some("Role") => Kind::Role,
            Some("ClusterRole") => Kind::ClusterRole,
            Some("RoleBinding") => Kind::RoleBinding,
            Some("ClusterRoleBinding") => Kind::ClusterRoleBinding,
            _ => return,
        };
        self.apply(kind, object, false);
    }

    /// Loads the four RBAC kinds from `store` and follows their changes until `shutdown` (see the module
    /// docs). Returns once the index holds the listed state.
    ///
    /// # Errors
    /// 500 when the registry does not serve the RBAC kinds; a list's error (storage unavailable, ...).
    pub async fn start(
        store: Arc<Store>,
        registry: Arc<Registry>,
        shutdown: CancellationToken,
    ) -> ApiResult<Arc<Self>> {
        let resources = RbacResources::lookup(&registry)?;
        let this = Arc::new(Self::new(Some(resources.clone())));
        let mut revisions = Vec::new();
        for kind in Kind::ALL {
            revisions.push((kind, this.relist(&store, kind).await?));
        }
        for (kind, revision) in revisions {
            tokio::spawn(
                this.clone()
                    .follow(store.clone(), kind, revision, shutdown.clone()),
            );
        }
        tracing::info!(index = ?this, "RBAC policy loaded");
        Ok(this)
    }

    /// The RBAC resources of the store the index follows (`None` for [`RbacAuthorizer::from_objects`]).
    #[must_use]
    pub fn resources(&self) -> Option<&RbacResources> {
        self.resources.as_ref()
    }

    /// A receiver notified after each change to cluster roles applied to the index.
    #[must_use]
    pub fn cluster_role_changes(&self) -> notify::Receiver<u64> {
        self.cluster_role_changes.subscribe()
    }

    fn read(&self) -> RwLockReadGuard<'_, Policy> {
        // A panic while applying one change leaves the maps structurally valid.
        self.policy
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Policy> {
        self.policy
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies one added or modified object (or, with `deleted`, removes it).
    fn apply(&self, kind: Kind, object: &Value, deleted: bool) {
        if deleted {
            let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            self.write().remove(kind, namespace, name);
        } else if let Some(entry) = Entry::compile(kind, object) {
            self.write().upsert(entry);
        }
        if kind == Kind::ClusterRole {
            self.cluster_role_changes.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Lists `kind` and replaces what the index holds of it. Returns the list's resourceVersion.
    async fn relist(&self, store: &Store, kind: Kind) -> ApiResult<String> {
        let Some(resources) = &self.resources else {
            return Ok(String::new());
        };
        let target = Target {
            resource: kind.resource(resources),
            namespace: None,
            user: None,
        };
        let list = store.list(target, &ListOptions::default()).await?;
        let revision = list["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let entries: Vec<Entry> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| Entry::compile(kind, item))
            .collect();
        {
            let mut policy = self.write();
            policy.clear(kind);
            for entry in entries {
                policy.upsert(entry);
            }
        }
        if kind == Kind::ClusterRole {
            self.cluster_role_changes.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(revision)
    }

    /// Follows `kind` from `revision` until `shutdown`, re-listing after errors and stream ends.
    async fn follow(
        self: Arc<Self>,
        store: Arc<Store>,
        kind: Kind,
        mut revision: String,
        shutdown: CancellationToken,
    ) {
        let Some(resource) = self.resources.as_ref().map(|r| kind.resource(r).clone()) else {
            return;
        };
        let mut backoff = MIN_BACKOFF;
        loop {
            let options = WatchOptions {
                list: ListOptions {
                    resource_version: Some(revision.clone()),
                    ..ListOptions::default()
                },
                ..WatchOptions::default()
            };
            match watch::start(store.clone(), resource.clone(), None, options, shutdown.clone()) {
                Ok(mut events) => loop {
                    let line = tokio::select! {
                        line = events.recv() => line,
                        () = shutdown.cancelled() => return,
                    };
                    let Some(line) = line else {
                        tracing::debug!(resource = resource.plural, "RBAC watch ended; re-listing");
                        break;
                    };
                    match line.event_type {
                        "ADDED" | "MODIFIED" => self.apply(kind, &line.object, false),
                        "DELETED" => self.apply(kind, &line.object, true),
                        "ERROR" => {
                            tracing::info!(
                                resource = resource.plural,
                                status = %line.object,
                                "RBAC watch failed; re-listing"
                            );
                            break;
                        }
                        _ => {}
                    }
                },
                Err(e) => {
                    tracing::warn!(resource = resource.plural, error = %e, "RBAC watch failed; re-listing")
                }
            }
            // Re-list until it works (or shutdown).
            loop {
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = shutdown.cancelled() => return,
                }
                match self.relist(&store, kind).await {
                    Ok(rv) => {
                        revision = rv;
                        backoff = MIN_BACKOFF;
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(resource = resource.plural, error = %e, "RBAC re-list failed; retrying");
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
        }
    }

    /// The user's effective rules in `namespace` (cluster-wide ones, plus those of role bindings in
    /// `namespace` when it is not empty; kube's `RulesFor`), and the messages of roles that bindings
    /// reference but do not exist.
    #[must_use]
    pub fn rules_of(&self, user: &UserInfo, namespace: &str) -> (Vec<Rule>, Vec<String>) {
        let policy = self.read();
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        policy.visit_rules_for(user, namespace, &mut |_, found| {
            match found {
                Ok(found) => rules.extend_from_slice(found),
                Err(e) => errors.push(e),
            }
            true
        });
        (rules, errors)
    }

    /// The rules of a role, if the index holds it (`namespace` empty for a cluster role).
    #[must_use]
    pub fn role(&self, namespace: &str, name: &str) -> Option<Vec<Rule>> {
        let policy = self.read();
        let found = if namespace.is_empty() {
            policy.cluster_roles.get(name)
        } else {
            policy.roles.get(namespace).and_then(|r| r.get(name))
        };
        found.map(|rules| rules.to_vec())
    }

    /// The names of the cluster roles the index holds, sorted (for diagnostics and tests).
    #[must_use]
    pub fn cluster_role_names(&self) -> Vec<String> {
        let policy = self.read();
        let sorted: BTreeMap<&String, ()> = policy.cluster_roles.keys().map(|k| (k, ())).collect();
        sorted.into_keys().cloned().collect()
    }
}

impl Authorizer for RbacAuthorizer {
    fn authorize(&self, user: &UserInfo, request: &RequestAttributes) -> Decision {
        // Role bindings grant namespaced resources in their namespace only.
        let namespace = if request.resource_request {
            request.namespace.as_str()
        } else {
            ""
        };
        let policy = self.read();
        let mut allowed = None;
        let mut errors = Vec::new();
        policy.visit_rules_for(user, namespace, &mut |binding, rules| match rules {
            Ok(rules) => {
                if rules.iter().any(|rule| rule.allows(request)) {
                    allowed = Some(format!("RBAC: allowed by {}", binding.describe(user)));
                    false
                } else {
                    true
                }
            }
            Err(e) => {
                errors.push(e);
                true
            }
        });
        match allowed {
            Some(reason) => Decision::Allow(reason),
            None if errors.is_empty() => Decision::NoOpinion(String::new()),
            None => Decision::NoOpinion(format!("RBAC: {}", aggregate_errors(&errors))),
        }
    }

    fn rules_for(&self, user: &UserInfo, namespace: &str) -> RulesReview {
        let (rules, errors) = self.rules_of(user, namespace);
        RulesReview {
            resource_rules: rules.iter().filter_map(Rule::resource_rule).collect(),
            non_resource_rules: rules.iter().filter_map(Rule::non_resource_rule).collect(),
            incomplete: false,
            evaluation_error: aggregate_errors(&errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn alice() -> UserInfo {
        UserInfo::new("alice", "", &["system:authenticated", "devs"])
    }

    fn index() -> RbacAuthorizer {
        RbacAuthorizer::from_objects(&[
            json!({"kind": "Role", "metadata": {"name": "cm-reader", "namespace": "a"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]}),
            json!({"kind": "RoleBinding", "metadata": {"name": "alice-reads", "namespace": "a"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
                "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"}]}),
            json!({"kind": "ClusterRole", "metadata": {"name": "everything"},
                "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                          {"nonResourceURLs": ["*"], "verbs": ["*"]}]}),
            // A ClusterRole bound in namespace b only.
            json!({"kind": "RoleBinding", "metadata": {"name": "devs-all", "namespace": "b"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "everything"},
                "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"}]}),
            json!({"kind": "ClusterRole", "metadata": {"name": "healthz"},
                "rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]}),
            json!({"kind": "ClusterRoleBinding", "metadata": {"name": "health"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "healthz"},
                "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:authenticated"}]}),
            json!({"kind": "ClusterRoleBinding", "metadata": {"name": "bot-all"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "everything"},
                "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "ops"}]}),
            json!({"kind": "RoleBinding", "metadata": {"name": "local-sa", "namespace": "c"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "missing"},
                "subjects": [{"kind": "ServiceAccount", "name": "default"}]}),
        ])
    }

    fn get(resource: &str, namespace: &str, name: &str) -> RequestAttributes {
        RequestAttributes::resource("get", "", resource, namespace, name)
    }

    fn allowed(decision: &Decision) -> bool {
        matches!(decision, Decision::Allow(_))
    }

    #[test]
    fn role_bindings_grant_in_their_namespace_only() {
        let index = index();
        let alice = alice();
        assert_eq!(
            index.authorize(&alice, &get("configmaps", "a", "x")),
            Decision::Allow(
                "RBAC: allowed by RoleBinding \"alice-reads/a\" of Role \"cm-reader\" to User \"alice\""
                    .to_owned()
            )
        );
        assert!(allowed(&index.authorize(
            &alice,
            &RequestAttributes::resource("list", "", "configmaps", "a", "")
        )));
        assert_eq!(
            index.authorize(&alice, &get("configmaps", "other", "x")),
            Decision::NoOpinion(String::new())
        );
        assert!(!allowed(&index.authorize(&alice, &get("secrets", "a", "x"))));
        assert!(!allowed(&index.authorize(
            &alice,
            &RequestAttributes::resource("create", "", "configmaps", "a", "")
        )));
        // All-namespace lists are not granted by role bindings.
        assert!(!allowed(&index.authorize(
            &alice,
            &RequestAttributes::resource("list", "", "configmaps", "", "")
        )));
    }

    #[test]
    fn role_binding_to_a_cluster_role_is_scoped_to_the_namespace() {
        let index = index();
        let alice = alice();
        let decision = index.authorize(&alice, &get("secrets", "b", "s"));
        assert_eq!(
            decision,
            Decision::Allow(
                "RBAC: allowed by RoleBinding \"devs-all/b\" of ClusterRole \"everything\" to Group \"devs\""
                    .to_owned()
            )
        );
        assert!(!allowed(&index.authorize(&alice, &get("secrets", "a", "s"))));
        // Never cluster-scoped resources nor URLs, whatever the role says.
        assert!(!allowed(&index.authorize(&alice, &get("namespaces", "", "b"))));
        assert!(!allowed(&index.authorize(
            &alice,
            &RequestAttributes::non_resource("get", "/version")
        )));
        // The namespace object itself (its name is its namespace) is within the binding.
        assert!(allowed(&index.authorize(&alice, &get("namespaces", "b", "b"))));
    }

    #[test]
    fn cluster_role_bindings_apply_everywhere() {
        let index = index();
        let bot = UserInfo::new(
            "system:serviceaccount:ops:bot",
            "",
            &["system:serviceaccounts", "system:serviceaccounts:ops"],
        );
        assert_eq!(
            index.authorize(&bot, &get("secrets", "anywhere", "s")),
            Decision::Allow(
                "RBAC: allowed by ClusterRoleBinding \"bot-all\" of ClusterRole \"everything\" to ServiceAccount \"bot/ops\"".to_owned()
            )
        );
        assert!(allowed(&index.authorize(&bot, &get("namespaces", "", "x"))));
        assert!(allowed(&index.authorize(
            &bot,
            &RequestAttributes::non_resource("post", "/whatever")
        )));
        let other_sa = UserInfo::new("system:serviceaccount:dev:bot", "", &[]);
        assert!(!allowed(&index.authorize(&other_sa, &get("secrets", "x", "s"))));
        let alice = alice();
        assert!(allowed(&index.authorize(
            &alice,
            &RequestAttributes::non_resource("get", "/healthz")
        )));
        assert!(!allowed(&index.authorize(
            &alice,
            &RequestAttributes::non_resource("get", "/readyz")
        )));
    }

    #[test]
    fn missing_roles_are_reported_not_fatal() {
        let index = index();
        let sa = UserInfo::new("system:serviceaccount:c:default", "", &["system:authenticated"]);
        assert_eq!(
            index.authorize(&sa, &get("configmaps", "c", "x")),
            Decision::NoOpinion("RBAC: role.rbac.authorization.k8s.io \"missing\" not found".to_owned())
        );
        let review = index.rules_for(&sa, "c");
        assert_eq!(
            review.evaluation_error,
            "role.rbac.authorization.k8s.io \"missing\" not found"
        );
        assert!(!review.incomplete);
        assert_eq!(review.non_resource_rules.len(), 1);
    }

    #[test]
    fn rules_review_lists_cluster_and_namespace_rules() {
        let index = index();
        let alice = alice();
        let in_a = index.rules_for(&alice, "a");
        assert_eq!(in_a.resource_rules.len(), 1);
        assert_eq!(in_a.resource_rules[0].resources, vec!["configmaps"]);
        assert_eq!(in_a.non_resource_rules.len(), 1);
        assert_eq!(in_a.evaluation_error, "");
        let cluster = index.rules_for(&alice, "");
        assert!(cluster.resource_rules.is_empty());
        assert_eq!(cluster.non_resource_rules[0].non_resource_urls, vec!["/healthz"]);
    }

    #[test]
    fn bindings_are_visited_once_and_updates_replace_them() {
        // Alice is named by user and by two groups: her rules appear once.
        let index = RbacAuthorizer::from_objects(&[
            json!({"kind": "ClusterRole", "metadata": {"name": "r"},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}),
            json!({"kind": "ClusterRoleBinding", "metadata": {"name": "b"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"},
                "subjects": [{"kind": "Group", "name": "devs"}, {"kind": "User", "name": "alice"},
                             {"kind": "Group", "name": "system:authenticated"}]}),
        ]);
        let alice = alice();
        assert_eq!(index.rules_of(&alice, "").0.len(), 1);
        // The reason names the first subject of the binding that applies.
        assert_eq!(
            index.authorize(&alice, &get("pods", "x", "p")),
            Decision::Allow(
                "RBAC: allowed by ClusterRoleBinding \"b\" of ClusterRole \"r\" to Group \"devs\"".to_owned()
            )
        );
        index.apply_object(&json!({"kind": "ClusterRoleBinding", "metadata": {"name": "b"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"},
            "subjects": [{"kind": "User", "name": "bob"}]}));
        assert!(!allowed(&index.authorize(&alice, &get("pods", "x", "p"))));
        assert!(allowed(
            &index.authorize(&UserInfo::new("bob", "", &[]), &get("pods", "x", "p"))
        ));
        index.apply(
            Kind::ClusterRoleBinding,
            &json!({"metadata": {"name": "b"}}),
            true,
        );
        assert!(!allowed(
            &index.authorize(&UserInfo::new("bob", "", &[]), &get("pods", "x", "p"))
        ));
    }

    #[test]
    fn aggregate_errors_like_kube() {
        assert_eq!(aggregate_errors(&[]), "");
        assert_eq!(aggregate_errors(&["a".to_owned(), "a".to_owned()]), "a");
        assert_eq!(
            aggregate_errors(&["a".to_owned(), "b".to_owned(), "a".to_owned()]),
            "[a, b]"
        );
    }
}
