//! The signature data against Microsoft's pages, and the matcher's semantics.

use egressmap::signatures::import::{import_pages, to_jsonl, turnoff_anchor_map, TURNOFF_PAGE};
use egressmap::signatures::{Database, Endpoint, Matcher, Pattern, BUILDS};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn msdocs() -> Option<PathBuf> {
    let dir = match std::env::var_os("EGRESSMAP_MSDOCS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/msdocs"),
    };
    if dir.join("MANIFEST.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: Microsoft pages not found at {} (set EGRESSMAP_MSDOCS)",
            dir.display()
        );
        None
    }
}

fn db() -> Database {
    Database::builtin().expect("builtin signatures load")
}

/// Re-import every page of every build: the shipped files must be exactly the importer's
/// output, and every page must yield the row counts MANIFEST.tsv records.
#[test]
fn shipped_data_is_importer_output_and_counts_match_manifest() {
    let Some(dir) = msdocs() else { return };
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let anchors = turnoff_anchor_map(&std::fs::read_to_string(dir.join(TURNOFF_PAGE)).unwrap());
    let db = db();
    // build -> [(page, rows, entries)]
    let mut by_build: BTreeMap<String, Vec<(String, usize, usize)>> = BTreeMap::new();
    for line in manifest.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (Some(file), Some(build), Some(rows), Some(entries)) =
            (f.first(), f.get(5), f.get(7), f.get(8))
        else {
            continue;
        };
        let (Ok(rows), Ok(entries)) = (rows.parse::<usize>(), entries.parse::<usize>()) else {
            continue; // the turn-off pages have no rows
        };
        let build = build.split_whitespace().next().unwrap().to_string();
        let build = BUILDS
            .iter()
            .find(|b| b.eq_ignore_ascii_case(&build))
            .unwrap_or_else(|| panic!("unknown build {build}"))
            .to_string();
        by_build
            .entry(build)
            .or_default()
            .push((file.to_string(), rows, entries));
    }
    assert_eq!(by_build.len(), BUILDS.len());
    let mut total_rows = 0;
    for (build, pages) in &by_build {
        let texts: Vec<(String, String)> = pages
            .iter()
            .map(|(p, _, _)| (p.clone(), std::fs::read_to_string(dir.join(p)).unwrap()))
            .collect();
        let imp = import_pages(&texts, build, db.areas(), &anchors);
        assert!(imp.warnings.is_empty(), "{build}: {:?}", imp.warnings);
        for (page, rows, entries) in pages {
            // MANIFEST.tsv counts 161 destination entries on this page, but its tables hold 160
            // rows of one destination each (`awk -F'|' '/^\|/' PAGE` lists 166 pipe lines: 160 rows
            // plus 3 header and 3 separator lines); the row count agrees.
            let entries =
                if page == "windows-endpoints-1909-non-enterprise-editions.md" && *entries == 161 {
                    &160
                } else {
                    entries
                };
            assert_eq!(
                imp.row_counts.get(page),
                Some(&(*rows, *entries)),
                "{page}: (rows, destination entries) vs MANIFEST.tsv"
            );
            total_rows += rows;
        }
        let shipped = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("signatures/{build}.jsonl")),
        )
        .unwrap();
        let fresh = to_jsonl(&imp.endpoints);
        if shipped != fresh {
            let diff: Vec<_> = fresh
                .lines()
                .zip(shipped.lines())
                .filter(|(a, b)| a != b)
                .take(3)
                .collect();
            panic!("signatures/{build}.jsonl differs from a re-import (run signatures/regen.sh): {diff:?}");
        }
    }
    assert!(total_rows > 2500, "{total_rows}");
    eprintln!("re-imported {total_rows} rows; shipped data identical");
}

#[test]
fn every_area_is_canonical_and_builds_editions_present() {
    let db = db();
    let ids: Vec<&str> = db.areas().iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids.len(), 30);
    for e in db.endpoints() {
        for a in &e.areas {
            assert!(ids.contains(&a.as_str()), "{a} in {}:{}", e.page, e.line);
        }
    }
    assert_eq!(db.builds().len(), 10);
    assert_eq!(
        db.editions(Some("1709")),
        ["enterprise", "home", "pro", "education"]
    );
    assert_eq!(db.editions(Some("21H2")), ["enterprise"]);
    let unplaced = db.endpoints().iter().filter(|e| e.areas.is_empty()).count();
    assert!(unplaced <= 5, "{unplaced} unplaced rows");
    // Multi-area hosts keep every area they are documented under.
    let mut m = Matcher::new(&db, None, None);
    let go = m.lookup("go.microsoft.com", None);
    assert!(go.areas.contains(&"fwlink".into()) && go.areas.contains(&"defender".into()));
    let ll = m.lookup("login.live.com", None);
    assert!(
        ll.areas.contains(&"microsoft-account".into())
            && ll.areas.contains(&"device-authentication".into()),
        "{:?}",
        ll.areas
    );
}

