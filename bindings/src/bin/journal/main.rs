//! `journal`: the school journal on the command line. A newcomer's demo and the IT officer's tool: it holds
//! one local journal per profile, works offline, and syncs with the relay when it can.

/// Prints a line on standard output. A reader that went away (`journal lessons | head -5`) ends the
/// program quietly, as it does any Unix tool, instead of a panic.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::write_line(format_args!($($arg)*))
    };
}

mod messages;
mod profile;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use comfy_table::{ContentArrangement, Table};
use journal_core::news::NewsItem;
use journal_core::sync::client::{
    ClientError, SyncListener, SyncReport, redeem_code, run_live, sync_now,
};
use journal_core::sync::{DocStatus, SyncEvent};
use journal_core::{
    AttendanceInput, ClassId, DateRange, DocId, Journal, LessonId, MarkInput, MarkValue, StudentId,
    WorkKindId, YearId, format_date, parse_date,
};
use serde::Serialize;
use time::Date;

use profile::{Profile, SignIn};

#[derive(Parser)]
#[command(
    name = "journal",
    version,
    about = "The school journal on the command line; works offline"
)]
struct Cli {
    /// Which local journal and sign-in to use.
    #[arg(
        long,
        global = true,
        env = "JOURNAL_PROFILE",
        default_value = "default"
    )]
    profile: String,
    /// Where profiles live (default: the user's data directory).
    #[arg(long, global = true, env = "JOURNAL_HOME")]
    home: Option<PathBuf>,
    /// Machine-readable output for listings.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign this profile in with an access code from your school.
    Login {
        /// The relay, e.g. http://127.0.0.1:8080.
        server: String,
        /// The access code, e.g. K7QM-2D9X-H4TB-R.
        code: String,
        /// What to call this device.
        #[arg(long, default_value = "command line")]
        label: String,
        /// The relay certificate's fingerprint from the access slip, for a relay that made its own
        /// certificate: this profile then trusts that certificate only.
        #[arg(long)]
        pin: Option<journal_core::certificate_pin::CertificatePin>,
    },
    /// Send your edits and fetch what is new.
    Sync,
    /// Stay connected and print new items as they arrive.
    Watch {
        /// Stop after this many seconds (default: until Ctrl-C).
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// Lessons of a day (default today, else the last school day): a teacher's own, or a student's class.
    Lessons {
        /// YYYY-MM-DD.
        date: Option<String>,
    },
    /// Take attendance for a lesson: one line per student, Enter for present.
    Attend {
        /// Lesson id (from `journal lessons`).
        lesson: String,
        /// Non-interactive: STUDENT=CODE for each absent or late student; everyone else is present.
        #[arg(long, value_delimiter = ',')]
        absent: Option<Vec<String>>,
    },
    /// Put or change a mark.
    Mark {
        /// Student id or the start of their name.
        student: String,
        /// Lesson id.
        lesson: String,
        /// 1–5, pass or fail.
        value: String,
        /// Kind of work (classwork, homework, oral, quiz, test, …).
        #[arg(long, default_value = "classwork")]
        kind: String,
        /// A comment.
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Set a lesson's homework (LESSON TEXT), or list homework (no arguments).
    Homework {
        /// Lesson id, to set its homework.
        lesson: Option<String>,
        /// The homework.
        text: Option<String>,
        /// When it is due.
        #[arg(long)]
        due: Option<String>,
        /// Listing: first day (default today).
        #[arg(long)]
        from: Option<String>,
        /// Listing: last day (default a week on).
        #[arg(long)]
        to: Option<String>,
    },
    /// What is new since you last looked: marks, absences, homework, messages. Marks them seen.
    News {
        /// Show without marking them seen.
        #[arg(long)]
        keep: bool,
    },
    /// Cells two devices set differently.
    Conflicts,
    /// Marks, with each subject's average.
    Marks {
        /// Only this child (id or start of the name).
        #[arg(long)]
        child: Option<String>,
        /// First day.
        #[arg(long)]
        from: Option<String>,
        /// Last day.
        #[arg(long)]
        to: Option<String>,
        /// Only this subject.
        #[arg(long)]
        subject: Option<String>,
    },
    /// Conversations, or the messages of one (which marks it read).
    Messages {
        /// A conversation id (from the list).
        thread: Option<String>,
    },
    /// Write a message: TO is a conversation id (to answer), a contact (account id or the start of a
    /// name; see `journal contacts`), or for staff `guardians:STUDENT` / `student:STUDENT`.
    Send {
        /// Whom to write to.
        to: String,
        /// The message.
        text: String,
        /// Subject line of a new conversation (default: the start of the text).
        #[arg(long)]
        subject: Option<String>,
        /// Attach a small file (repeatable; 512 KiB in all).
        #[arg(long)]
        attach: Vec<PathBuf>,
    },
    /// People you may start a conversation with.
    Contacts,
    /// Class teacher: a message to every family of the class (or, with --students, every student).
    Announce {
        /// Class id.
        class: String,
        /// The message.
        text: String,
        /// Subject line.
        #[arg(long, default_value = "Объявление")]
        subject: String,
        /// To the students instead of their families.
        #[arg(long)]
        students: bool,
    },
    /// Class teacher: the week's marks, absences and notes to every family of the class.
    Digest {
        /// Class id.
        class: String,
        /// Any day of the week (default today).
        day: Option<String>,
    },
    /// Make a report from what this device holds, offline: class-journal, report-card, summary,
    /// term-report, control, progress, profile-review.
    Report {
        /// Which report.
        kind: String,
        /// Class id.
        #[arg(long)]
        class: Option<String>,
        /// Subject id (class journal).
        #[arg(long)]
        subject: Option<String>,
        /// Term id (t1, t2, …).
        #[arg(long)]
        term: Option<String>,
        /// Student id or the start of a name (report card; default: your only child).
        #[arg(long)]
        student: Option<String>,
        /// pdf, xlsx or csv.
        #[arg(long, default_value = "pdf")]
        format: String,
        /// Where to write it.
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Absences and lateness, with totals.
    Attendance {
        /// Only this child.
        #[arg(long)]
        child: Option<String>,
        /// First day.
        #[arg(long)]
        from: Option<String>,
        /// Last day.
        #[arg(long)]
        to: Option<String>,
    },
}

fn main() {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Err(e) = runtime.block_on(run(cli)) {
        eprintln!("journal: {e:#}");
        std::process::exit(1);
    }
}

/// Writes one line to standard output; see [`say!`].
fn write_line(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(line).and_then(|()| out.write_all(b"\n")) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("journal: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

fn today() -> Date {
    time::OffsetDateTime::now_utc().date()
}

fn date_arg(text: Option<&str>, default: Date) -> Result<Date> {
    match text {
        None | Some("today") => Ok(default),
        Some(text) => Ok(parse_date(text)?),
    }
}

/// The school year the journal holds (the newest).
fn year(journal: &Journal) -> Result<YearId> {
    journal
        .documents()
        .map(|d| d.id().year())
        .max()
        .context("this profile holds no journal yet: run `journal sync` while connected")
}

fn classes(journal: &Journal, year: YearId) -> Vec<ClassId> {
    journal
        .document_ids(year)
        .into_iter()
        .filter_map(|id| match id {
            DocId::Class(_, class) => Some(class),
            _ => None,
        })
        .collect()
}

/// Students whose documents this device holds, with their names from the rosters.
fn students(journal: &Journal, year: YearId) -> Vec<(StudentId, String)> {
    let mut names = std::collections::BTreeMap::new();
    for class in classes(journal, year) {
        if let Ok(roster) = journal.roster(year, &class, today()) {
            names.extend(roster);
        }
    }
    journal
        .document_ids(year)
        .into_iter()
        .filter_map(|id| match id {
            DocId::Student(_, student) => {
                let name = names
                    .get(&student)
                    .cloned()
                    .unwrap_or_else(|| student.to_string());
                Some((student, name))
            }
            _ => None,
        })
        .collect()
}

fn pick_students(
    journal: &Journal,
    year: YearId,
    filter: Option<&str>,
) -> Result<Vec<(StudentId, String)>> {
    let all = students(journal, year);
    let Some(filter) = filter else { return Ok(all) };
    let lower = filter.to_lowercase();
    let found: Vec<_> = all
        .into_iter()
        .filter(|(id, name)| id.as_str() == filter || name.to_lowercase().starts_with(&lower))
        .collect();
    if found.is_empty() {
        bail!(
            "no student here matches {filter:?}; `journal marks` lists the children this profile holds"
        );
    }
    Ok(found)
}

/// Prints rows as a table (`columns`: header and JSON field) or, with `--json`, as JSON: both come from
/// the same serialised rows, so they always agree.
fn emit<T: Serialize>(json: bool, rows: &[T], columns: &[(&str, &str)]) -> Result<()> {
    if json {
        say!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        say!("(nothing)");
        return Ok(());
    }
    let mut table = Table::new();
    table.set_content_arrangement(ContentArrangement::Dynamic);
    table.set_header(
        columns
            .iter()
            .map(|(header, _)| *header)
            .collect::<Vec<_>>(),
    );
    for row in rows {
        let value = serde_json::to_value(row)?;
        table.add_row(
            columns
                .iter()
                .map(|(_, field)| match &value[*field] {
                    serde_json::Value::String(text) => text.clone(),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>(),
        );
    }
    say!("{table}");
    Ok(())
}

/// A progress bar on a terminal, nothing otherwise.
struct Progress(indicatif::ProgressBar);

impl SyncListener for Progress {
    fn on_event(&self, event: &SyncEvent) {
        if let SyncEvent::Progress { done, total } = event {
            self.0.set_length(*total as u64);
            self.0.set_position(*done as u64);
        }
    }
}

async fn sync(journal: &mut Journal, sign_in: &SignIn, json: bool) -> Result<()> {
    let bar = if std::io::stderr().is_terminal() && !json {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let listener = Progress(bar.clone());
    // The feed before, so the summary can say what came in (the year may not be known before a first sync).
    let before: std::collections::HashSet<String> = news_rows(journal)
        .map(|rows| rows.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    let result = sync_now(journal, &sign_in.config(), &listener).await;
    bar.finish_and_clear();
    match result {
        Ok(report) => print_report(&report, journal, &before, json),
        Err(ClientError::Offline(_) | ClientError::Timeout) => {
            eprintln!("no connection: your edits are saved and will sync later");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Serialize)]
struct SyncSummary {
    documents: usize,
    sent: Vec<String>,
    received: Vec<String>,
    /// New items in the feed, by kind (mark, absence, homework, message).
    came_in: std::collections::BTreeMap<String, usize>,
    refused: Vec<String>,
    bytes_sent: usize,
    bytes_received: usize,
}

/// Documents in words: "class 5a, 25 students' records, 1 conversation".
fn describe_documents(ids: &[DocId]) -> String {
    let mut classes = Vec::new();
    let (mut school, mut students, mut profiles, mut threads) = (false, 0, 0, 0);
    for id in ids {
        match id {
            DocId::School(_) => school = true,
            DocId::Class(_, class) => classes.push(format!("class {class}")),
            DocId::Student(..) => students += 1,
            DocId::Profile(..) => profiles += 1,
            DocId::Thread(..) => threads += 1,
        }
    }
    let counted = |n: usize, one: &str, many: &str| match n {
        0 => None,
        1 => Some(format!("1 {one}")),
        n => Some(format!("{n} {many}")),
    };
    school
        .then(|| "the school's settings".to_owned())
        .into_iter()
        .chain(classes)
        .chain(counted(students, "student's record", "students' records"))
        .chain(counted(profiles, "profile", "profiles"))
        .chain(counted(threads, "conversation", "conversations"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_report(
    report: &SyncReport,
    journal: &Journal,
    feed_before: &std::collections::HashSet<String>,
    json: bool,
) -> Result<()> {
    let mut came_in = std::collections::BTreeMap::new();
    for row in news_rows(journal).unwrap_or_default() {
        if !feed_before.contains(&row.to_string()) {
            let kind = row["kind"].as_str().unwrap_or_default().to_owned();
            *came_in.entry(kind).or_insert(0) += 1;
        }
    }
    let summary = SyncSummary {
        documents: report.documents,
        sent: report.sent.iter().map(ToString::to_string).collect(),
        received: report.received.iter().map(ToString::to_string).collect(),
        came_in,
        refused: report.refused.iter().map(ToString::to_string).collect(),
        bytes_sent: report.bytes_sent,
        bytes_received: report.bytes_received,
    };
    if json {
        say!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    say!(
        "synced {} documents ({} bytes out, {} bytes in)",
        summary.documents,
        summary.bytes_sent,
        summary.bytes_received
    );
    if !report.sent.is_empty() {
        say!(
            "went out: your edits in {}",
            describe_documents(&report.sent)
        );
    }
    let plural = |kind: &str, n: usize| match (kind, n) {
        (kind, 1) => format!("1 {kind}"),
        ("absence", n) => format!("{n} absences"),
        ("homework", n) => format!("{n} homework"),
        (kind, n) => format!("{n} {kind}s"),
    };
    if summary.came_in.is_empty() {
        if report.received.is_empty() {
            say!("came in: nothing new");
        } else {
            say!(
                "came in: changes in {}",
                describe_documents(&report.received)
            );
        }
    } else {
        let items: Vec<String> = summary
            .came_in
            .iter()
            .map(|(kind, n)| plural(kind, *n))
            .collect();
        say!("came in: {} (see `journal news`)", items.join(", "));
    }
    for doc in &summary.refused {
        say!("the relay refused your edits in {doc}; they are kept in the refused list");
    }
    let refused = journal.refused_edits()?;
    if !refused.is_empty() && !summary.refused.is_empty() {
        say!("{} refused edit(s) kept on this device", refused.len());
    }
    Ok(())
}

/// What `watch` hears from the live session: refusals are printed at once; news wakes the command, which
/// reads the feed once the sync has let go of the journal.
struct Watcher {
    news: tokio::sync::Notify,
}

impl SyncListener for Watcher {
    fn on_event(&self, event: &SyncEvent) {
        match event {
            SyncEvent::Received { .. } | SyncEvent::NewsGrew { .. } => self.news.notify_one(),
            SyncEvent::Document {
                id,
                status: DocStatus::Refused(reason),
            } => {
                say!("refused: {id}: {reason}");
                let _ = std::io::stdout().flush();
            }
            _ => {}
        }
    }
}

/// The "what is new" feed as rows (kind, student or class, date, subject, text), with names for students.
fn news_rows(journal: &Journal) -> Result<Vec<serde_json::Value>> {
    let year = year(journal)?;
    let names: std::collections::BTreeMap<StudentId, String> =
        students(journal, year).into_iter().collect();
    let name = |id: &StudentId| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    Ok(journal
        .news()?
        .into_iter()
        .map(|item| match item {
            NewsItem::Mark { student, subject, date, value, previous } => serde_json::json!({
                "kind": "mark", "student": name(&student), "subject": subject.to_string(), "date": format_date(date),
                "text": match previous { Some(old) => format!("{old} → {value}"), None => value.to_string() },
            }),
            NewsItem::Absence { student, subject, date, code } => serde_json::json!({
                "kind": "absence", "student": name(&student), "subject": subject.to_string(), "date": format_date(date), "text": code,
            }),
            NewsItem::Homework { class, subject, date, text, .. } => serde_json::json!({
                "kind": "homework", "student": class.to_string(), "subject": subject.to_string(), "date": format_date(date), "text": text,
            }),
            NewsItem::Message { thread, author, text } => serde_json::json!({
                "kind": "message", "student": thread.to_string(), "subject": author, "date": "", "text": text,
            }),
        })
        .collect())
}

/// Prints the feed's items not printed before (one line each, or one JSON object a line) and remembers them.
fn print_new_items(
    journal: &Journal,
    printed: &mut std::collections::HashSet<String>,
    json: bool,
) -> Result<()> {
    for row in news_rows(journal)? {
        let key = row.to_string();
        if !printed.insert(key.clone()) {
            continue;
        }
        if json {
            say!("{key}");
        } else {
            let field = |name: &str| row[name].as_str().unwrap_or_default().to_owned();
            let date = field("date");
            say!(
                "new {}: {}{}, {}: {}",
                field("kind"),
                field("student"),
                if date.is_empty() {
                    String::new()
                } else {
                    format!(", {date}")
                },
                field("subject"),
                field("text")
            );
        }
    }
    std::io::stdout().flush()?;
    Ok(())
}

#[derive(Serialize)]
struct LessonRow {
    lesson: String,
    class: String,
    date: String,
    period: u8,
    subject: String,
    teacher: String,
    topic: String,
    homework: String,
}

#[derive(Serialize)]
struct HomeworkRow {
    lesson: String,
    class: String,
    date: String,
    subject: String,
    homework: String,
    due: String,
}

#[derive(Serialize)]
struct MarkRow {
    student: String,
    date: String,
    subject: String,
    mark: String,
    kind: String,
    comment: String,
}

#[derive(Serialize)]
struct Average {
    student: String,
    subject: String,
    average: String,
    marks: usize,
}

#[derive(Serialize)]
struct MarksOutput {
    marks: Vec<MarkRow>,
    averages: Vec<Average>,
}

#[derive(Serialize)]
struct AbsenceRow {
    student: String,
    date: String,
    period: u8,
    subject: String,
    code: String,
    note: String,
}

async fn run(cli: Cli) -> Result<()> {
    let profile = Profile::open(cli.home.as_deref(), &cli.profile)?;
    let json = cli.json;
    match cli.command {
        Command::Login {
            server,
            code,
            label,
            pin,
        } => {
            let existing = profile
                .sign_in()?
                .filter(|s| s.server.trim_end_matches('/') == server.trim_end_matches('/'));
            // Signing in again to the same relay keeps trusting the certificate it trusted.
            let pin = pin.or(existing.as_ref().and_then(|s| s.pin));
            let mut journal = profile.journal()?;
            let redeemed = redeem_code(
                &server,
                &code,
                &label,
                existing.as_ref().map(|s| s.token.as_str()),
                pin.as_ref(),
                Some(&mut journal),
            )
            .await?;
            let token = match (redeemed.token, existing) {
                (Some(token), _) => token,
                (None, Some(old)) => old.token,
                (None, None) => bail!("the relay sent no device token"),
            };
            let sign_in = SignIn {
                server: server.trim_end_matches('/').to_owned(),
                token,
                account: redeemed.account,
                role: redeemed.role,
                name: redeemed.name,
                pin,
            };
            profile.save_sign_in(&sign_in)?;
            say!(
                "signed in as {} ({}) on profile {:?}",
                sign_in.name,
                sign_in.role,
                cli.profile
            );
            sync(&mut journal, &sign_in, json).await
        }
        Command::Sync => {
            let sign_in = profile.require_sign_in()?;
            let mut journal = profile.journal()?;
            sync(&mut journal, &sign_in, json).await
        }
        Command::Watch { seconds } => {
            let sign_in = profile.require_sign_in()?;
            let journal = profile.journal()?;
            // What is already in the feed is for `news`; watch prints what arrives from now on.
            let mut printed = std::collections::HashSet::new();
            for row in news_rows(&journal)? {
                printed.insert(row.to_string());
            }
            let journal = Arc::new(tokio::sync::Mutex::new(journal));
            let watcher = Arc::new(Watcher {
                news: tokio::sync::Notify::new(),
            });
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let live = tokio::spawn(run_live(
                journal.clone(),
                sign_in.config(),
                watcher.clone(),
                stopped,
            ));
            let until = async {
                match seconds {
                    Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
                    None => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
            };
            tokio::pin!(until);
            loop {
                tokio::select! {
                    () = &mut until => break,
                    () = watcher.news.notified() => {
                        print_new_items(&*journal.lock().await, &mut printed, json)?;
                    }
                }
            }
            let _ = stop.send(true);
            live.await?;
            print_new_items(&*journal.lock().await, &mut printed, json)?;
            Ok(())
        }
        Command::Lessons { date } => {
            let journal = profile.journal()?;
            let year = year(&journal)?;
            let settings = journal
                .school_settings(year)
                .context("the school's settings have not synced yet")?;
            let all = journal.my_lessons(year, settings.year.range())?;
            let day = match date.as_deref() {
                Some(text) => date_arg(Some(text), today())?,
                // Without a date: today, or else the last school day before it.
                None => {
                    let now = today();
                    // Before the first lesson of the year (in August), the first school day instead.
                    let last = all.iter().map(|(_, l)| l.date).filter(|d| *d <= now).max();
                    let first = all.iter().map(|(_, l)| l.date).min();
                    match last.or(first) {
                        Some(day) if day != now => {
                            eprintln!("no lessons today; showing {}", format_date(day));
                            day
                        }
                        _ => now,
                    }
                }
            };
            let mut rows: Vec<LessonRow> = all
                .into_iter()
                .filter(|(_, lesson)| lesson.date == day)
                .map(|(class, lesson)| LessonRow {
                    lesson: lesson.id.to_string(),
                    class: class.to_string(),
                    date: format_date(lesson.date),
                    period: lesson.period,
                    subject: lesson.subject.to_string(),
                    teacher: lesson.teacher.to_string(),
                    topic: lesson.topic,
                    homework: lesson.homework,
                })
                .collect();
            rows.sort_by(|a, b| (a.period, &a.class).cmp(&(b.period, &b.class)));
            emit(
                json,
                &rows,
                &[
                    ("lesson", "lesson"),
                    ("class", "class"),
                    ("date", "date"),
                    ("period", "period"),
                    ("subject", "subject"),
                    ("topic", "topic"),
                    ("homework", "homework"),
                ],
            )
        }
        Command::Attend { lesson, absent } => {
            let mut journal = profile.journal()?;
            let lesson: LessonId = lesson.parse()?;
            let (year, class, found) = journal.lesson(&lesson)?;
            let date = found.date;
            let roster = journal.roster(year, &class, date)?;
            let entries: Vec<AttendanceInput> = match absent {
                Some(list) => {
                    let mut codes = std::collections::BTreeMap::new();
                    for item in list {
                        let (who, code) = item.split_once('=').with_context(|| {
                            format!("{item:?}: write STUDENT=CODE, e.g. s5a1=н")
                        })?;
                        codes.insert(who.trim().to_owned(), code.trim().to_owned());
                    }
                    for who in codes.keys() {
                        if !roster.iter().any(|(id, _)| id.as_str() == who) {
                            bail!("{who} is not in class {class} on {}", format_date(date));
                        }
                    }
                    roster
                        .iter()
                        .map(|(id, _)| AttendanceInput {
                            student: id.clone(),
                            code: codes.get(id.as_str()).cloned(),
                            note: String::new(),
                        })
                        .collect()
                }
                None => {
                    say!(
                        "{} {}: Enter for present, or a code (н, б, у, о)",
                        class,
                        format_date(date)
                    );
                    let stdin = std::io::stdin();
                    let mut lines = stdin.lock().lines();
                    let mut entries = Vec::new();
                    for (id, name) in &roster {
                        print!("{name} [present]: ");
                        std::io::stdout().flush()?;
                        let answer = lines.next().transpose()?.unwrap_or_default();
                        let answer = answer.trim();
                        entries.push(AttendanceInput {
                            student: id.clone(),
                            code: (!answer.is_empty()).then(|| answer.to_owned()),
                            note: String::new(),
                        });
                    }
                    entries
                }
            };
            journal.mark_attendance(&lesson, &entries)?;
            let missing = entries.iter().filter(|e| e.code.is_some()).count();
            say!(
                "attendance saved for {} students ({missing} absent or late); run `journal sync` to send it",
                entries.len()
            );
            Ok(())
        }
        Command::Mark {
            student,
            lesson,
            value,
            kind,
            comment,
        } => {
            let mut journal = profile.journal()?;
            let lesson: LessonId = lesson.parse()?;
            let (year, class, _) = journal.lesson(&lesson)?;
            let roster = journal.roster(year, &class, journal.lesson(&lesson)?.2.date)?;
            let lower = student.to_lowercase();
            let matches: Vec<_> = roster
                .iter()
                .filter(|(id, name)| {
                    id.as_str() == student || name.to_lowercase().starts_with(&lower)
                })
                .collect();
            let [(id, name)] = matches.as_slice() else {
                bail!(
                    "{student:?} matches {} students of {class}; use the student id",
                    matches.len()
                );
            };
            let input = MarkInput {
                value: value.parse::<MarkValue>()?,
                kind: WorkKindId::new(kind)?,
                comment,
            };
            journal.put_mark(id, &lesson, &input)?;
            say!(
                "mark {} saved for {name}; run `journal sync` to send it",
                input.value
            );
            Ok(())
        }
        Command::Homework {
            lesson,
            text,
            due,
            from,
            to,
        } => {
            let mut journal = profile.journal()?;
            if let Some(lesson) = lesson {
                let text = text.context("write the homework after the lesson id")?;
                let due = due.as_deref().map(parse_date).transpose()?;
                journal.set_homework(&lesson.parse()?, &text, due)?;
                say!("homework saved; run `journal sync` to send it");
                return Ok(());
            }
            let year = year(&journal)?;
            let from = date_arg(from.as_deref(), today())?;
            let to = date_arg(to.as_deref(), from + time::Duration::days(7))?;
            let mut rows = Vec::new();
            for class in classes(&journal, year) {
                for item in journal.class_homework(year, &class, DateRange::new(from, to)?)? {
                    rows.push(HomeworkRow {
                        lesson: item.lesson.to_string(),
                        class: class.to_string(),
                        date: format_date(item.date),
                        subject: item.subject.to_string(),
                        homework: item.text,
                        due: item.due.map(format_date).unwrap_or_default(),
                    });
                }
            }
            emit(
                json,
                &rows,
                &[
                    ("date", "date"),
                    ("class", "class"),
                    ("subject", "subject"),
                    ("homework", "homework"),
                    ("due", "due"),
                ],
            )
        }
        Command::News { keep } => {
            let mut journal = profile.journal()?;
            let rows = news_rows(&journal)?;
            emit(
                json,
                &rows,
                &[
                    ("what", "kind"),
                    ("who / class", "student"),
                    ("date", "date"),
                    ("subject", "subject"),
                    ("news", "text"),
                ],
            )?;
            if !keep {
                journal.mark_news_seen()?;
            }
            Ok(())
        }
        Command::Messages { thread } => {
            let mut journal = profile.journal()?;
            messages::list(&mut journal, thread.as_deref(), json)
        }
        Command::Send {
            to,
            text,
            subject,
            attach,
        } => {
            let mut journal = profile.journal()?;
            messages::send(&mut journal, &to, &text, subject.as_deref(), &attach)
        }
        Command::Contacts => messages::contacts(&profile.journal()?, json),
        Command::Announce {
            class,
            text,
            subject,
            students,
        } => {
            let mut journal = profile.journal()?;
            messages::announce(&mut journal, &class, &text, &subject, students)
        }
        Command::Digest { class, day } => {
            let mut journal = profile.journal()?;
            messages::digest(&mut journal, &class, day.as_deref())
        }
        Command::Report {
            kind,
            class,
            subject,
            term,
            student,
            format,
            out,
        } => {
            // Families print their child's report card; the journal's other reports are the staff's.
            if let Some(sign_in) = profile.sign_in()?
                && sign_in.role.is_family()
                && kind != "report-card"
            {
                bail!(
                    "a {} may print the report card only; {kind} is for the school's staff",
                    sign_in.role
                );
            }
            let journal = profile.journal()?;
            let year = year(&journal)?;
            let student = match student {
                Some(filter) => {
                    let found = pick_students(&journal, year, Some(&filter))?;
                    Some(found[0].0.clone())
                }
                None if kind == "report-card" => {
                    let all = students(&journal, year);
                    match all.as_slice() {
                        [(only, _)] => Some(only.clone()),
                        _ => bail!(
                            "the report card needs --student (one of the children this profile holds)"
                        ),
                    }
                }
                None => None,
            };
            let request = journal_core::reports::ReportRequest {
                class: class.map(|c| c.parse()).transpose()?,
                subject: subject.map(|s| s.parse()).transpose()?,
                term: term.map(|t| t.parse()).transpose()?,
                student,
            };
            let doc = journal.report(year, kind.parse()?, &request, today())?;
            let bytes = match format.as_str() {
                "pdf" => journal_core::reports::pdf::report_pdf(&doc)?,
                "xlsx" => journal_core::reports::export::report_xlsx(&doc)?,
                "csv" => journal_core::reports::export::report_csv(&doc)?,
                other => bail!("format {other:?} is not one of pdf, xlsx, csv"),
            };
            std::fs::write(&out, &bytes)
                .with_context(|| format!("cannot write {}", out.display()))?;
            say!("{}: {} ({} bytes)", doc.title, out.display(), bytes.len());
            Ok(())
        }
        Command::Conflicts => {
            let journal = profile.journal()?;
            let conflicts: Vec<serde_json::Value> = journal
                .conflicts()
                .into_iter()
                .map(|c| serde_json::json!({ "where": c.target.to_string(), "values": c.values }))
                .collect();
            emit(
                json,
                &conflicts,
                &[
                    ("where", "where"),
                    ("values (first is shown everywhere)", "values"),
                ],
            )
        }
        Command::Marks {
            child,
            from,
            to,
            subject,
        } => {
            let journal = profile.journal()?;
            let year = year(&journal)?;
            let settings = journal
                .school_settings(year)
                .context("the school's settings have not synced yet")?
                .clone();
            let period = match (from, to) {
                (None, None) => None,
                (from, to) => Some(DateRange::new(
                    date_arg(from.as_deref(), settings.year.start)?,
                    date_arg(to.as_deref(), settings.year.end)?,
                )?),
            };
            let subject = subject.map(|s| s.parse()).transpose()?;
            let mut output = MarksOutput {
                marks: Vec::new(),
                averages: Vec::new(),
            };
            for (student, name) in pick_students(&journal, year, child.as_deref())? {
                let rows = journal.student_marks(year, &student, period, subject.as_ref())?;
                let mut by_subject: std::collections::BTreeMap<
                    String,
                    Vec<(MarkValue, WorkKindId)>,
                > = Default::default();
                for row in rows {
                    by_subject
                        .entry(row.mark.subject.to_string())
                        .or_default()
                        .push((row.mark.value, row.mark.kind.clone()));
                    output.marks.push(MarkRow {
                        student: name.clone(),
                        date: format_date(row.mark.date),
                        subject: row.mark.subject.to_string(),
                        mark: row.mark.value.to_string(),
                        kind: row.mark.kind.to_string(),
                        comment: row.mark.comment,
                    });
                }
                for (subject, marks) in by_subject {
                    let average = settings
                        .policy
                        .weighted_average(marks.iter().map(|(v, k)| (*v, k)));
                    output.averages.push(Average {
                        student: name.clone(),
                        subject,
                        average: average
                            .map(|a| format!("{}.{:02}", a / 100, a % 100))
                            .unwrap_or_else(|| "—".into()),
                        marks: marks.len(),
                    });
                }
            }
            if json {
                say!("{}", serde_json::to_string_pretty(&output)?);
                return Ok(());
            }
            emit(
                false,
                &output.marks,
                &[
                    ("student", "student"),
                    ("date", "date"),
                    ("subject", "subject"),
                    ("mark", "mark"),
                    ("kind", "kind"),
                    ("comment", "comment"),
                ],
            )?;
            emit(
                false,
                &output.averages,
                &[
                    ("student", "student"),
                    ("subject", "subject"),
                    ("average", "average"),
                    ("marks", "marks"),
                ],
            )
        }
        Command::Attendance { child, from, to } => {
            let journal = profile.journal()?;
            let year = year(&journal)?;
            let settings = journal
                .school_settings(year)
                .context("the school's settings have not synced yet")?
                .clone();
            let range = DateRange::new(
                date_arg(from.as_deref(), settings.year.start)?,
                date_arg(to.as_deref(), settings.year.end)?,
            )?;
            let mut rows = Vec::new();
            for (student, name) in pick_students(&journal, year, child.as_deref())? {
                for absence in journal.student_absences(year, &student, range)? {
                    rows.push(AbsenceRow {
                        student: name.clone(),
                        date: format_date(absence.date),
                        period: absence.period,
                        subject: absence.subject.to_string(),
                        code: absence.code,
                        note: absence.note,
                    });
                }
            }
            emit(
                json,
                &rows,
                &[
                    ("student", "student"),
                    ("date", "date"),
                    ("period", "period"),
                    ("subject", "subject"),
                    ("code", "code"),
                    ("note", "note"),
                ],
            )?;
            if !json {
                for line in absence_totals(&rows) {
                    say!("{line}");
                }
            }
            Ok(())
        }
    }
}

/// One line per student: how many lessons missed or late in all, and how many under each code.
fn absence_totals(rows: &[AbsenceRow]) -> Vec<String> {
    let mut totals: std::collections::BTreeMap<&str, std::collections::BTreeMap<&str, usize>> =
        std::collections::BTreeMap::new();
    for row in rows {
        *totals
            .entry(&row.student)
            .or_default()
            .entry(&row.code)
            .or_default() += 1;
    }
    totals
        .into_iter()
        .map(|(student, codes)| {
            let all: usize = codes.values().sum();
            let by_code: Vec<String> = codes
                .iter()
                .map(|(code, n)| format!("{code} {n}"))
                .collect();
            format!("total for {student}: {all} ({})", by_code.join(", "))
        })
        .collect()
}
