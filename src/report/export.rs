//! `egressmap export`: block lists built from what the network did (a report's documented
//! destinations per area, or its undocumented names), for DNS blockers (hosts files, dnsmasq,
//! unbound, AdGuard Home, Pi-hole), packet filters (nftables, iptables, ipset, Windows Firewall
//! through PowerShell) or as plain patterns.
//!
//! Names and addresses come from packets, so they are attacker-chosen: only valid host names are
//! written (letters, digits, `-`, `_`, dots: nothing any of these formats treats as syntax);
//! addresses are re-parsed and written in canonical form; anything else is skipped and counted
//! in the header. A documented `*.suffix` wildcard becomes a domain rule only where the format
//! matches whole labels (dnsmasq, unbound, AdGuard `||d^`, Pi-hole's `(\.|^)d$` regex); never
//! a substring, so `*.microsoft.com` cannot catch `evilmicrosoft.com`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use super::model::Report;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// hosts file: `0.0.0.0 NAME` and `:: NAME` per name seen (exact names).
    Hosts,
    /// dnsmasq: `address=/DOMAIN/0.0.0.0` (a domain and its subdomains).
    Dnsmasq,
    /// unbound: `local-zone: "DOMAIN." always_null`.
    Unbound,
    /// AdGuard Home (adblock syntax): `||DOMAIN^` for wildcards, `|NAME^` for exact names.
    Adguard,
    /// Pi-hole domain list (an adlist, or `pihole deny`): exact names.
    Pihole,
    /// Pi-hole regex deny entries: `(\.|^)DOMAIN$` for wildcards, `^NAME$` for exact names.
    PiholeRegex,
    /// nftables: table `inet egressmap` with address sets and drop rules.
    Nftables,
    /// iptables-restore (IPv4): chain EGRESSMAP of DROP rules, for `--noflush`.
    Iptables,
    /// ip6tables-restore (IPv6): chain EGRESSMAP of DROP rules, for `--noflush`.
    Ip6tables,
    /// ipset restore: sets egressmap4 and egressmap6, replaced atomically (swap).
    Ipset,
    /// Windows Firewall: a PowerShell script of New-NetFirewallRule outbound blocks.
    Powershell,
    /// The documented patterns seen, one per line.
    #[value(alias = "plain")]
    Patterns,
}

/// What blocking an area breaks, from the turn-off page
/// (manage-connections-from-windows-operating-system-components-to-microsoft-services).
const CONSEQUENCES: &[(&str, &str)] = &[
    ("windows-update", "Windows Update: no security or feature updates. The page lists Windows Update among settings that lead to a less secure device and does not recommend disabling it."),
    ("certificates", "Automatic Root Certificates Update: also prevents updates to the disallowed certificate list and the pin rules list; the device may not be able to connect to some websites."),
    ("ncsi", "Network Connection Status Indicator: NCSI detects Internet connectivity with a DNS request and an HTTP query to www.msftconnecttest.com; blocked, Windows cannot tell it is online."),
    ("defender", "Microsoft Defender Antivirus: the page lists it among settings that lead to a less secure device and does not recommend disabling it."),
    ("microsoft-account", "Microsoft account: apps and components that depend on it may lose functionality; Windows Update no longer offers feature updates (Windows 10 1709 and later, Windows 11)."),
];

/// Names of the sets and chains the packet-filter formats create.
pub const SET_V4: &str = "egressmap4";
pub const SET_V6: &str = "egressmap6";
pub const CHAIN: &str = "EGRESSMAP";
/// Windows Firewall rule group (what the script removes before adding, and what undoes it).
pub const FIREWALL_GROUP: &str = "egressmap";
/// Addresses per Windows Firewall rule (a rule's address list is bounded).
pub const ADDRESSES_PER_RULE: usize = 200;

/// A DNS host name: labels of letters, digits, '-' and '_', 1-63 bytes, 253 at most, lowercase.
pub fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
        })
}

/// An area id as the signatures spell them (`windows-update`): safe in a rule name.
fn is_area_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// A documented pattern as the signatures write them: a host name with `*` wildcards and
/// perhaps a path (`www.msftconnecttest.com/connecttest.txt`).
fn is_pattern(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 512
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"-_.*/".contains(&c))
}

