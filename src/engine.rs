//! One shard of traffic: decode, track flows, inspect their first flight, remember DNS answers.
//!
//! An [`Engine`] owns everything a worker needs and shares nothing, so several can run side by
//! side on packets sharded by flow. Finished flows are handed to a callback as they end, which
//! keeps memory independent of the capture's size.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use crate::capture::{Nanos, Packet};
use crate::decode::{tcp_flags, DecodeError, Decoded, Decoder, Framing, Transport};
use crate::flow::reassembly::{FirstFlight, Insert, Inspect, Pool, Reassembler};
use crate::flow::table::Ended;
use crate::flow::FlowTableStats;
use crate::flow::{Flow, FlowKey, FlowTable, FlowTableConfig, HostSource};
use crate::proto::identity::{Identity, IdentityKind, Observation, RawName};
use crate::proto::registry::{self, NameSource, Outcome};
use crate::proto::{dns, http, quic, tls, App, Parse};
use crate::resolve::validate::{Exchange, Validated, Validator};
use crate::resolve::{BindingSource, DnsFact, Resolver, ResolverConfig, ResolverStats};

/// Knobs of one engine (all bounded resources have one).
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub table: FlowTableConfig,
    pub resolver: ResolverConfig,
    /// Bytes of a direction's first flight buffered at most.
    pub reassembly_cap: usize,
    /// Bytes of all first-flight buffers (TCP and QUIC CRYPTO) together, over the whole run:
    /// each virtual shard of the flow table holds its exact share.
    pub reassembly_total: usize,
    /// Bytes held for incomplete IP fragments at most.
    pub fragment_bytes: usize,
    /// Distinct names interned at most before the interner starts over.
    pub interned_names: usize,
    /// `(index, count)`: this engine owns the flows whose virtual shard is `index` modulo
    /// `count` ([`FlowKey::owner`]), and only learns DNS answers from the others.
    pub shard: Option<(u64, u64)>,
    /// Decrypt QUIC client Initials for their ClientHello (off: QUIC flows are named only
    /// through DNS).
    pub quic: bool,
    /// Live capture: every time [`Engine::tick`]'s clock crosses a multiple of this, an interim
    /// record of every open flow is emitted (the report snapshot then counts open flows too).
    pub snapshot_every: Option<Nanos>,
    /// Records reach this engine through a dispatcher ([`Engine::process_routed`]): each
    /// record is counted by exactly one engine, so packet-level counters add up over engines.
    pub routed: bool,
    /// DNS exchanges are validated once, before the workers, by a [`DnsObserver`] whose
    /// [`DnsFacts`] come with the records: this engine neither validates nor parses DNS it is
    /// handed the facts of, and learns answers only from those facts.
    pub dns_observed: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            table: FlowTableConfig::default(),
            resolver: ResolverConfig::default(),
            reassembly_cap: crate::flow::reassembly::DEFAULT_CAP,
            reassembly_total: crate::flow::reassembly::DEFAULT_TOTAL,
            fragment_bytes: crate::decode::ip::FragmentPool::DEFAULT_MAX_BYTES,
            interned_names: 100_000,
            shard: None,
            quic: true,
            snapshot_every: None,
            routed: false,
            dns_observed: false,
        }
    }
}

/// Packet-level counters; every report prints them.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct EngineStats {
    pub packets: u64,
    pub decoded: u64,
    pub truncated: u64,
    pub unsupported_link: u64,
    pub not_ip: u64,
    pub bad_ip_header: u64,
    pub ip_fragments_held: u64,
    pub ip_fragments_dropped: u64,
    /// Incomplete datagrams pushed out of the fragment pool to make room (`--fragment` bound).
    pub ip_fragments_evicted: u64,
    pub tunnel_too_deep: u64,
    /// Packets in a framing we do not decode, by kind.
    pub unsupported_framing: FramingCounts,
    pub tls_client_hellos: u64,
    pub http_requests: u64,
    /// Client streams read through at least one preamble (SOCKS, CONNECT, PROXY, STARTTLS).
    pub preambles: u64,
    pub dns_messages: u64,
    pub dns_unparsed: u64,
    /// Flows whose first flight outgrew the reassembly cap before a name was found.
    pub reassembly_cap_hit: u64,
    /// Flows given up on because a hole in their first flight stayed open for several segments.
    pub reassembly_gap_gave_up: u64,
    /// Times the name interner was full and started over (memory bound, not data loss).
    pub interner_resets: u64,
    /// QUIC/gQUIC client hellos read (flows named or known nameless from their Initials).
    pub quic_client_hellos: u64,
    /// Client Initial packets decrypted, and ones that failed authentication (not QUIC after
    /// all, keys from a DCID we never saw, or damaged).
    pub quic_initials_decrypted: u64,
    pub quic_decrypt_failed: u64,
    /// QUIC flows given up on before a complete ClientHello (cap, malformed, too many packets).
    pub quic_gave_up: u64,
    /// Segments not buffered because all first-flight buffers together reached
    /// `--reassembly-total`; their flows stopped being inspected.
    pub reassembly_budget_refused: u64,
    /// Most bytes held by first-flight buffers at once, per shard, summed over shards (so the
    /// same for any thread count; at least the run's true peak).
    pub reassembly_peak_bytes: u64,
    /// DNS messages parsed (work done, not a fact about the traffic: a record parsed by
    /// several engines counts several times; not reported).
    #[serde(skip)]
    pub dns_parses: u64,
}

impl EngineStats {
    fn count_error(&mut self, e: DecodeError) {
        let c = match e {
            DecodeError::Truncated => &mut self.truncated,
            DecodeError::UnsupportedLink => &mut self.unsupported_link,
            DecodeError::NotIp => &mut self.not_ip,
            DecodeError::BadIp => &mut self.bad_ip_header,
            DecodeError::FragmentHeld => &mut self.ip_fragments_held,
            DecodeError::FragmentDropped => &mut self.ip_fragments_dropped,
            DecodeError::TooDeep => &mut self.tunnel_too_deep,
            DecodeError::Unsupported(kind) => {
                self.unsupported_framing.count(kind);
                return;
            }
        };
        *c += 1;
    }
}

/// Packets of unsupported framings, per kind. A handful of kinds exist on any network; the
/// list is bounded and further kinds are summed under `other`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct FramingCounts {
    pub kinds: Vec<(Framing, u64)>,
    pub other: u64,
}

impl FramingCounts {
    const MAX_KINDS: usize = 32;

    fn count(&mut self, kind: Framing) {
        self.add(kind, 1);
    }

