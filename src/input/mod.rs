//! Logs of other engines as `audit` input: Zeek (`conn.log` joined with `ssl`, `http`, `dns` and
//! `quic` logs on `uid`; TSV or JSON) and Suricata (`eve.json`), plain or gzip, files or
//! directories of rotated logs. Detected from the bytes, like pcap and pcapng.
//!
//! Readers turn log records into the same [`Flow`]s the engine produces, so the report, flow log,
//! matcher and guesser see no difference. What a log does not record (ECH, VLANs for Zeek, the
//! packet count of the input) is listed as unknown in the report, never invented as zero.
//! DNS answers from the logs feed the same passive [`Resolver`] the engine uses, in time order,
//! so a flow without SNI/Host is named by the answer seen before it, exactly as from a pcap.

pub mod eve;
pub mod lines;
pub mod time;
pub mod zeek;
pub mod zeek_write;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::capture::{CaptureError, CaptureErrorKind, CaptureStats, FileOutcome, Nanos};
use crate::decode::Vlans;
use crate::flow::{Counters, Flow, FlowKey, HostSource, TCP, UDP};
use crate::proto::App;
use crate::resolve::{Resolver, ResolverConfig};

/// What an input file holds, from its first bytes (after gzip decompression).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Zeek ASCII (TSV with `#fields`, or `zeek-cut -m` style with a plain header line).
    ZeekTsv,
    /// Zeek JSON lines (`LogAscii::use_json`).
    ZeekJson,
    /// Suricata EVE JSON lines.
    Eve,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::ZeekTsv => "zeek",
            LogFormat::ZeekJson => "zeek-json",
            LogFormat::Eve => "suricata-eve",
        }
    }
}

/// Fields no log of this kind records, so the report marks them unknown.
pub fn unknown_fields(f: LogFormat) -> &'static [&'static str] {
    match f {
        // Zeek's conn.log has VLANs only with a policy script; neither engine reports ECH.
        LogFormat::ZeekTsv | LogFormat::ZeekJson => {
            &["ech", "inferred_host", "vlan", "packets_read"]
        }
        LogFormat::Eve => &["ech", "inferred_host", "packets_read"],
    }
}

/// Sniff `path`: `Some(format)` for a log we read, `None` for anything else (a pcap, say).
pub fn sniff(path: &Path) -> Option<LogFormat> {
    // A pipe (`<(zcat x)`, a named FIFO) can be read once: sniffing it would eat the records
    // the capture reader needs. Pipes are read as captures.
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return None;
    }
    let mut r = lines::LineReader::open(path).ok()?;
    let mut header_lines = 0;
    while let Some(line) = r.next_line() {
        let line = line.ok()?;
        let t = trim(line);
        if t.is_empty() {
            continue;
        }
        if t.starts_with(b"#separator") || t.starts_with(b"#fields") || t.starts_with(b"#path") {
            return Some(LogFormat::ZeekTsv);
        }
        if t.starts_with(b"#") {
            header_lines += 1;
            if header_lines > 16 {
                return None;
            }
            continue;
        }
        if t.first() == Some(&b'{') {
            let v: serde_json::Value = serde_json::from_slice(t).ok()?;
            let o = v.as_object()?;
            if o.contains_key("event_type") {
                return Some(LogFormat::Eve);
            }
            if o.contains_key("uid") || o.contains_key("_path") {
                return Some(LogFormat::ZeekJson);
            }
            return None;
        }
        // `zeek-cut -m` output: a header line of field names, one of them `uid`.
        let is_header = t.split(|&b| b == b'\t').any(|f| f == b"uid")
            && t.iter().all(|&b| b == b'\t' || b.is_ascii_graphic());
        return is_header.then_some(LogFormat::ZeekTsv);
    }
    None
}

/// Fields unknown for these inputs: the union over the formats of their files.
pub fn unknown_for(paths: &[PathBuf]) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = Vec::new();
    for p in expand(paths) {
        if let Some(f) = sniff(&p) {
            for x in unknown_fields(f) {
                if !v.contains(x) {
                    v.push(x);
                }
            }
        }
    }
    v
}

/// Whether `audit` should read these inputs as logs: any directory, or a file that sniffs as one.
pub fn is_log_input(paths: &[PathBuf]) -> bool {
    paths.iter().any(|p| p.is_dir() || sniff(p).is_some())
}

/// Files of a directory tree (depth-limited, sorted by path, so rotated logs come in order).
pub fn expand(paths: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            out.push(dir.to_path_buf());
            return;
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                if depth < 4 {
                    walk(&p, depth + 1, out);
                }
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, 0, &mut out);
        } else {
            out.push(p.clone());
        }
    }
    out
}

