//! The signature directory loader and the matcher built from what it loaded. Input sections are
//! separated by 0xff (never valid UTF-8 on its own): `x.jsonl`, then optionally `areas.json`,
//! `purposes.json` and `microsoft-domains.txt` (missing ones take the shipped files). A database
//! that loads is compiled into a matcher and queried.
#![no_main]
use egressmap::signatures::matcher::Matcher;
use egressmap::signatures::Database;
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

static DIR: OnceLock<PathBuf> = OnceLock::new();
const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../signatures");

fuzz_target!(|data: &[u8]| {
    let dir = DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("egressmap-sigload-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    });
    let mut parts = data.split(|&b| b == 0xff);
    let files = [
        "x.jsonl",
        "areas.json",
        "purposes.json",
        "microsoft-domains.txt",
    ];
    for (i, name) in files.iter().enumerate() {
        let body: Vec<u8> = match parts.next() {
            Some(p) => p.to_vec(),
            None if i == 0 => Vec::new(),
            None => std::fs::read(format!("{SHIPPED}/{name}")).expect("shipped signature file"),
        };
        std::fs::write(dir.join(name), body).expect("write temp file");
    }
    let Ok(db) = Database::load_dir(dir) else {
        return;
    };
    let mut m = Matcher::new(&db, None, None);
    for host in ["settings-win.data.microsoft.com", "a.b.c", "", "x"] {
        let _ = m.lookup(host, Some("/path"));
    }
    for e in db.endpoints().iter().take(16) {
        let host = e
            .pattern
            .split('/')
            .next()
            .unwrap_or("")
            .replace('*', "abc");
        let r = m.lookup(&host, None);
        let _ = r.is_match();
    }
});
