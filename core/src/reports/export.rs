//! Every tabular report as XLSX (one sheet per section under the report's heading, figures as numbers,
//! days as dates) and as CSV (UTF-8 with a byte-order mark, the sections one after another, each under its
//! heading).

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

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
    let date = Format::new().set_num_format("dd.mm.yyyy");
    let heading = report_heading(doc);
    for (index, section) in doc.sections.iter().enumerate() {
        let sheet = workbook.add_worksheet();
        sheet
            .set_name(sheet_name(&section.heading, index))
            .map_err(bad)?;
        // The school, the report, the class and year, and the section, above the table, as on paper.
        let mut top = 0u32;
        for line in heading
            .iter()
            .chain(std::iter::once(&section.heading))
            .filter(|l| !l.is_empty())
        {
            sheet
                .write_string_with_format(top, 0, line, &bold)
                .map_err(bad)?;
            top += 1;
        }
        let header_row = top + 1;
        for (c, column) in section.table.columns.iter().enumerate() {
            sheet
                .write_string_with_format(header_row, c as u16, column, &bold)
                .map_err(bad)?;
        }
        for (r, row) in section.table.rows.iter().enumerate() {
            let r = header_row + 1 + r as u32;
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
                    Value::Date(day) => {
                        let cell = ExcelDateTime::from_ymd(
                            u16::try_from(day.year()).unwrap_or_default(),
                            u8::from(day.month()),
                            day.day(),
                        )
                        .map_err(bad)?;
                        sheet
                            .write_datetime_with_format(r, c, &cell, &date)
                            .map_err(bad)?;
                    }
                }
            }
        }
        sheet.autofit();
    }
    workbook.save_to_buffer().map_err(bad)
}

/// The lines above a report's tables: the school, the title, and the class with the year and the day
/// it was printed.
fn report_heading(doc: &ReportDoc) -> Vec<String> {
    let mut place = Vec::new();
    if let Some(class) = &doc.class {
        place.push(format!("Класс {class}"));
    }
    place.push(format!("{} учебный год", doc.year));
    place.push(format!("на {}", super::full_date(doc.printed)));
    vec![doc.school.clone(), doc.title.clone(), place.join(", ")]
}

/// UTF-8's byte-order mark: without it Excel on Windows reads a CSV as the local code page, and the
/// Cyrillic comes out garbled.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The report's first table as CSV (UTF-8 with a byte-order mark, comma-separated; figures with a decimal
/// point). A CSV file holds one table: another of the report's is had with [`ReportDoc::with_table`].
pub fn report_csv(doc: &ReportDoc) -> Result<Vec<u8>, PrintError> {
    let bad = |e: csv::Error| PrintError::Csv(e.to_string());
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(UTF8_BOM.to_vec());
    if let Some(section) = doc.sections.first() {
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
