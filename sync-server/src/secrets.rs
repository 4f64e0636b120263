//! The installation's secret hashing key (`hash.key` in the data directory, readable only by the relay's
//! user). Access codes and device tokens are stored as HMAC-SHA256 under it, so a copy of the database alone
//! does not let anyone test guesses offline: 60 random bits of a code are out of reach only while every
//! guess has to go through the relay's rate limits.
//!
//! A stored hash is `HMAC(installation key, HMAC(domain key, secret))`. The inner, fixed domain key is what
//! relays before version 6 of the database stored, so their hashes are migrated by wrapping them once.

use std::io::Write;
use std::path::Path;

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use thiserror::Error;

use crate::store::{RelayStore, StoreError};

/// The key file's name in the data directory.
pub const HASH_KEY_FILE: &str = "hash.key";

/// The key file is missing, unreadable or malformed.
#[derive(Debug, Error)]
pub enum SecretsError {
    /// Reading or writing the file failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The file does not hold a key.
    #[error("{0} does not hold a 32-byte key")]
    Malformed(String),
    /// Migrating the stored hashes failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a hash is of: the inner key keeps codes and tokens apart.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Domain {
    /// Access codes.
    Code,
    /// Device tokens.
    Token,
    /// The console's form tokens, each bound to the signed-in device's token.
    Form,
}

impl Domain {
    pub(crate) fn key(self) -> hmac::Key {
        hmac::Key::new(
            hmac::HMAC_SHA256,
            match self {
                Domain::Code => b"journal-relay access code v1",
                Domain::Token => b"journal-relay device token v1",
                Domain::Form => b"journal-relay console form v1",
            },
        )
    }
}

/// The installation's hashing key.
#[derive(Clone)]
pub struct HashKey {
    bytes: [u8; 32],
    key: hmac::Key,
}

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashKey(…)")
    }
}

impl HashKey {
    /// The key of these 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        HashKey {
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
            bytes,
        }
    }

    /// A fresh random key (a new installation, or a test).
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the operating system's random source is available");
        Self::from_bytes(bytes)
    }

    /// The key's bytes, for the sealed backup snapshot that must restore with it.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// A short, public name of the key: relays sharing a database must use the same key, and compare
    /// these to be sure without showing the key.
    pub fn fingerprint(&self) -> String {
        hex::encode(&hmac::sign(&self.key, b"journal-relay key fingerprint v1").as_ref()[..8])
    }

    /// The data directory's key, created (mode 0600) on first use.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, SecretsError> {
        let path = data_dir.join(HASH_KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let bytes: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| SecretsError::Malformed(path.display().to_string()))?;
                Ok(Self::from_bytes(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::random();
                key.write_to(&path)?;
                Ok(key)
            }
            Err(source) => Err(SecretsError::Io {
                what: "cannot read",
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Writes the key to a new file readable only by its owner.
    pub fn write_to(&self, path: &Path) -> Result<(), SecretsError> {
        let io = |what| {
            let path = path.display().to_string();
            move |source| SecretsError::Io { what, path, source }
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io("cannot create"))?;
        file.write_all(&self.bytes).map_err(io("cannot write"))?;
        file.sync_all().map_err(io("cannot write"))
    }

    fn hash(&self, domain: Domain, secret: &str) -> Vec<u8> {
        self.wrap(hmac::sign(&domain.key(), secret.as_bytes()).as_ref())
    }

    fn wrap(&self, inner: &[u8]) -> Vec<u8> {
        hmac::sign(&self.key, inner).as_ref().to_vec()
    }

    fn verify(&self, domain: Domain, secret: &str, stored: &[u8]) -> bool {
        let inner = hmac::sign(&domain.key(), secret.as_bytes());
        // Constant time: ring compares the tags without an early exit.
        hmac::verify(&self.key, inner.as_ref(), stored).is_ok()
    }

    /// The stored hash of an access code (its canonical form).
    pub fn code_hash(&self, canonical: &str) -> Vec<u8> {
        self.hash(Domain::Code, canonical)
    }

    /// Whether `stored` is the hash of the code.
    pub fn code_matches(&self, canonical: &str, stored: &[u8]) -> bool {
        self.verify(Domain::Code, canonical, stored)
    }

    /// The stored hash of a device token's secret part.
    pub fn token_hash(&self, secret: &str) -> Vec<u8> {
        self.hash(Domain::Token, secret)
    }

    /// Whether `stored` is the hash of the token's secret part.
    pub fn token_matches(&self, secret: &str, stored: &[u8]) -> bool {
        self.verify(Domain::Token, secret, stored)
    }

    /// The token every console form of the device signed in with `token` carries (against forged posts).
    pub fn form_token(&self, token: &str) -> String {
        hex::encode(self.hash(Domain::Form, token))
    }

    /// Whether `given` is the form token of the device signed in with `token`, compared in constant time.
    pub fn form_token_matches(&self, token: &str, given: &str) -> bool {
        hex::decode(given).is_ok_and(|given| self.verify(Domain::Form, token, &given))
    }

    /// Keys the hashes a store holds from before this key existed (once; later calls change nothing).
    /// Returns whether there was anything to migrate.
    pub fn migrate(&self, store: &dyn RelayStore) -> Result<bool, SecretsError> {
        Ok(store.rekey_secrets(&|old| self.wrap(old))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_depend_on_the_installation_key_and_verify() {
        let (a, b) = (HashKey::random(), HashKey::random());
        let hash = a.code_hash("K7QM2D9XH4TBR");
        assert_ne!(hash, b.code_hash("K7QM2D9XH4TBR"), "another installation");
        assert_ne!(hash, a.token_hash("K7QM2D9XH4TBR"), "another domain");
        assert!(a.code_matches("K7QM2D9XH4TBR", &hash));
        assert!(!a.code_matches("K7QM2D9XH4TBS", &hash));
        assert!(!b.code_matches("K7QM2D9XH4TBR", &hash));
    }

    #[test]
    fn the_key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = HashKey::load_or_create(dir.path()).expect("create");
        let again = HashKey::load_or_create(dir.path()).expect("load");
        assert_eq!(first.bytes(), again.bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(HASH_KEY_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.path().join(HASH_KEY_FILE), b"short").expect("damage");
        assert!(matches!(
            HashKey::load_or_create(dir.path()),
            Err(SecretsError::Malformed(_))
        ));
    }
}
