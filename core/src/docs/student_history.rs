//! The edit log of a `student` document: every mark, attendance entry and final mark a change set, old →
//! new, read back from the document's own history, so no entry can change without appearing here.

use std::collections::BTreeMap;

use automerge::Automerge;
use time::Date;

use super::student::{self, StudentDoc};
use crate::domain::model::MarkPeriod;
use crate::error::SchemaError;
use crate::ids::{DocId, SubjectId, WorkKindId};

/// Which entry of a student's journal an edit touched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JournalEntry {
    /// A mark for a kind of work in a lesson.
    Mark {
        /// The lesson's subject.
        subject: SubjectId,
        /// The day the mark counts for.
        date: Date,
        /// The kind of work.
        kind: WorkKindId,
    },
    /// Attendance at a lesson.
    Attendance {
        /// The lesson's subject.
        subject: SubjectId,
        /// The lesson's day.
        date: Date,
        /// The lesson's period.
        period: u8,
    },
    /// A term or year mark.
    FinalMark {
        /// The subject.
        subject: SubjectId,
        /// The term, or the year.
        period: MarkPeriod,
    },
}

impl JournalEntry {
    /// The subject the entry is in.
    pub fn subject(&self) -> &SubjectId {
        match self {
            JournalEntry::Mark { subject, .. }
            | JournalEntry::Attendance { subject, .. }
            | JournalEntry::FinalMark { subject, .. } => subject,
        }
    }

    /// The lesson's day, for marks and attendance.
    pub fn date(&self) -> Option<Date> {
        match self {
            JournalEntry::Mark { date, .. } | JournalEntry::Attendance { date, .. } => Some(*date),
            JournalEntry::FinalMark { .. } => None,
        }
    }
}

/// One entry as one change left it: old → new.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalEdit {
    /// The change that made the edit (its hash, in hex), for the audit trail to name who and when.
    pub change: String,
    /// The entry.
    pub entry: JournalEntry,
    /// The value before, as the journal prints it («4», «н», «присутствовал»); `None` when there was none.
    pub old: Option<String>,
    /// The value after; `None` when the change removed the entry.
    pub new: Option<String>,
}

/// Every edit of the student document `doc`, change by change in causal order.
pub fn journal_edits(id: &DocId, doc: &Automerge) -> Result<Vec<JournalEdit>, SchemaError> {
    let mut replay = Automerge::new();
    let mut before = Entries::default();
    let mut edits = Vec::new();
    for change in doc.get_changes(&[]) {
        replay
            .apply_changes([change.clone()])
            .map_err(|e| SchemaError::new(id, format!("its history cannot be replayed: {e}")))?;
        let after = Entries::of(&student::read(id, &replay)?);
        edits.extend(before.edits_to(&after, &change.hash().to_string()));
        before = after;
    }
    Ok(edits)
}

/// A student's entries as printed values, keyed by the document's own keys.
#[derive(Debug, Default)]
struct Entries(BTreeMap<String, (JournalEntry, String)>);

impl Entries {
    fn of(doc: &StudentDoc) -> Entries {
        let mut entries = BTreeMap::new();
        for (id, mark) in &doc.marks {
            let mark = &mark.value;
            entries.insert(
                format!("mark/{id}"),
                (
                    JournalEntry::Mark {
                        subject: mark.subject.clone(),
                        date: mark.date,
                        kind: mark.kind.clone(),
                    },
                    mark.value.to_string(),
                ),
            );
        }
        for (lesson, attendance) in &doc.attendance {
            let attendance = &attendance.value;
            let mut shown = attendance
                .code
                .clone()
                .unwrap_or_else(|| "присутствовал".to_owned());
            if !attendance.note.is_empty() {
                shown = format!("{shown} ({})", attendance.note);
            }
            entries.insert(
                format!("attendance/{lesson}"),
                (
                    JournalEntry::Attendance {
                        subject: attendance.subject.clone(),
                        date: attendance.date,
                        period: attendance.period,
                    },
                    shown,
                ),
            );
        }
        for (key, mark) in &doc.final_marks {
            entries.insert(
                format!("final/{key}"),
                (
                    JournalEntry::FinalMark {
                        subject: key.subject.clone(),
                        period: key.period.clone(),
                    },
                    mark.value.value.to_string(),
                ),
            );
        }
        Entries(entries)
    }

    fn edits_to(&self, after: &Entries, change: &str) -> Vec<JournalEdit> {
        let mut keys: Vec<&String> = self.0.keys().chain(after.0.keys()).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .filter_map(|key| {
                let old = self.0.get(key);
                let new = after.0.get(key);
                if old.map(|(_, v)| v) == new.map(|(_, v)| v) {
                    return None;
                }
                let entry = new.or(old).map(|(entry, _)| entry.clone())?;
                Some(JournalEdit {
                    change: change.to_owned(),
                    entry,
                    old: old.map(|(_, v)| v.clone()),
                    new: new.map(|(_, v)| v.clone()),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use crate::{AttendanceInput, Journal, MarkInput, MarkValue, NewLesson};

    #[test]
    fn a_changed_mark_and_attendance_are_listed_old_to_new_and_untouched_entries_are_not() {
        let mut journal = Journal::open_in_memory().expect("journal");
        testing::school(&mut journal).expect("school");
        let class = testing::class_with_students(&mut journal, "5a", 2).expect("class");
        let year = testing::YEAR;
        let day = journal.settings(year).expect("settings").year.start;
        let lesson = journal
            .add_lesson(
                year,
                &class.class,
                &NewLesson {
                    date: day,
                    period: 1,
                    subject: "math".parse().expect("subject"),
                    teacher: class.teacher.clone(),
                    topic: String::new(),
                },
            )
            .expect("lesson");
        let (kid, other) = (&class.students[0], &class.students[1]);
        let mark = |grade: u8| MarkInput {
            value: MarkValue::Grade(grade),
            kind: "oral".parse().expect("kind"),
            comment: String::new(),
        };
        journal.put_mark(kid, &lesson, &mark(4)).expect("mark");
        journal.put_mark(other, &lesson, &mark(3)).expect("mark");
        journal.put_mark(kid, &lesson, &mark(5)).expect("changed");
        let absent = |code: Option<&str>| AttendanceInput {
            student: kid.clone(),
            code: code.map(str::to_owned),
            note: String::new(),
        };
        journal
            .mark_attendance(&lesson, &[absent(Some("н"))])
            .expect("absent");
        journal
            .mark_attendance(&lesson, &[absent(None)])
            .expect("came late after all");

        let id = DocId::Student(year, kid.clone());
        let doc = journal.document(&id).expect("held").automerge();
        let edits = journal_edits(&id, doc).expect("edits");
        let shown: Vec<String> = edits
            .iter()
            .map(|e| {
                let kind = match &e.entry {
                    JournalEntry::Mark { .. } => "mark",
                    JournalEntry::Attendance { .. } => "attendance",
                    JournalEntry::FinalMark { .. } => "final",
                };
                format!(
                    "{kind}: {} → {}",
                    e.old.as_deref().unwrap_or("—"),
                    e.new.as_deref().unwrap_or("—")
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                "mark: — → 4",
                "mark: 4 → 5",
                "attendance: — → н",
                "attendance: н → присутствовал"
            ],
            "the classmate's mark is in their own document, not here"
        );
        assert!(edits.iter().all(|e| e.entry.subject().as_str() == "math"));
        assert!(edits.iter().all(|e| e.entry.date() == Some(day)));
    }
}
