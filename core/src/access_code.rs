//! One-time access codes as people type them: 12 Crockford base32 characters (60 random bits) and a check
//! character, shown in groups (`K7QM-2D9X-H4TB-R`). The check character (Luhn mod 32) catches every single
//! mistyped character and most swapped neighbours before anything goes over the network.

use std::fmt;
use std::str::FromStr;

use ring::rand::{SecureRandom, SystemRandom};

use crate::error::InputError;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Random characters in a code.
pub const RANDOM_CHARS: usize = 12;
/// Bits of randomness in a code.
pub const RANDOM_BITS: u32 = 5 * RANDOM_CHARS as u32;
const _: () = assert!(RANDOM_BITS >= 60, "codes carry at least 60 random bits");

/// A well-formed access code (its check character verified).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AccessCode([u8; RANDOM_CHARS + 1]);

fn value_of(c: char) -> Option<u8> {
    // Crockford: case-insensitive; I and L read as 1, O as 0; U is not used.
    let c = match c.to_ascii_uppercase() {
        'I' | 'L' => '1',
        'O' => '0',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|&a| char::from(a) == c)
        .map(|p| p as u8)
}

/// Luhn mod 32 over the values of `chars`.
fn check_value(values: &[u8]) -> u8 {
    let mut sum = 0u32;
    let mut factor = 2u32;
    for &v in values.iter().rev() {
        let addend = factor * u32::from(v);
        sum += addend / 32 + addend % 32;
        factor = if factor == 2 { 1 } else { 2 };
    }
    ((32 - sum % 32) % 32) as u8
}

impl AccessCode {
    /// A new random code.
    pub fn generate() -> Self {
        let mut random = [0u8; RANDOM_CHARS];
        SystemRandom::new()
            .fill(&mut random)
            .expect("the operating system's random source is available");
        let mut values = [0u8; RANDOM_CHARS + 1];
        for (slot, byte) in values.iter_mut().zip(random) {
            *slot = byte % 32;
        }
        values[RANDOM_CHARS] = check_value(&values[..RANDOM_CHARS]);
        AccessCode(values)
    }

    /// The canonical form, without separators: what is hashed and stored.
    pub fn canonical(&self) -> String {
        self.0
            .iter()
            .map(|&v| char::from(ALPHABET[usize::from(v)]))
            .collect()
    }
}

impl FromStr for AccessCode {
    type Err = InputError;

    /// Parses what a person typed: separators and spaces ignored, lower case and I/L/O accepted.
    fn from_str(s: &str) -> Result<Self, InputError> {
        let typed: Vec<char> = s
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '\u{2011}'))
            .collect();
        if typed.len() != RANDOM_CHARS + 1 {
            return Err(InputError::Invalid(format!(
                "an access code has {} characters (without dashes); this one has {}",
                RANDOM_CHARS + 1,
                typed.len()
            )));
        }
        let mut values = [0u8; RANDOM_CHARS + 1];
        for (slot, c) in values.iter_mut().zip(&typed) {
            *slot = value_of(*c).ok_or_else(|| {
                InputError::Invalid(format!(
                    "{c:?} cannot be in an access code; check what you typed"
                ))
            })?;
        }
        if check_value(&values[..RANDOM_CHARS]) != values[RANDOM_CHARS] {
            return Err(InputError::Invalid(
                "this access code has a typo: check each character against the paper".to_owned(),
            ));
        }
        Ok(AccessCode(values))
    }
}

impl fmt::Display for AccessCode {
    /// Grouped for reading aloud and typing: `K7QM-2D9X-H4TB-R`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.canonical();
        write!(f, "{}-{}-{}-{}", &c[0..4], &c[4..8], &c[8..12], &c[12..])
    }
}

impl fmt::Debug for AccessCode {
    /// Never prints the code itself, so it cannot reach a log by accident.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessCode(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_round_trip_through_what_people_type() {
        for _ in 0..200 {
            let code = AccessCode::generate();
            let shown = code.to_string();
            assert_eq!(shown.len(), 16);
            assert_eq!(shown.parse::<AccessCode>().expect("valid"), code);
            assert_eq!(
                shown
                    .to_lowercase()
                    .replace('-', " ")
                    .parse::<AccessCode>()
                    .expect("valid"),
                code
            );
        }
    }

    #[test]
    fn every_single_typo_is_caught() {
        let code = AccessCode::generate().canonical();
        for position in 0..code.len() {
            for &replacement in ALPHABET {
                let mut typed: Vec<u8> = code.bytes().collect();
                if typed[position] == replacement {
                    continue;
                }
                typed[position] = replacement;
                let typed = String::from_utf8(typed).expect("ascii");
                assert!(
                    typed.parse::<AccessCode>().is_err(),
                    "{typed} passed the check"
                );
            }
        }
    }

    #[test]
    fn most_swapped_neighbours_are_caught_and_ambiguous_letters_are_read_kindly() {
        let mut caught = 0;
        let mut swaps = 0;
        for _ in 0..200 {
            let code = AccessCode::generate().canonical();
            let bytes: Vec<u8> = code.bytes().collect();
            for i in 0..bytes.len() - 1 {
                if bytes[i] == bytes[i + 1] {
                    continue;
                }
                let mut swapped = bytes.clone();
                swapped.swap(i, i + 1);
                swaps += 1;
                if String::from_utf8(swapped)
                    .expect("ascii")
                    .parse::<AccessCode>()
                    .is_err()
                {
                    caught += 1;
                }
            }
        }
        assert!(
            caught * 100 / swaps >= 90,
            "caught {caught} of {swaps} swaps"
        );
        let code = AccessCode::generate()
            .canonical()
            .replace('1', "l")
            .replace('0', "o");
        assert!(code.parse::<AccessCode>().is_ok());
        assert!("K7QM-2D9X-H4TB".parse::<AccessCode>().is_err());
        assert!("K7QM-2D9X-H4TB-U".parse::<AccessCode>().is_err());
        assert_eq!(format!("{:?}", AccessCode::generate()), "AccessCode(…)");
    }
}
