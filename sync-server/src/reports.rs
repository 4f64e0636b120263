//! Reports on the relay: the year's documents loaded into a core journal, the same report functions the
//! apps use, the activity report from the session log and the no-consent report from the consent
//! register; rendered as PDF, XLSX or CSV. Also sheets of
//! access-code slips for a class.

pub use journal_core::reports::format::ReportFormat;
use journal_core::reports::pdf::{AccessSlip, PrintError, access_slips_pdf};
use journal_core::reports::{
    ActivityAccount, ConsentGap, GuardianConsent, ReportDoc, ReportKind, ReportRequest,
    activity_report, no_consent_doc,
};
use journal_core::{ClassId, DocId, SchoolTimeZone, YearId};
use thiserror::Error;
use time::Date;

use crate::auth::Principal;
use crate::clock::Clock;
use crate::read_model::{ReadModel, Scope};
use crate::services::codes::{self, CodeError, CodeRequest};
use crate::store::{AccountRole, CodeRole, RelayStore, StoreError};

/// Why a report could not be made.
#[derive(Debug, Error)]
pub enum ReportError {
    /// The request was wrong; the message says how.
    #[error("{0}")]
    Invalid(String),
    /// The documents could not be read into the report.
    #[error(transparent)]
    Core(#[from] journal_core::Error),
    /// Writing the file failed.
    #[error(transparent)]
    Print(#[from] PrintError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Issuing codes for slips failed.
    #[error(transparent)]
    Code(#[from] CodeError),
}

/// What to report on.
#[derive(Clone, Debug, Default)]
pub struct ReportQuery {
    /// School year (default: the newest the relay holds).
    pub year: Option<YearId>,
    /// Class, subject, term, student.
    pub request: ReportRequest,
    /// For the activity report: any day of the month (default: this month).
    pub month: Option<Date>,
}

/// The newest school year the relay holds documents for.
pub fn newest_year(store: &dyn RelayStore) -> Result<YearId, ReportError> {
    store
        .document_heads()?
        .iter()
        .filter_map(|(id, _)| match id.parse::<DocId>() {
            Ok(DocId::School(year)) => Some(year),
            _ => None,
        })
        .max()
        .ok_or_else(|| ReportError::Invalid("the relay holds no school year yet".into()))
}

fn month_start(day: Date) -> Date {
    day.replace_day(1).unwrap_or(day)
}

/// The school's time zone in `year`: its days are the reports' days (UTC until its settings are known).
pub fn time_zone(
    store: &dyn RelayStore,
    model: &ReadModel,
    year: YearId,
) -> Result<SchoolTimeZone, ReportError> {
    model.read(
        store,
        year,
        |_| Scope::Classes,
        |journal| {
            Ok(journal
                .school_settings(year)
                .map(|s| s.time_zone)
                .unwrap_or_default())
        },
    )
}

/// The monthly activity report from the directory and the session log, its days the school's.
pub fn activity(
    store: &dyn RelayStore,
    model: &ReadModel,
    year: YearId,
    month: Date,
    today: Date,
) -> Result<ReportDoc, ReportError> {
    let zone = time_zone(store, model, year)?;
    let month = month_start(month);
    let next = month_start(month + time::Duration::days(32));
    let sessions: Vec<(String, Date)> = store
        .sessions_between(zone.midnight(month), zone.midnight(next))?
        .into_iter()
        .map(|s| (s.account, zone.day_at(s.started_at)))
        .collect();
    let mut accounts = Vec::new();
    for account in store.accounts()?.into_iter().filter(|a| a.active) {
        let facts = store.access_facts(&account.id)?;
        let classes: Vec<ClassId> = match account.role {
            AccountRole::Parent => {
                let mut classes: Vec<ClassId> =
                    facts.children.into_iter().map(|(_, c)| c).collect();
                classes.sort();
                classes.dedup();
                classes
            }
            AccountRole::Student => facts.own_class.into_iter().collect(),
            AccountRole::Teacher | AccountRole::Administration => Vec::new(),
        };
        accounts.push(ActivityAccount {
            account: account.id,
            name: account.name,
            role: account.role.as_str().to_owned(),
            classes,
        });
    }
    let (school, class_names) = model.read(
        store,
        year,
        |_| Scope::Classes,
        |journal| {
            Ok((
                journal
                    .school_settings(year)
                    .map(|s| s.name.clone())
                    .unwrap_or_default(),
                journal
                    .classes(year)
                    .into_iter()
                    .collect::<std::collections::BTreeMap<_, _>>(),
            ))
        },
    )?;
    Ok(activity_report(month, &accounts, &sessions).to_doc(&school, year, today, &class_names))
}

/// The students of `year` (of one class, or all) whose guardians have no consent in force, from the
/// class lists in the documents and the consent register in the directory.
pub fn no_consent(
    store: &dyn RelayStore,
    model: &ReadModel,
    year: YearId,
    only: Option<&ClassId>,
    today: Date,
) -> Result<ReportDoc, ReportError> {
    type ClassList = (String, Vec<(journal_core::StudentId, String)>);
    let (school, classes): (String, Vec<ClassList>) = model.read(
        store,
        year,
        |_| Scope::Classes,
        |journal| {
            let school = journal
                .school_settings(year)
                .map(|s| s.name.clone())
                .unwrap_or_default();
            let mut classes = Vec::new();
            for (class, name) in journal.classes(year) {
                if only.is_none_or(|c| *c == class) {
                    classes.push((name, journal.roster(year, &class, today)?));
                }
            }
            Ok((school, classes))
        },
    )?;
    let names: std::collections::HashMap<String, String> = store
        .accounts()?
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect();
    // Entries come oldest first: the last one seen for a guardian is the one in force.
    let mut newest = std::collections::HashMap::new();
    for record in store.consents(None)? {
        newest.insert((record.student.clone(), record.guardian.clone()), record);
    }
    let mut guardians_of: std::collections::HashMap<journal_core::StudentId, Vec<String>> =
        std::collections::HashMap::new();
    for (guardian, student) in store.guardian_links()? {
        guardians_of.entry(student).or_default().push(guardian);
    }
    let class_name = only.and_then(|_| classes.first().map(|(name, _)| name.clone()));
    let mut gaps = Vec::new();
    for (class, roster) in classes {
        for (student, name) in roster {
            let guardians: Vec<GuardianConsent> = guardians_of
                .get(&student)
                .into_iter()
                .flatten()
                .map(|guardian| GuardianConsent {
                    name: names
                        .get(guardian)
                        .cloned()
                        .unwrap_or_else(|| guardian.clone()),
                    newest: newest
                        .get(&(student.clone(), guardian.clone()))
                        .map(|r| (r.given, r.signed_on.clone(), r.text_version.clone())),
                })
                .collect();
            if !guardians
                .iter()
                .any(|g| g.newest.as_ref().is_some_and(|(given, ..)| *given))
            {
                gaps.push(ConsentGap {
                    class: class.clone(),
                    student: name,
                    guardians,
                });
            }
        }
    }
    Ok(no_consent_doc(&school, year, class_name, &gaps, today))
}

/// Builds a report as of the school's day at the Unix time `now`, reading the documents it needs through
/// `model`.
pub fn build(
    store: &dyn RelayStore,
    model: &ReadModel,
    kind: ReportKind,
    query: &ReportQuery,
    now: i64,
) -> Result<ReportDoc, ReportError> {
    let year = match query.year {
        Some(year) => year,
        None => newest_year(store)?,
    };
    let today = time_zone(store, model, year)?.day_at(now);
    if kind == ReportKind::Activity {
        return activity(store, model, year, query.month.unwrap_or(today), today);
    }
    if kind == ReportKind::NoConsent {
        return no_consent(store, model, year, query.request.class.as_ref(), today);
    }
    model.read(
        store,
        year,
        |journal| Scope::of(kind, &query.request, journal, year),
        |journal| Ok(journal.report(year, kind, &query.request, today)?),
    )
}

/// A report made and rendered as a file: only its table `table` (from 1) when given.
pub fn report_file(
    store: &dyn RelayStore,
    model: &ReadModel,
    kind: ReportKind,
    query: &ReportQuery,
    table: Option<usize>,
    format: ReportFormat,
    now: i64,
) -> Result<Vec<u8>, ReportError> {
    let mut doc = build(store, model, kind, query, now)?;
    if let Some(number) = table {
        doc = doc
            .with_table(number)
            .map_err(|e| ReportError::Core(e.into()))?;
    }
    render(&doc, format)
}

/// Writes a report in a format.
pub fn render(doc: &ReportDoc, format: ReportFormat) -> Result<Vec<u8>, ReportError> {
    Ok(format.render(doc)?)
}

/// Which class's slips to print, and for how long their codes hold.
#[derive(Clone, Debug)]
pub struct SlipRequest {
    /// School year (default: the newest the relay holds).
    pub year: Option<YearId>,
    /// The class.
    pub class: ClassId,
    /// Days the codes stay valid.
    pub valid_days: u32,
    /// The fingerprint of the certificate the relay made for itself, printed for devices to pin.
    pub certificate: Option<journal_core::certificate_pin::CertificatePin>,
}

/// Issues a fresh code for every student of a class and every guardian (or, for a student without one, a
/// new parent), and lays them out as slips to cut. Unspent earlier codes for the same people are retired.
pub fn access_slips(
    store: &dyn RelayStore,
    model: &ReadModel,
    key: &crate::secrets::HashKey,
    issuer: &Principal,
    request: &SlipRequest,
    clock: &dyn Clock,
) -> Result<(Vec<u8>, usize), ReportError> {
    let SlipRequest {
        year,
        class,
        valid_days,
        certificate,
    } = request;
    let valid_days = *valid_days;
    let year = match year {
        Some(year) => *year,
        None => newest_year(store)?,
    };
    let zone = time_zone(store, model, year)?;
    let today = zone.day_at(clock.now());
    let (class_name, school, roster) = model.read(
        store,
        year,
        |_| Scope::Classes,
        |journal| {
            Ok((
                journal.class_name(year, class),
                journal
                    .school_settings(year)
                    .map(|s| s.name.clone())
                    .unwrap_or_default(),
                journal.roster(year, class, today)?,
            ))
        },
    )?;
    if roster.is_empty() {
        return Err(ReportError::Invalid(format!(
            "class {class} has nobody on its list today"
        )));
    }
    let mut guardians: Vec<(String, String, journal_core::StudentId)> = Vec::new();
    for account in store.accounts()? {
        if account.role == AccountRole::Parent && account.active {
            for (child, _) in store.access_facts(&account.id)?.children {
                guardians.push((account.id.clone(), account.name.clone(), child));
            }
        }
    }
    let mut slips = Vec::new();
    let mut issue = |role: CodeRole,
                     account: Option<String>,
                     student: &journal_core::StudentId,
                     name: String,
                     label: &str|
     -> Result<(), ReportError> {
        let issued = codes::issue(
            store,
            key,
            issuer,
            &CodeRequest {
                role,
                account,
                student: Some(student.clone()),
                valid_days,
            },
            clock.now(),
        )?;
        slips.push(AccessSlip {
            name,
            class: class_name.clone(),
            role: label.to_owned(),
            code: issued.code.to_string(),
            expires: zone.day_at(issued.record.expires_at),
        });
        Ok(())
    };
    for (student, name) in &roster {
        issue(CodeRole::Student, None, student, name.clone(), "ученик")?;
        let family: Vec<_> = guardians.iter().filter(|(_, _, s)| s == student).collect();
        if family.is_empty() {
            issue(
                CodeRole::Parent,
                None,
                student,
                format!("Родитель: {name}"),
                "родитель",
            )?;
        }
        for (account, guardian, _) in family {
            issue(
                CodeRole::Parent,
                Some(account.clone()),
                student,
                guardian.clone(),
                &format!("родитель ({name})"),
            )?;
        }
    }
    let count = slips.len();
    Ok((
        access_slips_pdf(&school, &slips, certificate.as_ref(), today)?,
        count,
    ))
}
