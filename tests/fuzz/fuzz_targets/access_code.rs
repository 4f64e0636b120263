#![no_main]
//! Fuzz target: `journal_relay::fuzzing::access_code`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    journal_relay::fuzzing::quiet_caught_panics();
    journal_relay::fuzzing::access_code(data)
});
