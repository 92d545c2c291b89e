//! What Zeek and Suricata logs do not record is unknown in every report format, never 0.
//!
//! - Zeek logs of a fixture capture (written by `input::zeek_write` in Zeek's exact format)
//!   without their dns.log, and Suricata eve.json without `dns` events (DNS logging off): the
//!   table, JSON, CSV, Markdown and HTML reports all say the DNS view is unknown and show no
//!   zero count there; with dns.log they show its counts. `egressmap report` of the saved JSON
//!   renders every format byte for byte as `audit` did.
//! - A real Zeek set whose conn.log is a `zeek-cut` subset without counts: packets and bytes are
//!   unknown, shown so in every format.
//! - `merge`: a field unknown in any input is unknown in the sum; where other inputs counted it
//!   the figures are shown, marked incomplete.

use std::path::{Path, PathBuf};
use std::process::Command;

use egressmap::engine::EngineConfig;
use egressmap::flow::HostSource;
use egressmap::pipeline::run_files;
use serde_json::Value;

use crate::support::{csv_rows, BIN};

const FORMATS: [&str; 5] = ["table", "json", "csv", "markdown", "html"];

fn week(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/week")
        .join(name)
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("egressmap-unknown-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The five formats of one audit (stdout), checked to equal `egressmap report` of its saved
/// JSON. Returns (format, text) in [`FORMATS`] order.
fn all_formats(input: &Path, work: &Path) -> Vec<(&'static str, String)> {
    all_formats_with(input, work, &[])
}

/// [`all_formats`] with more audit options. A saved report (`.json`) is rendered by `report`.
fn all_formats_with(input: &Path, work: &Path, extra: &[&str]) -> Vec<(&'static str, String)> {
    let saved = work.join("saved.json");
    let mut out = Vec::new();
    let is_report = input.extension().is_some_and(|e| e == "json")
        && std::fs::read_to_string(input).is_ok_and(|t| t.contains("\"schema\""));
    for fmt in FORMATS {
        let mut cmd = Command::new(BIN);
        if is_report {
            cmd.arg("report").arg(input).args(["--report", fmt]);
        } else {
            cmd.arg("audit")
                .arg(input)
                .args(["-q", "-j", "1", "--report", fmt])
                .args(extra);
        }
        let o = cmd.output().unwrap();
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "audit {}: {}",
            input.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        let text = String::from_utf8(o.stdout).unwrap();
        if fmt == "json" {
            std::fs::write(&saved, &text).unwrap();
        }
        out.push((fmt, text));
    }
    for (fmt, text) in &out {
        let o = Command::new(BIN)
            .arg("report")
            .arg(&saved)
            .args(["--report", fmt])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "report {fmt}");
        assert_eq!(
            &String::from_utf8(o.stdout).unwrap(),
            text,
            "{}: `report` of the saved JSON renders {fmt} as `audit` did",
            input.display()
        );
    }
    out
}

fn text<'a>(all: &'a [(&str, String)], fmt: &str) -> &'a str {
    &all.iter().find(|(f, _)| *f == fmt).unwrap().1
}

/// The text of a section: from the line starting with `head` to the next blank line (table)
/// or the next heading (Markdown `## `, HTML `<h2>`).
fn section<'a>(t: &'a str, head: &str, end: &str) -> &'a str {
    let start = t
        .find(head)
        .unwrap_or_else(|| panic!("no {head:?} section"));
    let rest = &t[start + head.len()..];
    &t[start..start + head.len() + rest.find(end).unwrap_or(rest.len())]
}

fn csv_of(t: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rows = csv_rows(t);
    let head = rows.remove(0);
    (head, rows)
}

fn col(head: &[String], name: &str) -> usize {
    head.iter().position(|h| h == name).unwrap()
}

