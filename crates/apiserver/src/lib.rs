//! The federation apiserver: a Kubernetes-compatible API server over a storage [`fcp_storage::Backend`].
//!
//! # Layout
//! - [`options`]: the command-line flags; [`server`]: start-up, listeners, shutdown, compaction.
//! - `http`: routing of kube-style paths, discovery, handlers, watch streaming.
//! - `registry`: the generic store and the per-kind strategies; `resources`: the served kinds.
//! - `error`: every failure becomes a Kubernetes `Status` in one place.
//! - [`serving`]: HTTPS listeners (rustls); [`auth`]: authentication, authorization, in-flight limits, audit;
//!   [`admission`]: plugins on every write.

pub mod options;
pub mod server;
pub mod version;

pub use options::{ApiServerOptions, Profile};
pub use server::{Server, StartupError, run, start};

pub mod admission;
pub mod auth;
mod error;
pub mod http;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod registry;
pub mod resources;
pub mod serving;

pub use error::{ApiError, ApiResult};
