//! End-to-end tests.

mod apiserver;
mod image;
mod kubectl;