/// The DNS view is unknown in every format, and no zero count stands for it.
fn assert_dns_unknown(all: &[(&str, String)], what: &str) {
    let json: Value = serde_json::from_str(text(all, "json")).unwrap();
    let unknown: Vec<&str> = json["unknown"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(unknown.contains(&"dns"), "{what}: {unknown:?}");
    assert!(
        json["dns"]["names"].as_array().unwrap().is_empty(),
        "{what}"
    );
    assert!(
        json["undocumented"].as_array().unwrap().len() > 3,
        "{what}: a report with names to show"
    );

    let table = text(all, "table");
    let dns = section(table, "Names looked up (DNS", "\n\n");
    assert!(
        dns.contains("unknown (the logs hold no DNS records"),
        "{what}: {dns}"
    );
    assert!(
        !dns.contains("queries") && !dns.contains(" 0 "),
        "{what}: {dns}"
    );
    assert!(table.contains("\nunknown (the inputs do not record these"));

    let (head, rows) = csv_of(text(all, "csv"));
    let kind = col(&head, "kind");
    assert!(
        rows.iter()
            .any(|r| r[kind] == "unknown" && r[col(&head, "host")] == "dns"),
        "{what}: an `unknown` row for dns"
    );
    assert!(!rows.iter().any(|r| r[kind] == "dns"), "{what}");
    let q = col(&head, "dns_queries");
    let undocumented: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r[kind].starts_with("undocumented"))
        .collect();
    assert!(!undocumented.is_empty());
    for r in &undocumented {
        assert_eq!(r[q], "", "{what}: dns_queries of {} is unknown", r[3]);
    }

    let md = text(all, "markdown");
    let dns = section(md, "## Names looked up (DNS)", "\n## ");
    assert!(
        dns.contains("DNS view: unknown \\(the logs hold no DNS records"),
        "{what}: {dns}"
    );
    assert!(
        !dns.contains("|Name|") && !dns.contains("queries"),
        "{what}: {dns}"
    );
    let und = section(md, "## Seen but undocumented", "\n## ");
    for line in und
        .lines()
        .filter(|l| l.starts_with("|") && !l.starts_with("|--"))
    {
        if line.starts_with("|Domain|") {
            continue;
        }
        assert!(
            line.ends_with("|unknown|"),
            "{what}: DNS queries cell: {line}"
        );
    }

    let html = text(all, "html");
    let dns = section(html, "<h2>Names looked up (DNS)</h2>", "<h2>");
    assert!(
        dns.contains("unknown (the logs hold no DNS records"),
        "{what}: {dns}"
    );
    assert!(
        !dns.contains("<table") && !dns.contains("queries"),
        "{what}: {dns}"
    );
    let und = section(html, "id=\"undocumented\"", "</table>");
    assert_eq!(
        und.matches("<tr>").count() - 1,
        und.matches("<td class=n data-v=\"0\">unknown</td></tr>")
            .count(),
        "{what}: every DNS queries cell of the undocumented table says unknown"
    );
    assert!(html.contains("<h2>Unknown</h2>") && html.contains("<code>dns</code>"));
}

/// The DNS view is known: every format shows the JSON's counts.
fn assert_dns_counted(all: &[(&str, String)], what: &str) {
    let json: Value = serde_json::from_str(text(all, "json")).unwrap();
    let unknown: Vec<&str> = json["unknown"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        !unknown.iter().any(|u| u.starts_with("dns")),
        "{what}: {unknown:?}"
    );
    let n = |k: &str| json["dns"][k].as_u64().unwrap();
    let (q, a) = (n("queries"), n("answers"));
    let names = json["dns"]["names"].as_array().unwrap().len();
    assert!(q > 0 && a > 0 && names > 3, "{what}");

    let table = text(all, "table");
    let want = format!("{names} names, {q} queries, {a} answered");
    assert!(table.contains(&want), "{what}: table lacks {want:?}");
    assert!(!section(table, "Names looked up (DNS", "\n\n").contains("unknown"));

    let (head, rows) = csv_of(text(all, "csv"));
    let kind = col(&head, "kind");
    let dns: Vec<&Vec<String>> = rows.iter().filter(|r| r[kind] == "dns").collect();
    assert_eq!(dns.len(), names, "{what}");
    let sum = |c: &str| -> u64 {
        dns.iter()
            .map(|r| r[col(&head, c)].parse::<u64>().unwrap())
            .sum()
    };
    assert_eq!(sum("dns_queries"), q - n("unlisted_queries"));
    assert_eq!(sum("dns_answers"), a - n("unlisted_answers"));
    assert!(!rows
        .iter()
        .any(|r| r[kind] == "unknown" && r[3].starts_with("dns")));

    let md = text(all, "markdown");
    let want = format!("{q} queries, {a} answered responses, {names} names.");
    assert!(md.contains(&want), "{what}: markdown lacks {want:?}");
    let html = text(all, "html");
    let want = format!("{q} queries, {a} answered responses.");
    assert!(html.contains(&want), "{what}: html lacks {want:?}");
    assert!(html.contains("<table id=\"dns\""));
}

