//! The journal's domain as Russian schools keep it: the school year and its terms, the marking policy,
//! and the entries teachers make.

pub mod calendar;
pub mod model;
pub mod policy;
pub mod time_zone;
