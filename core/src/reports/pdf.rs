//! Print-ready PDF: every report on A4 (wide grids across the page) with the school's name, the year, the
//! class, the date printed, page numbers and signature lines; and sheets of access-code slips. Tables wider
//! than the paper continue on following pages with their name columns repeated; long text wraps; nothing is
//! clipped. The font (DejaVu Sans Condensed, free) is embedded and subset.

use krilla::Document;
use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke, StrokeDash};
use krilla::text::{Font, TextDirection};
use thiserror::Error;
use time::Date;

use super::{ReportDoc, Table, full_date};

const REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSansCondensed.ttf");
const BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSansCondensed-Bold.ttf");

/// Points per millimetre.
const MM: f32 = 72.0 / 25.4;
const MARGIN: f32 = 12.0 * MM;
const HEADER: f32 = 20.0 * MM;
const FOOTER: f32 = 9.0 * MM;
const TABLE_SIZE: f32 = 8.0;
const PAD: f32 = 1.2 * MM;
const MAX_COLUMN: f32 = 70.0 * MM;
const MIN_COLUMN: f32 = 6.0 * MM;

/// Why a file could not be made.
#[derive(Debug, Error)]
pub enum PrintError {
    /// The PDF writer failed.
    #[error("could not write the PDF: {0}")]
    Pdf(String),
    /// The spreadsheet writer failed.
    #[error("could not write the spreadsheet: {0}")]
    Xlsx(String),
    /// The CSV writer failed.
    #[error("could not write the CSV file: {0}")]
    Csv(String),
}

struct Fonts {
    regular: Font,
    bold: Font,
    regular_face: rustybuzz::Face<'static>,
    bold_face: rustybuzz::Face<'static>,
}

impl Fonts {
    fn load() -> Result<Fonts, PrintError> {
        let bad = || PrintError::Pdf("the embedded font is unreadable".to_owned());
        Ok(Fonts {
            regular: Font::new(REGULAR.into(), 0).ok_or_else(bad)?,
            bold: Font::new(BOLD.into(), 0).ok_or_else(bad)?,
            regular_face: rustybuzz::Face::from_slice(REGULAR, 0).ok_or_else(bad)?,
            bold_face: rustybuzz::Face::from_slice(BOLD, 0).ok_or_else(bad)?,
        })
    }

    /// Width of `text` in points, shaped the way the PDF writer shapes it.
    fn width(&self, text: &str, size: f32, bold: bool) -> f32 {
        let face = if bold {
            &self.bold_face
        } else {
            &self.regular_face
        };
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        let shaped = rustybuzz::shape(face, &[], buffer);
        let advance: i32 = shaped.glyph_positions().iter().map(|p| p.x_advance).sum();
        advance as f32 / f32::from(face.units_per_em() as u16) * size
    }

    /// `text` broken into lines no wider than `width`; words longer than a line are cut.
    fn wrap(&self, text: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            for word in paragraph.split_whitespace() {
                let candidate = if line.is_empty() {
                    word.to_owned()
                } else {
                    format!("{line} {word}")
                };
                if self.width(&candidate, size, bold) <= width {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                let mut piece = String::new();
                for ch in word.chars() {
                    piece.push(ch);
                    if self.width(&piece, size, bold) > width && piece.chars().count() > 1 {
                        piece.pop();
                        lines.push(std::mem::take(&mut piece));
                        piece.push(ch);
                    }
                }
                line = piece;
            }
            lines.push(line);
        }
        lines
    }
}

/// What is drawn, in points from the page's top-left corner.
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        text: String,
    },
    Line {
        from: (f32, f32),
        to: (f32, f32),
        width: f32,
        dashed: bool,
    },
    Shade {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
}

struct Sheet {
    width: f32,
    height: f32,
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl Sheet {
    fn new(landscape: bool) -> Sheet {
        let (w, h) = if landscape {
            (297.0, 210.0)
        } else {
            (210.0, 297.0)
        };
        Sheet {
            width: w * MM,
            height: h * MM,
            pages: vec![Vec::new()],
            y: MARGIN + HEADER,
        }
    }

    fn content_width(&self) -> f32 {
        self.width - 2.0 * MARGIN
    }

    fn bottom(&self) -> f32 {
        self.height - MARGIN - FOOTER
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN + HEADER;
    }

    /// Starts a new page unless `height` more fits on this one.
    fn ensure(&mut self, height: f32) {
        if self.y + height > self.bottom() && self.y > MARGIN + HEADER {
            self.new_page();
        }
    }

    fn push(&mut self, op: Op) {
        if let Some(page) = self.pages.last_mut() {
            page.push(op);
        }
    }

    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, text: impl Into<String>) {
        self.push(Op::Text {
            x,
            y,
            size,
            bold,
            text: text.into(),
        });
    }

