//! Suricata EVE JSON: `flow` events (endpoints, packets and bytes per direction, start and end)
//! joined on `flow_id` with `tls` (`sni`), `http` (`hostname`, `url`), `quic` (`sni`, `version`)
//! and `dns` events (query names; answers, in the detailed `answers` or the `grouped` form, of
//! EVE DNS versions 2 and 3).
//!
//! Suricata's byte counts are captured bytes including the link-layer header; the report counts
//! IP-layer bytes, so 14 bytes per packet (Ethernet) and 4 per VLAN tag are subtracted. That is
//! exact for untruncated Ethernet captures and said in the report's warnings.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use serde_json::Value;

use super::lines::LineReader;
use super::{
    app_of, host_name, proto_number, quic_version, JoinConfig, LogAnswer, LogConn, LogSet,
};
use crate::capture::CaptureErrorKind;
use crate::flow::{Counters, HostSource, TCP, UDP};
use crate::proto::App;

/// Link-layer bytes per packet Suricata counts and the report does not (Ethernet II).
pub const ETHERNET_HEADER: u64 = 14;

/// Suricata reuses a `flow_id` for the same tuple later on (the id hashes the tuple), and writes
/// a flow's `flow` event when it ends, after its protocol events: so `flows` maps an id to the
/// record still open for it, and a `flow` event closes that record.
#[derive(Default)]
pub struct EveState {
    set: LogSet,
    flows: HashMap<u64, usize>,
    /// Which held records a `flow` event completed.
    complete: Vec<bool>,
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k)?.as_str()
}

fn u(v: &Value, k: &str) -> Option<u64> {
    v.get(k)?.as_u64()
}

fn ts(v: &Value, k: &str) -> Option<u64> {
    super::time::iso8601(s(v, k)?)
}

impl EveState {
    fn conn(&mut self, id: u64, file: u16, cfg: &JoinConfig) -> Option<&mut LogConn> {
        let i = match self.flows.get(&id) {
            Some(&i) => i,
            None => {
                if self.set.conns.len() + self.set.answers.len() >= cfg.max_records {
                    self.set.over_bound += 1;
                    return None;
                }
                let i = self.set.conns.len();
                self.set.conns.push(LogConn {
                    uid: id.to_string(),
                    file,
                    ..Default::default()
                });
                self.complete.push(false);
                self.flows.insert(id, i);
                i
            }
        };
        self.set.conns.get_mut(i)
    }

    fn event(&mut self, e: &Value, file: u16, cfg: &JoinConfig) {
        let Some(kind) = s(e, "event_type") else {
            return;
        };
        let Some(id) = u(e, "flow_id") else { return };
        match kind {
            "flow" => self.flow(e, id, file, cfg),
            "tls" => {
                let name = e.get("tls").and_then(|t| s(t, "sni")).map(str::to_string);
                self.name(id, file, cfg, name, HostSource::TlsSni, App::Tls);
            }
            "http" => {
                let h = e.get("http");
                let name = h.and_then(|h| s(h, "hostname")).map(str::to_string);
                let url = h.and_then(|h| s(h, "url")).map(str::to_string);
                self.name(id, file, cfg, name, HostSource::HttpHost, App::Http);
                if let (Some(c), Some(url)) = (self.conn(id, file, cfg), url) {
                    if c.http_path.is_none() {
                        c.http_path = Some(url.split(['?', '#']).next().unwrap_or("").to_string());
                    }
                }
            }
            "quic" => {
                let q = e.get("quic");
                let name = q.and_then(|q| s(q, "sni")).map(str::to_string);
                let version = q.and_then(|q| s(q, "version")).and_then(quic_version);
                self.name(id, file, cfg, name, HostSource::QuicSni, App::Quic);
                if let Some(c) = self.conn(id, file, cfg) {
                    c.app = Some(App::Quic);
                    c.quic_version = c.quic_version.or(version);
                }
            }
            "dns" => self.dns(e, id, file, cfg),
            _ => {}
        }
    }

