//! Builds a [`Report`] from flows as they end. Memory is bounded by the number of distinct
//! destinations (capped), not by the number of flows.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::model::*;
use super::time::rfc3339_micros;
use crate::capture::Nanos;
use crate::decode::addr::is_public;
use crate::flow::Flow;
use crate::proto::App;

const HOUR: Nanos = 3_600 * 1_000_000_000;
/// Distinct (area, host) and undocumented hosts tracked at most; more are counted in `overflow`.
const MAX_DESTINATIONS: usize = 100_000;
const MAX_SERVERS_PER_DESTINATION: usize = 16;
const MAX_UNNAMED_SERVERS: usize = 10_000;
/// Timeline buckets tracked per area at most (a bogus timestamp must not grow memory).
const MAX_BUCKETS: usize = 24 * 400;

/// Area of a flow whose documented pattern no page gives an area (`signatures/README.md`:
/// "unplaced" rows): it is documented, so neither undocumented nor silent.
pub const UNPLACED: &str = "unplaced";

/// What the signatures said about one flow.
pub struct FlowMatch<'a> {
    /// Areas of the most specific matching endpoint ([`UNPLACED`] when it has none; empty:
    /// undocumented or unnamed).
    pub areas: &'a [String],
    /// The most specific matching pattern.
    pub pattern: Option<&'a str>,
    /// That pattern matched through a `*` producing a shared cloud's customer name.
    pub shared: bool,
    /// Every documented pattern the flow matched (the flow log's `endpoints`). A pattern is
    /// *seen* when a counted flow matched it (path patterns by host alone for TLS and QUIC,
    /// which carry no path); "documented but silent" is every listed pattern not seen.
    pub endpoints: &'a [String],
}

/// What the report needs from the signature database when it is finalised.
pub struct Context<'a> {
    pub build: Option<String>,
    pub edition: Option<String>,
    pub signatures_version: String,
    /// Area id -> (display name, turn-off URL).
    pub area_info: &'a dyn Fn(&str) -> (String, Option<String>),
    /// Documented endpoints for the chosen build/edition: (pattern, areas, protocols).
    pub documented: Vec<Documented>,
    pub is_microsoft_domain: &'a dyn Fn(&str) -> bool,
}

#[derive(Default, Clone)]
struct Stats {
    flows: u64,
    packets: u64,
    bytes_up: u64,
    bytes_down: u64,
    first: Option<Nanos>,
    last: Option<Nanos>,
}

impl Stats {
    /// Count what `f` adds: the flow itself the first time it is reported, and its packets and
    /// bytes since its last interim record (all of them for a flow never reported while open).
    fn add(&mut self, f: &Flow) {
        let (new, up, down) = f.delta();
        self.flows += u64::from(new);
        self.packets += up.packets + down.packets;
        self.bytes_up += up.bytes;
        self.bytes_down += down.bytes;
        self.first = Some(self.first.map_or(f.first_seen, |x| x.min(f.first_seen)));
        self.last = Some(self.last.map_or(f.last_seen, |x| x.max(f.last_seen)));
    }
}

#[derive(Default, Clone)]
struct Dest {
    stats: Stats,
    pattern: String,
    protocols: BTreeSet<&'static str>,
    servers: BTreeSet<std::net::IpAddr>,
}

/// Cloned for periodic snapshots of a live capture.
#[derive(Clone)]
pub struct Aggregator {
    scope: Scope,
    totals: Totals,
    span: Stats,
    areas: BTreeMap<String, Stats>,
    activity: BTreeMap<String, BTreeMap<u64, u64>>,
    dests: HashMap<(String, String), Dest, ahash::RandomState>,
    undocumented: HashMap<String, Dest, ahash::RandomState>,
    /// Shared-infrastructure hosts: traffic, and the pattern's areas.
    shared: HashMap<String, (Dest, Vec<String>), ahash::RandomState>,
    /// Per-flow lookups on every unnamed flow (a SYN flood's worth): ahash, not SipHash.
    unnamed: HashMap<(std::net::IpAddr, u16, &'static str), Stats, ahash::RandomState>,
    unattributed: Stats,
    ech: Stats,
    ech_names: BTreeSet<String>,
    /// (inferred name, outer name) to traffic and the inferred name's areas.
    ech_inferred: BTreeMap<(String, String), (Stats, Vec<String>)>,
    /// Documented patterns matched by counted flows (bounded by the signature database).
    seen: BTreeSet<String>,
    overflow: u64,
}

/// How a flow's application shows in "protocols seen" (Microsoft's vocabulary where it has one).
pub fn protocol_seen(f: &Flow) -> &'static str {
    match f.app {
        Some(App::Tls) => "HTTPS",
        Some(App::Http) => "HTTP",
        Some(App::Quic) => "QUIC",
        Some(App::Dns) => "DNS",
        None => match f.key.protocol {
            crate::flow::TCP => "TCP",
            crate::flow::UDP => "UDP",
            _ => "IP",
        },
    }
}

