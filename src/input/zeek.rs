//! Zeek logs: `conn.log` joined on `uid` with `ssl.log` (`server_name`), `http.log` (`host`,
//! `uri`), `quic.log` (`server_name`, `version`) and `dns.log` (`query`, `answers`, `TTLs`).
//!
//! Both writers Zeek has: ASCII (TSV with `#separator`, `#fields`, `#unset_field`, ... headers,
//! also the `zeek-cut -m` form with one plain header line) and JSON lines (flat `id.orig_h`
//! keys). Column order is taken from the header, never assumed; missing columns are unknown.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use super::lines::LineReader;
use super::{app_of, host_name, proto_number, JoinConfig, LogAnswer, LogConn, LogFormat, LogSet};
use crate::capture::CaptureErrorKind;
use crate::flow::{Counters, HostSource, TCP, UDP};
use crate::proto::App;

/// Which Zeek log a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogPath {
    Conn,
    Dns,
    Http,
    Quic,
    Ssl,
    /// Any other log (files, weird, notice, ...): read for nothing.
    Other,
}

fn path_from_name(s: &str) -> Option<LogPath> {
    Some(match s {
        "conn" => LogPath::Conn,
        "dns" => LogPath::Dns,
        "http" => LogPath::Http,
        "quic" => LogPath::Quic,
        "ssl" => LogPath::Ssl,
        _ => return None,
    })
}

/// The log's path: from the file name (`conn.log`, `conn.10:00:00-11:00:00.log.gz`), else the
/// `#path` header or JSON `_path`, else from the columns (a `zeek-cut` subset).
pub fn path_of(p: &Path, fmt: LogFormat) -> LogPath {
    let stem = p
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split(['.', '_', '-']).next())
        .unwrap_or("");
    if let Some(lp) = path_from_name(&stem.to_ascii_lowercase()) {
        return lp;
    }
    let Ok(mut r) = LineReader::open(p) else {
        return LogPath::Other;
    };
    for _ in 0..32 {
        let Some(Ok(line)) = r.next_line() else { break };
        let line = String::from_utf8_lossy(line);
        if let Some(rest) = line.strip_prefix("#path") {
            return path_from_name(rest.trim()).unwrap_or(LogPath::Other);
        }
        if fmt == LogFormat::ZeekJson && line.starts_with('{') {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                if let Some(lp) = v
                    .get("_path")
                    .and_then(|x| x.as_str())
                    .and_then(path_from_name)
                {
                    return lp;
                }
                let keys: Vec<String> = v
                    .as_object()
                    .map(|o| o.keys().cloned().collect())
                    .unwrap_or_default();
                return path_from_fields(&keys);
            }
        }
        if let Some(rest) = line.strip_prefix("#fields") {
            let f: Vec<String> = rest.split('\t').map(str::to_string).collect();
            return path_from_fields(&f);
        }
        if !line.starts_with('#') && !line.trim().is_empty() {
            let f: Vec<String> = line.split('\t').map(str::to_string).collect();
            return path_from_fields(&f);
        }
    }
    LogPath::Other
}

fn path_from_fields(f: &[String]) -> LogPath {
    let has = |n: &str| f.iter().any(|x| x == n);
    if has("query") && (has("qtype") || has("answers") || has("trans_id")) {
        LogPath::Dns
    } else if has("client_initial_dcid") || has("client_protocol") {
        LogPath::Quic
    } else if has("server_name") {
        LogPath::Ssl
    } else if has("trans_depth") || has("method") || (has("host") && has("uri")) {
        LogPath::Http
    } else if has("conn_state") || has("orig_ip_bytes") || (has("history") && has("service")) {
        LogPath::Conn
    } else {
        LogPath::Other
    }
}

/// A file of a set: its index in the input list, its log path and format.
pub type SetFile = (usize, LogPath, LogFormat);

