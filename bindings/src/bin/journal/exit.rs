//! How `journal` ends, for a school's scripts: the exit status tells a good sync from a refused or an
//! unreached one.

use std::process::ExitCode;

/// The help text that lists the exit statuses.
pub const EXIT_STATUSES: &str = "\
Exit status:
  0  done (for sync and login: everything went out and came in)
  1  an error: the message says what was wrong; nothing was changed
  2  the relay refused some of your edits: they are kept on this device, see `journal refused`
  3  the relay was not reached: your edits are saved and will go out at the next sync";

/// The outcome of a command that did not fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything was done.
    Done,
    /// The relay refused some edits.
    Refused,
    /// The relay was not reached.
    NotReached,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(match exit {
            Exit::Done => 0,
            Exit::Refused => 2,
            Exit::NotReached => 3,
        })
    }
}
