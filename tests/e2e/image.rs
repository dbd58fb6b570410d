//! The release image `fcp-amd64.tar` (DESIGN.md §8), as `make image` writes it.
//!
//! `make test-image` builds the archive and runs this with `FCP_IMAGE_TAR` pointing at it; without that variable
//! the test is skipped (a static release build is too slow for `cargo test`). It checks the docker-archive's
//! structure and digests, then, when a Docker engine answers, loads the image and runs it: `version` through the
//! entrypoint, both servers through their symlinks, and the API server with its defaults until `docker stop`. `FCP_REQUIRE_DOCKER=1` turns a missing engine into a
//! failure.

use std::{
    collections::BTreeMap,
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// One entry of a tar archive, as much as the checks need.
struct Entry {
    kind: tar::EntryType,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    link: Option<PathBuf>,
    data: Vec<u8>,
}

/// Every entry of a tar archive, by path (directories without their trailing `/`).
fn read_tar(bytes: &[u8]) -> BTreeMap<String, Entry> {
    let mut archive = tar::Archive::new(bytes);
    let mut entries = BTreeMap::new();
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let header = entry.header().clone();
        let path = entry
            .path()
            .expect("entry path")
            .to_string_lossy()
            .trim_end_matches('/')
            .to_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("entry data");
        let previous = entries.insert(
            path.clone(),
            Entry {
                kind: header.entry_type(),
                mode: header.mode().expect("mode"),
                uid: header.uid().expect("uid"),
                gid: header.gid().expect("gid"),
                mtime: header.mtime().expect("mtime"),
                link: entry
                    .link_name()
                    .expect("link name")
                    .map(|link| link.into_owned()),
                data,
            },
        );
        assert!(previous.is_none(), "{path} appears twice");
    }
    entries
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn json(entries: &BTreeMap<String, Entry>, name: &str) -> Value {
    let entry = entries
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing from the archive"));
    serde_json::from_slice(&entry.data).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// What the docker part needs to know about a valid archive.
struct Image {
    tags: Vec<String>,
    version: String,
}

/// Checks a docker-archive the way `docker load` reads it, plus what the image must contain.
fn check_archive(path: &Path) -> Image {
    let bytes = std::fs::read(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let outer = read_tar(&bytes);

    let manifest = json(&outer, "manifest.json");
    let [manifest] = manifest.as_array().expect("manifest.json is an array").as_slice() else {
        panic!("manifest.json must describe exactly one image: {manifest}");
    };
    let config_name = manifest["Config"].as_str().expect("manifest Config");
    let tags: Vec<String> = manifest["RepoTags"]
        .as_array()
        .expect("manifest RepoTags")
        .iter()
        .map(|tag| tag.as_str().expect("tag is a string").to_owned())
        .collect();
    let layers: Vec<&str> = manifest["Layers"]
        .as_array()
        .expect("manifest Layers")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let [layer_name] = layers.as_slice() else {
        panic!("the image must have exactly one layer: {layers:?}");
    };

    let config_bytes = &outer.get(config_name).expect("config blob").data;
    assert_eq!(
        config_name,
        format!("{}.json", sha256_hex(config_bytes)),
        "the config blob is named after its digest"
    );
    let config = json(&outer, config_name);
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");
    assert_eq!(config["config"]["Entrypoint"], serde_json::json!(["/fcp"]));
    assert_eq!(config["config"]["User"], "65534:65534");
    let labels = &config["config"]["Labels"];
    let version = labels["org.opencontainers.image.version"]
        .as_str()
        .expect("version label")
        .to_owned();
    assert!(!version.is_empty());
    assert!(
        labels["org.opencontainers.image.revision"].is_string(),
        "revision label: {labels}"
    );
    let name = tags
        .first()
        .and_then(|tag| tag.rsplit_once(':'))
        .map(|(name, _)| name)
        .expect("a tag");
    assert_eq!(
        tags,
        [
            format!("{name}:{}", version.replace('+', "_")),
            format!("{name}:latest")
        ]
    );

    let layer_bytes = &outer.get(*layer_name).expect("layer.tar").data;
    assert_eq!(
        config["rootfs"]["diff_ids"],
        serde_json::json!([format!("sha256:{}", sha256_hex(layer_bytes))]),
        "rootfs.diff_ids holds the digest of the uncompressed layer"
    );

    let layer = read_tar(layer_bytes);
    let names: Vec<&str> = layer.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "etc",
            "etc/group",
            "etc/passwd",
            "fcp",
            "federation-apiserver",
            "federation-controller-manager",
            "tmp",
            "var",
            "var/lib",
            "var/lib/fcp",
        ],
        "layer contents"
    );
    for (name, entry) in &layer {
        let owner = if name == "var/lib/fcp" { 65534 } else { 0 };
        assert_eq!(
            (entry.uid, entry.gid, entry.mtime),
            (owner, owner, 0),
            "{name}: owner and mtime (reproducible)"
        );
    }
    let fcp = &layer["fcp"];
    assert_eq!(fcp.kind, tar::EntryType::Regular);
    assert_eq!(fcp.mode & 0o7777, 0o755, "/fcp mode");
    assert!(fcp.data.starts_with(b"\x7fELF"), "/fcp is an ELF executable");
    assert!(
        fcp.data.len() > 1_000_000,
        "/fcp is suspiciously small: {} bytes",
        fcp.data.len()
    );
    for link in ["federation-apiserver", "federation-controller-manager"] {
        assert_eq!(layer[link].kind, tar::EntryType::Symlink, "/{link} is a symlink");
        assert_eq!(
            layer[link].link.as_deref(),
            Some(Path::new("/fcp")),
            "/{link} points to /fcp"
        );
    }
    assert_eq!(layer["tmp"].kind, tar::EntryType::Directory);
    assert_eq!(layer["tmp"].mode & 0o7777, 0o1777, "/tmp mode");
    assert_eq!(config["config"]["WorkingDir"], "/var/lib/fcp");
    assert_eq!(layer["var/lib/fcp"].kind, tar::EntryType::Directory);
    assert_eq!(layer["var/lib/fcp"].mode & 0o7777, 0o700, "/var/lib/fcp mode");
    let passwd = String::from_utf8_lossy(&layer["etc/passwd"].data).into_owned();
    assert!(
        passwd
            .lines()
            .any(|line| line.starts_with("nobody:x:65534:65534:")),
        "{passwd}"
    );
    let group = String::from_utf8_lossy(&layer["etc/group"].data).into_owned();
    assert!(
        group.lines().any(|line| line.starts_with("nobody:x:65534:")),
        "{group}"
    );

    Image { tags, version }
}

fn docker<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(args: &[S]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("docker {args:?}: {err}"))
}

