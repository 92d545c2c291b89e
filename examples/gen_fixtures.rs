//! Writes the fixture captures under `fixtures/` plus `fixtures/expected.json` and
//! `fixtures/README.md`. Expectations are tallied from the packets actually written (a record
//! cut short is not counted), so they cannot drift from the bytes.
//!
//! `cargo run --example gen_fixtures` regenerates everything byte-identically.

#[path = "fixtures/flows.rs"]
mod flows;
#[path = "synth/mod.rs"]
mod synth;

#[path = "fixtures/framings.rs"]
mod framings;
#[path = "fixtures/names.rs"]
mod names;
#[path = "fixtures/reports.rs"]
mod reports;

use serde_json::{json, Value};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use synth::capture::{PcapWriter, PcapngWriter};
use synth::dns;
use synth::http;
use synth::link::Link;
use synth::net;
use synth::quic;
use synth::rng::Rng;
use synth::tcp::{udp_pkt, Pkt, TcpConn};
use synth::tls;

/// 2023-11-14T22:13:20Z.
const BASE_NS: u64 = 1_700_000_000 * 1_000_000_000;
const MS: u64 = 1_000_000;
const RESOLVER: &str = "10.0.0.1:53";

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("fixture address")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("fixture address")
}

struct Flow {
    proto: &'static str,
    client: SocketAddr,
    server: SocketAddr,
    host: Option<String>,
    host_source: Option<&'static str>,
    ech: bool,
    /// ECH flows: the inner name inferred from the client's HTTPS lookup.
    inferred_host: Option<String>,
    /// QUIC version as the flow log writes it (`v1`, `v2`, `draft-29`), for QUIC flows only.
    quic_version: Option<&'static str>,
    /// Every name a parser should pull out of this flow's own payload (DNS: all query names);
    /// empty for a flow named only through DNS.
    names: Vec<String>,
    packets_up: u64,
    packets_down: u64,
    bytes_up: u64,
    bytes_down: u64,
    first_ts_ns: Option<u64>,
    last_ts_ns: Option<u64>,
    /// Checked only when set (see `names::Expect`): areas, ech_outer, shared_infrastructure.
    expect: names::Expect,
}

/// One name of the report's DNS view, as the generator sent it.
struct DnsExpect {
    name: String,
    queries: u64,
    answers: u64,
    clients: Vec<&'static str>,
}

struct Fixture {
    file: &'static str,
    exercises: &'static str,
    notes: String,
    flows: Vec<Flow>,
    pkts: Vec<Pkt>,
    records: u64,
    truncated_records: u64,
    format: &'static str,
    link_types: Vec<u32>,
    /// Packets of framings not decoded, per kind as the audit warning names them.
    unsupported: Vec<(&'static str, u64)>,
    /// Report-level DNS view: every name looked up, with its queries, answered responses and
    /// clients.
    dns_names: Vec<DnsExpect>,
}

impl Fixture {
    fn new(file: &'static str, exercises: &'static str) -> Self {
        Fixture {
            file,
            exercises,
            notes: String::new(),
            flows: Vec::new(),
            pkts: Vec::new(),
            records: 0,
            truncated_records: 0,
            format: "pcap",
            link_types: Vec::new(),
            unsupported: Vec::new(),
            dns_names: Vec::new(),
        }
    }

    fn flow(
        &mut self,
        proto: &'static str,
        client: SocketAddr,
        server: SocketAddr,
        host: Option<&str>,
        source: Option<&'static str>,
        ech: bool,
    ) -> usize {
        self.flows.push(Flow {
            proto,
            client,
            server,
            host: host.map(str::to_string),
            host_source: source,
            ech,
            inferred_host: None,
            quic_version: None,
            names: host
                .filter(|_| source != Some("dns"))
                .map(|h| vec![h.to_string()])
                .unwrap_or_default(),
            packets_up: 0,
            packets_down: 0,
            bytes_up: 0,
            bytes_down: 0,
            first_ts_ns: None,
            last_ts_ns: None,
            expect: names::Expect::default(),
        });
        self.flows.len() - 1
    }

    fn tls_flow(&mut self, client: &str, server: &str, sni: Option<&str>, ech: bool) -> usize {
        let source = sni.map(|_| "tls-sni");
        self.flow("tcp", sa(client), sa(server), sni, source, ech)
    }

    /// A TCP flow named `host` by `source`, and the connection that will carry its packets.
    fn tcp_conn(
        &mut self,
        client: &str,
        server: &str,
        host: Option<&str>,
        source: Option<&'static str>,
        start_ns: u64,
        seed: u64,
    ) -> TcpConn {
        let f = self.flow("tcp", sa(client), sa(server), host, source, false);
        TcpConn::new(sa(client), sa(server), f, start_ns, seed)
    }

    fn add(&mut self, pkts: Vec<Pkt>) {
        self.pkts.extend(pkts);
    }

    /// Packets in capture order (by time; ties keep insertion order).
    fn ordered(&mut self) -> Vec<Pkt> {
        let mut v = std::mem::take(&mut self.pkts);
        v.sort_by_key(|p| p.ts_ns);
        v
    }

    fn count(&mut self, p: &Pkt, ts_read_back: u64) {
        self.records += 1;
        let f = &mut self.flows[p.flow];
        let len = net::ip_layer_len(&p.ip);
        if p.from_client {
            f.packets_up += 1;
            f.bytes_up += len;
        } else {
            f.packets_down += 1;
            f.bytes_down += len;
        }
        f.first_ts_ns.get_or_insert(ts_read_back);
        f.last_ts_ns = Some(ts_read_back);
    }