    fn line(&mut self, from: (f32, f32), to: (f32, f32), width: f32) {
        self.push(Op::Line {
            from,
            to,
            width,
            dashed: false,
        });
    }

    fn paragraph(&mut self, fonts: &Fonts, text: &str, size: f32, bold: bool) {
        for line in fonts.wrap(text, size, bold, self.content_width()) {
            self.ensure(size * 1.4);
            self.y += size * 1.25;
            self.text(MARGIN, self.y, size, bold, line);
        }
        self.y += size * 0.4;
    }
}

/// Column widths that fit their content, within bounds.
fn natural_widths(fonts: &Fonts, table: &Table) -> Vec<f32> {
    (0..table.columns.len())
        .map(|c| {
            let header = table.columns[c]
                .split_whitespace()
                .map(|w| fonts.width(w, TABLE_SIZE, true))
                .fold(0.0, f32::max);
            let cells = table
                .rows
                .iter()
                .filter_map(|r| r.get(c))
                .map(|v| fonts.width(&v.to_string(), TABLE_SIZE, false))
                .fold(0.0, f32::max);
            (header.max(cells) + 2.0 * PAD).clamp(MIN_COLUMN, MAX_COLUMN)
        })
        .collect()
}

/// Groups of columns that fit the width: the frozen columns, then as many others as fit.
fn column_chunks(widths: &[f32], frozen: usize, available: f32) -> Vec<Vec<usize>> {
    let frozen = frozen.min(widths.len());
    let fixed: f32 = widths[..frozen].iter().sum();
    let mut chunks = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut used = fixed;
    for (c, w) in widths.iter().enumerate().skip(frozen) {
        if !current.is_empty() && used + w > available {
            chunks.push(std::mem::take(&mut current));
            used = fixed;
        }
        current.push(c);
        used += w;
    }
    if !current.is_empty() || chunks.is_empty() {
        chunks.push(current);
    }
    chunks
        .into_iter()
        .map(|rest| (0..frozen).chain(rest).collect())
        .collect()
}

/// Rows of a table kept together at its end, so that none stands alone at the top of a page.
const ROWS_KEPT_TOGETHER: usize = 2;

