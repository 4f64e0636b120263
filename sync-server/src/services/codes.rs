//! Issuing and redeeming one-time access codes (regulation 3.2): administration issues codes for anyone, a
//! class teacher for the students of their own class and for their families (new guardians, or guardians
//! whose children are all in a class they lead), nobody else anything. A code names the person it signs
//! in; linking an existing account to another child is the administration's, and audited. Codes are stored
//! only as hashes under the installation's key and checked in constant time.

use journal_core::StudentId;
use journal_core::access_code::AccessCode;
use thiserror::Error;

use crate::acl::Grants;
use crate::auth::{IssuedToken, Principal, new_device};
use crate::secrets::HashKey;
use crate::store::{
    Account, AccountRole, AdminLogEntry, CodeRecord, CodeRole, Redemption, RelayStore, StoreError,
};

/// Default lifetime of a code.
pub const DEFAULT_VALID_DAYS: u32 = 14;

/// The longest a code may be valid, in days.
pub const MAX_VALID_DAYS: u32 = 90;

/// Why a code was not issued or redeemed.
#[derive(Debug, Error)]
pub enum CodeError {
    /// The issuer may not issue this code.
    #[error("{0}")]
    NotAllowed(String),
    /// The request names something wrong.
    #[error("{0}")]
    Invalid(String),
    /// A valid code for another account than the one the device asked to keep; nothing was spent.
    #[error(
        "this code signs in another account ({role}) than the one this device is signed in as; nothing was changed and the code is still valid"
    )]
    OtherAccount {
        /// The other account's role, for the device to say whose code it is.
        role: AccountRole,
    },
    /// Wrong, expired or spent: deliberately one message.
    #[error("this access code is not valid (mistyped, expired or already used); ask for a new one")]
    Refused,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an issuer asks for.
#[derive(Clone, Debug)]
pub struct CodeRequest {
    /// Whom the code signs in.
    pub role: CodeRole,
    /// The staff account, or an existing parent account to gain a child.
    pub account: Option<String>,
    /// The student, for student and parent codes.
    pub student: Option<StudentId>,
    /// Days the code stays valid.
    pub valid_days: u32,
}

/// A freshly issued code: shown once, never stored.
#[derive(Clone, Debug)]
pub struct IssuedCode {
    /// The code to hand over.
    pub code: AccessCode,
    /// Its stored record.
    pub record: CodeRecord,
}

fn log(
    store: &dyn RelayStore,
    at: i64,
    actor: &str,
    action: &str,
    target: String,
    detail: String,
) -> Result<(), StoreError> {
    store.log_admin(&AdminLogEntry {
        at,
        actor: actor.to_owned(),
        action: action.to_owned(),
        target,
        detail,
    })
}

