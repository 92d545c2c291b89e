//! Per-stage microbenchmarks (divan): decode, flow lookup, TLS ClientHello, DNS, HTTP head,
//! signature matching, and the whole pipeline on a capture. Inputs are real bytes taken from the
//! generated fixtures (or `EGRESSMAP_BENCH_CAPTURE` for the end-to-end bench).
//!
//! Run: `cargo bench --bench stages` (add `-- <filter>` for one stage).

use std::hint::black_box;
use std::path::{Path, PathBuf};

use egressmap::capture::file::CaptureFile;
use egressmap::capture::Packet;
use egressmap::decode::{Decoder, Transport};
use egressmap::engine::{Engine, EngineConfig};
use egressmap::proto::{dns, http, tls};

fn main() {
    divan::main();
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// One record copied out of a capture (benches own their inputs).
#[derive(Clone, Default)]
struct Rec {
    ts: u64,
    link: u32,
    data: Vec<u8>,
    orig_len: u32,
}

impl Rec {
    /// The record as the engine sees it; `black_box` keeps the replayed bytes opaque.
    fn packet(&self) -> Packet<'_> {
        Packet {
            ts: self.ts,
            link: egressmap::capture::LinkType(self.link),
            data: black_box(&self.data),
            orig_len: self.orig_len,
        }
    }
}

/// All records of a capture.
fn records(path: &Path) -> Vec<Rec> {
    let Ok(cap) = CaptureFile::open(path) else {
        return Vec::new();
    };
    let mut r = cap.reader();
    let mut out = Vec::new();
    while let Some(Ok(p)) = r.next_packet() {
        out.push(Rec {
            ts: p.ts,
            link: p.link.0,
            data: p.data.to_vec(),
            orig_len: p.orig_len,
        });
    }
    out
}

/// First payload of `path` for which `pick` says yes.
fn payload(path: &Path, pick: impl Fn(&[u8], &Transport) -> bool) -> Vec<u8> {
    let mut dec = Decoder::default();
    for rec in records(path) {
        let pkt = rec.packet();
        if let Ok(d) = dec.decode(&pkt) {
            if pick(d.payload, &d.transport) {
                return d.payload.to_vec();
            }
        }
    }
    Vec::new()
}

#[divan::bench]
fn decode_tcp_packet(bencher: divan::Bencher) {
    let recs = records(&fixture("tls_pq_2seg.pcap"));
    let rec = recs.get(3).cloned().unwrap_or_default();
    let mut dec = Decoder::default();
    bencher.bench_local(|| {
        let pkt = rec.packet();
        black_box(dec.decode(&pkt).is_ok())
    });
}

/// The hot path for an established, named flow: decode, one lookup, counters.
#[divan::bench]
fn engine_named_flow_packet(bencher: divan::Bencher) {
    let recs = records(&fixture("tls_pq_2seg.pcap"));
    let mut engine = Engine::new(EngineConfig::default());
    for rec in &recs {
        let pkt = rec.packet();
        engine.process(&pkt, 0, &mut |_| {});
    }
    // A server data packet of the (now named) flow, replayed.
    let rec = recs.last().cloned().unwrap_or_default();
    bencher.bench_local(|| {
        let pkt = rec.packet();
        engine.process(&pkt, 0, &mut |_| {});
    });
}

#[divan::bench]
fn tls_client_hello_pq(bencher: divan::Bencher) {
    // The reassembled first flight of a post-quantum ClientHello (two segments).
    let path = fixture("tls_pq_2seg.pcap");
    let mut stream = Vec::new();
    let mut dec = Decoder::default();
    for rec in records(&path) {
        let pkt = rec.packet();
        if let Ok(d) = dec.decode(&pkt) {
            if matches!(d.transport, Transport::Tcp { dst_port: 443, .. })
                && !d.payload.is_empty()
                && stream.len() < 1900
            {
                stream.extend_from_slice(d.payload);
            }
        }
    }
    bencher.bench_local(|| {
        matches!(
            tls::parse_client_hello(black_box(&stream)),
            egressmap::proto::Parse::Done(_)
        )
    });
}

#[divan::bench]
fn dns_response_with_cname(bencher: divan::Bencher) {
    let msg = payload(&fixture("dns_udp_cname_then_tls_nosni.pcap"), |p, t| {
        matches!(t, Transport::Udp { src_port: 53, .. }) && !p.is_empty()
    });
    bencher.bench_local(|| dns::parse(black_box(&msg)).map(|m| m.answers.len()));
}

#[divan::bench]
fn http_request_head(bencher: divan::Bencher) {
    let head = b"GET /connecttest.txt HTTP/1.1\r\nConnection: Close\r\nUser-Agent: Microsoft NCSI\r\nHost: www.msftconnecttest.com\r\n\r\n";
    bencher.bench_local(|| {
        matches!(
            http::parse_request_head(black_box(head)),
            egressmap::proto::Parse::Done(_)
        )
    });
}

/// Whole pipeline, one thread, on `EGRESSMAP_BENCH_CAPTURE` (default: a fixture).
#[divan::bench(sample_count = 10)]
fn pipeline_one_thread(bencher: divan::Bencher) {
    let path = std::env::var_os("EGRESSMAP_BENCH_CAPTURE")
        .map(PathBuf::from)
        .unwrap_or_else(|| fixture("dns_udp_cname_then_tls_nosni.pcap"));
    bencher.bench_local(|| {
        let mut n = 0u64;
        egressmap::pipeline::run_files(
            std::slice::from_ref(&path),
            EngineConfig::default(),
            1,
            false,
            &mut |_, _| n += 1,
        );
        n
    });
}

/// Distinct-name lookups against the full database (no cache): a mix of documented Microsoft
/// hosts, wildcard instances and unrelated names, as a mirror port sees them.
#[divan::bench(sample_count = 20)]
fn matcher_distinct_names(bencher: divan::Bencher) {
    let db = egressmap::signatures::Database::builtin()
        .unwrap_or_else(|_| egressmap::signatures::Database::from_endpoints(Vec::new()));
    let mut m = egressmap::signatures::Matcher::new(&db, None, None);
    let words = [
        "alpha", "cdn", "img", "api", "static", "news", "shop", "mail", "video", "auth",
    ];
    let tlds = ["com", "net", "org", "io", "de", "co.uk"];
    let mut names: Vec<String> = Vec::new();
    for (i, e) in db.endpoints().iter().enumerate().take(400) {
        names.push(
            e.pattern
                .split('/')
                .next()
                .unwrap_or("")
                .replace('*', &format!("x{i}")),
        );
    }
    for i in 0..3600 {
        names.push(format!(
            "{}{}.{}.{}",
            words[i % words.len()],
            i,
            words[(i / 10) % words.len()],
            tlds[i % tlds.len()]
        ));
    }
    bencher
        .counter(divan::counter::ItemsCount::new(names.len()))
        .bench_local(|| {
            let mut hits = 0usize;
            for n in &names {
                hits += usize::from(m.lookup_uncached(black_box(n)).is_match());
            }
            hits
        });
}
