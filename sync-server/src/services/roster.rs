//! The school's people in its classes: students placed or moved, class staff, guardians, and whole class
//! lists imported from a spreadsheet (every row checked; any bad row means nothing is imported).

use std::collections::{BTreeMap, BTreeSet};

use journal_core::docs::{Document, View};
use journal_core::{ClassId, DocId, Journal, StudentId, YearId};

use super::events::RelayEvent;
use super::{ServiceError, ServiceResult, Services, administration_only};
use crate::auth::Principal;
use crate::hub::attribution;
use crate::roster;

/// A class list's file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    /// Comma-separated values, UTF-8.
    Csv,
    /// An Excel workbook (its first sheet).
    Xlsx,
}

impl ListFormat {
    /// The format of a file by its first bytes (an XLSX file is a zip archive).
    pub fn sniff(bytes: &[u8]) -> Self {
        if bytes.starts_with(b"PK\x03\x04") {
            ListFormat::Xlsx
        } else {
            ListFormat::Csv
        }
    }
}

/// What an import applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Imported {
    /// Students added or moved.
    pub students: usize,
    /// Guardianships linked.
    pub guardians: usize,
}

impl Services {
    /// Puts a student on a class's list, or moves them (their history stays in their documents).
    pub fn place_student(
        &self,
        by: &Principal,
        student: &StudentId,
        class: &ClassId,
        name: &str,
    ) -> ServiceResult<()> {
        administration_only(by, "keeps the class lists")?;
        let name = name.trim();
        if name.is_empty() {
            return Err(ServiceError::Invalid(format!(
                "student {student} needs a name"
            )));
        }
        let before = self.store().student(student)?;
        self.store().put_student(student, class, name)?;
        let detail = match before {
            Some((old, _)) if &old != class => format!("moved from {old} to {class}"),
            Some(_) => format!("stays in {class}"),
            None => format!("added to {class}"),
        };
        self.record(by, "place-student", format!("student {student}"), detail)?;
        self.put_on_class_lists(by, &[(student.clone(), class.clone(), name.to_owned())])?;
        self.publish(RelayEvent::DirectoryChanged);
        Ok(())
    }

    /// Puts an account on a class's staff, as its class teacher or not.
    pub fn add_class_staff(
        &self,
        by: &Principal,
        class: &ClassId,
        account: &str,
        class_teacher: bool,
    ) -> ServiceResult<()> {
        administration_only(by, "assigns staff to classes")?;
        self.store()
            .put_class_staff(class, account, class_teacher)?;
        self.record(
            by,
            "add-class-staff",
            format!("class {class}"),
            format!(
                "{account}{}",
                if class_teacher {
                    " as class teacher"
                } else {
                    ""
                }
            ),
        )?;
        self.publish(RelayEvent::DirectoryChanged);
        Ok(())
    }

    /// Takes an account off a class's staff.
    pub fn remove_class_staff(
        &self,
        by: &Principal,
        class: &ClassId,
        account: &str,
    ) -> ServiceResult<()> {
        administration_only(by, "assigns staff to classes")?;
        self.store().remove_class_staff(class, account)?;
        self.record(
            by,
            "remove-class-staff",
            format!("class {class}"),
            account.to_owned(),
        )?;
        self.publish(RelayEvent::DirectoryChanged);
        Ok(())
    }

    /// Links a parent account to a student.
    pub fn link_guardian(
        &self,
        by: &Principal,
        account: &str,
        student: &StudentId,
    ) -> ServiceResult<()> {
        administration_only(by, "links guardians")?;
        self.store().link_guardian(account, student)?;
        self.record(
            by,
            "link-guardian",
            format!("student {student}"),
            format!("guardian {account}"),
        )?;
        self.publish(RelayEvent::DirectoryChanged);
        Ok(())
    }

    /// Imports class lists (`class, student_id, student_name, guardian_id, guardian_name`) from `source`,
    /// all or nothing: any bad row refuses the whole file, naming every bad row.
    pub fn import_class_lists(
        &self,
        by: &Principal,
        bytes: &[u8],
        format: ListFormat,
        source: &str,
    ) -> ServiceResult<Imported> {
        administration_only(by, "imports class lists")?;
        let rows = match format {
            ListFormat::Csv => roster::csv_rows(bytes),
            ListFormat::Xlsx => roster::xlsx_rows(bytes),
        }
        .map_err(|e| ServiceError::Rows(vec![e]))?;
        let import = roster::validate(&rows, self.store())?.map_err(ServiceError::Rows)?;
        self.store().import_roster(&import)?;
        self.put_on_class_lists(by, &import.students)?;
        let imported = Imported {
            students: import.students.len(),
            guardians: import.guardians.len(),
        };
        self.record(
            by,
            "import-roster",
            source.to_owned(),
            format!(
                "{} students, {} guardian links",
                imported.students, imported.guardians
            ),
        )?;
        self.publish(RelayEvent::DirectoryChanged);
        Ok(imported)
    }