    pub fn add(&mut self, kind: Framing, n: u64) {
        if let Some(e) = self.kinds.iter_mut().find(|(k, _)| *k == kind) {
            e.1 += n;
        } else if self.kinds.len() < Self::MAX_KINDS {
            self.kinds.push((kind, n));
        } else {
            self.other += n;
        }
    }

    pub fn total(&self) -> u64 {
        self.kinds.iter().map(|(_, n)| n).sum::<u64>() + self.other
    }
}

/// Hands out one shared `Arc<str>` per distinct name, so flows carry names without copying.
struct Interner {
    set: HashSet<Arc<str>, ahash::RandomState>,
    cap: usize,
}

impl Interner {
    fn get(&mut self, name: &str, stats: &mut EngineStats) -> Arc<str> {
        if let Some(n) = self.set.get(name) {
            return n.clone();
        }
        if self.set.len() >= self.cap {
            self.set.clear();
            stats.interner_resets += 1;
        }
        let n: Arc<str> = Arc::from(name);
        self.set.insert(n.clone());
        n
    }
}

pub struct Engine {
    decoder: Decoder,
    pub table: FlowTable,
    pub resolver: Resolver,
    /// Outstanding DNS queries: which answers may feed the resolver.
    pub validator: Validator,
    /// DNS-over-TCP flows other workers own, reassembled here only to learn their answers (so
    /// every worker's resolver holds the same answers); never reported.
    shadow: Option<Box<Shadow>>,
    names: Interner,
    macs_seen: MacsSeen,
    pub stats: EngineStats,
    /// Budgets of the first-flight buffers, one per virtual shard of the flow table (each its
    /// share of `reassembly_total`): a flow's buffers draw on its shard's budget alone, so what is
    /// refused does not depend on how shards are spread over workers.
    pools: Vec<Pool>,
    /// An empty budget for contexts that never buffer (DNS datagrams of any flow).
    no_pool: Pool,
    cfg: EngineConfig,
    /// Flows ended by the current record, sorted before they are handed out (reused buffer).
    ended: Vec<Ended>,
    /// Multiple of `snapshot_every` the clock was last in (None: not started).
    snapshot_epoch: Option<u64>,
    /// Number (from 1) of the record processed last, over the whole run and every worker: the
    /// `at` of what it ends.
    pub seq: u64,
}

/// (client address, MAC) pairs this worker already put on a flow. Cleared when full: a pair
/// seen again is only recorded again, and the report keeps the earliest.
#[derive(Default)]
struct MacsSeen(HashSet<(IpAddr, crate::proto::identity::Mac), ahash::RandomState>);

impl MacsSeen {
    const MAX: usize = 65_536;

    fn first(&mut self, addr: IpAddr, mac: crate::proto::identity::Mac) -> bool {
        if self.0.contains(&(addr, mac)) {
            return false;
        }
        if self.0.len() >= Self::MAX {
            self.0.clear();
        }
        self.0.insert((addr, mac))
    }
}

/// Flow table, buffer budget and scratch counters of the shadowed DNS-over-TCP flows.
struct Shadow {
    table: FlowTable,
    pool: Pool,
    stats: EngineStats,
}

/// The mutable state inspection needs besides the flow (split out to satisfy the borrow checker:
/// the flow lives inside the table).
struct Ctx<'e> {
    resolver: &'e mut Resolver,
    validator: &'e mut Validator,
    /// The current UDP datagram to or from port 53, already parsed (no second parse).
    udp_dns: Option<&'e dns::DnsMessage>,
    names: &'e mut Interner,
    stats: &'e mut EngineStats,
    pool: &'e Pool,
    cap: usize,
    quic: bool,
    /// What becomes of validated DNS answers.
    dns: DnsRole<'e>,
}

/// Where DNS exchanges are validated and their answers go.
enum DnsRole<'e> {
    /// Validated here and learned by this engine's resolver (one engine, or live workers).
    Learn,
    /// Validated here and collected for the engines ([`DnsObserver`]).
    Collect(&'e mut DnsFacts),
    /// Validated elsewhere: the answers arrive as [`DnsFacts`] with the records, and so do the
    /// record's DNS-over-TCP messages, parsed (`next`: the first not yet used).
    Elsewhere {
        tcp: &'e [(Box<[u8]>, dns::DnsMessage)],
        next: usize,
    },
}

/// What one record's DNS told, found once by a [`DnsObserver`] and handed, in record order, to
/// every engine: the validated answers (each engine's resolver learns them), the identities they
/// give the record's own flow, and the record's UDP DNS message already parsed (its flow's owner
/// does not parse it again).
#[derive(Debug, Default)]
pub struct DnsFacts {
    learned: Vec<Learned>,
    ptrs: Vec<Identity>,
    udp: Option<dns::DnsMessage>,
    /// The DNS-over-TCP messages the record completed, in stream order, with their bytes (the
    /// flow's owner reassembles its stream too, and uses a message only if the bytes match).
    tcp: Vec<(Box<[u8]>, dns::DnsMessage)>,
}

impl DnsFacts {
    /// Whether engines other than the flow's owner need these facts.
    pub fn learned_any(&self) -> bool {
        !self.learned.is_empty()
    }
}

/// One validated answer, owned (it crosses threads).
#[derive(Debug)]
struct Learned {
    client: IpAddr,
    qname: Box<str>,
    chain: Vec<Box<str>>,
    ech_public_names: Vec<(Box<str>, u32)>,
    addrs: Vec<(IpAddr, u32)>,
    ts: Nanos,
}

/// Validates every DNS exchange of a run once, ahead of the engines (the dispatcher's thread):
/// UDP messages from the record, DNS over TCP from its own reassembly of every port-53 flow. Its
/// [`DnsFacts`] go to the engines in record order, so each engine's resolver learns exactly what
/// one engine alone would, at the same record, without decoding the DNS of other engines' flows.
pub struct DnsObserver {
    decoder: Decoder,
    pub validator: Validator,
    shadow: Option<Box<Shadow>>,
    /// Never learns (answers are collected); the shadow flows' context needs one.
    resolver: Resolver,
    names: Interner,
    /// Scratch counters of the shadow flows, except `dns_parses`.
    pub stats: EngineStats,
    no_pool: Pool,
    cfg: EngineConfig,
}

impl DnsObserver {
    pub fn new(cfg: EngineConfig) -> Self {
        DnsObserver {
            decoder: Decoder::new(cfg.fragment_bytes),
            validator: Validator::default(),
            shadow: None,
            resolver: Resolver::new(cfg.resolver.clone()),
            names: Interner {
                set: HashSet::default(),
                cap: cfg.interned_names.max(1),
            },
            stats: EngineStats::default(),
            no_pool: Pool::new(0),
            cfg,
        }
    }

