//! The terminal report: what a person reads first after `audit`.

use std::fmt::Write as _;

use super::human_bytes;
use crate::report::model::Report;

struct Style {
    on: bool,
}

impl Style {
    fn bold(&self, s: &str) -> String {
        if self.on {
            format!("\x1b[1m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn dim(&self, s: &str) -> String {
        if self.on {
            format!("\x1b[2m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn warn(&self, s: &str) -> String {
        if self.on {
            format!("\x1b[33m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

pub fn render(r: &Report, colour: bool) -> String {
    let st = Style { on: colour };
    let mut o = String::new();
    let t = &r.totals;
    let title = if r.capture.is_some() {
        "egressmap capture"
    } else {
        "egressmap audit"
    };
    let _ = writeln!(o, "{}", st.bold(title));
    for i in &r.inputs {
        let err = i
            .error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "  input   {} ({} records, {}{err})",
            i.name, i.records, i.status
        );
    }
    let _ = writeln!(
        o,
        "  span    {} .. {} ({:.1} h)",
        r.first_seen.as_deref().unwrap_or("-"),
        r.last_seen.as_deref().unwrap_or("-"),
        r.span_seconds / 3600.0
    );
    let _ = writeln!(
        o,
        "  build   {} {}   signatures {}",
        r.build.as_deref().unwrap_or("all builds"),
        r.edition.as_deref().unwrap_or(""),
        r.signatures_version
    );
    let scope = match (r.scope.public_only, r.scope.ipv4_only) {
        (true, true) => "public IPv4 destinations only (Microsoft's method)",
        (true, false) => "public destinations only",
        (false, true) => "all IPv4 destinations",
        (false, false) => "all destinations",
    };
    let _ = writeln!(
        o,
        "  counted {} of {} flows ({scope}), {} packets, {} up, {} down (of {} packets read)",
        t.flows,
        t.flows_seen,
        t.packets,
        human_bytes(t.bytes_up),
        human_bytes(t.bytes_down),
        t.packets_read
    );
    let _ = writeln!(
        o,
        "  flows   {} documented, {} undocumented, {} unattributed, {} ECH",
        t.documented_flows, t.undocumented_flows, t.unattributed_flows, t.ech_flows
    );
    let _ = writeln!(o, "  {}", st.dim(&r.counting));

    let _ = writeln!(o, "\n{}", st.bold("Documented endpoints seen, by area"));
    if r.areas.is_empty() {
        let _ = writeln!(o, "  (none)");
    }
    let w = r
        .areas
        .iter()
        .flat_map(|a| a.destinations.iter().map(|d| d.host.len() + 4))
        .chain(r.areas.iter().map(|a| a.name.len() + a.area.len() + 3))
        .max()
        .unwrap_or(20)
        .clamp(20, 60);
    let _ = writeln!(
        o,
        "  {:<w$} {:>7} {:>9} {:>10} {:>10}  area: first .. last seen / destination: matched pattern [protocols]",
        "area / destination", "flows", "packets", "up", "down"
    );
    for a in &r.areas {
        let _ = writeln!(
            o,
            "  {:<w$} {:>7} {:>9} {:>10} {:>10}  {} .. {}",
            st.bold(&format!("{} ({})", a.name, a.area)),
            a.flows,
            a.packets,
            human_bytes(a.bytes_up),
            human_bytes(a.bytes_down),
            short(a.first_seen.as_deref()),
            short(a.last_seen.as_deref()),
        );
        for d in &a.destinations {
            let _ = writeln!(
                o,
                "    {:<w2$} {:>7} {:>9} {:>10} {:>10}  {} [{}]",
                d.host,
                d.flows,
                d.packets,
                human_bytes(d.bytes_up),
                human_bytes(d.bytes_down),
                st.dim(&d.pattern),
                d.protocols_seen.join(","),
                w2 = w - 2
            );
        }
        if let Some(u) = &a.turn_off_url {
            let _ = writeln!(o, "    {}", st.dim(&format!("turn off: {u}")));
        }
    }

    let _ = writeln!(
        o,
        "\n{}",
        st.bold("Seen but undocumented (named public traffic matching no endpoint)")
    );
    if r.undocumented.is_empty() {
        let _ = writeln!(o, "  (none)");
    }
    let mut last_domain = "";
    for u in &r.undocumented {
        if u.domain != last_domain {
            let flag = if u.likely_microsoft {
                st.warn(" <- Microsoft-owned: likely undocumented endpoint")
            } else {
                String::new()
            };
            let _ = writeln!(o, "  {}{flag}", st.bold(&u.domain));
            last_domain = &u.domain;
        }
        let _ = writeln!(
            o,
            "    {:<w2$} {:>7} {:>9} {:>10} {:>10}  [{}]",
            u.host,
            u.flows,
            u.packets,
            human_bytes(u.bytes_up),
            human_bytes(u.bytes_down),
            u.protocols_seen.join(","),
            w2 = w - 2
        );
    }

    let un = &r.unattributed;
    let _ = writeln!(
        o,
        "\n{} {} flows, {} up, {} down",
        st.bold("Unattributed (no name at all):"),
        un.flows,
        human_bytes(un.bytes_up),
        human_bytes(un.bytes_down)
    );
    for s in un.servers.iter().take(10) {
        let _ = writeln!(
            o,
            "    {:<40} {:>7} {:>10} {:>10}",
            format!("{} {}:{}", s.proto, s.server_ip, s.server_port),
            s.flows,
            human_bytes(s.bytes_up),
            human_bytes(s.bytes_down)
        );
    }
    if !r.shared_infrastructure.is_empty() {
        let _ = writeln!(
            o,
            "{} {} flows (any customer of the cloud can own these names; not counted as documented)",
            st.bold("Shared cloud infrastructure:"),
            r.totals.shared_infrastructure_flows
        );
        for s in r.shared_infrastructure.iter().take(20) {
            let _ = writeln!(
                o,
                "    {:<40} {:>7} {:>10} {:>10}  via {} ({})",
                s.host,
                s.flows,
                human_bytes(s.bytes_up),
                human_bytes(s.bytes_down),
                s.pattern,
                s.areas.join(", ")
            );
        }
    }
    if r.ech.flows > 0 {
        let _ = writeln!(
            o,
            "{} {} flows, {} up, {} down; outer names: {}",
            st.bold("Encrypted Client Hello (real name hidden):"),
            r.ech.flows,
            human_bytes(r.ech.bytes_up),
            human_bytes(r.ech.bytes_down),
            r.ech.outer_names.join(", ")
        );
        for i in &r.ech.inferred {
            let areas = if i.areas.is_empty() {
                "undocumented".to_string()
            } else {
                i.areas.join(", ")
            };
            let _ = writeln!(
                o,
                "    inferred {} behind {} (HTTPS record): {} flows, {}",
                i.name, i.outer_name, i.flows, areas
            );
        }
    }

    let _ = writeln!(
        o,
        "\n{} {} endpoints",
        st.bold("Documented but silent:"),
        r.documented_not_seen.len()
    );
    for d in r.documented_not_seen.iter().take(200) {
        let _ = writeln!(
            o,
            "    {:<w2$} {}",
            d.pattern,
            d.areas.join(","),
            w2 = w - 2
        );
    }
    if r.documented_not_seen.len() > 200 {
        let _ = writeln!(
            o,
            "    ... {} more (see --report json)",
            r.documented_not_seen.len() - 200
        );
    }
    if r.warnings.is_empty() {
        let _ = writeln!(o, "\nwarnings: none");
    } else {
        let _ = writeln!(o, "\n{}", st.warn("warnings:"));
        for w in &r.warnings {
            let _ = writeln!(o, "  {w}");
        }
    }
    o
}

/// "2026-11-20T10:00:00.123456Z" -> "2026-11-20 10:00".
fn short(ts: Option<&str>) -> String {
    match ts {
        Some(t) => match (t.get(..10), t.get(11..16)) {
            (Some(d), Some(h)) => format!("{d} {h}"),
            _ => t.to_string(),
        },
        None => "-".to_string(),
    }
}