/// A capture's flows as Zeek logs, with and without dns.log.
#[test]
fn zeek_logs_without_dns_log_say_the_dns_view_is_unknown_in_every_format() {
    let pcap = week("win2004-pro.pcapng");
    let w = crate::logs::zeek_writer_of(&pcap);
    let work = tmp("zeek");
    let (full, nodns) = (work.join("full"), work.join("nodns"));
    w.write_dir(&full, false, false).unwrap();
    w.write_dir(&nodns, false, false).unwrap();
    std::fs::remove_file(nodns.join("dns.log")).unwrap();

    let known = all_formats(&full, &work);
    assert_dns_counted(&known, "Zeek with dns.log");
    // conn.log has counts: no flow log line says they are unknown.
    let flows = work.join("flows.jsonl");
    let o = Command::new(BIN)
        .arg("audit")
        .arg(&full)
        .args(["-q", "--flows"])
        .arg(&flows)
        .output()
        .unwrap();
    assert!(o.status.code().is_some_and(|c| c <= 1));
    let lines = std::fs::read_to_string(&flows).unwrap();
    assert!(lines.lines().count() > 100);
    for l in lines.lines() {
        let u = unknown_of(&serde_json::from_str(l).unwrap());
        assert!(
            u.contains(&"ech".to_string()) && !u.contains(&"bytes".to_string()),
            "{l}"
        );
    }
    let unknown = all_formats(&nodns, &work);
    assert_dns_unknown(&unknown, "Zeek without dns.log");
    // Zeek records MACs and host names in none of these logs: unknown, not blank.
    for (fmt, want) in [
        ("table", "unknown unknown"),
        ("markdown", "|unknown|unknown|"),
        ("html", "<td>unknown</td><td class=\"t\">unknown</td>"),
    ] {
        assert!(
            text(&unknown, fmt).contains(want),
            "{fmt}: machine MAC/name unknown: {}",
            text(&unknown, fmt)
        );
    }
    let _ = std::fs::remove_dir_all(&work);
}

