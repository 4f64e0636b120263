//! `journal-loadgen`: the school-scale benchmarks (BENCHMARKS.md). `generate` writes a seeded school year
//! through the core API into a relay data directory, with a device for every teacher and parent; `bench`
//! starts the real relay binary on it (on a copy) and measures cold and incremental syncs of a teacher's
//! tablet against a gzip JSON download of the same data, the no-change sync, the 8 a.m. bursts of 1,000
//! parent devices, the relay's storage and the tablet's store.

mod anchor;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use journal_core::docs::Document;
use journal_core::sync::client::{NoListener, RelayConfig, sync_now};
use journal_core::workload::{WorkloadSpec, build_year, teacher_classes, teacher_id};
use journal_core::{
    AttendanceInput, ClassId, DocId, Journal, MarkInput, MarkValue, NewLesson, StudentId, YearId,
};
use journal_relay::store::postgres::PostgresStore;
use journal_relay::store::postgres::testing::TestDatabase;
use journal_relay::store::sqlite::SqliteStore;
use journal_relay::store::{
    Account, AccountRole, Attribution, DirectoryStore, DocumentStore, RelayStore, stored_heads,
};
use serde::{Deserialize, Serialize};

#[derive(Parser)]
#[command(
    name = "journal-loadgen",
    about = "School-scale benchmarks of the journal"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Writes the school year into a new relay data directory.
    Generate {
        /// The data directory to create.
        #[arg(long)]
        data_dir: PathBuf,
        /// Classes (25 students each).
        #[arg(long, default_value_t = 40)]
        classes: usize,
    },
    /// One client scenario of the field-conditions script (tests/field/run.sh), against the demo school:
    /// `lesson` (five lessons, each synced on its own), `week` (30 lessons offline, one session) or `cuts` (30 more
    /// lessons while the script cuts the link; retries until converged).
    Field {
        /// The relay as the client reaches it.
        #[arg(long)]
        url: String,
        /// The demo class teacher's device token.
        #[arg(long)]
        token: String,
        /// The client's journal file (kept between scenarios).
        #[arg(long)]
        journal: PathBuf,
        /// lesson, week or cuts.
        #[arg(long)]
        scenario: String,
    },
    /// Runs every benchmark on a copy of a generated data directory.
    Bench {
        /// The generated data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// The relay binary (build it with --release).
        #[arg(long, default_value = "target/release/journal-relay")]
        relay: PathBuf,
        /// Repetitions of the single-device measurements.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Only the 8 a.m. bursts (first day, typical morning), e.g. to profile the relay under them.
        #[arg(long)]
        burst_only: bool,
        /// Also run the bursts against one relay and against two relays on PostgreSQL (a throwaway
        /// database on the server at JOURNAL_TEST_POSTGRES), in the same run as SQLite.
        #[arg(long)]
        postgres: bool,
        /// Also run the bursts against a stock automerge-repo sync server (Node, tests/stock's
        /// anchor-server.mjs) serving the same students' documents, in the same run.
        #[arg(long, requires = "burst_only")]
        anchor: bool,
    },
}

/// Device tokens of the generated school, written beside its data.
#[derive(Serialize, Deserialize)]
struct Tokens {
    year: u16,
    /// Teacher account → token.
    teachers: BTreeMap<String, String>,
    /// Student id → (parent account, token).
    parents: BTreeMap<String, (String, String)>,
    /// The teacher whose tablet the single-device benchmarks use, and their classes.
    tablet_teacher: String,
    tablet_classes: Vec<String>,
}

const YEAR: YearId = YearId(2026);

fn main() -> Result<()> {
    journal_core::sync::tls::install_default_provider();
    let cli = Cli::parse();
    match cli.command {
        Cmd::Generate { data_dir, classes } => generate(&data_dir, classes),
        Cmd::Bench {
            data_dir,
            relay,
            runs,
            burst_only,
            postgres,
            anchor,
        } => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let setups: &[Setup] = if postgres {
                &[
                    Setup::Sqlite,
                    Setup::Postgres { relays: 1 },
                    Setup::Postgres { relays: 2 },
                ]
            } else {
                &[Setup::Sqlite]
            };
            if burst_only {
                runtime.block_on(burst_bench(&data_dir, &relay, setups, anchor))
            } else {
                runtime.block_on(bench(&data_dir, &relay, runs))
            }
        }
        Cmd::Field {
            url,
            token,
            journal,
            scenario,
        } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(field(&url, &token, &journal, &scenario)),
    }
}

