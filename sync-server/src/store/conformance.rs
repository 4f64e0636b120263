//! The conformance suite every relay store backend must pass. A backend's test module invokes
//! [`relay_store_conformance!`](crate::relay_store_conformance) with its constructor.

use automerge::transaction::Transactable;
use automerge::{Automerge, ROOT, ReadDoc};
use journal_core::{ClassId, DocId, StudentId};

use super::{
    Account, AccountRole, AdminLogEntry, Attribution, CodeRecord, CodeRole, ConsentRecord, Device,
    FirstChanges, MissingChanges, NewChange, Redemption, RelayStore, RosterImport, StoreError,
    StoredChange,
};

/// Generates one `#[test]` per conformance check for a backend built by `$make`.
#[macro_export]
macro_rules! relay_store_conformance {
    ($make:expr) => {
        $crate::relay_store_conformance!(@tests $make;
            documents_round_trip_with_their_audit_trail,
            compaction_keeps_every_change_loadable,
            a_write_from_a_stale_copy_changes_nothing,
            a_peer_at_recorded_heads_gets_the_changes_after_them,
            sync_states_round_trip,
            directory_facts_follow_staff_guardians_and_moves,
            staff_are_the_active_teachers_and_administration_with_their_classes,
            devices_are_added_listed_and_revoked,
            sessions_are_logged,
            codes_are_spent_once_and_reissue_retires_the_old_one,
            a_roster_import_applies_whole,
            the_admin_log_keeps_order,
            mail_is_read_in_order_and_expires,
            rate_limits_admit_a_burst_then_one_per_interval,
            frozen_years_stay_frozen,
            promotion_moves_classes_all_at_once,
            consent_is_recorded_for_guardians_and_the_newest_entry_is_in_force,
            a_new_thread_stores_its_members_and_first_changes_together);
    };
    (@tests $make:expr; $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                let store = $make;
                $crate::store::conformance::$name(&store);
            }
        )*
    };
}

fn by(account: &str) -> Attribution {
    Attribution {
        account: account.to_owned(),
        device: format!("{account}-tablet"),
        at: 1_790_000_000,
    }
}

fn change(doc: &mut Automerge, key: &str, value: &str) -> NewChange {
    let mut tx = doc.transaction();
    tx.put(ROOT, key, value).expect("put");
    let (hash, _) = tx.commit();
    let hash = hash.expect("a change");
    NewChange::of(doc.get_change_by_hash(&hash).expect("stored").clone())
}

/// Changes as the store reads them back.
fn stored(changes: &[NewChange]) -> Vec<StoredChange> {
    changes
        .iter()
        .map(|c| StoredChange {
            hash: c.hash.clone(),
            bytes: c.bytes.clone(),
        })
        .collect()
}

/// How many changes the audit trail says were delivered.
fn delivered(store: &dyn RelayStore, id: &str) -> u64 {
    store
        .audit_trail(id)
        .expect("trail")
        .iter()
        .map(|d| d.count)
        .sum()
}

fn heads(doc: &Automerge) -> Vec<String> {
    doc.get_heads().iter().map(ToString::to_string).collect()
}

/// A copy that missed another writer's changes cannot write: its changes, heads and snapshot are refused
/// whole, and the other writer's change stays loadable.
pub fn a_write_from_a_stale_copy_changes_nothing(store: &dyn RelayStore) {
    let mut ours = Automerge::new();
    let first = change(&mut ours, "a", "1");
    store
        .append_changes("d", &[first], &heads(&ours), &by("t"), None, Some(&[]))
        .expect("a new document, from nothing");
    let base = heads(&ours);
    let mut theirs = ours.fork();
    let their_change = change(&mut theirs, "b", "2");
    store
        .append_changes(
            "d",
            &[their_change],
            &heads(&theirs),
            &by("other"),
            None,
            Some(&base),
        )
        .expect("the other relay's write");
    let our_change = change(&mut ours, "c", "3");
    let refused = store
        .append_changes(
            "d",
            &[our_change],
            &heads(&ours),
            &by("t"),
            Some(&ours.save()),
            Some(&base),
        )
        .expect_err("written from a stale copy");
    assert!(
        matches!(refused, super::StoreError::Stale(ref d) if d == "d"),
        "{refused}"
    );
    assert_eq!(
        store.document_heads().expect("heads"),
        vec![("d".to_owned(), heads(&theirs))]
    );
    let loaded =
        Automerge::load(&store.load_document("d").expect("load").expect("stored")).expect("valid");
    assert!(
        loaded.get(ROOT, "b").expect("read").is_some(),
        "their change stays"
    );
    assert!(
        loaded.get(ROOT, "c").expect("read").is_none(),
        "ours was not written"
    );
    assert_eq!(delivered(store, "d"), 2);
}