    /// The DNS facts of one record the dispatcher could not route to a single flow without
    /// looking inside (port 53, fragments, tunnels): `None` when it holds no DNS.
    pub fn observe(&mut self, pkt: &Packet<'_>, file: u16) -> Option<std::sync::Arc<DnsFacts>> {
        let d = self.decoder.decode(pkt).ok()?;
        let mut facts = DnsFacts::default();
        // Answers are collected into `facts`, never learned: this resolver stays empty.
        let mut ctx = Ctx {
            resolver: &mut self.resolver,
            validator: &mut self.validator,
            udp_dns: None,
            names: &mut self.names,
            stats: &mut self.stats,
            pool: &self.no_pool,
            cap: self.cfg.reassembly_cap,
            quic: false,
            dns: DnsRole::Collect(&mut facts),
        };
        match d.transport {
            Transport::Udp { src_port, dst_port } if src_port == 53 || dst_port == 53 => {
                ctx.stats.dns_parses += 1;
                let m = dns::parse(d.payload)?;
                let ptrs =
                    observe_udp_dns(&m, (d.src, src_port), (d.dst, dst_port), pkt.ts, &mut ctx);
                facts.ptrs = ptrs;
                facts.udp = Some(m);
            }
            Transport::Tcp {
                src_port, dst_port, ..
            } if src_port == 53 || dst_port == 53 => {
                let (key, forward) = FlowKey::of(&d);
                let parses = shadow_dns_tcp(
                    &mut self.shadow,
                    &self.cfg,
                    ctx,
                    (&d, key, forward, pkt.ts, file),
                );
                self.stats.dns_parses += parses;
            }
            _ => return None,
        }
        (facts.learned_any()
            || facts.udp.is_some()
            || !facts.ptrs.is_empty()
            || !facts.tcp.is_empty())
        .then(|| std::sync::Arc::new(facts))
    }
}

impl Engine {
    pub fn new(cfg: EngineConfig) -> Self {
        Engine {
            decoder: Decoder::new(cfg.fragment_bytes),
            table: FlowTable::new(cfg.table.clone()),
            resolver: Resolver::new(cfg.resolver.clone()),
            validator: Validator::default(),
            shadow: None,
            names: Interner {
                set: HashSet::default(),
                cap: cfg.interned_names.max(1),
            },
            macs_seen: MacsSeen::default(),
            stats: EngineStats::default(),
            pools: {
                let n = cfg.table.shards();
                (0..n)
                    .map(|v| Pool::new(crate::flow::table::share(cfg.reassembly_total, n, v)))
                    .collect()
            },
            no_pool: Pool::new(0),
            cfg,
            ended: Vec::new(),
            snapshot_epoch: None,
            seq: 0,
        }
    }

    /// Process one record. Flows that end (or are pushed out) are handed to `out`, ordered by
    /// [`Ended::order`].
    pub fn process(&mut self, pkt: &Packet<'_>, file: u16, out: &mut dyn FnMut(Ended)) {
        let seq = self.seq + 1;
        self.process_routed(Some(pkt), file, seq, true, Some(pkt.ts), None, out);
    }

    /// Process record number `seq` of the run (`None`: a record another engine owns, only its
    /// clock matters). `count`: this engine counts the record in its packet-level counters.
    /// `sweep`: the record's time, when it is a sweep point ([`FlowTable::sweep`]; every
    /// engine gets the same sweep points, so flows expire at the same record whatever the
    /// sharding). `facts`: the record's DNS, found by a [`DnsObserver`]
    /// ([`EngineConfig::dns_observed`]); learned before the record's packet is processed, as one
    /// engine alone learns an answer before the flows its record creates.
    #[allow(clippy::too_many_arguments)]
    pub fn process_routed(
        &mut self,
        pkt: Option<&Packet<'_>>,
        file: u16,
        seq: u64,
        count: bool,
        sweep: Option<Nanos>,
        facts: Option<&DnsFacts>,
        out: &mut dyn FnMut(Ended),
    ) {
        self.seq = seq;
        let mut ended = std::mem::take(&mut self.ended);
        if let Some(ts) = sweep {
            self.table.sweep(ts, &mut |e| ended.push(e));
        }
        if let Some(f) = facts {
            for l in &f.learned {
                learn_answer(
                    &mut self.resolver,
                    &mut self.names,
                    &mut self.stats,
                    l.client,
                    (&l.qname, &l.chain, &l.ech_public_names),
                    &l.addrs,
                    l.ts,
                );
            }
        }
        if let Some(pkt) = pkt {
            self.process_inner(pkt, file, count, facts, &mut |e| ended.push(e));
        }
        if !ended.is_empty() {
            for e in &mut ended {
                e.at = seq;
            }
            // Stable: an interim record and the end of the same flow keep their order.
            ended.sort_by_key(Ended::order);
            for e in ended.drain(..) {
                out(e);
            }
        }
        self.ended = ended;
    }