fn account(id: &str, name: &str, role: AccountRole, student: Option<StudentId>) -> Account {
    Account {
        id: id.to_owned(),
        name: name.to_owned(),
        role,
        active: true,
        student,
    }
}

/// Stores a generated document with the audit trail a year of syncs would have left: every change
/// delivered on its own (no two in one sync, the most deliveries a year can have), spread over the school
/// year, by the teachers' tablets in turn.
fn store_document(store: &SqliteStore, doc: &Document, spec: &WorkloadSpec) -> Result<()> {
    let changes = doc.all_changes();
    let first = time::Date::from_calendar_date(i32::from(spec.year.0), time::Month::September, 1)?
        .with_hms(8, 0, 0)?
        .assume_utc()
        .unix_timestamp();
    let year = i64::from(spec.weeks) * 7 * 86_400;
    let step = year / i64::try_from(changes.len().max(1))?;
    let batches: Vec<(Attribution, Vec<_>)> = changes
        .into_iter()
        .enumerate()
        .map(|(i, change)| {
            let teacher = teacher_id(i % TEACHERS_PER_DOCUMENT * 7 % spec.teachers).to_string();
            let by = Attribution {
                device: format!("{teacher}-tablet"),
                account: teacher,
                at: first + step * i as i64,
            };
            (by, vec![change])
        })
        .collect();
    store.import_delivered(
        &doc.id().to_string(),
        &batches,
        &stored_heads(doc),
        &doc.snapshot(),
    )?;
    Ok(())
}

/// The teachers whose tablets write to one student's document over a year, one per subject.
const TEACHERS_PER_DOCUMENT: usize = 10;

