//! Output identity under the flow cap: the table's virtual shards (see
//! `egressmap::flow::VIRTUAL_SHARDS`) each hold their share of `--max-flows` and evict on their
//! own, and a worker holds whole shards, so a capture with many more flows than the cap gives
//! the same flow log and report for any thread count, evictions counted in the report.
use std::path::{Path, PathBuf};

use crate::support::run;

#[allow(dead_code)]
#[path = "../examples/gen_traffic.rs"]
mod traffic;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("egressmap-shards-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// `audit -j THREADS ARGS...`: the flow log and the JSON report, as bytes.
fn audit(file: &Path, dir: &Path, threads: usize, args: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let (flows, report) = (
        dir.join(format!("flows-{threads}.jsonl")),
        dir.join(format!("report-{threads}.json")),
    );
    let j = threads.to_string();
    let mut argv = vec![
        "audit",
        "-q",
        "-j",
        &j,
        "--flows",
        flows.to_str().expect("utf-8 path"),
        "--report",
        "json",
        "-o",
        report.to_str().expect("utf-8 path"),
        file.to_str().expect("utf-8 path"),
    ];
    argv.extend_from_slice(args);
    let (code, out, err) = run(&argv);
    assert_eq!(code, 0, "-j{threads}: {out}{err}");
    (
        std::fs::read(&flows).expect("flow log"),
        std::fs::read(&report).expect("report"),
    )
}

/// The capture of the tests below: 3,000 clients browsing for two minutes (DNS, TLS with
/// post-quantum ClientHellos over two segments, QUIC, HTTP, bulk downloads), ~700 flows.
fn flood(d: &Path) -> PathBuf {
    let f = d.join("flood.pcap");
    traffic::generate(
        f.to_str().expect("utf-8 path"),
        24 << 20,
        3_000,
        120_000_000_000,
        5_000,
    )
    .expect("generate");
    f
}

/// The count of the report warning that ends with `what`.
fn warned(report: &[u8], what: &str) -> Option<u64> {
    let r: serde_json::Value = serde_json::from_slice(report).expect("JSON report");
    r["warnings"]
        .as_array()?
        .iter()
        .filter_map(|w| w.as_str()?.strip_suffix(what)?.parse().ok())
        .next()
}

/// ~700 flows through a table of 40: most flows are evicted, some while named and coming back.
#[test]
fn a_flood_past_the_flow_cap_gives_the_same_output_for_any_thread_count() {
    let d = tmpdir("flood");
    let f = flood(&d);
    let cap = 40;
    let args = ["--max-flows", "40"];
    let (flows, report) = audit(&f, &d, 1, &args);
    let lines = flows.iter().filter(|&&b| b == b'\n').count();
    assert!(lines > 10 * cap, "{lines} flows");
    let evicted = warned(
        &report,
        " flows flushed early because the flow table was full (--max-flows)",
    )
    .expect("evictions reported");
    assert!(evicted as usize > lines / 2, "{evicted} evicted of {lines}");
    for threads in [2, 3, 4] {
        let (f2, r2) = audit(&f, &d, threads, &args);
        assert!(f2 == flows, "flow log differs with {threads} threads");
        assert!(r2 == report, "report differs with {threads} threads");
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// A first-flight budget (4 KiB) too small for a split ClientHello: each flow-table shard holds its share
/// of `--reassembly-total`, so the same segments are refused (and the same flows left unnamed)
/// for any thread count, and the refusals are reported.
#[test]
fn a_tight_reassembly_budget_refuses_the_same_segments_for_any_thread_count() {
    let d = tmpdir("budget");
    let f = flood(&d);
    let args = ["--reassembly-total", "4K"];
    let (flows, report) = audit(&f, &d, 1, &args);
    let refused = warned(
        &report,
        " segments not buffered: all first-flight buffers together reached --reassembly-total",
    )
    .expect("refusals reported");
    assert!(refused > 0);
    // Single-segment ClientHellos need no buffer: those flows keep their names.
    let sni = br#""host_source":"tls-sni""#;
    assert!(flows.windows(sni.len()).any(|w| w == sni));
    for threads in [2, 3, 4] {
        let (f2, r2) = audit(&f, &d, threads, &args);
        assert!(f2 == flows, "flow log differs with {threads} threads");
        assert!(r2 == report, "report differs with {threads} threads");
    }
    let _ = std::fs::remove_dir_all(&d);
}