/// One connection as a log describes it. `None`: the log did not say.
#[derive(Clone, Debug, Default)]
pub struct LogConn {
    pub uid: String,
    pub ts: Option<Nanos>,
    pub end: Option<Nanos>,
    pub proto: Option<u8>,
    pub client: Option<(IpAddr, u16)>,
    pub server: Option<(IpAddr, u16)>,
    pub up: Option<Counters>,
    pub down: Option<Counters>,
    pub app: Option<App>,
    pub vlans: Vlans,
    /// Names the flow itself carried, in log order (SNI, Host, DNS query names).
    pub names: Vec<(String, HostSource)>,
    pub http_path: Option<String>,
    pub quic_version: Option<u32>,
    /// The client's link-layer address, when the log records it (Zeek's `orig_l2_addr` with
    /// the mac-logging policy; eve `ether.src_macs` with `ethernet: yes`).
    pub client_mac: Option<crate::flow::identity::Mac>,
    /// DNS messages per question name, first-seen order: what the report's DNS view sums, as
    /// the engine counts a flow's ([`Flow::count_dns`]).
    pub dns: Vec<LogDns>,
    /// Messages about names past [`crate::flow::DNS_COUNTED_PER_FLOW`] (never dropped silently).
    pub dns_uncounted: u32,
    /// Index of the input file the record came from.
    pub file: u16,
}

/// One question name's DNS messages in a connection: queries, and responses with at least one
/// answer record (a response without answers counts in neither, as from packets).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogDns {
    pub name: String,
    pub queries: u32,
    pub answers: u32,
}

impl LogConn {
    /// Count `messages` DNS messages about `name`: `queries` of them queries, `answers`
    /// answered responses. Past the engine's per-flow bound of distinct names, the messages
    /// are counted in `dns_uncounted`.
    pub fn count_dns(&mut self, name: &str, queries: u32, answers: u32, messages: u32) {
        if let Some(d) = self.dns.iter_mut().rev().find(|d| d.name == name) {
            d.queries = d.queries.saturating_add(queries);
            d.answers = d.answers.saturating_add(answers);
        } else if self.dns.len() < crate::flow::DNS_COUNTED_PER_FLOW {
            self.dns.push(LogDns {
                name: name.to_string(),
                queries,
                answers,
            });
        } else {
            self.dns_uncounted = self.dns_uncounted.saturating_add(messages);
        }
    }
}

/// A DNS answer from a log: what `client` was told `query` resolves to.
#[derive(Clone, Debug, Default)]
pub struct LogAnswer {
    pub ts: Option<Nanos>,
    pub client: Option<IpAddr>,
    /// The resolver's port (answers feed the resolver only from port 53, as in the engine).
    pub server_port: Option<u16>,
    pub query: String,
    pub cnames: Vec<String>,
    pub addrs: Vec<(IpAddr, u32)>,
}

/// Everything read from one set of logs, before joining into flows.
#[derive(Debug, Default)]
pub struct LogSet {
    pub conns: Vec<LogConn>,
    pub answers: Vec<LogAnswer>,
    /// Protocol-log records whose uid has no conn record.
    pub unjoined: u64,
    /// Conn records without both endpoints (a `zeek-cut` subset): not flows.
    pub without_endpoints: u64,
    /// Conn records without packet/byte counts (counted as flows, bytes unknown).
    pub without_counts: u64,
    /// Records without a usable timestamp (masked, or malformed).
    pub without_time: u64,
    /// Lines that were not records of their log (malformed, or too long).
    pub bad_lines: u64,
    /// Names not kept: not host names (IP literals, control bytes, too long).
    pub bad_names: u64,
    /// Records not held because the set reached its bound.
    pub over_bound: u64,
    /// DNS records counted in the DNS view (dns.log rows, eve `dns` events), and how many of
    /// them carry a response: none at all means the view is unknown, not empty.
    pub dns_records: u64,
    pub dns_responses: u64,
}

/// Name of an attacker-chosen value, normalised like the engine's (None: not a host name).
pub fn host_name(raw: &str) -> Option<String> {
    let n = crate::proto::normalize_host(raw.as_bytes())?;
    (!crate::proto::is_ip_literal(&n)).then_some(n)
}

pub fn proto_number(s: &str) -> Option<u8> {
    match s.to_ascii_lowercase().as_str() {
        "tcp" => Some(TCP),
        "udp" => Some(UDP),
        "icmp" => Some(1),
        "ipv6-icmp" | "icmp6" | "icmpv6" => Some(58),
        other => other.parse().ok(),
    }
}

