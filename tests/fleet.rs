//! Fleets: per-machine report sections and `egressmap merge`.
//!
//! - `fixtures/week/fleet-4-machines.pcapng` holds four idle Windows machines of different builds
//!   on one mirror port (`gen_week --fleet`): each machine's build is guessed right.
//! - `merge` is exact: the merged reports of two captures of different machines equal the
//!   report of auditing both captures together, byte for byte once provenance is removed, and
//!   merging is associative.
//! - Reports made with different builds or scopes are refused unless `--force`.
//! - Every format shows each machine; `compare` says which machines changed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use egressmap::report::model::Report;

use crate::support::csv_rows;

const BIN: &str = env!("CARGO_BIN_EXE_egressmap");

fn week(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/week")
        .join(name)
        .display()
        .to_string()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("egressmap-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// Runs egressmap; (exit code, stderr).
fn run(args: &[&str]) -> (i32, String) {
    let o = Command::new(BIN).args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `audit FILES --report json` into a file; its text.
fn audit(files: &[&str], extra: &[&str], out: &Path) -> String {
    let mut args = vec!["audit"];
    args.extend(files);
    args.extend(extra);
    let o = out.display().to_string();
    args.extend(["-q", "--report", "json", "-o", &o]);
    let (code, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    std::fs::read_to_string(out).unwrap()
}

fn merge(inputs: &[&Path], out: &Path, extra: &[&str]) -> (i32, String) {
    let mut args: Vec<String> = vec!["merge".into()];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["-o".into(), out.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args)
}

/// The merged report's text with its provenance (the last member, `merged_from`) cut out.
fn without_provenance(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let at = text
        .find(",\n  \"merged_from\": [")
        .expect("a merge records its inputs");
    format!("{}\n}}\n", &text[..at])
}

/// `audit` of several captures warns when they overlap in time (packets captured twice would
/// count twice); captures of different machines overlap by nature and the warning is about
/// reading them as one dataset, which a merge does not do. Removes exactly those warnings.
fn without_overlap_warnings(text: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    let w = v["warnings"].as_array().unwrap();
    assert!(
        w.iter()
            .all(|w| w.as_str().unwrap().contains("the captures overlap")),
        "{w:?}"
    );
    let start = text.find("\n  \"warnings\": [").unwrap();
    let end = start + text[start..].find("\n  ],\n").map(|e| e + 5).unwrap_or(0);
    if w.is_empty() {
        return text.to_string();
    }
    format!("{}\n  \"warnings\": [],{}", &text[..start], &text[end..])
}

/// Equal texts, or the first differing line.
fn same_text(a: &str, b: &str, what: &str) {
    if a != b {
        let (n, (x, y)) = a
            .lines()
            .zip(b.lines())
            .enumerate()
            .find(|(_, (x, y))| x != y)
            .unwrap_or((0, ("", "")));
        panic!(
            "{what}: differ at line {}: {x:?} vs {y:?} ({} vs {} bytes)",
            n + 1,
            a.len(),
            b.len()
        );
    }
}

#[test]
fn each_machine_of_a_fleet_capture_gets_its_build() {
    let out = tmp("fleet4.json");
    let text = audit(&[&week("fleet-4-machines.pcapng")], &[], &out);
    let r: Report = serde_json::from_str(&text).unwrap();
    let want = [
        ("192.168.1.31", "1809", "enterprise"),
        ("192.168.1.32", "2004", "pro"),
        ("192.168.1.33", "11", "enterprise"),
        ("192.168.1.34", "1903", "enterprise"),
    ];
    for (addr, build, edition) in want {
        let c = r
            .clients
            .iter()
            .find(|c| c.address == addr)
            .unwrap_or_else(|| panic!("no client {addr}"));
        let g = c.build_guess.as_ref().expect("a guess per machine");
        println!(
            "{addr}: {} {} score {:.3} ({} flows, {} documented, {} areas)",
            g.build,
            g.edition,
            g.score,
            c.traffic.flows,
            c.documented_flows,
            c.areas.len()
        );
        assert_eq!(
            (g.build.as_str(), g.edition.as_str()),
            (build, edition),
            "{addr}"
        );
        assert!(c.documented_flows > 100 && c.documented_flows < c.traffic.flows);
        assert!(c.undocumented_flows > 0);
        assert!(!c.areas.is_empty());
    }
    // The per-machine sums are the report's: every counted flow belongs to one machine.
    let flows: u64 = r.clients.iter().map(|c| c.traffic.flows).sum();
    let documented: u64 = r.clients.iter().map(|c| c.documented_flows).sum();
    assert_eq!(flows, r.totals.traffic.flows);
    assert_eq!(documented, r.totals.documented_flows);
    for a in &r.areas {
        let per: u64 = r
            .clients
            .iter()
            .flat_map(|c| &c.areas)
            .filter(|x| x.area == a.area)
            .map(|x| x.traffic.bytes())
            .sum();
        assert_eq!(per, a.traffic.bytes(), "{}", a.area);
    }

    // --client restricts the report to one machine: the same numbers as its section.
    let one = tmp("fleet4-one.json");
    let t1 = audit(
        &[&week("fleet-4-machines.pcapng")],
        &["--client", "192.168.1.32/32"],
        &one,
    );
    let r1: Report = serde_json::from_str(&t1).unwrap();
    assert_eq!(r1.clients.len(), 1);
    let c = r
        .clients
        .iter()
        .find(|c| c.address == "192.168.1.32")
        .unwrap();
    assert_eq!(r1.clients[0], *c);
    assert_eq!(r1.totals.traffic.flows, c.traffic.flows);
    assert_eq!(r1.client_filter, vec!["192.168.1.32/32".to_string()]);
    let (code, err) = run(&["audit", &week("fleet-b.pcapng"), "--client", "10.0.0.0/33"]);
    assert_eq!(code, 2, "{err}");
}

/// Each machine's identity, field by field: the MAC its frames came from (and that its DHCP
/// messages carry), and its DHCP host name (option 12, `gen_week --fleet`'s `WIN-PCnn`); its
/// IPv6 address shares the MAC and so gets the name too. Identical for 1 and 3 threads (the
/// broadcast DHCP flow is owned by one worker whatever the count).
#[test]
fn each_machine_of_a_fleet_capture_gets_its_mac_and_dhcp_name() {
    let f = week("fleet-4-machines.pcapng");
    let r: Report = serde_json::from_str(&audit(&[&f], &["-j", "1"], &tmp("id1.json"))).unwrap();
    let r3: Report = serde_json::from_str(&audit(&[&f], &["-j", "3"], &tmp("id3.json"))).unwrap();
    assert_eq!(
        r.clients, r3.clients,
        "identity depends on the thread count"
    );
    let want = [
        ("192.168.1.31", "00:15:5d:0a:00:1f", "WIN-PC31"),
        ("192.168.1.32", "00:15:5d:0a:00:20", "WIN-PC32"),
        ("192.168.1.33", "00:15:5d:0a:00:21", "WIN-PC33"),
        ("192.168.1.34", "00:15:5d:0a:00:22", "WIN-PC34"),
    ];
    for (addr, mac, name) in want {
        let c = r.clients.iter().find(|c| c.address == addr).unwrap();
        println!("{addr}: mac {:?} name {:?} {:?}", c.mac, c.name, c.identity);
        assert_eq!(c.mac.as_deref(), Some(mac), "{addr}");
        assert_eq!(c.name.as_deref(), Some(name), "{addr}");
        let link = c.identity.iter().find(|i| i.source == "link").unwrap();
        assert_eq!(link.value, mac);
        // Its frames came from that MAC only (the capture starts with its DHCP DISCOVER).
        assert!(link.first_seen.is_some(), "{addr}: {link:?}");
        assert_eq!(c.identity.iter().filter(|i| i.source == "link").count(), 1);
        let dhcp: Vec<_> = c.identity.iter().filter(|i| i.source == "dhcp").collect();
        assert_eq!(dhcp.len(), 1, "{addr}: {dhcp:?}");
        assert_eq!(dhcp[0].value, name);
        assert!(c
            .identity
            .iter()
            .any(|i| i.source == "dhcp-mac" && i.value == mac));
    }
    let v6 = r
        .clients
        .iter()
        .find(|c| c.address == "2a02:8108:1c40:5600::33")
        .unwrap();
    assert_eq!(v6.mac.as_deref(), Some("00:15:5d:0a:00:21"));
    assert_eq!(v6.name.as_deref(), Some("WIN-PC33"));
}

/// The per-machine section in the other formats, from the same saved report: each machine's
/// row says what its JSON entry says (address, name, MAC, build guess, flows per area).
#[test]
fn every_format_shows_each_machine() {
    let saved = tmp("fleet4-formats.json");
    let text = audit(&[&week("fleet-4-machines.pcapng")], &[], &saved);
    let r: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(r.clients.len(), 5);
    let render = |fmt: &str| {
        let o = Command::new(BIN)
            .args(["report", &saved.display().to_string(), "--report", fmt])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let guess = |c: &egressmap::report::model::Client| {
        let g = c.build_guess.as_ref().expect("a guess");
        (format!("{} {}", g.build, g.edition), g.score)
    };

    // Terminal: one line per machine (busiest first), then each area's machines.
    let table = render("table");
    let list: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.starts_with("Machines: 5"))
        .skip(2)
        .take(5)
        .collect();
    let mut by_bytes: Vec<_> = r.clients.iter().collect();
    by_bytes.sort_by_key(|c| std::cmp::Reverse(c.traffic.bytes()));
    for (line, c) in list.iter().zip(&by_bytes) {
        let (g, score) = guess(c);
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[0], c.address, "{line}");
        assert_eq!(Some(cols[1]), c.name.as_deref(), "{line}");
        assert_eq!(Some(cols[2]), c.mac.as_deref(), "{line}");
        assert_eq!(cols[3], c.traffic.flows.to_string(), "{line}");
        assert_eq!(cols[4], c.documented_flows.to_string(), "{line}");
        assert!(line.ends_with(&format!("{g} ({score:.3})")), "{line}");
    }
    let per_area = table
        .split("Machines per area")
        .nth(1)
        .expect("per-area section with several machines");
    for a in r.areas.iter().take(12) {
        let mut on: Vec<_> = r
            .clients
            .iter()
            .filter_map(|c| Some((c, c.areas.iter().find(|x| x.area == a.area)?)))
            .collect();
        on.sort_by_key(|(_, x)| std::cmp::Reverse(x.traffic.bytes()));
        let line = per_area
            .lines()
            .find(|l| l.starts_with(&format!("  {} ({}):", a.name, on.len())))
            .unwrap_or_else(|| panic!("{}: {per_area}", a.name));
        let (c, x) = on[0];
        assert!(
            line.contains(&format!(
                ": {} {} {}",
                c.name.as_deref().unwrap_or(&c.address),
                egressmap::report::render::human_bytes(x.traffic.bytes()),
                x.traffic.flows
            )),
            "{line}"
        );
    }
    assert!(
        per_area.contains("more areas"),
        "13+ areas: the rest collapsed"
    );

    // CSV: a `client` row per machine, a `client-area` row per (machine, area), same numbers.
    let csv = render("csv");
    let mut rows = csv_rows(&csv).into_iter();
    let header = rows.next().unwrap();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<Vec<String>> = rows.collect();
    assert!(rows.iter().all(|r| r.len() == header.len()));
    for c in &r.clients {
        let row = rows
            .iter()
            .find(|x| x[0] == "client" && x[col("host")] == c.address)
            .unwrap_or_else(|| panic!("no client row for {}", c.address));
        let (g, score) = guess(c);
        assert_eq!(Some(row[col("pattern")].as_str()), c.name.as_deref());
        assert_eq!(Some(row[col("protocols_seen")].as_str()), c.mac.as_deref());
        assert_eq!(row[col("protocols_documented")], format!("{g} {score:.3}"));
        assert_eq!(row[col("flows")], c.traffic.flows.to_string());
        assert_eq!(row[col("bytes_down")], c.traffic.bytes_down.to_string());
        assert_eq!(row[col("documented_flows")], c.documented_flows.to_string());
        assert_eq!(
            row[col("undocumented_flows")],
            c.undocumented_flows.to_string()
        );
        let areas: Vec<&Vec<String>> = rows
            .iter()
            .filter(|x| x[0] == "client-area" && x[col("host")] == c.address)
            .collect();
        assert_eq!(areas.len(), c.areas.len(), "{}", c.address);
        for (row, x) in areas.iter().zip(&c.areas) {
            assert_eq!(row[col("area")], x.area);
            assert_eq!(row[col("flows")], x.traffic.flows.to_string());
            assert_eq!(row[col("bytes_up")], x.traffic.bytes_up.to_string());
        }
    }

    // HTML: one matrix row per machine, one column per area.
    let html = render("html");
    let matrix = html
        .split("<table id=\"machines\"")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .expect("machine matrix");
    assert_eq!(matrix.matches("<tr>").count(), 1 + r.clients.len());
    assert_eq!(matrix.matches("<th>").count(), 6 + r.areas.len());
    for c in &r.clients {
        let row = matrix
            .split("<tr>")
            .find(|row| row.starts_with(&format!("<td class=\"t\">{}</td>", c.address)))
            .unwrap_or_else(|| panic!("no matrix row for {}", c.address));
        assert_eq!(row.matches("<td").count(), 6 + r.areas.len());
        for x in &c.areas {
            assert!(row.contains(&format!(
                " data-v=\"{}\">{} / ",
                x.traffic.bytes(),
                x.traffic.flows
            )));
        }
    }

    // Markdown: the machines table and one per-area row per (machine, area).
    let md = render("markdown");
    let section = md.split("## Machines\n").nth(1).expect("Markdown machines");
    assert_eq!(
        section
            .lines()
            .filter(|l| l.contains("WIN\\-PC") || l.contains("WIN-PC"))
            .count(),
        r.clients.len() + r.clients.iter().map(|c| c.areas.len()).sum::<usize>()
    );
}

/// `compare` per machine on real captures: a machine added to a sensor's capture appears (with
/// its name and MAC) and fails `--fail-on new-client`; one that went fails neither per-machine
/// kind; a turned-off area goes silent on its machine, and the other way round is a new area
/// of a known machine (`new-client-area`) but no new machine.
#[test]
fn compare_says_which_machines_changed() {
    let (b, c) = (week("fleet-b.pcapng"), week("fleet-c.pcapng"));
    let one = tmp("cmp-b.json");
    let two = tmp("cmp-bc.json");
    audit(&[&b], &[], &one);
    audit(&[&b, &c], &[], &two);
    let compare = |x: &Path, y: &Path, extra: &[&str]| {
        let mut args = vec![
            "compare".to_string(),
            x.display().to_string(),
            y.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let o = Command::new(BIN).args(&args).output().unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8(o.stdout).unwrap(),
        )
    };
    let (code, out) = compare(&one, &two, &["--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let machines = v["clients"].as_array().unwrap();
    let row = |addr: &str| {
        machines
            .iter()
            .find(|d| d["area"] == addr)
            .unwrap_or_else(|| panic!("{addr}: {machines:?}"))
    };
    assert_eq!(row("192.168.1.43")["change"], "appeared");
    assert_eq!(row("192.168.1.43")["name"], "WIN-PC43");
    assert_eq!(row("192.168.1.43")["mac"], "00:15:5d:0a:00:2b");
    assert_eq!(row("192.168.1.42")["change"], "same");
    assert_eq!(
        row("192.168.1.42")["flows_a"],
        row("192.168.1.42")["flows_b"]
    );
    let rc: Report = serde_json::from_str(&std::fs::read_to_string(&two).unwrap()).unwrap();
    let pc43 = rc
        .clients
        .iter()
        .find(|c| c.address == "192.168.1.43")
        .unwrap();
    assert_eq!(row("192.168.1.43")["flows_b"], pc43.traffic.flows);
    let areas: Vec<&serde_json::Value> = v["client_areas"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["host"] == "192.168.1.43")
        .collect();
    assert_eq!(areas.len(), pc43.areas.len());
    assert!(areas.iter().all(|d| d["change"] == "appeared"));
    assert!(v["client_areas"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["host"] == "192.168.1.42")
        .all(|d| d["change"] == "same"));
    assert_eq!(compare(&one, &two, &["--fail-on", "new-client"]).0, 1);
    assert_eq!(compare(&one, &two, &["--fail-on", "new-client-area"]).0, 1);
    let (code, table) = compare(&two, &one, &["--fail-on", "new-client,new-client-area"]);
    assert_eq!(code, 0, "a machine that went is no new machine");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("gone") && l.contains("192.168.1.43 WIN-PC43 00:15:5d:0a:00:2b")),
        "{table}"
    );
    assert_eq!(compare(&two, &one, &[]).0, 1);

    // The same machine before and after turning Spotlight and Diagnostic data off.
    let (before, after) = (tmp("cmp-before.json"), tmp("cmp-after.json"));
    let args = ["--build", "11", "--edition", "enterprise"];
    audit(&[&week("win11-enterprise-before.pcapng")], &args, &before);
    audit(&[&week("win11-enterprise-after.pcapng")], &args, &after);
    let (_, out) = compare(&before, &after, &["--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let gone: BTreeSet<(String, String)> = v["client_areas"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["change"] == "gone")
        .map(|d| {
            (
                d["area"].as_str().unwrap().to_string(),
                d["host"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let ra: Report = serde_json::from_str(&std::fs::read_to_string(&before).unwrap()).unwrap();
    let machine = ra
        .clients
        .iter()
        .max_by_key(|c| c.traffic.flows)
        .unwrap()
        .address
        .clone();
    assert_eq!(
        gone,
        BTreeSet::from([
            ("diagnostic-data".to_string(), machine.clone()),
            ("spotlight".to_string(), machine.clone())
        ])
    );
    assert!(v["clients"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["change"] != "appeared" && d["change"] != "gone"));
    assert_eq!(compare(&after, &before, &["--fail-on", "new-client"]).0, 0);
    assert_eq!(
        compare(&after, &before, &["--fail-on", "new-client-area"]).0,
        1
    );
}

/// Names from the other sources, on `fleet-names.pcapng` (`gen_week --fleet ...:nbns,...:ptr`):
/// .44 registers `WIN-PC44` over NetBIOS and sends DHCP option 81 (no option 12), and the
/// server's DHCP ACK binds its MAC to its address; .45 says no name at all, and the PTR answer
/// for its address names it. Same for 1 and 3 threads; each machine's build still guessed.
#[test]
fn machines_named_by_netbios_fqdn_ack_and_ptr() {
    let f = week("fleet-names.pcapng");
    let r: Report = serde_json::from_str(&audit(&[&f], &["-j", "1"], &tmp("nm1.json"))).unwrap();
    let r3: Report = serde_json::from_str(&audit(&[&f], &["-j", "3"], &tmp("nm3.json"))).unwrap();
    assert_eq!(
        r.clients, r3.clients,
        "identity depends on the thread count"
    );
    let get = |addr: &str| {
        r.clients
            .iter()
            .find(|c| c.address == addr)
            .unwrap_or_else(|| panic!("no client {addr}"))
    };
    let values = |c: &egressmap::report::model::Client, source: &str| -> Vec<String> {
        c.identity
            .iter()
            .filter(|i| i.source == source)
            .map(|i| i.value.clone())
            .collect()
    };
    let nb = get("192.168.1.44");
    assert_eq!(nb.name.as_deref(), Some("WIN-PC44"), "NetBIOS name");
    assert_eq!(nb.mac.as_deref(), Some("00:15:5d:0a:00:2c"));
    assert_eq!(values(nb, "netbios"), ["WIN-PC44"]);
    assert_eq!(values(nb, "dhcp-fqdn"), ["win-pc44.corp.example"]);
    assert!(values(nb, "dhcp").is_empty(), "no option 12");
    assert_eq!(values(nb, "dhcp-mac"), ["00:15:5d:0a:00:2c"], "the ACK");
    assert!(values(nb, "dns-ptr").is_empty());
    let ptr = get("192.168.1.45");
    assert_eq!(ptr.name.as_deref(), Some("win-pc45.lan"), "PTR name");
    assert_eq!(ptr.mac.as_deref(), Some("00:15:5d:0a:00:2d"));
    assert_eq!(values(ptr, "dns-ptr"), ["win-pc45.lan"]);
    for s in ["dhcp", "netbios", "dhcp-fqdn"] {
        assert!(values(ptr, s).is_empty(), "{s}: {:?}", ptr.identity);
    }
    // Per source, the flows that said it. .44: option 81 in the boot broadcast (DISCOVER and
    // REQUEST from 0.0.0.0, tied by its MAC) and in the renewal REQUEST (ciaddr); its MAC bound
    // to its address by that renewal and by the server's ACK (yiaddr, no name); the NetBIOS
    // registrations are one flow (.44:137 -> 192.168.1.255:137, 9 datagrams). .45: one PTR
    // answer; its DHCP messages state no name, so only the link layer gives its MAC.
    let counts = |c: &egressmap::report::model::Client| -> Vec<(String, u64)> {
        c.identity
            .iter()
            .map(|i| (i.source.clone(), i.count))
            .collect()
    };
    let own = |v: &[(&str, u64)]| -> Vec<(String, u64)> {
        v.iter().map(|(s, n)| (s.to_string(), *n)).collect()
    };
    assert_eq!(
        counts(nb),
        own(&[
            ("dhcp-fqdn", 2),
            ("dhcp-mac", 2),
            ("link", 0),
            ("netbios", 1)
        ])
    );
    assert_eq!(counts(ptr), own(&[("dns-ptr", 1), ("link", 0)]));
    assert_eq!(values(ptr, "link"), ["00:15:5d:0a:00:2d"]);
    assert_eq!(values(nb, "link"), ["00:15:5d:0a:00:2c"]);
    for (addr, build, edition) in [
        ("192.168.1.44", "2004", "pro"),
        ("192.168.1.45", "11", "enterprise"),
    ] {
        let g = get(addr).build_guess.as_ref().expect("a guess");
        assert_eq!(
            (g.build.as_str(), g.edition.as_str()),
            (build, edition),
            "{addr}"
        );
    }
}

#[test]
fn merge_is_exact_and_associative() {
    let (a, b, c) = (
        week("win1809-enterprise.pcapng"),
        week("fleet-b.pcapng"),
        week("fleet-c.pcapng"),
    );
    let g = ["--guess-build"];
    let (ra, rb, rc) = (tmp("a.json"), tmp("b.json"), tmp("c.json"));
    audit(&[&a], &g, &ra);
    audit(&[&b], &g, &rb);
    audit(&[&c], &g, &rc);
    let together = without_overlap_warnings(&audit(&[&a, &b], &g, &tmp("ab-audit.json")));
    let together3 = without_overlap_warnings(&audit(&[&a, &b, &c], &g, &tmp("abc-audit.json")));

    let ab = tmp("ab.json");
    let (code, err) = merge(&[&ra, &rb], &ab, &[]);
    assert_eq!(code, 0, "{err}");
    let merged = without_provenance(&ab);
    same_text(&merged, &together, "merge(a, b) vs audit(a + b)");
    let r: Report = serde_json::from_str(&merged).unwrap();
    assert_eq!(r.clients.len(), 2);
    assert!(r.totals.traffic.flows > 300 && !r.documented_not_seen.is_empty());
    println!(
        "merge(a, b): {} flows, {} areas, {} machines, {} bytes of JSON, identical to audit(a + b)",
        r.totals.traffic.flows,
        r.areas.len(),
        r.clients.len(),
        merged.len()
    );

    // (a + b) + c and a + (b + c), provenance included.
    let (bc, abc1, abc2) = (tmp("bc.json"), tmp("abc1.json"), tmp("abc2.json"));
    assert_eq!(merge(&[&rb, &rc], &bc, &[]).0, 0);
    assert_eq!(merge(&[&ab, &rc], &abc1, &[]).0, 0);
    assert_eq!(merge(&[&ra, &bc], &abc2, &[]).0, 0);
    let (t1, t2) = (
        std::fs::read_to_string(&abc1).unwrap(),
        std::fs::read_to_string(&abc2).unwrap(),
    );
    same_text(&t1, &t2, "merge(merge(a, b), c) vs merge(a, merge(b, c))");
    let r3: Report = serde_json::from_str(&t1).unwrap();
    let names: Vec<&str> = r3.merged_from.iter().map(|m| m.report.as_str()).collect();
    assert_eq!(
        names,
        [&ra, &rb, &rc].map(|p| p.to_str().unwrap()).to_vec(),
        "provenance in order"
    );
    same_text(
        &without_provenance(&abc1),
        &together3,
        "merge(a, b, c) vs audit(a + b + c)",
    );
}

#[test]
fn merge_refuses_different_settings_unless_forced() {
    let a = week("fleet-b.pcapng");
    let (all, b2004, v4) = (tmp("r-all.json"), tmp("r-2004.json"), tmp("r-v4.json"));
    audit(&[&a], &[], &all);
    audit(&[&a], &["--build", "2004"], &b2004);
    audit(&[&a], &["--ipv4-only"], &v4);
    let out = tmp("refused.json");
    for other in [&b2004, &v4] {
        let (code, err) = merge(&[&all, other], &out, &[]);
        assert_eq!(code, 2, "refused: {err}");
        assert!(err.contains("--force"), "{err}");
    }
    let (code, err) = merge(&[&all, &b2004], &out, &["--force"]);
    assert_eq!(code, 0, "{err}");
    let r: Report = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("different build/edition")),
        "{:?}",
        r.warnings
    );
}

/// Each export of the fleet capture's report is accepted by its real consumer (SKIPPED when
/// the tool is not installed); the hostile-names fixture's names never reach a config.
#[test]
fn exports_pass_their_consumers() {
    let rep = tmp("export-fleet.json");
    audit(&[&week("fleet-4-machines.pcapng")], &[], &rep);
    let checks: [(&str, &str, &[&str]); 3] = [
        ("dnsmasq", "dnsmasq", &["--test", "-C"]),
        ("unbound", "unbound-checkconf", &[]),
        ("nftables", "nft", &["-c", "-f"]),
    ];
    for (format, tool, args) in checks {
        let out = tmp(&format!("export.{format}"));
        let (code, err) = run(&[
            "export",
            rep.to_str().unwrap(),
            "--format",
            format,
            "--undocumented",
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.starts_with("# egressmap export"));
        assert!(
            text.contains("Breaks: Windows Update"),
            "consequences first"
        );
        assert!(text.lines().count() > 20, "{format}: {text}");
        match Command::new(tool).args(args).arg(&out).output() {
            Err(_) => eprintln!("SKIPPED: {tool} not installed ({format} export not checked)"),
            Ok(o) => assert!(
                o.status.success(),
                "{tool} rejects the {format} export: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
        }
    }
    // Names from packets that are not host names are skipped and counted.
    let hostile = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reports_hostile_names.pcap");
    let hr = tmp("export-hostile.json");
    audit(&[hostile.to_str().unwrap()], &["--all-destinations"], &hr);
    let out = tmp("export-hostile.dnsmasq");
    let (code, err) = run(&[
        "export",
        hr.to_str().unwrap(),
        "--format",
        "dnsmasq",
        "--undocumented",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("skipped: not valid host names"), "{text}");
    for bad in ["<", ">", "'", "\"", "`", "|", " .", "\u{202e}"] {
        assert!(
            !text
                .lines()
                .filter(|l| !l.starts_with('#'))
                .any(|l| l.contains(bad)),
            "{bad:?} in {text}"
        );
    }
}
