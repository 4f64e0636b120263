//! The entries of the journal: classes, rosters, lessons, marks, attendance, term marks, people.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::domain::calendar::{iso_date, iso_date_opt};
use crate::domain::policy::MarkValue;
use crate::ids::{ClassId, LessonId, StaffId, SubjectId, TermId, WorkKindId};

/// A subject of the school's catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// Full name ("Математика").
    pub name: String,
}

/// What a class is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassInfo {
    /// Name as the school writes it ("5А").
    pub name: String,
    /// Grade (1–11).
    pub grade: u8,
    /// The class teacher (классный руководитель).
    pub class_teacher: Option<StaffId>,
}

/// A student on a class roster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterEntry {
    /// Name as printed in the journal ("Иванов Иван").
    pub name: String,
    /// First day in the class.
    #[serde(with = "iso_date")]
    pub joined: Date,
    /// Last day in the class, when the student left or moved.
    #[serde(with = "iso_date_opt", default)]
    pub left: Option<Date>,
    /// Subjects the student is exempt from (left out of the class statistics).
    #[serde(default)]
    pub exempt: BTreeSet<SubjectId>,
}

impl RosterEntry {
    /// Whether the student was in the class on `date`.
    pub fn active_on(&self, date: Date) -> bool {
        self.joined <= date && self.left.is_none_or(|left| date <= left)
    }
}

/// Who teaches a subject in a class.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectAssignment {
    /// The teacher.
    pub teacher: StaffId,
}

/// One lesson of a class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lesson {
    /// Stable id.
    pub id: LessonId,
    /// Day of the lesson.
    pub date: Date,
    /// Period number in the bell schedule.
    pub period: u8,
    /// Subject taught.
    pub subject: SubjectId,
    /// Who taught it.
    pub teacher: StaffId,
    /// Topic of the lesson, as written in the journal.
    pub topic: String,
    /// Homework set.
    pub homework: String,
    /// When the homework is due, if the teacher said.
    pub homework_due: Option<Date>,
}

/// A new lesson to schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLesson {
    /// Day.
    pub date: Date,
    /// Period number.
    pub period: u8,
    /// Subject.
    pub subject: SubjectId,
    /// Teacher.
    pub teacher: StaffId,
    /// Topic, may be empty and filled in later.
    pub topic: String,
}

/// One mark in a student's document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mark {
    /// Lesson the mark was given in.
    pub lesson: LessonId,
    /// Subject (kept with the mark, so a student's document reads alone).
    pub subject: SubjectId,
    /// Date the mark counts for.
    #[serde(with = "iso_date")]
    pub date: Date,
    /// The mark.
    pub value: MarkValue,
    /// Kind of work, which sets its weight.
    pub kind: WorkKindId,
    /// Teacher's comment.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// Who gave it.
    pub teacher: StaffId,
}

/// What a teacher enters for a mark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkInput {
    /// The mark.
    pub value: MarkValue,
    /// Kind of work.
    pub kind: WorkKindId,
    /// Comment, may be empty.
    pub comment: String,
}

/// A student's attendance at one lesson.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attendance {
    /// Subject of the lesson.
    pub subject: SubjectId,
    /// Day of the lesson.
    #[serde(with = "iso_date")]
    pub date: Date,
    /// Period of the lesson.
    pub period: u8,
    /// The school's code ("н", "б", …), or `None` when the student was present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Why it was set or corrected (a sick note).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// A term or year mark set by the teacher.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodMark {
    /// The mark.
    pub value: MarkValue,
    /// Who set it.
    pub teacher: StaffId,
    /// When it was set.
    #[serde(with = "iso_date")]
    pub date: Date,
}

/// The period a final mark is for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MarkPeriod {
    /// One term.
    Term(TermId),
    /// The whole year.
    Year,
}

/// Roles a person has in the school (the directory's, shown on the device).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "role", content = "class")]
pub enum Role {
    /// Director and deputies.
    Administration,
    /// Subject teacher.
    Teacher,
    /// Class teacher of one class.
    ClassTeacher(ClassId),
    /// A student.
    Student,
    /// A parent or guardian.
    Parent,
}

/// A staff member as the directory lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staff {
    /// Stable id.
    pub id: StaffId,
    /// Full name.
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
}

/// A guardian of one or more students.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guardian {
    /// Full name.
    pub name: String,
    /// Relation to the student ("мать", "отец", "опекун").
    pub relation: String,
    /// Phone, as written.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phone: String,
    /// E-mail.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
}

/// A student's personal data, kept in the `profile` document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudentProfile {
    /// Full name ("Иванов Иван Петрович").
    pub full_name: String,
    /// Date of birth.
    #[serde(with = "iso_date_opt", default)]
    pub birth_date: Option<Date>,
    /// Home address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// Author's account id.
    pub author: String,
    /// When it was written (Unix seconds, the author's clock).
    pub written_at: i64,
    /// Text.
    pub text: String,
    /// Small files sent with it (a photo of a sick note).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A small file attached to a message; the bytes travel inside the conversation's document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// File name as the sender chose it.
    pub name: String,
    /// Media type ("image/jpeg").
    pub mime: String,
    /// The bytes, base64 (standard alphabet, padded).
    pub data: String,
}

/// Who a conversation is with: one account, or everyone who stands for a student.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Participant {
    /// One account (staff, a parent, a student).
    Account(String),
    /// Every guardian of a student: the family, whoever of them reads it.
    Guardians(crate::ids::StudentId),
    /// The student's own account.
    Student(crate::ids::StudentId),
}

impl std::fmt::Display for Participant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Participant::Account(a) => write!(f, "account:{a}"),
            Participant::Guardians(s) => write!(f, "guardians:{s}"),
            Participant::Student(s) => write!(f, "student:{s}"),
        }
    }
}

impl std::str::FromStr for Participant {
    type Err = crate::error::InputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            crate::error::InputError::Invalid(format!(
                "participant {s:?} is not account:<id>, guardians:<student> or student:<student>"
            ))
        };
        let (kind, id) = s.split_once(':').ok_or_else(bad)?;
        match kind {
            "account" => {
                crate::ids::StaffId::new(id).map_err(|_| bad())?;
                Ok(Participant::Account(id.to_owned()))
            }
            "guardians" => Ok(Participant::Guardians(id.parse().map_err(|_| bad())?)),
            "student" => Ok(Participant::Student(id.parse().map_err(|_| bad())?)),
            _ => Err(bad()),
        }
    }
}

/// What kind of conversation a thread is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreadKind {
    /// A conversation someone started.
    Conversation,
    /// A class teacher's announcement to one family or one student of the class.
    Announcement,
    /// The weekly digest of one student, to the family.
    Digest,
}

/// The heading of a conversation, written once by whoever started it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadInfo {
    /// Subject line.
    pub subject: String,
    /// Kind.
    pub kind: ThreadKind,
    /// Account that started it.
    pub started_by: String,
    /// When (Unix seconds, the starter's clock).
    pub started_at: i64,
}

/// One topic of a subject's thematic plan for a term, with the lessons planned for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedTopic {
    /// The topic.
    pub topic: String,
    /// Lessons planned for it.
    pub lessons: u16,
}
