//! The year-end archive (regulation 6.3): freezing a school year makes its documents read-only, and the
//! bundle holds every document in Automerge form and as readable JSON, a manifest of SHA-256 hashes, and
//! the manifest's Ed25519 signature by the relay's archive key. `verify` checks all of it.

use std::path::{Path, PathBuf};

use automerge::{AutoSerde, Automerge};
use journal_core::{DocId, YearId};
use ring::digest::{SHA256, digest};
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::store::{RelayStore, StoreError};

const KEY_FILE: &str = "archive-signing.key";

/// An archive operation failed.
#[derive(Debug, Error)]
pub enum ArchiveError {
    /// Files could not be read or written.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bundle's output folder is not empty.
    #[error("{0} is not empty; write the archive into a new folder")]
    NotEmpty(String),
    /// Verification failed.
    #[error("the archive does not verify: {0}")]
    Invalid(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ArchiveError {
    let what = what.into();
    move |e| ArchiveError::Io(what, e)
}

/// One file of the bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleFile {
    /// Path inside the bundle.
    pub path: String,
    /// Its SHA-256.
    pub sha256: String,
}

/// The signed table of contents of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveManifest {
    /// The school year, `2026-2027`.
    pub year: String,
    /// When the bundle was made (Unix seconds).
    pub created_at: i64,
    /// The relay's archive public key (Ed25519, hex).
    pub public_key: String,
    /// Every file with its hash.
    pub files: Vec<BundleFile>,
}

/// The relay's archive signing key, created on first use (readable only by its owner).
pub fn signing_key(data_dir: &Path) -> Result<Ed25519KeyPair, ArchiveError> {
    let path = data_dir.join(KEY_FILE);
    let pkcs8 = if path.exists() {
        std::fs::read(&path).map_err(io(format!("cannot read {}", path.display())))?
    } else {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| ArchiveError::Invalid("cannot generate a signing key".into()))?;
        std::fs::write(&path, pkcs8.as_ref())
            .map_err(io(format!("cannot write {}", path.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(io("cannot restrict the signing key"))?;
        }
        pkcs8.as_ref().to_vec()
    };
    Ed25519KeyPair::from_pkcs8(&pkcs8)
        .map_err(|_| ArchiveError::Invalid(format!("{} is not an Ed25519 key", path.display())))
}

/// The hex public key of the relay's archive signing key, for the IT officer to record.
pub fn public_key(data_dir: &Path) -> Result<String, ArchiveError> {
    Ok(hex::encode(signing_key(data_dir)?.public_key().as_ref()))
}

fn file_name(id: &DocId) -> String {
    id.to_string().replace('/', "_")
}

/// Freezes `year` and writes its bundle into the empty folder `out`; returns the manifest.
pub fn freeze_and_export(
    store: &dyn RelayStore,
    data_dir: &Path,
    year: YearId,
    out: &Path,
    now: i64,
) -> Result<ArchiveManifest, ArchiveError> {
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(io("cannot read the output folder"))?
            .next()
            .is_some()
    {
        return Err(ArchiveError::NotEmpty(out.display().to_string()));
    }
    store.freeze_year(year, now)?;
    let key = signing_key(data_dir)?;
    let documents = out.join("documents");
    std::fs::create_dir_all(&documents)
        .map_err(io(format!("cannot create {}", documents.display())))?;
    let mut files = Vec::new();
    for (id, _) in store.document_heads()? {
        let Ok(doc_id) = id.parse::<DocId>() else {
            continue;
        };
        if doc_id.year() != year {
            continue;
        }
        let Some(bytes) = store.load_document(&id)? else {
            continue;
        };
        let doc =
            Automerge::load(&bytes).map_err(|e| ArchiveError::Invalid(format!("{id}: {e}")))?;
        let binary = doc.save();
        let json =
            serde_json::to_vec_pretty(&AutoSerde::from(&doc)).expect("documents serialise to JSON");
        for (suffix, content) in [("automerge", binary), ("json", json)] {
            let path = format!("documents/{}.{suffix}", file_name(&doc_id));
            std::fs::write(out.join(&path), &content)
                .map_err(io(format!("cannot write {path}")))?;
            files.push(BundleFile {
                path,
                sha256: hex::encode(digest(&SHA256, &content).as_ref()),
            });
        }
    }
    let manifest = ArchiveManifest {
        year: year.to_string(),
        created_at: now,
        public_key: hex::encode(key.public_key().as_ref()),
        files,
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).expect("manifests serialise");
    std::fs::write(out.join("manifest.json"), &manifest_bytes)
        .map_err(io("cannot write the manifest"))?;
    std::fs::write(out.join("manifest.sig"), key.sign(&manifest_bytes).as_ref())
        .map_err(io("cannot write the signature"))?;
    Ok(manifest)
}

/// Checks a bundle: the signature over the manifest (by `expected_key` when given), every file's hash,
/// that every Automerge file loads, and that no file is missing or extra.
pub fn verify(bundle: &Path, expected_key: Option<&str>) -> Result<ArchiveManifest, ArchiveError> {
    let bad = |reason: String| ArchiveError::Invalid(reason);
    let manifest_bytes = std::fs::read(bundle.join("manifest.json"))
        .map_err(|_| bad("manifest.json is missing".into()))?;
    let signature = std::fs::read(bundle.join("manifest.sig"))
        .map_err(|_| bad("manifest.sig is missing".into()))?;
    let manifest: ArchiveManifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|_| bad("manifest.json is unreadable".into()))?;
    if let Some(expected) = expected_key
        && expected != manifest.public_key
    {
        return Err(bad("it was signed by another key than this relay's".into()));
    }
    let public = hex::decode(&manifest.public_key)
        .ok()
        .ok_or_else(|| bad("the public key is malformed".into()))?;
    UnparsedPublicKey::new(&ED25519, public)
        .verify(&manifest_bytes, &signature)
        .map_err(|_| bad("the signature does not match the manifest".into()))?;
    for file in &manifest.files {
        let content = std::fs::read(bundle.join(&file.path))
            .map_err(|_| bad(format!("{} is missing", file.path)))?;
        if hex::encode(digest(&SHA256, &content).as_ref()) != file.sha256 {
            return Err(bad(format!("{} was changed", file.path)));
        }
        if file.path.ends_with(".automerge") {
            Automerge::load(&content)
                .map_err(|e| bad(format!("{} does not load: {e}", file.path)))?;
        }
    }
    let listed: std::collections::BTreeSet<&str> =
        manifest.files.iter().map(|f| f.path.as_str()).collect();
    for entry in std::fs::read_dir(bundle.join("documents"))
        .map_err(|_| bad("documents/ is missing".into()))?
    {
        let name = entry.map_err(io("cannot list the bundle"))?.file_name();
        let path = format!("documents/{}", name.to_string_lossy());
        if !listed.contains(path.as_str()) {
            return Err(bad(format!("{path} is not in the manifest")));
        }
    }
    Ok(manifest)
}

/// The folder name used when none is given: `archive-2026-2027`.
pub fn default_folder(data_dir: &Path, year: YearId) -> PathBuf {
    data_dir.join(format!("archive-{year}"))
}
