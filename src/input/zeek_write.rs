//! Zeek logs written from our own flows, in Zeek's exact ASCII format (the headers, field order,
//! types and unset/empty markers of Zeek 6's `conn`, `ssl`, `http`, `dns` and `quic` logs) or as
//! Zeek JSON. It exists to check the log readers against the packet path: audit a capture,
//! write its flows as Zeek logs, read those back, and the two reports must agree.
//!
//! What the flow model does not keep is written unset (`-`): payload byte counts, connection
//! state, TLS versions. A flow named from DNS needs an answer in `dns.log`: its server address
//! is added to the latest DNS exchange that queried its name before it started, with a TTL just
//! long enough (minus the resolver's grace) to reach it, so the answer covers no more than the
//! capture's did.
//!
//! `dns.log` rows come from each DNS flow's message counts per name, so the report's DNS view
//! reads back the same: a query with its answered response, then queries alone, then answered
//! responses nobody was seen asking (`qtype` unset, as Zeek writes them). The query type is not
//! kept: `A`, or `AAAA` when every written answer is IPv6. Answers no later flow needs are not
//! kept either: such a row's `answers` holds a placeholder that names nothing. Messages about
//! names past a flow's bound (`flow::DNS_COUNTED_PER_FLOW`) have no name and are not written.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::Path;

use crate::capture::Nanos;
use crate::flow::{Flow, HostSource};
use crate::proto::App;

const SEC: u64 = 1_000_000_000;

/// What the writer keeps of a flow.
#[derive(Clone, Debug)]
struct WFlow {
    uid: String,
    ts: Nanos,
    end: Nanos,
    proto: u8,
    client: (IpAddr, u16),
    server: (IpAddr, u16),
    up: (u64, u64),
    down: (u64, u64),
    app: Option<App>,
    host: Option<String>,
    source: Option<HostSource>,
    names: Vec<String>,
    cnames: Vec<String>,
    http_path: Option<String>,
    quic_version: Option<u32>,
    /// DNS messages per question name (name, queries, answered responses), first-seen order.
    dns: Vec<(String, u32, u32)>,
}

/// What an answered row holds when the flow model kept none of its answers (no later flow
/// needs them): not an address or a host name, so it names nothing when read back, but the
/// row still says its response answered.
const ANSWER_NOT_KEPT: &str = "<answer not kept>";

/// Answers (address -> TTL) and CNAME chain written into one dns.log row.
type DnsRow = (BTreeMap<IpAddr, Nanos>, Vec<String>);

/// Collects flows (as they end) and writes them as one set of Zeek logs.
#[derive(Default)]
pub struct ZeekWriter {
    flows: Vec<WFlow>,
    /// The resolver grace the logs will be read with (`--dns-grace`), in seconds.
    pub grace_secs: u64,
}

/// Zeek-like uid: `C` and 17 base-62 digits, deterministic per flow number.
fn uid(n: u64) -> String {
    const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5851_F42D_4C95_7F2D;
    let mut s = String::from("C");
    for _ in 0..17 {
        s.push(char::from(A[(x % 62) as usize]));
        x = (x / 62) ^ n.rotate_left(17).wrapping_mul(31);
    }
    s
}

fn time(ns: Nanos) -> String {
    format!("{}.{:06}", ns / SEC, (ns % SEC) / 1000)
}

fn proto_name(p: u8) -> &'static str {
    match p {
        6 => "tcp",
        17 => "udp",
        1 | 58 => "icmp",
        _ => "unknown_transport",
    }
}

fn quic_version_name(v: u32) -> String {
    match v {
        1 => "1".into(),
        0x6b33_43cf => "quicv2".into(),
        v if v >> 8 == 0x00ff_0000 => format!("draft-{}", v & 0xff),
        v => format!("{v:08x}"),
    }
}

/// Zeek's ASCII writer escapes the separator, backslash and non-printable bytes as `\xHH`.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        if b == b'\t' || b == b'\\' || b == b',' || !(0x20..0x7f).contains(&b) {
            let _ = write!(o, "\\x{b:02x}");
        } else {
            o.push(char::from(b));
        }
    }
    if o.is_empty() {
        "(empty)".into()
    } else {
        o
    }
}

