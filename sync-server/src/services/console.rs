//! Who may use the web console and for what, and the console's own devices: the console signs in as a
//! device of the account, so revoking it or deactivating the account ends the console session too.

use journal_core::ClassId;

use super::{ServiceError, ServiceResult, Services};
use crate::auth::{IssuedToken, Principal, issue_device};
use crate::store::{Account, AccountRole};

pub use crate::auth::CONSOLE_DEVICE;

/// What part of the school a console user looks after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Desk {
    /// The administration: the whole school.
    School,
    /// A class teacher: their own classes.
    Classes(Vec<ClassId>),
}

impl Desk {
    /// Whether the desk covers `class`.
    pub fn covers(&self, class: &ClassId) -> bool {
        match self {
            Desk::School => true,
            Desk::Classes(classes) => classes.contains(class),
        }
    }
}

/// Whom an access code belongs to, as far as the console needs to know before spending it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeOwner {
    /// A member of staff's code for this account.
    Staff(Account),
    /// A parent's or student's code.
    Family,
    /// Not a code the relay knows (or its account is gone); redeeming it says why.
    Unknown,
}

impl Services {
    /// The console desk of `account`: the administration's, a class teacher's, or a refusal for anyone else.
    pub fn console_desk(&self, account: &Account) -> ServiceResult<Desk> {
        let refused = || {
            ServiceError::NotAllowed(
                "the console is for the school's administration and class teachers".into(),
            )
        };
        match account.role {
            AccountRole::Administration => Ok(Desk::School),
            AccountRole::Teacher => {
                let classes: Vec<ClassId> = self
                    .store()
                    .access_facts(&account.id)?
                    .staff_classes
                    .into_iter()
                    .filter_map(|(class, class_teacher)| class_teacher.then_some(class))
                    .collect();
                if classes.is_empty() {
                    Err(refused())
                } else {
                    Ok(Desk::Classes(classes))
                }
            }
            AccountRole::Parent | AccountRole::Student => Err(refused()),
        }
    }

    /// Whom a typed code would sign in, without spending it.
    pub fn code_owner(&self, typed: &str) -> ServiceResult<CodeOwner> {
        let Ok(code) = typed.parse::<journal_core::access_code::AccessCode>() else {
            return Ok(CodeOwner::Unknown);
        };
        let canonical = code.canonical();
        let Some((record, stored)) = self
            .store()
            .code_by_hash(&self.secrets().code_hash(&canonical))?
        else {
            return Ok(CodeOwner::Unknown);
        };
        if !self.secrets().code_matches(&canonical, &stored) {
            return Ok(CodeOwner::Unknown);
        }
        if record.role != crate::store::CodeRole::Staff {
            return Ok(CodeOwner::Family);
        }
        let account = match record.account {
            Some(id) => self.store().account(&id)?.filter(|a| a.active),
            None => None,
        };
        Ok(account.map_or(CodeOwner::Unknown, CodeOwner::Staff))
    }

    /// A new console device for the account `who` signed in with, so that signing out of the console
    /// never revokes the device `who` came from.
    pub fn open_console_device(&self, who: &Principal) -> ServiceResult<IssuedToken> {
        self.close_expired_consoles(&who.account.id)?;
        let issued = issue_device(
            self.store(),
            self.secrets(),
            &who.account.id,
            CONSOLE_DEVICE,
            self.now(),
        )?;
        self.record(
            who,
            "console-sign-in",
            format!("device {}", issued.device.id),
            format!("signed in from device {}", who.device.id),
        )?;
        Ok(issued)
    }

