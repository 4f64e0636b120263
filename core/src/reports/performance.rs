//! The class teacher's term report: how many students have all 5s, 4s and 5s, one 3, or fail; the
//! percentages of success (успеваемость) and quality (качество); the degree of learning (СОУ); the average
//! mark; absences by code in lessons and hours. N leaves out students exempt from a subject.

use std::collections::BTreeMap;

use time::Date;

use super::{ReportDoc, ReportKind, Section, Table, Value, term_name, term_of};
use crate::domain::policy::MarkValue;
use crate::error::Result;
use crate::ids::{ClassId, TermId, YearId};
use crate::journal::Journal;

/// Marks counted by value over N students.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MarkCounts {
    /// Students counted (N), exempt students left out.
    pub n: u32,
    /// With 5.
    pub n5: u32,
    /// With 4.
    pub n4: u32,
    /// With 3.
    pub n3: u32,
    /// With 2 (or "fail" in a pass/fail subject).
    pub n2: u32,
    /// With "pass" in a pass/fail subject: counts as success, not as quality.
    pub passed: u32,
    /// Without a mark.
    pub unassessed: u32,
}

impl MarkCounts {
    /// Counts the marks of N students (`None`: not assessed).
    pub fn of(marks: impl IntoIterator<Item = Option<MarkValue>>) -> MarkCounts {
        let mut counts = MarkCounts::default();
        for mark in marks {
            counts.n += 1;
            match mark {
                Some(MarkValue::Grade(5)) => counts.n5 += 1,
                Some(MarkValue::Grade(4)) => counts.n4 += 1,
                Some(MarkValue::Grade(3)) => counts.n3 += 1,
                Some(MarkValue::Grade(_) | MarkValue::Fail) => counts.n2 += 1,
                Some(MarkValue::Pass) => counts.passed += 1,
                None => counts.unassessed += 1,
            }
        }
        counts
    }

    fn percent(&self, part: u32) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            f64::from(part) * 100.0 / f64::from(self.n)
        }
    }

    /// % успеваемости = (n5 + n4 + n3) / N · 100 (a "pass" counts as success).
    pub fn success_percent(&self) -> f64 {
        self.percent(self.n5 + self.n4 + self.n3 + self.passed)
    }

    /// % качества = (n5 + n4) / N · 100.
    pub fn quality_percent(&self) -> f64 {
        self.percent(self.n5 + self.n4)
    }

    /// СОУ = (100·n5 + 64·n4 + 36·n3 + 16·n2 + 7·n_unassessed) / N; a "pass" weighs as unassessed.
    pub fn degree_of_learning(&self) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        f64::from(
            100 * self.n5
                + 64 * self.n4
                + 36 * self.n3
                + 16 * self.n2
                + 7 * (self.unassessed + self.passed),
        ) / f64::from(self.n)
    }

    /// The average of the graded marks (5, 4, 3, 2), if any.
    pub fn average(&self) -> Option<f64> {
        let graded = self.n5 + self.n4 + self.n3 + self.n2;
        (graded > 0).then(|| {
            f64::from(5 * self.n5 + 4 * self.n4 + 3 * self.n3 + 2 * self.n2) / f64::from(graded)
        })
    }
}

/// Where a student stands over all their subjects in a term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StudentStanding {
    /// Only 5s (отличник).
    AllFives,
    /// 4s and 5s (хорошист).
    FoursAndFives,
    /// Exactly one 3, the rest 4s and 5s.
    OneThree,
    /// More than one 3, no 2.
    Threes,
    /// At least one 2 or "fail" (неуспевающий).
    Failing,
    /// No mark at all.
    Unassessed,
}

/// A student's standing from their term marks in the subjects they are not exempt from.
pub fn standing(marks: &[Option<MarkValue>]) -> StudentStanding {
    let grades: Vec<MarkValue> = marks.iter().flatten().copied().collect();
    if grades.is_empty() {
        return StudentStanding::Unassessed;
    }
    if grades
        .iter()
        .any(|m| matches!(m, MarkValue::Fail | MarkValue::Grade(0..=2)))
    {
        return StudentStanding::Failing;
    }
    let threes = grades.iter().filter(|m| **m == MarkValue::Grade(3)).count();
    match threes {
        0 if grades
            .iter()
            .all(|m| matches!(m, MarkValue::Grade(5) | MarkValue::Pass)) =>
        {
            StudentStanding::AllFives
        }
        0 => StudentStanding::FoursAndFives,
        1 => StudentStanding::OneThree,
        _ => StudentStanding::Threes,
    }
}

/// The class's figures: students counted by standing, with the same formulas as a subject.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Performance {
    /// Per student: name and standing.
    pub students: Vec<(String, StudentStanding)>,
}

impl Performance {
    /// How many students stand where.
    pub fn count(&self, standing: StudentStanding) -> u32 {
        self.students.iter().filter(|(_, s)| *s == standing).count() as u32
    }

