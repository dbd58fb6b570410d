//! Malformed requests: each gets a 4xx Status with a clear message, nothing is stored, and the server stays up.

use fcp_testkit::apiserver::TestApiServer;
use serde_json::json;

use crate::client::Client;

const COLLECTION: &str = "/api/v1/namespaces/bad/configmaps";

#[tokio::test]
async fn malformed_requests_get_status_errors_and_store_nothing() {
    let server = TestApiServer::embedded().await.unwrap();
    let client = Client::new(server.base_url());
    crate::scenarios::create_namespace(&client, "bad").await;
    let json_ct = Some("application/json");
    // (what, path, content type, body, expected code, reason, a word the message must contain)
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, &str, Option<&str>, Vec<u8>, u16, &str, &str)> = vec![
        (
            "malformed JSON",
            COLLECTION,
            json_ct,
            b"{\"metadata\": {".to_vec(),
            400,
            "BadRequest",
            "not valid JSON",
        ),
        (
            "empty body",
            COLLECTION,
            json_ct,
            Vec::new(),
            400,
            "BadRequest",
            "empty",
        ),
        (
            "not an object",
            COLLECTION,
            json_ct,
            b"[1,2]".to_vec(),
            400,
            "BadRequest",
            "JSON object",
        ),
        (
            "wrong kind",
            COLLECTION,
            json_ct,
            json!({"kind": "Secret", "metadata": {"name": "k"}})
                .to_string()
                .into_bytes(),
            400,
            "BadRequest",
            "kind",
        ),
        (
            "wrong apiVersion",
            COLLECTION,
            json_ct,
            json!({"apiVersion": "apps/v1", "metadata": {"name": "k"}})
                .to_string()
                .into_bytes(),
            400,
            "BadRequest",
            "API version",
        ),
        (
            "namespace mismatch",
            COLLECTION,
            json_ct,
            json!({"metadata": {"name": "k", "namespace": "other"}})
                .to_string()
                .into_bytes(),
            400,
            "BadRequest",
            "namespace",
        ),
        (
            "wrong field type",
            COLLECTION,
            json_ct,
            json!({"metadata": {"name": "k"}, "data": 5})
                .to_string()
                .into_bytes(),
            400,
            "BadRequest",
            "ConfigMap",
        ),
        (
            "invalid name",
            COLLECTION,
            json_ct,
            json!({"metadata": {"name": "Not_Valid"}})
                .to_string()
                .into_bytes(),
            422,
            "Invalid",
            "metadata.name",
        ),
        (
            "missing name",
            COLLECTION,
            json_ct,
            json!({"metadata": {}}).to_string().into_bytes(),
            422,
            "Invalid",
            "name or generateName is required",
        ),
        (
            "invalid label",
            COLLECTION,
            json_ct,
            json!({"metadata": {"name": "k", "labels": {"a b": "c"}}})
                .to_string()
                .into_bytes(),
            422,
            "Invalid",
            "metadata.labels",
        ),
        (
            "unknown content type",
            COLLECTION,
            Some("text/plain"),
            b"hello".to_vec(),
            415,
            "UnsupportedMediaType",
            "text/plain",
        ),
        (
            "corrupt protobuf body",
            COLLECTION,
            Some("application/vnd.kubernetes.protobuf"),
            b"k8s\0junk".to_vec(),
            400,
            "BadRequest",
            "protobuf",
        ),
        (
            "NUL bytes",
            COLLECTION,
            json_ct,
            b"{\"metadata\":\0}".to_vec(),
            400,
            "BadRequest",
            "not valid JSON",
        ),
        (
            "oversized body",
            COLLECTION,
            json_ct,
            json!({"metadata": {"name": "big"}, "data": {"x": "a".repeat(4 * 1024 * 1024)}})
                .to_string()
                .into_bytes(),
            413,
            "RequestEntityTooLarge",
            "too large",
        ),
    ];
    for (what, path, content_type, body, code, reason, needle) in cases {
        let reply = client.send("POST", path, content_type, Some(body)).await;
        assert_eq!(reply.code, code, "{what}: {}", reply.body);
        reply.assert_status(code, reason);
        let message = reply.body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{what}: message {message:?} should mention {needle:?}"
        );
    }
    let reads: Vec<(&str, String, u16, &str)> = vec![
        (
            "bad label selector",
            format!("{COLLECTION}?labelSelector=a%20in%20(b"),
            400,
            "BadRequest",
        ),
        (
            "unknown field selector",
            format!("{COLLECTION}?fieldSelector=spec.x%3D1"),
            400,
            "BadRequest",
        ),
        (
            "bad continue token",
            format!("{COLLECTION}?limit=1&continue=garbage"),
            400,
            "BadRequest",
        ),
        (
            "bad resourceVersion",
            format!("{COLLECTION}?resourceVersion=abc&resourceVersionMatch=Exact"),
            400,
            "BadRequest",
        ),
        ("bad limit", format!("{COLLECTION}?limit=ten"), 400, "BadRequest"),
        (
            "bad watch flag",
            format!("{COLLECTION}?watch=maybe"),
            400,
            "BadRequest",
        ),
        (
            "unknown resource",
            "/api/v1/namespaces/bad/widgets".to_owned(),
            404,
            "NotFound",
        ),
    ];
    for (what, path, code, reason) in reads {
        let reply = client.get(&path).await;
        assert_eq!(reply.code, code, "{what}: {}", reply.body);
        reply.assert_status(code, reason);
    }
    let unacceptable = reqwest::Client::new()
        .get(server.url(COLLECTION))
        .header("accept", "application/vnd.kubernetes.protobuf")
        .send()
        .await
        .unwrap();
    assert_eq!(unacceptable.status().as_u16(), 406);
    let put_mismatch = client
        .put(&format!("{COLLECTION}/a"), &json!({"metadata": {"name": "b"}}))
        .await;
    assert!(
        put_mismatch.code == 400 || put_mismatch.code == 404,
        "{}",
        put_mismatch.body
    );
    client
        .send("POST", &format!("{COLLECTION}/a"), json_ct, Some(b"{}".to_vec()))
        .await
        .assert_status(405, "MethodNotAllowed");

    let list = client.get(COLLECTION).await;
    assert_eq!(list.code, 200);
    assert_eq!(list.body["items"], json!([]), "nothing was stored");
    assert_eq!(client.get("/healthz").await.code, 200, "the server is still up");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_fields_are_rejected_under_strict_validation_and_warned_about_otherwise() {
    let server = TestApiServer::embedded().await.unwrap();
    let client = Client::new(server.base_url());
    crate::scenarios::create_namespace(&client, "fields").await;
    let collection = "/api/v1/namespaces/fields/configmaps";
    let body = json!({"metadata": {"name": "strict", "bogus": 1}, "data": {"k": "v"}, "extra": true});
    let strict = client
        .post(&format!("{collection}?fieldValidation=Strict"), &body)
        .await;
    strict.assert_status(400, "BadRequest");
    assert_eq!(
        strict.body["message"],
        "strict decoding error: unknown field \"extra\", unknown field \"metadata.bogus\""
    );
    client
        .get(&format!("{collection}/strict"))
        .await
        .assert_status(404, "NotFound");

    // The default (Warn) stores the object without the unknown fields and says so in Warning headers.
    let response = reqwest::Client::new()
        .post(server.url(collection))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let warnings: Vec<String> = response
        .headers()
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        warnings,
        [
            r#"299 - "unknown field \"extra\"""#,
            r#"299 - "unknown field \"metadata.bogus\"""#
        ]
    );
    let stored = client.get(&format!("{collection}/strict")).await;
    assert!(stored.body.get("extra").is_none());

    // Patches are checked too; deletions (nulls) are not unknown fields.
    let patch = client
        .send(
            "PATCH",
            &format!("{collection}/strict?fieldValidation=Strict"),
            Some("application/merge-patch+json"),
            Some(br#"{"data": {"k": null}, "spec": {"x": 1}}"#.to_vec()),
        )
        .await;
    patch.assert_status(400, "BadRequest");
    assert!(
        patch.body["message"]
            .as_str()
            .unwrap()
            .contains("unknown field \"spec\""),
        "{}",
        patch.body
    );
    let ok = client
        .send(
            "PATCH",
            &format!("{collection}/strict?fieldValidation=Strict"),
            Some("application/merge-patch+json"),
            Some(br#"{"data": {"k": null}}"#.to_vec()),
        )
        .await;
    assert_eq!(ok.code, 200, "{}", ok.body);
    let bad = client
        .post(
            &format!("{collection}?fieldValidation=Loose"),
            &json!({"metadata": {"name": "x"}}),
        )
        .await;
    bad.assert_status(400, "BadRequest");
    server.stop().await.unwrap();
}
