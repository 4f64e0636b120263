//! The school's marking policy: marks, kinds of work and their weights, rounding thresholds, attendance codes.
//! All of it is school data kept in the `school` document, not constants.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::InputError;
use crate::ids::WorkKindId;

/// A mark: 1–5 or pass/fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum MarkValue {
    /// A grade from 1 to 5.
    Grade(u8),
    /// "Зачёт".
    Pass,
    /// "Незачёт".
    Fail,
}

impl MarkValue {
    /// The numeric grade, for marks that enter the average.
    pub fn grade(self) -> Option<u8> {
        match self {
            MarkValue::Grade(g) => Some(g),
            MarkValue::Pass | MarkValue::Fail => None,
        }
    }
}

impl FromStr for MarkValue {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, InputError> {
        // Typed on a tablet, «Зач» with a capital is as good as «зач».
        match s.trim().to_lowercase().as_str() {
            "1" => Ok(MarkValue::Grade(1)),
            "2" => Ok(MarkValue::Grade(2)),
            "3" => Ok(MarkValue::Grade(3)),
            "4" => Ok(MarkValue::Grade(4)),
            "5" => Ok(MarkValue::Grade(5)),
            "pass" | "зач" | "зачёт" | "зачет" => Ok(MarkValue::Pass),
            "fail" | "незач" | "незачёт" | "незачет" => Ok(MarkValue::Fail),
            _ => Err(InputError::InvalidMark(s.trim().chars().take(20).collect())),
        }
    }
}

impl TryFrom<String> for MarkValue {
    type Error = InputError;
    fn try_from(s: String) -> Result<Self, InputError> {
        s.parse()
    }
}

impl From<MarkValue> for String {
    fn from(v: MarkValue) -> String {
        match v {
            MarkValue::Grade(g) => g.to_string(),
            MarkValue::Pass => "pass".to_owned(),
            MarkValue::Fail => "fail".to_owned(),
        }
    }
}

impl fmt::Display for MarkValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MarkValue::Grade(g) => write!(f, "{g}"),
            MarkValue::Pass => f.write_str("зач"),
            MarkValue::Fail => f.write_str("незач"),
        }
    }
}

/// A kind of work and the weight its marks carry in the average.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkKind {
    /// Name shown to users ("Контрольная работа").
    pub name: String,
    /// Weight in the weighted average; positive.
    pub weight: f64,
}

/// Averages at or above which a term mark is suggested, in hundredths (460 = 4.60 → 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Lowest average that suggests a 5.
    pub five: u16,
    /// Lowest average that suggests a 4.
    pub four: u16,
    /// Lowest average that suggests a 3; anything below suggests a 2.
    pub three: u16,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            five: 460,
            four: 360,
            three: 260,
        }
    }
}

impl Thresholds {
    /// The mark suggested for an average given in hundredths.
    pub fn round(&self, average_hundredths: u16) -> MarkValue {
        MarkValue::Grade(if average_hundredths >= self.five {
            5
        } else if average_hundredths >= self.four {
            4
        } else if average_hundredths >= self.three {
            3
        } else {
            2
        })
    }
}

/// One attendance code of the school's list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttendanceCode {
    /// The letter written in the journal ("н").
    pub code: String,
    /// What it means ("отсутствовал").
    pub name: String,
    /// Whether the student missed the lesson (a late arrival did not).
    pub missed: bool,
}

/// The school's marking policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkingPolicy {
    /// Kinds of work by id.
    pub work_kinds: BTreeMap<WorkKindId, WorkKind>,
    /// Rounding of averages to suggested term marks.
    pub thresholds: Thresholds,
    /// Attendance codes in the order the school lists them.
    pub attendance_codes: Vec<AttendanceCode>,
    /// Fewest marks in a term for which a term mark is suggested.
    pub min_marks_for_term: u16,
    /// The edit-lock window (regulation 2.1): a mark or attendance entry of a lesson more than this many
    /// days before the edit is changed only by the administration, with a reason; 0 turns the lock off.
    /// Left out of the document at its default, so that apps that predate it still read the policy.
    #[serde(
        default = "default_edit_lock_days",
        skip_serializing_if = "is_default_edit_lock_days"
    )]
    pub edit_lock_days: u16,
}