    fn process_inner(
        &mut self,
        pkt: &Packet<'_>,
        file: u16,
        count: bool,
        facts: Option<&DnsFacts>,
        out: &mut dyn FnMut(Ended),
    ) {
        if count {
            self.stats.packets += 1;
        }
        let d = match self.decoder.decode(pkt) {
            Ok(d) => d,
            Err(e) => {
                if count {
                    self.stats.count_error(e);
                }
                return;
            }
        };
        if count {
            self.stats.decoded += 1;
        }
        let (key, forward) = FlowKey::of(&d);
        let observed = self.cfg.dns_observed;
        // Without an observer, every worker validates every UDP DNS exchange (whoever owns the
        // flow), so all learn the same answers at the same capture time. A port comparison, no
        // hash, for the rest.
        let parsed;
        let mut ptrs = Vec::new();
        let udp_dns = match d.transport {
            _ if observed => {
                if let Some(f) = facts {
                    ptrs.clone_from(&f.ptrs);
                }
                facts.and_then(|f| f.udp.as_ref())
            }
            Transport::Udp { src_port, dst_port } if src_port == 53 || dst_port == 53 => {
                self.stats.dns_parses += 1;
                parsed = dns::parse(d.payload);
                if let Some(m) = &parsed {
                    let mut ctx = Ctx {
                        resolver: &mut self.resolver,
                        validator: &mut self.validator,
                        udp_dns: None,
                        names: &mut self.names,
                        stats: &mut self.stats,
                        pool: &self.no_pool,
                        cap: self.cfg.reassembly_cap,
                        quic: self.cfg.quic,
                        dns: DnsRole::Learn,
                    };
                    ptrs =
                        observe_udp_dns(m, (d.src, src_port), (d.dst, dst_port), pkt.ts, &mut ctx);
                }
                parsed.as_ref()
            }
            _ => None,
        };
        if let Some((index, count)) = self.cfg.shard {
            if key.owner(self.cfg.table.shards(), count) != index {
                if observed {
                    return;
                }
                if let Transport::Tcp {
                    src_port, dst_port, ..
                } = d.transport
                {
                    if src_port == 53 || dst_port == 53 {
                        shadow_dns_tcp(
                            &mut self.shadow,
                            &self.cfg,
                            Ctx {
                                udp_dns: None,
                                validator: &mut self.validator,
                                resolver: &mut self.resolver,
                                names: &mut self.names,
                                // Replaced by the shadow's own scratch counters and budget.
                                stats: &mut self.stats,
                                pool: &self.no_pool,
                                cap: self.cfg.reassembly_cap,
                                quic: false,
                                dns: DnsRole::Learn,
                            },
                            (&d, key, forward, pkt.ts, file),
                        );
                    }
                }
                return;
            }
        }
        let (flow, created, shard) = self
            .table
            .lookup_in_shard(&d, key, forward, pkt.ts, file, out);
        let mut ctx = Ctx {
            udp_dns,
            validator: &mut self.validator,
            resolver: &mut self.resolver,
            names: &mut self.names,
            stats: &mut self.stats,
            pool: self.pools.get(shard).unwrap_or(&self.no_pool),
            cap: self.cfg.reassembly_cap,
            quic: self.cfg.quic,
            dns: if observed {
                DnsRole::Elsewhere {
                    tcp: facts.map_or(&[], |f| f.tcp.as_slice()),
                    next: 0,
                }
            } else {
                DnsRole::Learn
            },
        };
        if created {
            orient_by_payload(flow, &d);
            if flow.host.is_none() {
                name_from_dns(flow, &mut ctx, pkt.ts);
            }
        }
        track_and_inspect(flow, &d, pkt.ts, &mut ctx);
        identify_client(flow, pkt, &d, &mut self.macs_seen);
        for id in ptrs {
            flow.add_identity(id);
        }
    }
}

/// Who the machines are: the client's link-layer address (from its first packet that has
/// one), and what a UDP datagram of the flow says about a machine (see
/// [`registry::DATAGRAM`]). Carried by the flow to the report, so the worker that owns the flow
/// is the only one that counts it, whatever the number of workers.
#[inline(always)]
fn identify_client(flow: &mut Flow, pkt: &Packet<'_>, d: &Decoded<'_>, seen: &mut MacsSeen) {
    // The flow's first packet from its client (counted just before), once per address and MAC
    // per worker: the report keeps the earliest, which is the same whichever worker saw it.
    if flow.up.packets == 1 && !d.tunneled && (d.src, src_port(d)) == flow.client() {
        if let Some(mac) = crate::decode::link::source_mac(pkt.link, pkt.data) {
            let addr = flow.client().0;
            if crate::proto::identity::usable_mac(&mac)
                && crate::proto::identity::usable_addr(&addr)
                && seen.first(addr, mac)
            {
                flow.add_identity(Identity {
                    kind: IdentityKind::Link,
                    name: None,
                    mac: Some(mac),
                    addr: Some(addr),
                    at: pkt.ts,
                });
            }
        }
    }
    if let Transport::Udp { src_port, dst_port } = d.transport {
        registry::observe_datagram(d.payload, (d.src, src_port), dst_port, &mut |o| {
            if let Some(id) = o.to_identity() {
                flow.add_identity(id);
            }
        });
    }
}

