//! The journal on one device: typed documents kept in memory as the read model, every write committed to the
//! local store in one transaction before the call returns.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use automerge::ActorId;
use time::Date;
use tracing::{debug, warn};

use crate::docs::{
    Cell, ClassDoc, Document, FinalMarkKey, LessonField, SchoolDoc, SchoolSettings, StudentDoc,
    View,
};
use crate::domain::calendar::BellSchedule;
use crate::domain::calendar::{SchoolYear, TermScheme, format_date};
use crate::domain::model::PlannedTopic;
use crate::domain::model::{
    Attendance, ClassInfo, Lesson, Mark, MarkInput, MarkPeriod, NewLesson, PeriodMark, RosterEntry,
    StudentProfile, Subject, SubjectAssignment,
};
use crate::domain::policy::MarkingPolicy;
use crate::error::{Error, InputError, Result, StoreError};
use crate::ids::TermId;
use crate::ids::{
    ClassId, DocId, LessonId, MarkId, StaffId, StudentId, SubjectId, YearId, random_id,
};
use crate::store::Store;
use crate::validate::ValidationContext;

/// Everything administration sets up for a school year.
#[derive(Clone, Debug, PartialEq)]
pub struct SchoolSetup {
    /// Header, year, policy and bells.
    pub settings: SchoolSettings,
    /// The subject catalogue.
    pub subjects: Vec<(SubjectId, Subject)>,
}

impl SchoolSetup {
    /// A school with the standard year (trimesters), the default policy and bells, and no subjects yet.
    pub fn standard(year: YearId, name: &str) -> Self {
        SchoolSetup {
            settings: SchoolSettings {
                name: name.to_owned(),
                header: vec![name.to_owned()],
                year: SchoolYear::standard(year, TermScheme::Trimesters),
                policy: MarkingPolicy::default(),
                bells: BellSchedule::default(),
            },
            subjects: Vec::new(),
        }
    }
}

/// What a rollover did: each old class and the class it became (`None`: it graduated), and the graduates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Promotion {
    /// Old class → new class.
    pub classes: Vec<(ClassId, Option<ClassId>)>,
    /// Students who finished school.
    pub graduates: Vec<StudentId>,
}

/// One student's attendance at a lesson, as the teacher enters it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttendanceInput {
    /// The student.
    pub student: StudentId,
    /// The school's code, or `None` for present.
    pub code: Option<String>,
    /// Why (a sick note); may be empty.
    pub note: String,
}

/// Where devices disagree.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConflictTarget {
    /// A student's attendance at a lesson.
    Attendance {
        /// School year.
        year: YearId,
        /// Student.
        student: StudentId,
        /// Lesson.
        lesson: LessonId,
    },
    /// A mark.
    Mark {
        /// School year.
        year: YearId,
        /// Student.
        student: StudentId,
        /// Mark.
        mark: MarkId,
    },
    /// A term or year mark.
    FinalMark {
        /// School year.
        year: YearId,
        /// Student.
        student: StudentId,
        /// Subject and period.
        key: FinalMarkKey,
    },
    /// A lesson's topic or homework.
    Lesson {
        /// School year.
        year: YearId,
        /// Class.
        class: ClassId,
        /// Lesson.
        lesson: LessonId,
        /// Which text.
        field: LessonField,
    },
}

impl std::fmt::Display for ConflictTarget {
    /// Where the conflict is, in words a teacher can follow ("the mark m1 of s5a1").
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConflictTarget::Attendance {
                student, lesson, ..
            } => write!(f, "attendance of {student} at lesson {lesson}"),
            ConflictTarget::Mark { student, mark, .. } => write!(f, "mark {mark} of {student}"),
            ConflictTarget::FinalMark { student, key, .. } => {
                write!(f, "final mark {key} of {student}")
            }
            ConflictTarget::Lesson {
                class,
                lesson,
                field,
                ..
            } => {
                let what = match field {
                    LessonField::Topic => "topic",
                    LessonField::Homework => "homework",
                };
                write!(f, "{what} of lesson {lesson} in class {class}")
            }
        }
    }
}

/// A conflict to show a teacher: the value every device reads first, then the competing ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// What is in conflict.
    pub target: ConflictTarget,
    /// Readable values; index 0 is the current winner. Pass an index to [`Journal::resolve_conflict`].
    pub values: Vec<String>,
}

/// The journal of one device.
#[derive(Debug)]
pub struct Journal {
    pub(crate) store: Store,
    pub(crate) actor: ActorId,
    pub(crate) docs: BTreeMap<DocId, Document>,
    pub(crate) lesson_index: HashMap<LessonId, (YearId, ClassId)>,
    /// Automerge sync state per document and peer, loaded from the store on first use.
    pub(crate) sync_states: HashMap<(DocId, String), automerge::sync::State>,
    /// Documents changed locally since the sync client last looked.
    dirty: std::collections::BTreeSet<DocId>,
    /// Documents touched inside [`Journal::batch`], persisted together when it ends.
    batch: Option<Vec<DocId>>,
    /// Who signs the marks given on this device (the signed-in staff member), once looked up.
    pub(crate) signer: Option<Option<StaffId>>,
}

