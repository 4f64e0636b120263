//! The marking policy, for the administration: kinds of work with their weights, the thresholds that
//! round an average to a term mark, the attendance codes, the edit-lock window and the school's time zone.
//! Every change is checked by the journal's rules and written to the administration's log.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use journal_core::{AttendanceCode, MarkingPolicy, SchoolTimeZone, WorkKind, WorkKindId};
use maud::{Markup, html};

use super::{ConsoleError, ConsoleUser, Posted, blocking, layout};
use crate::app::App;

/// `GET /admin/policy`.
pub async fn page(
    State(app): State<Arc<App>>,
    user: ConsoleUser,
) -> Result<Html<String>, ConsoleError> {
    user.administration_only()?;
    let body = policy_body(app, &user, html! {}).await?;
    Ok(layout::page(Some(&user), "Правила оценивания", body))
}

/// Hundredths as the school writes them: `4,60`.
fn hundredths(value: u16) -> String {
    format!("{},{:02}", value / 100, value % 100)
}

fn weight(value: f64) -> String {
    value.to_string().replace('.', ",")
}

async fn policy_body(
    app: Arc<App>,
    user: &ConsoleUser,
    outcome: Markup,
) -> Result<Markup, ConsoleError> {
    let (year, policy, zone) = blocking(move || {
        let (year, policy) = app.services.marking_policy()?;
        Ok((year, policy, app.services.time_zone()?))
    })
    .await?;
    let new_code = policy.attendance_codes.len();
    Ok(html! {
        (outcome)
        form.panel id="policy" method="post" action="/admin/policy" {
            (layout::form_token(user))
            input type="hidden" name="based_on" value=(fingerprint(&policy, zone));
            p { "Правила " (year) " учебного года. Изменения проверяются и записываются в журнал действий администрации." }
            h2 { "Виды работ и их вес в среднем балле" }
            table id="kinds" {
                thead { tr { th { "Вид работы" } th { "Вес" } } }
                tbody {
                    @for (id, kind) in &policy.work_kinds {
                        tr {
                            td { input type="text" name={ "kind_name_" (id) } value=(kind.name); }
                            td { input type="text" name={ "kind_weight_" (id) } value=(weight(kind.weight)) size="5"; }
                        }
                    }
                    tr {
                        td { "Новый вид: код " input type="text" name="new_kind_id" size="10" placeholder="project";
                             " название " input type="text" name="new_kind_name"; }
                        td { input type="text" name="new_kind_weight" size="5"; }
                    }
                }
            }
            h2 { "Округление среднего балла до отметки за период" }
            label { "«5» от " input type="text" name="five" value=(hundredths(policy.thresholds.five)) size="5"; }
            label { "«4» от " input type="text" name="four" value=(hundredths(policy.thresholds.four)) size="5"; }
            label { "«3» от " input type="text" name="three" value=(hundredths(policy.thresholds.three)) size="5"; }
            label { "Отметок для отметки за период, не меньше " input type="number" name="min_marks" min="0" value=(policy.min_marks_for_term); }
            h2 { "Отметки посещаемости" }
            p.note { "Чтобы убрать отметку, сотрите её букву." }
            table id="codes" {
                thead { tr { th { "Буква" } th { "Значение" } th { "Пропуск урока" } } }
                tbody {
                    @for (i, code) in policy.attendance_codes.iter().enumerate() {
                        tr {
                            td { input type="text" name={ "code_" (i) } value=(code.code) size="4"; }
                            td { input type="text" name={ "code_name_" (i) } value=(code.name); }
                            td { input type="checkbox" name={ "code_missed_" (i) } value="yes" checked[code.missed]; }
                        }
                    }
                    tr {
                        td { input type="text" name={ "code_" (new_code) } size="4"; }
                        td { input type="text" name={ "code_name_" (new_code) }; }
                        td { input type="checkbox" name={ "code_missed_" (new_code) } value="yes"; }
                    }
                }
            }
            h2 { "Исправления и время" }
            label { "Сколько дней после урока учитель может исправить его записи сам (0 — без ограничения) "
                input type="number" name="edit_lock_days" min="0" value=(policy.edit_lock_days); }
            label { "Часовой пояс школы " input type="text" name="time_zone" value=(zone) size="10"; }
            div { button type="submit" { "Сохранить правила" } }
        }
    })
}

fn refused(message: String) -> ConsoleError {
    ConsoleError::page(
        StatusCode::BAD_REQUEST,
        format!("{message} Правила не изменены."),
    )
}

fn decimal(posted: &Posted, name: &str, what: &str) -> Result<f64, ConsoleError> {
    let typed = posted.field(name);
    typed
        .replace(',', ".")
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| refused(format!("{what}: «{typed}» — не число.")))
}

