//! Integration tests of the storage backends: every conformance case against etcd (a real etcd process per
//! test) and against the embedded store (a temporary directory per test), plus backend-specific durability,
//! outage and configuration-error tests.

/// Generates one `#[tokio::test]` per conformance case. The calling module must define
/// `async fn setup() -> (Guard, Box<dyn fcp_storage::Backend>)`; the guard keeps the store alive.
macro_rules! conformance_tests {
    ($($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (_guard, backend) = setup().await;
                fcp_storage::conformance::$case(
                    backend.as_ref(),
                    concat!("/registry/conformance/", stringify!($case), "/"),
                )
                .await;
            }
        )*
    };
}

/// Every case of the conformance suite (except durability, which each backend tests its own way).
macro_rules! all_conformance_tests {
    () => {
        conformance_tests!(
            create_and_get,
            create_existing_fails,
            update_with_stale_revision_conflicts,
            update_missing_key_not_found,
            delete_cases,
            list_at_past_revision,
            pagination,
            prefix_isolation,
            watch_replays_history_then_live,
            watch_from_now,
            future_revision,
            concurrent_updates_lose_nothing,
            read_at_compacted_revision,
            watch_after_compaction,
        );
    };
}

// After the macros, so that they are in (textual) scope in the modules.
mod embedded;
mod etcd;
