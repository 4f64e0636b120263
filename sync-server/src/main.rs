//! `journal-relay`: run the relay, or provision its directory from the command line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use journal_relay::hub::Hub;
use journal_relay::store::sqlite::SqliteStore;
use journal_relay::store::{Account, AccountRole, RelayStore};
use journal_relay::{App, Limits, build_router, demo};
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
        /// Seed a demo school on first start and print its device tokens.
        #[arg(long)]
        demo: bool,
    },
    /// Provision the directory (accounts, classes, guardians, devices).
    Directory {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        action: DirectoryAction,
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
    /// List accounts.
    List,
}

fn open_store(dir: &Path) -> Result<SqliteStore> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", dir.display()))?;
    }
    SqliteStore::open(&dir.join("relay.db"))
        .with_context(|| format!("cannot open the relay database in {}", dir.display()))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            data,
            listen,
            log,
            demo,
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
            runtime.block_on(serve(&data.data_dir, listen, demo))
        }
        Command::Directory { data, action } => directory(&open_store(&data.data_dir)?, action),
    }
}

async fn serve(dir: &Path, listen: SocketAddr, seed_demo: bool) -> Result<()> {
    let store: Arc<dyn RelayStore> = Arc::new(open_store(dir)?);
    let (stop, shutdown) = watch::channel(false);
    let peer_id = format!("relay-{}", &uuid_like());
    let app = Arc::new(App::new(
        Hub::new(store),
        Limits::default(),
        shutdown,
        peer_id,
    ));
    if seed_demo {
        let year = journal_core::YearId(current_school_year());
        match demo::seed(&app, year).await? {
            Some(accounts) => {
                println!(
                    "Demo school seeded for {year}. Device tokens (send as `Authorization: Bearer <token>`):"
                );
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
    let router = build_router(app.clone());
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight work");
        let _ = stop.send(true);
    })
    .await?;
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

fn directory(store: &SqliteStore, action: DirectoryAction) -> Result<()> {
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
            let issued = journal_relay::auth::issue_device(store, &account, &label, now())?;
            println!(
                "device {} added to {account}; its token (shown only now): {}",
                issued.device.id, issued.token
            );
        }
        DirectoryAction::RevokeDevice { device } => {
            if !store.revoke_device(&device, now())? {
                bail!("device {device} not found");
            }
            println!("device {device} revoked");
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
