//! The corpus of real captures (nDPI, Zeek, suricata-verify, Arkime) against what tshark 4.0
//! extracts from them (`oracle.jsonl`). Reads `$EGRESSMAP_CORPUS`; skipped (with a message) when
//! it is unset, and CI sets it.
//!
//! Measures, per file and per category: recall of TLS SNI, HTTP Host and DNS query names, and
//! per-flow agreement (client, server, hostname) with the oracle's flows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use egressmap::engine::EngineConfig;
use egressmap::pipeline::run_files;
use serde_json::Value;

/// Names tshark reports that are wrong or not hostnames, each with the reason found in the bytes.
/// (file, name, why)
const ORACLE_DISAGREEMENTS: &[(&str, &str, &str)] = &[];

#[derive(Debug)]
struct OurFlow {
    proto: &'static str,
    client: String,
    server: String,
    names: Vec<String>,
    host: Option<String>,
}

fn corpus_dir() -> Option<PathBuf> {
    match std::env::var_os("EGRESSMAP_CORPUS") {
        Some(d) => Some(PathBuf::from(d)),
        None => {
            eprintln!("SKIPPED: corpus tests need EGRESSMAP_CORPUS (e.g. ../shared/corpus)");
            None
        }
    }
}

fn endpoint(ip: std::net::IpAddr, port: u16) -> String {
    match ip {
        std::net::IpAddr::V4(a) => format!("{a}:{port}"),
        std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

fn run(path: &Path) -> Vec<OurFlow> {
    run_threads(path, 1)
}

fn run_threads(path: &Path, threads: usize) -> Vec<OurFlow> {
    let mut flows = Vec::new();
    run_files(
        &[path.to_path_buf()],
        EngineConfig::default(),
        threads,
        false,
        &mut |f, _| {
            flows.push(OurFlow {
                proto: f.protocol_name(),
                client: endpoint(f.client().0, f.client().1),
                server: endpoint(f.server().0, f.server().1),
                names: f.names().iter().map(|n| tshark_view(n)).collect(),
                host: f.host.as_deref().map(tshark_view),
            });
        },
    );
    flows
}

/// Our name as tshark displays it: we write a byte that is not valid UTF-8 as `\\ddd` (octal,
/// >= `\\200`), tshark as U+FFFD (losing it). Decode our escapes and replace as tshark does.
fn tshark_view(name: &str) -> String {
    let b = name.as_bytes();
    let mut raw = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let esc = b.get(i + 1..i + 4).filter(|d| {
            b[i] == b'\\'
                && matches!(d[0], b'2' | b'3')
                && d.iter().all(|c| (b'0'..=b'7').contains(c))
        });
        if let Some(d) = esc {
            raw.push((d[0] - b'0') << 6 | (d[1] - b'0') << 3 | (d[2] - b'0'));
            i += 4;
        } else {
            raw.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&raw).into_owned()
}

/// The oracle's name as we would report it: lowercase, no port, no trailing dot/whitespace.
/// None for IP literals, which are not hostnames.
fn norm(raw: &str) -> Option<String> {
    // tshark's placeholders (`<Root>`, `<Name too long>`, `<Unknown extended label>`) are not names.
    if raw.starts_with('<') {
        return None;
    }
    let mut s = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    if s.starts_with('[') {
        return None;
    }
    if let Some((h, p)) = s.rsplit_once(':') {
        if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') {
            s = h.to_string();
        }
    }
    let s = s.trim_end_matches('.').to_string();
    if s.is_empty() || s.parse::<std::net::IpAddr>().is_ok() {
        None
    } else {
        Some(s)
    }
}

fn strs(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Default, Clone, Copy)]
struct Tally {
    want: usize,
    found: usize,
}

impl Tally {
    fn pct(&self) -> f64 {
        if self.want == 0 {
            100.0
        } else {
            100.0 * self.found as f64 / self.want as f64
        }
    }
}

