//! Decode every record of the shared corpus and compare with what tshark saw (oracle.jsonl).
//! Runs only when `EGRESSMAP_CORPUS` points at the corpus directory.

use std::collections::HashMap;
use std::path::Path;

use pcap_parser::{create_reader, Block, PcapBlockOwned, PcapError};

use super::{DecodeError, Decoder};
use crate::capture::{LinkType, Packet};

#[derive(Default, Debug)]
struct Counts {
    link: u32,
    records: u64,
    decoded: u64,
    tunneled: u64,
    errors: HashMap<DecodeError, u64>,
}

impl Counts {
    fn err(&self, e: DecodeError) -> u64 {
        self.errors.get(&e).copied().unwrap_or(0)
    }
}

/// A quick reader for the test only; the product's reader lives in `capture::file`.
fn decode_file(path: &Path, verbose: bool) -> Counts {
    let mut c = Counts::default();
    let Ok(file) = std::fs::File::open(path) else {
        return c;
    };
    let Ok(mut reader) = create_reader(1 << 20, file) else {
        return c;
    };
    let mut dec = Decoder::default();
    let mut if_links: Vec<u32> = Vec::new();
    let mut legacy_link = 1u32;
    loop {
        match reader.next() {
            Ok((off, block)) => {
                let rec = match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy_link = h.network.0 as u32;
                        None
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let n = (b.caplen as usize).min(b.data.len());
                        let ts = u64::from(b.ts_sec) * 1_000_000_000 + u64::from(b.ts_usec) * 1000;
                        Some((legacy_link, ts, b.data.get(..n).unwrap_or(b.data)))
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        if_links.push(idb.linktype.0 as u32);
                        None
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let n = (epb.caplen as usize).min(epb.data.len());
                        let ts = ((u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low))
                            .saturating_mul(1000);
                        let link = if_links
                            .get(epb.if_id as usize)
                            .copied()
                            .unwrap_or(u32::MAX);
                        Some((link, ts, epb.data.get(..n).unwrap_or(epb.data)))
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        let link = if_links.first().copied().unwrap_or(u32::MAX);
                        Some((link, 0, spb.data))
                    }
                    _ => None,
                };
                if let Some((link, ts, data)) = rec {
                    c.link = link;
                    c.records += 1;
                    let pkt = Packet {
                        ts,
                        link: LinkType(link),
                        data,
                        orig_len: data.len() as u32,
                    };
                    match dec.decode(&pkt) {
                        Ok(d) => {
                            c.decoded += 1;
                            c.tunneled += u64::from(d.tunneled);
                        }
                        Err(e) => {
                            *c.errors.entry(e).or_default() += 1;
                            if verbose {
                                let head = data.get(..64).unwrap_or(data);
                                println!("  record {}: {e:?} {head:02x?}", c.records);
                            }
                        }
                    }
                }
                reader.consume(off);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    c
}

/// Files with deliberately broken packets (set `EGRESSMAP_DEBUG_FILE` to list their records):
/// a fuzzed capture (garbled IP versions, lengths and fragment fields), and one TCP header with
/// data offset 0.
const HOSTILE: [&str; 2] = [
    "ndpi__fuzz-2006-06-26-2594.pcap",
    "ndpi__reasm_crash_anon.pcapng",
];

#[test]
fn corpus_ip_frames_decode() {
    let Ok(dir) = std::env::var("EGRESSMAP_CORPUS") else {
        println!("EGRESSMAP_CORPUS not set; skipping corpus decode test");
        return;
    };
    let dir = Path::new(&dir);
    let oracle = std::fs::read_to_string(dir.join("oracle.jsonl")).expect("oracle.jsonl");
    let mut failures = Vec::new();
    println!(
        "{:<62} {:>5} {:>6} {:>6} {:>6} {:>6} {:>5} errors",
        "file", "link", "recs", "v4+v6", "ok", "held", "tun"
    );
    for line in oracle.lines() {
        let o: serde_json::Value = serde_json::from_str(line).expect("oracle line");
        let name = o["file"].as_str().unwrap_or_default();
        let v4 = o["ipv4_frames"].as_u64().unwrap_or(0);
        let v6 = o["ipv6_frames"].as_u64().unwrap_or(0);
        let verbose = std::env::var("EGRESSMAP_DEBUG_FILE").is_ok_and(|f| f == name);
        let c = decode_file(&dir.join("pcaps").join(name), verbose);
        let held = c.err(DecodeError::FragmentHeld);
        let seen = c.decoded + held;
        let errs: Vec<String> = DecodeError::ALL
            .iter()
            .filter(|e| **e != DecodeError::FragmentHeld && c.err(**e) > 0)
            .map(|e| format!("{}={}", e.name(), c.err(*e)))
            .collect();
        println!(
            "{:<62} {:>5} {:>6} {:>6} {:>6} {:>6} {:>5} {}",
            name,
            c.link,
            c.records,
            v4 + v6,
            c.decoded,
            held,
            c.tunneled,
            errs.join(" ")
        );
        // A frame with IPv4 inside IPv6 (or the reverse) counts in both oracle columns, so the
        // expectation is a range: at least the larger column, at most the sum.
        let lo = v4.max(v6);
        let hi = v4 + v6;
        // In hostile files tshark still calls a garbled header "IP"; there we only require that
        // we recognised the record as IP, even if we then rejected it.
        let got = if HOSTILE.contains(&name) {
            seen + [
                DecodeError::FragmentDropped,
                DecodeError::BadIp,
                DecodeError::Truncated,
            ]
            .iter()
            .map(|e| c.err(*e))
            .sum::<u64>()
        } else {
            seen
        };
        if c.err(DecodeError::UnsupportedLink) > 0 {
            failures.push(format!("{name}: unsupported link {}", c.link));
        } else if got < lo || got > hi {
            failures.push(format!(
                "{name}: decoded {got}, oracle IP frames {lo}..={hi}"
            ));
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}
