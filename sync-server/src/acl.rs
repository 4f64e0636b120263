//! Who may read and write which document, decided only from the directory (ARCHITECTURE.md §2–3).
//!
//! Rights are keyed by the whole document id, year included. The directory describes one school year, the
//! newest the relay knows: the rights that come from a class (teaching it, a child in it, being in it) hold
//! for that year's documents only, so next year's 5A learns nothing of last year's 5A. The administration
//! reads every year; a student and their guardians read the student's own record and profile of every
//! year; a conversation is read by the members of that very document.

use std::collections::{BTreeSet, HashMap, HashSet};

use journal_core::{ClassId, DocId, Participant, StudentId, YearId};

use crate::store::{AccessFacts, Account, AccountRole, RelayStore, StoreResult};

/// One account's rights, computed from the directory at the start of a session or request.
#[derive(Clone, Debug)]
pub struct Grants {
    account: Account,
    staff: HashMap<ClassId, bool>,
    staff_students: HashMap<StudentId, ClassId>,
    children: HashMap<StudentId, ClassId>,
    own_class: Option<ClassId>,
    threads: HashSet<DocId>,
    consented: HashSet<StudentId>,
    year: Option<YearId>,
}

impl Grants {
    /// The grants of `account` for the directory's year `year` (the newest school year the relay knows;
    /// `None` before there is one); `None` when the account does not exist or is inactive.
    pub fn load(
        store: &dyn RelayStore,
        account: &str,
        year: Option<YearId>,
    ) -> StoreResult<Option<Grants>> {
        let AccessFacts {
            account,
            staff_classes,
            class_students,
            children,
            own_class,
            threads,
            consented,
        } = store.access_facts(account)?;
        Ok(account.filter(|a| a.active).map(|account| Grants {
            staff: staff_classes.into_iter().collect(),
            staff_students: class_students.into_iter().collect(),
            children: children.into_iter().collect(),
            own_class,
            threads: threads.into_iter().collect(),
            consented: consented.into_iter().collect(),
            account,
            year,
        }))
    }

    /// The account these grants belong to.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// Whether the account is the school's administration.
    pub fn is_admin(&self) -> bool {
        self.account.role == AccountRole::Administration
    }

    fn teaches(&self, class: &ClassId) -> bool {
        self.staff.contains_key(class)
    }

    /// Whether the account is the class teacher of `class`.
    pub fn is_class_teacher_of(&self, class: &ClassId) -> bool {
        self.class_teacher_of(class)
    }

    fn class_teacher_of(&self, class: &ClassId) -> bool {
        self.staff.get(class).copied().unwrap_or(false)
    }

    fn class_teacher_of_student(&self, student: &StudentId) -> bool {
        self.staff_students
            .get(student)
            .is_some_and(|class| self.class_teacher_of(class))
    }

    fn is_self(&self, student: &StudentId) -> bool {
        self.account.role == AccountRole::Student && self.account.student.as_ref() == Some(student)
    }

    /// Whether `doc` belongs to the year the directory describes, where class-based rights hold.
    fn this_year(&self, doc: &DocId) -> bool {
        self.year == Some(doc.year())
    }

    /// Whether the account may receive the document (or learn that it exists).
    pub fn can_read(&self, doc: &DocId) -> bool {
        if self.is_admin() && !matches!(doc, DocId::Thread(..)) {
            return true;
        }
        let this_year = self.this_year(doc);
        match doc {
            DocId::School(_) => true,
            DocId::Class(_, class) => {
                this_year
                    && (self.teaches(class)
                        || self.own_class.as_ref() == Some(class)
                        || self.children.values().any(|c| c == class))
            }
            DocId::Student(_, student) => {
                self.is_self(student)
                    || self.children.contains_key(student)
                    || (this_year && self.staff_students.contains_key(student))
            }
            DocId::Profile(_, student) => {
                self.children.contains_key(student) || self.keeps_profile_of(student, this_year)
            }
            DocId::Thread(..) => self.threads.contains(doc),
        }
    }

    /// Whether a class teacher keeps this student's profile: their class's, this year, and a guardian's
    /// consent to processing the child's personal data is in force (152-FZ). Without it the teacher has
    /// the student's name from the class list and nothing more.
    fn keeps_profile_of(&self, student: &StudentId, this_year: bool) -> bool {
        this_year && self.class_teacher_of_student(student) && self.consented.contains(student)
    }

    /// Whether the account may change the document.
    pub fn can_write(&self, doc: &DocId) -> bool {
        let this_year = self.this_year(doc);
        match doc {
            DocId::School(_) => self.is_admin(),
            // Administration sets classes up (roster, subject teachers); the class's staff keep them.
            DocId::Class(_, class) => self.is_admin() || (this_year && self.teaches(class)),
            // The administration corrects a record (the edit-lock window leaves old entries to it).
            DocId::Student(_, student) => {
                this_year && (self.is_admin() || self.staff_students.contains_key(student))
            }
            DocId::Profile(_, student) => {
                self.is_admin() || self.keeps_profile_of(student, this_year)
            }
            DocId::Thread(..) => self.threads.contains(doc),
        }
    }

