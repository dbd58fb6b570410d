//! What a client sees, run against each backend: CRUD with conflicts, lists with pagination, watches from a
//! revision and after compaction, status and generation rules, finalizers, discovery.

use serde_json::{Value, json};

use crate::client::Client;

fn configmap(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
}

/// Runs every scenario against the server at `base`, each in its own namespace.
pub async fn run_all(base: &str) {
    let client = Client::new(base);
    for ns in [
        "crud",
        "gen",
        "pages",
        "watch",
        "elsewhere",
        "watch-initial",
        "streaming",
        "fanout",
        "status",
        "finalizers",
        "versions",
        "scale",
    ] {
        create_namespace(&client, ns).await;
    }
    crud_with_conflicts(&client, "crud").await;
    generate_name_and_already_exists(&client, "gen").await;
    list_pages_at_one_revision(&client, "pages").await;
    watch_from_a_revision(&client, "watch").await;
    watch_without_revision_starts_with_current_state(&client, "watch-initial").await;
    streaming_list_with_initial_events_end_bookmark(&client, "streaming").await;
    many_watchers_each_see_every_change(&client, "fanout").await;
    status_and_generation(&client, "status").await;
    finalizers_hold_deletion(&client, "finalizers").await;
    cluster_scoped_federation_clusters(&client).await;
    one_storage_two_versions(&client, "versions").await;
    discovery_and_version(&client).await;
    scale_subresource(&client, "scale").await;
    tables_and_metadata_only_responses(&client, "pages").await;
    delete_collection_by_label(&client, "pages").await;
    namespace_lifecycle(&client).await;
}

/// Creates namespace `name` (objects can only be created in an existing namespace).
pub async fn create_namespace(client: &Client, name: &str) {
    let reply = client
        .post("/api/v1/namespaces", &json!({"metadata": {"name": name}}))
        .await;
    assert_eq!(reply.code, 201, "create namespace {name}: {}", reply.body);
}

