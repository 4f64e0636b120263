//! The one error the apps see, mapped from the core's errors in one place. Each message says what went
//! wrong in words the user can act on.

use journal_core::sync::client::ClientError;
use journal_core::{Error, InputError, StoreError};

/// Why a call did not happen. Local edits are never lost by any of these.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum JournalError {
    /// Bad input: nothing was written.
    #[error("{message}")]
    Invalid {
        /// What was wrong.
        message: String,
    },
    /// Something named does not exist here.
    #[error("{message}")]
    NotFound {
        /// What was missing.
        message: String,
    },
    /// No connection; edits are saved and will sync later.
    #[error("{message}")]
    Offline {
        /// Details.
        message: String,
    },
    /// The device must sign in (redeem a code) first.
    #[error("{message}")]
    SignInRequired {
        /// Details.
        message: String,
    },
    /// The relay no longer accepts this device.
    #[error("{message}")]
    Unauthorized {
        /// Details.
        message: String,
    },
    /// The key does not open this journal; nothing was changed.
    #[error("{message}")]
    WrongKey {
        /// Details.
        message: String,
    },
    /// The relay refused the request and said why.
    #[error("{message}")]
    Refused {
        /// The relay's reason.
        message: String,
    },
    /// Too many attempts (a code typed again and again); nothing was spent.
    #[error("{message}")]
    TooMany {
        /// Details.
        message: String,
        /// Seconds to wait before trying again.
        retry_after_seconds: u64,
    },
    /// The relay's certificate is not the one this device trusts; nothing was sent.
    #[error("{message}")]
    Certificate {
        /// Which certificate, and what to do.
        message: String,
    },
    /// The code signs in another account than the one this device is signed in as; nothing was spent.
    #[error("{message}")]
    OtherAccount {
        /// Whose code it is.
        message: String,
    },
    /// The device's storage failed.
    #[error("{message}")]
    Storage {
        /// Details.
        message: String,
    },
}

impl JournalError {
    pub(crate) fn from_join(e: tokio::task::JoinError) -> Self {
        JournalError::Storage {
            message: format!("the sync task failed: {e}"),
        }
    }
}

impl From<Error> for JournalError {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match e {
            Error::Input(InputError::Unknown { .. }) => JournalError::NotFound { message },
            Error::Input(InputError::NotSignedIn) => JournalError::SignInRequired { message },
            Error::Input(_) | Error::Schema(_) => JournalError::Invalid { message },
            Error::Store(StoreError::WrongKey | StoreError::KeyNeeded | StoreError::BadKey(_)) => {
                JournalError::WrongKey { message }
            }
            _ => JournalError::Storage { message },
        }
    }
}

impl From<InputError> for JournalError {
    fn from(e: InputError) -> Self {
        Error::from(e).into()
    }
}

impl From<ClientError> for JournalError {
    fn from(e: ClientError) -> Self {
        let message = e.to_string();
        match e {
            ClientError::Offline(_) | ClientError::Timeout => JournalError::Offline { message },
            ClientError::Unauthorized => JournalError::Unauthorized { message },
            ClientError::Code(_) | ClientError::Address(_) => JournalError::Invalid { message },
            ClientError::Refused(_) => JournalError::Refused { message },
            ClientError::TooMany(seconds) => JournalError::TooMany {
                message,
                retry_after_seconds: seconds,
            },
            ClientError::Certificate(_) => JournalError::Certificate { message },
            ClientError::OtherAccount(_) => JournalError::OtherAccount { message },
            ClientError::Sync(_) => JournalError::Storage { message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_keep_what_the_app_needs_to_act_on() {
        match JournalError::from(ClientError::TooMany(42)) {
            JournalError::TooMany {
                retry_after_seconds,
                message,
            } => {
                assert_eq!(retry_after_seconds, 42);
                assert!(message.contains("42 s"), "{message}");
            }
            other => panic!("too many attempts became {other:?}"),
        }
        assert!(matches!(
            JournalError::from(ClientError::Certificate("not the pinned one".into())),
            JournalError::Certificate { .. }
        ));
        assert!(matches!(
            JournalError::from(ClientError::OtherAccount("a student's code".into())),
            JournalError::OtherAccount { .. }
        ));
        assert!(matches!(
            JournalError::from(ClientError::Refused("no".into())),
            JournalError::Refused { .. }
        ));
    }

    #[test]
    fn a_device_that_never_signed_in_is_told_to_sign_in() {
        assert!(matches!(
            JournalError::from(InputError::NotSignedIn),
            JournalError::SignInRequired { .. }
        ));
        assert!(matches!(
            JournalError::from(InputError::Invalid("bad".into())),
            JournalError::Invalid { .. }
        ));
    }
}
