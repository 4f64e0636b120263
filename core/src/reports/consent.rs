//! The students whose guardians have no consent to the processing of personal data in force (Federal
//! Law 152-FZ; regulation 3.3): for the school to collect the forms. Made on the relay, whose directory
//! keeps the consent register; the relay passes in what it holds.

use time::Date;

use super::{ReportDoc, ReportKind, Section, Table, Value};
use crate::domain::calendar::format_date;
use crate::ids::YearId;

/// What the register holds for one guardian of a student.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardianConsent {
    /// The guardian's name.
    pub name: String,
    /// The newest entry: given or withdrawn, the signed form's date, the text's version; `None` when there
    /// is no entry.
    pub newest: Option<(bool, String, String)>,
}

/// A student without a guardian's consent in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentGap {
    /// The class's name («5А»).
    pub class: String,
    /// The student's name.
    pub student: String,
    /// Their guardians as the directory links them (none when no guardian is on record).
    pub guardians: Vec<GuardianConsent>,
}

/// The report of students without consent in force, as of `today`.
pub fn no_consent_doc(
    school: &str,
    year: YearId,
    class: Option<String>,
    gaps: &[ConsentGap],
    today: Date,
) -> ReportDoc {
    let state = |g: &GuardianConsent| match &g.newest {
        None => format!("{}: нет записи", g.name),
        Some((true, on, version)) => format!("{}: дано {on} (текст {version})", g.name),
        Some((false, on, version)) => format!("{}: отозвано {on} (текст {version})", g.name),
    };
    let rows = gaps
        .iter()
        .map(|gap| {
            let guardians = if gap.guardians.is_empty() {
                "законные представители не указаны".to_owned()
            } else {
                gap.guardians
                    .iter()
                    .map(state)
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            vec![
                Value::text(gap.class.clone()),
                Value::text(gap.student.clone()),
                Value::text(guardians),
            ]
        })
        .collect();
    ReportDoc {
        kind: ReportKind::NoConsent,
        title: "Нет согласия на обработку персональных данных".to_owned(),
        school: school.to_owned(),
        year,
        class,
        printed: today,
        landscape: false,
        sections: vec![Section {
            heading: format!("Ученики без действующего согласия: {}", gaps.len()),
            table: Table {
                columns: [
                    "Класс",
                    "Ученик",
                    "Законные представители и запись о согласии",
                ]
                .map(str::to_owned)
                .to_vec(),
                rows,
                frozen_columns: 2,
            },
            notes: vec![format!(
                "Пока согласие не дано, классный руководитель видит только ФИО ученика (152-ФЗ). На {}.",
                format_date(today)
            )],
        }],
        signatures: vec!["Директор".to_owned()],
    }
}