    /// The class of a student this account teaches, in the directory's year.
    pub fn class_of_taught_student(&self, student: &StudentId) -> Option<&ClassId> {
        self.staff_students.get(student)
    }
}

impl Grants {
    /// Whether this account may start a conversation with `participants` (addresses as the thread document
    /// lists them): `Ok(())`, or the reason it may not. Staff write to anyone in the school; parents to the
    /// staff who teach their children and to the administration; students to their teachers; nobody to
    /// another family.
    pub fn may_start_thread(
        &self,
        store: &dyn RelayStore,
        participants: &BTreeSet<String>,
    ) -> StoreResult<Result<(), String>> {
        let me = Participant::Account(self.account.id.clone());
        let mut others = Vec::new();
        for raw in participants {
            match raw.parse::<Participant>() {
                Ok(p) if p == me => {}
                Ok(p) => others.push(p),
                Err(e) => return Ok(Err(e.to_string())),
            }
        }
        if !participants.contains(&me.to_string()) {
            return Ok(Err(format!(
                "a new conversation must list its author ({me}) among its participants"
            )));
        }
        if others.is_empty() {
            return Ok(Err(
                "a new conversation needs someone besides its author".to_owned()
            ));
        }
        for other in &others {
            if let Some(reason) = self.refuses(store, other)? {
                return Ok(Err(reason));
            }
        }
        Ok(Ok(()))
    }

