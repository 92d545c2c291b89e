//! `egressmap export`: every format is checked by its real consumer where one installs on
//! Debian (dnsmasq, unbound, nft, iptables-restore, ip6tables-restore, ipset, grep -E for
//! Pi-hole's POSIX regexes) and by a strict parser of our own where none does (AdGuard rules,
//! the Windows Firewall PowerShell script). A running dnsmasq and unbound answer for the
//! documented wildcards' subdomains and refuse look-alike names (`evilwindowsupdate.com`).
//! Exporting from a capture gives the same bytes as exporting the saved report of it.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::run;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
        .display()
        .to_string()
}

const FLEET: &str = "week/fleet-4-machines.pcapng";

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("egressmap-export-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", "command -v \"$1\"", "sh", tool])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `audit FILES --report json` into `out`.
fn audit(files: &[&str], extra: &[&str], out: &Path) {
    let mut args = vec!["audit"];
    args.extend(files);
    args.extend(extra);
    let o = out.display().to_string();
    args.extend(["-q", "--report", "json", "-o", &o]);
    let (code, _, err) = run(&args);
    assert_eq!(code, 0, "{err}");
}

/// `export INPUT --format F EXTRA...`: its text.
fn export(input: &str, format: &str, extra: &[&str]) -> String {
    // One file per call: tests run in parallel in one process and export the same formats.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = tmp(&format!("{format}-{n}.out"));
    let o = out.display().to_string();
    let mut args = vec!["export", input, "--format", format, "-o", &o];
    args.extend(extra);
    let (code, _, err) = run(&args);
    assert_eq!(code, 0, "export {input} {format}: {err}");
    std::fs::read_to_string(&out).unwrap()
}

/// The fleet capture's saved report, audited once per test process (tests run in parallel).
fn fleet_report() -> String {
    static REPORT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    REPORT
        .get_or_init(|| {
            let rep = tmp("fleet.json");
            audit(&[&fixture(FLEET)], &[], &rep);
            rep.display().to_string()
        })
        .clone()
}

fn body(text: &str, comment: char) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with(comment) && !l.is_empty())
        .collect()
}

/// A DNS host name, checked independently of the exporter's own check.
fn host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes()
                    .all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'))
        })
}

/// Runs a checker on a file; SKIPPED (printed) when the tool is missing.
fn check(tool: &str, args: &[&str], file: &Path) {
    if !have(tool) {
        eprintln!("SKIPPED: {tool} not installed");
        return;
    }
    let o = Command::new(tool).args(args).arg(file).output().unwrap();
    eprintln!(
        "{tool} {} {}: exit {:?} {}{}",
        args.join(" "),
        file.display(),
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).trim(),
        String::from_utf8_lossy(&o.stderr).trim()
    );
    assert!(o.status.success(), "{tool} rejects {}", file.display());
}

