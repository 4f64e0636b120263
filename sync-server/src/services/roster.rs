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
        let Some(year) = self.hub().directory_year()? else {
            return Ok(());
        };
        let mut journal = Journal::open_in_memory()?;
        let actor = automerge::ActorId::random();
        let load = |journal: &mut Journal, id: DocId| -> ServiceResult<()> {
            if journal.document(&id).is_none()
                && let Some(bytes) = self.hub().saved_whole(&id)?
            {
                journal.merge_document(&Document::load(id, &bytes, &actor)?)?;
            }
            Ok(())
        };
        load(&mut journal, DocId::School(year))?;
        let Some(settings) = journal.school_settings(year).cloned() else {
            return Ok(());
        };
        for (student, class, _) in placed {
            load(&mut journal, DocId::Class(year, class.clone()))?;
            load(&mut journal, DocId::Student(year, student.clone()))?;
            if let Some(old) = class_of(&journal, year, student) {
                load(&mut journal, DocId::Class(year, old))?;
            }
        }
        let before: BTreeMap<DocId, Vec<String>> = journal
            .documents()
            .map(|d| (d.id().clone(), journal.heads_hex(d.id())))
            .collect();
        let range = settings.year.range();
        let from = self.hub().clock().today().clamp(range.from, range.to);
        let mut missing: BTreeSet<&ClassId> = BTreeSet::new();
        for (student, class, name) in placed {
            if journal
                .document(&DocId::Class(year, class.clone()))
                .is_none()
            {
                missing.insert(class);
                continue;
            }
            match class_of(&journal, year, student) {
                Some(current) if &current == class => {}
                Some(_) => journal.move_student(year, student, class, from)?,
                None => journal.enrol_student(year, class, student, name, from)?,
            }
        }
        if !missing.is_empty() {
            tracing::warn!(
                classes = ?missing,
                "class lists name classes with no class document this year; their students are in the directory only"
            );
        }
        let by = attribution(&by.account.id, &by.device.id, self.now());
        for doc in journal.documents() {
            if before.get(doc.id()) != Some(&journal.heads_hex(doc.id())) {
                self.hub().merge_in(doc, &by)?;
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
