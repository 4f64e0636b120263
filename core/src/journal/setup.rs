//! Setting up a school year: its settings, subjects, classes, staff and students.

use super::*;

/// Everything administration sets up for a school year.
#[derive(Clone, Debug, PartialEq)]
pub struct SchoolSetup {
    /// Header, year, policy and bells.
    pub settings: SchoolSettings,
    /// The subject catalogue.
    pub subjects: Vec<(SubjectId, Subject)>,
}

impl SchoolSetup {
    /// A school with the standard year (trimesters), the default policy and bells, and no subjects yet.
    pub fn standard(year: YearId, name: &str) -> Self {
        SchoolSetup {
            settings: SchoolSettings {
                name: name.to_owned(),
                header: vec![name.to_owned()],
                year: SchoolYear::standard(year, TermScheme::Trimesters),
                policy: MarkingPolicy::default(),
                bells: BellSchedule::default(),
                time_zone: SchoolTimeZone::UTC,
            },
            subjects: Vec::new(),
        }
    }
}

impl Journal {
    /// Creates or updates the school's settings and subject catalogue for a year.
    pub fn set_up_school(&mut self, setup: &SchoolSetup) -> Result<()> {
        setup.settings.year.check()?;
        setup.settings.policy.check()?;
        if setup.settings.name.trim().is_empty() {
            return Err(InputError::Invalid("the school needs a name".to_owned()).into());
        }
        let id = DocId::School(setup.settings.year.id);
        self.change(|j, touched| {
            let doc = j.doc_mut(&id, touched)?;
            doc.set_school_settings(&setup.settings)?;
            for (subject_id, subject) in &setup.subjects {
                doc.put_subject(subject_id, subject)?;
            }
            Ok(())
        })
    }

    /// Sets the school's marking policy for a year (the edit-lock window among it), checked first.
    pub fn set_policy(&mut self, year: YearId, policy: &MarkingPolicy) -> Result<()> {
        policy.check()?;
        let mut settings = self.settings(year)?.clone();
        settings.policy = policy.clone();
        let id = DocId::School(year);
        self.change(|j, touched| j.doc_mut(&id, touched)?.set_school_settings(&settings))
    }

    /// Sets the school's time zone for the year: what "today" is for its journal and reports.
    pub fn set_time_zone(&mut self, year: YearId, zone: SchoolTimeZone) -> Result<()> {
        let mut settings = self.settings(year)?.clone();
        settings.time_zone = zone;
        let id = DocId::School(year);
        self.change(|j, touched| j.doc_mut(&id, touched)?.set_school_settings(&settings))
    }

    /// Records a staff member's name in the year's school document, for printouts and lists.
    pub fn set_staff_name(&mut self, year: YearId, account: &str, name: &str) -> Result<()> {
        let name = name.trim();
        if name.is_empty() || name.len() > crate::validate::MAX_KEY_BYTES {
            return Err(InputError::Invalid(format!(
                "a staff member's name is 1–{} bytes",
                crate::validate::MAX_KEY_BYTES
            ))
            .into());
        }
        self.settings(year)?;
        let id = DocId::School(year);
        self.change(|j, touched| j.doc_mut(&id, touched)?.set_staff_name(account, name))
    }

    /// Adds a class or changes its name, grade or class teacher.
    pub fn put_class(&mut self, year: YearId, class: &ClassId, info: &ClassInfo) -> Result<()> {
        self.settings(year)?;
        if info.name.trim().is_empty() || !(1..=11).contains(&info.grade) {
            return Err(InputError::Invalid(format!(
                "class {class} needs a name and a grade from 1 to 11"
            ))
            .into());
        }
        let id = DocId::Class(year, class.clone());
        self.change(|j, touched| j.doc_mut(&id, touched)?.set_class_info(info))
    }

