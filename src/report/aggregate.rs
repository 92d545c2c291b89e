//! Builds a [`Report`] from flows as they end. Memory is bounded by the number of distinct
//! destinations (capped), not by the number of flows.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::dnsview::{DnsNames, NameClass};
use super::model::*;
use super::time::rfc3339_micros;
use crate::capture::Nanos;
use crate::decode::addr::is_public;
use crate::flow::Flow;
use crate::proto::App;

const HOUR: Nanos = 3_600 * 1_000_000_000;
/// Distinct (area, host) and undocumented hosts tracked at most; more are counted in `overflow`.
const MAX_DESTINATIONS: usize = 100_000;
pub const MAX_SERVERS_PER_DESTINATION: usize = 16;
pub const MAX_ECH_NAMES: usize = 1_000;
const MAX_UNNAMED_SERVERS: usize = 10_000;
/// Client addresses itemised at most (flows of more are counted in `overflow`).
const MAX_CLIENTS: usize = 65_536;
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
    /// What the signatures say of a looked-up name (the DNS view's status and areas).
    pub classify: &'a dyn Fn(&str) -> NameClass,
}

/// A row's traffic while flows are counted: the report's [`Traffic`], and its span in
/// nanoseconds (formatted once, at the end).
#[derive(Default, Clone)]
struct Stats {
    t: Traffic,
    first: Option<Nanos>,
    last: Option<Nanos>,
}

impl Stats {
    /// Count what `f` adds: the flow itself the first time it is reported, and its packets and
    /// bytes since its last interim record (all of them for a flow never reported while open).
    fn add(&mut self, f: &Flow) {
        self.t.merge(&flow_delta(f));
        self.first = Some(self.first.map_or(f.first_seen, |x| x.min(f.first_seen)));
        self.last = Some(self.last.map_or(f.last_seen, |x| x.max(f.last_seen)));
    }

    fn seen(&self) -> Seen {
        Seen {
            first_seen: self.first.map(rfc3339_micros),
            last_seen: self.last.map(rfc3339_micros),
        }
    }
}

/// What one record of `f` adds ([`Flow::delta`]): the flow once, its new packets and bytes.
fn flow_delta(f: &Flow) -> Traffic {
    let (new, up, down) = f.delta();
    Traffic {
        flows: u64::from(new),
        packets: up.packets + down.packets,
        bytes_up: up.bytes,
        bytes_down: down.bytes,
    }
}

#[derive(Default, Clone)]
struct Dest {
    stats: Stats,
    pattern: String,
    protocols: BTreeSet<&'static str>,
    servers: BTreeSet<std::net::IpAddr>,
}

/// `--client ADDR|CIDR`: the machines a report is restricted to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientNet {
    net: std::net::IpAddr,
    prefix: u8,
}

impl ClientNet {
    pub fn contains(&self, a: &std::net::IpAddr) -> bool {
        use std::net::IpAddr::{V4, V6};
        match (self.net, a) {
            (V4(n), V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(*a) & mask
            }
            (V6(n), V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(*a) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for ClientNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: std::net::IpAddr = a.parse().map_err(|_| {
            format!("{s:?} is not an address or CIDR (10.0.0.5, 10.0.0.0/24, fd00::/64)")
        })?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("bad prefix length in {s:?} (0-{max})"))?,
        };
        Ok(ClientNet { net, prefix })
    }
}

impl std::fmt::Display for ClientNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// Cloned for periodic snapshots of a live capture.
#[derive(Clone)]
pub struct Aggregator {
    scope: Scope,
    /// `--client`: only these machines' flows count (empty: all).
    client_nets: Vec<ClientNet>,
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
    clients: HashMap<std::net::IpAddr, ClientAgg, ahash::RandomState>,
    /// MACs and names of machines, from every flow (also those out of scope: DHCP goes to
    /// the broadcast address).
    identities: super::clients::Identities,
    /// Names looked up, over every DNS flow of the covered clients (in scope or not).
    dns: DnsNames,
    overflow: u64,
}

