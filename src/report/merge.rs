//! `egressmap merge`: many sensors' or many weeks' reports summed into one.
//!
//! A report is a sum over flows, so two reports sum exactly when they carry, besides their
//! totals, what the sum cannot be recomputed from: the seen patterns (for "documented but silent"
//! and the build ranking, per report and per machine) and the bytes per clock hour (for a timeline
//! whose buckets change with the span). Lists are merged by key and sorted as the aggregator
//! sorts them, so `merge(merge(a, b), c) == merge(a, merge(b, c))` and the merge of the reports of
//! two captures equals the report of both captures read together (up to `merged_from`).
//!
//! Inexact only where a single report already dropped data: the busiest-100 unnamed servers list
//! (a warning says so when an input's list was full) and a report's own capped tables (which
//! already warned).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::aggregate::{
    bucket_activity, sort_clients, timeline_shape, MAX_ECH_NAMES, MAX_SERVERS_PER_DESTINATION,
};
use super::model::*;
use super::time::rfc3339_micros;

const HOUR_NS: u64 = 3_600 * 1_000_000_000;
/// `Unattributed::servers` keeps the busiest this many (aggregate.rs).
const UNNAMED_LISTED: usize = 100;

/// Ranks builds for a set of seen patterns (the signature database's pages).
pub type Guess<'a> = &'a dyn Fn(&BTreeSet<String>) -> BuildGuess;

/// The report's own provenance entry (a report that is not itself a merge).
pub fn provenance(r: &Report, name: &str) -> Vec<MergedInput> {
    if !r.merged_from.is_empty() {
        return r.merged_from.clone();
    }
    vec![MergedInput {
        report: name.to_string(),
        generator: r.generator.clone(),
        signatures_version: r.signatures_version.clone(),
        build: r.build.clone(),
        edition: r.edition.clone(),
        scope: r.scope,
        first_seen: r.first_seen.clone(),
        last_seen: r.last_seen.clone(),
        inputs: r.inputs.iter().map(|i| i.name.clone()).collect(),
        unknown: r.unknown.clone(),
    }]
}

/// Why two reports do not sum: they count different things.
pub fn incompatibility(a: &Report, b: &Report) -> Vec<String> {
    let mut why = Vec::new();
    if a.schema != b.schema {
        why.push(format!("report schema {} vs {}", a.schema, b.schema));
    }
    if a.signatures_version != b.signatures_version {
        why.push(format!(
            "signature versions {:?} vs {:?}",
            a.signatures_version, b.signatures_version
        ));
    }
    if (&a.build, &a.edition) != (&b.build, &b.edition) {
        why.push(format!(
            "build/edition {}/{} vs {}/{}",
            a.build.as_deref().unwrap_or("all"),
            a.edition.as_deref().unwrap_or("all"),
            b.build.as_deref().unwrap_or("all"),
            b.edition.as_deref().unwrap_or("all"),
        ));
    }
    if a.scope != b.scope {
        why.push(format!(
            "scopes (public only {}, IPv4 only {}) vs (public only {}, IPv4 only {})",
            a.scope.public_only, a.scope.ipv4_only, b.scope.public_only, b.scope.ipv4_only
        ));
    }
    why
}

/// Sums reports in order. Refuses reports that count different things unless `force` (then
/// the first report's settings are kept and a warning says what differed).
pub fn merge(
    reports: Vec<Report>,
    force: bool,
    guess: Option<Guess<'_>>,
) -> Result<Report, String> {
    let mut it = reports.into_iter();
    let Some(mut acc) = it.next() else {
        return Err("nothing to merge".to_string());
    };
    for r in it {
        let why = incompatibility(&acc, &r);
        if !why.is_empty() {
            if !force {
                return Err(format!(
                    "reports made with different {} (use --force to merge anyway)",
                    why.join("; ")
                ));
            }
            for w in why {
                let w = format!("merged reports made with different {w}: the first one's kept");
                if !acc.warnings.contains(&w) {
                    acc.warnings.push(w);
                }
            }
        }
        acc = merge2(acc, r, guess);
    }
    Ok(acc)
}

/// Nanoseconds since the epoch of a timestamp as [`rfc3339_micros`] writes it.
fn ts_nanos(s: &str) -> Option<u64> {
    let secs = super::time::parse_rfc3339_secs(s)?;
    let frac = s.get(20..26)?;
    if !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let micros: u64 = frac.parse().ok()?;
    secs.checked_mul(1_000_000_000)?.checked_add(micros * 1_000)
}

