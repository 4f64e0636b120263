//! The relay's commands, one module per command, and the data directory they open.

pub mod archive;
pub mod backup;
pub mod consent;
pub mod directory;
pub mod policy;
pub mod report;
pub mod serve;
pub mod store;

/// A spinner on a terminal, nothing otherwise.
pub fn spinner(message: String) -> indicatif::ProgressBar {
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// A moment as the server's clock shows it: `2026-12-01 08:15 (UTC+03:00)`.
pub fn local_time(unix: i64) -> String {
    let utc =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    // Known only while the process has one thread, as the command line does here.
    let offset = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
    let local = utc.to_offset(offset);
    let (hours, minutes, _) = offset.as_hms();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} (UTC{}{:02}:{:02})",
        local.year(),
        u8::from(local.month()),
        local.day(),
        local.hour(),
        local.minute(),
        if offset.is_negative() { '-' } else { '+' },
        hours.unsigned_abs(),
        minutes.unsigned_abs()
    )
}