fn docker_ok<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(args: &[S]) -> String {
    let output = docker(args);
    assert!(
        output.status.success(),
        "docker {args:?}: {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn docker_answers() -> bool {
    Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Removes the loaded tags when the test ends, failed or not.
struct LoadedTags(Vec<String>);

impl Drop for LoadedTags {
    fn drop(&mut self) {
        let mut args = vec!["rmi".to_owned()];
        args.extend(self.0.iter().cloned());
        let _ = Command::new("docker").args(&args).output();
    }
}

/// Removes a container when the test ends, failed or not.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

/// The API server starts with its defaults as user nobody (the embedded store and the generated serving
/// certificate go to the working directory), and `docker stop` (SIGTERM to PID 1) shuts it down gracefully with status 0.
fn check_graceful_stop(tag: &str) {
    let id = docker_ok(&[
        "run",
        "-d",
        "--network",
        "none",
        tag,
        "federation-apiserver",
        "--insecure-port",
        "8080",
    ]);
    let container = Container(id.trim().to_owned());
    std::thread::sleep(std::time::Duration::from_secs(2));
    let logs = || {
        let output = docker(&["logs", &container.0]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    };
    let running = docker_ok(&["inspect", "--format", "{{.State.Running}}", &container.0]);
    assert_eq!(running.trim(), "true", "the apiserver exited early:\n{}", logs());
    // Secure by default: HTTPS on 6443 with a certificate generated into the working directory.
    assert!(logs().contains("serving HTTPS"), "{}", logs());
    docker_ok(&["stop", "--time", "20", &container.0]);
    let status = docker_ok(&["inspect", "--format", "{{.State.ExitCode}}", &container.0]);
    assert_eq!(status.trim(), "0", "exit status after docker stop:\n{}", logs());
    assert!(logs().contains("shutting down gracefully"), "{}", logs());
}

/// Loads the archive into the engine and runs it.
fn check_with_docker(path: &Path, image: &Image) {
    let loaded = docker_ok(&["load", "-i", path.to_str().expect("utf-8 path")]);
    let _cleanup = LoadedTags(image.tags.clone());
    for tag in &image.tags {
        assert!(
            loaded.contains(&format!("Loaded image: {tag}")),
            "docker load said: {loaded}"
        );
    }
    let tag = image.tags[0].as_str();

    let user = docker_ok(&["image", "inspect", "--format", "{{.Config.User}}", tag]);
    assert_eq!(user.trim(), "65534:65534");

    let version = docker_ok(&["run", "--rm", "--network", "none", tag, "version"]);
    assert!(
        version.starts_with(&format!("fcp {} ", image.version)),
        "fcp version printed: {version}"
    );
    assert!(
        version.contains("Kubernetes API v1."),
        "fcp version printed: {version}"
    );

    check_help_through_symlink(tag, "federation-apiserver", "--etcd-servers");

    check_graceful_stop(tag);

    let controller_manager = docker(&run_through_symlink(tag, "federation-controller-manager", &[]));
    // Outside a cluster and without --kubeconfig or --master it has no federation to talk to: one line
    // naming the cause, exit 1.
    let stderr = String::from_utf8_lossy(&controller_manager.stderr);
    assert_eq!(controller_manager.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: federation apiserver client: no --kubeconfig or --master"),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().filter(|line| line.starts_with("error:")).count(),
        1,
        "{stderr}"
    );
    check_help_through_symlink(tag, "federation-controller-manager", "--cluster-monitor-period");
}

/// `docker run` arguments that start `/<command>` (one of the image's symlinks to fcp) with `args`, offline.
fn run_through_symlink(tag: &str, command: &str, args: &[&str]) -> Vec<String> {
    let mut argv: Vec<String> = ["run", "--rm", "--network", "none", "--entrypoint"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    argv.push(format!("/{command}"));
    argv.push(tag.to_owned());
    argv.extend(args.iter().map(|s| (*s).to_owned()));
    argv
}

/// `/<command> --help` in the image names the command (argv[0] dispatch) and lists `flag`.
fn check_help_through_symlink(tag: &str, command: &str, flag: &str) {
    let help = docker_ok(&run_through_symlink(tag, command, &["--help"]));
    assert!(
        help.contains(&format!("Usage: {command}")),
        "help through the symlink: {help}"
    );
    assert!(help.contains(flag), "help through the symlink: {help}");
}

#[test]
fn release_image_archive_loads_and_runs() {
    let Some(path) = std::env::var_os("FCP_IMAGE_TAR").map(PathBuf::from) else {
        eprintln!("skipped: FCP_IMAGE_TAR is not set (`make test-image` builds the image and sets it)");
        return;
    };
    let image = check_archive(&path);
    eprintln!("{}: archive OK, tags {:?}", path.display(), image.tags);

    if docker_answers() {
        check_with_docker(&path, &image);
        eprintln!("{}: docker load and run OK", path.display());
    } else if std::env::var("FCP_REQUIRE_DOCKER").is_ok_and(|value| value == "1") {
        panic!("FCP_REQUIRE_DOCKER=1 but no Docker engine answers `docker info`");
    } else {
        eprintln!("skipped the docker part: no Docker engine answers `docker info`");
    }
}
