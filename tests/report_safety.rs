//! Reports people can open safely and believe: attacker-chosen names rendered in every format
//! (`fixtures/reports_hostile_names.pcap`, written by `examples/fixtures/reports.rs`), the
//! `--guess-build` ranking in every format, and "documented but silent" against the flow log on
//! every fixture week and every build.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::csv_rows;

const BIN: &str = env!("CARGO_BIN_EXE_egressmap");
const FORMATS: [&str; 5] = ["table", "json", "csv", "markdown", "html"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scratch(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("egressmap-safety-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Runs the binary; panics with its stderr unless it exits 0. Returns stdout.
fn run(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("running egressmap");
    assert!(
        out.status.success(),
        "egressmap {args:?} exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn hostile() -> PathBuf {
    root().join("fixtures/reports_hostile_names.pcap")
}

/// A saved report edited by an attacker: controls in names, a `javascript:` turn-off link.
fn tampered(json: &str) -> String {
    let mut r: Value = serde_json::from_str(json).expect("report JSON");
    let area = &mut r["areas"][0];
    area["turn_off_url"] = "javascript:alert(document.domain)".into();
    area["name"] = "\u{1b}[2J\u{1b}]0;pwned\u{7}Windows Update\u{9b}31m".into();
    r["inputs"][0]["name"] = "\u{1b}]8;;https://evil.example\u{1b}\\x.pcap".into();
    r["warnings"] = serde_json::json!(["\u{1b}[31mred\r\u{202e}txt.exe"]);
    r["build"] = "<script>alert(3)</script>".into();
    // Every list that carries names: shared-cloud hosts too.
    r["shared_infrastructure"] = serde_json::json!([{
        "host": "\u{1b}[2Jx\u{9b}31m.blob.core.windows.net",
        "pattern": "*.blob.core.windows.net\u{202e}",
        "areas": ["\u{1b}]0;t\u{7}windows-update"],
        "protocols_seen": ["HTTPS"], "flows": 1, "packets": 2, "bytes_up": 3, "bytes_down": 4,
        "first_seen": null, "last_seen": null
    }]);
    r["totals"]["shared_infrastructure_flows"] = 1.into();
    // The DNS view carries names from any packet.
    r["dns"]["names"] = serde_json::json!([{
        "name": "=cmd|' /c calc'!dns\u{1b}[2J<img src=x onerror=alert(1)>|\u{202e}.example",
        "queries": 3, "answers": 1, "clients": ["10.0.0.1"], "more_clients": false,
        "status": "undocumented\u{9b}31m", "areas": ["<b>x</b>|"], "pattern": null
    }]);
    // A machine's name and MAC: the name is whatever its DHCP/NetBIOS packets said.
    let client = &mut r["clients"][0];
    client["name"] = HOSTILE_CLIENT_NAME.into();
    client["mac"] = HOSTILE_CLIENT_MAC.into();
    client["identity"] = serde_json::json!([
        {"source": "dhcp", "value": HOSTILE_CLIENT_NAME, "count": 1, "first_seen": null},
        {"source": "link", "value": HOSTILE_CLIENT_MAC, "count": 0, "first_seen": null}
    ]);
    assert!(
        client["areas"].as_array().is_some_and(|a| !a.is_empty()),
        "the hostile machine has areas (per-area rows)"
    );
    serde_json::to_string(&r).expect("serialise")
}

/// A machine name made to be a formula, markup, a Markdown table break and terminal controls.
const HOSTILE_CLIENT_NAME: &str =
    "=HYPERLINK(\"https://evil.example\",\"pc\")\u{9b}2J<img src=x onerror=alert(4)>|*_\u{202e}";
/// A MAC field edited into a formula that closes the HTML cell.
const HOSTILE_CLIENT_MAC: &str = "@SUM(1)\u{1b}[31m</td><script>alert(6)</script>|";

/// Characters that must never reach a terminal raw.
fn bad_for_terminal(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// Tag names and attribute names of every element in an HTML document (good enough for our
/// own output and for Chromium's serialised DOM: attribute values are quoted).
fn html_tags(html: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        if rest.starts_with('/') || rest.starts_with('!') {
            continue;
        }
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        // Attribute names: words followed by '=' outside quotes.
        let mut attrs = Vec::new();
        let (mut q, mut word) = (None::<char>, String::new());
        for c in tag[name.len()..].chars() {
            match (q, c) {
                (Some(x), c) if c == x => q = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => q = Some(c),
                (None, '=') => {
                    attrs.push(std::mem::take(&mut word).to_ascii_lowercase());
                }
                (None, c) if c.is_whitespace() || c == '/' => word.clear(),
                (None, c) => word.push(c),
            }
        }
        out.push((name, attrs));
        rest = &rest[end..];
    }
    out
}

const OUR_TAGS: &[&str] = &[
    "html", "head", "meta", "title", "style", "script", "body", "h1", "h2", "h3", "p", "b", "i",
    "table", "thead", "tbody", "tr", "th", "td", "span", "svg", "text", "rect", "line", "g", "a",
    "ul", "li", "details", "summary", "title", "div", "small", "code", "noscript", "button",
];

fn check_html(html: &str, what: &str) {
    let tags = html_tags(html);
    assert!(tags.len() > 50, "{what}: a real page");
    for (name, attrs) in &tags {
        assert!(
            OUR_TAGS.contains(&name.as_str()),
            "{what}: element <{name}> that the renderer never writes"
        );
        for a in attrs {
            assert!(
                !a.starts_with("on"),
                "{what}: event handler {a} on <{name}>"
            );
        }
    }
    // The only script is ours, allowed by the page's CSP hash.
    let scripts = tags.iter().filter(|(n, _)| n == "script").count();
    assert!(scripts <= 1, "{what}: {scripts} scripts");
    for bad in ["javascript:", "<img", "<svg/", "onerror=", "onload="] {
        let lower = html.to_ascii_lowercase();
        // Escaped text may contain the words; a live one would be unescaped markup.
        assert!(
            !lower.contains(&format!("<{}", bad.trim_start_matches('<'))) || !bad.starts_with('<'),
            "{what}: {bad}"
        );
    }
    assert!(
        !html.contains("href=\"javascript"),
        "{what}: javascript link"
    );
}

fn check_all_formats(outputs: &[(String, String)], origin: &str) {
    for (fmt, text) in outputs {
        let what = format!("{origin} {fmt}");
        match fmt.as_str() {
            "table" => {
                if let Some(c) = text.chars().find(|&c| bad_for_terminal(c)) {
                    panic!("{what}: raw {c:?} reaches the terminal");
                }
                assert!(
                    text.contains(r"\u{9b}31mred\u{9b}0m"),
                    "{what}: CSI shown escaped"
                );
                assert!(text.contains(r"\u{202e}lmth"), "{what}: bidi shown escaped");
            }
            "csv" => {
                let rows = csv_rows(text);
                let n = rows.first().map_or(0, Vec::len);
                assert!(rows.len() > 10, "{what}: rows");
                for r in &rows {
                    assert_eq!(r.len(), n, "{what}: row {r:?}");
                    for cell in r {
                        assert!(
                            !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                            "{what}: formula cell {cell:?}"
                        );
                        assert!(!cell.chars().any(bad_for_terminal), "{what}: {cell:?}");
                    }
                }
                let hosts: BTreeSet<&str> = rows.iter().map(|r| r[3].as_str()).collect();
                for h in [
                    "'=hyperlink(\"https://evil.example/x\",\"click\")",
                    "'+cmd|' /c calc'!a0.example.net",
                    "'-2+3+cmd|' /c calc'!a0.example.org",
                    "'@sum(1+1)*cmd|' /c calc'!a0.example.com",
                    "'=cmd|'/c_calc'!a1.windowsupdate.com",
                ] {
                    assert!(hosts.contains(h), "{what}: {h} missing from {hosts:?}");
                }
            }
            "markdown" => {
                // Every table row keeps its columns: no cell content adds a `|`.
                for block in text.split("\n\n") {
                    let rows: Vec<&str> = block.lines().filter(|l| l.starts_with('|')).collect();
                    let cols = |l: &str| {
                        let b = l.as_bytes();
                        (0..b.len())
                            .filter(|&i| b[i] == b'|' && (i == 0 || b[i - 1] != b'\\'))
                            .count()
                    };
                    if let Some(first) = rows.first() {
                        for r in &rows {
                            assert_eq!(cols(r), cols(first), "{what}: row {r}");
                        }
                    }
                }
                let mut opts = pulldown_cmark::Options::empty();
                opts.insert(pulldown_cmark::Options::ENABLE_TABLES);
                opts.insert(pulldown_cmark::Options::ENABLE_STRIKETHROUGH);
                let mut html = String::new();
                pulldown_cmark::html::push_html(
                    &mut html,
                    pulldown_cmark::Parser::new_ext(text, opts),
                );
                for (name, attrs) in html_tags(&html) {
                    assert!(
                        [
                            "h1", "h2", "p", "table", "thead", "tbody", "tr", "th", "td", "ul",
                            "li", "a"
                        ]
                        .contains(&name.as_str()),
                        "{what}: Markdown produced <{name}>"
                    );
                    for a in &attrs {
                        assert!(
                            a == "href" || a == "style",
                            "{what}: attribute {a} on <{name}>"
                        );
                    }
                }
                for (i, _) in html.match_indices("<a ") {
                    assert!(
                        html[i..].starts_with("<a href=\"https://"),
                        "{what}: link {}",
                        &html[i..(i + 80).min(html.len())]
                    );
                }
                for bad in ["<em>", "<strong>", "<code>", "<del>", "<img", "<script"] {
                    assert!(!html.contains(bad), "{what}: Markdown rendered {bad}");
                }
                assert!(!text.chars().any(bad_for_terminal), "{what}: control");
            }
            "html" => check_html(text, &what),
            "json" => {
                serde_json::from_str::<Value>(text).expect("JSON parses");
            }
            _ => unreachable!(),
        }
    }
}

/// The hostile capture in all five formats, straight from `audit` and re-rendered from its
/// saved JSON, and a tampered saved JSON in all five formats.
#[test]
fn hostile_names_are_escaped_in_every_format() {
    let d = scratch("hostile");
    let input = hostile();
    let mut direct = Vec::new();
    for fmt in FORMATS {
        let out = d.join(format!("direct.{fmt}"));
        run(&[
            "audit",
            p(&input),
            "-q",
            "--full",
            "--report",
            fmt,
            "-o",
            p(&out),
        ]);
        direct.push((
            fmt.to_string(),
            std::fs::read_to_string(&out).expect("report"),
        ));
    }
    let json = &direct[1].1;
    let r: Value = serde_json::from_str(json).expect("json");
    assert_eq!(
        r["areas"][0]["area"], "windows-update",
        "hostile names matched wildcards"
    );
    assert!(r["undocumented"].as_array().is_some_and(|u| u.len() >= 10));
    check_all_formats(&direct, "audit");

    let saved = d.join("saved.json");
    std::fs::write(&saved, json).expect("write");
    let evil = d.join("tampered.json");
    std::fs::write(&evil, tampered(json)).expect("write");
    for (origin, file) in [("report", &saved), ("tampered report", &evil)] {
        let outputs: Vec<(String, String)> = FORMATS
            .iter()
            .map(|fmt| {
                let text = run(&["report", p(file), "--full", "--report", fmt]);
                (fmt.to_string(), text)
            })
            .collect();
        check_all_formats(&outputs, origin);
        if origin == "tampered report" {
            let md = &outputs[3].1;
            assert!(
                !md.contains("(javascript:"),
                "no javascript: link in Markdown"
            );
            assert!(outputs[0]
                .1
                .contains(r"\u{1b}[2J\u{1b}]0;pwned\u{7}Windows Update"));
            // The DNS view's name, in each format's own escaping.
            assert!(
                outputs[0].1.contains(r"calc'!dns\u{1b}[2J<img"),
                "table: DNS name"
            );
            assert!(
                outputs[2].1.contains("'=cmd|' /c calc'!dns"),
                "csv: DNS name neutralised"
            );
            assert!(
                outputs[4].1.contains("&lt;img src=x onerror=alert(1)&gt;"),
                "html: DNS name escaped"
            );
            // The machine's name and MAC, in every format's own escaping: the terminal list
            // and per-area list, CSV `client` and `client-area` rows, Markdown, HTML matrix.
            assert!(
                outputs[0].1.matches(r"@SUM(1)\u{1b}[31m</td>").count() == 1
                    && outputs[0].1.matches(r"=HYPERLINK(").count() == 2,
                "table: machine list and per-area rows"
            );
            let csv = csv_rows(&outputs[2].1);
            let machine_rows: Vec<&Vec<String>> = csv
                .iter()
                .filter(|r| r[0].starts_with("client") && r[3] == "10.0.0.50")
                .collect();
            assert!(machine_rows.len() >= 2, "csv: client and client-area rows");
            for row in machine_rows {
                assert!(
                    row[4].starts_with("'=HYPERLINK(\"https://evil.example\"")
                        && row[4].contains(r"\u{9b}2J<img"),
                    "csv: name neutralised: {row:?}"
                );
                assert!(
                    row[5].starts_with(r"'@SUM(1)\u{1b}[31m</td>"),
                    "csv: MAC neutralised: {row:?}"
                );
            }
            assert!(
                outputs[3].1.contains(r"\=HYPERLINK\(&quot;https\:")
                    && outputs[3]
                        .1
                        .contains(r"&lt;img src\=x onerror\=alert\(4\)&gt;\|\*\_\\u\{202e\}")
                    && outputs[3]
                        .1
                        .contains(r"\@SUM\(1\)\\u\{1b\}\[31m&lt;/td&gt;"),
                "markdown: machine name and MAC escaped"
            );
            assert!(
                outputs[4].1.contains(
                    r"=HYPERLINK(&quot;https://evil.example&quot;,&quot;pc&quot;)\u{9b}2J&lt;img src=x onerror=alert(4)&gt;|*_\u{202e}"
                ) && outputs[4]
                    .1
                    .contains(r"@SUM(1)\u{1b}[31m&lt;/td&gt;&lt;script&gt;alert(6)&lt;/script&gt;|"),
                "html: machine name and MAC escaped"
            );
        }
    }
}

/// Chromium parses the hostile HTML: the DOM it builds holds only the renderer's elements, no
/// event handler attribute, and no script but the page's own.
#[test]
fn hostile_html_in_headless_chromium() {
    let chromium = Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but /usr/bin/chromium is missing (apt-get install chromium)"
        );
        println!("SKIPPED: /usr/bin/chromium not installed");
        return;
    }
    let d = scratch("chromium");
    let html = d.join("hostile.html");
    let saved = d.join("hostile.json");
    run(&[
        "audit",
        p(&hostile()),
        "-q",
        "--report",
        "json",
        "-o",
        p(&saved),
    ]);
    let evil = d.join("tampered.json");
    std::fs::write(
        &evil,
        tampered(&std::fs::read_to_string(&saved).expect("json")),
    )
    .expect("write");
    run(&["report", p(&evil), "--report", "html", "-o", p(&html)]);
    let browse = |extra: &[&str]| {
        let profile = d.join(format!("profile-{}", extra.len()));
        let out = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!("--user-data-dir={}", p(&profile)))
            .args(extra)
            .arg(format!("file://{}", p(&html)))
            .output()
            .expect("running chromium");
        assert!(
            out.status.success(),
            "chromium: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dom = browse(&["--dump-dom"]);
    check_html(&dom, "Chromium DOM");
    assert!(dom.contains("&lt;svg/onload=alert(2)&gt;.cloudflare-ech.com"));
    assert!(dom.contains("&lt;/table&gt;&lt;script&gt;alert(1)&lt;/script&gt;.windowsupdate.com"));
    // The machine matrix: the hostile MAC stays text inside its cell.
    assert!(dom.contains(r"@SUM(1)\u{1b}[31m&lt;/td&gt;&lt;script&gt;alert(6)&lt;/script&gt;|"));
    let shot = std::env::temp_dir().join("egressmap-hostile-report.png");
    browse(&[
        &format!("--screenshot={}", p(&shot)),
        "--window-size=1280,2400",
    ]);
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    println!("screenshot: {}", shot.display());
}

/// `--guess-build` puts its ranking in the report: every format still parses, and the saved
/// JSON re-renders with the ranking.
#[test]
fn guess_build_is_part_of_every_format() {
    let d = scratch("guess");
    let input = root().join("fixtures/week/win1809-enterprise.pcapng");
    let mut texts = Vec::new();
    for fmt in FORMATS {
        let out = d.join(format!("g.{fmt}"));
        let stdout = run(&[
            "audit",
            p(&input),
            "-q",
            "--guess-build",
            "--report",
            fmt,
            "-o",
            p(&out),
        ]);
        assert!(stdout.is_empty(), "{fmt}: nothing on stdout with -o");
        texts.push(std::fs::read_to_string(&out).expect("report"));
    }
    let r: Value = serde_json::from_str(&texts[1]).expect("JSON parses with --guess-build");
    let ranking = r["build_guess"]["ranking"]
        .as_array()
        .expect("build_guess.ranking[]");
    assert_eq!(
        (ranking[0]["build"].as_str(), ranking[0]["edition"].as_str()),
        (Some("1809"), Some("enterprise"))
    );
    assert!(texts[0].contains("1. Windows 1809  enterprise"), "table");
    let csv = csv_rows(&texts[2]);
    let guess: Vec<&Vec<String>> = csv.iter().filter(|r| r[0] == "build-guess").collect();
    assert_eq!(guess.len(), ranking.len(), "one CSV row per page");
    assert!(csv.iter().all(|r| r.len() == csv[0].len()));
    assert!(texts[3].contains("## Build guess") && texts[3].contains("|1|1809|enterprise|"));
    assert!(texts[4].contains("id=\"guess\"") && texts[4].trim_end().ends_with("</html>"));
    // The saved JSON re-renders, the ranking included.
    let saved = d.join("g.json");
    let again = run(&["report", p(&saved), "--report", "json"]);
    let again: Value = serde_json::from_str(&again).expect("re-rendered JSON parses");
    assert_eq!(again["build_guess"], r["build_guess"]);
    assert!(run(&["report", p(&saved)]).contains("Build guess"));
}

/// A flow log line, the fields the silent/seen check reads (the rest is skipped, not built into
/// a `Value` tree: at -O0 that was two thirds of this test's own CPU).
#[derive(serde::Deserialize)]
struct LoggedFlow {
    public: bool,
    ech: bool,
    host: Option<String>,
    endpoints: Vec<String>,
}

/// The parts of a JSON report the silent/seen check reads.
#[derive(serde::Deserialize)]
struct SilentAndUndocumented {
    documented_not_seen: Vec<Pattern>,
    undocumented: Vec<Host>,
}

#[derive(serde::Deserialize)]
struct Pattern {
    pattern: String,
}

#[derive(serde::Deserialize)]
struct Host {
    host: String,
}

/// "Documented but silent" never lists a pattern a counted flow matched, and every pattern of
/// the page is either seen or silent: on every fixture week, for all builds and for each build.
/// Each build's view needs its own audit (the flow log's endpoints and the report's silent and
/// undocumented lists depend on `--build`; a saved report cannot be re-matched), so a week's
/// audits run side by side, one process per build.
#[test]
fn silent_and_seen_agree_with_the_flow_log_on_every_week_and_build() {
    let d = scratch("silent");
    let builds: Vec<String> = run(&["signatures", "builds"])
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|b| b.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect();
    assert!(builds.len() >= 10, "builds: {builds:?}");
    let weeks: Vec<PathBuf> = std::fs::read_dir(root().join("fixtures/week"))
        .expect("fixtures/week")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcapng"))
        .collect();
    assert!(weeks.len() >= 5, "weeks: {weeks:?}");
    // The patterns each build's page lists, read once per build (they do not depend on the week).
    let listed_patterns: Vec<(Option<&String>, Vec<String>)> = std::iter::once(None)
        .chain(builds.iter().map(Some))
        .map(|build| {
            let mut list = vec!["signatures", "list"];
            if let Some(b) = build {
                list.extend(["--build", b.as_str()]);
            }
            let patterns = run(&list)
                .lines()
                .map(|line| line.split('\t').nth(3).expect("pattern column").to_string())
                .collect();
            (build, patterns)
        })
        .collect();
    let mut checked = 0;
    for week in &weeks {
        // Every build's audit of this week at once, each into its own files.
        let audits: Vec<(PathBuf, PathBuf, std::process::Child)> = listed_patterns
            .iter()
            .enumerate()
            .map(|(i, (build, _))| {
                let (json, log) = (d.join(format!("r{i}.json")), d.join(format!("f{i}.jsonl")));
                let mut args = vec!["audit", p(week), "-q", "--report", "json", "-o", p(&json)];
                args.extend(["--flows", p(&log)]);
                if let Some(b) = build {
                    args.extend(["--build", b.as_str()]);
                }
                let child = Command::new(BIN)
                    .args(&args)
                    .env_remove("NO_COLOR")
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("running egressmap");
                (json, log, child)
            })
            .collect();
        for ((json, log, child), (build, patterns)) in audits.into_iter().zip(&listed_patterns) {
            let out = child.wait_with_output().expect("waiting for egressmap");
            assert!(
                out.status.success(),
                "audit {} {build:?} exited {:?}: {}",
                week.display(),
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            );
            let r: SilentAndUndocumented =
                serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("json");
            let mut seen = BTreeSet::new();
            let mut undocumented_hosts = BTreeSet::new();
            for line in std::fs::read_to_string(&log).expect("log").lines() {
                let f: LoggedFlow = serde_json::from_str(line).expect("flow");
                if !f.public {
                    continue;
                }
                if let (true, false, Some(h)) = (f.endpoints.is_empty(), f.ech, &f.host) {
                    undocumented_hosts.insert(h.clone());
                }
                seen.extend(f.endpoints);
            }
            let silent: BTreeSet<String> = r
                .documented_not_seen
                .into_iter()
                .map(|d| d.pattern)
                .collect();
            let both: Vec<&String> = silent.intersection(&seen).collect();
            assert!(
                both.is_empty(),
                "{} {build:?}: silent yet seen: {both:?}",
                week.display()
            );
            // Undocumented lists exactly the hosts of counted flows that matched no pattern (a
            // host can have both: an HTTP request outside a path-restricted pattern's path).
            let listed: BTreeSet<String> = r.undocumented.into_iter().map(|u| u.host).collect();
            assert_eq!(listed, undocumented_hosts, "{} {build:?}", week.display());
            // Every pattern the page lists is seen or silent.
            for pattern in patterns {
                assert!(
                    seen.contains(pattern) || silent.contains(pattern),
                    "{} {build:?}: {pattern} neither seen nor silent",
                    week.display()
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, weeks.len() * (builds.len() + 1));
}

/// The plain `audit FILE` view on a terminal (a pseudo-terminal through util-linux `script`),
/// `COLUMNS=80`: every line, the closing Names section's hosts included, fits 80 columns
/// (only turn-off URLs are printed whole), hostile names escaped before they are cut; with
/// `NO_COLOR` not one escape sequence is written, without it the table is coloured.
#[test]
fn terminal_view_fits_eighty_columns_and_honours_no_color() {
    let hostile = root().join("fixtures/reports_hostile_names.pcap");
    let cmd = format!("'{BIN}' audit '{}' --full -q", p(&hostile));
    let tty = |no_color: bool| -> String {
        let mut c = Command::new("script");
        c.args(["-qec", &cmd, "/dev/null"])
            .env("COLUMNS", "80")
            .env("TERM", "xterm");
        if no_color {
            c.env("NO_COLOR", "1");
        } else {
            c.env_remove("NO_COLOR");
        }
        let out = c.output().expect("util-linux script");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    };
    let plain = tty(true);
    assert!(
        !plain.contains('\u{1b}'),
        "an escape sequence with NO_COLOR"
    );
    let names = plain
        .rsplit_once("\nNames\r\n")
        .map(|(_, n)| n)
        .expect("the Names section");
    assert!(names.contains("top hosts"), "{names}");
    // The longest hostile name is cut, with the ellipsis, after escaping.
    assert!(
        names.contains("[click to re-enable](javascript:alert(1)).update.mic…"),
        "{names}"
    );
    assert!(
        names.contains("\\u{202e}lmth\\u{202c}.exe.example.com"),
        "{names}"
    );
    for line in plain.split("\r\n") {
        if line.trim_start().starts_with("turn off: https://") {
            continue;
        }
        assert!(
            line.chars().count() <= 80,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    assert!(
        tty(false).contains("\u{1b}["),
        "colour on a terminal without NO_COLOR"
    );
}
