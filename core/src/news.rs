//! The "what is new" feed for parents and students: marks (with the value they replaced), absences, new
//! homework and messages that arrived since the user last looked. It is computed from each document's
//! history (its heads at the last look), never from a separate table that could drift.

use automerge::ChangeHash;
use time::Date;

use crate::docs::{EntryChange, View};
use crate::domain::model::{Attendance, Mark, Message};
use crate::domain::policy::MarkValue;
use crate::error::Result;
use crate::ids::{ClassId, DocId, LessonId, StudentId, SubjectId, ThreadId, YearId};
use crate::journal::Journal;

/// One item of the feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewsItem {
    /// A new mark, or a changed one (`previous` holds what it was).
    Mark {
        /// Whose.
        student: StudentId,
        /// Subject.
        subject: SubjectId,
        /// Date it counts for.
        date: Date,
        /// The mark.
        value: MarkValue,
        /// What it replaced.
        previous: Option<MarkValue>,
    },
    /// A missed lesson or a late arrival.
    Absence {
        /// Whose.
        student: StudentId,
        /// Subject.
        subject: SubjectId,
        /// Day.
        date: Date,
        /// The school's code.
        code: String,
    },
    /// Homework set in a lesson.
    Homework {
        /// Class.
        class: ClassId,
        /// Lesson.
        lesson: LessonId,
        /// Subject.
        subject: SubjectId,
        /// Day of the lesson.
        date: Date,
        /// The homework.
        text: String,
    },
    /// A message in a conversation.
    Message {
        /// The conversation.
        thread: ThreadId,
        /// Its author's account.
        author: String,
        /// Text.
        text: String,
    },
}

fn decode_heads(bytes: &[u8]) -> Vec<ChangeHash> {
    bytes
        .chunks_exact(32)
        .filter_map(|chunk| ChangeHash::try_from(chunk).ok())
        .collect()
}

/// Heads as stored: the 32-byte hashes one after another.
pub(crate) fn encode_heads(heads: &[ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

fn interpret(id: &DocId, view: &View, change: EntryChange) -> Option<NewsItem> {
    match (id, change.map.as_str(), &change.field) {
        (DocId::Student(_, student), "marks", None) => {
            let mark: Mark = serde_json::from_str(&change.new).ok()?;
            let previous = change
                .old
                .as_deref()
                .and_then(|old| serde_json::from_str::<Mark>(old).ok())
                .map(|m| m.value)
                .filter(|v| *v != mark.value);
            if change.old.is_some() && previous.is_none() {
                return None;
            }
            Some(NewsItem::Mark {
                student: student.clone(),
                subject: mark.subject,
                date: mark.date,
                value: mark.value,
                previous,
            })
        }
        (DocId::Student(_, student), "attendance", None) => {
            let entry: Attendance = serde_json::from_str(&change.new).ok()?;
            entry.code.map(|code| NewsItem::Absence {
                student: student.clone(),
                subject: entry.subject,
                date: entry.date,
                code,
            })
        }
        (DocId::Class(_, class), "lessons", Some(field))
            if field == "homework" && !change.new.is_empty() =>
        {
            let View::Class(doc) = view else { return None };
            let lesson: LessonId = change.entry.parse().ok()?;
            let found = doc.lessons.get(&lesson)?;
            Some(NewsItem::Homework {
                class: class.clone(),
                subject: found.subject.clone(),
                date: found.date,
                text: change.new,
                lesson,
            })
        }
        (DocId::Thread(_, thread), "messages", None) => {
            let message: Message = serde_json::from_str(&change.new).ok()?;
            Some(NewsItem::Message {
                thread: thread.clone(),
                author: message.author,
                text: message.text,
            })
        }
        _ => None,
    }
}

/// A feed item as a person reads it: whom or what it concerns, and its subject or author, by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewsNames {
    /// The student's name, the class's («5А») or the conversation's subject line.
    pub about: String,
    /// The subject's name («Русский язык»), or the message author's.
    pub subject: String,
}

impl Journal {
    /// The names a person reads for a feed item of `year`, from the school's documents.
    pub fn news_names(&self, year: YearId, item: &NewsItem) -> NewsNames {
        let student = |id: &StudentId| self.participant_name(year, &format!("student:{id}"));
        match item {
            NewsItem::Mark {
                student: id,
                subject,
                ..
            }
            | NewsItem::Absence {
                student: id,
                subject,
                ..
            } => NewsNames {
                about: student(id),
                subject: self.subject_name(year, subject),
            },
            NewsItem::Homework { class, subject, .. } => NewsNames {
                about: self.class_name(year, class),
                subject: self.subject_name(year, subject),
            },
            NewsItem::Message { thread, author, .. } => NewsNames {
                about: self
                    .docs
                    .get(&DocId::Thread(year, thread.clone()))
                    .and_then(|doc| match doc.view() {
                        View::Thread(view) => view.info.as_ref().map(|i| i.value.subject.clone()),
                        _ => None,
                    })
                    .unwrap_or_else(|| "Переписка".to_owned()),
                subject: self.participant_name(year, &format!("account:{author}")),
            },
        }
    }

    /// Everything new since the user last looked ([`Journal::mark_news_seen`]). A document that arrived
    /// on this device after that counts from the moment it arrived.
    pub fn news(&self) -> Result<Vec<NewsItem>> {
        let me = self.my_directory()?.map(|d| d.account);
        let mut items = Vec::new();
        let mut looked: std::collections::BTreeMap<DocId, Vec<u8>> = self
            .store
            .news_seen()?
            .into_iter()
            .filter_map(|(doc_id, heads)| Some((doc_id.parse().ok()?, heads)))
            .collect();
        // A conversation started on this device has no marker yet: every message in it from others is new.
        for id in self.docs.keys() {
            if matches!(id, DocId::Thread(..)) {
                looked.entry(id.clone()).or_default();
            }
        }
        for (id, heads) in looked {
            let Some(doc) = self.docs.get(&id) else {
                continue;
            };
            let seen = decode_heads(&heads);
            if doc.heads() == seen {
                continue;
            }
            items.extend(
                doc.entries_put_since(&seen)
                    .into_iter()
                    .filter_map(|change| interpret(&id, doc.view(), change))
                    .filter(|item| {
                        !matches!(item, NewsItem::Message { author, .. } if Some(author) == me.as_ref())
                    }),
            );
        }
        Ok(items)
    }

    /// Moves the "seen" marker of every document to now: the feed is empty until something new arrives.
    pub fn mark_news_seen(&mut self) -> Result<()> {
        let docs = &self.docs;
        self.store.write(|w| -> Result<()> {
            for (id, doc) in docs {
                w.put_news_seen(&id.to_string(), &encode_heads(&doc.heads()))?;
            }
            Ok(())
        })
    }
}
