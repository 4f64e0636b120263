//! Identifiers: the school year, the documents, and the stable ids of entries inside them.

use std::fmt;
use std::str::FromStr;

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::error::InputError;

/// Longest id accepted for any entity; ids travel in document paths and URLs, so they stay short.
pub const MAX_ID_LEN: usize = 64;

fn check_id(kind: &'static str, value: &str) -> Result<(), InputError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(InputError::InvalidId {
            kind,
            value: value.chars().take(MAX_ID_LEN + 8).collect(),
        })
    }
}

/// Sixteen random hex digits (64 bits): enough that two offline devices never pick the same id.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 8];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random source is available");
    hex::encode(bytes)
}

macro_rules! entity_id {
    ($(#[$doc:meta])* $name:ident, $label:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks that `value` is a valid id (ASCII letters, digits, `-`, `_`; 1–64 characters).
            pub fn new(value: impl Into<String>) -> Result<Self, InputError> {
                let value = value.into();
                check_id($label, &value)?;
                Ok(Self(value))
            }

            /// A fresh random id.
            pub fn random() -> Self {
                Self(random_id())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InputError;
            fn try_from(value: String) -> Result<Self, InputError> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl FromStr for $name {
            type Err = InputError;
            fn from_str(s: &str) -> Result<Self, InputError> {
                Self::new(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

entity_id!(
    /// A class, such as the one named "5А".
    ClassId,
    "class"
);
entity_id!(
    /// A student; stable across school years.
    StudentId,
    "student"
);
entity_id!(
    /// A staff member (teacher, class teacher or administration).
    StaffId,
    "staff member"
);
entity_id!(
    /// A parent or other legal guardian.
    GuardianId,
    "guardian"
);
entity_id!(
    /// A subject of the school's catalogue.
    SubjectId,
    "subject"
);
entity_id!(
    /// One lesson held (or planned) in a class.
    LessonId,
    "lesson"
);
entity_id!(
    /// One mark in a student's document.
    MarkId,
    "mark"
);
entity_id!(
    /// A term of the school year (trimester, quarter or semester).
    TermId,
    "term"
);
entity_id!(
    /// A kind of work a mark is given for (classwork, test, …).
    WorkKindId,
    "kind of work"
);
entity_id!(
    /// One conversation.
    ThreadId,
    "thread"
);
entity_id!(
    /// One message in a conversation.
    MessageId,
    "message"
);

/// A school year, named by the calendar year it starts in: `2026` is the year 2026/27.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct YearId(pub u16);

impl fmt::Display for YearId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.0, u32::from(self.0) + 1)
    }
}

impl FromStr for YearId {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, InputError> {
        let bad = || InputError::InvalidId {
            kind: "school year",
            value: s.chars().take(20).collect(),
        };
        let (start, end) = s.split_once('-').ok_or_else(bad)?;
        let start: u16 = start.parse().map_err(|_| bad())?;
        let end: u32 = end.parse().map_err(|_| bad())?;
        if end != u32::from(start) + 1 || !(2000..=2999).contains(&start) {
            return Err(bad());
        }
        Ok(YearId(start))
    }
}

/// The kind of a journal document: the access lines of ARCHITECTURE.md §2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// School header, terms, bells, subjects and marking policy.
    School,
    /// One class: roster, subject teachers and lessons.
    Class,
    /// One student's marks, attendance and term marks.
    Student,
    /// Personal data of one student and their guardians.
    Profile,
    /// One conversation.
    Thread,
}

impl DocKind {
    /// The name used in document ids.
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::School => "school",
            DocKind::Class => "class",
            DocKind::Student => "student",
            DocKind::Profile => "profile",
            DocKind::Thread => "thread",
        }
    }
}

/// The id of one journal document: `2026-2027/school`, `2026-2027/class/5a`, `2026-2027/student/<id>`, ….
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DocId {
    /// The school document of a year.
    School(YearId),
    /// A class document.
    Class(YearId, ClassId),
    /// A student's marks and attendance.
    Student(YearId, StudentId),
    /// A student's and guardians' personal data.
    Profile(YearId, StudentId),
    /// A conversation.
    Thread(YearId, ThreadId),
}

impl DocId {
    /// The school year the document belongs to.
    pub fn year(&self) -> YearId {
        match self {
            DocId::School(y)
            | DocId::Class(y, _)
            | DocId::Student(y, _)
            | DocId::Profile(y, _)
            | DocId::Thread(y, _) => *y,
        }
    }

    /// The kind of the document.
    pub fn kind(&self) -> DocKind {
        match self {
            DocId::School(_) => DocKind::School,
            DocId::Class(..) => DocKind::Class,
            DocId::Student(..) => DocKind::Student,
            DocId::Profile(..) => DocKind::Profile,
            DocId::Thread(..) => DocKind::Thread,
        }
    }

    /// The document's automerge-repo id, for stock peers: base58check of 16 bytes derived from the journal
    /// id (a name-based UUID, version 5 in form, over SHA-256), so every relay and device agrees on it.
    pub fn repo_id(&self) -> String {
        let digest = ring::digest::digest(
            &ring::digest::SHA256,
            format!("school-journal document {self}").as_bytes(),
        );
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&digest.as_ref()[..16]);
        uuid[6] = (uuid[6] & 0x0f) | 0x50;
        uuid[8] = (uuid[8] & 0x3f) | 0x80;
        bs58::encode(uuid).with_check().into_string()
    }

    /// The document's automerge-repo URL (`automerge:<repo id>`).
    pub fn repo_url(&self) -> String {
        format!("automerge:{}", self.repo_id())
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocId::School(y) => write!(f, "{y}/school"),
            DocId::Class(y, id) => write!(f, "{y}/class/{id}"),
            DocId::Student(y, id) => write!(f, "{y}/student/{id}"),
            DocId::Profile(y, id) => write!(f, "{y}/profile/{id}"),
            DocId::Thread(y, id) => write!(f, "{y}/thread/{id}"),
        }
    }
}

