//! `egressmap compare A.json B.json`: what changed between two saved reports, per area and
//! destination, in the undocumented, shared-cloud, unattributed and ECH sections, and per
//! machine (machines that appeared or went, and each machine's areas). The use
//! case: capture before and after applying the turn-off settings and see which areas actually went
//! silent (or two builds side by side), in a CI job that wants an exit code (0 same, 1 changed).
//!
//! A comparison is only as good as its inputs: two reports matched against different builds or
//! editions, with different scopes or very different capture spans are compared anyway, with a
//! warning saying so.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::model::Report;
use super::render::escape::term;
use super::render::human_bytes;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Silent in A, active in B.
    Appeared,
    /// Active in A, silent in B.
    Gone,
    /// Flows or bytes grew and neither shrank.
    Grew,
    /// Flows or bytes shrank and neither grew.
    Shrank,
    /// Flows and bytes moved in opposite directions (fewer, bigger flows; or more, smaller).
    Mixed,
    Same,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Appeared => "appeared",
            Change::Gone => "gone",
            Change::Grew => "grew",
            Change::Shrank => "shrank",
            Change::Mixed => "mixed",
            Change::Same => "same",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Delta {
    /// The group the row belongs to: the area for `areas` and `destinations`; the registrable
    /// domain for `undocumented`; the pattern's areas for `shared_infrastructure`;
    /// `unattributed` and `ech` for those sections.
    pub area: String,
    /// None for a group's own row (an area, the unattributed or ECH totals).
    pub host: Option<String>,
    pub change: Change,
    pub flows_a: u64,
    pub flows_b: u64,
    pub bytes_a: u64,
    pub bytes_b: u64,
    /// Machine rows only: the machine's name and MAC (B's, else A's), to tell machines apart
    /// by more than an address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// Why the two reports may not be comparable (build, edition, scope, span, signatures,
    /// inputs that were not read completely).
    pub warnings: Vec<String>,
    pub areas: Vec<Delta>,
    pub destinations: Vec<Delta>,
    /// Named traffic no endpoint documents, per host.
    pub undocumented: Vec<Delta>,
    pub shared_infrastructure: Vec<Delta>,
    /// The unattributed total (host null) and per server (`ip:port/proto`).
    pub unattributed: Vec<Delta>,
    /// The outer-name ECH total (host null), per inferred inner name (`name via outer`).
    pub ech: Vec<Delta>,
    /// ECH outer names present in only one of the reports.
    pub ech_outer_names_appeared: Vec<String>,
    pub ech_outer_names_gone: Vec<String>,
    /// Per machine (by address; `area` = the address, `host` null): flows and bytes.
    /// `appeared` = a new machine, `gone` = a machine silent in B.
    pub clients: Vec<Delta>,
    /// Per machine and area (`area` = the area, `host` = the machine's address): `appeared` =
    /// the machine reached an area it did not in A.
    pub client_areas: Vec<Delta>,
    /// Any row is not `same` (or an outer name appeared or went): `compare` exits 1.
    pub changed: bool,
    /// `A`, `B`: the reports whose inputs record no byte counts (logs: `bytes` in the
    /// report's `unknown`). Their rows' bytes are 0 but unknown, so every row is classified by
    /// its flows alone. Absent when both reports count bytes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bytes_unknown: Vec<&'static str>,
}

/// Whether a report's inputs record no byte counts (see `render::unknown`).
fn bytes_unknown(r: &Report) -> bool {
    r.unknown.iter().any(|u| u == "bytes")
}

/// A change smaller than this fraction (of flows, of bytes) counts as the same (idle traffic
/// jitters).
const SAME_WITHIN: f64 = 0.10;

/// -1, 0 or 1: whether `b` is smaller, about the same or bigger than `a`.
fn direction(a: u64, b: u64) -> i8 {
    let (x, y) = (a as f64, b as f64);
    if (y - x).abs() <= SAME_WITHIN * x.max(y) {
        0
    } else if y > x {
        1
    } else {
        -1
    }
}