/// Runs `script` with sh in a fresh network namespace (root only), with `args` as $1...
fn in_netns(script: &str, args: &[&str]) -> Option<String> {
    if !is_root() {
        eprintln!("SKIPPED: not root (a network namespace is needed to load {script:?})");
        return None;
    }
    if !have("unshare") {
        eprintln!("SKIPPED: unshare not installed");
        return None;
    }
    let o = Command::new("unshare")
        .args(["-n", "sh", "-ec", script, "sh"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

fn write(name: &str, text: &str) -> PathBuf {
    let p = tmp(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn packet_filter_exports_load_in_iptables_ip6tables_and_ipset() {
    let rep = fleet_report();
    let v4 = export(&rep, "iptables", &[]);
    let v6 = export(&rep, "ip6tables", &[]);
    let set = export(&rep, "ipset", &[]);
    let n4 = body(&v4, '#')
        .iter()
        .filter(|l| l.starts_with("-A "))
        .count();
    let n6 = body(&v6, '#')
        .iter()
        .filter(|l| l.starts_with("-A "))
        .count();
    assert!(n4 > 200 && n6 >= 1, "{n4} {n6}");
    let (f4, f6, fs) = (
        write("x.iptables", &v4),
        write("x.ip6tables", &v6),
        write("x.ipset", &set),
    );
    // The documented check: parse and verify against the kernel, commit nothing.
    if is_root() {
        check("iptables-restore", &["--test", "--noflush"], &f4);
        check("ip6tables-restore", &["--test", "--noflush"], &f6);
    } else {
        eprintln!("SKIPPED: not root (iptables-restore --test needs CAP_NET_ADMIN)");
    }
    // Loaded for real, twice (the second load replaces, not adds), in a throwaway namespace.
    if have("iptables-restore") {
        if let Some(out) = in_netns(
            "iptables-restore --noflush \"$1\"; iptables-restore --noflush \"$1\"; \
             ip6tables-restore --noflush \"$2\"; ip6tables-restore --noflush \"$2\"; \
             iptables -S EGRESSMAP; ip6tables -S EGRESSMAP",
            &[f4.to_str().unwrap(), f6.to_str().unwrap()],
        ) {
            let rules = out
                .lines()
                .filter(|l| l.starts_with("-A EGRESSMAP"))
                .count();
            eprintln!("iptables/ip6tables in a namespace: {rules} rules after two loads");
            assert_eq!(rules, n4 + n6, "{out}");
        }
    } else {
        eprintln!("SKIPPED: iptables not installed");
    }
    // nftables, loaded twice: the second load replaces the table instead of duplicating rules.
    let nft = export(&rep, "nftables", &[]);
    let fnft = write("x.nftables", &nft);
    if have("nft") {
        if let Some(once) = in_netns(
            "nft -f \"$1\"; nft list table inet egressmap",
            &[fnft.to_str().unwrap()],
        ) {
            let twice = in_netns(
                "nft -f \"$1\"; nft -f \"$1\"; nft list table inet egressmap",
                &[fnft.to_str().unwrap()],
            )
            .unwrap_or_default();
            let drops = twice
                .lines()
                .filter(|l| l.trim_end().ends_with("drop"))
                .count();
            eprintln!("nftables in a namespace: {drops} drop rules after two loads");
            assert_eq!(drops, 4, "{twice}");
            assert_eq!(once, twice, "a second load changes nothing");
        }
    } else {
        eprintln!("SKIPPED: nft not installed");
    }
    if have("ipset") {
        let adds: BTreeSet<&str> = body(&set, '#')
            .into_iter()
            .filter_map(|l| l.strip_prefix("add "))
            .collect();
        assert_eq!(adds.len(), n4 + n6);
        if let Some(out) = in_netns(
            "ipset restore -f \"$1\"; ipset restore -f \"$1\"; ipset list egressmap4; ipset list egressmap6; ipset list -n",
            &[fs.to_str().unwrap()],
        ) {
            let members: BTreeSet<String> = out
                .lines()
                .filter(|l| l.parse::<IpAddr>().is_ok())
                .map(String::from)
                .collect();
            let want: BTreeSet<String> = adds
                .iter()
                .filter_map(|a| a.split_once(' '))
                .map(|(_, a)| a.to_string())
                .collect();
            eprintln!(
                "ipset restore in a namespace, twice: {} members",
                members.len()
            );
            assert_eq!(members, want);
            assert!(!out.contains("-new"), "temporary sets destroyed: {out}");
        }
    } else {
        eprintln!("SKIPPED: ipset not installed");
    }
}

#[test]
fn dns_exports_pass_their_consumers() {
    let rep = fleet_report();
    for (format, tool, args) in [
        ("dnsmasq", "dnsmasq", &["--test", "-C"][..]),
        ("unbound", "unbound-checkconf", &[][..]),
        ("nftables", "nft", &["-c", "-f"][..]),
    ] {
        let text = export(&rep, format, &["--undocumented"]);
        assert!(text.starts_with("# egressmap export"));
        check(tool, args, &write(&format!("c.{format}"), &text));
    }
    // hosts and the Pi-hole domain list: exact names only.
    let hosts = export(&rep, "hosts", &["--undocumented"]);
    for l in body(&hosts, '#') {
        let (ip, name) = l.split_once(' ').unwrap();
        assert!(ip == "0.0.0.0" || ip == "::", "{l}");
        assert!(host_name(name), "{l}");
    }
    let pihole = export(&rep, "pihole", &["--undocumented"]);
    let names = body(&pihole, '#');
    assert!(names.len() > 100);
    assert!(names.iter().all(|n| host_name(n)), "{pihole}");
}

/// Names the documented wildcards of the fleet report cover, and look-alikes they must not.
fn wildcard_cases(rep: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let ag = export(rep, "adguard", &[]);
    let domains: Vec<String> = body(&ag, '!')
        .iter()
        .filter_map(|l| l.strip_prefix("||")?.strip_suffix('^'))
        .map(String::from)
        .collect();
    assert!(domains.iter().any(|d| d == "windowsupdate.com"), "{ag}");
    let mut hit = Vec::new();
    let mut miss = Vec::new();
    for d in &domains {
        hit.push(d.clone());
        hit.push(format!("a.{d}"));
        hit.push(format!("x-1.y.{d}"));
        miss.push(format!("evil{d}"));
        miss.push(format!("{d}.evil.example"));
        miss.push(format!("{d}x"));
    }
    (domains, hit, miss)
}

#[test]
fn wildcards_match_subdomains_never_look_alikes() {
    let rep = fleet_report();
    let (domains, hit, miss) = wildcard_cases(&rep);
    // AdGuard Home (adblock syntax): only `||domain^` and `|name^` rules, with host names.
    let ag = export(&rep, "adguard", &["--undocumented"]);
    assert!(ag.starts_with("! egressmap export"));
    let mut exact = Vec::new();
    for l in body(&ag, '!') {
        let name = l
            .strip_prefix("||")
            .or_else(|| l.strip_prefix('|'))
            .and_then(|n| n.strip_suffix('^'))
            .unwrap_or_else(|| panic!("not an adblock domain rule: {l}"));
        assert!(host_name(name), "{l}");
        if !l.starts_with("||") {
            exact.push(name);
        }
    }
    // Adblock semantics: `||d^` is d or a name ending in ".d"; `|n^` is n.
    let blocked = |h: &str| {
        domains
            .iter()
            .any(|d| h == d || h.ends_with(&format!(".{d}")))
            || exact.contains(&h)
    };
    assert!(hit.iter().all(|h| blocked(h)));
    assert!(miss.iter().all(|h| !blocked(h)));

    // Pi-hole's regexes, compiled and run by a POSIX ERE engine (GNU grep -E).
    let re = export(&rep, "pihole-regex", &["--undocumented"]);
    let ref_file = write("p.regex", &body(&re, '#').join("\n"));
    let grep = |names: &[String]| -> BTreeSet<String> {
        let o = Command::new("grep")
            .arg("-E")
            .arg("-f")
            .arg(&ref_file)
            .arg(write("names.txt", &(names.join("\n") + "\n")))
            .output()
            .unwrap();
        assert!(o.status.code() != Some(2), "grep -E rejects a regex");
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(String::from)
            .collect()
    };
    assert_eq!(grep(&hit).len(), hit.len(), "every subdomain matched");
    assert!(
        grep(&miss).is_empty(),
        "look-alikes matched: {:?}",
        grep(&miss)
    );
    let seen: Vec<String> = body(&export(&rep, "pihole", &["--undocumented"]), '#')
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(grep(&seen).len(), seen.len(), "every name seen is matched");

    dnsmasq_answers(&rep, &hit, &miss);
    unbound_answers(&rep, &hit, &miss);
}

/// One A query to 127.0.0.1:port: Some(answer addresses) or None for a refusal/error.
fn query(port: u16, name: &str) -> Option<Vec<Ipv4Addr>> {
    use simple_dns::{
        rdata::RData, Name, Packet, PacketFlag, Question, CLASS, QCLASS, QTYPE, TYPE,
    };
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut q = Packet::new_query(0x4242);
    q.set_flags(PacketFlag::RECURSION_DESIRED);
    q.questions.push(Question::new(
        Name::new_unchecked(name),
        QTYPE::TYPE(TYPE::A),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    s.send_to(&q.build_bytes_vec().unwrap(), ("127.0.0.1", port))
        .unwrap();
    let mut buf = [0u8; 1500];
    let n = s.recv(&mut buf).ok()?;
    let p = Packet::parse(&buf[..n]).ok()?;
    if p.rcode() != simple_dns::RCODE::NoError {
        return None;
    }
    Some(
        p.answers
            .iter()
            .filter_map(|a| match &a.rdata {
                RData::A(a) => Some(Ipv4Addr::from(a.address)),
                _ => None,
            })
            .collect(),
    )
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until the server answers (the look-up of a blocked name), at most ~5 s.
fn wait_ready(port: u16, name: &str) {
    for _ in 0..50 {
        if query(port, name).is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("DNS server on port {port} never answered");
}

struct Killed(std::process::Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn assert_answers(server: &str, port: u16, hit: &[String], miss: &[String]) {
    for h in hit {
        assert_eq!(
            query(port, h),
            Some(vec![Ipv4Addr::UNSPECIFIED]),
            "{server}: {h} not blocked"
        );
    }
    for m in miss {
        assert_eq!(query(port, m), None, "{server}: look-alike {m} blocked");
    }
    eprintln!(
        "{server}: {} covered names answered 0.0.0.0, {} look-alikes refused",
        hit.len(),
        miss.len()
    );
}

/// dnsmasq serving the export on loopback, with no upstream: a blocked name gets 0.0.0.0,
/// anything else REFUSED.
fn dnsmasq_answers(rep: &str, hit: &[String], miss: &[String]) {
    if !have("dnsmasq") {
        eprintln!("SKIPPED: dnsmasq not installed (answers not checked)");
        return;
    }
    let conf = write("serve.dnsmasq", &export(rep, "dnsmasq", &[]));
    let port = free_port();
    let child = Command::new("dnsmasq")
        .arg("--keep-in-foreground")
        .arg(format!("--conf-file={}", conf.display()))
        .arg(format!("--port={port}"))
        .args([
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--pid-file",
            "--user=root",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Killed(child);
    wait_ready(port, &hit[0]);
    assert_answers("dnsmasq", port, hit, miss);
}

/// unbound serving the export on loopback; everything outside the export is refused by a
/// root zone, so nothing is resolved from the network.
fn unbound_answers(rep: &str, hit: &[String], miss: &[String]) {
    if !have("unbound") {
        eprintln!("SKIPPED: unbound not installed (answers not checked)");
        return;
    }
    let export_file = write("serve.unbound", &export(rep, "unbound", &[]));
    let port = free_port();
    let conf = write(
        "unbound.conf",
        &format!(
            "server:\n    interface: 127.0.0.1\n    port: {port}\n    do-daemonize: no\n    \
             username: \"\"\n    chroot: \"\"\n    pidfile: \"\"\n    use-syslog: no\n    \
             logfile: \"\"\n    do-ip6: no\n    local-zone: \".\" refuse\n\
             include: \"{}\"\n",
            export_file.display()
        ),
    );
    let child = Command::new("unbound")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Killed(child);
    wait_ready(port, &hit[0]);
    assert_answers("unbound", port, hit, miss);
}

/// `assert!` that returns an error instead of panicking (the reader's rejections are tested).
macro_rules! ensure {
    ($c:expr, $($m:tt)+) => {
        if !$c {
            return Err(format!($($m)+));
        }
    };
    ($c:expr) => {
        if !$c {
            return Err(stringify!($c).to_string());
        }
    };
}

macro_rules! ensure_eq {
    ($a:expr, $b:expr) => {
        if $a != $b {
            return Err(format!("{:?} != {:?}", $a, $b));
        }
    };
    ($a:expr, $b:expr, $($m:tt)+) => {
        if $a != $b {
            return Err(format!("{:?} != {:?}: {}", $a, $b, format!($($m)+)));
        }
    };
}

/// A strict reader of the Windows Firewall script: PowerShell is not installable here, so
/// this accepts only the grammar the exporter means to write. Every line is a comment or one
/// of two statement shapes; each value is a single-quoted literal (no expansion) whose text is
/// a known constant, a rule name, or an address; no `$`, backtick, double quote, parenthesis,
/// brace, `;`, `@`, or any non-ASCII character (PowerShell also reads U+2018/U+2019 as
/// quotes) appears anywhere.
fn check_powershell(script: &str) -> Result<Vec<(String, Vec<IpAddr>)>, String> {
    ensure!(
        script
            .bytes()
            .all(|b| b == b'\n' || (0x20..0x7f).contains(&b)),
        "non-ASCII or control byte"
    );
    for bad in ['$', '`', '"', '(', ')', '{', '}', ';', '@', '<', '>', '&'] {
        ensure!(
            !body(script, '#').iter().any(|l| l.contains(bad)),
            "{bad:?} in a statement"
        );
    }
    let mut rules = Vec::new();
    let mut removed_first = false;
    for l in script.lines() {
        if let Some(c) = l.strip_prefix('#') {
            // A line comment ends at the newline; a block-comment closer would be harmless but
            // is not something we write.
            ensure!(!c.contains("#>"), "{l}");
            continue;
        }
        let toks = tokens(l)?;
        let words: Vec<&str> = toks.iter().map(|t| t.as_str()).collect();
        match words.first() {
            Some(&"Remove-NetFirewallRule") => {
                ensure_eq!(
                    words,
                    [
                        "Remove-NetFirewallRule",
                        "-Group",
                        "'egressmap'",
                        "-ErrorAction",
                        "SilentlyContinue"
                    ]
                );
                ensure!(rules.is_empty(), "old rules removed before new ones");
                removed_first = true;
            }
            Some(&"New-NetFirewallRule") => {
                let mut name = None;
                let mut addrs = Vec::new();
                let mut it = words.iter().skip(1);
                let mut seen = BTreeSet::new();
                while let Some(p) = it.next() {
                    ensure!(seen.insert(*p), "{p} twice: {l}");
                    let v = it.next().ok_or_else(|| format!("{p} without value: {l}"))?;
                    match *p {
                        "-DisplayName" => {
                            let n = literal(v)?;
                            let parts: Vec<&str> = n.split(' ').collect();
                            ensure_eq!(parts.len(), 4, "{n}");
                            ensure_eq!(parts[0], "egressmap");
                            ensure!(parts[1].bytes().all(|c| c.is_ascii_lowercase()
                                || c.is_ascii_digit()
                                || c == b'-'));
                            ensure!(parts[2] == "IPv4" || parts[2] == "IPv6");
                            ensure!(parts[3].parse::<u32>().is_ok());
                            name = Some(n.to_string());
                        }
                        "-Group" => ensure_eq!(*v, "'egressmap'"),
                        "-Direction" => ensure_eq!(*v, "Outbound"),
                        "-Action" => ensure_eq!(*v, "Block"),
                        "-Profile" => ensure_eq!(*v, "Any"),
                        "-ErrorAction" => ensure_eq!(*v, "Stop"),
                        "-RemoteAddress" => {
                            for a in v.split(',') {
                                let ip: IpAddr = literal(a)?
                                    .parse()
                                    .map_err(|_| format!("not an address: {a}"))?;
                                ensure_eq!(literal(a)?, ip.to_string(), "canonical");
                                addrs.push(ip);
                            }
                        }
                        "|" => ensure_eq!(*v, "Out-Null"),
                        _ => return Err(format!("unexpected parameter {p}: {l}")),
                    }
                }
                for need in [
                    "-DisplayName",
                    "-Group",
                    "-Direction",
                    "-Action",
                    "-RemoteAddress",
                ] {
                    ensure!(seen.contains(need), "{need} missing: {l}");
                }
                ensure!(!addrs.is_empty() && addrs.len() <= 200);
                rules.push((name.ok_or("no name")?, addrs));
            }
            _ => return Err(format!("not a statement we write: {l}")),
        }
    }
    ensure!(removed_first);
    Ok(rules)
}

/// Space-separated tokens, where a token may hold single-quoted literals (with spaces inside
/// them): `-RemoteAddress '1.2.3.4','::1'` is two tokens.
fn tokens(l: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in l.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                cur.push(c);
            }
            ' ' if !quoted => {
                ensure!(!cur.is_empty(), "double space: {l}");
                out.push(std::mem::take(&mut cur));
            }
            _ => cur.push(c),
        }
    }
    ensure!(!quoted, "unclosed quote: {l}");
    ensure!(!cur.is_empty(), "trailing space: {l}");
    out.push(cur);
    Ok(out)
}

/// The text of a `'...'` literal with no quote inside.
fn literal(t: &str) -> Result<&str, String> {
    let inner = t
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .ok_or_else(|| format!("not a single-quoted literal: {t}"))?;
    ensure!(!inner.contains('\''), "{t}");
    Ok(inner)
}

#[test]
fn powershell_script_is_literal_only_and_complete() {
    let rep = fleet_report();
    let text = export(&rep, "powershell", &["--undocumented"]);
    let rules = check_powershell(&text).unwrap();
    assert!(rules.len() > 20, "{}", rules.len());
    // Every address of the nftables export is blocked by some rule, and nothing else.
    let mut addrs: BTreeSet<IpAddr> = BTreeSet::new();
    for (_, a) in &rules {
        addrs.extend(a);
    }
    let nft: BTreeSet<IpAddr> = body(&export(&rep, "ipset", &[]), '#')
        .iter()
        .filter_map(|l| l.strip_prefix("add ")?.split_once(' ')?.1.parse().ok())
        .collect();
    assert_eq!(addrs, nft);
    let sample: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("#   "))
        .take(16)
        .collect();
    eprintln!("powershell sample:\n{}", sample.join("\n"));
}

#[test]
fn powershell_reader_rejects_what_it_must() {
    let ok = "Remove-NetFirewallRule -Group 'egressmap' -ErrorAction SilentlyContinue\n\
              New-NetFirewallRule -DisplayName 'egressmap a IPv4 1' -Group 'egressmap' -Direction Outbound -Action Block -RemoteAddress '1.2.3.4','::1'";
    let accept = |s: &str| check_powershell(s).is_ok();
    assert!(accept(ok));
    for bad in [
        ok.replace("'1.2.3.4'", "'1.2.3.4$(calc)'"),
        ok.replace("'1.2.3.4'", "\"1.2.3.4\""),
        ok.replace("'1.2.3.4'", "'1.2.3.4';calc"),
        ok.replace("'1.2.3.4'", "'1.2.3.4\u{2019}'"),
        ok.replace("'1.2.3.4'", "'01.2.3.4'"),
        ok.replace("'1.2.3.4'", "'evil.com'"),
        ok.replace("'1.2.3.4'", "'1.2.3.4' 'x'"),
        ok.replace("-Action Block", "-Action Allow"),
        ok.replace("'egressmap a IPv4 1'", "'egressmap $a IPv4 1'"),
        ok.replace("'egressmap a IPv4 1'", "'egressmap a' IPv4 1'"),
        format!("{ok}\niex 'x'"),
        format!("# x #>\n{ok}"),
    ] {
        assert!(!accept(&bad), "accepted: {bad}");
    }
}

#[test]
fn export_from_a_capture_equals_export_from_its_report() {
    let cap = fixture(FLEET);
    for (opts, formats) in [
        (
            &[][..],
            &["dnsmasq", "adguard", "powershell", "ipset", "patterns"][..],
        ),
        (&["--ipv4-only"][..], &["nftables", "pihole-regex"][..]),
        (
            &["--build", "2004", "--edition", "pro"][..],
            &["unbound", "hosts"][..],
        ),
        (&["--client", "192.168.1.32/32"][..], &["iptables"][..]),
    ] {
        let rep = tmp(&format!("opts{}.json", opts.join("_").replace('/', "_")));
        audit(&[&cap], opts, &rep);
        for f in formats {
            let from_rep = export(rep.to_str().unwrap(), f, &["--undocumented"]);
            let mut extra = vec!["--undocumented", "-q"];
            extra.extend(opts);
            let from_cap = export(&cap, f, &extra);
            assert_eq!(from_cap, from_rep, "{f} {opts:?}");
        }
    }
    // Different options give a different export: the options do reach the audit.
    let all = export(&cap, "iptables", &[]);
    let one = export(&cap, "iptables", &["--client", "192.168.1.32/32"]);
    assert!(body(&one, '#').len() < body(&all, '#').len());
    // A report is told from a capture by its bytes, whatever the file is called.
    let renamed = tmp("report.pcapng");
    std::fs::copy(fleet_report(), &renamed).unwrap();
    assert_eq!(
        export(renamed.to_str().unwrap(), "adguard", &[]),
        export(&cap, "adguard", &[])
    );
    // Errors: an unreadable capture fails like audit; a report among captures is refused.
    let (code, _, err) = run(&["export", "/nonexistent.pcap", "--format", "hosts"]);
    assert_eq!(code, 3, "{err}");
    let (code, _, err) = run(&["export", &fleet_report(), &cap, "--format", "hosts"]);
    assert_eq!(code, 2, "{err}");
}