impl FromStr for DocId {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, InputError> {
        let bad = || InputError::InvalidId {
            kind: "document",
            value: s.chars().take(MAX_ID_LEN * 2).collect(),
        };
        let mut parts = s.split('/');
        let year: YearId = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
        let kind = parts.next().ok_or_else(bad)?;
        let id = parts.next();
        if parts.next().is_some() {
            return Err(bad());
        }
        match (kind, id) {
            ("school", None) => Ok(DocId::School(year)),
            ("class", Some(id)) => Ok(DocId::Class(year, id.parse()?)),
            ("student", Some(id)) => Ok(DocId::Student(year, id.parse()?)),
            ("profile", Some(id)) => Ok(DocId::Profile(year, id.parse()?)),
            ("thread", Some(id)) => Ok(DocId::Thread(year, id.parse()?)),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_ids_round_trip_through_text() {
        for text in [
            "2026-2027/school",
            "2026-2027/class/5a",
            "2026-2027/student/0123abcd",
            "2026-2027/profile/s-1",
            "2026-2027/thread/t_9",
        ] {
            let id: DocId = text.parse().expect(text);
            assert_eq!(id.to_string(), text);
        }
    }

    #[test]
    fn malformed_doc_ids_are_refused() {
        for text in [
            "",
            "2026/school",
            "2026-2028/school",
            "2026-2027/class",
            "2026-2027/school/x",
            "2026-2027/student/../x",
            "2026-2027/grades/x",
            "2026-2027/class/5а",
        ] {
            assert!(text.parse::<DocId>().is_err(), "{text} was accepted");
        }
    }

    #[test]
    fn random_ids_are_distinct_and_valid() {
        let a = MarkId::random();
        let b = MarkId::random();
        assert_ne!(a, b);
        assert!(MarkId::new(a.as_str()).is_ok());
    }

    #[test]
    fn every_document_has_a_stable_automerge_repo_id_of_16_bytes() {
        let a: DocId = "2026-2027/student/s5a1".parse().expect("id");
        let b: DocId = "2027-2028/student/s5a1".parse().expect("id");
        assert_eq!(
            a.repo_id(),
            a.repo_id(),
            "the same on every device and relay"
        );
        assert_ne!(a.repo_id(), b.repo_id(), "the year is part of it");
        let bytes = bs58::decode(a.repo_id())
            .with_check(None)
            .into_vec()
            .expect("base58check");
        assert_eq!(bytes.len(), 16, "what automerge-repo and samod accept");
        assert_eq!(bytes[6] >> 4, 5, "a UUID of version 5 in form");
        assert!(a.repo_url().starts_with("automerge:"));
    }
}