fn generate(dir: &Path, classes: usize) -> Result<()> {
    if dir.exists() {
        bail!("{} exists; generate into a new directory", dir.display());
    }
    std::fs::create_dir_all(dir)?;
    let spec = WorkloadSpec {
        classes,
        ..WorkloadSpec::school(YEAR)
    };
    let started = Instant::now();
    let mut journal = Journal::open_in_memory()?;
    let summary = build_year(&mut journal, &spec)?;
    eprintln!(
        "wrote {} lessons, {} attendance entries, {} marks through the core in {:.1} s",
        summary.lessons,
        summary.attendance,
        summary.marks,
        started.elapsed().as_secs_f64()
    );
    let store = SqliteStore::open(&dir.join("relay.db"))?;
    // The relay keys token hashes by the installation's key it finds here.
    let key = journal_relay::secrets::HashKey::load_or_create(dir)?;
    for doc in journal.documents() {
        store_document(&store, doc, &spec)?;
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut tokens = Tokens {
        year: YEAR.0,
        teachers: BTreeMap::new(),
        parents: BTreeMap::new(),
        tablet_teacher: String::new(),
        tablet_classes: Vec::new(),
    };
    for t in 0..spec.teachers {
        let id = teacher_id(t).to_string();
        store.put_account(&account(
            &id,
            &format!("Учитель {t:02}"),
            AccountRole::Teacher,
            None,
        ))?;
        let issued = journal_relay::auth::issue_device(&store, &key, &id, "tablet", now)?;
        tokens.teachers.insert(id, issued.token);
    }
    for class in &summary.classes {
        for (i, student) in class.students.iter().enumerate() {
            store.put_student(student, &class.class, &format!("Ученик {i:02}"))?;
            let parent = format!("parent-{student}");
            store.put_account(&account(&parent, "Родитель", AccountRole::Parent, None))?;
            store.link_guardian(&parent, student)?;
            let issued = journal_relay::auth::issue_device(&store, &key, &parent, "phone", now)?;
            tokens
                .parents
                .insert(student.to_string(), (parent, issued.token));
        }
        store.put_class_staff(&class.class, class.class_teacher.as_str(), true)?;
        for teacher in &class.subject_teachers {
            if teacher != &class.class_teacher {
                store.put_class_staff(&class.class, teacher.as_str(), false)?;
            }
        }
    }
    // The tablet: a teacher with four classes (or as close as a smaller school allows).
    let tablet = (0..spec.teachers)
        .rev()
        .max_by_key(|&t| {
            let n = teacher_classes(&spec, t).len();
            (n <= 4, n)
        })
        .context("no teachers")?;
    tokens.tablet_teacher = teacher_id(tablet).to_string();
    tokens.tablet_classes = teacher_classes(&spec, tablet)
        .iter()
        .map(|&c| summary.classes[c].class.to_string())
        .collect();
    // Steady state: the pages freed while importing are reused by a running relay; measure without them.
    store.vacuum()?;
    std::fs::write(dir.join("tokens.json"), serde_json::to_vec_pretty(&tokens)?)?;
    eprintln!(
        "stored {} documents in {} ({} MB) in {:.1} s in all",
        journal.documents().count(),
        dir.display(),
        std::fs::metadata(dir.join("relay.db"))?.len() / 1_000_000,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A relay process on a copy of the data, on a free loopback port.
struct RelayProcess {
    child: Child,
    url: String,
}

impl RelayProcess {
    fn start(binary: &Path, data: &Path) -> Result<RelayProcess> {
        Self::start_on(binary, data, None)
    }

    /// A relay on `data`, keeping its documents in the PostgreSQL `database` when given.
    fn start_on(binary: &Path, data: &Path, database: Option<&str>) -> Result<RelayProcess> {
        let mut command = Command::new(binary);
        command.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--backup-hours",
            "0",
            "--log",
            "warn",
            // Every simulated device connects from 127.0.0.1, and 1,000 of them share the relay's two
            // cores: a device's own process can take longer than a real phone to write its request.
            "--max-connections-per-address",
            "100000",
            "--header-timeout",
            "300",
        ]);
        command.arg("--data-dir").arg(data);
        if let Some(database) = database {
            command.args(["--database", database]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let stdout = child.stdout.take().context("relay stdout")?;
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
        let url = loop {
            let line = lines.next().context("the relay exited")??;
            if let Some(url) = line.strip_prefix("journal-relay listening on ") {
                break url.to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Ok(RelayProcess { child, url })
    }

    /// Peak resident memory so far, in MB.
    fn peak_rss_mb(&self) -> f64 {
        peak_rss_mb(self.child.id())
    }
}

/// Peak resident memory of process `pid` so far, in MB (VmHWM).
fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

impl RelayProcess {
    /// CPU time the relay has used so far, user and system, in seconds.
    fn cpu_seconds(&self) -> f64 {
        cpu_seconds(&format!("/proc/{}/stat", self.child.id()))
    }
}

/// CPU time (user + system) of the process whose `/proc/…/stat` is at `stat`, in seconds.
fn cpu_seconds(stat: &str) -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let ticks = *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100.0)
    });
    let text = std::fs::read_to_string(stat).unwrap_or_default();
    // The fields after the command name (which may hold spaces) start at state; utime and stime are the
    // 14th and 15th fields of the line, the 12th and 13th after it.
    let fields: Vec<&str> = text
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (field(11) + field(12)) / ticks
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        std::fs::copy(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// The documents a teacher's tablet holds, as one gzip JSON (the baseline download).
fn baseline_json(store: &SqliteStore, ids: &[DocId]) -> Result<Vec<u8>> {
    let mut all = serde_json::Map::new();
    for id in ids {
        let bytes = store
            .load_document(&id.to_string())?
            .with_context(|| format!("{id} missing"))?;
        let doc = automerge::Automerge::load(&bytes)?;
        all.insert(
            id.to_string(),
            serde_json::to_value(automerge::AutoSerde::from(&doc))?,
        );
    }
    let json = serde_json::to_vec(&all)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&json)?;
    Ok(gz.finish()?)
}

async fn serve_baseline(body: Vec<u8>) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let body = Arc::new(body);
    let app = axum::Router::new().route(
        "/baseline.json.gz",
        axum::routing::get(move || {
            let body = body.clone();
            async move { (*body).clone() }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}/baseline.json.gz"))
}

/// Fetches the gzip JSON and decodes it, as an app would before showing anything.
async fn baseline_fetch(url: &str) -> Result<(Duration, usize)> {
    let started = Instant::now();
    let bytes = reqwest::get(url).await?.bytes().await?;
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut json)?;
    let parsed: serde_json::Value = serde_json::from_slice(&json)?;
    anyhow::ensure!(parsed.as_object().is_some_and(|o| !o.is_empty()));
    Ok((started.elapsed(), bytes.len()))
}

fn tablet_documents(store: &SqliteStore, classes: &[String]) -> Result<Vec<DocId>> {
    let classes: Vec<ClassId> = classes
        .iter()
        .map(|c| c.parse())
        .collect::<Result<_, _>>()?;
    let mut ids = vec![DocId::School(YEAR)];
    for class in &classes {
        ids.push(DocId::Class(YEAR, class.clone()));
    }
    for (id, _) in store.document_heads()? {
        if let Ok(DocId::Student(year, student)) = id.parse::<DocId>() {
            let in_class = store
                .student(&student)?
                .is_some_and(|(class, _)| classes.contains(&class));
            if in_class {
                ids.push(DocId::Student(year, student));
            }
        }
    }
    Ok(ids)
}

/// Adds one lesson to `class` today-ish with attendance for everyone and five marks.
fn one_lesson(
    journal: &mut Journal,
    class: &ClassId,
    teacher: &str,
    day_offset: i64,
) -> Result<()> {
    let date = time::Date::from_calendar_date(i32::from(YEAR.0) + 1, time::Month::May, 4)?
        + time::Duration::days(day_offset % 20);
    let lesson = journal.add_lesson(
        YEAR,
        class,
        &NewLesson {
            date,
            period: 7 + (day_offset / 20) as u8 % 5,
            subject: "physics".parse()?,
            teacher: teacher.parse()?,
            topic: "Новый урок".into(),
        },
    )?;
    let students: Vec<StudentId> = journal
        .roster(YEAR, class, date)?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    journal.batch(|j| {
        j.mark_attendance(
            &lesson,
            &students
                .iter()
                .map(|s| AttendanceInput {
                    student: s.clone(),
                    code: None,
                    note: String::new(),
                })
                .collect::<Vec<_>>(),
        )?;
        for student in students.iter().take(5) {
            j.put_mark(
                student,
                &lesson,
                &MarkInput {
                    value: MarkValue::Grade(4),
                    kind: "oral".parse()?,
                    comment: String::new(),
                },
            )?;
        }
        Ok(())
    })?;
    Ok(())
}

async fn bench(data: &Path, relay_binary: &Path, runs: usize) -> Result<()> {
    let tokens: Tokens = serde_json::from_slice(&std::fs::read(data.join("tokens.json"))?)?;
    let scratch = tempfile::tempdir()?;
    let work = scratch.path().join("relay");
    copy_dir(data, &work)?;
    let relay_db_bytes = std::fs::metadata(work.join("relay.db"))?.len();

    // Baselines made from the relay's own data.
    let (tablet_ids, baseline, all_json_gz) = {
        let store = SqliteStore::open(&work.join("relay.db"))?;
        let tablet_ids = tablet_documents(&store, &tokens.tablet_classes)?;
        let baseline = baseline_json(&store, &tablet_ids)?;
        let all: Vec<DocId> = store
            .document_heads()?
            .iter()
            .filter_map(|(id, _)| id.parse().ok())
            .collect();
        (tablet_ids, baseline, baseline_json(&store, &all)?.len())
    };
    let baseline_url = serve_baseline(baseline).await?;
    let relay = RelayProcess::start(relay_binary, &work)?;
    let teacher_token = &tokens.teachers[&tokens.tablet_teacher];
    println!(
        "## School scale: {} ({} documents on the tablet)\n",
        relay_binary.display(),
        tablet_ids.len()
    );

    // Cold sync of the tablet, against the gzip JSON download, interleaved run by run.
    let (mut cold_times, mut cold_bytes, mut base_times, mut base_bytes) =
        (vec![], vec![], vec![], vec![]);
    let mut tablet_dir = None;
    for run in 0..runs {
        let (t, b) = baseline_fetch(&baseline_url).await?;
        base_times.push(t.as_secs_f64());
        base_bytes.push(b as f64);
        let dir = tempfile::tempdir()?;
        let mut journal = Journal::open(&dir.path().join("tablet.db"))?;
        let config = RelayConfig::new(&relay.url, teacher_token);
        let started = Instant::now();
        let report = sync_now(&mut journal, &config, &NoListener).await?;
        cold_times.push(started.elapsed().as_secs_f64());
        cold_bytes.push((report.bytes_received + report.bytes_sent) as f64);
        anyhow::ensure!(report.documents >= tablet_ids.len(), "{report:?}");
        if run == 0 {
            tablet_dir = Some((dir, journal, config));
        }
    }
    let (cold_t, base_t) = (median(cold_times), median(base_times));
    let (cold_b, base_b) = (median(cold_bytes), median(base_bytes));
    println!("| measure | median | baseline (median) | ratio | goal |");
    println!("|---|---|---|---|---|");
    println!(
        "| cold sync of the tablet: time | {:.0} ms | {:.0} ms (gzip JSON download + decode) | {:.2}× | ≤ 1.5× |",
        cold_t * 1000.0,
        base_t * 1000.0,
        cold_t / base_t
    );
    println!(
        "| cold sync of the tablet: bytes | {:.0} KB | {:.0} KB | {:.2}× | ≤ 1.3× |",
        cold_b / 1000.0,
        base_b / 1000.0,
        cold_b / base_b
    );

    // One lesson, then a sync with nothing new.
    let (dir, mut journal, config) = tablet_dir.context("a tablet")?;
    let class: ClassId = tokens.tablet_classes[0].parse()?;
    let (mut trips, mut bytes, mut idle_trips, mut idle_bytes) = (vec![], vec![], vec![], vec![]);
    for run in 0..runs {
        one_lesson(&mut journal, &class, &tokens.tablet_teacher, run as i64)?;
        let report = sync_now(&mut journal, &config, &NoListener).await?;
        trips.push(report.round_trips as f64);
        bytes.push((report.bytes_sent + report.bytes_received) as f64);
        let idle = sync_now(&mut journal, &config, &NoListener).await?;
        idle_trips.push(idle.round_trips as f64);
        idle_bytes.push((idle.bytes_sent + idle.bytes_received) as f64);
    }
    println!(
        "| one lesson (25 attendance entries, 5 marks) | {} round trips, {:.1} KB | | | ≤ 3 round trips, ≤ 4 KB |",
        median(trips),
        median(bytes) / 1000.0
    );
    println!(
        "| no-change sync of {} documents | {} round trip, {:.1} KB | | | 1 round trip, ≤ 8 KB |",
        tablet_ids.len(),
        median(idle_trips),
        median(idle_bytes) / 1000.0
    );
    let tablet_file = dir.path().join("tablet.db");
    drop(journal);
    let mut loads = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let journal = Journal::open(&tablet_file)?;
        loads.push(started.elapsed().as_secs_f64());
        drop(journal);
    }
    let tablet_size = std::fs::metadata(&tablet_file)?.len()
        + std::fs::metadata(tablet_file.with_extension("db-wal")).map_or(0, |m| m.len());
    println!(
        "| tablet store for the teacher's year | {:.1} MB, opens in {:.0} ms | | | |",
        tablet_size as f64 / 1e6,
        median(loads) * 1000.0
    );
    println!(
        "| relay storage for the whole year | {:.1} MB | {:.1} MB (gzip JSON) | {:.2}× | ≤ 1.5× |",
        relay_db_bytes as f64 / 1e6,
        all_json_gz as f64 / 1e6,
        relay_db_bytes as f64 / all_json_gz as f64
    );
    drop(relay);

    burst(&tokens, relay_binary, data, scratch.path(), Setup::Sqlite).await?;
    Ok(())
}

/// The bursts alone, on a copy of the generated data, for each of `setups`.
async fn burst_bench(
    data: &Path,
    relay_binary: &Path,
    setups: &[Setup],
    anchor: bool,
) -> Result<()> {
    let tokens: Tokens = serde_json::from_slice(&std::fs::read(data.join("tokens.json"))?)?;
    let scratch = tempfile::tempdir()?;
    for setup in setups {
        burst(&tokens, relay_binary, data, scratch.path(), *setup).await?;
    }
    if anchor {
        let students: Vec<String> = tokens.parents.keys().cloned().collect();
        anchor::burst(&students, data, scratch.path()).await?;
    }
    Ok(())
}

/// Where a burst's relays keep the school's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    /// One relay on SQLite in its data directory.
    Sqlite,
    /// Relays on one PostgreSQL database, each device trying them in its own order.
    Postgres { relays: usize },
}

