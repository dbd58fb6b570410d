//! End-to-end tests.

#![allow(clippy::unwrap_used)] // Test code: a panic is a failed assertion.

mod apiserver;
mod image;
mod kubectl;
mod local_up;
