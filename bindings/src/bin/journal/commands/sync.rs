//! Signing in, syncing once, and watching: the commands that talk to the relay.

use std::collections::{BTreeMap, HashSet};
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use journal_core::certificate_pin::CertificatePin;
use journal_core::news::NewsItem;
use journal_core::sync::client::{
    ClientError, SignedIn, SyncListener, SyncReport, redeem_code, run_live, sync_now,
};
use journal_core::sync::{DocStatus, SyncEvent};
use journal_core::{DocId, Journal, format_date};
use serde::Serialize;

use super::year;
use crate::exit::Exit;
use crate::profile::{Profile, SignIn};

/// What `login` was asked.
pub struct Login {
    /// The relay's address (or several, comma-separated).
    pub server: String,
    /// The access code.
    pub code: String,
    /// What to call this device.
    pub label: String,
    /// The relay certificate's fingerprint from the access slip.
    pub pin: Option<CertificatePin>,
    /// Whether the profile may change account (its journal is set aside).
    pub replace: bool,
}

/// Signs the profile in with an access code, then syncs. A profile signed in already stays with its
/// account unless `replace` is given.
pub async fn login(profile: &Profile, name: &str, login: Login, json: bool) -> Result<Exit> {
    let server = login.server.trim_end_matches('/').to_owned();
    let mut existing = profile.sign_in()?;
    if let Some(old) = &existing
        && old.server != server
        && !login.replace
    {
        bail!(
            "profile {name:?} is signed in to {} as {} ({}); to sign it in to {server}, add --replace \
             (its journal is set aside, not deleted), or use another --profile",
            old.server,
            old.name,
            old.role
        );
    }
    if login.replace
        && let Some(old) = existing.take()
    {
        let kept = profile.set_journal_aside(&old.account)?;
        eprintln!(
            "the journal of {} ({}) is set aside in {}",
            old.name,
            old.role,
            kept.display()
        );
    }
    // Signing in again to the same relay keeps trusting the certificate it trusted.
    let pin = login.pin.or(existing.as_ref().and_then(|s| s.pin));
    let mut journal = profile.journal()?;
    let signed_in = existing.as_ref().map(|old| SignedIn {
        token: &old.token,
        keep_account: Some(&old.account),
    });
    let redeemed = match redeem_code(
        &server,
        &login.code,
        &login.label,
        signed_in,
        pin.as_ref(),
        Some(&mut journal),
    )
    .await
    {
        Err(ClientError::OtherAccount(message)) => {
            let old = existing
                .as_ref()
                .map(|o| format!("{} ({})", o.name, o.role));
            bail!(
                "{message}.\nProfile {name:?} stays signed in as {}. To sign this profile in with the code \
                 instead, add --replace (its journal is set aside, not deleted); or keep both with \
                 --profile ANOTHER_NAME",
                old.unwrap_or_default()
            );
        }
        other => other?,
    };
    let token = redeemed.device_token(existing.as_ref().map(|s| s.token.as_str()))?;
    let sign_in = SignIn {
        server,
        token,
        account: redeemed.account,
        role: redeemed.role,
        name: redeemed.name,
        pin,
    };
    profile.save_sign_in(&sign_in)?;
    say!(
        "signed in as {} ({}) on profile {name:?}",
        sign_in.name,
        sign_in.role
    );
    sync(&mut journal, &sign_in, json).await
}

/// A progress bar on a terminal, nothing otherwise.
struct Progress(indicatif::ProgressBar);

impl SyncListener for Progress {
    fn on_event(&self, event: &SyncEvent) {
        if let SyncEvent::Progress { done, total } = event {
            self.0.set_length(*total as u64);
            self.0.set_position(*done as u64);
        }
    }
}