pub fn app_of(service: &str) -> Option<App> {
    // Zeek lists several (`http,ssl,websocket`); the first we know, TLS before HTTP (a CONNECT
    // tunnel or STARTTLS is still a TLS flow by its first flight's name).
    let mut best = None;
    for s in service.split(',') {
        let a = match s.trim().to_ascii_lowercase().as_str() {
            "ssl" | "tls" => Some(App::Tls),
            "http" => Some(App::Http),
            "dns" => Some(App::Dns),
            "quic" => Some(App::Quic),
            _ => None,
        };
        if a == Some(App::Tls) {
            return a;
        }
        best = best.or(a);
    }
    best
}

/// A MAC as logs write it (`00:15:5d:0a:00:0a`); None for anything else.
pub fn mac(s: &str) -> Option<crate::flow::identity::Mac> {
    let mut m = [0u8; 6];
    let mut parts = s.trim().split([':', '-']);
    for b in &mut m {
        let p = parts.next()?;
        // Two hex digits exactly (`from_str_radix` alone takes a sign).
        if p.len() != 2 || !p.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(m)
}

/// QUIC version as logs write it: `1` (v1), `6b3343cf` (v2), `ff00001d` (draft 29), as the
/// wire value; names that are not numbers (gQUIC `Q046`) stay unknown.
pub fn quic_version(v: &str) -> Option<u32> {
    let v = v.trim().trim_start_matches("0x");
    match v {
        "1" => Some(1),
        "2" | "quicv2" => Some(0x6b33_43cf),
        _ if v.starts_with("draft-") => v
            .strip_prefix("draft-")
            .and_then(|d| d.parse::<u8>().ok())
            .map(|d| 0xff00_0000 | u32::from(d)),
        _ if v.len() == 8 => u32::from_str_radix(v, 16).ok(),
        _ => None,
    }
}

/// Join limits and resolver settings for turning a set into flows.
#[derive(Clone, Debug)]
pub struct JoinConfig {
    pub resolver: ResolverConfig,
    pub max_names: usize,
    /// Records held per set at most (a set of logs is joined in memory).
    pub max_records: usize,
}

impl Default for JoinConfig {
    fn default() -> Self {
        JoinConfig {
            resolver: ResolverConfig::default(),
            max_names: crate::flow::MAX_NAMES_PER_FLOW,
            max_records: 4_000_000,
        }
    }
}

/// Build flows from a joined set, naming unnamed flows from the set's DNS answers (time order;
/// the resolver carries over to the next set). Flows come out ordered by end, then start.
pub fn to_flows(set: &LogSet, resolver: &mut Resolver, cfg: &JoinConfig) -> Vec<Flow> {
    // Events in time order: answers before flows that start at the same instant (an answer must
    // precede the connection it names). Records without time never meet the resolver.
    let mut events: Vec<(Nanos, u8, usize)> =
        Vec::with_capacity(set.conns.len() + set.answers.len());
    for (i, a) in set.answers.iter().enumerate() {
        if let Some(ts) = a.ts {
            events.push((ts, 0, i));
        }
    }
    for (i, c) in set.conns.iter().enumerate() {
        events.push((c.ts.unwrap_or(0), if c.ts.is_some() { 1 } else { 2 }, i));
    }
    events.sort_unstable();
    let mut interned: HashMap<String, Arc<str>> = HashMap::new();
    let mut intern = |s: &str| -> Arc<str> {
        if let Some(a) = interned.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        if interned.len() < 1_000_000 {
            interned.insert(s.to_string(), a.clone());
        }
        a
    };
    let mut flows = Vec::with_capacity(set.conns.len());
    for (ts, kind, i) in events {
        if kind == 0 {
            let Some(a) = set.answers.get(i) else {
                continue;
            };
            if a.server_port.is_some_and(|p| p != 53) || a.addrs.is_empty() {
                continue;
            }
            let q = intern(&a.query);
            let chain: Arc<[Arc<str>]> = a.cnames.iter().take(16).map(|c| intern(c)).collect();
            let Some(client) = a.client else { continue };
            for (ip, ttl) in &a.addrs {
                resolver.insert(client, *ip, q.clone(), chain.clone(), *ttl, ts);
            }
            continue;
        }
        let Some(c) = set.conns.get(i) else { continue };
        let (Some(client), Some(server)) = (c.client, c.server) else {
            continue;
        };
        let mut f = new_flow(c, client, server, cfg);
        for (n, src) in &c.names {
            let n = intern(n);
            f.set_host(n, *src);
        }
        for d in &c.dns {
            let n = intern(&d.name);
            // A name only in unanswered responses is still listed (with no counts).
            if d.queries == 0 && d.answers == 0 {
                f.count_dns(&n, true, false);
            }
            for _ in 0..d.queries {
                f.count_dns(&n, false, false);
            }
            for _ in 0..d.answers {
                f.count_dns(&n, true, true);
            }
        }
        if c.dns_uncounted > 0 {
            let x = f.extra_mut();
            x.dns_uncounted = x.dns_uncounted.saturating_add(c.dns_uncounted);
        }
        if f.host.is_none() && kind == 1 {
            if let Some(b) = resolver.lookup(client.0, server.0, ts) {
                let source = match b.source {
                    crate::resolve::BindingSource::SameClient => HostSource::Dns,
                    crate::resolve::BindingSource::OtherClient => HostSource::DnsOtherClient,
                };
                let (name, cnames) = (b.resolution.name, b.resolution.cnames);
                f.set_host(name, source);
                if !cnames.is_empty() {
                    f.extra_mut().cnames = Some(cnames);
                }
            }
        }
        flows.push(f);
    }
    flows.sort_by(|a, b| {
        (a.last_seen, a.first_seen, a.key).cmp(&(b.last_seen, b.first_seen, b.key))
    });
    flows
}

fn new_flow(c: &LogConn, client: (IpAddr, u16), server: (IpAddr, u16), cfg: &JoinConfig) -> Flow {
    let protocol = c.proto.unwrap_or(0);
    let client_is_lo = client <= server;
    let (lo, hi) = if client_is_lo {
        (client, server)
    } else {
        (server, client)
    };
    let first = c.ts.unwrap_or(0);
    // The engine's flow, as a log record describes it (no packet exists, so not through the
    // flow table).
    let key = FlowKey {
        protocol,
        lo,
        hi,
        vlans: c.vlans,
    };
    let mut f = Flow::new(key, client_is_lo, first, c.file);
    f.last_seen = c.end.unwrap_or(first).max(first);
    f.up = c.up.unwrap_or_default();
    f.down = c.down.unwrap_or_default();
    f.app = c.app;
    f.names_cap = cfg.max_names.clamp(1, crate::flow::NAMES_PER_FLOW_LIMIT) as u8;
    f.tcp = crate::flow::TcpState::Closed;
    f.inspect = crate::flow::reassembly::Inspect::Done;
    if c.quic_version.is_some() || c.http_path.is_some() {
        let x = f.extra_mut();
        x.quic_version = c.quic_version;
        x.http_path = c.http_path.clone().map(String::into_boxed_str);
    }
    if c.up.is_none() || c.down.is_none() {
        f.extra_mut().counts_unknown = true;
    }
    // The client's MAC, as the engine takes it from the flow's first frame from the client.
    if let Some(m) = c.client_mac {
        let addr = client.0;
        if crate::proto::identity::usable_mac(&m) && crate::proto::identity::usable_addr(&addr) {
            f.add_identity(crate::flow::identity::Identity {
                kind: crate::flow::identity::IdentityKind::Link,
                name: None,
                mac: Some(m),
                addr: Some(addr),
                at: first,
            });
        }
    }
    f
}

/// Outcome of reading log inputs: the same per-file outcomes `run_files` gives, the formats
/// seen, and the join counters (for warnings).
pub struct LogRun {
    pub files: Vec<FileOutcome>,
    /// Format of each file of `files` (None: not a log).
    pub file_formats: Vec<Option<LogFormat>>,
    pub formats: Vec<LogFormat>,
    pub warnings: Vec<String>,
    pub resolver: Resolver,
    /// Report fields unknown because of what these logs hold (see [`data_unknown`]), beyond
    /// those no log of their format records ([`unknown_fields`]).
    pub unknown: Vec<&'static str>,
}

/// Read log inputs as one dataset and hand every flow to `on_flow` with its file name.
pub fn run_logs(
    paths: &[PathBuf],
    cfg: &JoinConfig,
    on_flow: &mut dyn FnMut(&Flow, &str),
) -> LogRun {
    let files = expand(paths);
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let mut outcomes: Vec<FileOutcome> = Vec::new();
    let mut formats: Vec<LogFormat> = Vec::new();
    let mut zeek_files: Vec<(usize, zeek::LogPath, LogFormat)> = Vec::new();
    let mut eve_files: Vec<usize> = Vec::new();
    let mut file_formats = Vec::with_capacity(files.len());
    for (i, p) in files.iter().enumerate() {
        let fmt = sniff(p);
        file_formats.push(fmt);
        match fmt {
            Some(LogFormat::Eve) => eve_files.push(i),
            Some(f) => zeek_files.push((i, zeek::path_of(p, f), f)),
            None => {}
        }
        if let Some(f) = fmt {
            if !formats.contains(&f) {
                formats.push(f);
            }
        }
        outcomes.push(FileOutcome {
            path: p.clone(),
            name: names.get(i).cloned().unwrap_or_default(),
            stats: CaptureStats::default(),
            error: None,
            failed: false,
            seen: None,
        });
        if fmt.is_none() {
            let kind = match std::fs::metadata(p) {
                Err(e) => CaptureErrorKind::Io(e.to_string()),
                Ok(m) if m.len() == 0 => CaptureErrorKind::Empty,
                Ok(_) => CaptureErrorKind::UnknownFormat("not a Zeek or Suricata log".to_string()),
            };
            if let Some(o) = outcomes.last_mut() {
                o.error = Some(CaptureError {
                    file: p.clone(),
                    record: 0,
                    offset: 0,
                    kind,
                });
                o.failed = true;
            }
        }
    }
    let mut resolver = Resolver::new(cfg.resolver.clone());
    let mut totals = LogSet::default();
    // Flows (records with both endpoints), how many of them carried counts, a client MAC.
    let (mut flows, mut with_counts, mut with_mac) = (0u64, 0u64, 0u64);
    let mut emit = |set: LogSet, resolver: &mut Resolver, totals: &mut LogSet| {
        for c in set
            .conns
            .iter()
            .filter(|c| c.client.is_some() && c.server.is_some())
        {
            flows += 1;
            with_counts += u64::from(c.up.is_some() && c.down.is_some());
            with_mac += u64::from(c.client_mac.is_some());
        }
        for f in to_flows(&set, resolver, cfg) {
            let name = names
                .get(usize::from(f.file))
                .map(String::as_str)
                .unwrap_or("");
            on_flow(&f, name);
        }
        totals.unjoined += set.unjoined;
        totals.without_endpoints += set.without_endpoints;
        totals.without_counts += set.without_counts;
        totals.without_time += set.without_time;
        totals.bad_lines += set.bad_lines;
        totals.bad_names += set.bad_names;
        totals.over_bound += set.over_bound;
        totals.dns_records += set.dns_records;
        totals.dns_responses += set.dns_responses;
    };
    // Zeek: one set per rotation interval (directory and file-name suffix), in name order.
    for group in zeek::group_sets(&files, &zeek_files) {
        let mut zs = zeek::ZeekSet::default();
        for (i, lp, fmt) in group {
            let Some(p) = files.get(i) else { continue };
            let r = zeek::read_file(
                p,
                lp,
                fmt,
                u16::try_from(i).unwrap_or(u16::MAX),
                cfg,
                &mut zs,
            );
            record_outcome(&mut outcomes, i, p, r);
        }
        emit(zeek::join(zs), &mut resolver, &mut totals);
    }
    // Suricata: all eve files are one set (a flow's events may straddle a rotation).
    if !eve_files.is_empty() {
        let mut st = eve::EveState::default();
        for &i in &eve_files {
            let Some(p) = files.get(i) else { continue };
            let r = eve::read_file(p, u16::try_from(i).unwrap_or(u16::MAX), cfg, &mut st);
            record_outcome(&mut outcomes, i, p, r);
        }
        emit(st.finish(), &mut resolver, &mut totals);
    }
    let mut warnings = Vec::new();
    let t = &totals;
    for (n, what) in [
        (
            t.without_endpoints,
            "log records without both endpoints (not flows; a zeek-cut subset?)",
        ),
        (
            t.without_counts,
            "log flows without packet/byte counts (bytes unknown, counted as 0)",
        ),
        (
            t.without_time,
            "log records without a usable timestamp (time unknown; not named from DNS)",
        ),
        (
            t.unjoined,
            "protocol log records whose uid/flow_id has no connection record",
        ),
        (
            t.bad_lines,
            "log lines that could not be read (malformed, or longer than 1 MiB)",
        ),
        (
            t.bad_names,
            "names in logs that are not host names (IP literals, control bytes, too long)",
        ),
        (
            t.over_bound,
            "log records not held: a set of logs exceeded the join bound (--max-flows x 8)",
        ),
    ] {
        if n > 0 {
            warnings.push(format!("{n} {what}"));
        }
    }
    if formats.contains(&LogFormat::Eve) {
        warnings.push(
            "Suricata counts bytes with the link-layer header: IP-layer bytes are taken as bytes - 14 per packet (- 4 per VLAN tag), exact for untruncated Ethernet".to_string(),
        );
    }
    LogRun {
        files: outcomes,
        file_formats,
        formats,
        warnings,
        resolver,
        unknown: data_unknown(&totals, flows, with_counts, with_mac),
    }
}

/// Report fields unknown for these logs beyond the flow log's ([`unknown_fields`]): the DNS
/// view's ([`dns_unknown`]); packets and bytes when no flow carried counts (a `zeek-cut`
/// subset: some flows without counts are a warning instead); the machines' MAC unless some
/// record carried one (Zeek's mac-logging, eve's `ethernet: yes`), and their names, which no
/// log we read records (they come from DHCP and NetBIOS).
pub fn data_unknown(t: &LogSet, flows: u64, with_counts: u64, with_mac: u64) -> Vec<&'static str> {
    let mut v = dns_unknown(t);
    if flows > 0 && with_counts == 0 {
        v.extend(["packets", "bytes"]);
    }
    if with_mac == 0 {
        v.push("clients.mac");
    }
    v.push("clients.name");
    v
}

