//! The roles of the school's people and of the access codes that sign them in: one vocabulary for the
//! relay's directory, the device's copy of it and the command lines.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::InputError;

/// What an account is in the school.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    /// Director, deputies, the IT officer.
    #[serde(alias = "admin")]
    Administration,
    /// A teacher (class teacher of a class through the class staff list).
    Teacher,
    /// A student.
    Student,
    /// A parent or guardian.
    Parent,
}

impl AccountRole {
    /// Every role, in the order lists show them.
    pub const ALL: [AccountRole; 4] = [
        AccountRole::Administration,
        AccountRole::Teacher,
        AccountRole::Student,
        AccountRole::Parent,
    ];

    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountRole::Administration => "administration",
            AccountRole::Teacher => "teacher",
            AccountRole::Student => "student",
            AccountRole::Parent => "parent",
        }
    }

    /// Parses a stored or typed role name (`admin` is accepted for `administration`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "administration" | "admin" => Some(AccountRole::Administration),
            "teacher" => Some(AccountRole::Teacher),
            "student" => Some(AccountRole::Student),
            "parent" => Some(AccountRole::Parent),
            _ => None,
        }
    }

    /// Whether the account works at the school (teachers and administration).
    pub fn is_staff(self) -> bool {
        matches!(self, AccountRole::Administration | AccountRole::Teacher)
    }

    /// Whether the account belongs to a family (students and parents).
    pub fn is_family(self) -> bool {
        matches!(self, AccountRole::Student | AccountRole::Parent)
    }
}

impl fmt::Display for AccountRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AccountRole {
    type Err = InputError;

    fn from_str(text: &str) -> Result<Self, InputError> {
        AccountRole::parse(text).ok_or_else(|| {
            InputError::Invalid(format!(
                "role {text:?} is not one of administration, teacher, student, parent"
            ))
        })
    }
}

/// Whom an access code signs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeRole {
    /// A staff member's existing account.
    Staff,
    /// A student (their account is created on first use).
    Student,
    /// A parent of one student (a new parent account, or an existing one gaining a child).
    Parent,
}

impl CodeRole {
    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeRole::Staff => "staff",
            CodeRole::Student => "student",
            CodeRole::Parent => "parent",
        }
    }

    /// Parses a stored or typed code role.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "staff" => Some(CodeRole::Staff),
            "student" => Some(CodeRole::Student),
            "parent" => Some(CodeRole::Parent),
            _ => None,
        }
    }
}

impl fmt::Display for CodeRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CodeRole {
    type Err = InputError;

    fn from_str(text: &str) -> Result<Self, InputError> {
        CodeRole::parse(text).ok_or_else(|| {
            InputError::Invalid(format!(
                "code role {text:?} is not one of staff, student, parent"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_back_what_they_write_and_refuse_the_rest() {
        for role in AccountRole::ALL {
            assert_eq!(role.as_str().parse::<AccountRole>().expect("parses"), role);
            let json = serde_json::to_string(&role).expect("json");
            assert_eq!(json, format!("\"{role}\""));
        }
        assert_eq!(
            serde_json::from_str::<AccountRole>("\"admin\"").expect("alias"),
            AccountRole::Administration
        );
        let refused = "director".parse::<AccountRole>().expect_err("not a role");
        assert!(refused.to_string().contains("\"director\""), "{refused}");
        assert!("guest".parse::<CodeRole>().is_err());
        assert_eq!(
            "parent".parse::<CodeRole>().expect("parses"),
            CodeRole::Parent
        );
    }
}
