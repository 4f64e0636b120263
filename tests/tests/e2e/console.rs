//! The web console at `/admin` (issue 19): its stories in a real browser (Debian's chromium driven by the
//! pinned playwright-core in `tests/console`, installed by the test command), and its refusals checked
//! route by route over plain HTTP.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use journal_core::testing::pdf_text;
use journal_e2e::{Device, RawClient, Relay};
use serde_json::{Value, json};

use crate::{lesson_5a, mark, student};

/// The class lists the deputy director uploads: first with a nameless student on row 3, then fixed, with
/// a student whose name is a script.
const BAD_LIST: &str = "class,student_id,student_name,guardian_id,guardian_name\n\
                        5a,s5a9,Новикова Дарья,parent-s5a9,Новиков Олег\n\
                        5a,s5a8,,,\n";
const SCRIPT_NAME: &str = "<script>alert(1)</script>";

fn good_list() -> String {
    BAD_LIST.replace("5a,s5a8,,,", &format!("5a,s5a8,{SCRIPT_NAME},,"))
}

fn console_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("console")
}

/// Where the stories put their screenshots: `CONSOLE_SCREENSHOTS` (the README's `docs/console` when
/// refreshing them), else a directory of the test's own.
fn screenshots(own: &Path) -> PathBuf {
    std::env::var_os("CONSOLE_SCREENSHOTS").map_or_else(|| own.join("screenshots"), PathBuf::from)
}

