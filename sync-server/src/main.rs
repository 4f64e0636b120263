//! `journal-relay`: run the relay, or provision its directory from the command line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use journal_relay::backup;
use journal_relay::clock::{Clock, SystemClock};
use journal_relay::hub::Hub;
use journal_relay::secrets::HashKey;
use journal_relay::services::Services;
use journal_relay::services::events::{
    EventBus, LocalBus, MailboxBus, PostgresBus, RelayEvent, read_mail,
};
use journal_relay::store::RelayStore;
use journal_relay::store::postgres::PostgresStore;
use journal_relay::store::sqlite::SqliteStore;
use journal_relay::tls::{CertificateSource, ServerTls};
use journal_relay::{App, Limits, build_router, data_dir, demo};
use tokio::sync::watch;

mod commands;
use commands::archive::ArchiveAction;
use commands::directory::DirectoryAction;
use commands::spinner;

#[derive(Parser)]
#[command(
    name = "journal-relay",
    version,
    about = "The school journal's sync relay"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the relay.
    Serve {
        #[command(flatten)]
        data: DataDir,
        /// Address to listen on.
        #[arg(long, env = "JOURNAL_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Log filter (error, warn, info, debug, or a tracing filter).
        #[arg(long, env = "JOURNAL_LOG", default_value = "info")]
        log: String,
        /// Seed a demo school on first start and print its access codes and device tokens.
        #[arg(long)]
        demo: bool,
        /// Students in each demo class: the three with accounts, and classmates up to this many.
        #[arg(long, requires = "demo", default_value_t = demo::DEMO_CLASS_SIZE as u16,
              value_parser = clap::value_parser!(u16).range(3..=40))]
        demo_class_size: u16,
        /// Hours between backup snapshots (0: none).
        #[arg(long, env = "JOURNAL_BACKUP_HOURS", default_value_t = 24)]
        backup_hours: u64,
        /// Open connections one client address may hold (a school's network may share one address).
        #[arg(long, env = "JOURNAL_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = Limits::default().connections_per_address)]
        max_connections_per_address: usize,
        /// Seconds a client has to send a request's headers; also how long a connection may sit idle
        /// between requests.
        #[arg(long, env = "JOURNAL_HEADER_TIMEOUT", default_value_t = Limits::default().header_timeout.as_secs())]
        header_timeout: u64,
        #[command(flatten)]
        tls: TlsOptions,
        #[command(flatten)]
        monitoring: Monitoring,
    },
    /// Backup snapshots: take one now, list them, or verify one without restoring.
    Backup {
        #[command(flatten)]
        data: DataDir,
        /// Where snapshots go (default: `backups` in the data directory).
        #[arg(long, env = "JOURNAL_BACKUPS")]
        backups: Option<PathBuf>,
        #[command(subcommand)]
        action: BackupAction,
    },
    /// The year-end archive: freeze a school year into a signed bundle, or verify a bundle.
    Archive {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        action: ArchiveAction,
    },
    /// Restore a snapshot into a new data directory (refuses a live one unless --force).
    Restore {
        /// The snapshot (`.jbak`; it carries its manifest, so the file alone will do).
        snapshot: PathBuf,
        /// The data directory to restore into (with --database: where the relay's hashing key goes).
        #[arg(long)]
        to: PathBuf,
        /// Restore into this PostgreSQL database (empty, unless --force) instead of SQLite in --to.
        #[arg(long, env = "JOURNAL_DATABASE")]
        database: Option<String>,
        /// The backup key file (default: `backup.key` in the target directory). It becomes the restored
        /// relay's backup key, so its next snapshots open with the copy you keep.
        #[arg(long)]
        key: Option<PathBuf>,
        /// Overwrite a data directory or database that already holds a school's data.
        #[arg(long)]
        force: bool,
    },
    /// Make a report (class-journal, report-card, summary, term-report, control, progress,
    /// profile-review, activity) or a sheet of access-code slips for a class (slips).
    Report {
        #[command(flatten)]
        data: DataDir,
        /// The report, or `slips`.
        kind: String,
        /// Class id.
        #[arg(long)]
        class: Option<String>,
        /// Subject id (class journal).
        #[arg(long)]
        subject: Option<String>,
        /// Term id (t1, t2, …); the summary sheet covers the year without it.
        #[arg(long)]
        term: Option<String>,
        /// Student id (report card).
        #[arg(long)]
        student: Option<String>,
        /// School year, e.g. 2026 for 2026-2027 (default: the newest).
        #[arg(long)]
        year: Option<u16>,
        /// Activity report: the month, YYYY-MM (default: this month).
        #[arg(long)]
        month: Option<String>,
        /// pdf, xlsx or csv (slips: pdf only).
        #[arg(long, default_value = "pdf")]
        format: String,
        /// Slips: days the codes stay valid.
        #[arg(long, default_value_t = journal_relay::services::codes::DEFAULT_VALID_DAYS)]
        valid_days: u32,
        /// Where to write the file.
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Provision the directory (accounts, classes, guardians, devices).
    Directory {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        action: DirectoryAction,
    },
}

