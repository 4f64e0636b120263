//! Crash test: a child process records attendance lesson after lesson and is killed with SIGKILL at random
//! moments. After every kill the journal reopens, passes `PRAGMA integrity_check`, and holds every write
//! whose call had returned. Runs as its own harness because it re-executes itself as the child.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use journal_core::testing::{self, Seeded, YEAR};
use journal_core::{AttendanceInput, DateRange, DocId, Journal, LessonId, StudentId};

const KILLS: usize = 24;
const STUDENTS: usize = 25;
const CHILD_ENV: &str = "JOURNAL_CRASH_CHILD_DB";

fn main() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        let start: usize = std::env::var("JOURNAL_CRASH_START")
            .ok()
            .and_then(|s| s.parse().ok())
            .expect("start index");
        child(Path::new(&path), start);
        return;
    }
    parent();
}

fn lessons_in_order(j: &Journal) -> Vec<LessonId> {
    let range = DateRange::new(
        testing::first_day(),
        testing::first_day() + time::Duration::days(300),
    )
    .expect("range");
    j.lessons(YEAR, &"5a".parse().expect("id"), range)
        .expect("lessons")
        .into_iter()
        .map(|l| l.id)
        .collect()
}

fn note(seq: usize) -> String {
    format!("write {seq}")
}

/// Writes one lesson's attendance per call, from lesson `start` on, and reports each returned call.
fn child(path: &Path, start: usize) {
    let mut j = Journal::open(path).expect("child opens the journal");
    let lessons = lessons_in_order(&j);
    let students: Vec<StudentId> = (0..STUDENTS)
        .map(|i| format!("5a-s{i:02}").parse().expect("id"))
        .collect();
    let mut out = std::io::stdout().lock();
    for (seq, lesson) in lessons.iter().enumerate().skip(start) {
        let entries: Vec<AttendanceInput> = students
            .iter()
            .enumerate()
            .map(|(i, s)| AttendanceInput {
                student: s.clone(),
                code: (i + seq).is_multiple_of(5).then(|| "н".to_owned()),
                note: note(seq),
            })
            .collect();
        j.mark_attendance(lesson, &entries).expect("write");
        writeln!(out, "ok {seq}").expect("report");
        out.flush().expect("flush");
    }
}

fn verify(path: &Path, acknowledged: &[usize]) {
    let j = Journal::open(path).expect("the journal reopens after a kill");
    assert_eq!(j.integrity_check().expect("integrity check"), "ok");
    let lessons = lessons_in_order(&j);
    for &seq in acknowledged {
        for i in 0..STUDENTS {
            let student: StudentId = format!("5a-s{i:02}").parse().expect("id");
            let Some(journal_core::docs::View::Student(doc)) = j
                .document(&DocId::Student(YEAR, student.clone()))
                .map(|d| d.view())
            else {
                panic!("student document of {student} is missing");
            };
            let entry = doc
                .attendance
                .get(&lessons[seq])
                .unwrap_or_else(|| panic!("acknowledged write {seq} lost for {student}"));
            assert_eq!(entry.value.note, note(seq));
            assert_eq!(entry.value.code.is_some(), (i + seq).is_multiple_of(5));
        }
    }
}

fn parent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("journal.db");
    {
        let mut j = Journal::open(&path).expect("open");
        testing::school(&mut j).expect("school");
        let class = testing::class_with_students(&mut j, "5a", STUDENTS).expect("class");
        testing::schedule_weeks(&mut j, &class, 34).expect("lessons");
    }
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64);
    println!("crash: seed {seed}");
    let mut rng = Seeded::new(seed);
    let exe = std::env::current_exe().expect("own path");
    let mut acknowledged = Vec::new();
    let mut next = 0usize;
    let started = Instant::now();
    for round in 0..KILLS {
        let mut child = Command::new(&exe)
            .env(CHILD_ENV, &path)
            .env("JOURNAL_CRASH_START", next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(seq) = line
                    .strip_prefix("ok ")
                    .and_then(|s| s.parse::<usize>().ok())
                    && tx.send(seq).is_err()
                {
                    break;
                }
            }
        });
        // Wait for the first returned write, then kill at a random moment while writes are in flight.
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the child writes");
        std::thread::sleep(Duration::from_micros(rng.below(120_000)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        reader.join().expect("reader");
        let mut acked: Vec<usize> = std::iter::once(first).chain(rx.try_iter()).collect();
        acked.sort_unstable();
        let last = *acked.last().expect("at least one");
        acknowledged.extend(acked);
        verify(&path, &acknowledged);
        // The write in flight at the kill may or may not have landed; start after it.
        next = last + 2;
        println!(
            "crash: round {round}: killed after write {last}; {} acknowledged writes present",
            acknowledged.len()
        );
    }
    println!(
        "crash: {KILLS} kills in {:.1}s, every acknowledged write ({}) present, integrity ok",
        started.elapsed().as_secs_f64(),
        acknowledged.len()
    );
}
