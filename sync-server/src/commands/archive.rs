//! `journal-relay archive`: the school's years from the command line: the year-end freeze with its
//! signed bundle, the rollover into the next year, and checking a bundle.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Subcommand;
use journal_relay::archive;
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

/// Runs one archive command on the relay whose data directory is `data_dir`.
pub fn run(services: &Services, data_dir: &Path, action: ArchiveAction) -> Result<()> {
    let cli = command_line();
    match action {
        ArchiveAction::Freeze { year, out } => {
            let year: journal_core::YearId = year.parse()?;
            let out = out.unwrap_or_else(|| archive::default_folder(data_dir, year));
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
        ArchiveAction::Rollover { from } => {
            let from: journal_core::YearId = from.parse()?;
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
