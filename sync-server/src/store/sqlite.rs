//! The SQLite store: the relay's embedded default. One connection behind a mutex; WAL; every write is one
//! transaction.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};

use super::audit_log::{self, Delivery, PackedRow, RowWrite};
use super::{
    AccessFacts, Account, AccountRole, AdminLogEntry, Attribution, CONSENTED_STUDENTS, ClassMoves,
    CodeRecord, CodeRole, ConsentRecord, Device, DirectoryStore, DocumentStore, FirstChanges,
    LimitStore, LogStore, MailStore, MissingChanges, NewChange, Redemption, RosterImport,
    SessionRecord, StoreError, StoreResult, StoredChange, gcra, group_staff, split_heads,
};
use journal_core::{ClassId, DocId, StudentId};

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_initial.sql"),
    include_str!("migrations/002_codes_and_admin_log.sql"),
    include_str!("migrations/003_frozen_years.sql"),
    include_str!("migrations/004_thread_members.sql"),
    include_str!("migrations/005_directory_indexes.sql"),
    include_str!("migrations/006_thread_years_and_keyed_hashes.sql"),
    include_str!("migrations/007_mailbox.sql"),
    include_str!("migrations/008_rate_limits.sql"),
    include_str!("migrations/009_heads_index.sql"),
    include_str!("migrations/010_audit_deliveries.sql"),
    include_str!("migrations/011_changes_after_snapshot_only.sql"),
    include_str!("migrations/012_consents.sql"),
];

/// The schema version after which the version 9 change log's attribution is moved into the audit tables,
/// before the next version drops it.
const AUDIT_CONVERSION_AFTER: usize = 10;

/// The `relay_meta` key recording that secret hashes are keyed by the installation's key.
const SECRETS_KEYED: &str = "secrets_keyed";

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::{CannotOpen, DiskFull, ReadOnly, SystemIoFailure};
        match e.sqlite_error_code() {
            Some(DiskFull | SystemIoFailure | ReadOnly | CannotOpen) => {
                StoreError::CannotWrite(e.to_string())
            }
            _ => StoreError::Database(Box::new(e)),
        }
    }
}

/// The relay's SQLite database.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

/// Appends changes delivered by `by`, sets the heads and optionally the snapshot, inside the caller's
/// transaction. With `exact` (the writer's copy held exactly the stored changes) or for a new document,
/// the heads are indexed at the last change's position.
fn append_in(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    changes: &[NewChange],
    heads: &[String],
    by: &Attribution,
    snapshot: Option<&[u8]>,
    exact: bool,
) -> StoreResult<()> {
    record_deliveries(tx, id, changes, by)?;
    write_changes(tx, id, changes, heads, snapshot, exact)
}

/// [`append_in`] without the audit: the changes, the heads, the index and the snapshot.
fn write_changes(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    changes: &[NewChange],
    heads: &[String],
    snapshot: Option<&[u8]>,
    exact: bool,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO documents (doc_id, snapshot, heads) VALUES (?1, x'', '') ON CONFLICT (doc_id) DO NOTHING",
        [id],
    )?;
    let before: i64 = tx.query_row(
        "SELECT change_seq FROM documents WHERE doc_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    let mut seq = before;
    let mut insert = tx.prepare_cached(
        "INSERT INTO changes (doc_id, seq, hash, data) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (doc_id, hash) DO NOTHING",
    )?;
    for change in changes {
        seq += 1;
        insert.execute(params![id, seq, change.hash, change.bytes])?;
    }
    tx.execute(
        "UPDATE documents SET heads = ?2, change_seq = ?3 WHERE doc_id = ?1",
        params![id, heads.join(","), seq],
    )?;
    // Only heads known to close exactly the changes stored so far are indexed (see `exact`).
    if (exact || before == 0) && !heads.is_empty() {
        tx.execute(
            "INSERT INTO heads_index (doc_id, heads, seq) VALUES (?1, ?2, ?3)
             ON CONFLICT (doc_id, heads) DO NOTHING",
            params![id, heads.join(","), seq],
        )?;
    }
    if let Some(snapshot) = snapshot {
        tx.execute(
            "UPDATE documents SET snapshot = ?2, snapshot_seq = change_seq WHERE doc_id = ?1",
            params![id, snapshot],
        )?;
        // The snapshot holds every change it covers, and the audit tables who delivered each: the
        // changes need not be kept twice.
        tx.execute(
            "DELETE FROM changes WHERE doc_id = ?1
             AND seq <= (SELECT snapshot_seq FROM documents WHERE doc_id = ?1)",
            [id],
        )?;
        // Heads from before the snapshot can no longer be answered from the changes: forget them, so
        // the index holds at most the writes since the last snapshot.
        tx.execute(
            "DELETE FROM heads_index WHERE doc_id = ?1
             AND seq < (SELECT snapshot_seq FROM documents WHERE doc_id = ?1)",
            [id],
        )?;
    }
    Ok(())
}

/// The number (column `number`) naming `key` (column `name`) in `table`, added if new.
fn intern(
    tx: &Connection,
    table: &str,
    number: &str,
    name: &str,
    key: &dyn rusqlite::ToSql,
) -> StoreResult<i64> {
    tx.prepare_cached(&format!(
        "INSERT INTO {table} ({name}) VALUES (?1) ON CONFLICT ({name}) DO NOTHING"
    ))?
    .execute([key])?;
    Ok(tx
        .prepare_cached(&format!("SELECT {number} FROM {table} WHERE {name} = ?1"))?
        .query_row([key], |r| r.get(0))?)
}

