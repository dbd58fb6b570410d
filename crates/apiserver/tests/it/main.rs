//! Integration tests of the federation apiserver over HTTP, against the embedded store and a real etcd.
//!
//! Every scenario in `scenarios` runs on both backends (`embedded` and `etcd` modules); `etcd` also checks the
//! key layout and the behaviour during an etcd outage; `bad_input` feeds malformed requests.

#![allow(clippy::unwrap_used)] // Test code: a panic is a failed assertion.

mod admission;
mod bad_input;
mod client;
mod embedded;
mod etcd;
mod kube_client;
mod openapi;
mod patch;
mod protobuf;
mod python_client;
mod rbac;
mod scenarios;
mod security;
mod tls;