impl Aggregator {
    pub fn new(scope: Scope) -> Self {
        Aggregator {
            scope,
            totals: Totals::default(),
            span: Stats::default(),
            areas: BTreeMap::new(),
            activity: BTreeMap::new(),
            dests: HashMap::default(),
            undocumented: HashMap::default(),
            shared: HashMap::default(),
            unnamed: HashMap::default(),
            unattributed: Stats::default(),
            ech: Stats::default(),
            ech_names: BTreeSet::new(),
            ech_inferred: BTreeMap::new(),
            seen: BTreeSet::new(),
            overflow: 0,
        }
    }

    /// Whether the report counts this flow at all (public-only and IPv4-only scopes).
    pub fn in_scope(&self, f: &Flow) -> bool {
        (!self.scope.public_only || is_public(&f.server().0))
            && (!self.scope.ipv4_only || f.server().0.is_ipv4())
    }

    /// Count a flow as it ends, or an interim record of one still open: a flow counts once
    /// however many records it has, and each record adds only its packets and bytes since the
    /// previous one ([`Flow::delta`]), so the sum of snapshots is the final report.
    pub fn add(&mut self, f: &Flow, m: &FlowMatch<'_>) {
        let (new, up, down) = f.delta();
        let n = u64::from(new);
        self.totals.flows_seen += n;
        self.span.add(f);
        if !self.in_scope(f) {
            return;
        }
        let t = &mut self.totals;
        t.flows += n;
        t.packets += up.packets + down.packets;
        t.bytes_up += up.bytes;
        t.bytes_down += down.bytes;
        let proto = protocol_seen(f);
        for p in m.endpoints {
            if !self.seen.contains(p) {
                self.seen.insert(p.clone());
            }
        }
        if f.ech_outer {
            t.ech_flows += n;
            self.ech.add(f);
            if let Some(h) = &f.host {
                if self.ech_names.len() < 1_000 {
                    self.ech_names.insert(h.to_string());
                }
                if let Some(inner) = &f.extra().inferred_host {
                    let key = (inner.to_string(), h.to_string());
                    if let Some((s, _)) = self.ech_inferred.get_mut(&key) {
                        s.add(f);
                    } else if self.ech_inferred.len() < MAX_DESTINATIONS {
                        let mut s = Stats::default();
                        s.add(f);
                        self.ech_inferred.insert(key, (s, m.areas.to_vec()));
                    } else {
                        self.overflow += n;
                    }
                }
            }
            return;
        }
        let Some(host) = f.host.as_deref() else {
            t.unattributed_flows += n;
            self.unattributed.add(f);
            let key = (f.server().0, f.server().1, f.protocol_name());
            if let Some(s) = self.unnamed.get_mut(&key) {
                s.add(f);
            } else if self.unnamed.len() < MAX_UNNAMED_SERVERS {
                self.unnamed.entry(key).or_default().add(f);
            } else {
                self.overflow += n;
            }
            return;
        };
        if m.areas.is_empty() {
            t.undocumented_flows += n;
            if !self.undocumented.contains_key(host) && self.undocumented.len() >= MAX_DESTINATIONS
            {
                self.overflow += n;
                return;
            }
            let d = self.undocumented.entry(host.to_string()).or_default();
            add_dest(d, f, proto);
            return;
        }
        if m.shared {
            t.shared_infrastructure_flows += n;
            if !self.shared.contains_key(host) && self.shared.len() >= MAX_DESTINATIONS {
                self.overflow += 1;
                return;
            }
            let (d, _) = self
                .shared
                .entry(host.to_string())
                .or_insert_with(|| (Dest::default(), m.areas.to_vec()));
            if d.pattern.is_empty() {
                d.pattern = m.pattern.unwrap_or_default().to_string();
            }
            add_dest(d, f, proto);
            return;
        }
        t.documented_flows += n;
        let bucket = f.first_seen / HOUR;
        for area in m.areas {
            self.areas.entry(area.clone()).or_default().add(f);
            let act = self.activity.entry(area.clone()).or_default();
            if act.contains_key(&bucket) || act.len() < MAX_BUCKETS {
                *act.entry(bucket).or_default() += up.bytes + down.bytes;
            }
            let key = (area.clone(), host.to_string());
            if !self.dests.contains_key(&key) && self.dests.len() >= MAX_DESTINATIONS {
                self.overflow += n;
                continue;
            }
            let d = self.dests.entry(key).or_default();
            if d.pattern.is_empty() {
                d.pattern = m.pattern.unwrap_or_default().to_string();
            }
            add_dest(d, f, proto);
        }
    }

