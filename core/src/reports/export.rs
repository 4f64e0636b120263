//! Every tabular report as XLSX (one sheet per section, figures as numbers) and as CSV (the sections one
//! after another, each under its heading).

use rust_xlsxwriter::{Format, Workbook};

use super::pdf::PrintError;
use super::{ReportDoc, Value};

/// Excel limits a sheet name to 31 characters and forbids a few.
fn sheet_name(heading: &str, index: usize) -> String {
    let cleaned: String = heading
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .take(28)
        .collect();
    if cleaned.trim().is_empty() {
        format!("Лист {}", index + 1)
    } else {
        cleaned
    }
}

/// The report as an XLSX workbook.
pub fn report_xlsx(doc: &ReportDoc) -> Result<Vec<u8>, PrintError> {
    let bad = |e: rust_xlsxwriter::XlsxError| PrintError::Xlsx(e.to_string());
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    for (index, section) in doc.sections.iter().enumerate() {
        let sheet = workbook.add_worksheet();
        sheet
            .set_name(sheet_name(&section.heading, index))
            .map_err(bad)?;
        for (c, column) in section.table.columns.iter().enumerate() {
            sheet
                .write_string_with_format(0, c as u16, column, &bold)
                .map_err(bad)?;
        }
        for (r, row) in section.table.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, value) in row.iter().enumerate() {
                let c = c as u16;
                match value {
                    Value::Empty => {}
                    Value::Text(text) => {
                        sheet.write_string(r, c, text).map_err(bad)?;
                    }
                    Value::Int(n) => {
                        sheet.write_number(r, c, *n as f64).map_err(bad)?;
                    }
                    Value::Number { value, .. } => {
                        sheet.write_number(r, c, *value).map_err(bad)?;
                    }
                }
            }
        }
        sheet.autofit();
    }
    workbook.save_to_buffer().map_err(bad)
}

/// The report as CSV (UTF-8, comma-separated; figures with a decimal point).
pub fn report_csv(doc: &ReportDoc) -> Result<Vec<u8>, PrintError> {
    let bad = |e: csv::Error| PrintError::Csv(e.to_string());
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    for (index, section) in doc.sections.iter().enumerate() {
        if doc.sections.len() > 1 {
            if index > 0 {
                writer.write_record([""]).map_err(bad)?;
            }
            writer.write_record([&section.heading]).map_err(bad)?;
        }
        writer.write_record(&section.table.columns).map_err(bad)?;
        for row in &section.table.rows {
            writer
                .write_record(row.iter().map(|v| match v {
                    Value::Number { value, decimals } => {
                        format!("{value:.prec$}", prec = usize::from(*decimals))
                    }
                    other => other.to_string(),
                }))
                .map_err(bad)?;
        }
    }
    writer
        .into_inner()
        .map_err(|e| PrintError::Csv(e.to_string()))
}
