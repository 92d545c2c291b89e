//! Bidirectional flows: keys that are equal in both directions, per-direction counters, client
//! orientation, expiry, and first-flight reassembly ([`reassembly`]).

pub mod identity;
pub mod reassembly;
pub mod table;

use std::net::IpAddr;
use std::sync::Arc;

use crate::capture::Nanos;

pub use crate::decode::key::{FlowKey, TCP, UDP};
pub use table::{FlowTable, FlowTableConfig, FlowTableStats, VIRTUAL_SHARDS};

// `FlowKey` is decode's (the dispatcher computes it from the outer headers); which worker and
// table shard own a flow is the flow table's business, so those methods are here.
impl FlowKey {
    /// A hash equal for both directions and stable across runs and threads: it decides which
    /// worker owns the flow.
    pub fn shard_hash(&self) -> u64 {
        shard_hasher().hash_one(self)
    }

    /// The worker, of `workers`, that owns this flow when the table has `shards` virtual
    /// shards ([`FlowTableConfig::shards`]): worker `i` owns the shards `v` with
    /// `v % workers == i`, so a shard, with its share of every bound, lives in one worker.
    pub fn owner(&self, shards: usize, workers: u64) -> u64 {
        virtual_shard(self.shard_hash(), shards) as u64 % workers.max(1)
    }
}

/// The hasher of [`FlowKey::shard_hash`] and of the flow table's index (fixed seeds: the same
/// in every run and thread, so the table's own hash also gives the flow's virtual shard).
pub(crate) fn shard_hasher() -> ahash::RandomState {
    ahash::RandomState::with_seeds(0x6567_7265, 0x7373_6d61, 0x7020_666c, 0x6f77_7321)
}

/// Virtual shard (below `shards`) of a key with [`FlowKey::shard_hash`] `hash`. Bits 32 and up:
/// the table's hash index uses the low bits for buckets and the top seven as tags, so the
/// keys of one worker (which share their shard modulo the worker count) still spread evenly.
pub fn virtual_shard(hash: u64, shards: usize) -> usize {
    let shards = u32::try_from(shards.max(1)).unwrap_or(u32::MAX);
    ((hash >> 32) as u32 % shards) as usize
}

/// The application protocol a flow carries (and its names came from): set by the engine from
/// what [`crate::proto`]'s parsers recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum App {
    Tls,
    Http,
    Dns,
    Quic,
}

impl App {
    /// Stable lowercase label used in reports and flow logs.
    pub fn as_str(self) -> &'static str {
        match self {
            App::Tls => "tls",
            App::Http => "http",
            App::Dns => "dns",
            App::Quic => "quic",
        }
    }
}

/// How a flow got its hostname. Serialised into the flow log (a public interface).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostSource {
    TlsSni,
    HttpHost,
    QuicSni,
    /// A DNS answer the flow's client received for the server address before the flow started.
    Dns,
    /// Such an answer, but only another client received it (flagged: it may not be what this
    /// client's resolver said).
    DnsOtherClient,
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
            HostSource::DnsOtherClient => "dns-other-client",
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
/// Unlisted names of one flow remembered (as 8-byte hashes) to count each once.
pub const UNLISTED_TRACKED: usize = 4096;
/// Distinct machine identities one flow keeps (see [`Extra::identities`]).
pub const MAX_IDENTITIES_PER_FLOW: usize = 1024;
/// Distinct names a flow counts DNS messages for (the report's DNS view); messages about
/// further names are counted in [`Extra::dns_uncounted`], never dropped silently.
pub const DNS_COUNTED_PER_FLOW: usize = 1024;
/// Largest `--max-names-per-flow` (the per-flow bound is stored in a byte).
pub const NAMES_PER_FLOW_LIMIT: usize = 255;

/// Where a TCP connection is in its life; decides how long it may stay silent (see
/// [`FlowTableConfig`]): conntrack's states, reduced to what a passive observer can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpState {
    /// The client's SYN, no answer yet (a scan or an unreachable server).
    SynSent,
    /// The server's SYN-ACK, the client has not gone on yet.
    SynAnswered,
    /// Traffic after the handshake (or a capture that started mid-connection).
    Established,
    /// One side sent FIN: the other may still send.
    ClientFin,
    ServerFin,
    /// Both sides sent FIN, or either sent RST.
    Closed,
}

