//! The school's years: the year-end freeze with its signed archive, and the rollover that opens the next
//! year with every class promoted, its students, staff and guardians with it.

use std::path::Path;

use journal_core::{DocId, Journal, Promotion, YearId};

use super::events::RelayEvent;
use super::{ServiceError, ServiceResult, Services, administration_only};
use crate::archive::{self, ArchiveManifest};
use crate::auth::Principal;
use crate::store::Attribution;

impl Services {
    /// Freezes a school year (its documents become read-only) and writes its signed archive to `out`,
    /// signed with the key in `data_dir`.
    pub fn freeze_year(
        &self,
        by: &Principal,
        year: YearId,
        data_dir: &Path,
        out: &Path,
    ) -> ServiceResult<ArchiveManifest> {
        administration_only(by, "freezes a school year")?;
        let manifest = archive::freeze_and_export(self.store(), data_dir, year, out, self.now())?;
        self.record(
            by,
            "freeze-year",
            year.to_string(),
            format!("{} files in {}", manifest.files.len(), out.display()),
        )?;
        Ok(manifest)
    }

    /// Opens the year after `from`: next year's documents are built from `from`'s by the core and stored,
    /// and the directory's classes are promoted (graduates leave the class lists). Last year's documents
    /// are not touched.
    pub fn roll_over(&self, by: &Principal, from: YearId) -> ServiceResult<Promotion> {
        administration_only(by, "opens a new school year")?;
        let next = YearId(from.0 + 1);
        let store = self.store();
        let stored = store.document_heads()?;
        if stored
            .iter()
            .any(|(id, _)| id.parse::<DocId>().is_ok_and(|d| d == DocId::School(next)))
        {
            return Err(ServiceError::Invalid(format!(
                "{next} is already open on this relay"
            )));
        }
        let mut journal = Journal::open_in_memory()?;
        let actor = automerge::ActorId::random();
        for (id, _) in stored {
            let Ok(doc_id) = id.parse::<DocId>() else {
                continue;
            };
            if doc_id.year() != from || matches!(doc_id, DocId::Thread(..)) {
                continue;
            }
            let Some(bytes) = store.load_document(&id)? else {
                continue;
            };
            let doc = journal_core::docs::Document::load(doc_id, &bytes, &actor)?;
            journal.merge_document(&doc)?;
        }
        let promotion = journal.roll_over(from)?;
        let attribution = Attribution {
            account: by.account.id.clone(),
            device: by.device.id.clone(),
            at: self.now(),
        };
        for doc in journal.documents().filter(|d| d.id().year() == next) {
            self.hub().import(doc, &attribution)?;
        }
        store.promote(&promotion.classes)?;
        self.record(
            by,
            "rollover",
            from.to_string(),
            format!(
                "{} classes promoted, {} graduates",
                promotion.classes.len(),
                promotion.graduates.len()
            ),
        )?;
        self.publish(RelayEvent::DirectoryChanged);
        Ok(promotion)
    }
}