/// Records in the audit tables that `by` delivered `changes` to document `id`; a change already recorded
/// (its actor's sequence number reached before) is not recorded twice.
fn record_deliveries(
    tx: &Connection,
    id: &str,
    changes: &[NewChange],
    by: &Attribution,
) -> StoreResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let doc = intern(tx, "audit_documents", "doc", "doc_id", &id)?;
    tx.prepare_cached(
        "INSERT INTO audit_authors (account_id, device_id) VALUES (?1, ?2)
         ON CONFLICT (account_id, device_id) DO NOTHING",
    )?
    .execute([&by.account, &by.device])?;
    let author: i64 = tx
        .prepare_cached(
            "SELECT author FROM audit_authors WHERE account_id = ?1 AND device_id = ?2",
        )?
        .query_row([&by.account, &by.device], |r| r.get(0))?;
    for run in audit_log::runs(changes) {
        let actor = intern(tx, "audit_actors", "actor", "actor_id", &run.actor)?;
        let last = tx
            .prepare_cached(
                "SELECT first_seq, last_seq, first_at, last_at, entries, packed FROM audit_deliveries
                 WHERE doc = ?1 AND actor = ?2 ORDER BY first_seq DESC LIMIT 1",
            )?
            .query_row([doc, actor], |r| {
                Ok(PackedRow {
                    first_seq: r.get(0)?,
                    last_seq: r.get(1)?,
                    first_at: r.get(2)?,
                    last_at: r.get(3)?,
                    entries: r.get(4)?,
                    packed: r.get(5)?,
                })
            })
            .optional()?;
        match audit_log::record(last, &run, by.at, author) {
            None => {}
            Some(RowWrite::Extend(row)) => {
                tx.prepare_cached(
                    "UPDATE audit_deliveries SET last_seq = ?4, last_at = ?5, entries = ?6, packed = ?7
                     WHERE doc = ?1 AND actor = ?2 AND first_seq = ?3",
                )?
                .execute(params![
                    doc,
                    actor,
                    row.first_seq,
                    row.last_seq,
                    row.last_at,
                    row.entries,
                    row.packed
                ])?;
            }
            Some(RowWrite::Start(row)) => {
                tx.prepare_cached(
                    "INSERT INTO audit_deliveries
                     (doc, actor, first_seq, last_seq, first_at, last_at, entries, packed)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    doc,
                    actor,
                    row.first_seq,
                    row.last_seq,
                    row.first_at,
                    row.last_at,
                    row.entries,
                    row.packed
                ])?;
            }
        }
    }
    Ok(())
}

/// Moves the version 9 change log's attribution (a hash, an account, a device and a time for every
/// change) into the audit tables, document by document.
fn convert_attribution(tx: &Connection) -> StoreResult<()> {
    let ids: Vec<String> = tx
        .prepare("SELECT DISTINCT doc_id FROM changes ORDER BY doc_id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    tracing::info!(
        documents = ids.len(),
        "moving the audit trail into its compact form (once; a school year takes a minute or two)"
    );
    for id in ids {
        let (mut document, after): (Vec<u8>, i64) = tx.query_row(
            "SELECT snapshot, snapshot_seq FROM documents WHERE doc_id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut log = Vec::new();
        let mut rows = tx.prepare(
            "SELECT hash, data, seq, account_id, device_id, received_at FROM changes
             WHERE doc_id = ?1 ORDER BY seq",
        )?;
        let mut found = rows.query([&id])?;
        while let Some(row) = found.next()? {
            if row.get::<_, i64>(2)? > after {
                document.extend_from_slice(&row.get::<_, Vec<u8>>(1)?);
            }
            log.push((
                row.get::<_, String>(0)?,
                Attribution {
                    account: row.get(3)?,
                    device: row.get(4)?,
                    at: row.get(5)?,
                },
            ));
        }
        for (by, changes) in audit_log::batches_from_log(&id, &document, log)? {
            record_deliveries(tx, &id, &changes, &by)?;
        }
    }
    Ok(())
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let current = MIGRATIONS.len() as i64;
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > current {
        return Err(StoreError::TooNew {
            found,
            supported: current,
        });
    }
    if found == current {
        return Ok(());
    }
    let tx = conn.transaction()?;
    let from = usize::try_from(found).unwrap_or(0);
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(from) {
        tx.execute_batch(sql)?;
        if version + 1 == AUDIT_CONVERSION_AFTER {
            convert_attribution(&tx)?;
        }
    }
    tx.pragma_update(None, "user_version", current)?;
    tx.commit()?;
    if from < AUDIT_CONVERSION_AFTER && from > 0 {
        // The change log shrank by most of its size; give the space back to the disk.
        conn.execute_batch("VACUUM")?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut conn = Connection::open(path)?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    /// Stores a new document's history as it was delivered, batch by batch, with its snapshot, in one
    /// transaction: a year kept elsewhere arrives with its audit trail.
    pub fn import_delivered(
        &self,
        id: &str,
        batches: &[(Attribution, Vec<NewChange>)],
        heads: &[String],
        snapshot: &[u8],
    ) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let stored: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM documents WHERE doc_id = ?1)",
            [id],
            |r| r.get(0),
        )?;
        if stored {
            return Err(StoreError::Invalid(format!(
                "document {id} is already stored; only a new document's history is imported"
            )));
        }
        for (by, changes) in batches {
            record_deliveries(&tx, id, changes, by)?;
        }
        let all: Vec<NewChange> = batches
            .iter()
            .flat_map(|(_, c)| c.iter().cloned())
            .collect();
        write_changes(&tx, id, &all, heads, Some(snapshot), true)?;
        tx.commit()?;
        Ok(())
    }

    /// A database in memory, for tests.
    pub fn open_in_memory() -> StoreResult<Self> {
        let mut conn = Connection::open_in_memory()?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    /// Rewrites the database without its free pages (after a bulk import).
    pub fn vacuum(&self) -> StoreResult<()> {
        self.conn()
            .execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction open (rusqlite rolls back on drop),
        // so the connection is still sound.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn account_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    let role: String = row.get(2)?;
    let student: Option<String> = row.get(4)?;
    Ok(Account {
        id: row.get(0)?,
        name: row.get(1)?,
        role: AccountRole::parse(&role).unwrap_or(AccountRole::Student),
        active: row.get(3)?,
        student: student.and_then(|s| s.parse().ok()),
    })
}

fn code_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<CodeRecord> {
    let role: String = row.get(1)?;
    let student: Option<String> = row.get(3)?;
    Ok(CodeRecord {
        id: row.get(0)?,
        role: CodeRole::parse(&role).unwrap_or(CodeRole::Student),
        account: row.get(2)?,
        student: student.and_then(|s| s.parse().ok()),
        issued_by: row.get(4)?,
        issued_at: row.get(5)?,
        expires_at: row.get(6)?,
        spent_at: row.get(7)?,
        spent_by_device: row.get(9)?,
    })
}

fn insert_account(conn: &Connection, account: &Account) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT INTO accounts (account_id, name, role, active, student_id) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (account_id) DO UPDATE SET name = excluded.name, role = excluded.role,
         active = excluded.active, student_id = excluded.student_id",
        params![
            account.id,
            account.name,
            account.role.as_str(),
            account.active,
            account.student.as_ref().map(StudentId::as_str)
        ],
    )
}

fn device_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Device> {
    Ok(Device {
        id: row.get(0)?,
        account: row.get(1)?,
        label: row.get(2)?,
        created_at: row.get(3)?,
        revoked_at: row.get(4)?,
    })
}