    /// The class as mark counts: n5 all 5s, n4 4s and 5s, n3 with 3s, n2 failing.
    pub fn counts(&self) -> MarkCounts {
        MarkCounts {
            n: self.students.len() as u32,
            n5: self.count(StudentStanding::AllFives),
            n4: self.count(StudentStanding::FoursAndFives),
            n3: self.count(StudentStanding::OneThree) + self.count(StudentStanding::Threes),
            n2: self.count(StudentStanding::Failing),
            passed: 0,
            unassessed: self.count(StudentStanding::Unassessed),
        }
    }
}

/// One subject's line of the term report.
#[derive(Clone, Debug, PartialEq)]
pub struct SubjectPerformance {
    /// Subject name.
    pub subject: String,
    /// Its term marks counted.
    pub counts: MarkCounts,
}

/// The class teacher's term report.
#[derive(Clone, Debug, PartialEq)]
pub struct TermReport {
    /// Class.
    pub class: ClassId,
    /// Term.
    pub term: TermId,
    /// The class as a whole.
    pub class_performance: Performance,
    /// Per subject.
    pub subjects: Vec<SubjectPerformance>,
    /// Absences per attendance code: lessons and minutes.
    pub absences: BTreeMap<String, (u32, u32)>,
    /// Lessons missed (codes that count as missed).
    pub lessons_missed: u32,
    /// Minutes missed.
    pub minutes_missed: u32,
}

impl Journal {
    /// The class teacher's report for a term (students on the list at any time during it).
    pub fn term_report(&self, year: YearId, class: &ClassId, term: &TermId) -> Result<TermReport> {
        let settings = self.settings(year)?;
        let range = term_of(settings, term)?.range();
        let students = self.students_during(year, class, range)?;
        let subjects = self.class_subjects(year, class)?;
        let mut per_subject: Vec<Vec<Option<MarkValue>>> = vec![Vec::new(); subjects.len()];
        let mut performance = Performance::default();
        let mut absences: BTreeMap<String, (u32, u32)> = BTreeMap::new();
        let (mut lessons_missed, mut minutes_missed) = (0, 0);
        for (student, name, exempt) in &students {
            let mut own = Vec::new();
            for (i, subject) in subjects.iter().enumerate() {
                if exempt.contains(subject) {
                    continue;
                }
                let mark = self.effective_term_mark(year, student, subject, term)?;
                per_subject[i].push(mark);
                own.push(mark);
            }
            performance.students.push((name.clone(), standing(&own)));
            if self.student_doc(year, student).is_some() {
                let totals = self.attendance_totals(year, student, range)?;
                for (code, total) in totals.by_code {
                    let entry = absences.entry(code).or_default();
                    entry.0 += total.lessons;
                    entry.1 += total.minutes;
                }
                lessons_missed += totals.lessons_missed;
                minutes_missed += totals.minutes_missed;
            }
        }
        Ok(TermReport {
            class: class.clone(),
            term: term.clone(),
            class_performance: performance,
            subjects: subjects
                .iter()
                .zip(per_subject)
                .map(|(subject, marks)| SubjectPerformance {
                    subject: self.subject_name(year, subject),
                    counts: MarkCounts::of(marks),
                })
                .collect(),
            absences,
            lessons_missed,
            minutes_missed,
        })
    }
}

fn counts_row(label: &str, c: &MarkCounts, average: Option<f64>) -> Vec<Value> {
    vec![
        Value::text(label),
        Value::Int(i64::from(c.n)),
        Value::Int(i64::from(c.n5)),
        Value::Int(i64::from(c.n4)),
        Value::Int(i64::from(c.n3)),
        Value::Int(i64::from(c.n2)),
        Value::Int(i64::from(c.unassessed)),
        Value::one_decimal(c.success_percent()),
        Value::one_decimal(c.quality_percent()),
        Value::one_decimal(c.degree_of_learning()),
        average.map_or(Value::Empty, |a| Value::Number {
            value: a,
            decimals: 2,
        }),
    ]
}

fn hours(minutes: u32) -> Value {
    Value::Number {
        value: f64::from(minutes) / 60.0,
        decimals: 2,
    }
}

impl TermReport {
    /// The average of every graded term mark of the class, over all subjects.
    pub fn average_mark(&self) -> Option<f64> {
        let (sum, count) = self.subjects.iter().fold((0u32, 0u32), |(sum, count), s| {
            let c = s.counts;
            (
                sum + 5 * c.n5 + 4 * c.n4 + 3 * c.n3 + 2 * c.n2,
                count + c.n5 + c.n4 + c.n3 + c.n2,
            )
        });
        (count > 0).then(|| f64::from(sum) / f64::from(count))
    }

