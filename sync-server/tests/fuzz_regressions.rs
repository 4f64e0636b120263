//! Replays every input the fuzz targets kept (`tests/fuzz/regressions/<target>/`: crashes they found, and the
//! seeds they start from) through the same entry points, so a fixed crash stays fixed.

use std::path::{Path, PathBuf};

use journal_relay::fuzzing;

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no inputs", dir.display());
    files
}

fn replay(target: &str, run: impl Fn(&[u8])) {
    for file in inputs(target) {
        let data = std::fs::read(&file).expect("read");
        run(&data);
    }
}

#[test]
fn frame_inputs_replay() {
    replay("frame", fuzzing::frame);
}

#[test]
fn access_code_inputs_replay() {
    replay("access_code", fuzzing::access_code);
}

#[test]
fn validator_inputs_replay() {
    replay("validator", fuzzing::validator);
}

#[test]
fn session_inputs_replay() {
    let session = std::cell::RefCell::new(journal_core::testing::PeerSession::new());
    replay("session", |data| session.borrow_mut().message(data));
}
