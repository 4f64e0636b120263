//! The monthly user-activity report (regulation 9.1): per class and role, how many parents and students
//! synced at least once in the month; and each staff member's activity. Computed from the relay's session
//! log and its directory, which the relay passes in.

use std::collections::{BTreeMap, BTreeSet};

use time::Date;

use super::{ReportDoc, ReportKind, Section, Table, Value};
use crate::ids::{ClassId, YearId};

/// An account as the activity report needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityAccount {
    /// Account id.
    pub account: String,
    /// Display name (staff rows only).
    pub name: String,
    /// `administration`, `teacher`, `student` or `parent`.
    pub role: String,
    /// Classes it belongs to: a student's class, a parent's children's classes.
    pub classes: Vec<ClassId>,
}

/// One class and role.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivityRow {
    /// Class.
    pub class: ClassId,
    /// `parent` or `student`.
    pub role: String,
    /// Accounts.
    pub accounts: u32,
    /// Of those, with at least one sync in the month.
    pub active: u32,
}

impl ActivityRow {
    /// Active share in percent.
    pub fn percent(&self) -> f64 {
        if self.accounts == 0 {
            0.0
        } else {
            f64::from(self.active) * 100.0 / f64::from(self.accounts)
        }
    }
}

/// One staff member's month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffActivity {
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Sessions in the month.
    pub sessions: u32,
    /// Days with at least one session.
    pub days: u32,
    /// Last session day.
    pub last: Option<Date>,
}

/// The month's activity.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivityReport {
    /// First day of the month.
    pub month: Date,
    /// Per class and role.
    pub rows: Vec<ActivityRow>,
    /// Per staff member.
    pub staff: Vec<StaffActivity>,
}

/// Computes the report for the month starting `month` from the accounts and the days of each session
/// (`(account, day)`) in that month.
pub fn activity_report(
    month: Date,
    accounts: &[ActivityAccount],
    sessions: &[(String, Date)],
) -> ActivityReport {
    let in_month = |d: &Date| d.year() == month.year() && d.month() == month.month();
    let mut days: BTreeMap<&str, Vec<Date>> = BTreeMap::new();
    for (account, day) in sessions.iter().filter(|(_, d)| in_month(d)) {
        days.entry(account.as_str()).or_default().push(*day);
    }
    let mut rows: BTreeMap<(ClassId, String), ActivityRow> = BTreeMap::new();
    let mut staff = Vec::new();
    for account in accounts {
        let seen = days.get(account.account.as_str());
        match account.role.as_str() {
            "parent" | "student" => {
                for class in &account.classes {
                    let row = rows
                        .entry((class.clone(), account.role.clone()))
                        .or_insert_with(|| ActivityRow {
                            class: class.clone(),
                            role: account.role.clone(),
                            accounts: 0,
                            active: 0,
                        });
                    row.accounts += 1;
                    row.active += u32::from(seen.is_some());
                }
            }
            _ => {
                let distinct: BTreeSet<&Date> = seen.into_iter().flatten().collect();
                staff.push(StaffActivity {
                    name: account.name.clone(),
                    role: account.role.clone(),
                    sessions: seen.map_or(0, |d| d.len() as u32),
                    days: distinct.len() as u32,
                    last: distinct.last().copied().copied(),
                });
            }
        }
    }
    staff.sort_by(|a, b| a.name.cmp(&b.name));
    ActivityReport {
        month,
        rows: rows.into_values().collect(),
        staff,
    }
}

const MONTHS: [&str; 12] = [
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
];