/// One rule for every row: appeared/gone by flows; otherwise flows and bytes must agree for
/// "grew" or "shrank" (a metric within 10% does not disagree), and opposite moves are "mixed".
fn classify(fa: u64, fb: u64, ba: u64, bb: u64) -> Change {
    match (fa, fb) {
        (0, 0) if ba == bb => Change::Same,
        (0, 0) => match direction(ba, bb) {
            0 => Change::Same,
            1 => Change::Grew,
            _ => Change::Shrank,
        },
        (0, _) => Change::Appeared,
        (_, 0) => Change::Gone,
        _ => match (direction(fa, fb), direction(ba, bb)) {
            (0, 0) => Change::Same,
            (f, b) if f >= 0 && b >= 0 => Change::Grew,
            (f, b) if f <= 0 && b <= 0 => Change::Shrank,
            _ => Change::Mixed,
        },
    }
}

/// (flows, bytes) per key in A and in B.
type Sides<K> = BTreeMap<K, [(u64, u64); 2]>;

/// Rows of `m`; with `flows_only` (bytes unknown on a side) classified by flows alone.
fn deltas<K: Ord>(
    m: &Sides<K>,
    flows_only: bool,
    key: impl Fn(&K) -> (String, Option<String>),
) -> Vec<Delta> {
    let mut v: Vec<Delta> = m
        .iter()
        .map(|(k, s)| {
            let (area, host) = key(k);
            let (ba, bb) = if flows_only { (0, 0) } else { (s[0].1, s[1].1) };
            Delta {
                area,
                host,
                change: classify(s[0].0, s[1].0, ba, bb),
                flows_a: s[0].0,
                flows_b: s[1].0,
                bytes_a: s[0].1,
                bytes_b: s[1].1,
                name: None,
                mac: None,
            }
        })
        .collect();
    v.sort_by(|x, y| {
        x.change
            .cmp(&y.change)
            .then(x.area.cmp(&y.area))
            .then(x.host.cmp(&y.host))
    });
    v
}

fn days(secs: f64) -> String {
    if secs >= 86_400.0 {
        format!("{:.1} days", secs / 86_400.0)
    } else {
        format!("{:.1} hours", secs / 3_600.0)
    }
}

/// What makes A and B hard to compare, in words.
pub fn warnings(a: &Report, b: &Report) -> Vec<String> {
    let mut w = Vec::new();
    let all = |v: &Option<String>| v.clone().unwrap_or_else(|| "all".to_string());
    if a.build != b.build {
        w.push(format!(
            "the reports were matched against different builds (A: {}, B: {}): documented \
             endpoints and areas differ by definition",
            term(&all(&a.build)),
            term(&all(&b.build))
        ));
    }
    if a.edition != b.edition {
        w.push(format!(
            "the reports were matched against different editions (A: {}, B: {})",
            term(&all(&a.edition)),
            term(&all(&b.edition))
        ));
    }
    if a.scope != b.scope {
        let s = |r: &Report| {
            format!(
                "{}{}",
                if r.scope.public_only {
                    "public destinations"
                } else {
                    "all destinations"
                },
                if r.scope.ipv4_only { ", IPv4 only" } else { "" }
            )
        };
        w.push(format!(
            "the reports count different flows (A: {}, B: {})",
            s(a),
            s(b)
        ));
    }
    let (sa, sb) = (a.span_seconds.max(0.0), b.span_seconds.max(0.0));
    if direction(sa as u64, sb as u64) != 0 {
        w.push(format!(
            "the captures span different times (A: {}, B: {}): counts are not per equal time",
            days(sa),
            days(sb)
        ));
    }
    if a.signatures_version != b.signatures_version {
        w.push(format!(
            "different signatures (A: {}, B: {})",
            term(&a.signatures_version),
            term(&b.signatures_version)
        ));
    }
    for (name, r) in [("A", a), ("B", b)] {
        let incomplete = r.inputs.iter().filter(|i| i.status != "ok").count();
        if incomplete > 0 {
            w.push(format!(
                "{name}: {incomplete} input{} not read completely",
                if incomplete == 1 { "" } else { "s" }
            ));
        }
        if !r.warnings.is_empty() {
            w.push(format!(
                "{name} has {} warning{} (data dropped or bounded; see that report)",
                r.warnings.len(),
                if r.warnings.len() == 1 { "" } else { "s" }
            ));
        }
    }
    if a.unknown != b.unknown {
        w.push("the reports come from different kinds of input (packets vs logs): fields one records are unknown in the other".to_string());
    }
    for (side, r) in [("A", a), ("B", b)] {
        if bytes_unknown(r) {
            w.push(format!(
                "bytes are unknown in {side} (its logs record no byte counts): rows compare flows only"
            ));
        }
    }
    w
}

