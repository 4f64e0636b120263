//! The PostgreSQL store: a district's relays on one database it already runs, backs up and replicates.
//! tokio-postgres with a deadpool pool, driven by the store's own small runtime: each call blocks its
//! caller as the SQLite store's do, so the hub's blocking work, the HTTP routes and the command line use
//! both backends alike. Every write is one transaction; documents are written only from the heads the
//! writer read (see [`DocumentStore::append_changes`]), so relays sharing the database never overwrite
//! each other's changes.

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod};
use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;
use tokio_postgres::{IsolationLevel, NoTls, Row};

use super::audit_log::{self, Delivery, PackedRow, RowWrite};
use super::{
    AccessFacts, Account, AccountRole, AdminLogEntry, Attribution, CONSENTED_STUDENTS, ClassMoves,
    CodeRecord, CodeRole, ConsentRecord, Device, DirectoryStore, DocumentStore, FirstChanges,
    LimitStore, LogStore, MailStore, MissingChanges, NewChange, Redemption, RosterImport,
    SessionRecord, StoreError, StoreResult, StoredChange, gcra, group_staff, split_heads,
};
use journal_core::{ClassId, DocId, StudentId, YearId};

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/postgres/001_initial.sql"),
    include_str!("migrations/postgres/002_rate_limits.sql"),
    include_str!("migrations/postgres/003_heads_index.sql"),
    include_str!("migrations/postgres/004_audit_deliveries.sql"),
    include_str!("migrations/postgres/005_changes_after_snapshot_only.sql"),
    include_str!("migrations/postgres/006_consents.sql"),
];

/// The schema version after which the version 3 change log's attribution is moved into the audit tables,
/// before the next version drops it.
const AUDIT_CONVERSION_AFTER: usize = 4;

/// The advisory lock under which a relay migrates the schema, so relays starting together take turns.
const MIGRATION_LOCK: i64 = 0x006a_6f75_726e_616c;

/// The `relay_meta` key recording that secret hashes are keyed by the installation's key.
const SECRETS_KEYED: &str = "secrets_keyed";

/// Every table a backup carries, with its columns, in an order that keeps references valid: the same in
/// both backends' schemas. The mailbox is left out: its mail is for relays running now.
const TABLES: &[(&str, &str)] = &[
    (
        "documents",
        "doc_id, snapshot, snapshot_seq, heads, change_seq",
    ),
    ("changes", "doc_id, seq, hash, data"),
    ("audit_documents", "doc, doc_id"),
    ("audit_actors", "actor, actor_id"),
    ("audit_authors", "author, account_id, device_id"),
    (
        "audit_deliveries",
        "doc, actor, first_seq, last_seq, first_at, last_at, entries, packed",
    ),
    ("sync_states", "device_id, doc_id, state"),
    ("accounts", "account_id, name, role, active, student_id"),
    ("students", "student_id, class_id, name"),
    ("class_staff", "class_id, account_id, class_teacher"),
    ("guardians", "account_id, student_id"),
    (
        "consents",
        "seq, student_id, guardian_id, given, signed_on, text_version, recorded_by, recorded_at",
    ),
    ("thread_access", "doc_id, member"),
    (
        "devices",
        "device_id, account_id, label, token_hash, created_at, revoked_at",
    ),
    (
        "sessions",
        "session_id, account_id, device_id, started_at, ended_at, documents_synced",
    ),
    (
        "access_codes",
        "code_id, code_hash, role, account_id, student_id, issued_by, issued_at, expires_at, spent_at, spent_by_device",
    ),
    ("admin_log", "id, at, actor, action, target, detail"),
    ("frozen_years", "year, frozen_at"),
    ("relay_meta", "key, value"),
    ("rate_limits", "key, tat_ms"),
    ("heads_index", "doc_id, heads, seq"),
];

/// Tables whose ids come from a sequence, which a restore moves past the restored ids.
const SEQUENCES: &[(&str, &str)] = &[
    ("sessions", "session_id"),
    ("admin_log", "id"),
    ("audit_documents", "doc"),
    ("audit_actors", "actor"),
    ("audit_authors", "author"),
    ("consents", "seq"),
];

/// One PostgreSQL value as SQLite stores it.
fn sqlite_value(row: &Row, index: usize) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    use tokio_postgres::types::Type;
    let ty = row.columns()[index].type_();
    let value = if *ty == Type::BYTEA {
        row.get::<_, Option<Vec<u8>>>(index).map(Value::Blob)
    } else if *ty == Type::INT8 {
        row.get::<_, Option<i64>>(index).map(Value::Integer)
    } else if *ty == Type::INT4 {
        row.get::<_, Option<i32>>(index)
            .map(|v| Value::Integer(i64::from(v)))
    } else if *ty == Type::BOOL {
        row.get::<_, Option<bool>>(index)
            .map(|v| Value::Integer(i64::from(v)))
    } else {
        row.get::<_, Option<String>>(index).map(Value::Text)
    };
    value.unwrap_or(Value::Null)
}

/// One SQLite value as the PostgreSQL column of type `ty` takes it.
fn postgres_value(
    value: rusqlite::types::ValueRef<'_>,
    ty: &tokio_postgres::types::Type,
) -> Box<dyn tokio_postgres::types::ToSql + Sync + Send> {
    use rusqlite::types::ValueRef;
    use tokio_postgres::types::Type;
    match value {
        ValueRef::Null if *ty == Type::BYTEA => Box::new(None::<Vec<u8>>),
        ValueRef::Null if *ty == Type::INT8 => Box::new(None::<i64>),
        ValueRef::Null if *ty == Type::INT4 => Box::new(None::<i32>),
        ValueRef::Null if *ty == Type::BOOL => Box::new(None::<bool>),
        ValueRef::Null => Box::new(None::<String>),
        ValueRef::Integer(v) if *ty == Type::BOOL => Box::new(v != 0),
        ValueRef::Integer(v) if *ty == Type::INT4 => Box::new(i32::try_from(v).unwrap_or(i32::MAX)),
        ValueRef::Integer(v) if *ty == Type::TEXT => Box::new(v.to_string()),
        ValueRef::Integer(v) => Box::new(v),
        ValueRef::Real(v) => Box::new(v.to_string()),
        ValueRef::Text(text) => Box::new(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Blob(bytes) => Box::new(bytes.to_vec()),
    }
}

/// Connections one relay keeps to the database at most.
const POOL_SIZE: usize = 16;

/// The relay's PostgreSQL database.
pub struct PostgresStore {
    pool: Pool,
    /// Drives the connections; shut down in the background on drop, which is allowed on any thread.
    runtime: Option<tokio::runtime::Runtime>,
    /// The connection settings, for the connection that listens for other relays' notices.
    config: tokio_postgres::Config,
    shown: String,
    /// A test's own database, dropped after the store.
    #[cfg(any(test, feature = "testing"))]
    database: Option<testing::TestDatabase>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresStore({})", self.shown)
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        let lost = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        if e.is_closed() || lost {
            StoreError::Unavailable(e.to_string())
        } else if e.code().is_some_and(|code| {
            // Class 53, insufficient resources (disk full, out of memory), and a read-only server.
            code.code().starts_with("53") || code == &SqlState::READ_ONLY_SQL_TRANSACTION
        }) {
            StoreError::CannotWrite(e.to_string())
        } else {
            StoreError::Database(Box::new(e))
        }
    }
}

impl From<PoolError> for StoreError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Backend(e) => e.into(),
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

/// A PostgreSQL address as it may be shown: user, host, port and database, never the password.
pub fn shown_address(url: &str) -> String {
    match tokio_postgres::Config::from_str(url) {
        Ok(config) => shown(&config),
        Err(_) => "an unreadable PostgreSQL address".to_owned(),
    }
}

fn shown(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or("")
    )
}

/// A foreign-key violation means the referenced account or student does not exist.
fn missing_reference(e: tokio_postgres::Error, what: impl FnOnce() -> String) -> StoreError {
    if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) {
        StoreError::NotFound(what())
    } else {
        e.into()
    }
}

