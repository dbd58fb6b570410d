//! The secure port end to end, with real TLS clients (reqwest, curl, kubectl, kube-rs): every authentication
//! method, 401 and 403 answers, RBAC as users see it, escalation prevention, `kubectl auth can-i` and
//! `whoami`, in-flight limits, and the admission chain as configured by flags.
//!
//! Set-up (namespaces, roles, bindings) goes through the insecure port, which acts as a superuser.

use std::{path::Path, process::Command, time::Duration};

use fcp_testkit::{apiserver::TestApiServer, kubectl, pki::TestPki};
use serde_json::{Value, json};

use super::client::{Client, Reply};

/// How long any single expectation may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// A secure server with token, basic-auth and client-certificate authentication and RBAC, plus the files a
/// client needs.
struct Secure {
    server: TestApiServer,
    pki: TestPki,
    dir: tempfile::TempDir,
    /// Superuser access through the insecure port.
    admin: Client,
}

impl Secure {
    async fn start(extra: &[&str]) -> Self {
        let pki = TestPki::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens.csv");
        std::fs::write(
            &tokens,
            "alice-token,alice,1001\nbob-token,bob,1002,\"devs\"\nroot-token,root,1,\"system:masters\"\n",
        )
        .unwrap();
        let passwords = dir.path().join("basic.csv");
        std::fs::write(&passwords, "carol-password,carol,1003,\"ops,devs\"\n").unwrap();
        let mut args = vec![
            "--client-ca-file",
            pki.ca_file().to_str().unwrap(),
            "--token-auth-file",
            tokens.to_str().unwrap(),
            "--basic-auth-file",
            passwords.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let server = TestApiServer::secure(&args).await.unwrap();
        let admin = Client::new(server.base_url());
        Self {
            server,
            pki,
            dir,
            admin,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.secure_url().unwrap())
    }

    fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.server.ca_file().unwrap()).unwrap()
    }

    /// A reqwest client trusting the server's generated CA, optionally presenting a client certificate.
    fn https(&self, identity: Option<(&str, &str)>) -> reqwest::Client {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&self.ca_pem()).unwrap())
            .timeout(Duration::from_secs(20));
        if let Some((cert, key)) = identity {
            let pem = format!("{cert}\n{key}");
            builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
        }
        builder.build().unwrap()
    }

    /// A request as the user of `token` (no Authorization header when `None`).
    async fn as_token(&self, token: Option<&str>, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let client = self.https(None);
        let mut request = client.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            self.url(path),
        );
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        send(request, body).await
    }
}

