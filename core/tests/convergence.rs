//! Property: replicas that edit concurrently and then merge in any order converge to one state, and no
//! entry is lost: every replica's last word on a cell is either the winner or one of the competing values.

use std::collections::BTreeMap;

use journal_core::testing::{self, YEAR};
use journal_core::{
    AttendanceInput, Journal, LessonId, MarkInput, MarkValue, NewLesson, StudentId, SubjectId,
    TermId, WorkKindId, parse_date,
};
use proptest::prelude::*;

const REPLICAS: usize = 3;
const STUDENTS: usize = 2;
const LESSONS: usize = 3;
const KINDS: [&str; 2] = ["classwork", "test"];
const CODES: [Option<&str>; 3] = [None, Some("н"), Some("б")];

#[derive(Clone, Debug)]
enum Op {
    Attend {
        student: usize,
        lesson: usize,
        code: usize,
    },
    Mark {
        student: usize,
        lesson: usize,
        kind: usize,
        value: u8,
    },
    Unmark {
        student: usize,
        lesson: usize,
        kind: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..STUDENTS, 0..LESSONS, 0..CODES.len()).prop_map(|(student, lesson, code)| Op::Attend {
            student,
            lesson,
            code
        }),
        (0..STUDENTS, 0..LESSONS, 0..KINDS.len(), 1u8..=5).prop_map(
            |(student, lesson, kind, value)| Op::Mark {
                student,
                lesson,
                kind,
                value
            }
        ),
        (0..STUDENTS, 0..LESSONS, 0..KINDS.len()).prop_map(|(student, lesson, kind)| Op::Unmark {
            student,
            lesson,
            kind
        }),
    ]
}

/// A cell of the model: which replica last wrote what (None: deleted).
type Cells = BTreeMap<String, BTreeMap<usize, Option<String>>>;

struct World {
    replicas: Vec<Journal>,
    students: Vec<StudentId>,
    lessons: Vec<LessonId>,
}

fn world() -> World {
    let mut base = Journal::open_in_memory().expect("open");
    testing::school(&mut base).expect("school");
    let class = testing::class_with_students(&mut base, "5a", STUDENTS).expect("class");
    let lessons = (0..LESSONS)
        .map(|i| {
            base.add_lesson(
                YEAR,
                &class.class,
                &NewLesson {
                    date: parse_date(&format!("2026-09-{:02}", 7 + i)).expect("date"),
                    period: 1,
                    subject: SubjectId::new("math").expect("id"),
                    teacher: class.teacher.clone(),
                    topic: String::new(),
                },
            )
            .expect("lesson")
        })
        .collect();
    let replicas = (0..REPLICAS)
        .map(|_| {
            let mut r = Journal::open_in_memory().expect("open");
            merge_all(&mut r, &base);
            r
        })
        .collect();
    World {
        replicas,
        students: class.students,
        lessons,
    }
}

fn merge_all(to: &mut Journal, from: &Journal) {
    let ids: Vec<_> = from.documents().map(|d| d.id().clone()).collect();
    for id in ids {
        to.merge_document(from.document(&id).expect("doc"))
            .expect("merge");
    }
}

fn apply(w: &mut World, replica: usize, op: &Op, model: &mut Cells) {
    let j = &mut w.replicas[replica];
    match *op {
        Op::Attend {
            student,
            lesson,
            code,
        } => {
            let input = AttendanceInput {
                student: w.students[student].clone(),
                code: CODES[code].map(str::to_owned),
                note: String::new(),
            };
            j.mark_attendance(&w.lessons[lesson], &[input])
                .expect("attendance");
            let shown = CODES[code].unwrap_or("present").to_owned();
            model
                .entry(format!("a/{student}/{lesson}"))
                .or_default()
                .insert(replica, Some(shown));
        }
        Op::Mark {
            student,
            lesson,
            kind,
            value,
        } => {
            let input = MarkInput {
                value: MarkValue::Grade(value),
                kind: WorkKindId::new(KINDS[kind]).expect("id"),
                comment: String::new(),
            };
            j.put_mark(&w.students[student], &w.lessons[lesson], &input)
                .expect("mark");
            model
                .entry(format!("m/{student}/{lesson}/{kind}"))
                .or_default()
                .insert(replica, Some(value.to_string()));
        }
        Op::Unmark {
            student,
            lesson,
            kind,
        } => {
            let id = journal_core::docs::mark_id(
                &w.lessons[lesson],
                &WorkKindId::new(KINDS[kind]).expect("id"),
            );
            if j.remove_mark(YEAR, &w.students[student], &id).is_ok() {
                model
                    .entry(format!("m/{student}/{lesson}/{kind}"))
                    .or_default()
                    .insert(replica, None);
            }
        }
    }
}

