//! `journal-relay consent` and `journal-relay profile-log`: the register of guardians' consent to the
//! processing of personal data (152-FZ), and a student's profile edit log, beside a running relay.

use anyhow::{Context, Result};
use journal_core::{StudentId, YearId};
use journal_relay::services::consent::ConsentForm;
use journal_relay::services::{Services, command_line};

use super::local_time;

/// A consent form's details.
#[derive(clap::Args, Debug)]
pub struct FormArgs {
    /// The student's id.
    #[arg(long)]
    student: String,
    /// The guardian's account id.
    #[arg(long)]
    guardian: String,
    /// The date on the signed form, YYYY-MM-DD.
    #[arg(long)]
    date: String,
    /// The version of the consent text on the form.
    #[arg(long)]
    text_version: String,
}

/// What `consent` does.
#[derive(clap::Subcommand, Debug)]
pub enum ConsentAction {
    /// Record a guardian's signed consent: the class teacher then receives the student's profile.
    Give(FormArgs),
    /// Record a guardian's withdrawal of consent: without another guardian's, the class teacher's
    /// devices let go of the profile.
    Withdraw(FormArgs),
    /// Show a student's entries in the register, oldest first.
    List {
        /// The student's id.
        #[arg(long)]
        student: String,
    },
}

fn student(text: &str) -> Result<StudentId> {
    text.parse()
        .with_context(|| format!("{text:?} is not a student id"))
}

fn guardian_name(services: &Services, account: &str) -> Result<String> {
    Ok(services
        .store()
        .account(account)?
        .map_or_else(|| account.to_owned(), |a| format!("{} ({account})", a.name)))
}

/// Records or shows consent.
pub fn run(services: &Services, action: ConsentAction) -> Result<()> {
    let (form, given) = match action {
        ConsentAction::Give(form) => (form, true),
        ConsentAction::Withdraw(form) => (form, false),
        ConsentAction::List { student: id } => {
            let entries = services.consent_register(&command_line(), &student(&id)?)?;
            if entries.is_empty() {
                println!("no consent on record for {id}");
            }
            for entry in entries {
                println!(
                    "{}\t{}\t{}\ttext {}\trecorded by {} at {}",
                    entry.signed_on,
                    if entry.given { "given" } else { "withdrawn" },
                    guardian_name(services, &entry.guardian)?,
                    entry.text_version,
                    entry.recorded_by,
                    local_time(entry.recorded_at)
                );
            }
            return Ok(());
        }
    };
    let record = services.record_consent(
        &command_line(),
        &ConsentForm {
            student: student(&form.student)?,
            guardian: form.guardian,
            given,
            signed_on: journal_core::parse_date(&form.date).context("--date is YYYY-MM-DD")?,
            text_version: form.text_version,
        },
    )?;
    println!(
        "consent {} by {} for {}, form of {}, text {}",
        if given { "given" } else { "withdrawn" },
        guardian_name(services, &record.guardian)?,
        record.student,
        record.signed_on,
        record.text_version
    );
    Ok(())
}

/// Which profile's edit log.
#[derive(clap::Args, Debug)]
pub struct ProfileLogArgs {
    /// The student's id.
    #[arg(long)]
    student: String,
    /// School year, e.g. 2026 for 2026-2027 (default: the newest).
    #[arg(long)]
    year: Option<u16>,
}

/// Prints every edit of a student's profile, old → new, with who and when.
pub fn profile_log(services: &Services, args: &ProfileLogArgs) -> Result<()> {
    let year = match args.year {
        Some(year) => YearId(year),
        None => journal_relay::reports::newest_year(services.store())?,
    };
    let edits = services.profile_edits(&command_line(), year, &student(&args.student)?)?;
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".to_owned());
    for edit in edits {
        println!(
            "{}\t{} (device {})\t{}: {} → {}",
            local_time(edit.at),
            edit.account,
            edit.device,
            edit.field,
            shown(&edit.old),
            shown(&edit.new)
        );
    }
    Ok(())
}
