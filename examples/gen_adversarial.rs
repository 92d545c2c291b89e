//! Adversarial captures for resource-bound testing (issue 8). Large outputs: not committed.
//!
//! `cargo run --release --example gen_adversarial -- DIR [--small]`
//!
//! Writes into DIR:
//! - `syn_flood.pcap`: 10,000,000 SYNs (100,000 with `--small`) from random IPv4 sources.
//! - `reassembly_pinning.pcap`: 8,200 connections each sending one byte far ahead in the stream
//!   (16,000 on 443, 65,000 on DNS-over-TCP 53), then a genuine two-segment ClientHello.
//! - `ooo_tiny_segments.pcap`: one TCP flow whose client sends a ClientHello plus filler as
//!   100,000 one-byte segments in random order.
//! - `dns_pointer_loops.pcap`: DNS responses whose names are compression-pointer loops (self,
//!   two-cycle, long chains), interleaved with a valid response.
//! - `tls_10k_extensions.pcap`: a ClientHello with 10,000 extensions (SNI last).
//! - `dns_many_names.pcap`: one UDP DNS flow asking 100,000 distinct names (a DNS tunnel's
//!   shape): names kept per flow are bounded, the rest counted.
//! - `vlan_nested.pcap`: Ethernet frames with 1..=64 stacked 802.1Q tags around a DNS query.
//! - `ipv6_ext_chain.pcap`: IPv6 packets behind 1..=4000 extension headers.
//! - `records_zero_max.pcap`: zero-length records, a record of exactly the largest accepted
//!   length (256 KiB), then one announcing 4 GiB (the file ends there).
//! - `pcapng_bogus_bom.pcapng`: a valid section with one packet, then a section header whose
//!   byte-order magic is bogus.
//! - `pcapng_huge_block.pcapng`: a block header announcing a ~4 GiB block.
//!
//! Streams to disk: the 10M-SYN file (~560 MB) is never held in memory.
#[path = "synth/mod.rs"]
mod synth;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use synth::net::{ip_packet, ipv4_packet, ipv6_packet, tcp_segment, udp_datagram, TcpSeg};
use synth::rng::Rng;

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
const LINK_RAW: u32 = 101;
const LINK_ETH: u32 = 1;

/// Streaming little-endian microsecond pcap writer.
struct Pcap {
    w: BufWriter<File>,
    records: u64,
}

impl Pcap {
    fn create(path: &Path, link: u32, snaplen: u32) -> std::io::Result<Pcap> {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
        w.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        w.write_all(&2u16.to_le_bytes())?;
        w.write_all(&4u16.to_le_bytes())?;
        w.write_all(&[0; 8])?;
        w.write_all(&snaplen.to_le_bytes())?;
        w.write_all(&link.to_le_bytes())?;
        Ok(Pcap { w, records: 0 })
    }

    /// A record header with explicit lengths (they may lie) followed by `data`.
    fn raw(&mut self, ts_us: u64, incl: u32, orig: u32, data: &[u8]) -> std::io::Result<()> {
        self.w
            .write_all(&((ts_us / 1_000_000) as u32).to_le_bytes())?;
        self.w
            .write_all(&((ts_us % 1_000_000) as u32).to_le_bytes())?;
        self.w.write_all(&incl.to_le_bytes())?;
        self.w.write_all(&orig.to_le_bytes())?;
        self.w.write_all(data)?;
        self.records += 1;
        Ok(())
    }

    fn packet(&mut self, ts_us: u64, data: &[u8]) -> std::io::Result<()> {
        self.raw(ts_us, data.len() as u32, data.len() as u32, data)
    }

    fn finish(mut self) -> std::io::Result<u64> {
        self.w.flush()?;
        Ok(self.records)
    }
}

const T0: u64 = 1_700_000_000_000_000;

pub fn syn_flood(dir: &Path, n: u64) -> std::io::Result<u64> {
    let mut p = Pcap::create(&dir.join("syn_flood.pcap"), LINK_RAW, 65535)?;
    let mut rng = Rng::new(0x5eed_0001);
    let dst = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(13, 107, 4, 52)), 443);
    for i in 0..n {
        let a = rng.next_u32() | 0x0100_0000;
        let src = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), 1024 + rng.next_u16() % 60000);
        let tcp = tcp_segment(&TcpSeg {
            src,
            dst,
            seq: rng.next_u32(),
            ack: 0,
            flags: SYN,
            window: 64240,
            options: &[],
            payload: &[],
        });
        let ip = ip_packet(src.ip(), dst.ip(), 6, i as u16, 64, &tcp);
        // 1 µs apart: 10 s of capture, far below the idle timeouts.
        p.packet(T0 + i, &ip)?;
    }
    p.finish()
}