/// Every cell as the merged state shows it: winner and competing values, sorted.
fn observed(w: &World, replica: usize) -> BTreeMap<String, Vec<String>> {
    let j = &w.replicas[replica];
    let mut out = BTreeMap::new();
    let grid = j
        .class_grid(
            YEAR,
            &"5a".parse().expect("id"),
            &SubjectId::new("math").expect("id"),
            &TermId::new("t1").expect("id"),
        )
        .expect("grid");
    let conflicts = j.conflicts();
    for (s, student) in w.students.iter().enumerate() {
        let row = grid
            .rows
            .iter()
            .find(|r| &r.student == student)
            .expect("row");
        for (l, lesson) in w.lessons.iter().enumerate() {
            let cell = &row.cells[grid
                .lessons
                .iter()
                .position(|x| &x.id == lesson)
                .expect("lesson")];
            if !cell.recorded {
                continue;
            }
            let key = format!("a/{s}/{l}");
            let conflict = conflicts.iter().find(|c| {
                matches!(&c.target, journal_core::ConflictTarget::Attendance { student: cs, lesson: cl, .. } if cs == student && cl == lesson)
            });
            let mut values = match conflict {
                Some(c) => c.values.clone(),
                None => vec![cell.code.clone().unwrap_or_else(|| "present".to_owned())],
            };
            values.sort();
            out.insert(key, values);
        }
        for row in j.student_marks(YEAR, student, None, None).expect("marks") {
            let l = w
                .lessons
                .iter()
                .position(|x| x == &row.mark.lesson)
                .expect("lesson");
            let k = KINDS
                .iter()
                .position(|k| *k == row.mark.kind.as_str())
                .expect("kind");
            let mut values: Vec<String> = std::iter::once(row.mark.value)
                .chain(row.competing.iter().copied())
                .map(|v| v.to_string())
                .collect();
            values.sort();
            out.insert(format!("m/{s}/{l}/{k}"), values);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn replicas_converge_and_lose_nothing(
        ops in proptest::collection::vec((0..REPLICAS, op()), 1..24),
        order in Just((0..REPLICAS).flat_map(|a| (0..REPLICAS).map(move |b| (a, b))).filter(|(a, b)| a != b).collect::<Vec<_>>()).prop_shuffle(),
    ) {
        let mut w = world();
        let mut model = Cells::new();
        for (replica, op) in &ops {
            apply(&mut w, *replica, op, &mut model);
        }
        // Merge pairwise in a random order, twice over, so every change reaches every replica by some path.
        for _ in 0..2 {
            for &(to, from) in &order {
                let (to_j, from_j) = if to < from {
                    let (left, right) = w.replicas.split_at_mut(from);
                    (&mut left[to], &right[0])
                } else {
                    let (left, right) = w.replicas.split_at_mut(to);
                    (&mut right[0], &left[from])
                };
                merge_all(to_j, from_j);
            }
        }
        let first = observed(&w, 0);
        for r in 1..REPLICAS {
            prop_assert_eq!(&observed(&w, r), &first, "replica {} differs", r);
            let heads = |j: &Journal| j.documents().map(|d| { let mut h = d.heads(); h.sort(); (d.id().clone(), h) }).collect::<Vec<_>>();
            prop_assert_eq!(heads(&w.replicas[r]), heads(&w.replicas[0]));
        }
        let expected: BTreeMap<String, Vec<String>> = model
            .into_iter()
            .filter_map(|(cell, writers)| {
                let mut values: Vec<String> = writers.into_values().flatten().collect();
                values.sort();
                (!values.is_empty()).then_some((cell, values))
            })
            .collect();
        prop_assert_eq!(first, expected);
    }
}
