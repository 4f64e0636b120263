//! End-to-end test support. The tests that start the relay on loopback arrive with the relay issue.

pub use journal_core as core_api;
