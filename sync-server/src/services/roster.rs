//! The school's people in its classes: students placed or moved, class staff, guardians, and whole class
//! lists imported from a spreadsheet (every row checked; any bad row means nothing is imported).

use journal_core::{ClassId, StudentId};

use super::events::RelayEvent;
use super::{ServiceError, ServiceResult, Services, administration_only};
use crate::auth::Principal;
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
}