impl ActivityReport {
    /// The printable report, each class by its name in `class_names` (its id where it has none).
    pub fn to_doc(
        &self,
        school: &str,
        year: YearId,
        today: Date,
        class_names: &BTreeMap<ClassId, String>,
    ) -> ReportDoc {
        let role = |r: &str| {
            match r {
                "parent" => "родители",
                "student" => "ученики",
                "teacher" => "учитель",
                "administration" => "администрация",
                other => other,
            }
            .to_owned()
        };
        ReportDoc {
            kind: ReportKind::Activity,
            title: format!(
                "Активность пользователей: {} {}",
                MONTHS[usize::from(u8::from(self.month.month())) - 1],
                self.month.year()
            ),
            school: school.to_owned(),
            year,
            class: None,
            printed: today,
            landscape: false,
            sections: vec![
                Section {
                    heading: "Родители и ученики".into(),
                    table: Table {
                        columns: ["Класс", "Кто", "Всего", "Заходили", "%"]
                            .map(str::to_owned)
                            .to_vec(),
                        rows: self
                            .rows
                            .iter()
                            .map(|r| {
                                vec![
                                    Value::text(
                                        class_names
                                            .get(&r.class)
                                            .cloned()
                                            .unwrap_or_else(|| r.class.to_string()),
                                    ),
                                    Value::text(role(&r.role)),
                                    Value::Int(i64::from(r.accounts)),
                                    Value::Int(i64::from(r.active)),
                                    Value::one_decimal(r.percent()),
                                ]
                            })
                            .collect(),
                        frozen_columns: 2,
                    },
                    notes: vec!["«Заходили» — синхронизировались хотя бы раз за месяц.".into()],
                },
                Section {
                    heading: "Сотрудники".into(),
                    table: Table {
                        columns: ["Сотрудник", "Роль", "Сеансов", "Дней", "Последний вход"]
                            .map(str::to_owned)
                            .to_vec(),
                        rows: self
                            .staff
                            .iter()
                            .map(|s| {
                                vec![
                                    Value::text(&s.name),
                                    Value::text(role(&s.role)),
                                    Value::Int(i64::from(s.sessions)),
                                    Value::Int(i64::from(s.days)),
                                    s.last.map_or(Value::Empty, Value::Date),
                                ]
                            })
                            .collect(),
                        frozen_columns: 1,
                    },
                    notes: Vec::new(),
                },
            ],
            signatures: super::signature_lines(&[]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u8) -> Date {
        Date::from_calendar_date(2026, time::Month::November, d).expect("date")
    }

    #[test]
    fn counts_each_account_once_per_class_and_only_in_the_month() {
        let class: ClassId = "5a".parse().expect("id");
        let other: ClassId = "6b".parse().expect("id");
        let account = |id: &str, role: &str, classes: Vec<ClassId>| ActivityAccount {
            account: id.into(),
            name: id.into(),
            role: role.into(),
            classes,
        };
        let accounts = [
            account("p1", "parent", vec![class.clone()]),
            account("p2", "parent", vec![class.clone(), other.clone()]),
            account("p3", "parent", vec![class.clone()]),
            account("s1", "student", vec![class.clone()]),
            account("t", "teacher", vec![]),
        ];
        let october = Date::from_calendar_date(2026, time::Month::October, 30).expect("date");
        let sessions = [
            ("p1".to_owned(), day(2)),
            ("p1".to_owned(), day(3)),
            ("p2".to_owned(), day(5)),
            ("p3".to_owned(), october),
            ("t".to_owned(), day(2)),
            ("t".to_owned(), day(2)),
            ("t".to_owned(), day(9)),
        ];
        let report = activity_report(day(1), &accounts, &sessions);
        let find = |c: &ClassId, r: &str| {
            report
                .rows
                .iter()
                .find(|row| &row.class == c && row.role == r)
                .cloned()
                .expect("row")
        };
        let parents = find(&class, "parent");
        assert_eq!((parents.accounts, parents.active), (3, 2));
        assert!((parents.percent() - 200.0 / 3.0).abs() < 1e-9);
        assert_eq!(
            (
                find(&other, "parent").accounts,
                find(&other, "parent").active
            ),
            (1, 1)
        );
        assert_eq!(find(&class, "student").active, 0);
        assert_eq!(
            report.staff,
            vec![StaffActivity {
                name: "t".into(),
                role: "teacher".into(),
                sessions: 3,
                days: 2,
                last: Some(day(9)),
            }]
        );
    }
}
