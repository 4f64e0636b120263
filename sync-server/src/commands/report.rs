//! `journal-relay report`: the school's reports and access-code slips, from the relay's data.

use std::path::PathBuf;

use anyhow::{Context, Result};
use journal_relay::clock::{Clock, SystemClock};

use super::store::{DataDir, Opened, open_store};

/// Which report, of what, and where it goes.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// The report, or `slips`.
    pub kind: String,
    /// Class id.
    #[arg(long)]
    pub class: Option<String>,
    /// Subject id (class journal).
    #[arg(long)]
    pub subject: Option<String>,
    /// Term id (t1, t2, …); the summary sheet covers the year without it.
    #[arg(long)]
    pub term: Option<String>,
    /// Student id (report card).
    #[arg(long)]
    pub student: Option<String>,
    /// School year, e.g. 2026 for 2026-2027 (default: the newest).
    #[arg(long)]
    pub year: Option<u16>,
    /// Activity report: the month, YYYY-MM (default: this month).
    #[arg(long)]
    pub month: Option<String>,
    /// pdf, xlsx or csv (slips: pdf only).
    #[arg(long, default_value = "pdf")]
    pub format: String,
    /// Slips: days the codes stay valid.
    #[arg(long, default_value_t = journal_relay::services::codes::DEFAULT_VALID_DAYS)]
    pub valid_days: u32,
    /// Only this table of the report (from 1); a CSV holds one table, the first unless this says.
    #[arg(long)]
    pub table: Option<usize>,
    /// Where to write the file.
    #[arg(short, long)]
    pub out: PathBuf,
}

/// Makes a report, or a sheet of access-code slips, from the relay's data.
pub fn run(data: &DataDir, args: ReportArgs) -> Result<()> {
    let ReportArgs {
        kind,
        class,
        subject,
        term,
        student,
        year,
        month,
        format,
        valid_days,
        table,
        out,
    } = args;
    let Opened { store, key, .. } = open_store(data)?;
    let store = store.as_ref();
    let year = year.map(journal_core::YearId);
    let class: Option<journal_core::ClassId> = class.map(|c| c.parse()).transpose()?;
    let (bytes, what) = if kind == "slips" {
        let class = class.context("slips need --class")?;
        let request = journal_relay::reports::SlipRequest {
            year,
            class: class.clone(),
            valid_days,
            certificate: journal_relay::tls::self_signed_fingerprint(&data.data_dir),
        };
        let (bytes, count) = journal_relay::reports::access_slips(
            store,
            &journal_relay::read_model::ReadModel::default(),
            &key,
            &journal_relay::services::command_line(),
            &request,
            &SystemClock,
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
        let model = journal_relay::read_model::ReadModel::default();
        let doc = journal_relay::reports::build(store, &model, kind, &query, SystemClock.now())?;
        let doc = match table {
            Some(number) => doc.with_table(number)?,
            None => {
                if format == journal_relay::reports::ReportFormat::Csv
                    && let Some(note) = doc.one_table_note()
                {
                    eprintln!("{note}");
                }
                doc
            }
        };
        (
            journal_relay::reports::render(&doc, format)?,
            doc.title.clone(),
        )
    };
    std::fs::write(&out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
    println!("{what}: {} ({} bytes)", out.display(), bytes.len());
    Ok(())
}
