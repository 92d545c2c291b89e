//! The terminal report: what a person reads first after `audit`. It leads with the summary and
//! one row per area; long lists (destinations, undocumented hosts, silent endpoints) show their
//! top entries and say how many more there are (`--full` shows everything, `--report json` has
//! it all). Lines fit the width given; every name is escaped for the terminal ([`term`]).

use std::fmt::Write as _;

use super::escape::term;
use super::unknown::Unknown;
use super::{human_bytes, Options};
use crate::report::model::{Client, ClientArea, Report};

/// Entries shown per list unless `--full`.
const TOP_DESTINATIONS: usize = 5;
const TOP_UNDOCUMENTED: usize = 12;
const TOP_UNNAMED: usize = 5;
const TOP_SILENT: usize = 10;
const TOP_GUESS: usize = 8;
const TOP_MACHINES: usize = 10;
const TOP_MACHINES_PER_AREA: usize = 4;
const TOP_AREAS_WITH_MACHINES: usize = 12;

struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    fn warn(&self, s: &str) -> String {
        self.paint("33", s)
    }
}

/// `s` cut to `n` characters (an ellipsis marks the cut) and padded to exactly `n`.
fn pad(s: &str, n: usize) -> String {
    let len = s.chars().count();
    if len <= n {
        format!("{s}{}", " ".repeat(n - len))
    } else {
        let mut o: String = s.chars().take(n.saturating_sub(1)).collect();
        o.push('…');
        o
    }
}

/// `s` cut to at most `n` characters, the cut shown by an ellipsis.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut o: String = s.chars().take(n.saturating_sub(1)).collect();
        o.push('…');
        o
    }
}

fn more(o: &mut String, st: &Style, indent: &str, n: usize, what: &str) {
    if n > 0 {
        let _ = writeln!(
            o,
            "{indent}{}",
            st.dim(&format!(
                "… {n} more {what} (--full shows all; --report json has them)"
            ))
        );
    }
}

/// Width of the numeric columns: " flows packets up down".
const NUMS: usize = 1 + 7 + 1 + 9 + 1 + 10 + 1 + 10;

/// A row's figures; packets and bytes the inputs do not record say "unknown", not 0.
fn nums(u: &Unknown<'_>, flows: u64, packets: u64, up: u64, down: u64) -> String {
    format!(
        " {flows:>7} {:>9} {:>10} {:>10}",
        u.cell("packets", packets, &packets.to_string()),
        u.cell("bytes", up, &human_bytes(up)),
        u.cell("bytes", down, &human_bytes(down))
    )
}

