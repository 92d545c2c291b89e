//! What a run produces: the per-flow log ([`flowlog`]), the short human summary ([`summary`]).

pub mod aggregate;
pub mod clients;
pub mod compare;
pub mod dnsview;
pub mod export;
pub mod flowlog;
pub mod merge;
pub mod model;
pub mod render;
pub mod summary;
pub mod time;
