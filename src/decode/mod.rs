//! From a raw record to typed views: link layer ([`link`]), IP and tunnels ([`ip`]), TCP/UDP.
//! Views borrow the packet bytes; nothing is copied except IP fragments, which are reassembled in
//! a bounded pool.

pub mod addr;
#[cfg(test)]
mod corpus_tests;
pub mod ip;
pub mod key;
pub mod link;

use std::net::IpAddr;

use crate::capture::Packet;

pub use key::FlowKey;

/// At most this many VLAN tags are recorded per packet (deeper stacks are still walked).
pub const MAX_VLAN_TAGS: usize = 4;

/// The VLAN IDs a packet carried, outermost first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vlans {
    pub ids: [u16; MAX_VLAN_TAGS],
    pub len: u8,
}

impl Vlans {
    pub fn push(&mut self, id: u16) {
        if (self.len as usize) < MAX_VLAN_TAGS {
            self.ids[self.len as usize] = id;
            self.len += 1;
        }
    }
    pub fn as_slice(&self) -> &[u16] {
        &self.ids[..self.len as usize]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        ack: u32,
        /// Raw TCP flag bits (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10).
        flags: u8,
    },
    Udp {
        src_port: u16,
        dst_port: u16,
    },
    /// Any other IP protocol (ICMP, ESP, ...): tracked as a flow without ports.
    Other {
        protocol: u8,
    },
}

pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
}

/// The innermost IP packet of a record (after link layers and tunnels).
#[derive(Clone, Copy, Debug)]
pub struct Decoded<'a> {
    pub vlans: Vlans,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP-layer bytes as Zeek counts them: IPv4 total length, IPv6 40 + payload length.
    pub ip_bytes: u32,
    pub transport: Transport,
    /// Transport payload actually captured (may be shorter than on the wire).
    pub payload: &'a [u8],
    /// Whether this packet came out of a tunnel (GRE, VXLAN, Teredo, IP-in-IP, ...).
    pub tunneled: bool,
}

/// Why a record produced no [`Decoded`]. Each variant is a counter in reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodeError {
    /// A header ran past the captured bytes.
    Truncated,
    /// Link type we cannot decode.
    UnsupportedLink,
    /// Not IP (ARP, LLDP, STP, ...): normal traffic we do not track.
    NotIp,
    /// IP header malformed (bad version, length or checksum-independent inconsistency).
    BadIp,
    /// An IP fragment held until the rest arrives (not an error).
    FragmentHeld,
    /// Fragment dropped: the reassembly pool was full or the fragment was inconsistent.
    FragmentDropped,
    /// Tunnels nested deeper than we follow.
    TooDeep,
    /// A framing inside a supported link type that we do not decode (an unknown ethertype, a
    /// PPP protocol, ...): IP may be inside, so it is counted and reported by kind.
    Unsupported(Framing),
}

/// A framing we met but do not decode, by kind (reported so nothing is dropped silently).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Framing {
    Ethertype(u16),
    PppProtocol(u16),
    /// ARCNET protocol ID.
    Arcnet(u8),
    /// NFLOG address family other than IPv4/IPv6.
    NflogFamily(u8),
    /// Encrypted MACsec (802.1AE): the payload cannot be read.
    MacsecEncrypted,
}

impl std::fmt::Display for Framing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Framing::Ethertype(e) => write!(f, "ethertype 0x{e:04x}"),
            Framing::PppProtocol(p) => write!(f, "PPP protocol 0x{p:04x}"),
            Framing::Arcnet(p) => write!(f, "ARCNET protocol 0x{p:02x}"),
            Framing::NflogFamily(a) => write!(f, "NFLOG family {a}"),
            Framing::MacsecEncrypted => f.write_str("encrypted MACsec"),
        }
    }
}

impl DecodeError {
    pub const ALL: [DecodeError; 7] = [
        DecodeError::Truncated,
        DecodeError::UnsupportedLink,
        DecodeError::NotIp,
        DecodeError::BadIp,
        DecodeError::FragmentHeld,
        DecodeError::FragmentDropped,
        DecodeError::TooDeep,
    ];
    pub fn name(self) -> &'static str {
        match self {
            DecodeError::Truncated => "truncated",
            DecodeError::UnsupportedLink => "unsupported_link",
            DecodeError::NotIp => "not_ip",
            DecodeError::BadIp => "bad_ip_header",
            DecodeError::FragmentHeld => "ip_fragment_held",
            DecodeError::FragmentDropped => "ip_fragment_dropped",
            DecodeError::TooDeep => "tunnel_too_deep",
            DecodeError::Unsupported(_) => "unsupported_framing",
        }
    }
}

/// Stateful decoder: stateless except for the IP fragment pool.
pub struct Decoder {
    pub(crate) frags: ip::FragmentPool,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(ip::FragmentPool::DEFAULT_MAX_BYTES)
    }
}

impl Decoder {
    pub fn new(max_fragment_bytes: usize) -> Self {
        Decoder {
            frags: ip::FragmentPool::new(max_fragment_bytes),
        }
    }

    /// What the IP fragment pool has held, completed and dropped so far.
    pub fn fragment_stats(&self) -> ip::FragmentStats {
        self.frags.stats()
    }

    /// Which flow `pkt` belongs to, from its outer headers only (no state, no reassembly).
    pub fn route(pkt: &Packet<'_>) -> ip::Route {
        let mut vlans = Vlans::default();
        match link::strip(pkt.link, pkt.data, &mut vlans) {
            Ok(l3) => ip::route(l3, vlans),
            Err(_) => ip::Route::Any,
        }
    }

    /// Decode one record down to the innermost IP packet and its transport header.
    pub fn decode<'b>(&'b mut self, pkt: &Packet<'b>) -> Result<Decoded<'b>, DecodeError> {
        let mut vlans = Vlans::default();
        let l3 = link::strip(pkt.link, pkt.data, &mut vlans)?;
        ip::decode(l3, vlans, pkt.ts, &mut self.frags)
    }
}