/// The edit-lock window a school has until it sets one: a week, as common practice has it.
pub const DEFAULT_EDIT_LOCK_DAYS: u16 = 7;

/// The longest edit-lock window a school may set: a school year.
pub const MAX_EDIT_LOCK_DAYS: u16 = 366;

fn default_edit_lock_days() -> u16 {
    DEFAULT_EDIT_LOCK_DAYS
}

fn is_default_edit_lock_days(days: &u16) -> bool {
    *days == DEFAULT_EDIT_LOCK_DAYS
}

impl Default for MarkingPolicy {
    fn default() -> Self {
        let kind = |id: &str, name: &str, weight: f64| {
            (
                WorkKindId::new(id).expect("constant id is valid"),
                WorkKind {
                    name: name.to_owned(),
                    weight,
                },
            )
        };
        let code = |code: &str, name: &str, missed: bool| AttendanceCode {
            code: code.to_owned(),
            name: name.to_owned(),
            missed,
        };
        MarkingPolicy {
            work_kinds: BTreeMap::from([
                kind("classwork", "Работа на уроке", 1.0),
                kind("homework", "Домашняя работа", 1.0),
                kind("oral", "Устный ответ", 1.0),
                kind("quiz", "Самостоятельная работа", 1.5),
                kind("test", "Контрольная работа", 2.0),
            ]),
            thresholds: Thresholds::default(),
            attendance_codes: vec![
                code("н", "отсутствовал", true),
                code("б", "болел", true),
                code("у", "уважительная причина", true),
                code("о", "опоздал", false),
            ],
            min_marks_for_term: 3,
            edit_lock_days: DEFAULT_EDIT_LOCK_DAYS,
        }
    }
}