async fn send(mut request: reqwest::RequestBuilder, body: Option<&Value>) -> Reply {
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let code = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    Reply {
        code,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn whoami_body() -> Value {
    json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
}

const WHOAMI: &str = "/apis/authentication.k8s.io/v1/selfsubjectreviews";

/// Polls `check` until it returns true or the deadline passes.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn create_namespace(admin: &Client, name: &str) {
    let reply = admin
        .post("/api/v1/namespaces", &json!({"metadata": {"name": name}}))
        .await;
    assert_eq!(reply.code, 201, "{}", reply.body);
}

// curl and kubectl run as blocking child processes: the server needs threads of its own meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_authentication_method_identifies_its_user_and_wrong_credentials_get_401() {
    let s = Secure::start(&[]).await;
    // Bearer token.
    let alice = s
        .as_token(Some("alice-token"), "POST", WHOAMI, Some(&whoami_body()))
        .await;
    assert_eq!(alice.code, 201, "{}", alice.body);
    assert_eq!(
        alice.body["status"]["userInfo"],
        json!({"username": "alice", "uid": "1001", "groups": ["system:authenticated"]})
    );
    // Basic auth.
    let carol = send(
        s.https(None)
            .post(s.url(WHOAMI))
            .basic_auth("carol", Some("carol-password")),
        Some(&whoami_body()),
    )
    .await;
    assert_eq!(
        carol.body["status"]["userInfo"],
        json!({"username": "carol", "uid": "1003", "groups": ["ops", "devs", "system:authenticated"]})
    );
    // x509 client certificate: CN is the user, O the groups.
    let dave = s.pki.client("dave", &["devs", "qa"]).unwrap();
    let reply = send(
        s.https(Some((&dave.cert_pem, &dave.key_pem))).post(s.url(WHOAMI)),
        Some(&whoami_body()),
    )
    .await;
    assert_eq!(
        reply.body["status"]["userInfo"],
        json!({"username": "dave", "groups": ["devs", "qa", "system:authenticated"]})
    );
    // curl, a different TLS stack, with a client certificate and with a token.
    let curl = |args: &[&str]| {
        let output = Command::new("curl")
            .args(["-sS", "--cacert", s.server.ca_file().unwrap().to_str().unwrap()])
            .args(["-X", "POST", "-H", "Content-Type: application/json"])
            .args(["-d", &whoami_body().to_string()])
            .args(args)
            .arg(s.url(WHOAMI))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let by_cert = curl(&[
        "--cert",
        dave.cert_file.to_str().unwrap(),
        "--key",
        dave.key_file.to_str().unwrap(),
    ]);
    assert_eq!(by_cert["status"]["userInfo"]["username"], "dave");
    let by_token = curl(&["-H", "Authorization: Bearer bob-token"]);
    assert_eq!(
        by_token["status"]["userInfo"]["groups"],
        json!(["devs", "system:authenticated"])
    );

    // Wrong or missing credentials: the same 401, whatever was wrong.
    let unauthorized = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Unauthorized", "reason": "Unauthorized", "code": 401,
    });
    for token in [Some("nope"), None] {
        let reply = s.as_token(token, "GET", "/api/v1/namespaces", None).await;
        assert_eq!((reply.code, &reply.body), (401, &unauthorized), "token {token:?}");
    }
    let wrong_password = send(
        s.https(None)
            .get(s.url("/api/v1/namespaces"))
            .basic_auth("carol", Some("guess")),
        None,
    )
    .await;
    assert_eq!((wrong_password.code, &wrong_password.body), (401, &unauthorized));
    // A certificate from another CA is refused in the handshake.
    let stranger = TestPki::new()
        .unwrap()
        .client("mallory", &["system:masters"])
        .unwrap();
    let refused = s
        .https(Some((&stranger.cert_pem, &stranger.key_pem)))
        .get(s.url("/api/v1/namespaces"))
        .send()
        .await;
    assert!(
        refused.is_err() || refused.is_ok_and(|r| r.status() == 401),
        "a certificate from an unknown CA must not authenticate"
    );
    // A superuser by group (system:masters through the token file) may do anything.
    let root = s
        .as_token(Some("root-token"), "GET", "/api/v1/namespaces", None)
        .await;
    assert_eq!(root.code, 200, "{}", root.body);
}

#[tokio::test]
async fn anonymous_requests_see_public_information_only() {
    let s = Secure::start(&["--anonymous-auth=true"]).await;
    let version = s.as_token(None, "GET", "/version", None).await;
    assert_eq!(version.code, 200, "{}", version.body);
    let whoami = s.as_token(None, "POST", WHOAMI, Some(&whoami_body())).await;
    // system:anonymous is not in system:authenticated, so it may not even ask who it is.
    whoami.assert_status(403, "Forbidden");
    let list = s
        .as_token(None, "GET", "/api/v1/namespaces/default/configmaps", None)
        .await;
    list.assert_status(403, "Forbidden");
    assert_eq!(
        list.body["message"],
        "configmaps is forbidden: User \"system:anonymous\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"default\""
    );
    // Present-but-wrong credentials are still a 401, not anonymous.
    let wrong = s.as_token(Some("nope"), "GET", "/version", None).await;
    wrong.assert_status(401, "Unauthorized");
}

/// Grants `verbs` on configmaps in `namespace` to `user` through a Role and RoleBinding named `name`.
async fn grant(admin: &Client, namespace: &str, name: &str, user: &str, rules: Value) {
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": name, "namespace": namespace},
        "rules": rules,
    });
    let reply = admin
        .post(
            &format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles"),
            &role,
        )
        .await;
    assert_eq!(reply.code, 201, "{}", reply.body);
    bind(admin, namespace, name, "Role", name, user).await;
}

async fn bind(admin: &Client, namespace: &str, name: &str, role_kind: &str, role: &str, user: &str) {
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    });
    let reply = admin
        .post(
            &format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings"),
            &binding,
        )
        .await;
    assert_eq!(reply.code, 201, "{}", reply.body);
}