    pub fn finish(
        self,
        ctx: &Context<'_>,
        inputs: Vec<Input>,
        packets_read: u64,
        mut warnings: Vec<String>,
    ) -> Report {
        let ts = |n: Option<Nanos>| n.map(rfc3339_micros);
        if self.overflow > 0 {
            warnings.push(format!(
                "{} flows not itemised because the report's destination tables were full",
                self.overflow
            ));
        }
        // Timeline: hourly buckets, or daily ones for spans over two weeks.
        let (start_h, end_h) = match (self.span.first, self.span.last) {
            (Some(a), Some(b)) => (a / HOUR, b / HOUR),
            _ => (0, 0),
        };
        let hours = end_h.saturating_sub(start_h) + 1;
        let per = if hours > 24 * 14 { 24 } else { 1 };
        let buckets = (hours.div_ceil(per) as usize).min(MAX_BUCKETS);

        let mut areas: Vec<Area> = Vec::new();
        for (id, s) in &self.areas {
            let (name, url) = if id == UNPLACED {
                ("Documented, no area on the page".to_string(), None)
            } else {
                (ctx.area_info)(id)
            };
            let mut destinations: Vec<Destination> = self
                .dests
                .iter()
                .filter(|((a, _), _)| a == id)
                .map(|((_, host), d)| Destination {
                    host: host.clone(),
                    pattern: d.pattern.clone(),
                    protocols_seen: d.protocols.iter().map(|p| p.to_string()).collect(),
                    protocols_documented: ctx
                        .documented
                        .iter()
                        .find(|e| e.pattern == d.pattern)
                        .map(|e| e.protocols.clone())
                        .unwrap_or_default(),
                    servers: d.servers.iter().map(|a| a.to_string()).collect(),
                    flows: d.stats.flows,
                    packets: d.stats.packets,
                    bytes_up: d.stats.bytes_up,
                    bytes_down: d.stats.bytes_down,
                    first_seen: ts(d.stats.first),
                    last_seen: ts(d.stats.last),
                })
                .collect();
            destinations.sort_by(|a, b| {
                (b.bytes_up + b.bytes_down)
                    .cmp(&(a.bytes_up + a.bytes_down))
                    .then(a.host.cmp(&b.host))
            });
            let mut activity = vec![0u64; buckets];
            for (h, bytes) in self.activity.get(id).into_iter().flatten() {
                let i = (h.saturating_sub(start_h) / per) as usize;
                if let Some(slot) = activity.get_mut(i) {
                    *slot += bytes;
                }
            }
            areas.push(Area {
                area: id.clone(),
                name,
                turn_off_url: url,
                flows: s.flows,
                packets: s.packets,
                bytes_up: s.bytes_up,
                bytes_down: s.bytes_down,
                distinct_destinations: destinations.len() as u64,
                first_seen: ts(s.first),
                last_seen: ts(s.last),
                destinations,
                activity,
            });
        }
        areas.sort_by(|a, b| {
            (b.bytes_up + b.bytes_down)
                .cmp(&(a.bytes_up + a.bytes_down))
                .then(a.area.cmp(&b.area))
        });

        let documented_not_seen = ctx
            .documented
            .iter()
            .filter(|d| !self.seen.contains(&d.pattern))
            .cloned()
            .collect();

        let mut undocumented: Vec<Undocumented> = self
            .undocumented
            .iter()
            .map(|(host, d)| {
                let domain = psl::domain_str(host).unwrap_or(host).to_string();
                Undocumented {
                    likely_microsoft: (ctx.is_microsoft_domain)(host),
                    host: host.clone(),
                    domain,
                    protocols_seen: d.protocols.iter().map(|p| p.to_string()).collect(),
                    flows: d.stats.flows,
                    packets: d.stats.packets,
                    bytes_up: d.stats.bytes_up,
                    bytes_down: d.stats.bytes_down,
                    first_seen: ts(d.stats.first),
                    last_seen: ts(d.stats.last),
                }
            })
            .collect();
        undocumented.sort_by(|a, b| {
            b.likely_microsoft
                .cmp(&a.likely_microsoft)
                .then(a.domain.cmp(&b.domain))
                .then(a.host.cmp(&b.host))
        });

        let mut shared_infrastructure: Vec<SharedDestination> = self
            .shared
            .iter()
            .map(|(host, (d, areas))| SharedDestination {
                host: host.clone(),
                pattern: d.pattern.clone(),
                areas: areas.clone(),
                protocols_seen: d.protocols.iter().map(|p| p.to_string()).collect(),
                flows: d.stats.flows,
                packets: d.stats.packets,
                bytes_up: d.stats.bytes_up,
                bytes_down: d.stats.bytes_down,
                first_seen: ts(d.stats.first),
                last_seen: ts(d.stats.last),
            })
            .collect();
        shared_infrastructure.sort_by(|a, b| {
            (b.bytes_up + b.bytes_down)
                .cmp(&(a.bytes_up + a.bytes_down))
                .then(a.host.cmp(&b.host))
        });

        let mut servers: Vec<UnnamedServer> = self
            .unnamed
            .iter()
            .map(|((ip, port, proto), s)| UnnamedServer {
                server_ip: ip.to_string(),
                server_port: *port,
                proto: proto.to_string(),
                flows: s.flows,
                bytes_up: s.bytes_up,
                bytes_down: s.bytes_down,
            })
            .collect();
        servers.sort_by(|a, b| {
            (b.bytes_up + b.bytes_down)
                .cmp(&(a.bytes_up + a.bytes_down))
                .then(a.server_ip.cmp(&b.server_ip))
                .then(a.server_port.cmp(&b.server_port))
        });
        servers.truncate(100);

        let mut totals = self.totals;
        totals.packets_read = packets_read;
        Report {
            schema: SCHEMA_VERSION,
            generator: format!("egressmap {}", env!("CARGO_PKG_VERSION")),
            inputs,
            first_seen: ts(self.span.first),
            last_seen: ts(self.span.last),
            span_seconds: match (self.span.first, self.span.last) {
                (Some(a), Some(b)) => b.saturating_sub(a) as f64 / 1e9,
                _ => 0.0,
            },
            build: ctx.build.clone(),
            edition: ctx.edition.clone(),
            signatures_version: ctx.signatures_version.clone(),
            scope: self.scope,
            counting: COUNTING_NOTE.to_string(),
            warnings,
            totals,
            areas,
            documented_not_seen,
            undocumented,
            unattributed: Unattributed {
                flows: self.unattributed.flows,
                packets: self.unattributed.packets,
                bytes_up: self.unattributed.bytes_up,
                bytes_down: self.unattributed.bytes_down,
                servers,
            },
            shared_infrastructure,
            ech: Ech {
                flows: self.ech.flows,
                bytes_up: self.ech.bytes_up,
                bytes_down: self.ech.bytes_down,
                outer_names: self.ech_names.into_iter().collect(),
                inferred: self
                    .ech_inferred
                    .into_iter()
                    .map(|((name, outer_name), (s, areas))| EchInferred {
                        name,
                        outer_name,
                        flows: s.flows,
                        bytes_up: s.bytes_up,
                        bytes_down: s.bytes_down,
                        areas,
                    })
                    .collect(),
            },
            timeline: Timeline {
                start: self.span.first.map(|f| rfc3339_micros(f / HOUR * HOUR)),
                bucket_seconds: per * 3_600,
                buckets,
            },
            capture: None,
            build_guess: None,
            unknown: Vec::new(),
        }
    }
}

fn add_dest(d: &mut Dest, f: &Flow, proto: &'static str) {
    d.stats.add(f);
    d.protocols.insert(proto);
    if d.servers.len() < MAX_SERVERS_PER_DESTINATION {
        d.servers.insert(f.server().0);
    }
}
