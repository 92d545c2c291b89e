//! Zeek and Suricata logs as `audit` input.
//!
//! - Every set of real Zeek logs in `../shared/zeek-logs` (47 Zeek test baselines) is read
//!   without error, and every name of its ssl/http/dns/quic logs is joined to its conn record by
//!   uid (checked against a plain re-reading of the columns).
//! - Round trip: a capture's flows written as Zeek logs (TSV, JSON, gzip) read back to the same
//!   report as the capture's.
//! - Suricata (when installed): `eve.json` of the fixture week gives per-area flows and bytes
//!   within 1% of the pcap's report.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use egressmap::engine::EngineConfig;
use egressmap::input::zeek_write::ZeekWriter;
use egressmap::input::{read_zeek_set, JoinConfig};
use egressmap::pipeline::run_files;
use serde_json::Value;

pub(crate) fn zeek_logs_dir() -> Option<PathBuf> {
    let d = match std::env::var_os("EGRESSMAP_ZEEK_LOGS") {
        Some(d) => PathBuf::from(d),
        None => match std::env::var_os("EGRESSMAP_CORPUS") {
            Some(c) => PathBuf::from(c).join("../zeek-logs"),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/zeek-logs"),
        },
    };
    if d.join("SOURCES.tsv").is_file() {
        Some(d)
    } else {
        eprintln!("SKIPPED: Zeek log sets not found (set EGRESSMAP_ZEEK_LOGS or EGRESSMAP_CORPUS)");
        None
    }
}

/// (uid, name) pairs a log's name column holds, read plainly: header line of field names
/// The shared Zeek log sets (one directory each), sorted; `None` (SKIPPED printed) without them.
pub(crate) fn zeek_sets() -> Option<Vec<PathBuf>> {
    let root = zeek_logs_dir()?;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|d| d.is_dir())
        .collect();
    dirs.sort();
    Some(dirs)
}

/// (`#fields` or a `zeek-cut` header), tab-separated rows.
fn names_in(path: &Path, column: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut fields: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            fields = f.split('\t').collect();
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if fields.is_empty() {
            fields = line.split('\t').collect();
            continue;
        }
        let vals: Vec<&str> = line.split('\t').collect();
        let get = |n: &str| {
            fields
                .iter()
                .position(|f| *f == n)
                .and_then(|i| vals.get(i))
        };
        let (Some(uid), Some(name)) = (get("uid"), get(column)) else {
            continue;
        };
        if *name == "-" || *name == "(empty)" || name.parse::<std::net::IpAddr>().is_ok() {
            continue;
        }
        out.push((uid.to_string(), name.to_ascii_lowercase()));
    }
    out
}

fn conn_uids(path: &Path) -> BTreeSet<String> {
    names_in(path, "uid").into_iter().map(|(u, _)| u).collect()
}

#[test]
fn every_zeek_log_set_reads_and_joins_names_on_uid() {
    let Some(root) = zeek_logs_dir() else { return };
    let mut sets = 0;
    let (mut joined, mut conns_total) = (0, 0);
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        sets += 1;
        let set = read_zeek_set(std::slice::from_ref(&dir), &JoinConfig::default())
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        assert_eq!(set.bad_lines, 0, "{}: unreadable lines", dir.display());
        let uids = conn_uids(&dir.join("conn.log"));
        assert_eq!(
            set.conns
                .iter()
                .map(|c| c.uid.clone())
                .collect::<BTreeSet<_>>(),
            uids,
            "{}: every conn record read",
            dir.display()
        );
        conns_total += set.conns.len();
        for (log, col) in [
            ("ssl.log", "server_name"),
            ("http.log", "host"),
            ("dns.log", "query"),
            ("quic.log", "server_name"),
        ] {
            let p = dir.join(log);
            if !p.exists() {
                continue;
            }
            for (uid, name) in names_in(&p, col) {
                if !uids.contains(&uid) {
                    continue;
                }
                let Some(c) = set.conns.iter().find(|c| c.uid == uid) else {
                    panic!("{}: uid {uid} not read", dir.display());
                };
                // Names that are not host names (NetBIOS `BRWC0CB383D1F42` is; `target` is)
                // are kept too; only IP literals and non-printables are dropped.
                // Normalised as the engine does a Host header: `:port` and a trailing dot go.
                let mut want = name.trim_end_matches('.').to_string();
                if let Some((h, port)) = want.rsplit_once(':') {
                    if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) {
                        want = h.to_string();
                    }
                }
                assert!(
                    c.names.iter().any(|(n, _)| *n == want),
                    "{}: {log} name {want:?} not joined to {uid}: {:?}",
                    dir.display(),
                    c.names
                );
                joined += 1;
            }
        }
    }
    eprintln!("zeek-logs: {sets} sets, {conns_total} conn records, {joined} names joined on uid");
    assert_eq!(sets, 47);
    assert!(joined >= 100, "only {joined} names joined");
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_egressmap")
}

