//! Throughput cost of QUIC Initial decryption: writes a capture where a third of the flows are
//! QUIC (the rest TLS over TCP and DNS), then runs the pipeline over it with `EngineConfig::quic`
//! on and off and prints the ratio. `cargo run --release --example quic_bench [flows]`.

#[path = "synth/mod.rs"]
mod synth;

use std::net::SocketAddr;
use std::time::Instant;

use egressmap::engine::EngineConfig;
use egressmap::pipeline::run_files;
use synth::capture::PcapWriter;
use synth::link::Link;
use synth::rng::Rng;
use synth::tcp::{udp_pkt, Pkt, TcpConn};
use synth::{dns, quic, tls};

const MS: u64 = 1_000_000;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let mut pkts: Vec<Pkt> = Vec::new();
    let mut r = Rng::new(7);
    let t0 = 1_700_000_000 * 1_000_000_000u64;
    for i in 0..n {
        let t = t0 + i as u64 * MS;
        let client: SocketAddr = format!(
            "10.1.{}.{}:{}",
            i / 250 % 250,
            1 + i % 250,
            20000 + i % 40000
        )
        .parse()
        .unwrap();
        let server: SocketAddr = format!("20.{}.{}.{}:443", i % 200, i / 200 % 250, 1 + i % 250)
            .parse()
            .unwrap();
        let sni = format!("host{i}.example.com");
        match i % 3 {
            0 => {
                let ch = tls::ClientHello {
                    sni: Some(sni),
                    alpn: vec!["h3".into()],
                    post_quantum: i % 2 == 0,
                    seed: i as u64,
                    ..Default::default()
                }
                .handshake_message();
                let (dcid, scid) = (r.bytes(8), r.bytes(8));
                // Post-quantum hellos take two Initials, like Chrome's.
                let mut initials = Vec::new();
                for (k, part) in ch.chunks(1100).enumerate() {
                    let f = quic::crypto_frame((k * 1100) as u64, part);
                    initials.push(quic::Initial::new(quic::V1, &dcid, &scid, k as u32, f).seal());
                }
                let mut ts = t;
                let mut id = 0u16;
                for d in &initials {
                    pkts.push(udp_pkt(client, server, id, ts, true, i, d));
                    ts += MS / 10;
                    id += 1;
                }
                for k in 0..14 {
                    let up = k % 4 == 3;
                    let mut d = r.bytes(if up { 60 } else { 1200 });
                    d[0] = if k < 3 { 0xc0 } else { 0x40 } | (d[0] & 0x3f);
                    let (s, dst) = if up {
                        (client, server)
                    } else {
                        (server, client)
                    };
                    pkts.push(udp_pkt(s, dst, id, ts, up, i, &d));
                    ts += MS / 10;
                    id += 1;
                }
            }
            1 => {
                let mut c = TcpConn::new(client, server, i, t, i as u64);
                c.handshake();
                let ch = tls::ClientHello {
                    sni: Some(sni),
                    post_quantum: i % 2 == 0,
                    seed: i as u64,
                    ..Default::default()
                };
                c.client_send(&ch.records(), &[]);
                c.server_send(
                    &tls::server_flight(i as u64, ch.post_quantum, &[1150, 2876, 264, 53]),
                    &[],
                );
                c.client_send(&tls::app_data(i as u64, &[417]), &[]);
                c.server_send(&tls::app_data(i as u64 + 1, &[5000]), &[]);
                c.close();
                pkts.extend(c.into_pkts());
            }
            _ => {
                let resolver: SocketAddr = "10.0.0.1:53".parse().unwrap();
                let q = dns::query(i as u16, &sni, dns::TYPE_A);
                let a = dns::response(i as u16, &sni, dns::TYPE_A, &[], true);
                pkts.push(udp_pkt(client, resolver, 1, t, true, i, &q));
                pkts.push(udp_pkt(resolver, client, 2, t + 5 * MS, false, i, &a));
            }
        }
    }
    pkts.sort_by_key(|p| p.ts_ns);
    let mut w = PcapWriter::new(Link::Ethernet.linktype(), 262144, false, false);
    for p in &pkts {
        w.packet(p.ts_ns, &Link::Ethernet.frame(&p.ip, p.from_client));
    }
    let path = std::env::temp_dir().join("egressmap_quic_mix.pcap");
    std::fs::write(&path, w.into_bytes()).unwrap();
    println!(
        "{} flows ({} QUIC), {} packets: {}",
        n,
        n.div_ceil(3),
        pkts.len(),
        path.display()
    );

    // The work one QUIC flow costs, alone: key derivation, header protection, AES-GCM over a
    // 1200-byte Initial, frame walk, ClientHello parse.
    let ch = tls::ClientHello {
        sni: Some("micro.example.com".into()),
        alpn: vec!["h3".into()],
        ..Default::default()
    }
    .handshake_message();
    let one = quic::Initial::new(quic::V1, &[1; 8], &[2; 8], 0, quic::crypto_frame(0, &ch)).seal();
    let mut per = f64::MAX;
    for _ in 0..20 {
        let start = Instant::now();
        for _ in 0..1000 {
            let mut st = egressmap::proto::quic::QuicState::new();
            let mut c = egressmap::proto::quic::Counters::default();
            let out = st.client_datagram(std::hint::black_box(&one), &mut c);
            assert!(matches!(out, egressmap::proto::quic::Outcome::Done(_)));
        }
        per = per.min(start.elapsed().as_secs_f64() / 1000.0);
    }
    println!("one single-Initial ClientHello read: {:.2} us", per * 1e6);

    let run = |quic: bool| {
        let cfg = EngineConfig {
            quic,
            ..EngineConfig::default()
        };
        let mut named_quic = 0;
        let start = Instant::now();
        run_files(std::slice::from_ref(&path), cfg, 1, false, &mut |f, _| {
            named_quic += usize::from(f.host_source == Some(egressmap::flow::HostSource::QuicSni));
        });
        (start.elapsed().as_secs_f64(), named_quic)
    };
    let mut best = [f64::MAX; 2];
    for round in 0..15 {
        for (k, quic) in [(0, false), (1, true)] {
            let (s, named) = run(quic);
            if round > 0 {
                best[k] = best[k].min(s);
            }
            if round == 0 {
                println!("quic {quic}: {named} flows named by QUIC SNI");
            }
        }
    }
    let pps = |s: f64| pkts.len() as f64 / s / 1e6;
    println!(
        "quic off: {:.1} ms ({:.2} Mpkt/s)",
        best[0] * 1e3,
        pps(best[0])
    );
    println!(
        "quic on:  {:.1} ms ({:.2} Mpkt/s)",
        best[1] * 1e3,
        pps(best[1])
    );
    println!("time ratio on/off: {:.3}", best[1] / best[0]);
    let quic_flows = n.div_ceil(3) as f64;
    println!(
        "extra per QUIC flow: {:.1} us",
        (best[1] - best[0]) / quic_flows * 1e6
    );
}
