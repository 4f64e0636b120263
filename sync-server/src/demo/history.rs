//! The demo's first term, already taught: a thematic plan for every subject of both classes, and every
//! school day of the first term up to the demo's week with four lessons, each with its topic from the
//! plan, homework, attendance and marks, so that every report has something to show. Chance comes from
//! a hash of what is decided, so the same day always gets the same history.

use std::hash::{DefaultHasher, Hash, Hasher};

use journal_core::{
    AttendanceInput, ClassId, Journal, MarkInput, MarkValue, NewLesson, PlannedTopic, SchoolYear,
    StaffId, StudentId, SubjectId, WorkKindId, YearId,
};
use time::{Date, Duration, Weekday};

/// The topics of each subject's first term, in order.
const TOPICS: [(&str, [&str; 8]); 4] = [
    (
        "math",
        [
            "Натуральные числа и шкалы",
            "Сложение и вычитание натуральных чисел",
            "Умножение и деление натуральных чисел",
            "Упрощение выражений",
            "Площади и объёмы",
            "Обыкновенные дроби",
            "Сравнение дробей",
            "Смешанные числа",
        ],
    ),
    (
        "russian",
        [
            "Повторение изученного в начальных классах",
            "Безударные гласные в корне слова",
            "Синтаксис и пунктуация",
            "Словосочетание",
            "Простое предложение",
            "Однородные члены предложения",
            "Фонетика и орфоэпия",
            "Лексика",
        ],
    ),
    (
        "literature",
        [
            "Устное народное творчество",
            "Русские народные сказки",
            "Древнерусская литература",
            "Басни И. А. Крылова",
            "А. С. Пушкин. «Сказка о мёртвой царевне»",
            "М. Ю. Лермонтов. «Бородино»",
            "Н. В. Гоголь. «Вечера на хуторе близ Диканьки»",
            "И. С. Тургенев. «Муму»",
        ],
    ),
    (
        "history",
        [
            "Первобытные собиратели и охотники",
            "Первобытные земледельцы и скотоводы",
            "Древний Египет",
            "Западная Азия в древности",
            "Индия и Китай в древности",
            "Древнейшая Греция",
            "Полисы Греции",
            "Древний Рим",
        ],
    ),
];

/// One class as the history teaches it: its students, and each period's subject and teacher.
pub(super) struct TaughtClass {
    /// The class.
    pub class: ClassId,
    /// Its students.
    pub students: Vec<StudentId>,
    /// Periods 1, 2, …: subject and teacher.
    pub timetable: Vec<(SubjectId, StaffId)>,
}

/// Writes the first term's plan and every lesson of its school days before `until`; returns how many
/// lessons it wrote.
pub(super) fn teach_first_term(
    journal: &mut Journal,
    year: YearId,
    calendar: &SchoolYear,
    classes: &[TaughtClass],
    until: Date,
) -> Result<usize, journal_core::Error> {
    let Some(term) = calendar.terms.first() else {
        return Ok(0);
    };
    let days: Vec<Date> = school_days(term.start, term.end.min(until - Duration::days(1)));
    // Each subject is taught once a day, so the term has as many lessons of it as school days.
    let whole_term = school_days(term.start, term.end).len();
    let kinds: Vec<WorkKindId> = journal
        .school_settings(year)
        .map(|settings| settings.policy.work_kinds.keys().cloned().collect())
        .unwrap_or_default();
    if kinds.is_empty() {
        return Ok(0);
    }
    let mut lessons = 0;
    for taught in classes {
        journal.batch(|j| {
            for (subject, _) in &taught.timetable {
                j.set_thematic_plan(
                    year,
                    &taught.class,
                    subject,
                    &term.id,
                    &plan(subject, whole_term),
                )?;
            }
            for (day_number, day) in days.iter().enumerate() {
                for (period, (subject, teacher)) in (1u8..).zip(&taught.timetable) {
                    let lesson = j.add_lesson(
                        year,
                        &taught.class,
                        &NewLesson {
                            date: *day,
                            period,
                            subject: subject.clone(),
                            teacher: teacher.clone(),
                            topic: topic_of(subject, day_number, whole_term),
                        },
                    )?;
                    j.set_homework(&lesson, &homework(subject, day_number), None)?;
                    let entries: Vec<AttendanceInput> = taught
                        .students
                        .iter()
                        .map(|student| AttendanceInput {
                            student: student.clone(),
                            code: absence(student, *day, period),
                            note: String::new(),
                        })
                        .collect();
                    j.mark_attendance(&lesson, &entries)?;
                    for entry in entries.iter().filter(|e| e.code.is_none()) {
                        let roll = chance(&(&entry.student, *day, period, "mark"));
                        if roll % 100 >= 22 {
                            continue;
                        }
                        let grade = grade(&entry.student, roll / 100);
                        let kind = &kinds[(roll / 1000) as usize % kinds.len()];
                        j.put_mark(
                            &entry.student,
                            &lesson,
                            &MarkInput {
                                value: MarkValue::Grade(grade),
                                kind: kind.clone(),
                                comment: String::new(),
                            },
                        )?;
                    }
                    lessons += 1;
                }
            }
            Ok(())
        })?;
    }
    Ok(lessons)
}