#[derive(Subcommand)]
enum BackupAction {
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

/// What the relay tells monitoring.
#[derive(clap::Args)]
struct Monitoring {
    /// MiB that must stay free on the data directory's disk before /healthz says it is nearly full
    /// (default: 5% of the disk, at most 512 MiB).
    #[arg(long, env = "JOURNAL_MIN_FREE_DISK_MB")]
    min_free_disk_mb: Option<u64>,
    /// Serve /metrics to every client, not only to this machine's.
    #[arg(long, env = "JOURNAL_METRICS_PUBLIC")]
    metrics_public: bool,
}

/// How the relay serves HTTPS.
#[derive(clap::Args)]
struct TlsOptions {
    /// Serve HTTPS with this PEM certificate chain (with --tls-key), e.g. from the school's authority or
    /// Let's Encrypt.
    #[arg(
        long,
        env = "JOURNAL_TLS_CERT",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    tls_cert: Option<PathBuf>,
    /// The certificate's PEM private key.
    #[arg(long, env = "JOURNAL_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate the relay makes on first start and keeps in the data directory;
    /// devices pin its fingerprint, which the relay prints at start and the access slips carry.
    #[arg(long, env = "JOURNAL_TLS_SELF_SIGNED")]
    tls_self_signed: bool,
    /// A host name or address the self-signed certificate is made for (repeat for more; localhost,
    /// 127.0.0.1 and the listen address are always in).
    #[arg(long = "tls-name", requires = "tls_self_signed")]
    tls_names: Vec<String>,
}

impl Monitoring {
    /// Gives `app` what its health checks and metrics look at.
    fn apply(&self, app: &mut App, data_dir: &Path) {
        app.data_dir = Some(data_dir.to_owned());
        app.min_free_disk = self.min_free_disk_mb.map(|mb| mb << 20);
        app.metrics_public = self.metrics_public;
    }
}

impl TlsOptions {
    /// The relay's TLS, or `None` for plain HTTP.
    fn load(&self, data_dir: &Path, listen: SocketAddr) -> Result<Option<ServerTls>> {
        let source = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => CertificateSource::Files { cert, key },
            _ if self.tls_self_signed => {
                let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
                if !listen.ip().is_unspecified() {
                    names.push(listen.ip().to_string());
                }
                names.extend(self.tls_names.iter().cloned());
                names.dedup();
                return Ok(Some(journal_relay::tls::load(
                    &CertificateSource::SelfSigned {
                        data_dir,
                        names: &names,
                    },
                )?));
            }
            _ => return Ok(None),
        };
        Ok(Some(journal_relay::tls::load(&source)?))
    }
}

#[derive(clap::Args)]
struct DataDir {
    /// Directory holding the relay's keys and backups, and its SQLite database unless --database is given.
    #[arg(long, env = "JOURNAL_DATA_DIR", default_value = "./journal-data")]
    data_dir: PathBuf,
    /// A PostgreSQL database for the relay's data instead of SQLite, shared by a district's relays:
    /// postgres://user:password@host:port/database.
    #[arg(long, env = "JOURNAL_DATABASE")]
    database: Option<String>,
}

/// The relay's store, opened, with the installation's hashing key.
struct Opened {
    store: Arc<dyn RelayStore>,
    key: HashKey,
    /// The same store when it is PostgreSQL, for what only PostgreSQL does (events between relays).
    postgres: Option<Arc<PostgresStore>>,
}

