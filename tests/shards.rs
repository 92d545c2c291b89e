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

/// DNS messages parsed over a whole run with `threads` (every engine and the dispatcher's
/// observer), and DNS messages its flows counted.
fn dns_work(file: &Path, threads: usize) -> (u64, u64) {
    let r = egressmap::pipeline::run_files(
        &[file.to_path_buf()],
        egressmap::engine::EngineConfig::default(),
        threads,
        false,
        &mut |_, _| {},
    );
    let (s, _, _) = egressmap::engine::Engine::merged_stats(&r.engines);
    (s.dns_parses, s.dns_messages)
}

/// Each DNS message is parsed once, by whoever validates it, whatever the thread count: with
/// several workers the dispatcher's observer validates it and hands the parsed message to the
/// flow's owner, and the other workers get the validated answers only (before, every worker
/// parsed every UDP DNS record, and reassembled and parsed every DNS-over-TCP flow).
#[test]
fn each_dns_record_is_parsed_once_for_any_thread_count() {
    let d = tmpdir("dns-once");
    let udp = [
        flood(&d),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/names_dns_owner.pcap"),
    ];
    let (_, flood_messages) = dns_work(&udp[0], 1);
    assert!(flood_messages > 500, "{flood_messages} DNS messages");
    for f in &udp {
        let (parses, messages) = dns_work(f, 1);
        assert!(messages >= 2, "{f:?}: {messages} DNS messages");
        assert!(parses >= messages, "{f:?}: {parses} parses");
        for j in 2..=4 {
            assert_eq!(dns_work(f, j).0, parses, "{f:?} -j{j}");
        }
    }
    let tcp = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/names_dns_tcp_answers.pcap");
    let (parses, messages) = dns_work(&tcp, 1);
    assert!(
        messages >= 4 && parses == messages,
        "{parses} parses, {messages}"
    );
    for j in 2..=4 {
        assert_eq!(dns_work(&tcp, j).0, parses, "-j{j}");
    }
    // A compressed file is streamed (as a live capture is fed): one thread validates the DNS
    // of every batch for all the workers, with the same counts.
    for f in udp.iter().chain([&tcp]) {
        let (mapped, _) = dns_work(f, 1);
        let z = gz(f, &d);
        for j in 1..=4 {
            assert_eq!(dns_work(&z, j).0, mapped, "{z:?} -j{j}");
        }
    }
    std::fs::remove_dir_all(&d).ok();
}

/// `f` gzipped into `dir`.
fn gz(f: &Path, dir: &Path) -> PathBuf {
    let name = f.file_name().and_then(|n| n.to_str()).expect("name");
    let out = dir.join(format!("{name}.gz"));
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &std::fs::read(f).expect("capture")).expect("gzip");
    std::fs::write(&out, enc.finish().expect("gzip")).expect("write");
    out
}

/// Names from DNS over TCP and from answers another worker's flow received are the same for
/// any thread count, mapped or streamed (the streamed path feeds workers as a live capture).
#[test]
fn dns_names_are_the_same_for_any_thread_count_mapped_or_streamed() {
    let d = tmpdir("dns-names");
    for name in [
        "names_dns_tcp_answers",
        "dns_tcp_split",
        "names_dns_owner",
        "dns_udp_cname_then_tls_nosni",
        "names_dns_unsolicited",
    ] {
        let f = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/{name}.pcap"));
        let z = gz(&f, &d);
        for input in [&f, &z] {
            let one = audit(input, &d, 1, &[]);
            let named = String::from_utf8_lossy(&one.0).contains("\"host_source\":\"dns");
            let warned = String::from_utf8_lossy(&one.1).contains("DNS responses ignored");
            assert!(named || warned, "{input:?}: nothing named by DNS");
            for j in 2..=4 {
                let other = audit(input, &d, j, &[]);
                assert!(
                    other.0 == one.0,
                    "{input:?}: flow log -j{j} differs from -j1"
                );
                assert!(other.1 == one.1, "{input:?}: report -j{j} differs from -j1");
            }
        }
    }
    std::fs::remove_dir_all(&d).ok();
}