    /// Writes students onto their classes' lists in the class documents of the year the directory
    /// describes, as the relay acting for `by`: a new student enrolled from today (or the year's first
    /// day), a student now in another class moved from today, keeping their history. Students already on
    /// their class's list are left alone, so a list imported twice changes nothing the second time.
    fn put_on_class_lists(
        &self,
        by: &Principal,
        placed: &[(StudentId, ClassId, String)],
    ) -> ServiceResult<()> {
        let Some(mut docs) = self.year_documents()? else {
            return Ok(());
        };
        for (student, class, _) in placed {
            docs.load(self, DocId::Class(docs.year, class.clone()))?;
            docs.load(self, DocId::Student(docs.year, student.clone()))?;
            if let Some(old) = docs.class_of(student) {
                docs.load(self, DocId::Class(docs.year, old))?;
            }
        }
        let before = docs.heads();
        let (year, from) = (docs.year, docs.today(self));
        let mut missing: BTreeSet<&ClassId> = BTreeSet::new();
        for (student, class, name) in placed {
            if docs
                .journal
                .document(&DocId::Class(year, class.clone()))
                .is_none()
            {
                missing.insert(class);
                continue;
            }
            match docs.class_of(student) {
                Some(current) if &current == class => {}
                Some(_) => docs.journal.move_student(year, student, class, from)?,
                None => docs
                    .journal
                    .enrol_student(year, class, student, name, from)?,
            }
        }
        if !missing.is_empty() {
            tracing::warn!(
                classes = ?missing,
                "class lists name classes with no class document this year; their students are in the directory only"
            );
        }
        docs.store(self, by, &before)
    }

    /// A student leaves the school after `last_day` (default: today): off their class's list from the next
    /// day, their own account (if any) deactivated; their marks and attendance stay.
    pub fn student_leaves(
        &self,
        by: &Principal,
        student: &StudentId,
        last_day: Option<time::Date>,
    ) -> ServiceResult<()> {
        administration_only(by, "keeps the class lists")?;
        let (class, _) = self
            .store()
            .student(student)?
            .ok_or_else(|| ServiceError::NotFound(format!("student {student}")))?;
        if let Some(mut docs) = self.year_documents()? {
            docs.load(self, DocId::Student(docs.year, student.clone()))?;
            if let Some(listed) = docs.class_of(student) {
                docs.load(self, DocId::Class(docs.year, listed))?;
                let before = docs.heads();
                let last_day = last_day.unwrap_or_else(|| docs.today(self));
                docs.journal
                    .withdraw_student(docs.year, student, last_day)?;
                docs.store(self, by, &before)?;
            }
        }
        let account = format!("student-{student}");
        if let Some(mut found) = self.store().account(&account)?
            && found.active
        {
            found.active = false;
            self.store().put_account(&found)?;
        }
        self.record(
            by,
            "student-leaves",
            format!("student {student}"),
            format!("leaves {class}"),
        )?;
        self.publish(RelayEvent::DirectoryChanged);
        Ok(())
    }

    /// The relay's documents of the year the directory describes, for the relay to change on the
    /// administration's behalf; `None` before any year is open.
    pub(super) fn year_documents(&self) -> ServiceResult<Option<YearDocuments>> {
        let Some(year) = self.hub().directory_year()? else {
            return Ok(None);
        };
        let mut docs = YearDocuments {
            journal: Journal::open_in_memory()?,
            actor: automerge::ActorId::random(),
            year,
        };
        docs.load(self, DocId::School(year))?;
        Ok(docs.journal.school_settings(year).is_some().then_some(docs))
    }
}

/// Some of a year's documents in an in-memory journal, where the core's rules change them before the
/// relay stores what they gained.
pub(super) struct YearDocuments {
    pub(super) journal: Journal,
    actor: automerge::ActorId,
    pub(super) year: YearId,
}

impl YearDocuments {
    /// Adds the relay's copy of `id`, if it holds one.
    fn load(&mut self, services: &Services, id: DocId) -> ServiceResult<()> {
        if self.journal.document(&id).is_none()
            && let Some(bytes) = services.hub().saved_whole(&id)?
        {
            self.journal
                .merge_document(&Document::load(id, &bytes, &self.actor)?)?;
        }
        Ok(())
    }

    /// Every document's heads, to tell later what changed.
    pub(super) fn heads(&self) -> BTreeMap<DocId, Vec<String>> {
        self.journal
            .documents()
            .map(|d| (d.id().clone(), self.journal.heads_hex(d.id())))
            .collect()
    }

    /// Today at the school on the relay's clock, within the school year.
    fn today(&self, services: &Services) -> time::Date {
        let settings = self.journal.school_settings(self.year);
        let today = settings
            .map(|s| s.time_zone)
            .unwrap_or_default()
            .day_at(services.now());
        settings
            .map(|s| s.year.range())
            .map_or(today, |r| today.clamp(r.from, r.to))
    }

    /// The class a student's document says they are in.
    fn class_of(&self, student: &StudentId) -> Option<ClassId> {
        class_of(&self.journal, self.year, student)
    }

    /// Stores, as the relay acting for `by`, what each document gained since `before`.
    pub(super) fn store(
        &self,
        services: &Services,
        by: &Principal,
        before: &BTreeMap<DocId, Vec<String>>,
    ) -> ServiceResult<()> {
        let by = attribution(&by.account.id, &by.device.id, services.now());
        for doc in self.journal.documents() {
            if before.get(doc.id()) != Some(&self.journal.heads_hex(doc.id())) {
                services.hub().merge_in(doc, &by)?;
            }
        }
        Ok(())
    }
}

/// The class a student's document says they are in.
fn class_of(journal: &Journal, year: YearId, student: &StudentId) -> Option<ClassId> {
    match journal
        .document(&DocId::Student(year, student.clone()))?
        .view()
    {
        View::Student(doc) => doc.class.clone(),
        _ => None,
    }
}