/// `*.suffix` patterns (no other wildcard, no path) as the domain they cover.
fn wildcard_domain(p: &str) -> Option<&str> {
    let d = p.strip_prefix("*.")?;
    is_host_name(d).then_some(d)
}

/// Whether `host` is one of `domains` or under one of them (label boundaries only).
fn covered(host: &str, domains: &BTreeSet<String>) -> bool {
    let mut rest = host;
    loop {
        if domains.contains(rest) {
            return true;
        }
        match rest.split_once('.') {
            Some((_, tail)) => rest = tail,
            None => return false,
        }
    }
}

/// Addresses a block list must not hold even when a matched name pointed there: this
/// machine, the local network, multicast (a name from a packet could point anywhere).
fn is_local_or_special(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_local_v4(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => is_local_v4(&v4),
            None => {
                let s0 = a.segments()[0];
                a.is_unspecified()
                    || a.is_loopback()
                    || a.is_multicast()
                    || (s0 & 0xfe00) == 0xfc00 // unique local fc00::/7
                    || (s0 & 0xffc0) == 0xfe80 // link-local fe80::/10
            }
        },
    }
}

fn is_local_v4(a: &Ipv4Addr) -> bool {
    let o = a.octets();
    a.is_unspecified()
        || a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_multicast()
        || a.is_broadcast()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space 100.64.0.0/10
        || o[0] >= 240
}

pub struct Selection {
    /// Area ids (empty: every area).
    pub areas: Vec<String>,
    pub undocumented: bool,
}

/// What the selection covers, validated.
#[derive(Default)]
struct Picked {
    areas: Vec<String>,
    hosts: BTreeSet<String>,
    domains: BTreeSet<String>,
    patterns: BTreeSet<String>,
    /// Per selected area (report order): its destinations' server addresses.
    area_addrs: Vec<(String, BTreeSet<IpAddr>)>,
    addrs: BTreeSet<IpAddr>,
    skipped: u64,
    local_skipped: BTreeSet<IpAddr>,
    /// Wildcard patterns that are not `*.domain` (their names seen are listed exactly).
    inexpressible: BTreeSet<String>,
}

fn pick(r: &Report, sel: &Selection) -> Picked {
    let mut p = Picked::default();
    for a in &r.areas {
        if !sel.areas.is_empty() && !sel.areas.contains(&a.area) {
            continue;
        }
        p.areas.push(a.area.clone());
        let mut mine = BTreeSet::new();
        for d in &a.destinations {
            if is_host_name(&d.host) {
                p.hosts.insert(d.host.clone());
            } else {
                p.skipped += 1;
            }
            match wildcard_domain(&d.pattern) {
                Some(w) => {
                    p.domains.insert(w.to_string());
                }
                // `*.smartscreen*.microsoft.com`: no label-suffix form; its names go exactly.
                None if d.pattern.contains('*') && is_pattern(&d.pattern) => {
                    p.inexpressible.insert(d.pattern.clone());
                }
                None => {}
            }
            if is_pattern(&d.pattern) {
                p.patterns.insert(d.pattern.clone());
            } else {
                p.skipped += 1;
            }
            for s in &d.servers {
                match s.parse::<IpAddr>() {
                    Ok(ip) if is_local_or_special(&ip) => {
                        p.local_skipped.insert(ip);
                    }
                    Ok(ip) => {
                        mine.insert(ip);
                        p.addrs.insert(ip);
                    }
                    Err(_) => p.skipped += 1,
                }
            }
        }
        p.area_addrs.push((a.area.clone(), mine));
    }
    // A domain under another one adds nothing.
    let all = std::mem::take(&mut p.domains);
    p.domains = all
        .iter()
        .filter(|d| !d.split_once('.').is_some_and(|(_, up)| covered(up, &all)))
        .cloned()
        .collect();
    if sel.undocumented {
        for u in &r.undocumented {
            if is_host_name(&u.host) {
                p.hosts.insert(u.host.clone());
                p.patterns.insert(u.host.clone());
            } else {
                p.skipped += 1;
            }
        }
    }
    p
}

fn is_address_format(f: ExportFormat) -> bool {
    matches!(
        f,
        ExportFormat::Nftables
            | ExportFormat::Iptables
            | ExportFormat::Ip6tables
            | ExportFormat::Ipset
            | ExportFormat::Powershell
    )
}