    fn name(
        &mut self,
        id: u64,
        file: u16,
        cfg: &JoinConfig,
        raw: Option<String>,
        src: HostSource,
        app: App,
    ) {
        let good = raw.as_deref().filter(|r| !r.is_empty()).map(host_name);
        if good == Some(None) {
            self.set.bad_names += 1;
        }
        let Some(c) = self.conn(id, file, cfg) else {
            return;
        };
        if c.app.is_none() || app == App::Tls {
            c.app = Some(app);
        }
        if let Some(Some(n)) = good {
            if !c.names.iter().any(|(x, _)| *x == n) && c.names.len() < 255 {
                c.names.push((n, src));
            }
        }
    }

    fn flow(&mut self, e: &Value, id: u64, file: u16, cfg: &JoinConfig) {
        let proto = s(e, "proto").and_then(proto_number);
        let ported = matches!(proto, Some(TCP | UDP));
        let ep = |h: &str, p: &str| -> Option<(IpAddr, u16)> {
            let ip: IpAddr = s(e, h)?.parse().ok()?;
            let port = if ported {
                u(e, p).and_then(|x| u16::try_from(x).ok()).unwrap_or(0)
            } else {
                0
            };
            Some((ip, port))
        };
        let (client, server) = (ep("src_ip", "src_port"), ep("dest_ip", "dest_port"));
        let mut vlans = crate::decode::Vlans::default();
        if let Some(Value::Array(a)) = e.get("vlan") {
            for v in a {
                if let Some(id) = v.as_u64().and_then(|x| u16::try_from(x).ok()) {
                    vlans.push(id);
                }
            }
        }
        let overhead = ETHERNET_HEADER + 4 * u64::from(vlans.len);
        let f = e.get("flow");
        let counts = |pk: &str, by: &str| -> Option<Counters> {
            let f = f?;
            let packets = u(f, pk)?;
            Some(Counters {
                packets,
                bytes: u(f, by)?.saturating_sub(overhead.saturating_mul(packets)),
            })
        };
        let (up, down) = (
            counts("pkts_toserver", "bytes_toserver"),
            counts("pkts_toclient", "bytes_toclient"),
        );
        // `ethernet: yes`: the MACs of the flow's packets to the server (the client's); an
        // alert-style event has one `src_mac`.
        let ether = e.get("ether");
        let client_mac = ether
            .and_then(|x| x.get("src_macs"))
            .and_then(|m| m.get(0))
            .and_then(Value::as_str)
            .or_else(|| ether.and_then(|x| s(x, "src_mac")))
            .and_then(super::mac);
        let start = f.and_then(|f| ts(f, "start"));
        let end = f.and_then(|f| ts(f, "end"));
        let app = s(e, "app_proto").and_then(app_of);
        let Some(i) = self
            .conn(id, file, cfg)
            .map(|_| ())
            .and(self.flows.remove(&id))
        else {
            return;
        };
        if let Some(done) = self.complete.get_mut(i) {
            *done = true;
        }
        let Some(c) = self.set.conns.get_mut(i) else {
            return;
        };
        c.proto = proto;
        c.client = client;
        c.server = server;
        c.up = up;
        c.down = down;
        c.ts = start;
        c.end = end;
        c.vlans = vlans;
        c.client_mac = client_mac;
        c.file = file;
        if c.app.is_none() {
            c.app = app;
        }
        if client.is_none() || server.is_none() {
            self.set.without_endpoints += 1;
        } else {
            if up.is_none() || down.is_none() {
                self.set.without_counts += 1;
            }
            if start.is_none() {
                self.set.without_time += 1;
            }
        }
    }

