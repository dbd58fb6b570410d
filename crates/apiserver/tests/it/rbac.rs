//! RBAC: the bootstrap policy and aggregation as a running server serves them (over the insecure port), and
//! the authorizer and escalation check driven directly against a store of their own (the decisions a user
//! would get, without authentication in the way).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use fcp_apiserver::{
    admission::AdmissionChain,
    auth::{
        UserInfo,
        authz::{Authorizer, AuthorizerChain, Decision, RequestAttributes},
        rbac::{self, Rbac, RbacResources},
    },
    registry::{
        Registry,
        store::{DeleteOptions, Store, Target, UpdateMode},
    },
    resources::federation_profile,
};
use fcp_storage::embedded::EmbeddedBackend;
use fcp_testkit::apiserver::TestApiServer;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::client::Client;

/// How long any single expectation may take.
const DEADLINE: Duration = Duration::from_secs(20);

const RBAC_V1: &str = "/apis/rbac.authorization.k8s.io/v1";

/// Polls `check` until it holds, failing the test after [`DEADLINE`].
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if check() {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Like [`eventually`], for checks that need the server.
async fn eventually_async<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn rule_strings(rules: &Value, field: &str) -> Vec<String> {
    rules
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r[field].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Whether some rule of `rules` names `resource` in `group` with `verb`.
fn grants(rules: &Value, verb: &str, group: &str, resource: &str) -> bool {
    rules.as_array().into_iter().flatten().any(|r| {
        let has = |field: &str, want: &str| {
            r[field]
                .as_array()
                .is_some_and(|v| v.iter().any(|x| x == want || x == "*"))
        };
        has("verbs", verb) && has("apiGroups", group) && has("resources", resource)
    })
}

#[tokio::test]
async fn the_server_bootstraps_the_default_policy_and_aggregates_admin_edit_view() {
    let server = TestApiServer::embedded().await.unwrap();
    let client = Client::new(server.base_url());
    for name in [
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:aggregate-to-admin",
        "system:aggregate-to-edit",
        "system:aggregate-to-view",
        "system:discovery",
        "system:basic-user",
        "system:public-info-viewer",
    ] {
        let role = client.get(&format!("{RBAC_V1}/clusterroles/{name}")).await;
        assert_eq!(role.code, 200, "{name}: {}", role.body);
        assert_eq!(
            role.body["metadata"]["labels"]["kubernetes.io/bootstrapping"],
            "rbac-defaults"
        );
        assert_eq!(
            role.body["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"],
            "true"
        );
    }
    let expected_bindings: [(&str, &[&str]); 4] = [
        ("cluster-admin", &["system:masters"]),
        ("system:discovery", &["system:authenticated"]),
        ("system:basic-user", &["system:authenticated"]),
        (
            "system:public-info-viewer",
            &["system:authenticated", "system:unauthenticated"],
        ),
    ];
    for (name, groups) in expected_bindings {
        let binding = client.get(&format!("{RBAC_V1}/clusterrolebindings/{name}")).await;
        assert_eq!(binding.code, 200, "{name}: {}", binding.body);
        assert_eq!(
            binding.body["metadata"]["labels"]["kubernetes.io/bootstrapping"],
            "rbac-defaults"
        );
        assert_eq!(binding.body["roleRef"]["kind"], "ClusterRole");
        assert_eq!(binding.body["roleRef"]["name"], name);
        let subjects: Vec<&str> = binding.body["subjects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                assert_eq!(s["kind"], "Group");
                s["name"].as_str().unwrap()
            })
            .collect();
        assert_eq!(subjects, groups);
    }
    let admin_role = client.get(&format!("{RBAC_V1}/clusterroles/cluster-admin")).await;
    assert_eq!(
        admin_role.body["rules"],
        json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}])
    );
    let discovery = client
        .get(&format!("{RBAC_V1}/clusterroles/system:discovery"))
        .await;
    let urls = rule_strings(&discovery.body["rules"], "nonResourceURLs");
    for url in [
        "/api",
        "/api/*",
        "/apis",
        "/apis/*",
        "/healthz",
        "/livez",
        "/readyz",
        "/version",
        "/version/",
        "/openapi",
        "/openapi/*",
    ] {
        assert!(
            urls.iter().any(|u| u == url),
            "system:discovery lacks {url}: {urls:?}"
        );
    }

    // The aggregated roles are filled by the time the server serves (and stay so).
    let edit = client.get(&format!("{RBAC_V1}/clusterroles/edit")).await;
    assert!(
        grants(&edit.body["rules"], "create", "", "configmaps"),
        "{}",
        edit.body
    );
    assert!(grants(&edit.body["rules"], "get", "", "secrets"));
    assert!(grants(&edit.body["rules"], "update", "apps", "deployments/scale"));
    assert!(grants(&edit.body["rules"], "get", "apps", "deployments/status"));
    assert!(!grants(
        &edit.body["rules"],
        "create",
        "rbac.authorization.k8s.io",
        "roles"
    ));
    let view = client.get(&format!("{RBAC_V1}/clusterroles/view")).await;
    assert!(
        grants(&view.body["rules"], "list", "", "configmaps"),
        "{}",
        view.body
    );
    assert!(grants(&view.body["rules"], "get", "", "namespaces"));
    assert!(!grants(&view.body["rules"], "get", "", "secrets"));
    assert!(!grants(&view.body["rules"], "create", "", "configmaps"));
    let admin = client.get(&format!("{RBAC_V1}/clusterroles/admin")).await;
    assert!(grants(
        &admin.body["rules"],
        "create",
        "rbac.authorization.k8s.io",
        "rolebindings"
    ));
    assert!(grants(&admin.body["rules"], "delete", "", "configmaps"));
    assert!(!grants(&admin.body["rules"], "get", "federation", "clusters"));

    // A new component labelled for view reaches view, edit and admin (transitively) within moments, and
    // leaves them when deleted.
    let component = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "widgets-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list"]}]
    });
    assert_eq!(
        client
            .post(&format!("{RBAC_V1}/clusterroles"), &component)
            .await
            .code,
        201
    );
    for role in ["view", "edit", "admin"] {
        eventually_async(&format!("{role} to aggregate widgets"), || {
            let client = client.clone();
            async move {
                let body = client.get(&format!("{RBAC_V1}/clusterroles/{role}")).await.body;
                grants(&body["rules"], "list", "example.com", "widgets")
            }
        })
        .await;
    }
    assert_eq!(
        client
            .delete(&format!("{RBAC_V1}/clusterroles/widgets-view"))
            .await
            .code,
        200
    );
    eventually_async("view to drop widgets", || {
        let client = client.clone();
        async move {
            let body = client.get(&format!("{RBAC_V1}/clusterroles/view")).await.body;
            !grants(&body["rules"], "list", "example.com", "widgets")
        }
    })
    .await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_restart_restores_defaults_unless_autoupdate_is_false() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data_dir = data_dir.to_str().unwrap();
    let server = TestApiServer::start(&["--data-dir", data_dir]).await.unwrap();
    let client = Client::new(server.base_url());
    // Strip system:discovery (autoupdate stays "true") and system:public-info-viewer (autoupdate "false"),
    // and drop a subject from a default binding.
    let stripped = json!({"rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]});
    assert_eq!(
        client
            .merge_patch(&format!("{RBAC_V1}/clusterroles/system:discovery"), &stripped)
            .await
            .code,
        200
    );
    let protected = json!({
        "metadata": {"annotations": {"rbac.authorization.kubernetes.io/autoupdate": "false"}},
        "rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]
    });
    assert_eq!(
        client
            .merge_patch(
                &format!("{RBAC_V1}/clusterroles/system:public-info-viewer"),
                &protected
            )
            .await
            .code,
        200
    );
    let one_subject = json!({"subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:unauthenticated"}]});
    assert_eq!(
        client
            .merge_patch(
                &format!("{RBAC_V1}/clusterrolebindings/system:public-info-viewer"),
                &one_subject
            )
            .await
            .code,
        200
    );
    server.stop().await.unwrap();

    let server = TestApiServer::start(&["--data-dir", data_dir]).await.unwrap();
    let client = Client::new(server.base_url());
    let discovery = client
        .get(&format!("{RBAC_V1}/clusterroles/system:discovery"))
        .await;
    let urls = rule_strings(&discovery.body["rules"], "nonResourceURLs");
    for url in ["/healthz", "/api", "/apis/*", "/version/"] {
        assert!(
            urls.iter().any(|u| u == url),
            "{url} was not restored: {}",
            discovery.body
        );
    }
    let viewer = client
        .get(&format!("{RBAC_V1}/clusterroles/system:public-info-viewer"))
        .await;
    assert_eq!(
        viewer.body["rules"], protected["rules"],
        "autoupdate=false must be left alone"
    );
    let binding = client
        .get(&format!(
            "{RBAC_V1}/clusterrolebindings/system:public-info-viewer"
        ))
        .await;
    let names: Vec<&str> = binding.body["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["system:unauthenticated", "system:authenticated"]);
    server.stop().await.unwrap();
}