fn account_from_row(row: &Row) -> Account {
    let role: String = row.get(2);
    let student: Option<String> = row.get(4);
    Account {
        id: row.get(0),
        name: row.get(1),
        role: AccountRole::parse(&role).unwrap_or(AccountRole::Student),
        active: row.get(3),
        student: student.and_then(|s| s.parse().ok()),
    }
}

fn code_from_row(row: &Row) -> CodeRecord {
    let role: String = row.get(1);
    let student: Option<String> = row.get(3);
    CodeRecord {
        id: row.get(0),
        role: CodeRole::parse(&role).unwrap_or(CodeRole::Student),
        account: row.get(2),
        student: student.and_then(|s| s.parse().ok()),
        issued_by: row.get(4),
        issued_at: row.get(5),
        expires_at: row.get(6),
        spent_at: row.get(7),
        spent_by_device: row.get(9),
    }
}

fn device_from_row(row: &Row) -> Device {
    Device {
        id: row.get(0),
        account: row.get(1),
        label: row.get(2),
        created_at: row.get(3),
        revoked_at: row.get(4),
    }
}

const ACCOUNT_COLUMNS: &str = "account_id, name, role, active, student_id";

const UPSERT_ACCOUNT: &str = "INSERT INTO accounts (account_id, name, role, active, student_id)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (account_id) DO UPDATE SET name = excluded.name, role = excluded.role,
     active = excluded.active, student_id = excluded.student_id";

async fn upsert_account(
    client: &impl deadpool_postgres::GenericClient,
    account: &Account,
) -> StoreResult<()> {
    client
        .execute(
            UPSERT_ACCOUNT,
            &[
                &account.id,
                &account.name,
                &account.role.as_str(),
                &account.active,
                &account.student.as_ref().map(StudentId::as_str),
            ],
        )
        .await?;
    Ok(())
}

/// Appends changes, sets the heads and optionally the snapshot, inside the caller's transaction, whose
/// lock on the document's row it expects. With `exact` (the writer's copy held exactly the stored changes)
/// or for a new document, the heads are indexed at the last change's position.
async fn append_in(
    tx: &deadpool_postgres::Transaction<'_>,
    id: &str,
    changes: &[NewChange],
    heads: &[String],
    by: &Attribution,
    snapshot: Option<&[u8]>,
    exact: bool,
) -> StoreResult<()> {
    let before: i64 = tx
        .query_one("SELECT change_seq FROM documents WHERE doc_id = $1", &[&id])
        .await?
        .get(0);
    let mut seq = before;
    let insert = tx
        .prepare_cached(
            "INSERT INTO changes (doc_id, seq, hash, data) VALUES ($1, $2, $3, $4)
             ON CONFLICT (doc_id, hash) DO NOTHING",
        )
        .await?;
    for change in changes {
        seq += 1;
        tx.execute(&insert, &[&id, &seq, &change.hash, &change.bytes])
            .await?;
    }
    record_deliveries(tx, id, changes, by).await?;
    tx.execute(
        "UPDATE documents SET heads = $2, change_seq = $3 WHERE doc_id = $1",
        &[&id, &heads.join(","), &seq],
    )
    .await?;
    // Only heads known to close exactly the changes stored so far are indexed (see `exact`).
    if (exact || before == 0) && !heads.is_empty() {
        tx.execute(
            "INSERT INTO heads_index (doc_id, heads, seq) VALUES ($1, $2, $3)
             ON CONFLICT (doc_id, heads) DO NOTHING",
            &[&id, &heads.join(","), &seq],
        )
        .await?;
    }
    if let Some(snapshot) = snapshot {
        tx.execute(
            "UPDATE documents SET snapshot = $2, snapshot_seq = change_seq WHERE doc_id = $1",
            &[&id, &snapshot],
        )
        .await?;
        // The snapshot holds every change it covers, and the audit tables who delivered each: the
        // changes need not be kept twice.
        tx.execute(
            "DELETE FROM changes WHERE doc_id = $1
             AND seq <= (SELECT snapshot_seq FROM documents WHERE doc_id = $1)",
            &[&id],
        )
        .await?;
        // Heads from before the snapshot can no longer be answered from the changes: forget them, so
        // the index holds at most the writes since the last snapshot.
        tx.execute(
            "DELETE FROM heads_index WHERE doc_id = $1
             AND seq < (SELECT snapshot_seq FROM documents WHERE doc_id = $1)",
            &[&id],
        )
        .await?;
    }
    Ok(())
}

/// The number (column `number`) naming `key` (column `name`) in `table`, added if new.
async fn intern<T: tokio_postgres::types::ToSql + Sync>(
    tx: &deadpool_postgres::Transaction<'_>,
    table: &str,
    number: &str,
    name: &str,
    key: &T,
) -> StoreResult<i64> {
    let insert = tx
        .prepare_cached(&format!(
            "INSERT INTO {table} ({name}) VALUES ($1) ON CONFLICT ({name}) DO NOTHING"
        ))
        .await?;
    tx.execute(&insert, &[key]).await?;
    let select = tx
        .prepare_cached(&format!("SELECT {number} FROM {table} WHERE {name} = $1"))
        .await?;
    Ok(tx.query_one(&select, &[key]).await?.get(0))
}

