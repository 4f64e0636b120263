//! A teacher's lessons: listing them, attendance, marks, topics, homework and the thematic plan.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use anyhow::{Context, Result, bail};
use journal_core::{
    AttendanceInput, ClassId, DateRange, Journal, LessonId, MarkInput, MarkValue, PlannedTopic,
    StudentId, SubjectId, TermId, format_date, parse_date,
};
use serde::Serialize;
use time::Date;

use super::{classes, year};
use crate::output::{date_arg, emit};

#[derive(Serialize)]
struct LessonRow {
    lesson: String,
    class: String,
    class_name: String,
    date: String,
    period: u8,
    subject: String,
    subject_name: String,
    teacher: String,
    topic: String,
    homework: String,
}

/// Lessons of a day (default today, else the last school day before it).
pub fn lessons(journal: &Journal, date: Option<&str>, json: bool) -> Result<()> {
    let year = year(journal)?;
    let settings = journal
        .school_settings(year)
        .context("the school's settings have not synced yet")?;
    let all = journal.my_lessons(year, settings.year.range())?;
    let day = match date {
        Some(text) => date_arg(Some(text), journal.today())?,
        // Without a date: today, or else the last school day before it.
        None => {
            let now = journal.today();
            // Before the first lesson of the year (in August), the first school day instead.
            let last = all.iter().map(|(_, l)| l.date).filter(|d| *d <= now).max();
            let first = all.iter().map(|(_, l)| l.date).min();
            match last.or(first) {
                Some(day) if day != now => {
                    eprintln!("no lessons today; showing {}", format_date(day));
                    day
                }
                _ => now,
            }
        }
    };
    let mut rows: Vec<LessonRow> = all
        .into_iter()
        .filter(|(_, lesson)| lesson.date == day)
        .map(|(class, lesson)| LessonRow {
            lesson: lesson.id.to_string(),
            class_name: journal.class_name(year, &class),
            class: class.to_string(),
            date: format_date(lesson.date),
            period: lesson.period,
            subject_name: journal.subject_name(year, &lesson.subject),
            subject: lesson.subject.to_string(),
            teacher: lesson.teacher.to_string(),
            topic: lesson.topic,
            homework: lesson.homework,
        })
        .collect();
    rows.sort_by(|a, b| (a.period, &a.class).cmp(&(b.period, &b.class)));
    emit(
        json,
        &rows,
        &[
            ("lesson", "lesson"),
            ("class", "class_name"),
            ("date", "date"),
            ("period", "period"),
            ("subject", "subject_name"),
            ("topic", "topic"),
            ("homework", "homework"),
        ],
    )
}

/// Takes attendance for a lesson: `absent` lists STUDENT=CODE pairs; without it, one line per student
/// is read from standard input.
pub fn attend(journal: &mut Journal, lesson: &str, absent: Option<Vec<String>>) -> Result<()> {
    let lesson: LessonId = lesson.parse()?;
    let (year, class, found) = journal.lesson(&lesson)?;
    let date = found.date;
    let roster = journal.roster(year, &class, date)?;
    let entries: Vec<AttendanceInput> = match absent {
        Some(list) => {
            let mut codes = BTreeMap::new();
            for item in list {
                let (who, code) = item
                    .split_once('=')
                    .with_context(|| format!("{item:?}: write STUDENT=CODE, e.g. s5a1=н"))?;
                codes.insert(who.trim().to_owned(), code.trim().to_owned());
            }
            for who in codes.keys() {
                if !roster.iter().any(|(id, _)| id.as_str() == who) {
                    bail!("{who} is not in class {class} on {}", format_date(date));
                }
            }
            roster
                .iter()
                .map(|(id, _)| AttendanceInput {
                    student: id.clone(),
                    code: codes.get(id.as_str()).cloned(),
                    note: String::new(),
                })
                .collect()
        }
        None => ask_attendance(journal, year, &class, date, &roster)?,
    };
    journal.mark_attendance(&lesson, &entries)?;
    let missing = entries.iter().filter(|e| e.code.is_some()).count();
    say!(
        "attendance saved for {} students ({missing} absent or late); run `journal sync` to send it",
        entries.len()
    );
    Ok(())
}