/// A store with RBAC started on it, and the escalation check in its admission chain.
struct Harness {
    store: Arc<Store>,
    rbac: Rbac,
    chain: Arc<dyn Authorizer>,
    resources: RbacResources,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// `watch_cache`: the capacity of the watch caches, or `None` for storage watches.
    async fn start(watch_cache: Option<usize>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(EmbeddedBackend::open(&dir.path().join("data")).unwrap());
        let registry = Arc::new(Registry::new(federation_profile()));
        let shutdown = CancellationToken::new();
        let mut store = Store::new(backend, "/registry");
        if let Some(capacity) = watch_cache {
            store.enable_watch_caches(registry.all(), capacity, &shutdown);
        }
        let store = Arc::new(store);
        let rbac = rbac::start(store.clone(), registry.clone(), shutdown.clone())
            .await
            .unwrap();
        let chain: Arc<dyn Authorizer> = Arc::new(AuthorizerChain::new(vec![rbac.authorizer()]));
        store.set_admission(Arc::new(AdmissionChain::new(vec![
            rbac.escalation_check(chain.clone()),
        ])));
        Self {
            store,
            rbac,
            chain,
            resources: RbacResources::lookup(&registry).unwrap(),
            shutdown,
            _dir: dir,
        }
    }

    fn allows(&self, user: &UserInfo, request: &RequestAttributes) -> bool {
        matches!(self.chain.authorize(user, request), Decision::Allow(_))
    }

