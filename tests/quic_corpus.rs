//! QUIC names in the corpus: every `quic_sni` and `gquic_sni` tshark finds (`oracle.jsonl`) must
//! be among our flows' names, per file. Reads `$EGRESSMAP_CORPUS`; skipped when unset.

use std::collections::BTreeSet;
use std::path::PathBuf;

use egressmap::engine::EngineConfig;
use egressmap::pipeline::run_files;
use serde_json::Value;

/// The oracle's name as we report it (lowercase, no port); None for IP literals.
fn norm(raw: &str) -> Option<String> {
    let mut s = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    if let Some((h, p)) = s.rsplit_once(':') {
        if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') {
            s = h.to_string();
        }
    }
    (!s.is_empty() && s.parse::<std::net::IpAddr>().is_err()).then_some(s)
}

fn strs(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

#[test]
fn every_quic_name_in_the_corpus_is_found() {
    let Some(dir) = std::env::var_os("EGRESSMAP_CORPUS").map(PathBuf::from) else {
        eprintln!("SKIPPED: needs EGRESSMAP_CORPUS");
        return;
    };
    let oracle = std::fs::read_to_string(dir.join("oracle.jsonl")).expect("oracle.jsonl");
    let mut missing = Vec::new();
    let (mut want_all, mut found_all) = (0, 0);
    println!("{:<58} {:>5} {:>5} {:>5}", "file", "want", "found", "multi");
    for line in oracle.lines() {
        let o: Value = serde_json::from_str(line).expect("oracle line");
        let want: BTreeSet<String> = ["quic_sni", "gquic_sni"]
            .iter()
            .flat_map(|k| strs(&o, k))
            .filter_map(|n| norm(&n))
            .collect();
        if want.is_empty() {
            continue;
        }
        let multi = strs(&o, "quic_sni_multi_crypto_fragment").len();
        let file = o["file"].as_str().expect("file");
        let mut ours = BTreeSet::new();
        let cfg = EngineConfig::default();
        run_files(
            &[dir.join("pcaps").join(file)],
            cfg,
            1,
            false,
            &mut |f, _| {
                if f.host_source == Some(egressmap::flow::HostSource::QuicSni) {
                    ours.extend(f.names().iter().map(|n| n.to_string()));
                }
            },
        );
        let found = want.iter().filter(|n| ours.contains(*n)).count();
        println!("{file:<58} {:>5} {found:>5} {multi:>5}", want.len());
        want_all += want.len();
        found_all += found;
        missing.extend(want.difference(&ours).map(|n| format!("{file}: {n}")));
    }
    println!("total: {found_all} of {want_all}");
    for m in &missing {
        println!("MISSING {m}");
    }
    assert!(missing.is_empty(), "{} QUIC names not found", missing.len());
}