/// One machine's traffic (the report's `clients`).
#[derive(Default, Clone)]
struct ClientAgg {
    stats: Stats,
    documented: Stats,
    undocumented: Stats,
    unattributed: u64,
    areas: BTreeMap<String, Stats>,
    seen: BTreeSet<String>,
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
            client_nets: Vec::new(),
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
            clients: HashMap::default(),
            identities: Default::default(),
            dns: DnsNames::default(),
            overflow: 0,
        }
    }

    /// `--client`: restrict the report to these machines.
    pub fn with_clients(mut self, nets: Vec<ClientNet>) -> Self {
        self.client_nets = nets;
        self
    }

    /// Whether the flow's machine is one the report covers (`--client`).
    pub fn client_selected(&self, f: &Flow) -> bool {
        self.client_nets.is_empty() || self.client_nets.iter().any(|n| n.contains(&f.client().0))
    }

    /// Whether the report counts this flow at all (public-only and IPv4-only scopes, `--client`).
    pub fn in_scope(&self, f: &Flow) -> bool {
        (!self.scope.public_only || is_public(&f.server().0))
            && (!self.scope.ipv4_only || f.server().0.is_ipv4())
            && self.client_selected(f)
    }

    /// Count a flow as it ends, or an interim record of one still open: a flow counts once
    /// however many records it has, and each record adds only its packets and bytes since the
    /// previous one ([`Flow::delta`]), so the sum of snapshots is the final report.
    pub fn add(&mut self, f: &Flow, m: &FlowMatch<'_>) {
        self.identities.observe(f);
        if !self.client_selected(f) {
            return;
        }
        let (new, up, down) = f.delta();
        let n = u64::from(new);
        self.totals.flows_seen += n;
        self.span.add(f);
        self.add_dns(f);
        if !self.in_scope(f) {
            return;
        }
        self.add_client(f, m, n);
        let t = &mut self.totals;
        t.traffic.merge(&flow_delta(f));
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
                // The first names in order, not the first seen: merged reports keep the same.
                if self.ech_names.len() < MAX_ECH_NAMES
                    || self.ech_names.last().is_some_and(|l| l.as_str() > &**h)
                {
                    self.ech_names.insert(h.to_string());
                    if self.ech_names.len() > MAX_ECH_NAMES {
                        self.ech_names.pop_last();
                    }
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

    /// The flow's DNS messages per name (an interim record carries only those since the last).
    fn add_dns(&mut self, f: &Flow) {
        let x = f.extra();
        if x.dns.is_empty() && x.dns_uncounted == 0 {
            return;
        }
        let client = f.client().0;
        for c in &x.dns {
            let (q, a) = (u64::from(c.queries), u64::from(c.answers));
            self.dns.add_flow(&c.name, q, a, client);
        }
        self.dns.add_uncounted(u64::from(x.dns_uncounted));
    }

    /// The DNS view's bound (tests).
    pub fn with_dns_bound(mut self, bound: usize) -> Self {
        self.dns = DnsNames::with_bound(bound);
        self
    }

    /// The flow's machine: its totals, its category, its areas and seen patterns.
    fn add_client(&mut self, f: &Flow, m: &FlowMatch<'_>, n: u64) {
        let addr = f.client().0;
        if !self.clients.contains_key(&addr) && self.clients.len() >= MAX_CLIENTS {
            self.overflow += n;
            return;
        }
        let c = self.clients.entry(addr).or_default();
        c.stats.add(f);
        if f.ech_outer {
            return;
        }
        if f.host.is_none() {
            c.unattributed += n;
            return;
        }
        if m.areas.is_empty() {
            c.undocumented.add(f);
            return;
        }
        for p in m.endpoints {
            if !c.seen.contains(p) {
                c.seen.insert(p.clone());
            }
        }
        if m.shared {
            return;
        }
        c.documented.add(f);
        for area in m.areas {
            c.areas.entry(area.clone()).or_default().add(f);
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
        let (start_h, per, buckets) = timeline_shape(self.span.first, self.span.last);
        let dns = self.dns.to_view(ctx.classify);
        warnings.extend(super::dnsview::warnings(&dns));

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
                    traffic: d.stats.t,
                    seen: d.stats.seen(),
                })
                .collect();
            destinations.sort_by(|a, b| {
                b.traffic
                    .bytes()
                    .cmp(&a.traffic.bytes())
                    .then(a.host.cmp(&b.host))
            });
            let activity_hours: Vec<[u64; 2]> = self
                .activity
                .get(id)
                .into_iter()
                .flatten()
                .map(|(h, b)| [*h, *b])
                .collect();
            let activity = bucket_activity(&activity_hours, start_h, per, buckets);
            areas.push(Area {
                area: id.clone(),
                name,
                turn_off_url: url,
                traffic: s.t,
                distinct_destinations: destinations.len() as u64,
                seen: s.seen(),
                destinations,
                activity,
                activity_hours,
            });
        }
        areas.sort_by(|a, b| {
            b.traffic
                .bytes()
                .cmp(&a.traffic.bytes())
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
                    traffic: d.stats.t,
                    seen: d.stats.seen(),
                    dns_queries: self.dns.queries_of(host),
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
                traffic: d.stats.t,
                seen: d.stats.seen(),
            })
            .collect();
        shared_infrastructure.sort_by(|a, b| {
            b.traffic
                .bytes()
                .cmp(&a.traffic.bytes())
                .then(a.host.cmp(&b.host))
        });

        let mut servers: Vec<UnnamedServer> = self
            .unnamed
            .iter()
            .map(|((ip, port, proto), s)| UnnamedServer {
                server_ip: ip.to_string(),
                server_port: *port,
                proto: proto.to_string(),
                flows: s.t.flows,
                bytes_up: s.t.bytes_up,
                bytes_down: s.t.bytes_down,
            })
            .collect();
        servers.sort_by(|a, b| {
            (b.bytes_up + b.bytes_down)
                .cmp(&(a.bytes_up + a.bytes_down))
                .then(a.server_ip.cmp(&b.server_ip))
                .then(a.server_port.cmp(&b.server_port))
        });
        servers.truncate(100);

        let mut clients: Vec<Client> = self
            .clients
            .into_iter()
            .map(|(addr, c)| Client {
                address: addr.to_string(),
                traffic: c.stats.t,
                documented_flows: c.documented.t.flows,
                documented_bytes: c.documented.t.bytes(),
                undocumented_flows: c.undocumented.t.flows,
                undocumented_bytes: c.undocumented.t.bytes(),
                unattributed_flows: c.unattributed,
                areas: c
                    .areas
                    .into_iter()
                    .map(|(area, s)| ClientArea { area, traffic: s.t })
                    .collect(),
                seen_patterns: c.seen.into_iter().collect(),
                build_guess: None,
                mac: None,
                name: None,
                identity: Vec::new(),
            })
            .collect();
        sort_clients(&mut clients);
        self.identities.apply(&mut clients);
        if self.identities.dropped > 0 {
            warnings.push(format!(
                "{} machine identity observations (MACs, DHCP/NetBIOS/PTR names) not kept: bound reached",
                self.identities.dropped
            ));
        }

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
                traffic: self.unattributed.t,
                servers,
            },
            shared_infrastructure,
            ech: Ech {
                flows: self.ech.t.flows,
                bytes_up: self.ech.t.bytes_up,
                bytes_down: self.ech.t.bytes_down,
                outer_names: self.ech_names.into_iter().collect(),
                inferred: self
                    .ech_inferred
                    .into_iter()
                    .map(|((name, outer_name), (s, areas))| EchInferred {
                        name,
                        outer_name,
                        flows: s.t.flows,
                        bytes_up: s.t.bytes_up,
                        bytes_down: s.t.bytes_down,
                        areas,
                    })
                    .collect(),
            },
            dns,
            timeline: Timeline {
                start: self.span.first.map(|f| rfc3339_micros(f / HOUR * HOUR)),
                bucket_seconds: per * 3_600,
                buckets,
            },
            capture: None,
            build_guess: None,
            unknown: Vec::new(),
            clients,
            client_filter: self.client_nets.iter().map(|n| n.to_string()).collect(),
            merged_from: Vec::new(),
        }
    }
}