/// A concrete host a published pattern must match: wildcards filled with plausible text. A `*`
/// standing for a whole domain becomes a CDN the pages name (`akadns.net`); a `*` glued to a
/// label stays empty, since filling it would make a registrable domain nobody owns.
fn example(p: &Pattern) -> (String, Option<String>) {
    let h = p.host.replace(".*.", ".akadns.");
    let h = match h.strip_prefix("*.") {
        Some(rest) => format!("a1.{rest}"),
        None => h,
    };
    let h = match h.strip_suffix(".*") {
        Some(rest) => format!("{rest}.akadns.net"),
        None => h,
    };
    let host = h.replace('*', "");
    (host, p.path.as_ref().map(|p| format!("{p}index.html")))
}

#[test]
fn every_published_destination_matches_its_own_row() {
    let db = db();
    let mut m = Matcher::new(&db, None, None);
    let mut checked = 0;
    for e in db.endpoints() {
        let p = Pattern::from_text(&e.pattern);
        let (host, path) = example(&p);
        let r = m.lookup(&host, path.as_deref());
        assert!(
            r.endpoints.iter().any(|x| x.pattern == e.pattern),
            "{host} {path:?} does not match its row {} ({}:{})",
            e.pattern,
            e.page,
            e.line
        );
        // Its build-restricted matcher agrees.
        checked += 1;
    }
    assert!(checked > 2500);
    for b in BUILDS {
        let mut mb = Matcher::new(&db, Some(b), None);
        for e in db.endpoints_for(Some(b), None) {
            let (host, path) = example(&Pattern::from_text(&e.pattern));
            assert!(mb.lookup(&host, path.as_deref()).is_match(), "{b}: {host}");
        }
    }
}

#[test]
fn lookalikes_match_nothing() {
    let db = db();
    let mut m = Matcher::new(&db, None, None);
    for host in [
        "windowsupdate.com.attacker.net",
        "notmsftconnecttest.com",
        "login.live.com.evil.org",
        "microsoft.com.evil",
        "evilwindowsupdate.com",
        "www.bing.com.evil.org",
        "www.msftconnecttest.com.attacker.net",
        "fs.microsoft.com.evil",
        "xlogin.live.com.evil.org",
        "ctldl.windowsupdate.com.evil",
        // A `*` producing a registrable domain nobody on the ownership lists holds.
        "store-images.evilmicrosoft.com",
        "fe3.delivery.mp.microsoft.com.evil.org",
        "wdcp.microsoft.com.evil.org",
        "wdcp.microsoft.evil",
        "cy2.x.md.mp.microsoft.com.attacker.net",
        "a.g.akamaievil.net",
        "x.wpc.evilcdn.net",
        "a.login.msa.attacker.net",
        "x.wns.evilwindows.com",
    ] {
        let r = m.lookup(host, None);
        assert!(!r.is_match(), "{host} matched {:?}", r.endpoints);
        assert_eq!(r, std::sync::Arc::new(m.lookup_slow(host, None)));
    }
    // The same wildcards still cover Microsoft's own names and the CDNs the pages name.
    for (host, pattern) in [
        (
            "cy2.displaycatalog.md.mp.microsoft.com.akadns.net",
            "cy2.*.md.mp.microsoft.com.*",
        ),
        ("wdcp.microsoft.com", "wdcp.microsoft.*"),
        (
            "store-images.s-microsoft.com",
            "store-images.*microsoft.com",
        ),
        ("a.g.akamaiedge.net", "*.g.akamai*.net"),
        (
            "fe3.delivery.mp.microsoft.com.akadns.net",
            "fe3.*.mp.microsoft.com.*",
        ),
    ] {
        let r = m.lookup(host, None);
        let e = r.endpoints.iter().find(|e| e.pattern == pattern);
        assert!(e.is_some_and(|e| !e.shared_infrastructure), "{host}: {r:?}");
    }
    // Any tenant of a shared cloud matches, marked shared.
    for (host, pattern) in [
        ("exfil.blob.core.windows.net", "*.blob.core.windows.net"),
        ("attacker.westus.cloudapp.azure.com", "*.cloudapp.azure.com"),
        (
            "wd-prod-evilfe1.cloudapp.azure.com",
            "wd-prod-*fe*.cloudapp.azure.com",
        ),
    ] {
        let r = m.lookup(host, None);
        assert!(r.shared_infrastructure(), "{host}: {r:?}");
        let e = r.endpoints.iter().find(|e| e.pattern == pattern);
        assert!(e.is_some_and(|e| e.shared_infrastructure), "{host}: {r:?}");
    }
    assert!(!m
        .lookup("settings-win.data.microsoft.com", None)
        .shared_infrastructure());
    // And the genuine names do match.
    for host in [
        "au.download.windowsupdate.com",
        "www.msftconnecttest.com",
        "login.live.com",
        "watson.telemetry.microsoft.com",
        "kv801.prod.do.dsp.mp.microsoft.com",
        "settings-win.data.microsoft.com",
    ] {
        assert!(m.lookup(host, None).is_match(), "{host}");
    }
}

