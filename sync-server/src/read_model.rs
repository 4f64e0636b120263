//! The reports' read model: a school year's documents held parsed in memory, each re-read only when its
//! heads in the store have moved, and only the documents a report needs. A report on one class or one
//! student then costs the documents it reads, not a school year loaded, merged and stored per request.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use journal_core::docs::{Document, View};
use journal_core::reports::{ReportKind, ReportRequest};
use journal_core::{DocId, Journal, StudentId, YearId};

use crate::reports::ReportError;
use crate::store::RelayStore;

/// How long a year nobody reports on stays in memory.
pub const IDLE: Duration = Duration::from_secs(10 * 60);

/// Which of a year's documents a report reads, besides the school and class documents every report
/// reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The school and class documents only.
    Classes,
    /// Also these students' marks and profile documents.
    Students(BTreeSet<StudentId>),
    /// Also every student's profile document (not their marks).
    Profiles,
    /// Every document of the year except conversations.
    Whole,
}

impl Scope {
    /// What a report of `kind` on `request` reads, found in the class documents already held.
    pub fn of(kind: ReportKind, request: &ReportRequest, journal: &Journal, year: YearId) -> Scope {
        let everyone_ever_in = |class| match journal
            .document(&DocId::Class(year, class))
            .map(Document::view)
        {
            Some(View::Class(view)) => view.roster.keys().cloned().collect(),
            _ => BTreeSet::new(),
        };
        match kind {
            ReportKind::ReportCard => Scope::Students(request.student.iter().cloned().collect()),
            ReportKind::ClassJournal
            | ReportKind::Summary
            | ReportKind::TermReport
            | ReportKind::Progress => match &request.class {
                Some(class) => Scope::Students(everyone_ever_in(class.clone())),
                None => Scope::Classes,
            },
            ReportKind::ProfileReview => Scope::Profiles,
            ReportKind::Control => Scope::Whole,
            ReportKind::Activity | ReportKind::NoConsent => Scope::Classes,
        }
    }

    fn holds(&self, id: &DocId) -> bool {
        match (self, id) {
            (_, DocId::Thread(..)) => false,
            (_, DocId::School(_) | DocId::Class(..)) | (Scope::Whole, _) => true,
            (Scope::Profiles, DocId::Profile(..)) => true,
            (Scope::Classes | Scope::Profiles, _) => false,
            (Scope::Students(students), DocId::Student(_, s) | DocId::Profile(_, s)) => {
                students.contains(s)
            }
        }
    }
}

/// One year as last read from the store.
struct HeldYear {
    journal: Journal,
    /// The store's heads of each held document when it was read.
    heads: HashMap<DocId, Vec<String>>,
    used: Instant,
}

impl HeldYear {
    fn new() -> Result<Self, ReportError> {
        Ok(HeldYear {
            journal: Journal::open_in_memory()?,
            heads: HashMap::new(),
            used: Instant::now(),
        })
    }

    /// Re-reads the documents of `scope` that are missing or whose heads in the store differ, parsing
    /// them on every core.
    fn refresh(
        &mut self,
        store: &dyn RelayStore,
        stored: &HashMap<DocId, Vec<String>>,
        scope: &Scope,
    ) -> Result<usize, ReportError> {
        let stale: Vec<(&DocId, &Vec<String>)> = stored
            .iter()
            .filter(|(id, heads)| scope.holds(id) && self.heads.get(*id) != Some(*heads))
            .collect();
        for batch in stale.chunks(PARSED_AT_ONCE) {
            // Heads were read before the documents, so a change landing in between is read now and the
            // document read again next time: never older content under newer heads.
            let mut loaded = Vec::with_capacity(batch.len());
            for (id, heads) in batch {
                if let Some(bytes) = store.load_document(&id.to_string())? {
                    loaded.push((*id, *heads, bytes));
                }
            }
            let parsed = parse_in_parallel(&loaded)?;
            for (doc, heads) in parsed {
                self.heads.insert(doc.id().clone(), heads.clone());
                self.journal.replace_document(doc);
            }
        }
        Ok(stale.len())
    }
}

/// Documents read from the store before they are parsed, which bounds the bytes held at once.
const PARSED_AT_ONCE: usize = 128;

fn parse_in_parallel<'a>(
    loaded: &[(&DocId, &'a Vec<String>, Vec<u8>)],
) -> Result<Vec<(Document, &'a Vec<String>)>, ReportError> {
    // One actor for every read: nothing is ever written through this journal.
    let actor = automerge::ActorId::from(&[0u8; 16][..]);
    journal_core::parallel::map(loaded, |(id, heads, bytes)| {
        Document::load((*id).clone(), bytes, &actor)
            .map(|doc| (doc, *heads))
            .map_err(|e| {
                ReportError::Invalid(format!("the stored document {id} cannot be read: {e}"))
            })
    })
    .into_iter()
    .collect()
}

/// School years held for reports, shared by the relay's requests.
pub struct ReadModel {
    years: Mutex<HashMap<YearId, HeldYear>>,
}

impl std::fmt::Debug for ReadModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let years = self.years.lock().map(|y| y.len()).unwrap_or_default();
        f.debug_struct("ReadModel").field("years", &years).finish()
    }
}