/// What the report's DNS view cannot know from these logs: all of it when they hold no DNS
/// record (no dns.log, or eve without `dns` events: DNS logging off), its answers when no
/// record carries a response (Suricata's `responses: no`, a one-way tap).
pub fn dns_unknown(t: &LogSet) -> Vec<&'static str> {
    if t.dns_records == 0 {
        vec!["dns"]
    } else if t.dns_responses == 0 {
        vec!["dns.answers"]
    } else {
        Vec::new()
    }
}

/// The joined records of one set of Zeek logs (before DNS naming), for tests and tools. Fails
/// on the first file that is not a Zeek log or cannot be read.
pub fn read_zeek_set(paths: &[PathBuf], cfg: &JoinConfig) -> Result<LogSet, String> {
    let mut zs = zeek::ZeekSet::default();
    for (i, p) in expand(paths).iter().enumerate() {
        let fmt = match sniff(p) {
            Some(f @ (LogFormat::ZeekTsv | LogFormat::ZeekJson)) => f,
            _ => return Err(format!("{}: not a Zeek log", p.display())),
        };
        let lp = zeek::path_of(p, fmt);
        zeek::read_file(
            p,
            lp,
            fmt,
            u16::try_from(i).unwrap_or(u16::MAX),
            cfg,
            &mut zs,
        )
        .map_err(|(n, off, k)| format!("{}: record {}, offset {off}: {k:?}", p.display(), n + 1))?;
    }
    Ok(zeek::join(zs))
}