fn header(out: &mut String, r: &Report, sel: &Selection, p: &Picked, f: ExportFormat) {
    // AdGuard's adblock syntax comments with '!'; every other format takes '#'.
    let c = if f == ExportFormat::Adguard { "!" } else { "#" };
    let printable = |t: &Option<String>| {
        t.as_deref()
            .filter(|t| t.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or("?")
            .to_string()
    };
    let _ = writeln!(
        out,
        "{c} egressmap export: {} areas{}, observed {} to {}",
        p.areas.len(),
        if sel.undocumented {
            " and undocumented names"
        } else {
            ""
        },
        printable(&r.first_seen),
        printable(&r.last_seen),
    );
    let _ = writeln!(out, "{c} Blocking by DNS or address is not the documented turn-off: use the page's settings where you can.");
    for (id, what) in CONSEQUENCES {
        if p.areas.iter().any(|a| a == id) {
            let _ = writeln!(out, "{c} Breaks: {what}");
        }
    }
    if p.skipped > 0 {
        let _ = writeln!(
            out,
            "{c} {} names, patterns or addresses skipped: not valid host names or addresses",
            p.skipped
        );
    }
    let domain_rules = matches!(
        f,
        ExportFormat::Dnsmasq
            | ExportFormat::Unbound
            | ExportFormat::Adguard
            | ExportFormat::PiholeRegex
    );
    if domain_rules && !p.inexpressible.is_empty() {
        let _ = writeln!(
            out,
            "{c} {} wildcard patterns are not of the form *.domain ({}): their names seen are listed exactly",
            p.inexpressible.len(),
            p.inexpressible.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
        );
    }
    if is_address_format(f) {
        let _ = writeln!(out, "{c} Addresses are those the named servers had during the capture: CDN addresses are shared with other sites and change over time.");
        if sel.undocumented {
            let _ = writeln!(out, "{c} Undocumented names carry no addresses in a report: only the documented destinations' servers are listed.");
        }
        if !p.local_skipped.is_empty() {
            let _ = writeln!(
                out,
                "{c} {} local or special addresses left out (loopback, private, link-local, multicast): blocking them would cut off this network",
                p.local_skipped.len()
            );
        }
    }
}

pub fn export(r: &Report, sel: &Selection, f: ExportFormat) -> String {
    let p = pick(r, sel);
    let mut out = String::new();
    header(&mut out, r, sel, &p, f);
    // Exact names that no wildcard domain already covers.
    let exact = || p.hosts.iter().filter(|h| !covered(h, &p.domains));
    let v4 = || p.addrs.iter().filter(|a| a.is_ipv4());
    let v6 = || p.addrs.iter().filter(|a| a.is_ipv6());
    match f {
        ExportFormat::Hosts => {
            for h in &p.hosts {
                let _ = writeln!(out, "0.0.0.0 {h}\n:: {h}");
            }
        }
        ExportFormat::Dnsmasq => {
            for d in p.domains.iter().chain(exact()) {
                let _ = writeln!(out, "address=/{d}/0.0.0.0\naddress=/{d}/::");
            }
        }
        ExportFormat::Unbound => {
            out.push_str("server:\n");
            for d in p.domains.iter().chain(exact()) {
                let _ = writeln!(out, "    local-zone: \"{d}.\" always_null");
            }
        }
        ExportFormat::Adguard => {
            // `||d^`: d and its subdomains, at label boundaries; `|h^`: exactly h.
            for d in &p.domains {
                let _ = writeln!(out, "||{d}^");
            }
            for h in exact() {
                let _ = writeln!(out, "|{h}^");
            }
        }
        ExportFormat::Pihole => {
            let _ = writeln!(
                out,
                "# Pi-hole blocks these names exactly; the {} wildcard domains are in --format pihole-regex",
                p.domains.len()
            );
            for h in &p.hosts {
                let _ = writeln!(out, "{h}");
            }
        }
        ExportFormat::PiholeRegex => {
            out.push_str("# One POSIX extended regex per line (Pi-hole regex deny list); add each, e.g. grep -v '^#' FILE | xargs pihole --regex\n");
            for d in &p.domains {
                let _ = writeln!(out, "(\\.|^){}$", d.replace('.', "\\."));
            }
            for h in exact() {
                let _ = writeln!(out, "^{}$", h.replace('.', "\\."));
            }
        }
        ExportFormat::Nftables => {
            let join = |it: &mut dyn Iterator<Item = &IpAddr>| {
                it.map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
            };
            let (e4, e6) = (join(&mut v4()), join(&mut v6()));
            // `nft -f` applies a file atomically: declaring the table (a no-op when it exists) and
            // deleting it first makes a reload replace the rules instead of adding them again.
            out.push_str(
                "table inet egressmap\ndelete table inet egressmap\ntable inet egressmap {\n",
            );
            for (name, ty, v) in [("v4", "ipv4_addr", &e4), ("v6", "ipv6_addr", &e6)] {
                let _ = writeln!(out, "    set {name} {{\n        type {ty}");
                if !v.is_empty() {
                    let _ = writeln!(out, "        elements = {{ {v} }}");
                }
                out.push_str("    }\n");
            }
            out.push_str("    chain forward {\n        type filter hook forward priority 0; policy accept;\n        ip daddr @v4 drop\n        ip6 daddr @v6 drop\n    }\n");
            out.push_str("    chain output {\n        type filter hook output priority 0; policy accept;\n        ip daddr @v4 drop\n        ip6 daddr @v6 drop\n    }\n}\n");
        }
        ExportFormat::Iptables | ExportFormat::Ip6tables => {
            let (tool, bits, addrs): (&str, u8, Vec<&IpAddr>) = if f == ExportFormat::Iptables {
                ("iptables", 32, v4().collect())
            } else {
                ("ip6tables", 128, v6().collect())
            };
            let _ = writeln!(
                out,
                "# Load with {tool}-restore --noflush FILE: it (re)fills chain {CHAIN} and leaves every other rule alone.\n\
                 # Hook the chain in once: {tool} -I OUTPUT -j {CHAIN}; {tool} -I FORWARD -j {CHAIN}"
            );
            let _ = writeln!(out, "*filter\n:{CHAIN} - [0:0]");
            for a in addrs {
                let _ = writeln!(out, "-A {CHAIN} -d {a}/{bits} -j DROP");
            }
            out.push_str("COMMIT\n");
        }
        ExportFormat::Ipset => {
            let _ = writeln!(
                out,
                "# Load with ipset restore -f FILE (again to update: each set is swapped in whole).\n\
                 # Match once: iptables -I OUTPUT -m set --match-set {SET_V4} dst -j DROP; ip6tables -I OUTPUT -m set --match-set {SET_V6} dst -j DROP"
            );
            for (set, family, addrs) in [
                (SET_V4, "inet", v4().collect::<Vec<_>>()),
                (SET_V6, "inet6", v6().collect()),
            ] {
                // A fixed maxelem, so that `create -exist` of a later load matches this one.
                let max = addrs.len().max(65_536).next_power_of_two();
                let tmp = format!("{set}-new");
                let _ = writeln!(
                    out,
                    "create {set} hash:ip family {family} maxelem {max} -exist\n\
                     create {tmp} hash:ip family {family} maxelem {max} -exist\n\
                     flush {tmp}"
                );
                for a in addrs {
                    let _ = writeln!(out, "add {tmp} {a}");
                }
                let _ = writeln!(out, "swap {tmp} {set}\ndestroy {tmp}");
            }
        }
        ExportFormat::Powershell => powershell(&mut out, r, &p),
        ExportFormat::Patterns => {
            for p in &p.patterns {
                let _ = writeln!(out, "{p}");
            }
        }
    }
    out
}

/// Windows Firewall rules: one outbound block per area and address family, at most
/// [`ADDRESSES_PER_RULE`] addresses each. Every value is a single-quoted literal (no expansion
/// in PowerShell) built only from area ids and canonical addresses; host names (validated)
/// appear in comments only. No `$` anywhere: nothing is a variable.
fn powershell(out: &mut String, r: &Report, p: &Picked) {
    let g = FIREWALL_GROUP;
    let _ = writeln!(
        out,
        "# Windows Firewall: outbound Block rules (group '{g}') for the server addresses seen.\n\
         # Run in an elevated PowerShell: powershell -ExecutionPolicy Bypass -File THIS.ps1\n\
         # Running it again replaces the rules; undo: Remove-NetFirewallRule -Group '{g}'\n\
         #Requires -RunAsAdministrator\n\
         Remove-NetFirewallRule -Group '{g}' -ErrorAction SilentlyContinue"
    );
    for (i, (area, addrs)) in p.area_addrs.iter().enumerate() {
        if addrs.is_empty() {
            continue;
        }
        let id = if is_area_id(area) {
            area.clone()
        } else {
            format!("area{}", i + 1)
        };
        let _ = writeln!(out, "# {id}:");
        if let Some(a) = r.areas.iter().find(|a| &a.area == area) {
            let names: BTreeSet<&str> = a
                .destinations
                .iter()
                .map(|d| d.host.as_str())
                .filter(|h| is_host_name(h))
                .collect();
            for n in names {
                let _ = writeln!(out, "#   {n}");
            }
        }
        for (fam, list) in [
            (
                "IPv4",
                addrs.iter().filter(|a| a.is_ipv4()).collect::<Vec<_>>(),
            ),
            ("IPv6", addrs.iter().filter(|a| a.is_ipv6()).collect()),
        ] {
            for (n, chunk) in list.chunks(ADDRESSES_PER_RULE).enumerate() {
                let list: Vec<String> = chunk.iter().map(|a| format!("'{a}'")).collect();
                let _ = writeln!(
                    out,
                    "New-NetFirewallRule -DisplayName 'egressmap {id} {fam} {}' -Group '{g}' -Direction Outbound -Action Block -Profile Any -RemoteAddress {} -ErrorAction Stop | Out-Null",
                    n + 1,
                    list.join(",")
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{Area, Destination, Undocumented};

    fn dest(host: &str, pattern: &str, servers: &[&str]) -> Destination {
        Destination {
            host: host.into(),
            pattern: pattern.into(),
            servers: servers.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn report() -> Report {
        Report {
            areas: vec![
                Area {
                    area: "windows-update".into(),
                    destinations: vec![
                        dest(
                            "a.windowsupdate.com",
                            "*.windowsupdate.com",
                            &["23.63.204.237"],
                        ),
                        dest(
                            "fe2.update.microsoft.com",
                            "fe2.update.microsoft.com",
                            &["20.1.2.3", "2620:1ec:c11::f2c5", "192.168.1.1", "::1"],
                        ),
                    ],
                    ..Default::default()
                },
                Area {
                    area: "cortana".into(),
                    destinations: vec![
                        dest("www.microsoft.com", "*.microsoft.com", &["20.1.2.3"]),
                        dest("evil'$(x).com", "*.evil'$(x).com", &["1.2.3.4'"]),
                    ],
                    ..Default::default()
                },
            ],
            undocumented: vec![Undocumented {
                host: "telemetry.example.net".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn all() -> Selection {
        Selection {
            areas: vec![],
            undocumented: true,
        }
    }

    fn body(text: &str, comment: char) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with(comment)).collect()
    }

    #[test]
    fn wildcards_are_label_suffixes_never_substrings() {
        let d: BTreeSet<String> = ["microsoft.com".to_string()].into();
        assert!(covered("microsoft.com", &d));
        assert!(covered("www.microsoft.com", &d));
        assert!(!covered("evilmicrosoft.com", &d));
        assert!(!covered("microsoft.com.evil.net", &d));
        let r = report();
        let ag = export(&r, &all(), ExportFormat::Adguard);
        assert!(ag.contains("\n||microsoft.com^\n"), "{ag}");
        assert!(ag.contains("\n|telemetry.example.net^\n"), "{ag}");
        // www. and fe2.update.microsoft.com are under the wildcard: no rules of their own.
        assert!(!ag.contains("www.microsoft.com"), "{ag}");
        assert!(!ag.contains("fe2.update"), "{ag}");
        let re = export(&r, &all(), ExportFormat::PiholeRegex);
        assert!(re.contains("\n(\\.|^)microsoft\\.com$\n"), "{re}");
        assert!(re.contains("\n^telemetry\\.example\\.net$\n"), "{re}");
        for l in body(&re, '#') {
            // Anchored at the end and at a label boundary or the start: no substring match.
            assert!(
                l.ends_with('$') && (l.starts_with('^') || l.starts_with("(\\.|^)")),
                "{l}"
            );
            let dots = l.matches('.').count();
            assert_eq!(dots, l.matches("\\.").count(), "every dot escaped: {l}");
        }
    }

    #[test]
    fn hostile_values_never_reach_any_format() {
        let r = report();
        for f in [
            ExportFormat::Hosts,
            ExportFormat::Dnsmasq,
            ExportFormat::Unbound,
            ExportFormat::Adguard,
            ExportFormat::Pihole,
            ExportFormat::PiholeRegex,
            ExportFormat::Nftables,
            ExportFormat::Iptables,
            ExportFormat::Ip6tables,
            ExportFormat::Ipset,
            ExportFormat::Powershell,
            ExportFormat::Patterns,
        ] {
            let t = export(&r, &all(), f);
            assert!(!t.contains("evil"), "{f:?}: {t}");
            assert!(
                !t.contains('$') || f == ExportFormat::PiholeRegex,
                "{f:?}: {t}"
            );
            assert!(t.contains("skipped: not valid"), "{f:?}");
        }
    }

    #[test]
    fn local_addresses_are_left_out_and_counted() {
        let r = report();
        for f in [
            ExportFormat::Nftables,
            ExportFormat::Ipset,
            ExportFormat::Iptables,
            ExportFormat::Powershell,
        ] {
            let t = export(&r, &all(), f);
            assert!(!t.contains("192.168.1.1"), "{t}");
            assert!(!t.contains("'::1'") && !t.contains(" ::1"), "{t}");
            assert!(t.contains("2 local or special addresses left out"), "{t}");
        }
        assert!(is_local_or_special(&"::ffff:10.0.0.1".parse().unwrap()));
        assert!(is_local_or_special(&"fd00::1".parse().unwrap()));
        assert!(is_local_or_special(&"fe80::1".parse().unwrap()));
        assert!(is_local_or_special(&"100.64.0.1".parse().unwrap()));
        assert!(!is_local_or_special(&"20.1.2.3".parse().unwrap()));
        assert!(!is_local_or_special(&"2620:1ec:c11::f2c5".parse().unwrap()));
    }

    #[test]
    fn address_formats_per_family() {
        let r = report();
        let v4 = export(&r, &all(), ExportFormat::Iptables);
        assert_eq!(
            body(&v4, '#'),
            [
                "*filter",
                ":EGRESSMAP - [0:0]",
                "-A EGRESSMAP -d 20.1.2.3/32 -j DROP",
                "-A EGRESSMAP -d 23.63.204.237/32 -j DROP",
                "COMMIT"
            ]
        );
        let v6 = export(&r, &all(), ExportFormat::Ip6tables);
        assert!(v6.contains("\n-A EGRESSMAP -d 2620:1ec:c11::f2c5/128 -j DROP\n"));
        assert!(!v6.contains("20.1.2.3"));
        let set = export(&r, &all(), ExportFormat::Ipset);
        assert!(set.contains("\nadd egressmap4-new 20.1.2.3\n"), "{set}");
        assert!(
            set.contains("\nadd egressmap6-new 2620:1ec:c11::f2c5\n"),
            "{set}"
        );
        assert!(set.contains("\nswap egressmap4-new egressmap4\n"), "{set}");
    }

    #[test]
    fn powershell_rules_per_area_and_family_in_chunks() {
        let mut r = report();
        let many: Vec<String> = (0..450u32)
            .map(|i| Ipv4Addr::from(0x1400_0000 + i).to_string())
            .collect();
        r.areas[1].destinations.push(Destination {
            host: "big.microsoft.com".into(),
            pattern: "big.microsoft.com".into(),
            servers: many,
            ..Default::default()
        });
        let t = export(&r, &all(), ExportFormat::Powershell);
        let rules: Vec<&str> = t
            .lines()
            .filter(|l| l.starts_with("New-NetFirewallRule"))
            .collect();
        // windows-update: v4 + v6; cortana: 451 v4 addresses in 3 rules.
        assert_eq!(rules.len(), 5, "{t}");
        assert!(rules[2].contains("'egressmap cortana IPv4 1'"));
        assert!(rules[4].contains("'egressmap cortana IPv4 3'"));
        assert_eq!(rules[2].matches("','").count(), ADDRESSES_PER_RULE - 1);
        assert!(t.contains("\n#   www.microsoft.com\n"));
    }
}