/// Records in the audit tables that `by` delivered `changes` to document `id`; a change already recorded
/// (its actor's sequence number reached before) is not recorded twice. The caller holds the document's
/// row lock, so a document's rows are written by one transaction at a time.
async fn record_deliveries(
    tx: &deadpool_postgres::Transaction<'_>,
    id: &str,
    changes: &[NewChange],
    by: &Attribution,
) -> StoreResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let doc = intern(tx, "audit_documents", "doc", "doc_id", &id).await?;
    tx.execute(
        "INSERT INTO audit_authors (account_id, device_id) VALUES ($1, $2)
         ON CONFLICT (account_id, device_id) DO NOTHING",
        &[&by.account, &by.device],
    )
    .await?;
    let author: i64 = tx
        .query_one(
            "SELECT author FROM audit_authors WHERE account_id = $1 AND device_id = $2",
            &[&by.account, &by.device],
        )
        .await?
        .get(0);
    for run in audit_log::runs(changes) {
        let actor = intern(tx, "audit_actors", "actor", "actor_id", &run.actor).await?;
        let last = tx
            .query_opt(
                "SELECT first_seq, last_seq, first_at, last_at, entries, packed FROM audit_deliveries
                 WHERE doc = $1 AND actor = $2 ORDER BY first_seq DESC LIMIT 1",
                &[&doc, &actor],
            )
            .await?
            .map(|r| PackedRow {
                first_seq: r.get(0),
                last_seq: r.get(1),
                first_at: r.get(2),
                last_at: r.get(3),
                entries: r.get(4),
                packed: r.get(5),
            });
        match audit_log::record(last, &run, by.at, author) {
            None => {}
            Some(RowWrite::Extend(row)) => {
                tx.execute(
                    "UPDATE audit_deliveries SET last_seq = $4, last_at = $5, entries = $6, packed = $7
                     WHERE doc = $1 AND actor = $2 AND first_seq = $3",
                    &[
                        &doc,
                        &actor,
                        &row.first_seq,
                        &row.last_seq,
                        &row.last_at,
                        &row.entries,
                        &row.packed,
                    ],
                )
                .await?;
            }
            Some(RowWrite::Start(row)) => {
                tx.execute(
                    "INSERT INTO audit_deliveries
                     (doc, actor, first_seq, last_seq, first_at, last_at, entries, packed)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[
                        &doc,
                        &actor,
                        &row.first_seq,
                        &row.last_seq,
                        &row.first_at,
                        &row.last_at,
                        &row.entries,
                        &row.packed,
                    ],
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Moves the version 3 change log's attribution (a hash, an account, a device and a time for every
/// change) into the audit tables, document by document.
async fn convert_attribution(tx: &deadpool_postgres::Transaction<'_>) -> StoreResult<()> {
    let ids: Vec<String> = tx
        .query("SELECT DISTINCT doc_id FROM changes ORDER BY doc_id", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    tracing::info!(
        documents = ids.len(),
        "moving the audit trail into its compact form (once; a school year takes a minute or two)"
    );
    for id in ids {
        let row = tx
            .query_one(
                "SELECT snapshot, snapshot_seq FROM documents WHERE doc_id = $1",
                &[&id],
            )
            .await?;
        let mut document: Vec<u8> = row.get(0);
        let after: i64 = row.get(1);
        let mut log = Vec::new();
        for row in tx
            .query(
                "SELECT hash, data, seq, account_id, device_id, received_at FROM changes
                 WHERE doc_id = $1 ORDER BY seq",
                &[&id],
            )
            .await?
        {
            if row.get::<_, i64>(2) > after {
                document.extend_from_slice(row.get::<_, &[u8]>(1));
            }
            log.push((
                row.get::<_, String>(0),
                Attribution {
                    account: row.get(3),
                    device: row.get(4),
                    at: row.get(5),
                },
            ));
        }
        for (by, changes) in audit_log::batches_from_log(&id, &document, log)? {
            record_deliveries(tx, &id, &changes, &by).await?;
        }
    }
    Ok(())
}

/// Creates a document's row if it has none and locks it for the transaction; returns its stored heads.
async fn lock_document(tx: &deadpool_postgres::Transaction<'_>, id: &str) -> StoreResult<String> {
    tx.execute(
        "INSERT INTO documents (doc_id, snapshot, heads) VALUES ($1, ''::BYTEA, '')
         ON CONFLICT (doc_id) DO NOTHING",
        &[&id],
    )
    .await?;
    Ok(tx
        .query_one(
            "SELECT heads FROM documents WHERE doc_id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
        .get(0))
}

async fn migrate(pool: &Pool) -> StoreResult<()> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS journal_schema (version INTEGER NOT NULL)")
        .await?;
    let found: i64 = match tx
        .query_opt("SELECT version FROM journal_schema", &[])
        .await?
    {
        Some(row) => i64::from(row.get::<_, i32>(0)),
        None => {
            tx.execute("INSERT INTO journal_schema (version) VALUES (0)", &[])
                .await?;
            0
        }
    };
    let current = MIGRATIONS.len() as i64;
    if found > current {
        return Err(StoreError::TooNew {
            found,
            supported: current,
        });
    }
    for (version, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.batch_execute(sql).await?;
        if version + 1 == AUDIT_CONVERSION_AFTER {
            convert_attribution(&tx).await?;
        }
    }
    let version = i32::try_from(current).unwrap_or(i32::MAX);
    tx.execute("UPDATE journal_schema SET version = $1", &[&version])
        .await?;
    tx.commit().await?;
    Ok(())
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`) and migrates
    /// its schema; a database written by a newer relay is refused.
    pub fn open(url: &str) -> StoreResult<Self> {
        let mut config = tokio_postgres::Config::from_str(url).map_err(|e| {
            StoreError::Unavailable(format!("{url:?} is not a PostgreSQL address: {e}"))
        })?;
        config.connect_timeout(Duration::from_secs(5));
        config.application_name("journal-relay");
        let shown = shown(&config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("journal-postgres")
            .enable_all()
            .build()
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot start the database driver: {e}"))
            })?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let store = PostgresStore {
            pool,
            runtime: Some(runtime),
            config,
            shown,
            #[cfg(any(test, feature = "testing"))]
            database: None,
        };
        store.run(migrate(&store.pool)).map_err(|e| match e {
            StoreError::Unavailable(reason) => StoreError::Unavailable(format!(
                "cannot reach PostgreSQL at {}: {reason}",
                store.shown
            )),
            other => other,
        })?;
        Ok(store)
    }

    /// The address, without the password.
    pub fn address(&self) -> &str {
        &self.shown
    }

    /// A store on a new database of its own, dropped with the store (tests).
    #[cfg(any(test, feature = "testing"))]
    pub fn for_test(purpose: &str) -> Self {
        let database = testing::TestDatabase::create(purpose);
        let mut store = PostgresStore::open(database.url()).expect("open the test database");
        store.database = Some(database);
        store
    }

    /// Runs `work` to completion on the store's runtime, blocking the caller (on any thread, inside an
    /// async runtime or not).
    fn run<T>(&self, work: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        let runtime = self
            .runtime
            .as_ref()
            .expect("the runtime lives as long as the store");
        // Connections the pool opens meanwhile are spawned on, and driven by, the store's runtime.
        let _entered = runtime.enter();
        // Outside tokio's cooperative budget: on a thread of the relay's runtime the budget belongs to the
        // task this call blocks, which cannot yield to renew it, so a spent budget would leave the work
        // pending for ever.
        futures_executor::block_on(tokio::task::unconstrained(work))
    }

    /// A transaction that sees one moment of the database and writes nothing.
    async fn snapshot_read<T>(
        &self,
        read: impl AsyncFnOnce(&deadpool_postgres::Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut client = self.pool.get().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let out = read(&tx).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Sends `payload` to every connection listening on `channel` (the other relays), without waiting for
    /// the database; a notice that cannot be sent is logged.
    pub fn notify(&self, channel: &'static str, payload: String) {
        let pool = self.pool.clone();
        let runtime = self
            .runtime
            .as_ref()
            .expect("the runtime lives as long as the store");
        runtime.spawn(async move {
            let sent = async {
                let client = pool.get().await?;
                client
                    .execute("SELECT pg_notify($1, $2)", &[&channel, &payload])
                    .await?;
                Ok::<_, StoreError>(())
            };
            if let Err(e) = sent.await {
                tracing::warn!(error = %e, "could not tell the other relays about a change");
            }
        });
    }

    /// Sends `payload` to every connection listening on `channel`, and returns once the database has it
    /// (a command that exits right after).
    pub fn notify_now(&self, channel: &str, payload: &str) -> StoreResult<()> {
        self.run(async {
            let client = self.pool.get().await?;
            client
                .execute("SELECT pg_notify($1, $2)", &[&channel, &payload])
                .await?;
            Ok(())
        })
    }

    /// Listens on `channel` until `stop` turns true, handing every payload to `heard`. A lost connection is
    /// made again with backoff; `reconnected` is called each time after the first, since notices sent
    /// meanwhile were missed.
    pub fn listen(
        &self,
        channel: &'static str,
        heard: impl Fn(&str) + Send + Sync + 'static,
        reconnected: impl Fn() + Send + Sync + 'static,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let config = self.config.clone();
        let shown = self.shown.clone();
        let runtime = self
            .runtime
            .as_ref()
            .expect("the runtime lives as long as the store");
        runtime.spawn(async move {
            let mut failures = 0u32;
            let mut first = true;
            loop {
                let listening = async {
                    let (client, mut connection) = config.connect(NoTls).await?;
                    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                    let driver = tokio::spawn(async move {
                        loop {
                            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                                Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) => {
                                    if tx.send(n.payload().to_owned()).is_err() {
                                        return;
                                    }
                                }
                                Some(Ok(_)) => {}
                                Some(Err(_)) | None => return,
                            }
                        }
                    });
                    client.batch_execute(&format!("LISTEN {channel}")).await?;
                    Ok::<_, StoreError>((client, driver, rx))
                };
                let (client, driver, mut rx) = tokio::select! {
                    started = listening => match started {
                        Ok(started) => started,
                        Err(e) => {
                            failures = failures.saturating_add(1);
                            let wait = Duration::from_millis(200 * u64::from(failures.min(25)));
                            tracing::warn!(database = %shown, error = %e, retry_in_ms = wait.as_millis() as u64, "cannot listen for the other relays' changes");
                            tokio::select! {
                                () = tokio::time::sleep(wait) => continue,
                                _ = stop.changed() => return,
                            }
                        }
                    },
                    _ = stop.changed() => return,
                };
                failures = 0;
                if !first {
                    tracing::info!(database = %shown, "listening for the other relays' changes again");
                    reconnected();
                }
                first = false;
                loop {
                    tokio::select! {
                        payload = rx.recv() => match payload {
                            Some(payload) => heard(&payload),
                            None => break,
                        },
                        _ = stop.changed() => {
                            driver.abort();
                            return;
                        }
                    }
                }
                drop(client);
                tracing::warn!(database = %shown, "lost the connection that hears the other relays' changes");
            }
        });
    }

    /// Copies every table into the SQLite database at `path` (new, at the SQLite schema's newest
    /// version), as one moment of this database: the backup snapshot's format, whichever the backend.
    pub fn copy_into_sqlite(&self, path: &std::path::Path) -> StoreResult<()> {
        drop(super::sqlite::SqliteStore::open(path)?);
        let mut target = rusqlite::Connection::open(path)?;
        self.run(self.snapshot_read(async |source| {
            let tx = target.transaction()?;
            for (table, columns) in TABLES {
                let count = columns.split(',').count();
                let placeholders = (1..=count)
                    .map(|i| format!("?{i}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                tx.execute(&format!("DELETE FROM {table}"), [])?;
                let mut insert = tx.prepare(&format!(
                    "INSERT INTO {table} ({columns}) VALUES ({placeholders})"
                ))?;
                for row in source
                    .query(&format!("SELECT {columns} FROM {table}"), &[])
                    .await?
                {
                    let values: Vec<rusqlite::types::Value> =
                        (0..count).map(|i| sqlite_value(&row, i)).collect();
                    insert.execute(rusqlite::params_from_iter(values))?;
                }
            }
            tx.commit()?;
            Ok(())
        }))
    }

    /// Loads every table from the SQLite database at `path` (a restored snapshot) in one transaction.
    /// Refuses a database that already holds documents or accounts unless `replace`, which empties it
    /// first.
    pub fn load_from_sqlite(&self, path: &std::path::Path, replace: bool) -> StoreResult<()> {
        // A database from an older relay has older tables: it is brought to this relay's schema first.
        drop(super::sqlite::SqliteStore::open(path)?);
        let source = rusqlite::Connection::open(path)?;
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let holds: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM documents) OR EXISTS (SELECT 1 FROM accounts)",
                    &[],
                )
                .await?
                .get(0);
            if holds && !replace {
                return Err(StoreError::Invalid(format!(
                    "{} already holds a school's data; restore into an empty database, or pass --force",
                    self.shown
                )));
            }
            for (table, _) in TABLES.iter().rev() {
                tx.execute(&format!("DELETE FROM {table}"), &[]).await?;
            }
            for (table, columns) in TABLES {
                let count = columns.split(',').count();
                let column_types: Vec<tokio_postgres::types::Type> = tx
                    .prepare(&format!("SELECT {columns} FROM {table} LIMIT 0"))
                    .await?
                    .columns()
                    .iter()
                    .map(|c| c.type_().clone())
                    .collect();
                // COPY: a school year is a million rows and more, too many for one statement each.
                let sink = tx
                    .copy_in(&format!("COPY {table} ({columns}) FROM STDIN BINARY"))
                    .await?;
                let writer = tokio_postgres::binary_copy::BinaryCopyInWriter::new(
                    sink,
                    &column_types,
                );
                let mut writer = std::pin::pin!(writer);
                let mut stmt = source.prepare(&format!("SELECT {columns} FROM {table}"))?;
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    let mut values: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> =
                        Vec::with_capacity(count);
                    for (i, ty) in column_types.iter().enumerate() {
                        values.push(postgres_value(row.get_ref(i)?, ty));
                    }
                    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = values
                        .iter()
                        .map(|v| v.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
                        .collect();
                    writer.as_mut().write(&params).await?;
                }
                writer.finish().await?;
            }
            for (table, column) in SEQUENCES {
                tx.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                         coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)"
                    ),
                    &[],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Stores `value` under `key` in the relay's settings unless a value is there; returns the stored one.
    pub fn settle_meta(&self, key: &str, value: &str) -> StoreResult<String> {
        self.run(async {
            let client = self.pool.get().await?;
            client
                .execute(
                    "INSERT INTO relay_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                    &[&key, &value],
                )
                .await?;
            Ok(client
                .query_one("SELECT value FROM relay_meta WHERE key = $1", &[&key])
                .await?
                .get(0))
        })
    }
}

impl DocumentStore for PostgresStore {
    fn load_document(&self, id: &str) -> StoreResult<Option<Vec<u8>>> {
        // One moment of the database: a snapshot written meanwhile by another relay blanks the bytes of
        // the changes it covers.
        self.run(self.snapshot_read(async |tx| {
            let Some(row) = tx
                .query_opt(
                    "SELECT snapshot, snapshot_seq FROM documents WHERE doc_id = $1",
                    &[&id],
                )
                .await?
            else {
                return Ok(None);
            };
            let mut bytes: Vec<u8> = row.get(0);
            let after: i64 = row.get(1);
            for row in tx
                .query(
                    "SELECT data FROM changes WHERE doc_id = $1 AND seq > $2 ORDER BY seq",
                    &[&id, &after],
                )
                .await?
            {
                bytes.extend_from_slice(row.get::<_, &[u8]>(0));
            }
            Ok(Some(bytes))
        }))
    }

    fn document_heads(&self) -> StoreResult<Vec<(String, Vec<String>)>> {
        self.run(async {
            let client = self.pool.get().await?;
            Ok(client
                .query("SELECT doc_id, heads FROM documents ORDER BY doc_id", &[])
                .await?
                .iter()
                .map(|row| {
                    let heads: &str = row.get(1);
                    (row.get(0), split_heads(heads))
                })
                .collect())
        })
    }

    fn outside_writes(&self) -> StoreResult<i64> {
        // Relays sharing the database hear of each other's writes as events (LISTEN/NOTIFY) and forget
        // what they cached; no counter is read on every message.
        Ok(0)
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
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let stored = lock_document(&tx, id).await?;
            if let Some(base) = base
                && stored != base.join(",")
            {
                return Err(StoreError::Stale(id.to_owned()));
            }
            append_in(&tx, id, changes, heads, by, snapshot, base.is_some()).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn changes_after_heads(
        &self,
        id: &str,
        heads: &[String],
    ) -> StoreResult<Option<MissingChanges>> {
        let asked = heads.join(",");
        self.run(async {
            let client = self.pool.get().await?;
            // One statement, one round trip, one snapshot: the heads now, where the asked heads stand, and
            // the changes after them.
            let rows = client
                .query(
                    "SELECT d.heads, h.seq, c.hash, c.data, d.snapshot_seq
                     FROM documents d
                     LEFT JOIN heads_index h ON h.doc_id = d.doc_id AND h.heads = $2
                     LEFT JOIN changes c ON c.doc_id = d.doc_id AND c.seq > h.seq AND d.heads <> $2
                     WHERE d.doc_id = $1
                     ORDER BY c.seq",
                    &[&id, &asked],
                )
                .await?;
            let Some(first) = rows.first() else {
                return Ok(None);
            };
            let now: String = first.get(0);
            if !asked.is_empty() && asked == now {
                return Ok(Some(MissingChanges {
                    changes: Vec::new(),
                    heads: heads.to_vec(),
                }));
            }
            let Some(at) = first.get::<_, Option<i64>>(1) else {
                return Ok(None);
            };
            if at < first.get::<_, i64>(4) {
                // Some of those changes are kept only inside the snapshot now.
                return Ok(None);
            }
            let mut changes = Vec::with_capacity(rows.len());
            for row in &rows {
                let (Some(hash), Some(bytes)) = (
                    row.get::<_, Option<String>>(2),
                    row.get::<_, Option<Vec<u8>>>(3),
                ) else {
                    continue;
                };
                changes.push(StoredChange { hash, bytes });
            }
            Ok(Some(MissingChanges {
                changes,
                heads: split_heads(&now),
            }))
        })
    }

    fn audit_trail(&self, id: &str) -> StoreResult<Vec<Delivery>> {
        self.run(self.snapshot_read(async |tx| {
            let authors = tx
                .query("SELECT author, account_id, device_id FROM audit_authors", &[])
                .await?
                .iter()
                .map(|r| (r.get(0), (r.get(1), r.get(2))))
                .collect();
            let rows = tx
                .query(
                    "SELECT a.actor_id, r.first_seq, r.last_seq, r.first_at, r.last_at, r.entries, r.packed
                     FROM audit_deliveries r
                     JOIN audit_documents d ON d.doc = r.doc
                     JOIN audit_actors a ON a.actor = r.actor
                     WHERE d.doc_id = $1",
                    &[&id],
                )
                .await?
                .iter()
                .map(|r| {
                    (
                        r.get(0),
                        PackedRow {
                            first_seq: r.get(1),
                            last_seq: r.get(2),
                            first_at: r.get(3),
                            last_at: r.get(4),
                            entries: r.get(5),
                            packed: r.get(6),
                        },
                    )
                })
                .collect();
            audit_log::deliveries(rows, &authors)
        }))
    }

    fn changes_since_snapshot(&self, id: &str) -> StoreResult<i64> {
        self.run(async {
            let client = self.pool.get().await?;
            Ok(client
                .query_opt(
                    "SELECT change_seq - snapshot_seq FROM documents WHERE doc_id = $1",
                    &[&id],
                )
                .await?
                .map_or(0, |r| r.get(0)))
        })
    }

    fn sync_state(&self, device: &str, doc: &str) -> StoreResult<Option<Vec<u8>>> {
        self.run(async {
            let client = self.pool.get().await?;
            Ok(client
                .query_opt(
                    "SELECT state FROM sync_states WHERE device_id = $1 AND doc_id = $2",
                    &[&device, &doc],
                )
                .await?
                .map(|row| row.get(0)))
        })
    }

    fn put_sync_state(&self, device: &str, doc: &str, state: &[u8]) -> StoreResult<()> {
        self.run(async {
            let client = self.pool.get().await?;
            client
                .execute(
                    "INSERT INTO sync_states (device_id, doc_id, state) VALUES ($1, $2, $3)
                     ON CONFLICT (device_id, doc_id) DO UPDATE SET state = excluded.state",
                    &[&device, &doc, &state],
                )
                .await?;
            Ok(())
        })
    }

    fn create_thread(
        &self,
        members: &[String],
        first: &FirstChanges<'_>,
        by: &Attribution,
    ) -> StoreResult<bool> {
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            // Two relays starting the same conversation take turns.
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1)::BIGINT)",
                &[&first.id],
            )
            .await?;
            let taken: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM documents WHERE doc_id = $1)
                         OR EXISTS (SELECT 1 FROM thread_access WHERE doc_id = $1)",
                    &[&first.id],
                )
                .await?
                .get(0);
            if taken {
                return Ok(false);
            }
            for member in members {
                tx.execute(
                    "INSERT INTO thread_access (doc_id, member) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&first.id, member],
                )
                .await?;
            }
            lock_document(&tx, first.id).await?;
            append_in(
                &tx,
                first.id,
                first.changes,
                first.heads,
                by,
                Some(first.snapshot),
                true,
            )
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    fn freeze_year(&self, year: YearId, at: i64) -> StoreResult<()> {
        self.run(async {
            let client = self.pool.get().await?;
            client
                .execute(
                    "INSERT INTO frozen_years (year, frozen_at) VALUES ($1, $2) ON CONFLICT (year) DO NOTHING",
                    &[&i32::from(year.0), &at],
                )
                .await?;
            Ok(())
        })
    }

    fn is_frozen(&self, year: YearId) -> StoreResult<bool> {
        self.run(async {
            let client = self.pool.get().await?;
            Ok(client
                .query_opt(
                    "SELECT 1 FROM frozen_years WHERE year = $1",
                    &[&i32::from(year.0)],
                )
                .await?
                .is_some())
        })
    }
}

impl DirectoryStore for PostgresStore {
    fn put_account(&self, account: &Account) -> StoreResult<()> {
        self.run(async {
            let client = self.pool.get().await?;
            upsert_account(&client, account).await
        })
    }

    fn account(&self, id: &str) -> StoreResult<Option<Account>> {
        self.run(async {
            let client = self.pool.get().await?;
            Ok(client
                .query_opt(
                    &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE account_id = $1"),
                    &[&id],
                )
                .await?
                .as_ref()
                .map(account_from_row))
        })
    }

    fn accounts(&self) -> StoreResult<Vec<Account>> {
        self.run(async {
            let client = self.pool.get().await?;
            Ok(client
                .query(
                    &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY account_id"),
                    &[],
                )
                .await?
                .iter()
                .map(account_from_row)
                .collect())
        })
    }

    fn staff(&self) -> StoreResult<Vec<(Account, Vec<ClassId>)>> {
        self.run(async {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    "SELECT a.account_id, a.name, a.role, a.active, a.student_id, cs.class_id
                     FROM accounts a LEFT JOIN class_staff cs ON cs.account_id = a.account_id
                     WHERE a.role IN ('teacher', 'administration') AND a.active
                     ORDER BY a.account_id, cs.class_id",
                    &[],
                )
                .await?;
            Ok(group_staff(
                rows.iter().map(|row| (account_from_row(row), row.get(5))),
            ))
        })
    }

    fn put_student(&self, student: &StudentId, class: &ClassId, name: &str) -> StoreResult<()> {
        self.run(async {
            let client = self.pool.get().await?;
            client
                .execute(
                    "INSERT INTO students (student_id, class_id, name) VALUES ($1, $2, $3)
                     ON CONFLICT (student_id) DO UPDATE SET class_id = excluded.class_id, name = excluded.name",
                    &[&student.as_str(), &class.as_str(), &name],
                )
                .await?;
            Ok(())
        })
    }

    fn put_class_staff(
        &self,
        class: &ClassId,
        account: &str,
        class_teacher: bool,
    ) -> StoreResult<()> {
        self.run(async {
            let client = self.pool.get().await?;
            client
                .execute(
                    "INSERT INTO class_staff (class_id, account_id, class_teacher) VALUES ($1, $2, $3)
                     ON CONFLICT (class_id, account_id) DO UPDATE SET class_teacher = excluded.class_teacher",
                    &[&class.as_str(), &account, &class_teacher],
                )
                .await
                .map_err(|e| missing_reference(e, || format!("account {account}")))?;
            Ok(())
        })
    }

    fn remove_class_staff(&self, class: &ClassId, account: &str) -> StoreResult<()> {
        self.run(async {
            let client = self.pool.get().await?;
            client
                .execute(
                    "DELETE FROM class_staff WHERE class_id = $1 AND account_id = $2",
                    &[&class.as_str(), &account],
                )
                .await?;
            Ok(())
        })
    }

    fn link_guardian(&self, account: &str, student: &StudentId) -> StoreResult<()> {
        self.run(async {
            let client = self.pool.get().await?;
            client
                .execute(
                    "INSERT INTO guardians (account_id, student_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&account, &student.as_str()],
                )
                .await
                .map_err(|e| {
                    missing_reference(e, || format!("account {account} or student {student}"))
                })?;
            Ok(())
        })
    }

    fn add_thread_member(&self, thread: &DocId, member: &str) -> StoreResult<()> {
        self.run(async {
            let client = self.pool.get().await?;
            client
                .execute(
                    "INSERT INTO thread_access (doc_id, member) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&thread.to_string(), &member],
                )
                .await?;
            Ok(())
        })
    }

    fn access_facts(&self, account: &str) -> StoreResult<AccessFacts> {
        self.run(self.snapshot_read(async |tx| {
            let Some(found) = tx
                .query_opt(
                    &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE account_id = $1"),
                    &[&account],
                )
                .await?
                .as_ref()
                .map(account_from_row)
            else {
                return Ok(AccessFacts::default());
            };
            let pairs = |rows: Vec<Row>| -> Vec<(StudentId, ClassId)> {
                rows.iter()
                    .filter_map(|r| {
                        Some((
                            r.get::<_, &str>(0).parse().ok()?,
                            r.get::<_, &str>(1).parse().ok()?,
                        ))
                    })
                    .collect()
            };
            let staff_classes: Vec<(ClassId, bool)> = tx
                .query(
                    "SELECT class_id, class_teacher FROM class_staff WHERE account_id = $1",
                    &[&account],
                )
                .await?
                .iter()
                .filter_map(|r| Some((r.get::<_, &str>(0).parse().ok()?, r.get(1))))
                .collect();
            let class_students = pairs(
                tx.query(
                    "SELECT s.student_id, s.class_id FROM students s
                     JOIN class_staff cs ON cs.class_id = s.class_id WHERE cs.account_id = $1",
                    &[&account],
                )
                .await?,
            );
            let children = pairs(
                tx.query(
                    "SELECT s.student_id, s.class_id FROM students s
                     JOIN guardians g ON g.student_id = s.student_id WHERE g.account_id = $1",
                    &[&account],
                )
                .await?,
            );
            let own_class: Option<String> = match &found.student {
                Some(student) => tx
                    .query_opt(
                        "SELECT class_id FROM students WHERE student_id = $1",
                        &[&student.as_str()],
                    )
                    .await?
                    .map(|r| r.get(0)),
                None => None,
            };
            let mut addresses = vec![format!("account:{account}")];
            addresses.extend(children.iter().map(|(s, _)| format!("guardians:{s}")));
            addresses.extend(found.student.iter().map(|s| format!("student:{s}")));
            let threads: Vec<DocId> = tx
                .query(
                    "SELECT DISTINCT doc_id FROM thread_access WHERE member = ANY($1) ORDER BY doc_id",
                    &[&addresses],
                )
                .await?
                .iter()
                .filter_map(|r| r.get::<_, &str>(0).parse().ok())
                .collect();
            let keeps_profiles = staff_classes
                .iter()
                .any(|(_, class_teacher)| *class_teacher);
            Ok(AccessFacts {
                account: Some(found),
                staff_classes,
                class_students,
                children,
                own_class: own_class.and_then(|c| c.parse().ok()),
                threads,
                // Only a class teacher keeps profiles: nobody else (a morning's parents) asks the register.
                consented: if keeps_profiles {
                    tx.query(CONSENTED_STUDENTS, &[&account])
                        .await?
                        .iter()
                        .filter_map(|r| r.get::<_, &str>(0).parse().ok())
                        .collect()
                } else {
                    Vec::new()
                },
            })
        }))
    }

    fn add_device(&self, device: &Device, token_hash: &[u8]) -> StoreResult<()> {
        self.run(async {
            let client = self.pool.get().await?;
            client
                .execute(
                    "INSERT INTO devices (device_id, account_id, label, token_hash, created_at, revoked_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &device.id,
                        &device.account,
                        &device.label,
                        &token_hash,
                        &device.created_at,
                        &device.revoked_at,
                    ],
                )
                .await
                .map_err(|e| missing_reference(e, || format!("account {}", device.account)))?;
            Ok(())
        })
    }

    fn device_auth(&self, device: &str) -> StoreResult<Option<(Device, Vec<u8>)>> {
        self.run(async {
            let client = self.pool.get().await?;
            Ok(client
                .query_opt(
                    "SELECT device_id, account_id, label, created_at, revoked_at, token_hash
                     FROM devices WHERE device_id = $1",
                    &[&device],
                )
                .await?
                .map(|row| (device_from_row(&row), row.get(5))))
        })
    }

    fn devices_of(&self, account: &str) -> StoreResult<Vec<Device>> {
        self.run(async {
            let client = self.pool.get().await?;
            Ok(client
                .query(
                    "SELECT device_id, account_id, label, created_at, revoked_at FROM devices
                     WHERE account_id = $1 ORDER BY created_at, device_id",
                    &[&account],
                )
                .await?
                .iter()
                .map(device_from_row)
                .collect())
        })
    }

    fn revoke_device(&self, device: &str, at: i64) -> StoreResult<bool> {
        self.run(async {
            let client = self.pool.get().await?;
            let n = client
                .execute(
                    "UPDATE devices SET revoked_at = coalesce(revoked_at, $2) WHERE device_id = $1",
                    &[&device, &at],
                )
                .await?;
            Ok(n > 0)
        })
    }

    fn student(&self, student: &StudentId) -> StoreResult<Option<(ClassId, String)>> {
        self.run(async {
            let client = self.pool.get().await?;
            Ok(client
                .query_opt(
                    "SELECT class_id, name FROM students WHERE student_id = $1",
                    &[&student.as_str()],
                )
                .await?
                .and_then(|row| Some((row.get::<_, &str>(0).parse().ok()?, row.get(1)))))
        })
    }

    fn import_roster(&self, roster: &RosterImport) -> StoreResult<()> {
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            for (student, class, name) in &roster.students {
                tx.execute(
                    "INSERT INTO students (student_id, class_id, name) VALUES ($1, $2, $3)
                     ON CONFLICT (student_id) DO UPDATE SET class_id = excluded.class_id, name = excluded.name",
                    &[&student.as_str(), &class.as_str(), name],
                )
                .await?;
            }
            for (account, name, student) in &roster.guardians {
                tx.execute(
                    "INSERT INTO accounts (account_id, name, role) VALUES ($1, $2, 'parent')
                     ON CONFLICT (account_id) DO UPDATE SET name = excluded.name",
                    &[account, name],
                )
                .await?;
                tx.execute(
                    "INSERT INTO guardians (account_id, student_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[account, &student.as_str()],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn put_code(&self, code: &CodeRecord, hash: &[u8]) -> StoreResult<()> {
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let student = code.student.as_ref().map(StudentId::as_str);
            // A re-issued code replaces the unspent ones for the same person.
            tx.execute(
                "UPDATE access_codes SET expires_at = least(expires_at, $4)
                 WHERE role = $1 AND account_id IS NOT DISTINCT FROM $2
                 AND student_id IS NOT DISTINCT FROM $3 AND spent_at IS NULL",
                &[&code.role.as_str(), &code.account, &student, &code.issued_at],
            )
            .await?;
            tx.execute(
                "INSERT INTO access_codes (code_id, code_hash, role, account_id, student_id, issued_by, issued_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &code.id,
                    &hash,
                    &code.role.as_str(),
                    &code.account,
                    &student,
                    &code.issued_by,
                    &code.issued_at,
                    &code.expires_at,
                ],
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn code_by_hash(&self, hash: &[u8]) -> StoreResult<Option<(CodeRecord, Vec<u8>)>> {
        self.run(async {
            let client = self.pool.get().await?;
            Ok(client
                .query_opt(
                    "SELECT code_id, role, account_id, student_id, issued_by, issued_at, expires_at, spent_at, code_hash, spent_by_device
                     FROM access_codes WHERE code_hash = $1",
                    &[&hash],
                )
                .await?
                .map(|row| (code_from_row(&row), row.get(8))))
        })
    }

    fn redeem(&self, redemption: &Redemption) -> StoreResult<bool> {
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let device_id = redemption.device.as_ref().map(|(d, _)| d.id.clone());
            // The row lock makes one redemption win, whichever relay it reached.
            let spent = tx
                .execute(
                    "UPDATE access_codes SET spent_at = $2, spent_by_device = $3
                     WHERE code_id = $1 AND spent_at IS NULL",
                    &[&redemption.code_id, &redemption.at, &device_id],
                )
                .await?;
            if spent != 1 {
                return Ok(false);
            }
            if let Some(account) = &redemption.new_account {
                upsert_account(&tx, account).await?;
            }
            if let Some((account, student)) = &redemption.guardian_of {
                tx.execute(
                    "INSERT INTO guardians (account_id, student_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[account, &student.as_str()],
                )
                .await
                .map_err(|e| missing_reference(e, || format!("student {student}")))?;
            }
            if let Some((device, hash)) = &redemption.device {
                tx.execute(
                    "INSERT INTO devices (device_id, account_id, label, token_hash, created_at, revoked_at)
                     VALUES ($1, $2, $3, $4, $5, NULL)",
                    &[
                        &device.id,
                        &device.account,
                        &device.label,
                        hash,
                        &device.created_at,
                    ],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    fn promote(&self, classes: &[(ClassId, Option<ClassId>)]) -> StoreResult<()> {
        let moves = ClassMoves::new(classes);
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let students: Vec<(String, String)> = tx
                .query("SELECT student_id, class_id FROM students", &[])
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let staff: Vec<(String, String, bool)> = tx
                .query(
                    "SELECT class_id, account_id, class_teacher FROM class_staff",
                    &[],
                )
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            tx.execute("DELETE FROM class_staff", &[]).await?;
            for (class, account, class_teacher) in staff {
                if let Some(target) = moves.staff_class(&class) {
                    tx.execute(
                        "INSERT INTO class_staff (class_id, account_id, class_teacher) VALUES ($1, $2, $3)
                         ON CONFLICT DO NOTHING",
                        &[&target, &account, &class_teacher],
                    )
                    .await?;
                }
            }
            for (student, class) in students {
                let target = moves.student_class(&class);
                tx.execute(
                    "UPDATE students SET class_id = $2 WHERE student_id = $1",
                    &[&student, &target],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn rekey_secrets(&self, wrap: &dyn Fn(&[u8]) -> Vec<u8>) -> StoreResult<bool> {
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            // Relays starting together rekey once: the first takes the row lock, the others then see it.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&(MIGRATION_LOCK + 1)])
                .await?;
            let done: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM relay_meta WHERE key = $1)",
                    &[&SECRETS_KEYED],
                )
                .await?
                .get(0);
            if done {
                return Ok(false);
            }
            for (table, id, hash) in [
                ("access_codes", "code_id", "code_hash"),
                ("devices", "device_id", "token_hash"),
            ] {
                let rows: Vec<(String, Vec<u8>)> = tx
                    .query(&format!("SELECT {id}, {hash} FROM {table}"), &[])
                    .await?
                    .iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect();
                for (row, old) in rows {
                    tx.execute(
                        &format!("UPDATE {table} SET {hash} = $2 WHERE {id} = $1"),
                        &[&row, &wrap(&old)],
                    )
                    .await?;
                }
            }
            tx.execute(
                "INSERT INTO relay_meta (key, value) VALUES ($1, '1')",
                &[&SECRETS_KEYED],
            )
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    fn record_consent(&self, record: &ConsentRecord) -> StoreResult<()> {
        self.run(async {
            let client = self.pool.get().await?;
            let added = client
                .execute(
                    "INSERT INTO consents
                         (student_id, guardian_id, given, signed_on, text_version, recorded_by, recorded_at)
                     SELECT $1, $2, $3, $4, $5, $6, $7
                     WHERE EXISTS (SELECT 1 FROM guardians WHERE student_id = $1 AND account_id = $2)",
                    &[
                        &record.student.as_str(),
                        &record.guardian,
                        &record.given,
                        &record.signed_on,
                        &record.text_version,
                        &record.recorded_by,
                        &record.recorded_at,
                    ],
                )
                .await?;
            if added == 0 {
                return Err(StoreError::NotFound(format!(
                    "{} as a guardian of student {}",
                    record.guardian, record.student
                )));
            }
            Ok(())
        })
    }

    fn consents(&self, student: Option<&StudentId>) -> StoreResult<Vec<ConsentRecord>> {
        self.run(async {
            let client = self.pool.get().await?;
            let student = student.map(StudentId::as_str);
            Ok(client
                .query(
                    "SELECT student_id, guardian_id, given, signed_on, text_version, recorded_by,
                            recorded_at
                     FROM consents WHERE $1::TEXT IS NULL OR student_id = $1 ORDER BY seq",
                    &[&student],
                )
                .await?
                .iter()
                .filter_map(|r| {
                    Some(ConsentRecord {
                        student: r.get::<_, &str>(0).parse().ok()?,
                        guardian: r.get(1),
                        given: r.get(2),
                        signed_on: r.get(3),
                        text_version: r.get(4),
                        recorded_by: r.get(5),
                        recorded_at: r.get(6),
                    })
                })
                .collect())
        })
    }

    fn guardian_links(&self) -> StoreResult<Vec<(String, StudentId)>> {
        self.run(async {
            let client = self.pool.get().await?;
            Ok(client
                .query(
                    "SELECT account_id, student_id FROM guardians ORDER BY student_id, account_id",
                    &[],
                )
                .await?
                .iter()
                .filter_map(|r| Some((r.get(0), r.get::<_, &str>(1).parse().ok()?)))
                .collect())
        })
    }
}

impl LogStore for PostgresStore {
    fn probe_write(&self, now: i64) -> StoreResult<()> {
        self.run(async {
            let client = self.pool.get().await?;
            client
                .execute(
                    "INSERT INTO relay_meta (key, value) VALUES ('health_probe', $1)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &[&now.to_string()],
                )
                .await?;
            Ok(())
        })
    }

    fn stored_bytes(&self) -> StoreResult<u64> {
        self.run(async {
            let client = self.pool.get().await?;
            let bytes: i64 = client
                .query_one("SELECT pg_database_size(current_database())", &[])
                .await?
                .get(0);
            Ok(u64::try_from(bytes).unwrap_or(0))
        })
    }

    fn log_admin(&self, entry: &AdminLogEntry) -> StoreResult<()> {
        self.run(async {
            let client = self.pool.get().await?;
            client
                .execute(
                    "INSERT INTO admin_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &entry.at,
                        &entry.actor,
                        &entry.action,
                        &entry.target,
                        &entry.detail,
                    ],
                )
                .await?;
            Ok(())
        })
    }

    fn admin_log(&self, from: i64, to: i64) -> StoreResult<Vec<AdminLogEntry>> {
        self.run(async {
            let client = self.pool.get().await?;
            Ok(client
                .query(
                    "SELECT at, actor, action, target, detail FROM admin_log
                     WHERE at >= $1 AND at < $2 ORDER BY id",
                    &[&from, &to],
                )
                .await?
                .iter()
                .map(|r| AdminLogEntry {
                    at: r.get(0),
                    actor: r.get(1),
                    action: r.get(2),
                    target: r.get(3),
                    detail: r.get(4),
                })
                .collect())
        })
    }

    fn start_session(&self, account: &str, device: &str, at: i64) -> StoreResult<i64> {
        self.run(async {
            let client = self.pool.get().await?;
            Ok(client
                .query_one(
                    "INSERT INTO sessions (account_id, device_id, started_at) VALUES ($1, $2, $3)
                     RETURNING session_id",
                    &[&account, &device, &at],
                )
                .await?
                .get(0))
        })
    }

    fn end_session(&self, id: i64, at: i64, documents_synced: i64) -> StoreResult<()> {
        self.run(async {
            let client = self.pool.get().await?;
            client
                .execute(
                    "UPDATE sessions SET ended_at = $2, documents_synced = $3 WHERE session_id = $1",
                    &[&id, &at, &documents_synced],
                )
                .await?;
            Ok(())
        })
    }

    fn sessions_between(&self, from: i64, to: i64) -> StoreResult<Vec<SessionRecord>> {
        self.run(async {
            let client = self.pool.get().await?;
            Ok(client
                .query(
                    "SELECT session_id, account_id, device_id, started_at, ended_at, documents_synced
                     FROM sessions WHERE started_at >= $1 AND started_at < $2 ORDER BY session_id",
                    &[&from, &to],
                )
                .await?
                .iter()
                .map(|r| SessionRecord {
                    id: r.get(0),
                    account: r.get(1),
                    device: r.get(2),
                    started_at: r.get(3),
                    ended_at: r.get(4),
                    documents_synced: r.get(5),
                })
                .collect())
        })
    }

    fn last_seen(&self, device: &str) -> StoreResult<Option<i64>> {
        self.run(async {
            let client = self.pool.get().await?;
            Ok(client
                .query_one(
                    "SELECT max(started_at) FROM sessions WHERE device_id = $1",
                    &[&device],
                )
                .await?
                .get(0))
        })
    }

    fn contact_before(&self, device: &str, before: i64) -> StoreResult<Option<i64>> {
        self.run(async {
            let client = self.pool.get().await?;
            Ok(client
                .query_one(
                    "SELECT max(started_at) FROM sessions WHERE device_id = $1 AND started_at < $2",
                    &[&device, &before],
                )
                .await?
                .get(0))
        })
    }
}

impl LimitStore for PostgresStore {
    fn take_token(
        &self,
        key: &str,
        now_ms: i64,
        interval_ms: i64,
        burst: u32,
    ) -> StoreResult<Option<i64>> {
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute(
                "DELETE FROM rate_limits WHERE key IN
                 (SELECT key FROM rate_limits WHERE tat_ms < $1 LIMIT 100 FOR UPDATE SKIP LOCKED)",
                &[&now_ms],
            )
            .await?;
            tx.execute(
                "INSERT INTO rate_limits (key, tat_ms) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                &[&key, &now_ms],
            )
            .await?;
            // The row lock makes the relays take turns on one key.
            let tat: i64 = tx
                .query_one(
                    "SELECT tat_ms FROM rate_limits WHERE key = $1 FOR UPDATE",
                    &[&key],
                )
                .await?
                .get(0);
            let outcome = match gcra(Some(tat), now_ms, interval_ms, burst, 1) {
                Ok(next) => {
                    tx.execute(
                        "UPDATE rate_limits SET tat_ms = $2 WHERE key = $1",
                        &[&key, &next],
                    )
                    .await?;
                    None
                }
                Err(wait) => Some(wait),
            };
            tx.commit().await?;
            Ok(outcome)
        })
    }
}

impl MailStore for PostgresStore {
    fn post_mail(&self, payload: &str, at: i64, expired_before: i64) -> StoreResult<()> {
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute(
                "DELETE FROM relay_mail WHERE posted_at < $1",
                &[&expired_before],
            )
            .await?;
            tx.execute(
                "INSERT INTO relay_mail (posted_at, payload) VALUES ($1, $2)",
                &[&at, &payload],
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn last_mail(&self) -> StoreResult<i64> {
        self.run(async {
            let client = self.pool.get().await?;
            Ok(client
                .query_one("SELECT coalesce(max(seq), 0)::BIGINT FROM relay_mail", &[])
                .await?
                .get(0))
        })
    }

    fn mail_after(&self, seq: i64) -> StoreResult<Vec<(i64, String)>> {
        self.run(async {
            let client = self.pool.get().await?;
            Ok(client
                .query(
                    "SELECT seq, payload FROM relay_mail WHERE seq > $1 ORDER BY seq",
                    &[&seq],
                )
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        })
    }
}

/// A database of its own for one test, created on the PostgreSQL server every machine of this project
/// runs, and dropped when the test is over.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    /// The server tests use: `JOURNAL_TEST_POSTGRES`, or the local one with trust authentication.
    pub fn server_url() -> String {
        std::env::var("JOURNAL_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
    }

    /// A fresh database, dropped on drop.
    #[derive(Debug)]
    pub struct TestDatabase {
        name: String,
        url: String,
    }

    /// Runs `statement` on the server, on a thread of its own so that any caller, async or not, may.
    fn admin(statement: &str) {
        std::thread::scope(|scope| {
            scope
                .spawn(|| admin_here(statement))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        });
    }

    fn admin_here(statement: &str) {
        let server = server_url();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL must run for these tests at {} ({e}); set JOURNAL_TEST_POSTGRES to another server",
                        super::shown_address(&server)
                    )
                });
            let driver = tokio::spawn(connection);
            client
                .batch_execute(statement)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
            drop(client);
            let _ = driver.await;
        });
    }

    impl TestDatabase {
        /// Creates a database named after `purpose` and a random suffix.
        pub fn create(purpose: &str) -> Self {
            let mut suffix = [0u8; 6];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut suffix)
                .expect("random");
            let name = format!(
                "journal_{}_{}",
                purpose
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(20)
                    .collect::<String>()
                    .to_ascii_lowercase(),
                hex::encode(suffix)
            );
            admin(&format!("CREATE DATABASE {name}"));
            let url = format!(
                "{}{}",
                server_url()
                    .rsplit_once('/')
                    .map_or_else(String::new, |(base, _)| format!("{base}/")),
                name
            );
            TestDatabase { name, url }
        }

        /// The database's address.
        pub fn url(&self) -> &str {
            &self.url
        }
    }

    impl Drop for TestDatabase {
        fn drop(&mut self) {
            admin(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::TestDatabase;
    use super::*;

    // One database per check; it goes when the check ends.
    crate::relay_store_conformance!(super::PostgresStore::for_test("conformance"));

    /// Runs `work` with a plain connection to the database at `url`, outside any store.
    fn on_database(url: &str, work: impl AsyncFnOnce(&tokio_postgres::Client)) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
            let driver = tokio::spawn(connection);
            work(&client).await;
            drop(client);
            let _ = driver.await;
        });
    }

    /// A table the schema gains and the backup's list forgets would be lost at every backup and
    /// restore: every table but the mailbox and the schema's version is carried.
    #[test]
    fn backups_carry_every_table_of_the_schema() {
        let db = TestDatabase::create("tables");
        drop(PostgresStore::open(db.url()).expect("open"));
        on_database(db.url(), async |client| {
            let mut schema: Vec<String> = client
                .query(
                    "SELECT table_name::TEXT FROM information_schema.tables
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                    &[],
                )
                .await
                .expect("tables")
                .iter()
                .map(|r| r.get(0))
                .filter(|t: &String| t != "relay_mail" && t != "journal_schema")
                .collect();
            schema.sort();
            let mut carried: Vec<String> = TABLES.iter().map(|(t, _)| (*t).to_owned()).collect();
            carried.sort();
            assert_eq!(carried, schema);
        });
    }

    #[test]
    fn a_database_written_by_a_newer_relay_is_refused_and_the_password_is_never_shown() {
        let db = TestDatabase::create("newer");
        drop(PostgresStore::open(db.url()).expect("open"));
        on_database(db.url(), async |client| {
            client
                .batch_execute("UPDATE journal_schema SET version = 99")
                .await
                .expect("bump");
        });
        let refused = PostgresStore::open(db.url()).expect_err("too new");
        assert!(
            matches!(refused, StoreError::TooNew { found: 99, .. }),
            "{refused}"
        );

        let unreachable = PostgresStore::open("postgres://journal:s3cret-pw@127.0.0.1:1/district")
            .expect_err("nothing listens on port 1");
        let said = unreachable.to_string();
        assert!(
            said.contains("postgres://journal@127.0.0.1:1/district"),
            "names the address: {said}"
        );
        assert!(!said.contains("s3cret-pw"), "hides the password: {said}");
    }

    /// A version-3 database kept a hash, an account, a device and a time for every change: migrating
    /// moves them into the audit tables as deliveries, and drops the changes a snapshot covers.
    #[test]
    fn a_version_3_change_log_becomes_the_audit_trail() {
        let db = TestDatabase::create("audit-v3");
        let old = crate::store::conformance::old_log();
        on_database(db.url(), async |client| {
            client
                .batch_execute("CREATE TABLE journal_schema (version INTEGER NOT NULL)")
                .await
                .expect("schema table");
            for sql in &MIGRATIONS[..3] {
                client.batch_execute(sql).await.expect("old schema");
            }
            client
                .execute(
                    "INSERT INTO documents (doc_id, snapshot, snapshot_seq, heads) VALUES ('d', $1, $2, '')",
                    &[&old.snapshot, &old.snapshot_seq],
                )
                .await
                .expect("old document");
            for (seq, hash, data, account, device, at) in &old.rows {
                client
                    .execute(
                        "INSERT INTO changes (doc_id, seq, hash, data, account_id, device_id, received_at)
                         VALUES ('d', $1, $2, $3, $4, $5, $6)",
                        &[seq, hash, data, account, device, at],
                    )
                    .await
                    .expect("old change");
            }
            client
                .batch_execute("INSERT INTO journal_schema (version) VALUES (3)")
                .await
                .expect("old version");
        });
        let store = PostgresStore::open(db.url()).expect("migrate");
        crate::store::conformance::old_log_converted(&store, &old);
    }

    #[test]
    fn relays_starting_together_migrate_once() {
        let db = TestDatabase::create("together");
        let url = db.url().to_owned();
        let opened: Vec<_> = (0..3)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || PostgresStore::open(&url).map(|_| ()))
            })
            .collect();
        for handle in opened {
            handle.join().expect("thread").expect("open");
        }
    }
}
