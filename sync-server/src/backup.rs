//! Backup snapshots of the relay (regulation 6.1, 7.2): a consistent copy taken while the relay serves
//! (`VACUUM INTO`), compressed, sealed with AES-256-GCM under a key kept in its own file, with a manifest of
//! every document's heads and SHA-256 hashes. Verification decrypts and checks everything without
//! restoring; restore writes into a new data directory and refuses to overwrite a live one unless forced.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::secrets::HashKey;

/// Snapshots whose manifest is inside the file, authenticated with it: the file alone can be verified
/// and restored.
const MAGIC: &[u8; 8] = b"JRNLBAK2";
/// Older snapshots, whose manifest is only in the `.manifest.json` beside them.
const MAGIC_V1: &[u8; 8] = b"JRNLBAK1";
/// The longest manifest a snapshot may carry (a district's documents and heads fit many times over).
const MAX_MANIFEST_BYTES: u32 = 256 << 20;
const KEY_FILE: &str = "backup.key";
const DB_FILE: &str = "relay.db";

/// Where the sealed database carries the installation's hashing key, so that the codes and device tokens
/// it holds still work after a restore. A snapshot is readable only with the backup key, which opens
/// every record anyway.
const HASH_KEY_ROW: &str = "installation_hash_key";

/// A backup operation failed; nothing was overwritten.
#[derive(Debug, Error)]
pub enum BackupError {
    /// Reading or writing files failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The relay's store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The snapshot does not decrypt with this key, or was changed after it was written.
    #[error("snapshot {0} cannot be decrypted: the key is wrong or the file was damaged")]
    Undecryptable(String),
    /// A hash does not match the manifest.
    #[error("snapshot {0} does not match its manifest: the file was damaged or replaced")]
    Mismatch(String),
    /// The manifest is missing or unreadable.
    #[error("manifest of {0} is missing or unreadable")]
    Manifest(String),
    /// The restored database fails SQLite's integrity check.
    #[error("the database inside {0} is damaged: {1}")]
    Damaged(String, String),
    /// Restore would overwrite a data directory that holds a database.
    #[error("{0} already holds a relay database; restore into a new directory, or pass --force")]
    WouldOverwrite(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Io { what, source }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(digest(&SHA256, bytes).as_ref())
}

/// One document in a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestDocument {
    /// Document id.
    pub id: String,
    /// Its heads at the time of the snapshot.
    pub heads: Vec<String>,
}

/// What a snapshot holds, stored beside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// When it was taken (Unix seconds).
    pub created_at: i64,
    /// The snapshot file's name.
    pub file: String,
    /// SHA-256 of the sealed file.
    pub sealed_sha256: String,
    /// SHA-256 of the database inside.
    pub database_sha256: String,
    /// Size of the database inside, in bytes.
    pub database_bytes: u64,
    /// Every document and its heads.
    pub documents: Vec<ManifestDocument>,
}

/// The backup key of a data directory, created on first use, readable only by its owner. Keep a copy
/// away from the server: without it no snapshot can be restored.
pub fn load_or_create_key(data_dir: &Path) -> Result<[u8; 32], BackupError> {
    let path = data_dir.join(KEY_FILE);
    if path.exists() {
        let bytes = std::fs::read(&path).map_err(io(format!("cannot read {}", path.display())))?;
        return bytes.try_into().map_err(|_| {
            BackupError::Undecryptable(format!("key file {} has the wrong size", path.display()))
        });
    }
    let mut key = [0u8; 32];
    SystemRandom::new()
        .fill(&mut key)
        .expect("the operating system's random source is available");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io(format!("cannot create {}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(io("cannot restrict the key file"))?;
    }
    file.write_all(&key)
        .map_err(io("cannot write the key file"))?;
    Ok(key)
}

/// Makes `key` the backup key of `data_dir` (after a restore with the key the IT officer kept), so that
/// the relay's next snapshots are sealed with the key already in the safe. Returns whether it changed.
pub fn keep_key(data_dir: &Path, key: &[u8; 32]) -> Result<bool, BackupError> {
    let path = data_dir.join(KEY_FILE);
    if std::fs::read(&path).is_ok_and(|kept| kept == key) {
        return Ok(false);
    }
    let partial = data_dir.join(format!(".{KEY_FILE}.partial"));
    let _ = std::fs::remove_file(&partial);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&partial)
        .map_err(io(format!("cannot create {}", partial.display())))?;
    file.write_all(key)
        .and_then(|()| file.sync_all())
        .map_err(io("cannot write the key file"))?;
    std::fs::rename(&partial, &path).map_err(io(format!("cannot write {}", path.display())))?;
    Ok(true)
}