/// Draws `table`; `trailer` is the height of what must stay on the page of its last rows (the notes under
/// it, the signatures after the last table).
fn draw_table(sheet: &mut Sheet, fonts: &Fonts, table: &Table, trailer: f32) {
    let widths = natural_widths(fonts, table);
    let line_height = TABLE_SIZE * 1.25;
    let chunks = column_chunks(&widths, table.frozen_columns, sheet.content_width());
    let last_chunk = chunks.len() - 1;
    for (chunk, columns) in chunks.into_iter().enumerate() {
        let wrap = |text: &str, c: usize, bold: bool| {
            fonts.wrap(text, TABLE_SIZE, bold, widths[c] - 2.0 * PAD)
        };
        let text_height = |cells: &[Vec<String>]| {
            cells.iter().map(Vec::len).max().unwrap_or(1) as f32 * line_height
        };
        let header: Vec<Vec<String>> = columns
            .iter()
            .map(|&c| wrap(&table.columns[c], c, true))
            .collect();
        let header_height = text_height(&header) + 2.0 * PAD;
        let rows: Vec<Vec<Vec<String>>> = table
            .rows
            .iter()
            .map(|row| {
                columns
                    .iter()
                    .map(|&c| {
                        let text = row.get(c).map(ToString::to_string).unwrap_or_default();
                        wrap(&text, c, false)
                    })
                    .collect()
            })
            .collect();
        let text_heights: Vec<f32> = rows.iter().map(|cells| text_height(cells)).collect();
        let tail = if chunk == last_chunk { trailer } else { 0.0 };
        let kept = rows.len().min(ROWS_KEPT_TOGETHER);
        let opening: f32 = text_heights[..kept]
            .iter()
            .map(|h| h + 2.0 * PAD)
            .sum::<f32>()
            + if kept == rows.len() { tail } else { 0.0 };
        let draw_row =
            |sheet: &mut Sheet, cells: &[Vec<String>], height: f32, pad: f32, bold: bool| {
                let top = sheet.y;
                let mut x = MARGIN;
                if bold {
                    let w = columns.iter().map(|&c| widths[c]).sum();
                    sheet.push(Op::Shade {
                        x,
                        y: top,
                        w,
                        h: height,
                    });
                }
                for (i, &c) in columns.iter().enumerate() {
                    for (l, line) in cells[i].iter().enumerate() {
                        sheet.text(
                            x + PAD,
                            top + pad + line_height * (l as f32 + 1.0) - TABLE_SIZE * 0.25,
                            TABLE_SIZE,
                            bold,
                            line.clone(),
                        );
                    }
                    sheet.line((x, top), (x, top + height), 0.4);
                    x += widths[c];
                }
                sheet.line((x, top), (x, top + height), 0.4);
                sheet.line((MARGIN, top), (x, top), 0.4);
                sheet.line((MARGIN, top + height), (x, top + height), 0.4);
                sheet.y = top + height;
            };
        sheet.ensure(header_height + opening);
        draw_row(sheet, &header, header_height, PAD, true);
        // A table a little too long for the page is set a little tighter, rather than leave its last
        // rows and the signatures for a page of their own (a class of 25 on the 1,000-student school).
        let room = sheet.bottom() - sheet.y;
        let loose = text_heights.iter().map(|h| h + 2.0 * PAD).sum::<f32>() + tail;
        let pad = if loose > room && loose - rows.len() as f32 * PAD <= room {
            PAD / 2.0
        } else {
            PAD
        };
        let heights: Vec<f32> = text_heights.iter().map(|h| h + 2.0 * pad).collect();
        let mut on_page = 0;
        for (i, cells) in rows.iter().enumerate() {
            let fits = sheet.y + heights[i] <= sheet.bottom();
            // The last rows go over together, with what must follow them, unless that would leave a
            // row alone on this page instead.
            let keeps_the_end = i + ROWS_KEPT_TOGETHER != rows.len()
                || on_page < ROWS_KEPT_TOGETHER
                || sheet.y + heights[i..].iter().sum::<f32>() + tail <= sheet.bottom();
            if on_page > 0 && !(fits && keeps_the_end) {
                sheet.new_page();
                draw_row(sheet, &header, header_height, PAD, true);
                on_page = 0;
            }
            draw_row(sheet, cells, heights[i], pad, false);
            on_page += 1;
        }
        sheet.y += TABLE_GAP;
    }
}

/// Space after a table.
const TABLE_GAP: f32 = 4.0 * MM;
/// Space after a section.
const SECTION_GAP: f32 = 3.0 * MM;
/// Type size of the notes under a table.
const NOTE_SIZE: f32 = 7.5;

/// Height of the signature lines for `count` signatories.
fn signatures_height(count: usize) -> f32 {
    count as f32 * 10.0 * MM + 4.0 * MM
}

/// Height of `text` set as a paragraph across the page.
fn paragraph_height(sheet: &Sheet, fonts: &Fonts, text: &str, size: f32, bold: bool) -> f32 {
    fonts.wrap(text, size, bold, sheet.content_width()).len() as f32 * size * 1.25 + size * 0.4
}

fn draw_signatures(sheet: &mut Sheet, fonts: &Fonts, signatures: &[String]) {
    sheet.ensure(signatures_height(signatures.len()));
    sheet.y += 4.0 * MM;
    let label_width = signatures
        .iter()
        .map(|s| fonts.width(s, 9.0, false))
        .fold(0.0, f32::max);
    for who in signatures {
        sheet.y += 10.0 * MM;
        sheet.text(MARGIN, sheet.y, 9.0, false, who.clone());
        let start = MARGIN + label_width + 4.0 * MM;
        sheet.line(
            (start, sheet.y + 1.0),
            (start + 45.0 * MM, sheet.y + 1.0),
            0.5,
        );
        sheet.line(
            (start + 50.0 * MM, sheet.y + 1.0),
            (start + 95.0 * MM, sheet.y + 1.0),
            0.5,
        );
        sheet.text(start + 12.0 * MM, sheet.y + 8.0, 6.0, false, "подпись");
        sheet.text(start + 57.0 * MM, sheet.y + 8.0, 6.0, false, "расшифровка");
    }
}

