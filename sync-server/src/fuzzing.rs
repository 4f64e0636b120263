//! Entry points for the fuzz targets in `tests/fuzz`, and for the test that replays every input they kept
//! (`tests/fuzz/regressions/<target>/`). Each takes arbitrary bytes and must neither panic nor hang. The
//! `session` target drives the sync peer itself: `journal_core::testing::PeerSession`.

use journal_core::DocId;
use journal_core::access_code::AccessCode;
use journal_core::docs::Document;
use journal_core::sync::protocol::{BatchRequest, WireMessage, decode};
use journal_core::validate::{ValidationContext, validate_document};

/// Documents a fuzzed message may address, one per kind, some readable by the session's account.
fn documents() -> Vec<DocId> {
    [
        "2026-2027/school",
        "2026-2027/class/5a",
        "2026-2027/class/6b",
        "2026-2027/student/s5a1",
        "2026-2027/student/s6b1",
        "2026-2027/profile/s5a1",
        "2026-2027/thread/t1",
        "2026-2027/thread/new",
    ]
    .iter()
    .map(|id| id.parse().expect("a valid document id"))
    .collect()
}

/// Replaces libFuzzer's panic hook, which aborts even on a panic the code catches (the core turns
/// Automerge's panics on malformed bytes into errors); a panic nobody catches still fails the target.
pub fn quiet_caught_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(|_| {})));
}

/// The relay's frame decoder: a WebSocket frame or an HTTP batch body.
pub fn frame(data: &[u8]) {
    let _ = decode::<WireMessage>(data);
    let _ = decode::<BatchRequest>(data);
}

/// The access-code parser: whatever it accepts prints back to a code that parses to the same value.
pub fn access_code(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(code) = text.parse::<AccessCode>() {
        let again: AccessCode = code
            .to_string()
            .parse()
            .expect("a printed code parses again");
        assert!(again == code, "a printed code parses to the same code");
    }
}

/// The validator, fed arbitrary bytes as a saved document of every kind, the way a device loads what the
/// relay sends and the relay loads what it stored.
pub fn validator(data: &[u8]) {
    let actor = automerge::ActorId::random();
    for id in documents() {
        if let Ok(doc) =
            Document::load_checked(id.clone(), data, &actor, &ValidationContext::default())
        {
            // Whatever loads must pass the validator again, unchanged.
            validate_document(&id, doc.automerge(), &ValidationContext::default())
                .expect("a loaded document validates again");
        }
    }
}