impl TcpState {
    /// FIN or RST seen: the connection is ending.
    pub fn is_closing(self) -> bool {
        matches!(
            self,
            TcpState::ClientFin | TcpState::ServerFin | TcpState::Closed
        )
    }

    /// The state after a segment with `flags` from the client (`up`) or the server.
    pub fn next(self, flags: u8, up: bool) -> TcpState {
        use crate::decode::tcp_flags::{ACK, FIN, RST, SYN};
        if flags & RST != 0 {
            return TcpState::Closed;
        }
        if flags & FIN != 0 {
            return match (self, up) {
                (TcpState::ServerFin, true)
                | (TcpState::ClientFin, false)
                | (TcpState::Closed, _) => TcpState::Closed,
                (_, true) => TcpState::ClientFin,
                (_, false) => TcpState::ServerFin,
            };
        }
        match self {
            TcpState::SynSent if !up && flags & (SYN | ACK) == SYN | ACK => TcpState::SynAnswered,
            // A SYN again (retransmission) keeps the handshake where it is.
            TcpState::SynSent | TcpState::SynAnswered if flags & SYN != 0 => self,
            TcpState::SynSent | TcpState::SynAnswered => TcpState::Established,
            s => s,
        }
    }
}

/// What interim records already reported of a flow that is still open (see
/// [`Flow::delta`]): reports add only what is new, so nothing is counted twice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reported {
    pub up: Counters,
    pub down: Counters,
    /// `--flow-update` records written for this flow so far.
    pub updates: u32,
}

/// Why an interim record of an open flow was emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterimKind {
    /// A report snapshot (live capture): counted in the report, not written to the flow log.
    Snapshot,
    /// `--flow-update`: also written to the flow log, marked interim.
    Update,
}

/// The parts of a flow most flows never need, kept out of line so the table's slots stay small
/// (a SYN flood's flows never allocate one).
#[derive(Clone, Debug, Default)]
pub struct Extra {
    pub names: Vec<Arc<str>>,
    /// Distinct names not kept because the flow already had `names_cap` of them (the flow
    /// log's `names_unlisted`).
    pub names_dropped: u32,
    /// Hashes of the names counted in `names_dropped`, so a name seen again (a DNS response
    /// repeating its query's question) is counted once; at most [`UNLISTED_TRACKED`].
    pub unlisted_seen: Option<Box<std::collections::HashSet<u64>>>,
    /// DNS messages of this flow per question name, in first-seen order (at most
    /// [`DNS_COUNTED_PER_FLOW`] names): what the report's DNS view sums. An interim record
    /// takes them, so every message is counted by exactly one record.
    pub dns: Vec<DnsCount>,
    /// Questions about names past [`DNS_COUNTED_PER_FLOW`] (queries and responses).
    pub dns_uncounted: u32,
    /// ECH flows: the name this client looked up whose HTTPS record named the outer SNI as its
    /// ECH public name (see `resolve::Resolver::lookup_ech`). Inferred, never observed.
    pub inferred_host: Option<Arc<str>>,
    /// QUIC version of the client's Initials (wire value; see `proto::quic::VersionName`).
    pub quic_version: Option<u32>,
    /// The request path of the first HTTP request (for path-qualified signatures).
    pub http_path: Option<Box<str>>,
    /// CNAME chain behind a DNS-attributed name (query name first).
    pub cnames: Option<Arc<[Arc<str>]>>,
    /// Counted by interim records already (none: never reported while open).
    pub reported: Option<Reported>,
    /// Set on an interim record (a copy of an open flow), never on the flow in the table.
    pub interim: Option<InterimKind>,
    /// What the flow said about machines (its client's MAC, DHCP, NetBIOS, DNS PTR answers), each
    /// distinct one once, at most [`MAX_IDENTITIES_PER_FLOW`] (the broadcast DHCP flow carries
    /// every machine of the segment).
    pub identities: Vec<identity::Identity>,
    /// Distinct identities not kept because `identities` was full.
    pub identities_dropped: u32,
    /// Made from a Zeek/Suricata record without packet/byte counts: its zero counters are
    /// unknown, and its flow log line says so.
    pub counts_unknown: bool,
}

