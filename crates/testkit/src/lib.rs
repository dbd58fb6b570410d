//! Test-only helpers shared by the crates' integration tests: a real etcd process on a free loopback port
//! ([`etcd::TestEtcd`]), an in-process federation apiserver on port 0 ([`apiserver::TestApiServer`]).

#[cfg(feature = "apiserver")]
pub mod apiserver;
pub mod etcd;

/// A free TCP port on 127.0.0.1 (bound and released; the caller should use it promptly).
///
/// # Panics
/// When no port can be bound, which only happens on a broken test machine.
#[must_use]
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener
        .local_addr()
        .expect("local addr of a bound listener")
        .port()
}