/// Opens the relay's database (SQLite in the data directory, or PostgreSQL) with the installation's
/// hashing key, both created on first use; the data directory and everything in it are made private, and
/// hashes from before the key are keyed.
fn open_store(data: &DataDir) -> Result<Opened> {
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
fn open_services(data: &DataDir) -> Result<Services> {
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

/// Runs the command; an error is printed as one message, never with a backtrace, whatever
/// `RUST_BACKTRACE` says: it is the user's to act on, not a crash.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    data_dir::private_files_from_now_on();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            data,
            listen,
            log,
            demo,
            demo_class_size,
            backup_hours,
            max_connections_per_address,
            header_timeout,
            tls,
            monitoring,
        } => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_new(&log).context("bad --log filter")?,
                )
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .init();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let limits = Limits {
                connections_per_address: max_connections_per_address.max(1),
                header_timeout: std::time::Duration::from_secs(header_timeout.max(1)),
                ..Limits::default()
            };
            let demo = demo.then_some(usize::from(demo_class_size));
            runtime.block_on(serve(
                &data,
                listen,
                demo,
                backup_hours,
                limits,
                &tls,
                &monitoring,
            ))
        }
        Command::Backup {
            data,
            backups,
            action,
        } => {
            let backups = backups.unwrap_or_else(|| data.data_dir.join("backups"));
            backup_command(&data, &backups, action)
        }
        Command::Archive { data, action } => {
            let services = open_services(&data)?;
            commands::archive::run(&services, &data.data_dir, action)
        }
        Command::Restore {
            snapshot,
            to,
            database,
            key,
            force,
        } => {
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
                    let manifest =
                        backup::restore_into_postgres(&snapshot, &key, &postgres, &to, force)?;
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
        Command::Directory { data, action } => {
            commands::directory::run(&open_services(&data)?, action)
        }
        Command::Report {
            data,
            kind,
            class,
            subject,
            term,
            student,
            year,
            month,
            format,
            valid_days,
            out,
        } => {
            let Opened { store, key, .. } = open_store(&data)?;
            let store = store.as_ref();
            let today = SystemClock.today();
            let year = year.map(journal_core::YearId);
            let class: Option<journal_core::ClassId> = class.map(|c| c.parse()).transpose()?;
            let (bytes, what) = if kind == "slips" {
                let class = class.context("slips need --class")?;
                let request = journal_relay::reports::SlipRequest {
                    year,
                    class: class.clone(),
                    valid_days,
                    certificate: journal_relay::tls::self_signed_fingerprint(&data.data_dir),
                };
                let (bytes, count) = journal_relay::reports::access_slips(
                    store,
                    &journal_relay::read_model::ReadModel::default(),
                    &key,
                    &journal_relay::services::command_line(),
                    &request,
                    &SystemClock,
                )?;
                (bytes, format!("{count} access-code slips for {class}"))
            } else {
                let kind: journal_core::reports::ReportKind = kind.parse()?;
                let format: journal_relay::reports::ReportFormat = format.parse()?;
                let month = month
                    .map(|m| journal_core::parse_date(&format!("{m}-01")))
                    .transpose()
                    .context("--month is YYYY-MM")?;
                let query = journal_relay::reports::ReportQuery {
                    year,
                    request: journal_core::reports::ReportRequest {
                        class,
                        subject: subject.map(|s| s.parse()).transpose()?,
                        term: term.map(|t| t.parse()).transpose()?,
                        student: student.map(|s| s.parse()).transpose()?,
                    },
                    month,
                };
                let model = journal_relay::read_model::ReadModel::default();
                let doc = journal_relay::reports::build(store, &model, kind, &query, today)?;
                (
                    journal_relay::reports::render(&doc, format)?,
                    doc.title.clone(),
                )
            };
            std::fs::write(&out, &bytes)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("{what}: {} ({} bytes)", out.display(), bytes.len());
            Ok(())
        }
    }
}

fn backup_command(data: &DataDir, backups: &Path, action: BackupAction) -> Result<()> {
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
                    commands::local_time(manifest.created_at),
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

/// Takes a snapshot every `hours` and applies the retention (7 daily, 4 weekly, 12 monthly).
async fn scheduled_backups(
    dir: PathBuf,
    postgres: Option<Arc<PostgresStore>>,
    hours: u64,
    mut shutdown: watch::Receiver<bool>,
) {
    let backups = dir.join("backups");
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(hours * 3600));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let (dir, backups, postgres) = (dir.clone(), backups.clone(), postgres.clone());
        let outcome = tokio::task::spawn_blocking(move || -> Result<String> {
            let key = backup::load_or_create_key(&dir)?;
            let manifest =
                backup::backup_now(&dir, &backups, &key, SystemClock.now(), postgres.as_deref())?;
            for old in backup::expired(&backup::list(&backups)?, 7, 4, 12) {
                let _ = std::fs::remove_file(old.with_extension("manifest.json"));
                std::fs::remove_file(&old)?;
            }
            Ok(manifest.file)
        })
        .await;
        match outcome {
            Ok(Ok(file)) => tracing::info!(%file, "backup snapshot written"),
            Ok(Err(e)) => tracing::error!(error = %e, "backup snapshot failed"),
            Err(e) => tracing::error!(error = %e, "backup task failed"),
        }
    }
}

