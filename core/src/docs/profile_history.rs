//! The edit log of a `profile` document (regulation 3.3, 152-FZ): every field a change set, old → new,
//! read back from the document's own history, so nothing can be edited without appearing here.

use std::collections::BTreeMap;

use automerge::Automerge;
use serde::Serialize;

use super::profile::{self, ProfileDoc};
use crate::domain::calendar::format_date;
use crate::error::SchemaError;
use crate::ids::DocId;

/// One field of a profile as one change left it: old → new.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProfileEdit {
    /// The change that made the edit (its hash, in hex), for the audit trail to name who and when.
    pub change: String,
    /// The field, as people call it: «ФИО», «адрес», «опекун Иванова Мария: телефон».
    pub field: String,
    /// The value before; `None` when the field was empty.
    pub old: Option<String>,
    /// The value after; `None` when the change emptied it.
    pub new: Option<String>,
}

/// Every edit of the profile document `doc`, change by change in causal order.
pub fn profile_edits(id: &DocId, doc: &Automerge) -> Result<Vec<ProfileEdit>, SchemaError> {
    let mut replay = Automerge::new();
    let mut before = Fields::default();
    let mut edits = Vec::new();
    for change in doc.get_changes(&[]) {
        replay
            .apply_changes([change.clone()])
            .map_err(|e| SchemaError::new(id, format!("its history cannot be replayed: {e}")))?;
        let after = Fields::of(&profile::read(id, &replay)?);
        edits.extend(before.edits_to(&after, &change.hash().to_string()));
        before = after;
    }
    Ok(edits)
}

/// A profile as readable fields, keyed so that a field keeps its key when its label changes.
#[derive(Debug, Default)]
struct Fields(BTreeMap<String, (String, String)>);

impl Fields {
    fn of(doc: &ProfileDoc) -> Fields {
        let mut fields = BTreeMap::new();
        let mut put = |key: String, label: String, value: String| {
            if !value.is_empty() {
                fields.insert(key, (label, value));
            }
        };
        if let Some(student) = &doc.student {
            let student = &student.value;
            put("name".into(), "ФИО".into(), student.full_name.clone());
            put(
                "birth".into(),
                "дата рождения".into(),
                student.birth_date.map(format_date).unwrap_or_default(),
            );
            put("address".into(), "адрес".into(), student.address.clone());
        }
        for (id, guardian) in &doc.guardians {
            let guardian = &guardian.value;
            let label = |what: &str| format!("опекун {}: {what}", guardian.name);
            let key = |what: &str| format!("guardian/{id}/{what}");
            put(key("name"), label("ФИО"), guardian.name.clone());
            put(
                key("relation"),
                label("кем приходится"),
                guardian.relation.clone(),
            );
            put(key("phone"), label("телефон"), guardian.phone.clone());
            put(key("email"), label("e-mail"), guardian.email.clone());
        }
        put(
            "reviewed".into(),
            "проверено классным руководителем".into(),
            doc.last_reviewed.map(format_date).unwrap_or_default(),
        );
        Fields(fields)
    }

    fn edits_to(&self, after: &Fields, change: &str) -> Vec<ProfileEdit> {
        let mut keys: Vec<&String> = self.0.keys().chain(after.0.keys()).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .filter_map(|key| {
                let old = self.0.get(key);
                let new = after.0.get(key);
                if old.map(|(_, v)| v) == new.map(|(_, v)| v) {
                    return None;
                }
                let label = new.or(old).map(|(label, _)| label.clone())?;
                Some(ProfileEdit {
                    change: change.to_owned(),
                    field: label,
                    old: old.map(|(_, v)| v.clone()),
                    new: new.map(|(_, v)| v.clone()),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{Guardian, StudentProfile};
    use crate::testing;
    use crate::{Journal, StudentId};

    #[test]
    fn each_change_of_a_profile_is_listed_old_to_new_and_an_unchanged_field_is_not() {
        let mut journal = Journal::open_in_memory().expect("journal");
        testing::school(&mut journal).expect("school");
        let class = testing::class_with_students(&mut journal, "5a", 1).expect("class");
        let student: StudentId = class.students[0].clone();
        let year = testing::YEAR;
        let day = journal.settings(year).expect("settings").year.start;
        let mut profile = StudentProfile {
            full_name: "Иванов Иван Петрович".into(),
            birth_date: None,
            address: "ул. Ленина, 1".into(),
        };
        journal
            .set_profile(year, &student, &profile, day)
            .expect("first entry");
        profile.address = "ул. Мира, 7".into();
        journal
            .set_profile(year, &student, &profile, day)
            .expect("address");
        journal
            .put_guardian(
                year,
                &student,
                &"g1".parse().expect("guardian id"),
                &Guardian {
                    name: "Иванова Мария".into(),
                    relation: "мать".into(),
                    phone: "+7 900 000-00-01".into(),
                    email: String::new(),
                },
            )
            .expect("guardian");

        let id = DocId::Profile(year, student);
        let doc = journal.document(&id).expect("profile held").automerge();
        let edits = profile_edits(&id, doc).expect("edits");
        let show = |e: &ProfileEdit| {
            format!(
                "{}: {} → {}",
                e.field,
                e.old.as_deref().unwrap_or("—"),
                e.new.as_deref().unwrap_or("—")
            )
        };
        let lines: Vec<String> = edits.iter().map(show).collect();
        assert!(
            lines.contains(&"ФИО: — → Иванов Иван Петрович".to_owned()),
            "{lines:?}"
        );
        assert!(
            lines.contains(&"адрес: ул. Ленина, 1 → ул. Мира, 7".to_owned()),
            "{lines:?}"
        );
        assert!(
            lines.contains(&"опекун Иванова Мария: телефон: — → +7 900 000-00-01".to_owned()),
            "{lines:?}"
        );
        // The second change rewrote the whole student entry; only the address is an edit.
        let second = &edits
            .iter()
            .find(|e| e.field == "адрес" && e.old.is_some())
            .expect("the address edit")
            .change;
        assert_eq!(
            edits.iter().filter(|e| &e.change == second).count(),
            1,
            "{lines:?}"
        );
    }
}