    fn target<'a>(
        &'a self,
        plural: &str,
        namespace: Option<&'a str>,
        user: Option<&'a UserInfo>,
    ) -> Target<'a> {
        let resource = match plural {
            "roles" => &self.resources.roles,
            "rolebindings" => &self.resources.role_bindings,
            "clusterroles" => &self.resources.cluster_roles,
            "clusterrolebindings" => &self.resources.cluster_role_bindings,
            other => panic!("not an RBAC resource: {other}"),
        };
        Target {
            resource,
            namespace,
            user,
        }
    }

    /// Creates an RBAC object as `user` (`None`: the server itself).
    async fn create(
        &self,
        plural: &str,
        namespace: Option<&str>,
        user: Option<&UserInfo>,
        body: Value,
    ) -> Result<Value, fcp_apiserver::ApiError> {
        self.store
            .create(self.target(plural, namespace, user), body, false)
            .await
    }

    async fn delete(&self, plural: &str, namespace: Option<&str>, name: &str) {
        self.store
            .delete(
                self.target(plural, namespace, None),
                name,
                &DeleteOptions::default(),
            )
            .await
            .unwrap();
    }

    /// As the server: a Role `name` in `namespace` with `rules`, bound to user `user` by a RoleBinding of the
    /// same name; waits until the index honours `probe` for the user.
    async fn grant(
        &self,
        namespace: &str,
        name: &str,
        user: &UserInfo,
        rules: Value,
        probe: RequestAttributes,
    ) {
        self.create("roles", Some(namespace), None, role(namespace, name, rules))
            .await
            .unwrap();
        self.create(
            "rolebindings",
            Some(namespace),
            None,
            role_binding(namespace, name, "Role", name, &user.name),
        )
        .await
        .unwrap();
        eventually(&format!("{name} to take effect"), || self.allows(user, &probe)).await;
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn role(namespace: &str, name: &str, rules: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": name, "namespace": namespace}, "rules": rules})
}

fn role_binding(namespace: &str, name: &str, role_kind: &str, role: &str, user: &str) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
}

fn alice() -> UserInfo {
    UserInfo::new("alice", "", &["system:authenticated"])
}

fn resource(verb: &str, group: &str, resource: &str, namespace: &str, name: &str) -> RequestAttributes {
    RequestAttributes::resource(verb, group, resource, namespace, name)
}