/// A DNS-over-TCP packet of a flow another worker owns: reassembled and validated like an
/// owned flow in a shadow table, only to learn its answers (never reported).
#[cold]
#[inline(never)]
fn shadow_dns_tcp(
    shadow: &mut Option<Box<Shadow>>,
    cfg: &EngineConfig,
    ctx: Ctx<'_>,
    (d, key, forward, ts, file): (&Decoded<'_>, FlowKey, bool, Nanos, u16),
) -> u64 {
    let sh = shadow.get_or_insert_with(|| {
        Box::new(Shadow {
            table: FlowTable::new(cfg.table.clone()),
            pool: Pool::new(cfg.reassembly_total),
            stats: EngineStats::default(),
        })
    });
    sh.table.sweep(ts, &mut |_| {});
    let (flow, created) = sh.table.lookup(d, key, forward, ts, file, &mut |_| {});
    if created {
        orient_by_payload(flow, d);
    }
    let before = sh.stats.dns_parses;
    let mut ctx = Ctx {
        stats: &mut sh.stats,
        pool: &sh.pool,
        ..ctx
    };
    track_and_inspect(flow, d, ts, &mut ctx);
    sh.stats.dns_parses - before
}

/// Count a packet on its flow, note TCP handshake and close, and inspect its payload.
#[inline(always)]
fn track_and_inspect(flow: &mut Flow, d: &Decoded<'_>, ts: Nanos, ctx: &mut Ctx<'_>) {
    {
        let up = (d.src, src_port(d)) == flow.client();
        let c = if up { &mut flow.up } else { &mut flow.down };
        c.packets += 1;
        c.bytes += u64::from(d.ip_bytes);
        flow.last_seen = flow.last_seen.max(ts);
        if let Transport::Tcp { flags, seq, .. } = d.transport {
            if flags & tcp_flags::SYN != 0 {
                flow.saw_syn = true;
                flow.inspect.set_isn(up, seq);
            }
            flow.tcp = flow.tcp.next(flags, up);
        }
        inspect(flow, d, up, ts, ctx);
    }
}

impl Engine {
    /// End of input: every remaining flow is handed to `out`, oldest first.
    pub fn finish(&mut self, out: &mut dyn FnMut(Ended)) {
        self.table.drain(out);
    }

    /// Advance capture time without a packet (live capture on a quiet link). With
    /// `snapshot_every`, crossing a multiple of it emits an interim record of every open flow
    /// ([`Engine::interim`]).
    pub fn tick(&mut self, now: Nanos, out: &mut dyn FnMut(Ended)) {
        let seq = self.seq;
        self.table.sweep(now, &mut |mut e| {
            e.at = seq;
            out(e)
        });
        if let Some(every) = self.cfg.snapshot_every.filter(|e| *e > 0) {
            let epoch = now / every;
            match self.snapshot_epoch {
                Some(e) if epoch > e => {
                    self.snapshot_epoch = Some(epoch);
                    self.interim(out);
                }
                None => self.snapshot_epoch = Some(epoch),
                _ => {}
            }
        }
    }

    /// An interim record of every open flow, oldest first, ordered after everything the records
    /// processed so far ended: what a report snapshot needs to count connections that are still
    /// open. Each flow then counts as reported up to here ([`Flow::delta`]), so reports that add
    /// deltas count nothing twice.
    pub fn interim(&mut self, out: &mut dyn FnMut(Ended)) {
        self.table.interim_all(self.seq, out);
    }

    /// Counters merged over shards: packet-level counts are the same in every shard when each
    /// sees every record, and add up when records were routed; flow-level counts add up.
    pub fn merged_stats(engines: &[Engine]) -> (EngineStats, FlowTableStats, ResolverStats) {
        let mut e = engines.first().map(|x| x.stats.clone()).unwrap_or_default();
        let mut t = FlowTableStats::default();
        let mut r = engines
            .first()
            .map(|x| x.resolver.stats)
            .unwrap_or_default();
        (
            e.tls_client_hellos,
            e.http_requests,
            e.dns_messages,
            e.dns_unparsed,
            e.reassembly_cap_hit,
        ) = (0, 0, 0, 0, 0);
        (
            e.quic_client_hellos,
            e.quic_initials_decrypted,
            e.quic_decrypt_failed,
            e.quic_gave_up,
        ) = (0, 0, 0, 0);
        (
            e.reassembly_budget_refused,
            e.reassembly_peak_bytes,
            e.preambles,
        ) = (0, 0, 0);
        (e.reassembly_gap_gave_up, e.dns_parses) = (0, 0);
        // Every shard decodes every record: the fragment pool's count is the same in each.
        e.ip_fragments_evicted = engines
            .first()
            .map_or(0, |x| x.decoder.fragment_stats().evicted);
        (r.lookups_hit, r.lookups_stale) = (0, 0);
        let routed = engines.first().is_some_and(|x| x.cfg.routed);
        if routed {
            // Each record was counted by one engine: the packet-level counts add up.
            let p = &mut e;
            (
                p.packets,
                p.decoded,
                p.truncated,
                p.unsupported_link,
                p.not_ip,
            ) = (0, 0, 0, 0, 0);
            (p.bad_ip_header, p.ip_fragments_held, p.ip_fragments_dropped) = (0, 0, 0);
            p.tunnel_too_deep = 0;
            p.unsupported_framing = FramingCounts::default();
        }
        for x in engines {
            let s = &x.stats;
            if routed {
                e.packets += s.packets;
                e.decoded += s.decoded;
                e.truncated += s.truncated;
                e.unsupported_link += s.unsupported_link;
                e.not_ip += s.not_ip;
                e.bad_ip_header += s.bad_ip_header;
                e.ip_fragments_held += s.ip_fragments_held;
                e.ip_fragments_dropped += s.ip_fragments_dropped;
                e.tunnel_too_deep += s.tunnel_too_deep;
                for (k, n) in &s.unsupported_framing.kinds {
                    e.unsupported_framing.add(*k, *n);
                }
                e.unsupported_framing.other += s.unsupported_framing.other;
            }
            e.tls_client_hellos += s.tls_client_hellos;
            e.http_requests += s.http_requests;
            e.preambles += s.preambles;
            e.dns_messages += s.dns_messages;
            e.dns_unparsed += s.dns_unparsed;
            e.reassembly_cap_hit += s.reassembly_cap_hit;
            e.reassembly_gap_gave_up += s.reassembly_gap_gave_up;
            e.quic_client_hellos += s.quic_client_hellos;
            e.quic_initials_decrypted += s.quic_initials_decrypted;
            e.quic_decrypt_failed += s.quic_decrypt_failed;
            e.quic_gave_up += s.quic_gave_up;
            e.dns_parses += s.dns_parses;
            for pool in &x.pools {
                e.reassembly_budget_refused += pool.refused();
                e.reassembly_peak_bytes += pool.peak() as u64;
            }
            e.interner_resets = e.interner_resets.max(s.interner_resets);
            let ts = &x.table.stats;
            t.created += ts.created;
            t.ended_fin_rst += ts.ended_fin_rst;
            t.expired_idle += ts.expired_idle;
            t.evicted += ts.evicted;
            t.expired_handshake += ts.expired_handshake;
            t.inspect_timed_out += ts.inspect_timed_out;
            t.interim_records += ts.interim_records;
            t.revived_names += ts.revived_names;
            t.remembered_names_evicted += ts.remembered_names_evicted;
            t.peak_flows += ts.peak_flows;
            r.lookups_hit += x.resolver.stats.lookups_hit;
            r.lookups_stale += x.resolver.stats.lookups_stale;
        }
        (e, t, r)
    }
}

/// A UDP datagram to or from port 53: a query opens an exchange, a response from port 53 may
/// answer one (see [`crate::resolve::validate`]); a response sent *to* port 53 is ignored.
#[inline(never)]
fn observe_udp_dns(
    m: &dns::DnsMessage,
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    ts: Nanos,
    ctx: &mut Ctx<'_>,
) -> Vec<Identity> {
    if !m.is_response {
        if dst.1 == 53 {
            let x = Exchange {
                tcp: false,
                client: src,
                server: dst,
                id: m.id,
            };
            ctx.validator.query(x, m, ts);
        }
        return Vec::new();
    }
    if src.1 != 53 {
        ctx.validator.response_from_client();
        return Vec::new();
    }
    let x = Exchange {
        tcp: false,
        client: dst,
        server: src,
        id: m.id,
    };
    match ctx.validator.answer(x, m, ts) {
        Some(v) => {
            feed_resolver(&v, dst.0, ts, ctx);
            ptr_identities(&v)
        }
        None => Vec::new(),
    }
}

/// A validated reverse lookup names the address it asked about (the DNS name of a machine).
fn ptr_identities(v: &Validated) -> Vec<Identity> {
    let Some(addr) = (!v.ptrs.is_empty())
        .then(|| dns::reverse_name_addr(v.qname))
        .flatten()
    else {
        return Vec::new();
    };
    v.ptrs
        .iter()
        .filter_map(|t| {
            Observation {
                kind: IdentityKind::DnsPtr,
                name: Some(RawName::Presented(t)),
                mac: None,
                addr: Some(addr),
            }
            .to_identity()
        })
        .collect()
}

fn src_port(d: &Decoded<'_>) -> u16 {
    match d.transport {
        Transport::Tcp { src_port, .. } | Transport::Udp { src_port, .. } => src_port,
        Transport::Other { .. } => 0,
    }
}

/// Ports can mislead (a DNS client on a low port); a DNS message says which side asks.
fn orient_by_payload(flow: &mut Flow, d: &Decoded<'_>) {
    if let Transport::Udp { src_port, dst_port } = d.transport {
        if dns::probe_udp(d.payload, src_port, dst_port) {
            let is_query = d.payload.get(2).is_some_and(|b| b & 0x80 == 0);
            let sender_is_client = (d.src, src_port) == flow.client();
            if is_query != sender_is_client {
                flow.swap_orientation();
            }
        }
    }
}

fn name_from_dns(flow: &mut Flow, ctx: &mut Ctx<'_>, now: Nanos) {
    if let Some(b) = ctx.resolver.lookup(flow.client().0, flow.server().0, now) {
        let source = match b.source {
            BindingSource::SameClient => HostSource::Dns,
            BindingSource::OtherClient => HostSource::DnsOtherClient,
        };
        let (name, cnames) = (b.resolution.name, b.resolution.cnames);
        flow.set_host(name, source);
        if !cnames.is_empty() {
            flow.extra_mut().cnames = Some(cnames);
        }
    }
}

/// Look at a packet's payload if the flow still has something to tell.
#[inline(always)]
fn inspect(flow: &mut Flow, d: &Decoded<'_>, up: bool, ts: Nanos, ctx: &mut Ctx<'_>) {
    if matches!(flow.inspect, Inspect::Done) || d.payload.is_empty() {
        return;
    }
    match d.transport {
        Transport::Tcp { seq, .. } => inspect_tcp(flow, d.payload, seq, up, ts, ctx),
        Transport::Udp { src_port, dst_port } => {
            inspect_udp(flow, d.payload, src_port, dst_port, up, ts, ctx)
        }
        Transport::Other { .. } => flow.inspect = Inspect::Done,
    }
}

/// What the first bytes of a client stream told us.
enum Verdict {
    NeedMore,
    /// Named (or known to be nameless): stop inspecting.
    Finished,
    /// An HTTP request: keep probing later segments for more requests.
    Http,
    /// No registered protocol starts here.
    NotThis,
}

/// Run the protocol registry over a client stream and apply what it found to the flow. Names
/// stated by preambles (SOCKS, CONNECT) and a complete Host line of an unfinished HTTP head are
/// applied at once, so they survive a flow that ends before anything else arrives.
fn classify(flow: &mut Flow, stream: &[u8], ctx: &mut Ctx<'_>) -> Verdict {
    if stream.len() < 4 {
        return Verdict::NeedMore;
    }
    let id = registry::identify(stream);
    for n in &id.preamble_names {
        let name = ctx.names.get(&n.host, ctx.stats);
        flow.set_host(name, host_source(n.source));
    }
    let finished = |ctx: &mut Ctx<'_>| {
        if id.layers > 0 {
            ctx.stats.preambles += 1;
        }
    };
    match id.outcome {
        Outcome::NeedMore => Verdict::NeedMore,
        Outcome::NotThis => Verdict::NotThis,
        Outcome::Opaque => {
            finished(ctx);
            Verdict::Finished
        }
        Outcome::Tls(ch) => {
            finished(ctx);
            ctx.stats.tls_client_hellos += 1;
            flow.app = Some(App::Tls);
            flow.ech = ch.ech;
            if let Some(sni) = ch.sni {
                let n = ctx.names.get(&sni, ctx.stats);
                flow.set_host(n, HostSource::TlsSni);
                infer_ech_name(flow, ctx);
            }
            Verdict::Finished
        }
        Outcome::Http {
            req,
            complete: true,
        } => {
            finished(ctx);
            record_http(flow, req, true, ctx);
            Verdict::Http
        }
        Outcome::Http {
            req,
            complete: false,
        } => {
            record_http(flow, req, false, ctx);
            Verdict::NeedMore
        }
    }
}