    fn dns(&mut self, e: &Value, id: u64, file: u16, cfg: &JoinConfig) {
        let Some(d) = e.get("dns") else { return };
        // Query names: v2 `rrname`; v3 `queries[].rrname`.
        let mut queries: Vec<String> = Vec::new();
        if let Some(q) = s(d, "rrname") {
            queries.push(q.to_string());
        }
        if let Some(Value::Array(qs)) = d.get("queries") {
            queries.extend(qs.iter().filter_map(|q| s(q, "rrname")).map(str::to_string));
        }
        let first = queries.first().cloned();
        let is_answer =
            matches!(s(d, "type"), Some("answer" | "response")) || d.get("answers").is_some();
        // An event is one message: a query, or a response that answered when it lists answer
        // records (detailed or grouped); the DNS view counts it per question name.
        let answered = d
            .get("answers")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
            || d.get("grouped")
                .and_then(Value::as_object)
                .is_some_and(|g| {
                    g.values()
                        .any(|v| v.as_array().is_some_and(|l| !l.is_empty()))
                });
        self.set.dns_records += 1;
        self.set.dns_responses += u64::from(is_answer);
        for q in queries {
            let counted = host_name(&q);
            self.name(id, file, cfg, Some(q), HostSource::DnsQuery, App::Dns);
            if let (Some(n), Some(c)) = (counted, self.conn(id, file, cfg)) {
                let (q, a) = if is_answer {
                    (0, u32::from(answered))
                } else {
                    (1, 0)
                };
                c.count_dns(&n, q, a, 1);
            }
        }
        let Some(query) = first.as_deref().and_then(host_name) else {
            return;
        };
        if !is_answer {
            return;
        }
        let mut a = LogAnswer {
            ts: ts(e, "timestamp"),
            client: None,
            server_port: None,
            query,
            ..Default::default()
        };
        let (sp, dp) = (u(e, "src_port"), u(e, "dest_port"));
        a.server_port = if sp == Some(53) || dp == Some(53) {
            Some(53)
        } else {
            dp.and_then(|x| u16::try_from(x).ok())
        };
        a.client = if sp == Some(53) {
            s(e, "dest_ip")
        } else {
            s(e, "src_ip")
        }
        .and_then(|x| x.parse().ok());
        let mut add = |rrtype: &str, rdata: &str, ttl: u32| match rrtype {
            "A" | "AAAA" => {
                if let Ok(ip) = rdata.parse::<IpAddr>() {
                    a.addrs.push((ip, ttl));
                }
            }
            "CNAME" => {
                if let Some(n) = host_name(rdata) {
                    if a.cnames.len() < 16 {
                        a.cnames.push(n);
                    }
                }
            }
            _ => {}
        };
        if let Some(Value::Array(ans)) = d.get("answers") {
            for x in ans {
                let ttl = u(x, "ttl").map_or(0, |t| u32::try_from(t).unwrap_or(u32::MAX));
                if let (Some(t), Some(r)) = (s(x, "rrtype"), s(x, "rdata")) {
                    add(t, r, ttl);
                }
            }
        } else if let Some(Value::Object(g)) = d.get("grouped") {
            for (t, list) in g {
                if let Value::Array(list) = list {
                    for r in list.iter().filter_map(Value::as_str) {
                        add(t, r, 0);
                    }
                }
            }
        }
        if !a.addrs.is_empty() {
            if self.set.conns.len() + self.set.answers.len() >= cfg.max_records {
                self.set.over_bound += 1;
            } else {
                self.set.answers.push(a);
            }
        }
    }

    /// Records completed by a `flow` event; events of flows that never got one are counted.
    pub fn finish(self) -> LogSet {
        let EveState {
            mut set, complete, ..
        } = self;
        let mut keep = complete.iter();
        let before = set.conns.len();
        set.conns.retain(|_| keep.next().copied().unwrap_or(false));
        set.unjoined += (before - set.conns.len()) as u64;
        set
    }
}

/// Read one eve.json into the state. `Ok(records)`, or the records read before an I/O error.
pub fn read_file(
    p: &Path,
    file: u16,
    cfg: &JoinConfig,
    st: &mut EveState,
) -> Result<u64, (u64, u64, CaptureErrorKind)> {
    let r = LineReader::open(p).map_err(|e| (0, 0, CaptureErrorKind::Io(e.to_string())))?;
    read_lines(r, file, cfg, st)
}

/// [`read_file`] on any line source (the fuzz target feeds bytes).
pub fn read_lines(
    mut r: LineReader,
    file: u16,
    cfg: &JoinConfig,
    st: &mut EveState,
) -> Result<u64, (u64, u64, CaptureErrorKind)> {
    let mut records = 0u64;
    loop {
        let line = match r.next_record(records) {
            None => break,
            Some(l) => l?,
        };
        if super::trim(line).is_empty() {
            continue;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(v) if v.is_object() => {
                records += 1;
                st.event(&v, file, cfg);
            }
            _ => st.set.bad_lines += 1,
        }
    }
    st.set.bad_lines += r.too_long;
    Ok(records)
}