#[tokio::test]
async fn a_role_grants_what_it_says_in_its_namespace_and_revocation_follows_deletion() {
    for watch_cache in [Some(100), None] {
        let h = Harness::start(watch_cache).await;
        let alice = alice();
        let get_a = resource("get", "", "configmaps", "a", "x");
        assert!(!h.allows(&alice, &get_a));
        h.grant(
            "a",
            "cm-reader",
            &alice,
            json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]),
            get_a.clone(),
        )
        .await;
        assert_eq!(
            h.chain.authorize(&alice, &get_a),
            Decision::Allow(
                "RBAC: allowed by RoleBinding \"cm-reader/a\" of Role \"cm-reader\" to User \"alice\""
                    .to_owned()
            )
        );
        assert!(h.allows(&alice, &resource("list", "", "configmaps", "a", "")));
        assert!(!h.allows(&alice, &resource("get", "", "configmaps", "b", "x")));
        assert!(!h.allows(&alice, &resource("list", "", "configmaps", "", "")));
        assert!(!h.allows(&alice, &resource("get", "", "secrets", "a", "x")));
        assert!(!h.allows(&alice, &resource("create", "", "configmaps", "a", "")));
        assert!(!h.allows(&alice, &resource("watch", "", "configmaps", "a", "")));
        // Everyone authenticated gets discovery and the self reviews from the bootstrap policy.
        assert!(h.allows(&alice, &RequestAttributes::non_resource("get", "/apis/apps/v1")));
        assert!(h.allows(&alice, &RequestAttributes::non_resource("get", "/healthz")));
        assert!(h.allows(
            &alice,
            &resource(
                "create",
                "authorization.k8s.io",
                "selfsubjectrulesreviews",
                "",
                ""
            )
        ));
        assert!(!h.allows(&alice, &RequestAttributes::non_resource("get", "/metrics")));
        let anonymous = UserInfo::new("system:anonymous", "", &["system:unauthenticated"]);
        assert!(h.allows(&anonymous, &RequestAttributes::non_resource("get", "/version")));
        assert!(!h.allows(&anonymous, &RequestAttributes::non_resource("get", "/apis")));
        // The rules review shows the namespace's rules and the cluster-wide ones.
        let review = h.chain.rules_for(&alice, "a");
        assert!(
            review
                .resource_rules
                .iter()
                .any(|r| r.resources == ["configmaps"])
        );
        assert!(
            review
                .non_resource_rules
                .iter()
                .any(|r| r.non_resource_urls.iter().any(|u| u == "/apis/*"))
        );
        assert!(!review.incomplete);
        assert!(
            h.chain
                .rules_for(&alice, "b")
                .resource_rules
                .iter()
                .all(|r| r.resources != ["configmaps"])
        );

        h.delete("rolebindings", Some("a"), "cm-reader").await;
        eventually("the revocation", || !h.allows(&alice, &get_a)).await;
        // The role without a binding grants nothing; a binding to a missing role is reported.
        h.delete("roles", Some("a"), "cm-reader").await;
        h.create(
            "rolebindings",
            Some("a"),
            None,
            role_binding("a", "dangling", "Role", "cm-reader", "alice"),
        )
        .await
        .unwrap();
        eventually("the dangling binding to be seen", || {
            h.chain.rules_for(&alice, "a").evaluation_error
                == "role.rbac.authorization.k8s.io \"cm-reader\" not found"
        })
        .await;
        assert_eq!(
            h.chain.authorize(&alice, &get_a),
            Decision::NoOpinion("RBAC: role.rbac.authorization.k8s.io \"cm-reader\" not found".to_owned())
        );
    }
}

