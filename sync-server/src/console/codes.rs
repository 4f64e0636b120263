//! Access codes for a class's families, printed as slips to cut: the administration for any class, a
//! class teacher for their own.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, Response};
use journal_core::ClassId;
use maud::html;

use super::{ConsoleError, ConsoleUser, Posted, blocking, layout};
use crate::app::App;
use crate::read_model::Scope;
use crate::reports::{self, ReportFormat, SlipRequest};
use crate::services::codes::DEFAULT_VALID_DAYS;

/// The classes of the newest year the user's desk covers, as (id, name).
pub(super) async fn desk_classes(
    app: &Arc<App>,
    user: &ConsoleUser,
) -> Result<Vec<(ClassId, String)>, ConsoleError> {
    let app = app.clone();
    let desk = user.desk.clone();
    blocking(move || {
        let store = app.store().as_ref();
        let Ok(year) = reports::newest_year(store) else {
            return Ok(Vec::new());
        };
        let classes = app.read_model.read(
            store,
            year,
            |_| Scope::Classes,
            |journal| Ok(journal.classes(year)),
        )?;
        Ok(classes
            .into_iter()
            .filter(|(class, _)| desk.covers(class))
            .collect())
    })
    .await
}

/// `GET /admin/codes`.
pub async fn page(
    State(app): State<Arc<App>>,
    user: ConsoleUser,
) -> Result<Html<String>, ConsoleError> {
    let classes = desk_classes(&app, &user).await?;
    let body = html! {
        form.panel method="post" action="/admin/codes/slips" {
            p { "Для каждого ученика класса и каждого родителя выдаётся новый одноразовый код; прежние неиспользованные коды этих людей перестают действовать. Листок с кодами разрезается и раздаётся семьям." }
            (layout::form_token(&user))
            label { "Класс "
                select name="class" {
                    @for (class, name) in &classes { option value=(class) { (name) } }
                }
            }
            label { "Действует дней " input type="number" name="valid_days" min="1" max=(crate::services::codes::MAX_VALID_DAYS) value=(DEFAULT_VALID_DAYS); }
            button type="submit" { "Выдать коды и скачать листки (PDF)" }
        }
    };
    Ok(layout::page(Some(&user), "Коды доступа", body))
}

/// `POST /admin/codes/slips`: fresh codes for the class, as a PDF of slips.
pub async fn slips(State(app): State<Arc<App>>, posted: Posted) -> Result<Response, ConsoleError> {
    let class: ClassId = posted
        .field("class")
        .parse()
        .map_err(|_| ConsoleError::page(StatusCode::BAD_REQUEST, "Выберите класс из списка."))?;
    if !posted.user.desk.covers(&class) {
        return Err(ConsoleError::page(
            StatusCode::FORBIDDEN,
            "Коды для этого класса выдаёт его классный руководитель или администрация.",
        ));
    }
    let valid_days = match posted.field("valid_days") {
        "" => DEFAULT_VALID_DAYS,
        typed => typed.parse().map_err(|_| {
            ConsoleError::page(
                StatusCode::BAD_REQUEST,
                format!("Срок действия «{typed}» — не число дней."),
            )
        })?,
    };
    let request = SlipRequest {
        year: None,
        class,
        valid_days,
        certificate: app.certificate_pin,
    };
    let who = posted.user.who.clone();
    let (bytes, count) = blocking(move || {
        Ok(reports::access_slips(
            app.store().as_ref(),
            &app.read_model,
            &app.secrets,
            &who,
            &request,
            app.hub.clock().as_ref(),
        )?)
    })
    .await?;
    tracing::info!(
        slips = count,
        "issued access codes as slips from the console"
    );
    Ok(crate::routes::reports::file(
        bytes,
        ReportFormat::Pdf,
        "slips",
    ))
}
