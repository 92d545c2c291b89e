//! egressmap: a passive traffic classifier that audits captures against Microsoft's documented
//! Windows endpoints.
//!
//! Data flows one way: [`capture`] hands out raw records, [`decode`] turns them into typed views
//! (link, IP, transport), [`flow`] tracks bidirectional flows and reassembles the client's first
//! flight, [`proto`] pulls names out of that flight, [`resolve`] remembers DNS answers so that
//! nameless flows can be named, [`signatures`] tags names with documented areas, and [`report`]
//! renders the result. [`engine`] wires the stages together for one shard of traffic.

// Packet bytes are hostile: outside tests, nothing may panic on an unexpected value.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod capture;
pub mod cli;
pub mod decode;
pub mod engine;
pub mod flow;
pub mod input;
#[cfg(feature = "live")]
pub mod metrics;
pub mod pipeline;
pub mod proto;
pub mod report;
pub mod resolve;
pub mod signatures;