const WORDS: &[&str] = &[
    "google",
    "fbcdn-example",
    "amazon",
    "apple",
    "netflix",
    "twitter-x",
    "wikipedia",
    "yahoo",
    "reddit",
    "instagram",
    "linkedin",
    "github",
    "gitlab",
    "stackoverflow",
    "cloudflare",
    "fastly",
    "akamaitech",
    "mozilla",
    "firefox",
    "ubuntu",
    "debian",
    "fedora",
    "python",
    "rust-lang",
    "golang",
    "nodejs",
    "npmjs",
    "pypi",
    "docker",
    "kubernetes",
    "spotify-web",
    "tiktok",
    "snapchat",
    "pinterest",
    "tumblr",
    "wordpress",
    "medium",
    "quora",
    "ebay",
    "paypal",
    "stripe",
    "shopify",
    "etsy",
    "walmart",
    "target",
    "bestbuy",
    "nytimes",
    "bbc",
    "cnn",
    "guardian",
    "reuters",
    "bloomberg",
    "wsj",
    "forbes",
    "espn",
    "imdb",
    "weather-net",
    "zoom",
    "slack",
    "dropbox",
    "box",
    "salesforce",
    "oracle",
    "ibm",
    "intel",
    "nvidia",
    "amd",
    "samsung",
    "sony",
    "nintendo",
    "steampowered",
    "epicgames",
    "twitch",
    "discord",
    "telegram",
    "whatsapp",
    "signal",
    "duckduckgo",
    "baidu",
    "yandex",
    "alibaba",
    "tencent",
    "naver",
    "booking",
    "airbnb",
    "uber",
    "lyft",
    "expedia",
    "tripadvisor",
    "craigslist",
    "zillow",
    "indeed",
    "glassdoor",
    "coursera",
    "udemy",
    "khanacademy",
    "archive",
    "adobe",
    "canva",
];
const TLDS: &[&str] = &["com", "net", "org", "io", "de", "co.uk", "fr", "jp"];
const SUBS: &[&str] = &["", "www.", "api.", "cdn.", "static.", "login."];

#[test]
fn popular_unrelated_domains_match_nothing() {
    let db = db();
    let mut m = Matcher::new(&db, None, None);
    let mut n = 0;
    for w in WORDS {
        for t in TLDS {
            for s in SUBS {
                let host = format!("{s}{w}.{t}");
                let r = m.lookup(&host, None);
                assert!(!r.is_match(), "{host} matched {:?}", r.endpoints);
                assert!(!db.is_microsoft_domain(&host), "{host}");
                n += 1;
            }
        }
    }
    assert!(n >= 1000, "{n}");
}

#[test]
fn most_specific_pattern_decides_areas() {
    let db = db();
    let mut m = Matcher::new(&db, None, None);
    let r = m.lookup("ctldl.windowsupdate.com", None);
    assert_eq!(r.areas, ["certificates"]);
    assert!(r.endpoints.len() >= 2);
    assert_eq!(r.endpoints[0].pattern, "ctldl.windowsupdate.com");
    assert!(r
        .endpoints
        .iter()
        .any(|e| e.pattern == "*.windowsupdate.com" && e.areas.contains(&"windows-update".into())));
    for w in r.endpoints.windows(2) {
        assert!(w[0].specificity >= w[1].specificity);
    }
    let r = m.lookup("au.download.windowsupdate.com", None);
    assert!(r.areas.contains(&"windows-update".into()));
}

