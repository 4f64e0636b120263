//! The façade the mobile apps will load through uniffi. It re-exports the core until the bindings issue adds
//! the exported API.

pub use journal_core as core_api;
