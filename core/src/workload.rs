//! A seeded, deterministic school year at school scale, written through the core API exactly as the apps
//! would write it: by default 40 classes of 25 students, 60 teachers, 34 weeks of 6 lessons a day, about
//! 1.02 M attendance entries, 300 k marks and 40.8 k lessons.

use time::{Date, Duration, Month, Weekday};

use crate::domain::model::{ClassInfo, MarkInput, NewLesson, Subject};
use crate::domain::policy::MarkValue;
use crate::error::Result;
use crate::ids::{ClassId, LessonId, StaffId, StudentId, SubjectId, WorkKindId, YearId};
use crate::journal::{AttendanceInput, Journal, SchoolSetup};
use crate::testing::Seeded;

/// Subjects of the timetable, with their names.
pub const SUBJECTS: [(&str, &str); 8] = [
    ("math", "Математика"),
    ("russian", "Русский язык"),
    ("literature", "Литература"),
    ("history", "История"),
    ("biology", "Биология"),
    ("english", "Английский язык"),
    ("physics", "Физика"),
    ("pe", "Физкультура"),
];

const KINDS: [&str; 5] = ["classwork", "oral", "homework", "quiz", "test"];

/// The size and shape of the generated year.
#[derive(Clone, Debug)]
pub struct WorkloadSpec {
    /// Seed of every random choice.
    pub seed: u64,
    /// School year.
    pub year: YearId,
    /// Classes.
    pub classes: usize,
    /// Students per class.
    pub students_per_class: usize,
    /// Teachers (the first `classes` are class teachers).
    pub teachers: usize,
    /// School weeks from 1 September.
    pub weeks: u32,
    /// Lessons per day, Monday to Friday.
    pub lessons_per_day: u8,
    /// Chance in percent that a student gets a mark in a lesson.
    pub mark_percent: u64,
    /// Chance in percent that a student misses a lesson.
    pub absence_percent: u64,
}

impl WorkloadSpec {
    /// The school of the benchmarks: 1,000 students, 40 classes, 60 teachers, 34 weeks.
    pub fn school(year: YearId) -> Self {
        WorkloadSpec {
            seed: 2026,
            year,
            classes: 40,
            students_per_class: 25,
            teachers: 60,
            weeks: 34,
            lessons_per_day: 6,
            mark_percent: 30,
            absence_percent: 4,
        }
    }
}

/// One generated class.
#[derive(Clone, Debug)]
pub struct WorkloadClass {
    /// The class.
    pub class: ClassId,
    /// Its class teacher.
    pub class_teacher: StaffId,
    /// Teacher of each subject, in [`SUBJECTS`] order.
    pub subject_teachers: Vec<StaffId>,
    /// Its students.
    pub students: Vec<StudentId>,
}

/// What was generated.
#[derive(Clone, Debug, Default)]
pub struct WorkloadSummary {
    /// Classes.
    pub classes: Vec<WorkloadClass>,
    /// Lessons written.
    pub lessons: usize,
    /// Attendance entries written.
    pub attendance: usize,
    /// Marks written.
    pub marks: usize,
}

/// Teacher ids: `teacher-00` …
pub fn teacher_id(i: usize) -> StaffId {
    StaffId::new(format!("teacher-{i:02}")).expect("a valid id")
}

/// The classes teacher `t` teaches in, under `spec`'s assignment.
pub fn teacher_classes(spec: &WorkloadSpec, t: usize) -> Vec<usize> {
    (0..spec.classes)
        .filter(|&c| c == t || (0..SUBJECTS.len()).any(|s| subject_teacher(spec, c, s) == t))
        .collect()
}

/// Who teaches subject `s` in class `c`: class teachers keep the first two subjects of their own class; the
/// other subjects' lessons go round every teacher, four classes' worth each in the default school.
fn subject_teacher(spec: &WorkloadSpec, c: usize, s: usize) -> usize {
    if s < 2 && c < spec.teachers {
        c
    } else {
        (c * (SUBJECTS.len() - 2) + s.saturating_sub(2)) % spec.teachers
    }
}

fn class_name(c: usize) -> (String, String, u8) {
    let grade = 5 + (c / 8) as u8;
    let letter = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'][c % 8];
    let cyrillic = ['А', 'Б', 'В', 'Г', 'Д', 'Е', 'Ж', 'З'][c % 8];
    (
        format!("{grade}{letter}"),
        format!("{grade}{cyrillic}"),
        grade,
    )
}

