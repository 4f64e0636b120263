//! The device's copy of what the relay's directory says about its own account: who the user is, their
//! children, and the people they may write to. The relay owns the directory; the device keeps the last copy
//! it was given so messages can be written offline.

use serde::{Deserialize, Serialize};

use crate::error::{InputError, Result};
use crate::ids::{ClassId, StudentId};
use crate::journal::Journal;
use crate::roles::AccountRole;

/// The signed-in account and who it may write to, as the relay last told this device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyDirectory {
    /// The account on this device.
    pub account: String,
    /// Its display name.
    pub name: String,
    /// What the account is in the school.
    pub role: AccountRole,
    /// For a student account, the student.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub student: Option<StudentId>,
    /// Classes the account teaches in, with whether it is their class teacher.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<StaffClass>,
    /// For a parent, their children.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Child>,
    /// Staff the account may start a conversation with.
    #[serde(default)]
    pub contacts: Vec<Contact>,
    /// For staff, the guardians of the students of the classes they teach, by name: who a parent
    /// writing to them is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub families: Vec<FamilyMember>,
}

/// A guardian of a student the staff member teaches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyMember {
    /// Their account.
    pub account: String,
    /// Their name.
    pub name: String,
    /// The student they are a guardian of.
    pub student: StudentId,
}

/// A class a staff member teaches in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffClass {
    /// The class.
    pub class: ClassId,
    /// Whether they are its class teacher.
    pub class_teacher: bool,
}

/// One child of a parent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Child {
    /// The student.
    pub student: StudentId,
    /// Their class.
    pub class: ClassId,
    /// Their name.
    pub name: String,
}

/// Someone the account may write to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Their account.
    pub account: String,
    /// Their name.
    pub name: String,
    /// `administration` or `teacher`.
    pub role: AccountRole,
    /// Classes they teach in that concern the account (empty for administration).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ClassId>,
}

impl MyDirectory {
    /// An account's directory with no classes, children or contacts yet.
    pub fn new(account: impl Into<String>, name: impl Into<String>, role: AccountRole) -> Self {
        MyDirectory {
            account: account.into(),
            name: name.into(),
            role,
            student: None,
            classes: Vec::new(),
            children: Vec::new(),
            contacts: Vec::new(),
            families: Vec::new(),
        }
    }
}

impl Journal {
    /// The directory copy this device holds, if it has signed in.
    pub fn my_directory(&self) -> Result<Option<MyDirectory>> {
        let Some(json) = self.store.directory()? else {
            return Ok(None);
        };
        Ok(Some(serde_json::from_str(&json).map_err(|e| {
            InputError::Invalid(format!("the stored directory copy is unreadable: {e}"))
        })?))
    }

    /// Replaces the directory copy (after signing in, and on every sync).
    pub fn set_my_directory(&mut self, directory: &MyDirectory) -> Result<()> {
        let json = serde_json::to_string(directory)
            .map_err(|e| InputError::Invalid(format!("directory: {e}")))?;
        self.store.write(|w| -> Result<()> {
            w.put_directory(&json)?;
            Ok(())
        })?;
        self.signer = None;
        Ok(())
    }

    /// The signed-in account, or an error saying to sign in first.
    pub(crate) fn my_account(&self) -> Result<String> {
        self.my_directory()?
            .map(|d| d.account)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| InputError::NotSignedIn.into())
    }
}
