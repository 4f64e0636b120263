//! How the command line prints: lines that end quietly when the reader goes away, and tables that hold
//! the same rows as `--json`.

use std::io::Write;

use anyhow::Result;
use comfy_table::{ContentArrangement, Table};
use journal_core::parse_date;
use serde::Serialize;
use time::Date;

/// Writes one line to standard output; see [`say!`](crate::say).
pub fn write_line(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(line).and_then(|()| out.write_all(b"\n")) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("journal: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// A date typed on the command line, `today`, or `default` when none was.
pub fn date_arg(text: Option<&str>, default: Date) -> Result<Date> {
    match text {
        None | Some("today") => Ok(default),
        Some(text) => Ok(parse_date(text)?),
    }
}

/// Prints rows as a table (`columns`: header and JSON field) or, with `--json`, as JSON: both come from
/// the same serialised rows, so they always agree.
pub fn emit<T: Serialize>(json: bool, rows: &[T], columns: &[(&str, &str)]) -> Result<()> {
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