impl std::fmt::Display for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Setup::Sqlite => f.write_str("one relay, SQLite"),
            Setup::Postgres { relays: 1 } => f.write_str("one relay, PostgreSQL"),
            Setup::Postgres { relays } => write!(f, "{relays} relays, one PostgreSQL"),
        }
    }
}

/// The relays of one burst, on one copy of the data.
struct Relays {
    processes: Vec<RelayProcess>,
}

impl Relays {
    fn start(
        binary: &Path,
        work: &Path,
        database: Option<&TestDatabase>,
        count: usize,
    ) -> Result<Relays> {
        let mut processes = Vec::new();
        for i in 0..count {
            // Each relay has a data directory of its own, with the same hashing key.
            let data = if i == 0 {
                work.to_owned()
            } else {
                let data = work.with_file_name(format!(
                    "{}-relay{i}",
                    work.file_name().and_then(|n| n.to_str()).unwrap_or("work")
                ));
                std::fs::create_dir_all(&data)?;
                std::fs::copy(work.join("hash.key"), data.join("hash.key"))?;
                data
            };
            processes.push(RelayProcess::start_on(
                binary,
                &data,
                database.map(TestDatabase::url),
            )?);
        }
        Ok(Relays { processes })
    }

    /// Device `i`'s relays, each device starting with another one (a load balancer's share).
    fn config(&self, i: usize, token: &str) -> RelayConfig {
        let n = self.processes.len();
        let urls: Vec<&str> = (0..n)
            .map(|k| self.processes[(i + k) % n].url.as_str())
            .collect();
        RelayConfig::new(&urls.join(","), token)
    }