/// `/scale` of a deployment: read, write with merge patch and PUT, only spec.replicas changes.
async fn scale_subresource(client: &Client, ns: &str) {
    let collection = format!("/apis/apps/v1/namespaces/{ns}/deployments");
    let deployment = json!({
        "metadata": {"name": "web", "labels": {"keep": "me"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    });
    assert_eq!(client.post(&collection, &deployment).await.code, 201);
    let scale = client.get(&format!("{collection}/web/scale")).await;
    assert_eq!(scale.code, 200, "{}", scale.body);
    assert_eq!(scale.body["kind"], "Scale");
    assert_eq!(scale.body["apiVersion"], "autoscaling/v1");
    assert_eq!(scale.body["spec"]["replicas"], 2);
    assert_eq!(scale.body["status"]["selector"], "app=web");
    let patched = client
        .merge_patch(
            &format!("{collection}/web/scale"),
            &json!({"spec": {"replicas": 5}}),
        )
        .await;
    assert_eq!(patched.code, 200, "{}", patched.body);
    assert_eq!(patched.body["spec"]["replicas"], 5);
    let object = client.get(&format!("{collection}/web")).await;
    assert_eq!(object.body["spec"]["replicas"], 5);
    assert_eq!(object.body["metadata"]["labels"]["keep"], "me");
    let mut put = patched.body.clone();
    put["spec"]["replicas"] = json!(1);
    assert_eq!(
        client.put(&format!("{collection}/web/scale"), &put).await.body["spec"]["replicas"],
        1
    );
    // The Scale's resourceVersion is a precondition.
    client
        .put(&format!("{collection}/web/scale"), &put)
        .await
        .assert_status(409, "Conflict");
    let negative = client
        .merge_patch(
            &format!("{collection}/web/scale"),
            &json!({"spec": {"replicas": -1}}),
        )
        .await;
    negative.assert_status(422, "Invalid");
    client
        .get(&format!("/api/v1/namespaces/{ns}/configmaps/x/scale"))
        .await
        .assert_status(404, "NotFound");
}

/// DELETE on a collection with a label selector deletes exactly the matching objects.
async fn delete_collection_by_label(client: &Client, ns: &str) {
    let collection = format!("/api/v1/namespaces/{ns}/configmaps");
    let before = client
        .get(&format!("{collection}?labelSelector=parity"))
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, 5, "the pages scenario left 5 labelled configmaps");
    let deleted = client
        .delete(&format!("{collection}?labelSelector=parity%3Deven"))
        .await;
    assert_eq!(deleted.code, 200, "{}", deleted.body);
    assert_eq!(deleted.body["kind"], "ConfigMapList");
    assert_eq!(deleted.body["items"].as_array().unwrap().len(), 3);
    let left = client.get(&format!("{collection}?labelSelector=parity")).await;
    let names: Vec<&str> = left.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cm-1", "cm-3"]);
}

/// Built-in namespaces exist and cannot be deleted; nothing is created in a missing namespace; deleting a
/// namespace deletes its contents, then the namespace.
async fn namespace_lifecycle(client: &Client) {
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert_eq!(
            client.get(&format!("/api/v1/namespaces/{name}")).await.code,
            200,
            "{name} exists"
        );
    }
    let protected = client.delete("/api/v1/namespaces/default").await;
    protected.assert_status(403, "Forbidden");
    assert_eq!(
        protected.body["message"],
        "namespaces \"default\" is forbidden: this namespace may not be deleted"
    );

    let missing = client
        .post(
            "/api/v1/namespaces/no-such-ns/configmaps",
            &configmap("x", json!({})),
        )
        .await;
    missing.assert_status(404, "NotFound");
    assert_eq!(missing.body["message"], "namespaces \"no-such-ns\" not found");

    create_namespace(client, "doomed").await;
    let ns = client.get("/api/v1/namespaces/doomed").await;
    assert_eq!(
        ns.body["spec"]["finalizers"],
        json!(["kubernetes"]),
        "{}",
        ns.body
    );
    assert_eq!(ns.body["status"]["phase"], "Active");
    for name in ["one", "two"] {
        assert_eq!(
            client
                .post(
                    "/api/v1/namespaces/doomed/configmaps",
                    &configmap(name, json!({}))
                )
                .await
                .code,
            201
        );
    }
    let mut held = configmap("held", json!({}));
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    assert_eq!(
        client
            .post("/api/v1/namespaces/doomed/configmaps", &held)
            .await
            .code,
        201
    );
    let deleting = client.delete("/api/v1/namespaces/doomed").await;
    assert_eq!(deleting.code, 200, "{}", deleting.body);
    assert_eq!(deleting.body["status"]["phase"], "Terminating");
    let terminating = client
        .post(
            "/api/v1/namespaces/doomed/configmaps",
            &configmap("late", json!({})),
        )
        .await;
    terminating.assert_status(403, "Forbidden");
    assert!(
        terminating.body["message"]
            .as_str()
            .unwrap()
            .contains("because it is being terminated")
    );

    // The contents go (the held one waits for its finalizer), then the namespace.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let left = client.get("/api/v1/namespaces/doomed/configmaps").await;
        let names: Vec<&str> = left.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap())
            .collect();
        if names == ["held"] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "contents not deleted: {names:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        client.get("/api/v1/namespaces/doomed").await.code,
        200,
        "held content keeps the namespace"
    );
    let released = client
        .merge_patch(
            "/api/v1/namespaces/doomed/configmaps/held",
            &json!({"metadata": {"finalizers": null}}),
        )
        .await;
    assert_eq!(released.code, 200, "{}", released.body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while client.get("/api/v1/namespaces/doomed").await.code != 404 {
        assert!(
            std::time::Instant::now() < deadline,
            "the namespace was never finalized"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn crud_with_conflicts(client: &Client, ns: &str) {
    let collection = format!("/api/v1/namespaces/{ns}/configmaps");
    let created = client
        .post(&collection, &configmap("a", json!({"k": "v1"})))
        .await;
    assert_eq!(created.code, 201, "{}", created.body);
    let meta = &created.body["metadata"];
    assert_eq!(meta["namespace"], ns);
    assert!(meta["uid"].as_str().is_some_and(|u| u.len() == 36), "uid: {meta}");
    assert!(
        meta["creationTimestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{meta}"
    );
    assert_eq!(created.body["kind"], "ConfigMap");
    assert_eq!(created.body["apiVersion"], "v1");
    let rv1 = created.rv();

    let got = client.get(&format!("{collection}/a")).await;
    assert_eq!(got.code, 200);
    assert_eq!(got.body, created.body, "GET returns what POST returned");

    // Update with the current resourceVersion succeeds and moves it.
    let mut update = got.body.clone();
    update["data"]["k"] = json!("v2");
    let updated = client.put(&format!("{collection}/a"), &update).await;
    assert_eq!(updated.code, 200, "{}", updated.body);
    assert_eq!(updated.body["data"]["k"], "v2");
    let rv2 = updated.rv();
    assert!(rv2.parse::<i64>().unwrap() > rv1.parse::<i64>().unwrap());
    assert_eq!(
        updated.body["metadata"]["uid"], created.body["metadata"]["uid"],
        "uid is kept"
    );

    // The same body again carries a stale resourceVersion: 409 Conflict, nothing written.
    let stale = client.put(&format!("{collection}/a"), &update).await;
    stale.assert_status(409, "Conflict");
    assert!(
        stale.body["message"]
            .as_str()
            .unwrap()
            .contains("the object has been modified"),
        "{}",
        stale.body
    );
    assert_eq!(client.get(&format!("{collection}/a")).await.rv(), rv2);

    // Without a resourceVersion the update is unconditional.
    let mut unconditional = configmap("a", json!({"k": "v3"}));
    unconditional["metadata"]["namespace"] = json!(ns);
    let replaced = client.put(&format!("{collection}/a"), &unconditional).await;
    assert_eq!(replaced.code, 200, "{}", replaced.body);
    assert_eq!(replaced.body["data"]["k"], "v3");

    // A no-op update writes nothing: same resourceVersion.
    let again = client.put(&format!("{collection}/a"), &replaced.body).await;
    assert_eq!(again.code, 200);
    assert_eq!(again.rv(), replaced.rv(), "a no-op update must not write");

    // Merge patch.
    let patched = client
        .merge_patch(
            &format!("{collection}/a"),
            &json!({"data": {"k": null, "p": "q"}}),
        )
        .await;
    assert_eq!(patched.code, 200, "{}", patched.body);
    assert_eq!(patched.body["data"], json!({"p": "q"}));

    // Update of a missing object: 404.
    client
        .put(&format!("{collection}/missing"), &configmap("missing", json!({})))
        .await
        .assert_status(404, "NotFound");

    // Delete answers a Success Status; the object is gone.
    let deleted = client.delete(&format!("{collection}/a")).await;
    assert_eq!(deleted.code, 200, "{}", deleted.body);
    assert_eq!(deleted.body["kind"], "Status");
    assert_eq!(deleted.body["status"], "Success");
    assert_eq!(deleted.body["details"]["name"], "a");
    let gone = client.get(&format!("{collection}/a")).await;
    gone.assert_status(404, "NotFound");
    assert_eq!(gone.body["message"], "configmaps \"a\" not found");
    client
        .delete(&format!("{collection}/a"))
        .await
        .assert_status(404, "NotFound");
}

async fn generate_name_and_already_exists(client: &Client, ns: &str) {
    let collection = format!("/api/v1/namespaces/{ns}/secrets");
    let body = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"generateName": "token-"}, "data": {"t": "dG9rZW4="}});
    let first = client.post(&collection, &body).await;
    let second = client.post(&collection, &body).await;
    assert_eq!(
        (first.code, second.code),
        (201, 201),
        "{} {}",
        first.body,
        second.body
    );
    let (a, b) = (
        first.body["metadata"]["name"].as_str().unwrap(),
        second.body["metadata"]["name"].as_str().unwrap(),
    );
    assert!(a.starts_with("token-") && a.len() == 11, "{a}");
    assert_ne!(a, b);

    let named = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "fixed"}});
    assert_eq!(client.post(&collection, &named).await.code, 201);
    let dup = client.post(&collection, &named).await;
    dup.assert_status(409, "AlreadyExists");
    assert_eq!(dup.body["message"], "secrets \"fixed\" already exists");

    // Dry run: full processing, nothing stored.
    let dry = client
        .post(
            &format!("{collection}?dryRun=All"),
            &json!({"metadata": {"name": "dry"}}),
        )
        .await;
    assert_eq!(dry.code, 201, "{}", dry.body);
    client
        .get(&format!("{collection}/dry"))
        .await
        .assert_status(404, "NotFound");
}

