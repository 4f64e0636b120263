//! Backup snapshots for the administration: taking one now, listing them, and verifying one, each taken
//! or verified snapshot recorded in the administration's log.

use std::path::{Path, PathBuf};

use super::{ServiceError, ServiceResult, Services, administration_only};
use crate::auth::Principal;
use crate::backup::{self, Manifest};
use crate::store::postgres::PostgresStore;

/// A snapshot in the backups folder.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Its file.
    pub path: PathBuf,
    /// What it holds.
    pub manifest: Manifest,
    /// Its size in bytes.
    pub bytes: u64,
}

impl Services {
    /// Takes a snapshot of the relay's data now into `data_dir/backups` (of `postgres` when the relay
    /// serves one).
    pub fn take_backup(
        &self,
        by: &Principal,
        data_dir: &Path,
        postgres: Option<&PostgresStore>,
    ) -> ServiceResult<Manifest> {
        administration_only(by, "takes backups")?;
        let key = backup::load_or_create_key(data_dir)?;
        let manifest = backup::backup_now(
            data_dir,
            &data_dir.join("backups"),
            &key,
            self.now(),
            postgres,
        )?;
        self.record(
            by,
            "backup",
            manifest.file.clone(),
            format!("{} documents", manifest.documents.len()),
        )?;
        Ok(manifest)
    }

    /// The snapshots in `data_dir/backups`, newest first.
    pub fn backups(&self, by: &Principal, data_dir: &Path) -> ServiceResult<Vec<Snapshot>> {
        administration_only(by, "lists backups")?;
        let mut snapshots: Vec<Snapshot> = backup::list(&data_dir.join("backups"))?
            .into_iter()
            .map(|(path, manifest)| Snapshot {
                bytes: std::fs::metadata(&path).map_or(0, |m| m.len()),
                path,
                manifest,
            })
            .collect();
        snapshots.sort_by_key(|s| std::cmp::Reverse(s.manifest.created_at));
        Ok(snapshots)
    }

    /// Decrypts the snapshot `file` (a name in the backups folder) with the relay's backup key and checks
    /// every hash against its manifest; the outcome is recorded either way.
    pub fn verify_backup(
        &self,
        by: &Principal,
        data_dir: &Path,
        file: &str,
    ) -> ServiceResult<Manifest> {
        administration_only(by, "verifies backups")?;
        let plain = !file.is_empty()
            && !file.starts_with('.')
            && file
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !plain {
            return Err(ServiceError::Invalid(format!(
                "{file:?} is not the name of a snapshot in the backups folder"
            )));
        }
        let path = data_dir.join("backups").join(file);
        if !path.is_file() {
            return Err(ServiceError::NotFound(format!("snapshot {file}")));
        }
        let key = backup::read_key(&data_dir.join("backup.key"))?;
        let verified = backup::verify(&path, &key);
        let outcome = match &verified {
            Ok(manifest) => format!("sound: {} documents", manifest.documents.len()),
            Err(e) => format!("failed: {e}"),
        };
        self.record(by, "verify-backup", file.to_owned(), outcome)?;
        Ok(verified?)
    }
}
