//! The edits the relay refused: seeing them, sending them again, or letting them go.

use anyhow::Result;
use journal_core::Journal;
use serde::Serialize;

use crate::output::emit;

#[derive(Serialize)]
struct RefusedRow {
    number: i64,
    refused: String,
    document: String,
    reason: String,
    edits: String,
}

/// What to do with the refused edits.
pub enum Action {
    /// List them.
    List,
    /// Put one back to go out at the next sync.
    Retry(i64),
    /// Let one go.
    Discard(i64),
}

/// Lists the refused edits, or retries or discards one.
pub fn refused(journal: &mut Journal, action: Action, json: bool) -> Result<()> {
    match action {
        Action::List => {
            let rows: Vec<RefusedRow> = journal
                .refused_edits()?
                .into_iter()
                .map(|r| RefusedRow {
                    number: r.id,
                    refused: time::OffsetDateTime::from_unix_timestamp(r.refused_at)
                        .map(|t| journal_core::format_date(t.date()))
                        .unwrap_or_default(),
                    document: r.document,
                    reason: r.reason,
                    edits: r.edits.join("; "),
                })
                .collect();
            emit(
                json,
                &rows,
                &[
                    ("№", "number"),
                    ("refused", "refused"),
                    ("document", "document"),
                    ("why", "reason"),
                    ("edits", "edits"),
                ],
            )
        }
        Action::Retry(number) => {
            let document = journal.retry_refused_edit(number)?;
            say!(
                "refused edits №{number} are back in {document}; run `journal sync` to send them again"
            );
            Ok(())
        }
        Action::Discard(number) => {
            journal.discard_refused_edit(number)?;
            say!("refused edits №{number} are discarded");
            Ok(())
        }
    }
}
