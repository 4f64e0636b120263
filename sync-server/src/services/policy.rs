//! The school's marking policy as the administration sets it on the relay: for now, its edit-lock window
//! (regulation 2.1), written into the school's document as the relay acting for them.

use journal_core::{MarkingPolicy, YearId};

use super::{ServiceError, ServiceResult, Services, administration_only};
use crate::auth::Principal;

impl Services {
    /// The marking policy of the year the directory describes, with that year.
    pub fn marking_policy(&self) -> ServiceResult<(YearId, MarkingPolicy)> {
        let docs = self.year_documents()?.ok_or_else(no_year)?;
        let settings = docs
            .journal
            .school_settings(docs.year)
            .ok_or_else(no_year)?;
        Ok((docs.year, settings.policy.clone()))
    }

    /// Sets the edit-lock window of the current year to `days` (0 turns it off), checked, stored in the
    /// school's document and recorded in the administration's log; returns the window it replaced.
    pub fn set_edit_lock_days(&self, by: &Principal, days: u16) -> ServiceResult<u16> {
        administration_only(by, "sets the edit-lock window")?;
        let mut docs = self.year_documents()?.ok_or_else(no_year)?;
        let year = docs.year;
        let mut policy = docs
            .journal
            .school_settings(year)
            .ok_or_else(no_year)?
            .policy
            .clone();
        let before = docs.heads();
        let replaced = std::mem::replace(&mut policy.edit_lock_days, days);
        docs.journal.set_policy(year, &policy)?;
        docs.store(self, by, &before)?;
        self.record(
            by,
            "edit-lock-window",
            year.to_string(),
            format!("{replaced} → {days} days"),
        )?;
        Ok(replaced)
    }
}

fn no_year() -> ServiceError {
    ServiceError::Invalid("no school year is open on this relay".to_owned())
}