impl Default for ReadModel {
    fn default() -> Self {
        ReadModel {
            years: Mutex::new(HashMap::new()),
        }
    }
}

impl ReadModel {
    /// Runs `read` on `year` with the documents `scope` names current, as the store holds them now.
    pub fn read<T>(
        &self,
        store: &dyn RelayStore,
        year: YearId,
        scope: impl FnOnce(&Journal) -> Scope,
        read: impl FnOnce(&Journal) -> Result<T, ReportError>,
    ) -> Result<T, ReportError> {
        let stored: HashMap<DocId, Vec<String>> = store
            .document_heads()?
            .into_iter()
            .filter_map(|(id, heads)| Some((id.parse::<DocId>().ok()?, heads)))
            .filter(|(id, _)| id.year() == year && !matches!(id, DocId::Thread(..)))
            .collect();
        // A poisoned lock only means another report panicked; what it held is re-checked by heads anyway.
        let mut years = self
            .years
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let held = match years.entry(year) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(HeldYear::new()?),
        };
        held.used = Instant::now();
        let started = Instant::now();
        let mut read_now = held.refresh(store, &stored, &Scope::Classes)?;
        let scope = scope(&held.journal);
        if scope != Scope::Classes {
            read_now += held.refresh(store, &stored, &scope)?;
        }
        tracing::debug!(
            documents_read = read_now,
            held = held.heads.len(),
            ms = started.elapsed().as_millis() as u64,
            "brought the reports' read model up to date"
        );
        read(&held.journal)
    }

    /// Forgets the years nobody has reported on for `idle`, to give their memory back.
    pub fn forget_idle(&self, idle: Duration) {
        let mut years = self
            .years
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        years.retain(|_, held| held.used.elapsed() < idle);
    }
}

