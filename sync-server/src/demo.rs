//! `--demo`: a small school to try the journal with: two classes, their teachers, students and parents,
//! a device token for each account.

use journal_core::docs::Document;
use journal_core::{
    ClassId, ClassInfo, DocId, Journal, NewLesson, SchoolSetup, StaffId, StudentId, StudentProfile,
    Subject, SubjectId, YearId,
};
use thiserror::Error;

use crate::app::App;
use crate::auth::{Principal, issue_device};
use crate::hub::{HubError, attribution};
use crate::services::codes::{self, CodeRequest};
use crate::store::{Account, AccountRole, CodeRole, StoreError};

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

fn id<T: std::str::FromStr<Err = journal_core::InputError>>(
    text: &str,
) -> Result<T, journal_core::Error> {
    Ok(text.parse()?)
}

fn documents(year: YearId) -> Result<Vec<Document>, journal_core::Error> {
    let mut j = Journal::open_in_memory()?;
    let mut setup = SchoolSetup::standard(year, "МОУ СОШ № 5 г. Бежецка");
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
    for kid in &KIDS {
        let student: StudentId = id(kid.id)?;
        j.enrol_student(year, &id(kid.class)?, &student, kid.name, start)?;
        let profile = StudentProfile {
            full_name: kid.name.into(),
            birth_date: None,
            address: String::new(),
        };
        j.set_profile(year, &student, &profile, start)?;
    }
    // A school week of lessons, so that `journal lessons` shows something today.
    for day in demo_week(&setup.settings.year) {
        for (class, teacher) in [("5a", "t-5a"), ("6b", "t-6b")] {
            let timetable = [
                ("math", "t-math"),
                ("russian", teacher),
                ("literature", teacher),
                ("history", teacher),
            ];
            for (period, (subject, who)) in (1u8..).zip(timetable) {
                j.add_lesson(
                    year,
                    &id(class)?,
                    &NewLesson {
                        date: day,
                        period,
                        subject: id(subject)?,
                        teacher: id(who)?,
                        topic: String::new(),
                    },
                )?;
            }
        }
    }
    j.documents()
        .map(|d| Document::load(d.id().clone(), &d.snapshot(), &automerge::ActorId::random()))
        .collect()
}

/// Monday to Friday of the current week when today is a school day of `year`, else of its first week.
fn demo_week(year: &journal_core::SchoolYear) -> Vec<time::Date> {
    let today = time::OffsetDateTime::now_utc().date();
    let anchor = if year.range().contains(today) {
        today
    } else {
        year.start
    };
    let monday =
        anchor - time::Duration::days(i64::from(anchor.weekday().number_days_from_monday()));
    (0..5)
        .map(|d| monday + time::Duration::days(d))
        .filter(|d| year.range().contains(*d))
        .collect()
}

/// Seeds the demo school unless the relay already holds documents; returns the accounts with tokens.
pub fn seed(app: &App, year: YearId) -> Result<Option<Vec<DemoAccount>>, DemoError> {
    let store = app.store().clone();
    if !store.document_heads()?.is_empty() {
        return Ok(None);
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
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
    store.put_class_staff(&id("5a")?, "t-5a", true)?;
    store.put_class_staff(&id("6b")?, "t-6b", true)?;
    store.put_class_staff(&id("5a")?, "t-math", false)?;
    store.put_class_staff(&id("6b")?, "t-math", false)?;
    let by = attribution("director", "relay-demo");
    for doc in documents(year)? {
        app.hub.import(&doc, &by)?;
    }
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
    let mut out = Vec::new();
    for a in accounts {
        let issued = issue_device(store.as_ref(), &app.secrets, &a.id, "demo device", now)?;
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
        let code = codes::issue(store.as_ref(), &app.secrets, &issuer, &request)?;
        out.push(DemoAccount {
            id: a.id,
            role: a.role,
            name: a.name,
            token: issued.token,
            code: code.code.to_string(),
        });
    }
    debug_assert!(
        store
            .load_document(&DocId::School(year).to_string())?
            .is_some()
    );
    Ok(Some(out))
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
