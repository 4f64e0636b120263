//! The data directory holds every child's records, the keys and the backups: it and everything in it are
//! readable by the relay's user only (directories 0700, files 0600), whoever created them and when.

use std::path::Path;

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
