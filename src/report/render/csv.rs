//! CSV: one row per (area, destination), plus undocumented hosts (area empty), the build
//! ranking, names looked up over DNS (kind `dns`: `flows` empty, counts in the `dns_*` columns)
//! and machines (kind `client`, then `client-area` per area it reached), for spreadsheets.
//! Text cells are neutralised against formula injection ([`super::escape::csv_field`]).
//!
//! What the inputs do not record (Zeek/Suricata logs: `Report::unknown`) comes first: one row
//! of kind `unknown` per field (host = the field, pattern = why), and every cell of an unknown
//! figure is empty, never 0 (`packets`, `bytes_up`/`bytes_down` for `bytes`, `dns_queries` for
//! `dns`, `dns_answers` for `dns.answers`; the `client` row's MAC and name are empty anyway).
//! A merged report may have counted an unknown field from its other inputs: those figures are
//! written (a lower bound; the `unknown` row says so).

use super::escape::csv_field as field;
use super::unknown::Unknown;
use crate::report::model::{Report, Seen, Traffic};

/// The columns, in order: [`Row::cells`] writes them in this order, so every kind of row has
/// every column.
const HEADER: &str = "kind,area,area_name,host,pattern,protocols_seen,protocols_documented,flows,packets,bytes_up,bytes_down,first_seen,last_seen,dns_queries,dns_answers,dns_clients,documented_flows,undocumented_flows";

/// One CSV row; the fields a kind of row does not use stay empty.
#[derive(Default)]
struct Row {
    kind: &'static str,
    area: String,
    area_name: String,
    host: String,
    pattern: String,
    protocols_seen: String,
    protocols_documented: String,
    traffic: Option<Traffic>,
    seen: Option<Seen>,
    dns_queries: Option<u64>,
    dns_answers: Option<u64>,
    dns_clients: String,
    documented_flows: Option<u64>,
    undocumented_flows: Option<u64>,
}

fn opt(n: Option<u64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

impl Row {
    fn cells(self, u: &Unknown<'_>) -> [String; 18] {
        let t = self.traffic;
        let s = self.seen.unwrap_or_default();
        let counted = |f: &str, n: Option<u64>| n.and_then(|n| u.number(f, n));
        [
            self.kind.to_string(),
            self.area,
            self.area_name,
            self.host,
            self.pattern,
            self.protocols_seen,
            self.protocols_documented,
            opt(t.map(|t| t.flows)),
            opt(counted("packets", t.map(|t| t.packets))),
            opt(counted("bytes", t.map(|t| t.bytes_up))),
            opt(counted("bytes", t.map(|t| t.bytes_down))),
            s.first_seen.unwrap_or_default(),
            s.last_seen.unwrap_or_default(),
            opt(counted("dns", self.dns_queries)),
            opt(counted("dns.answers", self.dns_answers)),
            self.dns_clients,
            opt(self.documented_flows),
            opt(self.undocumented_flows),
        ]
    }

    fn write(self, o: &mut String, u: &Unknown<'_>) {
        let cells = self.cells(u);
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            o.push_str(&field(c));
        }
        o.push('\n');
    }
}

pub fn render(r: &Report) -> String {
    let mut o = format!("{HEADER}\n");
    let unk = Unknown::of(r);
    for (f, why) in unk.all() {
        Row {
            kind: "unknown",
            host: f.to_string(),
            pattern: why.to_string(),
            ..Row::default()
        }
        .write(&mut o, &unk);
    }
    for a in &r.areas {
        for d in &a.destinations {
            Row {
                kind: "documented",
                area: a.area.clone(),
                area_name: a.name.clone(),
                host: d.host.clone(),
                pattern: d.pattern.clone(),
                protocols_seen: d.protocols_seen.join(" "),
                protocols_documented: d.protocols_documented.join(" "),
                traffic: Some(d.traffic),
                seen: Some(d.seen.clone()),
                ..Row::default()
            }
            .write(&mut o, &unk);
        }
    }
    for u in &r.undocumented {
        Row {
            kind: if u.likely_microsoft {
                "undocumented-microsoft"
            } else {
                "undocumented"
            },
            host: u.host.clone(),
            protocols_seen: u.protocols_seen.join(" "),
            traffic: Some(u.traffic),
            seen: Some(u.seen.clone()),
            dns_queries: Some(u.dns_queries),
            ..Row::default()
        }
        .write(&mut o, &unk);
    }
    // `--guess-build`: one row per page, best first (host = rank, pattern = the score).
    for (i, g) in r
        .build_guess
        .iter()
        .flat_map(|g| g.ranking.iter())
        .enumerate()
    {
        Row {
            kind: "build-guess",
            area: g.build.clone(),
            area_name: g.edition.clone(),
            host: (i + 1).to_string(),
            pattern: format!(
                "score {:.3} precision {:.3} recall {:.3}",
                g.score, g.precision, g.recall
            ),
            ..Row::default()
        }
        .write(&mut o, &unk);
    }
    // DNS view: area = the name's areas, area_name = its status.
    for n in &r.dns.names {
        Row {
            kind: "dns",
            area: n.areas.join(" "),
            area_name: n.status.clone(),
            host: n.name.clone(),
            pattern: n.pattern.clone().unwrap_or_default(),
            protocols_seen: "DNS".to_string(),
            dns_queries: Some(n.queries),
            dns_answers: Some(n.answers),
            dns_clients: super::dns_clients(n),
            ..Row::default()
        }
        .write(&mut o, &unk);
    }
    // Per machine: one `client` row (host = address, pattern = name, protocols_seen = MAC,
    // protocols_documented = build guess and score), then one `client-area` row per area.
    for c in &r.clients {
        let name = c.name.clone().unwrap_or_default();
        let mac = c.mac.clone().unwrap_or_default();
        Row {
            kind: "client",
            host: c.address.clone(),
            pattern: name.clone(),
            protocols_seen: mac.clone(),
            protocols_documented: c.build_guess.as_ref().map_or(String::new(), |g| {
                format!("{} {} {:.3}", g.build, g.edition, g.score)
            }),
            traffic: Some(c.traffic),
            documented_flows: Some(c.documented_flows),
            undocumented_flows: Some(c.undocumented_flows),
            ..Row::default()
        }
        .write(&mut o, &unk);
        for x in &c.areas {
            Row {
                kind: "client-area",
                area: x.area.clone(),
                area_name: r
                    .areas
                    .iter()
                    .find(|a| a.area == x.area)
                    .map(|a| a.name.clone())
                    .unwrap_or_default(),
                host: c.address.clone(),
                pattern: name.clone(),
                protocols_seen: mac.clone(),
                traffic: Some(x.traffic),
                ..Row::default()
            }
            .write(&mut o, &unk);
        }
    }
    o
}