fn finish(
    sheet: Sheet,
    fonts: &Fonts,
    header: &[(String, f32, bool)],
    title: &str,
) -> Result<Vec<u8>, PrintError> {
    let mut document = Document::new();
    document.set_metadata(
        krilla::metadata::Metadata::new()
            .title(title.to_owned())
            .language("ru".to_owned()),
    );
    let total = sheet.pages.len();
    for (number, ops) in sheet.pages.iter().enumerate() {
        let settings = PageSettings::from_wh(sheet.width, sheet.height)
            .ok_or_else(|| PrintError::Pdf("bad page size".into()))?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        let draw_text = |surface: &mut krilla::surface::Surface<'_>,
                         x: f32,
                         y: f32,
                         size: f32,
                         bold: bool,
                         text: &str| {
            if text.is_empty() {
                return;
            }
            surface.set_stroke(None);
            surface.set_fill(Some(Fill::default()));
            let font = if bold { &fonts.bold } else { &fonts.regular };
            surface.draw_text(
                Point::from_xy(x, y),
                font.clone(),
                size,
                text,
                false,
                TextDirection::Auto,
            );
        };
        let mut y = MARGIN;
        for (line, size, bold) in header {
            y += size * 1.3;
            draw_text(&mut surface, MARGIN, y, *size, *bold, line);
        }
        let footer = format!("Стр. {} из {total}", number + 1);
        let width = fonts.width(&footer, 8.0, false);
        draw_text(
            &mut surface,
            sheet.width - MARGIN - width,
            sheet.height - MARGIN,
            8.0,
            false,
            &footer,
        );
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    bold,
                    text,
                } => draw_text(&mut surface, *x, *y, *size, *bold, text),
                Op::Line {
                    from,
                    to,
                    width,
                    dashed,
                } => {
                    surface.set_fill(None);
                    surface.set_stroke(Some(Stroke {
                        width: *width,
                        dash: dashed.then(|| StrokeDash {
                            array: vec![3.0, 3.0],
                            offset: 0.0,
                        }),
                        ..Default::default()
                    }));
                    let mut path = PathBuilder::new();
                    path.move_to(from.0, from.1);
                    path.line_to(to.0, to.1);
                    if let Some(path) = path.finish() {
                        surface.draw_path(&path);
                    }
                }
                Op::Shade { x, y, w, h } => {
                    surface.set_stroke(None);
                    surface.set_fill(Some(Fill {
                        paint: luma::Color::new(232).into(),
                        ..Default::default()
                    }));
                    let mut path = PathBuilder::new();
                    if let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) {
                        path.push_rect(rect);
                    }
                    if let Some(path) = path.finish() {
                        surface.draw_path(&path);
                    }
                }
            }
        }
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| PrintError::Pdf(format!("{e:?}")))
}

/// The report as a PDF file.
pub fn report_pdf(doc: &ReportDoc) -> Result<Vec<u8>, PrintError> {
    let fonts = Fonts::load()?;
    let sheet = lay_out(doc, &fonts);
    let mut facts = vec![format!("Учебный год {}", doc.year)];
    if let Some(class) = &doc.class {
        facts.push(format!("Класс {class}"));
    }
    facts.push(format!("Напечатано {}", full_date(doc.printed)));
    let header = [
        (doc.school.clone(), 9.0, false),
        (doc.title.clone(), 12.0, true),
        (facts.join(" · "), 8.0, false),
    ];
    finish(sheet, &fonts, &header, &doc.title)
}

/// The report's sections and signatures placed on pages.
fn lay_out(doc: &ReportDoc, fonts: &Fonts) -> Sheet {
    let mut sheet = Sheet::new(doc.landscape);
    let last = doc.sections.len().saturating_sub(1);
    for (i, section) in doc.sections.iter().enumerate() {
        if !section.heading.is_empty() {
            sheet.ensure(12.0 * MM);
            sheet.paragraph(fonts, &section.heading, 10.0, true);
            sheet.y += 1.0 * MM;
        }
        let notes: f32 = section
            .notes
            .iter()
            .map(|note| paragraph_height(&sheet, fonts, note, NOTE_SIZE, false))
            .sum();
        let signatures = if i == last {
            SECTION_GAP + signatures_height(doc.signatures.len())
        } else {
            0.0
        };
        draw_table(
            &mut sheet,
            fonts,
            &section.table,
            TABLE_GAP + notes + signatures,
        );
        for note in &section.notes {
            sheet.paragraph(fonts, note, NOTE_SIZE, false);
        }
        sheet.y += SECTION_GAP;
    }
    draw_signatures(&mut sheet, fonts, &doc.signatures);
    sheet
}