/// `a` then whatever of `b` is not in it.
fn union_ordered(mut a: Vec<String>, b: Vec<String>) -> Vec<String> {
    let have: BTreeSet<String> = a.iter().cloned().collect();
    a.extend(b.into_iter().filter(|x| !have.contains(x)));
    a
}

fn sorted_union(a: Vec<String>, b: Vec<String>) -> Vec<String> {
    a.into_iter()
        .chain(b)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn sum_hours(a: &[[u64; 2]], b: &[[u64; 2]]) -> Vec<[u64; 2]> {
    let mut m: BTreeMap<u64, u64> = BTreeMap::new();
    for [h, v] in a.iter().chain(b) {
        let e = m.entry(*h).or_default();
        *e = e.saturating_add(*v);
    }
    m.into_iter().map(|(h, v)| [h, v]).collect()
}

/// Addresses in address order (as the aggregator keeps them), at most `cap`.
fn merge_servers(a: Vec<String>, b: Vec<String>, cap: usize) -> Vec<String> {
    let mut v: Vec<(Option<IpAddr>, String)> = a
        .into_iter()
        .chain(b)
        .collect::<BTreeSet<String>>()
        .into_iter()
        .map(|s| (s.parse().ok(), s))
        .collect();
    v.sort();
    v.truncate(cap);
    v.into_iter().map(|(_, s)| s).collect()
}

fn merge_totals(a: Totals, b: &Totals) -> Totals {
    Totals {
        packets_read: a.packets_read + b.packets_read,
        flows_seen: a.flows_seen + b.flows_seen,
        traffic: a.traffic.sum(&b.traffic),
        documented_flows: a.documented_flows + b.documented_flows,
        undocumented_flows: a.undocumented_flows + b.undocumented_flows,
        unattributed_flows: a.unattributed_flows + b.unattributed_flows,
        ech_flows: a.ech_flows + b.ech_flows,
        shared_infrastructure_flows: a.shared_infrastructure_flows + b.shared_infrastructure_flows,
    }
}

fn merge_dest(a: Destination, b: Destination) -> Destination {
    Destination {
        pattern: if a.pattern.is_empty() {
            b.pattern
        } else {
            a.pattern
        },
        protocols_seen: sorted_union(a.protocols_seen, b.protocols_seen),
        protocols_documented: a.protocols_documented,
        servers: merge_servers(a.servers, b.servers, MAX_SERVERS_PER_DESTINATION),
        traffic: a.traffic.sum(&b.traffic),
        seen: a.seen.sum(&b.seen),
        host: a.host,
    }
}

fn merge_area(a: Area, b: Area) -> Area {
    let mut dests: BTreeMap<String, Destination> = BTreeMap::new();
    for d in a.destinations.into_iter().chain(b.destinations) {
        let d = match dests.remove(&d.host) {
            Some(x) => merge_dest(x, d),
            None => d,
        };
        dests.insert(d.host.clone(), d);
    }
    let mut destinations: Vec<Destination> = dests.into_values().collect();
    destinations.sort_by(|x, y| {
        y.traffic
            .bytes()
            .cmp(&x.traffic.bytes())
            .then(x.host.cmp(&y.host))
    });
    Area {
        area: a.area,
        name: a.name,
        turn_off_url: a.turn_off_url,
        traffic: a.traffic.sum(&b.traffic),
        distinct_destinations: destinations.len() as u64,
        seen: a.seen.sum(&b.seen),
        destinations,
        activity: Vec::new(),
        activity_hours: sum_hours(&a.activity_hours, &b.activity_hours),
    }
}

fn merge_undocumented(a: Undocumented, b: Undocumented) -> Undocumented {
    Undocumented {
        dns_queries: a.dns_queries + b.dns_queries,
        protocols_seen: sorted_union(a.protocols_seen, b.protocols_seen),
        traffic: a.traffic.sum(&b.traffic),
        seen: a.seen.sum(&b.seen),
        ..a
    }
}

fn merge_shared(a: SharedDestination, b: SharedDestination) -> SharedDestination {
    SharedDestination {
        protocols_seen: sorted_union(a.protocols_seen, b.protocols_seen),
        traffic: a.traffic.sum(&b.traffic),
        seen: a.seen.sum(&b.seen),
        ..a
    }
}

/// Merge two keyed lists: `f` combines entries with the same key.
fn by_key<T, K: Ord>(a: Vec<T>, b: Vec<T>, key: impl Fn(&T) -> K, f: impl Fn(T, T) -> T) -> Vec<T> {
    let mut m: BTreeMap<K, T> = BTreeMap::new();
    for x in a.into_iter().chain(b) {
        let k = key(&x);
        let x = match m.remove(&k) {
            Some(y) => f(y, x),
            None => x,
        };
        m.insert(k, x);
    }
    m.into_values().collect()
}

fn merge_client(a: Client, b: Client) -> Client {
    let mut c = Client {
        traffic: a.traffic.sum(&b.traffic),
        documented_flows: a.documented_flows + b.documented_flows,
        documented_bytes: a.documented_bytes + b.documented_bytes,
        undocumented_flows: a.undocumented_flows + b.undocumented_flows,
        undocumented_bytes: a.undocumented_bytes + b.undocumented_bytes,
        unattributed_flows: a.unattributed_flows + b.unattributed_flows,
        areas: by_key(
            a.areas,
            b.areas,
            |x| x.area.clone(),
            |x, y| ClientArea {
                traffic: x.traffic.sum(&y.traffic),
                area: x.area,
            },
        ),
        seen_patterns: sorted_union(a.seen_patterns, b.seen_patterns),
        build_guess: None,
        mac: None,
        name: None,
        identity: Vec::new(),
        address: a.address,
    };
    crate::report::clients::merge_identity(a.identity, b.identity, &mut c);
    c
}

/// The sum of two reports (settings of `a`).
fn merge2(a: Report, b: Report, guess: Option<Guess<'_>>) -> Report {
    let Seen {
        first_seen,
        last_seen,
    } = Seen {
        first_seen: a.first_seen.clone(),
        last_seen: a.last_seen.clone(),
    }
    .sum(&Seen {
        first_seen: b.first_seen.clone(),
        last_seen: b.last_seen.clone(),
    });
    let first_ns = first_seen.as_deref().and_then(ts_nanos);
    let last_ns = last_seen.as_deref().and_then(ts_nanos);
    let span_seconds = match (first_ns, last_ns) {
        (Some(x), Some(y)) => y.saturating_sub(x) as f64 / 1e9,
        _ => a.span_seconds.max(b.span_seconds),
    };
    let (start_h, per, buckets) = timeline_shape(first_ns, last_ns);

    let mut warnings = union_ordered(a.warnings, b.warnings);
    if a.unattributed.servers.len() >= UNNAMED_LISTED
        || b.unattributed.servers.len() >= UNNAMED_LISTED
    {
        let w = format!(
            "the merged unnamed-servers list sums each report's busiest {UNNAMED_LISTED} only"
        );
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }

    let mut areas = by_key(a.areas, b.areas, |x| x.area.clone(), merge_area);
    for ar in &mut areas {
        ar.activity = bucket_activity(&ar.activity_hours, start_h, per, buckets);
    }
    areas.sort_by(|x, y| {
        y.traffic
            .bytes()
            .cmp(&x.traffic.bytes())
            .then(x.area.cmp(&y.area))
    });

    let b_silent: BTreeSet<&str> = b
        .documented_not_seen
        .iter()
        .map(|d| d.pattern.as_str())
        .collect();
    let documented_not_seen = a
        .documented_not_seen
        .into_iter()
        .filter(|d| b_silent.contains(d.pattern.as_str()))
        .collect();

    let mut undocumented = by_key(
        a.undocumented,
        b.undocumented,
        |x| x.host.clone(),
        merge_undocumented,
    );
    undocumented.sort_by(|x, y| {
        y.likely_microsoft
            .cmp(&x.likely_microsoft)
            .then(x.domain.cmp(&y.domain))
            .then(x.host.cmp(&y.host))
    });

    let mut shared_infrastructure = by_key(
        a.shared_infrastructure,
        b.shared_infrastructure,
        |x| x.host.clone(),
        merge_shared,
    );
    shared_infrastructure.sort_by(|x, y| {
        y.traffic
            .bytes()
            .cmp(&x.traffic.bytes())
            .then(x.host.cmp(&y.host))
    });

    let mut servers = by_key(
        a.unattributed.servers,
        b.unattributed.servers,
        |s| (s.server_ip.clone(), s.server_port, s.proto.clone()),
        |x, y| UnnamedServer {
            flows: x.flows + y.flows,
            bytes_up: x.bytes_up + y.bytes_up,
            bytes_down: x.bytes_down + y.bytes_down,
            ..x
        },
    );
    servers.sort_by(|x, y| {
        (y.bytes_up + y.bytes_down)
            .cmp(&(x.bytes_up + x.bytes_down))
            .then(x.server_ip.cmp(&y.server_ip))
            .then(x.server_port.cmp(&y.server_port))
    });
    servers.truncate(UNNAMED_LISTED);

    let mut outer_names = sorted_union(a.ech.outer_names, b.ech.outer_names);
    outer_names.truncate(MAX_ECH_NAMES);
    let ech = Ech {
        flows: a.ech.flows + b.ech.flows,
        bytes_up: a.ech.bytes_up + b.ech.bytes_up,
        bytes_down: a.ech.bytes_down + b.ech.bytes_down,
        outer_names,
        inferred: by_key(
            a.ech.inferred,
            b.ech.inferred,
            |x| (x.name.clone(), x.outer_name.clone()),
            |x, y| EchInferred {
                flows: x.flows + y.flows,
                bytes_up: x.bytes_up + y.bytes_up,
                bytes_down: x.bytes_down + y.bytes_down,
                ..x
            },
        ),
    };

    // Bounded by the alphabetically first names: the sum itemises what counting both would.
    let mut dns = super::dnsview::DnsNames::from_view(&a.dns);
    dns.absorb(&b.dns);
    let dns = dns.to_view(&|_| super::dnsview::NameClass::default());
    // The view's warnings carry counts: the sum's own replace the inputs'.
    warnings.retain(|w| !w.starts_with(super::dnsview::WARNING_PREFIX));
    warnings.extend(super::dnsview::warnings(&dns));

    let capture = match (a.capture, b.capture) {
        (Some(x), Some(y)) => Some(CaptureCounters {
            interface: if x.interface == y.interface {
                x.interface
            } else {
                format!("{},{}", x.interface, y.interface)
            },
            running_seconds: x.running_seconds + y.running_seconds,
            packets_received: x.packets_received + y.packets_received,
            kernel_dropped: x.kernel_dropped + y.kernel_dropped,
            interface_dropped: x.interface_dropped + y.interface_dropped,
            queue_dropped: x.queue_dropped + y.queue_dropped,
            flows_evicted: x.flows_evicted + y.flows_evicted,
            names_evicted: x.names_evicted + y.names_evicted,
            peak_rss_bytes: x.peak_rss_bytes.max(y.peak_rss_bytes),
            open_flows: x.open_flows + y.open_flows,
        }),
        (x, y) => x.or(y),
    };

    // A ranking needs both sides' seen patterns; without a database it cannot be redone.
    let build_guess = match (a.build_guess, b.build_guess, guess) {
        (Some(x), Some(y), Some(g)) => {
            let seen: BTreeSet<String> = x.seen.into_iter().chain(y.seen).collect();
            Some(g(&seen))
        }
        _ => None,
    };

    let per_machine = a.build.is_none() && a.edition.is_none();
    let mut clients = by_key(a.clients, b.clients, |c| c.address.clone(), merge_client);
    for c in &mut clients {
        c.build_guess = match guess {
            Some(g) if per_machine && !c.seen_patterns.is_empty() => {
                let seen: BTreeSet<String> = c.seen_patterns.iter().cloned().collect();
                g(&seen).ranking.into_iter().next()
            }
            _ => None,
        };
    }
    sort_clients(&mut clients);

    let client_filter = if a.client_filter.is_empty() || b.client_filter.is_empty() {
        Vec::new()
    } else {
        union_ordered(a.client_filter, b.client_filter)
    };

    let mut merged_from = a.merged_from;
    merged_from.extend(b.merged_from);
    let mut inputs = a.inputs;
    inputs.extend(b.inputs);

    Report {
        schema: a.schema,
        generator: a.generator,
        inputs,
        first_seen,
        last_seen,
        span_seconds,
        build: a.build,
        edition: a.edition,
        signatures_version: a.signatures_version,
        scope: a.scope,
        counting: a.counting,
        warnings,
        totals: merge_totals(a.totals, &b.totals),
        areas,
        documented_not_seen,
        undocumented,
        unattributed: Unattributed {
            traffic: a.unattributed.traffic.sum(&b.unattributed.traffic),
            servers,
        },
        shared_infrastructure,
        ech,
        dns,
        timeline: Timeline {
            start: first_ns.map(|f| rfc3339_micros(f / HOUR_NS * HOUR_NS)),
            bucket_seconds: per * 3_600,
            buckets,
        },
        capture,
        build_guess,
        unknown: union_ordered(a.unknown, b.unknown),
        client_filter,
        clients,
        merged_from,
    }
}