#[tokio::test]
async fn a_role_grants_exactly_what_it_says() {
    let s = Secure::start(&[]).await;
    create_namespace(&s.admin, "a").await;
    create_namespace(&s.admin, "b").await;
    for ns in ["a", "b"] {
        let cm = json!({"metadata": {"name": "settings"}, "data": {"k": "v"}});
        let reply = s
            .admin
            .post(&format!("/api/v1/namespaces/{ns}/configmaps"), &cm)
            .await;
        assert_eq!(reply.code, 201, "{}", reply.body);
    }
    // Before any grant: 403 naming user, verb, resource and namespace.
    let denied = s
        .as_token(
            Some("alice-token"),
            "GET",
            "/api/v1/namespaces/a/configmaps",
            None,
        )
        .await;
    denied.assert_status(403, "Forbidden");
    assert_eq!(
        denied.body["message"],
        "configmaps is forbidden: User \"alice\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"a\""
    );
    assert_eq!(denied.body["details"], json!({"group": "", "kind": "configmaps"}));

    grant(
        &s.admin,
        "a",
        "cm-reader",
        "alice",
        json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]),
    )
    .await;
    eventually("the binding takes effect", || async {
        s.as_token(
            Some("alice-token"),
            "GET",
            "/api/v1/namespaces/a/configmaps",
            None,
        )
        .await
        .code
            == 200
    })
    .await;
    let list = s
        .as_token(
            Some("alice-token"),
            "GET",
            "/api/v1/namespaces/a/configmaps",
            None,
        )
        .await;
    assert_eq!(list.body["items"][0]["data"]["k"], "v");
    let get = s
        .as_token(
            Some("alice-token"),
            "GET",
            "/api/v1/namespaces/a/configmaps/settings",
            None,
        )
        .await;
    assert_eq!(get.code, 200);
    // Nothing else: another namespace, another resource, another verb, all namespaces, cluster scope.
    let other_ns = s
        .as_token(
            Some("alice-token"),
            "GET",
            "/api/v1/namespaces/b/configmaps/settings",
            None,
        )
        .await;
    other_ns.assert_status(403, "Forbidden");
    assert_eq!(
        other_ns.body["message"],
        "configmaps \"settings\" is forbidden: User \"alice\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"b\""
    );
    for (method, path, body) in [
        ("GET", "/api/v1/namespaces/a/secrets", None),
        ("GET", "/api/v1/namespaces/a/configmaps?watch=true", None),
        ("GET", "/api/v1/configmaps", None),
        ("GET", "/api/v1/namespaces", None),
        ("DELETE", "/api/v1/namespaces/a/configmaps/settings", None),
        (
            "POST",
            "/api/v1/namespaces/a/configmaps",
            Some(json!({"metadata": {"name": "new"}})),
        ),
        (
            "PUT",
            "/api/v1/namespaces/a/configmaps/settings",
            Some(json!({"metadata": {"name": "settings"}, "data": {"k": "changed"}})),
        ),
    ] {
        let reply = s.as_token(Some("alice-token"), method, path, body.as_ref()).await;
        assert_eq!(reply.code, 403, "{method} {path}: {}", reply.body);
    }
    // Nothing was changed by the refused writes.
    let unchanged = s.admin.get("/api/v1/namespaces/a/configmaps/settings").await;
    assert_eq!(unchanged.body["data"]["k"], "v");
    // Revoking the binding takes the access away.
    let deleted = s
        .admin
        .delete("/apis/rbac.authorization.k8s.io/v1/namespaces/a/rolebindings/cm-reader")
        .await;
    assert_eq!(deleted.code, 200, "{}", deleted.body);
    eventually("the revocation takes effect", || async {
        s.as_token(
            Some("alice-token"),
            "GET",
            "/api/v1/namespaces/a/configmaps",
            None,
        )
        .await
        .code
            == 403
    })
    .await;
}

