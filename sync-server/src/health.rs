//! Whether the relay can do its job now: its store takes writes, its disk is not nearly full, and how
//! old its newest backup is. `/healthz` and `/metrics` read these; nothing here changes the school's data.

use std::path::Path;

use crate::store::RelayStore;

/// Free and total bytes on a disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskSpace {
    /// Bytes free for the relay's user.
    pub free: u64,
    /// Bytes in all.
    pub total: u64,
}

/// The most a default threshold asks to keep free: 512 MiB.
const MOST_KEPT_FREE: u64 = 512 << 20;

impl DiskSpace {
    /// Whether less than `min_free` bytes are free; by default, less than 5% of the disk or 512 MiB,
    /// whichever is smaller.
    pub fn nearly_full(&self, min_free: Option<u64>) -> bool {
        let threshold = min_free.unwrap_or((self.total / 20).min(MOST_KEPT_FREE));
        self.free < threshold
    }
}

/// The space on the disk holding `path`.
#[cfg(unix)]
pub fn disk_space(path: &Path) -> Option<DiskSpace> {
    let stats = rustix::fs::statvfs(path).ok()?;
    Some(DiskSpace {
        free: stats.f_bavail.saturating_mul(stats.f_frsize),
        total: stats.f_blocks.saturating_mul(stats.f_frsize),
    })
}

/// The space on the disk holding `path` (not measured on this platform).
#[cfg(not(unix))]
pub fn disk_space(_path: &Path) -> Option<DiskSpace> {
    None
}

/// What a health check found wrong, in words for the IT officer.
pub fn problems(
    store: &dyn RelayStore,
    data_dir: Option<&Path>,
    min_free: Option<u64>,
    now: i64,
) -> Vec<String> {
    let mut problems = Vec::new();
    if let Err(e) = store.probe_write(now) {
        tracing::error!(error = %e, "health check: the store does not take writes");
        problems.push(format!("the store cannot write: {e}"));
    }
    if let Some(space) = data_dir.and_then(disk_space)
        && space.nearly_full(min_free)
    {
        problems.push(format!(
            "the data directory's disk is nearly full: {} MiB free of {} MiB",
            space.free >> 20,
            space.total >> 20
        ));
    }
    problems
}

/// When the newest backup snapshot in `backups` was taken (Unix seconds), if there is one.
pub fn newest_backup(backups: &Path) -> Option<i64> {
    crate::backup::list(backups)
        .ok()?
        .iter()
        .map(|(_, manifest)| manifest.created_at)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disk_is_nearly_full_below_five_percent_or_half_a_gibibyte() {
        let small = DiskSpace {
            free: 40 << 20,
            total: 1 << 30,
        };
        assert!(small.nearly_full(None), "under 5% of 1 GiB");
        let big = DiskSpace {
            free: 600 << 20,
            total: 1 << 40,
        };
        assert!(!big.nearly_full(None), "over 512 MiB on a large disk");
        assert!(big.nearly_full(Some(1 << 30)), "an explicit threshold wins");
    }
}
