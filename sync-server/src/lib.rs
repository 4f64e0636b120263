//! The relay of the school journal. Its server, directory and store arrive with the relay issue; for now it
//! exposes the core's validator, which is the rule the relay will apply to every incoming change.

pub use journal_core::validate::{ValidationContext, validate_document};
