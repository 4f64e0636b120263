//! Class lists from CSV or XLSX: columns `class`, `student_id`, `student_name`, `guardian_id`,
//! `guardian_name` (one row per student and guardian; the guardian columns may be empty). Every row is
//! checked; any error means nothing is imported, and each error names its row.

use std::collections::HashMap;
use std::io::Cursor;

use calamine::{Reader, Xlsx};
use journal_core::{ClassId, StudentId};
use serde::Serialize;

use crate::store::{AccountRole, RelayStore, RosterImport, StoreResult};

/// One refused row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// Row number as the spreadsheet shows it (the header is row 1).
    pub row: usize,
    /// What is wrong.
    pub reason: String,
}

const COLUMNS: [&str; 5] = [
    "class",
    "student_id",
    "student_name",
    "guardian_id",
    "guardian_name",
];

/// The rows of a CSV file (header included).
pub fn csv_rows(bytes: &[u8]) -> Result<Vec<Vec<String>>, RowError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    reader
        .records()
        .enumerate()
        .map(|(i, record)| {
            record
                .map(|r| r.iter().map(str::to_owned).collect())
                .map_err(|e| RowError {
                    row: i + 1,
                    reason: format!("файл не читается как CSV: {e}"),
                })
        })
        .collect()
}

/// The rows of the first sheet of an XLSX file (header included).
pub fn xlsx_rows(bytes: &[u8]) -> Result<Vec<Vec<String>>, RowError> {
    let unreadable = |e: String| RowError {
        row: 0,
        reason: format!("файл не читается как книга XLSX: {e}"),
    };
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|e| unreadable(e.to_string()))?;
    let sheet = book
        .worksheet_range_at(0)
        .ok_or_else(|| unreadable("в книге нет ни одного листа".into()))?
        .map_err(|e| unreadable(e.to_string()))?;
    Ok(sheet
        .rows()
        .map(|row| {
            row.iter()
                .map(|cell| cell.to_string().trim().to_owned())
                .collect()
        })
        .collect())
}

/// Checks every row against the directory and builds the import, or lists every bad row.
pub fn validate(
    rows: &[Vec<String>],
    store: &dyn RelayStore,
) -> StoreResult<Result<RosterImport, Vec<RowError>>> {
    let mut errors = Vec::new();
    let Some(header) = rows.first() else {
        return Ok(Err(vec![RowError {
            row: 1,
            reason: "файл пуст".into(),
        }]));
    };
    let header: Vec<String> = header.iter().map(|h| h.to_lowercase()).collect();
    let positions: Vec<Option<usize>> = COLUMNS
        .iter()
        .map(|c| header.iter().position(|h| h == c))
        .collect();
    if let Some(missing) = COLUMNS.iter().zip(&positions).find(|(_, p)| p.is_none()) {
        return Ok(Err(vec![RowError {
            row: 1,
            reason: format!(
                "в заголовке нет столбца {:?}; нужны столбцы {}",
                missing.0,
                COLUMNS.join(", ")
            ),
        }]));
    }
    let mut import = RosterImport::default();
    let mut seen_students: HashMap<StudentId, (ClassId, String, usize)> = HashMap::new();
    let mut seen_guardians: HashMap<String, String> = HashMap::new();
    for (index, row) in rows.iter().enumerate().skip(1) {
        let number = index + 1;
        let cell = |column: usize| {
            positions[column]
                .and_then(|p| row.get(p))
                .map(String::as_str)
                .unwrap_or("")
        };
        if row.iter().all(|c| c.is_empty()) {
            continue;
        }
        let mut fail = |reason: String| {
            errors.push(RowError {
                row: number,
                reason,
            })
        };
        let class = match cell(0).parse::<ClassId>() {
            Ok(class) => class,
            Err(e) => {
                fail(format!("класс: {e}"));
                continue;
            }
        };
        let student = match cell(1).parse::<StudentId>() {
            Ok(student) => student,
            Err(e) => {
                fail(format!("student_id: {e}"));
                continue;
            }
        };
        let name = cell(2);
        if name.is_empty() {
            fail(format!("у ученика {student} не указано имя"));
            continue;
        }
        match seen_students.get(&student) {
            Some((other_class, other_name, row))
                if (other_class, other_name.as_str()) != (&class, name) =>
            {
                fail(format!(
                    "ученик {student} уже есть в строке {row} с другим классом или именем"
                ));
                continue;
            }
            Some(_) => {}
            None => {
                seen_students.insert(student.clone(), (class.clone(), name.to_owned(), number));
                import
                    .students
                    .push((student.clone(), class.clone(), name.to_owned()));
            }
        }
        let (guardian, guardian_name) = (cell(3), cell(4));
        match (guardian.is_empty(), guardian_name.is_empty()) {
            (true, true) => {}
            (false, false) => {
                let valid_id = guardian.len() <= 64
                    && guardian
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !valid_id {
                    fail(format!(
                        "guardian_id {guardian:?} не годится как имя учётной записи"
                    ));
                    continue;
                }
                if let Some(existing) = store.account(guardian)?
                    && existing.role != AccountRole::Parent
                {
                    fail(format!(
                        "guardian_id {guardian} — учётная запись с ролью «{}», а не родителя",
                        existing.role.as_str()
                    ));
                    continue;
                }
                if let Some(other) = seen_guardians.get(guardian)
                    && other != guardian_name
                {
                    fail(format!(
                        "родитель {guardian} указан под двумя разными именами"
                    ));
                    continue;
                }
                seen_guardians.insert(guardian.to_owned(), guardian_name.to_owned());
                import.guardians.push((
                    guardian.to_owned(),
                    guardian_name.to_owned(),
                    student.clone(),
                ));
            }
            _ => fail("для родителя нужны оба столбца: guardian_id и guardian_name".into()),
        }
    }
    Ok(if errors.is_empty() {
        Ok(import)
    } else {
        Err(errors)
    })
}