/// Changes append, load back as one document, list with their heads, and keep who delivered them.
pub fn documents_round_trip_with_their_audit_trail(store: &dyn RelayStore) {
    let mut doc = Automerge::new();
    let first = change(&mut doc, "a", "1");
    let second = change(&mut doc, "b", "2");
    store
        .append_changes(
            "d1",
            std::slice::from_ref(&first),
            std::slice::from_ref(&first.hash),
            &by("teacher"),
            None,
            None,
        )
        .expect("append");
    store
        .append_changes(
            "d1",
            &[second.clone(), first.clone()],
            &heads(&doc),
            &by("other"),
            None,
            None,
        )
        .expect("append again, with a duplicate");
    let bytes = store.load_document("d1").expect("load").expect("stored");
    let loaded = Automerge::load(&bytes).expect("valid document");
    assert_eq!(loaded.get_heads(), doc.get_heads());
    assert_eq!(
        store.document_heads().expect("heads"),
        vec![("d1".to_owned(), heads(&doc))]
    );
    let trail = store.audit_trail("d1").expect("trail");
    let who: Vec<(&[u8], u64, u64, &str, &str)> = trail
        .iter()
        .map(|d| {
            (
                d.actor.as_slice(),
                d.first_seq,
                d.count,
                d.account.as_str(),
                d.device.as_str(),
            )
        })
        .collect();
    assert_eq!(
        who,
        [
            (first.actor.as_slice(), 1, 1, "teacher", "teacher-tablet"),
            (second.actor.as_slice(), 2, 1, "other", "other-tablet")
        ],
        "each change once, by the first to deliver it"
    );
    assert_eq!(trail[0].at, by("teacher").at);
    let version = store.outside_writes().expect("version");
    store
        .append_changes("d1", &[], &heads(&doc), &by("other"), None, None)
        .expect("own write");
    assert_eq!(
        store.outside_writes().expect("version"),
        version,
        "the store's own writes are not outside writes"
    );
    assert!(store.load_document("missing").expect("load").is_none());
}

/// A snapshot replaces the changes before it; later changes still load on top of it.
pub fn compaction_keeps_every_change_loadable(store: &dyn RelayStore) {
    let mut doc = Automerge::new();
    let changes: Vec<NewChange> = (0..5)
        .map(|i| change(&mut doc, "k", &i.to_string()))
        .collect();
    store
        .append_changes("d", &changes, &heads(&doc), &by("t"), None, None)
        .expect("append");
    assert_eq!(store.changes_since_snapshot("d").expect("count"), 5);
    let snapshot = doc.save();
    store
        .append_changes("d", &[], &heads(&doc), &by("t"), Some(&snapshot), None)
        .expect("compact");
    assert_eq!(store.changes_since_snapshot("d").expect("count"), 0);
    let later = change(&mut doc, "k", "later");
    store
        .append_changes("d", &[later], &heads(&doc), &by("t"), None, None)
        .expect("append");
    let loaded =
        Automerge::load(&store.load_document("d").expect("load").expect("stored")).expect("valid");
    assert_eq!(loaded.get_heads(), doc.get_heads());
    assert_eq!(delivered(store, "d"), 6, "compaction keeps the audit trail");
}

