//! `journal-relay policy`: the school's marking policy and time zone, shown; its edit-lock window and time
//! zone, set.

use anyhow::Result;
use journal_relay::services::{Services, command_line};

/// What `policy` does.
#[derive(clap::Args, Debug)]
pub struct PolicyArgs {
    /// Set the edit-lock window (regulation 2.1): entries of a lesson more than this many days old are
    /// changed only by the administration, with a reason. 0 turns the lock off; at most 366.
    #[arg(long, value_name = "DAYS")]
    edit_lock_days: Option<u16>,
    /// Set the school's time zone, as its offset from UTC (+03:00 for Moscow): what "today" is for the
    /// journal, its reports and the edit-lock window.
    #[arg(long, value_name = "OFFSET")]
    time_zone: Option<journal_core::SchoolTimeZone>,
}

/// Shows the current year's marking policy, after setting the edit-lock window when asked.
pub fn run(services: &Services, args: &PolicyArgs) -> Result<()> {
    if let Some(days) = args.edit_lock_days {
        let replaced = services.set_edit_lock_days(&command_line(), days)?;
        println!("edit-lock window: {replaced} → {days} days");
    }
    if let Some(zone) = args.time_zone {
        let replaced = services.set_time_zone(&command_line(), zone)?;
        println!("time zone: {replaced} → {zone}");
    }
    let (year, policy) = services.marking_policy()?;
    println!(
        "Time zone: {} (today at the school: {})",
        services.time_zone()?,
        journal_core::format_date(services.school_today()?)
    );
    println!("Marking policy of {year}");
    println!("Kinds of work (weight):");
    for kind in policy.work_kinds.values() {
        println!("  {}\t{}", kind.name, kind.weight);
    }
    let hundredths = |v: u16| format!("{},{:02}", v / 100, v % 100);
    let t = policy.thresholds;
    println!(
        "Term mark from the average: 5 from {}, 4 from {}, 3 from {}",
        hundredths(t.five),
        hundredths(t.four),
        hundredths(t.three)
    );
    println!("Attendance codes:");
    for code in &policy.attendance_codes {
        let missed = if code.missed { "missed" } else { "present" };
        println!("  {}\t{}\t{missed}", code.code, code.name);
    }
    println!(
        "Fewest marks for a suggested term mark: {}",
        policy.min_marks_for_term
    );
    match policy.edit_lock_days {
        0 => println!("Edit-lock window: off"),
        days => println!(
            "Edit-lock window: {days} days (older entries are changed by the administration, with a reason)"
        ),
    }
    Ok(())
}
