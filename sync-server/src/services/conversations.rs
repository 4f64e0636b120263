//! Conversations as the directory sees them: who takes part in which. Who may start one with whom is
//! the grants' rule ([`crate::acl::Grants::may_start_thread`]); here the administration registers the
//! members of a conversation before it starts.

use journal_core::{DocId, ThreadId, YearId};

use super::events::RelayEvent;
use super::{ServiceError, ServiceResult, Services, administration_only};
use crate::auth::Principal;

impl Services {
    /// Registers accounts as members of a conversation of `year` (the directory's year when `None`).
    pub fn register_thread(
        &self,
        by: &Principal,
        thread: ThreadId,
        year: Option<YearId>,
        participants: &[String],
    ) -> ServiceResult<DocId> {
        administration_only(by, "registers conversations")?;
        let year = match year {
            Some(year) => year,
            None => self.hub().directory_year()?.ok_or_else(|| {
                ServiceError::Invalid("the relay knows no school year yet; name the year".into())
            })?,
        };
        let doc = DocId::Thread(year, thread);
        for account in participants {
            if self.store().account(account)?.is_none() {
                return Err(ServiceError::Invalid(format!(
                    "account {account} not found"
                )));
            }
        }
        for account in participants {
            self.store()
                .add_thread_member(&doc, &format!("account:{account}"))?;
        }
        self.record(
            by,
            "register-thread",
            doc.to_string(),
            participants.join(", "),
        )?;
        self.publish(RelayEvent::DirectoryChanged);
        Ok(doc)
    }
}
