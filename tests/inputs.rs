//! The command line as a new user meets it: values that make no sense are refused, empty
//! answers are errors, failures say what failed, a closed pipe is no error; and inputs given in
//! other shapes (several files out of order, twice, compressed, on stdin) give the report the
//! plain file gives.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{run, BIN};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
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

/// The JSON report of `args`, without the input names (which differ by construction).
fn report(args: &[&str], stdin: Option<Vec<u8>>) -> serde_json::Value {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .args(["-q", "--report", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().expect("spawn");
    let feeder = stdin.map(|bytes| {
        let mut w = child.stdin.take().expect("stdin");
        // Written from another thread in small pieces, as a pipe from tcpdump would.
        std::thread::spawn(move || {
            use std::io::Write as _;
            for chunk in bytes.chunks(4096) {
                if w.write_all(chunk).is_err() {
                    break;
                }
            }
        })
    });
    let out = child.wait_with_output().expect("wait");
    if let Some(f) = feeder {
        f.join().expect("feeder");
    }
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    if let Some(inputs) = v["inputs"].as_array_mut() {
        for i in inputs {
            i["name"] = serde_json::Value::Null;
        }
    }
    v
}

fn scratch(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("egressmap-inputs-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// gzip, zstd (detected from the bytes, whatever the name), standard input from a file and from
/// a pipe: the same report as the plain file.
#[test]
fn compressed_and_stdin_inputs_give_the_plain_report() {
    let d = scratch("compressed");
    for name in ["week/win11-enterprise.pcapng", "flows_wns_week.pcap"] {
        let plain = fixture(name);
        let bytes = std::fs::read(&plain).expect("fixture");
        let expected = report(&["audit", p(&plain)], None);
        assert!(expected["totals"]["flows"].as_u64().unwrap_or(0) > 0);

        let gz = d.join("capture.pcap.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, &bytes).expect("gzip");
        let gzipped = enc.finish().expect("gzip");
        // Two gzip members, as `cat a.gz b.gz` (or a rotated, appended log) makes.
        let half = bytes.len() / 2;
        let mut two = Vec::new();
        for part in [&bytes[..half], &bytes[half..]] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut e, part).expect("gzip");
            two.extend(e.finish().expect("gzip"));
        }
        let zst = d.join("capture.bin");
        let zstded = zstd(&bytes[..]);
        for (what, path, data) in [
            ("gzip", &gz, &gzipped),
            ("zstd", &zst, &zstded),
            ("gzip, two members", &gz, &two),
        ] {
            std::fs::write(path, data).expect("write");
            assert_eq!(
                report(&["audit", p(path)], None),
                expected,
                "{name} as {what}"
            );
        }
        assert_eq!(
            report(&["audit", "-"], Some(bytes.clone())),
            expected,
            "{name} on stdin"
        );
        assert_eq!(
            report(&["audit", "-"], Some(zstded.clone())),
            expected,
            "{name} zstd on stdin"
        );
        // Standard input redirected from the file (not a pipe).
        let out = Command::new(BIN)
            .args(["audit", "-", "-q", "--report", "json"])
            .stdin(std::fs::File::open(&plain).expect("open"))
            .output()
            .expect("run");
        let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        v["inputs"][0]["name"] = serde_json::Value::Null;
        assert_eq!(v, expected, "{name} < file");
    }
    // A corrupt compressed stream is an error that says so.
    let bad = d.join("bad.pcap.gz");
    std::fs::write(&bad, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff]).expect("write");
    let (code, _, err) = run(&["audit", p(&bad)]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("decompressing"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

/// `egressmap audit ARGS -q --report json` with `stdin` written through a pipe in 4 KiB pieces
/// and `env` set: exit code, the report with input names and the name in error texts replaced
/// by `NAME`, stderr.
fn audit_piped(
    args: &[&str],
    name: &str,
    stdin: Vec<u8>,
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .args(["-q", "--report", "json"])
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut w = child.stdin.take().expect("stdin");
    let feeder = std::thread::spawn(move || {
        use std::io::Write as _;
        for chunk in stdin.chunks(4096) {
            if w.write_all(chunk).is_err() {
                break;
            }
        }
    });
    let out = child.wait_with_output().expect("wait");
    feeder.join().expect("feeder");
    let json = String::from_utf8_lossy(&out.stdout)
        .replace(&format!("\"{name}\""), "\"NAME\"")
        .replace(&format!("\"{name}: "), "\"NAME: ");
    (
        out.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Standard input is read as a stream, not spooled: with no usable temporary directory it
/// still gives the file's report, for every link type and record layout (records cut by read
/// boundaries, pcapng interfaces changing link type), with one worker and several; a
/// truncated stream stops at the same record and byte offset as the file; a compressed stream
/// cut short keeps everything before the cut and says where.
#[test]
fn stdin_is_a_bounded_stream_with_the_files_report_and_errors() {
    let no_tmp = [("TMPDIR", "/nonexistent/egressmap-no-tmp")];
    for name in [
        "week/win11-enterprise.pcapng",
        "multi_iface.pcapng",
        "framings_linktypes.pcapng",
        "tls_bigendian.pcap",
        "tls_nanosecond.pcap",
        "truncated_last_record.pcap",
    ] {
        let plain = fixture(name);
        let bytes = std::fs::read(&plain).expect("fixture");
        for threads in ["1", "3"] {
            let args = ["audit", p(&plain), "-j", threads];
            let (code, file_json, _) = audit_piped(&args, p(&plain), Vec::new(), &[]);
            let args = ["audit", "-", "-j", threads];
            let (scode, stream_json, err) = audit_piped(&args, "-", bytes.clone(), &no_tmp);
            assert_eq!(scode, code, "{name} -j{threads}: {err}");
            assert!(
                code == 0 || name.starts_with("truncated"),
                "{name}: exit {code}"
            );
            assert_eq!(stream_json, file_json, "{name} -j{threads} on stdin");
        }
    }
    let (_, json, err) = audit_piped(
        &["audit", "-"],
        "-",
        std::fs::read(fixture("truncated_last_record.pcap")).expect("fixture"),
        &no_tmp,
    );
    assert!(
        err.contains("-: record 18, byte offset 8258: file ends in the middle of a record"),
        "{err}"
    );
    assert!(json.contains("\"status\": \"partial\""), "{json}");

    // gzip cut at 60%: the records before the cut count, the error says where the stream broke.
    let bytes = std::fs::read(fixture("week/win11-enterprise.pcapng")).expect("fixture");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &bytes).expect("gzip");
    let gz = enc.finish().expect("gzip");
    let cut = gz.get(..gz.len() * 6 / 10).expect("cut").to_vec();
    let (code, json, err) = audit_piped(&["audit", "-"], "-", cut, &no_tmp);
    assert_eq!(code, 1, "partial: {err}");
    assert!(err.contains("stream broke: decompressing"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let (_, full, _) = audit_piped(&["audit", "-"], "-", bytes, &no_tmp);
    let full: serde_json::Value = serde_json::from_str(&full).expect("json");
    let read = v["totals"]["packets_read"].as_u64().unwrap_or(0);
    let all = full["totals"]["packets_read"].as_u64().unwrap_or(0);
    assert!(
        read > all / 3 && read < all,
        "{read} of {all} packets before the cut"
    );
    assert!(v["totals"]["flows"].as_u64().unwrap_or(0) > 0);
}

/// A pcapng capture cut into `n` files of consecutive packets (each with the section header
/// and interface blocks), as tcpdump -C rotates.
fn split_pcapng(bytes: &[u8], n: usize) -> Vec<Vec<u8>> {
    let mut head = Vec::new();
    let mut packets: Vec<&[u8]> = Vec::new();
    let mut pos = 0;
    while pos + 8 <= bytes.len() {
        let ty = u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4"));
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().expect("4")) as usize;
        let block = &bytes[pos..pos + len];
        if ty == 6 || ty == 3 {
            packets.push(block);
        } else if packets.is_empty() {
            head.extend_from_slice(block);
        }
        pos += len;
    }
    let per = packets.len().div_ceil(n);
    packets
        .chunks(per)
        .map(|c| {
            let mut f = head.clone();
            for b in c {
                f.extend_from_slice(b);
            }
            f
        })
        .collect()
}

/// The name tcpdump -C gives its `i`-th file: dump, dump1, dump2, ...
fn rotated_name(i: usize) -> String {
    if i == 0 {
        "dump".to_string()
    } else {
        format!("dump{i}")
    }
}

/// tcpdump -C names its files dump, dump1, dump2, ..., dump10, and a glob gives them as dump,
/// dump1, dump10, dump2: read in the order of their first packet, they give the whole capture's
/// report. The same file twice is refused; overlapping files are warned about.
#[test]
fn several_files_are_ordered_deduplicated_and_overlaps_warned() {
    let d = scratch("several");
    let whole = fixture("week/win11-enterprise.pcapng");
    let bytes = std::fs::read(&whole).expect("fixture");
    let parts = split_pcapng(&bytes, 11);
    assert_eq!(parts.len(), 11);
    let mut paths = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let name = rotated_name(i);
        let path = d.join(name);
        std::fs::write(&path, part).expect("write");
        paths.push(path);
    }
    let mut globbed: Vec<&PathBuf> = paths.iter().collect();
    globbed.sort();
    assert_ne!(
        globbed.iter().map(|p| p.as_path()).collect::<Vec<_>>(),
        paths.iter().map(|p| p.as_path()).collect::<Vec<_>>(),
        "the glob order is wrong"
    );
    let mut args = vec!["audit"];
    args.extend(globbed.iter().map(|p| p.to_str().expect("utf-8")));
    let mut expected = report(&["audit", p(&whole)], None);
    let mut got = report(&args, None);
    // Inputs differ (eleven files instead of one); everything else is the whole capture's.
    got["inputs"] = serde_json::Value::Null;
    expected["inputs"] = serde_json::Value::Null;
    assert_eq!(got, expected);
    // Without -q, stderr says the order was changed.
    let out = Command::new(BIN)
        .args(&args)
        .args(["--report", "json", "-o", "/dev/null"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in the order of their first packet"), "{err}");

    // The same file twice, or an identical copy: refused, nothing counted twice.
    let copy = d.join("copy.pcapng");
    std::fs::write(&copy, &parts[3]).expect("write");
    for twice in [[p(&paths[3]), p(&paths[3])], [p(&paths[3]), p(&copy)]] {
        let (code, _, err) = run(&["audit", twice[0], twice[1]]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("would count twice"), "{err}");
    }
    // Overlap: the whole capture and one of its parts.
    let v = report(&["audit", p(&whole), p(&paths[5])], None);
    let warnings = v["warnings"].to_string();
    assert!(warnings.contains("the captures overlap"), "{warnings}");
    // A named pipe among several inputs: read once, by the run (not by the ordering step), in
    // the given order, with a note; the report is that of the same bytes as plain files.
    let fifo = d.join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        let first = parts[0].clone();
        let w = fifo.clone();
        // Detached: opening a FIFO for writing blocks until the run opens it.
        std::thread::spawn(move || std::fs::write(w, first));
        let out = Command::new(BIN)
            .args(["audit", p(&fifo), p(&paths[1]), "--report", "json"])
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert!(err.contains("not a regular file"), "{err}");
        let mut got: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let mut want = report(&["audit", p(&paths[0]), p(&paths[1])], None);
        got["inputs"] = serde_json::Value::Null;
        want["inputs"] = serde_json::Value::Null;
        assert_eq!(got, want, "the pipe's packets are all counted");
        // A named pipe alone: the same report as the file it carries.
        let whole_bytes = bytes.clone();
        let w = fifo.clone();
        std::thread::spawn(move || std::fs::write(w, whole_bytes));
        let mut got = report(&["audit", p(&fifo)], None);
        let mut want = report(&["audit", p(&whole)], None);
        got["inputs"] = serde_json::Value::Null;
        want["inputs"] = serde_json::Value::Null;
        assert_eq!(got, want, "a named pipe alone");
    } else {
        eprintln!("SKIPPED: mkfifo not available");
    }
    // Standard input goes alone.
    let (code, _, err) = run(&["audit", "-", p(&whole)]);
    assert_eq!(code, 2);
    assert!(err.contains("only input"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

/// `bytes` zstd-compressed by the crate the reader uses (ruzstd's encoder, about `zstd -1`).
fn zstd(bytes: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(bytes, ruzstd::encoding::CompressionLevel::Fastest)
}

/// A zstd skippable frame (magic `0x184D2A50`, length, content): metadata between frames.
fn skippable(content: &[u8]) -> Vec<u8> {
    let mut v = 0x184D_2A50_u32.to_le_bytes().to_vec();
    v.extend((content.len() as u32).to_le_bytes());
    v.extend(content);
    v
}

/// `bytes` compressed by the `zstd` tool (the reference implementation) with `args`; None,
/// with SKIPPED printed, when it is not installed.
fn zstd_tool(bytes: &[u8], args: &[&str]) -> Option<Vec<u8>> {
    let child = Command::new("zstd")
        .args(args)
        .args(["-q", "-c", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("SKIPPED: zstd not installed (the reference encoder's output is not checked)");
        return None;
    };
    let mut stdin = child.stdin.take().expect("stdin");
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input));
    let out = child.wait_with_output().expect("zstd");
    writer.join().expect("writer").expect("zstd stdin");
    assert!(out.status.success(), "zstd {args:?}");
    Some(out.stdout)
}

/// `bytes` xz-compressed by the crate the reader uses (preset 1: 1 MiB dictionary, light).
fn xz(bytes: &[u8]) -> Vec<u8> {
    let opts = lzma_rust2::XzOptions::with_preset(1);
    let mut w = lzma_rust2::XzWriter::new(Vec::new(), opts).expect("xz");
    std::io::Write::write_all(&mut w, bytes).expect("xz");
    w.finish().expect("xz")
}

/// The week fixture xz-compressed, once per test binary: the encoder takes about 0.7 s of CPU
/// per 3 MB, and the two tests reading it as xz compressed it seven times over between them.
fn week_xz() -> &'static [u8] {
    static XZ: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    XZ.get_or_init(|| xz(&std::fs::read(fixture(WEEK)).expect("fixture")))
}

const WEEK: &str = "week/win11-enterprise.pcapng";

/// Rewrites the dictionary size the first block header of an xz stream declares (LZMA2
/// property byte: `(2 | (prop & 1)) << (prop / 2 + 11)` bytes), with its CRC32 fixed, as a
/// hostile file would carry it.
fn declare_xz_dict(data: &mut [u8], prop: u8) {
    const HEADER: usize = 12; // stream header: magic, flags, CRC32
    let size = (usize::from(data[HEADER]) + 1) * 4;
    let flags = data[HEADER + 1];
    assert_eq!(flags & 3, 0, "one filter");
    let mut at = HEADER + 2;
    for present in [0x40, 0x80] {
        // compressed, uncompressed size: varints
        if flags & present != 0 {
            while data[at] & 0x80 != 0 {
                at += 1;
            }
            at += 1;
        }
    }
    assert_eq!(
        &data[at..at + 2],
        [0x21, 0x01],
        "LZMA2 filter, one property byte"
    );
    data[at + 2] = prop;
    let mut crc = flate2::Crc::new();
    crc.update(&data[HEADER..HEADER + size - 4]);
    data[HEADER + size - 4..HEADER + size].copy_from_slice(&crc.sum().to_le_bytes());
}

/// `audit FILE -q --report json --flows LOG`: exit code, the report with input names removed,
/// the flow log with the file's name replaced by `F`, stderr.
fn report_and_flows(file: &Path, log: &Path) -> (i32, serde_json::Value, String, String) {
    let out = Command::new(BIN)
        .args(["audit", p(file)])
        .args(["-q", "--report", "json", "--flows", p(log)])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    if let Some(inputs) = v["inputs"].as_array_mut() {
        for i in inputs {
            i["name"] = serde_json::Value::Null;
        }
    }
    (
        out.status.code().unwrap_or(-1),
        v,
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .replace(&format!("{{\"file\":\"{}\",", p(file)), "{\"file\":\"F\","),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One capture as plain, gzip, zstd (ruzstd's encoder and the `zstd` tool's, one frame and
/// several with skippable frames) and xz (one stream and two concatenated; detected from the
/// bytes, whatever the name): the same report and the same flow log. A hostile xz header
/// declaring a dictionary over the limit is refused with an error that says so (the limit
/// itself reads), as is a zstd frame declaring a window over its limit; an xz cut short keeps the records before the cut and says where, like the
/// other formats.
#[test]
fn xz_gzip_zstd_and_plain_give_one_report_and_flow_log() {
    let d = scratch("xz");
    let log = d.join("flows.jsonl");
    for name in [WEEK, "flows_wns_week.pcap"] {
        let plain = fixture(name);
        let bytes = std::fs::read(&plain).expect("fixture");
        let whole_xz = if name == WEEK {
            week_xz().to_vec()
        } else {
            xz(&bytes)
        };
        let (code, expected, flows, err) = report_and_flows(&plain, &log);
        assert_eq!(code, 0, "{err}");
        assert!(expected["totals"]["flows"].as_u64().unwrap_or(0) > 0);
        assert!(flows.lines().count() > 0, "{name}: flow log");
        assert!(flows.starts_with("{\"file\":\"F\","), "{name}: flow log");

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &bytes).expect("gzip");
        let half = bytes.len() / 2;
        let mut two_xz = xz(&bytes[..half]);
        two_xz.extend(xz(&bytes[half..]));
        let mut variants = vec![
            ("gzip", gz.finish().expect("gzip")),
            ("zstd", zstd(&bytes[..])),
            ("xz", whole_xz.clone()),
            ("xz, two streams", two_xz),
        ];
        // The reference encoder's output (what `.zst` captures are made with), also as two
        // frames with a skippable frame before, between and after them.
        if let (Some(whole), Some(a), Some(b)) = (
            zstd_tool(&bytes, &["-3"]),
            zstd_tool(&bytes[..half], &["-9", "--check"]),
            zstd_tool(&bytes[half..], &["-1", "--no-check"]),
        ) {
            variants.push(("zstd -3 (zstd tool)", whole));
            let mut frames = skippable(b"seek table");
            for part in [a, skippable(&[0u8; 1000]), b, skippable(b"")] {
                frames.extend(part);
            }
            variants.push(("zstd tool, two frames and skippable frames", frames));
        }
        for (what, data) in variants {
            let f = d.join("capture.bin");
            std::fs::write(&f, &data).expect("write");
            let (code, v, fl, err) = report_and_flows(&f, &log);
            assert_eq!(code, 0, "{name} as {what}: {err}");
            assert_eq!(v, expected, "{name} as {what}: report");
            let diff = fl.lines().zip(flows.lines()).find(|(a, b)| a != b);
            assert_eq!(diff, None, "{name} as {what}: flow log");
            assert_eq!(fl.len(), flows.len(), "{name} as {what}: flow log");
        }
        assert_eq!(
            report(&["audit", "-"], Some(whole_xz)),
            expected,
            "{name} xz on stdin"
        );
    }

    let bytes = std::fs::read(fixture(WEEK)).expect("fixture");
    let f = d.join("hostile.pcapng.xz");
    // 64 MiB (xz -9's dictionary) is the limit and reads; 96 MiB and 4 GiB are refused.
    for (prop, ok) in [(28u8, true), (29, false), (40, false)] {
        let mut data = week_xz().to_vec();
        declare_xz_dict(&mut data, prop);
        std::fs::write(&f, &data).expect("write");
        let (code, v, _, err) = report_and_flows(&f, &log);
        if ok {
            assert_eq!(code, 0, "dictionary property {prop}: {err}");
            assert!(v["totals"]["flows"].as_u64().unwrap_or(0) > 0);
        } else {
            assert_eq!(code, 3, "dictionary property {prop}: {err}");
            assert!(
                err.contains(&format!(
                    "{}: cannot open: decompressing: xz block declares a dictionary larger \
                     than 64 MiB",
                    p(&f)
                )),
                "dictionary property {prop}: {err}"
            );
        }
    }

    // A zstd frame declaring a window over the 128 MiB limit (byte 5 of ruzstd's frame header:
    // 2^(10 + 17) plus an eighth, 144 MiB) is refused the same way.
    let mut data = zstd(&bytes);
    data[5] = 0x89;
    let f = d.join("hostile.pcapng.zst");
    std::fs::write(&f, &data).expect("write");
    let (code, _, _, err) = report_and_flows(&f, &log);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains(&format!(
            "{}: cannot open: decompressing: zstd frame 1 declares a window of 144 MiB, over \
             the 128 MiB limit",
            p(&f)
        )),
        "{err}"
    );

    // Cut at 60%: exit 1 (partial), the records before the cut counted, the error giving the
    // file, the record and the byte offset in the decompressed stream.
    let data = week_xz();
    let f = d.join("cut.pcapng.xz");
    std::fs::write(&f, &data[..data.len() * 6 / 10]).expect("write");
    let (code, v, _, err) = report_and_flows(&f, &log);
    assert_eq!(code, 1, "partial: {err}");
    assert_eq!(v["inputs"][0]["status"], "partial", "{v}");
    let read = v["totals"]["packets_read"].as_u64().unwrap_or(0);
    let prefix = format!("{}: record {}, byte offset ", p(&f), read + 1);
    let at = err.find(&prefix).map(|i| i + prefix.len());
    let offset: u64 = at
        .and_then(|i| err[i..].split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        offset > bytes.len() as u64 / 3 && offset < bytes.len() as u64,
        "{err}"
    );
    assert!(
        err[at.unwrap_or(0)..].contains(": stream broke: decompressing: xz: "),
        "{err}"
    );
    assert!(
        read > 0 && v["totals"]["flows"].as_u64().unwrap_or(0) > 0,
        "{v}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut e, bytes).expect("gzip");
    e.finish().expect("gzip")
}

/// Rotated files, some compressed (gzip, zstd, xz, under names that do not say so), given in
/// glob order: read in the order of their first packet, they give the whole capture's report. A
/// plain file and a compressed copy of it are one capture, refused; so are two compressions of
/// one capture. A compressed file overlapping another is warned about (its last packet is found
/// by decompressing it before the run).
#[test]
fn compressed_inputs_are_ordered_deduplicated_and_overlaps_warned() {
    let d = scratch("several-compressed");
    let whole = fixture("week/win11-enterprise.pcapng");
    let bytes = std::fs::read(&whole).expect("fixture");
    let parts = split_pcapng(&bytes, 11);
    assert_eq!(parts.len(), 11);
    let mut paths = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let name = rotated_name(i);
        let data = match i % 4 {
            0 => gzip(part),
            1 => zstd(&part[..]),
            2 => xz(part),
            _ => part.clone(),
        };
        let path = d.join(name);
        std::fs::write(&path, &data).expect("write");
        paths.push(path);
    }
    let mut globbed: Vec<&PathBuf> = paths.iter().collect();
    globbed.sort();
    let mut args = vec!["audit"];
    args.extend(globbed.iter().map(|p| p.to_str().expect("utf-8")));
    let mut expected = report(&["audit", p(&whole)], None);
    let mut got = report(&args, None);
    got["inputs"] = serde_json::Value::Null;
    expected["inputs"] = serde_json::Value::Null;
    assert_eq!(got, expected, "ordered by first packet, compressed or not");
    assert_eq!(got["warnings"], serde_json::json!([]), "no overlap");
    let out = Command::new(BIN)
        .args(&args)
        .args(["--report", "json", "-o", "/dev/null"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    let order: Vec<String> = paths.iter().map(|f| f.display().to_string()).collect();
    assert!(
        err.contains(&format!(
            "in the order of their first packet: {}",
            order.join(", ")
        )),
        "{err}"
    );

    // Part 3 plain (dump3) and compressed three ways: every pair is one capture.
    let gz = d.join("part3.gz");
    let zst = d.join("part3.zst");
    let xzed = d.join("part3.bin");
    std::fs::write(&gz, gzip(&parts[3])).expect("write");
    std::fs::write(&zst, zstd(&parts[3])).expect("write");
    std::fs::write(&xzed, xz(&parts[3])).expect("write");
    for (a, b) in [
        (&paths[3], &gz),
        (&zst, &paths[3]),
        (&paths[3], &xzed),
        (&gz, &xzed),
    ] {
        let (code, _, err) = run(&["audit", p(a), p(&paths[1]), p(b)]);
        assert_eq!(code, 2, "{} {}: {err}", p(a), p(b));
        assert!(
            err.contains("are the same capture (identical once decompressed): their packets would count twice"),
            "{err}"
        );
    }
    // Same length once decompressed but other bytes (one timestamp changed): not a duplicate.
    let mut other = parts[3].clone();
    let last = other.len() - 20;
    other[last] ^= 1;
    let other_gz = d.join("other.gz");
    std::fs::write(&other_gz, gzip(&other)).expect("write");
    let (code, _, err) = run(&["audit", p(&paths[3]), p(&other_gz), "-q"]);
    assert_ne!(code, 2, "{err}");

    // Overlap: the whole capture, xz-compressed, and one of its parts, plain or compressed.
    let whole_xz = d.join("whole.bin");
    std::fs::write(&whole_xz, week_xz()).expect("write");
    for part in [&paths[5], &paths[4]] {
        let v = report(&["audit", p(part), p(&whole_xz)], None);
        let warnings = v["warnings"].to_string();
        assert!(
            warnings.contains(&format!("{} starts (", p(part)))
                && warnings.contains(&format!("before {} ends (", p(&whole_xz)))
                && warnings.contains("the captures overlap"),
            "{warnings}"
        );
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// A 17 MiB pcapng name-resolution block (over the 16 MiB bound blocks are read within) put
/// after the 100th packet of a real capture: skipped and reported with the file, the record and
/// the byte offset, by the mapped file, its gzip copy and standard input alike; every packet
/// before and after it is read, so the report is the capture's plus that one warning.
#[test]
fn oversize_pcapng_block_is_skipped_and_reported_mapped_or_streamed() {
    let d = scratch("oversize");
    let whole = fixture("week/win11-enterprise.pcapng");
    let bytes = std::fs::read(&whole).expect("fixture");
    let (mut pos, mut packets) = (0, 0);
    while packets < 100 {
        let ty = u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4"));
        pos += u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().expect("4")) as usize;
        if ty == 6 || ty == 3 {
            packets += 1;
        }
    }
    let len: u32 = (16 << 20) + (1 << 20);
    let mut data = bytes[..pos].to_vec();
    data.extend(4u32.to_le_bytes());
    data.extend(len.to_le_bytes());
    data.resize(data.len() + len as usize - 12, 0x41);
    data.extend(len.to_le_bytes());
    data.extend_from_slice(&bytes[pos..]);
    let plain = d.join("big-block.pcapng");
    std::fs::write(&plain, &data).expect("write");
    let gz = d.join("big-block.pcapng.gz");
    std::fs::write(&gz, gzip(&data)).expect("write");

    let mut expected = report(&["audit", p(&whole)], None);
    assert_eq!(expected["warnings"], serde_json::json!([]));
    let want = format!(
        "record 101, byte offset {pos}: pcapng name resolution block of {len} bytes, over the 16 \
         MiB bound, skipped unread (1 such block in all; the records before and after are read)"
    );
    for (what, path, stdin) in [
        ("mapped", Some(&plain), None),
        ("gzip", Some(&gz), None),
        ("stdin", None, Some(data.clone())),
    ] {
        let name = path.map_or("-".to_string(), |f| p(f).to_string());
        let mut got = report(&["audit", &name], stdin);
        assert_eq!(
            got["warnings"],
            serde_json::json!([format!("{name}: {want}")]),
            "{what}"
        );
        got["warnings"] = serde_json::json!([]);
        expected["warnings"] = serde_json::json!([]);
        assert_eq!(
            got, expected,
            "{what}: every packet before and after the block"
        );
    }
    // --strict: exit 1, with the warning on stderr.
    let (code, _, err) = run(&["audit", p(&gz), "--strict", "-q", "--report", "json"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&want), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

/// A named pipe among several inputs is read once, by the run, in the order given; what the
/// run read is then checked: the pipe carrying the same capture as a file (here compressed) is
/// refused, and a pipe given before a file that starts earlier is warned about.
#[test]
fn a_pipe_among_inputs_is_checked_for_duplicates_and_order_as_it_is_read() {
    let d = scratch("pipe-checks");
    let fifo = d.join("fifo");
    if !Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("SKIPPED: mkfifo not available");
        return;
    }
    let bytes = std::fs::read(fixture("week/win11-enterprise.pcapng")).expect("fixture");
    let parts = split_pcapng(&bytes, 11);
    let part1 = d.join("part1.pcapng");
    std::fs::write(&part1, &parts[1]).expect("write");
    let part3 = d.join("part3.pcapng.xz");
    std::fs::write(&part3, xz(&parts[3])).expect("write");
    let feed = |data: Vec<u8>| {
        let w = fifo.clone();
        // Detached: opening a FIFO for writing blocks until the run opens it.
        std::thread::spawn(move || std::fs::write(w, data));
    };
    // The pipe carries part 3 gzip-compressed; the xz file holds part 3 too.
    feed(gzip(&parts[3]));
    let (code, _, err) = run(&["audit", p(&fifo), p(&part1), p(&part3)]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "{} and {} hold the same {} records: their packets would count twice",
            p(&fifo),
            p(&part3),
            count_packets(&parts[3])
        )),
        "{err}"
    );
    // Part 3 on the pipe, then part 1 (earlier): read in that order, warned, nothing refused.
    feed(parts[3].clone());
    let out = Command::new(BIN)
        .args(["audit", p(&fifo), p(&part1), "--report", "json"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("duplicates and overlaps are checked as they are read"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains(&format!("{} starts (", p(&part1)))
            && warnings.contains(&format!("before {} ends (", p(&fifo)))
            && warnings.contains("overlap or are out of order"),
        "{warnings}"
    );
    // In time order: no warning.
    feed(parts[1].clone());
    let v = report(&["audit", p(&fifo), p(&part3)], None);
    assert_eq!(v["warnings"], serde_json::json!([]), "{v}");
    let _ = std::fs::remove_dir_all(&d);
}

/// Packet blocks in a pcapng capture.
fn count_packets(bytes: &[u8]) -> usize {
    let mut pos = 0;
    let mut n = 0;
    while pos + 8 <= bytes.len() {
        let ty = u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4"));
        if ty == 6 || ty == 3 {
            n += 1;
        }
        pos += u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().expect("4")) as usize;
    }
    n
}