/// A TCP connection (handshake done) whose client stream is sent in the given segments.
fn tcp_flow(
    p: &mut Pcap,
    client: SocketAddr,
    server: SocketAddr,
    stream: &[u8],
    segs: &[(usize, usize)],
) -> std::io::Result<()> {
    let (cisn, sisn) = (1_000u32, 9_000u32);
    let mut ts = T0;
    let mut send = |p: &mut Pcap, up: bool, seq: u32, ack: u32, flags: u8, pl: &[u8]| {
        let (s, d) = if up {
            (client, server)
        } else {
            (server, client)
        };
        let tcp = tcp_segment(&TcpSeg {
            src: s,
            dst: d,
            seq,
            ack,
            flags,
            window: 65535,
            options: &[],
            payload: pl,
        });
        ts += 10;
        p.packet(ts, &ip_packet(s.ip(), d.ip(), 6, 1, 64, &tcp))
    };
    send(p, true, cisn, 0, SYN, &[])?;
    send(p, false, sisn, cisn + 1, SYN | ACK, &[])?;
    send(p, true, cisn + 1, sisn + 1, ACK, &[])?;
    for &(off, len) in segs {
        let pl = &stream[off..off + len];
        send(p, true, cisn + 1 + off as u32, sisn + 1, ACK | PSH, pl)?;
    }
    Ok(())
}

fn client_hello(sni: &str, extra_exts: usize) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0x42; 32]);
    body.push(0);
    body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
    let mut exts = Vec::new();
    for i in 0..extra_exts {
        // Unassigned types, empty bodies: 4 bytes each.
        let t = 0x1000u16.wrapping_add(i as u16);
        exts.extend_from_slice(&t.to_be_bytes());
        exts.extend_from_slice(&[0, 0]);
    }
    let name = sni.as_bytes();
    let mut sni_ext = Vec::new();
    sni_ext.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    sni_ext.push(0);
    sni_ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni_ext.extend_from_slice(name);
    exts.extend_from_slice(&[0, 0]);
    exts.extend_from_slice(&(sni_ext.len() as u16).to_be_bytes());
    exts.extend_from_slice(&sni_ext);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    // Records of at most 16 KiB each.
    let mut out = Vec::new();
    for chunk in hs.chunks(16384) {
        out.extend_from_slice(&[22, 3, 1]);
        out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

/// `n` connections (half to 443, half to DNS over TCP on 53) that each send one byte far ahead
/// in their stream and nothing else (a buffer indexed by offset would allocate the distance), then
/// a genuine ClientHello in two segments, which must still be named.
pub fn reassembly_pinning(dir: &Path, n: u32) -> std::io::Result<u64> {
    let mut p = Pcap::create(&dir.join("reassembly_pinning.pcap"), LINK_RAW, 65535)?;
    let far = vec![0x41u8; 65_001];
    for i in 0..n {
        let client = addr4(10, 1 + (i >> 16) as u8, (i >> 8) as u8, i as u8, 40000);
        let (port, off) = if i % 2 == 0 {
            (443, 16_000)
        } else {
            (53, 65_000)
        };
        tcp_flow(
            &mut p,
            client,
            addr4(13, 107, 4, 52, port),
            &far,
            &[(off, 1)],
        )?;
    }
    let hello = client_hello("genuine.example.com", 0);
    let half = hello.len() / 2;
    tcp_flow(
        &mut p,
        addr4(10, 0, 0, 9, 50001),
        addr4(13, 107, 4, 53, 443),
        &hello,
        &[(0, half), (half, hello.len() - half)],
    )?;
    p.finish()
}

pub fn ooo_tiny_segments(dir: &Path, n: usize) -> std::io::Result<u64> {
    let mut p = Pcap::create(&dir.join("ooo_tiny_segments.pcap"), LINK_RAW, 65535)?;
    let mut stream = client_hello("ooo.example.com", 0);
    stream.resize(n, 0x17);
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Rng::new(7);
    for i in (1..order.len()).rev() {
        order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    let segs: Vec<(usize, usize)> = order.into_iter().map(|o| (o, 1)).collect();
    tcp_flow(
        &mut p,
        addr4(10, 0, 0, 2, 50000),
        addr4(13, 107, 4, 52, 443),
        &stream,
        &segs,
    )?;
    p.finish()
}

pub fn tls_many_extensions(dir: &Path, n: usize) -> std::io::Result<u64> {
    let mut p = Pcap::create(&dir.join("tls_10k_extensions.pcap"), LINK_RAW, 65535)?;
    let stream = client_hello("many-extensions.example.com", n);
    let segs: Vec<(usize, usize)> = (0..stream.len())
        .step_by(1460)
        .map(|o| (o, 1460.min(stream.len() - o)))
        .collect();
    tcp_flow(
        &mut p,
        addr4(10, 0, 0, 2, 50001),
        addr4(13, 107, 4, 53, 443),
        &stream,
        &segs,
    )?;
    p.finish()
}

fn addr4(a: u8, b: u8, c: u8, d: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), port)
}

