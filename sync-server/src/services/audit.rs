//! The audit trail of every document (who delivered which change, from which device, when) and the
//! administration's log of what was done to the directory, for the administration to read.

use journal_core::docs::{JournalEdit, journal_edits};
use journal_core::{ClassId, DocId, StudentId, YearId};
use time::Date;

use super::{ServiceError, ServiceResult, Services, administration_only};
use crate::auth::Principal;
use crate::store::audit_log::Delivery;
use crate::store::{AdminLogEntry, AuditEntry};

impl Services {
    /// Every change a document accepted, oldest first, with who delivered it.
    pub fn audit_trail(&self, by: &Principal, doc: &DocId) -> ServiceResult<Vec<AuditEntry>> {
        administration_only(by, "reads the audit trail")?;
        Ok(self.attributed_changes(doc)?.1)
    }

    /// The document as stored, and each of its changes with the delivery that brought it.
    pub(super) fn attributed_changes(
        &self,
        doc: &DocId,
    ) -> ServiceResult<(automerge::Automerge, Vec<AuditEntry>)> {
        let id = doc.to_string();
        // The document first: deliveries recorded after it was read only add entries it lacks.
        let Some(bytes) = self.store().load_document(&id)? else {
            return Err(ServiceError::NotFound(format!("document {doc}")));
        };
        let deliveries = self.store().audit_trail(&id)?;
        let document = automerge::Automerge::load(&bytes).map_err(|e| {
            ServiceError::Invalid(format!(
                "document {doc} cannot be read for its audit trail: {e}"
            ))
        })?;
        let trail = attribute(&id, &document, &deliveries);
        Ok((document, trail))
    }

    /// The edits of students' marks, attendance and final marks in `year` that `filter` picks, newest
    /// first, each old → new with who delivered it, from which device and when.
    pub fn journal_edits(
        &self,
        by: &Principal,
        year: YearId,
        filter: &EditFilter,
    ) -> ServiceResult<Vec<JournalEditEntry>> {
        administration_only(by, "reads the audit trail")?;
        let students: Vec<StudentId> = match (&filter.student, &filter.class) {
            (Some(student), _) => vec![student.clone()],
            (None, Some(class)) => {
                let mut students = Vec::new();
                for (id, _) in self.store().document_heads()? {
                    if let Ok(DocId::Student(of, student)) = id.parse::<DocId>()
                        && of == year
                        && self
                            .store()
                            .student(&student)?
                            .is_some_and(|(in_class, _)| &in_class == class)
                    {
                        students.push(student);
                    }
                }
                students
            }
            (None, None) => {
                return Err(ServiceError::Invalid(
                    "choose a student or a class to read the journal's edits of".into(),
                ));
            }
        };
        let zone = self.time_zone().unwrap_or_default();
        let mut found = Vec::new();
        for student in students {
            let doc = DocId::Student(year, student.clone());
            let (document, trail) = match self.attributed_changes(&doc) {
                Ok(read) => read,
                Err(ServiceError::NotFound(_)) => continue,
                Err(other) => return Err(other),
            };
            let edits = journal_edits(&doc, &document).map_err(|e| {
                ServiceError::Invalid(format!("the journal of {student} cannot be read: {e}"))
            })?;
            for edit in edits {
                // An edit whose delivery was never recorded (history from before the trail, the relay's
                // own writes) is still listed, its author unknown; only a filter on who or when leaves
                // it out.
                let delivery = trail.iter().find(|entry| entry.hash == edit.change);
                let day = delivery.map(|d| zone.day_at(d.received_at));
                let wanted = filter
                    .teacher
                    .as_ref()
                    .is_none_or(|teacher| delivery.is_some_and(|d| &d.account == teacher))
                    && filter
                        .from
                        .is_none_or(|from| day.is_some_and(|day| day >= from))
                    && filter.to.is_none_or(|to| day.is_some_and(|day| day <= to));
                if wanted {
                    found.push(JournalEditEntry {
                        student: student.clone(),
                        at: delivery.map(|d| d.received_at),
                        account: delivery.map(|d| d.account.clone()),
                        device: delivery.map(|d| d.device.clone()),
                        reason: delivery.and_then(|d| d.reason.clone()),
                        edit,
                    });
                }
            }
        }
        found.sort_by_key(|edit| std::cmp::Reverse(edit.at));
        Ok(found)
    }

    /// The administration's log in `[from, to)` (Unix seconds), oldest first.
    pub fn admin_log(
        &self,
        by: &Principal,
        from: i64,
        to: i64,
    ) -> ServiceResult<Vec<AdminLogEntry>> {
        administration_only(by, "reads the administration's log")?;
        Ok(self.store().admin_log(from, to)?)
    }
}

/// Which edits of students' journals to list: a student or a class, and optionally who delivered them
/// and between which days (the school's, both included).
#[derive(Clone, Debug, Default)]
pub struct EditFilter {
    /// One student.
    pub student: Option<StudentId>,
    /// The students of a class (as the directory places them now).
    pub class: Option<ClassId>,
    /// The account that delivered the edits.
    pub teacher: Option<String>,
    /// The first day.
    pub from: Option<Date>,
    /// The last day.
    pub to: Option<Date>,
}

/// One edit of a student's journal, with its delivery.
#[derive(Clone, Debug)]
pub struct JournalEditEntry {
    /// The student.
    pub student: StudentId,
    /// When it reached the relay (Unix seconds); `None` when its delivery was never recorded.
    pub at: Option<i64>,
    /// The account that delivered it, when known.
    pub account: Option<String>,
    /// The device that delivered it, when known.
    pub device: Option<String>,
    /// Why it was made, when its author gave a reason (a correction's).
    pub reason: Option<String>,
    /// The entry, old → new.
    pub edit: JournalEdit,
}

/// Each of the document's changes with the delivery that brought it, oldest delivery first and in causal
/// order within one.
fn attribute(
    id: &str,
    document: &automerge::Automerge,
    deliveries: &[Delivery],
) -> Vec<AuditEntry> {
    let mut entries: Vec<(usize, AuditEntry)> = Vec::new();
    for change in document.get_changes(&[]) {
        let actor = change.actor_id().to_bytes();
        let Some(found) = deliveries
            .iter()
            .position(|d| d.covers(actor, change.seq()))
        else {
            tracing::warn!(doc = id, change = %change.hash(), "a change has no recorded delivery");
            continue;
        };
        let delivery = &deliveries[found];
        entries.push((
            found,
            AuditEntry {
                hash: change.hash().to_string(),
                account: delivery.account.clone(),
                device: delivery.device.clone(),
                received_at: delivery.at,
                reason: journal_core::validate::reason_of(change.message()).map(str::to_owned),
            },
        ));
    }
    entries.sort_by_key(|(found, _)| *found);
    entries.into_iter().map(|(_, entry)| entry).collect()
}
