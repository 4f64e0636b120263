//! Fixtures for tests and benchmarks: a school, a class with students, a year of lessons and entries made
//! through the public API, deterministically from a seed.

use time::{Date, Duration, Month, Weekday};

use crate::domain::model::{ClassInfo, MarkInput, NewLesson, Subject};
use crate::domain::policy::MarkValue;
use crate::error::Result;
use crate::ids::{ClassId, LessonId, StaffId, StudentId, SubjectId, WorkKindId, YearId};
use crate::journal::{AttendanceInput, Journal, SchoolSetup};

/// The year every fixture uses.
pub const YEAR: YearId = YearId(2026);

/// Subjects of the fixture school, in timetable order.
pub const SUBJECTS: [&str; 7] = [
    "math",
    "russian",
    "literature",
    "history",
    "biology",
    "english",
    "pe",
];

/// A class set up by [`class_with_students`].
#[derive(Clone, Debug)]
pub struct FixtureClass {
    /// The class.
    pub class: ClassId,
    /// Its subject teacher (one for all subjects, for simplicity).
    pub teacher: StaffId,
    /// Its students, in roster order.
    pub students: Vec<StudentId>,
}

/// A small deterministic generator (SplitMix64), so fixtures are the same on every run.
#[derive(Clone, Debug)]
pub struct Seeded(u64);