/// Syncs once and says what went out and what came in.
pub async fn sync(journal: &mut Journal, sign_in: &SignIn, json: bool) -> Result<Exit> {
    let bar = if std::io::stderr().is_terminal() && !json {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let listener = Progress(bar.clone());
    // The feed before, so the summary can say what came in (the year may not be known before a first sync).
    let before: HashSet<String> = news_rows(journal)
        .map(|rows| rows.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    let refused_before = journal.refused_edits()?.len();
    let result = sync_now(journal, &sign_in.config(), &listener).await;
    bar.finish_and_clear();
    match result {
        Ok(report) => print_report(&report, journal, &before, refused_before, json),
        Err(ClientError::Offline(_) | ClientError::Timeout) => {
            eprintln!("no connection: your edits are saved and will sync later");
            Ok(Exit::NotReached)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Serialize)]
struct SyncSummary {
    documents: usize,
    sent: Vec<String>,
    received: Vec<String>,
    /// New items in the feed, by kind (mark, absence, homework, message).
    came_in: BTreeMap<String, usize>,
    refused: Vec<String>,
    bytes_sent: usize,
    bytes_received: usize,
}

/// Documents in words: "class 5А, 25 students' records, 1 conversation".
fn describe_documents(journal: &Journal, ids: &[DocId]) -> String {
    let mut classes = Vec::new();
    let (mut school, mut students, mut profiles, mut threads) = (false, 0, 0, 0);
    for id in ids {
        match id {
            DocId::School(_) => school = true,
            DocId::Class(year, class) => {
                classes.push(format!("class {}", journal.class_name(*year, class)));
            }
            DocId::Student(..) => students += 1,
            DocId::Profile(..) => profiles += 1,
            DocId::Thread(..) => threads += 1,
        }
    }
    let counted = |n: usize, one: &str, many: &str| match n {
        0 => None,
        1 => Some(format!("1 {one}")),
        n => Some(format!("{n} {many}")),
    };
    school
        .then(|| "the school's settings".to_owned())
        .into_iter()
        .chain(classes)
        .chain(counted(students, "student's record", "students' records"))
        .chain(counted(profiles, "profile", "profiles"))
        .chain(counted(threads, "conversation", "conversations"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_report(
    report: &SyncReport,
    journal: &Journal,
    feed_before: &HashSet<String>,
    refused_before: usize,
    json: bool,
) -> Result<Exit> {
    let mut came_in = BTreeMap::new();
    for row in news_rows(journal).unwrap_or_default() {
        if !feed_before.contains(&row.to_string()) {
            let kind = row["kind"].as_str().unwrap_or_default().to_owned();
            *came_in.entry(kind).or_insert(0) += 1;
        }
    }
    let summary = SyncSummary {
        documents: report.documents,
        sent: report.sent.iter().map(ToString::to_string).collect(),
        received: report.received.iter().map(ToString::to_string).collect(),
        came_in,
        refused: report.refused.iter().map(ToString::to_string).collect(),
        bytes_sent: report.bytes_sent,
        bytes_received: report.bytes_received,
    };
    // Edits in a document the relay stopped sharing are kept in the refused list too, without a refusal
    // of the document: the list's growth says so.
    let refused_now = journal.refused_edits()?.len();
    let exit = if summary.refused.is_empty() && refused_now <= refused_before {
        Exit::Done
    } else {
        Exit::Refused
    };
    if json {
        say!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(exit);
    }
    say!(
        "synced {} documents ({} bytes out, {} bytes in)",
        summary.documents,
        summary.bytes_sent,
        summary.bytes_received
    );
    if !report.sent.is_empty() {
        say!(
            "went out: your edits in {}",
            describe_documents(journal, &report.sent)
        );
    }
    let plural = |kind: &str, n: usize| match (kind, n) {
        (kind, 1) => format!("1 {kind}"),
        ("absence", n) => format!("{n} absences"),
        ("homework", n) => format!("{n} homework"),
        (kind, n) => format!("{n} {kind}s"),
    };
    if summary.came_in.is_empty() {
        if report.received.is_empty() {
            say!("came in: nothing new");
        } else {
            say!(
                "came in: changes in {}",
                describe_documents(journal, &report.received)
            );
        }
    } else {
        let items: Vec<String> = summary
            .came_in
            .iter()
            .map(|(kind, n)| plural(kind, *n))
            .collect();
        say!("came in: {} (see `journal news`)", items.join(", "));
    }
    for doc in &summary.refused {
        say!("the relay refused your edits in {doc}; they are kept in the refused list");
    }
    if exit == Exit::Refused {
        say!("{refused_now} refused edit(s) kept on this device: see `journal refused`");
    }
    Ok(exit)
}

/// What `watch` hears from the live session: refusals are printed at once; news wakes the command, which
/// reads the feed once the sync has let go of the journal.
struct Watcher {
    news: tokio::sync::Notify,
}

impl SyncListener for Watcher {
    fn on_event(&self, event: &SyncEvent) {
        match event {
            SyncEvent::Received { .. } | SyncEvent::NewsGrew { .. } => self.news.notify_one(),
            SyncEvent::Document {
                id,
                status: DocStatus::Refused(reason),
            } => {
                say!("refused: {id}: {reason}");
                let _ = std::io::stdout().flush();
            }
            _ => {}
        }
    }
}

/// Stays connected and prints new items as they arrive, for `seconds` or until Ctrl-C.
pub async fn watch(profile: &Profile, seconds: Option<u64>, json: bool) -> Result<Exit> {
    let sign_in = profile.require_sign_in()?;
    let journal = profile.journal()?;
    // What is already in the feed is for `news`; watch prints what arrives from now on.
    let mut printed = HashSet::new();
    for row in news_rows(&journal)? {
        printed.insert(row.to_string());
    }
    let journal = Arc::new(tokio::sync::Mutex::new(journal));
    let watcher = Arc::new(Watcher {
        news: tokio::sync::Notify::new(),
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let live = tokio::spawn(run_live(
        journal.clone(),
        sign_in.config(),
        watcher.clone(),
        stopped,
    ));
    let until = async {
        match seconds {
            Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    tokio::pin!(until);
    loop {
        tokio::select! {
            () = &mut until => break,
            () = watcher.news.notified() => {
                print_new_items(&*journal.lock().await, &mut printed, json)?;
            }
        }
    }
    let _ = stop.send(true);
    live.await?;
    print_new_items(&*journal.lock().await, &mut printed, json)?;
    Ok(Exit::Done)
}

/// The "what is new" feed as rows (kind, student or class, date, subject, text), with names for students.
pub fn news_rows(journal: &Journal) -> Result<Vec<serde_json::Value>> {
    let year = year(journal)?;
    Ok(journal
        .news()?
        .into_iter()
        .map(|item| {
            let names = journal.news_names(year, &item);
            let (kind, date, text) = match item {
                NewsItem::Mark { date, value, previous, .. } => (
                    "mark",
                    format_date(date),
                    match previous {
                        Some(old) => format!("{old} → {value}"),
                        None => value.to_string(),
                    },
                ),
                NewsItem::Absence { date, code, .. } => ("absence", format_date(date), code),
                NewsItem::Homework { date, text, .. } => ("homework", format_date(date), text),
                NewsItem::Message { text, .. } => ("message", String::new(), text),
            };
            serde_json::json!({
                "kind": kind, "student": names.about, "subject": names.subject, "date": date, "text": text,
            })
        })
        .collect())
}

/// Prints the feed's items not printed before (one line each, or one JSON object a line) and remembers them.
fn print_new_items(journal: &Journal, printed: &mut HashSet<String>, json: bool) -> Result<()> {
    for row in news_rows(journal)? {
        let key = row.to_string();
        if !printed.insert(key.clone()) {
            continue;
        }
        if json {
            say!("{key}");
        } else {
            let field = |name: &str| row[name].as_str().unwrap_or_default().to_owned();
            let date = field("date");
            say!(
                "new {}: {}{}, {}: {}",
                field("kind"),
                field("student"),
                if date.is_empty() {
                    String::new()
                } else {
                    format!(", {date}")
                },
                field("subject"),
                field("text")
            );
        }
    }
    std::io::stdout().flush()?;
    Ok(())
}