pub(crate) fn unknown(kind: &'static str, id: impl ToString) -> Error {
    InputError::Unknown {
        kind,
        id: id.to_string(),
    }
    .into()
}

fn attendance_text(a: &Attendance) -> String {
    a.code.clone().unwrap_or_else(|| "present".to_owned())
}

fn mark_text(m: &Mark) -> String {
    format!("{} ({})", m.value, m.kind)
}

fn cell_texts<T>(cell: &Cell<T>, show: impl Fn(&T) -> String) -> Vec<String> {
    std::iter::once(&cell.value)
        .chain(&cell.competing)
        .map(show)
        .collect()
}

fn push_once(touched: &mut Vec<DocId>, id: &DocId) {
    if !touched.contains(id) {
        touched.push(id.clone());
    }
}

impl Journal {
    /// Opens the journal stored at `path`, creating it when new.
    pub fn open(path: &Path) -> Result<Self> {
        Self::with_store(Store::open(path)?)
    }

    /// Opens the journal at `path` sealed at rest under the platform's 32-byte `key`; a journal stored
    /// unsealed is sealed now. A wrong key is refused and nothing is changed.
    pub fn open_sealed(path: &Path, key: &[u8]) -> Result<Self> {
        Self::with_store(Store::open_sealed(path, key)?)
    }

    /// A journal that lives in memory only.
    pub fn open_in_memory() -> Result<Self> {
        Self::with_store(Store::open_in_memory()?)
    }

    fn with_store(mut store: Store) -> Result<Self> {
        let actor = ActorId::from(store.actor(|| ActorId::random().to_bytes().to_vec())?);
        let mut journal = Journal {
            store,
            actor,
            docs: BTreeMap::new(),
            lesson_index: HashMap::new(),
            sync_states: HashMap::new(),
            dirty: Default::default(),
            batch: None,
            signer: None,
        };
        let stored = journal.store.load_all()?;
        // Each document parses on its own: opening a teacher's year is mostly this, spread over the cores.
        let actor = &journal.actor;
        let loaded = crate::parallel::map(&stored, |(id, bytes)| -> Result<Document> {
            let doc_id: DocId = id.parse()?;
            Document::load(doc_id, bytes, actor).map_err(|e| {
                StoreError::Corrupt {
                    doc: id.clone(),
                    reason: e.to_string(),
                }
                .into()
            })
        });
        for doc in loaded {
            let doc = doc?;
            let doc_id = doc.id().clone();
            journal.docs.insert(doc_id.clone(), doc);
            journal.reindex(&doc_id);
        }
        debug!(documents = journal.docs.len(), "opened the journal");
        Ok(journal)
    }

    /// The documents this device holds.
    pub fn documents(&self) -> impl Iterator<Item = &Document> {
        self.docs.values()
    }

    /// One document.
    pub fn document(&self, id: &DocId) -> Option<&Document> {
        self.docs.get(id)
    }

    /// Holds `doc` as it is in place of this journal's copy, without merging, validating or storing it: for
    /// a read model over documents another component has already validated (the relay's reports).
    pub fn replace_document(&mut self, doc: Document) {
        let id = doc.id().clone();
        self.docs.insert(id.clone(), doc);
        self.reindex(&id);
    }

    /// Merges another replica's copy of a document (received by sync or file), committed before returning.
    /// A copy that would break the document schema is refused and nothing changes.
    pub fn merge_document(&mut self, other: &Document) -> Result<()> {
        let id = other.id().clone();
        let settings = self.settings_for(&id);
        let ctx = ValidationContext::with_settings(settings.as_ref());
        self.change(|j, touched| {
            match j.docs.get_mut(&id) {
                Some(doc) => doc.merge(other, &ctx)?,
                None => {
                    let mut doc = Document::create(id.clone(), &j.actor)?;
                    doc.merge(other, &ctx)?;
                    j.docs.insert(id.clone(), doc);
                }
            }
            push_once(touched, &id);
            Ok(())
        })?;
        self.reindex(&id);
        Ok(())
    }

    /// The token secret this device proposes when it redeems `code` (64 hex digits): derived from a secret
    /// only this device holds, so it is the same each time this device sends that code, and a retry after
    /// a lost reply gets the same answer from the relay. Nobody else can compute it.
    pub fn redemption_secret(&mut self, code: &crate::access_code::AccessCode) -> Result<String> {
        use ring::rand::SecureRandom;
        let secret = self.store.device_secret(|| {
            let mut bytes = vec![0u8; 32];
            ring::rand::SystemRandom::new()
                .fill(&mut bytes)
                .expect("the operating system's random source is available");
            bytes
        })?;
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
        let tag = ring::hmac::sign(
            &key,
            format!("journal access code v1\0{}", code.canonical()).as_bytes(),
        );
        Ok(hex::encode(tag.as_ref()))
    }