/// Heads written from a copy that held exactly the stored changes are indexed: a peer at those heads gets
/// the changes stored after them and the heads now. Heads written blind, unknown heads, and changes whose
/// bytes now live only in the snapshot get `None`.
pub fn a_peer_at_recorded_heads_gets_the_changes_after_them(store: &dyn RelayStore) {
    let mut doc = Automerge::new();
    let first = change(&mut doc, "a", "1");
    store
        .append_changes("d", &[first], &heads(&doc), &by("t"), None, Some(&[]))
        .expect("a new document");
    let at_first = heads(&doc);
    let later = vec![change(&mut doc, "b", "2"), change(&mut doc, "c", "3")];
    store
        .append_changes("d", &later, &heads(&doc), &by("t"), None, Some(&at_first))
        .expect("two more");
    let at_third = heads(&doc);
    assert_eq!(
        store.changes_after_heads("d", &at_first).expect("read"),
        Some(MissingChanges {
            changes: stored(&later),
            heads: at_third.clone()
        })
    );
    assert_eq!(
        store.changes_after_heads("d", &at_third).expect("read"),
        Some(MissingChanges {
            changes: Vec::new(),
            heads: at_third.clone()
        }),
        "a peer at the newest heads lacks nothing"
    );
    assert_eq!(
        store
            .changes_after_heads("d", &["00".repeat(32)])
            .expect("read"),
        None
    );
    assert_eq!(
        store.changes_after_heads("e", &at_first).expect("read"),
        None
    );

    // A write without a base (an import from a copy read earlier) may not close what is stored: its
    // heads are the document's now, and nothing more.
    let blind = change(&mut doc, "d", "4");
    store
        .append_changes(
            "d",
            std::slice::from_ref(&blind),
            &heads(&doc),
            &by("t"),
            None,
            None,
        )
        .expect("a blind write");
    let at_blind = heads(&doc);
    assert_eq!(
        store.changes_after_heads("d", &at_blind).expect("read"),
        Some(MissingChanges {
            changes: Vec::new(),
            heads: at_blind.clone()
        }),
        "a peer at the stored heads lacks nothing"
    );
    let fifth = change(&mut doc, "e", "5");
    store
        .append_changes(
            "d",
            std::slice::from_ref(&fifth),
            &heads(&doc),
            &by("t"),
            None,
            Some(&at_blind),
        )
        .expect("a fifth");
    assert_eq!(
        store.changes_after_heads("d", &at_blind).expect("read"),
        None,
        "heads written blind were not indexed"
    );
    assert_eq!(
        store.changes_after_heads("d", &at_first).expect("read"),
        Some(MissingChanges {
            changes: stored(&[later, vec![blind, fifth]].concat()),
            heads: heads(&doc)
        })
    );

    // Compaction keeps only the audit rows of what the snapshot holds.
    store
        .append_changes(
            "d",
            &[],
            &heads(&doc),
            &by("t"),
            Some(&doc.save()),
            Some(&heads(&doc)),
        )
        .expect("compact");
    assert_eq!(
        store.changes_after_heads("d", &at_first).expect("read"),
        None,
        "those changes are inside the snapshot now"
    );
}

/// Sync states are kept per device and document.
pub fn sync_states_round_trip(store: &dyn RelayStore) {
    store.put_sync_state("dev", "d", b"one").expect("put");
    store.put_sync_state("dev", "d", b"two").expect("overwrite");
    store.put_sync_state("other", "d", b"x").expect("put");
    assert_eq!(
        store.sync_state("dev", "d").expect("get"),
        Some(b"two".to_vec())
    );
    assert_eq!(store.sync_state("dev", "e").expect("get"), None);
}

fn account(id: &str, role: AccountRole) -> Account {
    Account {
        id: id.to_owned(),
        name: format!("Name of {id}"),
        role,
        active: true,
        student: None,
    }
}

/// The staff list holds active teachers and administration with the classes each teaches, nobody else.
pub fn staff_are_the_active_teachers_and_administration_with_their_classes(store: &dyn RelayStore) {
    let (class_a, class_b): (ClassId, ClassId) =
        ("5a".parse().expect("id"), "6b".parse().expect("id"));
    for (id, role) in [
        ("head", AccountRole::Administration),
        ("maths", AccountRole::Teacher),
        ("music", AccountRole::Teacher),
        ("mum", AccountRole::Parent),
    ] {
        store.put_account(&account(id, role)).expect("account");
    }
    let mut gone = account("gone", AccountRole::Teacher);
    gone.active = false;
    store.put_account(&gone).expect("account");
    store
        .put_class_staff(&class_b, "maths", false)
        .expect("staff");
    store
        .put_class_staff(&class_a, "maths", true)
        .expect("staff");
    store
        .put_class_staff(&class_a, "gone", false)
        .expect("staff");

    let staff: Vec<(String, AccountRole, Vec<ClassId>)> = store
        .staff()
        .expect("staff")
        .into_iter()
        .map(|(account, classes)| (account.id, account.role, classes))
        .collect();
    assert_eq!(
        staff,
        vec![
            ("head".to_owned(), AccountRole::Administration, vec![]),
            (
                "maths".to_owned(),
                AccountRole::Teacher,
                vec![class_a, class_b]
            ),
            ("music".to_owned(), AccountRole::Teacher, vec![]),
        ]
    );
}