impl MarkingPolicy {
    /// The attendance code entry for `code`, or an error that lists the school's codes.
    pub fn attendance_code(&self, code: &str) -> Result<&AttendanceCode, InputError> {
        self.attendance_codes
            .iter()
            .find(|c| c.code == code)
            .ok_or_else(|| InputError::UnknownAttendanceCode {
                code: code.chars().take(20).collect(),
                known: self
                    .attendance_codes
                    .iter()
                    .map(|c| c.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The school's attendance code for what a teacher typed: in either case (Caps Lock), or as the letter
    /// on the same key of the other keyboard layout ("y" for «н»). An error lists the school's codes.
    pub fn read_attendance_code(&self, typed: &str) -> Result<&AttendanceCode, InputError> {
        let typed = typed.trim();
        let lower = typed.to_lowercase();
        let candidates = [
            lower.clone(),
            lower.chars().map(other_layout).collect::<String>(),
        ];
        candidates
            .iter()
            .find_map(|candidate| {
                self.attendance_codes
                    .iter()
                    .find(|c| c.code.to_lowercase() == *candidate)
            })
            .map_or_else(|| self.attendance_code(typed), Ok)
    }

    /// The kind of work `id`, or an error that lists the school's kinds.
    pub fn work_kind(&self, id: &WorkKindId) -> Result<&WorkKind, InputError> {
        self.work_kinds
            .get(id)
            .ok_or_else(|| InputError::UnknownWorkKind {
                kind: id.to_string(),
                known: self
                    .work_kinds
                    .keys()
                    .map(WorkKindId::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Checks the policy itself: positive weights, ordered thresholds, distinct non-empty codes.
    pub fn check(&self) -> Result<(), InputError> {
        if let Some((id, _)) = self
            .work_kinds
            .iter()
            .find(|(_, k)| !(k.weight.is_finite() && k.weight > 0.0))
        {
            return Err(InputError::Invalid(format!(
                "kind of work {id} needs a positive weight"
            )));
        }
        let t = self.thresholds;
        if !(t.three <= t.four && t.four <= t.five && t.five <= 500) {
            return Err(InputError::Invalid(
                "thresholds must satisfy 3 ≤ 4 ≤ 5 ≤ 5.00".to_owned(),
            ));
        }
        if self.edit_lock_days > MAX_EDIT_LOCK_DAYS {
            return Err(InputError::Invalid(format!(
                "the edit-lock window is {} days; it can be at most {MAX_EDIT_LOCK_DAYS} (0 turns it off)",
                self.edit_lock_days
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        for code in &self.attendance_codes {
            if code.code.trim().is_empty() || code.code.chars().count() > 4 {
                return Err(InputError::Invalid(format!(
                    "attendance code {:?} must be 1–4 characters",
                    code.code
                )));
            }
            if !seen.insert(code.code.as_str()) {
                return Err(InputError::Duplicate(format!(
                    "attendance code {:?} is listed twice",
                    code.code
                )));
            }
        }
        Ok(())
    }

    /// Weighted average of the graded marks among `marks`, in hundredths, rounded half up;
    /// `None` when no mark is graded. Pass/fail marks and unknown kinds (weight 1) are handled here.
    pub fn weighted_average<'a>(
        &self,
        marks: impl IntoIterator<Item = (MarkValue, &'a WorkKindId)>,
    ) -> Option<u16> {
        let (mut sum, mut weights) = (0.0f64, 0.0f64);
        for (value, kind) in marks {
            if let Some(grade) = value.grade() {
                let weight = self.work_kinds.get(kind).map_or(1.0, |k| k.weight);
                sum += f64::from(grade) * weight;
                weights += weight;
            }
        }
        if weights <= 0.0 {
            return None;
        }
        // Rounded to hundredths once, so that 4.599999… from float sums compares as the 4.60 a teacher sees.
        let hundredths = (sum * 100.0 / weights).round();
        Some(hundredths.clamp(0.0, 500.0) as u16)
    }
}

/// Keys of the Russian ЙЦУКЕН layout and the Latin QWERTY layout, letter for letter, as on a keyboard that
/// carries both.
const KEYBOARD: [(char, char); 33] = [
    ('й', 'q'),
    ('ц', 'w'),
    ('у', 'e'),
    ('к', 'r'),
    ('е', 't'),
    ('н', 'y'),
    ('г', 'u'),
    ('ш', 'i'),
    ('щ', 'o'),
    ('з', 'p'),
    ('х', '['),
    ('ъ', ']'),
    ('ф', 'a'),
    ('ы', 's'),
    ('в', 'd'),
    ('а', 'f'),
    ('п', 'g'),
    ('р', 'h'),
    ('о', 'j'),
    ('л', 'k'),
    ('д', 'l'),
    ('ж', ';'),
    ('э', '\''),
    ('я', 'z'),
    ('ч', 'x'),
    ('с', 'c'),
    ('м', 'v'),
    ('и', 'b'),
    ('т', 'n'),
    ('ь', 'm'),
    ('б', ','),
    ('ю', '.'),
    ('ё', '`'),
];

/// The letter on the same key in the other layout (Latin for Cyrillic and back); anything else unchanged.
fn other_layout(c: char) -> char {
    KEYBOARD
        .iter()
        .find_map(|&(russian, latin)| {
            if c == russian {
                Some(latin)
            } else if c == latin {
                Some(russian)
            } else {
                None
            }
        })
        .unwrap_or(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(id: &str) -> WorkKindId {
        WorkKindId::new(id).expect("valid")
    }

    #[test]
    fn marks_parse_and_refuse_out_of_range_values() {
        assert_eq!("5".parse::<MarkValue>().ok(), Some(MarkValue::Grade(5)));
        assert_eq!("зачёт".parse::<MarkValue>().ok(), Some(MarkValue::Pass));
        assert_eq!("Зач".parse::<MarkValue>().ok(), Some(MarkValue::Pass));
        assert_eq!("НЕЗАЧ".parse::<MarkValue>().ok(), Some(MarkValue::Fail));
        for bad in ["0", "6", "7", "4.5", "", "A"] {
            let err = bad.parse::<MarkValue>().expect_err(bad);
            // Named as the journal prints them.
            assert!(err.to_string().contains("1, 2, 3, 4, 5, «зач»"), "{err}");
        }
    }

    #[test]
    fn thresholds_round_like_the_school_rule() {
        let t = Thresholds::default();
        assert_eq!(t.round(460), MarkValue::Grade(5));
        assert_eq!(t.round(459), MarkValue::Grade(4));
        assert_eq!(t.round(360), MarkValue::Grade(4));
        assert_eq!(t.round(359), MarkValue::Grade(3));
        assert_eq!(t.round(260), MarkValue::Grade(3));
        assert_eq!(t.round(259), MarkValue::Grade(2));
        assert_eq!(t.round(100), MarkValue::Grade(2));
    }

    #[test]
    fn weighted_average_uses_the_weight_of_each_kind() {
        let policy = MarkingPolicy::default();
        let (cw, test) = (kind("classwork"), kind("test"));
        // 5·1 + 3·2 = 11 over weight 3 = 3.67
        let avg =
            policy.weighted_average([(MarkValue::Grade(5), &cw), (MarkValue::Grade(3), &test)]);
        assert_eq!(avg, Some(367));
        // Pass/fail marks do not enter the average.
        let avg = policy.weighted_average([(MarkValue::Pass, &cw), (MarkValue::Grade(4), &cw)]);
        assert_eq!(avg, Some(400));
        assert_eq!(policy.weighted_average([(MarkValue::Fail, &cw)]), None);
    }

    #[test]
    fn an_average_that_is_4_60_in_decimals_suggests_a_5() {
        let policy = MarkingPolicy::default();
        let cw = kind("classwork");
        // 5,5,5,4,4 = 23/5 = 4.6 exactly in decimals, 4.599… in binary floating point.
        let marks = [5u8, 5, 5, 4, 4].map(|g| (MarkValue::Grade(g), &cw));
        let avg = policy.weighted_average(marks).expect("graded");
        assert_eq!(avg, 460);
        assert_eq!(policy.thresholds.round(avg), MarkValue::Grade(5));
        // A non-integer weight: (5·1.5 + 4·1) / 2.5 = 4.60.
        let quiz = kind("quiz");
        let avg =
            policy.weighted_average([(MarkValue::Grade(5), &quiz), (MarkValue::Grade(4), &cw)]);
        assert_eq!(avg, Some(460));
    }

    #[test]
    fn policy_check_refuses_bad_school_settings() {
        let mut policy = MarkingPolicy::default();
        policy.check().expect("default is valid");
        policy.thresholds.four = 470;
        assert!(policy.check().is_err());
        let mut policy = MarkingPolicy::default();
        policy
            .attendance_codes
            .push(policy.attendance_codes[0].clone());
        assert!(policy.check().is_err());
        let mut policy = MarkingPolicy::default();
        policy.work_kinds.insert(
            kind("zero"),
            WorkKind {
                name: "z".into(),
                weight: 0.0,
            },
        );
        assert!(policy.check().is_err());
    }

    #[test]
    fn attendance_codes_are_read_in_either_case_and_either_layout() {
        let policy = MarkingPolicy::default();
        let read = |typed: &str| policy.read_attendance_code(typed).map(|c| c.code.as_str());
        assert_eq!(read("н").ok(), Some("н"));
        assert_eq!(read("Н").ok(), Some("н"), "Caps Lock");
        assert_eq!(read(" Б ").ok(), Some("б"));
        assert_eq!(read("y").ok(), Some("н"), "the Latin layout left on");
        assert_eq!(read("Y").ok(), Some("н"), "and Caps Lock as well");
        assert_eq!(read(",").ok(), Some("б"));
        assert_eq!(read("j").ok(), Some("о"));
        let err = read("x").expect_err("ч is not a code");
        assert_eq!(
            err.to_string(),
            "attendance code \"x\" is not in the school's list (н, б, у, о)"
        );
    }

    #[test]
    fn unknown_codes_name_the_school_list() {
        let policy = MarkingPolicy::default();
        let err = policy.attendance_code("x").expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "attendance code \"x\" is not in the school's list (н, б, у, о)"
        );
    }
}