#[tokio::test]
async fn users_cannot_grant_rights_they_do_not_hold() {
    let s = Secure::start(&[]).await;
    create_namespace(&s.admin, "team").await;
    // bob may manage roles and bindings in `team`, and read configmaps there; nothing about secrets.
    grant(
        &s.admin,
        "team",
        "team-lead",
        "bob",
        json!([
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": ["create", "get", "list"]},
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]},
        ]),
    )
    .await;
    let roles = "/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles";
    let bindings = "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings";
    eventually("bob's grant takes effect", || async {
        s.as_token(Some("bob-token"), "GET", roles, None).await.code == 200
    })
    .await;
    let secrets_role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "secret-reader"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
    });
    let escalation = s
        .as_token(Some("bob-token"), "POST", roles, Some(&secrets_role))
        .await;
    escalation.assert_status(403, "Forbidden");
    let message = escalation.body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("is attempting to grant RBAC permissions not currently held")
            && message.contains("secrets"),
        "{message}"
    );
    assert_eq!(s.admin.get(&format!("{roles}/secret-reader")).await.code, 404);
    // Binding alice to the aggregated `edit` ClusterRole would hand out rights bob lacks.
    let bind_edit = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "alice-edit"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}],
    });
    let reply = s
        .as_token(Some("bob-token"), "POST", bindings, Some(&bind_edit))
        .await;
    reply.assert_status(403, "Forbidden");
    // What bob holds, he may pass on.
    let reader = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "cm-reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
    });
    let created = s.as_token(Some("bob-token"), "POST", roles, Some(&reader)).await;
    assert_eq!(created.code, 201, "{}", created.body);
    let bind_reader = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "alice-cm-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}],
    });
    let created = s
        .as_token(Some("bob-token"), "POST", bindings, Some(&bind_reader))
        .await;
    assert_eq!(created.code, 201, "{}", created.body);
    // With the `bind` verb on `edit`, bob may bind it without holding its rules.
    grant(
        &s.admin,
        "team",
        "may-bind-edit",
        "bob",
        json!([{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"], "resourceNames": ["edit"]}]),
    )
    .await;
    eventually("bob may bind edit", || async {
        s.as_token(Some("bob-token"), "POST", bindings, Some(&bind_edit))
            .await
            .code
            == 201
    })
    .await;
    // And alice, now an editor of `team`, can create configmaps there.
    eventually("alice edits team", || async {
        s.as_token(
            Some("alice-token"),
            "POST",
            "/api/v1/namespaces/team/configmaps",
            Some(&json!({"metadata": {"generateName": "x-"}})),
        )
        .await
        .code
            == 201
    })
    .await;
}

/// Writes a kubeconfig for the server with one user, by token or client certificate.
fn kubeconfig(s: &Secure, name: &str, user: &Value) -> std::path::PathBuf {
    let config = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "fcp", "cluster": {
            "server": s.server.secure_url().unwrap(),
            "certificate-authority": s.server.ca_file().unwrap(),
        }}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": "fcp", "user": name}}],
        "current-context": name,
    });
    let path = s.dir.path().join(format!("{name}.kubeconfig"));
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