/// Asks for each student's attendance in turn. A code the school does not use is asked again for the
/// same student, so nothing typed before it is lost; either case and either keyboard layout is read.
fn ask_attendance(
    journal: &Journal,
    year: journal_core::YearId,
    class: &ClassId,
    date: Date,
    roster: &[(StudentId, String)],
) -> Result<Vec<AttendanceInput>> {
    let policy = &journal
        .school_settings(year)
        .context("the school's settings have not synced yet")?
        .policy;
    let known: Vec<&str> = policy
        .attendance_codes
        .iter()
        .map(|c| c.code.as_str())
        .collect();
    say!(
        "{class} {}: Enter for present, or a code ({})",
        format_date(date),
        known.join(", ")
    );
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut entries = Vec::new();
    for (id, name) in roster {
        let code = loop {
            print!("{name} [present]: ");
            std::io::stdout().flush()?;
            let answer = lines.next().transpose()?.unwrap_or_default();
            let answer = answer.trim();
            if answer.is_empty() {
                break None;
            }
            match policy.read_attendance_code(answer) {
                Ok(code) => break Some(code.code.clone()),
                Err(e) => say!("{e}; type it again"),
            }
        };
        entries.push(AttendanceInput {
            student: id.clone(),
            code,
            note: String::new(),
        });
    }
    Ok(entries)
}

/// What `mark` was asked.
pub struct MarkArgs {
    /// Student id or the start of their name.
    pub student: String,
    /// Lesson id.
    pub lesson: String,
    /// The mark as typed.
    pub value: String,
    /// Kind of work.
    pub kind: String,
    /// A comment.
    pub comment: String,
    /// Why, when the mark is a correction.
    pub reason: Option<String>,
}

/// Corrects one student's attendance at a lesson, giving the reason.
pub fn correct(
    journal: &mut Journal,
    lesson: &str,
    student: &str,
    code: &str,
    reason: &str,
) -> Result<()> {
    let lesson: LessonId = lesson.parse()?;
    let (year, class, found) = journal.lesson(&lesson)?;
    let date = found.date;
    let roster = journal.roster(year, &class, date)?;
    let (id, name) = find_in_class(&roster, student, &class, date)?;
    let code = match code.trim() {
        "present" | "-" => None,
        typed => Some(
            journal
                .school_settings(year)
                .context("the school's settings have not arrived yet: run `journal sync`")?
                .policy
                .read_attendance_code(typed)?
                .code
                .clone(),
        ),
    };
    journal.correct_attendance(&lesson, &id, code.as_deref(), reason)?;
    let shown = code.as_deref().unwrap_or("present");
    say!(
        "attendance of {name} on {} corrected to {shown} ({}); run `journal sync` to send it",
        format_date(date),
        reason.trim()
    );
    Ok(())
}

/// Puts or changes a mark.
pub fn mark(journal: &mut Journal, args: MarkArgs) -> Result<()> {
    let lesson: LessonId = args.lesson.parse()?;
    let (year, class, found) = journal.lesson(&lesson)?;
    let date = found.date;
    let roster = journal.roster(year, &class, date)?;
    let (id, name) = find_in_class(&roster, &args.student, &class, date)?;
    let input = MarkInput {
        value: args.value.parse::<MarkValue>()?,
        kind: journal.find_work_kind(year, &args.kind)?,
        comment: args.comment,
    };
    match &args.reason {
        Some(reason) => journal.with_reason(reason, |j| j.put_mark(&id, &lesson, &input))?,
        None => journal.put_mark(&id, &lesson, &input)?,
    };
    say!(
        "mark {} saved for {name}; run `journal sync` to send it",
        input.value
    );
    Ok(())
}