#[tokio::test]
async fn aggregated_roles_work_right_after_start_and_follow_components() {
    let h = Harness::start(Some(100)).await;
    // No waiting: start returns with admin/edit/view aggregated and loaded.
    let probe = |verb: &str, resource: &str| RequestAttributes::resource(verb, "", resource, "x", "n");
    let edit = h.rbac.authorizer().role("", "edit").unwrap();
    assert!(edit.iter().any(|r| r.allows(&probe("create", "configmaps"))));
    // admin aggregates edit, itself aggregated: complete too.
    let admin = h.rbac.authorizer().role("", "admin").unwrap();
    assert!(admin.iter().any(|r| r.allows(&probe("create", "configmaps"))));
    assert!(admin.iter().any(|r| r.allows(&resource(
        "create",
        "rbac.authorization.k8s.io",
        "rolebindings",
        "x",
        ""
    ))));
    let view = h.rbac.authorizer().role("", "view").unwrap();
    assert!(view.iter().any(|r| r.allows(&probe("get", "configmaps"))));
    assert!(!view.iter().any(|r| r.allows(&probe("get", "secrets"))));
    let bob = UserInfo::new("bob", "", &["system:authenticated"]);
    h.create(
        "rolebindings",
        Some("x"),
        None,
        role_binding("x", "bob-edit", "ClusterRole", "edit", "bob"),
    )
    .await
    .unwrap();
    eventually("the edit binding", || {
        h.allows(&bob, &resource("create", "", "configmaps", "x", ""))
    })
    .await;
    assert!(h.allows(&bob, &resource("patch", "apps", "deployments", "x", "d")));
    assert!(h.allows(
        &bob,
        &RequestAttributes {
            subresource: "scale".to_owned(),
            ..resource("update", "apps", "deployments", "x", "d")
        }
    ));
    assert!(h.allows(&bob, &resource("get", "", "secrets", "x", "s")));
    assert!(!h.allows(&bob, &resource("create", "", "configmaps", "y", "")));
    assert!(!h.allows(
        &bob,
        &resource("create", "rbac.authorization.k8s.io", "roles", "x", "")
    ));
    assert!(!h.allows(&bob, &resource("get", "", "namespaces", "", "x")));

    // A component created later is aggregated into edit within moments.
    h.create(
        "clusterroles",
        None,
        None,
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "gadgets-edit", "labels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}},
            "rules": [{"apiGroups": ["example.com"], "resources": ["gadgets"], "verbs": ["*"]}]}),
    )
    .await
    .unwrap();
    eventually("gadgets in edit", || {
        h.allows(&bob, &resource("delete", "example.com", "gadgets", "x", "g"))
    })
    .await;
    h.delete("clusterroles", None, "gadgets-edit").await;
    eventually("gadgets out of edit", || {
        !h.allows(&bob, &resource("delete", "example.com", "gadgets", "x", "g"))
    })
    .await;
}

#[tokio::test]
async fn a_burst_of_changes_beyond_the_watch_window_is_applied() {
    // A one-event watch cache window and concurrent writes (committed in batches): the index's watch
    // expires (410) and it must re-list to catch up.
    let h = Harness::start(Some(1)).await;
    h.create(
        "roles",
        Some("burst"),
        None,
        role(
            "burst",
            "reader",
            json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]),
        ),
    )
    .await
    .unwrap();
    let creates = (0..60).map(|i| {
        h.create(
            "rolebindings",
            Some("burst"),
            None,
            role_binding("burst", &format!("b{i}"), "Role", "reader", &format!("user{i}")),
        )
    });
    for created in futures::future::join_all(creates).await {
        created.unwrap();
    }
    eventually("every binding", || {
        (0..60).all(|i| {
            h.allows(
                &UserInfo::new(&format!("user{i}"), "", &[]),
                &resource("get", "", "configmaps", "burst", "x"),
            )
        })
    })
    .await;
    // Deletions in a burst are caught up with as well.
    let h = &h;
    let deletes = (0..60).map(|i| async move {
        h.delete("rolebindings", Some("burst"), &format!("b{i}")).await;
    });
    futures::future::join_all(deletes).await;
    eventually("every revocation", || {
        (0..60).all(|i| {
            !h.allows(
                &UserInfo::new(&format!("user{i}"), "", &[]),
                &resource("get", "", "configmaps", "burst", "x"),
            )
        })
    })
    .await;
}