/// Consent is recorded only for a student's guardian; the register keeps every entry in order, and a class
/// teacher's facts list the students whose newest entry from a guardian gives consent.
pub fn consent_is_recorded_for_guardians_and_the_newest_entry_is_in_force(store: &dyn RelayStore) {
    let class: ClassId = "5a".parse().expect("id");
    let (kid, other): (StudentId, StudentId) =
        ("kid".parse().expect("id"), "oth".parse().expect("id"));
    for (id, role) in [
        ("form-teacher", AccountRole::Teacher),
        ("maths", AccountRole::Teacher),
        ("mum", AccountRole::Parent),
        ("dad", AccountRole::Parent),
    ] {
        store.put_account(&account(id, role)).expect("account");
    }
    store.put_student(&kid, &class, "Kid").expect("student");
    store.put_student(&other, &class, "Other").expect("student");
    store
        .put_class_staff(&class, "form-teacher", true)
        .expect("staff");
    store
        .put_class_staff(&class, "maths", false)
        .expect("staff");
    store.link_guardian("mum", &kid).expect("link");
    store.link_guardian("dad", &kid).expect("link");
    let entry = |guardian: &str, student: &StudentId, given: bool, at: i64| ConsentRecord {
        student: student.clone(),
        guardian: guardian.to_owned(),
        given,
        signed_on: "2026-09-01".to_owned(),
        text_version: "2026-1".to_owned(),
        recorded_by: "form-teacher".to_owned(),
        recorded_at: at,
    };
    let consented = |account: &str| store.access_facts(account).expect("facts").consented;

    assert!(matches!(
        store.record_consent(&entry("mum", &other, true, 1)),
        Err(StoreError::NotFound(_))
    ));
    assert!(consented("form-teacher").is_empty());
    store
        .record_consent(&entry("mum", &kid, true, 2))
        .expect("given");
    assert_eq!(consented("form-teacher"), vec![kid.clone()]);
    assert!(
        consented("maths").is_empty(),
        "only the class teacher keeps profiles"
    );
    store
        .record_consent(&entry("dad", &kid, true, 3))
        .expect("given");
    store
        .record_consent(&entry("mum", &kid, false, 4))
        .expect("withdrawn");
    assert_eq!(
        consented("form-teacher"),
        vec![kid.clone()],
        "dad's still holds"
    );
    store
        .record_consent(&entry("dad", &kid, false, 5))
        .expect("withdrawn");
    assert!(consented("form-teacher").is_empty());

    let register: Vec<(String, bool, i64)> = store
        .consents(Some(&kid))
        .expect("register")
        .into_iter()
        .map(|r| (r.guardian, r.given, r.recorded_at))
        .collect();
    assert_eq!(
        register,
        [
            ("mum".to_owned(), true, 2),
            ("dad".to_owned(), true, 3),
            ("mum".to_owned(), false, 4),
            ("dad".to_owned(), false, 5)
        ]
    );
    assert!(store.consents(Some(&other)).expect("register").is_empty());
    assert_eq!(store.consents(None).expect("register").len(), 4);
    assert_eq!(
        store.guardian_links().expect("links"),
        [("dad".to_owned(), kid.clone()), ("mum".to_owned(), kid)]
    );
}

/// Access facts reflect class staff, guardianship, a student's own class, threads, and moves.
pub fn directory_facts_follow_staff_guardians_and_moves(store: &dyn RelayStore) {
    let class_a = "5a".parse().expect("id");
    let class_b = "6b".parse().expect("id");
    let kid = "kid".parse().expect("id");
    let sibling = "sib".parse().expect("id");
    store
        .put_account(&account("teacher", AccountRole::Teacher))
        .expect("account");
    store
        .put_account(&account("mum", AccountRole::Parent))
        .expect("account");
    let mut student = account("kid-account", AccountRole::Student);
    student.student = Some("kid".parse().expect("id"));
    store.put_account(&student).expect("account");
    store.put_student(&kid, &class_a, "Kid").expect("student");
    store
        .put_student(&sibling, &class_b, "Sibling")
        .expect("student");
    store
        .put_class_staff(&class_a, "teacher", true)
        .expect("staff");
    store.link_guardian("mum", &kid).expect("guardian");
    store.link_guardian("mum", &sibling).expect("guardian");
    store
        .add_thread_member(&"2026-2027/thread/t1".parse().expect("id"), "account:mum")
        .expect("thread");
    // A family conversation reaches every guardian of the student; a student's, the student's account.
    store
        .add_thread_member(&"2026-2027/thread/t2".parse().expect("id"), "guardians:sib")
        .expect("thread");
    store
        .add_thread_member(&"2026-2027/thread/t3".parse().expect("id"), "student:kid")
        .expect("thread");
    assert!(
        store.link_guardian("nobody", &kid).is_err(),
        "unknown account refused"
    );

    let teacher = store.access_facts("teacher").expect("facts");
    assert_eq!(teacher.staff_classes, vec![(class_a.clone(), true)]);
    assert_eq!(teacher.class_students, vec![(kid.clone(), class_a.clone())]);
    let mum = store.access_facts("mum").expect("facts");
    let mut children = mum.children.clone();
    children.sort();
    assert_eq!(
        children,
        vec![
            (kid.clone(), class_a.clone()),
            (sibling.clone(), class_b.clone())
        ]
    );
    assert_eq!(
        mum.threads,
        vec![
            "2026-2027/thread/t1".parse().expect("id"),
            "2026-2027/thread/t2".parse().expect("id")
        ]
    );
    assert_eq!(
        store.access_facts("kid-account").expect("facts").threads,
        vec!["2026-2027/thread/t3".parse().expect("id")]
    );
    assert!(
        store
            .access_facts("teacher")
            .expect("facts")
            .threads
            .is_empty()
    );
    assert_eq!(
        store.access_facts("kid-account").expect("facts").own_class,
        Some(class_a.clone())
    );
    assert!(
        store
            .access_facts("nobody")
            .expect("facts")
            .account
            .is_none()
    );

    store.put_student(&kid, &class_b, "Kid").expect("move");
    assert!(
        store
            .access_facts("teacher")
            .expect("facts")
            .class_students
            .is_empty()
    );
    store
        .remove_class_staff(&class_a, "teacher")
        .expect("remove");
    assert!(
        store
            .access_facts("teacher")
            .expect("facts")
            .staff_classes
            .is_empty()
    );
    let mut inactive = account("teacher", AccountRole::Teacher);
    inactive.active = false;
    store.put_account(&inactive).expect("deactivate");
    assert_eq!(
        store.account("teacher").expect("get").map(|a| a.active),
        Some(false)
    );
}

