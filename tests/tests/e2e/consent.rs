//! Personal data end to end (issue 20, part 4; 152-FZ): a class teacher's devices hold a student's profile
//! only while a guardian's consent is in force, the register keeps who recorded what, the no-consent
//! report lists the students to ask, and every profile edit is logged old → new with who and when.

use std::time::Duration;

use journal_core::docs::Document;
use journal_core::sync::protocol::WireMessage;
use journal_core::{DocId, StudentProfile};
use journal_e2e::{Access, Device, RawClient, Relay, raw_sync};
use serde_json::{Value, json};

use crate::{student, year_of};

/// The demo's student whose family has not signed the form.
const UNSIGNED: &str = "s5a3";

fn today() -> String {
    journal_core::format_date(time::OffsetDateTime::now_utc().date())
}

/// `POST /v1/consents` as `token`: the status and the JSON answer.
async fn record_consent(
    relay: &Relay,
    token: &str,
    guardian: &str,
    given: bool,
    signed_on: &str,
) -> (u16, Value) {
    let response = relay
        .http()
        .post(format!("{}/v1/consents", relay.url))
        .bearer_auth(token)
        .json(&json!({
            "student": UNSIGNED,
            "guardian": guardian,
            "given": given,
            "signed_on": signed_on,
            "text_version": "2026-1",
        }))
        .send()
        .await
        .expect("consent call");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The no-consent report as CSV text.
async fn no_consent_report(relay: &Relay, director: &str) -> String {
    let response = relay
        .admin(
            director,
            reqwest::Method::GET,
            "/reports/no-consent?format=csv",
            Value::Null,
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    response.text().await.expect("report text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_teacher_holds_a_profile_only_while_a_guardians_consent_is_in_force() {
    let relay = Relay::start_demo();
    let director = relay.token("director");
    let class_teacher = relay.token("t-5a");
    let mut tablet = Device::new(&relay, &class_teacher);
    tablet.sync().await;
    let year = year_of(&tablet);
    let profile = |id: &str| DocId::Profile(year, student(id)).to_string();

    // Without consent the teacher has the student's name from the class list, and nothing more.
    assert!(tablet.doc_ids().contains(&profile("s5a1")));
    assert!(!tablet.doc_ids().contains(&profile(UNSIGNED)));
    let on_list = tablet
        .journal
        .roster(
            year,
            &"5a".parse().expect("class"),
            time::OffsetDateTime::now_utc().date(),
        )
        .expect("roster");
    assert!(on_list.iter().any(|(_, name)| name == "Кузнецов Пётр"));

    // The report names him, his guardian and what is missing; families who signed are not on it.
    let report = no_consent_report(&relay, &director).await;
    assert!(report.contains("Кузнецов Пётр"), "{report}");
    assert!(report.contains("нет записи"), "{report}");
    assert!(!report.contains("Иванов Иван"), "{report}");

    // The form is checked before anything is recorded.
    let tomorrow =
        journal_core::format_date(time::OffsetDateTime::now_utc().date() + time::Duration::days(1));
    let (status, answer) =
        record_consent(&relay, &class_teacher, "parent-s5a3", true, &tomorrow).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("after today"), "{answer}");
    let (status, _) = record_consent(&relay, &class_teacher, "p-ivanova", true, &today()).await;
    assert_eq!(status, 404, "p-ivanova is not his guardian");
    let (status, _) =
        record_consent(&relay, &relay.token("t-6b"), "parent-s5a3", true, &today()).await;
    assert_eq!(status, 403, "another class's teacher");
    let (status, _) = record_consent(
        &relay,
        &relay.token("parent-s5a3"),
        "parent-s5a3",
        true,
        &today(),
    )
    .await;
    assert_eq!(status, 403, "a parent records nothing here");
    // Nor learns which students exist: a made-up id gets the same answer as a real one.
    for id in [UNSIGNED, "s9z9"] {
        let status = relay
            .http()
            .get(format!("{}/v1/consents?student={id}", relay.url))
            .bearer_auth(relay.token("parent-s5a3"))
            .send()
            .await
            .expect("register")
            .status();
        assert_eq!(status, 403, "{id}");
    }

    // The class teacher records the signed form: the profile reaches the tablet at the next sync.
    let (status, answer) =
        record_consent(&relay, &class_teacher, "parent-s5a3", true, &today()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["recorded_by"], "t-5a");
    tablet.sync().await;
    assert!(tablet.doc_ids().contains(&profile(UNSIGNED)));
    assert!(
        !no_consent_report(&relay, &director)
            .await
            .contains("Кузнецов Пётр")
    );

    // Withdrawn: a session open on the teacher's laptop is told the profile is gone at once, the tablet
    // lets go of it at its next sync; the family still has it.
    let (mut live, _) = RawClient::join(&relay, &class_teacher).await;
    let mut replica = Document::create(
        profile(UNSIGNED).parse().expect("id"),
        &automerge::ActorId::random(),
    )
    .expect("replica");
    assert_eq!(
        raw_sync(&mut live, &mut replica, false).await,
        Access::Granted
    );
    let (status, answer) = record_consent(&relay, &director, "parent-s5a3", false, &today()).await;
    assert_eq!(status, 200, "{answer}");
    let mut told = false;
    while let Some(message) = live.next_within(Duration::from_secs(5)).await {
        if matches!(&message, WireMessage::DocUnavailable { document_id, .. } if *document_id == profile(UNSIGNED))
        {
            told = true;
            break;
        }
    }
    assert!(told, "the open session was not told the profile is gone");
    tablet.sync().await;
    assert!(!tablet.doc_ids().contains(&profile(UNSIGNED)));
    // The old form recorded again does not bring consent back; only a form signed since does.
    let yesterday =
        journal_core::format_date(time::OffsetDateTime::now_utc().date() - time::Duration::days(1));
    let (status, answer) =
        record_consent(&relay, &class_teacher, "parent-s5a3", true, &yesterday).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("withdrew consent"), "{answer}");
    let report = no_consent_report(&relay, &director).await;
    assert!(report.contains("отозвано"), "{report}");
    let mut family = Device::new(&relay, &relay.token("parent-s5a3"));
    family.sync().await;
    assert!(family.doc_ids().contains(&profile(UNSIGNED)));

    // The register keeps both entries, with who recorded each.
    let register: Vec<Value> = relay
        .http()
        .get(format!("{}/v1/consents?student={UNSIGNED}", relay.url))
        .bearer_auth(&class_teacher)
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("JSON");
    let entries: Vec<(bool, &str)> = register
        .iter()
        .map(|e| {
            (
                e["given"].as_bool().unwrap_or_default(),
                e["recorded_by"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(entries, [(true, "t-5a"), (false, "director")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_profile_edit_is_logged_old_to_new_with_who_and_when() {
    let relay = Relay::start_demo();
    let mut tablet = Device::new(&relay, &relay.token("t-5a"));
    tablet.sync().await;
    let year = year_of(&tablet);
    let today = time::OffsetDateTime::now_utc().date();
    tablet
        .journal
        .set_profile(
            year,
            &student("s5a1"),
            &StudentProfile {
                full_name: "Иванов Иван".into(),
                birth_date: None,
                address: "ул. Мира, 7".into(),
            },
            today,
        )
        .expect("profile edited");
    let report = tablet.sync().await;
    assert!(report.refused.is_empty(), "{report:?}");

    let edits: Vec<Value> = relay
        .admin(
            &relay.token("director"),
            reqwest::Method::GET,
            "/profile-edits?student=s5a1",
            Value::Null,
        )
        .await
        .json()
        .await
        .expect("JSON");
    let address = edits
        .iter()
        .find(|e| e["field"] == "адрес")
        .unwrap_or_else(|| panic!("no address edit in {edits:?}"));
    assert_eq!(address["old"], Value::Null);
    assert_eq!(address["new"], "ул. Мира, 7");
    assert_eq!(address["account"], "t-5a");
    assert!(address["at"].as_i64().unwrap_or_default() > 0);
    // The name was entered when the school was set up, and the teacher's change left it alone.
    let names: Vec<&Value> = edits.iter().filter(|e| e["field"] == "ФИО").collect();
    assert_eq!(names.len(), 1, "{edits:?}");
    assert_eq!(names[0]["new"], "Иванов Иван");

    // The relay's command line prints the same log beside the running relay.
    let out = Relay::cli(&[
        "profile-log",
        "--data-dir",
        relay.data_dir().to_str().expect("utf-8"),
        "--student",
        "s5a1",
    ]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(printed.contains("адрес: — → ул. Мира, 7"), "{printed}");
    assert!(printed.contains("t-5a"), "{printed}");
}