/// Files of one rotation interval together: same directory, same name after the log's path
/// (`conn.log` with `ssl.log`; `conn.10:00:00-11:00:00.log.gz` with `ssl.10:00:00-11:00:00...`),
/// in key order (rotated names sort by time). Conn logs first within a set.
pub fn group_sets(paths: &[std::path::PathBuf], files: &[SetFile]) -> Vec<Vec<SetFile>> {
    let mut groups: std::collections::BTreeMap<(String, String), Vec<SetFile>> = Default::default();
    for &(i, lp, f) in files {
        let Some(p) = paths.get(i) else { continue };
        groups.entry(set_key(p)).or_default().push((i, lp, f));
    }
    groups
        .into_values()
        .map(|mut g| {
            g.sort_by_key(|&(i, lp, _)| (lp, i));
            g
        })
        .collect()
}

/// Set key of a file: its directory and its name without the leading log path.
pub fn set_key(p: &Path) -> (String, String) {
    let dir = p
        .parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stem_len = name.find(['.', '_', '-']).unwrap_or(name.len());
    let (stem, rest) = name.split_at(stem_len);
    if path_from_name(&stem.to_ascii_lowercase()).is_some() {
        (dir, rest.to_string())
    } else {
        // A name we cannot pair by: one set per directory.
        (dir, String::new())
    }
}

/// Rows of one protocol log waiting for the join, and the connections read so far.
#[derive(Default)]
pub struct ZeekSet {
    pub set: LogSet,
    by_uid: HashMap<String, usize>,
    pending: Vec<(String, Pending)>,
}

enum Pending {
    Name(String, HostSource, Option<App>),
    Http {
        host: Option<String>,
        uri: Option<String>,
    },
    Quic {
        name: Option<String>,
        version: Option<u32>,
    },
    /// A dns.log row: its query name, and what it counts in the DNS view (none: NetBIOS).
    Dns(String, Option<DnsRow>),
}

/// What one dns.log row says about messages: Zeek logs a transaction per row, with `qtype`
/// set from the query (unset on a response nobody was seen asking) and `rcode` or `answers`
/// from the response.
#[derive(Clone, Copy, Debug)]
struct DnsRow {
    query: bool,
    response: bool,
    answered: bool,
}

/// Accessor over one record, TSV or JSON.
enum Row<'a> {
    Tsv {
        idx: &'a HashMap<String, usize>,
        vals: Vec<&'a str>,
        hdr: &'a Header,
    },
    Json(serde_json::Map<String, serde_json::Value>),
}

impl Row<'_> {
    /// A field's value (`None` when unset or absent); TSV escapes (`\x09`) decoded.
    fn get(&self, name: &str) -> Option<String> {
        match self {
            Row::Tsv { idx, vals, hdr } => {
                let v = *vals.get(*idx.get(name)?)?;
                if v == hdr.unset {
                    return None;
                }
                if v == hdr.empty {
                    return Some(String::new());
                }
                Some(unescape(v))
            }
            Row::Json(m) => {
                let v = match m.get(name) {
                    Some(v) => v,
                    None => {
                        // Nested form: {"id": {"orig_h": ...}}.
                        let (a, b) = name.split_once('.')?;
                        m.get(a)?.get(b)?
                    }
                };
                match v {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    serde_json::Value::Bool(b) => Some(if *b { "T" } else { "F" }.to_string()),
                    other => Some(other.to_string()),
                }
            }
        }
    }

    /// A set/vector field's elements.
    fn list(&self, name: &str) -> Vec<String> {
        match self {
            Row::Tsv { idx, vals, hdr } => {
                let Some(v) = idx.get(name).and_then(|&i| vals.get(i)) else {
                    return Vec::new();
                };
                if *v == hdr.unset || *v == hdr.empty {
                    return Vec::new();
                }
                v.split(hdr.set_sep.as_str()).map(unescape).collect()
            }
            Row::Json(m) => match m.get(name) {
                Some(serde_json::Value::Array(a)) => a
                    .iter()
                    .map(|x| match x {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect(),
                Some(serde_json::Value::String(s)) => vec![s.clone()],
                _ => Vec::new(),
            },
        }
    }

    /// Whether the log has the column at all (a `zeek-cut` subset may not).
    fn has(&self, name: &str) -> bool {
        match self {
            Row::Tsv { idx, .. } => idx.contains_key(name),
            // JSON leaves unset fields out: a row cannot tell an absent column.
            Row::Json(_) => true,
        }
    }

    fn time(&self, name: &str) -> Option<u64> {
        let s = self.get(name)?;
        super::time::epoch(&s).or_else(|| super::time::iso8601(&s))
    }

    fn count(&self, name: &str) -> Option<u64> {
        self.get(name)?.parse().ok()
    }
}

/// Zeek escapes bytes as `\xHH`; decode them (the result is checked as a host name later).
fn unescape(v: &str) -> String {
    if !v.contains("\\x") {
        return v.to_string();
    }
    let b = v.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b.get(i) == Some(&b'\\') && b.get(i + 1) == Some(&b'x') {
            if let Some(h) = b
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok())
            {
                if let Ok(x) = u8::from_str_radix(h, 16) {
                    out.push(x);
                    i += 4;
                    continue;
                }
            }
        }
        if let Some(&c) = b.get(i) {
            out.push(c);
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Header {
    sep: String,
    set_sep: String,
    unset: String,
    empty: String,
    fields: Vec<String>,
    idx: HashMap<String, usize>,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            sep: "\t".into(),
            set_sep: ",".into(),
            unset: "-".into(),
            empty: "(empty)".into(),
            fields: Vec::new(),
            idx: HashMap::new(),
        }
    }
}