    /// This device's id (its Automerge actor, hex): the storage id the relay keeps sync state under.
    pub fn device_id(&self) -> String {
        self.actor.to_hex_string()
    }

    /// Documents changed locally since the last call, for the sync client to send.
    pub fn take_dirty(&mut self) -> Vec<DocId> {
        std::mem::take(&mut self.dirty).into_iter().collect()
    }

    /// The local database's verdict on its own integrity (`ok` when sound).
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self.store.integrity_check()?)
    }

    // ----- reading helpers shared by writes and queries -----

    pub(crate) fn school_doc(&self, year: YearId) -> Option<&SchoolDoc> {
        match self.docs.get(&DocId::School(year)).map(Document::view) {
            Some(View::School(s)) => Some(s),
            _ => None,
        }
    }

    /// The school's settings for a year, once administration has set them up on or synced to this device.
    pub fn school_settings(&self, year: YearId) -> Option<&SchoolSettings> {
        self.school_doc(year)
            .and_then(|s| s.settings.as_ref())
            .map(|c| &c.value)
    }

    pub(crate) fn settings(&self, year: YearId) -> Result<&SchoolSettings> {
        self.school_settings(year)
            .ok_or_else(|| unknown("school year", year))
    }

    pub(crate) fn class_doc(&self, year: YearId, class: &ClassId) -> Result<&ClassDoc> {
        match self
            .docs
            .get(&DocId::Class(year, class.clone()))
            .map(Document::view)
        {
            Some(View::Class(c)) => Ok(c),
            _ => Err(unknown("class", class)),
        }
    }

    pub(crate) fn student_doc(&self, year: YearId, student: &StudentId) -> Option<&StudentDoc> {
        match self
            .docs
            .get(&DocId::Student(year, student.clone()))
            .map(Document::view)
        {
            Some(View::Student(s)) => Some(s),
            _ => None,
        }
    }

    /// A lesson by id, with its year and class.
    pub fn lesson(&self, lesson: &LessonId) -> Result<(YearId, ClassId, &Lesson)> {
        let (year, class) = self
            .lesson_index
            .get(lesson)
            .ok_or_else(|| unknown("lesson", lesson))?;
        let found = self
            .class_doc(*year, class)?
            .lessons
            .get(lesson)
            .ok_or_else(|| unknown("lesson", lesson))?;
        Ok((*year, class.clone(), found))
    }

    pub(crate) fn reindex(&mut self, id: &DocId) {
        let DocId::Class(year, class) = id else {
            return;
        };
        self.lesson_index
            .retain(|_, (y, c)| !(*y == *year && c == class));
        if let Some(View::Class(doc)) = self.docs.get(id).map(Document::view) {
            for lesson in doc.lessons.keys() {
                self.lesson_index
                    .insert(lesson.clone(), (*year, class.clone()));
            }
        }
    }

    // ----- the write path -----

    /// Runs several write calls as one: one SQLite transaction at the end, and on any error nothing of
    /// them is kept. Used by imports and bulk entry.
    pub fn batch<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.batch.is_some() {
            return f(self);
        }
        self.batch = Some(Vec::new());
        let result = f(self);
        let touched = self.batch.take().unwrap_or_default();
        let result = result.and_then(|out| self.persist(&touched).map(|()| out));
        if result.is_err() {
            self.restore(&touched);
        }
        result
    }

    /// Runs a change over several documents and commits it to the store in one transaction; on any error the
    /// documents are restored from the store and nothing is kept. Inside a batch, the batch commits.
    pub(crate) fn change<T>(
        &mut self,
        f: impl FnOnce(&mut Self, &mut Vec<DocId>) -> Result<T>,
    ) -> Result<T> {
        let mut touched = Vec::new();
        let result = f(self, &mut touched);
        if let Some(batch) = &mut self.batch {
            for id in &touched {
                push_once(batch, id);
            }
            return result;
        }
        let result = result.and_then(|out| self.persist(&touched).map(|()| out));
        if result.is_err() {
            self.restore(&touched);
        }
        result
    }

    fn persist(&mut self, touched: &[DocId]) -> Result<()> {
        let docs = &self.docs;
        let mut compacted = Vec::new();
        self.store.write(|w| -> Result<()> {
            for id in touched {
                let Some(doc) = docs.get(id) else { continue };
                let Some(bytes) = doc.unsaved_changes() else {
                    continue;
                };
                let key = id.to_string();
                let stats = w.append_chunk(&key, &bytes)?;
                if stats.needs_compaction() {
                    w.replace_snapshot(&key, &doc.snapshot())?;
                    compacted.push(key);
                }
            }
            Ok(())
        })?;
        if !compacted.is_empty() {
            debug!(documents = compacted.len(), "compacted documents");
        }
        for id in touched {
            if let Some(doc) = self.docs.get_mut(id) {
                doc.mark_saved();
                self.dirty.insert(id.clone());
            }
        }
        Ok(())
    }

    /// Puts touched documents back to what the store holds.
    pub(crate) fn restore(&mut self, touched: &[DocId]) {
        let stored: HashMap<String, Vec<u8>> = match self.store.load_all() {
            Ok(all) => all.into_iter().collect(),
            Err(e) => {
                warn!(error = %e, "could not reload documents after a failed write");
                HashMap::new()
            }
        };
        for id in touched {
            match stored.get(&id.to_string()) {
                Some(bytes) => match Document::load(id.clone(), bytes, &self.actor) {
                    Ok(doc) => {
                        self.docs.insert(id.clone(), doc);
                    }
                    Err(e) => warn!(doc = %id, error = %e, "could not reload a document"),
                },
                None => {
                    self.docs.remove(id);
                }
            }
            self.reindex(id);
        }
    }

    pub(crate) fn doc_mut(
        &mut self,
        id: &DocId,
        touched: &mut Vec<DocId>,
    ) -> Result<&mut Document> {
        if !self.docs.contains_key(id) {
            let doc = Document::create(id.clone(), &self.actor)?;
            self.docs.insert(id.clone(), doc);
        }
        push_once(touched, id);
        self.docs.get_mut(id).ok_or_else(|| unknown("document", id))
    }

    // ----- administration -----

    /// Creates or updates the school's settings and subject catalogue for a year.
    pub fn set_up_school(&mut self, setup: &SchoolSetup) -> Result<()> {
        setup.settings.year.check()?;
        setup.settings.policy.check()?;
        if setup.settings.name.trim().is_empty() {
            return Err(InputError::Invalid("the school needs a name".to_owned()).into());
        }
        let id = DocId::School(setup.settings.year.id);
        self.change(|j, touched| {
            let doc = j.doc_mut(&id, touched)?;
            doc.set_school_settings(&setup.settings)?;
            for (subject_id, subject) in &setup.subjects {
                doc.put_subject(subject_id, subject)?;
            }
            Ok(())
        })
    }

    /// Adds a class or changes its name, grade or class teacher.
    pub fn put_class(&mut self, year: YearId, class: &ClassId, info: &ClassInfo) -> Result<()> {
        self.settings(year)?;
        if info.name.trim().is_empty() || !(1..=11).contains(&info.grade) {
            return Err(InputError::Invalid(format!(
                "class {class} needs a name and a grade from 1 to 11"
            ))
            .into());
        }
        let id = DocId::Class(year, class.clone());
        self.change(|j, touched| j.doc_mut(&id, touched)?.set_class_info(info))
    }

    /// Assigns the teacher of a subject in a class.
    pub fn assign_subject(
        &mut self,
        year: YearId,
        class: &ClassId,
        subject: &SubjectId,
        teacher: &StaffId,
    ) -> Result<()> {
        self.known_subject(year, subject)?;
        self.class_doc(year, class)?;
        let id = DocId::Class(year, class.clone());
        let assignment = SubjectAssignment {
            teacher: teacher.clone(),
        };
        self.change(|j, touched| {
            j.doc_mut(&id, touched)?
                .put_subject_assignment(subject, &assignment)
        })
    }

    fn known_subject(&self, year: YearId, subject: &SubjectId) -> Result<()> {
        let school = self
            .school_doc(year)
            .ok_or_else(|| unknown("school year", year))?;
        if school.subjects.contains_key(subject) {
            Ok(())
        } else {
            Err(unknown("subject", subject))
        }
    }

    fn check_in_year(&self, year: YearId, what: &'static str, date: Date) -> Result<()> {
        let settings = self.settings(year)?;
        if settings.year.range().contains(date) {
            Ok(())
        } else {
            Err(InputError::OutsideSchoolYear {
                what,
                date: format_date(date),
                year: year.to_string(),
                start: format_date(settings.year.start),
                end: format_date(settings.year.end),
            }
            .into())
        }
    }

    /// Enrols a student in a class from `joined` on, creating their year's documents.
    pub fn enrol_student(
        &mut self,
        year: YearId,
        class: &ClassId,
        student: &StudentId,
        name: &str,
        joined: Date,
    ) -> Result<()> {
        self.check_in_year(year, "enrolment", joined)?;
        self.class_doc(year, class)?;
        if name.trim().is_empty() {
            return Err(InputError::Invalid(format!("student {student} needs a name")).into());
        }
        if let Some(current) = self
            .student_doc(year, student)
            .and_then(|s| s.class.clone())
            && &current != class
        {
            return Err(InputError::Duplicate(format!(
                "student {student} is already in class {current}; move them instead"
            ))
            .into());
        }
        let entry = RosterEntry {
            name: name.trim().to_owned(),
            joined,
            left: None,
            exempt: Default::default(),
        };
        let class_id = DocId::Class(year, class.clone());
        let student_id = DocId::Student(year, student.clone());
        self.change(|j, touched| {
            j.doc_mut(&class_id, touched)?
                .put_roster_entry(student, &entry)?;
            j.doc_mut(&student_id, touched)?.set_student_class(class)?;
            Ok(())
        })
    }

    /// Moves a student to another class from `date` on; their marks and attendance stay in their document.
    pub fn move_student(
        &mut self,
        year: YearId,
        student: &StudentId,
        to: &ClassId,
        date: Date,
    ) -> Result<()> {
        self.check_in_year(year, "move", date)?;
        let from = self
            .student_doc(year, student)
            .and_then(|s| s.class.clone())
            .ok_or_else(|| unknown("student", student))?;
        if &from == to {
            return Err(InputError::Duplicate(format!(
                "student {student} is already in class {to}"
            ))
            .into());
        }
        let mut old_entry = self
            .class_doc(year, &from)?
            .roster
            .get(student)
            .map(|c| c.value.clone())
            .ok_or_else(|| unknown("student", student))?;
        self.class_doc(year, to)?;
        let last_day = date
            .previous_day()
            .ok_or_else(|| InputError::Invalid("date out of range".to_owned()))?;
        let new_entry = RosterEntry {
            name: old_entry.name.clone(),
            joined: date,
            left: None,
            exempt: old_entry.exempt.clone(),
        };
        old_entry.left = Some(last_day);
        self.change(|j, touched| {
            j.doc_mut(&DocId::Class(year, from.clone()), touched)?
                .put_roster_entry(student, &old_entry)?;
            j.doc_mut(&DocId::Class(year, to.clone()), touched)?
                .put_roster_entry(student, &new_entry)?;
            j.doc_mut(&DocId::Student(year, student.clone()), touched)?
                .set_student_class(to)?;
            Ok(())
        })
    }

    /// Marks a student exempt from a subject (or not), which leaves them out of that subject's statistics.
    pub fn set_exempt(
        &mut self,
        year: YearId,
        class: &ClassId,
        student: &StudentId,
        subject: &SubjectId,
        exempt: bool,
    ) -> Result<()> {
        self.known_subject(year, subject)?;
        let mut entry = self
            .class_doc(year, class)?
            .roster
            .get(student)
            .map(|c| c.value.clone())
            .ok_or_else(|| unknown("student", student))?;
        if exempt {
            entry.exempt.insert(subject.clone());
        } else {
            entry.exempt.remove(subject);
        }
        let id = DocId::Class(year, class.clone());
        self.change(|j, touched| j.doc_mut(&id, touched)?.put_roster_entry(student, &entry))
    }

    /// Sets a student's personal data and records the review date.
    pub fn set_profile(
        &mut self,
        year: YearId,
        student: &StudentId,
        profile: &StudentProfile,
        reviewed: Date,
    ) -> Result<()> {
        if profile.full_name.trim().is_empty() {
            return Err(InputError::Invalid(
                "the profile needs the student's full name".to_owned(),
            )
            .into());
        }
        let id = DocId::Profile(year, student.clone());
        self.change(|j, touched| {
            let doc = j.doc_mut(&id, touched)?;
            doc.set_student_profile(profile)?;
            doc.set_last_reviewed(reviewed)
        })
    }

    // ----- year-end rollover -----

    /// Opens the year after `from`: a new `school` document with the same settings and subjects and the
    /// standard dates; every class promoted one grade ("5А" → "6А", id `5a` → `6a`) with its class
    /// teacher, subject teachers and the students still on its roster; their profiles carried over.
    /// Eleventh grades graduate. Last year's documents are not touched.
    pub fn roll_over(&mut self, from: YearId) -> Result<Promotion> {
        let to = YearId(from.0 + 1);
        let settings = self.settings(from)?.clone();
        if self.school_settings(to).is_some() {
            return Err(
                InputError::Duplicate(format!("the school year {to} already exists")).into(),
            );
        }
        let scheme = match settings.year.terms.len() {
            4 => TermScheme::Quarters,
            2 => TermScheme::Semesters,
            _ => TermScheme::Trimesters,
        };
        let subjects: Vec<(SubjectId, Subject)> = self
            .school_doc(from)
            .map(|s| {
                s.subjects
                    .iter()
                    .map(|(id, c)| (id.clone(), c.value.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let mut next = settings.clone();
        next.year = SchoolYear::standard(to, scheme);
        let mut promotion = Promotion::default();
        let old_classes: Vec<(ClassId, ClassDoc)> = self
            .docs
            .iter()
            .filter_map(|(id, doc)| match (id, doc.view()) {
                (DocId::Class(year, class), View::Class(view)) if *year == from => {
                    Some((class.clone(), view.clone()))
                }
                _ => None,
            })
            .collect();
        let profiles: Vec<(StudentId, crate::docs::ProfileDoc)> = self
            .docs
            .iter()
            .filter_map(|(id, doc)| match (id, doc.view()) {
                (DocId::Profile(year, student), View::Profile(view)) if *year == from => {
                    Some((student.clone(), view.clone()))
                }
                _ => None,
            })
            .collect();
        self.batch(|j| {
            j.set_up_school(&SchoolSetup {
                settings: next.clone(),
                subjects,
            })?;
            for (class, view) in &old_classes {
                let Some(info) = view.info.as_ref().map(|c| c.value.clone()) else {
                    continue;
                };
                let staying: Vec<(StudentId, String)> = view
                    .roster
                    .iter()
                    .filter(|(_, e)| e.value.left.is_none())
                    .map(|(id, e)| (id.clone(), e.value.name.clone()))
                    .collect();
                if info.grade >= 11 {
                    promotion
                        .graduates
                        .extend(staying.into_iter().map(|(id, _)| id));
                    promotion.classes.push((class.clone(), None));
                    continue;
                }
                let grade = info.grade + 1;
                let old_grade = info.grade.to_string();
                let new_id = match class.as_str().strip_prefix(&old_grade) {
                    Some(rest) => ClassId::new(format!("{grade}{rest}"))?,
                    None => class.clone(),
                };
                let name = match info.name.strip_prefix(&old_grade) {
                    Some(rest) => format!("{grade}{rest}"),
                    None => info.name.clone(),
                };
                j.put_class(
                    to,
                    &new_id,
                    &ClassInfo {
                        name,
                        grade,
                        class_teacher: info.class_teacher.clone(),
                    },
                )?;
                for (subject, assignment) in &view.subjects {
                    j.assign_subject(to, &new_id, subject, &assignment.value.teacher)?;
                }
                for (student, name) in &staying {
                    j.enrol_student(to, &new_id, student, name, next.year.start)?;
                }
                promotion.classes.push((class.clone(), Some(new_id)));
            }
            for (student, profile) in &profiles {
                if promotion.graduates.contains(student) {
                    continue;
                }
                let id = DocId::Profile(to, student.clone());
                j.change(|j, touched| {
                    let doc = j.doc_mut(&id, touched)?;
                    if let Some(data) = &profile.student {
                        doc.set_student_profile(&data.value)?;
                    }
                    for (guardian, entry) in &profile.guardians {
                        doc.put_guardian(guardian, &entry.value)?;
                    }
                    if let Some(reviewed) = profile.last_reviewed {
                        doc.set_last_reviewed(reviewed)?;
                    }
                    Ok(())
                })?;
            }
            Ok(())
        })?;
        Ok(promotion)
    }

    // ----- lessons -----

    /// Schedules a lesson in a class and returns its id.
    pub fn add_lesson(
        &mut self,
        year: YearId,
        class: &ClassId,
        lesson: &NewLesson,
    ) -> Result<LessonId> {
        self.check_in_year(year, "lesson", lesson.date)?;
        self.known_subject(year, &lesson.subject)?;
        let class_doc = self.class_doc(year, class)?;
        if !(1..=12).contains(&lesson.period) {
            return Err(InputError::Invalid(format!(
                "period {} is not a lesson period (1–12)",
                lesson.period
            ))
            .into());
        }
        if let Some(other) = class_doc
            .lessons
            .values()
            .find(|l| l.date == lesson.date && l.period == lesson.period)
        {
            return Err(InputError::Duplicate(format!(
                "class {class} already has a lesson on {} in period {} (lesson {})",
                format_date(lesson.date),
                lesson.period,
                other.id
            ))
            .into());
        }
        let full = Lesson {
            id: LessonId::new(random_id())?,
            date: lesson.date,
            period: lesson.period,
            subject: lesson.subject.clone(),
            teacher: lesson.teacher.clone(),
            topic: lesson.topic.trim().to_owned(),
            homework: String::new(),
            homework_due: None,
        };
        let id = DocId::Class(year, class.clone());
        self.change(|j, touched| j.doc_mut(&id, touched)?.put_lesson(&full))?;
        self.lesson_index
            .insert(full.id.clone(), (year, class.clone()));
        Ok(full.id)
    }

    /// Sets the thematic plan of a subject in a class for a term: topics with their planned lessons.
    pub fn set_thematic_plan(
        &mut self,
        year: YearId,
        class: &ClassId,
        subject: &SubjectId,
        term: &TermId,
        topics: &[PlannedTopic],
    ) -> Result<()> {
        self.known_subject(year, subject)?;
        self.settings(year)?
            .year
            .term(term)
            .ok_or_else(|| unknown("term", term))?;
        self.class_doc(year, class)?;
        if let Some(bad) = topics
            .iter()
            .find(|t| t.topic.trim().is_empty() || t.lessons == 0)
        {
            return Err(InputError::Invalid(format!(
                "each planned topic needs a name and at least one lesson ({:?}, {})",
                bad.topic, bad.lessons
            ))
            .into());
        }
        let id = DocId::Class(year, class.clone());
        self.change(|j, touched| j.doc_mut(&id, touched)?.set_plan(subject, term, topics))
    }

    /// Sets the topic of a lesson.
    pub fn set_topic(&mut self, lesson: &LessonId, topic: &str) -> Result<()> {
        let (year, class, _) = self.lesson(lesson)?;
        let id = DocId::Class(year, class);
        self.change(|j, touched| {
            j.doc_mut(&id, touched)?
                .set_lesson_text(lesson, LessonField::Topic, topic.trim(), None)
        })
    }

    /// Sets the homework of a lesson, with an optional due date after the lesson.
    pub fn set_homework(&mut self, lesson: &LessonId, text: &str, due: Option<Date>) -> Result<()> {
        let (year, class, found) = self.lesson(lesson)?;
        if let Some(due) = due
            && due < found.date
        {
            return Err(InputError::Invalid(format!(
                "homework cannot be due ({}) before the lesson ({})",
                format_date(due),
                format_date(found.date)
            ))
            .into());
        }
        let id = DocId::Class(year, class);
        self.change(|j, touched| {
            j.doc_mut(&id, touched)?.set_lesson_text(
                lesson,
                LessonField::Homework,
                text.trim(),
                due,
            )
        })
    }

    // ----- teachers' entries -----

    fn check_on_roster(
        &self,
        year: YearId,
        class: &ClassId,
        student: &StudentId,
        date: Date,
    ) -> Result<()> {
        let on_roster = self
            .class_doc(year, class)?
            .roster
            .get(student)
            .is_some_and(|entry| entry.value.active_on(date));
        if on_roster {
            Ok(())
        } else {
            Err(InputError::StudentNotInClass {
                student: student.to_string(),
                class: class.to_string(),
                date: format_date(date),
            }
            .into())
        }
    }

    /// Records attendance at a lesson for the given students, in one transaction over all their documents.
    pub fn mark_attendance(
        &mut self,
        lesson: &LessonId,
        entries: &[AttendanceInput],
    ) -> Result<()> {
        let (year, class, found) = self.lesson(lesson)?;
        let found = found.clone();
        let policy = &self.settings(year)?.policy;
        // Codes are kept as the school lists them, whichever case or keyboard layout they were typed in.
        let entries = entries
            .iter()
            .map(|entry| {
                let code = match &entry.code {
                    Some(typed) => Some(policy.read_attendance_code(typed)?.code.clone()),
                    None => None,
                };
                Ok(AttendanceInput {
                    code,
                    ..entry.clone()
                })
            })
            .collect::<Result<Vec<_>>>()?;
        for entry in &entries {
            self.check_on_roster(year, &class, &entry.student, found.date)?;
        }
        self.change(|j, touched| {
            for entry in &entries {
                let attendance = Attendance {
                    subject: found.subject.clone(),
                    date: found.date,
                    period: found.period,
                    code: entry.code.clone(),
                    note: entry.note.trim().to_owned(),
                };
                j.doc_mut(&DocId::Student(year, entry.student.clone()), touched)?
                    .put_attendance(lesson, &attendance)?;
            }
            Ok(())
        })
    }

    /// Puts a mark for a student in a lesson (one per lesson and kind of work; a second put changes it).
    pub fn put_mark(
        &mut self,
        student: &StudentId,
        lesson: &LessonId,
        input: &MarkInput,
    ) -> Result<MarkId> {
        let (year, class, found) = self.lesson(lesson)?;
        let found = found.clone();
        self.settings(year)?.policy.work_kind(&input.kind)?;
        self.check_on_roster(year, &class, student, found.date)?;
        let mark = Mark {
            lesson: lesson.clone(),
            subject: found.subject.clone(),
            date: found.date,
            value: input.value,
            kind: input.kind.clone(),
            comment: input.comment.trim().to_owned(),
            teacher: self.mark_signer(&found.teacher)?,
        };
        let mark_id = crate::docs::mark_id(lesson, &input.kind);
        let id = DocId::Student(year, student.clone());
        self.change(|j, touched| j.doc_mut(&id, touched)?.put_mark(&mark_id, &mark))?;
        Ok(mark_id)
    }

    /// Who signs a mark given in a lesson: the signed-in staff member (the relay accepts a mark signed by its
    /// author), or the lesson's teacher on a device that has not signed in.
    fn mark_signer(&mut self, lesson_teacher: &StaffId) -> Result<StaffId> {
        if self.signer.is_none() {
            let staff = self
                .my_directory()?
                .filter(|d| matches!(d.role.as_str(), "teacher" | "administration"));
            self.signer = Some(staff.map(|me| StaffId::new(me.account)).transpose()?);
        }
        Ok(self
            .signer
            .clone()
            .flatten()
            .unwrap_or_else(|| lesson_teacher.clone()))
    }

    /// Removes a mark.
    pub fn remove_mark(&mut self, year: YearId, student: &StudentId, mark: &MarkId) -> Result<()> {
        let exists = self
            .student_doc(year, student)
            .is_some_and(|s| s.marks.contains_key(mark));
        if !exists {
            return Err(unknown("mark", mark));
        }
        let id = DocId::Student(year, student.clone());
        self.change(|j, touched| j.doc_mut(&id, touched)?.delete_mark(mark))
    }

    /// Sets a student's term or year mark in a subject.
    pub fn set_final_mark(
        &mut self,
        year: YearId,
        student: &StudentId,
        key: &FinalMarkKey,
        mark: &PeriodMark,
    ) -> Result<()> {
        self.known_subject(year, &key.subject)?;
        if let MarkPeriod::Term(term) = &key.period {
            self.settings(year)?
                .year
                .term(term)
                .ok_or_else(|| unknown("term", term))?;
        }
        self.student_doc(year, student)
            .ok_or_else(|| unknown("student", student))?;
        let id = DocId::Student(year, student.clone());
        self.change(|j, touched| j.doc_mut(&id, touched)?.put_final_mark(key, mark))
    }

    // ----- conflicts -----

    /// Every cell two devices set differently, for the teacher to resolve.
    pub fn conflicts(&self) -> Vec<Conflict> {
        let mut out = Vec::new();
        for (id, doc) in &self.docs {
            match (id, doc.view()) {
                (DocId::Student(year, student), View::Student(s)) => {
                    for (lesson, cell) in s.attendance.iter().filter(|(_, c)| c.is_conflicted()) {
                        out.push(Conflict {
                            target: ConflictTarget::Attendance {
                                year: *year,
                                student: student.clone(),
                                lesson: lesson.clone(),
                            },
                            values: cell_texts(cell, attendance_text),
                        });
                    }
                    for (mark, cell) in s.marks.iter().filter(|(_, c)| c.is_conflicted()) {
                        out.push(Conflict {
                            target: ConflictTarget::Mark {
                                year: *year,
                                student: student.clone(),
                                mark: mark.clone(),
                            },
                            values: cell_texts(cell, mark_text),
                        });
                    }
                    for (key, cell) in s.final_marks.iter().filter(|(_, c)| c.is_conflicted()) {
                        out.push(Conflict {
                            target: ConflictTarget::FinalMark {
                                year: *year,
                                student: student.clone(),
                                key: key.clone(),
                            },
                            values: cell_texts(cell, |m: &PeriodMark| m.value.to_string()),
                        });
                    }
                }
                (DocId::Class(year, class), View::Class(c)) => {
                    for ((lesson, field), losers) in &c.lesson_conflicts {
                        let Some(l) = c.lessons.get(lesson) else {
                            continue;
                        };
                        let winner = match field {
                            LessonField::Topic => l.topic.clone(),
                            LessonField::Homework => l.homework.clone(),
                        };
                        out.push(Conflict {
                            target: ConflictTarget::Lesson {
                                year: *year,
                                class: class.clone(),
                                lesson: lesson.clone(),
                                field: *field,
                            },
                            values: std::iter::once(winner)
                                .chain(losers.iter().cloned())
                                .collect(),
                        });
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Resolves a conflict by keeping the value at `choice` (an index into [`Conflict::values`]).
    pub fn resolve_conflict(&mut self, target: &ConflictTarget, choice: usize) -> Result<()> {
        fn pick<T: Clone>(cell: Option<&Cell<T>>, choice: usize) -> Result<T> {
            let cell = cell.ok_or_else(|| unknown("conflict", "entry"))?;
            std::iter::once(&cell.value)
                .chain(&cell.competing)
                .nth(choice)
                .cloned()
                .ok_or_else(|| {
                    InputError::Invalid(format!("there is no value number {choice} to keep")).into()
                })
        }
        match target {
            ConflictTarget::Attendance {
                year,
                student,
                lesson,
            } => {
                let chosen = pick(
                    self.student_doc(*year, student)
                        .and_then(|s| s.attendance.get(lesson)),
                    choice,
                )?;
                let id = DocId::Student(*year, student.clone());
                self.change(|j, touched| j.doc_mut(&id, touched)?.put_attendance(lesson, &chosen))
            }
            ConflictTarget::Mark {
                year,
                student,
                mark,
            } => {
                let chosen = pick(
                    self.student_doc(*year, student)
                        .and_then(|s| s.marks.get(mark)),
                    choice,
                )?;
                let id = DocId::Student(*year, student.clone());
                self.change(|j, touched| j.doc_mut(&id, touched)?.put_mark(mark, &chosen))
            }
            ConflictTarget::FinalMark { year, student, key } => {
                let chosen = pick(
                    self.student_doc(*year, student)
                        .and_then(|s| s.final_marks.get(key)),
                    choice,
                )?;
                let id = DocId::Student(*year, student.clone());
                self.change(|j, touched| j.doc_mut(&id, touched)?.put_final_mark(key, &chosen))
            }
            ConflictTarget::Lesson {
                year,
                class,
                lesson,
                field,
            } => {
                let doc = self.class_doc(*year, class)?;
                let current = doc
                    .lessons
                    .get(lesson)
                    .ok_or_else(|| unknown("lesson", lesson))?;
                let winner = match field {
                    LessonField::Topic => current.topic.clone(),
                    LessonField::Homework => current.homework.clone(),
                };
                let due = current.homework_due;
                let losers = doc
                    .lesson_conflicts
                    .get(&(lesson.clone(), *field))
                    .cloned()
                    .unwrap_or_default();
                let chosen = pick(
                    Some(&Cell {
                        value: winner,
                        competing: losers,
                    }),
                    choice,
                )?;
                let id = DocId::Class(*year, class.clone());
                self.change(|j, touched| {
                    j.doc_mut(&id, touched)?
                        .set_lesson_text(lesson, *field, &chosen, due)
                })
            }
        }
    }
}
