//! What a run produces: the per-flow log ([`flowlog`]), the short human summary ([`summary`]).

pub mod flowlog;
pub mod summary;
pub mod time;