pub(crate) fn audit_json(inputs: &[&Path], extra: &[&str]) -> Value {
    let out = Command::new(bin())
        .arg("audit")
        .args(inputs)
        .args(["--report", "json", "-q", "-j", "1"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "audit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Per area: (flows, packets, bytes up, bytes down), and per destination (flows, bytes).
/// (flows, packets, bytes up, bytes down, per destination (flows, bytes)).
type AreaFigures = (u64, u64, u64, u64, BTreeMap<String, (u64, u64)>);

fn areas(r: &Value) -> BTreeMap<String, AreaFigures> {
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap();
    r["areas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let d = a["destinations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    (
                        d["host"].as_str().unwrap().to_string(),
                        (n(d, "flows"), n(d, "bytes_up") + n(d, "bytes_down")),
                    )
                })
                .collect();
            (
                a["area"].as_str().unwrap().to_string(),
                (
                    n(a, "flows"),
                    n(a, "packets"),
                    n(a, "bytes_up"),
                    n(a, "bytes_down"),
                    d,
                ),
            )
        })
        .collect()
}

/// The flows of one capture (one thread), as our Zeek writer holds them: the logs a Zeek run
/// of that capture would write, for the round-trip and unknown-field tests.
pub(crate) fn zeek_writer_of(pcap: &Path) -> ZeekWriter {
    let mut w = ZeekWriter::new(300);
    let r = run_files(
        std::slice::from_ref(&pcap.to_path_buf()),
        EngineConfig::default(),
        1,
        false,
        &mut |f, _| w.add(f),
    );
    assert!(!r.any_error(), "{}", pcap.display());
    w
}

fn week(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/week")
        .join(name)
}

