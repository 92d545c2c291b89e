//! egressmap: a passive traffic classifier that audits captures against Microsoft's documented
//! Windows endpoints.
//!
//! Data flows one way: [`capture`] hands out raw records, [`decode`] turns them into typed views
//! (link, IP, transport) and flow keys, [`flow`] tracks bidirectional flows and reassembles the
//! client's first flight, [`proto`] pulls names out of that flight, [`resolve`] remembers DNS
//! answers so that nameless flows can be named, [`signatures`] tags names with documented areas,
//! and [`report`] renders the result. [`engine`] wires the stages together for one shard of
//! traffic, [`input`] turns other engines' logs into the same flows, [`pipeline`] runs capture
//! files through engines, `metrics` (feature `live`) serves a live capture's counters, and
//! [`cli`] is the command line over all of them.
//!
//! Each module uses only modules of lower layers (`tests/layers.rs` checks every `crate::` path):
//!
//! Layers, lowest first: `capture` < `decode` < `flow` < `proto` < `resolve` < `signatures`
//! < `report` < `input` < `engine` < `pipeline` < `metrics` < `cli`.
//!
//! So a lower layer defines what a higher one fills in: the flow key is decode's, a flow's
//! [`flow::App`] and machine [`flow::identity`] are flow's (their parsers are proto's), and the
//! QUIC state a flow carries while its Initials are read is opaque to flow
//! ([`flow::reassembly::QuicInspect`], implemented by [`proto::quic::QuicState`]).

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