    /// Why this account may not write to `other`, if it may not.
    fn refuses(&self, store: &dyn RelayStore, other: &Participant) -> StoreResult<Option<String>> {
        let staff = matches!(
            self.account.role,
            AccountRole::Administration | AccountRole::Teacher
        );
        let unknown = || Some(format!("{other} is not someone in this school"));
        match other {
            Participant::Guardians(student) | Participant::Student(student) => {
                if store.student(student)?.is_none() {
                    return Ok(unknown());
                }
                Ok((!staff).then(|| {
                    format!(
                        "only staff may start a conversation with a family or a student ({other})"
                    )
                }))
            }
            Participant::Account(id) => {
                let Some(account) = store.account(id)?.filter(|a| a.active) else {
                    return Ok(unknown());
                };
                if staff {
                    return Ok(None);
                }
                let allowed = match (self.account.role, account.role) {
                    (AccountRole::Parent, AccountRole::Administration) => true,
                    (AccountRole::Parent, AccountRole::Teacher) => {
                        let classes = store.access_facts(id)?.staff_classes;
                        classes
                            .iter()
                            .any(|(class, _)| self.children.values().any(|c| c == class))
                    }
                    (AccountRole::Student, AccountRole::Teacher) => {
                        let classes = store.access_facts(id)?.staff_classes;
                        classes
                            .iter()
                            .any(|(class, _)| self.own_class.as_ref() == Some(class))
                    }
                    _ => false,
                };
                Ok((!allowed).then(|| match self.account.role {
                    AccountRole::Parent => format!(
                        "parents may write to the staff who teach their children and to the administration; {other} is not one of them"
                    ),
                    _ => format!("students may write to their teachers; {other} is not one of them"),
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DirectoryStore;
    use crate::store::sqlite::SqliteStore;

    /// A school of two classes: 5a (teacher t5a, student kid with parent mum and their own account kid-acc)
    /// and 6b (teacher t6b, student sib with parent dad); the head of the school; a teacher who left.
    fn school() -> SqliteStore {
        let store = SqliteStore::open_in_memory().expect("store");
        let account = |id: &str, role, student: Option<&str>| Account {
            id: id.to_owned(),
            name: format!("Name of {id}"),
            role,
            active: id != "gone",
            student: student.map(|s| s.parse().expect("id")),
        };
        for (id, role, student) in [
            ("head", AccountRole::Administration, None),
            ("t5a", AccountRole::Teacher, None),
            ("t6b", AccountRole::Teacher, None),
            ("gone", AccountRole::Teacher, None),
            ("mum", AccountRole::Parent, None),
            ("dad", AccountRole::Parent, None),
            ("kid-acc", AccountRole::Student, Some("kid")),
        ] {
            store
                .put_account(&account(id, role, student))
                .expect("account");
        }
        let (c5a, c6b): (ClassId, ClassId) = ("5a".parse().expect("id"), "6b".parse().expect("id"));
        store
            .put_student(&"kid".parse().expect("id"), &c5a, "Kid")
            .expect("student");
        store
            .put_student(&"sib".parse().expect("id"), &c6b, "Sib")
            .expect("student");
        store.put_class_staff(&c5a, "t5a", true).expect("staff");
        store.put_class_staff(&c5a, "gone", false).expect("staff");
        store.put_class_staff(&c6b, "t6b", true).expect("staff");
        store
            .link_guardian("mum", &"kid".parse().expect("id"))
            .expect("guardian");
        store
            .link_guardian("dad", &"sib".parse().expect("id"))
            .expect("guardian");
        store
    }

    /// Whether `author` may start a conversation with `others` (the author listed too).
    fn may(store: &SqliteStore, author: &str, others: &[&str]) -> Result<(), String> {
        let grants = Grants::load(store, author, None)
            .expect("load")
            .expect("an account");
        let participants: BTreeSet<String> = others
            .iter()
            .map(|o| (*o).to_owned())
            .chain([format!("account:{author}")])
            .collect();
        grants
            .may_start_thread(store, &participants)
            .expect("store")
    }

    #[test]
    fn parents_write_to_their_childrens_teachers_and_the_administration_only() {
        let store = school();
        assert_eq!(may(&store, "mum", &["account:t5a"]), Ok(()));
        assert_eq!(may(&store, "mum", &["account:head"]), Ok(()));
        assert_eq!(may(&store, "mum", &["account:t5a", "account:head"]), Ok(()));
        for refused in [
            "account:t6b",
            "account:dad",
            "account:kid-acc",
            "guardians:sib",
            "student:kid",
        ] {
            assert!(may(&store, "mum", &[refused]).is_err(), "{refused}");
        }
        assert!(
            may(&store, "mum", &["account:t5a", "account:t6b"]).is_err(),
            "one participant out of reach refuses the whole conversation"
        );
    }

    #[test]
    fn students_write_to_their_own_teachers_only() {
        let store = school();
        assert_eq!(may(&store, "kid-acc", &["account:t5a"]), Ok(()));
        for refused in ["account:t6b", "account:head", "account:mum", "student:sib"] {
            let reason = may(&store, "kid-acc", &[refused]).expect_err(refused);
            assert!(!reason.is_empty());
        }
    }

    #[test]
    fn staff_write_to_anyone_in_the_school_but_not_to_strangers_or_those_who_left() {
        let store = school();
        for author in ["t6b", "head"] {
            for other in [
                "guardians:kid",
                "student:kid",
                "account:mum",
                "account:t5a",
                "account:kid-acc",
            ] {
                assert_eq!(may(&store, author, &[other]), Ok(()), "{author} → {other}");
            }
        }
        for unknown in ["account:nobody", "account:gone", "guardians:nobody"] {
            let reason = may(&store, "head", &[unknown]).expect_err(unknown);
            assert!(reason.contains("not someone in this school"), "{reason}");
        }
    }

    #[test]
    fn a_conversation_lists_its_author_and_someone_else() {
        let store = school();
        let grants = Grants::load(&store, "t5a", None)
            .expect("load")
            .expect("account");
        let without_author: BTreeSet<String> = ["account:head".to_owned()].into();
        let reason = grants
            .may_start_thread(&store, &without_author)
            .expect("store")
            .expect_err("the author is missing");
        assert!(reason.contains("must list its author"), "{reason}");
        let alone: BTreeSet<String> = ["account:t5a".to_owned()].into();
        let reason = grants
            .may_start_thread(&store, &alone)
            .expect("store")
            .expect_err("nobody else");
        assert!(reason.contains("someone besides"), "{reason}");
    }

    #[test]
    fn class_rights_hold_in_the_directorys_year_and_family_rights_in_every_year() {
        let store = school();
        store
            .add_thread_member(&"2026-2027/thread/t1".parse().expect("id"), "account:mum")
            .expect("member");
        let year = Some(YearId(2026));
        let grants = |account| {
            Grants::load(&store, account, year)
                .expect("load")
                .expect("account")
        };
        let doc = |id: &str| -> DocId { id.parse().expect("id") };
        let (teacher, mum, head) = (grants("t5a"), grants("mum"), grants("head"));
        assert!(teacher.can_read(&doc("2026-2027/class/5a")));
        assert!(teacher.can_write(&doc("2026-2027/student/kid")));
        for other_year in [
            "2025-2026/class/5a",
            "2027-2028/student/kid",
            "2029-2030/profile/kid",
        ] {
            assert!(!teacher.can_read(&doc(other_year)), "{other_year}");
            assert!(!teacher.can_write(&doc(other_year)), "{other_year}");
        }
        assert!(
            mum.can_read(&doc("2025-2026/student/kid")),
            "a child's own record, any year"
        );
        assert!(mum.can_read(&doc("2025-2026/profile/kid")));
        assert!(
            !mum.can_read(&doc("2025-2026/class/5a")),
            "last year's class is not this one"
        );
        assert!(mum.can_read(&doc("2026-2027/thread/t1")));
        assert!(
            !mum.can_read(&doc("2027-2028/thread/t1")),
            "the same thread id in another year is another conversation"
        );
        assert!(head.can_read(&doc("2025-2026/class/6b")));
        assert!(
            head.can_write(&doc("2026-2027/student/kid"))
                && !head.can_write(&doc("2025-2026/student/kid")),
            "the administration corrects this year's records"
        );
        assert!(
            !head.can_read(&doc("2026-2027/thread/t1")),
            "conversations are their members'"
        );
        let before_any_year = Grants::load(&store, "t5a", None)
            .expect("load")
            .expect("account");
        assert!(!before_any_year.can_read(&doc("2026-2027/class/5a")));
    }
}