fn dns_header(id: u16, an: u16) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x81, 0x80, 0, 1]);
    m.extend_from_slice(&an.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    m
}

/// Responses whose names loop through compression pointers, in several shapes.
pub fn dns_pointer_loops(dir: &Path, rounds: usize) -> std::io::Result<u64> {
    let mut p = Pcap::create(&dir.join("dns_pointer_loops.pcap"), LINK_RAW, 65535)?;
    let (client, server) = (addr4(10, 0, 0, 2, 40000), addr4(10, 0, 0, 1, 53));
    let mut msgs = Vec::new();
    // 1. Question name is a pointer to itself (offset 12).
    let mut m = dns_header(1, 0);
    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    msgs.push(m);
    // 2. Two labels pointing at each other: "a" -> ptr(20) ; at 20: "b" -> ptr(12).
    let mut m = dns_header(2, 0);
    m.extend_from_slice(&[1, b'a', 0xc0, 16, 1, b'b', 0xc0, 12, 0, 1, 0, 1]);
    msgs.push(m);
    // 3. A long backward chain: 2000 pointers each to the previous, ending in a loop; the
    //    question points at the last one.
    let mut m = dns_header(3, 1);
    m.extend_from_slice(&[7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0, 0, 1, 0, 1]);
    let chain_start = m.len();
    m.extend_from_slice(&[0xc0, chain_start as u8]); // first pointer points at itself
    for i in 1..2000usize {
        let prev = chain_start + 2 * (i - 1);
        m.extend_from_slice(&[1, b'x', 0xc0 | (prev >> 8) as u8, prev as u8]);
    }
    let last = m.len() - 4;
    // Answer: owner name = pointer into the chain, A record.
    m.extend_from_slice(&[
        0xc0 | (last >> 8) as u8,
        last as u8,
        0,
        1,
        0,
        1,
        0,
        0,
        0,
        60,
        0,
        4,
    ]);
    m.extend_from_slice(&[13, 107, 4, 52]);
    msgs.push(m);
    // 4. CNAME whose target loops into itself.
    let mut m = dns_header(4, 1);
    m.extend_from_slice(&[
        3, b'w', b'w', b'w', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e',
    ]);
    m.extend_from_slice(&[3, b'c', b'o', b'm', 0, 0, 1, 0, 1]);
    let rd = m.len() + 12;
    m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4]);
    m.extend_from_slice(&[1, b'z', 0xc0, rd as u8]);
    msgs.push(m);
    // 5. A valid response, to show real answers still get through.
    let mut m = dns_header(5, 1);
    m.extend_from_slice(&[
        3, b'w', b'w', b'w', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e',
    ]);
    m.extend_from_slice(&[3, b'c', b'o', b'm', 0, 0, 1, 0, 1]);
    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34]);
    msgs.push(m);
    // The query the valid response answers: only answers to an outstanding query count.
    let mut query = dns_header(5, 0);
    query[2] = 1;
    query[3] = 0;
    query.extend_from_slice(&[
        3, b'w', b'w', b'w', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e',
    ]);
    query.extend_from_slice(&[3, b'c', b'o', b'm', 0, 0, 1, 0, 1]);
    let mut ts = T0;
    for r in 0..rounds {
        let c = SocketAddr::new(client.ip(), 40000 + (r % 20000) as u16);
        ts += 5;
        p.packet(
            ts,
            &ip_packet(
                c.ip(),
                server.ip(),
                17,
                1,
                64,
                &udp_datagram(c, server, &query),
            ),
        )?;
        for m in &msgs {
            let u = udp_datagram(server, c, m);
            ts += 5;
            p.packet(ts, &ip_packet(server.ip(), c.ip(), 17, 1, 64, &u))?;
        }
    }
    p.finish()
}

