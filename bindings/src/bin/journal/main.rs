//! `journal`: the school journal on the command line. A newcomer's demo and the IT officer's tool: it holds
//! one local journal per profile, works offline, and syncs with the relay when it can.

/// Prints a line on standard output. A reader that went away (`journal lessons | head -5`) ends the
/// program quietly, as it does any Unix tool, instead of a panic.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::write_line(format_args!($($arg)*))
    };
}

mod commands;
mod exit;
mod output;
mod profile;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use commands::{lessons, messages, records, refused, reports, school, sync};
use exit::{EXIT_STATUSES, Exit};
use profile::Profile;

#[derive(Parser)]
#[command(
    name = "journal",
    version,
    about = "The school journal on the command line; works offline",
    after_help = EXIT_STATUSES
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
        /// Sign this profile in as the code's account even when it is signed in as another: its journal
        /// is set aside (not deleted) and a fresh one is fetched.
        #[arg(long)]
        replace: bool,
    },
    /// Send your edits and fetch what is new (the exit status tells a refused or unreached sync).
    #[command(after_help = EXIT_STATUSES)]
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
    /// Take attendance for a lesson: one line per student, Enter for present, or a code in either case
    /// or keyboard layout; a wrong code is asked again.
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
        /// Kind of work, by its id or its name (classwork, oral, «устный ответ», «контрольная работа», …).
        #[arg(long, default_value = "classwork")]
        kind: String,
        /// A comment.
        #[arg(long, default_value = "")]
        comment: String,
        /// Why the mark changes, as a correction: the administration changes a lesson past the school's
        /// edit-lock window only with one.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Correct one student's attendance at a lesson, with the reason (a sick note, a parent's note).
    Correct {
        /// Lesson id.
        lesson: String,
        /// Student id or the start of their name.
        student: String,
        /// The school's code (н, б, у, о…), or `present`.
        code: String,
        /// Why: the audit trail keeps it with who corrected it and when.
        #[arg(long)]
        reason: String,
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
    /// Set a lesson's topic (the control report counts lessons without one).
    Topic {
        /// Lesson id (from `journal lessons`).
        lesson: String,
        /// The topic.
        text: String,
    },
    /// Show a subject's thematic plan for a term, or set it with --topic (repeated, in order).
    Plan {
        /// Class id.
        #[arg(long)]
        class: String,
        /// Subject id.
        #[arg(long)]
        subject: String,
        /// Term id (t1, t2, …).
        #[arg(long)]
        term: String,
        /// A topic and its lessons, TOPIC=LESSONS, e.g. "Имя существительное=6"; repeat for each topic.
        #[arg(long = "topic")]
        topics: Vec<String>,
    },
    /// Edits the relay refused: list them, or --retry / --discard one by its number.
    Refused {
        /// Put these edits back to go out at the next sync (after the school changed what refused them).
        #[arg(long, conflicts_with = "discard")]
        retry: Option<i64>,
        /// Let these edits go.
        #[arg(long)]
        discard: Option<i64>,
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
        /// Term id (t1, t2, …): needed by class-journal, term-report, control and progress; the summary
        /// covers the whole year without it.
        #[arg(long)]
        term: Option<String>,
        /// Student id or the start of a name (report card; default: your only child).
        #[arg(long)]
        student: Option<String>,
        /// pdf, xlsx or csv.
        #[arg(long, default_value = "pdf")]
        format: String,
        /// Only this table of the report (from 1); a CSV holds one table, the first unless this says.
        #[arg(long)]
        table: Option<usize>,
        /// Where to write it.
        #[arg(short, long)]
        out: PathBuf,
    },
    /// The classes this profile holds, with what to type for each (`5А`, `5а` and `5a` all do).
    Classes,
    /// The school's subjects, with what to type for each (the name or the id).
    Subjects,
    /// The students of a class today, or every student this profile holds.
    Students {
        /// Class, as its name or id (`5А`).
        class: Option<String>,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("journal: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<Exit> {
    let profile = Profile::open(cli.home.as_deref(), &cli.profile)?;
    let json = cli.json;
    match cli.command {
        Command::Login {
            server,
            code,
            label,
            pin,
            replace,
        } => {
            let login = sync::Login {
                server,
                code,
                label,
                pin,
                replace,
            };
            return sync::login(&profile, &cli.profile, login, json).await;
        }
        Command::Sync => {
            let sign_in = profile.require_sign_in()?;
            return sync::sync(&mut profile.journal()?, &sign_in, json).await;
        }
        Command::Watch { seconds } => return sync::watch(&profile, seconds, json).await,
        Command::Lessons { date } => lessons::lessons(&profile.journal()?, date.as_deref(), json)?,
        Command::Attend { lesson, absent } => {
            lessons::attend(&mut profile.journal()?, &lesson, absent)?;
        }
        Command::Mark {
            student,
            lesson,
            value,
            kind,
            comment,
            reason,
        } => {
            let args = lessons::MarkArgs {
                student,
                lesson,
                value,
                kind,
                comment,
                reason,
            };
            lessons::mark(&mut profile.journal()?, args)?;
        }
        Command::Correct {
            lesson,
            student,
            code,
            reason,
        } => lessons::correct(&mut profile.journal()?, &lesson, &student, &code, &reason)?,
        Command::Topic { lesson, text } => lessons::topic(&mut profile.journal()?, &lesson, &text)?,
        Command::Plan {
            class,
            subject,
            term,
            topics,
        } => {
            let args = lessons::PlanArgs {
                class,
                subject,
                term,
                topics,
            };
            lessons::plan(&mut profile.journal()?, args, json)?;
        }
        Command::Homework {
            lesson,
            text,
            due,
            from,
            to,
        } => {
            let args = lessons::HomeworkArgs {
                lesson,
                text,
                due,
                from,
                to,
            };
            lessons::homework(&mut profile.journal()?, args, json)?;
        }
        Command::Refused { retry, discard } => {
            let action = match (retry, discard) {
                (Some(number), _) => refused::Action::Retry(number),
                (None, Some(number)) => refused::Action::Discard(number),
                (None, None) => refused::Action::List,
            };
            refused::refused(&mut profile.journal()?, action, json)?;
        }
        Command::News { keep } => records::news(&mut profile.journal()?, keep, json)?,
        Command::Conflicts => records::conflicts(&profile.journal()?, json)?,
        Command::Marks {
            child,
            from,
            to,
            subject,
        } => {
            let filter = records::Filter { child, from, to };
            records::marks(&profile.journal()?, filter, subject, json)?;
        }
        Command::Classes => school::classes(&profile.journal()?, json)?,
        Command::Subjects => school::subjects(&profile.journal()?, json)?,
        Command::Students { class } => {
            school::students(&profile.journal()?, class.as_deref(), json)?;
        }
        Command::Attendance { child, from, to } => {
            let filter = records::Filter { child, from, to };
            records::attendance(&profile.journal()?, filter, json)?;
        }
        Command::Messages { thread } => {
            messages::list(&mut profile.journal()?, thread.as_deref(), json)?;
        }
        Command::Send {
            to,
            text,
            subject,
            attach,
        } => messages::send(
            &mut profile.journal()?,
            &to,
            &text,
            subject.as_deref(),
            &attach,
        )?,
        Command::Contacts => messages::contacts(&profile.journal()?, json)?,
        Command::Announce {
            class,
            text,
            subject,
            students,
        } => messages::announce(&mut profile.journal()?, &class, &text, &subject, students)?,
        Command::Digest { class, day } => {
            messages::digest(&mut profile.journal()?, &class, day.as_deref())?;
        }
        Command::Report {
            kind,
            class,
            subject,
            term,
            student,
            format,
            table,
            out,
        } => {
            let args = reports::ReportArgs {
                kind,
                class,
                subject,
                term,
                student,
                format,
                table,
                out,
            };
            reports::report(&profile.journal()?, args)?;
        }
    }
    Ok(Exit::Done)
}