/// Every reader over the same bytes (as each Zeek log, as Zeek JSON, as EVE), joined and turned
/// into flows: what the fuzz target and property test drive. Returns the flows built.
pub fn parse_bytes(data: &[u8]) -> usize {
    let cfg = JoinConfig {
        max_records: 10_000,
        ..Default::default()
    };
    let reader = || lines::LineReader::from_reader(Box::new(std::io::Cursor::new(data.to_vec())));
    let mut resolver = Resolver::new(cfg.resolver.clone());
    let mut n = 0;
    for fmt in [LogFormat::ZeekTsv, LogFormat::ZeekJson] {
        let mut zs = zeek::ZeekSet::default();
        for lp in [
            zeek::LogPath::Conn,
            zeek::LogPath::Dns,
            zeek::LogPath::Http,
            zeek::LogPath::Quic,
            zeek::LogPath::Ssl,
        ] {
            if let Ok(r) = reader() {
                let _ = zeek::read_lines(r, lp, fmt, 0, &cfg, &mut zs);
            }
        }
        n += to_flows(&zeek::join(zs), &mut resolver, &cfg).len();
    }
    let mut st = eve::EveState::default();
    if let Ok(r) = reader() {
        let _ = eve::read_lines(r, 0, &cfg, &mut st);
    }
    n + to_flows(&st.finish(), &mut resolver, &cfg).len()
}