/// One log: its path, fields, types, and rows (None: unset).
struct Log {
    path: &'static str,
    fields: &'static [(&'static str, &'static str)],
    rows: Vec<(Nanos, Vec<Val>)>,
}

impl Log {
    fn new(path: &'static str, fields: &'static [(&'static str, &'static str)]) -> Log {
        Log {
            path,
            fields,
            rows: Vec::new(),
        }
    }
}

#[derive(Clone, Debug)]
enum Val {
    Unset,
    Str(String),
    Num(u64),
    Time(Nanos),
    Interval(Nanos),
    Bool(bool),
    Addr(IpAddr),
    /// set/vector of strings (names, addresses) or intervals.
    List(Vec<Val>),
}

impl Val {
    fn tsv(&self) -> String {
        match self {
            Val::Unset => "-".into(),
            Val::Str(s) => esc(s),
            Val::Num(n) => n.to_string(),
            Val::Time(t) | Val::Interval(t) => time(*t),
            Val::Bool(b) => if *b { "T" } else { "F" }.into(),
            Val::Addr(a) => a.to_string(),
            Val::List(v) if v.is_empty() => "(empty)".into(),
            Val::List(v) => v.iter().map(Val::tsv).collect::<Vec<_>>().join(","),
        }
    }

    fn json(&self) -> Option<serde_json::Value> {
        use serde_json::Value as J;
        Some(match self {
            Val::Unset => return None,
            Val::Str(s) => J::String(s.clone()),
            Val::Num(n) => J::from(*n),
            Val::Time(t) | Val::Interval(t) => J::from(*t as f64 / 1e9),
            Val::Bool(b) => J::Bool(*b),
            Val::Addr(a) => J::String(a.to_string()),
            Val::List(v) => J::Array(v.iter().filter_map(Val::json).collect()),
        })
    }
}

const CONN: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("service", "string"),
    ("duration", "interval"),
    ("orig_bytes", "count"),
    ("resp_bytes", "count"),
    ("conn_state", "string"),
    ("local_orig", "bool"),
    ("local_resp", "bool"),
    ("missed_bytes", "count"),
    ("history", "string"),
    ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"),
    ("resp_pkts", "count"),
    ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"),
    ("ip_proto", "count"),
];
const SSL: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("version", "string"),
    ("cipher", "string"),
    ("curve", "string"),
    ("server_name", "string"),
    ("resumed", "bool"),
    ("last_alert", "string"),
    ("next_protocol", "string"),
    ("established", "bool"),
    ("ssl_history", "string"),
    ("cert_chain_fps", "vector[string]"),
    ("client_cert_chain_fps", "vector[string]"),
    ("sni_matches_cert", "bool"),
];
const HTTP: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("trans_depth", "count"),
    ("method", "string"),
    ("host", "string"),
    ("uri", "string"),
    ("referrer", "string"),
    ("version", "string"),
    ("user_agent", "string"),
    ("origin", "string"),
    ("request_body_len", "count"),
    ("response_body_len", "count"),
    ("status_code", "count"),
    ("status_msg", "string"),
    ("info_code", "count"),
    ("info_msg", "string"),
    ("tags", "set[enum]"),
    ("username", "string"),
    ("password", "string"),
    ("proxied", "set[string]"),
    ("orig_fuids", "vector[string]"),
    ("orig_filenames", "vector[string]"),
    ("orig_mime_types", "vector[string]"),
    ("resp_fuids", "vector[string]"),
    ("resp_filenames", "vector[string]"),
    ("resp_mime_types", "vector[string]"),
];
const DNS: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("trans_id", "count"),
    ("rtt", "interval"),
    ("query", "string"),
    ("qclass", "count"),
    ("qclass_name", "string"),
    ("qtype", "count"),
    ("qtype_name", "string"),
    ("rcode", "count"),
    ("rcode_name", "string"),
    ("AA", "bool"),
    ("TC", "bool"),
    ("RD", "bool"),
    ("RA", "bool"),
    ("Z", "count"),
    ("answers", "vector[string]"),
    ("TTLs", "vector[interval]"),
    ("rejected", "bool"),
    ("opcode", "count"),
    ("opcode_name", "string"),
];
const QUIC: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("version", "string"),
    ("client_initial_dcid", "string"),
    ("client_scid", "string"),
    ("server_scid", "string"),
    ("server_name", "string"),
    ("client_protocol", "string"),
    ("history", "string"),
];

