//! Accounts and devices, for the administration: search, an account's devices with when each was last
//! seen, deactivating an account and revoking a device (its live sessions close at once).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{Html, Redirect};
use maud::html;
use serde::Deserialize;

use super::{ConsoleError, ConsoleUser, Posted, blocking, layout};
use crate::app::App;
use crate::store::AccountRole;

/// How the console names a role.
pub fn role_name(role: AccountRole) -> &'static str {
    match role {
        AccountRole::Administration => "администрация",
        AccountRole::Teacher => "учитель",
        AccountRole::Parent => "родитель",
        AccountRole::Student => "ученик",
    }
}

/// The search box.
#[derive(Deserialize, Default)]
pub struct Search {
    #[serde(default)]
    q: String,
}

/// `GET /admin/accounts?q=`: accounts whose name contains `q`, any case.
pub async fn list(
    State(app): State<Arc<App>>,
    user: ConsoleUser,
    Query(search): Query<Search>,
) -> Result<Html<String>, ConsoleError> {
    user.administration_only()?;
    let who = user.who.clone();
    let accounts = blocking(move || Ok(app.services.accounts(&who)?)).await?;
    let wanted = search.q.trim().to_lowercase();
    let found: Vec<_> = accounts
        .iter()
        .filter(|a| wanted.is_empty() || a.name.to_lowercase().contains(&wanted))
        .collect();
    let body = html! {
        form.panel method="get" action="/admin/accounts" {
            label { "Поиск по имени " input type="text" name="q" value=(search.q); }
            button type="submit" { "Найти" }
        }
        p.note { "Найдено: " (found.len()) " из " (accounts.len()) }
        table id="accounts" {
            thead { tr { th { "Имя" } th { "Роль" } th { "Состояние" } th {} } }
            tbody {
                @for account in &found {
                    tr {
                        td { (account.name) }
                        td { (role_name(account.role)) }
                        td { @if account.active { "активна" } @else { span.muted { "отключена" } } }
                        td { a href={ "/admin/accounts/" (account.id) } { "Устройства" } }
                    }
                }
            }
        }
    };
    Ok(layout::page(Some(&user), "Учётные записи", body))
}

/// `GET /admin/accounts/{id}`: one account with its devices.
pub async fn account(
    State(app): State<Arc<App>>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Result<Html<String>, ConsoleError> {
    user.administration_only()?;
    let who = user.who.clone();
    let (account, devices, zone) = blocking(move || {
        let account = app
            .services
            .accounts(&who)?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| {
                ConsoleError::page(
                    axum::http::StatusCode::NOT_FOUND,
                    "Такой учётной записи нет.",
                )
            })?;
        let mut devices = Vec::new();
        for device in app.services.devices_of(&who, &id)? {
            let seen = app.services.device_last_seen(&device.id)?;
            devices.push((device, seen));
        }
        let zone = crate::reports::newest_year(app.store().as_ref())
            .and_then(|year| crate::reports::time_zone(app.store().as_ref(), &app.read_model, year))
            .unwrap_or_default();
        Ok((account, devices, zone))
    })
    .await?;
    let body = html! {
        p { "Роль: " (role_name(account.role)) ". "
            @if account.active { "Учётная запись активна." } @else { span.muted { "Учётная запись отключена." } } }
        h2 { "Устройства" }
        table id="devices" {
            thead { tr { th { "Устройство" } th { "Подключено" } th { "Последняя синхронизация" } th { "Состояние" } th {} } }
            tbody {
                @for (device, seen) in &devices {
                    tr {
                        td { (device.label) }
                        td { (layout::moment(device.created_at, zone)) }
                        td { @match seen { Some(at) => (layout::moment(*at, zone)), None => span.muted { "не было" } } }
                        td { @match device.revoked_at {
                            Some(at) => span.muted { "отключено " (layout::moment(at, zone)) },
                            None => "подключено",
                        } }
                        td {
                            @if device.revoked_at.is_none() {
                                form.inline method="post" action={ "/admin/devices/" (device.id) "/revoke" } {
                                    (layout::form_token(&user))
                                    input type="hidden" name="account" value=(account.id);
                                    button.danger type="submit" { "Отключить устройство" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if account.active && account.id != user.who.account.id {
            form.panel method="post" action={ "/admin/accounts/" (account.id) "/deactivate" } {
                (layout::form_token(&user))
                p { "Отключённая учётная запись больше не сможет синхронизироваться ни с одного устройства; её записи в журнале сохранятся." }
                button.danger type="submit" { "Отключить учётную запись" }
            }
        }
    };
    Ok(layout::page(Some(&user), &account.name, body))
}

/// `POST /admin/accounts/{id}/deactivate`.
pub async fn deactivate(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Redirect, ConsoleError> {
    posted.user.administration_only()?;
    let who = posted.user.who.clone();
    let target = id.clone();
    blocking(move || Ok(app.services.deactivate_account(&who, &target)?)).await?;
    Ok(account_page(&id))
}

/// Back to an account's page, or to the list when the id could not be a path segment.
fn account_page(id: &str) -> Redirect {
    let plain = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if plain {
        Redirect::to(&format!("/admin/accounts/{id}"))
    } else {
        Redirect::to("/admin/accounts")
    }
}

/// `POST /admin/devices/{id}/revoke`: back to the account's page.
pub async fn revoke(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Redirect, ConsoleError> {
    posted.user.administration_only()?;
    let who = posted.user.who.clone();
    let back = posted.field("account").to_owned();
    blocking(move || Ok(app.services.revoke_device(&who, &id)?)).await?;
    Ok(account_page(&back))
}
