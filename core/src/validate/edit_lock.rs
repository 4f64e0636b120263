//! The edit-lock window (regulation 2.1): a mark or attendance entry of a lesson more than the school's
//! number of days before the edit is changed only by the administration, and then with a reason. The
//! reason travels as the message of the Automerge change, so the change and the audit trail keep it.

use std::fmt;

use automerge::{Automerge, ChangeHash, PatchAction, Prop};
use time::{Date, Duration};

use crate::docs::{Cell, SchoolSettings, StudentDoc};
use crate::domain::calendar::format_date;
use crate::error::SchemaError;
use crate::ids::{DocId, LessonId};

/// When a delivery's edits were made, as far as the relay can bound it, and who delivers them.
#[derive(Clone, Copy)]
pub struct EditWindow<'a> {
    /// Now on the relay's clock, in Unix seconds.
    pub now: i64,
    /// The delivering device's last contact with the relay before this sync, in Unix seconds, looked up
    /// only when a change reaches back past the window: an edit made before that contact would have been
    /// delivered then, so a device's clock set back cannot reopen what that contact closed.
    pub previous_contact: &'a dyn Fn() -> Option<i64>,
    /// Whether the writer is the school's administration, who may change a locked entry with a reason.
    pub administration: bool,
    /// The day of a lesson as the class's document has it: an entry is as old as its lesson, whatever
    /// date the entry itself claims.
    pub lesson_day: &'a dyn Fn(&LessonId) -> Option<Date>,
}

impl fmt::Debug for EditWindow<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EditWindow")
            .field("now", &self.now)
            .field("administration", &self.administration)
            .finish_non_exhaustive()
    }
}

/// The first day whose entries may still be changed freely by an edit made on `today`, with a window of
/// `days`; `None` when the lock is off.
pub fn first_open_day(today: Date, days: u16) -> Option<Date> {
    (days > 0).then(|| today - Duration::days(i64::from(days)))
}

/// An entry a delivery added, changed or removed.
struct Touched {
    /// The document's map holding it.
    map: &'static str,
    key: String,
    /// The earliest lesson day among its values before and after.
    day: Date,
    /// Its lesson.
    lesson: Option<LessonId>,
}

impl Touched {
    fn describe(&self) -> String {
        let what = if self.map == "marks" {
            "a mark"
        } else {
            "an attendance entry"
        };
        format!("{what} of the lesson on {}", format_date(self.day))
    }
}

fn touched_entries<K: ToString + Ord, T: PartialEq>(
    map: &'static str,
    before: &std::collections::BTreeMap<K, Cell<T>>,
    after: &std::collections::BTreeMap<K, Cell<T>>,
    day: impl Fn(&T) -> Date,
    lesson: impl Fn(&K, &T) -> LessonId,
    out: &mut Vec<Touched>,
) {
    let keys = before
        .keys()
        .chain(after.keys().filter(|k| !before.contains_key(k)));
    for key in keys {
        let (old, new) = (before.get(key), after.get(key));
        if old == new {
            continue;
        }
        let values: Vec<&T> = old
            .into_iter()
            .chain(new)
            .flat_map(|cell| std::iter::once(&cell.value).chain(&cell.competing))
            .collect();
        if let Some(day) = values.iter().map(|v| day(v)).min() {
            out.push(Touched {
                map,
                key: key.to_string(),
                day,
                lesson: values.first().map(|v| lesson(key, v)),
            });
        }
    }
}

/// Checks a delivery to a student's document against the school's edit-lock window, counted in days at
/// the school: `doc` holds the delivery merged, `before_heads` are the heads before it.
pub(crate) fn check_edit_lock(
    id: &DocId,
    before: &StudentDoc,
    after: &StudentDoc,
    settings: &SchoolSettings,
    window: &EditWindow<'_>,
    doc: &Automerge,
    before_heads: &[ChangeHash],
) -> Result<(), SchemaError> {
    let days = settings.policy.edit_lock_days;
    let zone = settings.time_zone;
    let Some(open_now) = first_open_day(zone.day_at(window.now), days) else {
        return Ok(());
    };
    let mut touched = Vec::new();
    touched_entries(
        "marks",
        &before.marks,
        &after.marks,
        |m| m.date,
        |_, m| m.lesson.clone(),
        &mut touched,
    );
    touched_entries(
        "attendance",
        &before.attendance,
        &after.attendance,
        |a: &crate::domain::model::Attendance| a.date,
        |lesson, _| lesson.clone(),
        &mut touched,
    );
    // An entry is as old as its lesson: a new mark for last month's lesson dated today is last month's.
    for entry in &mut touched {
        if let Some(day) = entry.lesson.as_ref().and_then(|l| (window.lesson_day)(l)) {
            entry.day = entry.day.min(day);
        }
    }
    // Most deliveries touch recent lessons only: nothing more to look at.
    if touched.iter().all(|t| t.day >= open_now) {
        return Ok(());
    }
    let changes = doc.get_changes(before_heads);
    // Made offline, an edit is judged on the day its device says it was made, but never earlier than the
    // device's last contact and never later than now.
    let claimed = changes
        .iter()
        .map(|c| c.timestamp())
        .min()
        .unwrap_or(window.now);
    let earliest = (window.previous_contact)()
        .unwrap_or(window.now)
        .min(window.now);
    let made = claimed.clamp(earliest, window.now);
    let Some(open) = first_open_day(zone.day_at(made), days) else {
        return Ok(());
    };
    let locked: Vec<&Touched> = touched.iter().filter(|t| t.day < open).collect();
    let Some(first) = locked.first() else {
        return Ok(());
    };
    if !window.administration {
        return Err(SchemaError::new(
            id,
            format!(
                "{} is locked: entries more than {days} days old are changed only by the administration, with a reason (regulation 2.1)",
                first.describe()
            ),
        ));
    }
    for change in changes.iter().filter(|c| reason_of(c.message()).is_none()) {
        for patch in doc.diff(change.deps(), &[change.hash()]) {
            let key = match &patch.action {
                PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key } => key,
                _ => continue,
            };
            // A change at the root that replaces a whole map touches every entry in it.
            let hit = match patch.path.last() {
                Some((_, Prop::Map(map))) => locked.iter().find(|t| t.map == map && &t.key == key),
                None => locked.iter().find(|t| t.map == key),
                _ => None,
            };
            if let Some(entry) = hit {
                return Err(SchemaError::new(
                    id,
                    format!(
                        "{} is locked: the administration changes it with a reason, and this change gives none",
                        entry.describe()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The reason a change gives, if any (its message, trimmed).
pub fn reason_of(message: Option<&str>) -> Option<&str> {
    message.map(str::trim).filter(|m| !m.is_empty())
}
