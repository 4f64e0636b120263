//! Access codes and provisioning (regulation 3.2, 3.5, 7.2): who may issue, redemption and its limits,
//! a parent's second child, revocation, roster import, and the administration's audit log.

use std::time::{Duration, Instant};

use journal_core::sync::client::{
    ClientError, RelayConfig, issue_code, my_devices, redeem_code, revoke_my_device,
};
use journal_core::sync::protocol::WireMessage;
use journal_e2e::{Device, RawClient, Relay};

use crate::{student, year_of};

fn config(relay: &Relay, account: &str) -> RelayConfig {
    RelayConfig::new(&relay.url, &relay.token(account))
}

async fn issue(
    relay: &Relay,
    by: &str,
    role: &str,
    account: Option<&str>,
    kid: Option<&str>,
) -> Result<String, ClientError> {
    let role = role.parse().expect("a code role");
    let code = issue_code(&config(relay, by), role, account, kid, None).await?;
    relay.secret(&code);
    Ok(code)
}

fn forbidden(result: Result<String, ClientError>) -> bool {
    matches!(result, Err(ClientError::Refused(_)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_administration_and_class_teachers_issue_codes_and_only_within_their_reach() {
    let relay = Relay::start_demo();
    assert!(
        issue(&relay, "director", "staff", Some("t-math"), None)
            .await
            .is_ok()
    );
    assert!(
        issue(&relay, "director", "parent", None, Some("s6b1"))
            .await
            .is_ok()
    );
    assert!(
        issue(&relay, "t-5a", "student", None, Some("s5a1"))
            .await
            .is_ok()
    );
    assert!(
        issue(&relay, "t-5a", "parent", None, Some("s5a2"))
            .await
            .is_ok()
    );
    // A class teacher cannot issue for another class.
    assert!(forbidden(
        issue(&relay, "t-5a", "parent", None, Some("s6b1")).await
    ));
    // A teacher cannot issue staff codes; a subject teacher issues nothing.
    assert!(forbidden(
        issue(&relay, "t-5a", "staff", Some("t-math"), None).await
    ));
    assert!(forbidden(
        issue(&relay, "t-math", "student", None, Some("s5a1")).await
    ));
    // Parents and students issue nothing.
    assert!(forbidden(
        issue(&relay, "parent-s5a1", "parent", None, Some("s5a1")).await
    ));
    assert!(forbidden(
        issue(&relay, "student-s5a1", "student", None, Some("s5a1")).await
    ));
    // Codes for people who do not exist are refused with a reason.
    let Err(ClientError::Refused(reason)) =
        issue(&relay, "director", "student", None, Some("nobody")).await
    else {
        panic!("a code for an unknown student was issued");
    };
    assert!(reason.contains("not on any class list"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_signs_in_once_and_a_parent_adds_a_second_child_on_the_same_device() {
    let relay = Relay::start_demo();
    let code = issue(&relay, "t-5a", "parent", None, Some("s5a3"))
        .await
        .expect("issue");
    let redeemed = redeem_code(&relay.url, &code, "мамин телефон", None, None, None)
        .await
        .expect("redeem");
    let token = redeemed.token.clone().expect("a new device token");
    relay.secret(&token);
    assert_eq!(redeemed.role, journal_core::AccountRole::Parent);

    // Spent: the same code again gets the one message for wrong, expired or spent codes.
    let Err(ClientError::Refused(spent)) =
        redeem_code(&relay.url, &code, "x", None, None, None).await
    else {
        panic!("a spent code worked again");
    };
    assert!(spent.contains("not valid"), "{spent}");
    // A well-formed code that was never issued reads exactly the same.
    let unknown = journal_core::access_code::AccessCode::generate().to_string();
    let Err(ClientError::Refused(wrong)) =
        redeem_code(&relay.url, &unknown, "x", None, None, None).await
    else {
        panic!("an unknown code worked");
    };
    assert_eq!(wrong, spent);
    // A mistyped code never leaves the device: even an unreachable relay is not asked.
    let mut typo: Vec<char> = code.chars().collect();
    typo[0] = if typo[0] == 'A' { 'B' } else { 'A' };
    let typo: String = typo.into_iter().collect();
    let err = redeem_code("http://127.0.0.1:9", &typo, "x", None, None, None)
        .await
        .expect_err("typo");
    assert!(matches!(err, ClientError::Code(_)), "{err}");
    assert!(err.to_string().contains("typo"), "{err}");

    // A re-issued code retires the earlier one (it expires at once); the new one works.
    let old = issue(&relay, "t-5a", "student", None, Some("s5a1"))
        .await
        .expect("issue");
    let new = issue(&relay, "t-5a", "student", None, Some("s5a1"))
        .await
        .expect("re-issue");
    assert!(matches!(
        redeem_code(&relay.url, &old, "x", None, None, None).await,
        Err(ClientError::Refused(_))
    ));
    let student_device = redeem_code(&relay.url, &new, "телефон", None, None, None)
        .await
        .expect("redeem");
    relay.secret(student_device.token.as_deref().expect("token"));
    assert_eq!(
        student_device.account, "student-s5a1",
        "the student's existing account"
    );

    // The parent's device syncs their child.
    let mut phone = Device::new(&relay, &token);
    phone.sync().await;
    let year = year_of(&phone);
    assert!(
        phone
            .journal
            .student_marks(year, &student("s5a3"), None, None)
            .is_ok()
    );
    assert!(
        phone
            .journal
            .student_marks(year, &student("s6b3"), None, None)
            .is_err()
    );
    // The other class teacher issues a code for the second child; the same device redeems it.
    let second = issue(&relay, "t-6b", "parent", None, Some("s6b3"))
        .await
        .expect("issue");
    let again = redeem_code(
        &relay.url,
        &second,
        "мамин телефон",
        Some(journal_core::sync::client::SignedIn {
            token: &token,
            keep_account: None,
        }),
        None,
        None,
    )
    .await
    .expect("redeem");
    assert_eq!(again.account, redeemed.account, "the same account");
    assert!(again.token.is_none(), "the device keeps its token");
    phone.sync().await;
    assert!(
        phone
            .journal
            .student_marks(year, &student("s6b3"), None, None)
            .is_ok(),
        "both children now"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brute_force_redemption_is_answered_with_429_and_a_retry_time() {
    let relay = Relay::start_demo();
    let mut limited_after = None;
    for attempt in 1..=40 {
        let guess = journal_core::access_code::AccessCode::generate().to_string();
        match redeem_code(&relay.url, &guess, "x", None, None, None).await {
            Err(ClientError::Refused(_)) => {}
            Err(ClientError::TooMany(wait)) => {
                assert!((1..=60).contains(&wait), "retry after {wait} s");
                limited_after = Some(attempt);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(limited_after, Some(11), "ten attempts, then 429");
    // Correct codes from this address wait too: the limit is on attempts, not on failures.
    let real = issue(&relay, "t-5a", "student", None, Some("s5a2"))
        .await
        .expect("issue");
    assert!(matches!(
        redeem_code(&relay.url, &real, "x", None, None, None).await,
        Err(ClientError::TooMany(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_tablet_cannot_sync_and_its_open_session_closes_within_a_second() {
    let relay = Relay::start_demo();
    let code = issue(&relay, "director", "staff", Some("t-5a"), None)
        .await
        .expect("issue");
    let tablet = redeem_code(&relay.url, &code, "планшет 5А", None, None, None)
        .await
        .expect("redeem");
    let token = tablet.token.clone().expect("token");
    relay.secret(&token);
    let (mut session, _) = RawClient::join(&relay, &token).await;
    let teacher = config(&relay, "t-5a");
    let devices = my_devices(&teacher).await.expect("list");
    assert_eq!(devices.len(), 2);
    let lost = tablet.device.clone().expect("device id");
    let started = Instant::now();
    revoke_my_device(&teacher, &lost).await.expect("revoke");
    assert!(session.closed().await);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "closed after {:?}",
        started.elapsed()
    );
    assert!(
        session
            .received
            .iter()
            .any(|m| matches!(m, WireMessage::Error { message } if message.contains("revoked")))
    );
    let mut lost_tablet = Device::new(&relay, &token);
    let err = journal_core::sync::client::sync_now(
        &mut lost_tablet.journal,
        &lost_tablet.config,
        &journal_core::sync::client::NoListener,
    )
    .await
    .expect_err("revoked");
    assert!(matches!(err, ClientError::Unauthorized), "{err}");
    // A parent cannot revoke the teacher's device.
    assert!(
        revoke_my_device(&config(&relay, "parent-s5a1"), &devices[0].id)
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_list_with_one_bad_row_imports_nothing_and_a_good_one_imports_whole() {
    let relay = Relay::start_demo();
    let admin = relay.token("director");
    let post = |body: Vec<u8>, content_type: &'static str| {
        let (url, admin) = (relay.url.clone(), admin.clone());
        async move {
            reqwest::Client::new()
                .post(format!("{url}/v1/admin/roster"))
                .bearer_auth(admin)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .expect("post")
        }
    };
    let bad = "class,student_id,student_name,guardian_id,guardian_name\n\
               7v,n1,Новикова Дарья,p-n1,Новиков Сергей\n\
               7v,n2,,p-n2,Новикова Ирина\n\
               7v,n3,Орлов Глеб,,\n";
    let response = post(bad.as_bytes().to_vec(), "text/csv").await;
    assert_eq!(response.status(), 422);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["imported"], false);
    assert_eq!(body["errors"][0]["row"], 3);
    assert!(
        body["errors"][0]["reason"]
            .as_str()
            .expect("reason")
            .contains("у ученика n2 не указано имя")
    );
    let accounts = relay
        .admin(
            &admin,
            reqwest::Method::GET,
            "/accounts",
            serde_json::json!({}),
        )
        .await;
    let accounts: serde_json::Value = accounts.json().await.expect("json");
    assert!(
        !accounts.to_string().contains("p-n1"),
        "nothing of the bad file was imported"
    );

    let good = bad.replace(",n2,,", ",n2,Новикова Вера,");
    let response = post(good.into_bytes(), "text/csv").await;
    assert_eq!(response.status(), 200);
    // The class teacher of the new class can now hand out a code for a child from the list.
    let staff = relay
        .admin(
            &admin,
            reqwest::Method::POST,
            "/class-staff",
            serde_json::json!({ "class": "7v", "account": "t-6b", "class_teacher": true }),
        )
        .await;
    assert_eq!(staff.status(), 204);
    assert!(
        issue(&relay, "t-6b", "parent", Some("p-n1"), Some("n1"))
            .await
            .is_ok()
    );

    // The same list as a spreadsheet.
    let xlsx = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/roster.xlsx"
    ))
    .expect("fixture");
    let response = post(
        xlsx,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    .await;
    let status = response.status();
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["students"], 3);

    // Every act is in the administration's log, without a code in it.
    let log: serde_json::Value = relay
        .admin(&admin, reqwest::Method::GET, "/log", serde_json::json!({}))
        .await
        .json()
        .await
        .expect("json");
    let actions: Vec<&str> = log
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"import-roster") && actions.contains(&"issue-code"),
        "{actions:?}"
    );
}

/// Forwards one connection to `relay` and drops whatever the relay answers: a reply lost on the link after
/// the relay acted on the request.
async fn losing_the_reply(relay: &Relay) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let address = listener.local_addr().expect("address");
    let target = relay
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok((mut client, _)) = listener.accept().await else {
            return;
        };
        let mut upstream = tokio::net::TcpStream::connect(&target)
            .await
            .expect("the relay");
        let (mut from_relay, mut to_relay) = upstream.split();
        let mut buffer = vec![0u8; 64 * 1024];
        let mut answer = [0u8; 1];
        loop {
            tokio::select! {
                read = client.read(&mut buffer) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => to_relay.write_all(&buffer[..n]).await.expect("forward"),
                },
                // The relay answered: the answer goes nowhere, and the link drops.
                _ = from_relay.read(&mut answer) => return,
            }
        }
    });
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_whose_reply_was_lost_is_sent_again_and_signs_the_same_phone_in() {
    let relay = Relay::start_demo();
    let code = issue(&relay, "t-5a", "parent", None, Some("s5a3"))
        .await
        .expect("issue");
    let mut phone = journal_core::Journal::open_in_memory().expect("journal");
    let lost = redeem_code(
        &losing_the_reply(&relay).await,
        &code,
        "мамин телефон",
        None,
        None,
        Some(&mut phone),
    )
    .await;
    assert!(
        matches!(lost, Err(ClientError::Offline(_))),
        "the reply never came: {lost:?}"
    );

    let again = redeem_code(
        &relay.url,
        &code,
        "мамин телефон",
        None,
        None,
        Some(&mut phone),
    )
    .await
    .expect("the same phone sends the code again and is signed in");
    let token = again.token.clone().expect("its device token");
    relay.secret(&token);
    assert_eq!(again.role, journal_core::AccountRole::Parent);
    let devices = my_devices(&RelayConfig::new(&relay.url, &token))
        .await
        .expect("devices");
    assert_eq!(devices.len(), 1, "one device, added once: {devices:?}");
    let mut device = Device::new(&relay, &token);
    device.sync().await;
    let child = crate::student_doc(year_of(&device), "s5a3").to_string();
    assert!(
        device.doc_ids().contains(&child),
        "the child's marks arrive: {:?}",
        device.doc_ids()
    );

    // Anyone else with the code, or the phone without its secret, still gets the one refusal.
    let mut other = journal_core::Journal::open_in_memory().expect("journal");
    let Err(ClientError::Refused(_)) =
        redeem_code(&relay.url, &code, "x", None, None, Some(&mut other)).await
    else {
        panic!("another device signed in with a spent code");
    };
    let Err(ClientError::Refused(_)) = redeem_code(&relay.url, &code, "x", None, None, None).await
    else {
        panic!("a spent code worked without the device's secret");
    };
}

/// A parent's phone that says it stays the parent's is not switched to the student's account by the
/// student's code: the relay answers 409 before spending it, and the code still signs in the student's own
/// device afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_for_another_account_is_refused_unspent_to_a_device_that_keeps_its_account() {
    let relay = Relay::start_demo();
    let code = issue(&relay, "t-5a", "student", None, Some("s5a3"))
        .await
        .expect("issue");
    let parent = relay.token("parent-s5a1");
    let refused = redeem_code(
        &relay.url,
        &code,
        "мамин телефон",
        Some(journal_core::sync::client::SignedIn {
            token: &parent,
            keep_account: Some("parent-s5a1"),
        }),
        None,
        None,
    )
    .await;
    match refused {
        Err(ClientError::OtherAccount(message)) => assert!(
            message.contains("student") && message.contains("still valid"),
            "{message}"
        ),
        other => panic!("a code for another account must be refused: {other:?}"),
    }
    let parent_devices = my_devices(&config(&relay, "parent-s5a1"))
        .await
        .expect("the parent's phone still signed in as the parent");
    assert!(
        parent_devices.iter().all(|d| d.label != "мамин телефон"),
        "nothing was added to the parent's account"
    );
    let student = redeem_code(&relay.url, &code, "мой телефон", None, None, None)
        .await
        .expect("the code is unspent");
    assert_eq!(student.role, journal_core::roles::AccountRole::Student);
    assert!(student.token.is_some(), "a new device for the student");
}

/// A class list imported by the administration reaches the class teachers' tablets at their next sync: a
/// new student is on the class's list from today, a student moved to another class leaves this list and
/// joins that one, and the same list imported again changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_class_list_reaches_the_class_teachers_tablets_at_their_next_sync() {
    let relay = Relay::start_demo();
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let mut other = Device::new(&relay, &relay.token("t-6b"));
    other.sync().await;
    let year = year_of(&teacher);
    let range = teacher
        .journal
        .school_settings(year)
        .expect("the year")
        .year
        .range();
    let today = time::OffsetDateTime::now_utc()
        .date()
        .clamp(range.from, range.to);
    let roster = |device: &Device, class: &str| -> Vec<String> {
        let mut ids: Vec<String> = device
            .journal
            .roster(year, &class.parse().expect("class"), today)
            .expect("roster")
            .into_iter()
            .map(|(id, _)| id.to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(roster(&teacher, "5a"), ["s5a1", "s5a2", "s5a3"]);

    let list = "class,student_id,student_name,guardian_id,guardian_name\n\
                5a,s5a9,Орлова Вера,p-s5a9,Орлов Пётр\n\
                6b,s5a3,Кузнецов Пётр,,\n";
    let import = || async {
        reqwest::Client::new()
            .post(format!("{}/v1/admin/roster", relay.url))
            .bearer_auth(relay.token("director"))
            .header("content-type", "text/csv")
            .body(list)
            .send()
            .await
            .expect("post")
    };
    assert_eq!(import().await.status(), 200);
    teacher.sync().await;
    assert_eq!(
        roster(&teacher, "5a"),
        ["s5a1", "s5a2", "s5a9"],
        "the new student in, the moved one out"
    );
    assert!(
        teacher
            .journal
            .document(&crate::student_doc(year, "s5a9"))
            .is_some(),
        "the new student's own document, for marks"
    );
    other.sync().await;
    assert!(
        roster(&other, "6b").contains(&"s5a3".to_owned()),
        "{:?}",
        roster(&other, "6b")
    );

    let class_doc: journal_core::DocId = format!("{year}/class/5a").parse().expect("id");
    let heads = teacher.journal.heads_hex(&class_doc);
    assert_eq!(import().await.status(), 200);
    teacher.sync().await;
    assert_eq!(
        teacher.journal.heads_hex(&class_doc),
        heads,
        "the same list again changes nothing"
    );
}

/// A student who leaves the school, entered with the relay's command line while it serves, is off the
/// class teacher's list after their last day at the next sync, keeps their marks, and their own account
/// is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_student_who_leaves_is_off_the_list_after_their_last_day_and_their_account_closes() {
    let relay = Relay::start_demo();
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let year = year_of(&teacher);
    let range = teacher
        .journal
        .school_settings(year)
        .expect("the year")
        .year
        .range();
    let today = time::OffsetDateTime::now_utc()
        .date()
        .clamp(range.from.next_day().expect("day"), range.to);
    let last_day = today.previous_day().expect("day");
    let roster = |device: &Device, day: time::Date| -> Vec<String> {
        device
            .journal
            .roster(year, &"5a".parse().expect("class"), day)
            .expect("roster")
            .into_iter()
            .map(|(id, _)| id.to_string())
            .collect()
    };
    assert!(roster(&teacher, today).contains(&"s5a2".to_owned()));

    let left = Relay::cli(&[
        "directory",
        "--data-dir",
        relay.data_dir().to_str().expect("utf-8"),
        "leave-student",
        "--id",
        "s5a2",
        "--last-day",
        &last_day.to_string(),
    ]);
    assert!(
        left.status.success(),
        "{}",
        String::from_utf8_lossy(&left.stderr)
    );
    teacher.sync().await;
    assert!(
        !roster(&teacher, today).contains(&"s5a2".to_owned()),
        "{:?}",
        roster(&teacher, today)
    );
    assert!(
        roster(&teacher, last_day).contains(&"s5a2".to_owned()),
        "on the list until their last day"
    );
    assert!(
        teacher
            .journal
            .document(&crate::student_doc(year, "s5a2"))
            .is_some(),
        "their marks and attendance stay"
    );
    let closed = RawClient::connect(&relay, &relay.token("student-s5a2")).await;
    assert_eq!(
        closed.err(),
        Some(401),
        "the student's own account is closed"
    );
}

/// Started again with `--demo` on its data, the relay prints a fresh code for each demo account that has
/// not signed a device in: the first start's codes are kept only as hashes. The fresh code replaces the
/// unspent one; an account that signed in gets none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_started_again_prints_fresh_codes_for_accounts_not_signed_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut first = Relay::start_demo_at(&data, &[]);
    let teacher_code = first.codes["t-5a"].clone();
    let old_parent_code = first.codes["parent-s5a1"].clone();
    let redeemed = journal_core::sync::client::redeem_code(
        &first.url,
        &teacher_code,
        "tablet",
        None,
        None,
        None,
    )
    .await
    .expect("the teacher signs in");
    first.secret(redeemed.token.as_deref().unwrap_or_default());
    first.kill();

    let again = Relay::start_demo_at(&data, &[]);
    assert!(
        !again.codes.contains_key("t-5a"),
        "the teacher signed in: {:?}",
        again.codes.keys()
    );
    let fresh = again.codes["parent-s5a1"].clone();
    assert_ne!(fresh, old_parent_code);
    let stale = journal_core::sync::client::redeem_code(
        &again.url,
        &old_parent_code,
        "phone",
        None,
        None,
        None,
    )
    .await;
    assert!(stale.is_err(), "the unspent code was replaced");
    let redeemed =
        journal_core::sync::client::redeem_code(&again.url, &fresh, "phone", None, None, None)
            .await
            .expect("the fresh code signs the parent in");
    assert_eq!(redeemed.account, "parent-s5a1");
    again.secret(redeemed.token.as_deref().unwrap_or_default());
}
