//! The SHA-256 fingerprint of a relay's TLS certificate, as the relay prints it and the access slips show
//! it. A device that signs in with a fingerprint trusts that one certificate only: a school server with a
//! certificate it made for itself is then as safe to reach as one with a certificate from an authority.

use std::fmt;
use std::str::FromStr;

use crate::error::InputError;

/// Bytes of a SHA-256 digest.
const DIGEST_BYTES: usize = 32;

/// The SHA-256 fingerprint of a certificate (of its DER encoding).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertificatePin([u8; DIGEST_BYTES]);

impl CertificatePin {
    /// The fingerprint of the certificate `der`.
    pub fn of(der: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut bytes = [0u8; DIGEST_BYTES];
        bytes.copy_from_slice(digest.as_ref());
        CertificatePin(bytes)
    }
}

/// Shown in groups of four hexadecimal digits, so that reading it off a slip is easy to check.
impl fmt::Display for CertificatePin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, pair) in self.0.chunks(2).enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            write!(f, "{:02X}{:02X}", pair[0], pair[1])?;
        }
        Ok(())
    }
}

impl fmt::Debug for CertificatePin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertificatePin({self})")
    }
}

/// Accepts the printed form and the usual others: an optional `sha256:` or `SHA256 Fingerprint=` prefix,
/// any case, and any of `-`, `:` or spaces between the digits.
impl FromStr for CertificatePin {
    type Err = InputError;

    fn from_str(typed: &str) -> Result<Self, Self::Err> {
        let refused = || InputError::InvalidCertificatePin(typed.chars().take(120).collect());
        let lower = typed.trim().to_ascii_lowercase();
        let digits = lower
            .strip_prefix("sha256 fingerprint=")
            .or_else(|| lower.strip_prefix("sha256:"))
            .unwrap_or(&lower);
        let hex: Vec<u8> = digits
            .chars()
            .filter(|c| !matches!(c, '-' | ':' | ' '))
            .map(|c| c.to_digit(16).map(|d| d as u8))
            .collect::<Option<_>>()
            .ok_or_else(refused)?;
        if hex.len() != DIGEST_BYTES * 2 {
            return Err(refused());
        }
        let mut bytes = [0u8; DIGEST_BYTES];
        for (byte, pair) in bytes.iter_mut().zip(hex.chunks(2)) {
            *byte = pair[0] << 4 | pair[1];
        }
        Ok(CertificatePin(bytes))
    }
}

impl serde::Serialize for CertificatePin {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for CertificatePin {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_fingerprint_reads_back_in_every_usual_spelling() {
        let pin = CertificatePin::of(b"a certificate");
        let printed = pin.to_string();
        assert_eq!(printed.len(), 16 * 4 + 15);
        let hex = printed.replace('-', "");
        let pairs: Vec<&str> = (0..hex.len()).step_by(2).map(|i| &hex[i..i + 2]).collect();
        let openssl_style = format!("SHA256 Fingerprint={}", pairs.join(":"));
        for spelling in [
            printed.clone(),
            printed.to_lowercase(),
            printed.replace('-', " "),
            format!("sha256:{hex}"),
            openssl_style,
        ] {
            assert_eq!(spelling.parse::<CertificatePin>(), Ok(pin), "{spelling}");
        }
    }

    #[test]
    fn a_fingerprint_with_a_digit_missing_or_wrong_is_refused() {
        let printed = CertificatePin::of(b"a certificate").to_string();
        let short = &printed[..printed.len() - 1];
        let wrong = printed.replacen(|c: char| c.is_ascii_hexdigit(), "G", 1);
        for typed in [short, wrong.as_str(), "", "sha256:"] {
            let error = typed.parse::<CertificatePin>().unwrap_err();
            assert!(error.to_string().contains("fingerprint"), "{error}");
        }
    }
}
