//! The audit trail of every document (who delivered which change, from which device, when) and the
//! administration's log of what was done to the directory, for the administration to read.

use journal_core::DocId;

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