/// A foreign-key violation means the referenced account or student does not exist.
fn missing_reference(e: rusqlite::Error, what: impl FnOnce() -> String) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::NotFound(what())
        }
        other => other.into(),
    }
}

fn parse_all<T: std::str::FromStr>(values: Vec<String>) -> Vec<T> {
    values.into_iter().filter_map(|v| v.parse().ok()).collect()
}

impl DocumentStore for SqliteStore {
    fn load_document(&self, id: &str) -> StoreResult<Option<Vec<u8>>> {
        let conn = self.conn();
        let found: Option<(Vec<u8>, i64)> = conn
            .query_row(
                "SELECT snapshot, snapshot_seq FROM documents WHERE doc_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((mut bytes, after)) = found else {
            return Ok(None);
        };
        let mut stmt = conn.prepare_cached(
            "SELECT data FROM changes WHERE doc_id = ?1 AND seq > ?2 ORDER BY seq",
        )?;
        let mut rows = stmt.query(params![id, after])?;
        while let Some(row) = rows.next()? {
            bytes.extend_from_slice(&row.get::<_, Vec<u8>>(0)?);
        }
        Ok(Some(bytes))
    }

    fn changes_after_heads(
        &self,
        id: &str,
        heads: &[String],
    ) -> StoreResult<Option<MissingChanges>> {
        let mut conn = self.conn();
        // One read transaction: the position, the changes after it and the heads now from one snapshot.
        let tx = conn.transaction()?;
        let Some(now) = tx
            .prepare_cached("SELECT heads FROM documents WHERE doc_id = ?1")?
            .query_row([id], |r| r.get::<_, String>(0))
            .optional()?
        else {
            return Ok(None);
        };
        let asked = heads.join(",");
        if !asked.is_empty() && asked == now {
            return Ok(Some(MissingChanges {
                changes: Vec::new(),
                heads: heads.to_vec(),
            }));
        }
        let at: Option<i64> = tx
            .prepare_cached("SELECT seq FROM heads_index WHERE doc_id = ?1 AND heads = ?2")?
            .query_row(params![id, asked], |r| r.get(0))
            .optional()?;
        let Some(at) = at else {
            return Ok(None);
        };
        let snapshot_seq: i64 = tx
            .prepare_cached("SELECT snapshot_seq FROM documents WHERE doc_id = ?1")?
            .query_row([id], |r| r.get(0))?;
        if at < snapshot_seq {
            // Some of those changes are kept only inside the snapshot now.
            return Ok(None);
        }
        let changes = tx
            .prepare_cached(
                "SELECT hash, data FROM changes WHERE doc_id = ?1 AND seq > ?2 ORDER BY seq",
            )?
            .query_map(params![id, at], |r| {
                Ok(StoredChange {
                    hash: r.get(0)?,
                    bytes: r.get(1)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(MissingChanges {
            changes,
            heads: split_heads(&now),
        }))
    }

    fn document_heads(&self) -> StoreResult<Vec<(String, Vec<String>)>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT doc_id, heads FROM documents ORDER BY doc_id")?;
        let rows = stmt.query_map([], |r| {
            let heads: String = r.get(1)?;
            Ok((r.get::<_, String>(0)?, split_heads(&heads)))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn append_changes(
        &self,
        id: &str,
        changes: &[NewChange],
        heads: &[String],
        by: &Attribution,
        snapshot: Option<&[u8]>,
        base: Option<&[String]>,
    ) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if let Some(base) = base {
            let stored: Option<String> = tx
                .query_row("SELECT heads FROM documents WHERE doc_id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()?;
            if stored.unwrap_or_default() != base.join(",") {
                return Err(StoreError::Stale(id.to_owned()));
            }
        }
        append_in(&tx, id, changes, heads, by, snapshot, base.is_some())?;
        tx.commit()?;
        Ok(())
    }

    fn create_thread(
        &self,
        members: &[String],
        first: &FirstChanges<'_>,
        by: &Attribution,
    ) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let taken: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM documents WHERE doc_id = ?1)
                 OR EXISTS (SELECT 1 FROM thread_access WHERE doc_id = ?1)",
            [first.id],
            |r| r.get(0),
        )?;
        if taken {
            return Ok(false);
        }
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO thread_access (doc_id, member) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            )?;
            for member in members {
                insert.execute(params![first.id, member])?;
            }
        }
        append_in(
            &tx,
            first.id,
            first.changes,
            first.heads,
            by,
            Some(first.snapshot),
            true,
        )?;
        tx.commit()?;
        Ok(true)
    }

    fn outside_writes(&self) -> StoreResult<i64> {
        Ok(self
            .conn()
            .pragma_query_value(None, "data_version", |r| r.get(0))?)
    }

    fn audit_trail(&self, id: &str) -> StoreResult<Vec<Delivery>> {
        let conn = self.conn();
        let authors: std::collections::HashMap<i64, (String, String)> = conn
            .prepare_cached("SELECT author, account_id, device_id FROM audit_authors")?
            .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
            .collect::<Result<_, _>>()?;
        let mut stmt = conn.prepare_cached(
            "SELECT a.actor_id, r.first_seq, r.last_seq, r.first_at, r.last_at, r.entries, r.packed
             FROM audit_deliveries r
             JOIN audit_documents d ON d.doc = r.doc
             JOIN audit_actors a ON a.actor = r.actor
             WHERE d.doc_id = ?1",
        )?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    PackedRow {
                        first_seq: r.get(1)?,
                        last_seq: r.get(2)?,
                        first_at: r.get(3)?,
                        last_at: r.get(4)?,
                        entries: r.get(5)?,
                        packed: r.get(6)?,
                    },
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        audit_log::deliveries(rows, &authors)
    }

    fn changes_since_snapshot(&self, id: &str) -> StoreResult<i64> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT change_seq - snapshot_seq FROM documents WHERE doc_id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    fn sync_state(&self, device: &str, doc: &str) -> StoreResult<Option<Vec<u8>>> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT state FROM sync_states WHERE device_id = ?1 AND doc_id = ?2",
                [device, doc],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn put_sync_state(&self, device: &str, doc: &str, state: &[u8]) -> StoreResult<()> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO sync_states (device_id, doc_id, state) VALUES (?1, ?2, ?3)
             ON CONFLICT (device_id, doc_id) DO UPDATE SET state = excluded.state",
            params![device, doc, state],
        )?;
        Ok(())
    }

    fn freeze_year(&self, year: journal_core::YearId, at: i64) -> StoreResult<()> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO frozen_years (year, frozen_at) VALUES (?1, ?2) ON CONFLICT (year) DO NOTHING",
            params![year.0, at],
        )?;
        Ok(())
    }

    fn is_frozen(&self, year: journal_core::YearId) -> StoreResult<bool> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT 1 FROM frozen_years WHERE year = ?1",
                [year.0],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}