pub fn dns_many_names(dir: &Path, n: usize) -> std::io::Result<u64> {
    let mut p = Pcap::create(&dir.join("dns_many_names.pcap"), LINK_RAW, 65535)?;
    let (c, s) = (addr4(10, 0, 0, 2, 40002), addr4(10, 0, 0, 1, 53));
    let mut ts = T0;
    for i in 0..n {
        let mut m = dns_header(i as u16, 0);
        m[2] = 1;
        m[3] = 0;
        let label = format!("t{i:06x}");
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
        m.extend_from_slice(&[
            6, b't', b'u', b'n', b'n', b'e', b'l', 3, b'e', b'v', b'l', 0,
        ]);
        m.extend_from_slice(&[0, 16, 0, 1]); // TXT
        ts += 50;
        p.packet(
            ts,
            &ip_packet(c.ip(), s.ip(), 17, 1, 64, &udp_datagram(c, s, &m)),
        )?;
    }
    p.finish()
}

fn dns_query_ip() -> Vec<u8> {
    let mut m = dns_header(9, 0);
    m[2] = 1;
    m[3] = 0;
    m.extend_from_slice(&[
        4, b'v', b'l', b'a', b'n', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e',
    ]);
    m.extend_from_slice(&[3, b'c', b'o', b'm', 0, 0, 1, 0, 1]);
    let (c, s) = (addr4(10, 0, 0, 2, 40001), addr4(10, 0, 0, 1, 53));
    ipv4_packet(
        Ipv4Addr::new(10, 0, 0, 2),
        Ipv4Addr::new(10, 0, 0, 1),
        17,
        1,
        64,
        &udp_datagram(c, s, &m),
    )
}

pub fn vlan_nested(dir: &Path, max_tags: usize) -> std::io::Result<u64> {
    let mut p = Pcap::create(&dir.join("vlan_nested.pcap"), LINK_ETH, 262144)?;
    let ip = dns_query_ip();
    for tags in 1..=max_tags {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[0, 0x15, 0x5d, 0, 0, 1]);
        for t in 0..tags {
            f.extend_from_slice(&[0x81, 0x00]);
            f.extend_from_slice(&((t as u16 + 1) & 0x0fff).to_be_bytes());
        }
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&ip);
        p.packet(T0 + tags as u64, &f)?;
    }
    p.finish()
}

pub fn ipv6_ext_chain(dir: &Path, max_hdrs: usize) -> std::io::Result<u64> {
    let mut p = Pcap::create(&dir.join("ipv6_ext_chain.pcap"), LINK_RAW, 262144)?;
    let src = "2001:db8::2".parse::<Ipv6Addr>().expect("literal");
    let dst = "2001:db8::1".parse::<Ipv6Addr>().expect("literal");
    let udp = udp_datagram(
        SocketAddr::new(IpAddr::V6(src), 40002),
        SocketAddr::new(IpAddr::V6(dst), 53),
        &dns_header(7, 0),
    );
    let mut counts = vec![1, 2, 8, 16, 64, 256, 1000];
    counts.push(max_hdrs);
    for (i, &n) in counts.iter().enumerate() {
        // Alternate Hop-by-Hop (first only), Destination Options (60) and Routing (43), 8 bytes.
        let mut chain = Vec::new();
        let kinds: Vec<u8> = (0..n)
            .map(|k| {
                if k == 0 {
                    0
                } else if k % 2 == 0 {
                    60
                } else {
                    43
                }
            })
            .collect();
        for k in 0..n {
            let next = kinds.get(k + 1).copied().unwrap_or(17);
            chain.extend_from_slice(&[next, 0, 0, 0, 0, 0, 0, 0]);
        }
        chain.extend_from_slice(&udp);
        if chain.len() > 0xffff {
            break;
        }
        let first = kinds.first().copied().unwrap_or(17);
        p.packet(T0 + i as u64, &ipv6_packet(src, dst, first, 64, &chain))?;
    }
    p.finish()
}

