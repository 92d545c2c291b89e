//! Markdown in Microsoft's own `|Area|Description|Protocol|Destination|` layout, plus measured
//! columns, so a report can sit next to their page.

use std::fmt::Write as _;

use super::escape::{https_url, markdown as cell};
use super::human_bytes;
use super::unknown::Unknown;
use crate::report::model::Report;

/// A timestamp as is when it is one (digits and `-:.TZ`), escaped otherwise (a saved report
/// may hold anything).
fn ts(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().all(|c| c.is_ascii_digit() || "-:.TZ".contains(c)) {
        s.into()
    } else {
        cell(s).into()
    }
}

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let u = Unknown::of(r);
    // Byte cells: "unknown" where the inputs record no counts, never "0 B".
    let by = |n: u64| u.cell("bytes", n, &human_bytes(n));
    let _ = writeln!(o, "# egressmap report\n");
    let _ = writeln!(
        o,
        "Build: {} {} · signatures {} · span {} to {} · {} flows counted of {} · {}\n",
        cell(r.build.as_deref().unwrap_or("all builds")),
        cell(r.edition.as_deref().unwrap_or("")),
        cell(&r.signatures_version),
        ts(r.first_seen.as_deref().unwrap_or("-")),
        ts(r.last_seen.as_deref().unwrap_or("-")),
        r.totals.traffic.flows,
        r.totals.flows_seen,
        cell(&r.counting)
    );
    if !r.unknown.is_empty() {
        let _ = writeln!(
            o,
            "**Unknown** (the inputs do not record these; shown as unknown, not 0):\n"
        );
        for (f, why) in u.all() {
            let _ = writeln!(o, "- {}: {}", cell(f), cell(why));
        }
        o.push('\n');
    }
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
            .and_then(https_url)
            .map(|u| format!("[How to turn off]({u})"))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "|{}|{}||{}|{}|{}|{}|{}|{}|",
            cell(&a.name),
            cell(&format!("{} destinations seen", a.distinct_destinations)),
            link,
            a.traffic.flows,
            by(a.traffic.bytes_up),
            by(a.traffic.bytes_down),
            ts(a.seen.first_seen.as_deref().unwrap_or("")),
            ts(a.seen.last_seen.as_deref().unwrap_or(""))
        );
        for d in &a.destinations {
            let _ = writeln!(
                o,
                "||{}|{}|{}|{}|{}|{}|{}|{}|",
                cell(&format!("matches {}", d.pattern)),
                cell(&d.protocols_seen.join(", ")),
                cell(&d.host),
                d.traffic.flows,
                by(d.traffic.bytes_up),
                by(d.traffic.bytes_down),
                ts(d.seen.first_seen.as_deref().unwrap_or("")),
                ts(d.seen.last_seen.as_deref().unwrap_or(""))
            );
        }
    }
    let _ = writeln!(o, "\n## Seen but undocumented\n");
    let _ = writeln!(
        o,
        "|Domain|Microsoft-owned|Protocol|Destination|Flows|Bytes up|Bytes down|DNS queries|"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|");
    for x in &r.undocumented {
        let _ = writeln!(
            o,
            "|{}|{}|{}|{}|{}|{}|{}|{}|",
            cell(&x.domain),
            if x.likely_microsoft { "yes" } else { "" },
            cell(&x.protocols_seen.join(", ")),
            cell(&x.host),
            x.traffic.flows,
            by(x.traffic.bytes_up),
            by(x.traffic.bytes_down),
            u.cell("dns", x.dns_queries, &x.dns_queries.to_string())
        );
    }
    dns_section(&mut o, r);
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
    let ech = match u.say("ech", r.ech.flows > 0) {
        Some(s) if r.ech.flows == 0 => s,
        Some(s) => format!("{} flows ({s})", r.ech.flows),
        None => format!("{} flows", r.ech.flows),
    };
    let _ = writeln!(
        o,
        "\n## Unattributed\n\n{} flows without any name, {} up, {} down. ECH: {}.",
        un.traffic.flows,
        u.figure(
            "bytes",
            un.traffic.bytes_up,
            &human_bytes(un.traffic.bytes_up)
        ),
        u.figure(
            "bytes",
            un.traffic.bytes_down,
            &human_bytes(un.traffic.bytes_down)
        ),
        cell(&ech)
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
                s.traffic.flows,
                by(s.traffic.bytes_up),
                by(s.traffic.bytes_down)
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
    if !un.servers.is_empty() {
        let _ = writeln!(
            o,
            "\nBusiest servers without a name:\n\n|Protocol|Server|Port|Flows|Bytes up|Bytes down|\n|---|---|---:|---:|---:|---:|"
        );
        for s in &un.servers {
            let _ = writeln!(
                o,
                "|{}|{}|{}|{}|{}|{}|",
                cell(&s.proto),
                cell(&s.server_ip),
                s.server_port,
                s.flows,
                by(s.bytes_up),
                by(s.bytes_down)
            );
        }
    }
    if let Some(g) = &r.build_guess {
        let _ = writeln!(
            o,
            "\n## Build guess\n\n{} documented endpoints seen; score = F1 of the share of seen endpoints a page lists (precision) and the share of the page seen (recall).\n\n|Rank|Build|Edition|Score|Precision|Recall|\n|---:|---|---|---:|---:|---:|",
            g.seen_patterns
        );
        for (i, x) in g.ranking.iter().enumerate() {
            let _ = writeln!(
                o,
                "|{}|{}|{}|{:.3}|{:.0}%|{:.0}%|",
                i + 1,
                cell(&x.build),
                cell(&x.edition),
                x.score,
                x.precision * 100.0,
                x.recall * 100.0
            );
        }
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(o, "\n## Warnings\n");
        for w in &r.warnings {
            let _ = writeln!(o, "- {}", cell(w));
        }
    }
    machines(&mut o, r);
    o
}

/// Every name looked up: its counts and what the signatures say of it.
fn dns_section(o: &mut String, r: &Report) {
    let d = &r.dns;
    let u = Unknown::of(r);
    let _ = writeln!(o, "\n## Names looked up (DNS)\n");
    let counted = !d.names.is_empty() || d.queries > 0 || d.answers > 0;
    // Logs without DNS records: the view is unknown, said instead of a table of zeros.
    if let Some(s) = u.say("dns", counted) {
        let _ = writeln!(o, "DNS view: {}.\n", cell(&s));
        if !counted {
            return;
        }
    }
    let answered = match u.say("dns.answers", d.answers > 0) {
        Some(s) if d.answers == 0 => format!("answered responses {s}"),
        Some(s) => format!("{} answered responses ({s})", d.answers),
        None => format!("{} answered responses", d.answers),
    };
    let _ = writeln!(
        o,
        "{} queries, {}, {} names.\n",
        d.queries,
        cell(&answered),
        d.names.len()
    );
    let _ = writeln!(o, "|Name|Status|Areas|Queries|Answers|Clients|");
    let _ = writeln!(o, "|---|---|---|---:|---:|---:|");
    for n in &d.names {
        let _ = writeln!(
            o,
            "|{}|{}|{}|{}|{}|{}|",
            cell(&n.name),
            cell(&n.status),
            cell(&n.areas.join(", ")),
            n.queries,
            u.cell("dns.answers", n.answers, &n.answers.to_string()),
            super::dns_clients(n)
        );
    }
    if d.unlisted_queries + d.unlisted_answers > 0 {
        let _ = writeln!(
            o,
            "\nNot itemised (past the bound): {} queries, {} answers.",
            d.unlisted_queries, d.unlisted_answers
        );
    }
}

/// Per machine: its identity and build guess, then its flows and bytes per area.
fn machines(o: &mut String, r: &Report) {
    if r.clients.is_empty() {
        return;
    }
    let u = Unknown::of(r);
    let by = |n: u64| u.cell("bytes", n, &human_bytes(n));
    // No MAC or name: an empty cell (none seen), or "unknown" when the inputs cannot say.
    let absent = |f: &str| if u.is(f) { "unknown" } else { "" };
    let _ = writeln!(o, "\n## Machines\n");
    let _ = writeln!(
        o,
        "|Address|Name|MAC|Build guess|Flows|Documented flows|Undocumented flows|Bytes up|Bytes down|"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|");
    for c in &r.clients {
        let guess = c.build_guess.as_ref().map_or(String::new(), |g| {
            format!("{} {} ({:.3})", g.build, g.edition, g.score)
        });
        let _ = writeln!(
            o,
            "|{}|{}|{}|{}|{}|{}|{}|{}|{}|",
            cell(&c.address),
            cell(c.name.as_deref().unwrap_or(absent("clients.name"))),
            cell(c.mac.as_deref().unwrap_or(absent("clients.mac"))),
            cell(&guess),
            c.traffic.flows,
            c.documented_flows,
            c.undocumented_flows,
            by(c.traffic.bytes_up),
            by(c.traffic.bytes_down)
        );
    }
    let _ = writeln!(o, "\n## Machines per area\n");
    let _ = writeln!(o, "|Area|Address|Name|Flows|Bytes up|Bytes down|");
    let _ = writeln!(o, "|---|---|---|---|---|---|");
    for a in &r.areas {
        for c in &r.clients {
            if let Some(x) = c.areas.iter().find(|x| x.area == a.area) {
                let _ = writeln!(
                    o,
                    "|{}|{}|{}|{}|{}|{}|",
                    cell(&a.name),
                    cell(&c.address),
                    cell(c.name.as_deref().unwrap_or("")),
                    x.traffic.flows,
                    by(x.traffic.bytes_up),
                    by(x.traffic.bytes_down)
                );
            }
        }
    }
}