static NO_EXTRA: Extra = Extra {
    names: Vec::new(),
    names_dropped: 0,
    unlisted_seen: None,
    dns: Vec::new(),
    dns_uncounted: 0,
    inferred_host: None,
    quic_version: None,
    http_path: None,
    cnames: None,
    reported: None,
    interim: None,
    identities: Vec::new(),
    identities_dropped: 0,
    counts_unknown: false,
};

/// DNS messages of one flow about one question name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsCount {
    pub name: Arc<str>,
    /// Queries asking for the name.
    pub queries: u32,
    /// Responses to it that carry at least one answer record.
    pub answers: u32,
}

/// Everything we know about one flow. Kept small (one slot of the flow table, at most 160
/// bytes): key, orientation, counters, timestamps and the name; inspection state and rarely
/// needed data live out of line and are freed when no longer needed.
#[derive(Debug)]
pub struct Flow {
    pub key: FlowKey,
    pub first_seen: Nanos,
    pub last_seen: Nanos,
    pub up: Counters,
    pub down: Counters,
    pub host: Option<Arc<str>>,
    /// Names, paths, CNAMEs, interim bookkeeping: allocated when first needed.
    pub extra: Option<Box<Extra>>,
    /// Inspection state of the client's first flight (and the server's, for DNS over TCP).
    pub inspect: reassembly::Inspect,
    /// Index of the input file where the flow was first seen.
    pub file: u16,
    /// Whether the client is `key.lo` (so a packet with `forward == client_is_lo` is upstream).
    pub client_is_lo: bool,
    pub app: Option<App>,
    pub host_source: Option<HostSource>,
    pub ech: bool,
    /// The SNI is an ECH *outer* name (the fronting service, not the destination): only with
    /// evidence, an HTTPS/SVCB record in the capture whose ECH public name it is, or a known
    /// public name (`proto::tls::KNOWN_ECH_PUBLIC_NAMES`). Chromium-family browsers send the
    /// ECH extension in every ClientHello (GREASE ECH); its SNI is the real name.
    pub ech_outer: bool,
    /// Most names kept (`FlowTableConfig::max_names`, default [`MAX_NAMES_PER_FLOW`]).
    pub names_cap: u8,
    /// `host` was carried over from an earlier flow on the same key (idle expiry, then back).
    pub host_revived: bool,
    /// TCP: a SYN was seen, so orientation is certain.
    pub saw_syn: bool,
    /// TCP: where the connection is (decides its idle timeout). Meaningless for other protocols.
    pub tcp: TcpState,
}

impl Flow {
    /// A new flow with nothing counted.
    pub fn new(key: FlowKey, client_is_lo: bool, ts: Nanos, file: u16) -> Self {
        Flow {
            key,
            first_seen: ts,
            last_seen: ts,
            up: Counters::default(),
            down: Counters::default(),
            host: None,
            extra: None,
            inspect: Default::default(),
            file,
            client_is_lo,
            app: None,
            host_source: None,
            ech: false,
            ech_outer: false,
            names_cap: MAX_NAMES_PER_FLOW as u8,
            host_revived: false,
            saw_syn: false,
            tcp: TcpState::Established,
        }
    }

    pub fn client(&self) -> (IpAddr, u16) {
        if self.client_is_lo {
            self.key.lo
        } else {
            self.key.hi
        }
    }

    pub fn server(&self) -> (IpAddr, u16) {
        if self.client_is_lo {
            self.key.hi
        } else {
            self.key.lo
        }
    }

    /// The out-of-line parts (empty ones when never allocated).
    pub fn extra(&self) -> &Extra {
        self.extra.as_deref().unwrap_or(&NO_EXTRA)
    }

