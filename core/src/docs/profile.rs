//! The `profile` document: personal data of one student and their guardians, with the date it was last
//! checked (regulation 3.3: class teachers check it at least monthly).

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{Automerge, ROOT};
use time::Date;

use super::cell::{Cell, put_json, read_json_cell, read_json_map};
use super::{Document, View, root_map, root_str, tx_root_map};
use crate::domain::calendar::{format_date, parse_date};
use crate::domain::model::{Guardian, StudentProfile};
use crate::error::{InputError, Result, SchemaError};
use crate::ids::{DocId, GuardianId};

pub(super) const MAPS: &[&str] = &["guardians"];

/// Typed content of a `profile` document.
#[derive(Clone, Debug, Default)]
pub struct ProfileDoc {
    /// The student's personal data, once entered.
    pub student: Option<Cell<StudentProfile>>,
    /// Guardians by id.
    pub guardians: BTreeMap<GuardianId, Cell<Guardian>>,
    /// When the class teacher last confirmed the data.
    pub last_reviewed: Option<Date>,
}

pub(super) fn read(id: &DocId, doc: &Automerge) -> Result<ProfileDoc, SchemaError> {
    let guardians = root_map(id, doc, "guardians")?;
    let last_reviewed = match root_str(id, doc, "last_reviewed") {
        Ok(text) => Some(parse_date(&text).map_err(|e| SchemaError::new(id, e.to_string()))?),
        Err(_) => None,
    };
    Ok(ProfileDoc {
        student: read_json_cell(id, doc, &ROOT, "student")?,
        guardians: read_json_map(id, doc, &guardians, "guardian")?,
        last_reviewed,
    })
}

impl Document {
    fn profile_view(&mut self) -> Result<&mut ProfileDoc> {
        match &mut self.view {
            View::Profile(p) => Ok(p),
            _ => Err(InputError::Invalid(format!("{} is not a profile document", self.id)).into()),
        }
    }

    /// Sets the student's personal data.
    pub fn set_student_profile(&mut self, profile: &StudentProfile) -> Result<()> {
        self.profile_view()?;
        self.edit(|tx| put_json(tx, &ROOT, "student", profile))?;
        self.profile_view()?.student = Some(Cell::single(profile.clone()));
        Ok(())
    }

    /// Adds or updates a guardian.
    pub fn put_guardian(&mut self, id: &GuardianId, guardian: &Guardian) -> Result<()> {
        self.profile_view()?;
        self.edit(|tx| {
            let map = tx_root_map(tx, "guardians")?;
            put_json(tx, &map, id.as_str(), guardian)
        })?;
        self.profile_view()?
            .guardians
            .insert(id.clone(), Cell::single(guardian.clone()));
        Ok(())
    }

    /// Records that the class teacher checked the data on `date`.
    pub fn set_last_reviewed(&mut self, date: Date) -> Result<()> {
        self.profile_view()?;
        self.edit(|tx| {
            tx.put(ROOT, "last_reviewed", format_date(date))?;
            Ok(())
        })?;
        self.profile_view()?.last_reviewed = Some(date);
        Ok(())
    }
}