fn host_source(s: NameSource) -> HostSource {
    match s {
        NameSource::TlsSni => HostSource::TlsSni,
        NameSource::HttpHost => HostSource::HttpHost,
        NameSource::HttpConnect => HostSource::HttpConnect,
        NameSource::Socks => HostSource::Socks,
    }
}

/// Whether one segment, alone, holds a complete request or ClientHello (a later request of a
/// flow whose first flight has a hole, or began before the capture).
fn complete_alone(payload: &[u8]) -> bool {
    payload.len() >= 16
        && matches!(
            registry::identify(payload).outcome,
            Outcome::Tls(_) | Outcome::Http { complete: true, .. }
        )
}

/// `counted`: the head is complete (an unfinished head only lends its Host line).
fn record_http(flow: &mut Flow, req: http::HttpRequest, counted: bool, ctx: &mut Ctx<'_>) {
    if counted {
        ctx.stats.http_requests += 1;
    }
    flow.app = Some(App::Http);
    if let Some(host) = req.host {
        let n = ctx.names.get(&host, ctx.stats);
        flow.set_host(n, HostSource::HttpHost);
    }
    let x = flow.extra_mut();
    if x.http_path.is_none() {
        x.http_path = Some(req.path.into_boxed_str());
    }
}

/// Datagrams of a UDP flow probed before giving up on it (a first datagram may be truncated).
const UDP_PROBE_PACKETS: u64 = 4;
/// Most requests a keep-alive HTTP flow is probed for.
const HTTP_FOLLOW_MAX: u16 = 64;
/// Packets after which a flow that never produced a usable first flight is given up on.
const GIVE_UP_PACKETS: u64 = 64;