    /// Assigns the teacher of a subject in a class.
    pub fn assign_subject(
        &mut self,
        year: YearId,
        class: &ClassId,
        subject: &SubjectId,
        teacher: &StaffId,
    ) -> Result<()> {
        self.known_subject(year, subject)?;
        self.class_doc(year, class)?;
        let id = DocId::Class(year, class.clone());
        let assignment = SubjectAssignment {
            teacher: teacher.clone(),
        };
        self.change(|j, touched| {
            j.doc_mut(&id, touched)?
                .put_subject_assignment(subject, &assignment)
        })
    }

    /// Enrols a student in a class from `joined` on, creating their year's documents.
    pub fn enrol_student(
        &mut self,
        year: YearId,
        class: &ClassId,
        student: &StudentId,
        name: &str,
        joined: Date,
    ) -> Result<()> {
        self.check_in_year(year, "enrolment", joined)?;
        self.class_doc(year, class)?;
        if name.trim().is_empty() {
            return Err(InputError::Invalid(format!("student {student} needs a name")).into());
        }
        if let Some(current) = self
            .student_doc(year, student)
            .and_then(|s| s.class.clone())
            && &current != class
        {
            return Err(InputError::Duplicate(format!(
                "student {student} is already in class {current}; move them instead"
            ))
            .into());
        }
        let entry = RosterEntry {
            name: name.trim().to_owned(),
            joined,
            left: None,
            exempt: Default::default(),
        };
        let class_id = DocId::Class(year, class.clone());
        let student_id = DocId::Student(year, student.clone());
        self.change(|j, touched| {
            j.doc_mut(&class_id, touched)?
                .put_roster_entry(student, &entry)?;
            j.doc_mut(&student_id, touched)?.set_student_class(class)?;
            Ok(())
        })
    }

    /// Takes a student off their class's list after `last_day`: they left the school. Their marks,
    /// attendance and place on the list until then stay.
    pub fn withdraw_student(
        &mut self,
        year: YearId,
        student: &StudentId,
        last_day: Date,
    ) -> Result<()> {
        self.check_in_year(year, "leaving", last_day)?;
        let class = self
            .student_doc(year, student)
            .and_then(|s| s.class.clone())
            .ok_or_else(|| unknown("student", student))?;
        let mut entry = self
            .class_doc(year, &class)?
            .roster
            .get(student)
            .map(|c| c.value.clone())
            .ok_or_else(|| unknown("student", student))?;
        if let Some(left) = entry.left {
            return Err(InputError::Duplicate(format!(
                "student {student} already left class {class} on {}",
                format_date(left)
            ))
            .into());
        }
        if last_day < entry.joined {
            return Err(InputError::Invalid(format!(
                "student {student} joined class {class} on {}, after {}",
                format_date(entry.joined),
                format_date(last_day)
            ))
            .into());
        }
        entry.left = Some(last_day);
        let class_id = DocId::Class(year, class);
        self.change(|j, touched| {
            j.doc_mut(&class_id, touched)?
                .put_roster_entry(student, &entry)
        })
    }

    /// Moves a student to another class from `date` on; their marks and attendance stay in their document.
    pub fn move_student(
        &mut self,
        year: YearId,
        student: &StudentId,
        to: &ClassId,
        date: Date,
    ) -> Result<()> {
        self.check_in_year(year, "move", date)?;
        let from = self
            .student_doc(year, student)
            .and_then(|s| s.class.clone())
            .ok_or_else(|| unknown("student", student))?;
        if &from == to {
            return Err(InputError::Duplicate(format!(
                "student {student} is already in class {to}"
            ))
            .into());
        }
        let mut old_entry = self
            .class_doc(year, &from)?
            .roster
            .get(student)
            .map(|c| c.value.clone())
            .ok_or_else(|| unknown("student", student))?;
        self.class_doc(year, to)?;
        let last_day = date
            .previous_day()
            .ok_or_else(|| InputError::Invalid("date out of range".to_owned()))?;
        let new_entry = RosterEntry {
            name: old_entry.name.clone(),
            joined: date,
            left: None,
            exempt: old_entry.exempt.clone(),
        };
        old_entry.left = Some(last_day);
        self.change(|j, touched| {
            j.doc_mut(&DocId::Class(year, from.clone()), touched)?
                .put_roster_entry(student, &old_entry)?;
            j.doc_mut(&DocId::Class(year, to.clone()), touched)?
                .put_roster_entry(student, &new_entry)?;
            j.doc_mut(&DocId::Student(year, student.clone()), touched)?
                .set_student_class(to)?;
            Ok(())
        })
    }

