//! The device database's schema, migrated forward by code on `PRAGMA user_version`.

use rusqlite::Connection;

use crate::error::StoreError;

/// Migrations in order; entry `i` moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_initial.sql"),
    include_str!("migrations/002_refused_edits.sql"),
    include_str!("migrations/003_news_markers.sql"),
    include_str!("migrations/004_sealed_store.sql"),
    include_str!("migrations/005_device_secret.sql"),
    include_str!("migrations/006_unsettled_sessions.sql"),
    include_str!("migrations/007_refused_changes.sql"),
];

/// The schema version this build creates and reads.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Sets the connection's pragmas and brings the schema to [`CURRENT_VERSION`] in one transaction.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a commit is on disk when the call returns, even if the tablet loses power right after.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > CURRENT_VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: CURRENT_VERSION,
        });
    }
    if found == CURRENT_VERSION {
        return Ok(());
    }
    let tx = conn.transaction()?;
    for (from, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.execute_batch(sql)?;
        tracing::debug!(from, to = from + 1, "migrated the device database");
    }
    tx.pragma_update(None, "user_version", CURRENT_VERSION)?;
    tx.commit()?;
    Ok(())
}
