//! What this build is: the fcp version, the git commit it was built from, and the Kubernetes API level served.

use serde::Serialize;

/// The Kubernetes minor version whose API (and kubectl) fcp targets. `/version` reports it, and the kubectl
/// dispatcher picks `kubectl.1.<minor>` from it.
pub const KUBERNETES_MINOR: &str = "33";

/// The fcp release, from Cargo.
pub const FCP_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit this binary was built from (empty when built outside a git checkout).
pub const GIT_COMMIT: &str = env!("FCP_GIT_COMMIT");

/// `clean` or `dirty`.
pub const GIT_TREE_STATE: &str = env!("FCP_GIT_TREE_STATE");

/// The commit date of [`GIT_COMMIT`] (RFC 3339, UTC), so that builds are reproducible.
pub const BUILD_DATE: &str = env!("FCP_BUILD_DATE");

/// The body of `GET /version`, in the shape of Kubernetes' `version.Info`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    /// Kubernetes major version of the served API.
    pub major: &'static str,
    /// Kubernetes minor version of the served API (plain digits).
    pub minor: &'static str,
    /// `v1.<minor>.0-fcp.<fcp version>`.
    pub git_version: String,
    /// The fcp git commit.
    pub git_commit: &'static str,
    /// `clean` or `dirty`.
    pub git_tree_state: &'static str,
    /// Commit date.
    pub build_date: &'static str,
    /// The toolchain (`rustc`), in the slot where Kubernetes reports its Go version.
    pub go_version: &'static str,
    /// `rustc`.
    pub compiler: &'static str,
    /// `os/arch`.
    pub platform: String,
}

/// The version information of this build.
#[must_use]
pub fn info() -> VersionInfo {
    VersionInfo {
        major: "1",
        minor: KUBERNETES_MINOR,
        git_version: format!("v1.{KUBERNETES_MINOR}.0-fcp.{FCP_VERSION}"),
        git_commit: GIT_COMMIT,
        git_tree_state: GIT_TREE_STATE,
        build_date: BUILD_DATE,
        go_version: "rust",
        compiler: "rustc",
        platform: format!("{}/{}", std::env::consts::OS, go_arch()),
    }
}

/// One line for `fcp version`: fcp version, commit and the Kubernetes API level.
#[must_use]
pub fn summary() -> String {
    let commit = if GIT_COMMIT.is_empty() {
        "unknown"
    } else {
        GIT_COMMIT
    };
    format!(
        "fcp {FCP_VERSION} (git commit {commit}, tree {GIT_TREE_STATE}, built {BUILD_DATE}), Kubernetes API v1.{KUBERNETES_MINOR}, {}/{}",
        std::env::consts::OS,
        go_arch()
    )
}

/// The architecture name as Kubernetes spells it (`amd64`, `arm64`).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
