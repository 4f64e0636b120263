//! `journal-relay serve`: the relay itself, with its scheduled backups, the demo school and TLS.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use journal_relay::backup;
use journal_relay::clock::{Clock, SystemClock};
use journal_relay::hub::Hub;
use journal_relay::services::events::{LocalBus, PostgresBus, RelayEvent, read_mail};
use journal_relay::store::postgres::PostgresStore;
use journal_relay::tls::{CertificateSource, ServerTls};
use journal_relay::{App, Limits, build_router, data_dir, demo};
use tokio::sync::watch;

use super::store::{DataDir, Opened, open_store};

/// How to run the relay.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "JOURNAL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Log filter (error, warn, info, debug, or a tracing filter).
    #[arg(long, env = "JOURNAL_LOG", default_value = "info")]
    pub log: String,
    /// Seed a demo school on first start and print its access codes and device tokens.
    #[arg(long)]
    pub demo: bool,
    /// Students in each demo class: the three with accounts, and classmates up to this many.
    #[arg(long, requires = "demo", default_value_t = demo::DEMO_CLASS_SIZE as u16,
          value_parser = clap::value_parser!(u16).range(3..=40))]
    pub demo_class_size: u16,
    /// The demo school's edit-lock window in days (0: off), for a demo that enters last month's lessons.
    #[arg(long, requires = "demo", default_value_t = journal_core::DEFAULT_EDIT_LOCK_DAYS,
          value_parser = clap::value_parser!(u16).range(0..=366))]
    pub demo_edit_lock_days: u16,
    /// Seed the demo school without its first term's history: lessons from this week only (tests that
    /// count a student's marks).
    #[arg(long, requires = "demo")]
    pub demo_without_history: bool,
    /// The demo school's time zone, as its offset from UTC.
    #[arg(long, requires = "demo", default_value = "+03:00")]
    pub demo_time_zone: journal_core::SchoolTimeZone,
    /// Hours between backup snapshots (0: none).
    #[arg(long, env = "JOURNAL_BACKUP_HOURS", default_value_t = 24)]
    pub backup_hours: u64,
    /// Open connections one client address may hold (a school's network may share one address).
    #[arg(long, env = "JOURNAL_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = Limits::default().connections_per_address)]
    pub max_connections_per_address: usize,
    /// Seconds a client has to send a request's headers; also how long a connection may sit idle
    /// between requests.
    #[arg(long, env = "JOURNAL_HEADER_TIMEOUT", default_value_t = Limits::default().header_timeout.as_secs())]
    pub header_timeout: u64,
    #[command(flatten)]
    pub tls: TlsOptions,
    #[command(flatten)]
    pub monitoring: Monitoring,
}

/// What the relay tells monitoring.
#[derive(clap::Args)]
pub struct Monitoring {
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
pub struct TlsOptions {
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

/// Runs the relay on `data` until SIGTERM or Ctrl-C.
pub fn run(data: &DataDir, args: ServeArgs) -> Result<()> {
    let ServeArgs {
        listen,
        log,
        demo,
        demo_class_size,
        demo_edit_lock_days,
        demo_without_history,
        demo_time_zone,
        backup_hours,
        max_connections_per_address,
        header_timeout,
        tls,
        monitoring,
    } = args;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&log).context("bad --log filter")?)
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
    let demo = demo.then_some(demo::DemoOptions {
        class_size: usize::from(demo_class_size),
        edit_lock_days: demo_edit_lock_days,
        history: !demo_without_history,
        time_zone: demo_time_zone,
    });
    runtime.block_on(serve(
        data,
        listen,
        demo,
        backup_hours,
        limits,
        &tls,
        &monitoring,
    ))
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
    seed_demo: Option<demo::DemoOptions>,
    backup_hours: u64,
    limits: Limits,
    tls: &TlsOptions,
    monitoring: &Monitoring,
) -> Result<()> {
    let stop_requested = listen_for_stop().context("cannot listen for SIGTERM")?;
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
    let hub = match &postgres {
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
            hub
        }
        None => Arc::new(Hub::new(store.clone(), Arc::new(LocalBus::default()))),
    };
    let mut app = App::new(hub.clone(), limits, shutdown, peer_id, key);
    app.certificate_pin = self_signed_pin(tls.as_ref());
    app.secure_cookies = tls.is_some();
    app.postgres = postgres.clone();
    monitoring.apply(&mut app, dir);
    if postgres.is_some() {
        // Code guessers get no more attempts by spreading them over the district's relays.
        app.redeem_limits = journal_relay::ratelimit::RedeemLimits::shared(
            limits.redeem_per_address,
            limits.redeem_per_family,
            hub.clock().clone(),
            store.clone(),
        );
    }
    let app = Arc::new(app);
    if postgres.is_none() {
        // What the relay's command line changes meanwhile reaches the live sessions.
        tokio::spawn(read_mail(
            store,
            move |event| hub.hear(event),
            app.shutdown.clone(),
        ));
    }
    if let Some(options) = seed_demo {
        let year = journal_core::YearId(current_school_year());
        match demo::seed(&app, year, options)? {
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
            None => {
                println!("The relay already holds documents; demo data was not seeded again.");
                let fresh = demo::fresh_codes_for_unspent(&app)?;
                if fresh.is_empty() {
                    println!("Every demo account has signed a device in.");
                } else {
                    println!(
                        "Codes are kept only as hashes: fresh codes for the demo accounts that have not \
                         signed a device in yet (they replace the unspent ones), valid 14 days:"
                    );
                }
                for (a, code) in fresh {
                    println!(
                        "demo-code\t{}\t{}\t{}\t{}",
                        a.id,
                        a.role.as_str(),
                        code,
                        a.name
                    );
                }
            }
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
            stop_requested.await;
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

/// Listens for SIGTERM and Ctrl-C from now on: a stop sent while the relay still starts (systemd's,
/// or a test's) then drains it once serving begins, instead of killing it by the default action.
#[cfg(unix)]
fn listen_for_stop() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

/// Listens for Ctrl-C.
#[cfg(not(unix))]
fn listen_for_stop() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
