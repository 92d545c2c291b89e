//! Flows that expire and come back on the same key: the name is carried over for a while
//! (capture time, `remember_for`), a name of the flow's own replaces it, and the result is the
//! same whatever the number of threads.

use std::net::SocketAddr;
use std::path::PathBuf;

use egressmap::engine::EngineConfig;
use egressmap::pipeline::run_files;

#[path = "../examples/synth/mod.rs"]
mod synth;

use synth::capture::PcapWriter;
use synth::net::{ip_packet, tcp_segment, udp_packet, TcpSeg};

const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * SEC;

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn tcp(w: &mut PcapWriter, t: u64, c: SocketAddr, s: SocketAddr, seq: u32, payload: &[u8]) {
    let seg = tcp_segment(&TcpSeg {
        src: c,
        dst: s,
        seq,
        ack: 1,
        flags: 0x18,
        window: 512,
        options: &[],
        payload,
    });
    w.packet(T0 + t, &ip_packet(c.ip(), s.ip(), 6, 1, 64, &seg));
}

/// One mDNS key asked twice, 120 s apart (two flows); one TLS connection named by its SNI that
/// goes quiet past the TCP idle timeout twice: once within `remember_for`, once after it.
fn capture() -> PathBuf {
    let mut w = PcapWriter::new(101, 65535, true, false);
    let (mc, mg) = (sa("10.0.0.9:5353"), sa("224.0.0.251:5353"));
    w.packet(
        T0,
        &udp_packet(mc, mg, 1, 255, &synth::dns::query(0, "a.local", 12)),
    );
    let (c, s) = (sa("10.0.0.9:49700"), sa("20.42.65.92:443"));
    let hello = synth::tls::ClientHello {
        sni: Some("v10.events.data.microsoft.com".into()),
        ..Default::default()
    }
    .records();
    tcp(&mut w, SEC, c, s, 1000, &hello);
    w.packet(
        T0 + 120 * SEC,
        &udp_packet(mc, mg, 2, 255, &synth::dns::query(0, "b.local", 12)),
    );
    // Back after 40 s of silence (idle timeout 20 s): revived with the SNI's name.
    tcp(&mut w, 41 * SEC, c, s, 5000, b"\x17\x03\x03\x00\x01x");
    // Back after 500 s (remember_for 300 s): the name is forgotten.
    tcp(&mut w, 541 * SEC, c, s, 6000, b"\x17\x03\x03\x00\x01y");
    let path = std::env::temp_dir().join(format!("egressmap-revival-{}.pcap", std::process::id()));
    std::fs::write(&path, w.into_bytes()).expect("write capture");
    path
}

fn hosts(path: &PathBuf, threads: usize) -> Vec<(String, Option<String>, Option<&'static str>)> {
    let mut cfg = EngineConfig::default();
    cfg.table.tcp_idle = 20 * SEC;
    cfg.table.udp_idle = 60 * SEC;
    cfg.table.remember_for = 300 * SEC;
    let mut out = Vec::new();
    run_files(
        std::slice::from_ref(path),
        cfg,
        threads,
        false,
        &mut |f, _| {
            out.push((
                format!("{}:{}", f.client().0, f.client().1),
                f.host.as_deref().map(str::to_string),
                f.host_source.map(|s| s.as_str()),
            ))
        },
    );
    out
}

#[test]
fn expired_flows_keep_their_name_for_a_while_and_own_names_win() {
    let path = capture();
    let mut got = hosts(&path, 1);
    got.sort();
    let own = |h: &str, s: &'static str| (Some(h.to_string()), Some(s));
    let mdns: Vec<_> = got
        .iter()
        .filter(|g| g.0.ends_with(":5353"))
        .map(|g| (g.1.clone(), g.2))
        .collect();
    // The second mDNS flow is named by its own query, not the remembered one.
    assert_eq!(
        mdns,
        vec![own("a.local", "dns-query"), own("b.local", "dns-query")]
    );
    let tls: Vec<_> = got
        .iter()
        .filter(|g| g.0.ends_with(":49700"))
        .map(|g| g.1.clone())
        .collect();
    let name = Some("v10.events.data.microsoft.com".to_string());
    assert_eq!(tls.len(), 3, "{got:?}");
    assert_eq!(tls.iter().filter(|h| **h == name).count(), 2, "{got:?}");
    assert_eq!(tls.iter().filter(|h| h.is_none()).count(), 1, "{got:?}");
    assert_eq!(hosts(&path, 1), hosts(&path, 2));
    assert_eq!(hosts(&path, 1), hosts(&path, 3));
    let _ = std::fs::remove_file(&path);
}