pub fn compare(a: &Report, b: &Report) -> Comparison {
    let mut areas: Sides<&str> = BTreeMap::new();
    let mut dests: Sides<(&str, &str)> = BTreeMap::new();
    let mut undoc: Sides<(&str, &str)> = BTreeMap::new();
    let mut shared: Sides<(String, &str)> = BTreeMap::new();
    let mut unattr: Sides<Option<String>> = BTreeMap::new();
    let mut ech: Sides<Option<String>> = BTreeMap::new();
    let mut outer: [BTreeSet<&str>; 2] = Default::default();
    let mut machines: Sides<&str> = BTreeMap::new();
    let mut machine_areas: Sides<(&str, &str)> = BTreeMap::new();
    // Name and MAC per address: B's win (the machine as it is now).
    let mut who: BTreeMap<&str, (Option<&str>, Option<&str>)> = BTreeMap::new();
    for (i, r) in [a, b].into_iter().enumerate() {
        for c in &r.clients {
            machines.entry(&c.address).or_default()[i] = (c.traffic.flows, c.traffic.bytes());
            for x in &c.areas {
                machine_areas.entry((&x.area, &c.address)).or_default()[i] =
                    (x.traffic.flows, x.traffic.bytes());
            }
            let w = who.entry(&c.address).or_default();
            w.0 = c.name.as_deref().or(w.0);
            w.1 = c.mac.as_deref().or(w.1);
        }
        for ar in &r.areas {
            areas.entry(&ar.area).or_default()[i] = (ar.traffic.flows, ar.traffic.bytes());
            for d in &ar.destinations {
                dests.entry((&ar.area, &d.host)).or_default()[i] =
                    (d.traffic.flows, d.traffic.bytes());
            }
        }
        for u in &r.undocumented {
            undoc.entry((&u.domain, &u.host)).or_default()[i] =
                (u.traffic.flows, u.traffic.bytes());
        }
        for s in &r.shared_infrastructure {
            shared.entry((s.areas.join(","), &s.host)).or_default()[i] =
                (s.traffic.flows, s.traffic.bytes());
        }
        let un = &r.unattributed;
        unattr.entry(None).or_default()[i] = (un.traffic.flows, un.traffic.bytes());
        for s in &un.servers {
            let k = format!("{}:{}/{}", s.server_ip, s.server_port, s.proto);
            unattr.entry(Some(k)).or_default()[i] = (s.flows, s.bytes_up + s.bytes_down);
        }
        ech.entry(None).or_default()[i] = (r.ech.flows, r.ech.bytes_up + r.ech.bytes_down);
        for e in &r.ech.inferred {
            let k = format!("{} via {}", e.name, e.outer_name);
            ech.entry(Some(k)).or_default()[i] = (e.flows, e.bytes_up + e.bytes_down);
        }
        outer[i] = r.ech.outer_names.iter().map(String::as_str).collect();
    }
    let named = |g: &str, h: &str| (g.to_string(), Some(h.to_string()));
    let unknown: Vec<&'static str> = [("A", a), ("B", b)]
        .into_iter()
        .filter(|(_, r)| bytes_unknown(r))
        .map(|(s, _)| s)
        .collect();
    let fo = !unknown.is_empty();
    let c = Comparison {
        warnings: warnings(a, b),
        areas: deltas(&areas, fo, |k| (k.to_string(), None)),
        destinations: deltas(&dests, fo, |(g, h)| named(g, h)),
        undocumented: deltas(&undoc, fo, |(g, h)| named(g, h)),
        shared_infrastructure: deltas(&shared, fo, |(g, h)| named(g, h)),
        unattributed: deltas(&unattr, fo, |k| ("unattributed".to_string(), k.clone())),
        ech: deltas(&ech, fo, |k| ("ech".to_string(), k.clone())),
        clients: identified(
            deltas(&machines, fo, |k| (k.to_string(), None)),
            &who,
            |d| &d.area,
        ),
        client_areas: identified(
            deltas(&machine_areas, fo, |(g, h)| named(g, h)),
            &who,
            |d| d.host.as_deref().unwrap_or(""),
        ),
        ech_outer_names_appeared: outer[1]
            .difference(&outer[0])
            .map(|s| s.to_string())
            .collect(),
        ech_outer_names_gone: outer[0]
            .difference(&outer[1])
            .map(|s| s.to_string())
            .collect(),
        changed: false,
        bytes_unknown: unknown,
    };
    let changed = c.rows().any(|(_, d)| d.change != Change::Same)
        || !c.ech_outer_names_appeared.is_empty()
        || !c.ech_outer_names_gone.is_empty();
    Comparison { changed, ..c }
}

