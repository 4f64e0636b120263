//! The audit trail of every document (who delivered which change, from which device, when) and the
//! administration's log of what was done to the directory, for the administration to read.

use journal_core::DocId;

use super::{ServiceResult, Services, administration_only};
use crate::auth::Principal;
use crate::store::{AdminLogEntry, AuditEntry};

impl Services {
    /// Every change a document accepted, oldest first, with who delivered it.
    pub fn audit_trail(&self, by: &Principal, doc: &DocId) -> ServiceResult<Vec<AuditEntry>> {
        administration_only(by, "reads the audit trail")?;
        Ok(self.store().audit_trail(&doc.to_string())?)
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
