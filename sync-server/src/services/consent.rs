//! Personal data (Federal Law 152-FZ; regulation 3.3, 4.1): the register of guardians' consent to the
//! processing of their children's personal data, kept by the administration and each class's teacher,
//! and the edit log of a student's profile, old → new with who and when.

use journal_core::docs::profile_edits;
use journal_core::{DocId, StudentId, YearId};
use serde::Serialize;
use time::Date;

use super::events::RelayEvent;
use super::{ServiceError, ServiceResult, Services, administration_only};
use crate::acl::Grants;
use crate::auth::Principal;
use crate::store::{AccountRole, ConsentRecord};

/// The longest version name of a consent text.
const MAX_TEXT_VERSION: usize = 64;

/// A signed consent form (or its withdrawal), as whoever records it fills it in.
#[derive(Clone, Debug)]
pub struct ConsentForm {
    /// The student.
    pub student: StudentId,
    /// The guardian's account.
    pub guardian: String,
    /// Given (`true`) or withdrawn.
    pub given: bool,
    /// The date on the form.
    pub signed_on: Date,
    /// The version of the consent text the guardian signed ("2026-1").
    pub text_version: String,
}

/// One field of a student's profile as one change left it, with who made the change and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProfileEditEntry {
    /// When the relay received the change (Unix seconds).
    pub at: i64,
    /// The account that delivered it.
    pub account: String,
    /// The device it came from.
    pub device: String,
    /// The field, as people call it.
    pub field: String,
    /// The value before (`None`: empty).
    pub old: Option<String>,
    /// The value after (`None`: emptied).
    pub new: Option<String>,
}

impl Services {
    /// Records a guardian's consent, or its withdrawal, in the register. The administration records it
    /// for any student; a class teacher for the students of their class. The student's class teacher
    /// then receives the profile, or no longer does.
    pub fn record_consent(
        &self,
        by: &Principal,
        form: &ConsentForm,
    ) -> ServiceResult<ConsentRecord> {
        self.keeps_consents_of(by, &form.student, "records consent")?;
        let text_version = form.text_version.trim();
        if text_version.is_empty() || text_version.chars().count() > MAX_TEXT_VERSION {
            return Err(ServiceError::Invalid(format!(
                "the consent text's version is 1 to {MAX_TEXT_VERSION} characters (as printed on the form)"
            )));
        }
        let today = self.school_today()?;
        if form.signed_on > today {
            return Err(ServiceError::Invalid(format!(
                "the form is dated {}, after today ({})",
                journal_core::format_date(form.signed_on),
                journal_core::format_date(today)
            )));
        }
        // A form signed before the guardian withdrew cannot bring consent back (an old form recorded
        // again): that needs a new one.
        let newest = self
            .store()
            .consents(Some(&form.student))?
            .into_iter()
            .rev()
            .find(|r| r.guardian == form.guardian);
        if let Some(withdrawal) = newest.filter(|newest| form.given && !newest.given)
            && journal_core::format_date(form.signed_on) < withdrawal.signed_on
        {
            return Err(ServiceError::Invalid(format!(
                "{} withdrew consent on {}: only a form signed on that day or later gives it again",
                form.guardian, withdrawal.signed_on
            )));
        }
        let record = ConsentRecord {
            student: form.student.clone(),
            guardian: form.guardian.clone(),
            given: form.given,
            signed_on: journal_core::format_date(form.signed_on),
            text_version: text_version.to_owned(),
            recorded_by: by.account.id.clone(),
            recorded_at: self.now(),
        };
        self.store().record_consent(&record)?;
        self.record(
            by,
            if form.given {
                "consent-given"
            } else {
                "consent-withdrawn"
            },
            format!("student {}", form.student),
            format!(
                "guardian {}, form of {}, text {}",
                record.guardian, record.signed_on, record.text_version
            ),
        )?;
        self.publish(RelayEvent::DirectoryChanged);
        Ok(record)
    }

    /// The register's entries for a student, oldest first.
    pub fn consent_register(
        &self,
        by: &Principal,
        student: &StudentId,
    ) -> ServiceResult<Vec<ConsentRecord>> {
        self.keeps_consents_of(by, student, "reads the consent register")?;
        Ok(self.store().consents(Some(student))?)
    }

    /// Every edit of a student's profile in `year`, oldest first, each field old → new with who made it
    /// and when.
    pub fn profile_edits(
        &self,
        by: &Principal,
        year: YearId,
        student: &StudentId,
    ) -> ServiceResult<Vec<ProfileEditEntry>> {
        administration_only(by, "reads the profile edit log")?;
        let doc = DocId::Profile(year, student.clone());
        let (document, trail) = self.attributed_changes(&doc)?;
        let edits = profile_edits(&doc, &document).map_err(|e| {
            ServiceError::Invalid(format!("the profile of {student} cannot be read: {e}"))
        })?;
        Ok(edits
            .into_iter()
            .map(|edit| {
                let delivery = trail.iter().find(|entry| entry.hash == edit.change);
                ProfileEditEntry {
                    at: delivery.map_or(0, |d| d.received_at),
                    account: delivery.map_or_else(String::new, |d| d.account.clone()),
                    device: delivery.map_or_else(String::new, |d| d.device.clone()),
                    field: edit.field,
                    old: edit.old,
                    new: edit.new,
                }
            })
            .collect())
    }

    /// Refuses anyone but the administration and the student's class teacher.
    fn keeps_consents_of(
        &self,
        by: &Principal,
        student: &StudentId,
        what: &str,
    ) -> ServiceResult<()> {
        // Who asks is checked first: a family's account learns nothing of which students exist.
        if !matches!(
            by.account.role,
            AccountRole::Administration | AccountRole::Teacher
        ) {
            return Err(ServiceError::NotAllowed(format!(
                "only the administration or the student's class teacher {what}"
            )));
        }
        let Some((class, _)) = self.store().student(student)? else {
            return Err(ServiceError::NotFound(format!("student {student}")));
        };
        if by.account.role == AccountRole::Administration {
            return Ok(());
        }
        let class_teacher = Grants::load(self.store(), &by.account.id, None)?
            .is_some_and(|grants| grants.is_class_teacher_of(&class));
        if class_teacher {
            Ok(())
        } else {
            Err(ServiceError::NotAllowed(format!(
                "only the administration or the class teacher of {class} {what} for {student}"
            )))
        }
    }
}