/// Machine rows with the machine's name and MAC (`address` picks the row's address).
fn identified(
    mut rows: Vec<Delta>,
    who: &BTreeMap<&str, (Option<&str>, Option<&str>)>,
    address: impl Fn(&Delta) -> &str,
) -> Vec<Delta> {
    for d in &mut rows {
        if let Some((name, mac)) = who.get(address(d)) {
            d.name = name.map(str::to_string);
            d.mac = mac.map(str::to_string);
        }
    }
    rows
}

/// What `--fail-on` can ask for (by default any change fails).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// An area silent in A has flows in B.
    NewArea,
    /// A documented destination (area, host) silent in A has flows in B.
    NewDestination,
    /// A host no endpoint documents, absent from A, has flows in B.
    NewUndocumented,
    /// Any area grew.
    Grew,
    /// A machine (client address) absent from A has flows in B.
    NewClient,
    /// A machine has flows in an area it had none in A (a new machine's areas too).
    NewClientArea,
    /// Any change at all (the default).
    Any,
}

/// Which section a row is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Areas,
    Destinations,
    Undocumented,
    SharedInfrastructure,
    Unattributed,
    Ech,
    Clients,
    ClientAreas,
}

impl Comparison {
    /// Every row with its section.
    pub fn rows(&self) -> impl Iterator<Item = (Section, &Delta)> {
        [
            (Section::Areas, &self.areas),
            (Section::Destinations, &self.destinations),
            (Section::Undocumented, &self.undocumented),
            (Section::SharedInfrastructure, &self.shared_infrastructure),
            (Section::Unattributed, &self.unattributed),
            (Section::Ech, &self.ech),
            (Section::Clients, &self.clients),
            (Section::ClientAreas, &self.client_areas),
        ]
        .into_iter()
        .flat_map(|(s, v)| v.iter().map(move |d| (s, d)))
    }

    /// Whether the comparison fails a CI job asking for `fail_on` (empty: any change).
    pub fn fails(&self, fail_on: &[FailOn]) -> bool {
        if fail_on.is_empty() || fail_on.contains(&FailOn::Any) {
            return self.changed;
        }
        self.rows().any(|(s, d)| {
            fail_on.iter().any(|f| match f {
                FailOn::NewArea => s == Section::Areas && d.change == Change::Appeared,
                FailOn::NewDestination => {
                    s == Section::Destinations && d.change == Change::Appeared
                }
                FailOn::NewUndocumented => {
                    s == Section::Undocumented && d.change == Change::Appeared
                }
                FailOn::Grew => {
                    s == Section::Areas && matches!(d.change, Change::Grew | Change::Appeared)
                }
                FailOn::NewClient => s == Section::Clients && d.change == Change::Appeared,
                FailOn::NewClientArea => s == Section::ClientAreas && d.change == Change::Appeared,
                FailOn::Any => true,
            })
        })
    }
}

/// A side's bytes: "unknown" where that report records no byte counts, never "0 B".
fn side_bytes(c: &Comparison, side: &str, v: u64) -> String {
    if c.bytes_unknown.contains(&side) {
        "unknown".to_string()
    } else {
        human_bytes(v)
    }
}

fn row(o: &mut String, c: &Comparison, d: &Delta, with_host: bool) {
    let _ = writeln!(
        o,
        "{:<10} {:<28} {:<44} {:>8} {:>8} {:>10} {:>10}",
        d.change.as_str(),
        term(&d.area),
        if with_host {
            term(d.host.as_deref().unwrap_or("(total)"))
        } else {
            "".into()
        },
        d.flows_a,
        d.flows_b,
        side_bytes(c, "A", d.bytes_a),
        side_bytes(c, "B", d.bytes_b)
    );
}

/// A machine as the table names it: address, then its name and MAC when known (escaped by
/// [`row`] like every name).
fn machine(address: &str, d: &Delta) -> String {
    let mut s = address.to_string();
    for v in [&d.name, &d.mac].into_iter().flatten() {
        s.push(' ');
        s.push_str(v);
    }
    s
}

