//! `--demo`: a small school to try the journal with: two classes of 25, their teachers, students and
//! parents, a device token for each account, and a first term already taught.

mod history;

use journal_core::docs::Document;
use journal_core::{
    ClassId, ClassInfo, DocId, Journal, NewLesson, SchoolSetup, SchoolTimeZone, StaffId, StudentId,
    StudentProfile, Subject, SubjectId, YearId,
};
use thiserror::Error;

use crate::app::App;
use crate::auth::{Principal, issue_device};
use crate::hub::{HubError, attribution};
use crate::services::codes::{self, CodeRequest};
use crate::store::{Account, AccountRole, CodeRole, ConsentRecord, StoreError};

/// Seeding failed.
#[derive(Debug, Error)]
pub enum DemoError {
    /// Building the documents failed.
    #[error(transparent)]
    Core(#[from] journal_core::Error),
    /// Storing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Importing failed.
    #[error(transparent)]
    Hub(#[from] HubError),
    /// Issuing the demo codes failed.
    #[error(transparent)]
    Code(#[from] codes::CodeError),
}

/// A demo account and the token of its device.
#[derive(Clone, Debug)]
pub struct DemoAccount {
    /// Account id.
    pub id: String,
    /// Role.
    pub role: AccountRole,
    /// Display name.
    pub name: String,
    /// Device token.
    pub token: String,
    /// A one-time access code for the same account, to try signing in a new device.
    pub code: String,
}

struct Kid {
    id: &'static str,
    class: &'static str,
    name: &'static str,
}

/// The demo student whose family has not signed the consent form yet.
pub const WITHOUT_CONSENT: &str = "s5a3";

/// The version of the consent text the demo's families signed.
const CONSENT_TEXT: &str = "2026-1";

const KIDS: [Kid; 6] = [
    Kid {
        id: "s5a1",
        class: "5a",
        name: "Иванов Иван",
    },
    Kid {
        id: "s5a2",
        class: "5a",
        name: "Смирнова Мария",
    },
    Kid {
        id: "s5a3",
        class: "5a",
        name: "Кузнецов Пётр",
    },
    Kid {
        id: "s6b1",
        class: "6b",
        name: "Попова Анна",
    },
    Kid {
        id: "s6b2",
        class: "6b",
        name: "Смирнов Алексей",
    },
    Kid {
        id: "s6b3",
        class: "6b",
        name: "Васильева Ольга",
    },
];

/// Students in each demo class unless asked for more: the three with accounts.
/// Students in each demo class unless asked otherwise.
pub const DEMO_CLASS_SIZE: usize = 25;

/// How the demo school is seeded.
#[derive(Clone, Copy, Debug)]
pub struct DemoOptions {
    /// Students in each class (at least the three with accounts).
    pub class_size: usize,
    /// The school's edit-lock window, in days (0: off).
    pub edit_lock_days: u16,
    /// Whether the first term is already taught (plans, lessons, marks, absences).
    pub history: bool,
    /// The school's time zone.
    pub time_zone: SchoolTimeZone,
}

impl DemoOptions {
    /// Three students a class (those with accounts), this week's lessons only and UTC's days: a school
    /// whose every mark, lesson and day a test can count.
    pub fn bare() -> Self {
        DemoOptions {
            class_size: KIDS.len() / 2,
            history: false,
            time_zone: SchoolTimeZone::UTC,
            ..DemoOptions::default()
        }
    }
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            class_size: DEMO_CLASS_SIZE,
            edit_lock_days: journal_core::DEFAULT_EDIT_LOCK_DAYS,
            history: true,
            // Бежецк keeps Moscow time.
            time_zone: SchoolTimeZone::MOSCOW,
        }
    }
}

/// Surnames and first names the demo's further classmates are made of, boys' and girls'.
const BOYS: ([&str; 10], [&str; 5]) = (
    [
        "Новиков",
        "Морозов",
        "Волков",
        "Соловьёв",
        "Лебедев",
        "Козлов",
        "Егоров",
        "Павлов",
        "Семёнов",
        "Голубев",
    ],
    ["Артём", "Максим", "Дмитрий", "Никита", "Егор"],
);
const GIRLS: ([&str; 10], [&str; 5]) = (
    [
        "Новикова",
        "Морозова",
        "Волкова",
        "Соловьёва",
        "Лебедева",
        "Козлова",
        "Егорова",
        "Павлова",
        "Семёнова",
        "Голубева",
    ],
    ["Анастасия", "Полина", "Дарья", "Софья", "Ксения"],
);

/// Every demo student of a school with `class_size` students a class: id, class, name. The first three
/// of each class have accounts; the rest fill the class lists.
fn students(class_size: usize) -> Vec<(String, &'static str, String)> {
    let mut all: Vec<(String, &'static str, String)> = KIDS
        .iter()
        .map(|k| (k.id.to_owned(), k.class, k.name.to_owned()))
        .collect();
    for class in ["5a", "6b"] {
        for i in 4..=class_size {
            let (surnames, names) = if i % 2 == 0 { BOYS } else { GIRLS };
            let k = i + usize::from(class == "6b") * 7;
            let name = format!("{} {}", surnames[k % 10], names[(k / 2 + k / 10) % 5]);
            all.push((format!("s{class}{i}"), class, name));
        }
    }
    all
}

fn id<T: std::str::FromStr<Err = journal_core::InputError>>(
    text: &str,
) -> Result<T, journal_core::Error> {
    Ok(text.parse()?)
}

fn documents(
    year: YearId,
    options: DemoOptions,
    staff: &[(&str, &str)],
) -> Result<Vec<Document>, journal_core::Error> {
    let class_size = options.class_size;
    let mut j = Journal::open_in_memory()?;
    let mut setup = SchoolSetup::standard(year, "МОУ СОШ № 5 г. Бежецка");
    // The term's history is written at once; the school's window applies from then on.
    setup.settings.policy.edit_lock_days = 0;
    setup.settings.time_zone = options.time_zone;
    setup.subjects = [
        ("math", "Математика"),
        ("russian", "Русский язык"),
        ("literature", "Литература"),
        ("history", "История"),
    ]
    .iter()
    .map(|(sid, name)| {
        Ok((
            id::<SubjectId>(sid)?,
            Subject {
                name: (*name).to_owned(),
            },
        ))
    })
    .collect::<Result<_, journal_core::Error>>()?;
    j.set_up_school(&setup)?;
    for (account, name) in staff {
        j.set_staff_name(year, account, name)?;
    }
    let start = setup.settings.year.start;
    for (class, name, grade, teacher) in [("5a", "5А", 5, "t-5a"), ("6b", "6Б", 6, "t-6b")] {
        let class: ClassId = id(class)?;
        let teacher: StaffId = id(teacher)?;
        j.put_class(
            year,
            &class,
            &ClassInfo {
                name: name.into(),
                grade,
                class_teacher: Some(teacher.clone()),
            },
        )?;
        j.assign_subject(year, &class, &id("math")?, &id("t-math")?)?;
        for subject in ["russian", "literature", "history"] {
            j.assign_subject(year, &class, &id(subject)?, &teacher)?;
        }
    }
    for (student, class, name) in students(class_size) {
        let student: StudentId = id(&student)?;
        j.enrol_student(year, &id(class)?, &student, &name, start)?;
        let profile = StudentProfile {
            full_name: name,
            birth_date: None,
            address: String::new(),
        };
        j.set_profile(year, &student, &profile, start)?;
    }
    let week = demo_week(&setup.settings.year, options.time_zone.today());
    if options.history {
        let classes: Vec<history::TaughtClass> = [("5a", "t-5a"), ("6b", "t-6b")]
            .iter()
            .map(|(class, teacher)| {
                Ok(history::TaughtClass {
                    class: id(class)?,
                    students: students(class_size)
                        .iter()
                        .filter(|(_, c, _)| c == class)
                        .map(|(s, _, _)| id(s))
                        .collect::<Result<_, _>>()?,
                    timetable: timetable(teacher)?,
                })
            })
            .collect::<Result<_, journal_core::Error>>()?;
        let until = week.first().copied().unwrap_or(start);
        history::teach_first_term(&mut j, year, &setup.settings.year, &classes, until)?;
    }
    // A school week of lessons, so that `journal lessons` shows something today.
    for day in week {
        for (class, teacher) in [("5a", "t-5a"), ("6b", "t-6b")] {
            for (period, (subject, who)) in (1u8..).zip(timetable(teacher)?) {
                j.add_lesson(
                    year,
                    &id(class)?,
                    &NewLesson {
                        date: day,
                        period,
                        subject,
                        teacher: who,
                        topic: String::new(),
                    },
                )?;
            }
        }
    }
    let mut policy = setup.settings.policy.clone();
    policy.edit_lock_days = options.edit_lock_days;
    j.set_policy(year, &policy)?;
    j.documents()
        .map(|d| Document::load(d.id().clone(), &d.snapshot(), &automerge::ActorId::random()))
        .collect()
}

/// A demo class's day: mathematics with its teacher, then three subjects with the class teacher.
fn timetable(class_teacher: &str) -> Result<Vec<(SubjectId, StaffId)>, journal_core::Error> {
    [
        ("math", "t-math"),
        ("russian", class_teacher),
        ("literature", class_teacher),
        ("history", class_teacher),
    ]
    .iter()
    .map(|(subject, teacher)| Ok((id(subject)?, id(teacher)?)))
    .collect()
}

/// Monday to Friday of the current week when today is a school day of `year`, else of its first week
/// (before the year) or its last (after it).
fn demo_week(year: &journal_core::SchoolYear, today: time::Date) -> Vec<time::Date> {
    // Before the year, its first week; after it (the summer), its last, with the first term behind it.
    let anchor = today.clamp(year.start, year.end);
    let monday =
        anchor - time::Duration::days(i64::from(anchor.weekday().number_days_from_monday()));
    (0..5)
        .map(|d| monday + time::Duration::days(d))
        .filter(|d| year.range().contains(*d))
        .collect()
}

/// Seeds the demo school, `options.class_size` students a class (at least [`DEMO_CLASS_SIZE`]), unless the relay
/// already holds documents; returns the accounts with tokens.
pub fn seed(
    app: &App,
    year: YearId,
    options: DemoOptions,
) -> Result<Option<Vec<DemoAccount>>, DemoError> {
    let store = app.store().clone();
    if !store.document_heads()?.is_empty() {
        return Ok(None);
    }
    let now = app.hub.clock().now();
    let mut accounts: Vec<Account> = vec![
        account(
            "director",
            "Петрова Анна Викторовна",
            AccountRole::Administration,
            None,
        ),
        account(
            "t-5a",
            "Соколова Елена Игоревна",
            AccountRole::Teacher,
            None,
        ),
        account("t-6b", "Морозов Игорь Павлович", AccountRole::Teacher, None),
        account(
            "t-math",
            "Волкова Нина Сергеевна",
            AccountRole::Teacher,
            None,
        ),
        account(
            "p-ivanova",
            "Иванова Светлана (мама Марии и Алексея)",
            AccountRole::Parent,
            None,
        ),
    ];
    // The classmates' parents have accounts, as a class list's import makes them, but no demo devices.
    let classmates: Vec<(String, &str, String)> = students(options.class_size)
        .into_iter()
        .skip(KIDS.len())
        .collect();
    for (student, class, name) in &classmates {
        store.put_student(&id(student)?, &id(class)?, name)?;
        store.put_account(&account(
            &format!("parent-{student}"),
            &format!("Родитель: {name}"),
            AccountRole::Parent,
            None,
        ))?;
        store.link_guardian(&format!("parent-{student}"), &id(student)?)?;
    }
    for kid in &KIDS {
        let student: StudentId = id(kid.id)?;
        store.put_student(&student, &id(kid.class)?, kid.name)?;
        accounts.push(account(
            &format!("student-{}", kid.id),
            kid.name,
            AccountRole::Student,
            Some(student),
        ));
        accounts.push(account(
            &format!("parent-{}", kid.id),
            &format!("Родитель: {}", kid.name),
            AccountRole::Parent,
            None,
        ));
    }
    for a in &accounts {
        store.put_account(a)?;
    }
    for kid in &KIDS {
        store.link_guardian(&format!("parent-{}", kid.id), &id(kid.id)?)?;
    }
    store.link_guardian("p-ivanova", &id("s5a2")?)?;
    store.link_guardian("p-ivanova", &id("s6b2")?)?;
    let signed_on = options.time_zone.day_at(now);
    // Every family signed the consent form but Кузнецов Пётр's: the no-consent report has him, and his
    // class teacher has his name only.
    let signed: Vec<&str> = KIDS
        .iter()
        .map(|kid| kid.id)
        .chain(classmates.iter().map(|(student, _, _)| student.as_str()))
        .filter(|student| *student != WITHOUT_CONSENT)
        .collect();
    for student in signed {
        store.record_consent(&ConsentRecord {
            student: id(student)?,
            guardian: format!("parent-{student}"),
            given: true,
            signed_on: journal_core::format_date(signed_on),
            text_version: CONSENT_TEXT.to_owned(),
            recorded_by: "director".to_owned(),
            recorded_at: now,
        })?;
    }
    store.put_class_staff(&id("5a")?, "t-5a", true)?;
    store.put_class_staff(&id("6b")?, "t-6b", true)?;
    store.put_class_staff(&id("5a")?, "t-math", false)?;
    store.put_class_staff(&id("6b")?, "t-math", false)?;
    let by = attribution("director", "relay-demo", now);
    let staff: Vec<(&str, &str)> = accounts
        .iter()
        .filter(|a| matches!(a.role, AccountRole::Administration | AccountRole::Teacher))
        .map(|a| (a.id.as_str(), a.name.as_str()))
        .collect();
    for doc in documents(year, options, &staff)? {
        app.hub.import(&doc, &by)?;
    }
    let mut out = Vec::new();
    for a in accounts {
        let issued = issue_device(store.as_ref(), &app.secrets, &a.id, DEMO_DEVICE, now)?;
        let code = demo_code(app, &a, now)?;
        out.push(DemoAccount {
            id: a.id,
            role: a.role,
            name: a.name,
            token: issued.token,
            code,
        });
    }
    debug_assert!(
        store
            .load_document(&DocId::School(year).to_string())?
            .is_some()
    );
    Ok(Some(out))
}

/// A fresh one-time access code for a demo account; an unspent earlier one for the same person is retired.
fn demo_code(app: &App, a: &Account, now: i64) -> Result<String, DemoError> {
    let store = app.store().as_ref();
    let issuer = Principal {
        account: account("demo", "demo seeding", AccountRole::Administration, None),
        device: crate::store::Device {
            id: "demo".into(),
            account: "demo".into(),
            label: "demo".into(),
            created_at: now,
            revoked_at: None,
        },
    };
    let (role, code_account, student) = match a.role {
        AccountRole::Administration | AccountRole::Teacher => {
            (CodeRole::Staff, Some(a.id.clone()), None)
        }
        AccountRole::Student => (CodeRole::Student, None, a.student.clone()),
        AccountRole::Parent => {
            let child = store
                .access_facts(&a.id)?
                .children
                .first()
                .map(|(s, _)| s.clone());
            (CodeRole::Parent, Some(a.id.clone()), child)
        }
    };
    let request = CodeRequest {
        role,
        account: code_account,
        student,
        valid_days: codes::DEFAULT_VALID_DAYS,
    };
    Ok(codes::issue(store, &app.secrets, &issuer, &request, now)?
        .code
        .to_string())
}

/// The label of the device the demo signs each account in with.
const DEMO_DEVICE: &str = "demo device";

/// For a relay started again with `--demo` on the demo school: a fresh code for each demo account that
/// has not signed a device in with its code yet (it has its demo device only). Codes are kept as hashes,
/// so the first start's codes cannot be shown again: the fresh code replaces the unspent one.
pub fn fresh_codes_for_unspent(app: &App) -> Result<Vec<(Account, String)>, DemoError> {
    let now = app.hub.clock().now();
    let store = app.store();
    let ids = ["director", "t-5a", "t-6b", "t-math", "p-ivanova"]
        .map(str::to_owned)
        .into_iter()
        .chain(
            KIDS.iter()
                .flat_map(|kid| [format!("student-{}", kid.id), format!("parent-{}", kid.id)]),
        );
    let mut out = Vec::new();
    for id in ids {
        let Some(account) = store.account(&id)?.filter(|a| a.active) else {
            continue;
        };
        let signed_in_since = store
            .devices_of(&id)?
            .iter()
            .any(|device| device.label != DEMO_DEVICE);
        if !signed_in_since {
            let code = demo_code(app, &account, now)?;
            out.push((account, code));
        }
    }
    Ok(out)
}

fn account(id: &str, name: &str, role: AccountRole, student: Option<StudentId>) -> Account {
    Account {
        id: id.to_owned(),
        name: name.to_owned(),
        role,
        active: true,
        student,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A demo asked for 25 students a class lists 25 in each class, in its documents and its directory
    /// alike, each with a name, the three with accounts among them.
    #[test]
    fn a_larger_demo_fills_each_class_list() {
        let year = YearId(2026);
        let docs = documents(
            year,
            DemoOptions {
                class_size: 25,
                ..DemoOptions::default()
            },
            &[],
        )
        .expect("documents");
        let mut journal = Journal::open_in_memory().expect("journal");
        for doc in &docs {
            journal.merge_document(doc).expect("merge");
        }
        let start = journal.school_settings(year).expect("settings").year.start;
        for class in ["5a", "6b"] {
            let roster = journal
                .roster(year, &id(class).expect("id"), start)
                .expect("roster");
            assert_eq!(roster.len(), 25, "{class}");
            assert!(roster.iter().all(|(_, name)| name.split(' ').count() == 2));
        }
        let all = students(25);
        assert_eq!(all.len(), 50);
        let ids: std::collections::BTreeSet<&str> =
            all.iter().map(|(id, _, _)| id.as_str()).collect();
        assert_eq!(ids.len(), 50, "every id once");
        assert!(ids.contains("s5a1") && ids.contains("s6b25"));
        assert_eq!(
            students(3).len(),
            KIDS.len(),
            "three a class: those with accounts"
        );
    }
}
