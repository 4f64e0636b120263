//! `journal-relay backup` and `restore`: snapshots taken, listed, verified and restored.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use journal_relay::backup;
use journal_relay::clock::{Clock, SystemClock};
use journal_relay::store::postgres::PostgresStore;

use super::spinner;
use super::store::{DataDir, open_store};

#[derive(Subcommand)]
/// What to do with backup snapshots.
pub enum BackupAction {
    /// Take a snapshot now (safe while the relay serves).
    Now,
    /// List snapshots.
    List,
    /// Decrypt and check a snapshot without restoring it.
    Verify {
        /// The snapshot.
        snapshot: PathBuf,
        /// The backup key file (default: the data directory's).
        #[arg(long)]
        key: Option<PathBuf>,
    },
}

/// Where to restore a snapshot, and with which key.
#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The snapshot (`.jbak`; it carries its manifest, so the file alone will do).
    pub snapshot: PathBuf,
    /// The data directory to restore into (with --database: where the relay's hashing key goes).
    #[arg(long)]
    pub to: PathBuf,
    /// Restore into this PostgreSQL database (empty, unless --force) instead of SQLite in --to.
    #[arg(long, env = "JOURNAL_DATABASE")]
    pub database: Option<String>,
    /// The backup key file (default: `backup.key` in the target directory). It becomes the restored
    /// relay's backup key, so its next snapshots open with the copy you keep.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Overwrite a data directory or database that already holds a school's data.
    #[arg(long)]
    pub force: bool,
}

/// Takes, lists or verifies snapshots in `backups`.
pub fn run(data: &DataDir, backups: &Path, action: BackupAction) -> Result<()> {
    let dir = data.data_dir.as_path();
    match action {
        BackupAction::Now => {
            let key = backup::load_or_create_key(dir)?;
            let postgres = match &data.database {
                Some(_) => open_store(data)?.postgres,
                None => None,
            };
            let spinner = spinner("taking a snapshot".into());
            let manifest =
                backup::backup_now(dir, backups, &key, SystemClock.now(), postgres.as_deref())?;
            spinner.finish_and_clear();
            println!(
                "snapshot {} written: {} documents, {} bytes of database",
                backups.join(&manifest.file).display(),
                manifest.documents.len(),
                manifest.database_bytes
            );
        }
        BackupAction::List => {
            let snapshots = backup::list(backups)?;
            if snapshots.is_empty() {
                println!("no snapshots in {}", backups.display());
            }
            for (path, manifest) in snapshots {
                let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                println!(
                    "{}  {:>9}  {:>6} documents  {}",
                    super::local_time(manifest.created_at),
                    human_size(bytes),
                    manifest.documents.len(),
                    path.display(),
                );
            }
        }
        BackupAction::Verify { snapshot, key } => {
            let key = match key {
                Some(path) => backup::read_key(&path)?,
                None => backup::read_key(&dir.join("backup.key"))?,
            };
            let spinner = spinner(format!("verifying {}", snapshot.display()));
            let manifest = backup::verify(&snapshot, &key)?;
            spinner.finish_and_clear();
            println!(
                "{} is sound: {} documents, every hash matches",
                snapshot.display(),
                manifest.documents.len()
            );
        }
    }
    Ok(())
}

/// Bytes as people read them: `812 KB`, `3.4 MB`.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KB", "MB", "GB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit < UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else if size < 10.0 {
        format!("{size:.1} {}", UNITS[unit])
    } else {
        format!("{size:.0} {}", UNITS[unit])
    }
}

/// Restores a snapshot into a new data directory or database.
pub fn restore(args: RestoreArgs) -> Result<()> {
    let RestoreArgs {
        snapshot,
        to,
        database,
        key,
        force,
    } = args;
    let given = key.is_some();
    let key = match key {
        Some(path) => backup::read_key(&path)?,
        None => backup::read_key(&to.join("backup.key")).context(
            "no backup key: pass --key with the copy of backup.key the IT officer keeps",
        )?,
    };
    let spinner = spinner(format!("restoring {}", snapshot.display()));
    let (manifest, into) = match &database {
        Some(url) => {
            let postgres = PostgresStore::open(url)?;
            let manifest = backup::restore_into_postgres(&snapshot, &key, &postgres, &to, force)?;
            (manifest, postgres.address().to_owned())
        }
        None => (
            backup::restore(&snapshot, &key, &to, force)?,
            to.display().to_string(),
        ),
    };
    spinner.finish_and_clear();
    println!(
        "restored {} documents from {} into {into}; devices will send what is newer on their next sync",
        manifest.documents.len(),
        snapshot.display(),
    );
    if given && backup::keep_key(&to, &key)? {
        println!(
            "{} is now the key you gave: the relay's next snapshots open with the copy you keep",
            to.join("backup.key").display()
        );
    }
    Ok(())
}