fn add_dest(d: &mut Dest, f: &Flow, proto: &'static str) {
    d.stats.add(f);
    d.protocols.insert(proto);
    // The lowest addresses, not the first ones: independent of flow order, so a merged
    // report keeps the same ones.
    d.servers.insert(f.server().0);
    if d.servers.len() > MAX_SERVERS_PER_DESTINATION {
        d.servers.pop_last();
    }
}

/// Machines by address order (numeric: IPv4 before IPv6).
pub fn sort_clients(clients: &mut [Client]) {
    clients.sort_by_cached_key(|c| {
        (
            c.address.parse::<std::net::IpAddr>().ok(),
            c.address.clone(),
        )
    });
}

/// The timeline for a span: (first hour since the epoch, hours per bucket, buckets). Hourly
/// buckets, or daily ones for spans over two weeks.
pub fn timeline_shape(first: Option<Nanos>, last: Option<Nanos>) -> (u64, u64, usize) {
    let (start_h, end_h) = match (first, last) {
        (Some(a), Some(b)) => (a / HOUR, b / HOUR),
        _ => (0, 0),
    };
    let hours = end_h.saturating_sub(start_h) + 1;
    let per = if hours > 24 * 14 { 24 } else { 1 };
    let buckets = (hours.div_ceil(per) as usize).min(MAX_BUCKETS);
    (start_h, per, buckets)
}

/// Per-hour bytes ([hour, bytes]) into the timeline's buckets.
pub fn bucket_activity(hours: &[[u64; 2]], start_h: u64, per: u64, buckets: usize) -> Vec<u64> {
    let mut activity = vec![0u64; buckets];
    for [h, bytes] in hours {
        let i = (h.saturating_sub(start_h) / per.max(1)) as usize;
        if let Some(slot) = activity.get_mut(i) {
            *slot += bytes;
        }
    }
    activity
}