/// Issues a code at `at` if `issuer` may.
pub fn issue(
    store: &dyn RelayStore,
    key: &HashKey,
    issuer: &Principal,
    request: &CodeRequest,
    at: i64,
) -> Result<IssuedCode, CodeError> {
    let admin = issuer.account.role == AccountRole::Administration;
    if !(1..=MAX_VALID_DAYS).contains(&request.valid_days) {
        return Err(CodeError::Invalid(
            "a code is valid for 1 to 90 days".into(),
        ));
    }
    // What the audit log says beyond the code's target: an existing account gaining a child.
    let mut links = None;
    match request.role {
        CodeRole::Staff => {
            if !admin {
                return Err(CodeError::NotAllowed(
                    "only the administration issues codes for staff".into(),
                ));
            }
            let account = request.account.as_deref().ok_or_else(|| {
                CodeError::Invalid("a staff code names the staff member's account".into())
            })?;
            let found = store
                .account(account)?
                .filter(|a| matches!(a.role, AccountRole::Teacher | AccountRole::Administration))
                .ok_or_else(|| CodeError::Invalid(format!("{account} is not a staff account")))?;
            if !found.active {
                return Err(CodeError::Invalid(format!("{account} is deactivated")));
            }
        }
        CodeRole::Student | CodeRole::Parent => {
            let student = request.student.as_ref().ok_or_else(|| {
                CodeError::Invalid("a student or parent code names the student".into())
            })?;
            let (class, _) = store.student(student)?.ok_or_else(|| {
                CodeError::Invalid(format!("student {student} is not on any class list"))
            })?;
            let grants = if admin {
                None
            } else {
                let grants = Grants::load(store, &issuer.account.id, None)?
                    .ok_or_else(|| CodeError::NotAllowed("this account is not active".into()))?;
                if !grants.is_class_teacher_of(&class) {
                    return Err(CodeError::NotAllowed(
                        "a class teacher issues codes only for the students and parents of their own class".into(),
                    ));
                }
                Some(grants)
            };
            if let Some(account) = &request.account {
                let parent = store
                    .account(account)?
                    .filter(|a| a.role == AccountRole::Parent && a.active);
                if request.role != CodeRole::Parent || parent.is_none() {
                    return Err(CodeError::Invalid(format!(
                        "{account} is not an active parent account"
                    )));
                }
                let children = store.access_facts(account)?.children;
                let already = children.iter().any(|(child, _)| child == student);
                if let Some(grants) = &grants {
                    if !already {
                        return Err(CodeError::NotAllowed(format!(
                            "{account} is not a guardian of {student}: linking an existing account to another child is the administration's job; issue a code without an account for a new guardian"
                        )));
                    }
                    if let Some((other, class)) = children
                        .iter()
                        .find(|(_, class)| !grants.is_class_teacher_of(class))
                    {
                        return Err(CodeError::NotAllowed(format!(
                            "{account} is also the guardian of {other} in class {class}: only the administration issues codes for an account that reaches beyond your class"
                        )));
                    }
                }
                if !already {
                    links = Some(format!("links existing account {account} to {student}"));
                }
            }
        }
    }
    let code = AccessCode::generate();
    let record = CodeRecord {
        id: crate::auth::random_hex(8),
        role: request.role,
        account: request.account.clone(),
        student: request.student.clone(),
        issued_by: issuer.account.id.clone(),
        issued_at: at,
        expires_at: at + i64::from(request.valid_days) * 86_400,
        spent_at: None,
        spent_by_device: None,
    };
    store.put_code(&record, &key.code_hash(&code.canonical()))?;
    let target = match (&record.student, &record.account) {
        (Some(student), Some(account)) => format!(
            "{} code for student {student}, account {account}",
            record.role.as_str()
        ),
        (Some(student), None) => format!("{} code for student {student}", record.role.as_str()),
        (None, Some(account)) => format!("staff code for {account}"),
        (None, None) => record.role.as_str().to_owned(),
    };
    let mut detail = format!("code {} valid {} days", record.id, request.valid_days);
    if let Some(links) = links {
        detail = format!("{detail}; {links}");
    }
    log(store, at, &issuer.account.id, "issue-code", target, detail)?;
    Ok(IssuedCode { code, record })
}

impl super::Services {
    /// Issues a code if `issuer` may; the code is shown once and only its hash is kept.
    pub fn issue_code(
        &self,
        issuer: &Principal,
        request: &CodeRequest,
    ) -> super::ServiceResult<IssuedCode> {
        let issued = issue(self.store(), self.secrets(), issuer, request, self.now())?;
        tracing::info!(code = %issued.record.id, role = issued.record.role.as_str(), "issued an access code");
        Ok(issued)
    }

    /// Redeems a code typed on a device (see [`redeem`]); live sessions hear of the new account or child.
    pub fn redeem_code(
        &self,
        typed: &TypedCode<'_>,
        signed_in: Option<&Principal>,
    ) -> super::ServiceResult<Redeemed> {
        let redeemed = redeem(self.store(), self.secrets(), typed, signed_in, self.now())?;
        self.publish(super::events::RelayEvent::DirectoryChanged);
        tracing::info!(account = %redeemed.account.id, "redeemed an access code");
        Ok(redeemed)
    }
}

/// What a redemption gives the device.
#[derive(Clone, Debug)]
pub struct Redeemed {
    /// The account the device is signed in to.
    pub account: Account,
    /// A new device token, unless the device was already signed in and only gained a child.
    pub token: Option<IssuedToken>,
}

/// A code as a device sends it.
#[derive(Clone, Copy, Debug)]
pub struct TypedCode<'a> {
    /// The code, as typed.
    pub code: &'a str,
    /// What the device calls itself ("мамин телефон").
    pub label: &'a str,
    /// The token secret the device proposes (64 hex digits, the same each time it sends this code), so
    /// that a retry after a lost reply gets the same answer instead of "already used".
    pub secret: Option<&'a str>,
    /// The account the device is signed in as and means to stay: a code for any other account is refused
    /// unspent, instead of switching the device's account silently.
    pub keep_account: Option<&'a str>,
}

