//! `journal-relay directory`: the directory from the command line, through the same services as the
//! HTTP API, acting as the administration.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use journal_relay::services::accounts::AccountForm;
use journal_relay::services::codes::{CodeRequest, DEFAULT_VALID_DAYS};
use journal_relay::services::roster::ListFormat;
use journal_relay::services::{ServiceError, Services, command_line};
use journal_relay::store::{AccountRole, CodeRole};

#[derive(Subcommand)]
pub enum DirectoryAction {
    /// Add or update an account.
    AddAccount {
        /// Account id.
        #[arg(long)]
        id: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// administration, teacher, student or parent.
        #[arg(long)]
        role: String,
        /// For a student account: the student it is.
        #[arg(long)]
        student: Option<String>,
    },
    /// Add a student to a class, or move them.
    AddStudent {
        /// Student id.
        #[arg(long)]
        id: String,
        /// Class id.
        #[arg(long)]
        class: String,
        /// Name.
        #[arg(long)]
        name: String,
    },
    /// A student leaves the school: off their class's list after their last day, their account closed;
    /// their marks and attendance stay.
    LeaveStudent {
        /// Student id.
        #[arg(long)]
        id: String,
        /// Their last day at school, YYYY-MM-DD (default: today).
        #[arg(long)]
        last_day: Option<String>,
    },
    /// Put a teacher on a class's staff.
    AddStaff {
        /// Class id.
        #[arg(long)]
        class: String,
        /// Teacher's account.
        #[arg(long)]
        account: String,
        /// As the class teacher.
        #[arg(long)]
        class_teacher: bool,
    },
    /// Link a parent to a student.
    LinkGuardian {
        /// Parent's account.
        #[arg(long)]
        account: String,
        /// Student id.
        #[arg(long)]
        student: String,
    },
    /// Add a device to an account and print its token (shown only once).
    AddDevice {
        /// Account id.
        #[arg(long)]
        account: String,
        /// Label.
        #[arg(long, default_value = "device")]
        label: String,
    },
    /// Revoke a device: it is refused from now on, and its live sessions close.
    RevokeDevice {
        /// Device id.
        #[arg(long)]
        device: String,
    },
    /// Deactivate an account (a student who left the school); its devices are refused from then on.
    Deactivate {
        /// Account id.
        #[arg(long)]
        account: String,
    },
    /// List an account's devices.
    Devices {
        /// Account id.
        #[arg(long)]
        account: String,
    },
    /// Issue a one-time access code (printed once; only its hash is kept).
    IssueCode {
        /// staff, student or parent.
        #[arg(long)]
        role: String,
        /// The staff account (staff codes), or an existing parent account to gain a child.
        #[arg(long)]
        account: Option<String>,
        /// The student (student and parent codes).
        #[arg(long)]
        student: Option<String>,
        /// Days the code stays valid.
        #[arg(long, default_value_t = DEFAULT_VALID_DAYS)]
        valid_days: u32,
    },
    /// Import class lists (CSV or XLSX: class, student_id, student_name, guardian_id, guardian_name).
    /// Any bad row means nothing is imported.
    Import {
        /// The file.
        file: PathBuf,
    },
    /// List accounts.
    List,
}

/// Runs one directory command.
pub fn run(services: &Services, action: DirectoryAction) -> Result<()> {
    let cli = command_line();
    match action {
        DirectoryAction::AddAccount {
            id,
            name,
            role,
            student,
        } => {
            let role: AccountRole = role.parse()?;
            let student = student.map(|s| s.parse()).transpose()?;
            let account = services.save_account(
                &cli,
                AccountForm {
                    id,
                    name,
                    role,
                    student,
                },
            )?;
            println!("account {} saved", account.id);
        }
        DirectoryAction::AddStudent { id, class, name } => {
            services.place_student(&cli, &id.parse()?, &class.parse()?, &name)?;
            println!("student {id} is in class {class}");
        }
        DirectoryAction::LeaveStudent { id, last_day } => {
            let last_day = last_day.map(|d| journal_core::parse_date(&d)).transpose()?;
            services.student_leaves(&cli, &id.parse()?, last_day)?;
            println!("student {id} has left; their marks and attendance stay in the journal");
        }
        DirectoryAction::AddStaff {
            class,
            account,
            class_teacher,
        } => {
            services.add_class_staff(&cli, &class.parse()?, &account, class_teacher)?;
            println!(
                "{account} is on the staff of {class}{}",
                if class_teacher {
                    " as class teacher"
                } else {
                    ""
                }
            );
        }
        DirectoryAction::LinkGuardian { account, student } => {
            services.link_guardian(&cli, &account, &student.parse()?)?;
            println!("{account} is a guardian of {student}");
        }
        DirectoryAction::AddDevice { account, label } => {
            let issued = services.add_device(&cli, &account, &label)?;
            println!(
                "device {} added to {account}; its token (shown only now): {}",
                issued.device.id, issued.token
            );
        }
        DirectoryAction::RevokeDevice { device } => {
            services.revoke_device(&cli, &device)?;
            println!("device {device} revoked; its live sessions close");
        }
        DirectoryAction::Deactivate { account } => {
            services.deactivate_account(&cli, &account)?;
            println!(
                "account {account} deactivated; its devices are refused and their live sessions close"
            );
        }
        DirectoryAction::Devices { account } => {
            let devices = services.devices_of(&cli, &account)?;
            if devices.is_empty() {
                println!("{account} has no devices");
            } else {
                println!("device\tstate\tadded\tlast seen\tlabel");
            }
            for d in devices {
                let state = match d.revoked_at {
                    Some(at) => format!("revoked {}", super::local_time(at)),
                    None => "active".to_owned(),
                };
                let seen = services
                    .device_last_seen(&d.id)?
                    .map_or_else(|| "never".to_owned(), super::local_time);
                println!(
                    "{}\t{state}\t{}\t{seen}\t{}",
                    d.id,
                    super::local_time(d.created_at),
                    d.label
                );
            }
        }
        DirectoryAction::IssueCode {
            role,
            account,
            student,
            valid_days,
        } => {
            let role: CodeRole = role.parse()?;
            let student = student.map(|s| s.parse()).transpose()?;
            let request = CodeRequest {
                role,
                account,
                student,
                valid_days,
            };
            let issued = services.issue_code(&cli, &request)?;
            println!(
                "access code (shown only now, valid {valid_days} days): {}",
                issued.code
            );
        }
        DirectoryAction::Import { file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let format = if file
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
            {
                ListFormat::Xlsx
            } else {
                ListFormat::sniff(&bytes)
            };
            match services.import_class_lists(&cli, &bytes, format, &file.display().to_string()) {
                Ok(imported) => println!(
                    "imported {} students, {} guardian links",
                    imported.students, imported.guardians
                ),
                Err(ServiceError::Rows(errors)) => {
                    for e in &errors {
                        eprintln!("row {}: {}", e.row, e.reason);
                    }
                    bail!("nothing was imported: {} row(s) need fixing", errors.len());
                }
                Err(other) => return Err(other.into()),
            }
        }
        DirectoryAction::List => {
            for a in services.accounts(&cli)? {
                println!(
                    "{}\t{}\t{}\t{}",
                    a.id,
                    a.role,
                    if a.active { "active" } else { "inactive" },
                    a.name
                );
            }
        }
    }
    Ok(())
}