/// One access-code slip: who it is for and the code to type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessSlip {
    /// The person's name (for a parent: "Родитель: <child's name>").
    pub name: String,
    /// Class as the school writes it.
    pub class: String,
    /// "ученик" or "родитель".
    pub role: String,
    /// The code, grouped for reading.
    pub code: String,
    /// Last day it can be used.
    pub expires: Date,
}

/// Instructions printed on every slip.
pub const SLIP_INSTRUCTIONS: [&str; 3] = [
    "1. Установите приложение «Электронный журнал» школы.",
    "2. Выберите «Войти по коду» и введите код с этого листка.",
    "3. Код одноразовый, не передавайте его. Потеряли — к классному руководителю.",
];

/// Slips to cut out, eight to an A4 page. `certificate` is the fingerprint of the relay's own certificate,
/// printed on every slip for the device to pin when it signs in.
pub fn access_slips_pdf(
    school: &str,
    slips: &[AccessSlip],
    certificate: Option<&crate::certificate_pin::CertificatePin>,
    printed: Date,
) -> Result<Vec<u8>, PrintError> {
    let fonts = Fonts::load()?;
    let mut sheet = Sheet::new(false);
    let (columns, rows) = (2usize, 4usize);
    let top = MARGIN + HEADER;
    let slip_w = sheet.content_width() / columns as f32;
    let slip_h = (sheet.bottom() - top) / rows as f32;
    for (i, slip) in slips.iter().enumerate() {
        let on_page = i % (columns * rows);
        if i > 0 && on_page == 0 {
            sheet.new_page();
        }
        let x = MARGIN + (on_page % columns) as f32 * slip_w;
        let y = top + (on_page / columns) as f32 * slip_h;
        for (from, to) in [
            ((x, y), (x + slip_w, y)),
            ((x, y + slip_h), (x + slip_w, y + slip_h)),
            ((x, y), (x, y + slip_h)),
            ((x + slip_w, y), (x + slip_w, y + slip_h)),
        ] {
            sheet.push(Op::Line {
                from,
                to,
                width: 0.5,
                dashed: true,
            });
        }
        let left = x + 4.0 * MM;
        let inner = slip_w - 8.0 * MM;
        // `line_y` is the top of the next line; each line's baseline sits one font size below it.
        let mut line_y = y + 4.0 * MM;
        let mut put = |sheet: &mut Sheet, text: &str, size: f32, bold: bool, gap: f32| {
            for line in fonts.wrap(text, size, bold, inner) {
                sheet.text(left, line_y + size, size, bold, line);
                line_y += size * 1.3;
            }
            line_y += gap;
        };
        put(&mut sheet, school, 7.0, false, 1.0);
        put(&mut sheet, &slip.name, 11.0, true, 0.0);
        put(
            &mut sheet,
            &format!("{}, класс {}", slip.role, slip.class),
            8.0,
            false,
            3.0,
        );
        put(&mut sheet, "Код доступа:", 8.0, false, 0.0);
        put(&mut sheet, &slip.code, 15.0, true, 1.0);
        put(
            &mut sheet,
            &format!("Действует до {}", full_date(slip.expires)),
            8.0,
            false,
            2.0,
        );
        for instruction in SLIP_INSTRUCTIONS {
            put(&mut sheet, instruction, 6.5, false, 0.0);
        }
        if let Some(certificate) = certificate {
            // Groups apart, so that the fingerprint wraps between them on a narrow slip.
            let certificate = certificate.to_string().replace('-', " ");
            put(&mut sheet, "", 2.0, false, 0.0);
            put(
                &mut sheet,
                "Отпечаток сертификата сервера (введите при входе вместе с кодом):",
                6.5,
                false,
                0.0,
            );
            put(&mut sheet, &certificate, 7.0, true, 0.0);
        }
    }
    let header = [
        (school.to_owned(), 9.0, false),
        ("Коды доступа к электронному журналу".to_owned(), 12.0, true),
        (
            format!("Напечатано {} · разрежьте по пунктиру", full_date(printed)),
            8.0,
            false,
        ),
    ];
    finish(sheet, &fonts, &header, "Коды доступа")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::{Section, Value};

    #[test]
    fn wide_tables_split_into_chunks_that_each_repeat_the_frozen_columns() {
        let widths = [40.0, 10.0, 10.0, 10.0, 10.0, 10.0];
        let chunks = column_chunks(&widths, 1, 70.0);
        assert_eq!(chunks, vec![vec![0, 1, 2, 3], vec![0, 4, 5]]);
        let every: std::collections::BTreeSet<usize> = chunks.iter().flatten().copied().collect();
        assert_eq!(every.len(), widths.len(), "no column is lost");
    }

    /// A landscape report of one table of `rows` students, with a legend under it and `signatures`.
    fn class_sheet(rows: usize, signatures: &[&str]) -> ReportDoc {
        ReportDoc {
            kind: crate::reports::ReportKind::ClassJournal,
            title: "Классный журнал: Математика, 1 триместр".into(),
            school: "Школа № 1".into(),
            year: crate::YearId(2026),
            class: Some("5А".into()),
            printed: Date::from_calendar_date(2026, time::Month::November, 30).expect("date"),
            landscape: true,
            sections: vec![Section {
                heading: "Отметки".into(),
                table: Table {
                    columns: vec!["№".into(), "Ученик".into(), "Оценки".into()],
                    rows: (1..=rows)
                        .map(|i| {
                            vec![
                                Value::Int(i as i64),
                                Value::Text(format!("Ученик {i}")),
                                Value::Text("5 4 5".into()),
                            ]
                        })
                        .collect(),
                    frozen_columns: 2,
                },
                notes: vec!["н — не был, о — опоздал".into()],
            }],
            signatures: signatures.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Per page: the students' rows on it, and whether it holds the signature lines.
    fn pages_of(sheet: &Sheet) -> Vec<(usize, bool)> {
        sheet
            .pages
            .iter()
            .map(|ops| {
                let texts: Vec<&str> = ops
                    .iter()
                    .filter_map(|op| match op {
                        Op::Text { text, .. } => Some(text.as_str()),
                        _ => None,
                    })
                    .collect();
                let rows = texts.iter().filter(|t| t.starts_with("Ученик ")).count();
                (rows, texts.contains(&"Директор"))
            })
            .collect()
    }

    #[test]
    fn no_page_holds_a_tables_last_row_alone_nor_only_the_signatures() {
        let fonts = Fonts::load().expect("fonts");
        for rows in 2..=80 {
            let sheet = lay_out(&class_sheet(rows, &["Учитель", "Директор"]), &fonts);
            let pages = pages_of(&sheet);
            assert_eq!(
                pages.iter().map(|(r, _)| r).sum::<usize>(),
                rows,
                "every student once"
            );
            for (page, (on_page, signed)) in pages.iter().enumerate() {
                assert!(
                    *on_page >= 2 || (*on_page == 0 && !signed && page + 1 < pages.len()),
                    "{rows} students: page {} holds {on_page} of them{}",
                    page + 1,
                    if *signed { " and the signatures" } else { "" }
                );
            }
            assert!(pages.last().is_some_and(|(_, signed)| *signed));
        }
    }

    #[test]
    fn a_table_a_row_too_long_for_the_page_is_set_tighter_on_one_page() {
        let fonts = Fonts::load().expect("fonts");
        // The rows that fit one page at the usual spacing, below the report's header, the section's
        // heading and the table's header.
        let sheet = Sheet::new(true);
        let row = TABLE_SIZE * 1.25 + 2.0 * PAD;
        let above = 10.0 * 1.25 + 10.0 * 0.4 + 1.0 * MM + row;
        let below = TABLE_GAP
            + paragraph_height(&sheet, &fonts, "н — не был, о — опоздал", NOTE_SIZE, false)
            + SECTION_GAP
            + signatures_height(0);
        let usual = ((sheet.bottom() - sheet.y - above - below) / row).floor() as usize;
        let one_more = lay_out(&class_sheet(usual + 1, &[]), &fonts);
        assert_eq!(pages_of(&one_more).len(), 1, "{} students", usual + 1);
        let many_more = lay_out(&class_sheet(usual * 2, &[]), &fonts);
        assert_eq!(pages_of(&many_more).len(), 2, "{} students", usual * 2);
    }

    #[test]
    fn wrapping_never_makes_a_line_wider_than_asked() {
        let fonts = Fonts::load().expect("fonts");
        let width = 30.0 * MM;
        let lines = fonts.wrap(
            "Правописание безударных гласных в корне слова; сверхдлинноесловобезпробелов",
            TABLE_SIZE,
            false,
            width,
        );
        assert!(lines.len() > 1);
        for line in &lines {
            assert!(fonts.width(line, TABLE_SIZE, false) <= width, "{line}");
        }
        assert_eq!(
            lines.join(" ").replace(' ', ""),
            "Правописаниебезударныхгласныхвкорнеслова;сверхдлинноесловобезпробелов"
        );
    }
}