impl Seeded {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Seeded(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The first school day of the fixture year.
pub fn first_day() -> Date {
    Date::from_calendar_date(i32::from(YEAR.0), Month::September, 1).expect("valid date")
}

/// Sets up the fixture school: standard year, default policy without the edit-lock window (fixtures write
/// a term's history at once, on any day the tests run; the lock's own tests turn it on), the [`SUBJECTS`].
pub fn school(journal: &mut Journal) -> Result<()> {
    let mut setup = SchoolSetup::standard(YEAR, "МОУ СОШ № 5");
    setup.settings.policy.edit_lock_days = 0;
    setup.subjects = SUBJECTS
        .iter()
        .map(|s| {
            (
                SubjectId::new(*s).expect("constant id"),
                Subject {
                    name: (*s).to_owned(),
                },
            )
        })
        .collect();
    journal.set_up_school(&setup)
}

/// Adds a class with `students` students, all enrolled on the first day, and one teacher for every subject.
pub fn class_with_students(
    journal: &mut Journal,
    class: &str,
    students: usize,
) -> Result<FixtureClass> {
    let class_id = ClassId::new(class)?;
    let teacher = StaffId::new(format!("teacher-{class}"))?;
    let ids: Vec<StudentId> = (0..students)
        .map(|i| StudentId::new(format!("{class}-s{i:02}")))
        .collect::<std::result::Result<_, _>>()?;
    journal.batch(|j| {
        j.put_class(
            YEAR,
            &class_id,
            &ClassInfo {
                name: class.to_uppercase(),
                grade: 5,
                class_teacher: Some(teacher.clone()),
            },
        )?;
        for subject in SUBJECTS {
            j.assign_subject(YEAR, &class_id, &SubjectId::new(subject)?, &teacher)?;
        }
        for (i, student) in ids.iter().enumerate() {
            j.enrol_student(
                YEAR,
                &class_id,
                student,
                &format!("Ученик {i:02}"),
                first_day(),
            )?;
        }
        Ok(())
    })?;
    Ok(FixtureClass {
        class: class_id,
        teacher,
        students: ids,
    })
}

/// Schedules `weeks` school weeks of lessons (six or seven a day, subjects in rotation) and returns them.
pub fn schedule_weeks(
    journal: &mut Journal,
    class: &FixtureClass,
    weeks: u32,
) -> Result<Vec<LessonId>> {
    let mut lessons = Vec::new();
    let mut day = first_day();
    let mut slot = 0usize;
    let mut school_days = 0u32;
    journal.batch(|j| {
        while school_days < weeks * 5 {
            if !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
                let periods = if school_days.is_multiple_of(2) { 6 } else { 7 };
                for period in 1..=periods {
                    let subject = SubjectId::new(SUBJECTS[slot % SUBJECTS.len()])?;
                    slot += 1;
                    lessons.push(j.add_lesson(
                        YEAR,
                        &class.class,
                        &NewLesson {
                            date: day,
                            period,
                            subject,
                            teacher: class.teacher.clone(),
                            topic: format!("Тема {slot}"),
                        },
                    )?);
                }
                school_days += 1;
            }
            day += Duration::days(1);
        }
        Ok(())
    })?;
    Ok(lessons)
}

/// Fills lessons with attendance for every student (about 6 % absences) and marks for about 36 % of
/// student-lessons: one Automerge change per entry call, as teachers make them, all in one batch.
pub fn fill_lessons(
    journal: &mut Journal,
    class: &FixtureClass,
    lessons: &[LessonId],
    seed: u64,
) -> Result<()> {
    let mut rng = Seeded::new(seed);
    let codes = ["н", "б", "у", "о"];
    let kinds = ["classwork", "homework", "oral", "quiz", "test"];
    journal.batch(|j| {
        for lesson in lessons {
            let entries: Vec<AttendanceInput> = class
                .students
                .iter()
                .map(|student| AttendanceInput {
                    student: student.clone(),
                    code: rng
                        .chance(6)
                        .then(|| codes[rng.below(codes.len() as u64) as usize].to_owned()),
                    note: String::new(),
                })
                .collect();
            j.mark_attendance(lesson, &entries)?;
            for student in &class.students {
                if rng.chance(36) {
                    let input = MarkInput {
                        value: MarkValue::Grade(2 + rng.below(4) as u8),
                        kind: WorkKindId::new(kinds[rng.below(kinds.len() as u64) as usize])?,
                        comment: String::new(),
                    };
                    j.put_mark(student, lesson, &input)?;
                }
            }
        }
        Ok(())
    })
}

/// The text of a PDF file as `pdftotext -layout` (poppler-utils) reads it, for tests that check what
/// was printed.
pub fn pdf_text(path: &std::path::Path) -> String {
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed: tests/run-all.sh installs it");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// One relay session's sync peer over a relay in memory, for the `session` fuzz target and the replay of
/// its inputs: the class teacher of a class of two, joined, every message going through the peer, the
/// rights and the validator, with no runtime and no database.
#[derive(Debug)]
pub struct PeerSession {
    relay: crate::sync::peer::MemoryRelay,
    peer: crate::sync::peer::ServerPeer,
    documents: Vec<crate::ids::DocId>,
}

impl PeerSession {
    /// The session, joined.
    pub fn new() -> Self {
        use crate::ids::DocId;
        use crate::sync::peer::{MemoryRelay, ServerPeer};
        let mut j = Journal::open_in_memory().expect("a journal in memory");
        school(&mut j).expect("the fixture school");
        let class = class_with_students(&mut j, "5a", 2).expect("the fixture class");
        let mut relay = MemoryRelay::new(class.teacher.as_str(), j.school_settings(YEAR).cloned());
        for doc in j.documents() {
            let copy = crate::docs::Document::load(
                doc.id().clone(),
                &doc.snapshot(),
                &automerge::ActorId::random(),
            )
            .expect("a copy");
            relay.readable.insert(doc.id().clone());
            if !matches!(doc.id(), DocId::School(_)) {
                relay.writable.insert(doc.id().clone());
            }
            relay.documents.insert(doc.id().clone(), copy);
        }
        let fresh = DocId::Student(YEAR, "new-kid".parse().expect("an id"));
        relay.readable.insert(fresh.clone());
        relay.writable.insert(fresh.clone());
        let mut documents: Vec<DocId> = relay.documents.keys().cloned().collect();
        documents.push(fresh);
        documents.push(DocId::Student(YEAR, "stranger".parse().expect("an id")));
        let mut peer = ServerPeer::new("relay", 64);
        peer.on_message(
            &mut relay,
            crate::sync::protocol::WireMessage::Join {
                sender_id: "fuzz".into(),
                supported_protocol_versions: vec![crate::sync::protocol::PROTOCOL_VERSION.into()],
                metadata: Some(crate::sync::protocol::PeerMetadata {
                    journal_extensions: crate::sync::protocol::JOURNAL_EXTENSIONS
                        .iter()
                        .map(|e| (*e).to_owned())
                        .collect(),
                    ..Default::default()
                }),
            },
        )
        .expect("joined");
        PeerSession {
            relay,
            peer,
            documents,
        }
    }

    /// One message: the first byte picks the document and whether it is a `sync` (may create) or a
    /// `request`; the rest is the sync message. Whatever the bytes, the peer answers or ends the session.
    pub fn message(&mut self, data: &[u8]) {
        use crate::sync::protocol::WireMessage;
        let Some((&head, message)) = data.split_first() else {
            return;
        };
        let doc = &self.documents[usize::from(head) % self.documents.len()];
        let message = WireMessage::sync_or_request(
            head & 0x80 != 0,
            doc.to_string(),
            "fuzz".to_owned(),
            "relay".to_owned(),
            message.to_vec(),
        );
        let _ = self.peer.on_message(&mut self.relay, message);
    }
}

impl Default for PeerSession {
    fn default() -> Self {
        Self::new()
    }
}