async fn list_pages_at_one_revision(client: &Client, ns: &str) {
    let collection = format!("/api/v1/namespaces/{ns}/configmaps");
    for i in 0..5 {
        let mut cm = configmap(&format!("cm-{i}"), json!({"i": i.to_string()}));
        cm["metadata"]["labels"] = json!({"parity": if i % 2 == 0 { "even" } else { "odd" }});
        assert_eq!(client.post(&collection, &cm).await.code, 201);
    }
    let full = client.get(&collection).await;
    assert_eq!(full.code, 200);
    assert_eq!(full.body["kind"], "ConfigMapList");
    assert_eq!(full.body["items"].as_array().unwrap().len(), 5);
    let list_rv = full.rv();

    let first = client.get(&format!("{collection}?limit=2")).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(first.body["metadata"]["remainingItemCount"], 3);
    let token = first.body["metadata"]["continue"]
        .as_str()
        .expect("continue token")
        .to_owned();
    // A write between pages is not visible: the pages are read at the first page's revision.
    assert_eq!(
        client.post(&collection, &configmap("cm-9", json!({}))).await.code,
        201
    );
    let mut names: Vec<String> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    let mut token = Some(token);
    while let Some(t) = token {
        let page = client.get(&format!("{collection}?limit=2&continue={t}")).await;
        assert_eq!(page.code, 200, "{}", page.body);
        assert_eq!(
            page.rv(),
            first.rv(),
            "every page is read at the first page's revision"
        );
        names.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned()),
        );
        token = page.body["metadata"]["continue"].as_str().map(str::to_owned);
    }
    assert_eq!(names, ["cm-0", "cm-1", "cm-2", "cm-3", "cm-4"]);

    // An exact read at the earlier revision does not see cm-9 either.
    let old = client
        .get(&format!(
            "{collection}?resourceVersion={list_rv}&resourceVersionMatch=Exact"
        ))
        .await;
    assert_eq!(old.code, 200, "{}", old.body);
    assert_eq!(old.body["items"].as_array().unwrap().len(), 5);

    // Label and field selectors.
    let even = client
        .get(&format!("{collection}?labelSelector=parity%3Deven"))
        .await;
    assert_eq!(even.body["items"].as_array().unwrap().len(), 3);
    let one = client
        .get(&format!("{collection}?fieldSelector=metadata.name%3Dcm-3"))
        .await;
    assert_eq!(one.body["items"].as_array().unwrap().len(), 1);
    // All namespaces.
    let all = client.get("/api/v1/configmaps").await;
    assert!(
        all.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["metadata"]["namespace"] == ns)
    );
}

