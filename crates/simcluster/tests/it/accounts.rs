//! Default service accounts and token secrets.

use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use kube::{Api, Client, ResourceExt, api::PostParams};
use serde_json::json;

use super::{cluster, eventually};

/// Waits for the token secret of service account `namespace/name` and returns it with the account.
pub(crate) async fn token_secret(client: &Client, namespace: &str, name: &str) -> (ServiceAccount, Secret) {
    let accounts = Api::<ServiceAccount>::namespaced(client.clone(), namespace);
    let secrets = Api::<Secret>::namespaced(client.clone(), namespace);
    eventually(&format!("a token secret for {namespace}/{name}"), || {
        let accounts = accounts.clone();
        let secrets = secrets.clone();
        async move {
            let account = accounts
                .get_opt(name)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("no account")?;
            let listed = account
                .secrets
                .iter()
                .flatten()
                .find_map(|r| r.name.clone())
                .ok_or("no secret listed")?;
            let secret = secrets.get(&listed).await.map_err(|e| e.to_string())?;
            Ok((account, secret))
        }
    })
    .await
}

#[tokio::test]
async fn service_accounts_get_token_secrets() {
    let sim = cluster("c7", &[]).await;
    let client = sim.client();
    let namespace: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "team"}})).expect("a valid namespace");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("create the namespace");
    // kube's serviceaccount controller: a default account in every namespace.
    token_secret(&client, "team", "default").await;
    token_secret(&client, "default", "default").await;

    let robot: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "robot"}})).expect("a valid account");
    Api::<ServiceAccount>::namespaced(client.clone(), "team")
        .create(&PostParams::default(), &robot)
        .await
        .expect("create the account");
    let (account, secret) = token_secret(&client, "team", "robot").await;
    assert_eq!(
        secret.type_.as_deref(),
        Some("kubernetes.io/service-account-token")
    );
    assert!(secret.name_any().starts_with("robot-token-"));
    let annotations = secret.annotations();
    assert_eq!(
        annotations
            .get("kubernetes.io/service-account.name")
            .map(String::as_str),
        Some("robot")
    );
    assert_eq!(
        annotations.get("kubernetes.io/service-account.uid"),
        account.uid().as_ref()
    );
    let data = secret.data.clone().expect("data");
    assert!(data.get("token").is_some_and(|t| t.0.len() >= 32));
    assert!(data.contains_key("ca.crt"));
    assert_eq!(
        data.get("namespace").map(|n| n.0.as_slice()),
        Some(b"team".as_slice())
    );
    assert_eq!(account.secrets.as_ref().map(Vec::len), Some(1));

    // The account going takes its token along.
    let secrets = Api::<Secret>::namespaced(client.clone(), "team");
    Api::<ServiceAccount>::namespaced(client.clone(), "team")
        .delete("robot", &Default::default())
        .await
        .expect("delete the account");
    let name = secret.name_any();
    eventually("the token secret is deleted", || {
        let secrets = secrets.clone();
        let name = name.clone();
        async move {
            match secrets.get_opt(&name).await.map_err(|e| e.to_string())? {
                None => Ok(()),
                Some(_) => Err("still there".to_owned()),
            }
        }
    })
    .await;
    sim.stop().await.expect("stop");
}

#[tokio::test]
async fn token_secrets_carry_the_ca_of_a_generated_certificate() {
    let port = fcp_testkit::free_port().to_string();
    let sim = cluster("c8", &["--secure-port", &port, "--bind-address", "127.0.0.1"]).await;
    let ca = std::fs::read(sim.ca_file().expect("a generated CA")).expect("read the CA");
    let (_, secret) = token_secret(&sim.client(), "default", "default").await;
    let data = secret.data.expect("data");
    assert_eq!(data.get("ca.crt").map(|c| c.0.clone()), Some(ca));
    sim.stop().await.expect("stop");
}
