//! What the administration sets in the school's document on the relay, written as the relay acting for
//! them: the marking policy's edit-lock window (regulation 2.1), the school's time zone, and the staff's
//! names for printouts.

use journal_core::{MarkingPolicy, SchoolTimeZone, YearId};

use super::{ServiceError, ServiceResult, Services, administration_only};
use crate::auth::Principal;
use crate::store::Account;

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

    /// The school's time zone in the year the directory describes.
    pub fn time_zone(&self) -> ServiceResult<SchoolTimeZone> {
        let docs = self.year_documents()?.ok_or_else(no_year)?;
        let settings = docs
            .journal
            .school_settings(docs.year)
            .ok_or_else(no_year)?;
        Ok(settings.time_zone)
    }

    /// Sets the school's time zone for the current year, stored in the school's document and recorded in
    /// the administration's log; returns the zone it replaced.
    pub fn set_time_zone(
        &self,
        by: &Principal,
        zone: SchoolTimeZone,
    ) -> ServiceResult<SchoolTimeZone> {
        administration_only(by, "sets the school's time zone")?;
        let mut docs = self.year_documents()?.ok_or_else(no_year)?;
        let year = docs.year;
        let replaced = docs
            .journal
            .school_settings(year)
            .ok_or_else(no_year)?
            .time_zone;
        let before = docs.heads();
        docs.journal.set_time_zone(year, zone)?;
        docs.store(self, by, &before)?;
        self.record(
            by,
            "time-zone",
            year.to_string(),
            format!("{replaced} → {zone}"),
        )?;
        Ok(replaced)
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

impl Services {
    /// Writes a staff member's name into the current year's school document, so that reports and lists
    /// show it; nothing before a year is open (the rollover carries names into the next).
    pub(super) fn name_staff_in_school(
        &self,
        by: &Principal,
        account: &Account,
    ) -> ServiceResult<()> {
        let Some(mut docs) = self.year_documents()? else {
            return Ok(());
        };
        let known = docs
            .journal
            .school_doc(docs.year)
            .and_then(|s| s.staff.get(&account.id).cloned());
        if known.as_deref() == Some(account.name.as_str()) {
            return Ok(());
        }
        let before = docs.heads();
        docs.journal
            .set_staff_name(docs.year, &account.id, &account.name)?;
        docs.store(self, by, &before)
    }
}

fn no_year() -> ServiceError {
    ServiceError::Invalid("no school year is open on this relay".to_owned())
}