async fn watch_from_a_revision(client: &Client, ns: &str) {
    let collection = format!("/api/v1/namespaces/{ns}/configmaps");
    let start = client.get(&collection).await.rv();
    assert_eq!(
        client
            .post(&collection, &configmap("w", json!({"v": "1"})))
            .await
            .code,
        201
    );
    let mut watch = client
        .watch(&format!("{collection}?watch=true&resourceVersion={start}"))
        .await;
    // History since `start` is replayed, then live changes follow.
    let added = watch.expect("ADDED").await;
    assert_eq!(added["metadata"]["name"], "w");
    assert_eq!(added["kind"], "ConfigMap");
    let mut cm = client.get(&format!("{collection}/w")).await.body;
    cm["data"]["v"] = json!("2");
    let updated = client.put(&format!("{collection}/w"), &cm).await;
    let modified = watch.expect("MODIFIED").await;
    assert_eq!(modified["data"]["v"], "2");
    assert_eq!(
        modified["metadata"]["resourceVersion"],
        updated.body["metadata"]["resourceVersion"]
    );
    client.delete(&format!("{collection}/w")).await;
    let deleted = watch.expect("DELETED").await;
    assert_eq!(deleted["data"]["v"], "2", "DELETED carries the last state");
    let delete_rv: i64 = deleted["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        delete_rv > updated.rv().parse::<i64>().unwrap(),
        "DELETED carries the delete revision"
    );

    // Other namespaces are not seen.
    assert_eq!(
        client
            .post(
                "/api/v1/namespaces/elsewhere/configmaps",
                &configmap("x", json!({}))
            )
            .await
            .code,
        201
    );
    assert_eq!(
        client
            .post(&collection, &configmap("after", json!({})))
            .await
            .code,
        201
    );
    assert_eq!(watch.expect("ADDED").await["metadata"]["name"], "after");

    // A watch that times out ends cleanly.
    let mut short = client
        .watch(&format!(
            "{collection}?watch=1&resourceVersion={delete_rv}&timeoutSeconds=1"
        ))
        .await;
    assert_eq!(short.expect("ADDED").await["metadata"]["name"], "after");
    assert!(
        short.next().await.is_none(),
        "the stream ends after timeoutSeconds"
    );
}

