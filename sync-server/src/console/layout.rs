//! The frame every console page shares: its head, navigation, messages and the stylesheet, which is
//! embedded in the binary.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use journal_core::reports::ReportDoc;
use maud::{DOCTYPE, Markup, html};

use super::ConsoleUser;

const STYLESHEET: &str = include_str!("console.css");

/// `GET /admin/style.css`.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// The sections of the console a user's desk opens, as (path, title).
fn sections(user: &ConsoleUser) -> Vec<(&'static str, &'static str)> {
    if user.is_administration() {
        vec![
            ("/admin", "Обзор"),
            ("/admin/accounts", "Учётные записи"),
            ("/admin/classes", "Классы"),
            ("/admin/codes", "Коды доступа"),
            ("/admin/reports", "Отчёты"),
            ("/admin/audit", "Журнал изменений"),
            ("/admin/backups", "Резервные копии"),
            ("/admin/year", "Учебный год"),
            ("/admin/policy", "Правила оценивания"),
        ]
    } else {
        vec![
            ("/admin", "Мой класс"),
            ("/admin/codes", "Коды доступа"),
            ("/admin/reports", "Отчёты"),
        ]
    }
}

/// A whole page: `title` over `body`, with the navigation for `user` (none on the sign-in page).
pub fn page(user: Option<&ConsoleUser>, title: &str, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="ru" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " — Электронный журнал" }
                    link rel="stylesheet" href="/admin/style.css";
                }
                body {
                    header {
                        span.brand { "Электронный журнал" }
                        @if let Some(user) = user {
                            nav {
                                @for (path, name) in sections(user) {
                                    a href=(path) { (name) }
                                }
                            }
                            form.signout method="post" action="/admin/sign-out" {
                                (form_token(user))
                                span.who { (user.who.account.name) }
                                button type="submit" { "Выйти" }
                            }
                        }
                    }
                    main {
                        h1 { (title) }
                        (body)
                    }
                }
            }
        }
        .into_string(),
    )
}

/// The hidden field that proves a form came from a console page.
pub fn form_token(user: &ConsoleUser) -> Markup {
    html! { input type="hidden" name="csrf" value=(user.form_token); }
}

/// A page that only says what went wrong.
pub fn message_page(status: StatusCode, message: &str) -> Html<String> {
    let title = match status {
        StatusCode::FORBIDDEN => "Нет доступа",
        StatusCode::NOT_FOUND => "Не найдено",
        StatusCode::TOO_MANY_REQUESTS => "Слишком много попыток",
        s if s.is_server_error() => "Ошибка сервера",
        _ => "Запрос не выполнен",
    };
    page(
        None,
        title,
        html! {
            p.error { (message) }
            p { a href="/admin" { "На главную страницу консоли" } }
        },
    )
}

/// The tables of a report as HTML, each under its heading, with its notes.
pub fn report_tables(doc: &ReportDoc) -> Markup {
    html! {
        @for section in &doc.sections {
            section {
                h2 { (section.heading) }
                table {
                    thead { tr { @for column in &section.table.columns { th { (column) } } } }
                    tbody {
                        @for row in &section.table.rows {
                            tr { @for value in row { td { (value.to_string()) } } }
                        }
                    }
                }
                @for note in &section.notes { p.note { (note) } }
            }
        }
    }
}

/// A moment as the school reads it: `12.11.2026 08:15` (UTC when the school's zone is unknown).
pub fn moment(at: i64, zone: journal_core::SchoolTimeZone) -> String {
    let day = zone.day_at(at);
    let seconds = at - zone.midnight(day);
    format!(
        "{:02}.{:02}.{} {:02}:{:02}",
        day.day(),
        u8::from(day.month()),
        day.year(),
        seconds / 3600,
        seconds % 3600 / 60
    )
}