impl ZeekWriter {
    pub fn new(grace_secs: u64) -> Self {
        ZeekWriter {
            flows: Vec::new(),
            grace_secs,
        }
    }

    pub fn add(&mut self, f: &Flow) {
        let n = self.flows.len() as u64;
        self.flows.push(WFlow {
            uid: uid(n),
            ts: f.first_seen,
            end: f.last_seen,
            proto: f.key.protocol,
            client: f.client(),
            server: f.server(),
            up: (f.up.packets, f.up.bytes),
            down: (f.down.packets, f.down.bytes),
            app: f.app,
            host: f.host.as_deref().map(str::to_string),
            source: f.host_source,
            names: f.names().iter().map(|x| x.to_string()).collect(),
            cnames: f
                .extra()
                .cnames
                .iter()
                .flat_map(|c| c.iter().map(|x| x.to_string()))
                .collect(),
            http_path: f.extra().http_path.as_deref().map(str::to_string),
            quic_version: f.extra().quic_version,
            dns: f
                .extra()
                .dns
                .iter()
                .map(|c| (c.name.to_string(), c.queries, c.answers))
                .collect(),
        });
    }

    /// A DNS flow's (name, queries, answered responses): its counts, or for a flow that has
    /// none (read from logs without them), one query per name it carried.
    fn dns_counts(f: &WFlow) -> Vec<(String, u32, u32)> {
        if f.dns.is_empty() {
            f.names.iter().map(|n| (n.clone(), 1, 0)).collect()
        } else {
            f.dns.clone()
        }
    }

    fn dns_names(f: &WFlow) -> Vec<&str> {
        if f.dns.is_empty() {
            f.names.iter().map(String::as_str).collect()
        } else {
            f.dns.iter().map(|(n, _, _)| n.as_str()).collect()
        }
    }

    fn ids(f: &WFlow) -> [Val; 5] {
        [
            Val::Str(f.uid.clone()),
            Val::Addr(f.client.0),
            Val::Num(u64::from(f.client.1)),
            Val::Addr(f.server.0),
            Val::Num(u64::from(f.server.1)),
        ]
    }

