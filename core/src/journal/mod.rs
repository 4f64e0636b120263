//! The journal on one device: typed documents kept in memory as the read model, every write committed to the
//! local store in one transaction before the call returns. Here: opening it and reading its documents;
//! beside it the unit of work (`write`), school setup, the rollover, lessons, teachers' entries and
//! conflicts, one file each.

mod conflicts;
mod entries;
mod lessons;
mod lookup;
mod rollover;
mod setup;
mod write;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use automerge::ActorId;
use time::Date;
use tracing::{debug, warn};

use crate::docs::{
    Cell, ClassDoc, Document, FinalMarkKey, LessonField, SchoolDoc, SchoolSettings, StudentDoc,
    View,
};
use crate::domain::calendar::BellSchedule;
use crate::domain::calendar::{SchoolYear, TermScheme, format_date};
use crate::domain::model::PlannedTopic;
use crate::domain::model::{
    Attendance, ClassInfo, Guardian, Lesson, Mark, MarkInput, MarkPeriod, NewLesson, PeriodMark,
    RosterEntry, StudentProfile, Subject, SubjectAssignment,
};
use crate::domain::policy::MarkingPolicy;
use crate::domain::time_zone::SchoolTimeZone;
use crate::error::{Error, InputError, Result, StoreError};
use crate::ids::TermId;
use crate::ids::{
    ClassId, DocId, GuardianId, LessonId, MarkId, StaffId, StudentId, SubjectId, WorkKindId,
    YearId, random_id,
};
use crate::store::Store;
use crate::validate::ValidationContext;

pub use conflicts::{Conflict, ConflictTarget};
pub use entries::AttendanceInput;
pub use rollover::Promotion;
pub use setup::SchoolSetup;
use write::push_once;

/// The journal of one device.
#[derive(Debug)]
pub struct Journal {
    pub(crate) store: Store,
    pub(crate) actor: ActorId,
    pub(crate) docs: BTreeMap<DocId, Document>,
    pub(crate) lesson_index: HashMap<LessonId, (YearId, ClassId)>,
    /// Automerge sync state per document and peer, loaded from the store on first use.
    pub(crate) sync_states: HashMap<(DocId, String), automerge::sync::State>,
    /// Documents changed locally since the sync client last looked.
    dirty: std::collections::BTreeSet<DocId>,
    /// Documents touched inside [`Journal::batch`], persisted together when it ends.
    batch: Option<Vec<DocId>>,
    /// Who signs the marks given on this device (the signed-in staff member), once looked up.
    pub(crate) signer: Option<Option<StaffId>>,
    /// The reason the edits made now give, inside [`Journal::with_reason`].
    pub(crate) reason: Option<String>,
    /// The day a test set in place of the device's clock.
    pretended_today: Option<Date>,
}

pub(crate) fn unknown(kind: &'static str, id: impl ToString) -> Error {
    InputError::Unknown {
        kind,
        id: id.to_string(),
    }
    .into()
}

impl Journal {
    /// Opens the journal stored at `path`, creating it when new.
    pub fn open(path: &Path) -> Result<Self> {
        Self::with_store(Store::open(path)?)
    }

    /// Opens the journal at `path` sealed at rest under the platform's 32-byte `key`; a journal stored
    /// unsealed is sealed now. A wrong key is refused and nothing is changed.
    pub fn open_sealed(path: &Path, key: &[u8]) -> Result<Self> {
        Self::with_store(Store::open_sealed(path, key)?)
    }

    /// A journal that lives in memory only.
    pub fn open_in_memory() -> Result<Self> {
        Self::with_store(Store::open_in_memory()?)
    }

    fn with_store(mut store: Store) -> Result<Self> {
        let actor = ActorId::from(store.actor(|| ActorId::random().to_bytes().to_vec())?);
        let mut journal = Journal {
            store,
            actor,
            docs: BTreeMap::new(),
            lesson_index: HashMap::new(),
            sync_states: HashMap::new(),
            dirty: Default::default(),
            batch: None,
            signer: None,
            reason: None,
            pretended_today: None,
        };
        let stored = journal.store.load_all()?;
        // Each document parses on its own: opening a teacher's year is mostly this, spread over the cores.
        let actor = &journal.actor;
        let loaded = crate::parallel::map(&stored, |(id, bytes)| -> Result<Document> {
            let doc_id: DocId = id.parse()?;
            Document::load(doc_id, bytes, actor).map_err(|e| {
                StoreError::Corrupt {
                    doc: id.clone(),
                    reason: e.to_string(),
                }
                .into()
            })
        });
        for doc in loaded {
            let doc = doc?;
            let doc_id = doc.id().clone();
            journal.docs.insert(doc_id.clone(), doc);
            journal.reindex(&doc_id);
        }
        debug!(documents = journal.docs.len(), "opened the journal");
        Ok(journal)
    }

    /// The documents this device holds.
    pub fn documents(&self) -> impl Iterator<Item = &Document> {
        self.docs.values()
    }

    /// One document.
    pub fn document(&self, id: &DocId) -> Option<&Document> {
        self.docs.get(id)
    }

    /// Holds `doc` as it is in place of this journal's copy, without merging, validating or storing it: for
    /// a read model over documents another component has already validated (the relay's reports).
    pub fn replace_document(&mut self, doc: Document) {
        let id = doc.id().clone();
        self.docs.insert(id.clone(), doc);
        self.reindex(&id);
    }