/// Devices are stored with their token hash, listed per account and revoked.
pub fn devices_are_added_listed_and_revoked(store: &dyn RelayStore) {
    store
        .put_account(&account("t", AccountRole::Teacher))
        .expect("account");
    let device = Device {
        id: "dev1".into(),
        account: "t".into(),
        label: "tablet".into(),
        created_at: 10,
        revoked_at: None,
    };
    store.add_device(&device, b"hash").expect("add");
    let orphan = Device {
        account: "nobody".into(),
        id: "dev2".into(),
        ..device.clone()
    };
    assert!(store.add_device(&orphan, b"hash").is_err());
    assert_eq!(
        store.device_auth("dev1").expect("auth"),
        Some((device.clone(), b"hash".to_vec()))
    );
    assert_eq!(store.devices_of("t").expect("list"), vec![device]);
    assert!(store.revoke_device("dev1", 20).expect("revoke"));
    assert!(store.revoke_device("dev1", 30).expect("again"));
    assert_eq!(
        store.devices_of("t").expect("list")[0].revoked_at,
        Some(20),
        "first revocation time kept"
    );
    assert!(!store.revoke_device("missing", 20).expect("revoke"));
}

/// Sessions are logged from start to end.
pub fn sessions_are_logged(store: &dyn RelayStore) {
    let id = store.start_session("a", "d", 100).expect("start");
    let other = store.start_session("b", "e", 200).expect("start");
    store.end_session(id, 150, 7).expect("end");
    let sessions = store.sessions_between(0, 199).expect("list");
    assert_eq!(sessions.len(), 1);
    assert_eq!(
        (sessions[0].ended_at, sessions[0].documents_synced),
        (Some(150), 7)
    );
    assert_eq!(
        store
            .sessions_between(0, 1_000)
            .expect("list")
            .last()
            .map(|s| s.id),
        Some(other)
    );
    let again = store.start_session("a", "d", 300).expect("start");
    store.end_session(again, 310, 0).expect("end");
    assert_eq!(store.last_seen("d").expect("d"), Some(300));
    assert_eq!(store.last_seen("e").expect("e"), Some(200));
    assert_eq!(store.last_seen("never").expect("never"), None);
    assert_eq!(store.contact_before("d", 300).expect("d"), Some(100));
    assert_eq!(store.contact_before("d", 301).expect("d"), Some(300));
    assert_eq!(store.contact_before("d", 100).expect("d"), None);
}

fn code(id: &str, student: &str, issued_at: i64) -> CodeRecord {
    CodeRecord {
        id: id.to_owned(),
        role: CodeRole::Parent,
        account: None,
        student: Some(student.parse().expect("id")),
        issued_by: "t".to_owned(),
        issued_at,
        expires_at: issued_at + 1_000,
        spent_at: None,
        spent_by_device: None,
    }
}