fn threshold(posted: &Posted, name: &str) -> Result<u16, ConsoleError> {
    let value = decimal(posted, name, &format!("Порог «{name}»"))?;
    let scaled = (value * 100.0).round();
    if (0.0..=500.0).contains(&scaled) {
        Ok(scaled as u16)
    } else {
        Err(refused(format!(
            "Порог «{}» должен быть от 0 до 5.",
            posted.field(name)
        )))
    }
}

fn whole<T: std::str::FromStr>(posted: &Posted, name: &str, what: &str) -> Result<T, ConsoleError> {
    let typed = posted.field(name);
    typed
        .parse()
        .map_err(|_| refused(format!("{what}: «{typed}» — не целое число.")))
}

/// The policy the form describes, built on `current` (kinds the form does not name are kept).
fn policy_from(posted: &Posted, current: &MarkingPolicy) -> Result<MarkingPolicy, ConsoleError> {
    let mut policy = current.clone();
    for (id, kind) in policy.work_kinds.iter_mut() {
        let name = posted.field(&format!("kind_name_{id}"));
        if !name.is_empty() {
            name.clone_into(&mut kind.name);
        }
        kind.weight = decimal(
            posted,
            &format!("kind_weight_{id}"),
            &format!("Вес «{name}»"),
        )?;
    }
    let new_id = posted.field("new_kind_id");
    if !new_id.is_empty() {
        let id: WorkKindId = new_id.parse().map_err(|e: journal_core::InputError| {
            refused(format!("Код нового вида работы «{new_id}»: {e}."))
        })?;
        let name = posted.field("new_kind_name");
        if name.is_empty() {
            return Err(refused("У нового вида работы нет названия.".into()));
        }
        let weight = decimal(posted, "new_kind_weight", "Вес нового вида работы")?;
        policy.work_kinds.insert(
            id,
            WorkKind {
                name: name.to_owned(),
                weight,
            },
        );
    }
    policy.thresholds.five = threshold(posted, "five")?;
    policy.thresholds.four = threshold(posted, "four")?;
    policy.thresholds.three = threshold(posted, "three")?;
    policy.min_marks_for_term = whole(posted, "min_marks", "Число отметок")?;
    policy.edit_lock_days = whole(posted, "edit_lock_days", "Дней на исправление")?;
    policy.attendance_codes = (0..=current.attendance_codes.len())
        .filter_map(|i| {
            let code = posted.field(&format!("code_{i}"));
            (!code.is_empty()).then(|| AttendanceCode {
                code: code.to_owned(),
                name: posted.field(&format!("code_name_{i}")).to_owned(),
                missed: posted.field(&format!("code_missed_{i}")) == "yes",
            })
        })
        .collect();
    policy.check().map_err(|e| refused(format!("{e}.")))?;
    Ok(policy)
}

/// A short fingerprint of the rules a form was built on, so that a save over someone else's change is
/// refused instead of undoing it.
fn fingerprint(policy: &MarkingPolicy, zone: SchoolTimeZone) -> String {
    let text = serde_json::to_string(&(policy, zone)).unwrap_or_default();
    hex::encode(&ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref()[..8])
}

/// `POST /admin/policy`: the whole form, checked, then stored in one change; nothing is stored if any
/// field is wrong or the rules changed since the page was opened.
pub async fn save(State(app): State<Arc<App>>, posted: Posted) -> Result<Response, ConsoleError> {
    posted.user.administration_only()?;
    let zone: SchoolTimeZone = posted
        .field("time_zone")
        .parse()
        .map_err(|e: journal_core::InputError| refused(format!("Часовой пояс: {e}.")))?;
    let who = posted.user.who.clone();
    let (current, current_zone) = blocking({
        let app = app.clone();
        move || Ok((app.services.marking_policy()?.1, app.services.time_zone()?))
    })
    .await?;
    if posted.field("based_on") != fingerprint(&current, current_zone) {
        return Err(ConsoleError::page(
            StatusCode::CONFLICT,
            "Правила изменили, пока страница была открыта. Откройте её заново и внесите изменения ещё раз. Ничего не изменено.",
        ));
    }
    let policy = policy_from(&posted, &current)?;
    blocking({
        let app = app.clone();
        move || {
            Ok(app
                .services
                .set_school_rules(&who, &current, &policy, zone)?)
        }
    })
    .await?;
    let outcome = html! { p.ok id="outcome" { "Правила сохранены." } };
    let body = policy_body(app, &posted.user, outcome).await?;
    Ok(layout::page(Some(&posted.user), "Правила оценивания", body).into_response())
}