async fn serve(
    data: &DataDir,
    listen: SocketAddr,
    seed_demo: Option<usize>,
    backup_hours: u64,
    limits: Limits,
    tls: &TlsOptions,
    monitoring: &Monitoring,
) -> Result<()> {
    let dir = data.data_dir.as_path();
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let tls = tls.load(dir, listen)?;
    // Before the store opens: a second relay must not even migrate a database another one serves.
    let _serving = data_dir::lock_for_serving(dir)?;
    let Opened {
        store,
        key,
        postgres,
    } = open_store(data)?;
    // Created on first run, so the IT officer can copy it away at once.
    backup::load_or_create_key(dir)?;
    let (stop, shutdown) = watch::channel(false);
    let peer_id = format!("relay-{}", &journal_relay::auth::random_hex(8));
    let app = match &postgres {
        Some(postgres) => {
            let bus = Arc::new(PostgresBus::for_relay(postgres.clone(), peer_id.clone()));
            let hub = Arc::new(Hub::new(store.clone(), bus.clone()));
            // What the other relays and the command line change reaches this relay's sessions.
            let (heard, missed) = (hub.clone(), hub.clone());
            bus.hear(
                move |event| heard.hear(event),
                move || missed.hear(RelayEvent::Missed),
                shutdown.clone(),
            );
            let mut app = App::new(hub, limits, shutdown, peer_id, key);
            app.certificate_pin = self_signed_pin(tls.as_ref());
            monitoring.apply(&mut app, dir);
            // Code guessers get no more attempts by spreading them over the district's relays.
            app.redeem_limits = journal_relay::ratelimit::RedeemLimits::shared(
                limits.redeem_per_address,
                limits.redeem_per_family,
                app.hub.clock().clone(),
                store.clone(),
            );
            Arc::new(app)
        }
        None => {
            let hub = Arc::new(Hub::new(store.clone(), Arc::new(LocalBus::default())));
            let mut app = App::new(hub.clone(), limits, shutdown, peer_id, key);
            app.certificate_pin = self_signed_pin(tls.as_ref());
            monitoring.apply(&mut app, dir);
            let app = Arc::new(app);
            // What the relay's command line changes meanwhile reaches the live sessions.
            tokio::spawn(read_mail(
                store,
                move |event| hub.hear(event),
                app.shutdown.clone(),
            ));
            app
        }
    };
    if let Some(class_size) = seed_demo {
        let year = journal_core::YearId(current_school_year());
        match demo::seed(&app, year, class_size)? {
            Some(accounts) => {
                println!("Demo school seeded for {year}.");
                println!("Access codes to sign in a new device (POST /v1/redeem), valid 14 days:");
                for a in &accounts {
                    println!(
                        "demo-code\t{}\t{}\t{}\t{}",
                        a.id,
                        a.role.as_str(),
                        a.code,
                        a.name
                    );
                }
                println!("Devices already signed in (send as `Authorization: Bearer <token>`):");
                for a in &accounts {
                    println!(
                        "demo-token\t{}\t{}\t{}\t{}",
                        a.id,
                        a.role.as_str(),
                        a.token,
                        a.name
                    );
                }
            }
            None => println!("The relay already holds documents; demo data was not seeded again."),
        }
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let scheme = match &tls {
        Some(tls) => {
            println!("TLS certificate fingerprint (SHA-256): {}", tls.fingerprint);
            if tls.self_signed {
                println!(
                    "The certificate is the relay's own: devices sign in with this fingerprint (the access slips print it)."
                );
            }
            "https"
        }
        None => "http",
    };
    println!("journal-relay listening on {scheme}://{addr}");
    tracing::info!(%addr, data_dir = %dir.display(), "relay started");
    if backup_hours > 0 {
        tokio::spawn(scheduled_backups(
            dir.to_owned(),
            postgres.clone(),
            backup_hours,
            app.shutdown.clone(),
        ));
    }
    tokio::spawn(journal_relay::read_model::forget_idle_years(
        app.read_model.clone(),
        app.shutdown.clone(),
    ));
    let router = build_router(app.clone());
    let acceptor = tls.map(|tls| tls.acceptor);
    // Sessions are told to close with the shutdown; serving returns once they have (or after a bound).
    let still_open =
        journal_relay::serve::serve(listener, router, &app.limits, acceptor, async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing in-flight work");
            let _ = stop.send(true);
        })
        .await;
    if still_open > 0 {
        tracing::warn!(
            connections = still_open,
            "stopped with connections still open"
        );
    }
    tracing::info!("relay stopped");
    Ok(())
}

/// The fingerprint the access slips print: that of a certificate the relay made for itself only, since
/// devices pinning a certificate from an authority would be locked out at its next renewal.
fn self_signed_pin(
    tls: Option<&ServerTls>,
) -> Option<journal_core::certificate_pin::CertificatePin> {
    tls.filter(|tls| tls.self_signed).map(|tls| tls.fingerprint)
}

/// The school year running today (a year starts on 1 September).
fn current_school_year() -> u16 {
    let today = SystemClock.today();
    let year = u16::try_from(today.year()).unwrap_or(2026);
    if u8::from(today.month()) >= 8 {
        year
    } else {
        year - 1
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
