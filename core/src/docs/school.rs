//! The `school` document: header for printouts, the school year with its terms, bells, subjects and the
//! marking policy.

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{Automerge, ROOT, ReadDoc, ScalarValueRef, ValueRef};
use serde::{Deserialize, Serialize};

use super::cell::{Cell, put_json, read_json_cell, read_json_map};
use super::{Document, View, root_map, tx_root_map};
use crate::domain::calendar::{BellSchedule, SchoolYear};
use crate::domain::model::Subject;
use crate::domain::policy::MarkingPolicy;
use crate::domain::time_zone::SchoolTimeZone;
use crate::error::{InputError, Result, SchemaError};
use crate::ids::{DocId, SubjectId};

pub(super) const MAPS: &[&str] = &["subjects"];

/// Root keys `staff/<account>` hold a staff member's name as the directory has it, written by the relay
/// for the administration; root keys, so schools made before them read and write them alike.
const STAFF_PREFIX: &str = "staff/";

/// The school's settings for one year; administration sets them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchoolSettings {
    /// Full name of the school.
    pub name: String,
    /// Lines printed at the top of every paper form.
    pub header: Vec<String>,
    /// The school year and its terms.
    pub year: SchoolYear,
    /// Marking policy.
    pub policy: MarkingPolicy,
    /// Bell schedule.
    pub bells: BellSchedule,
    /// The school's offset from UTC: what "today" is for it. Left out while it is UTC, so apps from
    /// before it still read the settings.
    #[serde(default, skip_serializing_if = "SchoolTimeZone::is_utc")]
    pub time_zone: SchoolTimeZone,
}

/// Typed content of a `school` document.
#[derive(Clone, Debug, Default)]
pub struct SchoolDoc {
    /// Settings, once administration has set them.
    pub settings: Option<Cell<SchoolSettings>>,
    /// Subject catalogue.
    pub subjects: BTreeMap<SubjectId, Cell<Subject>>,
    /// Staff members' names by account, for printouts and lists.
    pub staff: BTreeMap<String, String>,
}

pub(super) fn read(id: &DocId, doc: &Automerge) -> Result<SchoolDoc, SchemaError> {
    let subjects = root_map(id, doc, "subjects")?;
    let mut staff = BTreeMap::new();
    for item in doc.map_range(ROOT, STAFF_PREFIX.to_owned().."staff0".to_owned()) {
        let account = &item.key[STAFF_PREFIX.len()..];
        let ValueRef::Scalar(ScalarValueRef::Str(name)) = &item.value else {
            return Err(SchemaError::new(
                id,
                format!("the name of staff member {account:?} is not text"),
            ));
        };
        staff.insert(account.to_owned(), name.to_string());
    }
    Ok(SchoolDoc {
        settings: read_json_cell(id, doc, &ROOT, "settings")?,
        subjects: read_json_map(id, doc, &subjects, "subject")?,
        staff,
    })
}

impl Document {
    fn school_view(&mut self) -> Result<&mut SchoolDoc> {
        match &mut self.view {
            View::School(s) => Ok(s),
            _ => Err(InputError::Invalid(format!("{} is not a school document", self.id)).into()),
        }
    }

    /// Sets the school's settings.
    pub fn set_school_settings(&mut self, settings: &SchoolSettings) -> Result<()> {
        self.school_view()?;
        self.edit(|tx| put_json(tx, &ROOT, "settings", settings))?;
        self.school_view()?.settings = Some(Cell::single(settings.clone()));
        Ok(())
    }

    /// Records a staff member's name (or a new one).
    pub fn set_staff_name(&mut self, account: &str, name: &str) -> Result<()> {
        self.school_view()?;
        self.edit(|tx| {
            tx.put(ROOT, format!("{STAFF_PREFIX}{account}"), name)?;
            Ok(())
        })?;
        self.school_view()?
            .staff
            .insert(account.to_owned(), name.to_owned());
        Ok(())
    }

    /// Adds or renames a subject in the catalogue.
    pub fn put_subject(&mut self, id: &SubjectId, subject: &Subject) -> Result<()> {
        self.school_view()?;
        self.edit(|tx| {
            let map = tx_root_map(tx, "subjects")?;
            put_json(tx, &map, id.as_str(), subject)
        })?;
        self.school_view()?
            .subjects
            .insert(id.clone(), Cell::single(subject.clone()));
        Ok(())
    }
}