fn run_kubectl(minor: u32, config: &Path, cache: &Path, args: &[&str]) -> (i32, String) {
    let output = Command::new(kubectl(minor))
        .arg(format!("--kubeconfig={}", config.display()))
        .arg(format!("--cache-dir={}", cache.display()))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

// curl and kubectl run as blocking child processes: the server needs threads of its own meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_auth_can_i_whoami_and_client_certificate_kubeconfigs() {
    let s = Secure::start(&[]).await;
    create_namespace(&s.admin, "a").await;
    create_namespace(&s.admin, "b").await;
    grant(
        &s.admin,
        "a",
        "cm-reader",
        "alice",
        json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]),
    )
    .await;
    let alice = kubeconfig(&s, "alice", &json!({"token": "alice-token"}));
    let cache = tempfile::tempdir().unwrap();
    for minor in [27, 33] {
        let mut answers = Vec::new();
        for args in [
            &["auth", "can-i", "list", "configmaps", "-n", "a"][..],
            &["auth", "can-i", "list", "configmaps", "-n", "b"],
            &["auth", "can-i", "create", "configmaps", "-n", "a"],
            &["auth", "can-i", "get", "secrets", "-n", "a"],
        ] {
            let (code, output) = run_kubectl(minor, &alice, cache.path(), args);
            answers.push((code, output.trim().to_owned()));
        }
        let expected: Vec<(i32, String)> = [(0, "yes"), (1, "no"), (1, "no"), (1, "no")]
            .into_iter()
            .map(|(c, a)| (c, a.to_owned()))
            .collect();
        // RBAC bindings reach the index asynchronously: wait for the first answer to become "yes".
        if answers[0].0 != 0 {
            let mut code = answers[0].0;
            let deadline = std::time::Instant::now() + DEADLINE;
            while code != 0 && std::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
                code = run_kubectl(
                    minor,
                    &alice,
                    cache.path(),
                    &["auth", "can-i", "list", "configmaps", "-n", "a"],
                )
                .0;
            }
            answers[0] = (
                code,
                if code == 0 {
                    "yes".to_owned()
                } else {
                    "no".to_owned()
                },
            );
        }
        assert_eq!(answers, expected, "kubectl 1.{minor}");
        let (code, list) = run_kubectl(
            minor,
            &alice,
            cache.path(),
            &["auth", "can-i", "--list", "-n", "a"],
        );
        assert_eq!(code, 0, "{list}");
        let configmaps = list
            .lines()
            .find(|l| l.starts_with("configmaps"))
            .unwrap_or_default();
        assert!(configmaps.contains("[get list]"), "{list}");
        assert!(!list.lines().any(|l| l.starts_with("secrets")), "{list}");
    }
    let (code, whoami) = run_kubectl(
        33,
        &alice,
        cache.path(),
        &["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"],
    );
    assert_eq!((code, whoami.trim()), (0, "alice"));
    let (code, denied) = run_kubectl(33, &alice, cache.path(), &["get", "configmaps", "-n", "b"]);
    assert_eq!(code, 1);
    assert!(
        denied.contains(
            "User \"alice\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"b\""
        ),
        "{denied}"
    );

    // A kubeconfig with a client certificate: an admin in system:masters, then a user with no rights.
    let admin_cert = s.pki.client("kube-admin", &["system:masters"]).unwrap();
    let admin = kubeconfig(
        &s,
        "kube-admin",
        &json!({"client-certificate": admin_cert.cert_file, "client-key": admin_cert.key_file}),
    );
    let (code, output) = run_kubectl(
        33,
        &admin,
        cache.path(),
        &[
            "create",
            "configmap",
            "from-cert",
            "-n",
            "b",
            "--from-literal=k=v",
        ],
    );
    assert_eq!(code, 0, "{output}");
    let (code, output) = run_kubectl(
        27,
        &admin,
        cache.path(),
        &[
            "get",
            "configmap",
            "from-cert",
            "-n",
            "b",
            "-o",
            "jsonpath={.data.k}",
        ],
    );
    assert_eq!((code, output.trim()), (0, "v"));

    // kube-rs with the same client-certificate kubeconfig.
    let options = kube::config::KubeConfigOptions::default();
    let loaded = kube::config::Kubeconfig::read_from(&admin).unwrap();
    let config = kube::Config::from_custom_kubeconfig(loaded, &options)
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let configmaps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> = kube::Api::namespaced(client, "b");
    let got = configmaps.get("from-cert").await.unwrap();
    assert_eq!(
        got.data.unwrap_or_default().get("k").map(String::as_str),
        Some("v")
    );

    let nobody_cert = s.pki.client("nobody", &[]).unwrap();
    let nobody = kubeconfig(
        &s,
        "nobody",
        &json!({"client-certificate": nobody_cert.cert_file, "client-key": nobody_cert.key_file}),
    );
    let loaded = kube::config::Kubeconfig::read_from(&nobody).unwrap();
    let config = kube::Config::from_custom_kubeconfig(loaded, &options)
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let configmaps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> = kube::Api::namespaced(client, "b");
    match configmaps.get("from-cert").await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 403);
            assert!(
                status
                    .message
                    .contains("User \"nobody\" cannot get resource \"configmaps\""),
                "{}",
                status.message
            );
        }
        other => panic!("expected a 403, got {other:?}"),
    }
}