/// The machines that changed, then the areas that changed of the machines present in both
/// (`--json` has every row, the areas of new and gone machines too).
fn machines_table(o: &mut String, c: &Comparison) {
    let changed = |rows: &[Delta]| -> Vec<Delta> {
        rows.iter()
            .filter(|d| d.change != Change::Same)
            .cloned()
            .collect()
    };
    let machines: Vec<Delta> = changed(&c.clients)
        .into_iter()
        .map(|d| Delta {
            host: Some(machine(&d.area, &d)),
            area: "machine".to_string(),
            ..d
        })
        .collect();
    // A machine that appeared or went changed in every area it has: its own row says so.
    let whole: BTreeSet<&str> = c
        .clients
        .iter()
        .filter(|d| matches!(d.change, Change::Appeared | Change::Gone))
        .map(|d| d.area.as_str())
        .collect();
    let areas: Vec<Delta> = changed(&c.client_areas)
        .into_iter()
        .filter(|d| !whole.contains(d.host.as_deref().unwrap_or("")))
        .map(|d| Delta {
            host: Some(machine(d.host.as_deref().unwrap_or(""), &d)),
            ..d
        })
        .collect();
    for (title, rows) in [
        ("machines that changed", machines),
        ("machines' areas that changed", areas),
    ] {
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(o, "\n{title}:");
        for d in &rows {
            row(o, c, d, true);
        }
    }
}