    fn logs(&self) -> Vec<Log> {
        let mut conn = Log::new("conn", CONN);
        let mut ssl = Log::new("ssl", SSL);
        let mut http = Log::new("http", HTTP);
        let mut dns = Log::new("dns", DNS);
        let mut quic = Log::new("quic", QUIC);
        // DNS rows: (flow index, query) -> answers (address, ttl ns), CNAMEs.
        let mut dns_rows: BTreeMap<(usize, String), DnsRow> = BTreeMap::new();
        let mut by_query: BTreeMap<&str, Vec<(Nanos, usize)>> = BTreeMap::new();
        for (i, f) in self.flows.iter().enumerate() {
            if f.app == Some(App::Dns) {
                for q in Self::dns_names(f) {
                    dns_rows.entry((i, q.to_string())).or_default();
                    by_query.entry(q).or_default().push((f.ts, i));
                }
            }
        }
        for l in by_query.values_mut() {
            l.sort_unstable();
        }
        let grace = self.grace_secs.saturating_mul(SEC);
        for f in &self.flows {
            if f.source != Some(HostSource::Dns) {
                continue;
            }
            let Some(h) = f.host.as_deref() else { continue };
            let Some(&(d, i)) = by_query
                .get(h)
                .and_then(|l| l.iter().rev().find(|(t, _)| *t <= f.ts))
            else {
                continue;
            };
            let need = f.ts.saturating_sub(d).saturating_sub(grace);
            let e = dns_rows.entry((i, h.to_string())).or_default();
            let t = e.0.entry(f.server.0).or_default();
            *t = (*t).max(need);
            if e.1.is_empty() {
                e.1 = f.cnames.clone();
            }
        }
        for (i, f) in self.flows.iter().enumerate() {
            let service = match f.app {
                Some(App::Tls) => Val::Str("ssl".into()),
                Some(App::Http) => Val::Str("http".into()),
                Some(App::Dns) => Val::Str("dns".into()),
                Some(App::Quic) => Val::Str("quic".into()),
                None => Val::Unset,
            };
            let [u, oh, op, rh, rp] = Self::ids(f);
            conn.rows.push((
                f.ts,
                vec![
                    Val::Time(f.ts),
                    u.clone(),
                    oh.clone(),
                    op.clone(),
                    rh.clone(),
                    rp.clone(),
                    Val::Str(proto_name(f.proto).into()),
                    service,
                    Val::Interval(f.end.saturating_sub(f.ts)),
                    Val::Unset,
                    Val::Unset,
                    Val::Str("OTH".into()),
                    Val::Unset,
                    Val::Unset,
                    Val::Num(0),
                    Val::Unset,
                    Val::Num(f.up.0),
                    Val::Num(f.up.1),
                    Val::Num(f.down.0),
                    Val::Num(f.down.1),
                    Val::Unset,
                    Val::Num(u64::from(f.proto)),
                ],
            ));
            let head = [Val::Time(f.ts), u, oh, op, rh, rp];
            let sni = matches!(f.source, Some(HostSource::TlsSni | HostSource::QuicSni))
                .then(|| f.host.clone())
                .flatten();
            match f.app {
                Some(App::Tls) => {
                    let mut r = head.to_vec();
                    r.extend([Val::Unset, Val::Unset, Val::Unset]);
                    r.push(sni.map_or(Val::Unset, Val::Str));
                    r.extend([Val::Bool(false), Val::Unset, Val::Unset, Val::Bool(false)]);
                    r.extend([Val::Unset, Val::Unset, Val::Unset, Val::Unset]);
                    ssl.rows.push((f.ts, r));
                }
                Some(App::Quic) => {
                    let mut r = head.to_vec();
                    r.push(
                        f.quic_version
                            .map_or(Val::Unset, |v| Val::Str(quic_version_name(v))),
                    );
                    r.extend([Val::Unset, Val::Unset, Val::Unset]);
                    r.push(sni.map_or(Val::Unset, Val::Str));
                    r.extend([Val::Unset, Val::Unset]);
                    quic.rows.push((f.ts, r));
                }
                Some(App::Http) => {
                    let hosts: Vec<&String> = if f.source == Some(HostSource::HttpHost) {
                        f.names.iter().collect()
                    } else {
                        Vec::new()
                    };
                    let n = hosts.len().max(1);
                    for d in 0..n {
                        let mut r = head.to_vec();
                        r.push(Val::Num(d as u64 + 1));
                        r.push(Val::Unset);
                        r.push(hosts.get(d).map_or(Val::Unset, |h| Val::Str((*h).clone())));
                        r.push(match (&f.http_path, d) {
                            (Some(p), 0) => Val::Str(p.clone()),
                            _ => Val::Unset,
                        });
                        r.extend(std::iter::repeat_n(Val::Unset, 4));
                        r.extend([Val::Num(0), Val::Num(0)]);
                        r.extend(std::iter::repeat_n(Val::Unset, 4));
                        r.push(Val::List(Vec::new()));
                        r.extend(std::iter::repeat_n(Val::Unset, 9));
                        http.rows.push((f.ts, r));
                    }
                }
                _ => {}
            }
            if f.app == Some(App::Dns) {
                let mut trans_id = 0u64;
                for (q, queries, answered) in Self::dns_counts(f) {
                    let (answers, cnames) =
                        dns_rows.get(&(i, q.clone())).cloned().unwrap_or_default();
                    // A name the resolver learned was answered (its count can be 0 only past
                    // the per-flow bound of names): its answer is still written.
                    let answered = if answers.is_empty() {
                        answered
                    } else {
                        answered.max(1)
                    };
                    let v6 = !answers.is_empty() && answers.keys().all(IpAddr::is_ipv6);
                    let paired = queries.min(answered);
                    // Zeek's rows: a query with its answered response, a query alone, an
                    // answered response nobody was seen asking; a name only in unanswered
                    // responses gets one such response.
                    let mut kinds: Vec<(bool, bool)> = Vec::new();
                    kinds.extend(std::iter::repeat_n((true, true), paired as usize));
                    kinds.extend(std::iter::repeat_n(
                        (true, false),
                        (queries - paired) as usize,
                    ));
                    kinds.extend(std::iter::repeat_n(
                        (false, true),
                        (answered - paired) as usize,
                    ));
                    if kinds.is_empty() {
                        kinds.push((false, false));
                    }
                    let mut first_answer = true;
                    for (query, has) in kinds {
                        let mut ans: Vec<Val> = Vec::new();
                        let mut ttls: Vec<Val> = Vec::new();
                        if has && first_answer && !answers.is_empty() {
                            for c in &cnames {
                                ans.push(Val::Str(c.clone()));
                                ttls.push(Val::Interval(0));
                            }
                            for (a, t) in &answers {
                                ans.push(Val::Addr(*a));
                                ttls.push(Val::Interval(t.div_ceil(SEC) * SEC));
                            }
                        } else if has {
                            ans.push(Val::Str(ANSWER_NOT_KEPT.into()));
                            ttls.push(Val::Interval(0));
                        }
                        first_answer &= !has;
                        let mut r = head.to_vec();
                        r.push(Val::Str(proto_name(f.proto).into()));
                        r.push(Val::Num(trans_id));
                        trans_id += 1;
                        r.push(Val::Unset);
                        r.push(Val::Str(q.clone()));
                        if query {
                            r.extend([Val::Num(1), Val::Str("C_INTERNET".into())]);
                            r.push(Val::Num(if v6 { 28 } else { 1 }));
                            r.push(Val::Str(if v6 { "AAAA" } else { "A" }.into()));
                        } else {
                            r.extend([Val::Unset, Val::Unset, Val::Unset, Val::Unset]);
                        }
                        let response = has || !query;
                        if response {
                            r.extend([Val::Num(0), Val::Str("NOERROR".into())]);
                        } else {
                            r.extend([Val::Unset, Val::Unset]);
                        }
                        r.extend([
                            Val::Bool(false),
                            Val::Bool(false),
                            Val::Bool(true),
                            Val::Bool(response),
                        ]);
                        r.push(Val::Num(0));
                        if has {
                            r.extend([Val::List(ans), Val::List(ttls)]);
                        } else {
                            r.extend([Val::Unset, Val::Unset]);
                        }
                        r.extend([Val::Bool(false), Val::Num(0), Val::Str("query".into())]);
                        dns.rows.push((f.ts, r));
                    }
                }
            }
        }
        let mut logs = vec![conn, dns, http, quic, ssl];
        for l in &mut logs {
            l.rows.sort_by_key(|(t, _)| *t);
        }
        logs
    }