/// Runs one browser story with `settings` and returns the JSON it reported.
async fn story(name: &str, settings: Value) -> Value {
    let dir = console_dir();
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm install` in {} (tests/run-all.sh does)",
        dir.display()
    );
    let mut settings = settings;
    settings["story"] = json!(name);
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .current_dir(&dir)
            .arg("stories.mjs")
            .arg(settings.to_string())
            .output()
            .expect("run node")
    })
    .await
    .expect("story");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the {name} story failed:\n{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|_| panic!("the {name} story printed {stdout:?}"))
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deputy_director_imports_a_class_issues_slips_revokes_a_phone_and_reports_in_a_browser()
{
    let relay = Relay::start_demo();
    let dir = tempfile::tempdir().expect("dir");
    // The class teacher gives a 4 and corrects it to a 5, each synced from her tablet.
    let mut tablet = Device::new(&relay, &relay.token("t-5a"));
    tablet.sync().await;
    let lesson = lesson_5a(&mut tablet, 14, 1, "russian", "t-5a");
    tablet
        .journal
        .put_mark(&student("s5a3"), &lesson, &mark(4, "oral"))
        .expect("mark");
    tablet.sync().await;
    tablet
        .journal
        .put_mark(&student("s5a3"), &lesson, &mark(5, "oral"))
        .expect("corrected");
    tablet.sync().await;
    // The parent's phone is syncing live while the director revokes it.
    let (mut phone, _) = RawClient::join(&relay, &relay.token("parent-s5a1")).await;
    let closed = tokio::spawn(async move {
        let deadline = std::time::Instant::now() + Duration::from_secs(300);
        while !phone.closed().await {
            assert!(
                std::time::Instant::now() < deadline,
                "the phone's session never closed"
            );
        }
        now_ms()
    });
    let shots = screenshots(dir.path());
    let report = story(
        "deputy",
        json!({
            "url": relay.url,
            "out": dir.path(),
            "screenshots": shots,
            "code": relay.codes["director"],
            "bad_list": BAD_LIST,
            "good_list": good_list(),
            "class_name": "5А",
            "revoke_account_name": "Родитель: Иванов",
            "script_name": SCRIPT_NAME,
            "audit_student": "Кузнецов Пётр",
            "xlsx_list": concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/roster.xlsx"),
        }),
    )
    .await;

    // The cookie as the browser holds it.
    assert_eq!(report["cookie"]["httpOnly"], true, "{report}");
    assert_eq!(report["cookie"]["sameSite"], "Strict", "{report}");
    // The bad row by its number, nothing imported; then the whole list.
    let bad_rows = strings(&report["bad_rows"]);
    assert_eq!(bad_rows.len(), 1, "{bad_rows:?}");
    assert!(
        bad_rows[0].starts_with('3') && bad_rows[0].contains("не указано имя"),
        "{bad_rows:?}"
    );
    let imported = report["imported"].as_str().unwrap_or_default();
    assert!(imported.contains("учеников — 2"), "{imported}");
    let spreadsheet = report["imported_xlsx"].as_str().unwrap_or_default();
    assert!(spreadsheet.contains("учеников — 3"), "{spreadsheet}");
    assert!(
        strings(&report["classes"]).contains(&"5А\t5".to_owned()),
        "{report}"
    );
    // The slips name the class's students, the newly imported one too.
    let slips = pdf_text(Path::new(report["slips"].as_str().expect("slips")));
    for name in ["Иванов Иван", "Новикова Дарья", "Новиков Олег"]
    {
        assert!(slips.contains(name), "{name} is not on the slips: {slips}");
    }
    // The revoked phone's live session closed within a second of the click.
    let closed_at = tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .expect("the phone's session closes")
        .expect("session task");
    let revoked_at = u128::from(report["revoked_at_ms"].as_u64().expect("revoked_at_ms"));
    assert!(
        closed_at >= revoked_at && closed_at - revoked_at < 1000,
        "the session closed {} ms after the click",
        closed_at.abs_diff(revoked_at)
    );
    // The term report of 5А.
    let term = pdf_text(Path::new(report["term_report"].as_str().expect("report")));
    assert!(
        term.contains("Отчёт классного руководителя: 1 триместр") && term.contains("Класс 5А"),
        "{term}"
    );
    // The correction in the audit trail: old → new, the teacher, her tablet's label, the subject.
    let audit = strings(&report["audit"]);
    let correction = audit
        .iter()
        .find(|row| row.contains("4 → 5"))
        .unwrap_or_else(|| panic!("no 4 → 5 in the audit trail: {audit:?}"));
    let tablet_device = relay
        .token("t-5a")
        .split('.')
        .next()
        .expect("id")
        .to_owned();
    let devices: Vec<Value> = relay
        .admin(
            &relay.token("director"),
            reqwest::Method::GET,
            "/accounts/t-5a/devices",
            json!({}),
        )
        .await
        .json()
        .await
        .expect("devices");
    let label = devices
        .iter()
        .find(|d| d["id"] == tablet_device)
        .and_then(|d| d["label"].as_str())
        .expect("the tablet's label")
        .to_owned();
    for part in [
        "Соколова Елена Игоревна",
        "Кузнецов Пётр",
        "Русский язык",
        "отметка",
        label.as_str(),
    ] {
        assert!(correction.contains(part), "{part} is missing: {correction}");
    }
    assert!(
        audit.iter().any(|row| row.contains("— → 4")),
        "the first mark too: {audit:?}"
    );
    // A backup taken and verified.
    assert!(
        report["backup_taken"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Копия сделана"),
        "{report}"
    );
    assert!(
        report["backup_verified"]
            .as_str()
            .unwrap_or_default()
            .contains("исправна"),
        "{report}"
    );
    // A wrong threshold is refused whole; then a new weight and window are stored in the school's rules.
    assert_eq!(report["bad_policy_status"], 400, "{report}");
    assert!(
        report["bad_policy"]
            .as_str()
            .unwrap_or_default()
            .contains("Правила не изменены"),
        "{report}"
    );
    assert_eq!(report["policy_saved"], "Правила сохранены.", "{report}");
    assert_eq!(
        report["stale_policy_status"], 409,
        "a tab opened before the change does not undo it: {report}"
    );
    let policy: Value = relay
        .admin(
            &relay.token("director"),
            reqwest::Method::GET,
            "/policy",
            json!({}),
        )
        .await
        .json()
        .await
        .expect("policy");
    let kind = report["weight_field"]
        .as_str()
        .expect("field")
        .trim_start_matches("kind_weight_");
    assert_eq!(
        policy["policy"]["work_kinds"][kind]["weight"], 2.5,
        "{policy}"
    );
    assert_eq!(policy["policy"]["edit_lock_days"], 10, "{policy}");
    assert_eq!(
        policy["policy"]["thresholds"]["five"], 460,
        "the refused form changed nothing: {policy}"
    );
    // The script-like name is listed as text, and no page ran it.
    assert_eq!(report["script_named_student_listed"], true, "{report}");
    assert_eq!(report["dialogs"], json!([]), "{report}");
    for page in [
        "sign-in",
        "dashboard",
        "classes",
        "classes-bad-row",
        "codes",
        "accounts",
        "account-devices",
        "reports",
        "audit",
        "backups",
        "policy",
        "year",
    ] {
        assert!(
            shots.join(format!("{page}.png")).is_file(),
            "no screenshot of {page}"
        );
    }
}

/// Imports a class list through the admin API as the director.
async fn import_list(relay: &Relay, csv: &str) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/admin/roster", relay.url))
        .bearer_auth(relay.token("director"))
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .expect("roster");
    assert!(response.status().is_success(), "{}", response.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_teacher_sees_only_their_own_class_in_a_browser() {
    let relay = Relay::start_demo();
    import_list(&relay, &good_list()).await;
    let dir = tempfile::tempdir().expect("dir");
    let report = story(
        "class-teacher",
        json!({
            "url": relay.url,
            "out": dir.path(),
            "screenshots": screenshots(dir.path()),
            "code": relay.codes["t-5a"],
        }),
    )
    .await;
    assert_eq!(report["title"], "Мой класс", "{report}");
    assert_eq!(
        strings(&report["nav"]),
        ["Мой класс", "Коды доступа", "Отчёты"],
        "{report}"
    );
    let dashboard = report["dashboard"].as_str().unwrap_or_default();
    assert!(
        dashboard.contains("Класс 5А") && dashboard.contains("Кузнецов Пётр"),
        "{dashboard}"
    );
    assert!(
        dashboard.contains(SCRIPT_NAME),
        "the name is shown as text: {dashboard}"
    );
    assert!(!dashboard.contains("6Б"), "{dashboard}");
    assert_eq!(report["accounts_status"], 403, "{report}");
    assert_eq!(strings(&report["code_classes"]), ["5А"], "{report}");
    assert_eq!(strings(&report["report_classes"]), ["5А"], "{report}");
    assert!(
        !strings(&report["report_kinds"])
            .iter()
            .any(|k| k.contains("Активность")),
        "{report}"
    );
    assert_eq!(report["dialogs"], json!([]), "{report}");
}

/// The sign-in form posted with `fields` (URL-encoded), ready to send.
fn sign_in_form(http: &reqwest::Client, relay: &Relay, fields: String) -> reqwest::RequestBuilder {
    http.post(format!("{}/admin/sign-in", relay.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(fields)
}

/// Posts the sign-in form with `fields`.
async fn sign_in(http: &reqwest::Client, relay: &Relay, fields: String) -> reqwest::Response {
    sign_in_form(http, relay, fields)
        .send()
        .await
        .expect("sign in")
}

/// A client that keeps redirects to itself, as the console's answers are what is checked.
fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

const PAGES: [&str; 12] = [
    "/admin",
    "/admin/accounts",
    "/admin/accounts/parent-s5a1",
    "/admin/classes",
    "/admin/codes",
    "/admin/reports",
    "/admin/reports/file?kind=summary&class=5a",
    "/admin/reports/file?kind=activity",
    "/admin/audit?class=5a",
    "/admin/backups",
    "/admin/year",
    "/admin/policy",
];

const FORMS: [&str; 10] = [
    "/admin/sign-out",
    "/admin/accounts/t-5a/deactivate",
    "/admin/devices/nothing/revoke",
    "/admin/classes/import",
    "/admin/codes/slips",
    "/admin/backups",
    "/admin/backups/verify",
    "/admin/year/freeze",
    "/admin/year/rollover",
    "/admin/policy",
];

async fn status(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.expect("request").status().as_u16()
}

fn cookie(token: &str) -> String {
    format!("journal_console={token}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn families_and_subject_teachers_get_403_on_every_console_route_and_strangers_the_sign_in() {
    let relay = Relay::start_demo();
    let http = plain_client();
    for account in ["parent-s5a1", "student-s5a1", "t-math"] {
        let token = relay.token(account);
        for page in PAGES {
            let answer = status(
                http.get(format!("{}{page}", relay.url))
                    .header("cookie", cookie(&token)),
            )
            .await;
            assert_eq!(answer, 403, "{account} on {page}");
        }
        for form in FORMS {
            let answer = status(
                http.post(format!("{}{form}", relay.url))
                    .header("cookie", cookie(&token))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("class=5a"),
            )
            .await;
            assert_eq!(answer, 403, "{account} posting {form}");
        }
    }
    // Without a valid session every page and form leads to the sign-in page.
    for (method, path) in PAGES
        .iter()
        .map(|p| (reqwest::Method::GET, p))
        .chain(FORMS.iter().map(|f| (reqwest::Method::POST, f)))
    {
        let answer = http
            .request(method.clone(), format!("{}{path}", relay.url))
            .header("cookie", cookie("0123.not-a-token"))
            .send()
            .await
            .expect("request");
        assert_eq!(answer.status().as_u16(), 303, "{method} {path}");
        assert_eq!(
            answer.headers()["location"],
            "/admin/sign-in",
            "{method} {path}"
        );
    }
    // A parent's code is refused by the console unspent: the phone can still use it.
    let code = relay.codes["parent-s5a2"].clone();
    let answer = sign_in(&http, &relay, format!("code={code}")).await;
    assert_eq!(answer.status().as_u16(), 403);
    assert!(answer.headers().get("set-cookie").is_none());
    let redeemed =
        journal_core::sync::client::redeem_code(&relay.url, &code, "телефон", None, None, None)
            .await
            .expect("the code is still good");
    relay.secret(redeemed.token.as_deref().unwrap_or_default());
    // A class teacher is refused the school's pages and another class.
    let teacher = cookie(&relay.token("t-5a"));
    for page in [
        "/admin/accounts",
        "/admin/accounts/director",
        "/admin/classes",
        "/admin/reports/file?kind=summary&class=6b",
        "/admin/reports/file?kind=activity",
        "/admin/audit?class=5a",
        "/admin/backups",
        "/admin/year",
        "/admin/policy",
    ] {
        let answer = status(
            http.get(format!("{}{page}", relay.url))
                .header("cookie", &teacher),
        )
        .await;
        assert_eq!(answer, 403, "the class teacher on {page}");
    }
    let teachers_token = form_token(&relay, &teacher, "/admin/codes").await;
    let slips = status(
        http.post(format!("{}/admin/codes/slips", relay.url))
            .header("cookie", &teacher)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("class=6b&csrf={teachers_token}")),
    )
    .await;
    assert_eq!(slips, 403, "slips for another class");
    let card = status(
        http.get(format!(
            "{}/admin/reports/file?kind=report-card&student=s6b1",
            relay.url
        ))
        .header("cookie", &teacher),
    )
    .await;
    assert_eq!(card, 403, "another class's student's report card");
    let own = status(
        http.get(format!(
            "{}/admin/reports/file?kind=summary&class=5a",
            relay.url
        ))
        .header("cookie", &teacher),
    )
    .await;
    assert_eq!(own, 200, "the class teacher's own class");
}

/// The form token on a console page the cookie's holder opens.
async fn form_token(relay: &Relay, cookie: &str, page: &str) -> String {
    let html = plain_client()
        .get(format!("{}{page}", relay.url))
        .header("cookie", cookie)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let at = html.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    html[at..at + 64].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_post_without_its_form_token_is_refused_and_changes_nothing() {
    let relay = Relay::start_demo();
    let http = plain_client();
    let director = cookie(&relay.token("director"));
    let phone = relay.token("parent-s5a1");
    let device = phone.split('.').next().expect("device id").to_owned();
    let revoke = format!("{}/admin/devices/{device}/revoke", relay.url);
    for body in [
        "account=parent-s5a1".to_owned(),
        format!("account=parent-s5a1&csrf={}", "0".repeat(64)),
    ] {
        let answer = status(
            http.post(&revoke)
                .header("cookie", &director)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await;
        assert_eq!(answer, 403);
    }
    // Another user's token does not pass either.
    let teachers = form_token(&relay, &cookie(&relay.token("t-5a")), "/admin/codes").await;
    let answer = status(
        http.post(&revoke)
            .header("cookie", &director)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("account=parent-s5a1&csrf={teachers}")),
    )
    .await;
    assert_eq!(answer, 403);
    let mut still = journal_e2e::Device::new(&relay, &phone);
    still.sync().await;
    // With the page's own token the device is revoked.
    let token = form_token(&relay, &director, "/admin/accounts/parent-s5a1").await;
    let answer = status(
        http.post(&revoke)
            .header("cookie", &director)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("account=parent-s5a1&csrf={token}")),
    )
    .await;
    assert_eq!(answer, 303);
    assert!(RawClient::connect(&relay, &phone).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_cookie_is_http_only_strict_and_secure_under_tls() {
    let relay = Relay::start_demo_with(&["--tls-self-signed"]);
    let tls = journal_core::sync::tls::client_config(relay.pin.as_ref());
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls.as_ref().clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let answer = sign_in(&http, &relay, format!("code={}", relay.codes["director"])).await;
    assert_eq!(answer.status().as_u16(), 303);
    let set = answer.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned();
    let token = set
        .trim_start_matches("journal_console=")
        .split(';')
        .next()
        .expect("value")
        .to_owned();
    relay.secret(&token);
    for flag in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/admin"] {
        assert!(set.contains(flag), "{flag} is missing: {set}");
    }
    let dashboard = http
        .get(format!("{}/admin", relay.url))
        .header("cookie", cookie(&token))
        .send()
        .await
        .expect("dashboard");
    assert_eq!(dashboard.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_year_is_frozen_only_when_confirmed_by_its_name_and_then_the_next_is_opened() {
    let relay = Relay::start_demo();
    let dir = tempfile::tempdir().expect("dir");
    let report = story(
        "year-end",
        json!({
            "url": relay.url,
            "out": dir.path(),
            "code": relay.codes["director"],
        }),
    )
    .await;
    let year = report["year"].as_str().expect("year").to_owned();
    assert_eq!(report["misnamed"]["status"], 400, "{report}");
    assert!(
        report["misnamed"]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Ничего не изменено"),
        "{report}"
    );
    assert_eq!(
        report["not_over"]["status"], 409,
        "a year still running needs the early box: {report}"
    );
    assert_eq!(report["frozen"]["status"], 200, "{report}");
    let years = strings(&report["years"]);
    assert!(
        years
            .iter()
            .any(|row| row.starts_with(&year) && row.ends_with("закрыт, в архиве")),
        "{years:?}"
    );
    assert!(
        report["rolled_over"]
            .as_str()
            .unwrap_or_default()
            .contains("5А → 6А"),
        "{report}"
    );
    assert_eq!(strings(&report["years_after"]).len(), 2, "{report}");
    let archive = relay.data_dir().join(format!("archive-{year}"));
    assert!(
        std::fs::read_dir(&archive).is_ok_and(|mut files| files.next().is_some()),
        "the signed archive is written to {}",
        archive.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sign_in_attempts_are_rate_limited_as_code_redemption_is() {
    let relay = Relay::start_demo();
    let http = plain_client();
    let mut statuses = Vec::new();
    for attempt in 0..12 {
        let answer = sign_in(&http, &relay, format!("code=WRNG-{attempt:04}-AAAA-A")).await;
        statuses.push(answer.status().as_u16());
    }
    assert_eq!(statuses[0], 400, "a wrong code is refused: {statuses:?}");
    assert_eq!(
        statuses.last(),
        Some(&429),
        "guessing is slowed down: {statuses:?}"
    );
    // The right code is refused too while the address is held back.
    let answer = sign_in(&http, &relay, format!("code={}", relay.codes["director"])).await;
    assert_eq!(answer.status().as_u16(), 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_keys_under_a_known_device_id_hold_back_their_address_only_and_foreign_pages_cannot_sign_in()
 {
    let relay = Relay::start_demo();
    let director = relay.token("director");
    let (director_device, _) = director.split_once('.').expect("a device token");
    let guesser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .expect("client");
    let mut last = 0;
    for attempt in 0..12 {
        last = sign_in(
            &guesser,
            &relay,
            format!("token={director_device}.{attempt:064}"),
        )
        .await
        .status()
        .as_u16();
    }
    assert_eq!(last, 429, "the guessing address is held back");
    let http = plain_client();
    let answer = sign_in(&http, &relay, format!("token={director}")).await;
    assert_eq!(
        answer.status().as_u16(),
        303,
        "the director signs in from another address with the very device the guesser named"
    );
    let console = answer.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .trim_start_matches("journal_console=")
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    relay.secret(&console);
    // A console's own key does not open another console: its working day would never end.
    let answer = sign_in(&http, &relay, format!("token={console}")).await;
    assert_eq!(answer.status().as_u16(), 400);
    assert!(answer.headers().get("set-cookie").is_none());
    // Nor can a phone take the console's name, and with it the console's twelve-hour day.
    let redeem = |label: &'static str| {
        http.post(format!("{}/v1/redeem", relay.url))
            .json(&json!({ "code": relay.codes["parent-s5a1"], "label": label }))
            .send()
    };
    let refused = redeem("веб-консоль").await.expect("redeem");
    assert_eq!(refused.status().as_u16(), 400);
    assert!(refused.text().await.expect("body").contains("web console"));
    let phone = redeem("телефон").await.expect("redeem");
    assert_eq!(phone.status().as_u16(), 200, "the code was not spent");
    let phone: Value = phone.json().await.expect("json");
    relay.secret(phone["token"].as_str().expect("token"));
    // A page on another site cannot post a sign-in (which would put the visitor in its own session).
    for headers in [
        vec![("origin", "http://evil.example")],
        vec![("sec-fetch-site", "cross-site")],
        vec![
            ("sec-fetch-site", "same-site"),
            ("origin", "http://evil.example"),
        ],
    ] {
        let mut form = sign_in_form(&http, &relay, format!("code={}", relay.codes["t-5a"]));
        for (header, value) in &headers {
            form = form.header(*header, *value);
        }
        let answer = form.send().await.expect("sign in");
        assert_eq!(answer.status().as_u16(), 403, "{headers:?}");
        assert!(answer.headers().get("set-cookie").is_none());
    }
    // Behind a proxy that rewrites Host, the browser's own word that the form is the console's counts.
    let answer = sign_in_form(&http, &relay, format!("code={}", relay.codes["t-5a"]))
        .header("origin", "https://journal.school.example")
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("sign in");
    assert_eq!(answer.status().as_u16(), 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_backs_up_and_verifies_a_district_database_on_postgresql() {
    let db = journal_relay::store::postgres::testing::TestDatabase::create("console");
    let relay = Relay::start_demo_on(db.url());
    let http = plain_client();
    let director = cookie(&relay.token("director"));
    let post = |path: &str, body: String| {
        http.post(format!("{}{path}", relay.url))
            .header("cookie", &director)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let token = form_token(&relay, &director, "/admin/backups").await;
    let taken = post("/admin/backups", format!("csrf={token}"))
        .await
        .expect("backup");
    assert_eq!(taken.status().as_u16(), 200);
    assert!(
        taken.text().await.expect("page").contains("Копия сделана"),
        "the snapshot is taken"
    );
    let snapshot = std::fs::read_dir(relay.data_dir().join("backups"))
        .expect("backups")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .find(|name| name.ends_with(".jbak"))
        .expect("a snapshot file");
    let verified = post(
        "/admin/backups/verify",
        format!("csrf={token}&file={snapshot}"),
    )
    .await
    .expect("verify");
    assert_eq!(verified.status().as_u16(), 200);
    assert!(
        verified.text().await.expect("page").contains("исправна"),
        "the snapshot of the district's database verifies"
    );
    // A name that is not a snapshot of the folder is refused, not looked for elsewhere.
    let outside = post(
        "/admin/backups/verify",
        format!("csrf={token}&file=..%2Frelay.db"),
    )
    .await
    .expect("verify");
    assert_eq!(outside.status().as_u16(), 400);
}
