//! Memory-mapped reading against large buffered reads (pcap-parser's streaming reader), on
//! the same legacy pcap: the reader alone, and the reader feeding one engine. Used for the
//! "reader" rows of BENCHMARKS.md.
//!
//! `cargo run --release --example read_bench -- FILE [RUNS=5] [BUFFER_KIB=1024]`
//!
//! Prints one line per mode: median wall seconds, packets, packets/s and peak RSS so far.
use std::fs::File;
use std::path::Path;
use std::time::Instant;

use egressmap::capture::file::CaptureFile;
use egressmap::capture::{LinkType, Packet};
use egressmap::engine::{Engine, EngineConfig};
use pcap_parser::{PcapBlockOwned, PcapError};

/// Reads every record through the memory map; `engine` decides whether packets are processed.
fn mmap(path: &Path, engine: bool) -> u64 {
    let cap = CaptureFile::open(path).expect("open capture");
    let mut r = cap.reader();
    let mut eng = Engine::new(EngineConfig::default());
    let mut n = 0u64;
    let mut sink = 0u64;
    while let Some(Ok(p)) = r.next_packet() {
        n += 1;
        if engine {
            eng.process(&p, 0, &mut |e| sink += e.flow.up.packets);
        } else {
            sink += u64::from(p.orig_len);
        }
    }
    eng.finish(&mut |e| sink += e.flow.up.packets);
    std::hint::black_box(sink);
    n
}

/// Reads every record with pcap-parser's buffered streaming reader (`buffer` bytes).
fn buffered(path: &Path, engine: bool, buffer: usize) -> u64 {
    let file = File::open(path).expect("open capture");
    let mut rd = pcap_parser::create_reader(buffer, file).expect("pcap reader");
    let mut eng = Engine::new(EngineConfig::default());
    let (mut n, mut sink) = (0u64, 0u64);
    let (mut link, mut nanos) = (LinkType(1), false);
    loop {
        match rd.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        link = LinkType(h.network.0 as u32);
                        nanos = h.is_nanosecond_precision();
                    }
                    PcapBlockOwned::Legacy(b) => {
                        n += 1;
                        let frac = u64::from(b.ts_usec) * if nanos { 1 } else { 1000 };
                        let p = Packet {
                            ts: u64::from(b.ts_sec) * 1_000_000_000 + frac,
                            link,
                            data: b.data,
                            orig_len: b.origlen,
                        };
                        if engine {
                            eng.process(&p, 0, &mut |e| sink += e.flow.up.packets);
                        } else {
                            sink += u64::from(p.orig_len);
                        }
                    }
                    PcapBlockOwned::NG(_) => panic!("read_bench: legacy pcap only"),
                }
                rd.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => rd.refill().expect("refill"),
            Err(e) => panic!("read_bench: {e:?}"),
        }
    }
    eng.finish(&mut |e| sink += e.flow.up.packets);
    std::hint::black_box(sink);
    n
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first().map(Path::new) else {
        eprintln!("usage: read_bench FILE [RUNS] [BUFFER_KIB]");
        std::process::exit(2);
    };
    let runs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let buffer = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024usize)
        * 1024;
    type Mode<'a> = (&'a str, Box<dyn Fn() -> u64 + 'a>);
    let modes: [Mode; 4] = [
        ("mmap, reader only", Box::new(|| mmap(path, false))),
        (
            "buffered, reader only",
            Box::new(|| buffered(path, false, buffer)),
        ),
        ("mmap + engine", Box::new(|| mmap(path, true))),
        (
            "buffered + engine",
            Box::new(|| buffered(path, true, buffer)),
        ),
    ];
    for (name, f) in modes {
        let mut times = Vec::new();
        let mut n = 0;
        for _ in 0..runs {
            let t = Instant::now();
            n = f();
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let med = times[times.len() / 2];
        println!(
            "{name:24} median {med:.3} s  {n} packets  {:.2} Mpps  peak RSS so far {} MiB",
            n as f64 / med / 1e6,
            peak_rss_kib() / 1024
        );
    }
}