fn record_outcome(
    outcomes: &mut [FileOutcome],
    i: usize,
    p: &Path,
    r: Result<u64, (u64, u64, CaptureErrorKind)>,
) {
    let Some(o) = outcomes.get_mut(i) else { return };
    match r {
        Ok(records) => o.stats.records = records,
        Err((records, offset, kind)) => {
            o.stats.records = records;
            o.failed = records == 0 && kind.is_fatal_at_start();
            o.error = Some(CaptureError {
                file: p.to_path_buf(),
                record: records + 1,
                offset,
                kind,
            });
        }
    }
}

pub(crate) fn trim(mut b: &[u8]) -> &[u8] {
    while let [f, rest @ ..] = b {
        if f.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., l] = b {
        if l.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONN_HEAD: &str = "#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\n";

    #[test]
    fn conn_row_becomes_a_flow_with_its_counts() {
        let text = format!(
            "{CONN_HEAD}1700000000.5\tCa\t10.0.0.5\t49712\t13.107.4.52\t443\ttcp\tssl\t1.25\t12\t1820\t10\t5400\n"
        );
        let mut zs = zeek::ZeekSet::default();
        let r = lines::LineReader::from_reader(Box::new(std::io::Cursor::new(text.into_bytes())))
            .unwrap();
        let cfg = JoinConfig::default();
        assert_eq!(
            zeek::read_lines(r, zeek::LogPath::Conn, LogFormat::ZeekTsv, 0, &cfg, &mut zs),
            Ok(1)
        );
        let set = zeek::join(zs);
        let mut res = Resolver::new(cfg.resolver.clone());
        let f = to_flows(&set, &mut res, &cfg);
        assert_eq!(f.len(), 1);
        let f = &f[0];
        assert_eq!(
            (f.up.packets, f.up.bytes, f.down.packets, f.down.bytes),
            (12, 1820, 10, 5400)
        );
        assert_eq!(f.first_seen, 1_700_000_000_500_000_000);
        assert_eq!(f.last_seen, 1_700_000_001_750_000_000);
        assert_eq!(f.app, Some(App::Tls));
        assert_eq!(f.server().1, 443);
    }

    fn reader(text: &str) -> lines::LineReader {
        lines::LineReader::from_reader(Box::new(std::io::Cursor::new(text.as_bytes().to_vec())))
            .unwrap()
    }

    /// (name, queries, answers) a set's flows give the DNS view, and the set's DNS unknowns.
    fn dns_of(set: &LogSet) -> (Vec<(String, u32, u32)>, Vec<&'static str>) {
        let cfg = JoinConfig::default();
        let mut res = Resolver::new(cfg.resolver.clone());
        let mut v = Vec::new();
        for f in to_flows(set, &mut res, &cfg) {
            for c in &f.extra().dns {
                v.push((c.name.to_string(), c.queries, c.answers));
            }
        }
        (v, dns_unknown(set))
    }

    #[test]
    fn macs_as_logs_write_them() {
        assert_eq!(
            mac("00:15:5d:0a:00:0A"),
            Some([0, 0x15, 0x5d, 0x0a, 0, 0x0a])
        );
        assert_eq!(
            mac("00-15-5d-0a-00-0a"),
            Some([0, 0x15, 0x5d, 0x0a, 0, 0x0a])
        );
        for bad in [
            "",
            "-",
            "00:15:5d:0a:00",
            "00:15:5d:0a:00:0a:01",
            "+0:15:5d:0a:00:0a",
            "0:15:5d:0a:00:0a0",
        ] {
            assert_eq!(mac(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn eve_dns_events_count_queries_and_answered_responses() {
        let ev = |ty: &str, name: &str, extra: &str| {
            format!("{{\"event_type\":\"dns\",\"flow_id\":7,\"src_ip\":\"10.0.0.5\",\"src_port\":5000,\"dest_ip\":\"10.0.0.1\",\"dest_port\":53,\"dns\":{{\"type\":\"{ty}\",\"rrname\":\"{name}\"{extra}}}}}\n")
        };
        let flow = "{\"event_type\":\"flow\",\"flow_id\":7,\"src_ip\":\"10.0.0.5\",\"src_port\":5000,\"dest_ip\":\"10.0.0.1\",\"dest_port\":53,\"proto\":\"UDP\",\"flow\":{\"pkts_toserver\":4,\"bytes_toserver\":400,\"pkts_toclient\":3,\"bytes_toclient\":500}}\n";
        let detailed = ",\"answers\":[{\"rrname\":\"a.example\",\"rrtype\":\"A\",\"ttl\":60,\"rdata\":\"192.0.2.1\"}]";
        let text = [
            ev("query", "A.Example.", ""),
            ev("answer", "a.example", detailed),
            ev("query", "a.example", ""),
            // NXDOMAIN: a response without answer records counts in neither.
            ev("answer", "a.example", ",\"rcode\":\"NXDOMAIN\""),
            ev("query", "b.example", ""),
            ev(
                "answer",
                "b.example",
                ",\"grouped\":{\"A\":[\"192.0.2.2\"]}",
            ),
            // Only a response nobody was seen asking, unanswered: listed, with no counts.
            ev("answer", "c.example", ",\"grouped\":{}"),
            flow.to_string(),
        ]
        .concat();
        let cfg = JoinConfig::default();
        let mut st = eve::EveState::default();
        assert_eq!(eve::read_lines(reader(&text), 0, &cfg, &mut st), Ok(8));
        let set = st.finish();
        assert_eq!((set.dns_records, set.dns_responses), (7, 4));
        let n = |s: &str, q, a| (s.to_string(), q, a);
        assert_eq!(
            dns_of(&set),
            (
                vec![
                    n("a.example", 2, 1),
                    n("b.example", 1, 1),
                    n("c.example", 0, 0)
                ],
                vec![]
            )
        );
        // Queries only (Suricata's `responses: no`): answers unknown, not zero.
        let queries: String = text
            .lines()
            .filter(|l| !l.contains("\"answer\""))
            .map(|l| format!("{l}\n"))
            .collect();
        let mut st = eve::EveState::default();
        let _ = eve::read_lines(reader(&queries), 0, &cfg, &mut st);
        assert_eq!(dns_of(&st.finish()).1, vec!["dns.answers"]);
        // No dns events at all: the whole view is unknown.
        let mut st = eve::EveState::default();
        let _ = eve::read_lines(reader(flow), 0, &cfg, &mut st);
        assert_eq!(dns_of(&st.finish()), (vec![], vec!["dns"]));
    }

    #[test]
    fn zeek_dns_rows_count_as_zeek_logs_them() {
        let head = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\tqtype_name\trcode_name\tanswers\n";
        let conns = format!(
            "{CONN_HEAD}1.0\tCd\t10.0.0.5\t5000\t10.0.0.1\t53\tudp\tdns\t1\t4\t400\t3\t500\n1.0\tCn\t10.0.0.6\t137\t10.0.0.255\t137\tudp\tdns\t1\t1\t90\t0\t0\n"
        );
        let rows = [
            // A query with its answered response; a query alone; a paired NOERROR without
            // answers; a response nobody was seen asking (mDNS-style: qtype unset).
            "1.0\tCd\t10.0.0.5\t5000\t10.0.0.1\t53\tudp\ta.example\tA\tNOERROR\t192.0.2.1",
            "1.1\tCd\t10.0.0.5\t5000\t10.0.0.1\t53\tudp\ta.example\tAAAA\t-\t-",
            "1.2\tCd\t10.0.0.5\t5000\t10.0.0.1\t53\tudp\tb.example\tAAAA\tNOERROR\t-",
            "1.3\tCd\t10.0.0.5\t5000\t10.0.0.1\t53\tudp\tc.example\t-\tNOERROR\tc.example.cdn",
            // NetBIOS name service, which Zeek logs in dns.log: names the flow, counts nothing.
            "1.4\tCn\t10.0.0.6\t137\t10.0.0.255\t137\tudp\tWORKGROUP\tNIMLOC\t-\t-",
            // No conn record: not a flow (counted as unjoined).
            "1.5\tCx\t10.0.0.7\t5000\t10.0.0.1\t53\tudp\td.example\tA\t-\t-",
        ];
        let dns = format!("{head}{}\n", rows.join("\n"));
        let cfg = JoinConfig::default();
        let mut zs = zeek::ZeekSet::default();
        let _ = zeek::read_lines(
            reader(&conns),
            zeek::LogPath::Conn,
            LogFormat::ZeekTsv,
            0,
            &cfg,
            &mut zs,
        );
        let _ = zeek::read_lines(
            reader(&dns),
            zeek::LogPath::Dns,
            LogFormat::ZeekTsv,
            1,
            &cfg,
            &mut zs,
        );
        let set = zeek::join(zs);
        assert_eq!(set.unjoined, 1);
        let n = |s: &str, q, a| (s.to_string(), q, a);
        assert_eq!(
            dns_of(&set),
            (
                vec![
                    n("a.example", 2, 1),
                    n("b.example", 1, 0),
                    n("c.example", 0, 1)
                ],
                vec![]
            )
        );
        let nb = set.conns.iter().find(|c| c.uid == "Cn").unwrap();
        assert!(nb.dns.is_empty() && nb.names == [("workgroup".to_string(), HostSource::DnsQuery)]);
        // conn.log alone: the DNS view is unknown.
        let mut zs = zeek::ZeekSet::default();
        let _ = zeek::read_lines(
            reader(&conns),
            zeek::LogPath::Conn,
            LogFormat::ZeekTsv,
            0,
            &cfg,
            &mut zs,
        );
        assert_eq!(dns_of(&zeek::join(zs)).1, vec!["dns"]);
    }

    proptest::proptest! {
        /// Zeek-shaped lines with hostile cells (huge counts, bad addresses, odd escapes,
        /// mismatched columns): the readers count what they cannot use and never panic.
        #[test]
        fn hostile_log_lines_never_panic(rows in proptest::collection::vec(
            proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just("-".to_string()),
                proptest::strategy::Just("(empty)".to_string()),
                proptest::strategy::Just("18446744073709551616".to_string()),
                proptest::strategy::Just("::1".to_string()),
                proptest::strategy::Just("a\\x00b".to_string()),
                "[ -~]{0,12}",
            ], 0..15), 0..20)) {
            let mut text = CONN_HEAD.to_string();
            for r in &rows {
                text.push_str(&r.join("\t"));
                text.push('\n');
            }
            let _ = parse_bytes(text.as_bytes());
            let json: String = rows.iter().map(|r| format!("{{\"event_type\":\"flow\",\"flow_id\":1,\"uid\":{:?}}}\n", r.join(" "))).collect();
            let _ = parse_bytes(json.as_bytes());
        }
    }
}
