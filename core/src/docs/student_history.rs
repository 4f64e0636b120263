//! The edit log of a `student` document: every mark, attendance entry and final mark a change set, old →
//! new, read back from the document's own history, so no entry can change without appearing here.

use std::collections::{BTreeMap, BTreeSet};

use automerge::legacy::{Key, ObjectId};
use automerge::{Automerge, ObjId, ObjType, ROOT, ReadDoc};
use time::Date;

use super::cell::read_json_cell;
use super::student::FinalMarkKey;
use crate::domain::model::{Attendance, Mark, MarkPeriod, PeriodMark};
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
///
/// The history is replayed once; after each change only the entries its operations touched are read
/// again, so a year of a student's entries costs in proportion to its changes, not their square.
pub fn journal_edits(id: &DocId, doc: &Automerge) -> Result<Vec<JournalEdit>, SchemaError> {
    let mut replay = Automerge::new();
    let mut entries: BTreeMap<(Section, String), (JournalEntry, String)> = BTreeMap::new();
    let mut edits = Vec::new();
    for change in doc.get_changes(&[]) {
        replay
            .apply_changes([change.clone()])
            .map_err(|e| SchemaError::new(id, format!("its history cannot be replayed: {e}")))?;
        let hash = change.hash().to_string();
        let mut touched: BTreeSet<(Section, String)> = BTreeSet::new();
        for op in change.decode().operations {
            let Key::Map(key) = &op.key else { continue };
            match &op.obj {
                ObjectId::Root => {
                    if let Some(section) = Section::named(key) {
                        // The section's map itself was (re)made: read all of it again.
                        touched.extend(
                            entries
                                .keys()
                                .filter(|(s, _)| *s == section)
                                .cloned()
                                .collect::<Vec<_>>(),
                        );
                        if let Some(obj) = section_map(&replay, section) {
                            touched.extend(
                                replay
                                    .map_range(&obj, ..)
                                    .map(|item| (section, item.key.to_string())),
                            );
                        }
                    }
                }
                ObjectId::Id(op_id) => {
                    for section in Section::ALL {
                        if section_map(&replay, section)
                            .is_some_and(|obj| is_object(&obj, op_id.0, &op_id.1))
                        {
                            touched.insert((section, key.to_string()));
                        }
                    }
                }
            }
        }
        for (section, key) in touched {
            let now = read_entry(id, &replay, section, &key)?;
            let was = entries.get(&(section, key.clone()));
            if was.map(|(_, v)| v) == now.as_ref().map(|(_, v)| v) {
                continue;
            }
            let Some(entry) = now.as_ref().or(was).map(|(entry, _)| entry.clone()) else {
                continue;
            };
            edits.push(JournalEdit {
                change: hash.clone(),
                entry,
                old: was.map(|(_, v)| v.clone()),
                new: now.as_ref().map(|(_, v)| v.clone()),
            });
            match now {
                Some(now) => entries.insert((section, key), now),
                None => entries.remove(&(section, key)),
            };
        }
    }
    Ok(edits)
}

/// The maps of a student document whose entries the log follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Marks,
    Attendance,
    FinalMarks,
}

impl Section {
    const ALL: [Section; 3] = [Section::Marks, Section::Attendance, Section::FinalMarks];

    fn key(self) -> &'static str {
        match self {
            Section::Marks => "marks",
            Section::Attendance => "attendance",
            Section::FinalMarks => "final_marks",
        }
    }

    fn named(key: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.key() == key)
    }
}

fn section_map(doc: &Automerge, section: Section) -> Option<ObjId> {
    match doc.get(ROOT, section.key()) {
        Ok(Some((automerge::Value::Object(ObjType::Map), obj))) => Some(obj),
        _ => None,
    }
}

fn is_object(obj: &ObjId, counter: u64, actor: &automerge::ActorId) -> bool {
    matches!(obj, ObjId::Id(c, a, _) if *c == counter && a == actor)
}

/// One entry as it reads in `doc` now, with its printed value; `None` when it is absent.
fn read_entry(
    id: &DocId,
    doc: &Automerge,
    section: Section,
    key: &str,
) -> Result<Option<(JournalEntry, String)>, SchemaError> {
    let Some(obj) = section_map(doc, section) else {
        return Ok(None);
    };
    Ok(match section {
        Section::Marks => read_json_cell::<Mark>(id, doc, &obj, key)?.map(|cell| {
            let mark = cell.value;
            (
                JournalEntry::Mark {
                    subject: mark.subject,
                    date: mark.date,
                    kind: mark.kind,
                },
                mark.value.to_string(),
            )
        }),
        Section::Attendance => read_json_cell::<Attendance>(id, doc, &obj, key)?.map(|cell| {
            let attendance = cell.value;
            let mut shown = attendance
                .code
                .unwrap_or_else(|| "присутствовал".to_owned());
            if !attendance.note.is_empty() {
                shown = format!("{shown} ({})", attendance.note);
            }
            (
                JournalEntry::Attendance {
                    subject: attendance.subject,
                    date: attendance.date,
                    period: attendance.period,
                },
                shown,
            )
        }),
        Section::FinalMarks => {
            let final_key: FinalMarkKey = key.parse().map_err(|_| {
                SchemaError::new(id, format!("final mark has a malformed key {key:?}"))
            })?;
            read_json_cell::<PeriodMark>(id, doc, &obj, key)?.map(|cell| {
                (
                    JournalEntry::FinalMark {
                        subject: final_key.subject,
                        period: final_key.period,
                    },
                    cell.value.value.to_string(),
                )
            })
        }
    })
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
