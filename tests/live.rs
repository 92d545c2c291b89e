//! Live capture (feature `live`).
//!
//! - `capture -r FILE` must be `audit FILE`: identical JSON reports on the fixtures and on corpus
//!   captures (no root needed).
//! - The namespace test (`tests/live/netns.sh`): real servers and a client in network namespaces,
//!   the bridge mirrored to a monitor port, `egressmap capture` on it, the report checked against
//!   what the client did. Needs root, so it runs only when `CI` or `EGRESSMAP_LIVE_TESTS` is set
//!   and we are root; otherwise it prints SKIPPED.
//!
//! Built without `--features live` there is no `capture` command: one test says so.

/// Straight to stderr, past the test harness's capture: a skip must show in CI logs.
fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

#[cfg(not(feature = "live"))]
#[test]
fn live_tests_need_the_live_feature() {
    skipped("live capture tests need `cargo test --features live` (and libpcap-dev)");
}

#[cfg(feature = "live")]
mod live {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    fn bin() -> &'static str {
        env!("CARGO_BIN_EXE_egressmap")
    }

    fn manifest() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    /// Exit code and JSON stdout of `egressmap ARGS` (a damaged file still gets a report, with a
    /// non-zero exit code: both must agree).
    fn run_json(args: &[&std::ffi::OsStr]) -> (Option<i32>, serde_json::Value) {
        let out = Command::new(bin())
            .args(args)
            .output()
            .expect("run egressmap");
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "egressmap {args:?} ({}): stdout is not JSON ({e}); stderr: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code(), json)
    }

    fn same_report_both_ways(file: &Path) -> serde_json::Value {
        let f = file.as_os_str();
        let (audit_rc, audit) =
            run_json(&["audit".as_ref(), f, "--report".as_ref(), "json".as_ref()]);
        let (capture_rc, capture) = run_json(&[
            "capture".as_ref(),
            "-r".as_ref(),
            f,
            "--report".as_ref(),
            "json".as_ref(),
        ]);
        assert_eq!(
            audit_rc,
            capture_rc,
            "exit codes differ on {}",
            file.display()
        );
        assert_eq!(
            audit,
            capture,
            "capture -r and audit disagree on {}",
            file.display()
        );
        audit
    }

    #[test]
    fn capture_read_is_audit_on_fixtures() {
        let files = [
            "dns_udp_cname_then_tls_nosni.pcap",
            "multi_iface.pcapng",
            "tcp_fin_then_syn_reuse.pcap",
            "linux_sll2.pcap",
            "quic_v1.pcap",
            "truncated_last_record.pcap",
        ];
        for name in files {
            let r = same_report_both_ways(&manifest().join("fixtures").join(name));
            // Not two empty reports: every one of these files has named flows.
            assert!(
                r["totals"]["flows"].as_u64().unwrap_or(0) > 0,
                "{name}: no flows in the report"
            );
        }
    }

    #[test]
    fn capture_read_is_audit_on_corpus() {
        let Some(corpus) = std::env::var_os("EGRESSMAP_CORPUS") else {
            super::skipped("EGRESSMAP_CORPUS not set");
            return;
        };
        let dir = PathBuf::from(corpus).join("pcaps");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(files.len() >= 100, "corpus has {} captures", files.len());
        let mut flows = 0;
        for path in &files {
            let r = same_report_both_ways(path);
            flows += r["totals"]["flows_seen"].as_u64().unwrap_or(0);
        }
        assert!(flows > 500, "corpus files produced only {flows} flows");
    }

    #[test]
    fn namespace_capture_matches_what_the_client_did() {
        let wanted = std::env::var_os("CI").is_some_and(|v| !v.is_empty())
            || std::env::var_os("EGRESSMAP_LIVE_TESTS").is_some_and(|v| !v.is_empty());
        if !wanted {
            super::skipped(
                "set CI or EGRESSMAP_LIVE_TESTS (and run as root) for the namespace test",
            );
            return;
        }
        // SAFETY: getuid has no preconditions.
        if unsafe { libc::getuid() } != 0 {
            super::skipped("the namespace test needs root");
            return;
        }
        let script = manifest().join("tests/live/netns.sh");
        // Inherited stdout/stderr, not captured by the test harness: CI logs show the report
        // and every check, pass or fail.
        let status = Command::new("bash")
            .arg(&script)
            .arg(bin())
            .status()
            .expect("run tests/live/netns.sh");
        assert!(status.success(), "tests/live/netns.sh failed: {status}");
    }

    /// The live pipeline replayed from a file (no root): the flows the sink receives are the
    /// same with one and two workers, and with two workers a snapshot holds flows while the
    /// capture is still running: the source waits, before its last batches, until the sink has
    /// received flows (with a merge that waited on one idle worker, nothing arrived until the
    /// end).
    #[test]
    fn live_from_file_snapshots_hold_flows_while_running_with_two_workers() {
        use egressmap::capture::live::{Batch, LiveCounters};
        use egressmap::engine::EngineConfig;
        use egressmap::flow::Flow;
        use egressmap::pipeline::{run_live_from, LiveSink};
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::Arc;
        use std::time::{Duration, Instant};

        struct Sink<'a> {
            seen: &'a AtomicU64,
            flows: Vec<String>,
        }
        impl LiveSink for Sink<'_> {
            fn flow(&mut self, f: &Flow) {
                self.seen.fetch_add(1, Ordering::SeqCst);
                self.flows.push(format!(
                    "{:?} {:?} {} {} {} {} {}",
                    f.key,
                    f.host,
                    f.up.packets,
                    f.down.packets,
                    f.up.bytes,
                    f.down.bytes,
                    f.first_seen
                ));
            }
            fn tick(&mut self) {}
        }

        // (fixture, whether flows end or are open at a snapshot before the last two batches)
        let fixtures = [
            ("flows_wns_week.pcap", true),
            ("names_dns_tcp_answers.pcap", false),
            ("dns_tcp_split.pcap", false),
        ];
        for (name, mid_run) in fixtures {
            let path = manifest().join("fixtures").join(name);
            let cap = egressmap::capture::file::CaptureFile::open(&path).expect("open fixture");
            let mut batches = Vec::new();
            let mut b = Batch::default();
            for pkt in cap.reader() {
                let pkt = pkt.expect("fixture record");
                b.link = pkt.link;
                let off = b.data.len() as u32;
                b.data.extend_from_slice(pkt.data);
                b.records
                    .push((pkt.ts, off, pkt.data.len() as u32, pkt.orig_len));
                b.now = pkt.ts;
                if b.records.len() == 16 {
                    batches.push(Arc::new(std::mem::take(&mut b)));
                }
            }
            batches.push(Arc::new(b));
            let mut runs = Vec::new();
            for threads in [1, 2] {
                // A snapshot every capture hour: open flows show as interim records.
                let cfg = EngineConfig {
                    snapshot_every: Some(3_600_000_000_000),
                    ..EngineConfig::default()
                };
                let seen = AtomicU64::new(0);
                let seen_while_running = AtomicU64::new(0);
                let counters = LiveCounters::default();
                let mut sink = Sink {
                    seen: &seen,
                    flows: Vec::new(),
                };
                let source = |senders: Vec<crossbeam_channel::Sender<Arc<Batch>>>| {
                    let tail = batches.len().saturating_sub(2);
                    for (i, b) in batches.iter().enumerate() {
                        if i == tail && mid_run {
                            let t = Instant::now();
                            while seen.load(Ordering::SeqCst) == 0
                                && t.elapsed() < Duration::from_secs(10)
                            {
                                std::thread::sleep(Duration::from_millis(5));
                            }
                            seen_while_running.store(seen.load(Ordering::SeqCst), Ordering::SeqCst);
                        }
                        for s in &senders {
                            s.send(b.clone()).expect("worker alive");
                        }
                    }
                };
                run_live_from(source, cfg, threads, &counters, &mut sink);
                assert!(
                    !mid_run || seen_while_running.load(Ordering::SeqCst) > 0,
                    "{name}, {threads} workers: no flow reached the sink while the capture ran"
                );
                assert!(!sink.flows.is_empty(), "{name}: no flows");
                runs.push(sink.flows);
            }
            assert_eq!(
                runs[0], runs[1],
                "{name}: live output differs with 2 workers"
            );
        }
    }
}