    fn cpu_seconds(&self) -> f64 {
        self.processes.iter().map(RelayProcess::cpu_seconds).sum()
    }

    fn peak_rss_mb(&self) -> f64 {
        self.processes
            .iter()
            .map(RelayProcess::peak_rss_mb)
            .fold(0.0, f64::max)
    }
}

/// CPU time used so far by every PostgreSQL server process on this machine, in seconds.
fn postgres_cpu_seconds() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|e| cpu_seconds(&e.path().join("stat").to_string_lossy()))
        .sum()
}

/// CPU used during one burst by the relays, the database and the simulated devices.
struct BurstCpu {
    relays: f64,
    postgres: f64,
    devices: f64,
}

impl BurstCpu {
    fn start(relays: &Relays) -> BurstCpu {
        BurstCpu {
            relays: relays.cpu_seconds(),
            postgres: postgres_cpu_seconds(),
            devices: cpu_seconds("/proc/self/stat"),
        }
    }

    fn report(&self, relays: &Relays, syncs: usize) -> String {
        let relay_cpu = relays.cpu_seconds() - self.relays;
        let postgres_cpu = postgres_cpu_seconds() - self.postgres;
        let devices_cpu = cpu_seconds("/proc/self/stat") - self.devices;
        format!(
            "CPU: relays {:.1} s ({:.1} ms a sync), PostgreSQL {:.1} s ({:.1} ms a sync), the simulated devices {:.1} s",
            relay_cpu,
            relay_cpu * 1000.0 / syncs as f64,
            postgres_cpu,
            postgres_cpu * 1000.0 / syncs as f64,
            devices_cpu
        )
    }
}