/// Reads a key from a file (for verify and restore on another machine).
pub fn read_key(path: &Path) -> Result<[u8; 32], BackupError> {
    let bytes =
        std::fs::read(path).map_err(io(format!("cannot read the key {}", path.display())))?;
    bytes.try_into().map_err(|_| {
        BackupError::Undecryptable(format!("key file {} has the wrong size", path.display()))
    })
}

fn sealing_key(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte AES-256 key"))
}

/// Takes a snapshot of the relay's database (SQLite in `data_dir`, or `postgres`) into `backups` and
/// returns its manifest. Consistent while relays serve: SQLite's `VACUUM INTO` copies one transaction's
/// view, and PostgreSQL is copied in one repeatable-read transaction into the same SQLite format.
pub fn backup_now(
    data_dir: &Path,
    backups: &Path,
    key: &[u8; 32],
    now: i64,
    postgres: Option<&crate::store::postgres::PostgresStore>,
) -> Result<Manifest, BackupError> {
    // One snapshot at a time in this process: the schedule and the console may ask in the same second,
    // and two runs would share the temporary file and the snapshot's name.
    static TAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = TAKING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    std::fs::create_dir_all(backups).map_err(io(format!("cannot create {}", backups.display())))?;
    let stamp =
        time::OffsetDateTime::from_unix_timestamp(now).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let name = format!(
        "relay-{:04}{:02}{:02}-{:02}{:02}{:02}.jbak",
        stamp.year(),
        u8::from(stamp.month()),
        stamp.day(),
        stamp.hour(),
        stamp.minute(),
        stamp.second()
    );
    let temp = backups.join(format!(".{name}.db"));
    let _ = std::fs::remove_file(&temp);
    match postgres {
        Some(postgres) => postgres.copy_into_sqlite(&temp)?,
        None => {
            let source = Connection::open(data_dir.join(DB_FILE))?;
            source.busy_timeout(std::time::Duration::from_secs(30))?;
            source.execute("VACUUM INTO ?1", [temp.to_string_lossy()])?;
        }
    }
    let hash_key = HashKey::load_or_create(data_dir).map_err(|e| BackupError::Io {
        what: "cannot read the installation's hashing key".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Connection::open(&temp)?.execute(
        "INSERT OR REPLACE INTO relay_meta (key, value) VALUES (?1, ?2)",
        [HASH_KEY_ROW, &hex::encode(hash_key.bytes())],
    )?;
    let database = std::fs::read(&temp).map_err(io("cannot read the snapshot copy"))?;
    let documents = documents_of(&temp)?;
    let _ = std::fs::remove_file(&temp);

    let mut compressor = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    compressor
        .write_all(&database)
        .map_err(io("cannot compress"))?;
    let mut sealed = compressor.finish().map_err(io("cannot compress"))?;
    let mut manifest = Manifest {
        created_at: now,
        file: name.clone(),
        sealed_sha256: String::new(),
        database_sha256: sha256(&database),
        database_bytes: database.len() as u64,
        documents,
    };
    // The header (magic, manifest) travels in clear and is authenticated with the sealed database.
    let carried = serde_json::to_vec(&manifest).expect("manifests serialise");
    let mut file = Vec::with_capacity(sealed.len() + carried.len() + 40);
    file.extend_from_slice(MAGIC);
    file.extend_from_slice(
        &u32::try_from(carried.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    file.extend_from_slice(&carried);
    let mut nonce = [0u8; 12];
    SystemRandom::new().fill(&mut nonce).expect("random source");
    sealing_key(key)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&file[..]),
            &mut sealed,
        )
        .map_err(|_| BackupError::Undecryptable(name.clone()))?;
    file.extend_from_slice(&nonce);
    file.extend_from_slice(&sealed);
    manifest.sealed_sha256 = sha256(&file);
    // Write to temporary names and rename, so a crash never leaves a half-written snapshot.
    let final_path = backups.join(&name);
    let partial = backups.join(format!(".{name}.partial"));
    std::fs::write(&partial, &file).map_err(io("cannot write the snapshot"))?;
    std::fs::rename(&partial, &final_path).map_err(io("cannot write the snapshot"))?;
    let manifest_json = serde_json::to_vec_pretty(&manifest).expect("manifests serialise");
    std::fs::write(manifest_path(&final_path), manifest_json)
        .map_err(io("cannot write the manifest"))?;
    Ok(manifest)
}

fn documents_of(database: &Path) -> Result<Vec<ManifestDocument>, BackupError> {
    let conn = Connection::open(database)?;
    let mut stmt = conn.prepare("SELECT doc_id, heads FROM documents ORDER BY doc_id")?;
    let rows = stmt.query_map([], |r| {
        let heads: String = r.get(1)?;
        Ok(ManifestDocument {
            id: r.get(0)?,
            heads: heads
                .split(',')
                .filter(|h| !h.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn manifest_path(snapshot: &Path) -> PathBuf {
    snapshot.with_extension("manifest.json")
}

/// The snapshots in a folder with their manifests, oldest first.
pub fn list(backups: &Path) -> Result<Vec<(PathBuf, Manifest)>, BackupError> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(backups) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io(format!("cannot read {}", backups.display()))(e)),
    };
    for entry in entries {
        let path = entry.map_err(io("cannot list backups"))?.path();
        if path.extension().is_some_and(|e| e == "jbak") {
            let manifest = read_manifest(&path)?;
            out.push((path, manifest));
        }
    }
    out.sort_by_key(|(_, m)| m.created_at);
    Ok(out)
}

/// A snapshot's manifest as written beside it, if it is there and readable.
fn sidecar_manifest(snapshot: &Path) -> Option<Manifest> {
    let text = std::fs::read(manifest_path(snapshot)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// The manifest a snapshot carries in its header (`None` for an older snapshot without one), read
/// without reading the rest of the file.
fn carried_manifest(snapshot: &Path) -> Result<Option<Manifest>, BackupError> {
    let unreadable = || BackupError::Manifest(snapshot.display().to_string());
    let mut file =
        std::fs::File::open(snapshot).map_err(io(format!("cannot read {}", snapshot.display())))?;
    let mut head = [0u8; 12];
    file.read_exact(&mut head).map_err(|_| unreadable())?;
    if &head[..8] != MAGIC {
        return Ok(None);
    }
    let length = u32::from_le_bytes(head[8..12].try_into().expect("4 bytes"));
    if length > MAX_MANIFEST_BYTES {
        return Err(unreadable());
    }
    let mut carried = vec![0u8; length as usize];
    file.read_exact(&mut carried).map_err(|_| unreadable())?;
    serde_json::from_slice(&carried)
        .map(Some)
        .map_err(|_| unreadable())
}

/// A snapshot's manifest: the one it carries, else the one beside it.
fn read_manifest(snapshot: &Path) -> Result<Manifest, BackupError> {
    match carried_manifest(snapshot)? {
        Some(manifest) => Ok(manifest),
        None => sidecar_manifest(snapshot)
            .ok_or_else(|| BackupError::Manifest(snapshot.display().to_string())),
    }
}

/// Decrypts and checks a snapshot; returns its database bytes and manifest. Writes nothing. A snapshot
/// that carries its manifest needs nothing beside it; an older one needs its `.manifest.json`.
pub fn open(snapshot: &Path, key: &[u8; 32]) -> Result<(Vec<u8>, Manifest), BackupError> {
    let name = snapshot.display().to_string();
    let file = std::fs::read(snapshot).map_err(io(format!("cannot read {name}")))?;
    let (mut manifest, header) = if file.starts_with(MAGIC) {
        let carried =
            carried_manifest(snapshot)?.ok_or_else(|| BackupError::Manifest(name.clone()))?;
        let header = 12
            + usize::try_from(u32::from_le_bytes(file[8..12].try_into().expect("4 bytes")))
                .unwrap_or(usize::MAX);
        (carried, header)
    } else if file.starts_with(MAGIC_V1) {
        let beside =
            sidecar_manifest(snapshot).ok_or_else(|| BackupError::Manifest(name.clone()))?;
        (beside, MAGIC_V1.len())
    } else {
        return Err(BackupError::Undecryptable(name));
    };
    if file.len() < header + 12 + 16 {
        return Err(BackupError::Undecryptable(name));
    }
    let nonce: [u8; 12] = file[header..header + 12].try_into().expect("12 bytes");
    let mut sealed = file[header + 12..].to_vec();
    let compressed = sealing_key(key)
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&file[..header]),
            &mut sealed,
        )
        .map_err(|_| BackupError::Undecryptable(name.clone()))?;
    let mut database = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut database)
        .map_err(|_| BackupError::Mismatch(name.clone()))?;
    let sealed_sha256 = sha256(&file);
    // The manifest beside a snapshot, when there is one, must be this snapshot's.
    let beside = sidecar_manifest(snapshot).map(|m| m.sealed_sha256);
    if sha256(&database) != manifest.database_sha256
        || beside.is_some_and(|hash| hash != sealed_sha256)
        || (file.starts_with(MAGIC_V1) && manifest.sealed_sha256 != sealed_sha256)
    {
        return Err(BackupError::Mismatch(name));
    }
    manifest.sealed_sha256 = sealed_sha256;
    Ok((database, manifest))
}

/// Verifies a snapshot completely (decryption, hashes, SQLite integrity, every document of the manifest
/// present with its heads) without restoring it.
pub fn verify(snapshot: &Path, key: &[u8; 32]) -> Result<Manifest, BackupError> {
    let (database, manifest) = open(snapshot, key)?;
    let scratch = tempfile_path(snapshot);
    std::fs::write(&scratch, &database).map_err(io("cannot write a scratch copy"))?;
    let result = check_database(&scratch, &manifest, snapshot);
    let _ = std::fs::remove_file(&scratch);
    result.map(|()| manifest)
}

fn tempfile_path(snapshot: &Path) -> PathBuf {
    let mut bytes = [0u8; 8];
    SystemRandom::new().fill(&mut bytes).expect("random source");
    std::env::temp_dir().join(format!(
        "journal-verify-{}-{}.db",
        snapshot
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        hex::encode(bytes)
    ))
}

fn check_database(path: &Path, manifest: &Manifest, snapshot: &Path) -> Result<(), BackupError> {
    let conn = Connection::open(path)?;
    let verdict: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if verdict != "ok" {
        return Err(BackupError::Damaged(
            snapshot.display().to_string(),
            verdict,
        ));
    }
    drop(conn);
    if documents_of(path)? != manifest.documents {
        return Err(BackupError::Mismatch(snapshot.display().to_string()));
    }
    Ok(())
}

/// Restores a snapshot into `target` (a new data directory). Refuses a directory that already holds a
/// relay database unless `force`; verifies everything before writing.
pub fn restore(
    snapshot: &Path,
    key: &[u8; 32],
    target: &Path,
    force: bool,
) -> Result<Manifest, BackupError> {
    let destination = target.join(DB_FILE);
    if destination.exists() && !force {
        return Err(BackupError::WouldOverwrite(target.display().to_string()));
    }
    let manifest = verify(snapshot, key)?;
    let (database, _) = open(snapshot, key)?;
    std::fs::create_dir_all(target).map_err(io(format!("cannot create {}", target.display())))?;
    let partial = target.join(format!(".{DB_FILE}.restoring"));
    std::fs::write(&partial, &database).map_err(io("cannot write the restored database"))?;
    for stale in ["relay.db-wal", "relay.db-shm"] {
        let _ = std::fs::remove_file(target.join(stale));
    }
    // Devices are newer than the snapshot: forget what the relay believed they had, so the next sync
    // compares real heads and every device sends what the snapshot lacks.
    let conn = Connection::open(&partial)?;
    conn.execute("DELETE FROM sync_states", [])?;
    let hash_key = carried_hash_key(&conn)?;
    drop(conn);
    if let Some(hash_key) = hash_key {
        let path = target.join(crate::secrets::HASH_KEY_FILE);
        let _ = std::fs::remove_file(&path);
        hash_key.write_to(&path).map_err(|e| BackupError::Io {
            what: "cannot write the installation's hashing key".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
    }
    std::fs::rename(&partial, &destination)
        .map_err(io("cannot put the restored database in place"))?;
    Ok(manifest)
}

/// Restores a snapshot into `postgres` (which must hold no school's data unless `force`), and the
/// installation's hashing key it carries into `data_dir`, where the relays' hash.key goes.
pub fn restore_into_postgres(
    snapshot: &Path,
    key: &[u8; 32],
    postgres: &crate::store::postgres::PostgresStore,
    data_dir: &Path,
    force: bool,
) -> Result<Manifest, BackupError> {
    let manifest = verify(snapshot, key)?;
    let (database, _) = open(snapshot, key)?;
    std::fs::create_dir_all(data_dir)
        .map_err(io(format!("cannot create {}", data_dir.display())))?;
    let partial = data_dir.join(format!(".{DB_FILE}.restoring"));
    std::fs::write(&partial, &database).map_err(io("cannot write the restored database"))?;
    // A snapshot from an older relay is brought to this relay's schema first.
    drop(crate::store::sqlite::SqliteStore::open(&partial)?);
    let conn = Connection::open(&partial)?;
    // Devices are newer than the snapshot: the next sync compares real heads.
    conn.execute("DELETE FROM sync_states", [])?;
    let hash_key = carried_hash_key(&conn)?;
    if let Some(hash_key) = &hash_key {
        conn.execute(
            "INSERT OR REPLACE INTO relay_meta (key, value) VALUES ('hash_key_fingerprint', ?1)",
            [hash_key.fingerprint()],
        )?;
    }
    drop(conn);
    let loaded = postgres.load_from_sqlite(&partial, force);
    let _ = std::fs::remove_file(&partial);
    loaded?;
    if let Some(hash_key) = hash_key {
        let path = data_dir.join(crate::secrets::HASH_KEY_FILE);
        let _ = std::fs::remove_file(&path);
        hash_key.write_to(&path).map_err(|e| BackupError::Io {
            what: "cannot write the installation's hashing key".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
    }
    Ok(manifest)
}

/// Takes the hashing key out of a restored database, if the snapshot carries one (snapshots from before
/// database version 6 do not: their hashes are keyed afresh when the relay first opens them).
fn carried_hash_key(conn: &Connection) -> Result<Option<HashKey>, BackupError> {
    let has_meta: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'relay_meta')",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        return Ok(None);
    }
    let text: Option<String> = conn
        .query_row(
            "SELECT value FROM relay_meta WHERE key = ?1",
            [HASH_KEY_ROW],
            |r| r.get(0),
        )
        .optional()?;
    conn.execute("DELETE FROM relay_meta WHERE key = ?1", [HASH_KEY_ROW])?;
    let Some(text) = text else { return Ok(None) };
    let bytes: [u8; 32] = hex::decode(text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| {
            BackupError::Damaged(
                DB_FILE.into(),
                "the carried hashing key is malformed".into(),
            )
        })?;
    Ok(Some(HashKey::from_bytes(bytes)))
}

/// Which snapshots to keep: the newest of each of the last `daily` days, `weekly` weeks and `monthly`
/// months. Returns the ones to delete.
pub fn expired(
    snapshots: &[(PathBuf, Manifest)],
    daily: usize,
    weekly: usize,
    monthly: usize,
) -> Vec<PathBuf> {
    use std::collections::BTreeSet;
    let mut keep = BTreeSet::new();
    let mut newest_first: Vec<&(PathBuf, Manifest)> = snapshots.iter().collect();
    newest_first.sort_by_key(|(_, m)| std::cmp::Reverse(m.created_at));
    for (period, count) in [
        (86_400i64, daily),
        (7 * 86_400, weekly),
        (30 * 86_400, monthly),
    ] {
        let mut seen = BTreeSet::new();
        for (path, manifest) in &newest_first {
            let bucket = manifest.created_at.div_euclid(period);
            if seen.len() < count && seen.insert(bucket) {
                keep.insert(path.clone());
            }
        }
    }
    snapshots
        .iter()
        .filter(|(path, _)| !keep.contains(path))
        .map(|(path, _)| path.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(at: i64) -> (PathBuf, Manifest) {
        let manifest = Manifest {
            created_at: at,
            file: format!("{at}.jbak"),
            sealed_sha256: String::new(),
            database_sha256: String::new(),
            database_bytes: 0,
            documents: Vec::new(),
        };
        (PathBuf::from(&manifest.file), manifest)
    }

    /// A data directory with an empty relay database, and a snapshot of it in `backups`.
    fn snapshot_taken(dir: &Path) -> (PathBuf, [u8; 32]) {
        let data = dir.join("data");
        std::fs::create_dir_all(&data).expect("data");
        drop(crate::store::sqlite::SqliteStore::open(&data.join(DB_FILE)).expect("store"));
        let key = load_or_create_key(&data).expect("key");
        let manifest =
            backup_now(&data, &dir.join("backups"), &key, 1_764_000_000, None).expect("backup");
        (dir.join("backups").join(manifest.file), key)
    }

    #[test]
    fn a_snapshot_copied_alone_verifies_and_restores() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (snapshot, key) = snapshot_taken(dir.path());
        let usb = dir.path().join("usb");
        std::fs::create_dir(&usb).expect("usb");
        let alone = usb.join("copy.jbak");
        std::fs::copy(&snapshot, &alone).expect("copy");
        let verified = verify(&alone, &key).expect("verified alone");
        assert_eq!(list(&usb).expect("list")[0].1.created_at, 1_764_000_000);
        let restored = restore(&alone, &key, &dir.path().join("restored"), false).expect("restore");
        assert_eq!(restored.database_sha256, verified.database_sha256);
    }

    #[test]
    fn a_snapshot_whose_carried_manifest_was_edited_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (snapshot, key) = snapshot_taken(dir.path());
        let bytes = std::fs::read(&snapshot).expect("read");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let at = text.find("1764000000").expect("the time in the header");
        let mut edited = bytes.clone();
        edited[at] = b'2';
        let forged = dir.path().join("forged.jbak");
        std::fs::write(&forged, edited).expect("write");
        assert!(matches!(
            verify(&forged, &key),
            Err(BackupError::Undecryptable(_))
        ));
        let wrong_key = [7u8; 32];
        assert!(matches!(
            verify(&snapshot, &wrong_key),
            Err(BackupError::Undecryptable(_))
        ));
    }

    #[test]
    fn a_restore_keeps_the_key_it_was_given() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("restored");
        std::fs::create_dir(&target).expect("target");
        let created = load_or_create_key(&target).expect("a key of its own");
        let kept = [9u8; 32];
        assert!(keep_key(&target, &kept).expect("kept"));
        assert!(!keep_key(&target, &kept).expect("already kept"));
        assert_ne!(created, kept);
        assert_eq!(load_or_create_key(&target).expect("key"), kept);
    }

    #[test]
    fn retention_keeps_seven_days_four_weeks_twelve_months() {
        let day = 86_400;
        // Two snapshots a day for 400 days.
        let all: Vec<_> = (0..800)
            .map(|i| snapshot(1_700_000_000 + i * day / 2))
            .collect();
        let gone = expired(&all, 7, 4, 12);
        let kept = all.len() - gone.len();
        assert!((12..=23).contains(&kept), "kept {kept}");
        let newest = all.last().expect("some").0.clone();
        assert!(!gone.contains(&newest), "the newest snapshot is kept");
        let newest_day = all.last().expect("some").1.created_at.div_euclid(day);
        for bucket in newest_day - 6..=newest_day {
            let kept_that_day = all
                .iter()
                .filter(|(p, m)| m.created_at.div_euclid(day) == bucket && !gone.contains(p))
                .count();
            assert_eq!(
                kept_that_day, 1,
                "one snapshot kept for each of the last seven days"
            );
        }
    }
}