/// Every minute until shutdown, forgets the years nobody has reported on for [`IDLE`].
pub async fn forget_idle_years(
    model: Arc<ReadModel>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tick.tick() => model.forget_idle(IDLE),
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use journal_core::reports::{ReportDoc, ReportKind, ReportRequest};
    use journal_core::workload::{WorkloadSpec, WorkloadSummary, build_year};
    use journal_core::{ClassId, DocId, Journal, MarkInput, MarkValue, YearId};
    use time::Date;

    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{Attribution, DocumentStore, stored_heads};

    const YEAR: YearId = YearId(2026);

    fn by() -> Attribution {
        Attribution {
            account: "teacher-00".into(),
            device: "tablet".into(),
            at: 1_800_000_000,
        }
    }

    /// A small generated school, written whole into a relay store, and the journal that wrote it.
    fn school() -> (Journal, WorkloadSummary, SqliteStore) {
        let spec = WorkloadSpec {
            classes: 3,
            students_per_class: 4,
            teachers: 5,
            weeks: 3,
            ..WorkloadSpec::school(YEAR)
        };
        let mut journal = Journal::open_in_memory().expect("journal");
        let summary = build_year(&mut journal, &spec).expect("year");
        let store = SqliteStore::open_in_memory().expect("store");
        for doc in journal.documents() {
            store
                .append_changes(
                    &doc.id().to_string(),
                    &doc.all_changes(),
                    &stored_heads(doc),
                    &by(),
                    Some(&doc.snapshot()),
                    None,
                )
                .expect("stored");
        }
        (journal, summary, store)
    }

    /// Every document's heads, to tell later what a device wrote since.
    fn heads_of(journal: &Journal) -> HashMap<DocId, Vec<automerge::ChangeHash>> {
        journal
            .documents()
            .map(|d| (d.id().clone(), d.heads()))
            .collect()
    }

    /// Sends what `journal` wrote since `before` to the store, as a relay accepting a sync would.
    fn deliver(
        store: &SqliteStore,
        journal: &Journal,
        before: &HashMap<DocId, Vec<automerge::ChangeHash>>,
    ) {
        for doc in journal.documents() {
            let since = before.get(doc.id());
            let changes: Vec<_> = doc
                .automerge()
                .get_changes(since.map_or(&[][..], Vec::as_slice))
                .into_iter()
                .map(journal_core::docs::ChangeRecord::of)
                .collect();
            if changes.is_empty() {
                continue;
            }
            let snapshot = since.is_none().then(|| doc.snapshot());
            store
                .append_changes(
                    &doc.id().to_string(),
                    &changes,
                    &stored_heads(doc),
                    &by(),
                    snapshot.as_deref(),
                    None,
                )
                .expect("appended");
        }
    }

    fn requests(journal: &Journal, summary: &WorkloadSummary) -> Vec<(ReportKind, ReportRequest)> {
        let class = summary.classes[0].class.clone();
        let settings = journal.school_settings(YEAR).expect("settings");
        let term = settings.year.terms[0].id.clone();
        let subject: journal_core::SubjectId = journal_core::workload::SUBJECTS[0]
            .0
            .parse()
            .expect("a subject id");
        let of_class = |term: Option<&journal_core::TermId>| ReportRequest {
            class: Some(class.clone()),
            subject: Some(subject.clone()),
            term: term.cloned(),
            student: None,
        };
        vec![
            (
                ReportKind::ReportCard,
                ReportRequest {
                    student: Some(summary.classes[1].students[2].clone()),
                    ..ReportRequest::default()
                },
            ),
            (ReportKind::ClassJournal, of_class(Some(&term))),
            (ReportKind::Summary, of_class(None)),
            (ReportKind::TermReport, of_class(Some(&term))),
            (ReportKind::Progress, of_class(Some(&term))),
            (
                ReportKind::Control,
                ReportRequest {
                    term: Some(term.clone()),
                    ..ReportRequest::default()
                },
            ),
            (ReportKind::ProfileReview, ReportRequest::default()),
        ]
    }

    fn through(
        model: &ReadModel,
        store: &SqliteStore,
        kind: ReportKind,
        request: &ReportRequest,
        today: Date,
    ) -> ReportDoc {
        model
            .read(
                store,
                YEAR,
                |j| Scope::of(kind, request, j, YEAR),
                |j| Ok(j.report(YEAR, kind, request, today)?),
            )
            .expect("report")
    }

    fn late_in_first_term(journal: &Journal) -> Date {
        let settings = journal.school_settings(YEAR).expect("settings");
        settings.year.terms[0].start + time::Duration::days(20)
    }

    #[test]
    fn every_report_reads_the_same_from_its_documents_alone_as_from_the_whole_year() {
        let (journal, summary, store) = school();
        let today = late_in_first_term(&journal);
        for (kind, request) in requests(&journal, &summary) {
            // A fresh model per report, so each reads only the documents its own scope names.
            let alone = through(&ReadModel::default(), &store, kind, &request, today);
            let whole = journal.report(YEAR, kind, &request, today).expect("report");
            assert!(
                !alone.sections.iter().all(|s| s.table.rows.is_empty()),
                "{kind:?} has rows to compare"
            );
            assert_eq!(alone, whole, "{kind:?} read from its scope");
        }
    }

    #[test]
    fn a_held_year_shows_changes_accepted_after_it_was_read() {
        let (mut journal, summary, store) = school();
        let today = late_in_first_term(&journal);
        let model = ReadModel::default();
        let requests = requests(&journal, &summary);
        for (kind, request) in &requests {
            through(&model, &store, *kind, request, today);
        }
        // A teacher enrols a new student and gives a 2 to one already there; the relay accepts both.
        let class: ClassId = summary.classes[0].class.clone();
        let before = heads_of(&journal);
        let newcomer = journal_core::StudentId::new("s-new").expect("id");
        journal
            .enrol_student(YEAR, &class, &newcomer, "Новикова Ольга", today)
            .expect("enrolled");
        let carded = summary.classes[1].students[2].clone();
        let student_doc = DocId::Student(YEAR, carded.clone());
        let range = journal_core::DateRange {
            from: today - time::Duration::days(20),
            to: today,
        };
        let lesson = journal
            .lessons(YEAR, &summary.classes[1].class, range)
            .expect("lessons")
            .into_iter()
            .next()
            .expect("a lesson");
        let kind = match journal.document(&student_doc).map(Document::view) {
            Some(View::Student(view)) => view
                .marks
                .values()
                .next()
                .expect("a mark")
                .value
                .kind
                .clone(),
            _ => panic!("a student document"),
        };
        journal
            .put_mark(
                &carded,
                &lesson.id,
                &MarkInput {
                    value: MarkValue::Grade(2),
                    kind,
                    comment: String::new(),
                },
            )
            .expect("marked");
        deliver(&store, &journal, &before);

        for (kind, request) in &requests {
            let warm = through(&model, &store, *kind, request, today);
            let whole = journal.report(YEAR, *kind, request, today).expect("report");
            assert_eq!(&warm, &whole, "{kind:?} after the changes");
        }
        let list = through(&model, &store, ReportKind::Summary, &requests[2].1, today);
        assert!(
            format!("{list:?}").contains("Новикова Ольга"),
            "the newcomer is on the class's summary sheet"
        );
    }
}