    /// The printable report.
    pub fn to_doc(&self, journal: &Journal, year: YearId, today: Date) -> ReportDoc {
        let term_name = term_name(journal, year, &self.term);
        let mut doc = journal.report_frame(
            year,
            ReportKind::TermReport,
            format!("Отчёт классного руководителя: {term_name}"),
            Some(&self.class),
            today,
        );
        doc.landscape = true;
        let p = &self.class_performance;
        let columns: Vec<String> = [
            "",
            "N",
            "«5»",
            "«4»",
            "«3»",
            "«2»",
            "н/а",
            "% успев.",
            "% кач.",
            "СОУ, %",
            "Ср. балл",
        ]
        .map(str::to_owned)
        .to_vec();
        let mut rows = vec![counts_row(
            "Класс (по ученикам)",
            &p.counts(),
            self.average_mark(),
        )];
        rows.extend(
            self.subjects
                .iter()
                .map(|s| counts_row(&s.subject, &s.counts, s.counts.average())),
        );
        doc.sections.push(Section {
            heading: "Успеваемость".into(),
            table: Table {
                columns,
                rows,
                frozen_columns: 1,
            },
            notes: vec![
                format!("Учеников: {}", p.students.len()),
                format!(
                    "Отличников: {}; на «4» и «5»: {}; с одной «3»: {}; неуспевающих: {}; не аттестовано: {}",
                    p.count(StudentStanding::AllFives),
                    p.count(StudentStanding::FoursAndFives),
                    p.count(StudentStanding::OneThree),
                    p.count(StudentStanding::Failing),
                    p.count(StudentStanding::Unassessed)
                ),
                "По предмету N не включает освобождённых. % успеваемости = (n5+n4+n3)/N·100; % качества = (n5+n4)/N·100; СОУ = (100·n5+64·n4+36·n3+16·n2+7·n_н/а)/N.".into(),
            ],
        });
        let codes = journal
            .school_settings(year)
            .map(|s| s.policy.attendance_codes.clone())
            .unwrap_or_default();
        // Lateness is not a missed lesson: it is counted in lessons, and has no hours.
        let mut absence_rows: Vec<Vec<Value>> = self
            .absences
            .iter()
            .map(|(code, (lessons, minutes))| {
                let listed = codes.iter().find(|c| &c.code == code);
                let missed = listed.is_none_or(|c| c.missed);
                vec![
                    Value::text(match listed {
                        Some(c) => format!("{} — {}", c.code, c.name),
                        None => code.clone(),
                    }),
                    Value::Int(i64::from(*lessons)),
                    if missed {
                        hours(*minutes)
                    } else {
                        Value::Empty
                    },
                ]
            })
            .collect();
        absence_rows.push(vec![
            Value::text("Пропущено всего"),
            Value::Int(i64::from(self.lessons_missed)),
            hours(self.minutes_missed),
        ]);
        doc.sections.push(Section {
            heading: "Пропуски".into(),
            table: Table {
                columns: vec!["Отметка".into(), "Уроков".into(), "Часов".into()],
                rows: absence_rows,
                frozen_columns: 1,
            },
            notes: Vec::new(),
        });
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(v: u8) -> Option<MarkValue> {
        Some(MarkValue::Grade(v))
    }

    /// Worked by hand: N = 10 with three 5s, three 4s, two 3s, one 2 and one without a mark.
    /// успеваемость = 8/10 = 80 %, качество = 6/10 = 60 %,
    /// СОУ = (300 + 192 + 72 + 16 + 7) / 10 = 58.7, average = (15 + 12 + 6 + 2) / 9 = 3.888…
    #[test]
    fn subject_formulas_match_the_hand_computation() {
        let c = MarkCounts::of([g(5), g(5), g(5), g(4), g(4), g(4), g(3), g(3), g(2), None]);
        assert_eq!(
            (c.n, c.n5, c.n4, c.n3, c.n2, c.unassessed),
            (10, 3, 3, 2, 1, 1)
        );
        assert!((c.success_percent() - 80.0).abs() < 1e-9);
        assert!((c.quality_percent() - 60.0).abs() < 1e-9);
        assert!((c.degree_of_learning() - 58.7).abs() < 1e-9);
        assert!((c.average().expect("graded") - 35.0 / 9.0).abs() < 1e-9);
        assert_eq!(MarkCounts::of([]).degree_of_learning(), 0.0);
    }

    #[test]
    fn standings_follow_the_worst_marks() {
        assert_eq!(standing(&[g(5), g(5)]), StudentStanding::AllFives);
        assert_eq!(
            standing(&[g(5), Some(MarkValue::Pass)]),
            StudentStanding::AllFives
        );
        assert_eq!(standing(&[g(5), g(4)]), StudentStanding::FoursAndFives);
        assert_eq!(standing(&[g(5), g(3), None]), StudentStanding::OneThree);
        assert_eq!(standing(&[g(3), g(3)]), StudentStanding::Threes);
        assert_eq!(standing(&[g(5), g(2)]), StudentStanding::Failing);
        assert_eq!(
            standing(&[g(5), Some(MarkValue::Fail)]),
            StudentStanding::Failing
        );
        assert_eq!(standing(&[None, None]), StudentStanding::Unassessed);
    }
}
