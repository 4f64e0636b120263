//! The unit of work: every write call is one transaction on the device's store, or a batch of them.

use super::*;

pub(super) fn push_once(touched: &mut Vec<DocId>, id: &DocId) {
    if !touched.contains(id) {
        touched.push(id.clone());
    }
}

impl Journal {
    /// Runs several write calls as one: one SQLite transaction at the end, and on any error nothing of
    /// them is kept. Used by imports and bulk entry.
    pub fn batch<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.batch.is_some() {
            return f(self);
        }
        self.batch = Some(Vec::new());
        let result = f(self);
        let touched = self.batch.take().unwrap_or_default();
        let result = result.and_then(|out| self.persist(&touched).map(|()| out));
        if result.is_err() {
            self.restore(&touched);
        }
        result
    }

    /// Runs a change over several documents and commits it to the store in one transaction; on any error the
    /// documents are restored from the store and nothing is kept. Inside a batch, the batch commits.
    pub(crate) fn change<T>(
        &mut self,
        f: impl FnOnce(&mut Self, &mut Vec<DocId>) -> Result<T>,
    ) -> Result<T> {
        let mut touched = Vec::new();
        let result = f(self, &mut touched);
        if let Some(batch) = &mut self.batch {
            for id in &touched {
                push_once(batch, id);
            }
            return result;
        }
        let result = result.and_then(|out| self.persist(&touched).map(|()| out));
        if result.is_err() {
            self.restore(&touched);
        }
        result
    }

    fn persist(&mut self, touched: &[DocId]) -> Result<()> {
        let docs = &self.docs;
        let mut compacted = Vec::new();
        self.store.write(|w| -> Result<()> {
            for id in touched {
                let Some(doc) = docs.get(id) else { continue };
                let Some(bytes) = doc.unsaved_changes() else {
                    continue;
                };
                let key = id.to_string();
                let stats = w.append_chunk(&key, &bytes)?;
                if stats.needs_compaction() {
                    w.replace_snapshot(&key, &doc.snapshot())?;
                    compacted.push(key);
                }
            }
            Ok(())
        })?;
        if !compacted.is_empty() {
            debug!(documents = compacted.len(), "compacted documents");
        }
        for id in touched {
            if let Some(doc) = self.docs.get_mut(id) {
                doc.mark_saved();
                self.dirty.insert(id.clone());
            }
        }
        Ok(())
    }

    /// Puts touched documents back to what the store holds.
    pub(crate) fn restore(&mut self, touched: &[DocId]) {
        let stored: HashMap<String, Vec<u8>> = match self.store.load_all() {
            Ok(all) => all.into_iter().collect(),
            Err(e) => {
                warn!(error = %e, "could not reload documents after a failed write");
                HashMap::new()
            }
        };
        for id in touched {
            match stored.get(&id.to_string()) {
                Some(bytes) => match Document::load(id.clone(), bytes, &self.actor) {
                    Ok(doc) => {
                        self.docs.insert(id.clone(), doc);
                    }
                    Err(e) => warn!(doc = %id, error = %e, "could not reload a document"),
                },
                None => {
                    self.docs.remove(id);
                }
            }
            self.reindex(id);
        }
    }

    pub(crate) fn doc_mut(
        &mut self,
        id: &DocId,
        touched: &mut Vec<DocId>,
    ) -> Result<&mut Document> {
        if !self.docs.contains_key(id) {
            let doc = Document::create(id.clone(), &self.actor)?;
            self.docs.insert(id.clone(), doc);
        }
        push_once(touched, id);
        let doc = self
            .docs
            .get_mut(id)
            .ok_or_else(|| unknown("document", id))?;
        doc.set_reason(self.reason.as_deref());
        Ok(doc)
    }
}
