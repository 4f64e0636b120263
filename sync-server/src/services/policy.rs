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

    /// Replaces the current year's marking policy (kinds of work and their weights, rounding thresholds,
    /// attendance codes, the edit-lock window) and time zone in one change of the school's document,
    /// checked first and recorded in the administration's log with what changed. `based_on` is the policy
    /// the administrator saw: if someone changed it meanwhile, nothing is stored.
    pub fn set_school_rules(
        &self,
        by: &Principal,
        based_on: &MarkingPolicy,
        policy: &MarkingPolicy,
        zone: SchoolTimeZone,
    ) -> ServiceResult<()> {
        administration_only(by, "sets the marking policy")?;
        policy.check().map_err(journal_core::Error::from)?;
        let mut docs = self.year_documents()?.ok_or_else(no_year)?;
        let year = docs.year;
        let settings = docs.journal.school_settings(year).ok_or_else(no_year)?;
        let (replaced, replaced_zone) = (settings.policy.clone(), settings.time_zone);
        if &replaced != based_on {
            return Err(ServiceError::Invalid(
                "the marking policy was changed by someone else meanwhile; open it again".into(),
            ));
        }
        if &replaced == policy && replaced_zone == zone {
            return Ok(());
        }
        let before = docs.heads();
        if &replaced != policy {
            docs.journal.set_policy(year, policy)?;
        }
        if replaced_zone != zone {
            docs.journal.set_time_zone(year, zone)?;
        }
        docs.store(self, by, &before)?;
        if &replaced != policy {
            self.record(
                by,
                "marking-policy",
                year.to_string(),
                policy_changes(&replaced, policy),
            )?;
        }
        if replaced_zone != zone {
            self.record(
                by,
                "time-zone",
                year.to_string(),
                format!("{replaced_zone} → {zone}"),
            )?;
        }
        Ok(())
    }
}

/// What differs between two policies, in a line for the administration's log.
fn policy_changes(old: &MarkingPolicy, new: &MarkingPolicy) -> String {
    let mut changes = Vec::new();
    for (id, kind) in &new.work_kinds {
        match old.work_kinds.get(id) {
            Some(was) if was == kind => {}
            Some(was) => changes.push(format!(
                "{id}: {} ×{} → {} ×{}",
                was.name, was.weight, kind.name, kind.weight
            )),
            None => changes.push(format!("{id} added: {} ×{}", kind.name, kind.weight)),
        }
    }
    for id in old.work_kinds.keys() {
        if !new.work_kinds.contains_key(id) {
            changes.push(format!("{id} removed"));
        }
    }
    if old.thresholds != new.thresholds {
        let t = |t: &journal_core::Thresholds| format!("{}/{}/{}", t.five, t.four, t.three);
        changes.push(format!(
            "thresholds {} → {}",
            t(&old.thresholds),
            t(&new.thresholds)
        ));
    }
    if old.attendance_codes != new.attendance_codes {
        let codes = |p: &MarkingPolicy| {
            p.attendance_codes
                .iter()
                .map(|c| c.code.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        changes.push(format!("attendance codes {} → {}", codes(old), codes(new)));
    }
    if old.min_marks_for_term != new.min_marks_for_term {
        changes.push(format!(
            "marks for a term mark {} → {}",
            old.min_marks_for_term, new.min_marks_for_term
        ));
    }
    if old.edit_lock_days != new.edit_lock_days {
        changes.push(format!(
            "edit-lock window {} → {} days",
            old.edit_lock_days, new.edit_lock_days
        ));
    }
    changes.join("; ")
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

#[cfg(test)]
mod tests {
    use crate::services::ServiceError;
    use crate::services::tests::{school, signed_in};

    #[test]
    fn a_policy_is_stored_whole_when_valid_and_refused_whole_when_not() {
        let (services, _) = school();
        let director = signed_in(&services, "director");
        let (_, before) = services.marking_policy().expect("policy");
        let mut wrong = before.clone();
        wrong.thresholds.five = 700;
        wrong.edit_lock_days = 3;
        let zone = services.time_zone().expect("zone");
        assert!(matches!(
            services.set_school_rules(&director, &before, &wrong, zone),
            Err(ServiceError::Journal(_))
        ));
        assert_eq!(services.marking_policy().expect("policy").1, before);

        let mut better = before.clone();
        better.thresholds.five = 450;
        better.edit_lock_days = 10;
        let teacher = signed_in(&services, "t-5a");
        assert!(matches!(
            services.set_school_rules(&teacher, &before, &better, zone),
            Err(ServiceError::NotAllowed(_))
        ));
        let moscow = journal_core::SchoolTimeZone::MOSCOW;
        services
            .set_school_rules(&director, &before, &better, moscow)
            .expect("stored");
        assert_eq!(services.marking_policy().expect("policy").1, better);
        assert_eq!(services.time_zone().expect("zone"), moscow);
        // A form built on the policy before that change stores nothing.
        let mut stale = before.clone();
        stale.edit_lock_days = 1;
        assert!(matches!(
            services.set_school_rules(&director, &before, &stale, moscow),
            Err(ServiceError::Invalid(_))
        ));
        assert_eq!(services.marking_policy().expect("policy").1, better);
        let logged = services
            .store()
            .admin_log(0, i64::MAX)
            .expect("log")
            .into_iter()
            .find(|entry| entry.action == "marking-policy")
            .expect("logged");
        assert!(
            logged
                .detail
                .contains("thresholds 460/360/260 → 450/360/260")
                && logged.detail.contains("edit-lock window 7 → 10 days"),
            "{}",
            logged.detail
        );
    }
}
