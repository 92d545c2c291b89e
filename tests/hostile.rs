//! Hostile input: small versions of the adversarial captures (generated at test time by
//! `examples/gen_adversarial.rs`) must be read within bounds with what was dropped named in the
//! report, and flow counters must account for every decoded record whatever the packet mix.
use std::path::{Path, PathBuf};
use std::process::Command;

use egressmap::capture::file::CaptureFile;
use egressmap::capture::{LinkType, Packet};
use egressmap::engine::{Engine, EngineConfig};
use egressmap::pipeline::{run_files, RunResult};
use proptest::prelude::*;

#[allow(dead_code)]
#[path = "../examples/gen_adversarial.rs"]
mod gen;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("egressmap-hostile-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn run(path: &Path, cfg: EngineConfig) -> (RunResult, u64) {
    let mut flows = 0;
    let r = run_files(&[path.to_path_buf()], cfg, 1, false, &mut |_, _| flows += 1);
    (r, flows)
}

/// `egressmap audit FILE ARGS...`: exit code and stdout+stderr.
fn audit(path: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_egressmap"))
        .arg("audit")
        .arg(path)
        .args(args)
        .output()
        .expect("run egressmap");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn syn_flood_stays_within_the_flow_cap_and_reports_evictions() {
    let d = tmpdir("syn");
    gen::syn_flood(&d, 100_000).expect("generate");
    let f = d.join("syn_flood.pcap");
    let mut cfg = EngineConfig::default();
    cfg.table.max_flows = 1_000;
    let (r, flows) = run(&f, cfg);
    let e = &r.engines[0];
    assert_eq!(e.stats.decoded, 100_000);
    assert!(
        e.table.stats.peak_flows <= 1_000,
        "peak {}",
        e.table.stats.peak_flows
    );
    assert!(e.table.stats.evicted >= 99_000 - 1_000);
    assert_eq!(flows, e.table.stats.created);
    let (code, text) = audit(&f, &["--max-flows", "1000"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("flow table was full (--max-flows)"), "{text}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn tiny_out_of_order_segments_are_bounded_and_counted() {
    let d = tmpdir("ooo");
    gen::ooo_tiny_segments(&d, 100_000).expect("generate");
    let f = d.join("ooo_tiny_segments.pcap");
    let (r, flows) = run(&f, EngineConfig::default());
    let e = &r.engines[0];
    assert_eq!(flows, 1);
    assert_eq!(e.stats.decoded, 100_003);
    assert_eq!(e.stats.reassembly_cap_hit, 1, "{:?}", e.stats);
    let (code, text) = audit(&f, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("exceeded the reassembly cap"), "{text}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn dns_pointer_loops_terminate_and_valid_answers_still_count() {
    let d = tmpdir("dns");
    gen::dns_pointer_loops(&d, 50).expect("generate");
    let f = d.join("dns_pointer_loops.pcap");
    let (r, _) = run(&f, EngineConfig::default());
    let e = &r.engines[0];
    assert_eq!(e.stats.decoded, 300);
    // The valid response in every round (it answers the round's query) is learned.
    assert!(!e.resolver.is_empty());
    assert!(
        e.stats.dns_messages + e.stats.dns_unparsed >= 250,
        "{:?}",
        e.stats
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn names_per_flow_are_bounded_counted_and_reported() {
    let d = tmpdir("names");
    gen::dns_many_names(&d, 2_000).expect("generate");
    let f = d.join("dns_many_names.pcap");
    let mut kept = Vec::new();
    let mut cfg = EngineConfig::default();
    cfg.table.max_names = 10;
    let r = run_files(std::slice::from_ref(&f), cfg, 1, false, &mut |fl, _| {
        kept.push((fl.names().len(), fl.extra().names_dropped))
    });
    assert_eq!(r.engines[0].stats.decoded, 2_000);
    assert_eq!(
        kept,
        vec![(10, 1_990)],
        "one flow, 10 names kept, the rest counted"
    );
    let (code, text) = audit(&f, &["--max-names-per-flow", "10"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("1990 names not kept: flows carried more than 10 (--max-names-per-flow)"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn client_hello_with_ten_thousand_extensions_is_bounded() {
    let d = tmpdir("tls");
    gen::tls_many_extensions(&d, 10_000).expect("generate");
    let f = d.join("tls_10k_extensions.pcap");
    let (r, flows) = run(&f, EngineConfig::default());
    assert_eq!(flows, 1);
    // 40 KB of extensions exceed the 16 KiB first-flight cap: counted, not parsed.
    assert_eq!(r.engines[0].stats.reassembly_cap_hit, 1);
    // With a cap that fits, the SNI after them is found.
    let cfg = EngineConfig {
        reassembly_cap: 64 * 1024,
        ..Default::default()
    };
    let mut hosts = Vec::new();
    run_files(std::slice::from_ref(&f), cfg, 1, false, &mut |fl, _| {
        hosts.push(fl.host.as_deref().map(str::to_string))
    });
    assert_eq!(hosts, vec![Some("many-extensions.example.com".to_string())]);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn nested_vlans_decode_up_to_the_limit_and_deeper_ones_are_counted() {
    let d = tmpdir("vlan");
    gen::vlan_nested(&d, 64).expect("generate");
    let (r, _) = run(&d.join("vlan_nested.pcap"), EngineConfig::default());
    let s = &r.engines[0].stats;
    assert_eq!(s.packets, 64);
    assert_eq!(s.decoded + s.tunnel_too_deep + s.truncated, 64, "{s:?}");
    assert!(s.decoded >= 4, "{s:?}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn ipv6_extension_chains_are_walked_or_counted() {
    let d = tmpdir("v6");
    gen::ipv6_ext_chain(&d, 8000).expect("generate");
    let (r, _) = run(&d.join("ipv6_ext_chain.pcap"), EngineConfig::default());
    let s = &r.engines[0].stats;
    assert!(s.packets >= 7);
    // Short chains decode; long ones are rejected as bad headers rather than walked forever.
    assert!(s.decoded >= 2, "{s:?}");
    assert_eq!(
        s.decoded + s.bad_ip_header + s.truncated,
        s.packets,
        "{s:?}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn zero_and_maximum_length_records() {
    let d = tmpdir("rec");
    gen::records_zero_max(&d).expect("generate");
    let f = d.join("records_zero_max.pcap");
    let (r, _) = run(&f, EngineConfig::default());
    let file = &r.files[0];
    let err = file
        .error
        .as_ref()
        .expect("the 4 GiB record stops the file");
    assert!(!file.failed);
    // 1000 empty records, one empty with a wire length, the 256 KiB one, the 4 GiB wire length:
    // the record announcing 4 GiB of captured data is number 1004.
    assert_eq!(err.record, 1004, "{err}");
    assert_eq!(r.engines[0].stats.packets, 1003);
    let (code, text) = audit(&f, &[]);
    assert_eq!(code, 1, "partial read exits 1: {text}");
    assert!(text.contains("record 1004"), "{text}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn pcapng_bogus_byte_order_magic_is_named() {
    let d = tmpdir("ng");
    gen::pcapng_files(&d).expect("generate");
    let (r, _) = run(&d.join("pcapng_bogus_bom.pcapng"), EngineConfig::default());
    let err = r.files[0].error.as_ref().expect("second section rejected");
    assert!(err.to_string().contains("byte-order magic"), "{err}");
    assert_eq!(r.engines[0].stats.packets, 1);
    let (r, _) = run(
        &d.join("pcapng_bogus_bom_first.pcapng"),
        EngineConfig::default(),
    );
    assert!(r.files[0].failed || r.engines[0].stats.packets == 0);
    let (r, _) = run(&d.join("pcapng_huge_block.pcapng"), EngineConfig::default());
    assert!(r.files[0].error.is_some());
    assert_eq!(r.engines[0].stats.packets, 1);
    let _ = std::fs::remove_dir_all(&d);
}

/// Every record of every fixture, with its link type.
fn fixture_records() -> Vec<(LinkType, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    paths.sort();
    for p in paths {
        let Ok(f) = CaptureFile::open(&p) else {
            continue;
        };
        let mut r = f.reader();
        while let Some(Ok(pkt)) = r.next_packet() {
            out.push((pkt.link, pkt.data.to_vec()));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Each decoded record lands in exactly one flow, whatever the order, mutations and table
    /// size (evictions, reuse and idle expiry included).
    #[test]
    fn flow_counters_add_up_to_decoded_records(
        picks in prop::collection::vec((any::<prop::sample::Index>(), any::<u16>(), any::<u8>(), 0u64..40_000_000_000), 1..300),
        max_flows in 1usize..20,
    ) {
        let recs = fixture_records();
        prop_assert!(recs.len() > 100);
        let mut cfg = EngineConfig::default();
        cfg.table.max_flows = max_flows;
        let mut eng = Engine::new(cfg);
        let (mut pkts, mut flows) = (0u64, 0u64);
        let mut ts = 1_700_000_000_000_000_000u64;
        for (idx, pos, xor, gap) in picks {
            let (link, data) = &recs[idx.index(recs.len())];
            let mut data = data.clone();
            // Mutate one byte (xor 0 leaves the record intact).
            if !data.is_empty() {
                let i = usize::from(pos) % data.len();
                data[i] ^= xor;
            }
            ts += gap;
            let p = Packet { ts, link: *link, data: &data, orig_len: data.len() as u32 };
            eng.process(&p, 0, &mut |e| { pkts += e.flow.up.packets + e.flow.down.packets; flows += 1; });
            prop_assert!(eng.table.len() <= max_flows);
        }
        eng.finish(&mut |e| { pkts += e.flow.up.packets + e.flow.down.packets; flows += 1; });
        prop_assert_eq!(pkts, eng.stats.decoded);
        prop_assert_eq!(flows, eng.table.stats.created);
    }
}

/// Regression (unbounded reorder queue): with several workers the aggregator used to drain one
/// shared channel into per-worker queues without limit while waiting for a slower worker
/// (~150 MB on 10M SYNs). It now receives only from the worker the merge waits on; the output
/// must still be the same sequence of flows as with one worker.
#[test]
fn multi_worker_merge_gives_the_single_worker_sequence_on_a_syn_flood() {
    let d = tmpdir("merge");
    gen::syn_flood(&d, 30_000).expect("generate");
    let f = d.join("syn_flood.pcap");
    let seq = |threads| {
        // Under the flow cap (tests/shards.rs covers a flood past it).
        let cfg = EngineConfig::default();
        let mut v = Vec::new();
        run_files(
            std::slice::from_ref(&f),
            cfg,
            threads,
            false,
            &mut |fl, _| v.push((fl.key, fl.first_seen)),
        );
        v
    };
    let one = seq(1);
    assert!(one.len() > 29_000, "{}", one.len());
    for threads in [2, 3] {
        let other = seq(threads);
        assert_eq!(other.len(), one.len());
        let diff = one.iter().zip(&other).position(|(a, b)| a != b);
        assert_eq!(diff, None, "{threads} workers differ from one");
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// Regression: the flow cap was applied per worker, so `-j 4 --max-flows N` held up to 4N flows.
#[test]
fn flow_cap_bounds_the_whole_run_whatever_the_worker_count() {
    let d = tmpdir("cap");
    gen::syn_flood(&d, 20_000).expect("generate");
    let f = d.join("syn_flood.pcap");
    for threads in [1, 2, 4] {
        let mut cfg = EngineConfig::default();
        cfg.table.max_flows = 1_000;
        let r = run_files(
            std::slice::from_ref(&f),
            cfg,
            threads,
            false,
            &mut |_, _| {},
        );
        let peak: u64 = r.engines.iter().map(|e| e.table.stats.peak_flows).sum();
        assert!(peak <= 1_000, "{threads} workers held {peak} flows");
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// All first-flight buffers together stay within `--reassembly-total`: a ClientHello that needs
/// more than the budget is not reassembled (the flow stays unnamed), the refusal is counted and
/// the report says so; with the default budget the same capture is named.
#[test]
fn total_reassembly_budget_is_enforced_counted_and_reported() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tls_pq_2seg.pcap");
    let cfg = EngineConfig {
        reassembly_total: 1000,
        ..Default::default()
    };
    let mut hosts = Vec::new();
    let r = run_files(std::slice::from_ref(&f), cfg, 1, false, &mut |fl, _| {
        hosts.push(fl.host.clone())
    });
    let (s, _, _) = Engine::merged_stats(&r.engines);
    assert!(s.reassembly_budget_refused >= 1, "{s:?}");
    assert!(s.reassembly_peak_bytes <= 1000, "{s:?}");
    assert_eq!(hosts, vec![None]);
    let (code, text) = audit(&f, &["--reassembly-total", "1000"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("--reassembly-total"), "{text}");
    let (_, text) = audit(&f, &["--flows", "-"]);
    assert!(
        text.contains("\"host\":\"v10.events.data.microsoft.com\""),
        "{text}"
    );
}