pub fn records_zero_max(dir: &Path) -> std::io::Result<u64> {
    let mut p = Pcap::create(&dir.join("records_zero_max.pcap"), LINK_ETH, u32::MAX)?;
    for i in 0..1000 {
        p.raw(T0 + i, 0, 0, &[])?;
    }
    p.raw(T0 + 1000, 0, 1500, &[])?; // zero captured, 1500 on the wire
    let max = 256 * 1024;
    let mut big = vec![0u8; max];
    big[12] = 0x08; // an Ethernet header claiming IPv4 followed by zeros
    p.raw(T0 + 1001, max as u32, max as u32, &big)?;
    p.raw(T0 + 1002, 60, u32::MAX, &[0u8; 60])?; // wire length 4 GiB
    p.raw(T0 + 1003, u32::MAX, u32::MAX, &[0u8; 64])?; // announces 4 GiB, file ends
    p.finish()
}

fn pcapng_block(ty: u32, body: &[u8]) -> Vec<u8> {
    let len = 12 + body.len().div_ceil(4) * 4;
    let mut b = ty.to_le_bytes().to_vec();
    b.extend_from_slice(&(len as u32).to_le_bytes());
    b.extend_from_slice(body);
    b.resize(len - 4, 0);
    b.extend_from_slice(&(len as u32).to_le_bytes());
    b
}

fn pcapng_section(bom: u32) -> Vec<u8> {
    let mut shb = bom.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    pcapng_block(0x0a0d_0d0a, &shb)
}

pub fn pcapng_files(dir: &Path) -> std::io::Result<u64> {
    let ip = dns_query_ip();
    let mut f = pcapng_section(0x1a2b_3c4d);
    let mut idb = 101u16.to_le_bytes().to_vec();
    idb.extend_from_slice(&[0, 0]);
    idb.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&pcapng_block(1, &idb));
    let mut epb = 0u32.to_le_bytes().to_vec();
    epb.extend_from_slice(&[0; 8]);
    epb.extend_from_slice(&(ip.len() as u32).to_le_bytes());
    epb.extend_from_slice(&(ip.len() as u32).to_le_bytes());
    epb.extend_from_slice(&ip);
    f.extend_from_slice(&pcapng_block(6, &epb));
    let mut bogus = f.clone();
    bogus.extend_from_slice(&pcapng_section(0xdead_beef));
    bogus.extend_from_slice(&pcapng_block(6, &epb));
    std::fs::write(dir.join("pcapng_bogus_bom.pcapng"), &bogus)?;
    // First section already bogus: nothing readable.
    let mut first = pcapng_section(0xdead_beef);
    first.extend_from_slice(&f);
    std::fs::write(dir.join("pcapng_bogus_bom_first.pcapng"), &first)?;
    let mut huge = f;
    huge.extend_from_slice(&6u32.to_le_bytes());
    huge.extend_from_slice(&0xffff_fff0u32.to_le_bytes());
    huge.extend_from_slice(&[0u8; 64]);
    std::fs::write(dir.join("pcapng_huge_block.pcapng"), &huge)?;
    Ok(3)
}

/// A named generator.
type Step<'a> = (&'a str, Box<dyn Fn() -> std::io::Result<u64> + 'a>);

#[allow(dead_code)]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let small = args.iter().any(|a| a == "--small");
    let Some(dir) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: gen_adversarial DIR [--small]");
        std::process::exit(2);
    };
    let dir = Path::new(dir);
    let run = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let syns = if small { 100_000 } else { 10_000_000 };
        let steps: [Step; 10] = [
            (
                "reassembly_pinning",
                Box::new(|| reassembly_pinning(dir, if small { 1_000 } else { 8_200 })),
            ),
            ("syn_flood", Box::new(|| syn_flood(dir, syns))),
            (
                "ooo_tiny_segments",
                Box::new(|| ooo_tiny_segments(dir, 100_000)),
            ),
            (
                "dns_pointer_loops",
                Box::new(|| dns_pointer_loops(dir, if small { 200 } else { 20_000 })),
            ),
            (
                "dns_many_names",
                Box::new(|| dns_many_names(dir, if small { 2_000 } else { 100_000 })),
            ),
            (
                "tls_10k_extensions",
                Box::new(|| tls_many_extensions(dir, 10_000)),
            ),
            ("vlan_nested", Box::new(|| vlan_nested(dir, 64))),
            ("ipv6_ext_chain", Box::new(|| ipv6_ext_chain(dir, 8000))),
            ("records_zero_max", Box::new(|| records_zero_max(dir))),
            ("pcapng", Box::new(|| pcapng_files(dir))),
        ];
        for (name, f) in steps {
            let n = f()?;
            println!("{name}: {n} records");
        }
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("gen_adversarial: {e}");
        std::process::exit(1);
    }
}
