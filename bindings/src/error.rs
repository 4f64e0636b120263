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
            ClientError::Refused(_) | ClientError::TooMany(_) | ClientError::Certificate(_) => {
                JournalError::Refused { message }
            }
            ClientError::Sync(_) => JournalError::Storage { message },
        }
    }
}