    /// Writes a pcap. `truncate_last`: bytes of the last record actually present.
    fn write_pcap(
        &mut self,
        dir: &Path,
        link: Link,
        snaplen: u32,
        nanos: bool,
        big_endian: bool,
        truncate_last: Option<usize>,
    ) {
        let mut w = PcapWriter::new(link.linktype(), snaplen, nanos, big_endian);
        let pkts = self.ordered();
        let n = pkts.len();
        for (i, p) in pkts.iter().enumerate() {
            let frame = link.frame(&p.ip, p.from_client);
            match truncate_last {
                Some(present) if i + 1 == n => {
                    w.truncated_packet(p.ts_ns, &frame, present);
                    self.truncated_records += 1;
                }
                _ => {
                    let ts = w.packet(p.ts_ns, &frame);
                    self.count(p, ts);
                }
            }
        }
        self.link_types = vec![link.linktype()];
        write(dir, self.file, &w.into_bytes());
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

fn pq_hello(sni: Option<&str>, seed: u64) -> tls::ClientHello {
    // Padded to 1800 bytes like a Chromium-family hello with its GREASE/ECH extensions.
    tls::ClientHello {
        sni: sni.map(str::to_string),
        post_quantum: true,
        pad_to: Some(1800),
        seed,
        ..Default::default()
    }
}

fn hello(sni: Option<&str>, seed: u64) -> tls::ClientHello {
    tls::ClientHello {
        sni: sni.map(str::to_string),
        seed,
        ..Default::default()
    }
}

/// Everything after the ClientHello: server flight, client Finished + request, response, close.
fn tls_rest(c: &mut TcpConn, pq: bool, seed: u64) {
    let flight = tls::server_flight(seed, pq, &[1150, 2876, 264, 53]);
    c.server_send(&flight, &[]);
    let mut fin = tls::client_finished(seed + 1);
    fin.extend_from_slice(&tls::app_data(seed + 2, &[417]));
    c.client_send(&fin, &[]);
    c.server_send(&tls::app_data(seed + 3, &[1733]), &[]);
    c.close();
}

/// A full TLS connection whose ClientHello goes out in `segs`.
fn tls_conn(c: &mut TcpConn, ch: &tls::ClientHello, segs: &[usize]) {
    c.handshake();
    c.client_send(&ch.records(), segs);
    tls_rest(c, ch.post_quantum, ch.seed + 100);
}

/// A UDP DNS exchange (query, response 12 ms later) as one flow.
fn dns_udp(
    fx: &mut Fixture,
    client: &str,
    t: u64,
    id: u16,
    qname: &str,
    qtype: u16,
    answers: &[dns::Record],
) -> usize {
    let (c, s) = (sa(client), sa(RESOLVER));
    let f = fx.flow("udp", c, s, Some(qname), Some("dns-query"), false);
    let q = dns::query(id, qname, qtype);
    let r = dns::response(id, qname, qtype, answers, true);
    let ident = id ^ 0x5a5a;
    fx.add(vec![
        udp_pkt(c, s, ident, t, true, f, &q),
        udp_pkt(s, c, ident.wrapping_add(7), t + 12 * MS, false, f, &r),
    ]);
    f
}

fn f01(dir: &Path) -> Fixture {
    let mut fx = Fixture::new(
        "tls_pq_2seg.pcap",
        "post-quantum ClientHello (~1.8 kB, X25519MLKEM768 key share) split over 2 TCP segments",
    );
    let f = fx.tls_flow(
        "10.0.0.11:49731",
        "20.42.65.92:443",
        Some("v10.events.data.microsoft.com"),
        false,
    );
    let mut c = TcpConn::new(
        sa("10.0.0.11:49731"),
        sa("20.42.65.92:443"),
        f,
        BASE_NS,
        101,
    );
    let ch = pq_hello(Some("v10.events.data.microsoft.com"), 1);
    tls_conn(&mut c, &ch, &[]);
    fx.notes = format!(
        "ClientHello record {} bytes: 1460 + {} byte segments",
        ch.records().len(),
        ch.records().len() - 1460
    );
    fx.add(c.into_pkts());
    fx.write_pcap(dir, Link::Ethernet, 262144, false, false, None);
    fx
}

fn f02(dir: &Path) -> Fixture {
    let mut fx = Fixture::new("tls_pq_3seg.pcap", "post-quantum ClientHello split over 3 TCP segments (SNI in the first, key share across all)");
    let f = fx.tls_flow(
        "10.0.0.12:49732",
        "20.42.73.29:443",
        Some("self.events.data.microsoft.com"),
        false,
    );
    let mut c = TcpConn::new(
        sa("10.0.0.12:49732"),
        sa("20.42.73.29:443"),
        f,
        BASE_NS,
        102,
    );
    let ch = pq_hello(Some("self.events.data.microsoft.com"), 2);
    tls_conn(&mut c, &ch, &[520, 640]);
    fx.notes = format!(
        "ClientHello record {} bytes in segments of 520, 640, {}",
        ch.records().len(),
        ch.records().len() - 1160
    );
    fx.add(c.into_pkts());
    fx.write_pcap(dir, Link::Ethernet, 262144, false, false, None);
    fx
}

fn f03(dir: &Path) -> Fixture {
    let mut fx = Fixture::new(
        "tls_ooo_retrans_overlap.pcap",
        "ClientHello segments out of order, one retransmitted, one overlapping two others (consistent bytes)",
    );
    let (cl, sv) = ("10.0.0.13:49733", "40.126.31.73:443");
    let f = fx.tls_flow(cl, sv, Some("login.live.com"), false);
    let mut c = TcpConn::new(sa(cl), sa(sv), f, BASE_NS, 103);
    let ch = pq_hello(Some("login.live.com"), 3);
    let data = ch.records();
    let n = data.len();
    c.handshake();
    let ack = c.s_next;
    let seg = |c: &mut TcpConn, from: usize, to: usize, flags: u8| {
        let seq = c.client_seq_at(from as u32);
        c.raw(true, seq, ack, flags, &[], &data[from..to])
    };
    let a = net::ACK;
    let order = [
        seg(&mut c, 600, 1200, a),
        seg(&mut c, 0, 600, a),
        seg(&mut c, 0, 600, a),
        seg(&mut c, 900, 1500, a),
        seg(&mut c, 1200, n, a | net::PSH),
    ];
    c.pkts.extend(order);
    c.client_advance(n);
    c.server_ack();
    tls_rest(&mut c, true, 203);
    fx.notes = format!(
        "ClientHello stream of {n} bytes sent as [600,1200) [0,600) [0,600) again, [900,1500) (overlaps both neighbours), [1200,{n}); packet counts include the retransmission and the overlap"
    );
    fx.add(c.into_pkts());
    fx.write_pcap(dir, Link::Ethernet, 262144, false, false, None);
    fx
}

fn f04(dir: &Path) -> Fixture {
    let mut fx = Fixture::new("tls_multi_record.pcap", "ClientHello handshake message fragmented over 3 TLS records (SNI in the 2nd), records not aligned with the 2 TCP segments");
    let (cl, sv) = ("10.0.0.14:49734", "13.107.5.88:443");
    let f = fx.tls_flow(cl, sv, Some("fe3.delivery.mp.microsoft.com"), false);
    let mut c = TcpConn::new(sa(cl), sa(sv), f, BASE_NS, 104);
    let ch = tls::ClientHello {
        record_sizes: vec![90, 700],
        ..pq_hello(Some("fe3.delivery.mp.microsoft.com"), 4)
    };
    tls_conn(&mut c, &ch, &[]);
    let hs = ch.handshake_message().len();
    fx.notes = format!(
        "handshake message {hs} bytes in records of 90, 700, {} bytes; TCP segments 1460 + {}",
        hs - 790,
        ch.records().len() - 1460
    );
    fx.add(c.into_pkts());
    fx.write_pcap(dir, Link::Ethernet, 262144, false, false, None);
    fx
}

fn f05(dir: &Path) -> Fixture {
    let mut fx = Fixture::new(
        "tls_port_8443.pcap",
        "TLS on a non-standard port (8443): detection by payload, not port",
    );
    let (cl, sv) = ("10.0.0.15:49735", "52.184.220.82:8443");
    let f = fx.tls_flow(
        cl,
        sv,
        Some("tsfe.trafficshaping.dsp.mp.microsoft.com"),
        false,
    );
    let mut c = TcpConn::new(sa(cl), sa(sv), f, BASE_NS, 105);
    tls_conn(
        &mut c,
        &hello(Some("tsfe.trafficshaping.dsp.mp.microsoft.com"), 5),
        &[],
    );
    fx.add(c.into_pkts());
    fx.write_pcap(dir, Link::Ethernet, 262144, false, false, None);
    fx
}

fn f06(dir: &Path) -> Fixture {
    let mut fx = Fixture::new(
        "http_host_port_case.pcap",
        "HTTP on port 8080, `hOsT: WWW.MsftConnectTest.com:8080` (odd case + port), request line split over two segments",
    );
    let (cl, sv) = ("10.0.0.16:49736", "13.107.4.52:8080");
    let mut c = fx.tcp_conn(
        cl,
        sv,
        Some("www.msftconnecttest.com"),
        Some("http-host"),
        BASE_NS,
        106,
    );
    let req = http::request(
        "GET",
        "/connecttest.txt",
        &[
            ("Cache-Control", "no-cache"),
            ("Connection", "Close"),
            ("Pragma", "no-cache"),
            ("User-Agent", "Microsoft NCSI"),
            ("hOsT", "WWW.MsftConnectTest.com:8080"),
        ],
    );
    c.handshake();
    c.client_send(&req, &[12]);
    let resp = http::response(
        200,
        "OK",
        &[("Content-Type", "text/plain"), ("Connection", "close")],
        b"Microsoft Connect Test",
    );
    c.server_send(&resp, &[]);
    c.close();
    fx.notes =
        "first segment is `GET /connect` (12 bytes); host expected lowercased without the port"
            .into();
    fx.add(c.into_pkts());
    fx.write_pcap(dir, Link::Ethernet, 262144, false, false, None);
    fx
}

fn f07(dir: &Path) -> Fixture {
    let mut fx = Fixture::new("dns_tcp_split.pcap", "DNS over TCP: two queries on one connection, length prefix and messages split across segments");
    let (cl, sv) = ("10.0.0.17:49737", RESOLVER);
    let f = fx.flow(
        "tcp",
        sa(cl),
        sa(sv),
        Some("login.live.com"),
        Some("dns-query"),
        false,
    );
    fx.flows[f].names.push("www.msftconnecttest.com".into());
    let mut c = TcpConn::new(sa(cl), sa(sv), f, BASE_NS, 107);
    c.half_rtt_ns = 2 * MS;
    c.handshake();
    let q1 = dns::tcp_framed(&dns::query(0x1a2b, "login.live.com", dns::TYPE_A));
    c.client_send(&q1, &[2]);
    let a1 = dns::cname_chain(
        &[
            "login.live.com",
            "login.msa.msidentity.com",
            "www.tm.lg.prod.aadmsa.trafficmanager.net",
        ],
        &[ip("40.126.31.73"), ip("20.190.159.0")],
        300,
    );
    let r1 = dns::tcp_framed(&dns::response(
        0x1a2b,
        "login.live.com",
        dns::TYPE_A,
        &a1,
        true,
    ));
    c.server_send(&r1, &[30]);
    let q2 = dns::tcp_framed(&dns::query(
        0x1a2c,
        "www.msftconnecttest.com",
        dns::TYPE_AAAA,
    ));
    c.client_send(&q2, &[20]);
    let a2 = dns::cname_chain(
        &["www.msftconnecttest.com", "v6ncsi.msedge.net"],
        &[ip("2620:1ec:c11::200")],
        60,
    );
    let r2 = dns::tcp_framed(&dns::response(
        0x1a2c,
        "www.msftconnecttest.com",
        dns::TYPE_AAAA,
        &a2,
        true,
    ));
    c.server_send(&r2, &[]);
    c.close();
    fx.notes = "query 1 (login.live.com A): 2-byte length prefix alone, then the message; response 1 split after 30 bytes; query 2 (www.msftconnecttest.com AAAA) split inside the name. host = first query name".into();
    fx.add(c.into_pkts());
    fx.write_pcap(dir, Link::Ethernet, 262144, false, false, None);
    fx
}

fn f08(dir: &Path) -> Fixture {
    let mut fx = Fixture::new(
        "dns_udp_cname_then_tls_nosni.pcap",
        "UDP DNS answer with a 2-step CNAME chain and 2 A records, then a TLS flow without SNI to the 2nd address: named from DNS",
    );
    let q = "settings-win.data.microsoft.com";
    let answers = dns::cname_chain(
        &[
            q,
            "atm-settingsfe-prod-geo2.trafficmanager.net",
            "settings-prod-wus2-2.westus2.cloudapp.azure.com",
        ],
        &[ip("20.189.173.20"), ip("20.189.173.21")],
        1800,
    );
    dns_udp(
        &mut fx,
        "10.0.0.18:56001",
        BASE_NS,
        0x7b01,
        q,
        dns::TYPE_A,
        &answers,
    );
    let (cl, sv) = ("10.0.0.18:49738", "20.189.173.21:443");
    let f = fx.flow("tcp", sa(cl), sa(sv), Some(q), Some("dns"), false);
    let mut c = TcpConn::new(sa(cl), sa(sv), f, BASE_NS + 20 * MS, 108);
    tls_conn(&mut c, &hello(None, 8), &[]);
    fx.notes = format!("chain {q} -> atm-settingsfe-prod-geo2.trafficmanager.net -> settings-prod-wus2-2.westus2.cloudapp.azure.com -> 20.189.173.20, 20.189.173.21; the TLS flow is named by the query name");
    fx.add(c.into_pkts());
    fx.write_pcap(dir, Link::Ethernet, 262144, false, false, None);
    fx
}

fn f09(dir: &Path) -> Fixture {
    let mut fx = Fixture::new("linux_sll2.pcap", "Linux cooked v2 (SLL2, linktype 276): a UDP DNS exchange over IPv6 and a TLS flow over IPv4");
    let q = "watson.telemetry.microsoft.com";
    let (dc, ds) = (sa("[fd00::19]:61000"), sa("[fd00::1]:53"));
    let df = fx.flow("udp", dc, ds, Some(q), Some("dns-query"), false);
    let ans = dns::cname_chain(&[q], &[ip("52.168.117.170")], 600);
    fx.add(vec![
        udp_pkt(
            dc,
            ds,
            0,
            BASE_NS,
            true,
            df,
            &dns::query(0x0909, q, dns::TYPE_A),
        ),
        udp_pkt(
            ds,
            dc,
            0,
            BASE_NS + 8 * MS,
            false,
            df,
            &dns::response(0x0909, q, dns::TYPE_A, &ans, true),
        ),
    ]);
    let (cl, sv) = ("10.0.0.19:49739", "52.168.117.170:443");
    let f = fx.tls_flow(cl, sv, Some(q), false);
    let mut c = TcpConn::new(sa(cl), sa(sv), f, BASE_NS + 10 * MS, 109);
    tls_conn(&mut c, &hello(Some(q), 9), &[]);
    fx.notes = "the TLS flow's address was also answered by DNS: SNI (observed) is expected to win over DNS (inferred)".into();
    fx.add(c.into_pkts());
    fx.write_pcap(dir, Link::Sll2 { ifindex: 2 }, 262144, false, false, None);
    fx
}

fn f10(dir: &Path) -> Fixture {
    let mut fx = Fixture::new(
        "qinq.pcap",
        "802.1ad QinQ: outer TPID 0x88a8 VLAN 100, inner 0x8100 VLAN 200",
    );
    let (cl, sv) = ("10.0.0.20:49740", "13.107.42.14:443");
    let f = fx.tls_flow(cl, sv, Some("client.wns.windows.com"), false);
    let mut c = TcpConn::new(sa(cl), sa(sv), f, BASE_NS, 110);
    tls_conn(&mut c, &hello(Some("client.wns.windows.com"), 10), &[]);
    fx.add(c.into_pkts());
    fx.write_pcap(
        dir,
        Link::QinQ {
            outer: 100,
            inner: 200,
        },
        262144,
        false,
        false,
        None,
    );
    fx
}

fn f11(dir: &Path) -> Fixture {
    let mut fx = Fixture::new(
        "multi_iface.pcapng",
        "pcapng with 2 IDBs: if0 Ethernet if_tsresol=6 (IPv4 TLS), if1 raw IP if_tsresol=9 (IPv6 TLS); EPBs interleaved",
    );
    fx.format = "pcapng";
    let (c4, s4) = ("10.0.0.21:49741", "204.79.197.200:443");
    let f4 = fx.tls_flow(c4, s4, Some("arc.msn.com"), false);
    let mut a = TcpConn::new(sa(c4), sa(s4), f4, BASE_NS, 111);
    tls_conn(&mut a, &hello(Some("arc.msn.com"), 11), &[]);
    let (c6, s6) = ("[fd00::21]:49742", "[2620:1ec:c11::200]:443");
    let f6 = fx.tls_flow(c6, s6, Some("edge.microsoft.com"), false);
    let mut b = TcpConn::new(sa(c6), sa(s6), f6, BASE_NS + 3 * MS + 123, 112);
    b.gap_ns = 1_001;
    b.half_rtt_ns = 7 * MS + 777;
    tls_conn(&mut b, &pq_hello(Some("edge.microsoft.com"), 12), &[]);
    fx.add(a.into_pkts());
    fx.add(b.into_pkts());
    let mut w = PcapngWriter::new("egressmap synth");
    let eth = w.add_interface(1, 262144, "eth0", 6);
    let raw = w.add_interface(101, 262144, "tun0", 9);
    for p in fx.ordered() {
        let (iface, link) = if p.flow == f4 {
            (eth, Link::Ethernet)
        } else {
            (raw, Link::RawIp)
        };
        let ts = w.packet(iface, p.ts_ns, &link.frame(&p.ip, p.from_client));
        fx.count(&p, ts);
    }
    fx.link_types = vec![1, 101];
    fx.notes = "if1 timestamps have sub-microsecond parts (first_ts_ns/last_ts_ns are exact); the IPv6 ClientHello is post-quantum (MSS 1440, 2 segments)".into();
    write(dir, fx.file, &w.into_bytes());
    fx
}

fn f12(dir: &Path) -> Fixture {
    let mut fx = Fixture::new(
        "tls_nanosecond.pcap",
        "pcap with nanosecond magic 0xa1b23c4d, timestamps with sub-microsecond parts",
    );
    let (cl, sv) = ("10.0.0.22:49743", "13.107.4.50:443");
    let f = fx.tls_flow(cl, sv, Some("slscr.update.microsoft.com"), false);
    let mut c = TcpConn::new(sa(cl), sa(sv), f, BASE_NS + 987_654_321, 113);
    c.gap_ns = 333;
    c.half_rtt_ns = 4_500_123;
    tls_conn(&mut c, &hello(Some("slscr.update.microsoft.com"), 13), &[]);
    fx.add(c.into_pkts());
    fx.write_pcap(dir, Link::Ethernet, 262144, true, false, None);
    fx
}

fn f13(dir: &Path) -> Fixture {
    let mut fx = Fixture::new(
        "tls_bigendian.pcap",
        "big-endian pcap (magic bytes a1 b2 c3 d4), microsecond timestamps",
    );
    let (cl, sv) = ("10.0.0.23:49744", "20.54.24.148:443");
    let f = fx.tls_flow(cl, sv, Some("displaycatalog.mp.microsoft.com"), false);
    let mut c = TcpConn::new(sa(cl), sa(sv), f, BASE_NS + 250_000_000, 114);
    tls_conn(
        &mut c,
        &hello(Some("displaycatalog.mp.microsoft.com"), 14),
        &[],
    );
    fx.add(c.into_pkts());
    fx.write_pcap(dir, Link::Ethernet, 65535, false, true, None);
    fx
}

fn f14(dir: &Path) -> Fixture {
    let mut fx = Fixture::new(
        "truncated_last_record.pcap",
        "file cut short: the last record header promises 54 bytes, only 20 follow",
    );
    let (cl, sv) = ("10.0.0.24:49745", "52.109.8.19:443");
    let f = fx.tls_flow(cl, sv, Some("activation-v2.sls.microsoft.com"), false);
    let mut c = TcpConn::new(sa(cl), sa(sv), f, BASE_NS, 115);
    tls_conn(
        &mut c,
        &hello(Some("activation-v2.sls.microsoft.com"), 15),
        &[],
    );
    fx.add(c.into_pkts());
    fx.write_pcap(dir, Link::Ethernet, 262144, false, false, Some(20));
    fx.notes = "the cut record (the client's final ACK) is not counted: readers must report a truncated record, not panic, and keep everything before it".into();
    fx
}

fn f15(dir: &Path) -> Fixture {
    let mut fx = Fixture::new(
        "snaplen96.pcap",
        "snaplen 96: DNS query names fit in 96 bytes, the DNS answers and the ClientHello's SNI do not",
    );
    let q = "ctldl.windowsupdate.com";
    let answers = dns::cname_chain(
        &[
            q,
            "ctldl.windowsupdate.com.delivery.microsoft.com",
            "wu-f-net.trafficmanager.net",
        ],
        &[ip("13.107.4.50")],
        3600,
    );
    dns_udp(
        &mut fx,
        "10.0.0.25:58000",
        BASE_NS,
        0x3c3c,
        q,
        dns::TYPE_A,
        &answers,
    );
    let (cl, sv) = ("10.0.0.25:49746", "13.107.4.50:443");
    // The ClientHello carries the SNI, but past byte 96 of every frame.
    let f = fx.flow("tcp", sa(cl), sa(sv), None, None, false);
    let mut c = TcpConn::new(sa(cl), sa(sv), f, BASE_NS + 20 * MS, 116);
    tls_conn(&mut c, &pq_hello(Some(q), 16), &[]);
    fx.add(c.into_pkts());
    fx.write_pcap(dir, Link::Ethernet, 96, false, false, None);
    fx.notes = format!("the ClientHello carries SNI {q} beyond the snap; the DNS response is cut inside its first answer so 13.107.4.50 cannot be learnt: the TLS flow stays unnamed. Byte counts come from IP headers (orig_len), not captured lengths");
    fx
}

fn f16(dir: &Path) -> Fixture {
    let mut fx = Fixture::new("tls_ech.pcap", "Encrypted Client Hello: outer SNI is the public name, extension 0xfe0d present, post-quantum (2 segments)");
    let (cl, sv) = ("10.0.0.26:49747", "13.107.21.200:443");
    let f = fx.tls_flow(cl, sv, Some("ech.msedge.net"), true);
    let mut c = TcpConn::new(sa(cl), sa(sv), f, BASE_NS, 117);
    let ch = tls::ClientHello {
        ech: true,
        ..pq_hello(Some("ech.msedge.net"), 17)
    };
    tls_conn(&mut c, &ch, &[]);
    fx.notes = "the real destination name is inside the sealed inner ClientHello; only the public name is visible".into();
    fx.add(c.into_pkts());
    fx.write_pcap(dir, Link::Ethernet, 262144, false, false, None);
    fx
}

fn f17(dir: &Path) -> Fixture {
    let mut fx = Fixture::new(
        "tcp_midflow_no_syn.pcap",
        "capture starts mid-flow: no SYN, first packet is server->client; client is the high port talking to 443",
    );
    let (cl, sv) = ("10.0.0.27:52817", "13.107.42.16:443");
    let f = fx.flow("tcp", sa(cl), sa(sv), None, None, false);
    let mut c = TcpConn::new(sa(cl), sa(sv), f, BASE_NS, 118);
    c.server_send(&tls::app_data(1801, &[1380]), &[]);
    c.client_send(&tls::app_data(1802, &[583]), &[]);
    c.server_send(&tls::app_data(1803, &[297]), &[]);
    c.close();
    fx.notes = "only TLS application data is seen, so no name; orientation must come from ports, not from who spoke first".into();
    fx.add(c.into_pkts());
    fx.write_pcap(dir, Link::Ethernet, 262144, false, false, None);
    fx
}

fn f18(dir: &Path) -> Fixture {
    let mut fx = Fixture::new("tcp_fin_then_syn_reuse.pcap", "same 4-tuple used twice: FIN close, then a new SYN 2 s later is a new flow with its own SNI");
    let (cl, sv) = ("10.0.0.28:50000", "40.126.31.73:443");
    let f1 = fx.tls_flow(cl, sv, Some("login.live.com"), false);
    let mut a = TcpConn::new(sa(cl), sa(sv), f1, BASE_NS, 119);
    tls_conn(&mut a, &hello(Some("login.live.com"), 18), &[]);
    let f2 = fx.tls_flow(cl, sv, Some("login.microsoftonline.com"), false);
    let mut b = TcpConn::new(sa(cl), sa(sv), f2, BASE_NS + 2_000 * MS, 120);
    tls_conn(&mut b, &hello(Some("login.microsoftonline.com"), 19), &[]);
    fx.notes = "flows listed in time order; the 2nd has a new ISN".into();
    fx.add(a.into_pkts());
    fx.add(b.into_pkts());
    fx.write_pcap(dir, Link::Ethernet, 262144, false, false, None);
    fx
}

/// A QUIC connection: the client's Initial datagrams (already sealed, in the order given, 1 ms
/// apart), then a server flight (opaque long-header datagrams standing for the server's Initial
/// and Handshake packets), then 1-RTT short-header traffic both ways.
fn quic_conn(
    fx: &mut Fixture,
    f: usize,
    client: SocketAddr,
    server: SocketAddr,
    t0: u64,
    initials: &[Vec<u8>],
    seed: u64,
) {
    let mut r = Rng::new(seed);
    let mut ident = (seed as u16).wrapping_mul(97);
    let mut t = t0;
    let mut pkts = Vec::new();
    let mut send = |from_client: bool, t: u64, payload: &[u8], pkts: &mut Vec<Pkt>| {
        ident = ident.wrapping_add(1);
        let (s, d) = if from_client {
            (client, server)
        } else {
            (server, client)
        };
        pkts.push(udp_pkt(s, d, ident, t, from_client, f, payload));
    };
    for d in initials {
        send(true, t, d, &mut pkts);
        t += MS;
    }
    t += 18 * MS;
    for n in [1200usize, 1200, 640] {
        let mut d = r.bytes(n);
        d[0] = 0xc0 | (d[0] & 0x3f);
        send(false, t, &d, &mut pkts);
        t += MS / 4;
    }
    t += 2 * MS;
    for (up, n) in [
        (true, 90usize),
        (true, 412),
        (false, 1180),
        (false, 1180),
        (false, 733),
        (true, 44),
    ] {
        let mut d = r.bytes(n);
        d[0] = 0x40 | (d[0] & 0x3f);
        send(up, t, &d, &mut pkts);
        t += 3 * MS;
    }
    fx.add(pkts);
}

fn h3_hello(sni: &str, post_quantum: bool, ech: bool, seed: u64) -> tls::ClientHello {
    tls::ClientHello {
        sni: Some(sni.to_string()),
        alpn: vec!["h3".into()],
        post_quantum,
        ech,
        seed,
        ..Default::default()
    }
}

/// One-Initial QUIC connection of `version` naming `sni`.
fn quic_fixture(
    file: &'static str,
    exercises: &'static str,
    version: u32,
    vname: &'static str,
    (cl, sv): (&str, &str),
    ch: tls::ClientHello,
    seed: u64,
) -> Fixture {
    let mut fx = Fixture::new(file, exercises);
    let sni = ch.sni.clone();
    let f = fx.flow(
        "udp",
        sa(cl),
        sa(sv),
        sni.as_deref(),
        Some("quic-sni"),
        ch.ech,
    );
    fx.flows[f].quic_version = Some(vname);
    let mut r = Rng::new(seed);
    let (dcid, scid) = (r.bytes(8), r.bytes(8));
    let msg = ch.handshake_message();
    let init = quic::Initial::new(version, &dcid, &scid, 0, quic::crypto_frame(0, &msg));
    quic_conn(&mut fx, f, sa(cl), sa(sv), BASE_NS, &[init.seal()], seed);
    fx.notes = format!(
        "ClientHello of {} bytes in one CRYPTO frame of one 1200-byte Initial, DCID {}",
        msg.len(),
        dcid.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    fx
}

fn f19(dir: &Path) -> Fixture {
    let mut fx = quic_fixture(
        "quic_v1.pcap",
        "QUIC v1 client Initial (RFC 9001 keys from the DCID, header protection, AES-128-GCM) naming the server by SNI",
        quic::V1,
        "v1",
        ("10.0.0.29:55001", "13.107.246.40:443"),
        h3_hello("edge.microsoft.com", false, false, 29),
        1901,
    );
    fx.write_pcap(dir, Link::Ethernet, 262144, false, false, None);
    fx
}

fn f20(dir: &Path) -> Fixture {
    let mut fx = quic_fixture(
        "quic_v2.pcap",
        "QUIC v2 (RFC 9369: own salt, `quicv2` labels, Initial type bits 01)",
        quic::V2,
        "v2",
        ("10.0.0.30:55002", "52.113.194.132:443"),
        h3_hello("teams.microsoft.com", false, false, 30),
        2001,
    );
    fx.write_pcap(dir, Link::Ethernet, 262144, false, false, None);
    fx
}

fn f21(dir: &Path) -> Fixture {
    let mut fx = quic_fixture(
        "quic_draft29.pcap",
        "QUIC draft-29 (0xff00001d, draft-29 salt), IPv6",
        quic::DRAFT29,
        "draft-29",
        ("[fd00::31]:55003", "[2603:1030:20e:3::23c]:443"),
        h3_hello("officeclient.microsoft.com", false, false, 31),
        2101,
    );
    fx.write_pcap(dir, Link::Ethernet, 262144, false, false, None);
    fx
}

fn f22(dir: &Path) -> Fixture {
    let (cl, sv) = ("10.0.0.32:55004", "204.79.197.200:443");
    let mut fx = Fixture::new(
        "quic_two_initials_second_first.pcap",
        "post-quantum ClientHello split over two Initial packets (CRYPTO at offsets 0 and 1100), the later-offset packet captured first",
    );
    let sni = "www.bing.com";
    let f = fx.flow("udp", sa(cl), sa(sv), Some(sni), Some("quic-sni"), false);
    fx.flows[f].quic_version = Some("v1");
    let mut r = Rng::new(2201);
    let (dcid, scid) = (r.bytes(8), r.bytes(8));
    let msg = h3_hello(sni, true, false, 32).handshake_message();
    let (a, b) = msg.split_at(1100);
    let p0 = quic::Initial::new(quic::V1, &dcid, &scid, 0, quic::crypto_frame(0, a));
    let mut frames = quic::ack_frame();
    frames.extend(quic::crypto_frame(1100, b));
    let p1 = quic::Initial::new(quic::V1, &dcid, &scid, 1, frames);
    quic_conn(
        &mut fx,
        f,
        sa(cl),
        sa(sv),
        BASE_NS,
        &[p1.seal(), p0.seal()],
        2201,
    );
    fx.notes = format!(
        "ClientHello {} bytes: [1100, {}) in packet number 1 (sent first), [0, 1100) in packet number 0",
        msg.len(),
        msg.len()
    );
    fx.write_pcap(dir, Link::Ethernet, 262144, false, false, None);
    fx
}

fn f23(dir: &Path) -> Fixture {
    let mut fx = quic_fixture(
        "quic_ech.pcap",
        "QUIC v1 with Encrypted Client Hello: outer SNI is the public name, 0xfe0d present",
        quic::V1,
        "v1",
        ("10.0.0.33:55005", "13.107.21.239:443"),
        h3_hello("ech.msedge.net", false, true, 33),
        2301,
    );
    fx.write_pcap(dir, Link::Ethernet, 262144, false, false, None);
    fx
}

fn f24(dir: &Path) -> Fixture {
    let mut fx = Fixture::new(
        "tls_ech_https_inferred.pcap",
        "ECH after an HTTPS (type 65) lookup whose ech parameter names the outer SNI: the looked-up name is inferred for that client only",
    );
    let (q, outer) = ("settings-win.data.microsoft.com", "cloudflare-ech.com");
    let hint: std::net::Ipv4Addr = "104.16.132.229".parse().expect("fixture address");
    let answers = [dns::Record {
        name: q.into(),
        ttl: 300,
        data: dns::RData::Https {
            ipv4hint: vec![hint],
            ech: dns::ech_config_list(outer, 24),
        },
    }];
    dns_udp(
        &mut fx,
        "10.0.0.34:56034",
        BASE_NS,
        0x2401,
        q,
        dns::TYPE_HTTPS,
        &answers,
    );
    let sv = "104.16.132.229:443";
    for (i, cl) in ["10.0.0.34:49800", "10.0.0.35:49801"]
        .into_iter()
        .enumerate()
    {
        let f = fx.tls_flow(cl, sv, Some(outer), true);
        if i == 0 {
            fx.flows[f].inferred_host = Some(q.into());
        }
        let t = BASE_NS + (20 + 10 * i as u64) * MS;
        let mut c = TcpConn::new(sa(cl), sa(sv), f, t, 124 + i as u64);
        let ch = tls::ClientHello {
            ech: true,
            ..pq_hello(Some(outer), 24 + i as u64)
        };
        tls_conn(&mut c, &ch, &[]);
        fx.add(c.into_pkts());
    }
    fx.notes = format!("10.0.0.34 asked HTTPS {q} and got ipv4hint {hint} and an ECH config with public name {outer}, then sent an ECH ClientHello with outer SNI {outer}: inferred_host {q}. 10.0.0.35 sends the same ClientHello without having asked: no inference");
    fx.write_pcap(dir, Link::Ethernet, 262144, false, false, None);
    fx
}

fn flow_json(f: &Flow) -> Value {
    let mut v = json!({
        "proto": f.proto,
        "client": f.client.to_string(),
        "server": f.server.to_string(),
        "packets_up": f.packets_up,
        "packets_down": f.packets_down,
        "bytes_up": f.bytes_up,
        "bytes_down": f.bytes_down,
        "host": f.host,
        "host_source": f.host_source,
        "ech": f.ech,
        "inferred_host": f.inferred_host,
        "names": f.names,
        "first_ts_ns": f.first_ts_ns,
        "last_ts_ns": f.last_ts_ns,
    });
    if let Some(q) = f.quic_version {
        v["quic_version"] = json!(q);
    }
    f.expect.write(&mut v);
    v
}

fn readme(fixtures: &[Fixture]) -> String {
    let mut s = String::from(
        "# Fixture captures\n\n\
         Generated by `cargo run --example gen_fixtures` (deterministic: rerunning rewrites these files \
         byte-identically); the synthesizer is `examples/synth/`. Do not edit by hand. The week-long and fleet captures in `week/` come from \
         `examples/gen_week.rs` (also byte-identical when regenerated); `week/README.md` lists each with its \
         command, among them `fleet-names.pcapng` (machines named by NetBIOS, DHCP option 81, the DHCP ACK \
         and a PTR answer).\n\n\
         `expected.json` holds the same expectations machine-readably, tallied by the generator from the \
         records it wrote. Conventions:\n\
         - up = client -> server; packets and IP-layer bytes (IPv4 total length, IPv6 40 + payload length, \
         as the header says, even when the capture is snapped); a record cut short is not counted.\n\
         - host is lowercase, without port; host_source: `tls-sni`, `http-host`, `dns` (flow named from an \
         earlier DNS answer for its server address, by the query name), `dns-query` (the DNS flow itself: \
         its first query name). In JSON, `names` lists every name in the flow's own payload (all DNS query names; empty when named only via `dns`), and `first_ts_ns`/`last_ts_ns` are the decoded record timestamps.\n\
         - clients are 10.0.0.0/24 (fd00::/64), the resolver 10.0.0.1 / fd00::1; base time 1700000000 s.\n\n",
    );
    for fx in fixtures {
        let _ = write!(s, "- `{}`: {}.", fx.file, fx.exercises);
        for f in &fx.flows {
            let host = match (&f.host, f.host_source) {
                (Some(h), Some(src)) => format!("host {h} ({src})"),
                _ => "no host".into(),
            };
            let _ = write!(
                s,
                " Flow {} {} -> {}: up {} pkts / {} B, down {} pkts / {} B, {host}, ech {}{}.",
                f.proto,
                f.client,
                f.server,
                f.packets_up,
                f.bytes_up,
                f.packets_down,
                f.bytes_down,
                f.ech,
                f.inferred_host
                    .as_deref()
                    .map(|h| format!(", inferred {h}"))
                    .unwrap_or_default()
            );
        }
        if !fx.notes.is_empty() {
            let _ = write!(s, " Note: {}.", fx.notes);
        }
        s.push('\n');
    }
    s
}

fn main() {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    std::fs::create_dir_all(&dir).expect("creating fixtures/");
    let gens: &[fn(&Path) -> Fixture] = &[
        f01,
        f02,
        f03,
        f04,
        f05,
        f06,
        f07,
        f08,
        f09,
        f10,
        f11,
        f12,
        f13,
        f14,
        f15,
        f16,
        f17,
        f18,
        f19,
        f20,
        f21,
        f22,
        f23,
        f24,
        flows::flows_wns_week,
        flows::flows_silent_2d_fin,
        flows::flows_syn_scan,
        reports::hostile_names,
    ];
    let fixtures: Vec<Fixture> = gens
        .iter()
        .chain(names::GENS)
        .chain(names::DNS_GENS)
        .chain(framings::GENS)
        .map(|g| g(&dir))
        .collect();
    let expected: Vec<Value> = fixtures
        .iter()
        .map(|fx| {
            let mut v = json!({
                "file": fx.file,
                "format": fx.format,
                "link_types": fx.link_types,
                "records": fx.records,
                "truncated_records": fx.truncated_records,
                "exercises": fx.exercises,
                "notes": fx.notes,
                "flows": fx.flows.iter().map(flow_json).collect::<Vec<_>>(),
            });
            names::run_options(fx.file, &mut v);
            if !fx.unsupported.is_empty() {
                v["unsupported"] = fx
                    .unsupported
                    .iter()
                    .map(|(k, n)| (k.to_string(), json!(n)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            }
            if !fx.dns_names.is_empty() {
                v["dns_names"] = fx
                    .dns_names
                    .iter()
                    .map(|d| {
                        let counts = json!({
                            "queries": d.queries,
                            "answers": d.answers,
                            "clients": d.clients,
                        });
                        (d.name.clone(), counts)
                    })
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            }
            v
        })
        .collect();
    let mut js = serde_json::to_string_pretty(&expected).expect("serializing expectations");
    js.push('\n');
    write(&dir, "expected.json", js.as_bytes());
    write(&dir, "README.md", readme(&fixtures).as_bytes());
    println!("wrote {} fixtures to {}", fixtures.len(), dir.display());
}
