//! The school's time zone: its offset from UTC, which decides what "today" is for its journal, its
//! reports, its activity report's days and its edit-lock window. Russia's schools keep whole-hour offsets
//! from UTC+2 to UTC+12, with no daylight saving, so an offset is the whole of it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime, UtcOffset};

use crate::error::InputError;

/// The school's offset from UTC in minutes east; a school that never set one keeps UTC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i16", into = "i16")]
pub struct SchoolTimeZone(i16);

impl SchoolTimeZone {
    /// Coordinated universal time, the zone of a school that set none.
    pub const UTC: SchoolTimeZone = SchoolTimeZone(0);

    /// Moscow time, UTC+03:00.
    pub const MOSCOW: SchoolTimeZone = SchoolTimeZone(180);

    /// The zone `minutes` east of UTC: from −12:00 to +14:00, in quarter hours.
    pub fn from_minutes(minutes: i16) -> Result<Self, InputError> {
        if !(-720..=840).contains(&minutes) || minutes % 15 != 0 {
            return Err(InputError::Invalid(format!(
                "a school's offset from UTC is from −12:00 to +14:00 in quarter hours, not {minutes} minutes"
            )));
        }
        Ok(SchoolTimeZone(minutes))
    }

    /// Minutes east of UTC.
    pub fn minutes(self) -> i16 {
        self.0
    }

    /// Whether this is UTC (left out of the school's document).
    pub fn is_utc(&self) -> bool {
        self.0 == 0
    }

    /// The offset for the `time` crate.
    pub fn offset(self) -> UtcOffset {
        UtcOffset::from_whole_seconds(i32::from(self.0) * 60).unwrap_or(UtcOffset::UTC)
    }

    /// The school's date at the Unix time `unix`.
    pub fn day_at(self, unix: i64) -> Date {
        OffsetDateTime::from_unix_timestamp(unix)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
            .to_offset(self.offset())
            .date()
    }

    /// The school's date now, on this machine's clock.
    pub fn today(self) -> Date {
        OffsetDateTime::now_utc().to_offset(self.offset()).date()
    }

    /// The Unix time at which `day` begins at the school.
    pub fn midnight(self, day: Date) -> i64 {
        day.midnight().assume_offset(self.offset()).unix_timestamp()
    }
}

impl TryFrom<i16> for SchoolTimeZone {
    type Error = InputError;
    fn try_from(minutes: i16) -> Result<Self, InputError> {
        SchoolTimeZone::from_minutes(minutes)
    }
}

impl From<SchoolTimeZone> for i16 {
    fn from(zone: SchoolTimeZone) -> i16 {
        zone.0
    }
}

impl fmt::Display for SchoolTimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let minutes = self.0.unsigned_abs();
        write!(f, "UTC{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    }
}

impl FromStr for SchoolTimeZone {
    type Err = InputError;
    /// Reads `+03:00`, `+3`, `UTC+3`, `UTC+03:00`, `-09:30` or `UTC`.
    fn from_str(text: &str) -> Result<Self, InputError> {
        let bad = || {
            InputError::Invalid(format!(
                "{text:?} is not an offset from UTC; write it as +03:00 (Moscow), +05:00 or UTC"
            ))
        };
        let trimmed = text.trim();
        let rest = trimmed
            .strip_prefix("UTC")
            .or_else(|| trimmed.strip_prefix("utc"))
            .unwrap_or(trimmed);
        if rest.is_empty() {
            return Ok(SchoolTimeZone::UTC);
        }
        let (sign, digits) = match rest.as_bytes()[0] {
            b'+' => (1, &rest[1..]),
            b'-' => (-1, &rest[1..]),
            _ => return Err(bad()),
        };
        let (hours, minutes) = match digits.split_once(':') {
            Some((h, m)) if m.len() == 2 => (h, m),
            Some(_) => return Err(bad()),
            None => (digits, "0"),
        };
        let hours: i16 = hours.parse().map_err(|_| bad())?;
        let minutes: i16 = minutes.parse().map_err(|_| bad())?;
        if !(0..=14).contains(&hours) || !(0..60).contains(&minutes) {
            return Err(bad());
        }
        SchoolTimeZone::from_minutes(sign * (hours * 60 + minutes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_read_as_people_write_them_and_print_alike() {
        for (text, minutes) in [
            ("+03:00", 180),
            ("+3", 180),
            ("UTC+3", 180),
            ("UTC+05:00", 300),
            ("-09:30", -570),
            ("UTC", 0),
            ("+14:00", 840),
        ] {
            let zone: SchoolTimeZone = text.parse().expect(text);
            assert_eq!(zone.minutes(), minutes, "{text}");
            assert_eq!(
                zone.to_string().parse::<SchoolTimeZone>().expect("again"),
                zone
            );
        }
        assert_eq!(SchoolTimeZone::MOSCOW.to_string(), "UTC+03:00");
        for bad in ["3", "+15", "+03:7", "+03:20", "Москва", "+-3"] {
            assert!(bad.parse::<SchoolTimeZone>().is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<SchoolTimeZone>("9999").is_err());
    }

    #[test]
    fn the_schools_day_turns_at_its_own_midnight() {
        // 2026-12-01 22:30 UTC is already 2 December in Moscow, still 1 December in UTC.
        let late = time::macros::datetime!(2026-12-01 22:30 UTC).unix_timestamp();
        assert_eq!(
            SchoolTimeZone::UTC.day_at(late),
            time::macros::date!(2026 - 12 - 01)
        );
        assert_eq!(
            SchoolTimeZone::MOSCOW.day_at(late),
            time::macros::date!(2026 - 12 - 02)
        );
        let day = time::macros::date!(2026 - 12 - 02);
        assert_eq!(
            SchoolTimeZone::MOSCOW.midnight(day),
            time::macros::datetime!(2026-12-01 21:00 UTC).unix_timestamp()
        );
        assert_eq!(
            SchoolTimeZone::MOSCOW.day_at(SchoolTimeZone::MOSCOW.midnight(day)),
            day
        );
    }
}
