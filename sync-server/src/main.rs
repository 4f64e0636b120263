//! `journal-relay`: run the relay, or provision its directory from the command line.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use journal_relay::data_dir;

mod commands;
use commands::archive::ArchiveAction;
use commands::backup::{BackupAction, RestoreArgs};
use commands::directory::DirectoryAction;
use commands::report::ReportArgs;
use commands::serve::ServeArgs;
use commands::store::{DataDir, open_services};

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
        #[command(flatten)]
        args: ServeArgs,
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
    Restore(RestoreArgs),
    /// Make a report (class-journal, report-card, summary, term-report, control, progress,
    /// profile-review, activity, no-consent) or a sheet of access-code slips for a class (slips).
    Report {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        args: ReportArgs,
    },
    /// Show the school's marking policy and time zone, or set its edit-lock window or time zone.
    Policy {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        args: commands::policy::PolicyArgs,
    },
    /// The register of guardians' consent to processing their children's personal data (152-FZ).
    Consent {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        action: commands::consent::ConsentAction,
    },
    /// A student's profile edit log: every field old → new, with who and when.
    ProfileLog {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        args: commands::consent::ProfileLogArgs,
    },
    /// Provision the directory (accounts, classes, guardians, devices).
    Directory {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        action: DirectoryAction,
    },
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
        Command::Serve { data, args } => commands::serve::run(&data, args),
        Command::Backup {
            data,
            backups,
            action,
        } => {
            let backups = backups.unwrap_or_else(|| data.data_dir.join("backups"));
            commands::backup::run(&data, &backups, action)
        }
        Command::Archive { data, action } => {
            let services = open_services(&data)?;
            commands::archive::run(&services, &data.data_dir, action)
        }
        Command::Restore(args) => commands::backup::restore(args),
        Command::Directory { data, action } => {
            commands::directory::run(&open_services(&data)?, action)
        }
        Command::Policy { data, args } => commands::policy::run(&open_services(&data)?, &args),
        Command::Consent { data, action } => commands::consent::run(&open_services(&data)?, action),
        Command::ProfileLog { data, args } => {
            commands::consent::profile_log(&open_services(&data)?, &args)
        }
        Command::Report { data, args } => commands::report::run(&data, args),
    }
}
