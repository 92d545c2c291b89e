//! `egressmap compare A.json B.json`: what changed between two saved reports, per area and per
//! destination. The use case: capture before and after applying the turn-off settings and see
//! which areas actually went silent (or two builds side by side).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::model::Report;
use super::render::human_bytes;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Silent in A, active in B.
    Appeared,
    /// Active in A, silent in B.
    Gone,
    Grew,
    Shrank,
    Same,
}

#[derive(Clone, Debug, Serialize)]
pub struct Delta {
    pub area: String,
    /// None for the area's own row.
    pub host: Option<String>,
    pub change: Change,
    pub flows_a: u64,
    pub flows_b: u64,
    pub bytes_a: u64,
    pub bytes_b: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub areas: Vec<Delta>,
    pub destinations: Vec<Delta>,
}

/// A change in bytes smaller than this fraction counts as the same (idle traffic jitters).
const SAME_WITHIN: f64 = 0.10;

fn classify(fa: u64, fb: u64, ba: u64, bb: u64) -> Change {
    match (fa, fb) {
        (0, 0) => Change::Same,
        (0, _) => Change::Appeared,
        (_, 0) => Change::Gone,
        _ => {
            let (a, b) = (ba as f64, bb as f64);
            if (b - a).abs() <= SAME_WITHIN * a.max(b) {
                Change::Same
            } else if b > a {
                Change::Grew
            } else {
                Change::Shrank
            }
        }
    }
}

pub fn compare(a: &Report, b: &Report) -> Comparison {
    let mut areas: BTreeMap<&str, [(u64, u64); 2]> = BTreeMap::new();
    let mut dests: BTreeMap<(&str, &str), [(u64, u64); 2]> = BTreeMap::new();
    for (i, r) in [a, b].into_iter().enumerate() {
        for ar in &r.areas {
            areas.entry(&ar.area).or_default()[i] = (ar.flows, ar.bytes_up + ar.bytes_down);
            for d in &ar.destinations {
                dests.entry((&ar.area, &d.host)).or_default()[i] =
                    (d.flows, d.bytes_up + d.bytes_down);
            }
        }
    }
    let delta = |area: &str, host: Option<&str>, v: &[(u64, u64); 2]| Delta {
        area: area.to_string(),
        host: host.map(str::to_string),
        change: classify(v[0].0, v[1].0, v[0].1, v[1].1),
        flows_a: v[0].0,
        flows_b: v[1].0,
        bytes_a: v[0].1,
        bytes_b: v[1].1,
    };
    let mut areas: Vec<Delta> = areas.iter().map(|(k, v)| delta(k, None, v)).collect();
    let mut destinations: Vec<Delta> = dests
        .iter()
        .map(|((a, h), v)| delta(a, Some(h), v))
        .collect();
    areas.sort_by(|x, y| x.change.cmp(&y.change).then(x.area.cmp(&y.area)));
    destinations.sort_by(|x, y| {
        x.change
            .cmp(&y.change)
            .then(x.area.cmp(&y.area))
            .then(x.host.cmp(&y.host))
    });
    Comparison {
        areas,
        destinations,
    }
}

pub fn render_table(c: &Comparison, a_name: &str, b_name: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "A = {a_name}\nB = {b_name}\n");
    let _ = writeln!(
        o,
        "{:<10} {:<28} {:>8} {:>8} {:>10} {:>10}",
        "change", "area", "flows A", "flows B", "bytes A", "bytes B"
    );
    for d in &c.areas {
        let _ = writeln!(
            o,
            "{:<10} {:<28} {:>8} {:>8} {:>10} {:>10}",
            format!("{:?}", d.change).to_lowercase(),
            d.area,
            d.flows_a,
            d.flows_b,
            human_bytes(d.bytes_a),
            human_bytes(d.bytes_b)
        );
    }
    let _ = writeln!(o, "\ndestinations that changed:");
    for d in c.destinations.iter().filter(|d| d.change != Change::Same) {
        let _ = writeln!(
            o,
            "{:<10} {:<28} {:<44} {:>8} {:>8}",
            format!("{:?}", d.change).to_lowercase(),
            d.area,
            d.host.as_deref().unwrap_or(""),
            d.flows_a,
            d.flows_b
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{Area, Destination};

    fn report(areas: &[(&str, u64, u64)]) -> Report {
        Report {
            areas: areas
                .iter()
                .map(|(id, flows, bytes)| Area {
                    area: id.to_string(),
                    flows: *flows,
                    bytes_up: *bytes,
                    destinations: vec![Destination {
                        host: format!("{id}.example"),
                        flows: *flows,
                        bytes_up: *bytes,
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
    }
}
