//! Entry points for the fuzz targets in `tests/fuzz`, and for the test that replays every input they kept
//! (`tests/fuzz/regressions/<target>/`). Each takes arbitrary bytes and must neither panic nor hang.

use std::sync::Arc;

use journal_core::access_code::AccessCode;
use journal_core::docs::Document;
use journal_core::sync::protocol::{BatchRequest, WireMessage, decode};
use journal_core::validate::{ValidationContext, validate_document};
use journal_core::{DocId, YearId};

use crate::acl::Grants;
use crate::app::{App, Limits};
use crate::hub::{Hub, attribution};
use crate::store::sqlite::SqliteStore;

/// The year the fuzzers work in.
const YEAR: YearId = YearId(2026);

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

/// One relay session's sync-message handling: a class teacher's grants over the demo school, every message
/// going through the access rules, the validator and the store.
pub struct Session {
    runtime: tokio::runtime::Runtime,
    app: Arc<App>,
    grants: Grants,
    documents: Vec<DocId>,
}

impl Session {
    /// A relay in memory with the demo school, and the session of its class teacher `t-5a`.
    pub fn new() -> Session {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let store = Arc::new(SqliteStore::open_in_memory().expect("an in-memory store"));
        let (_, shutdown) = tokio::sync::watch::channel(false);
        let app = Arc::new(App::new(
            Hub::new(store),
            Limits::default(),
            shutdown,
            "fuzz".into(),
            crate::secrets::HashKey::random(),
        ));
        runtime
            .block_on(crate::demo::seed(&app, YEAR))
            .expect("the demo school");
        let grants = Grants::load(app.store().as_ref(), "t-5a", Some(YEAR))
            .expect("grants")
            .expect("an active account");
        Session {
            runtime,
            app,
            grants,
            documents: documents(),
        }
    }

    /// One message: the first byte picks the document and whether it is a `sync` (may create) or a
    /// `request`; the rest is the sync message.
    pub fn message(&self, data: &[u8]) {
        let Some((&head, message)) = data.split_first() else {
            return;
        };
        let doc = &self.documents[usize::from(head) % self.documents.len()];
        let create = head & 0x80 != 0;
        let by = attribution("t-5a", "fuzz-device");
        let mut state = automerge::sync::State::new();
        let _ = self.runtime.block_on(self.app.hub.receive(
            &self.grants,
            &by,
            1,
            &mut state,
            doc,
            message,
            create,
        ));
    }
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}
