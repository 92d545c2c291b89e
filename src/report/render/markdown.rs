//! Markdown in Microsoft's own `|Area|Description|Protocol|Destination|` layout, plus measured
//! columns, so a report can sit next to their page.

use std::fmt::Write as _;

use super::human_bytes;
use crate::report::model::Report;

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('*', "\\*")
        .replace(['\n', '\r'], " ")
}

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# egressmap report\n");
    let _ = writeln!(
        o,
        "Build: {} {} · signatures {} · span {} to {} · {} flows counted of {} · {}\n",
        r.build.as_deref().unwrap_or("all builds"),
        r.edition.as_deref().unwrap_or(""),
        r.signatures_version,
        r.first_seen.as_deref().unwrap_or("-"),
        r.last_seen.as_deref().unwrap_or("-"),
        r.totals.flows,
        r.totals.flows_seen,
        r.counting
    );
    let _ = writeln!(o, "## Documented endpoints seen\n");
    let _ = writeln!(
        o,
        "|Area|Description|Protocol|Destination|Flows|Bytes up|Bytes down|First seen|Last seen|"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|");
    for a in &r.areas {
        let link = a
            .turn_off_url
            .as_deref()
            .map(|u| format!("[How to turn off]({u})"))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "|{}|{}||{}|{}|{}|{}|{}|{}|",
            cell(&a.name),
            cell(&format!("{} destinations seen", a.distinct_destinations)),
            link,
            a.flows,
            human_bytes(a.bytes_up),
            human_bytes(a.bytes_down),
            a.first_seen.as_deref().unwrap_or(""),
            a.last_seen.as_deref().unwrap_or("")
        );
        for d in &a.destinations {
            let _ = writeln!(
                o,
                "||{}|{}|{}|{}|{}|{}|{}|{}|",
                cell(&format!("matches {}", d.pattern)),
                cell(&d.protocols_seen.join(", ")),
                cell(&d.host),
                d.flows,
                human_bytes(d.bytes_up),
                human_bytes(d.bytes_down),
                d.first_seen.as_deref().unwrap_or(""),
                d.last_seen.as_deref().unwrap_or("")
            );
        }
    }
    let _ = writeln!(o, "\n## Seen but undocumented\n");
    let _ = writeln!(
        o,
        "|Domain|Microsoft-owned|Protocol|Destination|Flows|Bytes up|Bytes down|"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|");
    for u in &r.undocumented {
        let _ = writeln!(
            o,
            "|{}|{}|{}|{}|{}|{}|{}|",
            cell(&u.domain),
            if u.likely_microsoft { "yes" } else { "" },
            cell(&u.protocols_seen.join(", ")),
            cell(&u.host),
            u.flows,
            human_bytes(u.bytes_up),
            human_bytes(u.bytes_down)
        );
    }
    let _ = writeln!(o, "\n## Documented but silent\n");
    let _ = writeln!(o, "|Area|Protocol|Destination|");
    let _ = writeln!(o, "|---|---|---|");
    for d in &r.documented_not_seen {
        let _ = writeln!(
            o,
            "|{}|{}|{}|",
            cell(&d.areas.join(", ")),
            cell(&d.protocols.join(", ")),
            cell(&d.pattern)
        );
    }
    let un = &r.unattributed;
    let _ = writeln!(
        o,
        "\n## Unattributed\n\n{} flows without any name, {} up, {} down. ECH: {} flows.",
        un.flows,
        human_bytes(un.bytes_up),
        human_bytes(un.bytes_down),
        r.ech.flows
    );
    if !r.shared_infrastructure.is_empty() {
        let _ = writeln!(
            o,
            "\n## Shared cloud infrastructure\n\nNames a documented wildcard covers only because any customer of the cloud can own them; not counted as documented.\n\n| Host | Pattern | Areas | Flows | Up | Down |\n|---|---|---|---:|---:|---:|"
        );
        for s in &r.shared_infrastructure {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} |",
                cell(&s.host),
                cell(&s.pattern),
                cell(&s.areas.join(", ")),
                s.flows,
                human_bytes(s.bytes_up),
                human_bytes(s.bytes_down)
            );
        }
    }
    if !r.ech.inferred.is_empty() {
        let _ = writeln!(
            o,
            "\nECH inner names inferred from HTTPS records (not observed):\n\n| Inferred name | Outer name | Flows | Areas |\n|---|---|---:|---|"
        );
        for i in &r.ech.inferred {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                cell(&i.name),
                cell(&i.outer_name),
                i.flows,
                cell(&i.areas.join(", "))
            );
        }
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(o, "\n## Warnings\n");
        for w in &r.warnings {
            let _ = writeln!(o, "- {}", cell(w));
        }
    }
    o
}
