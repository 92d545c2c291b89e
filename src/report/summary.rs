//! The short human summary `audit` prints when no other output is asked for.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::flow::{Flow, HostSource};
use crate::report::render::clip;
use crate::report::render::escape::term;

/// Distinct hosts counted for "top hosts" at most; the rest are summed as "other".
const MAX_HOSTS: usize = 100_000;

#[derive(Default)]
pub struct Summary {
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    pub public_flows: u64,
    pub by_source: [u64; 9],
    hosts: HashMap<Arc<str>, (u64, u64), ahash::RandomState>,
    pub hosts_overflow: u64,
    /// Names flows could not keep (`--max-names-per-flow`).
    pub names_dropped: u64,
}

fn source_index(s: Option<HostSource>) -> usize {
    match s {
        Some(HostSource::TlsSni) => 0,
        Some(HostSource::HttpHost) => 1,
        Some(HostSource::QuicSni) => 2,
        Some(HostSource::Dns) => 3,
        Some(HostSource::DnsQuery) => 4,
        Some(HostSource::Socks) => 5,
        Some(HostSource::HttpConnect) => 6,
        Some(HostSource::DnsOtherClient) => 7,
        None => 8,
    }
}

impl Summary {
    pub fn add(&mut self, f: &Flow) {
        self.flows += 1;
        self.names_dropped += u64::from(f.extra().names_dropped);
        let packets = f.up.packets + f.down.packets;
        let bytes = f.up.bytes + f.down.bytes;
        self.packets += packets;
        self.bytes += bytes;
        if crate::decode::addr::is_public(&f.server().0) {
            self.public_flows += 1;
        }
        self.by_source[source_index(f.host_source)] += 1;
        if let Some(h) = &f.host {
            if let Some(e) = self.hosts.get_mut(h) {
                e.0 += 1;
                e.1 += bytes;
            } else if self.hosts.len() < MAX_HOSTS {
                self.hosts.insert(h.clone(), (1, bytes));
            } else {
                self.hosts_overflow += 1;
            }
        }
    }

    /// Hosts by flow count, then bytes, then name.
    pub fn top_hosts(&self, n: usize) -> Vec<(&str, u64, u64)> {
        let mut v: Vec<(&str, u64, u64)> = self
            .hosts
            .iter()
            .map(|(h, (f, b))| (&**h, *f, *b))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(b.0)));
        v.truncate(n);
        v
    }

    /// How flows got their names; the top hosts too with `full`. Lines fit `width` columns
    /// like the table's (names escaped for the terminal first, then cut with an ellipsis).
    pub fn render_flows(&self, out: &mut String, full: bool, width: usize) {
        let width = width.max(60);
        let named: u64 = self.by_source[..8].iter().sum();
        let head = format!(
            "flows: {} ({} to public addresses), named {} ({:.1}%)",
            self.flows,
            self.public_flows,
            named,
            if self.flows > 0 {
                100.0 * named as f64 / self.flows as f64
            } else {
                0.0
            }
        );
        let _ = writeln!(out, "{}", clip(&head, width));
        let labels = [
            "tls-sni",
            "http-host",
            "quic-sni",
            "dns",
            "dns-query",
            "socks",
            "http-connect",
            "dns-other-client",
            "unnamed",
        ];
        for (l, c) in labels.iter().zip(self.by_source.iter()) {
            let _ = writeln!(out, "  {l:<16} {c:>10}");
        }
        let top = self.top_hosts(if full { 100 } else { 0 });
        if !top.is_empty() {
            let _ = writeln!(out, "top hosts (flows, bytes):");
            for (h, f, b) in top {
                let line = format!("  {f:>8} {b:>14}  {}", term(h));
                let _ = writeln!(out, "{}", clip(&line, width));
            }
        }
    }
}