/// The one student of a lesson's class list that `typed` names: their id, or the start of their name.
fn find_in_class(
    roster: &[(StudentId, String)],
    typed: &str,
    class: &ClassId,
    date: Date,
) -> Result<(StudentId, String)> {
    if let Some((id, name)) = roster.iter().find(|(id, _)| id.as_str() == typed) {
        return Ok((id.clone(), name.clone()));
    }
    let lower = typed.to_lowercase();
    let matches: Vec<_> = roster
        .iter()
        .filter(|(_, name)| name.to_lowercase().starts_with(&lower))
        .collect();
    match matches.as_slice() {
        [(id, name)] => Ok((id.clone(), name.clone())),
        [] if typed.parse::<StudentId>().is_ok() && !typed.contains(' ') => bail!(
            "no student {typed:?} in class {class} on {}; its list: {}",
            format_date(date),
            roster
                .iter()
                .map(|(id, name)| format!("{id} {name}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        [] => bail!(
            "no student of class {class} on {} has a name starting {typed:?}",
            format_date(date)
        ),
        several => bail!(
            "{typed:?} starts the names of {} students of class {class}: {}; type more of the name or the student id",
            several.len(),
            several
                .iter()
                .map(|(id, name)| format!("{name} ({id})"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Sets a lesson's topic.
pub fn topic(journal: &mut Journal, lesson: &str, text: &str) -> Result<()> {
    let lesson: LessonId = lesson.parse()?;
    journal.set_topic(&lesson, text)?;
    say!("topic saved; run `journal sync` to send it");
    Ok(())
}

#[derive(Serialize)]
struct HomeworkRow {
    lesson: String,
    class: String,
    class_name: String,
    date: String,
    subject: String,
    subject_name: String,
    homework: String,
    due: String,
}

/// What `homework` was asked: a lesson and text to set, or a period to list.
pub struct HomeworkArgs {
    /// Lesson id, to set its homework.
    pub lesson: Option<String>,
    /// The homework.
    pub text: Option<String>,
    /// When it is due.
    pub due: Option<String>,
    /// Listing: first day.
    pub from: Option<String>,
    /// Listing: last day.
    pub to: Option<String>,
}

/// Sets a lesson's homework, or lists homework.
pub fn homework(journal: &mut Journal, args: HomeworkArgs, json: bool) -> Result<()> {
    if let Some(lesson) = args.lesson {
        let text = args
            .text
            .context("write the homework after the lesson id")?;
        let due = args.due.as_deref().map(parse_date).transpose()?;
        journal.set_homework(&lesson.parse()?, &text, due)?;
        say!("homework saved; run `journal sync` to send it");
        return Ok(());
    }
    let year = year(journal)?;
    let from = date_arg(args.from.as_deref(), journal.today())?;
    let to = date_arg(args.to.as_deref(), from + time::Duration::days(7))?;
    let mut rows = Vec::new();
    for class in classes(journal, year) {
        for item in journal.class_homework(year, &class, DateRange::new(from, to)?)? {
            rows.push(HomeworkRow {
                lesson: item.lesson.to_string(),
                class_name: journal.class_name(year, &class),
                class: class.to_string(),
                date: format_date(item.date),
                subject_name: journal.subject_name(year, &item.subject),
                subject: item.subject.to_string(),
                homework: item.text,
                due: item.due.map(format_date).unwrap_or_default(),
            });
        }
    }
    emit(
        json,
        &rows,
        &[
            ("date", "date"),
            ("class", "class_name"),
            ("subject", "subject_name"),
            ("homework", "homework"),
            ("due", "due"),
        ],
    )
}

#[derive(Serialize)]
struct PlanRow {
    number: usize,
    topic: String,
    lessons: u16,
}

/// What `plan` was asked: which class, subject and term, and the topics to set (none: show the plan).
pub struct PlanArgs {
    /// Class id.
    pub class: String,
    /// Subject id.
    pub subject: String,
    /// Term id.
    pub term: String,
    /// TOPIC=LESSONS, in order.
    pub topics: Vec<String>,
}

/// Shows a thematic plan, or sets it from TOPIC=LESSONS items.
pub fn plan(journal: &mut Journal, args: PlanArgs, json: bool) -> Result<()> {
    let year = year(journal)?;
    let class: ClassId = journal.find_class(year, &args.class)?;
    let subject: SubjectId = journal.find_subject(year, &args.subject)?;
    let term: TermId = args.term.parse()?;
    if !args.topics.is_empty() {
        let topics = args
            .topics
            .iter()
            .map(|item| {
                let (topic, lessons) = item.rsplit_once('=').with_context(|| {
                    format!("{item:?}: write TOPIC=LESSONS, e.g. \"Имя существительное=6\"")
                })?;
                let lessons = lessons.trim().parse::<u16>().with_context(|| {
                    format!("{item:?}: the number of lessons after '=' must be a whole number")
                })?;
                Ok(PlannedTopic {
                    topic: topic.trim().to_owned(),
                    lessons,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        journal.set_thematic_plan(year, &class, &subject, &term, &topics)?;
        let total: u32 = topics.iter().map(|t| u32::from(t.lessons)).sum();
        say!(
            "thematic plan saved: {} topics, {total} lessons; run `journal sync` to send it",
            topics.len()
        );
        return Ok(());
    }
    let rows: Vec<PlanRow> = journal
        .thematic_plan(year, &class, &subject, &term)?
        .into_iter()
        .enumerate()
        .map(|(i, t)| PlanRow {
            number: i + 1,
            topic: t.topic,
            lessons: t.lessons,
        })
        .collect();
    emit(
        json,
        &rows,
        &[("№", "number"), ("topic", "topic"), ("lessons", "lessons")],
    )
}