    /// Revokes the account's console sign-ins past their lifetime, which no request can use any more, so
    /// the account's list of devices shows only the live ones.
    fn close_expired_consoles(&self, account: &str) -> ServiceResult<()> {
        let now = self.now();
        for device in self.store().devices_of(account)? {
            if device.revoked_at.is_none() && crate::auth::console_expired(&device, now) {
                self.store().revoke_device(&device.id, now)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::codes::{CodeRequest, TypedCode};
    use crate::services::command_line;
    use crate::services::tests::{school, signed_in};
    use crate::store::CodeRole;

    fn account(services: &Services, id: &str) -> Account {
        services
            .store()
            .account(id)
            .expect("store")
            .expect("account")
    }

    #[test]
    fn the_administration_gets_the_school_a_class_teacher_their_class_and_others_nothing() {
        let (services, _) = school();
        assert_eq!(
            services.console_desk(&account(&services, "director")).ok(),
            Some(Desk::School)
        );
        assert_eq!(
            services.console_desk(&account(&services, "t-5a")).ok(),
            Some(Desk::Classes(vec!["5a".parse().expect("class")]))
        );
        for outsider in ["t-math", "parent-s5a1", "student-s5a1"] {
            assert!(
                matches!(
                    services.console_desk(&account(&services, outsider)),
                    Err(ServiceError::NotAllowed(_))
                ),
                "{outsider}"
            );
        }
    }

    #[test]
    fn a_code_is_told_apart_without_being_spent() {
        let (services, _) = school();
        let issue = |role, account: Option<&str>, student: Option<&str>| {
            services
                .issue_code(
                    &command_line(),
                    &CodeRequest {
                        role,
                        account: account.map(str::to_owned),
                        student: student.map(|s| s.parse().expect("student")),
                        valid_days: 14,
                    },
                )
                .expect("issued")
                .code
                .to_string()
        };
        let staff = issue(CodeRole::Staff, Some("t-5a"), None);
        let parent = issue(CodeRole::Parent, Some("parent-s5a1"), Some("s5a1"));
        assert_eq!(
            services.code_owner(&staff).expect("owner"),
            CodeOwner::Staff(account(&services, "t-5a"))
        );
        assert_eq!(
            services.code_owner(&parent).expect("owner"),
            CodeOwner::Family
        );
        assert_eq!(
            services.code_owner("AAAA-BBBB-CCCC-D").expect("owner"),
            CodeOwner::Unknown
        );
        assert_eq!(services.code_owner("").expect("owner"), CodeOwner::Unknown);
        for code in [&staff, &parent] {
            let typed = TypedCode {
                code,
                label: "телефон",
                secret: None,
                keep_account: None,
            };
            services
                .redeem_code(&typed, None)
                .expect("still good after the console looked at it");
        }
    }

    #[test]
    fn signing_in_from_a_device_gives_the_console_a_device_of_its_own() {
        let (services, _) = school();
        let tablet = signed_in(&services, "t-5a");
        let console = services.open_console_device(&tablet).expect("console");
        assert_ne!(console.device.id, tablet.device.id);
        assert_eq!(console.device.account, "t-5a");
        assert_eq!(console.device.label, CONSOLE_DEVICE);
        let console_user = crate::auth::authenticate(
            services.store(),
            services.secrets(),
            &console.token,
            services.now(),
        )
        .expect("the console's token signs in");
        services
            .revoke_device(&console_user, &console_user.device.id)
            .expect("signing out");
        assert!(
            crate::auth::authenticate(
                services.store(),
                services.secrets(),
                &console.token,
                services.now()
            )
            .is_err()
        );
        assert!(
            services
                .devices_of(&tablet, "t-5a")
                .expect("devices")
                .iter()
                .any(|d| d.id == tablet.device.id && d.revoked_at.is_none()),
            "the tablet is still signed in"
        );
    }

    #[test]
    fn a_console_past_its_day_opens_nothing_and_is_revoked_at_the_next_sign_in() {
        let clock = std::sync::Arc::new(crate::clock::ManualClock::starting_now());
        let (services, _) = crate::services::tests::school_on(clock.clone());
        let tablet = signed_in(&services, "director");
        let yesterday = services.open_console_device(&tablet).expect("console");
        clock.advance(std::time::Duration::from_secs(
            u64::try_from(crate::auth::CONSOLE_SESSION_SECONDS).expect("positive") + 1,
        ));
        assert!(
            crate::auth::authenticate(
                services.store(),
                services.secrets(),
                &yesterday.token,
                services.now()
            )
            .is_err(),
            "yesterday's console opens neither the console, the API nor sync"
        );
        let today = services.open_console_device(&tablet).expect("console");
        let devices = services.devices_of(&tablet, "director").expect("devices");
        let revoked = |id: &str| {
            devices
                .iter()
                .find(|d| d.id == id)
                .map(|d| d.revoked_at.is_some())
        };
        assert_eq!(revoked(&yesterday.device.id), Some(true));
        assert_eq!(revoked(&today.device.id), Some(false));
        assert_eq!(revoked(&tablet.device.id), Some(false));
    }
}
