//! The school year, its terms and the bell schedule.

use serde::{Deserialize, Serialize};
use time::{Date, Month};

use crate::error::InputError;
use crate::ids::{TermId, YearId};

/// Parses an ISO date (`2026-09-01`), with an error that names the bad text.
pub fn parse_date(text: &str) -> Result<Date, InputError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format)
        .map_err(|_| InputError::Invalid(format!("{text:?} is not a date; write it as YYYY-MM-DD")))
}

/// Formats a date as ISO text (`2026-09-01`).
pub fn format_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Dates serialised as ISO text in documents.
pub(crate) mod iso_date {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use time::Date;

    pub fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_date(*date))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_date(&text).map_err(D::Error::custom)
    }
}

/// Optional dates serialised as ISO text in documents.
pub(crate) mod iso_date_opt {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use time::Date;

    pub fn serialize<S: Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match date {
            Some(d) => s.serialize_str(&super::format_date(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| super::parse_date(&t).map_err(D::Error::custom))
            .transpose()
    }
}

/// An inclusive range of days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateRange {
    /// First day.
    pub from: Date,
    /// Last day, included.
    pub to: Date,
}

impl DateRange {
    /// A range from `from` to `to`, both included; refused when `to` is before `from`.
    pub fn new(from: Date, to: Date) -> Result<Self, InputError> {
        if to < from {
            return Err(InputError::Invalid(format!(
                "the period ends ({}) before it starts ({})",
                format_date(to),
                format_date(from)
            )));
        }
        Ok(DateRange { from, to })
    }

    /// Whether `date` falls inside the range.
    pub fn contains(&self, date: Date) -> bool {
        self.from <= date && date <= self.to
    }
}

/// How the school year is divided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TermScheme {
    /// Three terms (the default here).
    Trimesters,
    /// Four quarters.
    Quarters,
    /// Two semesters.
    Semesters,
}

/// One term of the school year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Term {
    /// Stable id (`t1`, `q3`, …).
    pub id: TermId,
    /// Name printed in the journal ("1 триместр").
    pub name: String,
    /// First day.
    #[serde(with = "iso_date")]
    pub start: Date,
    /// Last day, included.
    #[serde(with = "iso_date")]
    pub end: Date,
}

impl Term {
    /// The term's days as a range.
    pub fn range(&self) -> DateRange {
        DateRange {
            from: self.start,
            to: self.end,
        }
    }
}

/// A school year with its terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchoolYear {
    /// Which year (2026 = 2026/27).
    pub id: YearId,
    /// First school day.
    #[serde(with = "iso_date")]
    pub start: Date,
    /// Last school day.
    #[serde(with = "iso_date")]
    pub end: Date,
    /// Terms in order; they do not overlap and lie inside the year.
    pub terms: Vec<Term>,
}

fn day(year: i32, month: Month, day: u8) -> Date {
    Date::from_calendar_date(year, month, day).expect("calendar constant is a valid date")
}

impl SchoolYear {
    /// The usual Russian year (1 September to 31 May) divided by `scheme`.
    pub fn standard(id: YearId, scheme: TermScheme) -> Self {
        let y = i32::from(id.0);
        let feb_end = day(y + 1, Month::March, 1)
            .previous_day()
            .expect("1 March has a day before it");
        let term = |id: &str, name: &str, start: Date, end: Date| Term {
            id: TermId::new(id).expect("constant id is valid"),
            name: name.to_owned(),
            start,
            end,
        };
        let terms = match scheme {
            TermScheme::Trimesters => vec![
                term(
                    "t1",
                    "1 триместр",
                    day(y, Month::September, 1),
                    day(y, Month::November, 30),
                ),
                term("t2", "2 триместр", day(y, Month::December, 1), feb_end),
                term(
                    "t3",
                    "3 триместр",
                    day(y + 1, Month::March, 1),
                    day(y + 1, Month::May, 31),
                ),
            ],
            TermScheme::Quarters => vec![
                term(
                    "q1",
                    "1 четверть",
                    day(y, Month::September, 1),
                    day(y, Month::October, 31),
                ),
                term(
                    "q2",
                    "2 четверть",
                    day(y, Month::November, 1),
                    day(y, Month::December, 31),
                ),
                term(
                    "q3",
                    "3 четверть",
                    day(y + 1, Month::January, 1),
                    day(y + 1, Month::March, 31),
                ),
                term(
                    "q4",
                    "4 четверть",
                    day(y + 1, Month::April, 1),
                    day(y + 1, Month::May, 31),
                ),
            ],
            TermScheme::Semesters => vec![
                term(
                    "s1",
                    "1 полугодие",
                    day(y, Month::September, 1),
                    day(y, Month::December, 31),
                ),
                term(
                    "s2",
                    "2 полугодие",
                    day(y + 1, Month::January, 1),
                    day(y + 1, Month::May, 31),
                ),
            ],
        };
        SchoolYear {
            id,
            start: day(y, Month::September, 1),
            end: day(y + 1, Month::May, 31),
            terms,
        }
    }