/// Whether a device's proposed token secret is well formed: 64 lowercase hexadecimal digits.
pub fn valid_secret(secret: &str) -> bool {
    secret.len() == 64
        && secret
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Redeems a code typed on a device at `at`. `signed_in` is the device's current identity, if it has one: a
/// parent who redeems a second child's code keeps their account and device. Sent again by the device that
/// spent it (the reply was lost), a code gets the same answer.
pub fn redeem(
    store: &dyn RelayStore,
    key: &HashKey,
    typed: &TypedCode<'_>,
    signed_in: Option<&Principal>,
    at: i64,
) -> Result<Redeemed, CodeError> {
    let code: AccessCode = typed.code.parse().map_err(|_| CodeError::Refused)?;
    let (record, stored) = store
        .code_by_hash(&key.code_hash(&code.canonical()))?
        .ok_or(CodeError::Refused)?;
    if !key.code_matches(&code.canonical(), &stored) {
        return Err(CodeError::Refused);
    }
    let secret = match typed.secret {
        Some(secret) if !valid_secret(secret) => {
            return Err(CodeError::Invalid(
                "the device's proposed token secret must be 64 lowercase hexadecimal digits".into(),
            ));
        }
        other => other,
    };
    if record.spent_at.is_some() {
        return answer_again(store, key, &record, secret, signed_in, at)?.ok_or(CodeError::Refused);
    }
    if record.expires_at <= at {
        return Err(CodeError::Refused);
    }
    let label = typed.label.trim().chars().take(100).collect::<String>();
    let (account, new_account, guardian_of) = match record.role {
        CodeRole::Staff => {
            let id = record.account.clone().ok_or(CodeError::Refused)?;
            let account = store
                .account(&id)?
                .filter(|a| a.active)
                .ok_or(CodeError::Refused)?;
            (account, None, None)
        }
        CodeRole::Student => {
            let student = record.student.clone().ok_or(CodeError::Refused)?;
            let id = format!("student-{student}");
            match store.account(&id)? {
                Some(account) if account.active => (account, None, None),
                Some(_) => return Err(CodeError::Refused),
                None => {
                    let (_, name) = store.student(&student)?.ok_or(CodeError::Refused)?;
                    let account = Account {
                        id,
                        name,
                        role: AccountRole::Student,
                        active: true,
                        student: Some(student),
                    };
                    (account.clone(), Some(account), None)
                }
            }
        }
        CodeRole::Parent => {
            let student = record.student.clone().ok_or(CodeError::Refused)?;
            // A code that names an account signs in that account; one for a new guardian gives the child to
            // the parent already signed in on the device, if any.
            let existing = match (&record.account, signed_in) {
                (Some(id), _) => Some(
                    store
                        .account(id)?
                        .filter(|a| a.active && a.role == AccountRole::Parent)
                        .ok_or(CodeError::Refused)?,
                ),
                (None, Some(who)) if who.account.role == AccountRole::Parent => {
                    Some(who.account.clone())
                }
                (None, _) => None,
            };
            match existing {
                Some(account) => {
                    let link = (account.id.clone(), student);
                    (account, None, Some(link))
                }
                None => {
                    let (_, name) = store.student(&student)?.ok_or(CodeError::Refused)?;
                    let account = Account {
                        id: format!("parent-{}", crate::auth::random_hex(6)),
                        name: format!("Родитель: {name}"),
                        role: AccountRole::Parent,
                        active: true,
                        student: None,
                    };
                    let link = (account.id.clone(), student);
                    (account.clone(), Some(account), Some(link))
                }
            }
        }
    };
    if let Some(kept) = typed.keep_account
        && kept != account.id
    {
        return Err(CodeError::OtherAccount { role: account.role });
    }
    let keeps_device = matches!(signed_in, Some(who) if who.account.id == account.id);
    let token = (!keeps_device).then(|| new_device(key, &account.id, &label, at, secret));
    let redemption = Redemption {
        code_id: record.id.clone(),
        new_account,
        guardian_of,
        device: token
            .as_ref()
            .map(|(issued, hash)| (issued.device.clone(), hash.clone())),
        at,
    };
    if !store.redeem(&redemption)? {
        return Err(CodeError::Refused);
    }
    let device = token
        .as_ref()
        .map(|(t, _)| t.device.id.clone())
        .or_else(|| signed_in.map(|w| w.device.id.clone()))
        .unwrap_or_default();
    log(
        store,
        at,
        &account.id,
        "redeem-code",
        format!("code {}", record.id),
        format!("device {device}"),
    )?;
    Ok(Redeemed {
        account,
        token: token.map(|(t, _)| t),
    })
}

/// The answer to a spent code sent again by the device it was spent for, whose reply was lost: the same
/// account and token when the device proves it with the secret it proposed (checked in constant time
/// against the stored hash, like any token); for a signed-in parent, the child the code linked. `None`
/// for anyone else.
fn answer_again(
    store: &dyn RelayStore,
    key: &HashKey,
    record: &CodeRecord,
    secret: Option<&str>,
    signed_in: Option<&Principal>,
    at: i64,
) -> Result<Option<Redeemed>, CodeError> {
    if let (Some(device_id), Some(secret)) = (&record.spent_by_device, secret) {
        let Some((device, stored)) = store.device_auth(device_id)? else {
            return Ok(None);
        };
        if device.revoked_at.is_some() || !key.token_matches(secret, &stored) {
            return Ok(None);
        }
        let Some(account) = store.account(&device.account)?.filter(|a| a.active) else {
            return Ok(None);
        };
        log(
            store,
            at,
            &account.id,
            "redeem-code",
            format!("code {} (sent again)", record.id),
            format!("device {device_id}"),
        )?;
        return Ok(Some(Redeemed {
            account,
            token: Some(IssuedToken {
                token: format!("{device_id}.{secret}"),
                device,
            }),
        }));
    }
    // A signed-in parent whose second child's code went through: the child is theirs already.
    if let (Some(who), CodeRole::Parent, Some(student)) =
        (signed_in, record.role, record.student.as_ref())
        && record.spent_by_device.is_none()
        && record.account.as_ref().is_none_or(|a| *a == who.account.id)
        && store
            .access_facts(&who.account.id)?
            .children
            .iter()
            .any(|(child, _)| child == student)
    {
        return Ok(Some(Redeemed {
            account: who.account.clone(),
            token: None,
        }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, SystemClock};

    fn now() -> i64 {
        SystemClock.now()
    }
    use crate::store::sqlite::SqliteStore;
    use crate::store::{DirectoryStore, LogStore};

    fn typed<'a>(code: &'a str, label: &'a str) -> TypedCode<'a> {
        TypedCode {
            code,
            label,
            secret: None,
            keep_account: None,
        }
    }

    /// One installation key for the whole test module.
    fn key() -> HashKey {
        static KEY: std::sync::OnceLock<HashKey> = std::sync::OnceLock::new();
        KEY.get_or_init(HashKey::random).clone()
    }

    fn principal(store: &SqliteStore, id: &str, role: AccountRole) -> Principal {
        let account = Account {
            id: id.into(),
            name: id.into(),
            role,
            active: true,
            student: None,
        };
        store.put_account(&account).expect("account");
        let issued = crate::auth::issue_device(store, &key(), id, "d", 1).expect("device");
        Principal {
            account,
            device: issued.device,
        }
    }

    /// A store with one student, `kid`, in class 5a.
    fn store_with_kid() -> SqliteStore {
        let store = SqliteStore::open_in_memory().expect("store");
        let (kid, class) = ("kid".parse().expect("id"), "5a".parse().expect("id"));
        store.put_student(&kid, &class, "Kid").expect("student");
        store
    }

    fn kid_code(role: CodeRole, valid_days: u32) -> CodeRequest {
        CodeRequest {
            role,
            account: None,
            student: Some("kid".parse().expect("id")),
            valid_days,
        }
    }

    #[test]
    fn a_code_for_another_account_is_refused_unspent_when_the_device_keeps_its_own() {
        let store = store_with_kid();
        let admin = principal(&store, "director", AccountRole::Administration);
        let parent = principal(&store, "parent-1", AccountRole::Parent);
        let issued = issue(
            &store,
            &key(),
            &admin,
            &kid_code(CodeRole::Student, 7),
            now(),
        )
        .expect("issue");
        let code = issued.code.to_string();
        let keeping = TypedCode {
            keep_account: Some("parent-1"),
            ..typed(&code, "phone")
        };
        let err =
            redeem(&store, &key(), &keeping, Some(&parent), now()).expect_err("another account");
        assert!(
            matches!(
                err,
                CodeError::OtherAccount {
                    role: AccountRole::Student
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("student"), "{err}");
        // Nothing was spent: the same code still signs in the student on purpose.
        let switched =
            redeem(&store, &key(), &typed(&code, "phone"), Some(&parent), now()).expect("redeem");
        assert_eq!(switched.account.role, AccountRole::Student);
    }

    #[test]
    fn an_expired_code_is_refused_like_a_wrong_one() {
        let store = store_with_kid();
        let admin = principal(&store, "director", AccountRole::Administration);
        let request = kid_code(CodeRole::Student, 1);
        let issued = issue(&store, &key(), &admin, &request, now()).expect("issue");
        // A code for another student that expired a second ago.
        let mut expired = issued.record.clone();
        expired.id = "expired".into();
        expired.student = Some("other-kid".parse().expect("id"));
        expired.expires_at = now() - 1;
        let other = AccessCode::generate();
        store
            .put_code(&expired, &key().code_hash(&other.canonical()))
            .expect("put");
        let err = redeem(&store, &key(), &typed(&other.to_string(), "d"), None, now())
            .expect_err("expired");
        assert!(matches!(err, CodeError::Refused));
        assert!(
            redeem(
                &store,
                &key(),
                &typed(&issued.code.to_string(), "d"),
                None,
                now()
            )
            .is_ok(),
            "the live code still works"
        );
        let log = store.admin_log(0, i64::MAX).expect("log");
        assert!(
            log.iter()
                .all(|e| !e.detail.contains(&issued.code.canonical())
                    && !e.target.contains(&issued.code.canonical()))
        );
    }

    #[test]
    fn issuing_rules_hold_without_the_network() {
        let store = store_with_kid();
        let teacher = principal(&store, "t", AccountRole::Teacher);
        let request = kid_code(CodeRole::Parent, 14);
        assert!(matches!(
            issue(&store, &key(), &teacher, &request, now()),
            Err(CodeError::NotAllowed(_))
        ));
        store
            .put_class_staff(&"5a".parse().expect("id"), "t", true)
            .expect("class teacher");
        assert!(issue(&store, &key(), &teacher, &request, now()).is_ok());
        let too_long = CodeRequest {
            valid_days: 365,
            ..request
        };
        assert!(matches!(
            issue(&store, &key(), &teacher, &too_long, now()),
            Err(CodeError::Invalid(_))
        ));
    }

    /// Class 5a (kid, led by t) and 6b (sib, led by u); mum is kid's guardian, dad is sib's, and aunt is the
    /// guardian of both.
    fn two_classes() -> (SqliteStore, Principal, Principal) {
        let store = store_with_kid();
        let (sib, c6b): (StudentId, journal_core::ClassId) =
            ("sib".parse().expect("id"), "6b".parse().expect("id"));
        store.put_student(&sib, &c6b, "Sib").expect("student");
        let teacher = principal(&store, "t", AccountRole::Teacher);
        let other = principal(&store, "u", AccountRole::Teacher);
        store
            .put_class_staff(&"5a".parse().expect("id"), "t", true)
            .expect("staff");
        store.put_class_staff(&c6b, "u", true).expect("staff");
        for (parent, children) in [
            ("mum", &["kid"][..]),
            ("dad", &["sib"]),
            ("aunt", &["kid", "sib"]),
        ] {
            principal(&store, parent, AccountRole::Parent);
            for child in children {
                store
                    .link_guardian(parent, &child.parse().expect("id"))
                    .expect("guardian");
            }
        }
        (store, teacher, other)
    }

    fn naming(account: &str, student: &str) -> CodeRequest {
        CodeRequest {
            role: CodeRole::Parent,
            account: Some(account.into()),
            student: Some(student.parse().expect("id")),
            valid_days: 14,
        }
    }

    #[test]
    fn a_class_teacher_names_only_their_own_familys_accounts() {
        let (store, teacher, _) = two_classes();
        issue(&store, &key(), &teacher, &naming("mum", "kid"), now())
            .expect("a new code for kid's mum");
        for (account, why) in [
            ("dad", "not a guardian of kid"),
            ("aunt", "also the guardian of a child in 6b"),
        ] {
            let err =
                issue(&store, &key(), &teacher, &naming(account, "kid"), now()).expect_err(why);
            assert!(matches!(err, CodeError::NotAllowed(_)), "{why}: {err}");
        }
        assert!(
            !store
                .access_facts("dad")
                .expect("facts")
                .children
                .iter()
                .any(|(c, _)| c.as_str() == "kid"),
            "nothing was linked"
        );
    }

    #[test]
    fn the_administration_links_an_existing_account_and_the_log_says_so() {
        let (store, _, _) = two_classes();
        let head = principal(&store, "head", AccountRole::Administration);
        let issued =
            issue(&store, &key(), &head, &naming("dad", "kid"), now()).expect("admin links");
        let line = store
            .admin_log(0, i64::MAX)
            .expect("log")
            .into_iter()
            .find(|e| e.action == "issue-code" && e.detail.contains(&issued.record.id))
            .expect("logged");
        assert!(
            line.detail.contains("links existing account dad to kid"),
            "{line:?}"
        );
        let redeemed = redeem(
            &store,
            &key(),
            &typed(&issued.code.to_string(), "phone"),
            None,
            now(),
        )
        .expect("redeem");
        assert_eq!(redeemed.account.id, "dad");
    }

    #[test]
    fn a_code_naming_an_account_signs_in_that_account_only() {
        let (store, teacher, _) = two_classes();
        let issued = issue(&store, &key(), &teacher, &naming("mum", "kid"), now()).expect("issue");
        let dad = principal(&store, "dad", AccountRole::Parent);
        let redeemed = redeem(
            &store,
            &key(),
            &typed(&issued.code.to_string(), "phone"),
            Some(&dad),
            now(),
        )
        .expect("redeem");
        assert_eq!(
            redeemed.account.id, "mum",
            "the named account, not the device's"
        );
        assert!(redeemed.token.is_some(), "a device of mum's of its own");
    }

    #[test]
    fn a_code_sent_again_by_the_device_that_spent_it_gets_the_same_answer() {
        let store = store_with_kid();
        let admin = principal(&store, "director", AccountRole::Administration);
        let issued = issue(
            &store,
            &key(),
            &admin,
            &kid_code(CodeRole::Parent, 7),
            now(),
        )
        .expect("issue");
        let code = issued.code.to_string();
        let mine = "ab".repeat(32);
        let sent = |secret: Option<&str>| {
            redeem(
                &store,
                &key(),
                &TypedCode {
                    code: &code,
                    label: "мамин телефон",
                    secret,
                    keep_account: None,
                },
                None,
                now(),
            )
        };
        let first = sent(Some(&mine)).expect("redeemed");
        let token = first.token.clone().expect("a token").token;
        let again = sent(Some(&mine)).expect("the lost reply, again");
        assert_eq!(again.account, first.account);
        assert_eq!(again.token.expect("a token").token, token);
        let who =
            crate::auth::authenticate(&store, &key(), &token, now()).expect("the token works");
        assert_eq!(who.account.id, first.account.id);
        assert_eq!(
            store.devices_of(&first.account.id).expect("devices").len(),
            1,
            "one device, not two"
        );
        assert!(matches!(
            sent(Some(&"cd".repeat(32))),
            Err(CodeError::Refused)
        ));
        assert!(matches!(sent(None), Err(CodeError::Refused)));
        assert!(matches!(sent(Some("short")), Err(CodeError::Invalid(_))));
        assert!(store.revoke_device(&who.device.id, now()).expect("revoke"));
        assert!(
            matches!(sent(Some(&mine)), Err(CodeError::Refused)),
            "a revoked device cannot get its token back"
        );
    }

    #[test]
    fn a_second_childs_code_sent_again_by_the_signed_in_parent_is_answered() {
        let store = store_with_kid();
        let admin = principal(&store, "director", AccountRole::Administration);
        let gran = principal(&store, "gran", AccountRole::Parent);
        let issued = issue(
            &store,
            &key(),
            &admin,
            &kid_code(CodeRole::Parent, 7),
            now(),
        )
        .expect("issue");
        let code = issued.code.to_string();
        let first =
            redeem(&store, &key(), &typed(&code, "phone"), Some(&gran), now()).expect("linked");
        assert!(first.token.is_none(), "gran keeps her device");
        let again =
            redeem(&store, &key(), &typed(&code, "phone"), Some(&gran), now()).expect("again");
        assert_eq!(
            (again.account.id.as_str(), again.token.is_none()),
            ("gran", true)
        );
        let dad = principal(&store, "dad", AccountRole::Parent);
        assert!(matches!(
            redeem(&store, &key(), &typed(&code, "phone"), Some(&dad), now()),
            Err(CodeError::Refused)
        ));
    }
}
