//! Deterministic packet and capture synthesis for egressmap's fixtures, tests and benches.
//!
//! Our own writer rather than a recorded capture so that every hard case (split ClientHellos,
//! odd link types, truncated records, ...) is small, documented and reproducible byte for byte.
//! Nothing here reads the OS clock or OS randomness: every "random" byte comes from [`rng::Rng`]
//! seeded by the caller. Usable from any target with
//! `#[path = "../examples/synth/mod.rs"] mod synth;` (it depends on std only, except `quic`,
//! which seals packets with the crate's own crypto dependencies).
#![allow(dead_code)]

pub mod capture;
pub mod dns;
pub mod http;
pub mod link;
pub mod net;
pub mod quic;
pub mod rng;
pub mod tcp;
pub mod tls;