/// A code is spent once, with what it grants, and a re-issued code retires the earlier one.
pub fn codes_are_spent_once_and_reissue_retires_the_old_one(store: &dyn RelayStore) {
    store
        .put_student(
            &"kid".parse().expect("id"),
            &"5a".parse().expect("id"),
            "Kid",
        )
        .expect("student");
    store.put_code(&code("c1", "kid", 100), b"h1").expect("put");
    let (found, hash) = store.code_by_hash(b"h1").expect("get").expect("stored");
    assert_eq!(
        (found.id.as_str(), hash.as_slice(), found.expires_at),
        ("c1", &b"h1"[..], 1_100)
    );
    store
        .put_code(&code("c2", "kid", 200), b"h2")
        .expect("reissue");
    let (old, _) = store.code_by_hash(b"h1").expect("get").expect("stored");
    assert_eq!(
        old.expires_at, 200,
        "the earlier code expires when a new one is issued"
    );
    let parent = account("mum", AccountRole::Parent);
    let device = Device {
        id: "d1".into(),
        account: "mum".into(),
        label: "phone".into(),
        created_at: 210,
        revoked_at: None,
    };
    let redemption = Redemption {
        code_id: "c2".into(),
        new_account: Some(parent),
        guardian_of: Some(("mum".into(), "kid".parse().expect("id"))),
        device: Some((device.clone(), b"token-hash".to_vec())),
        at: 210,
    };
    assert!(store.redeem(&redemption).expect("redeem"));
    assert!(
        !store.redeem(&redemption).expect("again"),
        "a code is spent once"
    );
    assert_eq!(store.access_facts("mum").expect("facts").children.len(), 1);
    assert_eq!(store.devices_of("mum").expect("devices"), vec![device]);
    let (spent, _) = store.code_by_hash(b"h2").expect("get").expect("stored");
    assert_eq!(
        (spent.spent_at, spent.spent_by_device.as_deref()),
        (Some(210), Some("d1")),
        "the code remembers when and for which device it was spent"
    );
    assert!(store.code_by_hash(b"nope").expect("get").is_none());
}

/// A roster import adds students and guardians, and moves students between classes.
pub fn a_roster_import_applies_whole(store: &dyn RelayStore) {
    let roster = RosterImport {
        students: vec![
            (
                "a".parse().expect("id"),
                "5a".parse().expect("id"),
                "A".into(),
            ),
            (
                "b".parse().expect("id"),
                "5b".parse().expect("id"),
                "B".into(),
            ),
        ],
        guardians: vec![("pa".into(), "Parent A".into(), "a".parse().expect("id"))],
    };
    store.import_roster(&roster).expect("import");
    assert_eq!(
        store
            .student(&"a".parse().expect("id"))
            .expect("get")
            .map(|s| s.1),
        Some("A".to_owned())
    );
    assert_eq!(
        store.account("pa").expect("get").map(|a| a.role),
        Some(AccountRole::Parent)
    );
    let moved = RosterImport {
        students: vec![(
            "a".parse().expect("id"),
            "5b".parse().expect("id"),
            "A".into(),
        )],
        guardians: vec![],
    };
    store.import_roster(&moved).expect("move");
    assert_eq!(
        store
            .student(&"a".parse().expect("id"))
            .expect("get")
            .map(|s| s.0.to_string()),
        Some("5b".to_owned())
    );
    assert_eq!(
        store.access_facts("pa").expect("facts").children.len(),
        1,
        "guardianship survives a move"
    );
}

/// Admin log entries come back in order, by time window.
pub fn the_admin_log_keeps_order(store: &dyn RelayStore) {
    for (at, action) in [
        (10, "issue-code"),
        (20, "redeem-code"),
        (30, "revoke-device"),
    ] {
        store
            .log_admin(&AdminLogEntry {
                at,
                actor: "director".into(),
                action: action.into(),
                target: "x".into(),
                detail: String::new(),
            })
            .expect("log");
    }
    let actions: Vec<String> = store
        .admin_log(0, 25)
        .expect("read")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["issue-code", "redeem-code"]);
}

/// Mail comes back in the order it was posted, after a given number, and old mail goes when new mail
/// is posted.
pub fn mail_is_read_in_order_and_expires(store: &dyn RelayStore) {
    assert_eq!(store.last_mail().expect("last"), 0, "an empty mailbox");
    store.post_mail("first", 100, 0).expect("post");
    let first = store.last_mail().expect("last");
    store.post_mail("second", 200, 0).expect("post");
    store.post_mail("third", 300, 0).expect("post");
    let after: Vec<String> = store
        .mail_after(first)
        .expect("read")
        .into_iter()
        .map(|(_, payload)| payload)
        .collect();
    assert_eq!(after, ["second", "third"]);
    store.post_mail("fourth", 400, 250).expect("post");
    let kept: Vec<String> = store
        .mail_after(0)
        .expect("read")
        .into_iter()
        .map(|(_, payload)| payload)
        .collect();
    assert_eq!(kept, ["third", "fourth"], "mail posted before 250 is gone");
    let numbers: Vec<i64> = store
        .mail_after(0)
        .expect("read")
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    assert!(numbers[0] < numbers[1], "numbers grow");
    assert_eq!(store.last_mail().expect("last"), numbers[1]);
}