pub fn render(r: &Report, opt: &Options) -> String {
    let st = Style { on: opt.colour };
    let width = opt.width.max(60);
    let top = |n: usize| if opt.full { usize::MAX } else { n };
    let mut o = String::new();
    let t = &r.totals;
    let unk = Unknown::of(r);
    let bytes = |n: u64| unk.figure("bytes", n, &human_bytes(n));
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
            .map(|e| format!(": {}", term(e)))
            .unwrap_or_default();
        let name = term(&i.name);
        let status = format!("({} records, {}{err})", i.records, term(&i.status));
        // A path is never cut (it is what the user gave); its status moves to the next line.
        if 10 + name.chars().count() + 1 + status.chars().count() <= width {
            let _ = writeln!(o, "  input   {name} {status}");
        } else {
            let _ = writeln!(
                o,
                "  input   {name}\n          {}",
                clip(&status, width - 10)
            );
        }
    }
    let _ = writeln!(
        o,
        "  span    {} .. {} ({:.1} h)",
        term(r.first_seen.as_deref().unwrap_or("-")),
        term(r.last_seen.as_deref().unwrap_or("-")),
        r.span_seconds / 3600.0
    );
    let _ = writeln!(
        o,
        "  build   {} {}\n          signatures {}",
        term(r.build.as_deref().unwrap_or("all builds")),
        term(r.edition.as_deref().unwrap_or("")),
        term(&r.signatures_version)
    );
    let scope = match (r.scope.public_only, r.scope.ipv4_only) {
        (true, true) => "public IPv4 destinations only (Microsoft's method)",
        (true, false) => "public destinations only",
        (false, true) => "all IPv4 destinations",
        (false, false) => "all destinations",
    };
    let _ = writeln!(
        o,
        "  counted {} of {} flows ({scope})\n          {} packets, {} up, {} down (of {} packets read)",
        t.traffic.flows,
        t.flows_seen,
        unk.figure("packets", t.traffic.packets, &t.traffic.packets.to_string()),
        bytes(t.traffic.bytes_up),
        bytes(t.traffic.bytes_down),
        unk.figure("packets_read", t.packets_read, &t.packets_read.to_string())
    );
    let _ = writeln!(
        o,
        "  flows   {} documented, {} undocumented, {} unattributed, {} ECH",
        t.documented_flows,
        t.undocumented_flows,
        t.unattributed_flows,
        unk.figure("ech", t.ech_flows, &t.ech_flows.to_string())
    );
    let _ = writeln!(
        o,
        "  found   {} areas, {} undocumented hosts, {} documented endpoints silent",
        r.areas.len(),
        r.undocumented.len(),
        r.documented_not_seen.len()
    );
    if !r.unknown.is_empty() {
        let fields: Vec<&str> = unk.all().map(|(f, _)| f).collect();
        let line = format!(
            "unknown {} (not in the inputs; see the end)",
            fields.join(", ")
        );
        let _ = writeln!(o, "  {}", st.warn(&clip(&term(&line), width - 2)));
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(
            o,
            "  {}",
            st.warn(&format!("{} warnings (see the end)", r.warnings.len()))
        );
    }
    let _ = writeln!(o, "  {}", st.dim(&clip(&term(&r.counting), width - 2)));

    // Column of names: as wide as the widest name, within what the terminal leaves.
    let room = width.saturating_sub(NUMS + 4).max(16);
    let w = r
        .areas
        .iter()
        .map(|a| term(&a.name).chars().count())
        .chain(r.areas.iter().flat_map(|a| {
            a.destinations
                .iter()
                .take(top(TOP_DESTINATIONS))
                .map(|d| term(&d.host).chars().count() + 2)
        }))
        .chain(
            r.undocumented
                .iter()
                .take(top(TOP_UNDOCUMENTED))
                .map(|u| term(&u.host).chars().count() + 2),
        )
        .max()
        .unwrap_or(20)
        .clamp(20, room);

    let _ = writeln!(o, "\n{}", st.bold("Documented endpoints seen, by area"));
    if r.areas.is_empty() {
        let _ = writeln!(o, "  (none)");
    } else {
        let head = format!(
            "  {} {:>7} {:>9} {:>10} {:>10}  first .. last seen",
            pad("area", w),
            "flows",
            "packets",
            "up",
            "down"
        );
        let _ = writeln!(o, "{}", st.dim(&clip(&head, width)));
        for a in &r.areas {
            let line = format!(
                "{}{}  {} .. {}",
                pad(&term(&a.name), w),
                nums(
                    &unk,
                    a.traffic.flows,
                    a.traffic.packets,
                    a.traffic.bytes_up,
                    a.traffic.bytes_down
                ),
                short(a.seen.first_seen.as_deref()),
                short(a.seen.last_seen.as_deref()),
            );
            let _ = writeln!(o, "  {}", clip(&line, width - 2));
        }
    }

    if !r.areas.is_empty() {
        let _ = writeln!(
            o,
            "\n{}",
            st.bold("Destinations per area (busiest first; matched pattern [protocols])")
        );
    }
    for a in &r.areas {
        let _ = writeln!(o, "  {} ({})", st.bold(&term(&a.name)), term(&a.area));
        for d in a.destinations.iter().take(top(TOP_DESTINATIONS)) {
            let line = format!(
                "{}{}  {} [{}]",
                pad(&term(&d.host), w - 2),
                nums(
                    &unk,
                    d.traffic.flows,
                    d.traffic.packets,
                    d.traffic.bytes_up,
                    d.traffic.bytes_down
                ),
                term(&d.pattern),
                term(&d.protocols_seen.join(","))
            );
            let _ = writeln!(o, "    {}", clip(&line, width - 4));
        }
        more(
            &mut o,
            &st,
            "    ",
            a.destinations.len().saturating_sub(top(TOP_DESTINATIONS)),
            "destinations",
        );
        if let Some(u) = a.turn_off_url.as_deref().and_then(super::escape::https_url) {
            let _ = writeln!(o, "    {}", st.dim(&format!("turn off: {}", term(&u))));
        }
    }

    let _ = writeln!(
        o,
        "\n{} {} hosts",
        st.bold("Seen but undocumented (named public traffic matching no endpoint):"),
        r.undocumented.len()
    );
    let mut last_domain = "";
    for u in r.undocumented.iter().take(top(TOP_UNDOCUMENTED)) {
        if u.domain != last_domain {
            let flag = if u.likely_microsoft {
                st.warn(" <- Microsoft-owned: likely undocumented endpoint")
            } else {
                String::new()
            };
            let _ = writeln!(o, "  {}{flag}", st.bold(&term(&u.domain)));
            last_domain = &u.domain;
        }
        let dns = if u.dns_queries > 0 {
            format!("  dns {}", u.dns_queries)
        } else {
            String::new()
        };
        let line = format!(
            "{}{}  [{}]{dns}",
            pad(&term(&u.host), w - 2),
            nums(
                &unk,
                u.traffic.flows,
                u.traffic.packets,
                u.traffic.bytes_up,
                u.traffic.bytes_down
            ),
            term(&u.protocols_seen.join(","))
        );
        let _ = writeln!(o, "    {}", clip(&line, width - 4));
    }
    more(
        &mut o,
        &st,
        "  ",
        r.undocumented.len().saturating_sub(top(TOP_UNDOCUMENTED)),
        "undocumented hosts",
    );

    let d = &r.dns;
    let counted = !d.names.is_empty() || d.queries > 0 || d.answers > 0;
    let dns_head = st.bold("Names looked up (DNS, every DNS flow):");
    // Unknown (logs without DNS records): said, never a zero count. A merge that has some
    // inputs' lookups lists them, marked incomplete.
    if let Some(s) = unk.say("dns", counted) {
        let _ = writeln!(o, "\n{dns_head} {}", clip(&term(&s), width));
    }
    if counted {
        let answered = match unk.say("dns.answers", d.answers > 0) {
            Some(s) if d.answers == 0 => format!("answers {s}"),
            Some(s) => format!("{} answered ({s})", d.answers),
            None => format!("{} answered", d.answers),
        };
        let line = format!(
            "{} names, {} queries, {}",
            d.names.len(),
            d.queries,
            term(&answered)
        );
        if unk.is("dns") {
            let _ = writeln!(o, "  {}", clip(&line, width - 2));
        } else {
            let _ = writeln!(o, "\n{dns_head} {line}");
        }
        for n in d.names.iter().take(top(TOP_UNDOCUMENTED)) {
            let class = if n.areas.is_empty() {
                n.status.clone()
            } else {
                format!("{} {}", n.status, n.areas.join(","))
            };
            let line = format!(
                "{}{:>7} q {:>7} a {:>5} clients  [{}]",
                pad(&term(&n.name), w - 2),
                n.queries,
                unk.cell("dns.answers", n.answers, &n.answers.to_string()),
                super::dns_clients(n),
                term(&class)
            );
            let _ = writeln!(o, "    {}", clip(&line, width - 4));
        }
        more(
            &mut o,
            &st,
            "  ",
            d.names.len().saturating_sub(top(TOP_UNDOCUMENTED)),
            "names",
        );
        if d.unlisted_queries + d.unlisted_answers > 0 {
            let _ = writeln!(
                o,
                "    not itemised (past the bound): {} queries, {} answers",
                d.unlisted_queries, d.unlisted_answers
            );
        }
    }

    let un = &r.unattributed;
    let _ = writeln!(
        o,
        "\n{} {} flows, {} up, {} down",
        st.bold("Unattributed (no name at all):"),
        un.traffic.flows,
        bytes(un.traffic.bytes_up),
        bytes(un.traffic.bytes_down)
    );
    for s in un.servers.iter().take(top(TOP_UNNAMED)) {
        let _ = writeln!(
            o,
            "    {:<40} {:>7} {:>10} {:>10}",
            term(&format!("{} {}:{}", s.proto, s.server_ip, s.server_port)),
            s.flows,
            unk.cell("bytes", s.bytes_up, &human_bytes(s.bytes_up)),
            unk.cell("bytes", s.bytes_down, &human_bytes(s.bytes_down))
        );
    }
    if !r.shared_infrastructure.is_empty() {
        let _ = writeln!(
            o,
            "{} {} flows\n  (any customer of the cloud can own these names; not counted as documented)",
            st.bold("Shared cloud infrastructure:"),
            r.totals.shared_infrastructure_flows
        );
        for s in r.shared_infrastructure.iter().take(20) {
            // Names from packets (or a saved report): escaped like every other name.
            let line = format!(
                "{:<40} {:>7} {:>10} {:>10}  via {} ({})",
                term(&s.host),
                s.traffic.flows,
                unk.cell(
                    "bytes",
                    s.traffic.bytes_up,
                    &human_bytes(s.traffic.bytes_up)
                ),
                unk.cell(
                    "bytes",
                    s.traffic.bytes_down,
                    &human_bytes(s.traffic.bytes_down)
                ),
                term(&s.pattern),
                term(&s.areas.join(", "))
            );
            let _ = writeln!(o, "    {}", clip(&line, width - 4));
        }
    }
    more(
        &mut o,
        &st,
        "    ",
        un.servers.len().saturating_sub(top(TOP_UNNAMED)),
        "servers",
    );
    if let Some(s) = unk.say("ech", r.ech.flows > 0) {
        let _ = writeln!(
            o,
            "{} {}",
            st.bold("Encrypted Client Hello:"),
            clip(&term(&s), width)
        );
    }
    if r.ech.flows > 0 {
        let names: Vec<String> = r
            .ech
            .outer_names
            .iter()
            .map(|n| term(n).into_owned())
            .collect();
        let _ = writeln!(
            o,
            "{} {} flows, {} up, {} down\n    outer names: {}",
            st.bold("Encrypted Client Hello (real name hidden):"),
            r.ech.flows,
            bytes(r.ech.bytes_up),
            bytes(r.ech.bytes_down),
            clip(
                &names.join(", "),
                if opt.full { usize::MAX } else { width - 17 }
            )
        );
        for i in &r.ech.inferred {
            let areas = if i.areas.is_empty() {
                "undocumented".to_string()
            } else {
                term(&i.areas.join(", ")).into_owned()
            };
            let _ = writeln!(
                o,
                "    inferred {} behind {} (HTTPS record): {} flows, {}",
                term(&i.name),
                term(&i.outer_name),
                i.flows,
                areas
            );
        }
    }

    let _ = writeln!(
        o,
        "\n{} {} endpoints\n  (listed for this build/edition, matched by no counted flow)",
        st.bold("Documented but silent:"),
        r.documented_not_seen.len()
    );
    for d in r.documented_not_seen.iter().take(top(TOP_SILENT)) {
        let line = format!(
            "{} {}",
            pad(&term(&d.pattern), w - 2),
            term(&d.areas.join(","))
        );
        let _ = writeln!(o, "    {}", clip(&line, width - 4));
    }
    more(
        &mut o,
        &st,
        "    ",
        r.documented_not_seen.len().saturating_sub(top(TOP_SILENT)),
        "silent endpoints",
    );

    if let Some(g) = &r.build_guess {
        if g.seen_patterns == 0 {
            let _ = writeln!(
                o,
                "\n{} no documented endpoint seen, nothing to rank.",
                st.bold("Build guess:")
            );
        } else {
            let _ = writeln!(
                o,
                "\n{} ({} documented endpoints seen; score = F1 of the share of seen endpoints a page lists and the share of the page seen)",
                st.bold("Build guess"),
                g.seen_patterns
            );
            for (i, x) in g.ranking.iter().take(top(TOP_GUESS)).enumerate() {
                let _ = writeln!(
                    o,
                    "  {}. Windows {:<5} {:<11} score {:.3}  (lists {:.0}% of what was seen, {:.0}% of the page seen)",
                    i + 1,
                    term(&x.build),
                    term(&x.edition),
                    x.score,
                    x.precision * 100.0,
                    x.recall * 100.0
                );
            }
        }
    }

    machines(&mut o, r, &st, width, &top);

    if !r.unknown.is_empty() {
        let _ = writeln!(
            o,
            "\n{}",
            st.warn("unknown (the inputs do not record these: shown as unknown, not 0):")
        );
        for (f, why) in unk.all() {
            let _ = writeln!(o, "  {}: {why}", term(f));
        }
    }
    if r.warnings.is_empty() {
        let _ = writeln!(o, "\nwarnings: none");
    } else {
        let _ = writeln!(o, "\n{}", st.warn("warnings:"));
        for w in &r.warnings {
            let _ = writeln!(o, "  {}", term(w));
        }
    }
    o
}

