//! CSV: one row per (area, destination), plus undocumented hosts (area empty) and names looked
//! up over DNS (kind `dns`: `flows` empty, counts in the `dns_*` columns), for spreadsheets.
//! Text cells are neutralised against formula injection ([`super::escape::csv_field`]).

use super::escape::csv_field as field;
use crate::report::model::Report;

pub fn render(r: &Report) -> String {
    let mut o = String::from(
        "kind,area,area_name,host,pattern,protocols_seen,protocols_documented,flows,packets,bytes_up,bytes_down,first_seen,last_seen,dns_queries,dns_answers,dns_clients\n",
    );
    for a in &r.areas {
        for d in &a.destinations {
            let row = [
                "documented".to_string(),
                a.area.clone(),
                a.name.clone(),
                d.host.clone(),
                d.pattern.clone(),
                d.protocols_seen.join(" "),
                d.protocols_documented.join(" "),
                d.traffic.flows.to_string(),
                d.traffic.packets.to_string(),
                d.traffic.bytes_up.to_string(),
                d.traffic.bytes_down.to_string(),
                d.seen.first_seen.clone().unwrap_or_default(),
                d.seen.last_seen.clone().unwrap_or_default(),
                String::new(),
                String::new(),
                String::new(),
            ];
            o.push_str(&row.iter().map(|s| field(s)).collect::<Vec<_>>().join(","));
            o.push('\n');
        }
    }
    for u in &r.undocumented {
        let kind = if u.likely_microsoft {
            "undocumented-microsoft"
        } else {
            "undocumented"
        };
        let row = [
            kind.to_string(),
            String::new(),
            String::new(),
            u.host.clone(),
            String::new(),
            u.protocols_seen.join(" "),
            String::new(),
            u.traffic.flows.to_string(),
            u.traffic.packets.to_string(),
            u.traffic.bytes_up.to_string(),
            u.traffic.bytes_down.to_string(),
            u.seen.first_seen.clone().unwrap_or_default(),
            u.seen.last_seen.clone().unwrap_or_default(),
            u.dns_queries.to_string(),
            String::new(),
            String::new(),
        ];
        o.push_str(&row.iter().map(|s| field(s)).collect::<Vec<_>>().join(","));
        o.push('\n');
    }
    // `--guess-build`: one row per page, best first (host = rank, pattern = the score).
    for (i, g) in r
        .build_guess
        .iter()
        .flat_map(|g| g.ranking.iter())
        .enumerate()
    {
        let row = [
            "build-guess".to_string(),
            g.build.clone(),
            g.edition.clone(),
            (i + 1).to_string(),
            format!(
                "score {:.3} precision {:.3} recall {:.3}",
                g.score, g.precision, g.recall
            ),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ];
        o.push_str(&row.iter().map(|s| field(s)).collect::<Vec<_>>().join(","));
        o.push('\n');
    }
    // DNS view: area = the name's areas, area_name = its status.
    for n in &r.dns.names {
        let row = [
            "dns".to_string(),
            n.areas.join(" "),
            n.status.clone(),
            n.name.clone(),
            n.pattern.clone().unwrap_or_default(),
            "DNS".to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            n.queries.to_string(),
            n.answers.to_string(),
            super::dns_clients(n),
        ];
        o.push_str(&row.iter().map(|s| field(s)).collect::<Vec<_>>().join(","));
        o.push('\n');
    }
    // Per machine: one `client` row (host = address, pattern = name, protocols_seen = MAC,
    // protocols_documented = build guess), then one `client-area` row per area it reached.
    for c in &r.clients {
        let guess = c.build_guess.as_ref().map_or(String::new(), |g| {
            format!("{} {} {:.3}", g.build, g.edition, g.score)
        });
        let row = [
            "client".to_string(),
            String::new(),
            String::new(),
            c.address.clone(),
            c.name.clone().unwrap_or_default(),
            c.mac.clone().unwrap_or_default(),
            guess,
            c.traffic.flows.to_string(),
            c.traffic.packets.to_string(),
            c.traffic.bytes_up.to_string(),
            c.traffic.bytes_down.to_string(),
            String::new(),
            String::new(),
        ];
        o.push_str(&row.iter().map(|s| field(s)).collect::<Vec<_>>().join(","));
        o.push('\n');
        for x in &c.areas {
            let name = r
                .areas
                .iter()
                .find(|a| a.area == x.area)
                .map(|a| a.name.clone())
                .unwrap_or_default();
            let row = [
                "client-area".to_string(),
                x.area.clone(),
                name,
                c.address.clone(),
                c.name.clone().unwrap_or_default(),
                c.mac.clone().unwrap_or_default(),
                String::new(),
                x.traffic.flows.to_string(),
                x.traffic.packets.to_string(),
                x.traffic.bytes_up.to_string(),
                x.traffic.bytes_down.to_string(),
                String::new(),
                String::new(),
            ];
            o.push_str(&row.iter().map(|s| field(s)).collect::<Vec<_>>().join(","));
            o.push('\n');
        }
    }
    o
}
