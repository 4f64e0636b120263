//! Lessons: scheduled, given their topics and homework, planned in the thematic plan.

use super::*;

impl Journal {
    /// Schedules a lesson in a class and returns its id.
    pub fn add_lesson(
        &mut self,
        year: YearId,
        class: &ClassId,
        lesson: &NewLesson,
    ) -> Result<LessonId> {
        self.check_in_year(year, "lesson", lesson.date)?;
        self.known_subject(year, &lesson.subject)?;
        let class_doc = self.class_doc(year, class)?;
        if !(1..=12).contains(&lesson.period) {
            return Err(InputError::Invalid(format!(
                "period {} is not a lesson period (1–12)",
                lesson.period
            ))
            .into());
        }
        if let Some(other) = class_doc
            .lessons
            .values()
            .find(|l| l.date == lesson.date && l.period == lesson.period)
        {
            return Err(InputError::Duplicate(format!(
                "class {class} already has a lesson on {} in period {} (lesson {})",
                format_date(lesson.date),
                lesson.period,
                other.id
            ))
            .into());
        }
        let full = Lesson {
            id: LessonId::new(random_id())?,
            date: lesson.date,
            period: lesson.period,
            subject: lesson.subject.clone(),
            teacher: lesson.teacher.clone(),
            topic: lesson.topic.trim().to_owned(),
            homework: String::new(),
            homework_due: None,
        };
        let id = DocId::Class(year, class.clone());
        self.change(|j, touched| j.doc_mut(&id, touched)?.put_lesson(&full))?;
        self.lesson_index
            .insert(full.id.clone(), (year, class.clone()));
        Ok(full.id)
    }

    /// Sets the thematic plan of a subject in a class for a term: topics with their planned lessons.
    pub fn set_thematic_plan(
        &mut self,
        year: YearId,
        class: &ClassId,
        subject: &SubjectId,
        term: &TermId,
        topics: &[PlannedTopic],
    ) -> Result<()> {
        self.known_subject(year, subject)?;
        self.settings(year)?
            .year
            .term(term)
            .ok_or_else(|| unknown("term", term))?;
        self.class_doc(year, class)?;
        if let Some(bad) = topics
            .iter()
            .find(|t| t.topic.trim().is_empty() || t.lessons == 0)
        {
            return Err(InputError::Invalid(format!(
                "each planned topic needs a name and at least one lesson ({:?}, {})",
                bad.topic, bad.lessons
            ))
            .into());
        }
        let id = DocId::Class(year, class.clone());
        self.change(|j, touched| j.doc_mut(&id, touched)?.set_plan(subject, term, topics))
    }

    /// Sets the topic of a lesson.
    pub fn set_topic(&mut self, lesson: &LessonId, topic: &str) -> Result<()> {
        let (year, class, _) = self.lesson(lesson)?;
        let id = DocId::Class(year, class);
        self.change(|j, touched| {
            j.doc_mut(&id, touched)?
                .set_lesson_text(lesson, LessonField::Topic, topic.trim(), None)
        })
    }

    /// Sets the homework of a lesson, with an optional due date after the lesson.
    pub fn set_homework(&mut self, lesson: &LessonId, text: &str, due: Option<Date>) -> Result<()> {
        let (year, class, found) = self.lesson(lesson)?;
        if let Some(due) = due
            && due < found.date
        {
            return Err(InputError::Invalid(format!(
                "homework cannot be due ({}) before the lesson ({})",
                format_date(due),
                format_date(found.date)
            ))
            .into());
        }
        let id = DocId::Class(year, class);
        self.change(|j, touched| {
            j.doc_mut(&id, touched)?.set_lesson_text(
                lesson,
                LessonField::Homework,
                text.trim(),
                due,
            )
        })
    }
}