#[tokio::test]
async fn users_cannot_grant_what_they_do_not_hold_without_bind_or_escalate() {
    let h = Harness::start(Some(100)).await;
    let alice = alice();
    // Alice manages roles and bindings in "team" and reads configmaps there.
    h.grant(
        "team",
        "manager",
        &alice,
        json!([
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": ["create", "update", "get"]},
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}
        ]),
        resource("create", "rbac.authorization.k8s.io", "roles", "team", ""),
    )
    .await;

    // Within her rights: allowed.
    h.create(
        "roles",
        Some("team"),
        Some(&alice),
        role(
            "team",
            "cm-get",
            json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]),
        ),
    )
    .await
    .unwrap();
    // Beyond them: 403 with kube's message.
    let err = h
        .create(
            "roles",
            Some("team"),
            Some(&alice),
            role(
                "team",
                "secrets",
                json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]),
            ),
        )
        .await
        .unwrap_err();
    assert_eq!((err.code, err.reason), (403, "Forbidden"));
    assert_eq!(
        err.message,
        "roles.rbac.authorization.k8s.io \"secrets\" is forbidden: user \"alice\" (groups=[\"system:authenticated\"]) \
         is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\"]}"
    );
    // Updating her own role to more than she holds is just as forbidden.
    let err = h
        .store
        .update(
            h.target("roles", Some("team"), Some(&alice)),
            "cm-get",
            UpdateMode::Main,
            role(
                "team",
                "cm-get",
                json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "delete"]}]),
            ),
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, 403, "{err}");
    // The same role elsewhere: she holds nothing there.
    assert_eq!(
        h.create(
            "roles",
            Some("other"),
            Some(&alice),
            role(
                "other",
                "cm-get",
                json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}])
            ),
        )
        .await
        .unwrap_err()
        .code,
        403
    );

    // Bindings: to a role she holds, fine; to edit, forbidden; to a missing role, 404.
    h.create(
        "rolebindings",
        Some("team"),
        Some(&alice),
        role_binding("team", "b1", "Role", "cm-get", "carol"),
    )
    .await
    .unwrap();
    let err = h
        .create(
            "rolebindings",
            Some("team"),
            Some(&alice),
            role_binding("team", "b2", "ClusterRole", "edit", "carol"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, 403);
    assert!(
        err.message.starts_with(
            "rolebindings.rbac.authorization.k8s.io \"b2\" is forbidden: user \"alice\" (groups=[\"system:authenticated\"]) \
             is attempting to grant RBAC permissions not currently held:\n{APIGroups:["
        ),
        "{}",
        err.message
    );
    let err = h
        .create(
            "rolebindings",
            Some("team"),
            Some(&alice),
            role_binding("team", "b3", "Role", "nope", "carol"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (404, "roles.rbac.authorization.k8s.io \"nope\" not found")
    );

    // `bind` on the edit cluster role (by name) lets her bind it, in her namespace.
    h.grant(
        "team",
        "binder",
        &alice,
        json!([{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"], "resourceNames": ["edit"]}]),
        resource("bind", "rbac.authorization.k8s.io", "clusterroles", "team", "edit"),
    )
    .await;
    h.create(
        "rolebindings",
        Some("team"),
        Some(&alice),
        role_binding("team", "b2", "ClusterRole", "edit", "carol"),
    )
    .await
    .unwrap();
    assert_eq!(
        h.create(
            "rolebindings",
            Some("team"),
            Some(&alice),
            role_binding("team", "b4", "ClusterRole", "admin", "carol")
        )
        .await
        .unwrap_err()
        .code,
        403
    );

    // `escalate` on roles lets her write any role in her namespace.
    h.grant(
        "team",
        "escalator",
        &alice,
        json!([{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate"]}]),
        resource("escalate", "rbac.authorization.k8s.io", "roles", "team", ""),
    )
    .await;
    h.create(
        "roles",
        Some("team"),
        Some(&alice),
        role(
            "team",
            "secrets",
            json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["*"]}]),
        ),
    )
    .await
    .unwrap();

    // Superusers and the server itself are never checked.
    let root = UserInfo::new("root", "", &["system:masters"]);
    h.create(
        "roles",
        Some("other"),
        Some(&root),
        role(
            "other",
            "all",
            json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]),
        ),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn aggregation_rules_need_full_authority() {
    let h = Harness::start(Some(100)).await;
    let dave = UserInfo::new("dave", "", &["system:authenticated"]);
    // Dave may create cluster roles and holds a few rights cluster-wide.
    h.create(
        "clusterroles",
        None,
        None,
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "role-maker"},
            "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["create"]},
                      {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}),
    )
    .await
    .unwrap();
    h.create(
        "clusterrolebindings",
        None,
        None,
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "dave"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "role-maker"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "dave"}]}),
    )
    .await
    .unwrap();
    eventually("dave's rights", || {
        h.allows(
            &dave,
            &resource("create", "rbac.authorization.k8s.io", "clusterroles", "", ""),
        )
    })
    .await;
    h.create(
        "clusterroles",
        None,
        Some(&dave),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "cm"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}),
    )
    .await
    .unwrap();
    let err = h
        .create(
            "clusterroles",
            None,
            Some(&dave),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "agg"},
                "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (
            403,
            "clusterroles.rbac.authorization.k8s.io \"agg\" is forbidden: must have cluster-admin privileges to use the aggregationRule"
        )
    );
    // Rules beyond his own are refused (his cluster-wide rules are what counts for a cluster role).
    let err = h
        .create(
            "clusterroles",
            None,
            Some(&dave),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "nodes"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]}),
        )
        .await
        .unwrap_err();
    assert!(err.message.contains("Verbs:[\"list\"]"), "{}", err.message);
}
