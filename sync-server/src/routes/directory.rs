//! `GET /v1/me/directory`: what the directory says about the caller, and whom they may write to. The device
//! keeps it so conversations can be started offline; the relay still decides when they arrive.
//! `GET /v1/me/documents`: the documents the caller may read, with the automerge-repo URL a stock client
//! finds each by.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use journal_core::directory::{Child, Contact, FamilyMember, MyDirectory, StaffClass};
use journal_core::{ClassId, StudentId};
use serde::Serialize;

use super::{AppError, Caller};
use crate::app::App;
use crate::store::{AccountRole, RelayStore, StoreResult, students_with_consent};

/// `GET /v1/me/directory`.
pub async fn my_directory(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
) -> Result<Json<MyDirectory>, AppError> {
    Ok(Json(directory_of(app.store().as_ref(), &who.account.id)?))
}

/// One document the caller may read.
#[derive(Debug, Serialize)]
pub struct DocumentEntry {
    /// The journal's id: `2026-2027/student/<id>`.
    pub id: String,
    /// Its automerge-repo URL: `automerge:<base58check id>`.
    pub url: String,
    /// `school`, `class`, `student`, `profile` or `thread`.
    pub kind: &'static str,
    /// What a person would call it.
    pub title: String,
}

/// `GET /v1/me/documents`.
pub async fn my_documents(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
) -> Result<Json<Vec<DocumentEntry>>, AppError> {
    let grants = app
        .hub
        .grants(&who.account.id)?
        .ok_or(AppError::Unauthorized)?;
    let hub = &app.hub;
    // Titles read documents: work for the cores, off the async runtime.
    let entries = hub
        .off_runtime(|| -> Result<Vec<DocumentEntry>, crate::hub::HubError> {
            hub.readable(&grants)?
                .into_iter()
                .map(|id| {
                    Ok(DocumentEntry {
                        url: id.repo_url(),
                        kind: id.kind().as_str(),
                        title: hub.title(&id)?,
                        id: id.to_string(),
                    })
                })
                .collect()
        })
        .await?;
    Ok(Json(entries))
}

/// The directory as `account` may see it.
pub fn directory_of(store: &dyn RelayStore, account: &str) -> StoreResult<MyDirectory> {
    let facts = store.access_facts(account)?;
    let Some(me) = facts.account else {
        return Err(crate::store::StoreError::NotFound(format!(
            "account {account}"
        )));
    };
    let mut children = Vec::new();
    for (student, class) in &facts.children {
        if let Some((_, name)) = store.student(student)? {
            children.push(Child {
                student: student.clone(),
                class: class.clone(),
                name,
            });
        }
    }
    // Classes whose staff this account may write to; `None`: every class (staff write to anyone).
    let concern: Option<BTreeSet<ClassId>> = match me.role {
        AccountRole::Parent => Some(facts.children.iter().map(|(_, c)| c.clone()).collect()),
        AccountRole::Student => Some(facts.own_class.iter().cloned().collect()),
        AccountRole::Administration | AccountRole::Teacher => None,
    };
    let mut contacts = Vec::new();
    for (other, taught) in store.staff()? {
        if other.id == me.id {
            continue;
        }
        let classes: Vec<ClassId> = taught
            .into_iter()
            .filter(|class| concern.as_ref().is_none_or(|c| c.contains(class)))
            .collect();
        let reachable = match (me.role, other.role) {
            (AccountRole::Administration | AccountRole::Teacher, _) => true,
            (AccountRole::Parent, AccountRole::Administration) => true,
            (AccountRole::Parent | AccountRole::Student, AccountRole::Teacher) => {
                !classes.is_empty()
            }
            _ => false,
        };
        if reachable {
            contacts.push(Contact {
                account: other.id,
                name: other.name,
                role: other.role,
                classes,
            });
        }
    }
    // Staff learn the names of the families of the students they teach whose consent to processing
    // personal data is in force, so that a parent writing to them is named; nobody else learns other
    // families' names.
    let mut families = Vec::new();
    if matches!(me.role, AccountRole::Administration | AccountRole::Teacher)
        && !facts.class_students.is_empty()
    {
        let taught: BTreeSet<&StudentId> = facts.class_students.iter().map(|(s, _)| s).collect();
        let all_links = store.guardian_links()?;
        let consented = students_with_consent(&store.consents(None)?, &all_links);
        let links: Vec<(String, StudentId)> = all_links
            .into_iter()
            .filter(|(_, student)| taught.contains(student) && consented.contains(student))
            .collect();
        if !links.is_empty() {
            let names: std::collections::HashMap<String, String> = store
                .accounts()?
                .into_iter()
                .filter(|a| a.active)
                .map(|a| (a.id, a.name))
                .collect();
            for (account, student) in links {
                if let Some(name) = names.get(&account) {
                    families.push(FamilyMember {
                        name: name.clone(),
                        account,
                        student,
                    });
                }
            }
        }
    }
    Ok(MyDirectory {
        account: me.id,
        name: me.name,
        role: me.role,
        student: me.student,
        classes: facts
            .staff_classes
            .into_iter()
            .map(|(class, class_teacher)| StaffClass {
                class,
                class_teacher,
            })
            .collect(),
        children,
        contacts,
        families,
    })
}
