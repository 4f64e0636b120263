//! The school year, for the administration: its years with their state, freezing one into the signed
//! archive (confirmed by typing the year's name) and opening the next year by rollover.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use journal_core::{DocId, YearId};
use maud::{Markup, html};

use super::{ConsoleError, ConsoleUser, Posted, blocking, layout};
use crate::app::App;
use crate::read_model::Scope;
use crate::routes::AppError;

/// A year the relay holds.
struct HeldYear {
    year: YearId,
    last_day: Option<time::Date>,
    frozen: bool,
}

fn held_years(app: &App) -> Result<Vec<HeldYear>, ConsoleError> {
    let store = app.store().as_ref();
    let mut years: Vec<YearId> = store
        .document_heads()
        .map_err(AppError::from)?
        .iter()
        .filter_map(|(id, _)| match id.parse::<DocId>() {
            Ok(DocId::School(year)) => Some(year),
            _ => None,
        })
        .collect();
    years.sort();
    years.dedup();
    let mut held = Vec::new();
    for year in years.into_iter().rev() {
        let last_day = app.read_model.read(
            store,
            year,
            |_| Scope::Classes,
            |journal| Ok(journal.school_settings(year).map(|s| s.year.end)),
        )?;
        held.push(HeldYear {
            year,
            last_day,
            frozen: store.is_frozen(year).map_err(AppError::from)?,
        });
    }
    Ok(held)
}

fn day(date: time::Date) -> String {
    format!(
        "{:02}.{:02}.{}",
        date.day(),
        u8::from(date.month()),
        date.year()
    )
}

/// `GET /admin/year`.
pub async fn page(
    State(app): State<Arc<App>>,
    user: ConsoleUser,
) -> Result<Html<String>, ConsoleError> {
    user.administration_only()?;
    let body = year_body(app, &user, html! {}).await?;
    Ok(layout::page(Some(&user), "Учебный год", body))
}

async fn year_body(
    app: Arc<App>,
    user: &ConsoleUser,
    outcome: Markup,
) -> Result<Markup, ConsoleError> {
    let years = blocking(move || held_years(&app)).await?;
    Ok(html! {
        (outcome)
        table id="years" {
            thead { tr { th { "Учебный год" } th { "Последний день" } th { "Состояние" } } }
            tbody {
                @for held in &years {
                    tr {
                        td { (held.year) }
                        td { @if let Some(last) = held.last_day { (day(last)) } }
                        td { @if held.frozen { "закрыт, в архиве" } @else { "открыт" } }
                    }
                }
            }
        }
        @if let Some(open) = years.iter().find(|y| !y.frozen) {
            form.panel id="freeze" method="post" action="/admin/year/freeze" {
                (layout::form_token(user))
                h2 { "Закрыть " (open.year) }
                p { "Закрытый год больше нельзя изменить никому и никогда: его отметки, посещаемость и темы уроков становятся только для чтения, а подписанный архив записывается в папку данных сервера. Чтобы подтвердить, введите название года: " b { (open.year) } "." }
                input type="hidden" name="year" value=(open.year);
                label { "Название года " input type="text" name="confirm" autocomplete="off"; }
                label { input type="checkbox" name="early" value="yes"; " закрыть до последнего дня года" }
                button.danger type="submit" { "Закрыть год" }
            }
        }
        @if let Some(newest) = years.first() {
            form.panel id="rollover" method="post" action="/admin/year/rollover" {
                (layout::form_token(user))
                @let next = YearId(newest.year.0 + 1);
                h2 { "Открыть " (next) }
                p { "Классы переходят на год вперёд вместе с учениками, учителями и родителями; выпускники выбывают. Год " (newest.year) " остаётся как есть. Чтобы подтвердить, введите название нового года: " b { (next) } "." }
                input type="hidden" name="from" value=(newest.year);
                label { "Название нового года " input type="text" name="confirm" autocomplete="off"; }
                button type="submit" { "Открыть новый год" }
            }
        }
    })
}

fn year_field(posted: &Posted, name: &str) -> Result<YearId, ConsoleError> {
    posted.field(name).parse().map_err(|_| {
        ConsoleError::page(StatusCode::BAD_REQUEST, "Выберите учебный год на странице.")
    })
}

