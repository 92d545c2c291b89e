//! `egressmap export`: block lists built from what the network did (a saved report's documented
//! destinations per area, or its undocumented names), for hosts files, dnsmasq, unbound and
//! nftables, or as plain patterns. Names come from packets: only valid host names are written;
//! addresses are re-parsed; anything else is skipped and counted in the header.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;

use super::model::Report;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Hosts,
    Dnsmasq,
    Unbound,
    Nftables,
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

/// `*.suffix` patterns (no other wildcard, no path) as the domain they cover.
fn wildcard_domain(p: &str) -> Option<&str> {
    let d = p.strip_prefix("*.")?;
    is_host_name(d).then_some(d)
}

pub struct Selection {
    /// Area ids (empty: every area).
    pub areas: Vec<String>,
    pub undocumented: bool,
}

pub fn export(r: &Report, sel: &Selection, f: ExportFormat) -> String {
    let mut hosts = BTreeSet::new();
    let mut domains = BTreeSet::new();
    let mut patterns = BTreeSet::new();
    let mut addrs: BTreeSet<IpAddr> = BTreeSet::new();
    let mut skipped = 0u64;
    let mut areas = Vec::new();
    for a in &r.areas {
        if !sel.areas.is_empty() && !sel.areas.contains(&a.area) {
            continue;
        }
        areas.push(a.area.clone());
        for d in &a.destinations {
            if is_host_name(&d.host) {
                hosts.insert(d.host.clone());
            } else {
                skipped += 1;
            }
            match wildcard_domain(&d.pattern) {
                Some(w) => {
                    domains.insert(w.to_string());
                }
                None if d.pattern.starts_with("*.") => skipped += 1,
                None => {}
            }
            if d.pattern.bytes().all(|c| c.is_ascii_graphic() && c != b'#') && !d.pattern.is_empty()
            {
                patterns.insert(d.pattern.clone());
            }
            for s in &d.servers {
                match s.parse::<IpAddr>() {
                    Ok(ip) => {
                        addrs.insert(ip);
                    }
                    Err(_) => skipped += 1,
                }
            }
        }
    }
    if sel.undocumented {
        for u in &r.undocumented {
            if is_host_name(&u.host) {
                hosts.insert(u.host.clone());
                patterns.insert(u.host.clone());
            } else {
                skipped += 1;
            }
        }
    }
    let mut out = String::new();
    let c = "#";
    let _ = writeln!(
        out,
        "{c} egressmap export: {} areas{}, observed {} to {}",
        areas.len(),
        if sel.undocumented {
            " and undocumented names"
        } else {
            ""
        },
        r.first_seen
            .as_deref()
            .filter(|t| t.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or("?"),
        r.last_seen
            .as_deref()
            .filter(|t| t.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or("?")
    );
    let _ = writeln!(out, "{c} Blocking by DNS or address is not the documented turn-off: use the page's settings where you can.");
    for (id, what) in CONSEQUENCES {
        if areas.iter().any(|a| a == id) {
            let _ = writeln!(out, "{c} Breaks: {what}");
        }
    }
    if skipped > 0 {
        let _ = writeln!(
            out,
            "{c} {skipped} names, patterns or addresses skipped: not valid host names or addresses"
        );
    }
    match f {
        ExportFormat::Hosts => {
            for h in &hosts {
                let _ = writeln!(out, "0.0.0.0 {h}\n:: {h}");
            }
        }
        ExportFormat::Dnsmasq => {
            for d in &domains {
                let _ = writeln!(out, "address=/{d}/0.0.0.0\naddress=/{d}/::");
            }
            for h in hosts.iter().filter(|h| {
                !domains
                    .iter()
                    .any(|d| h.ends_with(&format!(".{d}")) || *h == d)
            }) {
                let _ = writeln!(out, "address=/{h}/0.0.0.0\naddress=/{h}/::");
            }
        }
        ExportFormat::Unbound => {
            out.push_str("server:\n");
            for d in &domains {
                let _ = writeln!(out, "    local-zone: \"{d}.\" always_null");
            }
            for h in hosts.iter().filter(|h| {
                !domains
                    .iter()
                    .any(|d| h.ends_with(&format!(".{d}")) || *h == d)
            }) {
                let _ = writeln!(out, "    local-zone: \"{h}.\" always_null");
            }
        }
        ExportFormat::Nftables => {
            let v4: Vec<String> = addrs
                .iter()
                .filter(|a| a.is_ipv4())
                .map(|a| a.to_string())
                .collect();
            let v6: Vec<String> = addrs
                .iter()
                .filter(|a| a.is_ipv6())
                .map(|a| a.to_string())
                .collect();
            out.push_str("table inet egressmap {\n");
            for (name, ty, v) in [("v4", "ipv4_addr", &v4), ("v6", "ipv6_addr", &v6)] {
                let _ = writeln!(out, "    set {name} {{\n        type {ty}");
                if !v.is_empty() {
                    let _ = writeln!(out, "        elements = {{ {} }}", v.join(", "));
                }
                out.push_str("    }\n");
            }
            out.push_str("    chain forward {\n        type filter hook forward priority 0; policy accept;\n        ip daddr @v4 drop\n        ip6 daddr @v6 drop\n    }\n");
            out.push_str("    chain output {\n        type filter hook output priority 0; policy accept;\n        ip daddr @v4 drop\n        ip6 daddr @v6 drop\n    }\n}\n");
        }
        ExportFormat::Patterns => {
            for p in &patterns {
                let _ = writeln!(out, "{p}");
            }
        }
    }
    out
}
