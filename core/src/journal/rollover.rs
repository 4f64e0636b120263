//! The year-end rollover: next year opened from this one, classes promoted, graduates let go.

use super::*;

/// What a rollover did: each old class and the class it became (`None`: it graduated), and the graduates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Promotion {
    /// Old class → new class.
    pub classes: Vec<(ClassId, Option<ClassId>)>,
    /// Students who finished school.
    pub graduates: Vec<StudentId>,
}

impl Journal {
    /// Opens the year after `from`: a new `school` document with the same settings and subjects and the
    /// standard dates; every class promoted one grade ("5А" → "6А", id `5a` → `6a`) with its class
    /// teacher, subject teachers and the students still on its roster; their profiles carried over.
    /// Eleventh grades graduate. Last year's documents are not touched.
    pub fn roll_over(&mut self, from: YearId) -> Result<Promotion> {
        let to = YearId(from.0 + 1);
        let settings = self.settings(from)?.clone();
        if self.school_settings(to).is_some() {
            return Err(
                InputError::Duplicate(format!("the school year {to} already exists")).into(),
            );
        }
        let scheme = match settings.year.terms.len() {
            4 => TermScheme::Quarters,
            2 => TermScheme::Semesters,
            _ => TermScheme::Trimesters,
        };
        let subjects: Vec<(SubjectId, Subject)> = self
            .school_doc(from)
            .map(|s| {
                s.subjects
                    .iter()
                    .map(|(id, c)| (id.clone(), c.value.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let mut next = settings.clone();
        next.year = SchoolYear::standard(to, scheme);
        let mut promotion = Promotion::default();
        let old_classes: Vec<(ClassId, ClassDoc)> = self
            .docs
            .iter()
            .filter_map(|(id, doc)| match (id, doc.view()) {
                (DocId::Class(year, class), View::Class(view)) if *year == from => {
                    Some((class.clone(), view.clone()))
                }
                _ => None,
            })
            .collect();
        let profiles: Vec<(StudentId, crate::docs::ProfileDoc)> = self
            .docs
            .iter()
            .filter_map(|(id, doc)| match (id, doc.view()) {
                (DocId::Profile(year, student), View::Profile(view)) if *year == from => {
                    Some((student.clone(), view.clone()))
                }
                _ => None,
            })
            .collect();
        let staff = self
            .school_doc(from)
            .map(|s| s.staff.clone())
            .unwrap_or_default();
        self.batch(|j| {
            j.set_up_school(&SchoolSetup {
                settings: next.clone(),
                subjects,
            })?;
            for (account, name) in &staff {
                j.set_staff_name(to, account, name)?;
            }
            for (class, view) in &old_classes {
                let Some(info) = view.info.as_ref().map(|c| c.value.clone()) else {
                    continue;
                };
                let staying: Vec<(StudentId, String)> = view
                    .roster
                    .iter()
                    .filter(|(_, e)| e.value.left.is_none())
                    .map(|(id, e)| (id.clone(), e.value.name.clone()))
                    .collect();
                if info.grade >= 11 {
                    promotion
                        .graduates
                        .extend(staying.into_iter().map(|(id, _)| id));
                    promotion.classes.push((class.clone(), None));
                    continue;
                }
                let grade = info.grade + 1;
                let old_grade = info.grade.to_string();
                let new_id = match class.as_str().strip_prefix(&old_grade) {
                    Some(rest) => ClassId::new(format!("{grade}{rest}"))?,
                    None => class.clone(),
                };
                let name = match info.name.strip_prefix(&old_grade) {
                    Some(rest) => format!("{grade}{rest}"),
                    None => info.name.clone(),
                };
                j.put_class(
                    to,
                    &new_id,
                    &ClassInfo {
                        name,
                        grade,
                        class_teacher: info.class_teacher.clone(),
                    },
                )?;
                for (subject, assignment) in &view.subjects {
                    j.assign_subject(to, &new_id, subject, &assignment.value.teacher)?;
                }
                for (student, name) in &staying {
                    j.enrol_student(to, &new_id, student, name, next.year.start)?;
                }
                promotion.classes.push((class.clone(), Some(new_id)));
            }
            for (student, profile) in &profiles {
                if promotion.graduates.contains(student) {
                    continue;
                }
                let id = DocId::Profile(to, student.clone());
                j.change(|j, touched| {
                    let doc = j.doc_mut(&id, touched)?;
                    if let Some(data) = &profile.student {
                        doc.set_student_profile(&data.value)?;
                    }
                    for (guardian, entry) in &profile.guardians {
                        doc.put_guardian(guardian, &entry.value)?;
                    }
                    if let Some(reviewed) = profile.last_reviewed {
                        doc.set_last_reviewed(reviewed)?;
                    }
                    Ok(())
                })?;
            }
            Ok(())
        })?;
        Ok(promotion)
    }
}
