//! The relay's service layer: every change to the directory and to the school's years is checked, made,
//! written to the administration's log and published to live sessions here, in one place. HTTP routes,
//! the relay's command line and the web console call only this layer.

pub mod accounts;
pub mod audit;
pub mod backups;
pub mod classes;
pub mod codes;
pub mod consent;
pub mod console;
pub mod conversations;
pub mod events;
pub mod policy;
pub mod roster;

use std::sync::Arc;

use thiserror::Error;

use crate::archive::ArchiveError;
use crate::auth::Principal;
use crate::clock::{Clock, SystemClock};
use crate::hub::{Hub, HubError};
use crate::roster::RowError;
use crate::secrets::HashKey;
use crate::store::{Account, AccountRole, AdminLogEntry, Device, RelayStore, StoreError};
use codes::CodeError;
use events::RelayEvent;

/// Why a service refused or failed.
#[derive(Debug, Error)]
pub enum ServiceError {
    /// The acting account may not do this.
    #[error("{0}")]
    NotAllowed(String),
    /// The request names something wrong.
    #[error("{0}")]
    Invalid(String),
    /// What the request names does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// Rows of a class list that need fixing; nothing was imported.
    #[error("nothing was imported: {} row(s) need fixing", .0.len())]
    Rows(Vec<RowError>),
    /// An access code was refused, or could not be issued.
    #[error(transparent)]
    Code(#[from] CodeError),
    /// The year-end archive failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A backup snapshot could not be taken, read or verified.
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
    /// The journal's rules refused the change.
    #[error(transparent)]
    Journal(#[from] journal_core::Error),
    /// The documents failed.
    #[error(transparent)]
    Hub(#[from] HubError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Result of service calls.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// The services of one relay, over its documents and store.
#[derive(Clone, Debug)]
pub struct Services {
    hub: Arc<Hub>,
    secrets: HashKey,
}

/// The relay's command line acts as the administration, under the account name `cli`.
pub fn command_line() -> Principal {
    Principal {
        account: Account {
            id: "cli".into(),
            name: "command line".into(),
            role: AccountRole::Administration,
            active: true,
            student: None,
        },
        device: Device {
            id: "cli".into(),
            account: "cli".into(),
            label: "command line".into(),
            created_at: SystemClock.now(),
            revoked_at: None,
        },
    }
}

impl Services {
    /// The services over `hub`, hashing codes and tokens with the installation's key.
    pub fn new(hub: Arc<Hub>, secrets: HashKey) -> Self {
        Services { hub, secrets }
    }

    /// The documents.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The store.
    pub fn store(&self) -> &dyn RelayStore {
        self.hub.store().as_ref()
    }

    /// The installation's key for code and token hashes.
    pub fn secrets(&self) -> &HashKey {
        &self.secrets
    }

    /// Now, in Unix seconds, on the relay's clock.
    pub fn now(&self) -> i64 {
        self.hub.clock().now()
    }

    /// Today at the school: the relay's clock in the time zone of the directory's year (UTC before there
    /// is one).
    pub fn school_today(&self) -> ServiceResult<time::Date> {
        let zone = match self.hub.directory_year()? {
            Some(year) => self
                .hub
                .school_settings(year)?
                .map(|s| s.time_zone)
                .unwrap_or_default(),
            None => journal_core::SchoolTimeZone::UTC,
        };
        Ok(zone.day_at(self.now()))
    }

    /// Writes one line of the administration's log.
    fn record(
        &self,
        by: &Principal,
        action: &str,
        target: String,
        detail: String,
    ) -> ServiceResult<()> {
        self.store().log_admin(&AdminLogEntry {
            at: self.now(),
            actor: by.account.id.clone(),
            action: action.to_owned(),
            target,
            detail,
        })?;
        Ok(())
    }

    /// Tells live sessions.
    fn publish(&self, event: RelayEvent) {
        self.hub.announce(event);
    }
}

/// Refuses anyone but the administration.
fn administration_only(by: &Principal, what: &str) -> ServiceResult<()> {
    if by.account.role == AccountRole::Administration {
        Ok(())
    } else {
        Err(ServiceError::NotAllowed(format!(
            "only the administration {what}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::accounts::AccountForm;
    use super::codes::CodeRequest;
    use super::events::{EventBus, LocalBus};
    use super::roster::ListFormat;
    use super::*;
    use crate::auth::authenticate;
    use crate::store::CodeRole;
    use crate::store::sqlite::SqliteStore;
    use journal_core::{ClassId, StudentId, ThreadId, YearId};

    const YEAR: YearId = YearId(2026);

    /// The demo school behind services, and the bus they publish on.
    pub(super) fn school() -> (Services, Arc<LocalBus>) {
        school_on(Arc::new(SystemClock))
    }

    /// The demo school behind services whose relay runs on `clock`.
    pub(super) fn school_on(clock: Arc<dyn Clock>) -> (Services, Arc<LocalBus>) {
        let store: Arc<dyn RelayStore> = Arc::new(SqliteStore::open_in_memory().expect("store"));
        let bus = Arc::new(LocalBus::default());
        let hub = Arc::new(Hub::new(store, bus.clone()).with_clock(clock));
        let (_, shutdown) = tokio::sync::watch::channel(false);
        let app = crate::App::new(
            hub.clone(),
            crate::Limits::default(),
            shutdown,
            "relay".into(),
            HashKey::random(),
        );
        crate::demo::seed(&app, YEAR, crate::demo::DemoOptions::bare()).expect("demo school");
        (app.services.clone(), bus)
    }

    /// A code is good for the days it was issued for, on the relay's clock, and not a second longer; the
    /// device it signs in is added at the relay's time.
    #[test]
    fn a_code_expires_when_its_days_are_up_on_the_relays_clock() {
        let clock = Arc::new(crate::clock::ManualClock::starting_now());
        let (services, _) = school_on(clock.clone());
        let issued_at = clock.now();
        // One code each: a new code for the same person replaces the old.
        let issue = |account: &str| {
            services
                .issue_code(
                    &command_line(),
                    &CodeRequest {
                        role: CodeRole::Staff,
                        account: Some(account.into()),
                        student: None,
                        valid_days: 14,
                    },
                )
                .expect("issued")
                .code
                .to_string()
        };
        let (in_time, too_late) = (issue("t-5a"), issue("t-6b"));
        fn typed(code: &str) -> codes::TypedCode<'_> {
            codes::TypedCode {
                code,
                label: "планшет",
                secret: None,
                keep_account: None,
            }
        }
        clock.advance(std::time::Duration::from_secs(14 * 86_400 - 1));
        let redeemed = services
            .redeem_code(&typed(&in_time), None)
            .expect("a second before the end");
        let device = services
            .devices_of(&command_line(), &redeemed.account.id)
            .expect("devices")
            .into_iter()
            .find(|d| d.label == "планшет")
            .expect("the new device");
        assert_eq!(device.created_at, issued_at + 14 * 86_400 - 1);
        clock.advance(std::time::Duration::from_secs(1));
        assert!(matches!(
            services.redeem_code(&typed(&too_late), None),
            Err(ServiceError::Code(CodeError::Refused))
        ));
    }

    pub(super) fn signed_in(services: &Services, account: &str) -> Principal {
        let issued = services
            .add_device(&command_line(), account, "test")
            .expect("device");
        authenticate(
            services.store(),
            services.secrets(),
            &issued.token,
            services.now(),
        )
        .expect("signed in")
    }

    fn actions(services: &Services) -> Vec<String> {
        services
            .store()
            .admin_log(0, i64::MAX)
            .expect("log")
            .into_iter()
            .map(|e| e.action)
            .collect()
    }

    /// Reports and lists print staff names from the school's document: the demo's staff are there, and a
    /// teacher added later, or renamed, reaches it; a parent does not.
    #[test]
    fn staff_names_reach_the_schools_document() {
        let (services, _) = school();
        let director = signed_in(&services, "director");
        let staff_names = || {
            let bytes = services
                .hub()
                .saved_whole(&journal_core::DocId::School(YEAR))
                .expect("read")
                .expect("the school's document");
            let doc = journal_core::docs::Document::load(
                journal_core::DocId::School(YEAR),
                &bytes,
                &automerge::ActorId::random(),
            )
            .expect("load");
            match doc.view() {
                journal_core::docs::View::School(school) => school.staff.clone(),
                _ => unreachable!(),
            }
        };
        assert_eq!(
            staff_names().get("t-5a").map(String::as_str),
            Some("Соколова Елена Игоревна")
        );
        let save = |id: &str, name: &str, role| {
            services
                .save_account(
                    &director,
                    AccountForm {
                        id: id.into(),
                        name: name.into(),
                        role,
                        student: None,
                    },
                )
                .expect("account")
        };
        save("t-new", "Новикова Ольга", AccountRole::Teacher);
        save("t-new", "Новикова Ольга Петровна", AccountRole::Teacher);
        save("p-new", "Новикова Мария", AccountRole::Parent);
        let names = staff_names();
        assert_eq!(
            names.get("t-new").map(String::as_str),
            Some("Новикова Ольга Петровна")
        );
        assert!(!names.contains_key("p-new"), "{names:?}");
    }

    #[test]
    fn every_administration_action_writes_its_log_line_and_tells_live_sessions() {
        let (services, bus) = school();
        let director = signed_in(&services, "director");
        let before = actions(&services).len();
        let mut events = bus.subscribe();
        let class: ClassId = "5a".parse().expect("class");
        let newcomer: StudentId = "s5a9".parse().expect("student");
        services
            .save_account(
                &director,
                AccountForm {
                    id: "t-new".into(),
                    name: "Новикова Ольга".into(),
                    role: AccountRole::Teacher,
                    student: None,
                },
            )
            .expect("account");
        services
            .place_student(&director, &newcomer, &class, "Новиков Иван")
            .expect("student");
        services
            .add_class_staff(&director, &class, "t-new", false)
            .expect("staff");
        services
            .remove_class_staff(&director, &class, "t-new")
            .expect("staff off");
        services
            .save_account(
                &director,
                AccountForm {
                    id: "p-new".into(),
                    name: "Новикова Мария".into(),
                    role: AccountRole::Parent,
                    student: None,
                },
            )
            .expect("parent");
        services
            .link_guardian(&director, "p-new", &newcomer)
            .expect("guardian");
        let tablet = services
            .add_device(&director, "t-new", "tablet")
            .expect("device");
        services
            .revoke_device(&director, &tablet.device.id)
            .expect("revoke");
        services
            .register_thread(
                &director,
                "staff-room".parse::<ThreadId>().expect("thread"),
                None,
                &["director".into(), "t-5a".into()],
            )
            .expect("thread");
        services
            .import_class_lists(
                &director,
                b"class,student_id,student_name,guardian_id,guardian_name\n5a,s5a8,Petrov Ivan,,\n",
                ListFormat::Csv,
                "list.csv",
            )
            .expect("import");
        let code = services
            .issue_code(
                &director,
                &CodeRequest {
                    role: CodeRole::Student,
                    account: None,
                    student: Some(newcomer.clone()),
                    valid_days: 7,
                },
            )
            .expect("code");
        services
            .redeem_code(
                &codes::TypedCode {
                    code: &code.code.to_string(),
                    label: "phone",
                    secret: None,
                    keep_account: None,
                },
                None,
            )
            .expect("redeem");
        services
            .deactivate_account(&director, "t-new")
            .expect("deactivate");
        let archive = tempfile::tempdir().expect("dir");
        let promotion = services.roll_over(&director, YEAR).expect("rollover");
        assert!(!promotion.classes.is_empty());
        services
            .freeze_year(
                &director,
                YEAR,
                archive.path(),
                &archive.path().join("bundle"),
            )
            .expect("freeze");

        let logged = actions(&services).split_off(before);
        assert_eq!(
            logged,
            [
                "save-account",
                "place-student",
                "add-class-staff",
                "remove-class-staff",
                "save-account",
                "link-guardian",
                "add-device",
                "revoke-device",
                "register-thread",
                "import-roster",
                "issue-code",
                "redeem-code",
                "deactivate-account",
                "rollover",
                "freeze-year",
            ]
        );
        let log = services.store().admin_log(0, i64::MAX).expect("log");
        assert!(
            log.iter()
                .all(|e| !e.detail.contains(&tablet.token)
                    && !e.detail.contains(&code.code.to_string())),
            "no secret is ever logged"
        );
        let mut heard = Vec::new();
        while let Ok(event) = events.try_recv() {
            heard.push(event);
        }
        assert!(heard.contains(&events::RelayEvent::DeviceRevoked {
            device: tablet.device.id.clone()
        }));
        let directory_changes = heard
            .iter()
            .filter(|e| matches!(e, events::RelayEvent::DirectoryChanged))
            .count();
        assert!(directory_changes >= 10, "{heard:?}");
        assert!(
            heard.iter().any(|e| matches!(e, events::RelayEvent::Changed { doc, .. } if doc.year() == YearId(2027))),
            "the new year's documents reach live sessions"
        );
    }

    #[test]
    fn refused_actions_change_nothing_and_log_nothing() {
        let (services, bus) = school();
        let teacher = signed_in(&services, "t-5a");
        let parent = signed_in(&services, "parent-s5a1");
        let before = actions(&services);
        let mut events = bus.subscribe();
        let refused = services
            .save_account(
                &teacher,
                AccountForm {
                    id: "intruder".into(),
                    name: "x".into(),
                    role: AccountRole::Administration,
                    student: None,
                },
            )
            .expect_err("a teacher adds no accounts");
        assert!(matches!(refused, ServiceError::NotAllowed(_)), "{refused}");
        assert!(
            services
                .store()
                .account("intruder")
                .expect("read")
                .is_none()
        );
        // Someone else's device reads as unknown, and stays signed in.
        let refused = services
            .revoke_device(&parent, &teacher.device.id)
            .expect_err("not theirs");
        assert!(matches!(refused, ServiceError::NotFound(_)), "{refused}");
        assert!(
            authenticate(
                services.store(),
                services.secrets(),
                &services
                    .add_device(&command_line(), "t-5a", "spare")
                    .expect("device")
                    .token,
                services.now()
            )
            .is_ok()
        );
        let refused = services
            .import_class_lists(
                &services
                    .store()
                    .account("director")
                    .expect("read")
                    .map(|account| Principal {
                        account,
                        device: teacher.device.clone(),
                    })
                    .expect("director"),
                b"class,student_id,student_name,guardian_id,guardian_name\n5a,s5a7,Good Row,,\n5a,,,,\n",
                ListFormat::Csv,
                "bad.csv",
            )
            .expect_err("a bad row");
        assert!(
            matches!(&refused, ServiceError::Rows(rows) if rows.len() == 1 && rows[0].row == 3),
            "{refused}"
        );
        assert!(
            services
                .store()
                .student(&"s5a7".parse().expect("id"))
                .expect("read")
                .is_none(),
            "nothing of a refused list is imported"
        );
        let after = actions(&services);
        assert_eq!(
            after[before.len()..],
            ["add-device"],
            "only the spare device the command line added is logged"
        );
        // A user revokes their own device: logged as by its owner, and its sessions hear of it.
        services
            .revoke_device(&parent, &parent.device.id)
            .expect("own device");
        let last = services.store().admin_log(0, i64::MAX).expect("log");
        let last = last.last().expect("entry");
        assert_eq!(
            (
                last.action.as_str(),
                last.actor.as_str(),
                last.detail.as_str()
            ),
            ("revoke-device", "parent-s5a1", "by its owner")
        );
        let mut revoked = false;
        while let Ok(event) = events.try_recv() {
            revoked |= event
                == events::RelayEvent::DeviceRevoked {
                    device: parent.device.id.clone(),
                };
        }
        assert!(revoked);
    }
}