/// Syncs each device at once; returns each one's latency (seconds) and how many failed.
async fn all_at_once(
    devices: Vec<(Journal, RelayConfig)>,
) -> (Vec<f64>, usize, f64, Vec<(Journal, RelayConfig)>) {
    let started = Instant::now();
    let tasks: Vec<_> = devices
        .into_iter()
        .map(|(mut journal, config)| {
            tokio::spawn(async move {
                let begun = Instant::now();
                let result = sync_now(&mut journal, &config, &NoListener).await;
                (
                    begun.elapsed().as_secs_f64(),
                    result.map(|_| ()).map_err(|e| e.to_string()),
                    journal,
                    config,
                )
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut failed = 0;
    let mut back = Vec::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for task in tasks {
        let Ok((latency, outcome, journal, config)) = task.await else {
            failed += 1;
            continue;
        };
        latencies.push(latency);
        if let Err(reason) = outcome {
            failed += 1;
            *reasons.entry(reason).or_default() += 1;
        }
        back.push((journal, config));
    }
    for (reason, count) in reasons {
        eprintln!("{count} syncs failed: {reason}");
    }
    latencies.sort_by(f64::total_cmp);
    (latencies, failed, started.elapsed().as_secs_f64(), back)
}

async fn burst(
    tokens: &Tokens,
    relay_binary: &Path,
    data: &Path,
    scratch: &Path,
    setup: Setup,
) -> Result<()> {
    let parents: Vec<(String, String)> = tokens
        .parents
        .iter()
        .map(|(student, (_, token))| (student.clone(), token.clone()))
        .collect();
    let count = match setup {
        Setup::Sqlite => 1,
        Setup::Postgres { relays } => relays,
    };

    // First day: every device empty, all at once.
    let work = scratch.join(format!(
        "burst-{}",
        setup.to_string().replace([' ', ','], "-")
    ));
    copy_dir(data, &work)?;
    let database = match setup {
        Setup::Sqlite => None,
        Setup::Postgres { .. } => {
            let database = TestDatabase::create("loadgen");
            PostgresStore::open(database.url())?.load_from_sqlite(&work.join("relay.db"), false)?;
            std::fs::remove_file(work.join("relay.db"))?;
            Some(database)
        }
    };
    let relays = Relays::start(relay_binary, &work, database.as_ref(), count)?;
    let devices = parents
        .iter()
        .enumerate()
        .map(|(i, (_, token))| Ok((Journal::open_in_memory()?, relays.config(i, token))))
        .collect::<Result<Vec<_>>>()?;
    let cpu = BurstCpu::start(&relays);
    let (latencies, failed, total, devices) = all_at_once(devices).await;
    println!(
        "| first day ({setup}): {} empty devices at once | all served in {:.1} s, p50 {:.2} s, p99 {:.2} s, {} refused or failed; relay peak RSS {:.0} MB; {} | | | all within 30 s, nobody refused |",
        parents.len(),
        total,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        failed,
        relays.peak_rss_mb(),
        cpu.report(&relays, parents.len())
    );
    drop(relays);

    // Typical morning: the same devices synced yesterday; overnight each child's document got about five
    // entries (written on the relay's data while it was down); then everyone connects at once.
    {
        let store: Box<dyn RelayStore> = match &database {
            Some(database) => Box::new(PostgresStore::open(database.url())?),
            None => Box::new(SqliteStore::open(&work.join("relay.db"))?),
        };
        let by = Attribution {
            account: "loadgen".into(),
            device: "overnight".into(),
            at: time::OffsetDateTime::now_utc().unix_timestamp(),
        };
        let actor = automerge::ActorId::random();
        for (student, _) in &parents {
            let id = DocId::Student(YEAR, student.parse()?);
            let bytes = store
                .load_document(&id.to_string())?
                .context("student doc")?;
            let mut doc = Document::load(id.clone(), &bytes, &actor)?;
            let read_at = stored_heads(&doc);
            overnight_entries(&mut doc)?;
            let changes = doc.changes_since_saved();
            let heads = stored_heads(&doc);
            // As the relay writes a teacher's sync: from a copy that held exactly what is stored.
            store.append_changes(&id.to_string(), &changes, &heads, &by, None, Some(&read_at))?;
        }
    }
    let relays = Relays::start(relay_binary, &work, database.as_ref(), count)?;
    let devices: Vec<(Journal, RelayConfig)> = devices
        .into_iter()
        .enumerate()
        .map(|(i, (journal, config))| (journal, relays.config(i, &config.token)))
        .collect();
    let cpu = BurstCpu::start(&relays);
    let (latencies, failed, total, _) = all_at_once(devices).await;
    println!(
        "| typical morning ({setup}): {} devices, ~5 new entries each, at once | {:.0} syncs/s, p50 {:.2} s, p99 {:.2} s, {} failed; relay peak RSS {:.0} MB; {} | | | p99 ≤ 1 s, RSS ≤ 300 MB |",
        parents.len(),
        latencies.len() as f64 / total,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        failed,
        relays.peak_rss_mb(),
        cpu.report(&relays, parents.len())
    );
    Ok(())
}

/// The five attendance entries a child's document gets overnight before the typical morning.
fn overnight_entries(doc: &mut Document) -> Result<()> {
    for k in 0..5 {
        doc.put_attendance(
            &format!("morning-{k}").parse()?,
            &journal_core::Attendance {
                subject: "math".parse()?,
                date: time::Date::from_calendar_date(i32::from(YEAR.0) + 1, time::Month::May, 11)?,
                period: 1 + k,
                code: (k == 0).then(|| "н".to_owned()),
                note: String::new(),
            },
        )?;
    }
    Ok(())
}

/// Lessons of class 5a written offline by its class teacher from `start` on, five a school day: attendance
/// for everyone (one absent) and a mark each.
fn offline_lessons(journal: &mut Journal, count: usize, start: (time::Month, u8)) -> Result<()> {
    let year = journal.current_year()?;
    let class: ClassId = "5a".parse()?;
    let mut day = time::Date::from_calendar_date(i32::from(year.0), start.0, start.1)?;
    let students: Vec<StudentId> = journal
        .roster(year, &class, day)?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let subjects = ["russian", "literature", "history"];
    journal.batch(|j| {
        for n in 0..count {
            while day.weekday().number_days_from_monday() > 4 {
                day = day.next_day().expect("a next day");
            }
            let lesson = j.add_lesson(
                year,
                &class,
                &NewLesson {
                    date: day,
                    period: 1 + (n % 5) as u8,
                    subject: subjects[n % 3].parse()?,
                    teacher: "t-5a".parse()?,
                    topic: format!("Урок {n}"),
                },
            )?;
            let entries: Vec<AttendanceInput> = students
                .iter()
                .enumerate()
                .map(|(i, s)| AttendanceInput {
                    student: s.clone(),
                    code: (i == n % students.len()).then(|| "н".to_owned()),
                    note: String::new(),
                })
                .collect();
            j.mark_attendance(&lesson, &entries)?;
            j.put_mark(
                &students[(n + 1) % students.len()],
                &lesson,
                &MarkInput {
                    value: MarkValue::Grade(4),
                    kind: "oral".parse()?,
                    comment: String::new(),
                },
            )?;
            if n % 5 == 4 {
                day = day.next_day().expect("a next day");
            }
        }
        Ok(())
    })?;
    Ok(())
}

async fn field(url: &str, token: &str, path: &Path, scenario: &str) -> Result<()> {
    let mut journal = Journal::open(path)?;
    let mut config = RelayConfig::new(url, token);
    if journal.documents().next().is_none() {
        let started = Instant::now();
        let report = sync_now(&mut journal, &config, &NoListener).await?;
        println!(
            "initial sync: {:.1} s, {} bytes received",
            started.elapsed().as_secs_f64(),
            report.bytes_received
        );
    }
    match scenario {
        "lesson" => {
            // Five lessons of one day, each its own sync: each meets the link's losses at another point
            // of their every-20th-packet pattern, so the median says more than one lesson would.
            let mut times = Vec::new();
            for day in 7..12 {
                offline_lessons(&mut journal, 1, (time::Month::September, day))?;
                let started = Instant::now();
                let report = sync_now(&mut journal, &config, &NoListener).await?;
                times.push(started.elapsed().as_secs_f64());
                println!(
                    "lesson on September {day}: {:.1} s, {} round trips, {} bytes sent, {} received",
                    times[times.len() - 1],
                    report.round_trips,
                    report.bytes_sent,
                    report.bytes_received
                );
            }
            let each: Vec<String> = times.iter().map(|t| format!("{t:.1}")).collect();
            println!(
                "lesson: {:.1} s, the median of five lessons ({} s)",
                median(times.clone()),
                each.join(", ")
            );
        }
        "week" => {
            offline_lessons(&mut journal, 30, (time::Month::September, 14))?;
            let started = Instant::now();
            let report = sync_now(&mut journal, &config, &NoListener).await?;
            println!(
                "week: {:.1} s, {} round trips, {} bytes sent, {} received",
                started.elapsed().as_secs_f64(),
                report.round_trips,
                report.bytes_sent,
                report.bytes_received
            );
        }
        "cuts" => {
            offline_lessons(&mut journal, 30, (time::Month::October, 5))?;
            config.timeout = Duration::from_secs(15);
            println!("cuts: syncing");
            let started = Instant::now();
            let (mut attempts, mut sent) = (0, 0);
            loop {
                attempts += 1;
                match sync_now(&mut journal, &config, &NoListener).await {
                    Ok(report) => {
                        sent += report.bytes_sent;
                        break;
                    }
                    Err(e) => {
                        eprintln!("attempt {attempts}: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
            // Converged: a sync with nothing new has nothing to send.
            let check = sync_now(&mut journal, &config, &NoListener).await?;
            anyhow::ensure!(
                check.received.is_empty() && check.refused.is_empty(),
                "{check:?}"
            );
            let whole: usize = journal.documents().map(|d| d.snapshot().len()).sum();
            println!(
                "cuts: converged in {:.1} s after {attempts} attempts; {sent} bytes sent by the successful attempt, the documents whole are {whole} bytes",
                started.elapsed().as_secs_f64()
            );
        }
        other => bail!("scenario {other:?} is not lesson, week or cuts"),
    }
    Ok(())
}