    /// Marks a student exempt from a subject (or not), which leaves them out of that subject's statistics.
    pub fn set_exempt(
        &mut self,
        year: YearId,
        class: &ClassId,
        student: &StudentId,
        subject: &SubjectId,
        exempt: bool,
    ) -> Result<()> {
        self.known_subject(year, subject)?;
        let mut entry = self
            .class_doc(year, class)?
            .roster
            .get(student)
            .map(|c| c.value.clone())
            .ok_or_else(|| unknown("student", student))?;
        if exempt {
            entry.exempt.insert(subject.clone());
        } else {
            entry.exempt.remove(subject);
        }
        let id = DocId::Class(year, class.clone());
        self.change(|j, touched| j.doc_mut(&id, touched)?.put_roster_entry(student, &entry))
    }

    /// Sets a student's personal data and records the review date.
    pub fn set_profile(
        &mut self,
        year: YearId,
        student: &StudentId,
        profile: &StudentProfile,
        reviewed: Date,
    ) -> Result<()> {
        if profile.full_name.trim().is_empty() {
            return Err(InputError::Invalid(
                "the profile needs the student's full name".to_owned(),
            )
            .into());
        }
        let id = DocId::Profile(year, student.clone());
        self.change(|j, touched| {
            let doc = j.doc_mut(&id, touched)?;
            doc.set_student_profile(profile)?;
            doc.set_last_reviewed(reviewed)
        })
    }

    /// Adds or updates one of a student's guardians in their profile.
    pub fn put_guardian(
        &mut self,
        year: YearId,
        student: &StudentId,
        id: &GuardianId,
        guardian: &Guardian,
    ) -> Result<()> {
        if guardian.name.trim().is_empty() {
            return Err(InputError::Invalid("a guardian needs a name".to_owned()).into());
        }
        let doc = DocId::Profile(year, student.clone());
        self.change(|j, touched| j.doc_mut(&doc, touched)?.put_guardian(id, guardian))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn a_student_who_leaves_is_off_the_list_after_their_last_day_and_keeps_their_history() {
        let mut journal = Journal::open_in_memory().expect("journal");
        testing::school(&mut journal).expect("school");
        let class = testing::class_with_students(&mut journal, "5a", 3).expect("class");
        let leaving = class.students[1].clone();
        let start = journal
            .settings(testing::YEAR)
            .expect("settings")
            .year
            .start;
        let last_day = start.saturating_add(time::Duration::days(30));
        journal
            .withdraw_student(testing::YEAR, &leaving, last_day)
            .expect("leaves");
        let on = |day: Date| -> Vec<StudentId> {
            journal
                .roster(testing::YEAR, &class.class, day)
                .expect("roster")
                .into_iter()
                .map(|(id, _)| id)
                .collect()
        };
        assert!(
            on(last_day).contains(&leaving),
            "on the list on their last day"
        );
        assert!(!on(last_day.next_day().expect("day")).contains(&leaving));
        assert!(
            journal
                .document(&DocId::Student(testing::YEAR, leaving.clone()))
                .is_some()
        );
        let again = journal
            .withdraw_student(testing::YEAR, &leaving, last_day)
            .expect_err("already left")
            .to_string();
        assert!(again.contains("already left"), "{again}");
        let early = journal
            .withdraw_student(
                testing::YEAR,
                &class.students[0],
                start.previous_day().expect("day"),
            )
            .expect_err("before the year")
            .to_string();
        assert!(!early.is_empty());
    }
}
