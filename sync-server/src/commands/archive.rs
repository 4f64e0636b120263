//! `journal-relay archive`: the school's years from the command line: the year-end freeze with its
//! signed bundle, the rollover into the next year, and checking a bundle.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use journal_core::{DocId, YearId};
use journal_relay::archive;
use journal_relay::read_model::{ReadModel, Scope};
use journal_relay::services::{Services, command_line};

#[derive(Subcommand)]
pub enum ArchiveAction {
    /// Freeze a school year (its documents become read-only) and write its archive bundle.
    Freeze {
        /// The school year, e.g. 2026-2027.
        #[arg(long)]
        year: String,
        /// An empty folder for the bundle (default: archive-YEAR in the data directory).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Do it without asking (for scripts).
        #[arg(long)]
        yes: bool,
        /// Freeze a year whose last school day has not come yet.
        #[arg(long)]
        force: bool,
    },
    /// Open the next school year: classes promoted with their students, staff and guardians.
    Rollover {
        /// The year that ends, e.g. 2026-2027.
        #[arg(long)]
        from: String,
        /// Do it without asking (for scripts).
        #[arg(long)]
        yes: bool,
    },
    /// Check a bundle's signature, hashes and documents.
    Verify {
        /// The bundle folder.
        bundle: PathBuf,
    },
}

/// Runs one archive command on the relay whose data directory is `data_dir`.
pub fn run(services: &Services, data_dir: &Path, action: ArchiveAction) -> Result<()> {
    let cli = command_line();
    match action {
        ArchiveAction::Freeze {
            year,
            out,
            yes,
            force,
        } => {
            let year: YearId = year.parse()?;
            let out = out.unwrap_or_else(|| archive::default_folder(data_dir, year));
            let outline = outline(services, year)?;
            if services.store().is_frozen(year)? {
                bail!("{year} is already frozen");
            }
            let today = services.school_today()?;
            if let Some(last) = outline.last_day
                && today <= last
                && !force
            {
                bail!(
                    "{year} runs until {last}: its lessons, marks and attendance would be closed before the year ends. \
                     To freeze it all the same, add --force"
                );
            }
            println!(
                "Freezing {year} makes its {} documents ({}) read-only for everyone, for good, and writes \
                 the signed archive to {}.",
                outline.documents,
                outline.classes,
                out.display()
            );
            confirm(yes, &year.to_string())?;
            let spinner = super::spinner(format!("archiving {year}"));
            let manifest = services.freeze_year(&cli, year, data_dir, &out)?;
            spinner.finish_and_clear();
            println!(
                "{year} is frozen; {} files written to {}, signed by {}",
                manifest.files.len(),
                out.display(),
                manifest.public_key
            );
        }
        ArchiveAction::Rollover { from, yes } => {
            let from: YearId = from.parse()?;
            let outline = outline(services, from)?;
            println!(
                "Opening {} from {from}: its classes ({}) move up a grade with their students, staff and \
                 guardians, and the last grade graduates. {from} itself stays as it is.",
                YearId(from.0 + 1),
                outline.classes
            );
            confirm(yes, &YearId(from.0 + 1).to_string())?;
            let promotion = services.roll_over(&cli, from)?;
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
            let ours = archive::public_key(data_dir)?;
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

/// What a year holds, for the IT officer to see before changing it.
struct Outline {
    /// Documents of the year on this relay.
    documents: usize,
    /// Its classes, as the school writes them.
    classes: String,
    /// Its last school day, as the school's calendar says.
    last_day: Option<time::Date>,
}

fn outline(services: &Services, year: YearId) -> Result<Outline> {
    let store = services.store();
    let documents = store
        .document_heads()?
        .iter()
        .filter(|(id, _)| id.parse::<DocId>().is_ok_and(|d| d.year() == year))
        .count();
    if documents == 0 {
        bail!("this relay holds nothing of {year}");
    }
    let (classes, last_day) = ReadModel::default()
        .read(
            store,
            year,
            |_| Scope::Classes,
            |journal| {
                let mut names: Vec<String> = journal
                    .documents()
                    .filter_map(|doc| match doc.id() {
                        DocId::Class(y, class) if *y == year => {
                            Some(journal.class_name(year, class))
                        }
                        _ => None,
                    })
                    .collect();
                names.sort();
                Ok((
                    names.join(", "),
                    journal.school_settings(year).map(|s| s.year.end),
                ))
            },
        )
        .context("cannot read the year's calendar")?;
    Ok(Outline {
        documents,
        classes,
        last_day,
    })
}

/// Asks the person at the terminal to type `expected` (the year) to go on; `yes` says it for a script.
fn confirm(yes: bool, expected: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        bail!("nothing was changed: confirm with --yes when running from a script");
    }
    print!("Type {expected} to go on: ");
    std::io::Write::flush(&mut std::io::stdout())?;
    let mut typed = String::new();
    std::io::stdin().read_line(&mut typed)?;
    if typed.trim() != expected {
        bail!("nothing was changed: {expected:?} was not typed");
    }
    Ok(())
}