async fn watch_without_revision_starts_with_current_state(client: &Client, ns: &str) {
    let collection = format!("/api/v1/namespaces/{ns}/configmaps");
    for name in ["one", "two"] {
        assert_eq!(
            client.post(&collection, &configmap(name, json!({}))).await.code,
            201
        );
    }
    let mut watch = client.watch(&format!("{collection}?watch=true")).await;
    let mut names = vec![
        watch.expect("ADDED").await["metadata"]["name"]
            .as_str()
            .unwrap()
            .to_owned(),
        watch.expect("ADDED").await["metadata"]["name"]
            .as_str()
            .unwrap()
            .to_owned(),
    ];
    names.sort();
    assert_eq!(names, ["one", "two"]);
    assert_eq!(
        client
            .post(&collection, &configmap("three", json!({})))
            .await
            .code,
        201
    );
    assert_eq!(watch.expect("ADDED").await["metadata"]["name"], "three");
    // A label-filtered watch sees an object leave the selection as DELETED.
    let mut labelled = client
        .watch(&format!("{collection}?watch=true&labelSelector=tier%3Dweb"))
        .await;
    assert!(
        client
            .merge_patch(
                &format!("{collection}/one"),
                &json!({"metadata": {"labels": {"tier": "web"}}})
            )
            .await
            .code
            == 200
    );
    assert_eq!(labelled.expect("ADDED").await["metadata"]["name"], "one");
    assert!(
        client
            .merge_patch(
                &format!("{collection}/one"),
                &json!({"metadata": {"labels": {"tier": "db"}}})
            )
            .await
            .code
            == 200
    );
    assert_eq!(labelled.expect("DELETED").await["metadata"]["name"], "one");
}

async fn status_and_generation(client: &Client, ns: &str) {
    let collection = format!("/apis/apps/v1/namespaces/{ns}/deployments");
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
        "status": {"replicas": 99}
    });
    let created = client.post(&collection, &deployment).await;
    assert_eq!(created.code, 201, "{}", created.body);
    assert_eq!(created.body["metadata"]["generation"], 1);
    assert!(
        created.body.get("status").is_none() || created.body["status"]["replicas"].is_null(),
        "status is cleared on create: {}",
        created.body
    );

    // Status written through /status: spec changes there are ignored, generation unchanged.
    let mut with_status = created.body.clone();
    with_status["status"] = json!({"replicas": 2, "readyReplicas": 1});
    with_status["spec"]["replicas"] = json!(7);
    let status = client
        .put(&format!("{collection}/web/status"), &with_status)
        .await;
    assert_eq!(status.code, 200, "{}", status.body);
    assert_eq!(status.body["status"]["readyReplicas"], 1);
    assert_eq!(status.body["spec"]["replicas"], 2);
    assert_eq!(status.body["metadata"]["generation"], 1);

    // Status written through the main resource is ignored; a spec change bumps generation.
    let mut main = status.body.clone();
    main["status"] = json!({"replicas": 0});
    main["spec"]["replicas"] = json!(3);
    let updated = client.put(&format!("{collection}/web"), &main).await;
    assert_eq!(updated.code, 200, "{}", updated.body);
    assert_eq!(updated.body["spec"]["replicas"], 3);
    assert_eq!(updated.body["status"]["readyReplicas"], 1);
    assert_eq!(updated.body["metadata"]["generation"], 2);
    // A metadata-only change does not bump it.
    let labelled = client
        .merge_patch(
            &format!("{collection}/web"),
            &json!({"metadata": {"labels": {"x": "y"}}}),
        )
        .await;
    assert_eq!(labelled.body["metadata"]["generation"], 2, "{}", labelled.body);
}