/// Writes the year into `journal` through the core API, one transaction per class and week.
pub fn build_year(journal: &mut Journal, spec: &WorkloadSpec) -> Result<WorkloadSummary> {
    let mut random = Seeded::new(spec.seed);
    let mut setup = SchoolSetup::standard(spec.year, "МОУ СОШ № 1 (нагрузочный тест)");
    // The year is written at once, whatever day it is generated on, as an imported journal would be.
    setup.settings.policy.edit_lock_days = 0;
    setup.subjects = SUBJECTS
        .iter()
        .map(|(id, name)| {
            (
                SubjectId::new(*id).expect("a valid id"),
                Subject {
                    name: (*name).to_owned(),
                },
            )
        })
        .collect();
    journal.set_up_school(&setup)?;
    let first_day =
        Date::from_calendar_date(i32::from(spec.year.0), Month::September, 1).expect("1 September");
    let subjects: Vec<SubjectId> = SUBJECTS
        .iter()
        .map(|(id, _)| SubjectId::new(*id).expect("a valid id"))
        .collect();
    let kinds: Vec<WorkKindId> = KINDS
        .iter()
        .map(|k| WorkKindId::new(*k).expect("a valid id"))
        .collect();
    let mut summary = WorkloadSummary::default();
    for c in 0..spec.classes {
        let (id, name, grade) = class_name(c);
        let class = WorkloadClass {
            class: ClassId::new(id)?,
            class_teacher: teacher_id(c),
            subject_teachers: (0..SUBJECTS.len())
                .map(|s| teacher_id(subject_teacher(spec, c, s)))
                .collect(),
            students: (0..spec.students_per_class)
                .map(|i| StudentId::new(format!("s{c:02}-{i:02}")))
                .collect::<std::result::Result<_, _>>()?,
        };
        journal.batch(|j| {
            j.put_class(
                spec.year,
                &class.class,
                &ClassInfo {
                    name,
                    grade,
                    class_teacher: Some(class.class_teacher.clone()),
                },
            )?;
            for (subject, teacher) in subjects.iter().zip(&class.subject_teachers) {
                j.assign_subject(spec.year, &class.class, subject, teacher)?;
            }
            for (i, student) in class.students.iter().enumerate() {
                j.enrol_student(
                    spec.year,
                    &class.class,
                    student,
                    &format!("Ученик {c:02}-{i:02}"),
                    first_day,
                )?;
            }
            Ok(())
        })?;
        let mut day = first_day;
        for _ in 0..spec.weeks {
            journal.batch(|j| {
                for _ in 0..7 {
                    if !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
                        for period in 1..=spec.lessons_per_day {
                            let s =
                                (usize::from(period) + day.ordinal() as usize + c) % subjects.len();
                            let lesson = j.add_lesson(
                                spec.year,
                                &class.class,
                                &NewLesson {
                                    date: day,
                                    period,
                                    subject: subjects[s].clone(),
                                    teacher: class.subject_teachers[s].clone(),
                                    topic: format!("Тема урока {}", summary.lessons % 97 + 1),
                                },
                            )?;
                            summary.lessons += 1;
                            write_lesson(
                                j,
                                &class.students,
                                &lesson,
                                &kinds,
                                spec,
                                &mut random,
                                &mut summary,
                            )?;
                        }
                    }
                    day += Duration::days(1);
                }
                Ok(())
            })?;
        }
        summary.classes.push(class);
    }
    Ok(summary)
}

fn write_lesson(
    j: &mut Journal,
    students: &[StudentId],
    lesson: &LessonId,
    kinds: &[WorkKindId],
    spec: &WorkloadSpec,
    random: &mut Seeded,
    summary: &mut WorkloadSummary,
) -> Result<()> {
    let entries: Vec<AttendanceInput> = students
        .iter()
        .map(|student| AttendanceInput {
            student: student.clone(),
            code: random
                .chance(spec.absence_percent)
                .then(|| ["н", "б", "у", "о"][random.below(4) as usize].to_owned()),
            note: String::new(),
        })
        .collect();
    j.mark_attendance(lesson, &entries)?;
    summary.attendance += entries.len();
    for entry in &entries {
        if entry.code.as_deref().is_some_and(|c| c != "о") || !random.chance(spec.mark_percent) {
            continue;
        }
        let value = MarkValue::Grade([5, 5, 4, 4, 4, 3, 3, 2][random.below(8) as usize]);
        j.put_mark(
            &entry.student,
            lesson,
            &MarkInput {
                value,
                kind: kinds[random.below(kinds.len() as u64) as usize].clone(),
                comment: String::new(),
            },
        )?;
        summary.marks += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_year_is_deterministic_and_every_teacher_has_classes() {
        let spec = WorkloadSpec {
            classes: 2,
            students_per_class: 3,
            teachers: 4,
            weeks: 1,
            ..WorkloadSpec::school(YearId(2026))
        };
        let build = || {
            let mut j = Journal::open_in_memory().expect("journal");
            let summary = build_year(&mut j, &spec).expect("year");
            (summary.lessons, summary.attendance, summary.marks)
        };
        let first = build();
        assert_eq!(first.0, 2 * 5 * 6, "two classes, five days of six lessons");
        assert_eq!(first.1, first.0 * 3);
        assert_eq!(build(), first, "the same seed writes the same year");
        for t in 0..spec.teachers {
            assert!(
                !teacher_classes(&spec, t).is_empty(),
                "teacher {t} teaches somewhere"
            );
        }
    }
}