/// Suricata 7's EVE `flow` and `tls`/`http`/`quic` events as it writes them (Ethernet bytes,
/// `+0000` timestamps), from a capture's flows, with no `dns` events: DNS logging off.
fn eve_without_dns(pcap: &Path, out: &Path) {
    use std::fmt::Write as _;
    let mut text = String::new();
    let mut id = 0u64;
    let ts = |ns: u64| egressmap::report::time::rfc3339_micros(ns).replace('Z', "+0000");
    run_files(
        std::slice::from_ref(&pcap.to_path_buf()),
        EngineConfig::default(),
        1,
        false,
        &mut |f, _| {
            id += 1;
            let (c, s) = (f.client(), f.server());
            let proto = match f.key.protocol {
                6 => "TCP",
                17 => "UDP",
                _ => return,
            };
            let head = format!(
                "\"flow_id\":{id},\"src_ip\":\"{}\",\"src_port\":{},\"dest_ip\":\"{}\",\"dest_port\":{},\"proto\":\"{proto}\"",
                c.0, c.1, s.0, s.1
            );
            if let Some(h) = f.host.as_deref() {
                let ev = match f.host_source {
                    Some(HostSource::TlsSni) => format!("\"event_type\":\"tls\",{head},\"tls\":{{\"sni\":\"{h}\",\"version\":\"TLS 1.3\"}}"),
                    Some(HostSource::HttpHost) => format!("\"event_type\":\"http\",{head},\"http\":{{\"hostname\":\"{h}\",\"url\":\"/\",\"http_method\":\"GET\"}}"),
                    Some(HostSource::QuicSni) => format!("\"event_type\":\"quic\",{head},\"quic\":{{\"version\":\"1\",\"sni\":\"{h}\"}}"),
                    _ => String::new(),
                };
                if !ev.is_empty() {
                    let _ = writeln!(text, "{{\"timestamp\":\"{}\",{ev}}}", ts(f.first_seen));
                }
            }
            let app = match f.host_source {
                Some(HostSource::TlsSni) => ",\"app_proto\":\"tls\"",
                Some(HostSource::HttpHost) => ",\"app_proto\":\"http\"",
                Some(HostSource::QuicSni) => ",\"app_proto\":\"quic\"",
                _ => "",
            };
            let _ = writeln!(
                text,
                "{{\"timestamp\":\"{}\",\"event_type\":\"flow\",{head}{app},\"flow\":{{\"pkts_toserver\":{},\"pkts_toclient\":{},\"bytes_toserver\":{},\"bytes_toclient\":{},\"start\":\"{}\",\"end\":\"{}\",\"age\":0,\"state\":\"closed\",\"reason\":\"shutdown\",\"alerted\":false}}}}",
                ts(f.last_seen),
                f.up.packets,
                f.down.packets,
                f.up.bytes + 14 * f.up.packets,
                f.down.bytes + 14 * f.down.packets,
                ts(f.first_seen),
                ts(f.last_seen)
            );
        },
    );
    std::fs::write(out, text).unwrap();
}

#[test]
fn eve_json_without_dns_events_says_the_dns_view_is_unknown_in_every_format() {
    let pcap = week("fleet-win2004-pro-fullsnap.pcapng");
    let work = tmp("eve");
    let eve = work.join("eve.json");
    eve_without_dns(&pcap, &eve);
    let all = all_formats(&eve, &work);
    assert_dns_unknown(&all, "eve.json written without dns events");
    let json: Value = serde_json::from_str(text(&all, "json")).unwrap();
    assert_eq!(json["inputs"][0]["format"], "suricata-eve");
    // The plain `audit FILE` view: its count of flows named from DNS is 0 because the logs
    // hold no DNS, which it says.
    let plain = |input: &Path| {
        let o = Command::new(BIN)
            .arg("audit")
            .arg(input)
            .arg("-q")
            .output()
            .unwrap();
        String::from_utf8(o.stdout).unwrap()
    };
    const NOTE: &str = "the logs hold no DNS records, so no flow could be named from DNS";
    assert!(plain(&eve).contains(NOTE));
    // Suricata itself, when installed: its real eve.json with the dns events taken out, and
    // as written (DNS counted).
    if crate::logs::suricata() {
        let real = crate::logs::run_suricata(&pcap, &work.join("suricata"));
        let all = all_formats(&real, &work);
        assert_dns_counted(&all, "Suricata eve.json");
        assert!(!plain(&real).contains(NOTE));
        let text = std::fs::read_to_string(&real).unwrap();
        let kept: String = text
            .lines()
            .filter(|l| serde_json::from_str::<Value>(l).unwrap()["event_type"] != "dns")
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(kept.len() < text.len(), "Suricata logged dns events");
        let nodns = work.join("eve-nodns.json");
        std::fs::write(&nodns, kept).unwrap();
        assert_dns_unknown(
            &all_formats(&nodns, &work),
            "Suricata eve.json without dns events",
        );
    }
    let _ = std::fs::remove_dir_all(&work);
}

