//! Sealing at rest: document bytes, the directory copy and refused edits are encrypted with AES-256-GCM
//! (ring) under the key the platform keeps (Android Keystore, iOS Keychain). Each value is bound to its row
//! by the associated data, so sealed values cannot be swapped between documents.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::StoreError;

/// Length of the key the platform supplies.
pub const KEY_LEN: usize = 32;

/// The text sealed into the `seal` table to recognise the key.
const KEY_CHECK: &[u8] = b"journal device store v1";

/// Seals and opens values under one key.
pub struct Sealer {
    key: LessSafeKey,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer")
    }
}

impl Sealer {
    /// A sealer for a 32-byte key.
    pub fn new(key: &[u8]) -> Result<Self, StoreError> {
        if key.len() != KEY_LEN {
            return Err(StoreError::BadKey(format!(
                "the key must be {KEY_LEN} bytes, not {}",
                key.len()
            )));
        }
        let key = UnboundKey::new(&AES_256_GCM, key)
            .map_err(|_| StoreError::BadKey("the key was refused".into()))?;
        Ok(Sealer {
            key: LessSafeKey::new(key),
            random: SystemRandom::new(),
        })
    }

    /// `plain` sealed for the place named `aad`: nonce, then ciphertext and tag.
    pub fn seal(&self, aad: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .expect("the operating system's random source is available");
        let mut out = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut out,
            )
            .expect("sealing a value in memory does not fail");
        let mut sealed = nonce.to_vec();
        sealed.append(&mut out);
        sealed
    }

    /// The plain bytes of a value sealed for `aad`.
    pub fn open(&self, aad: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        if sealed.len() < NONCE_LEN {
            return Err(StoreError::Unsealable(aad.to_owned()));
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| StoreError::Unsealable(aad.to_owned()))?;
        let mut body = body.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut body)
            .map_err(|_| StoreError::Unsealable(aad.to_owned()))?;
        Ok(plain.to_vec())
    }

    /// The sealed key check.
    pub fn key_check(&self) -> Vec<u8> {
        self.seal("key-check", KEY_CHECK)
    }

    /// Whether `sealed` is the key check sealed under this key.
    pub fn opens_key_check(&self, sealed: &[u8]) -> bool {
        self.open("key-check", sealed).is_ok_and(|p| p == KEY_CHECK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_opens_only_with_its_key_and_in_its_place() {
        let sealer = Sealer::new(&[7u8; 32]).expect("key");
        let sealed = sealer.seal("snapshot:a", b"Ivanova 5");
        assert!(!sealed.windows(7).any(|w| w == b"Ivanova"));
        assert_eq!(
            sealer.open("snapshot:a", &sealed).expect("open"),
            b"Ivanova 5"
        );
        assert!(
            sealer.open("snapshot:b", &sealed).is_err(),
            "moved to another row"
        );
        let other = Sealer::new(&[8u8; 32]).expect("key");
        assert!(other.open("snapshot:a", &sealed).is_err());
        assert!(!other.opens_key_check(&sealer.key_check()));
        assert!(Sealer::new(&[1u8; 16]).is_err());
    }
}