impl DirectoryStore for SqliteStore {
    fn put_account(&self, account: &Account) -> StoreResult<()> {
        insert_account(&self.conn(), account)?;
        Ok(())
    }

    fn account(&self, id: &str) -> StoreResult<Option<Account>> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT account_id, name, role, active, student_id FROM accounts WHERE account_id = ?1",
                [id],
                account_from_row,
            )
            .optional()?)
    }

    fn accounts(&self) -> StoreResult<Vec<Account>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT account_id, name, role, active, student_id FROM accounts ORDER BY account_id",
        )?;
        let rows = stmt.query_map([], account_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn staff(&self) -> StoreResult<Vec<(Account, Vec<ClassId>)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT a.account_id, a.name, a.role, a.active, a.student_id, cs.class_id
             FROM accounts a LEFT JOIN class_staff cs ON cs.account_id = a.account_id
             WHERE a.role IN ('teacher', 'administration') AND a.active
             ORDER BY a.account_id, cs.class_id",
        )?;
        let rows = stmt.query_map([], |row| Ok((account_from_row(row)?, row.get(5)?)))?;
        Ok(group_staff(rows.collect::<Result<Vec<_>, _>>()?))
    }

    fn put_student(&self, student: &StudentId, class: &ClassId, name: &str) -> StoreResult<()> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO students (student_id, class_id, name) VALUES (?1, ?2, ?3)
             ON CONFLICT (student_id) DO UPDATE SET class_id = excluded.class_id, name = excluded.name",
            params![student.as_str(), class.as_str(), name],
        )?;
        Ok(())
    }

    fn put_class_staff(
        &self,
        class: &ClassId,
        account: &str,
        class_teacher: bool,
    ) -> StoreResult<()> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO class_staff (class_id, account_id, class_teacher) VALUES (?1, ?2, ?3)
             ON CONFLICT (class_id, account_id) DO UPDATE SET class_teacher = excluded.class_teacher",
            params![class.as_str(), account, class_teacher],
        )
        .map_err(|e| missing_reference(e, || format!("account {account}")))?;
        Ok(())
    }

    fn remove_class_staff(&self, class: &ClassId, account: &str) -> StoreResult<()> {
        let conn = self.conn();
        conn.execute(
            "DELETE FROM class_staff WHERE class_id = ?1 AND account_id = ?2",
            params![class.as_str(), account],
        )?;
        Ok(())
    }

    fn link_guardian(&self, account: &str, student: &StudentId) -> StoreResult<()> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO guardians (account_id, student_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![account, student.as_str()],
        )
        .map_err(|e| missing_reference(e, || format!("account {account} or student {student}")))?;
        Ok(())
    }

    fn add_thread_member(&self, thread: &DocId, member: &str) -> StoreResult<()> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO thread_access (doc_id, member) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![thread.to_string(), member],
        )?;
        Ok(())
    }

    fn access_facts(&self, account: &str) -> StoreResult<AccessFacts> {
        let conn = self.conn();
        let found = conn
            .query_row(
                "SELECT account_id, name, role, active, student_id FROM accounts WHERE account_id = ?1",
                [account],
                account_from_row,
            )
            .optional()?;
        let Some(found) = found else {
            return Ok(AccessFacts::default());
        };
        let pairs = |sql: &str| -> StoreResult<Vec<(String, String)>> {
            let mut stmt = conn.prepare_cached(sql)?;
            let rows = stmt.query_map([account], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        let parse_pairs = |rows: Vec<(String, String)>| -> Vec<(StudentId, ClassId)> {
            rows.into_iter()
                .filter_map(|(s, c)| Some((s.parse().ok()?, c.parse().ok()?)))
                .collect()
        };
        let mut stmt = conn.prepare_cached(
            "SELECT class_id, class_teacher FROM class_staff WHERE account_id = ?1",
        )?;
        let staff_classes: Vec<(ClassId, bool)> = stmt
            .query_map([account], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter_map(|(c, t)| Some((c.parse().ok()?, t)))
            .collect();
        let class_students = parse_pairs(pairs(
            "SELECT s.student_id, s.class_id FROM students s
             JOIN class_staff cs ON cs.class_id = s.class_id WHERE cs.account_id = ?1",
        )?);
        let children = parse_pairs(pairs(
            "SELECT s.student_id, s.class_id FROM students s
             JOIN guardians g ON g.student_id = s.student_id WHERE g.account_id = ?1",
        )?);
        let own_class: Option<String> = match &found.student {
            Some(student) => conn
                .query_row(
                    "SELECT class_id FROM students WHERE student_id = ?1",
                    [student.as_str()],
                    |r| r.get(0),
                )
                .optional()?,
            None => None,
        };
        let mut addresses = vec![format!("account:{account}")];
        addresses.extend(children.iter().map(|(s, _)| format!("guardians:{s}")));
        addresses.extend(found.student.iter().map(|s| format!("student:{s}")));
        let mut stmt = conn.prepare_cached("SELECT doc_id FROM thread_access WHERE member = ?1")?;
        let mut threads: Vec<String> = Vec::new();
        for address in &addresses {
            for thread in stmt.query_map([address], |r| r.get(0))? {
                threads.push(thread?);
            }
        }
        threads.sort();
        threads.dedup();
        // Only a class teacher keeps profiles: nobody else (a morning's parents) asks the register.
        let consented: Vec<String> = if staff_classes
            .iter()
            .any(|(_, class_teacher)| *class_teacher)
        {
            let mut stmt = conn.prepare_cached(CONSENTED_STUDENTS)?;
            stmt.query_map([account], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        Ok(AccessFacts {
            account: Some(found),
            staff_classes,
            class_students,
            children,
            own_class: own_class.and_then(|c| c.parse().ok()),
            threads: parse_all(threads),
            consented: parse_all(consented),
        })
    }

    fn add_device(&self, device: &Device, token_hash: &[u8]) -> StoreResult<()> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO devices (device_id, account_id, label, token_hash, created_at, revoked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                device.id,
                device.account,
                device.label,
                token_hash,
                device.created_at,
                device.revoked_at
            ],
        )
        .map_err(|e| missing_reference(e, || format!("account {}", device.account)))?;
        Ok(())
    }

    fn device_auth(&self, device: &str) -> StoreResult<Option<(Device, Vec<u8>)>> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT device_id, account_id, label, created_at, revoked_at, token_hash FROM devices WHERE device_id = ?1",
                [device],
                |r| Ok((device_from_row(r)?, r.get(5)?)),
            )
            .optional()?)
    }

    fn devices_of(&self, account: &str) -> StoreResult<Vec<Device>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT device_id, account_id, label, created_at, revoked_at FROM devices WHERE account_id = ?1 ORDER BY created_at, device_id",
        )?;
        let rows = stmt.query_map([account], device_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn revoke_device(&self, device: &str, at: i64) -> StoreResult<bool> {
        let conn = self.conn();
        let n = conn.execute(
            "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE device_id = ?1",
            params![device, at],
        )?;
        Ok(n > 0)
    }

    fn student(&self, student: &StudentId) -> StoreResult<Option<(ClassId, String)>> {
        let conn = self.conn();
        let found: Option<(String, String)> = conn
            .query_row(
                "SELECT class_id, name FROM students WHERE student_id = ?1",
                [student.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(found.and_then(|(class, name)| Some((class.parse().ok()?, name))))
    }

    fn import_roster(&self, roster: &RosterImport) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for (student, class, name) in &roster.students {
            tx.execute(
                "INSERT INTO students (student_id, class_id, name) VALUES (?1, ?2, ?3)
                 ON CONFLICT (student_id) DO UPDATE SET class_id = excluded.class_id, name = excluded.name",
                params![student.as_str(), class.as_str(), name],
            )?;
        }
        for (account, name, student) in &roster.guardians {
            tx.execute(
                "INSERT INTO accounts (account_id, name, role) VALUES (?1, ?2, 'parent')
                 ON CONFLICT (account_id) DO UPDATE SET name = excluded.name",
                params![account, name],
            )?;
            tx.execute(
                "INSERT INTO guardians (account_id, student_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![account, student.as_str()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn put_code(&self, code: &CodeRecord, hash: &[u8]) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        // A re-issued code replaces the unspent ones for the same person.
        tx.execute(
            "UPDATE access_codes SET expires_at = min(expires_at, ?4)
             WHERE role = ?1 AND account_id IS ?2 AND student_id IS ?3 AND spent_at IS NULL",
            params![
                code.role.as_str(),
                code.account,
                code.student.as_ref().map(StudentId::as_str),
                code.issued_at
            ],
        )?;
        tx.execute(
            "INSERT INTO access_codes (code_id, code_hash, role, account_id, student_id, issued_by, issued_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                code.id,
                hash,
                code.role.as_str(),
                code.account,
                code.student.as_ref().map(StudentId::as_str),
                code.issued_by,
                code.issued_at,
                code.expires_at
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn code_by_hash(&self, hash: &[u8]) -> StoreResult<Option<(CodeRecord, Vec<u8>)>> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT code_id, role, account_id, student_id, issued_by, issued_at, expires_at, spent_at, code_hash, spent_by_device
                 FROM access_codes WHERE code_hash = ?1",
                [hash],
                |r| Ok((code_from_row(r)?, r.get(8)?)),
            )
            .optional()?)
    }

    fn redeem(&self, redemption: &Redemption) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let device_id = redemption.device.as_ref().map(|(d, _)| d.id.clone());
        let spent = tx.execute(
            "UPDATE access_codes SET spent_at = ?2, spent_by_device = ?3 WHERE code_id = ?1 AND spent_at IS NULL",
            params![redemption.code_id, redemption.at, device_id],
        )?;
        if spent != 1 {
            return Ok(false);
        }
        if let Some(account) = &redemption.new_account {
            insert_account(&tx, account)?;
        }
        if let Some((account, student)) = &redemption.guardian_of {
            tx.execute(
                "INSERT INTO guardians (account_id, student_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![account, student.as_str()],
            )
            .map_err(|e| missing_reference(e, || format!("student {student}")))?;
        }
        if let Some((device, hash)) = &redemption.device {
            tx.execute(
                "INSERT INTO devices (device_id, account_id, label, token_hash, created_at, revoked_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
                params![device.id, device.account, device.label, hash, device.created_at],
            )?;
        }
        tx.commit()?;
        Ok(true)
    }

    fn promote(&self, classes: &[(ClassId, Option<ClassId>)]) -> StoreResult<()> {
        let moves = ClassMoves::new(classes);
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let students: Vec<(String, String)> = {
            let mut stmt = tx.prepare("SELECT student_id, class_id FROM students")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?
        };
        let staff: Vec<(String, String, bool)> = {
            let mut stmt =
                tx.prepare("SELECT class_id, account_id, class_teacher FROM class_staff")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?
        };
        tx.execute("DELETE FROM class_staff", [])?;
        for (class, account, class_teacher) in staff {
            if let Some(target) = moves.staff_class(&class) {
                tx.execute(
                    "INSERT INTO class_staff (class_id, account_id, class_teacher) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                    params![target, account, class_teacher],
                )?;
            }
        }
        for (student, class) in students {
            let target = moves.student_class(&class);
            tx.execute(
                "UPDATE students SET class_id = ?2 WHERE student_id = ?1",
                params![student, target],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn rekey_secrets(&self, wrap: &dyn Fn(&[u8]) -> Vec<u8>) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let done: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM relay_meta WHERE key = ?1)",
            [SECRETS_KEYED],
            |r| r.get(0),
        )?;
        if done {
            return Ok(false);
        }
        for (table, id, hash) in [
            ("access_codes", "code_id", "code_hash"),
            ("devices", "device_id", "token_hash"),
        ] {
            let rows: Vec<(String, Vec<u8>)> = {
                let mut stmt = tx.prepare(&format!("SELECT {id}, {hash} FROM {table}"))?;
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?
            };
            let mut update =
                tx.prepare(&format!("UPDATE {table} SET {hash} = ?2 WHERE {id} = ?1"))?;
            for (row, old) in rows {
                update.execute(params![row, wrap(&old)])?;
            }
        }
        tx.execute(
            "INSERT INTO relay_meta (key, value) VALUES (?1, '1')",
            [SECRETS_KEYED],
        )?;
        tx.commit()?;
        Ok(true)
    }

    fn record_consent(&self, record: &ConsentRecord) -> StoreResult<()> {
        let conn = self.conn();
        let added = conn.execute(
            "INSERT INTO consents
                 (student_id, guardian_id, given, signed_on, text_version, recorded_by, recorded_at)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
             WHERE EXISTS (SELECT 1 FROM guardians WHERE student_id = ?1 AND account_id = ?2)",
            params![
                record.student.as_str(),
                record.guardian,
                record.given,
                record.signed_on,
                record.text_version,
                record.recorded_by,
                record.recorded_at
            ],
        )?;
        if added == 0 {
            return Err(StoreError::NotFound(format!(
                "{} as a guardian of student {}",
                record.guardian, record.student
            )));
        }
        Ok(())
    }

    fn consents(&self, student: Option<&StudentId>) -> StoreResult<Vec<ConsentRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT student_id, guardian_id, given, signed_on, text_version, recorded_by, recorded_at
             FROM consents WHERE ?1 IS NULL OR student_id = ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map([student.map(StudentId::as_str)], |r| {
            let student: String = r.get(0)?;
            let record = ConsentRecord {
                student: match student.parse() {
                    Ok(student) => student,
                    Err(_) => return Ok(None),
                },
                guardian: r.get(1)?,
                given: r.get(2)?,
                signed_on: r.get(3)?,
                text_version: r.get(4)?,
                recorded_by: r.get(5)?,
                recorded_at: r.get(6)?,
            };
            Ok(Some(record))
        })?;
        let mut records = Vec::new();
        for row in rows {
            records.extend(row?);
        }
        Ok(records)
    }

    fn guardian_links(&self) -> StoreResult<Vec<(String, StudentId)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT account_id, student_id FROM guardians ORDER BY student_id, account_id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut links = Vec::new();
        for row in rows {
            let (account, student) = row?;
            if let Ok(student) = student.parse() {
                links.push((account, student));
            }
        }
        Ok(links)
    }
}

