//! End-to-end report tests on the synthetic idle weeks in `fixtures/week/` (written by
//! `examples/gen_week.rs`): the binary is run as a user would, and its outputs are checked
//! against each other (report vs flow log, direct vs re-rendered, before vs after).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{self, BIN};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/week")
        .join(name)
}

/// A fresh scratch directory per test (tests run in parallel).
fn scratch(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("egressmap-report-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// Runs the binary; panics with its stderr unless it exits 0. Returns stdout.
fn run(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
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

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("reading JSON");
    serde_json::from_str(&text).expect("valid JSON")
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("{k} is not a number in {v}"))
}

#[derive(Default, Debug, PartialEq)]
struct Sums {
    flows: u64,
    packets: u64,
    bytes_up: u64,
    bytes_down: u64,
}

impl Sums {
    fn add(&mut self, f: &Value) {
        self.flows += 1;
        self.packets += u(f, "packets_up") + u(f, "packets_down");
        self.bytes_up += u(f, "bytes_up");
        self.bytes_down += u(f, "bytes_down");
    }

    fn of(v: &Value) -> Sums {
        Sums {
            flows: u(v, "flows"),
            packets: u(v, "packets"),
            bytes_up: u(v, "bytes_up"),
            bytes_down: u(v, "bytes_down"),
        }
    }
}

/// (a) Report totals, per area and per destination, equal the sums over the flow log of the
/// same run (in-scope = public destinations; a flow in two areas counts in each).
#[test]
fn report_reconciles_with_flow_log() {
    let d = scratch("reconcile");
    let (json, log) = (d.join("r.json"), d.join("flows.jsonl"));
    run(&[
        "audit",
        p(&fixture("win11-enterprise.pcapng")),
        "-q",
        "--report",
        "json",
        "-o",
        p(&json),
        "--flows",
        p(&log),
    ]);
    let r = read_json(&json);
    let flows: Vec<Value> = std::fs::read_to_string(&log)
        .expect("flow log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("flow log line is JSON"))
        .collect();
    let t = &r["totals"];
    assert_eq!(u(t, "flows_seen"), flows.len() as u64);

    let mut total = Sums::default();
    let mut areas: BTreeMap<String, Sums> = BTreeMap::new();
    let mut dests: BTreeMap<(String, String), Sums> = BTreeMap::new();
    let mut undocumented: BTreeMap<String, Sums> = BTreeMap::new();
    let (mut documented, mut unattributed, mut ech) = (0u64, 0u64, 0u64);
    let mut multi_area = 0;
    for f in flows.iter().filter(|f| f["public"] == true) {
        total.add(f);
        let host = f["host"].as_str();
        let fa: Vec<&str> = f["areas"]
            .as_array()
            .expect("areas array")
            .iter()
            .map(|a| a.as_str().expect("area id"))
            .collect();
        if f["ech"] == true {
            ech += 1;
        } else if host.is_none() {
            unattributed += 1;
        } else if fa.is_empty() {
            undocumented
                .entry(host.unwrap_or_default().to_string())
                .or_default()
                .add(f);
        } else {
            documented += 1;
            multi_area += usize::from(fa.len() > 1);
            for a in &fa {
                areas.entry(a.to_string()).or_default().add(f);
                dests
                    .entry((a.to_string(), host.unwrap_or_default().to_string()))
                    .or_default()
                    .add(f);
            }
        }
    }
    assert!(total.flows > 500, "the week has public flows: {total:?}");
    assert!(multi_area > 0, "the fixture exercises flows in two areas");
    assert_eq!(Sums::of(t), total, "totals");
    assert_eq!(u(t, "documented_flows"), documented);
    assert_eq!(
        u(t, "undocumented_flows"),
        undocumented.values().map(|s| s.flows).sum::<u64>()
    );
    assert_eq!(u(t, "unattributed_flows"), unattributed);
    assert_eq!(u(t, "ech_flows"), ech);
    assert!(
        unattributed > 0 && ech > 0,
        "fixture has nameless and ECH flows"
    );
    assert_eq!(u(&r["unattributed"], "flows"), unattributed);
    assert_eq!(u(&r["ech"], "flows"), ech);

    let report_areas = r["areas"].as_array().expect("areas");
    assert_eq!(report_areas.len(), areas.len(), "same set of areas");
    for a in report_areas {
        let id = a["area"].as_str().expect("area id");
        assert_eq!(Sums::of(a), areas[id], "area {id}");
        let ds = a["destinations"].as_array().expect("destinations");
        assert_eq!(u(a, "distinct_destinations"), ds.len() as u64);
        for dst in ds {
            let host = dst["host"].as_str().expect("host").to_string();
            assert_eq!(
                Sums::of(dst),
                dests[&(id.to_string(), host.clone())],
                "{id} / {host}"
            );
        }
        let activity: u64 = a["activity"]
            .as_array()
            .expect("activity")
            .iter()
            .map(|v| v.as_u64().expect("bucket"))
            .sum();
        assert_eq!(
            activity,
            areas[id].bytes_up + areas[id].bytes_down,
            "timeline of {id}"
        );
    }
    let undoc = r["undocumented"].as_array().expect("undocumented");
    assert_eq!(undoc.len(), undocumented.len());
    for x in undoc {
        let host = x["host"].as_str().expect("host");
        assert_eq!(Sums::of(x), undocumented[host], "undocumented {host}");
    }
    assert!(
        undoc.iter().any(|x| x["likely_microsoft"] == true)
            && undoc.iter().any(|x| x["likely_microsoft"] == false),
        "both undocumented Microsoft and third-party names"
    );
}

/// (b) Every format from the same input: non-empty and parseable.
#[test]
fn every_format_for_the_same_input() {
    let d = scratch("formats");
    let input = fixture("win11-enterprise-before.pcapng");
    let out = |fmt: &str| {
        let path = d.join(format!("r.{fmt}"));
        run(&["audit", p(&input), "-q", "--report", fmt, "-o", p(&path)]);
        std::fs::read_to_string(&path).expect("report written")
    };
    let json: Value = serde_json::from_str(&out("json")).expect("JSON parses");
    let areas = json["areas"].as_array().expect("areas[]");
    assert!(areas.len() >= 10, "a day of Windows 11 touches many areas");
    for a in areas {
        assert!(a["area"].is_string(), "areas[].area");
        for k in ["flows", "bytes_up", "bytes_down"] {
            assert!(a[k].is_u64(), "areas[].{k}");
        }
        let ds = a["destinations"].as_array().expect("areas[].destinations");
        assert!(!ds.is_empty() && ds.iter().all(|d| d["host"].is_string()));
    }
    let undoc = json["undocumented"].as_array().expect("undocumented[]");
    assert!(!undoc.is_empty() && undoc.iter().all(|u| u["host"].is_string()));
    assert!(json["unattributed"].is_object(), "unattributed");
    let silent = json["documented_not_seen"]
        .as_array()
        .expect("documented_not_seen[]");
    assert!(!silent.is_empty(), "some documented endpoints stay silent");

    let table = out("table");
    assert!(
        table.contains("Windows Spotlight") && table.contains("settings-win.data.microsoft.com")
    );

    let csv = out("csv");
    let mut lines = csv.lines();
    let header = lines.next().expect("CSV header");
    assert!(header.starts_with("kind,area,area_name,host,"), "{header}");
    let ncols = header.split(',').count();
    let rows: Vec<&str> = lines.collect();
    let dests: usize = areas
        .iter()
        .map(|a| a["destinations"].as_array().map_or(0, Vec::len))
        .sum();
    let dns_names = json["dns"]["names"].as_array().map_or(0, Vec::len);
    let machines: usize = json["clients"].as_array().map_or(0, |c| {
        c.iter()
            .map(|c| 1 + c["areas"].as_array().map_or(0, Vec::len))
            .sum()
    });
    assert!(machines > 0, "a machine section");
    assert_eq!(
        rows.len(),
        dests + undoc.len() + dns_names + machines,
        "one row per destination, undocumented host, looked-up name, machine and machine area"
    );
    assert_eq!(
        rows.iter().filter(|r| r.starts_with("dns,")).count(),
        dns_names
    );
    // No field in these fixtures needs quoting, so a plain split counts the columns.
    assert!(rows.iter().all(|r| r.split(',').count() == ncols));
    assert_eq!(
        rows.iter().filter(|r| r.starts_with("documented,")).count(),
        dests
    );

    let md = out("markdown");
    assert!(md.contains("|Area|Description|Protocol|Destination|"));
    // Every Markdown metacharacter in a name is escaped, `.` too (no `www.` autolinks).
    assert!(md.contains(r"settings-win\.data\.microsoft\.com"));

    let html = out("html");
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert!(
        html.contains(r#"<svg id="chart-bytes""#) && html.contains(r#"<svg id="chart-timeline""#)
    );
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"//"),
        "self-contained"
    );
}

/// (c) A saved JSON report re-renders to exactly the HTML the audit produced directly.
#[test]
fn saved_json_rerenders_identically() {
    let d = scratch("rerender");
    let input = fixture("win2004-pro.pcapng");
    let (json, direct, again) = (
        d.join("r.json"),
        d.join("direct.html"),
        d.join("again.html"),
    );
    run(&["audit", p(&input), "-q", "--report", "json", "-o", p(&json)]);
    run(&[
        "audit",
        p(&input),
        "-q",
        "--report",
        "html",
        "-o",
        p(&direct),
    ]);
    run(&["report", p(&json), "--report", "html", "-o", p(&again)]);
    let (a, b) = (
        std::fs::read(&direct).expect("direct"),
        std::fs::read(&again).expect("re-rendered"),
    );
    assert!(a.len() > 10_000);
    assert!(a == b, "re-rendered HTML differs from the direct one");
}

/// (d) Before/after the turn-off settings for Windows Spotlight and Diagnostic data: exactly
/// those two areas are gone, nothing else is.
#[test]
fn compare_before_after_reports_exactly_the_areas_turned_off() {
    let d = scratch("compare");
    let mut saved = Vec::new();
    for which in ["before", "after"] {
        let json = d.join(format!("{which}.json"));
        run(&[
            "audit",
            p(&fixture(&format!("win11-enterprise-{which}.pcapng"))),
            "-q",
            "--build",
            "11",
            "--edition",
            "enterprise",
            "--report",
            "json",
            "-o",
            p(&json),
        ]);
        saved.push(json);
    }
    let (code, out, _) = support::run(&["compare", p(&saved[0]), p(&saved[1]), "--json"]);
    assert_eq!(code, 1, "areas went silent: compare exits 1, like diff");
    let c: Value = serde_json::from_str(&out).expect("compare --json parses");
    assert_eq!(
        c["warnings"],
        Value::Array(vec![]),
        "same build, edition, scope, span"
    );
    assert_eq!(c["changed"], true);
    let with = |change: &str| -> BTreeSet<String> {
        c["areas"]
            .as_array()
            .expect("areas")
            .iter()
            .filter(|a| a["change"] == change)
            .map(|a| a["area"].as_str().expect("area").to_string())
            .collect()
    };
    let gone = with("gone");
    assert_eq!(
        gone,
        BTreeSet::from(["diagnostic-data".to_string(), "spotlight".to_string()]),
        "{c}"
    );
    assert!(with("appeared").is_empty());
    assert!(with("same").len() >= 10, "the rest of the day is unchanged");
    // Every destination of the two areas went silent.
    for dd in c["destinations"].as_array().expect("destinations") {
        if gone.contains(dd["area"].as_str().unwrap_or("")) {
            assert_eq!(dd["change"], "gone", "{dd}");
        }
    }
    let (_, table, _) = support::run(&["compare", p(&saved[0]), p(&saved[1])]);
    assert!(table
        .lines()
        .any(|l| l.starts_with("gone") && l.contains("spotlight")));
    // Nothing new appeared: a CI job failing on new areas or destinations passes.
    let (code, _, _) = support::run(&[
        "compare",
        p(&saved[0]),
        p(&saved[1]),
        "--fail-on",
        "new-area,new-destination",
    ]);
    assert_eq!(code, 0);
    // The other way round, the turned-off areas are new.
    let (code, _, _) = support::run(&[
        "compare",
        p(&saved[1]),
        p(&saved[0]),
        "--fail-on",
        "new-area",
    ]);
    assert_eq!(code, 1);
    // A report against itself: exit 0, every row the same.
    let (code, out, _) = support::run(&["compare", p(&saved[0]), p(&saved[0]), "--json"]);
    assert_eq!(code, 0, "{out}");
    let same: Value = serde_json::from_str(&out).expect("json");
    for section in [
        "areas",
        "destinations",
        "undocumented",
        "unattributed",
        "ech",
        "clients",
        "client_areas",
    ] {
        for r in same[section].as_array().expect(section) {
            assert_eq!(r["change"], "same", "{section}: {r}");
        }
    }
}

/// compare warns when the reports were made differently (build, edition, scope, span), and
/// reports the undocumented, unattributed and ECH sections too, with one rule for
/// grew/shrank: flows and bytes must agree.
#[test]
fn compare_warns_on_different_settings_and_covers_every_section() {
    let d = scratch("compare-warn");
    let a = d.join("a.json");
    let b = d.join("b.json");
    run(&[
        "audit",
        p(&fixture("win11-enterprise.pcapng")),
        "-q",
        "--report",
        "json",
        "-o",
        p(&a),
    ]);
    run(&[
        "audit",
        p(&fixture("win2004-pro.pcapng")),
        "-q",
        "--build",
        "2004",
        "--edition",
        "pro",
        "--ipv4-only",
        "--report",
        "json",
        "-o",
        p(&b),
    ]);
    let (code, out, err) = support::run(&["compare", p(&a), p(&b), "--json"]);
    assert_eq!(code, 1);
    let c: Value = serde_json::from_str(&out).expect("json");
    let w: Vec<&str> = c["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let all = w.join("\n");
    for word in [
        "different builds",
        "different editions",
        "count different flows",
    ] {
        assert!(all.contains(word), "{word:?} not in {all}");
        assert!(err.contains(word), "--json also says it on stderr: {err}");
    }
    let ra = read_json(&a);
    let rb = read_json(&b);
    // Every undocumented host of either report is a row, with its flows.
    let rows = c["undocumented"].as_array().expect("undocumented");
    for (r, side) in [(&ra, "flows_a"), (&rb, "flows_b")] {
        for h in r["undocumented"].as_array().expect("undocumented") {
            let row = rows
                .iter()
                .find(|x| x["host"] == h["host"])
                .unwrap_or_else(|| panic!("{h} missing"));
            assert_eq!(row[side], h["flows"]);
        }
    }
    let total = |k: &str| {
        c[k].as_array()
            .expect(k)
            .iter()
            .find(|x| x["host"].is_null())
            .cloned()
            .expect("total row")
    };
    assert_eq!(
        total("unattributed")["flows_a"],
        ra["unattributed"]["flows"]
    );
    assert_eq!(
        total("unattributed")["flows_b"],
        rb["unattributed"]["flows"]
    );
    assert_eq!(total("ech")["flows_a"], ra["ech"]["flows"]);
    assert_eq!(total("ech")["flows_b"], rb["ech"]["flows"]);
    // grew/shrank never contradict the numbers.
    for section in [
        "areas",
        "destinations",
        "undocumented",
        "unattributed",
        "ech",
        "clients",
        "client_areas",
    ] {
        for r in c[section].as_array().expect(section) {
            let (fa, fb, ba, bb) = (
                u(r, "flows_a"),
                u(r, "flows_b"),
                u(r, "bytes_a"),
                u(r, "bytes_b"),
            );
            // Moved by more than 10%: up (1), down (-1), or not (0).
            let dir = |x: u64, y: u64| -> i8 {
                if x.abs_diff(y) * 10 <= x.max(y) {
                    0
                } else if y > x {
                    1
                } else {
                    -1
                }
            };
            let (df, db) = (dir(fa, fb), dir(ba, bb));
            match r["change"].as_str().expect("change") {
                "shrank" => assert!(df <= 0 && db <= 0 && (df < 0 || db < 0), "{r}"),
                "grew" => assert!(df >= 0 && db >= 0 && (df > 0 || db > 0), "{r}"),
                "same" => assert!(df == 0 && db == 0, "{r}"),
                "mixed" => assert!(df * db < 0, "{r}"),
                "gone" => assert!(fa > 0 && fb == 0, "{r}"),
                "appeared" => assert!(fa == 0 && fb > 0, "{r}"),
                other => panic!("unknown change {other}"),
            }
        }
    }
    let (_, table, _) = support::run(&["compare", p(&a), p(&b)]);
    assert!(table.contains("warning: the reports were matched against different builds"));
}

/// (e) `--guess-build` ranks the true build and edition first.
#[test]
fn guess_build_ranks_the_true_build_first() {
    for (file, build, edition) in [
        ("win11-enterprise.pcapng", "11", "enterprise"),
        ("win1809-enterprise.pcapng", "1809", "enterprise"),
        ("win2004-pro.pcapng", "2004", "pro"),
    ] {
        let out = run(&["audit", p(&fixture(file)), "-q", "--guess-build"]);
        let ranking: Vec<(String, String, f64)> = out
            .lines()
            .skip_while(|l| !l.contains("Build guess"))
            .filter_map(|l| {
                // "  1. Windows 11    enterprise  score 0.762  (...)"
                let w: Vec<&str> = l.split_whitespace().collect();
                (w.get(1) == Some(&"Windows") && w.get(4) == Some(&"score")).then(|| {
                    (
                        w[2].to_string(),
                        w[3].to_string(),
                        w[5].parse().expect("score"),
                    )
                })
            })
            .collect();
        assert!(ranking.len() >= 3, "{file}: no ranking in\n{out}");
        assert_eq!(
            (ranking[0].0.as_str(), ranking[0].1.as_str()),
            (build, edition),
            "{file}: {ranking:?}"
        );
        assert!(
            ranking[0].2 > ranking[1].2,
            "{file}: a clear winner {ranking:?}"
        );
    }
}

/// (f) The HTML as a browser renders it: both charts in the DOM, one bar per area.
#[test]
fn html_renders_in_headless_chromium() {
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
    let (html, json) = (d.join("r.html"), d.join("r.json"));
    let input = fixture("win11-enterprise-before.pcapng");
    run(&["audit", p(&input), "-q", "--report", "html", "-o", p(&html)]);
    run(&["audit", p(&input), "-q", "--report", "json", "-o", p(&json)]);
    let n_areas = read_json(&json)["areas"].as_array().expect("areas").len();
    let url = format!("file://{}", p(&html));
    let browse = |extra: &[&str]| {
        let profile = d.join(format!("profile-{}", extra.len()));
        let out = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!("--user-data-dir={}", p(&profile)))
            .args(extra)
            .arg(&url)
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
    let svg = |id: &str| -> String {
        let start = dom
            .find(&format!(r#"<svg id="{id}""#))
            .unwrap_or_else(|| panic!("svg#{id} missing from the rendered DOM"));
        let len = dom[start..].find("</svg>").expect("svg closed");
        dom[start..start + len].to_string()
    };
    let bytes = svg("chart-bytes");
    assert_eq!(
        bytes.matches(r#"class="bar""#).count(),
        n_areas,
        "one rect.bar per area"
    );
    let timeline = svg("chart-timeline");
    assert!(timeline.matches(r#"class="tick""#).count() >= n_areas);
    let shot = std::env::temp_dir().join(format!("egressmap-report-{}.png", std::process::id()));
    browse(&[
        &format!("--screenshot={}", p(&shot)),
        "--window-size=1280,1600",
    ]);
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    println!("screenshot: {}", shot.display());
}

/// An ECH flow stays in the ECH bucket (its outer name is never matched), and the inner name
/// inferred from the same client's HTTPS lookup is reported apart, with its areas, as inferred.
#[test]
fn ech_inferred_name_is_reported_apart_from_documented_areas() {
    let d = scratch("ech");
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tls_ech_https_inferred.pcap");
    let path = d.join("r.json");
    run(&[
        "audit",
        p(&input),
        "-q",
        "--all-destinations",
        "--report",
        "json",
        "-o",
        p(&path),
    ]);
    let r = read_json(&path);
    assert_eq!(u(&r["ech"], "flows"), 2);
    assert_eq!(
        r["ech"]["outer_names"],
        serde_json::json!(["cloudflare-ech.com"])
    );
    let inferred = r["ech"]["inferred"].as_array().expect("ech.inferred[]");
    assert_eq!(inferred.len(), 1, "{inferred:?}");
    assert_eq!(inferred[0]["name"], "settings-win.data.microsoft.com");
    assert_eq!(inferred[0]["outer_name"], "cloudflare-ech.com");
    assert_eq!(u(&inferred[0], "flows"), 1);
    assert_eq!(inferred[0]["areas"], serde_json::json!(["settings"]));
    // Only the DNS lookup itself counts as seen traffic of the settings area.
    let settings = r["areas"]
        .as_array()
        .expect("areas[]")
        .iter()
        .find(|a| a["area"] == "settings")
        .expect("settings area from the DNS lookup");
    assert_eq!(u(settings, "flows"), 1);
    assert_eq!(u(&r["totals"], "ech_flows"), 2);
    let md = d.join("r.md");
    run(&["report", p(&path), "--report", "markdown", "-o", p(&md)]);
    let md = std::fs::read_to_string(&md).expect("markdown");
    assert!(
        md.contains(r"| settings-win\.data\.microsoft\.com | cloudflare-ech\.com | 1 | settings |")
    );
}

/// On an 80-column terminal every line of the table fits, except the turn-off links (a cut URL
/// is useless); names and numbers are clipped with an ellipsis.
#[test]
fn table_fits_eighty_columns() {
    use egressmap::report::model::Report;
    use egressmap::report::render::{render, Format, Options};
    let d = scratch("width");
    let json = d.join("r.json");
    run(&[
        "audit",
        p(&fixture("win11-enterprise.pcapng")),
        "-q",
        "--report",
        "json",
        "-o",
        p(&json),
    ]);
    let r: Report =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("read")).expect("report");
    let opt = Options {
        colour: false,
        full: false,
        width: 80,
    };
    let text = render(&r, Format::Table, &opt);
    let mut links = 0;
    for line in text.lines() {
        if line.trim_start().starts_with("turn off: https://") {
            links += 1;
            continue;
        }
        assert!(
            line.chars().count() <= 80,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    assert!(links > 0, "turn-off links are printed whole");
    assert!(text.lines().count() < 250, "lists are collapsed");
}