fn unknown_of(json: &Value) -> Vec<String> {
    json["unknown"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The real Zeek sets: those whose conn.log (a `zeek-cut` subset) has endpoints but no
/// packet/byte columns say packets and bytes are unknown, in every format; the others count
/// them. Every set says MAC and name are unknown (no log of the set records them).
#[test]
fn zeek_sets_without_counts_say_packets_and_bytes_are_unknown() {
    let Some(dirs) = crate::logs::zeek_sets() else {
        return;
    };
    let (mut countless, mut counted) = (Vec::new(), 0);
    for dir in &dirs {
        // Read plainly: a row has counts when its orig_pkts and orig_ip_bytes are set (a
        // `zeek-cut` subset may lack the columns, a baseline may leave them unset: `-`).
        let conn = std::fs::read_to_string(dir.join("conn.log")).unwrap();
        let fields: Vec<&str> = conn
            .lines()
            .find_map(|l| l.strip_prefix("#fields\t"))
            .or_else(|| conn.lines().find(|l| !l.starts_with('#')))
            .unwrap()
            .split('\t')
            .collect();
        let has = |f: &str| fields.contains(&f);
        let rows = conn
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .skip(usize::from(!conn.contains("#fields")));
        let set = |row: &str, f: &str| {
            let i = fields.iter().position(|x| *x == f);
            i.and_then(|i| row.split('\t').nth(i))
                .is_some_and(|v| v != "-")
        };
        let any_counts = rows
            .clone()
            .any(|r| set(r, "orig_pkts") && set(r, "orig_ip_bytes"));
        let json = crate::logs::audit_json(&[dir], &["--all-destinations"]);
        let unknown = unknown_of(&json);
        assert!(
            unknown.iter().any(|u| u == "clients.mac"),
            "{}",
            dir.display()
        );
        let flows = json["totals"]["flows"].as_u64().unwrap();
        let no_counts = has("id.orig_h") && has("id.resp_h") && rows.count() > 0 && !any_counts;
        let said = unknown.iter().any(|u| u == "bytes") && unknown.iter().any(|u| u == "packets");
        assert_eq!(
            said,
            no_counts && flows > 0,
            "{}: {unknown:?}",
            dir.display()
        );
        if said {
            countless.push(dir.clone());
        } else if flows > 0 {
            counted += 1;
            assert!(
                json["totals"]["bytes_up"].as_u64().unwrap() > 0,
                "{}",
                dir.display()
            );
        }
    }
    eprintln!(
        "zeek-logs: {} sets without counts (packets and bytes unknown), {counted} with",
        countless.len()
    );
    assert!(!countless.is_empty() && counted >= 10);
    let work = tmp("countless");
    for dir in &countless {
        // The flow log: each line of a record without counts says its packets and bytes are
        // unknown (not only the report).
        let flows = work.join("flows.jsonl");
        let o = Command::new(BIN)
            .arg("audit")
            .arg(dir)
            .args(["-q", "--all-destinations", "--flows"])
            .arg(&flows)
            .output()
            .unwrap();
        assert!(o.status.code().is_some_and(|c| c <= 1));
        let lines = std::fs::read_to_string(&flows).unwrap();
        assert!(!lines.is_empty());
        for l in lines.lines() {
            let f: Value = serde_json::from_str(l).unwrap();
            let u = unknown_of(&f);
            assert!(
                f["bytes_up"] == 0
                    && u.contains(&"bytes".to_string())
                    && u.contains(&"packets".to_string()),
                "{}: {l}",
                dir.display()
            );
        }
        let all = all_formats_with(dir, &work, &["--all-destinations"]);
        let table = text(&all, "table");
        assert!(
            table.contains("unknown packets, unknown up, unknown down (of unknown packets read)"),
            "{}: {table}",
            dir.display()
        );
        assert!(!table.contains(" 0 B"), "{}: {table}", dir.display());
        let md = text(&all, "markdown");
        assert!(!md.contains("|0 B|"), "{}: {md}", dir.display());
        let html = text(&all, "html");
        assert!(!html.contains(">0 B<"), "{}", dir.display());
        assert!(
            !html.contains("id=\"chart-bytes\""),
            "{}: no chart of zeros",
            dir.display()
        );
        let (head, rows) = csv_of(text(&all, "csv"));
        for r in &rows {
            if r[col(&head, "flows")].is_empty() {
                continue;
            }
            for c in ["packets", "bytes_up", "bytes_down"] {
                assert_eq!(r[col(&head, c)], "", "{}: {c} of {r:?}", dir.display());
            }
        }
    }
    let _ = std::fs::remove_dir_all(&work);
}

fn audit_to(input: &Path, out: &Path) {
    let o = Command::new(BIN)
        .arg("audit")
        .arg(input)
        .args(["-q", "-j", "1", "--report", "json", "-o"])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn merge_to(inputs: &[&Path], out: &Path) -> Value {
    let o = Command::new(BIN)
        .arg("merge")
        .args(inputs)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

/// `merge`: a field unknown in any input is unknown in the sum (the sum lacks that input's
/// share), whatever the order; the DNS names other inputs counted are shown, marked incomplete.
#[test]
fn merge_keeps_a_field_unknown_when_any_input_lacks_it() {
    let pcap = week("win2004-pro.pcapng");
    let w = crate::logs::zeek_writer_of(&pcap);
    let work = tmp("merge");
    let nodns = work.join("nodns");
    w.write_dir(&nodns, false, false).unwrap();
    std::fs::remove_file(nodns.join("dns.log")).unwrap();
    let (a, b, c) = (
        work.join("a.json"),
        work.join("b.json"),
        work.join("c.json"),
    );
    audit_to(&nodns, &a);
    audit_to(&pcap, &b);
    audit_to(&week("fleet-b.pcapng"), &c);
    let ra: Value = serde_json::from_str(&std::fs::read_to_string(&a).unwrap()).unwrap();
    let rb: Value = serde_json::from_str(&std::fs::read_to_string(&b).unwrap()).unwrap();
    assert!(unknown_of(&rb).is_empty() && unknown_of(&ra).contains(&"dns".to_string()));

    let ab = merge_to(&[&a, &b], &work.join("ab.json"));
    let ba = merge_to(&[&b, &a], &work.join("ba.json"));
    assert_eq!(
        unknown_of(&ab),
        unknown_of(&ra),
        "a's unknowns, in a's order"
    );
    assert_eq!(
        ab["merged_from"][0]["unknown"], ra["unknown"],
        "provenance keeps them"
    );
    assert!(ab["merged_from"][1].get("unknown").is_none());
    let mut x = unknown_of(&ab);
    let mut y = unknown_of(&ba);
    x.sort();
    y.sort();
    assert_eq!(x, y, "the same fields whatever the order");
    // Packet captures alone: nothing unknown.
    let bc = merge_to(&[&b, &c], &work.join("bc.json"));
    assert!(unknown_of(&bc).is_empty());
    // Associative: (a + b) + c and a + (b + c).
    let abc1 = merge_to(&[&work.join("ab.json"), &c], &work.join("abc1.json"));
    let abc2 = merge_to(&[&a, &work.join("bc.json")], &work.join("abc2.json"));
    assert_eq!(unknown_of(&abc1), unknown_of(&abc2));
    assert_eq!(abc1["dns"], abc2["dns"]);

    // The sum's DNS view holds b's names (a's are unknown): shown, marked incomplete.
    assert_eq!(ab["dns"], rb["dns"]);
    let names = rb["dns"]["names"].as_array().unwrap().len();
    let all = all_formats(&work.join("ab.json"), &work);
    let table = text(&all, "table");
    let dns = section(table, "Names looked up (DNS", "\n\n");
    // The merge's provenance names the report that lacks it.
    let lacking = format!(
        "incomplete: {}: 1 of 2 merged reports do not record it",
        a.display()
    );
    assert!(dns.contains(&lacking), "{dns}");
    assert!(dns.contains(&format!("{names} names")), "{dns}");
    let md = text(&all, "markdown");
    assert!(md.contains("DNS view: incomplete\\: "), "markdown");
    assert!(
        md.contains("1 of 2 merged reports do not record it"),
        "markdown"
    );
    let html = text(&all, "html");
    assert!(
        html.contains(&format!("<b>DNS view</b>: {lacking}")),
        "html"
    );
    assert!(html.contains("<table id=\"dns\""));
    let (head, rows) = csv_of(text(&all, "csv"));
    let kind = col(&head, "kind");
    assert!(rows.iter().any(|r| r[kind] == "unknown" && r[3] == "dns"));
    assert_eq!(rows.iter().filter(|r| r[kind] == "dns").count(), names);
    let _ = std::fs::remove_dir_all(&work);
}

/// address -> MAC of a report's machines that have one.
fn macs(r: &Value) -> std::collections::BTreeMap<String, String> {
    r["clients"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| {
            Some((
                c["address"].as_str()?.to_string(),
                c["mac"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// Logs that record the client's MAC (Zeek's mac-logging policy adds `orig_l2_addr` to
/// conn.log; Suricata's `ethernet: yes` adds `ether` to its events) give each machine the
/// MAC the pcap gives it, and `clients.mac` is not unknown; without them it is.
#[test]
fn logs_with_link_addresses_give_the_machines_macs() {
    let pcap = week("fleet-4-machines.pcapng");
    let work = tmp("macs");
    let want = crate::logs::audit_json(&[&pcap], &[]);
    let want_macs = macs(&want);
    assert!(want_macs.len() >= 4, "{want_macs:?}");
    let w = crate::logs::zeek_writer_of(&pcap);
    let dir = work.join("zeek");
    w.write_dir(&dir, false, false).unwrap();
    let plain = crate::logs::audit_json(&[&dir], &[]);
    assert!(unknown_of(&plain).contains(&"clients.mac".to_string()));
    assert!(macs(&plain).is_empty());
    // conn.log as Zeek writes it with policy/protocols/conn/mac-logging loaded.
    let conn = std::fs::read_to_string(dir.join("conn.log")).unwrap();
    let mut fields: Vec<String> = Vec::new();
    let mut out = String::new();
    for line in conn.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            fields = f.split('\t').map(str::to_string).collect();
            out.push_str(&format!("{line}\torig_l2_addr\tresp_l2_addr\n"));
        } else if line.starts_with("#types\t") {
            out.push_str(&format!("{line}\tstring\tstring\n"));
        } else if line.starts_with('#') {
            out.push_str(&format!("{line}\n"));
        } else {
            let orig = fields.iter().position(|f| f == "id.orig_h").unwrap();
            let addr = line.split('\t').nth(orig).unwrap();
            let mac = want_macs.get(addr).map_or("-", String::as_str);
            out.push_str(&format!("{line}\t{mac}\t-\n"));
        }
    }
    std::fs::write(dir.join("conn.log"), out).unwrap();
    let got = crate::logs::audit_json(&[&dir], &[]);
    assert!(
        !unknown_of(&got).contains(&"clients.mac".to_string()),
        "{:?}",
        unknown_of(&got)
    );
    assert_eq!(macs(&got), want_macs, "Zeek mac-logging");
    assert!(unknown_of(&got).contains(&"clients.name".to_string()));
    // Suricata with `ethernet: yes`.
    if crate::logs::suricata() {
        let pcap = week("fleet-win2004-pro-fullsnap.pcapng");
        let want = macs(&crate::logs::audit_json(&[&pcap], &[]));
        assert!(!want.is_empty());
        let out = work.join("suricata");
        std::fs::create_dir_all(&out).unwrap();
        let st = Command::new("suricata")
            .arg("-r")
            .arg(&pcap)
            .arg("-l")
            .arg(&out)
            .args(["-k", "none", "--runmode", "single", "-S", "/dev/null"])
            .args(["--set", "outputs.1.eve-log.ethernet=yes"])
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        let got = crate::logs::audit_json(&[&out.join("eve.json")], &[]);
        assert!(!unknown_of(&got).contains(&"clients.mac".to_string()));
        assert_eq!(macs(&got), want, "Suricata ethernet: yes");
        eprintln!("Suricata ethernet: yes: machines' MACs {want:?}, as from the pcap");
    }
    let _ = std::fs::remove_dir_all(&work);
}