/// A key gets its burst at once, then one request per interval, and says how long to wait; other keys
/// are not affected.
pub fn rate_limits_admit_a_burst_then_one_per_interval(store: &dyn RelayStore) {
    let now = 1_000_000;
    for _ in 0..3 {
        assert_eq!(store.take_token("a", now, 10_000, 3).expect("take"), None);
    }
    let wait = store
        .take_token("a", now, 10_000, 3)
        .expect("take")
        .expect("over the burst");
    assert_eq!(wait, 10_000);
    assert_eq!(store.take_token("b", now, 10_000, 3).expect("take"), None);
    assert_eq!(
        store
            .take_token("a", now + 10_000, 10_000, 3)
            .expect("take"),
        None,
        "one more after an interval"
    );
    assert!(
        store
            .take_token("a", now + 10_001, 10_000, 3)
            .expect("take")
            .is_some()
    );
    // Long after, the bucket is full again.
    for _ in 0..3 {
        assert_eq!(
            store
                .take_token("a", now + 3_600_000, 10_000, 3)
                .expect("take"),
            None
        );
    }
}

/// A frozen year stays frozen; other years are not affected.
pub fn frozen_years_stay_frozen(store: &dyn RelayStore) {
    let year = journal_core::YearId(2025);
    assert!(!store.is_frozen(year).expect("read"));
    store.freeze_year(year, 10).expect("freeze");
    store
        .freeze_year(year, 20)
        .expect("freezing twice is harmless");
    assert!(store.is_frozen(year).expect("read"));
    assert!(!store.is_frozen(journal_core::YearId(2026)).expect("read"));
}

/// Promotion moves students and staff to their new classes simultaneously (5a→6a while 6a→7a).
pub fn promotion_moves_classes_all_at_once(store: &dyn RelayStore) {
    let id = |s: &str| -> journal_core::ClassId { s.parse().expect("id") };
    store
        .put_account(&account("t5", AccountRole::Teacher))
        .expect("account");
    store
        .put_account(&account("t6", AccountRole::Teacher))
        .expect("account");
    store
        .put_account(&account("t11", AccountRole::Teacher))
        .expect("account");
    store
        .put_student(&"a".parse().expect("id"), &id("5a"), "A")
        .expect("student");
    store
        .put_student(&"b".parse().expect("id"), &id("6a"), "B")
        .expect("student");
    store
        .put_student(&"c".parse().expect("id"), &id("11a"), "C")
        .expect("student");
    store.put_class_staff(&id("5a"), "t5", true).expect("staff");
    store.put_class_staff(&id("6a"), "t6", true).expect("staff");
    store
        .put_class_staff(&id("11a"), "t11", true)
        .expect("staff");
    store
        .promote(&[
            (id("5a"), Some(id("6a"))),
            (id("6a"), Some(id("7a"))),
            (id("11a"), None),
        ])
        .expect("promote");
    let class_of = |s: &str| {
        store
            .student(&s.parse().expect("id"))
            .expect("get")
            .map(|(c, _)| c.to_string())
    };
    assert_eq!(class_of("a").as_deref(), Some("6a"));
    assert_eq!(class_of("b").as_deref(), Some("7a"));
    assert_eq!(class_of("c").as_deref(), Some("graduated"));
    assert_eq!(
        store.access_facts("t5").expect("facts").staff_classes,
        vec![(id("6a"), true)]
    );
    assert_eq!(
        store.access_facts("t6").expect("facts").staff_classes,
        vec![(id("7a"), true)]
    );
    assert!(
        store
            .access_facts("t11")
            .expect("facts")
            .staff_classes
            .is_empty()
    );
}

