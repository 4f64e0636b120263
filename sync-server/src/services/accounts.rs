//! Accounts and devices: adding and updating accounts, deactivating them, signing devices in by token,
//! and revoking devices (the administration any, a user their own), whose live sessions then close.

use journal_core::StudentId;

use super::events::RelayEvent;
use super::{ServiceError, ServiceResult, Services, administration_only};
use crate::auth::{IssuedToken, Principal, issue_device};
use crate::store::{Account, AccountRole, Device};

/// What a session is told when its device is revoked.
pub const REVOKED: &str = "this device was revoked; sign it in again";

/// An account as the administration enters it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountForm {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What the account is in the school.
    pub role: AccountRole,
    /// For a student account, the student it is.
    pub student: Option<StudentId>,
}

/// The longest account name, in bytes: what the school's document holds for a staff member's name.
const MAX_NAME_BYTES: usize = journal_core::validate::MAX_KEY_BYTES;

impl Services {
    /// Adds an account, or updates its name and role; it is active afterwards.
    pub fn save_account(&self, by: &Principal, form: AccountForm) -> ServiceResult<Account> {
        administration_only(by, "adds accounts")?;
        let id = form.id.trim();
        let name = form.name.trim();
        if id.is_empty() || id.len() > 64 || name.is_empty() || name.len() > MAX_NAME_BYTES {
            return Err(ServiceError::Invalid(format!(
                "an account needs an id (up to 64 characters) and a name (up to {MAX_NAME_BYTES} bytes)"
            )));
        }
        if (form.role == AccountRole::Student) != form.student.is_some() {
            return Err(ServiceError::Invalid(
                "a student account names its student, and only a student account does".into(),
            ));
        }
        let account = Account {
            id: id.to_owned(),
            name: name.to_owned(),
            role: form.role,
            active: true,
            student: form.student,
        };
        let existed = self.store().account(&account.id)?.is_some();
        self.store().put_account(&account)?;
        if matches!(
            account.role,
            AccountRole::Administration | AccountRole::Teacher
        ) {
            self.name_staff_in_school(by, &account)?;
        }
        self.record(
            by,
            "save-account",
            format!("account {}", account.id),
            format!(
                "{} {}",
                if existed { "updated as" } else { "added as" },
                account.role
            ),
        )?;
        self.publish(RelayEvent::DirectoryChanged);
        Ok(account)
    }

    /// Deactivates an account (a student who left the school): its devices are refused from then on and
    /// its live sessions close.
    pub fn deactivate_account(&self, by: &Principal, id: &str) -> ServiceResult<()> {
        administration_only(by, "deactivates accounts")?;
        let mut account = self
            .store()
            .account(id)?
            .ok_or_else(|| ServiceError::NotFound(format!("account {id}")))?;
        account.active = false;
        self.store().put_account(&account)?;
        self.record(
            by,
            "deactivate-account",
            format!("account {id}"),
            String::new(),
        )?;
        self.publish(RelayEvent::DirectoryChanged);
        Ok(())
    }

    /// Every account, by id.
    pub fn accounts(&self, by: &Principal) -> ServiceResult<Vec<Account>> {
        administration_only(by, "lists accounts")?;
        Ok(self.store().accounts()?)
    }

    /// Signs a device in to an active account and returns its token, shown only this once.
    pub fn add_device(
        &self,
        by: &Principal,
        account: &str,
        label: &str,
    ) -> ServiceResult<IssuedToken> {
        administration_only(by, "adds devices to accounts")?;
        let label = label.trim();
        let label = if label.is_empty() { "device" } else { label };
        match self.store().account(account)? {
            Some(found) if found.active => {}
            Some(_) => {
                return Err(ServiceError::Invalid(format!(
                    "account {account} is deactivated"
                )));
            }
            None => return Err(ServiceError::NotFound(format!("account {account}"))),
        }
        let issued = issue_device(self.store(), self.secrets(), account, label, self.now())?;
        self.record(
            by,
            "add-device",
            format!("device {}", issued.device.id),
            format!("for account {account}, labelled {label:?}"),
        )?;
        Ok(issued)
    }

    /// The devices of an account: the administration's view of anyone's, a user's of their own.
    pub fn devices_of(&self, by: &Principal, account: &str) -> ServiceResult<Vec<Device>> {
        if by.account.id != account {
            administration_only(by, "lists other accounts' devices")?;
        }
        Ok(self.store().devices_of(account)?)
    }

    /// When a device last started a sync session; `None` if it never synced.
    pub fn device_last_seen(&self, device: &str) -> ServiceResult<Option<i64>> {
        Ok(self.store().last_seen(device)?)
    }

    /// Revokes a device (the administration any, a user one of their own); its live sessions close,
    /// on this relay and on any other serving the same store.
    pub fn revoke_device(&self, by: &Principal, device: &str) -> ServiceResult<()> {
        let admin = by.account.role == AccountRole::Administration;
        if !admin
            && !self
                .store()
                .devices_of(&by.account.id)?
                .iter()
                .any(|d| d.id == device)
        {
            // Someone else's device reads as one that does not exist.
            return Err(ServiceError::NotFound(format!("device {device}")));
        }
        if !self.store().revoke_device(device, self.now())? {
            return Err(ServiceError::NotFound(format!("device {device}")));
        }
        let detail = if by.account.id == "cli" {
            "from the relay's command line"
        } else if admin {
            "by the administration"
        } else {
            "by its owner"
        };
        self.record(
            by,
            "revoke-device",
            format!("device {device}"),
            detail.into(),
        )?;
        tracing::info!(%device, "revoked a device");
        self.publish(RelayEvent::DeviceRevoked {
            device: device.to_owned(),
        });
        Ok(())
    }
}
