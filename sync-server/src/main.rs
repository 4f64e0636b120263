//! `journal-relay`: run the relay, or provision its directory from the command line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use journal_relay::auth::Principal;
use journal_relay::codes::CodeRequest;
use journal_relay::hub::Hub;
use journal_relay::roster;
use journal_relay::secrets::HashKey;
use journal_relay::store::sqlite::SqliteStore;
use journal_relay::store::{Account, AccountRole, AdminLogEntry, CodeRole, Device, RelayStore};
use journal_relay::{App, Limits, build_router, data_dir, demo};
use journal_relay::{archive, backup};
use tokio::sync::watch;

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
        /// The snapshot (`.jbak`, with its `.manifest.json` beside it).
        snapshot: PathBuf,
        /// The data directory to restore into.
        #[arg(long)]
        to: PathBuf,
        /// The backup key file (default: `backup.key` in the target directory).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Overwrite a data directory that already holds a database.
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
        #[arg(long, default_value_t = journal_relay::codes::DEFAULT_VALID_DAYS)]
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
enum ArchiveAction {
    /// Freeze a school year (its documents become read-only) and write its archive bundle.
    Freeze {
        /// The school year, e.g. 2026-2027.
        #[arg(long)]
        year: String,
        /// An empty folder for the bundle (default: archive-YEAR in the data directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Open the next school year: classes promoted with their students, staff and guardians.
    Rollover {
        /// The year that ends, e.g. 2026-2027.
        #[arg(long)]
        from: String,
    },
    /// Check a bundle's signature, hashes and documents.
    Verify {
        /// The bundle folder.
        bundle: PathBuf,
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

#[derive(clap::Args)]
struct DataDir {
    /// Directory holding the relay's database.
    #[arg(long, env = "JOURNAL_DATA_DIR", default_value = "./journal-data")]
    data_dir: PathBuf,
}

#[derive(Subcommand)]
enum DirectoryAction {
    /// Add or update an account.
    AddAccount {
        /// Account id.
        #[arg(long)]
        id: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// administration, teacher, student or parent.
        #[arg(long)]
        role: String,
        /// For a student account: the student it is.
        #[arg(long)]
        student: Option<String>,
    },
    /// Add a student to a class, or move them.
    AddStudent {
        /// Student id.
        #[arg(long)]
        id: String,
        /// Class id.
        #[arg(long)]
        class: String,
        /// Name.
        #[arg(long)]
        name: String,
    },
    /// Put a teacher on a class's staff.
    AddStaff {
        /// Class id.
        #[arg(long)]
        class: String,
        /// Teacher's account.
        #[arg(long)]
        account: String,
        /// As the class teacher.
        #[arg(long)]
        class_teacher: bool,
    },
    /// Link a parent to a student.
    LinkGuardian {
        /// Parent's account.
        #[arg(long)]
        account: String,
        /// Student id.
        #[arg(long)]
        student: String,
    },
    /// Add a device to an account and print its token (shown only once).
    AddDevice {
        /// Account id.
        #[arg(long)]
        account: String,
        /// Label.
        #[arg(long, default_value = "device")]
        label: String,
    },
    /// Revoke a device (takes effect at its next connection; use the admin API to close a live session).
    RevokeDevice {
        /// Device id.
        #[arg(long)]
        device: String,
    },
    /// Deactivate an account (a student who left the school); its devices are refused from then on.
    Deactivate {
        /// Account id.
        #[arg(long)]
        account: String,
    },
    /// List an account's devices.
    Devices {
        /// Account id.
        #[arg(long)]
        account: String,
    },
    /// Issue a one-time access code (printed once; only its hash is kept).
    IssueCode {
        /// staff, student or parent.
        #[arg(long)]
        role: String,
        /// The staff account (staff codes), or an existing parent account to gain a child.
        #[arg(long)]
        account: Option<String>,
        /// The student (student and parent codes).
        #[arg(long)]
        student: Option<String>,
        /// Days the code stays valid.
        #[arg(long, default_value_t = journal_relay::codes::DEFAULT_VALID_DAYS)]
        valid_days: u32,
    },
    /// Import class lists (CSV or XLSX: class, student_id, student_name, guardian_id, guardian_name).
    /// Any bad row means nothing is imported.
    Import {
        /// The file.
        file: PathBuf,
    },
    /// List accounts.
    List,
}

/// Opens the relay's database in `dir` with the installation's hashing key, both created on first use;
/// the directory and everything in it are made private, and hashes from before the key are keyed.
fn open_store(dir: &Path) -> Result<(SqliteStore, HashKey)> {
    data_dir::secure(dir).with_context(|| {
        format!(
            "cannot create or restrict the data directory {}",
            dir.display()
        )
    })?;
    let store = SqliteStore::open(&dir.join("relay.db"))
        .with_context(|| format!("cannot open the relay database in {}", dir.display()))?;
    let key = HashKey::load_or_create(dir)?;
    if key.migrate(&store)? {
        tracing::info!("stored code and token hashes are now keyed by this installation's key");
    }
    Ok((store, key))
}

/// Builds next year's documents from `from`'s with the core, stores them, and promotes the directory.
fn rollover(store: &SqliteStore, from: journal_core::YearId) -> Result<journal_core::Promotion> {
    let mut journal = journal_core::Journal::open_in_memory()?;
    let actor = automerge::ActorId::random();
    for (id, _) in store.document_heads()? {
        let Ok(doc_id) = id.parse::<journal_core::DocId>() else {
            continue;
        };
        if doc_id.year() != from || matches!(doc_id, journal_core::DocId::Thread(..)) {
            continue;
        }
        let bytes = store
            .load_document(&id)?
            .context("a listed document vanished")?;
        let doc = journal_core::docs::Document::load(doc_id, &bytes, &actor)?;
        journal.merge_document(&doc)?;
    }
    let promotion = journal.roll_over(from)?;
    let next = journal_core::YearId(from.0 + 1);
    let by = journal_relay::store::Attribution {
        account: "cli".into(),
        device: "rollover".into(),
        at: now(),
    };
    for doc in journal.documents().filter(|d| d.id().year() == next) {
        let changes = journal_relay::store::new_changes(doc.all_changes());
        let heads = journal_relay::store::stored_heads(doc);
        store.append_changes(
            &doc.id().to_string(),
            &changes,
            &heads,
            &by,
            Some(&doc.snapshot()),
        )?;
    }
    store.promote(&promotion.classes)?;
    Ok(promotion)
}

/// The command line acts as the administration.
fn cli_principal() -> Principal {
    Principal {
        account: Account {
            id: "cli".into(),
            name: "command line".into(),
            role: AccountRole::Administration,
            active: true,
            student: None,
        },
        device: Device {
            id: "cli".into(),
            account: "cli".into(),
            label: "command line".into(),
            created_at: now(),
            revoked_at: None,
        },
    }
}

fn cli_log(store: &SqliteStore, action: &str, target: String, detail: String) -> Result<()> {
    store.log_admin(&AdminLogEntry {
        at: now(),
        actor: "cli".into(),
        action: action.into(),
        target,
        detail,
    })?;
    Ok(())
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn main() -> Result<()> {
    data_dir::private_files_from_now_on();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            data,
            listen,
            log,
            demo,
            backup_hours,
            max_connections_per_address,
            header_timeout,
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
            runtime.block_on(serve(&data.data_dir, listen, demo, backup_hours, limits))
        }
        Command::Backup {
            data,
            backups,
            action,
        } => {
            let backups = backups.unwrap_or_else(|| data.data_dir.join("backups"));
            backup_command(&data.data_dir, &backups, action)
        }
        Command::Archive { data, action } => {
            let (store, _) = open_store(&data.data_dir)?;
            match action {
                ArchiveAction::Freeze { year, out } => {
                    let year: journal_core::YearId = year.parse()?;
                    let out = out.unwrap_or_else(|| archive::default_folder(&data.data_dir, year));
                    let spinner = spinner(format!("archiving {year}"));
                    let manifest =
                        archive::freeze_and_export(&store, &data.data_dir, year, &out, now())?;
                    spinner.finish_and_clear();
                    cli_log(
                        &store,
                        "freeze-year",
                        year.to_string(),
                        out.display().to_string(),
                    )?;
                    println!(
                        "{year} is frozen; {} files written to {}, signed by {}",
                        manifest.files.len(),
                        out.display(),
                        manifest.public_key
                    );
                }
                ArchiveAction::Rollover { from } => {
                    let from: journal_core::YearId = from.parse()?;
                    let promotion = rollover(&store, from)?;
                    cli_log(
                        &store,
                        "rollover",
                        from.to_string(),
                        format!("{} classes", promotion.classes.len()),
                    )?;
                    for (old, new) in &promotion.classes {
                        match new {
                            Some(new) => println!("{old} → {new}"),
                            None => println!("{old} graduated"),
                        }
                    }
                    println!(
                        "{} graduates; last year's documents are unchanged",
                        promotion.graduates.len()
                    );
                }
                ArchiveAction::Verify { bundle } => {
                    let ours = archive::public_key(&data.data_dir)?;
                    let manifest = archive::verify(&bundle, Some(&ours))?;
                    println!(
                        "{} verifies: {} files, signed by this relay",
                        bundle.display(),
                        manifest.files.len()
                    );
                }
            }
            Ok(())
        }
        Command::Restore {
            snapshot,
            to,
            key,
            force,
        } => {
            let key = match key {
                Some(path) => backup::read_key(&path)?,
                None => backup::read_key(&to.join("backup.key")).context(
                    "no backup key: pass --key with the copy of backup.key the IT officer keeps",
                )?,
            };
            let spinner = spinner(format!("restoring {}", snapshot.display()));
            let manifest = backup::restore(&snapshot, &key, &to, force)?;
            spinner.finish_and_clear();
            println!(
                "restored {} documents from {} into {}; devices will send what is newer on their next sync",
                manifest.documents.len(),
                snapshot.display(),
                to.display()
            );
            Ok(())
        }
        Command::Directory { data, action } => {
            let (store, key) = open_store(&data.data_dir)?;
            directory(&store, &key, action)
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
            let (store, key) = open_store(&data.data_dir)?;
            let today = time::OffsetDateTime::now_utc().date();
            let year = year.map(journal_core::YearId);
            let class: Option<journal_core::ClassId> = class.map(|c| c.parse()).transpose()?;
            let (bytes, what) = if kind == "slips" {
                let class = class.context("slips need --class")?;
                let (bytes, count) = journal_relay::reports::access_slips(
                    &store,
                    &key,
                    &cli_principal(),
                    year,
                    &class,
                    valid_days,
                    today,
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
                let doc = journal_relay::reports::build(&store, kind, &query, today)?;
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

fn spinner(message: String) -> indicatif::ProgressBar {
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

fn backup_command(dir: &Path, backups: &Path, action: BackupAction) -> Result<()> {
    match action {
        BackupAction::Now => {
            let key = backup::load_or_create_key(dir)?;
            let spinner = spinner("taking a snapshot".into());
            let manifest = backup::backup_now(dir, backups, &key, now())?;
            spinner.finish_and_clear();
            println!(
                "snapshot {} written: {} documents, {} bytes of database",
                backups.join(&manifest.file).display(),
                manifest.documents.len(),
                manifest.database_bytes
            );
        }
        BackupAction::List => {
            for (path, manifest) in backup::list(backups)? {
                println!(
                    "{}\t{}\t{} documents",
                    path.display(),
                    manifest.created_at,
                    manifest.documents.len()
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

/// Takes a snapshot every `hours` and applies the retention (7 daily, 4 weekly, 12 monthly).
async fn scheduled_backups(dir: PathBuf, hours: u64, mut shutdown: watch::Receiver<bool>) {
    let backups = dir.join("backups");
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(hours * 3600));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let (dir, backups) = (dir.clone(), backups.clone());
        let outcome = tokio::task::spawn_blocking(move || -> Result<String> {
            let key = backup::load_or_create_key(&dir)?;
            let manifest = backup::backup_now(&dir, &backups, &key, now())?;
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
    dir: &Path,
    listen: SocketAddr,
    seed_demo: bool,
    backup_hours: u64,
    limits: Limits,
) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    // Before the store opens: a second relay must not even migrate a database another one serves.
    let _serving = data_dir::lock_for_serving(dir)?;
    let (store, key) = open_store(dir)?;
    let store: Arc<dyn RelayStore> = Arc::new(store);
    // Created on first run, so the IT officer can copy it away at once.
    backup::load_or_create_key(dir)?;
    let (stop, shutdown) = watch::channel(false);
    let peer_id = format!("relay-{}", &uuid_like());
    let app = Arc::new(App::new(Hub::new(store), limits, shutdown, peer_id, key));
    if seed_demo {
        let year = journal_core::YearId(current_school_year());
        match demo::seed(&app, year)? {
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
    println!("journal-relay listening on http://{addr}");
    tracing::info!(%addr, data_dir = %dir.display(), "relay started");
    if backup_hours > 0 {
        tokio::spawn(scheduled_backups(
            dir.to_owned(),
            backup_hours,
            app.shutdown.clone(),
        ));
    }
    let router = build_router(app.clone());
    journal_relay::serve::serve(listener, router, &app.limits, async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight work");
        let _ = stop.send(true);
    })
    .await;
    // Sessions were told to close; give them a moment to finish their current transaction and say goodbye.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    tracing::info!("relay stopped");
    Ok(())
}

fn uuid_like() -> String {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 8];
    SystemRandom::new().fill(&mut bytes).expect("random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The school year running today (a year starts on 1 September).
fn current_school_year() -> u16 {
    let today = time::OffsetDateTime::now_utc().date();
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

fn directory(store: &SqliteStore, key: &HashKey, action: DirectoryAction) -> Result<()> {
    match action {
        DirectoryAction::AddAccount {
            id,
            name,
            role,
            student,
        } => {
            let Some(role) = AccountRole::parse(&role) else {
                bail!("role {role:?} is not one of administration, teacher, student, parent");
            };
            let student = student.map(|s| s.parse()).transpose()?;
            if (role == AccountRole::Student) != student.is_some() {
                bail!("a student account needs --student, and only a student account takes it");
            }
            store.put_account(&Account {
                id: id.clone(),
                name,
                role,
                active: true,
                student,
            })?;
            println!("account {id} saved");
        }
        DirectoryAction::AddStudent { id, class, name } => {
            store.put_student(&id.parse()?, &class.parse()?, &name)?;
            println!("student {id} is in class {class}");
        }
        DirectoryAction::AddStaff {
            class,
            account,
            class_teacher,
        } => {
            store.put_class_staff(&class.parse()?, &account, class_teacher)?;
            println!(
                "{account} is on the staff of {class}{}",
                if class_teacher {
                    " as class teacher"
                } else {
                    ""
                }
            );
        }
        DirectoryAction::LinkGuardian { account, student } => {
            store.link_guardian(&account, &student.parse()?)?;
            println!("{account} is a guardian of {student}");
        }
        DirectoryAction::AddDevice { account, label } => {
            let issued = journal_relay::auth::issue_device(store, key, &account, &label, now())?;
            println!(
                "device {} added to {account}; its token (shown only now): {}",
                issued.device.id, issued.token
            );
        }
        DirectoryAction::RevokeDevice { device } => {
            if !store.revoke_device(&device, now())? {
                bail!("device {device} not found");
            }
            cli_log(
                store,
                "revoke-device",
                format!("device {device}"),
                String::new(),
            )?;
            println!("device {device} revoked");
        }
        DirectoryAction::Deactivate { account } => {
            let Some(mut found) = store.account(&account)? else {
                bail!("account {account} not found");
            };
            found.active = false;
            store.put_account(&found)?;
            cli_log(
                store,
                "deactivate-account",
                format!("account {account}"),
                String::new(),
            )?;
            println!(
                "account {account} deactivated; its devices are refused from their next connection"
            );
        }
        DirectoryAction::Devices { account } => {
            for d in store.devices_of(&account)? {
                let state = if d.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!("{}\t{}\t{}", d.id, state, d.label);
            }
        }
        DirectoryAction::IssueCode {
            role,
            account,
            student,
            valid_days,
        } => {
            let role = match role.as_str() {
                "staff" => CodeRole::Staff,
                "student" => CodeRole::Student,
                "parent" => CodeRole::Parent,
                other => bail!("role {other:?} is not one of staff, student, parent"),
            };
            let student = student.map(|s| s.parse()).transpose()?;
            let issuer = cli_principal();
            let request = CodeRequest {
                role,
                account,
                student,
                valid_days,
            };
            let issued = journal_relay::codes::issue(store, key, &issuer, &request)?;
            println!(
                "access code (shown only now, valid {valid_days} days): {}",
                issued.code
            );
        }
        DirectoryAction::Import { file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let is_xlsx = file
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
            let rows = if is_xlsx {
                roster::xlsx_rows(&bytes)
            } else {
                roster::csv_rows(&bytes)
            };
            let rows = rows.map_err(|e| anyhow::anyhow!("row {}: {}", e.row, e.reason))?;
            match roster::validate(&rows, store)? {
                Ok(import) => {
                    store.import_roster(&import)?;
                    let detail = format!(
                        "{} students, {} guardian links",
                        import.students.len(),
                        import.guardians.len()
                    );
                    cli_log(
                        store,
                        "import-roster",
                        file.display().to_string(),
                        detail.clone(),
                    )?;
                    println!("imported {detail}");
                }
                Err(errors) => {
                    for e in &errors {
                        eprintln!("row {}: {}", e.row, e.reason);
                    }
                    bail!("nothing was imported: {} row(s) need fixing", errors.len());
                }
            }
        }
        DirectoryAction::List => {
            for a in store.accounts()? {
                println!(
                    "{}\t{}\t{}\t{}",
                    a.id,
                    a.role.as_str(),
                    if a.active { "active" } else { "inactive" },
                    a.name
                );
            }
        }
    }
    Ok(())
}
