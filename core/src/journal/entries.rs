//! What teachers enter for their students: attendance, marks, term and year marks.

use super::*;

/// One student's attendance at a lesson, as the teacher enters it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttendanceInput {
    /// The student.
    pub student: StudentId,
    /// The school's code, or `None` for present.
    pub code: Option<String>,
    /// Why (a sick note); may be empty.
    pub note: String,
}

/// The longest reason a correction may give, in characters.
pub const MAX_REASON_CHARS: usize = 500;

impl Journal {
    /// Runs `edit` as a correction: its edits are one transaction, and each of their changes gives
    /// `reason` (a sick note, a parent's note, why an old mark changes), which the relay's audit trail
    /// keeps. The administration changes entries past the edit-lock window only this way.
    pub fn with_reason<T>(
        &mut self,
        reason: &str,
        edit: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(InputError::Invalid("a correction needs a reason".to_owned()).into());
        }
        if reason.chars().count() > MAX_REASON_CHARS {
            return Err(InputError::Invalid(format!(
                "a reason is at most {MAX_REASON_CHARS} characters"
            ))
            .into());
        }
        let outer = self.reason.replace(reason.to_owned());
        let result = self.batch(edit);
        self.reason = outer;
        for doc in self.docs.values_mut() {
            doc.set_reason(self.reason.as_deref());
        }
        result
    }

    /// Today at the school (in its time zone), on the device's clock.
    pub fn today(&self) -> Date {
        self.pretended_today
            .unwrap_or_else(|| self.time_zone().today())
    }

    /// The school's time zone, from the newest year this device holds (UTC before it holds one).
    pub fn time_zone(&self) -> SchoolTimeZone {
        self.docs
            .iter()
            .filter_map(|(id, doc)| match (id, doc.view()) {
                (DocId::School(year), View::School(school)) => {
                    school.settings.as_ref().map(|s| (*year, s.value.time_zone))
                }
                _ => None,
            })
            .max_by_key(|(year, _)| *year)
            .map_or(SchoolTimeZone::UTC, |(_, zone)| zone)
    }

    /// Makes the device take `today` for today, as a test needs.
    #[cfg(feature = "testing")]
    pub fn pretend_today(&mut self, today: Date) {
        self.pretended_today = Some(today);
    }

    /// Refuses an edit of an entry of the lesson on `date` past the school's edit-lock window, unless the
    /// administration makes it with a reason; the relay refuses it too, so it is said before anything is
    /// sent.
    fn check_edit_window(&mut self, year: YearId, date: Date) -> Result<()> {
        let days = self.settings(year)?.policy.edit_lock_days;
        let today = self.today();
        let Some(open) = crate::validate::first_open_day(today, days) else {
            return Ok(());
        };
        if date >= open {
            return Ok(());
        }
        let administration = self
            .my_directory()?
            .is_some_and(|me| me.role == crate::roles::AccountRole::Administration);
        if administration && self.reason.is_some() {
            return Ok(());
        }
        Err(InputError::EditLocked {
            date: format_date(date),
            days,
            administration,
        }
        .into())
    }

    fn check_on_roster(
        &self,
        year: YearId,
        class: &ClassId,
        student: &StudentId,
        date: Date,
    ) -> Result<()> {
        let on_roster = self
            .class_doc(year, class)?
            .roster
            .get(student)
            .is_some_and(|entry| entry.value.active_on(date));
        if on_roster {
            Ok(())
        } else {
            Err(InputError::StudentNotInClass {
                student: student.to_string(),
                class: class.to_string(),
                date: format_date(date),
            }
            .into())
        }
    }

    /// Records attendance at a lesson for the given students, in one transaction over all their documents.
    pub fn mark_attendance(
        &mut self,
        lesson: &LessonId,
        entries: &[AttendanceInput],
    ) -> Result<()> {
        let (year, class, found) = self.lesson(lesson)?;
        let found = found.clone();
        let policy = &self.settings(year)?.policy;
        // Codes are kept as the school lists them, whichever case or keyboard layout they were typed in.
        let entries = entries
            .iter()
            .map(|entry| {
                let code = match &entry.code {
                    Some(typed) => Some(policy.read_attendance_code(typed)?.code.clone()),
                    None => None,
                };
                Ok(AttendanceInput {
                    code,
                    ..entry.clone()
                })
            })
            .collect::<Result<Vec<_>>>()?;
        self.check_edit_window(year, found.date)?;
        for entry in &entries {
            self.check_on_roster(year, &class, &entry.student, found.date)?;
        }
        self.change(|j, touched| {
            for entry in &entries {
                let attendance = Attendance {
                    subject: found.subject.clone(),
                    date: found.date,
                    period: found.period,
                    code: entry.code.clone(),
                    note: entry.note.trim().to_owned(),
                };
                j.doc_mut(&DocId::Student(year, entry.student.clone()), touched)?
                    .put_attendance(lesson, &attendance)?;
            }
            Ok(())
        })
    }

    /// Corrects one student's attendance at a lesson (regulation 4.2: a sick note, a parent's note); `code`
    /// `None` marks them present. The entry notes the reason and its change gives it, so the relay's audit
    /// trail keeps who corrected it, when and why; the reports count the corrected code.
    pub fn correct_attendance(
        &mut self,
        lesson: &LessonId,
        student: &StudentId,
        code: Option<&str>,
        reason: &str,
    ) -> Result<()> {
        let entry = AttendanceInput {
            student: student.clone(),
            code: code.map(str::to_owned),
            note: reason.trim().to_owned(),
        };
        self.with_reason(reason, |j| j.mark_attendance(lesson, &[entry]))
    }

    /// Puts a mark for a student in a lesson (one per lesson and kind of work; a second put changes it).
    pub fn put_mark(
        &mut self,
        student: &StudentId,
        lesson: &LessonId,
        input: &MarkInput,
    ) -> Result<MarkId> {
        let (year, class, found) = self.lesson(lesson)?;
        let found = found.clone();
        self.settings(year)?.policy.work_kind(&input.kind)?;
        self.check_edit_window(year, found.date)?;
        self.check_on_roster(year, &class, student, found.date)?;
        let mark = Mark {
            lesson: lesson.clone(),
            subject: found.subject.clone(),
            date: found.date,
            value: input.value,
            kind: input.kind.clone(),
            comment: input.comment.trim().to_owned(),
            teacher: self.mark_signer(&found.teacher)?,
        };
        let mark_id = crate::docs::mark_id(lesson, &input.kind);
        let id = DocId::Student(year, student.clone());
        self.change(|j, touched| j.doc_mut(&id, touched)?.put_mark(&mark_id, &mark))?;
        Ok(mark_id)
    }

    /// Who signs a mark given in a lesson: the signed-in staff member (the relay accepts a mark signed by its
    /// author), or the lesson's teacher on a device that has not signed in.
    fn mark_signer(&mut self, lesson_teacher: &StaffId) -> Result<StaffId> {
        if self.signer.is_none() {
            let staff = self
                .my_directory()?
                .filter(|d| matches!(d.role.as_str(), "teacher" | "administration"));
            self.signer = Some(staff.map(|me| StaffId::new(me.account)).transpose()?);
        }
        Ok(self
            .signer
            .clone()
            .flatten()
            .unwrap_or_else(|| lesson_teacher.clone()))
    }

    /// Removes a mark.
    pub fn remove_mark(&mut self, year: YearId, student: &StudentId, mark: &MarkId) -> Result<()> {
        let date = self
            .student_doc(year, student)
            .and_then(|s| s.marks.get(mark))
            .map(|cell| cell.value.date)
            .ok_or_else(|| unknown("mark", mark))?;
        self.check_edit_window(year, date)?;
        let id = DocId::Student(year, student.clone());
        self.change(|j, touched| j.doc_mut(&id, touched)?.delete_mark(mark))
    }

    /// Sets a student's term or year mark in a subject.
    pub fn set_final_mark(
        &mut self,
        year: YearId,
        student: &StudentId,
        key: &FinalMarkKey,
        mark: &PeriodMark,
    ) -> Result<()> {
        self.known_subject(year, &key.subject)?;
        if let MarkPeriod::Term(term) = &key.period {
            self.settings(year)?
                .year
                .term(term)
                .ok_or_else(|| unknown("term", term))?;
        }
        self.student_doc(year, student)
            .ok_or_else(|| unknown("student", student))?;
        let id = DocId::Student(year, student.clone());
        self.change(|j, touched| j.doc_mut(&id, touched)?.put_final_mark(key, mark))
    }
}