#[test]
fn case_and_trailing_dot_are_ignored() {
    let db = db();
    let mut m = Matcher::new(&db, None, None);
    let a = m.lookup("ctldl.windowsupdate.com", None);
    for h in [
        "CTLDL.WindowsUpdate.COM",
        "ctldl.windowsupdate.com.",
        "Ctldl.Windowsupdate.Com.",
    ] {
        assert_eq!(*m.lookup(h, None), *a, "{h}");
    }
}

#[test]
fn url_paths_and_trailing_star() {
    let db = db();
    let mut m = Matcher::new(&db, Some("1709"), None);
    // cdn.onenote.net/livetile/ is documented only with a path in 1709 Enterprise, but the
    // non-Enterprise page lists the bare host too: a TLS flow (no path) matches.
    assert!(m.lookup("cdn.onenote.net", None).is_match());
    let mut all = Matcher::new(&db, None, None);
    let r = all.lookup("www.bing.com", Some("/anything"));
    assert!(r.endpoints.iter().any(|e| e.pattern == "www.bing.com"));
    assert!(!r
        .endpoints
        .iter()
        .any(|e| e.pattern == "www.bing.com/client"));
    let r = all.lookup("www.bing.com", Some("/client/config?cc=US"));
    assert_eq!(r.endpoints[0].pattern, "www.bing.com/client/config");
    assert!(r
        .endpoints
        .iter()
        .any(|e| e.pattern == "www.bing.com/client"));
    // Without a path, the path-less pattern ranks first.
    assert_eq!(
        all.lookup("www.bing.com", None).endpoints[0].pattern,
        "www.bing.com"
    );
}

#[test]
fn cname_chain_is_consulted_when_host_is_unknown() {
    let db = db();
    let mut m = Matcher::new(&db, None, None);
    let r = m.lookup_chain(
        "example-app.contoso.net",
        &["fe3.delivery.dsp.mp.microsoft.com.nsatc.net."],
        None,
    );
    assert!(r.is_match());
    assert_eq!(
        r.via.as_deref(),
        Some("fe3.delivery.dsp.mp.microsoft.com.nsatc.net")
    );
    assert!(!m
        .lookup_chain("a.contoso.net", &["b.contoso.net"], None)
        .is_match());
}

#[test]
fn microsoft_domains() {
    let db = db();
    assert!(db.is_microsoft_domain("foo.bar.windowsupdate.com"));
    assert!(db.is_microsoft_domain("MSFTCONNECTTEST.COM."));
    assert!(!db.is_microsoft_domain("notmsftconnecttest.com"));
    assert!(!db.is_microsoft_domain("microsoft.com.evil"));
}

fn synth(patterns: &[String]) -> Database {
    let endpoints = patterns
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let pat = Pattern::parse(p)?;
            Some(Endpoint {
                pattern: pat.text(),
                published: p.clone(),
                build: "11".into(),
                edition: "enterprise".into(),
                areas: vec![format!("a{i}")],
                area_published: String::new(),
                placed_by: "table".into(),
                protocols: vec![],
                protocol_published: String::new(),
                process: vec![],
                anchor: None,
                anchor_published: None,
                applies_from: None,
                page: "synthetic".into(),
                line: i as u32,
            })
        })
        .collect();
    Database::from_endpoints(endpoints)
}

fn label() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a",
        "b",
        "ab",
        "ba",
        "x",
        "prod",
        "do",
        "microsoft",
        "com",
        "live",
        "login",
        "evil",
        "*",
    ])
    .prop_map(String::from)
}