    /// Write `conn.log`, `ssl.log`, ... into `dir` (JSON lines when `json`; `.gz` when `gzip`).
    pub fn write_dir(&self, dir: &Path, json: bool, gzip: bool) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let first = self.flows.iter().map(|f| f.ts).min().unwrap_or(0);
        for log in self.logs() {
            let mut text = String::new();
            if json {
                for (_, r) in &log.rows {
                    let mut m = serde_json::Map::new();
                    for ((name, _), v) in log.fields.iter().zip(r) {
                        if let Some(j) = v.json() {
                            m.insert((*name).to_string(), j);
                        }
                    }
                    text.push_str(&serde_json::Value::Object(m).to_string());
                    text.push('\n');
                }
            } else {
                let stamp = zeek_stamp(first);
                let names: Vec<&str> = log.fields.iter().map(|f| f.0).collect();
                let types: Vec<&str> = log.fields.iter().map(|f| f.1).collect();
                let _ = write!(
                    text,
                    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t{}\n#open\t{stamp}\n#fields\t{}\n#types\t{}\n",
                    log.path,
                    names.join("\t"),
                    types.join("\t")
                );
                for (_, r) in &log.rows {
                    let cells: Vec<String> = r.iter().map(Val::tsv).collect();
                    text.push_str(&cells.join("\t"));
                    text.push('\n');
                }
                let _ = writeln!(text, "#close\t{stamp}");
            }
            let name = format!("{}.log{}", log.path, if gzip { ".gz" } else { "" });
            let mut out = std::fs::File::create(dir.join(name))?;
            if gzip {
                let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
                gz.write_all(text.as_bytes())?;
                gz.finish()?;
            } else {
                out.write_all(text.as_bytes())?;
            }
        }
        Ok(())
    }
}

/// `#open` stamp: `YYYY-MM-DD-HH-MM-SS`.
fn zeek_stamp(ns: Nanos) -> String {
    let s = crate::report::time::rfc3339_micros(ns);
    let b: String = s.chars().take(19).collect();
    b.replace(['T', ':'], "-")
}
