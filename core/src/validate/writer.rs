//! What a writer may change, judged on the relay against the document before the change: in a
//! conversation, only their own new messages and their own read state; in a student's record, only marks
//! signed by themselves or in a subject they teach in the student's class.

use std::collections::BTreeSet;

use crate::docs::{Cell, StudentDoc, ThreadDoc, View};
use crate::error::SchemaError;
use crate::ids::{DocId, SubjectId};
use crate::validate::EditWindow;

/// Who delivers a change, judged against the document before it.
#[derive(Clone, Copy, Debug)]
pub struct WriterGuard<'a> {
    /// The account delivering the change.
    pub author: &'a str,
    /// Subjects the author teaches in the class of the student whose record this is (from the class
    /// document's subject assignments); empty for other documents.
    pub subjects_taught: &'a BTreeSet<SubjectId>,
    /// When the delivery's edits were made, for the edit-lock window; `None` checks no window.
    pub edits: Option<EditWindow<'a>>,
}

impl WriterGuard<'_> {
    /// Checks what changed between `before` and `after` against what the author may change.
    pub(super) fn check(&self, id: &DocId, before: &View, after: &View) -> Result<(), SchemaError> {
        match (before, after) {
            (View::Thread(before), View::Thread(after)) => self.check_thread(id, before, after),
            (View::Student(before), View::Student(after)) => self.check_student(id, before, after),
            _ => Ok(()),
        }
    }

    fn check_thread(
        &self,
        id: &DocId,
        before: &ThreadDoc,
        thread: &ThreadDoc,
    ) -> Result<(), SchemaError> {
        if !before.participants.is_empty() && thread.participants != before.participants {
            return Err(SchemaError::new(
                id,
                "the participants of a conversation cannot change",
            ));
        }
        if before.info.is_some() && thread.info != before.info {
            return Err(SchemaError::new(
                id,
                "the subject of a conversation cannot change",
            ));
        }
        for (key, cell) in &thread.messages {
            match before.messages.get(key) {
                Some(old) if old == cell => {}
                Some(_) => {
                    return Err(SchemaError::new(
                        id,
                        format!("message {key} was already sent and cannot change"),
                    ));
                }
                None => {
                    if let Some(message) = values(cell).find(|m| m.author != self.author) {
                        return Err(SchemaError::new(
                            id,
                            format!(
                                "message {key} names {:?} as its author; only {:?} may deliver it",
                                message.author, self.author
                            ),
                        ));
                    }
                }
            }
        }
        if before
            .messages
            .keys()
            .any(|k| !thread.messages.contains_key(k))
        {
            return Err(SchemaError::new(id, "a sent message cannot be deleted"));
        }
        if thread.arrived != before.arrived {
            return Err(SchemaError::new(
                id,
                "only the relay records when a message arrived",
            ));
        }
        for (account, last) in &thread.read {
            if before.read.get(account) != Some(last) && account != self.author {
                return Err(SchemaError::new(
                    id,
                    format!("only {account:?} may record what {account:?} has read"),
                ));
            }
        }
        Ok(())
    }

    /// Marks and term marks new in this change name their teacher: the author, or anyone when the author
    /// teaches that subject in the class. A value that was already there (kept when a conflict is resolved)
    /// is not new.
    fn check_student(
        &self,
        id: &DocId,
        before: &StudentDoc,
        after: &StudentDoc,
    ) -> Result<(), SchemaError> {
        for (key, cell) in &after.marks {
            let old = before.marks.get(key);
            for mark in new_values(cell, old) {
                self.check_signed(
                    id,
                    &format!("mark {key}"),
                    mark.teacher.as_str(),
                    &mark.subject,
                )?;
            }
        }
        for (key, cell) in &after.final_marks {
            let old = before.final_marks.get(key);
            for mark in new_values(cell, old) {
                self.check_signed(
                    id,
                    &format!("the mark for {key}"),
                    mark.teacher.as_str(),
                    &key.subject,
                )?;
            }
        }
        Ok(())
    }

    fn check_signed(
        &self,
        id: &DocId,
        what: &str,
        teacher: &str,
        subject: &SubjectId,
    ) -> Result<(), SchemaError> {
        if teacher == self.author || self.subjects_taught.contains(subject) {
            return Ok(());
        }
        Err(SchemaError::new(
            id,
            format!(
                "{what} is signed by {teacher:?}; {:?} may sign only their own marks, or marks in a subject they teach in this class ({subject} is not one)",
                self.author
            ),
        ))
    }
}

fn values<T>(cell: &Cell<T>) -> impl Iterator<Item = &T> {
    std::iter::once(&cell.value).chain(&cell.competing)
}

/// The values of `cell` that `old` did not hold.
fn new_values<'a, T: PartialEq>(
    cell: &'a Cell<T>,
    old: Option<&'a Cell<T>>,
) -> impl Iterator<Item = &'a T> {
    values(cell).filter(move |v| old.is_none_or(|old| !values(old).any(|o| o == *v)))
}