#[tokio::test]
async fn an_in_flight_flood_gets_429_and_the_server_stays_healthy() {
    let s = Secure::start(&["--max-requests-inflight=2", "--max-mutating-requests-inflight=1"]).await;
    create_namespace(&s.admin, "flood").await;
    // Watches are long-running: more of them than the read limit stay open and do not use it up.
    let mut watches = Vec::new();
    for _ in 0..4 {
        watches.push(
            s.admin
                .watch("/api/v1/namespaces/flood/configmaps?watch=true")
                .await,
        );
    }
    let health = s.admin.get("/api/v1/namespaces/flood/configmaps").await;
    assert_eq!(
        health.code, 200,
        "a list still fits beside four watches: {}",
        health.body
    );

    let client = s.https(None);
    let mut writes = Vec::new();
    for i in 0..64 {
        let request = client
            .post(s.url("/api/v1/namespaces/flood/configmaps"))
            .bearer_auth("root-token")
            .header("content-type", "application/json")
            .body(json!({"metadata": {"name": format!("cm-{i}")}, "data": {"i": i.to_string()}}).to_string());
        writes.push(tokio::spawn(async move {
            let response = request.send().await.unwrap();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap_or_default().to_owned());
            let code = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (code, retry_after, body)
        }));
    }
    let mut created = 0;
    let mut throttled = 0;
    for write in writes {
        let (code, retry_after, body) = write.await.unwrap();
        match code {
            201 => created += 1,
            429 => {
                throttled += 1;
                assert_eq!(retry_after.as_deref(), Some("1"));
                assert_eq!(body["reason"], "TooManyRequests", "{body}");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(
        throttled > 0,
        "64 concurrent creates with a limit of 1 must see 429s"
    );
    assert!(created > 0, "some creates must get through");
    // Healthy afterwards: exactly the created objects exist, and a new write succeeds.
    let list = s.admin.get("/api/v1/namespaces/flood/configmaps").await;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(created));
    let after = s
        .as_token(
            Some("root-token"),
            "POST",
            "/api/v1/namespaces/flood/configmaps",
            Some(&json!({"metadata": {"name": "after"}})),
        )
        .await;
    assert_eq!(after.code, 201, "{}", after.body);
    // Every watch saw every successful create.
    for watch in &mut watches {
        let mut seen = 0;
        while seen < created + 1 {
            let event = watch.next().await.expect("watch event");
            if event["type"] == "ADDED" {
                seen += 1;
            }
        }
    }
}

#[tokio::test]
async fn resource_names_subresources_and_collection_verbs_are_authorized_as_kube_does() {
    let s = Secure::start(&[]).await;
    create_namespace(&s.admin, "a").await;
    for name in ["settings", "other"] {
        let reply = s
            .admin
            .post(
                "/api/v1/namespaces/a/configmaps",
                &json!({"metadata": {"name": name}}),
            )
            .await;
        assert_eq!(reply.code, 201, "{}", reply.body);
    }
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    });
    let reply = s
        .admin
        .post("/apis/apps/v1/namespaces/a/deployments", &deployment)
        .await;
    assert_eq!(reply.code, 201, "{}", reply.body);
    grant(
        &s.admin,
        "a",
        "narrow",
        "alice",
        json!([
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "update"], "resourceNames": ["settings"]},
            {"apiGroups": ["apps"], "resources": ["deployments/status"], "verbs": ["get", "update"]},
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["deletecollection"]},
        ]),
    )
    .await;
    let alice = |method: &'static str, path: &'static str, body: Option<Value>| {
        let s = &s;
        async move {
            s.as_token(Some("alice-token"), method, path, body.as_ref())
                .await
                .code
        }
    };
    eventually("the grant takes effect", || async {
        alice("GET", "/api/v1/namespaces/a/configmaps/settings", None).await == 200
    })
    .await;
    // resourceNames: that object only, and never a list (which has no name).
    assert_eq!(
        alice("GET", "/api/v1/namespaces/a/configmaps/other", None).await,
        403
    );
    assert_eq!(alice("GET", "/api/v1/namespaces/a/configmaps", None).await, 403);
    // ... unless the list is narrowed to the name by a field selector, as `kubectl get cm settings -w` does;
    // `get` is not `list`, so this is still refused.
    assert_eq!(
        alice(
            "GET",
            "/api/v1/namespaces/a/configmaps?fieldSelector=metadata.name%3Dsettings",
            None
        )
        .await,
        403
    );
    // A subresource rule grants the subresource, not the object.
    assert_eq!(
        alice("GET", "/apis/apps/v1/namespaces/a/deployments/web/status", None).await,
        200
    );
    assert_eq!(
        alice("GET", "/apis/apps/v1/namespaces/a/deployments/web", None).await,
        403
    );
    // deletecollection is its own verb: it does not grant delete of one object.
    assert_eq!(alice("DELETE", "/api/v1/namespaces/a/secrets", None).await, 200);
    assert_eq!(alice("DELETE", "/api/v1/namespaces/a/secrets/x", None).await, 403);
    // Non-resource URLs: discovery is granted to every authenticated user by system:discovery.
    assert_eq!(alice("GET", "/apis", None).await, 200);
    assert_eq!(alice("GET", "/openapi/v2", None).await, 200);
}
