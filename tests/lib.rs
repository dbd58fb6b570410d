//! End-to-end tests of the built binaries live in `e2e/`; this library is empty.
