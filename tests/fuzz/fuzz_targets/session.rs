#![no_main]
//! Fuzz target: the relay's sync peer in one session (`journal_core::testing::PeerSession`), driven
//! directly, with no runtime and no database.

use std::sync::{LazyLock, Mutex};

static SESSION: LazyLock<Mutex<journal_core::testing::PeerSession>> =
    LazyLock::new(|| Mutex::new(journal_core::testing::PeerSession::new()));

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    journal_relay::fuzzing::quiet_caught_panics();
    SESSION
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .message(data)
});
