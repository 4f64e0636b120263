//! The relay's data directory and database, opened for a command.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use journal_relay::data_dir;
use journal_relay::hub::Hub;
use journal_relay::secrets::HashKey;
use journal_relay::services::Services;
use journal_relay::services::events::{EventBus, MailboxBus, PostgresBus};
use journal_relay::store::RelayStore;
use journal_relay::store::postgres::PostgresStore;
use journal_relay::store::sqlite::SqliteStore;

/// Where the relay keeps its data.
#[derive(clap::Args)]
pub struct DataDir {
    /// Directory holding the relay's keys and backups, and its SQLite database unless --database is given.
    #[arg(long, env = "JOURNAL_DATA_DIR", default_value = "./journal-data")]
    pub data_dir: PathBuf,
    /// A PostgreSQL database for the relay's data instead of SQLite, shared by a district's relays:
    /// postgres://user:password@host:port/database.
    #[arg(long, env = "JOURNAL_DATABASE")]
    pub database: Option<String>,
}

/// The relay's store, opened, with the installation's hashing key.
pub struct Opened {
    pub store: Arc<dyn RelayStore>,
    pub key: HashKey,
    /// The same store when it is PostgreSQL, for what only PostgreSQL does (events between relays).
    pub postgres: Option<Arc<PostgresStore>>,
}

/// Opens the relay's database (SQLite in the data directory, or PostgreSQL) with the installation's
/// hashing key, both created on first use; the data directory and everything in it are made private, and
/// hashes from before the key are keyed.
pub fn open_store(data: &DataDir) -> Result<Opened> {
    let dir = &data.data_dir;
    data_dir::secure(dir).with_context(|| {
        format!(
            "cannot create or restrict the data directory {}",
            dir.display()
        )
    })?;
    let key = HashKey::load_or_create(dir)?;
    let (store, postgres): (Arc<dyn RelayStore>, _) = match &data.database {
        Some(url) => {
            let postgres = Arc::new(PostgresStore::open(url)?);
            // Relays sharing a database must share the key their codes and tokens are hashed with.
            let fingerprint = key.fingerprint();
            if postgres.settle_meta("hash_key_fingerprint", &fingerprint)? != fingerprint {
                bail!(
                    "{} holds a hashing key that is not the one the relays of {} use: copy hash.key from the data directory of the relay that first served this database",
                    dir.join(journal_relay::secrets::HASH_KEY_FILE).display(),
                    postgres.address()
                );
            }
            (postgres.clone(), Some(postgres))
        }
        None => {
            let store = SqliteStore::open(&dir.join("relay.db"))
                .with_context(|| format!("cannot open the relay database in {}", dir.display()))?;
            (Arc::new(store), None)
        }
    };
    if key.migrate(store.as_ref())? {
        tracing::info!("stored code and token hashes are now keyed by this installation's key");
    }
    Ok(Opened {
        store,
        key,
        postgres,
    })
}

/// The services over the relay's database, for a command run beside serving relays: what it changes
/// reaches their live sessions, through the store's mailbox (SQLite) or as a notice (PostgreSQL).
pub fn open_services(data: &DataDir) -> Result<Services> {
    let Opened {
        store,
        key,
        postgres,
    } = open_store(data)?;
    let bus: Arc<dyn EventBus> = match postgres {
        Some(postgres) => Arc::new(PostgresBus::for_command(
            postgres,
            format!("command-{}", journal_relay::auth::random_hex(8)),
        )),
        None => Arc::new(MailboxBus::new(store.clone())),
    };
    Ok(Services::new(Arc::new(Hub::new(store, bus)), key))
}