pub fn render_table(c: &Comparison, a_name: &str, b_name: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "A = {}\nB = {}\n", term(a_name), term(b_name));
    for w in &c.warnings {
        let _ = writeln!(o, "warning: {w}");
    }
    if !c.warnings.is_empty() {
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "{:<10} {:<28} {:>8} {:>8} {:>10} {:>10}",
        "change", "area", "flows A", "flows B", "bytes A", "bytes B"
    );
    for d in &c.areas {
        let _ = writeln!(
            o,
            "{:<10} {:<28} {:>8} {:>8} {:>10} {:>10}",
            d.change.as_str(),
            term(&d.area),
            d.flows_a,
            d.flows_b,
            side_bytes(c, "A", d.bytes_a),
            side_bytes(c, "B", d.bytes_b)
        );
    }
    for (title, rows) in [
        ("destinations that changed", &c.destinations),
        (
            "undocumented hosts that changed (by domain)",
            &c.undocumented,
        ),
        (
            "shared cloud infrastructure that changed",
            &c.shared_infrastructure,
        ),
        ("unattributed traffic that changed", &c.unattributed),
        ("ECH (outer-name) traffic that changed", &c.ech),
    ] {
        let changed: Vec<&Delta> = rows.iter().filter(|d| d.change != Change::Same).collect();
        if changed.is_empty() {
            continue;
        }
        let _ = writeln!(o, "\n{title}:");
        for d in changed {
            row(&mut o, c, d, true);
        }
    }
    machines_table(&mut o, c);
    for (what, names) in [
        ("appeared", &c.ech_outer_names_appeared),
        ("gone", &c.ech_outer_names_gone),
    ] {
        if !names.is_empty() {
            let list: Vec<String> = names.iter().map(|n| term(n).into_owned()).collect();
            let _ = writeln!(o, "\nECH outer names {what}: {}", list.join(", "));
        }
    }
    let _ = writeln!(
        o,
        "\n{}",
        if c.changed {
            "changed"
        } else {
            "no change beyond 10%"
        }
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{Area, Client, ClientArea, Destination, Traffic};

    fn report(areas: &[(&str, u64, u64)]) -> Report {
        Report {
            areas: areas
                .iter()
                .map(|(id, flows, bytes)| Area {
                    area: id.to_string(),
                    traffic: Traffic {
                        flows: *flows,
                        bytes_up: *bytes,
                        ..Default::default()
                    },
                    destinations: vec![Destination {
                        host: format!("{id}.example"),
                        traffic: Traffic {
                            flows: *flows,
                            bytes_up: *bytes,
                            ..Default::default()
                        },
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn gone_appeared_grew_same() {
        let a = report(&[
            ("spotlight", 10, 1000),
            ("diagnostic-data", 5, 500),
            ("windows-update", 3, 100),
        ]);
        let b = report(&[
            ("windows-update", 3, 105),
            ("maps", 1, 10),
            ("diagnostic-data", 0, 0),
        ]);
        let c = compare(&a, &b);
        let get = |id: &str| c.areas.iter().find(|d| d.area == id).map(|d| d.change);
        assert_eq!(get("spotlight"), Some(Change::Gone));
        assert_eq!(get("diagnostic-data"), Some(Change::Gone));
        assert_eq!(get("maps"), Some(Change::Appeared));
        assert_eq!(get("windows-update"), Some(Change::Same));
        assert_eq!(classify(1, 1, 100, 300), Change::Grew);
        assert_eq!(classify(1, 1, 300, 100), Change::Shrank);
        assert!(c.changed);
        assert!(c.fails(&[]));
        assert!(c.fails(&[FailOn::NewArea]), "maps appeared");
        assert!(!compare(&a, &a).changed);
    }

    /// "shrank" and "grew" follow flows and bytes together: fewer flows with the same bytes
    /// shrank, fewer but bigger flows are mixed, never "same" or "grew".
    #[test]
    fn flows_and_bytes_agree() {
        assert_eq!(classify(76, 9, 1000, 1000), Change::Shrank);
        assert_eq!(classify(10, 10, 1000, 1050), Change::Same);
        assert_eq!(classify(10, 30, 1000, 1000), Change::Grew);
        assert_eq!(classify(10, 2, 1000, 5000), Change::Mixed);
        assert_eq!(classify(2, 10, 5000, 1000), Change::Mixed);
        assert_eq!(classify(0, 0, 0, 0), Change::Same);
    }

    /// A report from logs without byte counts (bytes 0, `bytes` unknown) against one with
    /// them: rows are compared by flows alone, and the table says unknown, not "0 B".
    #[test]
    fn unknown_bytes_compare_by_flows_and_say_unknown() {
        let mut a = report(&[("maps", 10, 0), ("spotlight", 3, 0)]);
        a.unknown = vec!["packets".into(), "bytes".into()];
        let b = report(&[("maps", 10, 90_000), ("spotlight", 9, 100)]);
        let c = compare(&a, &b);
        let get = |id: &str| c.areas.iter().find(|d| d.area == id).map(|d| d.change);
        assert_eq!(get("maps"), Some(Change::Same), "same flows: bytes unknown");
        assert_eq!(get("spotlight"), Some(Change::Grew));
        assert_eq!(c.bytes_unknown, ["A"]);
        let t = render_table(&c, "a.json", "b.json");
        assert!(t.contains("bytes are unknown in A"), "{t}");
        let maps = t
            .lines()
            .find(|l| l.starts_with("same       maps"))
            .unwrap();
        assert!(maps.ends_with("   unknown    90.0 kB"), "{maps}");
        assert!(!t.contains(" 0 B"), "{t}");
        // Both counted: bytes decide as before.
        let mut a2 = a.clone();
        a2.unknown.clear();
        assert_eq!(
            compare(&a2, &b)
                .areas
                .iter()
                .find(|d| d.area == "maps")
                .map(|d| d.change),
            Some(Change::Grew)
        );
    }

    #[test]
    fn warns_on_build_edition_scope_span() {
        let a = report(&[("maps", 1, 10)]);
        let mut b = a.clone();
        assert!(warnings(&a, &b).is_empty());
        b.build = Some("11".into());
        b.edition = Some("pro".into());
        b.scope.ipv4_only = true;
        b.span_seconds = 86_400.0;
        let w = warnings(&a, &b).join("\n");
        for word in [
            "builds",
            "editions",
            "count different flows",
            "span different",
        ] {
            assert!(w.contains(word), "{word} missing in {w}");
        }
    }

    fn machine(address: &str, name: &str, areas: &[(&str, u64, u64)]) -> Client {
        let areas: Vec<ClientArea> = areas
            .iter()
            .map(|(area, flows, bytes)| ClientArea {
                area: area.to_string(),
                traffic: Traffic {
                    flows: *flows,
                    bytes_down: *bytes,
                    ..Default::default()
                },
            })
            .collect();
        let mut traffic = Traffic::default();
        for x in &areas {
            traffic.flows += x.traffic.flows;
            traffic.bytes_down += x.traffic.bytes_down;
        }
        Client {
            address: address.to_string(),
            name: Some(name.to_string()),
            mac: Some(format!("00:15:5d:00:00:{:02x}", address.len())),
            traffic,
            areas,
            ..Default::default()
        }
    }

    /// Machines that appeared, went or reached a new area, each failing only the `--fail-on`
    /// kinds that name it.
    #[test]
    fn per_machine_changes_and_fail_on() {
        let mut a = report(&[("maps", 3, 300)]);
        a.clients = vec![
            machine("10.0.0.1", "PC1", &[("maps", 2, 200)]),
            machine("10.0.0.2", "PC2", &[("maps", 1, 100)]),
        ];
        // PC1 also reaches spotlight (so it grew); PC2 is gone; PC3 is new.
        let mut b = a.clone();
        b.clients = vec![
            machine("10.0.0.1", "PC1", &[("maps", 2, 200), ("spotlight", 1, 50)]),
            machine("10.0.0.3", "PC3", &[("maps", 1, 100)]),
        ];
        let c = compare(&a, &b);
        let get = |rows: &[Delta], area: &str, host: Option<&str>| {
            rows.iter()
                .find(|d| d.area == area && d.host.as_deref() == host)
                .map(|d| (d.change, d.name.clone()))
        };
        assert_eq!(
            get(&c.clients, "10.0.0.3", None),
            Some((Change::Appeared, Some("PC3".into())))
        );
        assert_eq!(
            get(&c.clients, "10.0.0.2", None),
            Some((Change::Gone, Some("PC2".into())))
        );
        assert_eq!(
            get(&c.clients, "10.0.0.1", None).map(|x| x.0),
            Some(Change::Grew)
        );
        assert_eq!(
            get(&c.client_areas, "spotlight", Some("10.0.0.1")),
            Some((Change::Appeared, Some("PC1".into())))
        );
        assert_eq!(
            get(&c.client_areas, "maps", Some("10.0.0.2")).map(|x| x.0),
            Some(Change::Gone)
        );
        assert!(c.changed, "the area totals alone did not change");
        assert!(c.fails(&[FailOn::NewClient]));
        assert!(c.fails(&[FailOn::NewClientArea]));
        assert!(!c.fails(&[FailOn::NewArea, FailOn::NewDestination]));
        let table = render_table(&c, "a", "b");
        assert!(table.contains("machines that changed"), "{table}");
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("appeared") && l.contains("10.0.0.3 PC3 00:15:5d")),
            "{table}"
        );
        assert!(
            table.lines().any(|l| l.starts_with("appeared")
                && l.contains("spotlight")
                && l.contains("10.0.0.1 PC1")),
            "{table}"
        );
        // Only a machine that went: neither new-client nor new-client-area fails.
        let mut gone = a.clone();
        gone.clients.truncate(1);
        let c = compare(&a, &gone);
        assert!(c.changed && c.fails(&[]));
        assert!(!c.fails(&[FailOn::NewClient, FailOn::NewClientArea]));
        // A machine's name is text from packets: the table escapes it.
        let mut evil = a.clone();
        evil.clients[0].name = Some("\u{1b}[2Jx".into());
        evil.clients[0].address = "10.0.0.9".into();
        let t = render_table(&compare(&a, &evil), "a", "b");
        assert!(!t.contains('\u{1b}') && t.contains(r"\u{1b}[2Jx"), "{t}");
    }

    #[test]
    fn fail_on_new_destination_only() {
        let a = report(&[("maps", 1, 10)]);
        let mut b = a.clone();
        b.areas[0].destinations.push(Destination {
            host: "new.example".into(),
            traffic: Traffic {
                flows: 1,
                bytes_up: 1,
                ..Default::default()
            },
            ..Default::default()
        });
        let c = compare(&a, &b);
        assert!(c.fails(&[FailOn::NewDestination]));
        assert!(!c.fails(&[FailOn::NewArea]));
        let mut d = a.clone();
        d.undocumented.push(crate::report::model::Undocumented {
            host: "x.example".into(),
            domain: "x.example".into(),
            traffic: Traffic {
                flows: 3,
                ..Default::default()
            },
            ..Default::default()
        });
        let c = compare(&a, &d);
        assert!(c.changed && c.fails(&[FailOn::NewUndocumented]));
        assert!(!c.fails(&[FailOn::NewDestination, FailOn::NewArea]));
    }
}