/// A conversation's members and its first changes land together: the document loads whole, and the
/// members' accounts see the thread.
pub fn a_new_thread_stores_its_members_and_first_changes_together(store: &dyn RelayStore) {
    for (id, role) in [("dad", AccountRole::Parent), ("t", AccountRole::Teacher)] {
        store.put_account(&account(id, role)).expect("account");
    }
    let class: ClassId = "c".parse().expect("id");
    let kid: StudentId = "kid".parse().expect("id");
    store.put_student(&kid, &class, "Kid").expect("student");
    store.link_guardian("dad", &kid).expect("guardian");
    let mut doc = Automerge::new();
    let first = change(&mut doc, "m", "hello");
    let thread: DocId = "2026-2027/thread/t9".parse().expect("id");
    let first_changes = FirstChanges {
        id: "2026-2027/thread/t9",
        changes: std::slice::from_ref(&first),
        heads: &heads(&doc),
        snapshot: &doc.save(),
    };
    let members = ["account:t".to_owned(), "guardians:kid".to_owned()];
    assert!(
        store
            .create_thread(&members, &first_changes, &by("t"))
            .expect("create")
    );
    assert!(
        !store
            .create_thread(&["account:dad".to_owned()], &first_changes, &by("dad"))
            .expect("create again"),
        "a conversation is started once; nobody joins it by starting it again"
    );
    // The same id in another year is another conversation, with its own members.
    assert!(
        store
            .create_thread(
                &["account:dad".to_owned()],
                &FirstChanges {
                    id: "2027-2028/thread/t9",
                    ..first_changes
                },
                &by("dad"),
            )
            .expect("create in another year")
    );
    // Members registered before a conversation starts hold its place: starting it does not add others.
    let planned: DocId = "2026-2027/thread/t10".parse().expect("id");
    store
        .add_thread_member(&planned, "account:t")
        .expect("register");
    assert!(
        !store
            .create_thread(
                &["account:dad".to_owned()],
                &FirstChanges {
                    id: "2026-2027/thread/t10",
                    ..first_changes
                },
                &by("dad"),
            )
            .expect("create a planned one")
    );
    let loaded = Automerge::load(
        &store
            .load_document("2026-2027/thread/t9")
            .expect("load")
            .expect("stored"),
    )
    .expect("valid");
    assert_eq!(loaded.get_heads(), doc.get_heads());
    assert_eq!(
        store.access_facts("dad").expect("facts").threads,
        vec![thread.clone(), "2027-2028/thread/t9".parse().expect("id")],
        "dad is in this year's t9 as the family, and in next year's t9 himself"
    );
    assert_eq!(
        store.access_facts("t").expect("facts").threads,
        vec![planned, thread]
    );
    assert_eq!(
        store.audit_trail("2026-2027/thread/t9").expect("trail")[0].account,
        "t"
    );
}

/// A document as an older relay logged it: a snapshot covering its first three changes, whose log rows
/// keep only their hash, and a fourth change after it with its bytes. Teacher's changes 1 and 2 came
/// together, then the administration's, then the teacher's third.
pub struct OldLog {
    /// The document.
    pub doc: Automerge,
    /// The snapshot.
    pub snapshot: Vec<u8>,
    /// Changes the snapshot covers.
    pub snapshot_seq: i64,
    /// `(seq, hash, data, account, device, received_at)` as the old `changes` table held them.
    pub rows: Vec<(i64, String, Vec<u8>, String, String, i64)>,
}

/// The document and log rows of [`OldLog`].
pub fn old_log() -> OldLog {
    let mut teacher = Automerge::new().with_actor(automerge::ActorId::from(&[1u8; 16][..]));
    let first = change(&mut teacher, "a", "1");
    let second = change(&mut teacher, "b", "2");
    let mut office = teacher
        .fork()
        .with_actor(automerge::ActorId::from(&[2u8; 16][..]));
    let third = change(&mut office, "c", "3");
    teacher.merge(&mut office).expect("merge");
    let snapshot = teacher.save();
    let fourth = change(&mut teacher, "a", "4");
    let row = |seq: i64, c: &NewChange, data: &[u8], who: &str, at: i64| {
        (
            seq,
            c.hash.clone(),
            data.to_vec(),
            who.to_owned(),
            format!("{who}-tablet"),
            at,
        )
    };
    OldLog {
        doc: teacher,
        snapshot,
        snapshot_seq: 3,
        rows: vec![
            row(1, &first, &[], "teacher", 100),
            row(2, &second, &[], "teacher", 100),
            row(3, &third, &[], "office", 200),
            row(4, &fourth, &fourth.bytes, "teacher", 300),
        ],
    }
}

/// After migrating [`old_log`], the audit trail names every change's delivery, and the change log keeps
/// only the change after the snapshot.
pub fn old_log_converted(store: &dyn RelayStore, old: &OldLog) {
    let trail: Vec<(u8, u64, u64, String, String, i64)> = store
        .audit_trail("d")
        .expect("trail")
        .into_iter()
        .map(|d| (d.actor[0], d.first_seq, d.count, d.account, d.device, d.at))
        .collect();
    let who = |actor, first, count, account: &str, at| {
        (
            actor,
            first,
            count,
            account.to_owned(),
            format!("{account}-tablet"),
            at,
        )
    };
    assert_eq!(
        trail,
        [
            who(1, 1, 2, "teacher", 100),
            who(2, 1, 1, "office", 200),
            who(1, 3, 1, "teacher", 300)
        ]
    );
    assert_eq!(store.changes_since_snapshot("d").expect("count"), 1);
    let loaded =
        Automerge::load(&store.load_document("d").expect("load").expect("stored")).expect("valid");
    assert_eq!(loaded.get_heads(), old.doc.get_heads());
}