fn inspect_tcp(flow: &mut Flow, payload: &[u8], seq: u32, up: bool, ts: Nanos, ctx: &mut Ctx<'_>) {
    if flow.server().1 == 53 || flow.client().1 == 53 {
        return inspect_dns_tcp(flow, payload, seq, up, ts, ctx);
    }
    if let Inspect::HttpFollow { requests } = &mut flow.inspect {
        if up && http::probe(payload) {
            if let Parse::Done(req) = http::parse_request_head(payload) {
                *requests += 1;
                let done = *requests >= HTTP_FOLLOW_MAX;
                record_http(flow, req, true, ctx);
                if done {
                    flow.inspect = Inspect::Done;
                }
            }
        }
        return;
    }
    if !up {
        if flow.up.packets + flow.down.packets > GIVE_UP_PACKETS {
            flow.inspect = Inspect::Done;
        }
        return;
    }
    // Without a SYN the stream's start is unknown: what we first see may be the tail of a
    // request, or a 1-byte keep-alive. Such a flow is re-anchored at a later segment rather
    // than given up on.
    let mid_stream = flow.inspect.isn(true).is_none();
    if matches!(flow.inspect, Inspect::Fresh { .. }) {
        if flow.up.packets > GIVE_UP_PACKETS {
            flow.inspect = Inspect::Done;
            return;
        }
        // Fast path: the first client segment, in order, holds the whole first flight.
        if flow
            .inspect
            .isn(true)
            .is_none_or(|isn| isn.wrapping_add(1) == seq)
        {
            match classify(flow, payload, ctx) {
                Verdict::Finished => {
                    flow.inspect = Inspect::Done;
                    return;
                }
                Verdict::Http => {
                    flow.inspect = Inspect::HttpFollow { requests: 1 };
                    return;
                }
                Verdict::NotThis if mid_stream => return,
                Verdict::NotThis => {
                    flow.inspect = Inspect::Done;
                    return;
                }
                Verdict::NeedMore => {}
            }
        }
        start_buffer(flow, ctx);
    }
    // Take the buffer out so `classify` can borrow the flow mutably.
    let mut state = std::mem::replace(&mut flow.inspect, Inspect::Done);
    let Inspect::Buffering(ff) = &mut state else {
        flow.inspect = state;
        return;
    };
    let verdict = match ff.client.insert(seq, payload) {
        Insert::Pending => {
            if complete_alone(payload) {
                classify(flow, payload, ctx)
            } else if flow.up.packets > GIVE_UP_PACKETS {
                Verdict::Finished
            } else {
                flow.inspect = state;
                return;
            }
        }
        Insert::Overflow => {
            ctx.stats.reassembly_cap_hit += 1;
            Verdict::Finished
        }
        Insert::Gap => {
            ctx.stats.reassembly_gap_gave_up += 1;
            Verdict::Finished
        }
        Insert::Advanced => {
            let stream = ff.client.contiguous();
            let glued = stream.len() > payload.len();
            match classify(flow, stream, ctx) {
                Verdict::NeedMore => {
                    if ff.client.buffered() >= ctx.cap {
                        ctx.stats.reassembly_cap_hit += 1;
                        Verdict::Finished
                    } else {
                        flow.inspect = state;
                        return;
                    }
                }
                Verdict::NotThis if mid_stream => {
                    // Re-anchor: this segment may start a request of its own (after a
                    // keep-alive byte or the tail of a request that began before the capture).
                    drop(state);
                    if !glued {
                        flow.inspect = Inspect::default();
                        return;
                    }
                    match classify(flow, payload, ctx) {
                        Verdict::NeedMore => {
                            start_buffer(flow, ctx);
                            if let Inspect::Buffering(b) = &mut flow.inspect {
                                b.client.insert(seq, payload);
                            }
                            return;
                        }
                        Verdict::NotThis => {
                            flow.inspect = Inspect::default();
                            return;
                        }
                        v => v,
                    }
                }
                v => v,
            }
        }
    };
    flow.inspect = match verdict {
        Verdict::Http => Inspect::HttpFollow { requests: 1 },
        _ => Inspect::Done,
    };
}

/// Start buffering the client's first flight (anchored at the SYN when there was one).
fn start_buffer(flow: &mut Flow, ctx: &mut Ctx<'_>) {
    let mut client = Reassembler::in_pool(ctx.cap, ctx.pool);
    if let Some(isn) = flow.inspect.isn(true) {
        client.set_isn(isn);
    }
    flow.inspect = Inspect::Buffering(Box::new(FirstFlight {
        client,
        ..Default::default()
    }));
}

fn inspect_dns_tcp(
    flow: &mut Flow,
    payload: &[u8],
    seq: u32,
    up: bool,
    ts: Nanos,
    ctx: &mut Ctx<'_>,
) {
    if matches!(flow.inspect, Inspect::Fresh { .. }) {
        let mut client = Reassembler::in_pool(ctx.cap * 4, ctx.pool);
        let mut server = Reassembler::in_pool(ctx.cap * 4, ctx.pool);
        if let Some(isn) = flow.inspect.isn(true) {
            client.set_isn(isn);
        }
        if let Some(isn) = flow.inspect.isn(false) {
            server.set_isn(isn);
        }
        flow.app = Some(App::Dns);
        flow.inspect = Inspect::Buffering(Box::new(FirstFlight {
            client,
            server: Some(server),
            dns_done: [0, 0],
        }));
    }
    let mut state = std::mem::replace(&mut flow.inspect, Inspect::Done);
    if let Inspect::Buffering(ff) = &mut state {
        let dir = usize::from(!up);
        let r = if up {
            Some(&mut ff.client)
        } else {
            ff.server.as_mut()
        };
        if let Some(r) = r {
            match r.insert(seq, payload) {
                Insert::Advanced => {
                    let stream = r.contiguous();
                    let done = ff.dns_done[dir].min(stream.len());
                    let (msgs, used) = dns::split_tcp(stream.get(done..).unwrap_or(&[]));
                    for m in msgs {
                        handle_dns(flow, m, Some(up), ts, ctx);
                    }
                    ff.dns_done[dir] = done + used;
                }
                Insert::Overflow => {
                    ctx.stats.reassembly_cap_hit += 1;
                    return;
                }
                Insert::Gap => {
                    ctx.stats.reassembly_gap_gave_up += 1;
                    return;
                }
                Insert::Pending => {}
            }
        }
    }
    flow.inspect = state;
}

#[allow(clippy::too_many_arguments)]
fn inspect_udp(
    flow: &mut Flow,
    payload: &[u8],
    sp: u16,
    dp: u16,
    up: bool,
    ts: Nanos,
    ctx: &mut Ctx<'_>,
) {
    match flow.inspect {
        Inspect::Dns => handle_dns(flow, payload, None, ts, ctx),
        Inspect::Quic(_) => {
            if up {
                inspect_quic(flow, payload, ctx);
            }
        }
        Inspect::Fresh { .. } => {
            if dns::probe_udp(payload, sp, dp) {
                flow.app = Some(App::Dns);
                flow.inspect = Inspect::Dns;
                handle_dns(flow, payload, None, ts, ctx);
            } else if ctx.quic && up && quic::looks_like_quic(payload) {
                flow.inspect = Inspect::quic(quic::QuicState::in_pool(ctx.pool));
                inspect_quic(flow, payload, ctx);
            } else if flow.up.packets + flow.down.packets >= UDP_PROBE_PACKETS {
                flow.inspect = Inspect::Done;
            }
        }
        _ => flow.inspect = Inspect::Done,
    }
}