async fn finalizers_hold_deletion(client: &Client, ns: &str) {
    let path = format!("/api/v1/namespaces/{ns}/configmaps/held");
    let mut cm = configmap("held", json!({}));
    cm["metadata"]["finalizers"] = json!(["example.com/hold"]);
    assert_eq!(
        client
            .post(&format!("/api/v1/namespaces/{ns}/configmaps"), &cm)
            .await
            .code,
        201
    );
    let deleting = client.delete(&path).await;
    assert_eq!(deleting.code, 200, "{}", deleting.body);
    assert_eq!(
        deleting.body["kind"], "ConfigMap",
        "a held object comes back, not a Status"
    );
    assert!(deleting.body["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(
        client.get(&path).await.code,
        200,
        "still there while finalizers remain"
    );
    let added = client
        .merge_patch(
            &path,
            &json!({"metadata": {"finalizers": ["example.com/hold", "example.com/new"]}}),
        )
        .await;
    added.assert_status(422, "Invalid");
    assert!(
        added.body["message"]
            .as_str()
            .unwrap()
            .contains("no new finalizers can be added"),
        "{}",
        added.body
    );
    let released = client
        .merge_patch(&path, &json!({"metadata": {"finalizers": null}}))
        .await;
    assert_eq!(released.code, 200, "{}", released.body);
    client.get(&path).await.assert_status(404, "NotFound");
}

async fn cluster_scoped_federation_clusters(client: &Client) {
    let cluster = json!({
        "apiVersion": "federation/v1beta1", "kind": "Cluster", "metadata": {"name": "cluster-a"},
        "spec": {"serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "https://10.0.0.1:6443"}]}
    });
    let created = client.post("/apis/federation/v1beta1/clusters", &cluster).await;
    assert_eq!(created.code, 201, "{}", created.body);
    assert!(created.body["metadata"].get("namespace").is_none());
    let list = client.get("/apis/federation/v1beta1/clusters").await;
    assert_eq!(list.body["kind"], "ClusterList");
    let invalid = json!({"apiVersion": "federation/v1beta1", "kind": "Cluster", "metadata": {"name": "Bad_Name"}, "spec": {"serverAddressByClientCIDRs": []}});
    let rejected = client.post("/apis/federation/v1beta1/clusters", &invalid).await;
    rejected.assert_status(422, "Invalid");
    let fields: Vec<&str> = rejected.body["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"metadata.name"), "{fields:?}");
    assert!(
        fields
            .iter()
            .any(|f| f.starts_with("spec.serverAddressByClientCIDRs")),
        "{fields:?}"
    );
    assert_eq!(
        client
            .delete("/apis/federation/v1beta1/clusters/cluster-a")
            .await
            .code,
        200
    );
}

async fn discovery_and_version(client: &Client) {
    let version = client.get("/version").await;
    assert_eq!(version.body["major"], "1");
    assert!(
        version.body["minor"]
            .as_str()
            .unwrap()
            .chars()
            .all(|c| c.is_ascii_digit())
    );
    let api = client.get("/api").await;
    assert_eq!(api.body["kind"], "APIVersions");
    assert_eq!(api.body["versions"], json!(["v1"]));
    let core = client.get("/api/v1").await;
    let cm = core.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "configmaps")
        .unwrap()
        .clone();
    assert_eq!(cm["shortNames"], json!(["cm"]));
    assert_eq!(cm["namespaced"], true);
    let groups = client.get("/apis").await;
    assert_eq!(groups.body["kind"], "APIGroupList");
    let fed = client.get("/apis/federation/v1beta1").await;
    assert_eq!(fed.body["groupVersion"], "federation/v1beta1");
    client.get("/apis/nope/v1").await.assert_status(404, "NotFound");
    client.get("/api/v1/pods").await.assert_status(404, "NotFound");
    assert_eq!(client.get("/healthz").await.code, 200);
    assert_eq!(client.get("/readyz").await.code, 200);
}

/// With periodic compaction running (every second), a watch from an early revision eventually gets HTTP 200
/// and a single ERROR event with a 410 Expired Status, then the stream ends.
pub async fn watch_after_compaction(client: &Client) {
    create_namespace(client, "compaction").await;
    let collection = "/api/v1/namespaces/compaction/configmaps";
    let first = client.post(collection, &configmap("c", json!({"v": "0"}))).await;
    assert_eq!(first.code, 201);
    let early = first.rv();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        // Keep writing so that revisions move past the compaction point.
        let mut cm = client.get(&format!("{collection}/c")).await.body;
        cm["data"]["v"] = json!(cm["metadata"]["resourceVersion"].clone());
        assert_eq!(client.put(&format!("{collection}/c"), &cm).await.code, 200);
        let mut watch = client
            .watch(&format!("{collection}?watch=true&resourceVersion={early}"))
            .await;
        let event = watch.next().await.expect("an event");
        if event["type"] == "ERROR" {
            let status = &event["object"];
            assert_eq!(status["kind"], "Status");
            assert_eq!(status["code"], 410);
            assert_eq!(status["reason"], "Expired");
            assert!(
                status["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("too old resource version"),
                "{status}"
            );
            assert!(
                watch.next().await.is_none(),
                "the stream ends after the ERROR event"
            );
            break;
        }
        assert_eq!(
            event["type"], "MODIFIED",
            "before compaction the history replays: {event}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "storage was never compacted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    // A list at the compacted revision is 410 too.
    let old = client
        .get(&format!(
            "{collection}?resourceVersion={early}&resourceVersionMatch=Exact"
        ))
        .await;
    old.assert_status(410, "Expired");
}

/// HPAs are stored as autoscaling/v2 and served as v1 too; core events are events.k8s.io/v1 events.
async fn one_storage_two_versions(client: &Client, ns: &str) {
    let v1 = json!({
        "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "minReplicas": 1, "maxReplicas": 5, "targetCPUUtilizationPercentage": 50}
    });
    let created = client
        .post(
            &format!("/apis/autoscaling/v1/namespaces/{ns}/horizontalpodautoscalers"),
            &v1,
        )
        .await;
    assert_eq!(created.code, 201, "{}", created.body);
    assert_eq!(created.body["apiVersion"], "autoscaling/v1");
    assert_eq!(created.body["spec"]["targetCPUUtilizationPercentage"], 50);
    let v2 = client
        .get(&format!(
            "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/web"
        ))
        .await;
    assert_eq!(v2.code, 200);
    assert_eq!(v2.body["apiVersion"], "autoscaling/v2");
    assert_eq!(
        v2.body["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 50,
        "{}",
        v2.body
    );
    assert_eq!(v2.rv(), created.rv(), "one object, one resourceVersion");

    let event = json!({
        "metadata": {"name": "web.1"}, "involvedObject": {"kind": "Deployment", "name": "web", "namespace": ns},
        "reason": "Scaled", "message": "scaled to 3", "type": "Normal"
    });
    assert_eq!(
        client
            .post(&format!("/api/v1/namespaces/{ns}/events"), &event)
            .await
            .code,
        201
    );
    let new_style = client
        .get(&format!("/apis/events.k8s.io/v1/namespaces/{ns}/events/web.1"))
        .await;
    assert_eq!(new_style.code, 200, "{}", new_style.body);
    assert_eq!(new_style.body["note"], "scaled to 3");
    assert_eq!(new_style.body["regarding"]["name"], "web");
}

/// `sendInitialEvents=true`: the current state, a BOOKMARK marking its end with the state's revision, then
/// changes. The option combinations kube rejects get 422.
async fn streaming_list_with_initial_events_end_bookmark(client: &Client, ns: &str) {
    let collection = format!("/api/v1/namespaces/{ns}/configmaps");
    for name in ["a", "b", "c"] {
        assert_eq!(
            client.post(&collection, &configmap(name, json!({}))).await.code,
            201
        );
    }
    let mut watch = client
        .watch(&format!(
            "{collection}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
        ))
        .await;
    let mut names = Vec::new();
    for _ in 0..3 {
        names.push(
            watch.expect("ADDED").await["metadata"]["name"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    names.sort();
    assert_eq!(names, ["a", "b", "c"]);
    let bookmark = watch.expect("BOOKMARK").await;
    assert_eq!(bookmark["kind"], "ConfigMap");
    assert_eq!(bookmark["apiVersion"], "v1");
    assert_eq!(
        bookmark["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    let bookmark_rv: i64 = bookmark["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let created = client.post(&collection, &configmap("d", json!({}))).await;
    let added = watch.expect("ADDED").await;
    assert_eq!(added["metadata"]["name"], "d");
    assert!(created.rv().parse::<i64>().unwrap() > bookmark_rv);

    let rejected = client
        .get(&format!("{collection}?watch=true&sendInitialEvents=true"))
        .await;
    rejected.assert_status(422, "Invalid");
    let rejected = client.get(&format!("{collection}?sendInitialEvents=true")).await;
    rejected.assert_status(422, "Invalid");
    let rejected = client
        .get(&format!(
            "{collection}?watch=true&resourceVersionMatch=NotOlderThan"
        ))
        .await;
    rejected.assert_status(422, "Invalid");

    // A resourceVersion=0 list may come from the cache: it converges on what was written.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let any = client.get(&format!("{collection}?resourceVersion=0")).await;
        assert_eq!(any.code, 200);
        if any.body["items"].as_array().unwrap().len() == 4 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "resourceVersion=0 list never showed 4 items: {}",
            any.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Fifty watchers of one collection each receive the same change.
async fn many_watchers_each_see_every_change(client: &Client, ns: &str) {
    let collection = format!("/api/v1/namespaces/{ns}/configmaps");
    let start = client.get(&collection).await.rv();
    let mut watches = Vec::new();
    for _ in 0..50 {
        watches.push(
            client
                .watch(&format!("{collection}?watch=true&resourceVersion={start}"))
                .await,
        );
    }
    let created = client
        .post(&collection, &configmap("shared", json!({"k": "v"})))
        .await;
    assert_eq!(created.code, 201);
    for watch in &mut watches {
        let object = watch.expect("ADDED").await;
        assert_eq!(
            object["metadata"]["resourceVersion"],
            created.body["metadata"]["resourceVersion"]
        );
    }
}

/// A watch cache keeping only 5 events answers a watch from further back with a 410 Expired event.
pub async fn watch_cache_window_expires(client: &Client) {
    create_namespace(client, "window").await;
    let collection = "/api/v1/namespaces/window/configmaps";
    let first = client.post(collection, &configmap("w", json!({"v": "0"}))).await;
    assert_eq!(first.code, 201);
    let early = first.rv();
    for i in 1..=20 {
        let reply = client
            .merge_patch(&format!("{collection}/w"), &json!({"data": {"v": i.to_string()}}))
            .await;
        assert_eq!(reply.code, 200);
    }
    let latest = client.get(&format!("{collection}/w")).await.rv();
    // Wait until the cache has seen the last write (it is fed asynchronously), then resume from far back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let any = client.get(&format!("{collection}?resourceVersion=0")).await;
        if any.rv() == latest {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the cache never caught up");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut watch = client
        .watch(&format!("{collection}?watch=true&resourceVersion={early}"))
        .await;
    let event = watch.next().await.expect("an event");
    assert_eq!(event["type"], "ERROR", "{event}");
    assert_eq!(event["object"]["code"], 410);
    assert_eq!(event["object"]["reason"], "Expired");
    assert!(watch.next().await.is_none());
    // Resuming from a recent revision works.
    let mut recent = client
        .watch(&format!("{collection}?watch=true&resourceVersion={latest}"))
        .await;
    assert_eq!(
        client
            .merge_patch(&format!("{collection}/w"), &json!({"data": {"v": "new"}}))
            .await
            .code,
        200
    );
    assert_eq!(recent.expect("MODIFIED").await["data"]["v"], "new");
}

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
const METADATA: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";

/// What `kubectl get` asks for (a Table), and what metadata-only clients ask for.
async fn tables_and_metadata_only_responses(client: &Client, ns: &str) {
    let collection = format!("/api/v1/namespaces/{ns}/configmaps");
    let table = client.get_accepting(&collection, TABLE).await;
    assert_eq!(table.code, 200);
    assert_eq!(table.body["kind"], "Table");
    assert_eq!(table.body["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(table.body["columnDefinitions"][0]["name"], "Name");
    let rows = table.body["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert_eq!(rows[0]["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(rows[0]["cells"][0], rows[0]["object"]["metadata"]["name"]);
    assert!(table.body["metadata"]["resourceVersion"].is_string());
    let one = client.get_accepting(&format!("{collection}/cm-1"), TABLE).await;
    assert_eq!(one.body["rows"].as_array().unwrap().len(), 1);
    let whole = client
        .get_accepting(&format!("{collection}/cm-1?includeObject=Object"), TABLE)
        .await;
    assert_eq!(whole.body["rows"][0]["object"]["kind"], "ConfigMap");

    let metadata = client.get_accepting(&collection, METADATA).await;
    assert_eq!(metadata.body["kind"], "PartialObjectMetadataList");
    assert!(metadata.body["items"][0].get("data").is_none());
    assert!(metadata.body["items"][0]["metadata"]["name"].is_string());

    let start = client.get(&collection).await.rv();
    let mut watch = client
        .watch_accepting(&format!("{collection}?watch=true&resourceVersion={start}"), TABLE)
        .await;
    assert_eq!(
        client.post(&collection, &configmap("t1", json!({}))).await.code,
        201
    );
    assert_eq!(
        client.post(&collection, &configmap("t2", json!({}))).await.code,
        201
    );
    let first = watch.expect("ADDED").await;
    assert_eq!(first["kind"], "Table");
    assert!(
        first["columnDefinitions"].is_array(),
        "the first event carries the columns"
    );
    let second = watch.expect("ADDED").await;
    assert!(second.get("columnDefinitions").is_none(), "later events do not");
    assert_eq!(second["rows"][0]["cells"][0], "t2");
}
