//! The `kubefed` CLI (init, join, unjoin, version, options). Not implemented yet (roadmap step 3).