/// Monday to Friday from `from` to `to`, both included.
fn school_days(from: Date, to: Date) -> Vec<Date> {
    std::iter::successors(Some(from), |d| d.next_day())
        .take_while(|d| *d <= to)
        .filter(|d| !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday))
        .collect()
}

fn topics(subject: &SubjectId) -> &'static [&'static str; 8] {
    TOPICS
        .iter()
        .find(|(id, _)| *id == subject.as_str())
        .map_or(&TOPICS[0].1, |(_, topics)| topics)
}

/// The term's `lessons` shared out among `topics` topics, the first ones taking what does not divide.
fn shares(lessons: usize, topics: usize) -> Vec<usize> {
    (0..topics)
        .map(|i| (lessons / topics + usize::from(i < lessons % topics)).max(1))
        .collect()
}

/// The term's plan: the topics in order, the term's lessons shared out among them.
fn plan(subject: &SubjectId, lessons: usize) -> Vec<PlannedTopic> {
    let topics = topics(subject);
    topics
        .iter()
        .zip(shares(lessons, topics.len()))
        .map(|(topic, share)| PlannedTopic {
            topic: (*topic).to_owned(),
            lessons: u16::try_from(share).unwrap_or(u16::MAX),
        })
        .collect()
}

/// The topic of the subject's `n`-th lesson of the term, following the plan.
fn topic_of(subject: &SubjectId, n: usize, lessons: usize) -> String {
    let topics = topics(subject);
    let mut before = 0;
    for (topic, share) in topics.iter().zip(shares(lessons, topics.len())) {
        before += share;
        if n < before {
            return (*topic).to_owned();
        }
    }
    topics[topics.len() - 1].to_owned()
}

/// A mark as the student tends to earn: one in five does excellently, one in five struggles.
fn grade(student: &StudentId, roll: u64) -> u8 {
    const EXCELLENT: [u8; 5] = [5, 5, 5, 5, 4];
    const STEADY: [u8; 6] = [5, 4, 4, 4, 3, 3];
    const STRUGGLING: [u8; 6] = [4, 3, 3, 3, 3, 2];
    let marks: &[u8] = match chance(&(student, "ability")) % 5 {
        0 => &EXCELLENT,
        4 => &STRUGGLING,
        _ => &STEADY,
    };
    marks[(roll % marks.len() as u64) as usize]
}

fn homework(subject: &SubjectId, n: usize) -> String {
    match subject.as_str() {
        "math" => format!("№ {}, {}", 40 + n * 3, 41 + n * 3),
        "russian" => format!("Упр. {}", 10 + n * 2),
        "literature" => "Прочитать текст, ответить на вопросы в конце статьи".to_owned(),
        _ => format!("§ {}, вопросы 1–3", 1 + n / 2),
    }
}

/// One student in twenty misses a lesson: ill mostly, sometimes without a reason, late now and then.
fn absence(student: &StudentId, day: Date, period: u8) -> Option<String> {
    // A student ill for a day misses all of it.
    let ill = chance(&(student, day, "ill")) % 100 < 4;
    if ill {
        return Some("б".to_owned());
    }
    let roll = chance(&(student, day, period, "absent")) % 100;
    match roll {
        0 => Some("н".to_owned()),
        1 => Some("о".to_owned()),
        _ => None,
    }
}

fn chance(what: &impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    what.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_shares_out_the_terms_lessons_and_the_lessons_follow_it_in_order() {
        let math: SubjectId = "math".parse().expect("id");
        for lessons in [5, 8, 65, 67] {
            let plan = plan(&math, lessons);
            assert_eq!(
                plan.iter().map(|t| usize::from(t.lessons)).sum::<usize>(),
                lessons.max(plan.len()),
                "{lessons}"
            );
            let mut n = 0;
            for topic in &plan {
                for _ in 0..topic.lessons {
                    assert_eq!(
                        topic_of(&math, n, lessons),
                        topic.topic,
                        "lesson {n} of {lessons}"
                    );
                    n += 1;
                }
            }
        }
    }

    #[test]
    fn a_students_day_of_illness_is_the_whole_day() {
        let student: StudentId = "s5a9".parse().expect("id");
        let start = time::macros::date!(2026 - 09 - 01);
        let ill_days: Vec<Date> = school_days(start, start + Duration::days(120))
            .into_iter()
            .filter(|day| absence(&student, *day, 1).as_deref() == Some("б"))
            .collect();
        assert!(!ill_days.is_empty());
        for day in ill_days {
            assert!((1..=4).all(|period| absence(&student, day, period).as_deref() == Some("б")));
        }
    }
}
