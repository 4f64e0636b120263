//! The file formats a report is written in, named once for the command lines, the apps and the relay.

use std::str::FromStr;

use super::ReportDoc;
use super::export::{report_csv, report_xlsx};
use super::pdf::{PrintError, report_pdf};
use crate::error::InputError;

/// A report's file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// Print-ready PDF.
    Pdf,
    /// Excel workbook.
    Xlsx,
    /// Comma-separated text, UTF-8.
    Csv,
}

impl ReportFormat {
    /// Every format, as it is named on the command line and in URLs.
    pub const ALL: [(ReportFormat, &'static str); 3] = [
        (ReportFormat::Pdf, "pdf"),
        (ReportFormat::Xlsx, "xlsx"),
        (ReportFormat::Csv, "csv"),
    ];

    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            ReportFormat::Pdf => "application/pdf",
            ReportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
            ReportFormat::Csv => "text/csv; charset=utf-8",
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(format, _)| *format == self)
            .map_or("pdf", |(_, name)| name)
    }

    /// Writes `doc` in this format.
    pub fn render(self, doc: &ReportDoc) -> Result<Vec<u8>, PrintError> {
        match self {
            ReportFormat::Pdf => report_pdf(doc),
            ReportFormat::Xlsx => report_xlsx(doc),
            ReportFormat::Csv => report_csv(doc),
        }
    }
}

impl FromStr for ReportFormat {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, InputError> {
        let lower = s.trim().to_ascii_lowercase();
        Self::ALL
            .iter()
            .find(|(_, name)| *name == lower)
            .map(|(format, _)| *format)
            .ok_or_else(|| {
                InputError::Invalid(format!(
                    "format {s:?} is not one of {}",
                    Self::ALL.map(|(_, name)| name).join(", ")
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_read_by_name_in_any_case_and_named_back() {
        for (format, name) in ReportFormat::ALL {
            assert_eq!(name.parse::<ReportFormat>().ok(), Some(format));
            assert_eq!(format.extension(), name);
        }
        assert_eq!("PDF".parse::<ReportFormat>().ok(), Some(ReportFormat::Pdf));
        let err = "docx".parse::<ReportFormat>().expect_err("not a format");
        assert_eq!(
            err.to_string(),
            "format \"docx\" is not one of pdf, xlsx, csv"
        );
    }
}
