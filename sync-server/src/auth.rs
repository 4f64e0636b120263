//! Device tokens: `<device id>.<secret>`. The relay stores only an HMAC of the secret under the
//! installation's key ([`HashKey`]) and checks it with ring's constant-time HMAC verification; a token is
//! refused once its device is revoked or its account deactivated.

use ring::rand::{SecureRandom, SystemRandom};
use thiserror::Error;

use crate::secrets::HashKey;
use crate::store::{Account, Device, RelayStore, StoreError};

/// Who is calling: an active account on a device that is not revoked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The account.
    pub account: Account,
    /// The device.
    pub device: Device,
}

/// Why a token was refused. Every variant reads the same to the caller.
#[derive(Debug, Error)]
pub enum AuthError {
    /// No, malformed, unknown, wrong, revoked or deactivated: deliberately one message.
    #[error("the device token is not valid; sign this device in again")]
    Refused,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A device token handed out once; only its hash is stored.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    /// The device it signs in.
    pub device: Device,
    /// The token to give to the device.
    pub token: String,
}

/// `bytes` random bytes as hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buf)
        .expect("the operating system's random source is available");
    hex::encode(buf)
}

/// A new device for an account with its token and the hash to store (not stored yet). The token's secret
/// is the one the device proposed, if it did (already checked to be 64 hex digits), else a fresh one.
pub fn new_device(
    key: &HashKey,
    account: &str,
    label: &str,
    now: i64,
    proposed: Option<&str>,
) -> (IssuedToken, Vec<u8>) {
    let device = Device {
        id: random_hex(8),
        account: account.to_owned(),
        label: label.to_owned(),
        created_at: now,
        revoked_at: None,
    };
    let secret = proposed.map_or_else(|| random_hex(32), str::to_owned);
    let hash = key.token_hash(&secret);
    (
        IssuedToken {
            token: format!("{}.{secret}", device.id),
            device,
        },
        hash,
    )
}

/// Adds a device to an account and returns its token.
pub fn issue_device(
    store: &dyn RelayStore,
    key: &HashKey,
    account: &str,
    label: &str,
    now: i64,
) -> Result<IssuedToken, StoreError> {
    let (issued, hash) = new_device(key, account, label, now, None);
    store.add_device(&issued.device, &hash)?;
    Ok(issued)
}

/// The label of the devices the web console signs in as; no device signing in through the API gets it.
pub const CONSOLE_DEVICE: &str = "веб-консоль";

/// How long a web-console sign-in lasts (12 hours), on every route: a console left signed in on an
/// office computer ends with the working day, and its token opens neither the API nor sync after that.
pub const CONSOLE_SESSION_SECONDS: i64 = 12 * 3600;

/// Whether `device` is a console sign-in past its lifetime at `now`.
pub fn console_expired(device: &Device, now: i64) -> bool {
    device.label == CONSOLE_DEVICE && now - device.created_at > CONSOLE_SESSION_SECONDS
}

/// Checks a token at `now` and returns who it belongs to.
pub fn authenticate(
    store: &dyn RelayStore,
    key: &HashKey,
    token: &str,
    now: i64,
) -> Result<Principal, AuthError> {
    let (device_id, secret) = token.trim().split_once('.').ok_or(AuthError::Refused)?;
    if device_id.len() > 64 || secret.len() > 128 {
        return Err(AuthError::Refused);
    }
    let (device, stored_hash) = store.device_auth(device_id)?.ok_or(AuthError::Refused)?;
    if !key.token_matches(secret, &stored_hash) {
        return Err(AuthError::Refused);
    }
    if device.revoked_at.is_some() || console_expired(&device, now) {
        return Err(AuthError::Refused);
    }
    let account = store
        .account(&device.account)?
        .filter(|a| a.active)
        .ok_or(AuthError::Refused)?;
    Ok(Principal { account, device })
}

/// The token of an `Authorization: Bearer …` header value.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let value = header?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AccountRole;
    use crate::store::DirectoryStore;
    use crate::store::sqlite::SqliteStore;

    fn store_with_teacher() -> SqliteStore {
        let store = SqliteStore::open_in_memory().expect("store");
        store
            .put_account(&Account {
                id: "t".into(),
                name: "Teacher".into(),
                role: AccountRole::Teacher,
                active: true,
                student: None,
            })
            .expect("account");
        store
    }

    #[test]
    fn a_token_signs_in_until_revoked_and_wrong_tokens_look_alike() {
        let store = store_with_teacher();
        let key = HashKey::random();
        let issued = issue_device(&store, &key, "t", "tablet", 1).expect("issue");
        let who = authenticate(&store, &key, &issued.token, 2).expect("valid");
        assert_eq!(who.account.id, "t");
        let (_, stored) = store
            .device_auth(&issued.device.id)
            .expect("get")
            .expect("device");
        assert!(
            !stored
                .windows(8)
                .any(|w| issued.token.as_bytes().windows(8).any(|t| t == w)),
            "token not stored"
        );
        let wrong_secret = format!("{}.{}", issued.device.id, "0".repeat(64));
        for bad in ["", "nodot", "x.y", wrong_secret.as_str()] {
            let err = authenticate(&store, &key, bad, 2).expect_err(bad);
            assert_eq!(
                err.to_string(),
                "the device token is not valid; sign this device in again"
            );
        }
        store.revoke_device(&issued.device.id, 2).expect("revoke");
        assert!(matches!(
            authenticate(&store, &key, &issued.token, 2),
            Err(AuthError::Refused)
        ));
    }

    #[test]
    fn a_token_of_another_installation_is_refused() {
        let store = store_with_teacher();
        let issued = issue_device(&store, &HashKey::random(), "t", "tablet", 1).expect("issue");
        assert!(matches!(
            authenticate(&store, &HashKey::random(), &issued.token, 2),
            Err(AuthError::Refused)
        ));
    }

    #[test]
    fn a_deactivated_account_cannot_sign_in() {
        let store = store_with_teacher();
        let key = HashKey::random();
        let issued = issue_device(&store, &key, "t", "tablet", 1).expect("issue");
        let mut account = store.account("t").expect("get").expect("account");
        account.active = false;
        store.put_account(&account).expect("deactivate");
        assert!(matches!(
            authenticate(&store, &key, &issued.token, 2),
            Err(AuthError::Refused)
        ));
    }

    #[test]
    fn a_console_sign_in_ends_after_twelve_hours_and_other_devices_do_not() {
        let store = store_with_teacher();
        let key = HashKey::random();
        let console = issue_device(&store, &key, "t", CONSOLE_DEVICE, 1000).expect("issue");
        let tablet = issue_device(&store, &key, "t", "tablet", 1000).expect("issue");
        let end = 1000 + CONSOLE_SESSION_SECONDS;
        authenticate(&store, &key, &console.token, end).expect("still within the day");
        assert!(matches!(
            authenticate(&store, &key, &console.token, end + 1),
            Err(AuthError::Refused)
        ));
        authenticate(&store, &key, &tablet.token, end + 365 * 86_400).expect("a tablet stays");
    }

    #[test]
    fn bearer_headers_parse() {
        assert_eq!(bearer(Some("Bearer abc.def")), Some("abc.def"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(None), None);
    }
}