fn confirmed(posted: &Posted, year: YearId) -> Result<(), ConsoleError> {
    if posted.field("confirm") == year.to_string() {
        Ok(())
    } else {
        Err(ConsoleError::page(
            StatusCode::BAD_REQUEST,
            format!(
                "Не подтверждено: введите название года {year} точно так, как оно написано. Ничего не изменено."
            ),
        ))
    }
}

/// `POST /admin/year/freeze`.
pub async fn freeze(State(app): State<Arc<App>>, posted: Posted) -> Result<Response, ConsoleError> {
    posted.user.administration_only()?;
    let year = year_field(&posted, "year")?;
    confirmed(&posted, year)?;
    let early = posted.field("early") == "yes";
    let who = posted.user.who.clone();
    let (files, folder) = blocking({
        let app = app.clone();
        move || {
            let dir = app.data_dir.clone().ok_or_else(|| {
                ConsoleError::page(
                    StatusCode::NOT_FOUND,
                    "У этого сервера нет папки данных для архива.",
                )
            })?;
            let held = held_years(&app)?;
            let today = app.services.school_today()?;
            if let Some(last) = held
                .iter()
                .find(|h| h.year == year)
                .and_then(|h| h.last_day)
                && today <= last
                && !early
            {
                return Err(ConsoleError::page(
                    StatusCode::CONFLICT,
                    format!(
                        "Год {year} идёт до {}: его уроки, отметки и посещаемость закрылись бы раньше срока. Чтобы закрыть его всё равно, отметьте «закрыть до последнего дня года». Ничего не изменено.",
                        day(last)
                    ),
                ));
            }
            let out = crate::archive::default_folder(&dir, year);
            let manifest = app.services.freeze_year(&who, year, &dir, &out)?;
            Ok((manifest.files.len(), out.display().to_string()))
        }
    })
    .await?;
    let outcome = html! { p.ok id="outcome" { "Год " (year) " закрыт. Архив (" (files) " файлов) записан в " code { (folder) } "." } };
    let body = year_body(app, &posted.user, outcome).await?;
    Ok(layout::page(Some(&posted.user), "Учебный год", body).into_response())
}

/// `POST /admin/year/rollover`.
pub async fn rollover(
    State(app): State<Arc<App>>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    posted.user.administration_only()?;
    let from = year_field(&posted, "from")?;
    confirmed(&posted, YearId(from.0 + 1))?;
    let who = posted.user.who.clone();
    let (classes, graduates) = blocking({
        let app = app.clone();
        move || {
            let promotion = app.services.roll_over(&who, from)?;
            let store = app.store().as_ref();
            let names = |year: YearId| {
                app.read_model.read(
                    store,
                    year,
                    |_| Scope::Classes,
                    |journal| {
                        Ok(journal
                            .classes(year)
                            .into_iter()
                            .collect::<std::collections::HashMap<_, _>>())
                    },
                )
            };
            let (old_names, new_names) = (names(from)?, names(YearId(from.0 + 1))?);
            let named = |names: &std::collections::HashMap<journal_core::ClassId, String>,
                         class: &journal_core::ClassId| {
                names
                    .get(class)
                    .cloned()
                    .unwrap_or_else(|| class.to_string())
            };
            let classes: Vec<(String, Option<String>)> = promotion
                .classes
                .iter()
                .map(|(old, new)| {
                    (
                        named(&old_names, old),
                        new.as_ref().map(|new| named(&new_names, new)),
                    )
                })
                .collect();
            Ok((classes, promotion.graduates.len()))
        }
    })
    .await?;
    let outcome = html! {
        div.panel id="outcome" {
            p.ok { "Открыт " (YearId(from.0 + 1)) "." }
            ul {
                @for (old, new) in &classes {
                    li { (old) " → " @match new { Some(new) => (new), None => "выпуск" } }
                }
            }
            p { "Выпускников: " (graduates) }
        }
    };
    let body = year_body(app, &posted.user, outcome).await?;
    Ok(layout::page(Some(&posted.user), "Учебный год", body).into_response())
}