/// One client datagram of a flow whose Initials are being read. Only unnamed flows get here,
/// and the state is dropped (`Done`) as soon as the ClientHello is read or the flow given up.
fn inspect_quic(flow: &mut Flow, payload: &[u8], ctx: &mut Ctx<'_>) {
    let Some(st) = quic::QuicState::of(&mut flow.inspect) else {
        return;
    };
    let mut c = quic::Counters::default();
    let outcome = st.client_datagram(payload, &mut c);
    let version = st.version;
    ctx.stats.quic_initials_decrypted += c.initials_decrypted;
    ctx.stats.quic_decrypt_failed += c.decrypt_failed;
    ctx.stats.reassembly_cap_hit += c.crypto_cap_hit;
    if let Some(v) = version {
        // An Initial authenticated: this is QUIC whatever comes next.
        flow.app = Some(App::Quic);
        flow.extra_mut().quic_version = Some(v);
    }
    match outcome {
        quic::Outcome::Pending => {}
        quic::Outcome::GiveUp => {
            ctx.stats.quic_gave_up += 1;
            flow.inspect = Inspect::Done;
        }
        quic::Outcome::Done(h) => {
            ctx.stats.quic_client_hellos += 1;
            flow.app = Some(App::Quic);
            flow.extra_mut().quic_version = Some(h.version);
            flow.ech = h.hello.ech;
            if let Some(sni) = h.hello.sni {
                let n = ctx.names.get(&sni, ctx.stats);
                flow.set_host(n, HostSource::QuicSni);
                infer_ech_name(flow, ctx);
            }
            flow.inspect = Inspect::Done;
        }
    }
}

/// The ECH extension alone does not make the SNI an outer name: browsers send GREASE ECH in
/// every ClientHello when they have no ECH config, with the real name as SNI. The SNI is the
/// outer (fronting) name only with evidence: a known public name, or an HTTPS/SVCB record seen
/// in the capture (any client, before the flow) whose ECH config gives it as public name. Then,
/// if this client resolved such a record, the name it looked up is the likely inner name.
fn infer_ech_name(flow: &mut Flow, ctx: &mut Ctx<'_>) {
    flow.ech_outer = false;
    if !flow.ech {
        return;
    }
    let Some(outer) = flow.host.clone() else {
        return;
    };
    flow.ech_outer = tls::is_known_ech_public_name(&outer)
        || ctx.resolver.is_ech_public_name(&outer, flow.first_seen);
    if flow.ech_outer {
        let inferred = ctx
            .resolver
            .lookup_ech(flow.client().0, outer, flow.first_seen);
        flow.extra_mut().inferred_host = inferred;
    }
}

/// Names from a DNS message of this flow. UDP answers were validated and learned for every
/// flow by [`observe_udp_dns`]; DNS over TCP (`tcp_up`: the message's direction) is validated
/// here, from the flow's own reassembled streams (unless a [`DnsObserver`] validates DNS):
/// queries from the client open exchanges, responses from the server (port 53) may answer
/// them, responses from the client are ignored.
fn handle_dns(flow: &mut Flow, msg: &[u8], tcp_up: Option<bool>, ts: Nanos, ctx: &mut Ctx<'_>) {
    let parsed;
    let shipped = match (&mut ctx.dns, tcp_up) {
        (DnsRole::Elsewhere { tcp, next }, Some(_)) => {
            let list: &[(Box<[u8]>, dns::DnsMessage)] = tcp;
            let hit = list
                .get(*next)
                .filter(|(raw, _)| **raw == *msg)
                .map(|(_, m)| m);
            *next += usize::from(hit.is_some());
            hit
        }
        _ => None,
    };
    let m = match (tcp_up, ctx.udp_dns, shipped) {
        (None, Some(m), _) | (Some(_), _, Some(m)) => m,
        _ => {
            ctx.stats.dns_parses += 1;
            match dns::parse(msg) {
                Some(m) => {
                    parsed = m;
                    &parsed
                }
                None => {
                    ctx.stats.dns_unparsed += 1;
                    return;
                }
            }
        }
    };
    ctx.stats.dns_messages += 1;
    if let (Some(_), DnsRole::Collect(facts)) = (tcp_up, &mut ctx.dns) {
        facts.tcp.push((msg.into(), m.clone()));
    }
    // A query for the root (`NS .`) names nothing.
    let answered = m.is_response && !m.answers.is_empty();
    for (q, _) in m.questions.iter().filter(|(q, _)| !q.is_empty()) {
        let n = ctx.names.get(q, ctx.stats);
        flow.count_dns(&n, m.is_response, answered);
        flow.set_host(n, HostSource::DnsQuery);
    }
    let Some(up) = tcp_up else {
        return;
    };
    if flow.server().1 != 53 || matches!(ctx.dns, DnsRole::Elsewhere { .. }) {
        return;
    }
    let x = Exchange {
        tcp: true,
        client: flow.client(),
        server: flow.server(),
        id: m.id,
    };
    match (up, m.is_response) {
        (true, false) => ctx.validator.query(x, m, ts),
        (true, true) => ctx.validator.response_from_client(),
        (false, true) => {
            if let Some(v) = ctx.validator.answer(x, m, ts) {
                feed_resolver(&v, flow.client().0, ts, ctx);
                let ids = ptr_identities(&v);
                match &mut ctx.dns {
                    DnsRole::Collect(facts) => facts.ptrs.extend(ids),
                    _ => {
                        for id in ids {
                            flow.add_identity(id);
                        }
                    }
                }
            }
        }
        (false, false) => {}
    }
}

/// A validated answer: every address it gives now resolves, for `client`, to the name it asked
/// for through the CNAME chain; ECH public names become evidence and per-client hints. Learned
/// here, or collected for the engines by a [`DnsObserver`].
fn feed_resolver(v: &Validated, client: IpAddr, ts: Nanos, ctx: &mut Ctx<'_>) {
    if let DnsRole::Collect(facts) = &mut ctx.dns {
        facts.learned.push(Learned {
            client,
            qname: v.qname.into(),
            chain: v.chain.iter().map(|c| (*c).into()).collect(),
            ech_public_names: v
                .ech_public_names
                .iter()
                .map(|(p, ttl)| ((*p).into(), *ttl))
                .collect(),
            addrs: v.addrs.clone(),
            ts,
        });
        return;
    }
    learn_answer(
        ctx.resolver,
        ctx.names,
        ctx.stats,
        client,
        (v.qname, &v.chain, &v.ech_public_names),
        &v.addrs,
        ts,
    );
}

/// Names of a validated answer: the name asked for, its CNAME chain, ECH public names with TTLs.
type AnswerNames<'n, S> = (&'n str, &'n [S], &'n [(S, u32)]);

fn learn_answer<S: AsRef<str>>(
    resolver: &mut Resolver,
    names: &mut Interner,
    stats: &mut EngineStats,
    client: IpAddr,
    (qname, chain, ech): AnswerNames<'_, S>,
    addrs: &[(IpAddr, u32)],
    ts: Nanos,
) {
    let qname = names.get(qname, stats);
    let chain: Arc<[Arc<str>]> = chain.iter().map(|c| names.get(c.as_ref(), stats)).collect();
    for (public, ttl) in ech {
        let public = names.get(public.as_ref(), stats);
        resolver.insert_ech(client, public, qname.clone(), *ttl, ts);
    }
    resolver.learn(&DnsFact {
        client,
        name: qname,
        cnames: chain,
        addrs,
        ts,
    });
}