    /// Merges another replica's copy of a document (received by sync or file), committed before returning.
    /// A copy that would break the document schema is refused and nothing changes.
    pub fn merge_document(&mut self, other: &Document) -> Result<()> {
        let id = other.id().clone();
        let settings = self.settings_for(&id);
        let ctx = ValidationContext::with_settings(settings.as_ref());
        self.change(|j, touched| {
            match j.docs.get_mut(&id) {
                Some(doc) => doc.merge(other, &ctx)?,
                None => {
                    let mut doc = Document::create(id.clone(), &j.actor)?;
                    doc.merge(other, &ctx)?;
                    j.docs.insert(id.clone(), doc);
                }
            }
            push_once(touched, &id);
            Ok(())
        })?;
        self.reindex(&id);
        Ok(())
    }

    /// The token secret this device proposes when it redeems `code` (64 hex digits): derived from a secret
    /// only this device holds, so it is the same each time this device sends that code, and a retry after
    /// a lost reply gets the same answer from the relay. Nobody else can compute it.
    pub fn redemption_secret(&mut self, code: &crate::access_code::AccessCode) -> Result<String> {
        use ring::rand::SecureRandom;
        let secret = self.store.device_secret(|| {
            let mut bytes = vec![0u8; 32];
            ring::rand::SystemRandom::new()
                .fill(&mut bytes)
                .expect("the operating system's random source is available");
            bytes
        })?;
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
        let tag = ring::hmac::sign(
            &key,
            format!("journal access code v1\0{}", code.canonical()).as_bytes(),
        );
        Ok(hex::encode(tag.as_ref()))
    }

    /// This device's id (its Automerge actor, hex): the storage id the relay keeps sync state under.
    pub fn device_id(&self) -> String {
        self.actor.to_hex_string()
    }

    /// Documents changed locally since the last call, for the sync client to send.
    pub fn take_dirty(&mut self) -> Vec<DocId> {
        std::mem::take(&mut self.dirty).into_iter().collect()
    }

    /// The local database's verdict on its own integrity (`ok` when sound).
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self.store.integrity_check()?)
    }

    // ----- reading helpers shared by writes and queries -----

    /// The typed school document of a year, once this device holds it.
    pub fn school_doc(&self, year: YearId) -> Option<&SchoolDoc> {
        match self.docs.get(&DocId::School(year)).map(Document::view) {
            Some(View::School(s)) => Some(s),
            _ => None,
        }
    }

    /// The school's settings for a year, once administration has set them up on or synced to this device.
    pub fn school_settings(&self, year: YearId) -> Option<&SchoolSettings> {
        self.school_doc(year)
            .and_then(|s| s.settings.as_ref())
            .map(|c| &c.value)
    }

    pub(crate) fn settings(&self, year: YearId) -> Result<&SchoolSettings> {
        self.school_settings(year)
            .ok_or_else(|| unknown("school year", year))
    }

    pub(crate) fn class_doc(&self, year: YearId, class: &ClassId) -> Result<&ClassDoc> {
        match self
            .docs
            .get(&DocId::Class(year, class.clone()))
            .map(Document::view)
        {
            Some(View::Class(c)) => Ok(c),
            _ => Err(unknown("class", class)),
        }
    }

    pub(crate) fn student_doc(&self, year: YearId, student: &StudentId) -> Option<&StudentDoc> {
        match self
            .docs
            .get(&DocId::Student(year, student.clone()))
            .map(Document::view)
        {
            Some(View::Student(s)) => Some(s),
            _ => None,
        }
    }

    /// A lesson by id, with its year and class.
    pub fn lesson(&self, lesson: &LessonId) -> Result<(YearId, ClassId, &Lesson)> {
        let (year, class) = self
            .lesson_index
            .get(lesson)
            .ok_or_else(|| unknown("lesson", lesson))?;
        let found = self
            .class_doc(*year, class)?
            .lessons
            .get(lesson)
            .ok_or_else(|| unknown("lesson", lesson))?;
        Ok((*year, class.clone(), found))
    }

    pub(crate) fn reindex(&mut self, id: &DocId) {
        let DocId::Class(year, class) = id else {
            return;
        };
        self.lesson_index
            .retain(|_, (y, c)| !(*y == *year && c == class));
        if let Some(View::Class(doc)) = self.docs.get(id).map(Document::view) {
            for lesson in doc.lessons.keys() {
                self.lesson_index
                    .insert(lesson.clone(), (*year, class.clone()));
            }
        }
    }

    fn known_subject(&self, year: YearId, subject: &SubjectId) -> Result<()> {
        let school = self
            .school_doc(year)
            .ok_or_else(|| unknown("school year", year))?;
        if school.subjects.contains_key(subject) {
            Ok(())
        } else {
            Err(unknown("subject", subject))
        }
    }

    fn check_in_year(&self, year: YearId, what: &'static str, date: Date) -> Result<()> {
        let settings = self.settings(year)?;
        if settings.year.range().contains(date) {
            Ok(())
        } else {
            Err(InputError::OutsideSchoolYear {
                what,
                date: format_date(date),
                year: year.to_string(),
                start: format_date(settings.year.start),
                end: format_date(settings.year.end),
            }
            .into())
        }
    }
}
