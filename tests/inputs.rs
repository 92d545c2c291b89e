//! The command line as a new user meets it: values that make no sense are refused, empty
//! answers are errors, failures say what failed, a closed pipe is no error; and inputs given in
//! other shapes (several files out of order, twice, compressed, on stdin) give the report the
//! plain file gives.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_egressmap");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Exit code, stdout, stderr.
fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("running egressmap");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn nonsense_values_are_usage_errors() {
    let f = fixture("quic_v1.pcap");
    for (flag, value, says) in [
        ("--max-flows", "0", "at least 1"),
        ("--threads", "0", "at least 1"),
        ("--threads", "100000", "at most 256"),
        ("--tcp-idle", "0", "zero"),
        ("--udp-idle", "0s", "zero"),
        ("--dns-cache", "0", "at least 1"),
        ("--max-names-per-flow", "999", "at most 255"),
        ("--max-names-per-flow", "0", "at least 1"),
    ] {
        let (code, _, err) = run(&["audit", p(&f), flag, value]);
        assert_eq!(code, 2, "{flag} {value} accepted: {err}");
        assert!(err.contains(says), "{flag} {value}: {err}");
    }
    // The edges are accepted.
    for (flag, value) in [("--max-names-per-flow", "255"), ("--tcp-idle", "1s")] {
        let (code, _, err) = run(&["audit", p(&f), "-q", flag, value]);
        assert_eq!(code, 0, "{flag} {value}: {err}");
    }
}

#[test]
fn signatures_areas_and_empty_lists() {
    let (code, out, _) = run(&["signatures", "areas"]);
    assert_eq!(code, 0);
    let ids: Vec<&str> = out.lines().filter_map(|l| l.split('\t').next()).collect();
    assert!(
        ids.contains(&"diagnostic-data") && ids.contains(&"windows-update"),
        "{out}"
    );
    // Every listed area lists something for all builds.
    let (code, out, err) = run(&["signatures", "list", "--area", "windows-update"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().count() > 10);
    // An id that is not an area: an error that names the known ones, not an empty list.
    let (code, out, err) = run(&["signatures", "list", "--area", "telemetry"]);
    assert_ne!(code, 0);
    assert!(out.is_empty());
    assert!(
        err.contains("unknown area \"telemetry\"") && err.contains("diagnostic-data"),
        "{err}"
    );
    // A real area with no row in that build/edition: said, not silent.
    let areas = run(&["signatures", "areas", "--build", "1709"]).1;
    if let Some(empty) = areas.lines().find(|l| l.ends_with("patterns: 0")) {
        let id = empty.split('\t').next().unwrap_or_default();
        let (code, _, err) = run(&["signatures", "list", "--build", "1709", "--area", id]);
        assert_ne!(code, 0);
        assert!(err.contains("no documented endpoint"), "{err}");
    }
}

#[test]
fn open_failures_say_what_failed() {
    let (code, _, err) = run(&["audit", "/nonexistent/x.pcap"]);
    assert_eq!(code, 3);
    assert!(
        err.contains("/nonexistent/x.pcap: cannot open: No such file"),
        "{err}"
    );
    assert!(!err.contains("record 0"), "{err}");
    let d = std::env::temp_dir().join(format!("egressmap-inputs-open-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("dir");
    let text = d.join("notes.txt");
    std::fs::write(&text, "hello, not a capture\n").expect("write");
    let (code, _, err) = run(&["audit", p(&text)]);
    assert_eq!(code, 3);
    assert!(err.contains("not a pcap or pcapng capture"), "{err}");
    assert!(!err.contains("record 0"), "{err}");
    let empty = d.join("empty.pcap");
    std::fs::write(&empty, b"").expect("write");
    let (_, _, err) = run(&["audit", p(&empty)]);
    assert!(err.contains("empty file"), "{err}");
    // A record further in still carries its position.
    let (code, _, err) = run(&["audit", p(&fixture("truncated_last_record.pcap"))]);
    assert_eq!(code, 1);
    assert!(err.contains("record 18, byte offset 8258"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn strict_says_why_it_failed() {
    let (code, _, err) = run(&[
        "audit",
        p(&fixture("names_dns_flood.pcap")),
        "-q",
        "--strict",
        "--report",
        "json",
        "-o",
        "/dev/null",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("exit 1 (--strict)"), "{err}");
    assert!(err.contains("--max-names-per-flow"), "{err}");
}

/// `| head`: the reader closes the pipe early; no message, no panic, exit 0.
#[test]
fn closed_pipe_is_quiet() {
    let week = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/week/win11-enterprise.pcapng");
    for args in [
        vec!["audit", p(&week), "--flows", "-", "-q"],
        vec!["signatures", "list"],
    ] {
        let mut child = Command::new(BIN)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
    // Through `2>&1 | head` (stderr goes to the closed pipe too): exit 0, not 101.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{BIN}' audit '{}' 2>&1 | head -c 10 >/dev/null; echo \"${{PIPESTATUS[0]}}\"",
            p(&week)
        ))
        .output()
        .expect("bash");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
}