/// The machines (busiest first): address, name, MAC, flows and build guess; then, with several
/// machines, the busiest ones of each area. Names are the machines' own claims: escaped.
fn machines(o: &mut String, r: &Report, st: &Style, width: usize, top: &dyn Fn(usize) -> usize) {
    if r.clients.is_empty() {
        return;
    }
    let mut by_bytes: Vec<&Client> = r.clients.iter().collect();
    by_bytes.sort_by_key(|c| std::cmp::Reverse(c.traffic.bytes()));
    let aw = by_bytes
        .iter()
        .map(|c| term(&c.address).chars().count())
        .max()
        .unwrap_or(15)
        .clamp(15, 39);
    let unk = Unknown::of(r);
    // A machine without a MAC or name: "-" (none seen), or unknown when logs cannot say.
    let absent = |f: &str| if unk.is(f) { "unknown" } else { "-" };
    let nw = by_bytes
        .iter()
        .map(|c| {
            term(c.name.as_deref().unwrap_or(absent("clients.name")))
                .chars()
                .count()
        })
        .max()
        .unwrap_or(4)
        .clamp(4, 24);
    let _ = writeln!(o, "\n{} {}", st.bold("Machines:"), r.clients.len());
    let head = format!(
        "  {} {} {:<17} {:>7} {:>10} {:>10}  build guess",
        pad("address", aw),
        pad("name", nw),
        "mac",
        "flows",
        "documented",
        "bytes"
    );
    let _ = writeln!(o, "{}", st.dim(&clip(&head, width)));
    for c in by_bytes.iter().take(top(TOP_MACHINES)) {
        let guess = c.build_guess.as_ref().map_or("-".to_string(), |g| {
            format!("{} {} ({:.3})", term(&g.build), term(&g.edition), g.score)
        });
        let line = format!(
            "{} {} {:<17} {:>7} {:>10} {:>10}  {guess}",
            pad(&term(&c.address), aw),
            pad(
                &term(c.name.as_deref().unwrap_or(absent("clients.name"))),
                nw
            ),
            term(c.mac.as_deref().unwrap_or(absent("clients.mac"))),
            c.traffic.flows,
            c.documented_flows,
            unk.cell("bytes", c.traffic.bytes(), &human_bytes(c.traffic.bytes())),
        );
        let _ = writeln!(o, "  {}", clip(&line, width - 2));
    }
    more(
        o,
        st,
        "  ",
        by_bytes.len().saturating_sub(top(TOP_MACHINES)),
        "machines",
    );
    if r.clients.len() < 2 || r.areas.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "\n{}",
        st.bold("Machines per area (busiest areas; each area's busiest machines: bytes, flows)")
    );
    for a in r.areas.iter().take(top(TOP_AREAS_WITH_MACHINES)) {
        let mut rows: Vec<(&Client, &ClientArea)> = r
            .clients
            .iter()
            .filter_map(|c| Some((c, c.areas.iter().find(|x| x.area == a.area)?)))
            .collect();
        rows.sort_by_key(|(_, x)| std::cmp::Reverse(x.traffic.bytes()));
        let shown = top(TOP_MACHINES_PER_AREA);
        let mut line = format!("{} ({}):", term(&a.name), rows.len());
        for (i, (c, x)) in rows.iter().take(shown).enumerate() {
            let _ = write!(
                line,
                "{} {} {} {}",
                if i == 0 { "" } else { "," },
                term(c.name.as_deref().unwrap_or(&c.address)),
                unk.cell("bytes", x.traffic.bytes(), &human_bytes(x.traffic.bytes())),
                x.traffic.flows
            );
        }
        if rows.len() > shown {
            let _ = write!(line, ", +{}", rows.len() - shown);
        }
        let _ = writeln!(o, "  {}", clip(&line, width - 2));
    }
    more(
        o,
        st,
        "  ",
        r.areas.len().saturating_sub(top(TOP_AREAS_WITH_MACHINES)),
        "areas",
    );
}

/// "2026-11-20T10:00:00.123456Z" -> "2026-11-20 10:00".
fn short(ts: Option<&str>) -> String {
    match ts {
        Some(t) => match (t.get(..10), t.get(11..16)) {
            (Some(d), Some(h)) => term(&format!("{d} {h}")).into_owned(),
            _ => term(t).into_owned(),
        },
        None => "-".to_string(),
    }
}