fn name(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 1..max).prop_map(|v| v.join("."))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The automaton + verification agrees with plain per-pattern globbing.
    #[test]
    fn matcher_agrees_with_reference(
        pats in prop::collection::vec(
            (name(5), prop::bool::ANY, prop::bool::ANY).prop_map(|(n, lead, trail)| {
                let mut s = n;
                if lead { s.insert(0, '*'); }
                if trail { s.push('*'); }
                s
            }), 1..12),
        hosts in prop::collection::vec(name(7).prop_map(|h| h.replace('*', "q")), 1..20),
    ) {
        let db = synth(&pats);
        let mut m = Matcher::new(&db, None, None);
        for h in &hosts {
            let fast = m.lookup(h, None);
            let slow = m.lookup_slow(h, None);
            prop_assert_eq!(&*fast, &slow, "host {}", h);
        }
    }

    /// The wildcard rule on the real database: whatever a pattern's `*`s are filled with
    /// (lookalike labels, attacker suffixes), a match means the host's registrable domain is on
    /// the ownership lists or the pattern spells that domain out literally.
    #[test]
    fn wildcards_never_produce_an_unowned_domain(
        pick in any::<prop::sample::Index>(),
        fills in prop::collection::vec(
            prop::sample::select(vec![
                "", "a", "x9", "evil", "com", "net", "com.evil", "evil.org", ".evil.org",
                "attacker.net", "displaycatalog", "s-", "akadns", "evil.akadns", "blob.core",
                "microsoft.com.evil", "-microsoft", "co.uk", "q.r",
            ]),
            4,
        ),
        tail in prop::sample::select(vec!["", ".evil", ".com", ".org.uk", ".akadns.net"]),
    ) {
        let db = db();
        let owned: Vec<String> = db.owned().domains().to_vec();
        let wild: Vec<&Endpoint> =
            db.endpoints().iter().filter(|e| e.pattern.contains('*')).collect();
        let e = wild[pick.index(wild.len())];
        let p = Pattern::from_text(&e.pattern);
        let mut host = String::new();
        for (i, part) in p.host.split('*').enumerate() {
            if i > 0 {
                host.push_str(fills[(i - 1) % fills.len()]);
            }
            host.push_str(part);
        }
        host.push_str(tail);
        let mut m = Matcher::new(&db, None, None);
        let r = m.lookup(&host, None);
        let reg = psl::domain_str(&host).unwrap_or(&host).to_string();
        let is_owned = owned
            .iter()
            .any(|d| reg == *d || reg.ends_with(&format!(".{d}")));
        for hit in &r.endpoints {
            let literal: String = hit.pattern.split('/').next().unwrap_or("").replace('*', "");
            prop_assert!(
                is_owned || literal.ends_with(&reg),
                "{} matched {} (registrable domain {} not owned)", host, hit.pattern, reg
            );
        }
        prop_assert_eq!(&*r, &m.lookup_slow(&host, None));
    }

    /// Arbitrary input never panics and unrelated random names never match the real DB.
    #[test]
    fn arbitrary_names_are_safe(h in "[a-z0-9.\\-]{0,40}", junk in any::<String>()) {
        let db = db();
        let mut m = Matcher::new(&db, None, None);
        let _ = m.lookup(&junk, Some(&junk));
        let r = m.lookup(&h, None);
        prop_assert_eq!(&*r, &m.lookup_slow(&h, None));
    }
}

/// Rough throughput check (run with `cargo test --release --test signatures -- --ignored`);
/// the real benchmark lives in benches/.
#[test]
#[ignore]
fn throughput_distinct_names() {
    let db = db();
    let mut names = Vec::new();
    for i in 0..400_000u32 {
        names.push(match i % 4 {
            0 => format!("host{i}.example{}.com", i % 97),
            1 => format!("n{i}.cdn.contoso.net"),
            2 => format!("kv{i}.prod.do.dsp.mp.microsoft.com"),
            _ => format!("x{i}.settings-win.data.microsoft.com.evil.org"),
        });
    }
    let mut hits = 0usize;
    for round in 0..2 {
        let mut m = Matcher::new(&db, None, None);
        let t = std::time::Instant::now();
        for n in &names {
            hits += usize::from(m.lookup_uncached(n).is_match());
        }
        let uncached = names.len() as f64 / t.elapsed().as_secs_f64() / 1e6;
        let t = std::time::Instant::now();
        for n in &names {
            hits += usize::from(m.lookup(n, None).is_match());
        }
        let cached = names.len() as f64 / t.elapsed().as_secs_f64() / 1e6;
        let t = std::time::Instant::now();
        for n in &names {
            hits += usize::from(m.lookup(n, None).is_match());
        }
        let repeat = names.len() as f64 / t.elapsed().as_secs_f64() / 1e6;
        eprintln!(
            "round {round}: {} distinct names: uncached {uncached:.2} M/s, first lookup (cache fill) {cached:.2} M/s, repeat {repeat:.2} M/s",
            names.len()
        );
    }
    assert!(hits > 0);
}
