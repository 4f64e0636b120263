//! The access suite: every later change, the sync-peer rewrite included, must keep it passing.
//! - `matrix`: five roles × five document kinds × read and write, guessed ids, a parent of two classes.
//! - `breaks`: each break a hostile client found against the release relay (issue 14), one test each.

mod breaks;
mod matrix;
