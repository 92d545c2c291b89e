//! Every fixture in `fixtures/` (written by `cargo run --example gen_fixtures`) run through the
//! pipeline and compared field by field with `fixtures/expected.json`, which the generator
//! computes from the packets it wrote.

use std::path::{Path, PathBuf};

use egressmap::cli::match_flow;
use egressmap::engine::EngineConfig;
use egressmap::pipeline::run_files;
use egressmap::signatures::{Database, Matcher};
use serde_json::Value;

use crate::support;

fn endpoint(ip: std::net::IpAddr, port: u16) -> String {
    match ip {
        std::net::IpAddr::V4(a) => format!("{a}:{port}"),
        std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Our flows for one file, as JSON objects shaped like the expectations.
fn run(path: &Path, threads: usize) -> (Vec<Value>, egressmap::pipeline::RunResult) {
    run_with(path, threads, EngineConfig::default())
}

/// Engine options an expectation asks for (`dns_cache`, `dns_per_client`).
fn config_for(fx: &Value) -> EngineConfig {
    let mut cfg = EngineConfig::default();
    if let Some(n) = fx.get("dns_cache").and_then(Value::as_u64) {
        cfg.resolver.max_entries = n as usize;
    }
    if let Some(n) = fx.get("dns_per_client").and_then(Value::as_u64) {
        cfg.resolver.max_per_client = n as usize;
    }
    cfg
}

fn run_with(
    path: &Path,
    threads: usize,
    cfg: EngineConfig,
) -> (Vec<Value>, egressmap::pipeline::RunResult) {
    let mut flows = Vec::new();
    let db = Database::builtin().expect("built-in signatures");
    let mut matcher = Matcher::new(&db, None, None);
    let r = run_files(&[path.to_path_buf()], cfg, threads, false, &mut |f, _| {
        let m = match_flow(&mut matcher, f);
        let areas: Vec<String> = m.as_ref().map(|r| r.areas.clone()).unwrap_or_default();
        flows.push(serde_json::json!({
            "proto": f.protocol_name(),
            "client": endpoint(f.client().0, f.client().1),
            "server": endpoint(f.server().0, f.server().1),
            "packets_up": f.up.packets,
            "packets_down": f.down.packets,
            "bytes_up": f.up.bytes,
            "bytes_down": f.down.bytes,
            "host": f.host.as_deref(),
            "host_source": f.host_source.map(|s| s.as_str()),
            "ech": f.ech,
            "inferred_host": f.extra().inferred_host.as_deref(),
            "ech_outer": f.ech_outer,
            "areas": areas,
            "shared_infrastructure": m.as_ref().is_some_and(|r| r.shared_infrastructure()),
            "names": f.names().iter().map(|n| &**n).collect::<Vec<_>>(),
            "names_unlisted": f.extra().names_dropped,
        }));
    });
    (flows, r)
}

#[test]
fn fixtures_match_expectations_field_by_field() {
    let expected = std::fs::read_to_string(fixtures_dir().join("expected.json"))
        .expect("fixtures/expected.json");
    let expected: Vec<Value> = serde_json::from_str(&expected).expect("expected.json parses");
    assert!(expected.len() >= 15, "fixture set is incomplete");
    let mut failures = Vec::new();
    for fx in &expected {
        let file = fx["file"].as_str().expect("file");
        let (ours, result) = run_with(&fixtures_dir().join(file), 1, config_for(fx));
        if let Some(want_err) = fx.get("error").and_then(Value::as_str) {
            let got = result
                .files
                .first()
                .and_then(|f| f.error.as_ref())
                .map(|e| format!("{:?}", e.kind));
            if got.as_deref().is_none_or(|g| !g.contains(want_err)) {
                failures.push(format!("{file}: expected error {want_err}, got {got:?}"));
            }
        }
        // Flows on the same tuple (a reused port) are paired in order.
        let mut used = vec![false; ours.len()];
        for want in fx["flows"].as_array().into_iter().flatten() {
            let matching = ours.iter().enumerate().find(|(i, f)| {
                !used[*i]
                    && f["proto"] == want["proto"]
                    && f["client"] == want["client"]
                    && f["server"] == want["server"]
            });
            if let Some((i, _)) = matching {
                used[i] = true;
            }
            let Some((_, got)) = matching else {
                failures.push(format!(
                    "{file}: no flow {} {} -> {}",
                    want["proto"], want["client"], want["server"]
                ));
                continue;
            };
            for field in [
                "packets_up",
                "packets_down",
                "bytes_up",
                "bytes_down",
                "host",
                "host_source",
                "ech",
                "inferred_host",
                "ech_outer",
                "areas",
                "shared_infrastructure",
                "names_unlisted",
            ] {
                if let Some(w) = want.get(field) {
                    if got[field] != *w {
                        failures.push(format!(
                            "{file}: {} -> {}: {field} is {}, expected {w}",
                            want["client"], want["server"], got[field]
                        ));
                    }
                }
            }
            if want.get("names_checked").is_some() && got["names"] != want["names"] {
                failures.push(format!(
                    "{file}: {} -> {}: names are {}, expected {}",
                    want["client"], want["server"], got["names"], want["names"]
                ));
            }
        }
        if let Some(want) = fx.get("unsupported").and_then(Value::as_object) {
            let mut got = serde_json::Map::new();
            for e in &result.engines {
                for (kind, n) in &e.stats.unsupported_framing.kinds {
                    let k = kind.to_string();
                    let prev = got.get(&k).and_then(Value::as_u64).unwrap_or(0);
                    got.insert(k, Value::from(prev + n));
                }
            }
            if &got != want {
                failures.push(format!(
                    "{file}: unsupported framings {got:?}, expected {want:?}"
                ));
            }
        }
        let want_n = fx["flows"].as_array().map_or(0, Vec::len);
        if ours.len() != want_n {
            failures.push(format!("{file}: {} flows, expected {want_n}", ours.len()));
        }
    }
    assert!(
        failures.is_empty(),
        "fixture mismatches:\n{}",
        failures.join("\n")
    );
}

/// The flow log is the same whatever the number of threads.
#[test]
fn output_is_independent_of_thread_count() {
    for entry in std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .flatten()
    {
        let p = entry.path();
        if !matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("pcap" | "pcapng")
        ) {
            continue;
        }
        let (one, _) = run(&p, 1);
        for threads in [2, 3, 4] {
            let (many, _) = run(&p, threads);
            assert_eq!(
                one,
                many,
                "{}: output differs with {threads} threads",
                p.display()
            );
        }
    }
}

/// The report's DNS view for `file` (`egressmap audit --report json`) with `threads` workers.
fn dns_view(file: &Path, threads: usize) -> Value {
    let (code, out, err) = support::run(&[
        "audit",
        file.to_str().expect("path"),
        "-q",
        "--threads",
        &threads.to_string(),
        "--report",
        "json",
    ]);
    assert_eq!(code, 0, "{}: {err}", file.display());
    let r: Value = serde_json::from_str(&out).expect("report JSON");
    r["dns"].clone()
}

/// Every name a fixture's clients looked up is in the report's DNS view with the queries,
/// answered responses and clients the generator sent, field by field, however many names one
/// flow carried (framings_dns: 100 names on one flow, which lists 64); the same for 1, 2 and 4
/// threads, and `merge` of two runs sums them exactly.
#[test]
fn dns_view_counts_every_name_field_by_field() {
    let expected: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(fixtures_dir().join("expected.json")).expect("expected.json"),
    )
    .expect("expected.json parses");
    let mut checked = 0;
    for fx in expected.iter().filter(|f| f.get("dns_names").is_some()) {
        let file = fixtures_dir().join(fx["file"].as_str().expect("file"));
        let want = fx["dns_names"].as_object().expect("dns_names object");
        let view = dns_view(&file, 1);
        let names = view["names"].as_array().expect("names");
        let got: std::collections::BTreeMap<&str, &Value> = names
            .iter()
            .map(|n| (n["name"].as_str().expect("name"), n))
            .collect();
        assert_eq!(
            got.len(),
            names.len(),
            "{}: a name listed twice",
            file.display()
        );
        let want_names: Vec<&str> = want.keys().map(String::as_str).collect();
        let got_names: Vec<&str> = got.keys().copied().collect();
        assert_eq!(got_names, want_names, "{}: names", file.display());
        let (mut queries, mut answers) = (0, 0);
        for (name, w) in want {
            let g = got[name.as_str()];
            for field in ["queries", "answers", "clients"] {
                assert_eq!(g[field], w[field], "{}: {name}: {field}", file.display());
            }
            assert_eq!(g["more_clients"], false, "{name}");
            assert_eq!(g["status"], "undocumented", "{name}");
            queries += w["queries"].as_u64().expect("queries");
            answers += w["answers"].as_u64().expect("answers");
        }
        assert_eq!(view["queries"], queries, "{}", file.display());
        assert_eq!(view["answers"], answers, "{}", file.display());
        for f in ["unlisted_queries", "unlisted_answers", "uncounted_messages"] {
            assert_eq!(view[f], 0, "{}: {f}", file.display());
        }
        for threads in [2, 4] {
            assert_eq!(dns_view(&file, threads), view, "{threads} threads");
        }

        // Two runs merged: every count doubles, the clients stay.
        let dir = std::env::temp_dir().join(format!("egressmap-dnsview-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let saved = dir.join("one.json");
        let (code, _, err) = support::run(&[
            "audit",
            file.to_str().expect("path"),
            "-q",
            "--report",
            "json",
            "-o",
            saved.to_str().expect("path"),
        ]);
        assert_eq!(code, 0, "{err}");
        let s = saved.to_str().expect("path");
        let (code, out, err) = support::run(&["merge", s, s]);
        assert_eq!(code, 0, "{err}");
        let merged: Value = serde_json::from_str(&out).expect("merged JSON");
        let m = &merged["dns"];
        assert_eq!(m["queries"], 2 * queries);
        assert_eq!(m["answers"], 2 * answers);
        for n in m["names"].as_array().expect("names") {
            let name = n["name"].as_str().expect("name");
            let w = &want[name];
            assert_eq!(
                n["queries"],
                2 * w["queries"].as_u64().expect("q"),
                "{name}"
            );
            assert_eq!(
                n["answers"],
                2 * w["answers"].as_u64().expect("a"),
                "{name}"
            );
            assert_eq!(n["clients"], w["clients"], "{name}");
        }
        assert_eq!(m["names"].as_array().map(Vec::len), Some(want.len()));
        let _ = std::fs::remove_dir_all(&dir);
        checked += 1;
    }
    assert!(checked >= 1, "no fixture records dns_names");
}