    /// The whole year as a range.
    pub fn range(&self) -> DateRange {
        DateRange {
            from: self.start,
            to: self.end,
        }
    }

    /// The term a date falls in.
    pub fn term_of(&self, date: Date) -> Option<&Term> {
        self.terms.iter().find(|t| t.range().contains(date))
    }

    /// A term by id.
    pub fn term(&self, id: &TermId) -> Option<&Term> {
        self.terms.iter().find(|t| &t.id == id)
    }

    /// Checks that terms are ordered, do not overlap and lie inside the year.
    pub fn check(&self) -> Result<(), InputError> {
        if self.end < self.start {
            return Err(InputError::Invalid(format!(
                "school year {} ends before it starts",
                self.id
            )));
        }
        let mut previous_end: Option<Date> = None;
        for term in &self.terms {
            if term.end < term.start || term.start < self.start || term.end > self.end {
                return Err(InputError::Invalid(format!(
                    "term {} ({} – {}) must lie inside the school year ({} – {})",
                    term.name,
                    format_date(term.start),
                    format_date(term.end),
                    format_date(self.start),
                    format_date(self.end)
                )));
            }
            if previous_end.is_some_and(|end| term.start <= end) {
                return Err(InputError::Invalid(format!(
                    "term {} overlaps the term before it",
                    term.name
                )));
            }
            previous_end = Some(term.end);
        }
        if self.terms.is_empty() {
            return Err(InputError::Invalid(format!(
                "school year {} has no terms",
                self.id
            )));
        }
        Ok(())
    }
}

/// One period of the bell schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bell {
    /// Period number (1 = first lesson).
    pub period: u8,
    /// Start time, `08:30`.
    pub start: String,
    /// Length in minutes.
    pub minutes: u16,
}

/// The school's bell schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BellSchedule {
    /// Periods in order.
    pub bells: Vec<Bell>,
}

impl BellSchedule {
    /// Minutes used for a period the schedule does not list (the standard Russian lesson).
    pub const DEFAULT_MINUTES: u16 = 45;

    /// Length of a period in minutes.
    pub fn minutes(&self, period: u8) -> u16 {
        self.bells
            .iter()
            .find(|b| b.period == period)
            .map_or(Self::DEFAULT_MINUTES, |b| b.minutes)
    }
}

impl Default for BellSchedule {
    fn default() -> Self {
        let starts = [
            "08:30", "09:25", "10:25", "11:25", "12:20", "13:15", "14:10", "15:05",
        ];
        BellSchedule {
            bells: starts
                .iter()
                .zip(1u8..)
                .map(|(start, period)| Bell {
                    period,
                    start: (*start).to_owned(),
                    minutes: 45,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_years_have_valid_terms_for_every_scheme() {
        for scheme in [
            TermScheme::Trimesters,
            TermScheme::Quarters,
            TermScheme::Semesters,
        ] {
            let year = SchoolYear::standard(YearId(2027), scheme);
            year.check().expect("standard year is valid");
            assert_eq!(year.terms.first().map(|t| t.start), Some(year.start));
            assert_eq!(year.terms.last().map(|t| t.end), Some(year.end));
        }
        assert_eq!(
            SchoolYear::standard(YearId(2026), TermScheme::Trimesters)
                .terms
                .len(),
            3
        );
        assert_eq!(
            SchoolYear::standard(YearId(2026), TermScheme::Quarters)
                .terms
                .len(),
            4
        );
    }

    #[test]
    fn leap_february_belongs_to_the_second_trimester() {
        let year = SchoolYear::standard(YearId(2027), TermScheme::Trimesters);
        let leap_day = day(2028, Month::February, 29);
        assert_eq!(year.term_of(leap_day).map(|t| t.id.as_str()), Some("t2"));
    }

    #[test]
    fn overlapping_terms_are_refused() {
        let mut year = SchoolYear::standard(YearId(2026), TermScheme::Trimesters);
        year.terms[1].start = day(2026, Month::November, 15);
        assert!(year.check().is_err());
    }

    #[test]
    fn dates_parse_and_bad_dates_say_why() {
        assert_eq!(
            format_date(parse_date("2026-09-01").expect("valid")),
            "2026-09-01"
        );
        let err = parse_date("01.09.2026").expect_err("not ISO");
        assert!(err.to_string().contains("YYYY-MM-DD"));
    }
}
