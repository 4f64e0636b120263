#![no_main]
//! Fuzz target: one relay session's sync-message handling (`journal_relay::fuzzing::Session`).

use std::sync::LazyLock;

static SESSION: LazyLock<journal_relay::fuzzing::Session> =
    LazyLock::new(journal_relay::fuzzing::Session::new);

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    journal_relay::fuzzing::quiet_caught_panics();
    SESSION.message(data)
});
