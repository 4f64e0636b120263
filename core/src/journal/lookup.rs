//! What people type for a class or a subject ("5А", "5а", "5a"; "Русский язык", "russian"), found among the
//! year's classes and subjects this device holds, and those lists for a person to choose from.

use super::*;

impl Journal {
    /// The classes of `year` this device holds: id and name, in the order of their names.
    pub fn classes(&self, year: YearId) -> Vec<(ClassId, String)> {
        let mut classes: Vec<(ClassId, String)> = self
            .docs
            .iter()
            .filter_map(|(id, doc)| match (id, doc.view()) {
                (DocId::Class(y, class), View::Class(view)) if *y == year => Some((
                    class.clone(),
                    view.info
                        .as_ref()
                        .map_or_else(|| class.to_string(), |info| info.value.name.clone()),
                )),
                _ => None,
            })
            .collect();
        classes.sort_by(|a, b| (a.1.len(), &a.1).cmp(&(b.1.len(), &b.1)));
        classes
    }

    /// The subjects of `year`: id and name, in the order of their names.
    pub fn subjects(&self, year: YearId) -> Vec<(SubjectId, String)> {
        let mut subjects: Vec<(SubjectId, String)> = self
            .school_doc(year)
            .map(|school| {
                school
                    .subjects
                    .iter()
                    .map(|(id, cell)| (id.clone(), cell.value.name.clone()))
                    .collect()
            })
            .unwrap_or_default();
        subjects.sort_by(|a, b| a.1.cmp(&b.1));
        subjects
    }

    /// The class `typed` names, by its id or its name, in either case and either alphabet.
    pub fn find_class(&self, year: YearId, typed: &str) -> Result<ClassId> {
        find(&self.classes(year), typed, "class")
    }

    /// The kinds of work of `year`'s marking policy: id and name («Устный ответ»), by name.
    pub fn work_kinds(&self, year: YearId) -> Vec<(WorkKindId, String)> {
        let mut kinds: Vec<(WorkKindId, String)> = self
            .school_settings(year)
            .map(|s| {
                s.policy
                    .work_kinds
                    .iter()
                    .map(|(id, kind)| (id.clone(), kind.name.clone()))
                    .collect()
            })
            .unwrap_or_default();
        kinds.sort_by(|a, b| a.1.cmp(&b.1));
        kinds
    }

    /// The kind of work `typed` names: its id or its name in either case («устный ответ», `oral`).
    pub fn find_work_kind(&self, year: YearId, typed: &str) -> Result<WorkKindId> {
        find(&self.work_kinds(year), typed, "kind of work")
    }

    /// The subject `typed` names, by its id or its name, in either case.
    pub fn find_subject(&self, year: YearId, typed: &str) -> Result<SubjectId> {
        find(&self.subjects(year), typed, "subject")
    }
}

/// The one of `known` (id, name) that `typed` names, or an error listing what may be typed.
fn find<T: Clone + std::fmt::Display>(known: &[(T, String)], typed: &str, kind: &str) -> Result<T> {
    let wanted = folded(typed);
    let found: Vec<&T> = known
        .iter()
        .filter(|(id, name)| folded(&id.to_string()) == wanted || folded(name) == wanted)
        .map(|(id, _)| id)
        .collect();
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        _ => {
            let choices: Vec<String> = known
                .iter()
                .map(|(id, name)| format!("{name} ({id})"))
                .collect();
            Err(InputError::Invalid(format!(
                "no {kind} {typed:?} here; {}",
                if choices.is_empty() {
                    "this device holds none yet: sync first".to_owned()
                } else {
                    format!("one of: {}", choices.join(", "))
                }
            ))
            .into())
        }
    }
}

/// `text` as it compares: lower case, no spaces, Cyrillic letters as the Latin ones ids are made of
/// ("5 А" → "5a", "7В" → "7v").
fn folded(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .map(|c| {
            match c {
                'а' => "a",
                'б' => "b",
                'в' => "v",
                'г' => "g",
                'д' => "d",
                'е' | 'ё' | 'э' => "e",
                'ж' => "zh",
                'з' => "z",
                'и' | 'й' => "i",
                'к' => "k",
                'л' => "l",
                'м' => "m",
                'н' => "n",
                'о' => "o",
                'п' => "p",
                'р' => "r",
                'с' => "s",
                'т' => "t",
                'у' => "u",
                'ф' => "f",
                'х' => "h",
                'ц' => "c",
                'ч' => "ch",
                'ш' => "sh",
                'щ' => "sch",
                'ы' => "y",
                'ю' => "yu",
                'я' => "ya",
                'ъ' | 'ь' => "",
                other => return other.to_string(),
            }
            .to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn a_class_is_found_as_people_type_it_and_an_unknown_one_lists_the_choices() {
        let mut journal = Journal::open_in_memory().expect("journal");
        testing::school(&mut journal).expect("school");
        let class = testing::class_with_students(&mut journal, "5a", 3).expect("class");
        let name = journal.classes(testing::YEAR)[0].1.clone();
        for typed in ["5a", "5A", "5а", "5А", " 5 А ", name.as_str()] {
            assert_eq!(
                journal.find_class(testing::YEAR, typed).expect(typed),
                class.class,
                "{typed:?}"
            );
        }
        let error = journal
            .find_class(testing::YEAR, "9Я")
            .expect_err("no such class")
            .to_string();
        assert!(
            error.contains("one of:") && error.contains("(5a)"),
            "{error}"
        );
        let (subject, subject_name) = journal.subjects(testing::YEAR)[0].clone();
        assert_eq!(
            journal
                .find_subject(testing::YEAR, &subject_name.to_uppercase())
                .expect("by name"),
            subject
        );
        let oral: WorkKindId = "oral".parse().expect("id");
        for typed in ["oral", "устный ответ", "Устный ответ"] {
            assert_eq!(
                journal.find_work_kind(testing::YEAR, typed).expect(typed),
                oral
            );
        }
        let error = journal
            .find_work_kind(testing::YEAR, "диктант")
            .expect_err("no such kind")
            .to_string();
        assert!(error.contains("Устный ответ (oral)"), "{error}");
    }
}
