//! The key of a flow, from a packet's addresses, ports and VLANs: decode computes it (the
//! dispatcher's [`super::ip::route`] from the outer headers alone), [`crate::flow`] tracks flows by it.

use std::net::IpAddr;

use super::{Decoded, Transport, Vlans};

pub const TCP: u8 = 6;
pub const UDP: u8 = 17;

/// Identifies a flow whatever the direction of the packet: endpoints are stored in a fixed order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub protocol: u8,
    pub lo: (IpAddr, u16),
    pub hi: (IpAddr, u16),
    pub vlans: Vlans,
}

impl FlowKey {
    /// Key of a decoded packet, and whether the packet travels from `lo` to `hi`.
    pub fn of(d: &Decoded<'_>) -> (FlowKey, bool) {
        let (protocol, sp, dp) = match d.transport {
            Transport::Tcp {
                src_port, dst_port, ..
            } => (TCP, src_port, dst_port),
            Transport::Udp { src_port, dst_port } => (UDP, src_port, dst_port),
            Transport::Other { protocol } => (protocol, 0, 0),
        };
        Self::of_tuple(protocol, (d.src, sp), (d.dst, dp), d.vlans)
    }

    /// Key of a packet from `a` to `b`, and whether it travels from `lo` to `hi`.
    pub fn of_tuple(
        protocol: u8,
        a: (IpAddr, u16),
        b: (IpAddr, u16),
        vlans: Vlans,
    ) -> (FlowKey, bool) {
        let forward = a <= b;
        let (lo, hi) = if forward { (a, b) } else { (b, a) };
        (
            FlowKey {
                protocol,
                lo,
                hi,
                vlans,
            },
            forward,
        )
    }
}