impl Header {
    fn set_fields(&mut self, f: Vec<String>) {
        self.idx = f.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        self.fields = f;
    }
}

/// Read one Zeek log into the set. `Ok(records)`, or the records read before an I/O error.
pub fn read_file(
    p: &Path,
    lp: LogPath,
    fmt: LogFormat,
    file: u16,
    cfg: &JoinConfig,
    zs: &mut ZeekSet,
) -> Result<u64, (u64, u64, CaptureErrorKind)> {
    let r = LineReader::open(p).map_err(|e| (0, 0, CaptureErrorKind::Io(e.to_string())))?;
    read_lines(r, lp, fmt, file, cfg, zs)
}

/// The first `sep`-separated value of a header line (`#unset_field\t-`), or `default`.
fn first_field(val: &str, sep: &str, default: &str) -> String {
    val.split(sep).next().unwrap_or(default).to_string()
}

/// [`read_file`] on any line source (the fuzz target feeds bytes).
pub fn read_lines(
    mut r: LineReader,
    lp: LogPath,
    fmt: LogFormat,
    file: u16,
    cfg: &JoinConfig,
    zs: &mut ZeekSet,
) -> Result<u64, (u64, u64, CaptureErrorKind)> {
    let mut hdr = Header::default();
    let mut records = 0u64;
    loop {
        let line = match r.next_record(records) {
            None => break,
            Some(l) => l?,
        };
        let Ok(line) = std::str::from_utf8(line) else {
            zs.set.bad_lines += 1;
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        if fmt == LogFormat::ZeekJson {
            match serde_json::from_str::<serde_json::Value>(line) {
                Ok(serde_json::Value::Object(m)) => {
                    records += 1;
                    add_row(&Row::Json(m), lp, file, cfg, zs);
                }
                _ => zs.set.bad_lines += 1,
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let (key, val) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
            match key {
                "separator" => hdr.sep = unescape(val.trim()),
                "set_separator" => hdr.set_sep = first_field(val, &hdr.sep, ","),
                "unset_field" => hdr.unset = first_field(val, &hdr.sep, "-"),
                "empty_field" => hdr.empty = first_field(val, &hdr.sep, "(empty)"),
                "fields" => {
                    hdr.set_fields(val.split(hdr.sep.as_str()).map(str::to_string).collect())
                }
                _ => {}
            }
            continue;
        }
        if hdr.fields.is_empty() {
            // `zeek-cut -m`: the first plain line names the columns.
            hdr.set_fields(line.split(hdr.sep.as_str()).map(str::to_string).collect());
            continue;
        }
        let vals: Vec<&str> = line.split(hdr.sep.as_str()).collect();
        if vals.len() != hdr.fields.len() {
            zs.set.bad_lines += 1;
            continue;
        }
        records += 1;
        let row = Row::Tsv {
            idx: &hdr.idx,
            vals,
            hdr: &hdr,
        };
        add_row(&row, lp, file, cfg, zs);
    }
    zs.set.bad_lines += r.too_long;
    Ok(records)
}

fn endpoint(row: &Row<'_>, h: &str, p: &str, proto: Option<u8>) -> Option<(IpAddr, u16)> {
    let ip: IpAddr = row.get(h)?.parse().ok()?;
    // ICMP "ports" are type and code in Zeek; the engine has no ports for them.
    let port = if matches!(proto, Some(TCP | UDP) | None) {
        row.count(p)
            .and_then(|x| u16::try_from(x).ok())
            .unwrap_or(0)
    } else {
        0
    };
    Some((ip, port))
}

fn add_row(row: &Row<'_>, lp: LogPath, file: u16, cfg: &JoinConfig, zs: &mut ZeekSet) {
    let Some(uid) = row.get("uid") else {
        if lp != LogPath::Other {
            zs.set.bad_lines += 1;
        }
        return;
    };
    let held = zs.set.conns.len() + zs.pending.len() + zs.set.answers.len();
    if lp != LogPath::Other && held >= cfg.max_records {
        zs.set.over_bound += 1;
        return;
    }
    match lp {
        LogPath::Conn => {
            let proto = row
                .get("proto")
                .and_then(|s| proto_number(&s))
                .or_else(|| row.count("ip_proto").and_then(|x| u8::try_from(x).ok()));
            let ts = row.time("ts");
            let dur = row.get("duration").and_then(|d| super::time::interval(&d));
            let counts = |pk: &str, by: &str| -> Option<Counters> {
                Some(Counters {
                    packets: row.count(pk)?,
                    bytes: row.count(by)?,
                })
            };
            let mut c = LogConn {
                uid: uid.clone(),
                ts,
                end: ts.map(|t| t.saturating_add(dur.unwrap_or(0))),
                proto,
                client: endpoint(row, "id.orig_h", "id.orig_p", proto),
                server: endpoint(row, "id.resp_h", "id.resp_p", proto),
                up: counts("orig_pkts", "orig_ip_bytes"),
                down: counts("resp_pkts", "resp_ip_bytes"),
                app: row.get("service").and_then(|s| app_of(&s)),
                // policy/protocols/conn/mac-logging.
                client_mac: row.get("orig_l2_addr").and_then(|m| super::mac(&m)),
                file,
                ..Default::default()
            };
            for v in ["vlan", "inner_vlan"] {
                if let Some(id) = row.count(v).and_then(|x| u16::try_from(x).ok()) {
                    c.vlans.push(id);
                }
            }
            if c.client.is_none() || c.server.is_none() {
                zs.set.without_endpoints += 1;
            } else {
                if c.up.is_none() || c.down.is_none() {
                    zs.set.without_counts += 1;
                }
                if c.ts.is_none() {
                    zs.set.without_time += 1;
                }
            }
            zs.by_uid.insert(uid, zs.set.conns.len());
            zs.set.conns.push(c);
        }
        LogPath::Ssl => {
            if let Some(n) = row.get("server_name").filter(|s| !s.is_empty()) {
                match host_name(&n) {
                    Some(n) => zs
                        .pending
                        .push((uid, Pending::Name(n, HostSource::TlsSni, Some(App::Tls)))),
                    None => zs.set.bad_names += 1,
                }
            }
        }
        LogPath::Http => {
            let host = row.get("host").filter(|s| !s.is_empty());
            let good = host.as_deref().and_then(host_name);
            if host.is_some() && good.is_none() {
                zs.set.bad_names += 1;
            }
            zs.pending.push((
                uid,
                Pending::Http {
                    host: good,
                    uri: row.get("uri").filter(|u| !u.is_empty()),
                },
            ));
        }
        LogPath::Quic => {
            let name = row.get("server_name").filter(|s| !s.is_empty());
            let good = name.as_deref().and_then(host_name);
            if name.is_some() && good.is_none() {
                zs.set.bad_names += 1;
            }
            let version = row.get("version").and_then(|v| super::quic_version(&v));
            zs.pending.push((
                uid,
                Pending::Quic {
                    name: good,
                    version,
                },
            ));
        }
        LogPath::Dns => {
            let Some(q) = row.get("query").filter(|s| !s.is_empty()) else {
                return;
            };
            let Some(q) = host_name(&q) else {
                zs.set.bad_names += 1;
                return;
            };
            let answers = row.list("answers");
            // Zeek parses NetBIOS name service as DNS; the engine does not (its names are
            // machine identities, not lookups), so those rows name the flow but count nothing.
            let port = |k: &str| row.count(k);
            let netbios = [port("id.orig_p"), port("id.resp_p")]
                .iter()
                .any(|p| matches!(p, Some(137 | 138)));
            // Without the qtype columns (a zeek-cut subset), each row is taken as a query.
            let typed = row.has("qtype") || row.has("qtype_name");
            let counted = (!netbios).then(|| DnsRow {
                query: !typed || row.get("qtype").or_else(|| row.get("qtype_name")).is_some(),
                response: row.get("rcode").or_else(|| row.get("rcode_name")).is_some()
                    || !answers.is_empty(),
                answered: !answers.is_empty(),
            });
            if let Some(r) = counted {
                zs.set.dns_records += 1;
                zs.set.dns_responses += u64::from(r.response);
            }
            zs.pending.push((uid, Pending::Dns(q.clone(), counted)));
            let ttls = row.list("TTLs");
            let qtype = row.get("qtype_name").unwrap_or_default();
            let names_ok = matches!(qtype.as_str(), "A" | "AAAA" | "CNAME" | "HTTPS" | "");
            let mut a = LogAnswer {
                ts: row.time("ts"),
                client: row.get("id.orig_h").and_then(|s| s.parse().ok()),
                server_port: row.count("id.resp_p").and_then(|x| u16::try_from(x).ok()),
                query: q,
                ..Default::default()
            };
            for (i, ans) in answers.iter().enumerate() {
                let ttl = ttls
                    .get(i)
                    .and_then(|t| super::time::interval(t))
                    .map_or(0, |ns| {
                        u32::try_from(ns / 1_000_000_000).unwrap_or(u32::MAX)
                    });
                if let Ok(ip) = ans.parse::<IpAddr>() {
                    a.addrs.push((ip, ttl));
                } else if names_ok {
                    if let Some(n) = host_name(ans) {
                        a.cnames.push(n);
                    }
                }
            }
            if !a.addrs.is_empty() {
                zs.set.answers.push(a);
            }
        }
        LogPath::Other => {}
    }
}

/// Attach every protocol row to its connection; rows without one are counted.
pub fn join(zs: ZeekSet) -> LogSet {
    let ZeekSet {
        mut set,
        by_uid,
        pending,
    } = zs;
    for (uid, p) in pending {
        let Some(c) = by_uid.get(&uid).and_then(|&i| set.conns.get_mut(i)) else {
            set.unjoined += 1;
            continue;
        };
        match p {
            Pending::Name(n, src, app) => {
                if c.app.is_none() || src == HostSource::TlsSni {
                    c.app = app.or(c.app);
                }
                c.names.push((n, src));
            }
            Pending::Http { host, uri } => {
                c.app = c.app.or(Some(App::Http));
                if c.http_path.is_none() {
                    c.http_path = uri.map(|u| u.split(['?', '#']).next().unwrap_or("").to_string());
                }
                if let Some(h) = host {
                    c.names.push((h, HostSource::HttpHost));
                }
            }
            Pending::Quic { name, version } => {
                c.app = Some(App::Quic);
                c.quic_version = c.quic_version.or(version);
                if let Some(n) = name {
                    c.names.push((n, HostSource::QuicSni));
                }
            }
            Pending::Dns(n, counted) => {
                if c.app.is_none() {
                    c.app = Some(App::Dns);
                }
                if let Some(r) = counted {
                    let msgs = u32::from(r.query) + u32::from(r.response);
                    c.count_dns(&n, u32::from(r.query), u32::from(r.answered), msgs);
                }
                c.names.push((n, HostSource::DnsQuery));
            }
        }
    }
    // An SNI names the flow before an HTTP Host of the same connection (CONNECT, STARTTLS).
    for c in &mut set.conns {
        c.names.sort_by_key(|(_, s)| match s {
            HostSource::TlsSni | HostSource::QuicSni => 0,
            HostSource::HttpHost => 1,
            _ => 2,
        });
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_decodes_hex() {
        assert_eq!(unescape("a\\x09b"), "a\tb");
        assert_eq!(unescape("plain"), "plain");
        assert_eq!(unescape("bad\\xZZ"), "bad\\xZZ");
    }
}
