//! End-to-end tests: the real relay binary on 127.0.0.1 (port 0) with the demo school, driven by real
//! device journals through the real sync client, and by a raw protocol client.

mod access;
mod backup;
mod bad_input;
mod cli;
mod cli_sign_in;
mod cli_teacher;
mod codes;
mod consent;
mod console;
mod district;
mod durability;
mod edit_lock;
mod flows;
mod messages;
mod operations;
mod reports;
mod stock;
mod tls;

use journal_core::{
    AttendanceInput, DocId, LessonId, MarkInput, MarkValue, NewLesson, StudentId, WorkKindId,
    YearId,
};
use journal_e2e::Device;

/// The school year the demo relay seeded (read from what the device received).
pub fn year_of(device: &Device) -> YearId {
    device
        .journal
        .documents()
        .map(|d| d.id().year())
        .next()
        .expect("the device holds documents")
}

/// Schedules a lesson in class 5a on a September day; `period` 1–4 maps to periods 5–8, which the demo
/// timetable (periods 1–4 of the current week) never uses.
pub fn lesson_5a(
    device: &mut Device,
    day: u8,
    period: u8,
    subject: &str,
    teacher: &str,
) -> LessonId {
    let year = year_of(device);
    let date = time::Date::from_calendar_date(i32::from(year.0), time::Month::September, day)
        .expect("date");
    lesson_5a_on(device, date, period + 4, subject, teacher)
}

/// Schedules a lesson in class 5a on `date` in `period`.
pub fn lesson_5a_on(
    device: &mut Device,
    date: time::Date,
    period: u8,
    subject: &str,
    teacher: &str,
) -> LessonId {
    let year = year_of(device);
    device
        .journal
        .add_lesson(
            year,
            &"5a".parse().expect("id"),
            &NewLesson {
                date,
                period,
                subject: subject.parse().expect("id"),
                teacher: teacher.parse().expect("id"),
                topic: String::new(),
            },
        )
        .expect("a lesson inside the school year")
}

/// A mark input.
pub fn mark(value: u8, kind: &str) -> MarkInput {
    MarkInput {
        value: MarkValue::Grade(value),
        kind: WorkKindId::new(kind).expect("id"),
        comment: String::new(),
    }
}

/// An attendance input.
pub fn attendance(student: &str, code: Option<&str>) -> AttendanceInput {
    AttendanceInput {
        student: student.parse().expect("id"),
        code: code.map(str::to_owned),
        note: String::new(),
    }
}

/// The whole demo school year as a date range.
pub fn whole_year(year: YearId) -> journal_core::DateRange {
    journal_core::DateRange::new(
        time::Date::from_calendar_date(i32::from(year.0), time::Month::September, 1).expect("date"),
        time::Date::from_calendar_date(i32::from(year.0) + 1, time::Month::May, 31).expect("date"),
    )
    .expect("range")
}

/// A student id.
pub fn student(id: &str) -> StudentId {
    id.parse().expect("id")
}

/// A student's document id in the demo year.
pub fn student_doc(year: YearId, id: &str) -> DocId {
    DocId::Student(year, student(id))
}
