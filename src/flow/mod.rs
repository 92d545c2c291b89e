//! Bidirectional flows: keys that are equal in both directions, per-direction counters, client
//! orientation, expiry, and first-flight reassembly ([`reassembly`]).

pub mod reassembly;
pub mod table;

use std::net::IpAddr;
use std::sync::Arc;

use crate::capture::Nanos;
use crate::decode::{Decoded, Transport, Vlans};
use crate::proto::App;

pub use table::{FlowTable, FlowTableConfig, FlowTableStats};

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
    /// A hash equal for both directions and stable across runs and threads: it decides which
    /// worker owns the flow.
    pub fn shard_hash(&self) -> u64 {
        ahash::RandomState::with_seeds(0x6567_7265, 0x7373_6d61, 0x7020_666c, 0x6f77_7321)
            .hash_one(self)
    }

    /// Key of a decoded packet, and whether the packet travels from `lo` to `hi`.
    pub fn of(d: &Decoded<'_>) -> (FlowKey, bool) {
        let (protocol, sp, dp) = match d.transport {
            Transport::Tcp {
                src_port, dst_port, ..
            } => (TCP, src_port, dst_port),
            Transport::Udp { src_port, dst_port } => (UDP, src_port, dst_port),
            Transport::Other { protocol } => (protocol, 0, 0),
        };
        let a = (d.src, sp);
        let b = (d.dst, dp);
        let forward = a <= b;
        let (lo, hi) = if forward { (a, b) } else { (b, a) };
        (
            FlowKey {
                protocol,
                lo,
                hi,
                vlans: d.vlans,
            },
            forward,
        )
    }
}

/// How a flow got its hostname. Serialised into the flow log (a public interface).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostSource {
    TlsSni,
    HttpHost,
    QuicSni,
    /// A DNS answer for the server address, seen before the flow started.
    Dns,
    /// The flow is itself a DNS exchange; the host is its first query name.
    DnsQuery,
    /// The host name a SOCKS4a/SOCKS5 request asked the proxy to reach.
    Socks,
    /// The authority of an HTTP CONNECT request.
    HttpConnect,
}

impl HostSource {
    pub fn as_str(self) -> &'static str {
        match self {
            HostSource::TlsSni => "tls-sni",
            HostSource::HttpHost => "http-host",
            HostSource::QuicSni => "quic-sni",
            HostSource::Dns => "dns",
            HostSource::DnsQuery => "dns-query",
            HostSource::Socks => "socks",
            HostSource::HttpConnect => "http-connect",
        }
    }
}

/// Per-direction packet and IP-byte counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
}

/// The names a flow carried, bounded so that a hostile flow cannot grow memory.
pub const MAX_NAMES_PER_FLOW: usize = 64;
/// Largest `--max-names-per-flow` (the per-flow bound is stored in a byte).
pub const NAMES_PER_FLOW_LIMIT: usize = 255;

/// Everything we know about one flow. Kept small: it lives in the table for the flow's lifetime.
#[derive(Debug)]
pub struct Flow {
    pub key: FlowKey,
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    /// Whether `client` is `key.lo` (so a packet with `forward == client_is_lo` is upstream).
    pub client_is_lo: bool,
    pub first_seen: Nanos,
    pub last_seen: Nanos,
    pub up: Counters,
    pub down: Counters,
    /// Index of the input file where the flow was first seen.
    pub file: u16,
    pub app: Option<App>,
    pub host: Option<Arc<str>>,
    pub host_source: Option<HostSource>,
    pub ech: bool,
    /// ECH flows: the name this client looked up whose HTTPS record named the outer SNI as its
    /// ECH public name (see `resolve::Resolver::lookup_ech`). Inferred, never observed.
    pub inferred_host: Option<Arc<str>>,
    /// QUIC version of the client's Initials (wire value; see `proto::quic::VersionName`).
    pub quic_version: Option<u32>,
    pub names: Vec<Arc<str>>,
    /// Names not kept because the flow already had `names_cap` of them.
    pub names_dropped: u32,
    /// Most names kept (`FlowTableConfig::max_names`, default [`MAX_NAMES_PER_FLOW`]).
    pub names_cap: u8,
    /// `host` was carried over from an earlier flow on the same key (idle expiry, then back).
    pub host_revived: bool,
    /// The request path of the first HTTP request (for path-qualified signatures).
    pub http_path: Option<Box<str>>,
    /// CNAME chain behind a DNS-attributed name (query name first).
    pub cnames: Option<Arc<[Arc<str>]>>,
    /// TCP: a SYN was seen, so orientation is certain.
    pub saw_syn: bool,
    /// TCP: FIN or RST seen; the flow ends when the next SYN arrives or it goes quiet.
    pub closed: bool,
    /// TCP initial sequence numbers from the SYN and SYN-ACK: where each stream starts.
    pub client_isn: Option<u32>,
    pub server_isn: Option<u32>,
    /// Inspection state of the client's first flight (and the server's, for DNS over TCP).
    pub inspect: reassembly::Inspect,
}

impl Flow {
    pub fn add_name(&mut self, name: &Arc<str>) {
        if self.names.iter().any(|n| n == name) {
            return;
        }
        if self.names.len() < usize::from(self.names_cap) {
            self.names.push(name.clone());
        } else {
            self.names_dropped += 1;
        }
    }

    /// Name the flow, unless it already has a name from a source at least as good.
    pub fn set_host(&mut self, name: Arc<str>, source: HostSource) {
        self.add_name(&name);
        // A proxy request names where the tunnel goes; a name seen inside the tunnel (SNI,
        // Host) is more specific and replaces it.
        let rank = |s: Option<HostSource>| match s {
            None => 0,
            Some(HostSource::Dns) => 1,
            Some(HostSource::Socks | HostSource::HttpConnect) => 2,
            Some(_) => 3,
        };
        // A revived name ranks like a DNS answer: any name seen in the flow itself replaces it.
        let current = if self.host_revived {
            1
        } else {
            rank(self.host_source)
        };
        if rank(Some(source)) > current {
            self.host_revived = false;
            self.host = Some(name);
            self.host_source = Some(source);
            if source != HostSource::Dns {
                self.cnames = None;
            }
        }
    }

    /// Turn the flow around: the side we took for the client is the server. Only valid before
    /// any packet was counted or inspected.
    pub fn swap_orientation(&mut self) {
        std::mem::swap(&mut self.client, &mut self.server);
        std::mem::swap(&mut self.up, &mut self.down);
        std::mem::swap(&mut self.client_isn, &mut self.server_isn);
        self.client_is_lo = !self.client_is_lo;
    }

    pub fn protocol_name(&self) -> &'static str {
        match self.key.protocol {
            TCP => "tcp",
            UDP => "udp",
            1 => "icmp",
            58 => "icmp6",
            _ => "ip",
        }
    }
}

/// Ports whose side is the server when no SYN tells us (below 1024, plus common service ports).
pub fn is_service_port(port: u16) -> bool {
    port < 1024
        || matches!(
            port,
            1080 | 1194
                | 1433
                | 1900
                | 1935
                | 2152
                | 3128
                | 3306
                | 3389
                | 3478
                | 3544
                | 4789
                | 5060
                | 5061
                | 5222
                | 5228
                | 5353
                | 5355
                | 5432
                | 6081
                | 8008
                | 8080
                | 8443
                | 8888
                | 9443
        )
}