#[test]
fn corpus_names_and_flows_match_the_oracle() {
    let Some(dir) = corpus_dir() else { return };
    let oracle = std::fs::read_to_string(dir.join("oracle.jsonl")).expect("oracle.jsonl");
    let cats: HashMap<String, Vec<String>> = std::fs::read_to_string(dir.join("categories.tsv"))
        .expect("categories.tsv")
        .lines()
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Some((
                c.first()?.to_string(),
                c.get(3)?.split(',').map(str::to_string).collect(),
            ))
        })
        .collect();
    let allowed: BTreeSet<(&str, &str)> = ORACLE_DISAGREEMENTS
        .iter()
        .map(|(f, n, _)| (*f, *n))
        .collect();

    let mut per_kind: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut per_cat: BTreeMap<String, Tally> = BTreeMap::new();
    let mut flow_tally = Tally::default();
    let mut missing: Vec<String> = Vec::new();
    let mut flow_misses: Vec<String> = Vec::new();
    let mut files = 0;
    for line in oracle.lines() {
        let o: Value = serde_json::from_str(line).expect("oracle line");
        let file = o["file"].as_str().expect("file").to_string();
        let path = dir.join("pcaps").join(&file);
        let flows = run(&path);
        files += 1;
        let ours: BTreeSet<String> = flows.iter().flat_map(|f| f.names.iter().cloned()).collect();
        let mut file_tally = Tally::default();
        for (kind, key) in [
            ("tls_sni", "tls_sni"),
            ("http_host", "http_hosts"),
            ("dns_qry", "dns_qry_names"),
        ] {
            for raw in strs(&o, key) {
                let Some(name) = norm(&raw) else { continue };
                if allowed.contains(&(file.as_str(), name.as_str())) {
                    continue;
                }
                let t = per_kind.entry(kind).or_default();
                t.want += 1;
                file_tally.want += 1;
                if ours.contains(&name) {
                    t.found += 1;
                    file_tally.found += 1;
                } else {
                    missing.push(format!("{file}: {kind} {raw:?}"));
                }
            }
        }
        for c in cats.get(&file).into_iter().flatten() {
            let t = per_cat.entry(c.clone()).or_default();
            t.want += file_tally.want;
            t.found += file_tally.found;
        }
        for of in o["flows"].as_array().into_iter().flatten() {
            let proto = of["proto"].as_str().unwrap_or("").to_ascii_lowercase();
            let client = of["client"].as_str().unwrap_or("");
            let server = of["server"].as_str().unwrap_or("");
            let Some(host) = of["hostname"].as_str().and_then(norm) else {
                continue;
            };
            flow_tally.want += 1;
            let hit = flows.iter().any(|f| {
                f.proto == proto
                    && f.client == client
                    && f.server == server
                    && (f.host.as_deref() == Some(&host) || f.names.contains(&host))
            });
            if hit {
                flow_tally.found += 1;
            } else {
                let near: Vec<String> = flows
                    .iter()
                    .filter(|f| {
                        (f.client == client && f.server == server)
                            || (f.client == server && f.server == client)
                    })
                    .map(|f| format!("{} {} -> {} {:?}", f.proto, f.client, f.server, f.host))
                    .collect();
                flow_misses.push(format!(
                    "{file}: {proto} {client} -> {server} {host}; ours: {near:?}"
                ));
            }
        }
    }
    println!("files: {files}");
    println!(
        "{:<12} {:>6} {:>6} {:>8}",
        "kind", "want", "found", "recall"
    );
    for (k, t) in &per_kind {
        println!("{k:<12} {:>6} {:>6} {:>7.1}%", t.want, t.found, t.pct());
    }
    println!(
        "\n{:<24} {:>6} {:>6} {:>8}",
        "category", "want", "found", "recall"
    );
    for (k, t) in &per_cat {
        println!("{k:<24} {:>6} {:>6} {:>7.1}%", t.want, t.found, t.pct());
    }
    println!(
        "\nflows (client, server, hostname): {} of {} agree ({:.2}%)",
        flow_tally.found,
        flow_tally.want,
        flow_tally.pct()
    );
    for m in &missing {
        println!("MISSING {m}");
    }
    for m in &flow_misses {
        println!("FLOW MISS {m}");
    }
    assert!(
        missing.is_empty(),
        "{} oracle names not found",
        missing.len()
    );
    assert!(
        flow_tally.pct() >= 99.0,
        "flow agreement {:.2}% < 99%",
        flow_tally.pct()
    );
}

/// Every corpus capture gives the same flows, in the same order, with 1, 2 and 4 threads.
#[test]
fn corpus_output_is_independent_of_thread_count() {
    let Some(dir) = corpus_dir() else { return };
    let mut files = 0;
    for entry in std::fs::read_dir(dir.join("pcaps"))
        .expect("pcaps")
        .flatten()
    {
        let p = entry.path();
        let one = format!("{:?}", run_threads(&p, 1));
        for threads in [2, 4] {
            let many = format!("{:?}", run_threads(&p, threads));
            assert!(
                one == many,
                "{}: flows differ with {threads} threads",
                p.display()
            );
        }
        files += 1;
    }
    assert!(files > 50, "only {files} corpus captures");
}
