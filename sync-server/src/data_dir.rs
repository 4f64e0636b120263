//! The data directory holds every child's records, the keys and the backups: it and everything in it are
//! readable by the relay's user only (directories 0700, files 0600), whoever created them and when. One
//! relay serves a data directory at a time: it holds a lock on `relay.lock` while it runs.

use std::io::{Read, Seek, Write};
use std::path::Path;

use thiserror::Error;

/// The lock file's name in the data directory.
pub const LOCK_FILE: &str = "relay.lock";

/// Why a relay may not serve a data directory.
#[derive(Debug, Error)]
pub enum ServeLockError {
    /// Another relay serves it.
    #[error(
        "another relay (process {holder}) is serving {dir}; stop it first, or give this one another --data-dir"
    )]
    Busy {
        /// The directory.
        dir: String,
        /// The process holding the lock, as it wrote itself down.
        holder: String,
    },
    /// The lock file could not be used.
    #[error("cannot lock {path}: {source}")]
    Io {
        /// The lock file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The lock a serving relay holds on its data directory, released when it exits (or dies: the operating
/// system drops the lock with the process). The relay's other commands do not take it: they work beside
/// a running relay.
#[derive(Debug)]
pub struct ServeLock {
    _file: std::fs::File,
}

/// Takes the serving lock of `dir`, writing this process's id into the lock file.
pub fn lock_for_serving(dir: &Path) -> Result<ServeLock, ServeLockError> {
    let path = dir.join(LOCK_FILE);
    let io = |source| ServeLockError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(ServeLockError::Busy {
                dir: dir.display().to_string(),
                holder: holder.trim().to_owned(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(ServeLock { _file: file })
}

/// Makes every file this process creates from now on private to its user (SQLite's `-wal` and `-shm`
/// files, backups, archive bundles, keys), whatever the umask it was started with.
pub fn private_files_from_now_on() {
    #[cfg(unix)]
    {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    }
}

/// Creates the data directory if needed and makes it and everything already in it private: a directory
/// left by an earlier version, or copied in by hand, is tightened on every start.
pub fn secure(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    restrict(dir)
}

fn restrict(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::symlink_metadata(path)?;
        if meta.file_type().is_symlink() {
            return Ok(());
        }
        let mode = if meta.is_dir() { 0o700 } else { 0o600 };
        if meta.permissions().mode() & 0o777 != mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(path)? {
                restrict(&entry?.path())?;
            }
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    #[test]
    fn one_relay_serves_a_data_directory_at_a_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let held = super::lock_for_serving(dir.path()).expect("the first relay");
        let refused = super::lock_for_serving(dir.path()).expect_err("a second one");
        assert!(
            refused
                .to_string()
                .contains(&std::process::id().to_string()),
            "names the holder: {refused}"
        );
        drop(held);
        super::lock_for_serving(dir.path()).expect("free again once the first has gone");
    }

    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn everything_in_the_data_directory_becomes_private() {
        let top = tempfile::tempdir().expect("tempdir");
        let dir = top.path().join("data");
        std::fs::create_dir_all(dir.join("backups")).expect("dirs");
        for file in ["relay.db", "relay.db-wal", "backups/a.jbak"] {
            std::fs::write(dir.join(file), b"x").expect("file");
            std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o644))
                .expect("chmod");
        }
        secure(&dir).expect("secure");
        let mode = |p: &str| {
            std::fs::metadata(dir.join(p))
                .expect("meta")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode(""), 0o700);
        assert_eq!(mode("backups"), 0o700);
        for file in ["relay.db", "relay.db-wal", "backups/a.jbak"] {
            assert_eq!(mode(file), 0o600, "{file}");
        }
    }
}