    pub fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Default::default)
    }

    pub fn names(&self) -> &[Arc<str>] {
        &self.extra().names
    }

    /// Whether this is an interim record of a flow still open, and why it was emitted.
    pub fn interim(&self) -> Option<InterimKind> {
        self.extra().interim
    }

    /// What this record adds to a report: whether the flow is new to it (never reported by an
    /// interim record), and the packets and bytes since the last interim record.
    pub fn delta(&self) -> (bool, Counters, Counters) {
        let sub = |a: Counters, b: Counters| Counters {
            packets: a.packets.saturating_sub(b.packets),
            bytes: a.bytes.saturating_sub(b.bytes),
        };
        match self.extra().reported {
            None => (true, self.up, self.down),
            Some(r) => (false, sub(self.up, r.up), sub(self.down, r.down)),
        }
    }

    /// A copy of an open flow for an interim record (the inspection state stays behind), and
    /// the flow now counts as reported up to here.
    pub fn interim_copy(&mut self, kind: InterimKind) -> Flow {
        let mut extra = self.extra().clone();
        extra.interim = Some(kind);
        if let Some(x) = self.extra.as_deref_mut() {
            x.dns = Vec::new();
            x.dns_uncounted = 0;
        }
        let copy = Flow {
            key: self.key,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            up: self.up,
            down: self.down,
            host: self.host.clone(),
            extra: Some(Box::new(extra)),
            inspect: reassembly::Inspect::Done,
            file: self.file,
            client_is_lo: self.client_is_lo,
            app: self.app,
            host_source: self.host_source,
            ech: self.ech,
            ech_outer: self.ech_outer,
            names_cap: self.names_cap,
            host_revived: self.host_revived,
            saw_syn: self.saw_syn,
            tcp: self.tcp,
        };
        let (up, down) = (self.up, self.down);
        let r = self
            .extra_mut()
            .reported
            .get_or_insert_with(Default::default);
        r.up = up;
        r.down = down;
        if kind == InterimKind::Update {
            r.updates = r.updates.saturating_add(1);
        }
        copy
    }

    /// Count a DNS message's question: a query, or a response (`answered`: with answer records).
    pub fn count_dns(&mut self, name: &Arc<str>, response: bool, answered: bool) {
        let (q, a) = (u32::from(!response), u32::from(response && answered));
        let x = self.extra_mut();
        if let Some(c) = x.dns.iter_mut().rev().find(|c| c.name == *name) {
            c.queries = c.queries.saturating_add(q);
            c.answers = c.answers.saturating_add(a);
        } else if x.dns.len() < DNS_COUNTED_PER_FLOW {
            x.dns.push(DnsCount {
                name: name.clone(),
                queries: q,
                answers: a,
            });
        } else {
            x.dns_uncounted = x.dns_uncounted.saturating_add(1);
        }
    }

    pub fn add_name(&mut self, name: &Arc<str>) {
        let cap = usize::from(self.names_cap);
        let x = self.extra_mut();
        if x.names.iter().any(|n| n == name) {
            return;
        }
        if x.names.len() < cap {
            x.names.push(name.clone());
            return;
        }
        // Deterministic (SipHash with fixed keys): the count must not depend on the run.
        let h = {
            use std::hash::{Hash, Hasher};
            let mut s = std::collections::hash_map::DefaultHasher::new();
            name.hash(&mut s);
            s.finish()
        };
        let seen = x.unlisted_seen.get_or_insert_with(Default::default);
        if seen.contains(&h) {
            return;
        }
        // Past the bound every further name counts (a repeat may then count twice).
        if seen.len() < UNLISTED_TRACKED {
            seen.insert(h);
        }
        x.names_dropped = x.names_dropped.saturating_add(1);
    }

    /// Keep what a datagram of this flow said about a machine (each distinct identity once).
    pub fn add_identity(&mut self, id: identity::Identity) {
        let x = self.extra_mut();
        if x.identities.contains(&id) {
            return;
        }
        if x.identities.len() < MAX_IDENTITIES_PER_FLOW {
            x.identities.push(id);
        } else {
            x.identities_dropped = x.identities_dropped.saturating_add(1);
        }
    }

    /// Name the flow, unless it already has a name from a source at least as good.
    pub fn set_host(&mut self, name: Arc<str>, source: HostSource) {
        self.add_name(&name);
        // A proxy request names where the tunnel goes; a name seen inside the tunnel (SNI,
        // Host) is more specific and replaces it.
        let rank = |s: Option<HostSource>| match s {
            None => 0,
            Some(HostSource::Dns | HostSource::DnsOtherClient) => 1,
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
            if !matches!(source, HostSource::Dns | HostSource::DnsOtherClient) {
                if let Some(x) = self.extra.as_deref_mut() {
                    x.cnames = None;
                }
            }
        }
    }

    /// Turn the flow around: the side we took for the client is the server. Only valid before
    /// any packet was counted or inspected.
    pub fn swap_orientation(&mut self) {
        std::mem::swap(&mut self.up, &mut self.down);
        self.inspect.swap_isns();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tcp_flags::{ACK, FIN, RST, SYN};

    #[test]
    fn a_flow_slot_stays_small() {
        // The table holds one `Flow` per slot plus a 4-byte index bucket: the budget
        // is 160 bytes a slot, and a SYN flood's flows allocate nothing besides.
        let size = std::mem::size_of::<Flow>();
        eprintln!("size_of::<Flow>() = {size}");
        assert!(size + 5 <= 160, "Flow is {size} bytes");
    }

    #[test]
    fn tcp_states_follow_the_handshake_and_the_close() {
        let s = TcpState::SynSent;
        assert_eq!(s.next(SYN, true), TcpState::SynSent);
        let s = s.next(SYN | ACK, false);
        assert_eq!(s, TcpState::SynAnswered);
        let s = s.next(ACK, true);
        assert_eq!(s, TcpState::Established);
        let s = s.next(FIN | ACK, false);
        assert_eq!(s, TcpState::ServerFin);
        assert_eq!(s.next(ACK, false), TcpState::ServerFin);
        assert_eq!(s.next(FIN | ACK, true), TcpState::Closed);
        assert_eq!(TcpState::Established.next(RST, true), TcpState::Closed);
        assert_eq!(TcpState::SynSent.next(RST | ACK, false), TcpState::Closed);
    }

    #[test]
    fn dns_counts_are_bounded_and_taken_by_interim_records() {
        let key = FlowKey {
            protocol: UDP,
            lo: ("10.0.0.1".parse().unwrap(), 53000),
            hi: ("10.0.0.53".parse().unwrap(), 53),
            vlans: Default::default(),
        };
        let mut f = Flow::new(key, true, 0, 0);
        let names: Vec<Arc<str>> = (0..DNS_COUNTED_PER_FLOW + 3)
            .map(|i| Arc::from(format!("n{i}.example")))
            .collect();
        for n in &names {
            f.count_dns(n, false, false);
            f.count_dns(n, true, true);
        }
        f.count_dns(&names[0], true, false);
        let x = f.extra();
        assert_eq!(x.dns.len(), DNS_COUNTED_PER_FLOW);
        assert_eq!(x.dns_uncounted, 6);
        assert_eq!((x.dns[0].queries, x.dns[0].answers), (1, 1));
        let copy = f.interim_copy(InterimKind::Snapshot);
        assert_eq!(copy.extra().dns.len(), DNS_COUNTED_PER_FLOW);
        assert!(f.extra().dns.is_empty() && f.extra().dns_uncounted == 0);
        f.count_dns(&names[1], false, false);
        assert_eq!(f.extra().dns.len(), 1);
    }

    #[test]
    fn interim_records_and_the_end_add_up_to_the_flow() {
        let key = FlowKey {
            protocol: TCP,
            lo: ("10.0.0.1".parse().unwrap(), 50000),
            hi: ("20.0.0.1".parse().unwrap(), 443),
            vlans: Default::default(),
        };
        let mut f = Flow::new(key, true, 0, 0);
        let (mut packets, mut bytes, mut flows) = (0, 0, 0);
        let mut count = |r: &Flow| {
            let (new, up, down) = r.delta();
            flows += u64::from(new);
            packets += up.packets + down.packets;
            bytes += up.bytes + down.bytes;
        };
        for round in 1..=3u64 {
            f.up.packets += round;
            f.up.bytes += 100 * round;
            f.down.packets += 1;
            f.down.bytes += 40;
            let kind = if round == 2 {
                InterimKind::Update
            } else {
                InterimKind::Snapshot
            };
            let copy = f.interim_copy(kind);
            assert_eq!(copy.interim(), Some(kind));
            assert_eq!(f.interim(), None);
            count(&copy);
        }
        f.up.packets += 7;
        f.up.bytes += 700;
        count(&f);
        assert_eq!(flows, 1);
        assert_eq!(packets, f.up.packets + f.down.packets);
        assert_eq!(bytes, f.up.bytes + f.down.bytes);
        assert_eq!(f.extra().reported.map(|r| r.updates), Some(1));
    }
}