#[test]
fn zeek_round_trip_gives_the_captures_report() {
    for capture in ["win2004-pro.pcapng", "win11-enterprise-before.pcapng"] {
        let pcap = week(capture);
        let w = zeek_writer_of(&pcap);
        let tmp = std::env::temp_dir().join(format!(
            "egressmap-zeek-rt-{}-{capture}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&tmp);
        let want = audit_json(&[&pcap], &[]);
        for (variant, json, gzip) in [
            ("tsv", false, false),
            ("json", true, false),
            ("gz", false, true),
        ] {
            let dir = tmp.join(variant);
            w.write_dir(&dir, json, gzip).unwrap();
            let got = audit_json(&[&dir], &[]);
            assert_eq!(
                areas(&got),
                areas(&want),
                "{capture} {variant}: areas differ"
            );
            let t = |r: &Value, k: &str| r["totals"][k].as_u64().unwrap();
            for k in [
                "flows_seen",
                "flows",
                "packets",
                "bytes_up",
                "bytes_down",
                "documented_flows",
                "unattributed_flows",
            ] {
                assert_eq!(t(&got, k), t(&want, k), "{capture} {variant}: totals.{k}");
            }
            // Logs cannot tell ECH: its flows are undocumented names there (their outer name).
            assert_eq!(
                t(&got, "undocumented_flows"),
                t(&want, "undocumented_flows") + t(&want, "ech_flows"),
                "{capture} {variant}"
            );
            let hosts = |r: &Value, k: &str| -> BTreeSet<String> {
                r[k].as_array()
                    .unwrap()
                    .iter()
                    .map(|u| u["host"].as_str().unwrap().to_string())
                    .collect()
            };
            let mut want_undoc = hosts(&want, "undocumented");
            want_undoc.extend(
                want["ech"]["outer_names"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap().to_string()),
            );
            assert_eq!(
                hosts(&got, "undocumented"),
                want_undoc,
                "{capture} {variant}"
            );
            assert_eq!(
                got["unattributed"], want["unattributed"],
                "{capture} {variant}"
            );
            assert_eq!(got["first_seen"], want["first_seen"]);
            assert_eq!(got["last_seen"], want["last_seen"]);
            // The DNS view: every name with its queries, answers and clients, from dns.log.
            assert!(want["dns"]["queries"].as_u64().unwrap() > 0);
            assert_eq!(got["dns"], want["dns"], "{capture} {variant}: DNS view");
            assert_eq!(got["documented_not_seen"], want["documented_not_seen"]);
            assert!(got["unknown"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u == "ech"));
            eprintln!(
                "{capture} as Zeek {variant}: {} flows, {} areas, same report",
                t(&got, "flows"),
                areas(&got).len()
            );
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }
}

#[test]
fn a_directory_of_rotated_gzip_logs_is_one_dataset() {
    // Split a day's flows into two rotation intervals: the DNS answers of the first hour must
    // still name flows of the second, and the report equals the unsplit one.
    let pcap = week("win2004-pro.pcapng");
    let mut all = ZeekWriter::new(300);
    let mut first = Vec::new();
    run_files(
        std::slice::from_ref(&pcap),
        EngineConfig::default(),
        1,
        false,
        &mut |f, _| {
            all.add(f);
            first.push(f.first_seen);
        },
    );
    let tmp = std::env::temp_dir().join(format!("egressmap-zeek-rot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    all.write_dir(&tmp.join("one"), false, true).unwrap();
    let want = audit_json(&[&tmp.join("one")], &[]);
    // Rotate by time: rows of each log before / after the median flow start go to two files.
    let mut sorted = first.clone();
    sorted.sort_unstable();
    let cut = sorted[sorted.len() / 2];
    let rot = tmp.join("rotated/2024-03-04");
    std::fs::create_dir_all(&rot).unwrap();
    for log in ["conn", "dns", "http", "quic", "ssl"] {
        let text = read_gz(&tmp.join(format!("one/{log}.log.gz")));
        let (head, rows): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| l.starts_with('#'));
        for (suffix, early) in [("07:00:00-13:00:00", true), ("13:00:00-08:00:00", false)] {
            let mut out: Vec<&str> = head
                .iter()
                .copied()
                .filter(|l| !l.starts_with("#close"))
                .collect();
            out.extend(rows.iter().copied().filter(|r| {
                let ts = egressmap::input::time::epoch(r.split('\t').next().unwrap()).unwrap();
                (ts < cut) == early
            }));
            write_gz(
                &rot.join(format!("{log}.{suffix}.log.gz")),
                &(out.join("\n") + "\n"),
            );
        }
    }
    let got = audit_json(&[&tmp.join("rotated")], &[]);
    assert_eq!(areas(&got), areas(&want));
    assert_eq!(got["totals"], want["totals"]);
    assert_eq!(got["inputs"].as_array().unwrap().len(), 10);
    let _ = std::fs::remove_dir_all(&tmp);
}

fn read_gz(p: &Path) -> String {
    use std::io::Read;
    let mut s = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(p).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    s
}

fn write_gz(p: &Path, text: &str) {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(p).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap();
}

pub(crate) fn suricata() -> bool {
    let ok = Command::new("suricata")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "SKIPPED: suricata not installed (apt-get install -t bookworm-backports suricata); eve.json tests not run"
        );
    }
    ok
}

/// Run Suricata 7 on a capture (no rules, one thread), returning its eve.json.
pub(crate) fn run_suricata(pcap: &Path, out: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).unwrap();
    let st = Command::new("suricata")
        .arg("-r")
        .arg(pcap)
        .arg("-l")
        .arg(out)
        .args(["-k", "none", "--runmode", "single", "-S", "/dev/null"])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "suricata: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    out.join("eve.json")
}

#[test]
fn suricata_eve_of_the_fixture_week_matches_the_pcap() {
    if !suricata() {
        return;
    }
    // Full snap length: Suricata drops packets whose IP length exceeds what was captured
    // (the 640-byte week fixtures), so byte counts are comparable only on untruncated captures.
    let pcap = week("fleet-win2004-pro-fullsnap.pcapng");
    let tmp = std::env::temp_dir().join(format!("egressmap-suricata-{}", std::process::id()));
    let eve = run_suricata(&pcap, &tmp);
    let want = audit_json(&[&pcap], &[]);
    let got = audit_json(&[&eve], &[]);
    let (wa, ga) = (areas(&want), areas(&got));
    assert_eq!(wa.keys().collect::<Vec<_>>(), ga.keys().collect::<Vec<_>>());
    let within = |a: u64, b: u64| (a as f64 - b as f64).abs() <= 0.01 * (b as f64).max(1.0);
    for (area, w) in &wa {
        let g = &ga[area];
        assert!(within(g.0, w.0), "{area}: flows {} vs {}", g.0, w.0);
        assert!(
            within(g.2 + g.3, w.2 + w.3),
            "{area}: bytes {} vs {}",
            g.2 + g.3,
            w.2 + w.3
        );
        eprintln!(
            "{area:<28} flows {:>4} / {:>4}  bytes {:>9} / {:>9}",
            g.0,
            w.0,
            g.2 + g.3,
            w.2 + w.3
        );
    }
    let t = |r: &Value, k: &str| r["totals"][k].as_u64().unwrap();
    for k in [
        "flows_seen",
        "flows",
        "packets",
        "bytes_up",
        "bytes_down",
        "documented_flows",
    ] {
        assert!(
            within(t(&got, k), t(&want, k)),
            "totals.{k}: {} vs {}",
            t(&got, k),
            t(&want, k)
        );
    }
    assert_eq!(got["inputs"][0]["format"], "suricata-eve");
    dns_view_of_eve_matches_the_pcap(&pcap, &want, &got, &tmp);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// (queries, answers, clients, status) per name of a report's DNS view.
fn dns_names(r: &Value) -> BTreeMap<String, (u64, u64, Value, Value)> {
    r["dns"]["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let k = n["name"].as_str().unwrap().to_string();
            let q = n["queries"].as_u64().unwrap();
            let a = n["answers"].as_u64().unwrap();
            (k, (q, a, n["clients"].clone(), n["status"].clone()))
        })
        .collect()
}

/// The DNS view from Suricata's `dns` events: every name Suricata logged has the pcap's
/// queries, answers, clients and status. Suricata parses DNS on port 53 only, so the names the
/// pcap saw only in mDNS (5353) and LLMNR (5355) flows are missing, and nothing else is.
fn dns_view_of_eve_matches_the_pcap(pcap: &Path, want: &Value, got: &Value, tmp: &Path) {
    assert!(
        !got["unknown"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u.as_str().is_some_and(|u| u.starts_with("dns"))),
        "{:?}",
        got["unknown"]
    );
    let (w, g) = (dns_names(want), dns_names(got));
    for (name, figures) in &g {
        assert_eq!(Some(figures), w.get(name), "{name}: eve vs pcap");
    }
    // Names of the pcap's DNS flows per server port, from its flow log.
    let flows = tmp.join("flows.jsonl");
    let st = Command::new(bin())
        .arg("audit")
        .arg(pcap)
        .args(["-q", "-j", "1", "--flows"])
        .arg(&flows)
        .output()
        .unwrap();
    assert!(st.status.code().is_some_and(|c| c <= 1));
    let mut on_53 = BTreeSet::new();
    let mut lan = BTreeSet::new();
    for line in std::fs::read_to_string(&flows).unwrap().lines() {
        let f: Value = serde_json::from_str(line).unwrap();
        if f["app"] != "dns" {
            continue;
        }
        let port = f["server_port"].as_u64().unwrap();
        for n in f["names"].as_array().unwrap() {
            let n = n.as_str().unwrap().to_string();
            if port == 53 {
                on_53.insert(n);
            } else {
                assert!(matches!(port, 5353 | 5355), "{n} on port {port}");
                lan.insert(n);
            }
        }
    }
    let missing: BTreeSet<String> = w.keys().filter(|n| !g.contains_key(*n)).cloned().collect();
    assert!(
        !missing.is_empty(),
        "the fixture has mDNS and LLMNR lookups"
    );
    assert!(
        missing.is_subset(&lan) && missing.is_disjoint(&on_53),
        "{missing:?}"
    );
    assert_eq!(g.keys().cloned().collect::<BTreeSet<_>>(), on_53);
    let sum = |v: &BTreeMap<String, (u64, u64, Value, Value)>, k: usize| -> u64 {
        v.iter()
            .filter(|(n, _)| missing.contains(*n) == (k == 2))
            .map(|(_, f)| f.0)
            .sum()
    };
    let total = |r: &Value, k: &str| r["dns"][k].as_u64().unwrap();
    assert_eq!(total(got, "queries"), sum(&g, 0));
    assert_eq!(total(want, "queries"), total(got, "queries") + sum(&w, 2));
    assert_eq!(total(got, "answers"), total(want, "answers"));
    eprintln!(
        "DNS view: eve {} names, {} queries, {} answers; pcap {} names, {} queries, {} answers; only in the pcap (mDNS/LLMNR): {missing:?}",
        g.len(),
        total(got, "queries"),
        total(got, "answers"),
        w.len(),
        total(want, "queries"),
        total(want, "answers")
    );
}

/// The DNS view from the real dns.log rows of the shared Zeek sets, against a plain re-reading
/// of each row: a query when `qtype` is set, an answered response when `answers` is not empty,
/// its client `id.orig_h`; rows on NetBIOS ports count nothing (not DNS to the engine), nor rows
/// without a conn record. A set without dns.log says its DNS view is unknown.
#[test]
fn zeek_dns_logs_give_the_dns_view() {
    let Some(dirs) = zeek_sets() else { return };
    let (mut with_dns, mut without, mut rows_counted) = (0, 0, 0);
    for dir in dirs {
        let got = audit_json(&[&dir], &["--all-destinations"]);
        let unknown: Vec<&str> = got["unknown"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let log = dir.join("dns.log");
        if !log.exists() {
            without += 1;
            assert!(unknown.contains(&"dns"), "{}: {unknown:?}", dir.display());
            continue;
        }
        with_dns += 1;
        assert!(!unknown.contains(&"dns"), "{}", dir.display());
        let uids = conn_uids(&dir.join("conn.log"));
        let text = std::fs::read_to_string(&log).unwrap();
        let mut fields: Vec<&str> = Vec::new();
        let mut want: BTreeMap<String, (u64, u64, BTreeSet<String>)> = BTreeMap::new();
        for line in text.lines() {
            if let Some(f) = line.strip_prefix("#fields\t") {
                fields = f.split('\t').collect();
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let vals: Vec<&str> = line.split('\t').collect();
            let get = |n: &str| {
                let v = *fields
                    .iter()
                    .position(|f| *f == n)
                    .and_then(|i| vals.get(i))
                    .unwrap();
                (v != "-" && v != "(empty)").then_some(v)
            };
            let netbios = ["id.orig_p", "id.resp_p"]
                .iter()
                .any(|p| matches!(get(p), Some("137" | "138")));
            let (Some(uid), Some(q)) = (get("uid"), get("query")) else {
                continue;
            };
            if netbios || !uids.contains(uid) {
                continue;
            }
            let e = want
                .entry(q.trim_end_matches('.').to_ascii_lowercase())
                .or_default();
            e.0 += u64::from(get("qtype").is_some());
            e.1 += u64::from(get("answers").is_some());
            e.2.insert(get("id.orig_h").unwrap().to_string());
            rows_counted += 1;
        }
        let have: BTreeMap<String, (u64, u64, BTreeSet<String>)> = got["dns"]["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                let clients = n["clients"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_string())
                    .collect();
                (
                    n["name"].as_str().unwrap().to_string(),
                    (
                        n["queries"].as_u64().unwrap(),
                        n["answers"].as_u64().unwrap(),
                        clients,
                    ),
                )
            })
            .collect();
        assert_eq!(have, want, "{}: DNS view", dir.display());
        let q: u64 = want.values().map(|v| v.0).sum();
        let a: u64 = want.values().map(|v| v.1).sum();
        assert_eq!(got["dns"]["queries"].as_u64(), Some(q), "{}", dir.display());
        assert_eq!(got["dns"]["answers"].as_u64(), Some(a), "{}", dir.display());
        eprintln!(
            "{}: {} names, {q} queries, {a} answers",
            dir.file_name().unwrap().to_string_lossy(),
            want.len()
        );
    }
    eprintln!("zeek-logs: {with_dns} sets with dns.log ({rows_counted} rows counted), {without} without (DNS view unknown)");
    assert_eq!(with_dns + without, 47);
    assert!(with_dns >= 5 && rows_counted >= 30);
}
