//! `fcp local-up`: a whole federation on one machine, in one process. The federation apiserver (embedded
//! store, HTTPS with a bearer token), N SIMULATED member clusters (each HTTPS with its own token), each
//! joined as a Cluster `cluster-<i>` with a credentials secret in the federation-only namespace, and the
//! controller manager, which reads `DIR/kubeconfig` like any client. State lives under DIR, so a second run
//! over the same DIR finds the objects of the first.

use std::{
    fmt::Write as _,
    net::{Ipv4Addr, TcpListener},
    path::{Path, PathBuf},
    time::Duration,
};

use clap::{Args, FromArgMatches, Parser};
use fcp_api::{Cluster, ClusterSpec, ServerAddressByClientCIDR};
use k8s_openapi::{
    ByteString,
    api::core::v1::{LocalObjectReference, Secret},
};
use kube::{
    Api,
    api::{ObjectMeta, Patch, PatchParams},
};
use tokio_util::sync::CancellationToken;
use tracing::info;

/// Most members one local federation runs.
const MAX_CLUSTERS: usize = 50;
/// The namespace of the credentials secrets.
const CREDENTIALS_NAMESPACE: &str = "federation-only";

/// `fcp local-up` flags.
#[derive(Debug, Clone, Args)]
pub(crate) struct LocalUpOptions {
    /// Number of SIMULATED member clusters (cluster-1 … cluster-N).
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=MAX_CLUSTERS as i64))]
    pub(crate) clusters: u16,

    /// Directory for the stores, certificates, tokens and the kubeconfig.
    #[arg(long, default_value = "_output/local-up", value_name = "DIR")]
    pub(crate) dir: PathBuf,

    /// Port of the federation apiserver on 127.0.0.1 (0 = a free port).
    #[arg(long, default_value_t = 0, value_name = "PORT")]
    pub(crate) port: u16,

    /// How long simulated workloads take to become ready.
    #[arg(long, default_value = "1s", value_parser = fcp_controllers::options::parse_duration, value_name = "DURATION")]
    pub(crate) ready_after: Duration,

    /// How often the controller manager probes the members.
    #[arg(long, default_value = "5s", value_parser = fcp_controllers::options::parse_duration, value_name = "DURATION")]
    pub(crate) cluster_monitor_period: Duration,
}

/// Why local-up stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LocalUpError {
    /// A file under DIR.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A component failed.
    #[error("{0}")]
    Component(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LocalUpError + '_ {
    move |source| LocalUpError::Io {
        path: path.to_owned(),
        source,
    }
}

fn component(what: &str) -> impl FnOnce(String) -> LocalUpError + '_ {
    move |error| LocalUpError::Component(format!("{what}: {error}"))
}

/// A random token (hex of 16 bytes from the OS).
fn random_token() -> Result<String, LocalUpError> {
    let path = Path::new("/dev/urandom");
    let mut bytes = [0u8; 16];
    use std::io::Read as _;
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(io(path))?;
    Ok(bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    }))
}

/// A free loopback port.
fn free_port() -> Result<u16, LocalUpError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| LocalUpError::Component(format!("no free port: {e}")))
}

/// Writes `contents` to `path`, readable by the owner only.
fn write_private(path: &Path, contents: &str) -> Result<(), LocalUpError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    file.write_all(contents.as_bytes()).map_err(io(path))
}

fn parse_args<T: Args + FromArgMatches>(name: &str, args: &[String]) -> Result<T, LocalUpError> {
    #[derive(Parser)]
    struct Wrapper<T: Args + FromArgMatches> {
        #[command(flatten)]
        inner: T,
    }
    let argv = std::iter::once(name.to_owned()).chain(args.iter().cloned());
    Wrapper::<T>::try_parse_from(argv)
        .map(|w| w.inner)
        .map_err(|e| LocalUpError::Component(format!("{name} flags: {e}")))
}