impl LogStore for SqliteStore {
    fn probe_write(&self, now: i64) -> StoreResult<()> {
        self.conn().execute(
            "INSERT INTO relay_meta (key, value) VALUES ('health_probe', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![now.to_string()],
        )?;
        Ok(())
    }

    fn stored_bytes(&self) -> StoreResult<u64> {
        let conn = self.conn();
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        Ok(u64::try_from(pages.saturating_mul(page)).unwrap_or(0))
    }

    fn log_admin(&self, entry: &AdminLogEntry) -> StoreResult<()> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO admin_log (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                entry.at,
                entry.actor,
                entry.action,
                entry.target,
                entry.detail
            ],
        )?;
        Ok(())
    }

    fn admin_log(&self, from: i64, to: i64) -> StoreResult<Vec<AdminLogEntry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT at, actor, action, target, detail FROM admin_log WHERE at >= ?1 AND at < ?2 ORDER BY id",
        )?;
        let rows = stmt.query_map([from, to], |r| {
            Ok(AdminLogEntry {
                at: r.get(0)?,
                actor: r.get(1)?,
                action: r.get(2)?,
                target: r.get(3)?,
                detail: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn start_session(&self, account: &str, device: &str, at: i64) -> StoreResult<i64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO sessions (account_id, device_id, started_at) VALUES (?1, ?2, ?3)",
            params![account, device, at],
        )?;
        Ok(conn.last_insert_rowid())
    }

    fn end_session(&self, id: i64, at: i64, documents_synced: i64) -> StoreResult<()> {
        let conn = self.conn();
        conn.execute(
            "UPDATE sessions SET ended_at = ?2, documents_synced = ?3 WHERE session_id = ?1",
            params![id, at, documents_synced],
        )?;
        Ok(())
    }

    fn sessions_between(&self, from: i64, to: i64) -> StoreResult<Vec<SessionRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT session_id, account_id, device_id, started_at, ended_at, documents_synced FROM sessions
             WHERE started_at >= ?1 AND started_at < ?2 ORDER BY session_id",
        )?;
        let rows = stmt.query_map([from, to], |r| {
            Ok(SessionRecord {
                id: r.get(0)?,
                account: r.get(1)?,
                device: r.get(2)?,
                started_at: r.get(3)?,
                ended_at: r.get(4)?,
                documents_synced: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn last_seen(&self, device: &str) -> StoreResult<Option<i64>> {
        Ok(self.conn().query_row(
            "SELECT max(started_at) FROM sessions WHERE device_id = ?1",
            [device],
            |r| r.get(0),
        )?)
    }

    fn contact_before(&self, device: &str, before: i64) -> StoreResult<Option<i64>> {
        Ok(self.conn().query_row(
            "SELECT max(started_at) FROM sessions WHERE device_id = ?1 AND started_at < ?2",
            params![device, before],
            |r| r.get(0),
        )?)
    }
}

impl LimitStore for SqliteStore {
    fn take_token(
        &self,
        key: &str,
        now_ms: i64,
        interval_ms: i64,
        burst: u32,
    ) -> StoreResult<Option<i64>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM rate_limits WHERE key IN (SELECT key FROM rate_limits WHERE tat_ms < ?1 LIMIT 100)",
            [now_ms],
        )?;
        let tat: Option<i64> = tx
            .query_row(
                "SELECT tat_ms FROM rate_limits WHERE key = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()?;
        let outcome = match gcra(tat, now_ms, interval_ms, burst, 1) {
            Ok(next) => {
                tx.execute(
                    "INSERT INTO rate_limits (key, tat_ms) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET tat_ms = excluded.tat_ms",
                    params![key, next],
                )?;
                None
            }
            Err(wait) => Some(wait),
        };
        tx.commit()?;
        Ok(outcome)
    }
}

impl MailStore for SqliteStore {
    fn post_mail(&self, payload: &str, at: i64, expired_before: i64) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM relay_mail WHERE posted_at < ?1",
            [expired_before],
        )?;
        tx.execute(
            "INSERT INTO relay_mail (posted_at, payload) VALUES (?1, ?2)",
            params![at, payload],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn last_mail(&self) -> StoreResult<i64> {
        Ok(self
            .conn()
            .query_row("SELECT coalesce(max(seq), 0) FROM relay_mail", [], |r| {
                r.get(0)
            })?)
    }

    fn mail_after(&self, seq: i64) -> StoreResult<Vec<(i64, String)>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT seq, payload FROM relay_mail WHERE seq > ?1 ORDER BY seq")?;
        let rows = stmt.query_map([seq], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    crate::relay_store_conformance!(super::SqliteStore::open_in_memory().expect("open"));

    #[test]
    fn a_file_store_survives_reopening() {
        use crate::store::DocumentStore;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("relay.db");
        {
            let store = super::SqliteStore::open(&path).expect("open");
            store.put_sync_state("d", "x", b"s").expect("put");
        }
        let store = super::SqliteStore::open(&path).expect("reopen");
        assert_eq!(
            store.sync_state("d", "x").expect("get"),
            Some(b"s".to_vec())
        );
    }

    /// Once a snapshot covers changes, they are not kept a second time; who delivered them is.
    #[test]
    fn a_snapshot_releases_the_bytes_of_the_changes_it_covers() {
        use crate::store::DocumentStore;
        use automerge::ReadDoc;
        use automerge::transaction::Transactable;
        let store = super::SqliteStore::open_in_memory().expect("open");
        let mut doc = automerge::Automerge::new();
        let mut changes = Vec::new();
        for i in 0..3 {
            let mut tx = doc.transaction();
            tx.put(automerge::ROOT, "k", i).expect("put");
            let hash = tx.commit().0.expect("a change");
            changes.push(crate::store::NewChange::of(
                doc.get_change_by_hash(&hash).expect("change").clone(),
            ));
        }
        let heads: Vec<String> = doc.get_heads().iter().map(ToString::to_string).collect();
        let by = crate::store::Attribution {
            account: "t".into(),
            device: "d".into(),
            at: 1,
        };
        store
            .append_changes("d", &changes, &heads, &by, Some(&doc.save()), None)
            .expect("append");
        let kept: i64 = store
            .conn()
            .query_row("SELECT count(*) FROM changes", [], |r| r.get(0))
            .expect("count");
        assert_eq!(kept, 0);
        let trail = store.audit_trail("d").expect("trail");
        assert_eq!(
            trail
                .iter()
                .map(|d| (d.first_seq, d.count))
                .collect::<Vec<_>>(),
            [(1, 3)],
            "one delivery of the three"
        );
        let loaded =
            automerge::Automerge::load(&store.load_document("d").expect("load").expect("doc"))
                .expect("valid");
        assert_eq!(loaded.get_heads(), doc.get_heads());
    }

    /// A version-3 database (conversation members were accounts) migrates forward with its members kept.
    #[test]
    fn a_version_3_database_keeps_its_conversation_members() {
        use crate::store::DirectoryStore;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("relay.db");
        {
            let conn = rusqlite::Connection::open(&path).expect("open");
            for sql in &super::MIGRATIONS[..3] {
                conn.execute_batch(sql).expect("old schema");
            }
            conn.execute_batch(
                "INSERT INTO accounts (account_id, name, role) VALUES ('mum', 'Mum', 'parent');
                 INSERT INTO thread_participants (thread_id, account_id) VALUES ('t1', 'mum');
                 INSERT INTO documents (doc_id, snapshot, heads) VALUES ('2026-2027/thread/t1', x'', '');
                 PRAGMA user_version = 3;",
            )
            .expect("old data");
        }
        let store = super::SqliteStore::open(&path).expect("migrate");
        assert_eq!(
            store.access_facts("mum").expect("facts").threads,
            vec!["2026-2027/thread/t1".parse().expect("id")]
        );
    }

    /// A version-5 database keyed conversation members by thread id alone: each goes to the stored
    /// conversation of that id, and members registered before it was started go to the newest school year.
    #[test]
    fn a_version_5_database_gives_conversation_members_their_year() {
        use crate::store::DirectoryStore;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("relay.db");
        {
            let conn = rusqlite::Connection::open(&path).expect("open");
            for sql in &super::MIGRATIONS[..5] {
                conn.execute_batch(sql).expect("old schema");
            }
            conn.execute_batch(
                "INSERT INTO documents (doc_id, snapshot, heads) VALUES
                     ('2026-2027/school', x'', ''), ('2027-2028/school', x'', ''),
                     ('2026-2027/thread/oldx1', x'', '');
                 INSERT INTO thread_members (thread_id, member) VALUES
                     ('oldx1', 'account:mum'), ('planned', 'account:mum'), ('old_1', 'account:dad');
                 PRAGMA user_version = 5;",
            )
            .expect("old data");
        }
        let store = super::SqliteStore::open(&path).expect("migrate");
        let ids = |account: &str| -> Vec<String> {
            store
                .access_facts(account)
                .expect("facts")
                .threads
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        for id in ["mum", "dad"] {
            store
                .put_account(&super::Account {
                    id: id.into(),
                    name: id.into(),
                    role: super::AccountRole::Parent,
                    active: true,
                    student: None,
                })
                .expect("account");
        }
        assert_eq!(
            ids("mum"),
            ["2026-2027/thread/oldx1", "2027-2028/thread/planned"]
        );
        assert_eq!(
            ids("dad"),
            ["2027-2028/thread/old_1"],
            "'_' is no wildcard: old_1 is not the stored oldx1"
        );
    }

    /// Compaction forgets the heads that can no longer be answered from the changes after them.
    #[test]
    fn a_snapshot_leaves_only_the_heads_written_since_in_the_index() {
        use crate::store::DocumentStore;
        use automerge::transaction::Transactable;
        let store = super::SqliteStore::open_in_memory().expect("store");
        let by = crate::store::Attribution {
            account: "t".into(),
            device: "tablet".into(),
            at: 1,
        };
        let mut doc = automerge::Automerge::new();
        let mut base: Vec<String> = Vec::new();
        for i in 0..5 {
            let mut tx = doc.transaction();
            tx.put(automerge::ROOT, "k", i).expect("put");
            tx.commit();
            let heads: Vec<String> = doc.get_heads().iter().map(ToString::to_string).collect();
            let change = doc.get_last_local_change().expect("a change");
            let snapshot = (i == 3).then(|| doc.save());
            store
                .append_changes(
                    "d",
                    &[super::NewChange::of(change.clone())],
                    &heads,
                    &by,
                    snapshot.as_deref(),
                    Some(&base),
                )
                .expect("append");
            base = heads;
        }
        let seqs: Vec<i64> = store
            .conn()
            .prepare("SELECT seq FROM heads_index WHERE doc_id = 'd' ORDER BY seq")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(
            seqs,
            [4, 5],
            "the snapshot at the fourth change, and the write after it"
        );
    }

    /// A version-9 database kept a hash, an account, a device and a time for every change: migrating
    /// moves them into the audit tables as deliveries, and drops the changes a snapshot covers.
    #[test]
    fn a_version_9_change_log_becomes_the_audit_trail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("relay.db");
        let old = crate::store::conformance::old_log();
        {
            let conn = rusqlite::Connection::open(&path).expect("open");
            for sql in &super::MIGRATIONS[..9] {
                conn.execute_batch(sql).expect("old schema");
            }
            conn.execute(
                "INSERT INTO documents (doc_id, snapshot, snapshot_seq, heads) VALUES ('d', ?1, ?2, '')",
                rusqlite::params![old.snapshot, old.snapshot_seq],
            )
            .expect("old document");
            for (seq, hash, data, account, device, at) in &old.rows {
                conn.execute(
                    "INSERT INTO changes (doc_id, seq, hash, data, account_id, device_id, received_at)
                     VALUES ('d', ?1, ?2, ?3, ?4, ?5, ?6)",
                    rusqlite::params![seq, hash, data, account, device, at],
                )
                .expect("old change");
            }
            conn.execute_batch("PRAGMA user_version = 9;")
                .expect("old version");
        }
        let store = super::SqliteStore::open(&path).expect("migrate");
        crate::store::conformance::old_log_converted(&store, &old);
    }

    /// A history imported with its deliveries keeps each one, and is refused for a stored document.
    #[test]
    fn an_imported_history_keeps_who_delivered_each_change() {
        use crate::store::DocumentStore;
        use automerge::transaction::Transactable;
        let store = super::SqliteStore::open_in_memory().expect("open");
        let mut doc = automerge::Automerge::new();
        let mut batches = Vec::new();
        for (i, who) in ["t1", "t2", "t1"].iter().enumerate() {
            let mut tx = doc.transaction();
            tx.put(automerge::ROOT, "k", i as i64).expect("put");
            tx.commit();
            let change = doc.get_last_local_change().expect("a change").clone();
            let by = super::Attribution {
                account: (*who).to_owned(),
                device: format!("{who}-tablet"),
                at: 1_000 + i as i64,
            };
            batches.push((by, vec![super::NewChange::of(change)]));
        }
        let heads: Vec<String> = doc.get_heads().iter().map(ToString::to_string).collect();
        store
            .import_delivered("d", &batches, &heads, &doc.save())
            .expect("import");
        let trail: Vec<(u64, String, i64)> = store
            .audit_trail("d")
            .expect("trail")
            .into_iter()
            .map(|d| (d.first_seq, d.account, d.at))
            .collect();
        assert_eq!(
            trail,
            [
                (1, "t1".to_owned(), 1_000),
                (2, "t2".to_owned(), 1_001),
                (3, "t1".to_owned(), 1_002)
            ]
        );
        assert_eq!(
            store.document_heads().expect("heads"),
            [("d".to_owned(), {
                let mut sorted = heads.clone();
                sorted.sort();
                sorted
            })]
        );
        let again = store
            .import_delivered("d", &batches, &heads, &doc.save())
            .expect_err("already stored");
        assert!(again.to_string().contains("already stored"), "{again}");
    }

    /// A version-8 database had no heads index: migrating indexes each document's heads at its last
    /// change, so a device that is up to date is answered from the changes that come after.
    #[test]
    fn documents_from_before_the_heads_index_are_indexed_at_their_heads() {
        use crate::store::DocumentStore;
        use automerge::transaction::Transactable;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("relay.db");
        let mut doc = automerge::Automerge::new();
        let mut tx = doc.transaction();
        tx.put(automerge::ROOT, "a", 1).expect("put");
        let (hash, _) = tx.commit();
        let hash = hash.expect("a change");
        {
            let conn = rusqlite::Connection::open(&path).expect("open");
            for sql in &super::MIGRATIONS[..8] {
                conn.execute_batch(sql).expect("old schema");
            }
            conn.execute(
                "INSERT INTO documents (doc_id, snapshot, snapshot_seq, heads) VALUES ('d', ?1, 1, ?2)",
                rusqlite::params![doc.save(), hash.to_string()],
            )
            .expect("old document");
            conn.execute(
                "INSERT INTO changes (doc_id, seq, hash, data, account_id, device_id, received_at)
                 VALUES ('d', 1, ?1, x'', 't', 'tablet', 1)",
                [hash.to_string()],
            )
            .expect("old change");
            conn.execute_batch("INSERT INTO documents (doc_id, snapshot, heads) VALUES ('empty', x'', ''); PRAGMA user_version = 8;")
                .expect("old version");
        }
        let store = super::SqliteStore::open(&path).expect("migrate");
        let now = vec![hash.to_string()];
        assert_eq!(
            store.changes_after_heads("d", &now).expect("read"),
            Some(super::MissingChanges {
                changes: Vec::new(),
                heads: now
            })
        );
    }

    /// A version-5 database held hashes under the fixed domain key only: opened with the installation's
    /// key they are keyed once, and the old codes and tokens still work.
    #[test]
    fn hashes_from_before_the_installation_key_migrate_and_keep_working() {
        use crate::secrets::{Domain, HashKey};
        use crate::store::DirectoryStore;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("relay.db");
        let token = ring::hmac::sign(&Domain::Token.key(), b"secret");
        let code = ring::hmac::sign(&Domain::Code.key(), b"K7QM2D9XH4TBR");
        {
            let conn = rusqlite::Connection::open(&path).expect("open");
            for sql in &super::MIGRATIONS[..5] {
                conn.execute_batch(sql).expect("old schema");
            }
            conn.execute_batch(
                "INSERT INTO accounts (account_id, name, role) VALUES ('t', 'T', 'teacher');
                 PRAGMA user_version = 5;",
            )
            .expect("old data");
            conn.execute(
                "INSERT INTO devices (device_id, account_id, label, token_hash, created_at) VALUES ('d', 't', 'tablet', ?1, 1)",
                [token.as_ref()],
            )
            .expect("old device");
            conn.execute(
                "INSERT INTO access_codes (code_id, code_hash, role, account_id, issued_by, issued_at, expires_at)
                 VALUES ('c', ?1, 'staff', 't', 'head', 1, 9999999999)",
                [code.as_ref()],
            )
            .expect("old code");
        }
        let store = super::SqliteStore::open(&path).expect("migrate");
        let key = HashKey::random();
        assert!(key.migrate(&store).expect("rekey"));
        let (_, stored) = store.device_auth("d").expect("auth").expect("device");
        assert!(key.token_matches("secret", &stored));
        assert_ne!(stored, token.as_ref(), "no longer the unkeyed hash");
        assert!(
            store
                .code_by_hash(&key.code_hash("K7QM2D9XH4TBR"))
                .expect("lookup")
                .is_some()
        );
        assert!(!key.migrate(&store).expect("again"), "once only");
        let fresh = super::SqliteStore::open_in_memory().expect("fresh");
        assert!(
            !key.migrate(&fresh).expect("fresh"),
            "a new database has nothing from before the key"
        );
    }
}