/// One entry of the kubeconfig.
struct Context {
    name: String,
    server: String,
    ca_file: PathBuf,
    token: String,
}

fn kubeconfig(contexts: &[Context]) -> String {
    let mut out = String::from(
        "apiVersion: v1\nkind: Config\npreferences: {}\ncurrent-context: federation\nclusters:\n",
    );
    for c in contexts {
        let _ = writeln!(
            out,
            "- name: {}\n  cluster:\n    server: {}\n    certificate-authority: {}",
            c.name,
            c.server,
            c.ca_file.display()
        );
    }
    out.push_str("users:\n");
    for c in contexts {
        let _ = writeln!(out, "- name: {}-admin\n  user:\n    token: {}", c.name, c.token);
    }
    out.push_str("contexts:\n");
    for c in contexts {
        let _ = writeln!(
            out,
            "- name: {0}\n  context:\n    cluster: {0}\n    user: {0}-admin",
            c.name
        );
    }
    out
}

/// Runs the local federation until `shutdown`.
pub(crate) async fn run(options: LocalUpOptions, shutdown: CancellationToken) -> Result<(), LocalUpError> {
    let dir = std::path::absolute(&options.dir).map_err(io(&options.dir))?;
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let mut contexts = Vec::new();

    // The federation apiserver.
    let federation_dir = dir.join("federation");
    std::fs::create_dir_all(&federation_dir).map_err(io(&federation_dir))?;
    let token = random_token()?;
    let tokens = federation_dir.join("tokens.csv");
    write_private(&tokens, &format!("{token},admin,admin,system:masters\n"))?;
    let port = if options.port == 0 {
        free_port()?
    } else {
        options.port
    };
    let args: Vec<String> = [
        "--data-dir",
        &federation_dir.join("data").display().to_string(),
        "--cert-dir",
        &federation_dir.join("certs").display().to_string(),
        "--bind-address",
        "127.0.0.1",
        "--secure-port",
        &port.to_string(),
        "--token-auth-file",
        &tokens.display().to_string(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let apiserver_options: fcp_apiserver::ApiServerOptions = parse_args("federation-apiserver", &args)?;
    let apiserver = fcp_apiserver::start(apiserver_options, shutdown.clone())
        .await
        .map_err(|e| component("federation apiserver")(e.to_string()))?;
    let address = apiserver
        .secure_address()
        .ok_or_else(|| LocalUpError::Component("the federation apiserver has no secure port".into()))?;
    let ca_file = apiserver
        .generated_ca_file()
        .map(Path::to_path_buf)
        .ok_or_else(|| LocalUpError::Component("the federation apiserver has no generated CA".into()))?;
    contexts.push(Context {
        name: "federation".into(),
        server: format!("https://{address}"),
        ca_file,
        token,
    });

    // The simulated members.
    let mut members = Vec::new();
    let zones = ["us-east1-a", "us-east1-b", "europe-west1-a", "asia-east1-a"];
    for i in 1..=usize::from(options.clusters) {
        let name = format!("cluster-{i}");
        let member_dir = dir.join(&name);
        std::fs::create_dir_all(&member_dir).map_err(io(&member_dir))?;
        let token = random_token()?;
        let tokens = member_dir.join("tokens.csv");
        write_private(
            &tokens,
            &format!("{token},federation,federation,system:masters\n"),
        )?;
        let zone = zones[(i - 1) % zones.len()];
        let region = zone.rsplit_once('-').map_or(zone, |(region, _)| region);
        let args: Vec<String> = [
            "--name",
            name.as_str(),
            "--zone",
            zone,
            "--region",
            region,
            "--ready-after",
            &format!("{}ms", options.ready_after.as_millis()),
            "--data-dir",
            &member_dir.join("data").display().to_string(),
            "--cert-dir",
            &member_dir.join("certs").display().to_string(),
            "--bind-address",
            "127.0.0.1",
            "--secure-port",
            &free_port()?.to_string(),
            "--token-auth-file",
            &tokens.display().to_string(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let sim_options: fcp_simcluster::SimClusterOptions = parse_args("sim-cluster", &args)?;
        let member = fcp_simcluster::start(sim_options, shutdown.clone())
            .await
            .map_err(|e| component(&name)(e.to_string()))?;
        let address = member
            .secure_address()
            .ok_or_else(|| LocalUpError::Component(format!("{name} has no secure port")))?;
        let ca_file = member
            .generated_ca_file()
            .map(Path::to_path_buf)
            .ok_or_else(|| LocalUpError::Component(format!("{name} has no generated CA")))?;
        contexts.push(Context {
            name: name.clone(),
            server: format!("https://{address}"),
            ca_file,
            token,
        });
        members.push(member);
    }
    let kubeconfig_path = dir.join("kubeconfig");
    write_private(&kubeconfig_path, &kubeconfig(&contexts))?;

    // Join the members.
    let client = federation_client(&contexts[0]).await?;
    join_members(&client, &contexts[1..]).await?;

    // The controller manager, configured like any client of the federation.
    let manager_args: Vec<String> = [
        "--kubeconfig",
        &kubeconfig_path.display().to_string(),
        "--cluster-monitor-period",
        &format!("{}ms", options.cluster_monitor_period.as_millis()),
        "--port",
        "0",
        "--address",
        "127.0.0.1",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let manager_options: fcp_controllers::ControllerManagerOptions =
        parse_args("federation-controller-manager", &manager_args)?;
    let manager = fcp_controllers::start(manager_options, shutdown.clone())
        .await
        .map_err(|e| component("controller manager")(e.to_string()))?;
    let status = manager
        .status_address()
        .map(|a| a.to_string())
        .unwrap_or_default();

    println!(
        "{}",
        banner(
            &kubeconfig_path,
            options.clusters,
            &status,
            address_of(&contexts[0])
        )
    );
    info!(dir = %dir.display(), "local federation running; Ctrl-C stops it");

    shutdown.cancelled().await;
    let manager_result = manager.wait().await;
    for member in members {
        member
            .wait()
            .await
            .map_err(|e| component("simulated cluster")(e.to_string()))?;
    }
    apiserver
        .wait()
        .await
        .map_err(|e| component("federation apiserver")(e.to_string()))?;
    manager_result.map_err(|e| component("controller manager")(e.to_string()))?;
    println!("local federation stopped; its state stays in {}", dir.display());
    Ok(())
}

fn address_of(context: &Context) -> &str {
    &context.server
}

/// What to try, printed once everything runs.
fn banner(kubeconfig: &Path, clusters: u16, status: &str, server: &str) -> String {
    let kubeconfig = kubeconfig.display();
    format!(
        "\nA federation with {clusters} SIMULATED member clusters is running.\n\
         \n  federation apiserver   {server}\n  controller manager     http://{status}/metrics\n  kubeconfig             {kubeconfig}\n\
         \nTry:\n\
         \n  export KUBECONFIG={kubeconfig}\
         \n  kubectl get clusters\
         \n  kubectl create deployment web --image=nginx --replicas=8\
         \n  kubectl annotate deployment web federation.kubernetes.io/deployment-preferences='{{\"rebalance\":true,\"clusters\":{{\"cluster-1\":{{\"weight\":2}},\"*\":{{\"weight\":1}}}}}}'\
         \n  kubectl --context cluster-1 get deployment web     # 4 replicas; cluster-2 and cluster-3 run 2 each\
         \n  kubectl get deployment web                         # status rolled up from the members: 8/8\
         \n  kubectl create configmap settings --from-literal=greeting=hello\
         \n  kubectl --context cluster-2 get configmap settings\
         \n\nCtrl-C stops everything.\n"
    )
}

async fn federation_client(context: &Context) -> Result<kube::Client, LocalUpError> {
    let ca = std::fs::read(&context.ca_file).map_err(io(&context.ca_file))?;
    let mut config = kube::Config::new(
        context
            .server
            .parse()
            .map_err(|e| LocalUpError::Component(format!("federation URL: {e}")))?,
    );
    config.auth_info.token = Some(context.token.clone().into());
    config.root_cert = Some(pem_to_der(&ca)?);
    kube::Client::try_from(config).map_err(|e| component("federation client")(e.to_string()))
}

fn pem_to_der(pem: &[u8]) -> Result<Vec<Vec<u8>>, LocalUpError> {
    use rustls_pki_types::{CertificateDer, pem::PemObject};
    CertificateDer::pem_slice_iter(pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| LocalUpError::Component(format!("CA certificate: {e}")))
}

/// Creates or updates each member's Cluster and credentials secret (server-side apply, so a second run
/// over the same DIR updates addresses and tokens in place).
async fn join_members(client: &kube::Client, members: &[Context]) -> Result<(), LocalUpError> {
    let params = PatchParams::apply("fcp-local-up").force();
    let secrets = Api::<Secret>::namespaced(client.clone(), CREDENTIALS_NAMESPACE);
    let clusters = Api::<Cluster>::all(client.clone());
    ensure_namespace(client).await?;
    for (i, member) in members.iter().enumerate() {
        let ca = std::fs::read(&member.ca_file).map_err(io(&member.ca_file))?;
        let secret_name = format!("{}-credentials", member.name);
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(secret_name.clone()),
                namespace: Some(CREDENTIALS_NAMESPACE.to_owned()),
                ..ObjectMeta::default()
            },
            data: Some(
                [
                    ("token".to_owned(), ByteString(member.token.clone().into_bytes())),
                    ("ca.crt".to_owned(), ByteString(ca)),
                ]
                .into(),
            ),
            type_: Some("Opaque".to_owned()),
            ..Secret::default()
        };
        let mut secret_value =
            serde_json::to_value(&secret).map_err(|e| component("secret")(e.to_string()))?;
        secret_value["apiVersion"] = "v1".into();
        secret_value["kind"] = "Secret".into();
        secrets
            .patch(&secret_name, &params, &Patch::Apply(&secret_value))
            .await
            .map_err(|e| component(&format!("credentials secret of {}", member.name))(e.to_string()))?;
        let mut cluster = Cluster::new(
            &member.name,
            ClusterSpec {
                server_address_by_client_cidrs: vec![ServerAddressByClientCIDR {
                    client_cidr: "0.0.0.0/0".into(),
                    server_address: member.server.clone(),
                }],
                secret_ref: Some(LocalObjectReference { name: secret_name }),
            },
        );
        cluster.metadata.labels = Some([("cluster".to_owned(), (i + 1).to_string())].into());
        let value = serde_json::to_value(&cluster).map_err(|e| component("cluster")(e.to_string()))?;
        clusters
            .patch(&member.name, &params, &Patch::Apply(&value))
            .await
            .map_err(|e| component(&format!("cluster {}", member.name))(e.to_string()))?;
    }
    Ok(())
}

/// Creates the federation-only namespace before the secrets go in (the controller manager would create it
/// too, but it starts after the join).
async fn ensure_namespace(client: &kube::Client) -> Result<(), LocalUpError> {
    let namespaces = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone());
    let value = serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": CREDENTIALS_NAMESPACE, "annotations": {
            fcp_api::names::CLUSTER_SELECTOR_ANNOTATION: fcp_api::names::FEDERATION_CONTROL_PLANE_SELECTOR_VALUE}}
    });
    namespaces
        .patch(
            CREDENTIALS_NAMESPACE,
            &PatchParams::apply("fcp-local-up").force(),
            &Patch::Apply(&value),
        )
        .await
        .map(|_| ())
        .map_err(|e| component("federation-only namespace")(e.to_string()))
}
