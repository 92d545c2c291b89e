//! Synthesizes an idle week of one Windows build/edition as a pcapng: the traffic Microsoft's
//! method captures from a fresh VM left alone for a week, built from what that build's page
//! documents (so different builds produce different traffic), plus the things the report must
//! find on its own: undocumented Microsoft names, third-party names, ECH and name-less flows,
//! and LAN chatter that the public-only scope must leave out.
//!
//! ```text
//! cargo run --release --example gen_week -- --build 11 --edition enterprise \
//!     --out fixtures/week/win11-enterprise.pcapng [--days 7] [--seed N] [--off spotlight,diagnostic-data]
//! cargo run --release --example gen_week -- --fleet 1809:enterprise:3:31,2004:pro:4:32 --days 1 --out FILE
//! cargo run --release --example gen_week -- --fleet 2004:pro:6:44:nbns,11:enterprise:7:45:ptr --days 1 --out FILE
//! ```
//!
//! `--fleet` writes several machines (build, edition, seed, last address octet) into one capture,
//! each with its own address, MAC and DHCP host name, as a mirror port sees them. A fifth field
//! says how a machine tells its name: `dhcp` (option 12, the default), `nbns` (NetBIOS name
//! registrations, DHCP option 81 and the server's DHCP ACK, no option 12) or `ptr` (no name of
//! its own: a DNS PTR answer for its address names it).
//!
//! Deterministic per seed. Every host draws its schedule and bytes from its own generator
//! (seed + host), so `--off AREA,...` removes those areas' hosts and leaves every other packet
//! byte-identical: a before/after pair differs only in what was turned off.
//!
//! Size: payloads are real (TLS records, HTTP bodies) but the capture's snap length is 640 bytes (room for an ECH ClientHello)
//! and bulk data arrives in receive-coalesced segments of up to 64 kB (as on a Hyper-V guest with
//! RSC/LSO), so byte counts are realistic while the file stays around a megabyte per week.

#[path = "synth/mod.rs"]
mod synth;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use egressmap::signatures::{Database, Matcher, Pattern};
use synth::dns;
use synth::http;
use synth::link::{host_mac, Link};
use synth::net::{self, ACK, RST};
use synth::rng::Rng;
use synth::tcp::TcpConn;
use synth::tls;

const NS: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;
const MIN: u64 = 60 * NS;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;
/// Boot: Monday 2024-03-04 07:58:00 UTC.
const START_NS: u64 = 1_709_539_080 * NS;
/// Largest TCP payload in one captured segment (receive-side coalescing / send offload).
const COALESCED: usize = 64_000;

/// How a machine tells its name (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Naming {
    Dhcp,
    Nbns,
    Ptr,
}

// The machine being written (several with `--fleet`): its last address octet / IPv6 suffix,
// and how it tells its name.
thread_local! {
    static MACHINE: std::cell::Cell<u8> = const { std::cell::Cell::new(23) };
    static NAMING: std::cell::Cell<Naming> = const { std::cell::Cell::new(Naming::Dhcp) };
}

fn naming() -> Naming {
    NAMING.with(|n| n.get())
}

fn client4() -> Ipv4Addr {
    Ipv4Addr::new(192, 168, 1, MACHINE.with(|m| m.get()))
}

fn client6() -> Ipv6Addr {
    // The suffix reads as the octet in hex notation (.23 -> ::23).
    let m = MACHINE.with(|m| m.get());
    let suffix = u16::from_str_radix(&m.to_string(), 16).unwrap_or(u16::from(m));
    Ipv6Addr::new(0x2a02, 0x8108, 0x1c40, 0x5600, 0, 0, 0, suffix)
}

/// The DHCP host name (option 12) the machine announces.
fn client_name() -> String {
    match MACHINE.with(|m| m.get()) {
        23 => "WIN-IDLE".to_string(),
        n => format!("WIN-PC{n}"),
    }
}
const GATEWAY4: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);

/// Invented names under Microsoft-owned domains that no page lists (verified at run time
/// against every build; a name that matches something is dropped).
const UNDOCUMENTED_MS: &[&str] = &[
    "edge-telemetry.microsoft.com",
    "hvsi-config.microsoft.com",
    "cfg.diagsvc.windows.com",
    "kv-tiles.livetile.windows.com",
    "recs.feeds.msn.net",
    "sync-hints.live.com",
];
/// Third-party names an idle VM still talks to (hypervisor tools, CA endpoints, a browser).
const THIRD_PARTY: &[(&str, bool)] = &[
    ("ocsp.sectigo.com", true),
    ("clients2.google.com", false),
    ("update.googleapis.com", false),
    ("time.cloudflare.com", false),
    ("packages.vmware.com", false),
];

struct Args {
    build: String,
    edition: String,
    out: PathBuf,
    days: u64,
    seed: u64,
    off: Vec<String>,
    snaplen: usize,
    fleet: Vec<(String, String, u64, u8, Naming)>,
}

fn usage() -> ! {
    eprintln!(
        "usage: gen_week --build BUILD --edition EDITION --out FILE.pcapng [--days N] [--seed N] [--off AREA,...] [--snaplen N]\n       gen_week --fleet BUILD:EDITION:SEED:OCTET[:dhcp|nbns|ptr],... --out FILE.pcapng [--days N]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        build: String::new(),
        edition: String::new(),
        out: PathBuf::new(),
        days: 7,
        seed: 1,
        off: Vec::new(),
        snaplen: 640,
        fleet: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| usage());
        match k.as_str() {
            "--build" => a.build = v,
            "--edition" => a.edition = v,
            "--out" => a.out = PathBuf::from(v),
            "--days" => a.days = v.parse().unwrap_or_else(|_| usage()),
            "--seed" => a.seed = v.parse().unwrap_or_else(|_| usage()),
            "--snaplen" => a.snaplen = v.parse().unwrap_or_else(|_| usage()),
            "--fleet" => a.fleet = parse_fleet(&v),
            "--off" => {
                a.off = v
                    .split(',')
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            }
            _ => usage(),
        }
    }
    let one = !a.build.is_empty() && !a.edition.is_empty();
    if (!one && a.fleet.is_empty()) || a.out.as_os_str().is_empty() || a.days == 0 {
        usage();
    }
    a.snaplen = a.snaplen.max(128);
    a
}

/// FNV-1a: stable across Rust versions (std's hasher is not), so fixtures stay byte-identical.
fn fnv(seed: u64, parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for p in parts {
        for b in p.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn between(r: &mut Rng, lo: u64, hi: u64) -> u64 {
    lo + r.next_u64() % (hi - lo + 1)
}

fn chance(r: &mut Rng, percent: u64) -> bool {
    r.next_u64() % 100 < percent
}

// ---------------------------------------------------------------------------------------------
// Patterns to concrete hosts

const FIRST_LABELS: &[&str] = &[
    "bn3p", "db5p", "sls", "kv601", "cy2", "emea1", "prod", "a1", "au", "v10", "fe2", "geo",
];

/// A plausible concrete host for a documented host pattern, or `None` when the pattern cannot be
/// instantiated sensibly (a wildcard TLD after a complete name, a label-less result).
fn instantiate(pat: &str, h: u64) -> Option<String> {
    if !pat.contains('*') {
        return Some(pat.to_string());
    }
    let labels: Vec<&str> = pat.split('.').collect();
    let n = labels.len();
    let mut out: Vec<String> = Vec::with_capacity(n);
    for (i, l) in labels.iter().enumerate() {
        if !l.contains('*') {
            out.push(l.to_string());
            continue;
        }
        let pick = FIRST_LABELS[((h >> (i * 4)) as usize) % FIRST_LABELS.len()];
        let s = if *l == "*" {
            if i == 0 {
                pick.to_string()
            } else if i + 1 == n {
                // `wdcp.microsoft.*`: a TLD after a brand is fine; after `.com` it is not.
                let prev = labels.get(i.wrapping_sub(1)).copied().unwrap_or("");
                if matches!(prev, "com" | "net" | "org") {
                    return None;
                }
                "com".to_string()
            } else {
                match labels.get(i - 1).copied() {
                    Some("watson") => "telemetry".to_string(),
                    Some("login") | Some("msa") => "akadns".to_string(),
                    _ => "prod".to_string(),
                }
            }
        } else if let Some(rest) = l.strip_prefix('*') {
            // `*displaycatalog`, `*g`: the name itself, no prefix.
            rest.replace('*', "")
        } else {
            // `store*`, `msnbot-*`, `wd-prod-*fe*`, `akamai*`.
            let mut s = l.replacen('*', if l.starts_with("akamai") { "edge" } else { "" }, 1);
            s = s.replace('*', "");
            if s.ends_with('-') {
                s.push('1');
            }
            s
        };
        if s.is_empty() || s.starts_with('-') || s.len() > 63 {
            return None;
        }
        out.push(s);
    }
    let host = out.join(".");
    let tld = out.last()?;
    if out.len() < 2 || tld.len() < 2 || !tld.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    Some(host)
}

// ---------------------------------------------------------------------------------------------
// What each host does over the week

#[derive(Clone, Copy, Debug, PartialEq)]
enum Sched {
    /// Every hour (settings checks).
    Hourly,
    /// Every 15-30 minutes (diagnostic data uploads).
    Telemetry,
    /// At boot, then every 3-5 hours (NCSI).
    Ncsi,
    /// At boot and once a day (update scans).
    Daily,
    /// Large downloads on some days.
    Download,
    /// Every `lo`-`hi` hours.
    Every(u64, u64),
    /// At boot, then on each day with this percent chance (at least once more in the week).
    Occasional(u64),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Proto {
    Tls,
    Http,
}

struct Target {
    host: String,
    path: Option<String>,
    proto: Proto,
    sched: Sched,
    /// Bytes sent up / received down per flow (ranges).
    up: (u64, u64),
    down: (u64, u64),
    v6: bool,
    /// CNAME chain through akadns (some hosts).
    cname: bool,
    /// Areas the host carries on this build's page (and this build's matcher), for `--off`.
    areas: BTreeSet<String>,
    ech: bool,
    /// A flow with no name at all (no DNS, no SNI).
    nameless: bool,
}

fn plan_for(host: &str, areas: &BTreeSet<String>, primary: &BTreeSet<String>) -> Sched {
    let has = |a: &str| areas.contains(a);
    if host.starts_with("ipv6.") {
        // The IPv6 probe follows the IPv4 one only when IPv6 connectivity changes.
        return Sched::Every(8, 14);
    }
    if host.contains("msftconnecttest") || host.contains("msftncsi") {
        return Sched::Ncsi;
    }
    if has("diagnostic-data") {
        return if primary.contains(host) {
            Sched::Telemetry
        } else if host.contains("events.data") || host.contains("vortex") {
            Sched::Every(12, 20)
        } else {
            Sched::Occasional(20)
        };
    }
    if has("settings") {
        return if primary.contains(host) {
            Sched::Hourly
        } else {
            Sched::Every(8, 14)
        };
    }
    if has("windows-update") {
        if host.starts_with("fe3.")
            || host.starts_with("fe2.")
            || host.starts_with("sls")
            || host.contains(".update.microsoft.com")
        {
            return Sched::Daily;
        }
        if host.contains("dl.delivery")
            || host.contains("download.windowsupdate")
            || host.contains("tlu.")
            || (host.ends_with("windowsupdate.com") && !host.starts_with("ctldl"))
            || host.starts_with("definitionupdates")
        {
            return Sched::Download;
        }
        return Sched::Occasional(25);
    }
    if has("certificates") {
        return Sched::Daily;
    }
    if has("defender") {
        return if host.starts_with("wdcp.") || host.starts_with("ping-edge.") {
            Sched::Every(10, 16)
        } else {
            Sched::Occasional(20)
        };
    }
    if has("spotlight") {
        return if host.starts_with("arc.") {
            Sched::Every(6, 10)
        } else if host.contains("iris") {
            Sched::Every(12, 20)
        } else {
            Sched::Occasional(30)
        };
    }
    if host.contains(".wns.") {
        // The push notification channel reconnects a few times a day.
        return Sched::Every(12, 18);
    }
    if has("microsoft-store") || has("licensing") {
        return Sched::Occasional(25);
    }
    Sched::Occasional(15)
}

/// (up, down) byte ranges per flow.
fn sizes(sched: Sched, areas: &BTreeSet<String>, proto: Proto) -> ((u64, u64), (u64, u64)) {
    let has = |a: &str| areas.contains(a);
    match sched {
        Sched::Telemetry => ((3_000, 24_000), (120, 360)),
        Sched::Hourly => ((700, 1_400), (2_000, 7_000)),
        Sched::Ncsi => ((150, 200), (22, 22)),
        Sched::Download => ((2_000, 6_000), (800_000, 6_000_000)),
        Sched::Daily if has("windows-update") => ((12_000, 40_000), (30_000, 240_000)),
        Sched::Daily => ((300, 600), (20_000, 120_000)),
        _ if has("spotlight") => ((800, 2_500), (40_000, 600_000)),
        _ if has("microsoft-store") => ((1_000, 3_000), (5_000, 60_000)),
        _ if proto == Proto::Http => ((200, 500), (1_000, 30_000)),
        _ => ((500, 2_500), (2_000, 25_000)),
    }
}

/// Flow start offsets (ns after boot) over `days`.
fn schedule(s: Sched, days: u64, r: &mut Rng) -> Vec<u64> {
    let end = days * DAY;
    let boot = between(r, 20 * NS, 12 * MIN);
    let mut v = Vec::new();
    let periodic = |v: &mut Vec<u64>, r: &mut Rng, first: u64, lo: u64, hi: u64| {
        let mut t = first;
        while t < end {
            v.push(t);
            t += between(r, lo, hi);
        }
    };
    match s {
        Sched::Hourly => periodic(&mut v, r, boot, HOUR - MIN, HOUR + MIN),
        Sched::Telemetry => periodic(&mut v, r, boot, 15 * MIN, 30 * MIN),
        Sched::Ncsi => {
            let first = between(r, 2 * NS, 8 * NS);
            periodic(&mut v, r, first, 3 * HOUR, 5 * HOUR)
        }
        Sched::Every(lo, hi) => periodic(&mut v, r, boot, lo * HOUR, hi * HOUR),
        Sched::Daily => {
            v.push(boot);
            for d in 1..days {
                v.push(d * DAY + between(r, 0, DAY - HOUR));
            }
        }
        Sched::Download => {
            v.push(boot + between(r, 10 * MIN, 40 * MIN));
            for d in 1..days {
                if chance(r, 30) {
                    v.push(d * DAY + between(r, 0, DAY - HOUR));
                }
            }
        }
        Sched::Occasional(p) => {
            v.push(boot);
            let mut extra = false;
            for d in 0..days {
                if chance(r, p) {
                    v.push(d * DAY + between(r, HOUR, DAY - HOUR));
                    extra = true;
                }
            }
            if !extra && days > 1 {
                v.push(between(r, DAY, days * DAY - HOUR));
            }
        }
    }
    v.retain(|t| *t < end);
    v.sort_unstable();
    v
}

// ---------------------------------------------------------------------------------------------
// Capture assembly

struct Rec {
    ts_ns: u64,
    /// Ethernet frame, cut to the snap length.
    frame: Vec<u8>,
    orig_len: usize,
}

/// pcapng with one Ethernet interface, µs timestamps and a snap length, written by hand because
/// the shared synth writer always captures whole frames.
fn pcapng(recs: &[Rec], snaplen: usize, comment: &str) -> Vec<u8> {
    fn pad4(v: &mut Vec<u8>) {
        while !v.len().is_multiple_of(4) {
            v.push(0);
        }
    }
    fn opt(v: &mut Vec<u8>, code: u16, val: &[u8]) {
        v.extend_from_slice(&code.to_le_bytes());
        v.extend_from_slice(&(val.len() as u16).to_le_bytes());
        v.extend_from_slice(val);
        pad4(v);
    }
    fn block(out: &mut Vec<u8>, ty: u32, body: &[u8]) {
        let total = (12 + body.len()) as u32;
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(&total.to_le_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(&total.to_le_bytes());
    }
    let mut out = Vec::new();
    let mut b = Vec::new();
    b.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&(-1i64).to_le_bytes());
    opt(&mut b, 1, comment.as_bytes()); // opt_comment
    opt(&mut b, 4, b"egressmap examples/gen_week.rs"); // shb_userappl
    opt(&mut b, 0, &[]);
    block(&mut out, 0x0A0D_0D0A, &b);
    let mut b = Vec::new();
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&(snaplen as u32).to_le_bytes());
    opt(
        &mut b,
        2,
        b"\\Device\\NPF_{5B3F6D2E-9A41-4C7B-8E0D-2F6A1C9B7E34}",
    );
    opt(&mut b, 9, &[6]); // µs
    opt(&mut b, 0, &[]);
    block(&mut out, 1, &b);
    for r in recs {
        let ts = r.ts_ns / 1_000;
        let mut b = Vec::with_capacity(r.frame.len() + 24);
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        b.extend_from_slice(&(ts as u32).to_le_bytes());
        b.extend_from_slice(&(r.frame.len() as u32).to_le_bytes());
        b.extend_from_slice(&(r.orig_len as u32).to_le_bytes());
        b.extend_from_slice(&r.frame);
        pad4(&mut b);
        block(&mut out, 6, &b);
    }
    out
}

struct Week {
    recs: Vec<Rec>,
    snaplen: usize,
    /// Host -> (address, DNS answer expiry) in the client's resolver cache.
    dns_cache: HashMap<String, u64>,
    addr: BTreeMap<String, IpAddr>,
}

fn multicast_mac(ip: &IpAddr) -> [u8; 6] {
    match ip {
        IpAddr::V4(a) if a.is_broadcast() => [0xff; 6],
        IpAddr::V4(a) => {
            let o = a.octets();
            [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
        }
        IpAddr::V6(a) => {
            let o = a.octets();
            [0x33, 0x33, o[12], o[13], o[14], o[15]]
        }
    }
}

impl Week {
    fn push_ip(&mut self, ts_ns: u64, ip: &[u8], outgoing: bool) {
        let frame = Link::Ethernet.frame(ip, outgoing);
        self.push_frame(ts_ns, frame);
    }

    fn push_frame(&mut self, ts_ns: u64, mut frame: Vec<u8>) {
        let orig_len = frame.len();
        frame.truncate(self.snaplen);
        self.recs.push(Rec {
            ts_ns,
            frame,
            orig_len,
        });
    }

    /// LAN multicast/broadcast: frames to group MACs, from this host or another one.
    fn push_lan(&mut self, ts_ns: u64, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        let ip = net::udp_packet(src, dst, (ts_ns / 1000) as u16, 1, payload);
        let mut f = Vec::with_capacity(ip.len() + 14);
        let dst_mac = if dst.ip().is_multicast() || dst.ip() == IpAddr::V4(Ipv4Addr::BROADCAST) {
            multicast_mac(&dst.ip())
        } else if dst.ip() == IpAddr::V4(Ipv4Addr::new(192, 168, 1, 255)) {
            [0xff; 6]
        } else {
            synth::link::GATEWAY_MAC
        };
        let src_mac = if src.ip() == IpAddr::V4(client4()) || src.ip().is_unspecified() {
            host_mac()
        } else {
            synth::link::GATEWAY_MAC
        };
        f.extend_from_slice(&dst_mac);
        f.extend_from_slice(&src_mac);
        f.extend_from_slice(&synth::link::ethertype_of(&ip).to_be_bytes());
        f.extend_from_slice(&ip);
        self.push_frame(ts_ns, f);
    }

    fn pkts(&mut self, c: TcpConn) {
        for p in c.into_pkts() {
            self.push_ip(p.ts_ns, &p.ip, p.from_client);
        }
    }

    /// A DNS lookup through the LAN resolver unless the answer is still cached. Returns when
    /// the answer arrived.
    fn resolve(&mut self, t: u64, host: &str, v6: bool, cname: bool, r: &mut Rng) -> u64 {
        let key = format!("{host}/{v6}");
        if self.dns_cache.get(&key).is_some_and(|exp| *exp > t) {
            return t;
        }
        let addr = self.addr[host];
        let ttl = [300u32, 900, 1800, 3600, 3600][(r.next_u32() % 5) as usize];
        let id = r.next_u16();
        let qtype = if v6 { dns::TYPE_AAAA } else { dns::TYPE_A };
        let chain_names: Vec<String> = if cname {
            let first = host.split('.').next().unwrap_or("edge");
            vec![
                host.to_string(),
                format!("{host}.akadns.net"),
                format!("{first}-{}.a-0001.a-msedge.net", r.next_u16() % 40),
            ]
        } else {
            vec![host.to_string()]
        };
        let chain: Vec<&str> = chain_names.iter().map(String::as_str).collect();
        let answers = dns::cname_chain(&chain, &[addr], ttl);
        let port = 49152 + (r.next_u16() % 16000);
        let c = SocketAddr::new(IpAddr::V4(client4()), port);
        let s = SocketAddr::new(IpAddr::V4(GATEWAY4), 53);
        let q = dns::query(id, host, qtype);
        let a = dns::response(id, host, qtype, &answers, true);
        let rtt = between(r, 4, 40) * 1_000_000;
        self.push_ip(t, &net::udp_packet(c, s, id, 128, &q), true);
        self.push_ip(t + rtt, &net::udp_packet(s, c, id ^ 0x77, 64, &a), false);
        self.dns_cache.insert(key, t + rtt + u64::from(ttl) * NS);
        t + rtt + between(r, 1, 3) * 1_000_000
    }

    fn flow(&mut self, t: u64, tg: &Target, resumed: bool, r: &mut Rng) {
        let mut t = t;
        if !tg.nameless {
            t = self.resolve(t, &tg.host, tg.v6, tg.cname, r);
        }
        let client_ip = if tg.v6 {
            IpAddr::V6(client6())
        } else {
            IpAddr::V4(client4())
        };
        let client = SocketAddr::new(client_ip, 49152 + (r.next_u16() % 16000));
        let port = if tg.proto == Proto::Http { 80 } else { 443 };
        let server = SocketAddr::new(self.addr[&tg.host], port);
        let up = between(r, tg.up.0, tg.up.1) as usize;
        let down = between(r, tg.down.0, tg.down.1) as usize;
        let seed = r.next_u64();
        let mut c = TcpConn::new(client, server, 0, t, seed);
        c.half_rtt_ns = between(r, 4, 30) * 1_000_000;
        c.handshake();
        c.mss = COALESCED;
        match tg.proto {
            Proto::Tls => {
                let ch = tls::ClientHello {
                    sni: (!tg.nameless).then(|| tg.host.clone()),
                    ech: tg.ech,
                    seed,
                    ..Default::default()
                };
                c.client_push(&ch.records(), &[]);
                // The first connection gets the certificate chain; later ones resume (PSK).
                let flight: &[usize] = if resumed {
                    &[36, 53]
                } else {
                    &[2_900, 264, 53]
                };
                c.server_push(&tls::server_flight(seed, false, flight), &[]);
                let mut req = tls::client_finished(seed ^ 1);
                req.extend_from_slice(&tls::app_data(seed ^ 2, &records(up)));
                c.client_push(&req, &[]);
                c.server_push(&tls::app_data(seed ^ 3, &records(down)), &[]);
            }
            Proto::Http => {
                let path = tg.path.clone().unwrap_or_else(|| "/".to_string());
                let mut req = http::request(
                    "GET",
                    &path,
                    &[
                        ("Connection", "Keep-Alive"),
                        ("Accept", "*/*"),
                        ("User-Agent", "Microsoft-CryptoAPI/10.0"),
                        ("Host", &tg.host),
                    ],
                );
                if up > req.len() {
                    // A cookie makes up the rest of a real request (kept under the snap length
                    // so the request line and Host header are always captured).
                    let want = up.min(self.snaplen - 80);
                    if want > req.len() + 16 {
                        req.truncate(req.len() - 2);
                        let pad = "x".repeat(want - req.len() - 14);
                        req.extend_from_slice(format!("Cookie: MUID={pad}\r\n\r\n").as_bytes());
                    }
                }
                c.client_push(&req, &[]);
                let body = if tg.host.contains("msftconnecttest") {
                    b"Microsoft Connect Test".to_vec()
                } else {
                    Rng::new(seed).bytes(down)
                };
                let resp = http::response(
                    200,
                    "OK",
                    &[("Content-Type", "application/octet-stream")],
                    &body,
                );
                c.server_push(&resp, &[]);
            }
        }
        if tg.sched != Sched::Telemetry && chance(r, 50) {
            c.close();
        } else {
            let (seq, ack) = (c.c_next, c.s_next);
            let p = c.raw(true, seq, ack, RST | ACK, &[], &[]);
            c.pkts.push(p);
        }
        self.pkts(c);
    }
}

/// TLS application-data record sizes carrying `n` bytes.
fn records(n: usize) -> Vec<usize> {
    let mut v = Vec::new();
    let mut left = n.max(1);
    while left > 0 {
        let s = left.min(16_384);
        v.push(s);
        left -= s;
    }
    v
}

/// Public addresses per operator, so a host lands where its kind of service lives.
fn address_pool(host: &str, v6: bool) -> (u32, u32) {
    if v6 {
        return (0, 0);
    }
    let base = |a: u8, b: u8| u32::from_be_bytes([a, b, 0, 0]);
    let dom = |d: &str| host == d || host.ends_with(&format!(".{d}"));
    if dom("msn.com") || dom("bing.com") || dom("msn.net") {
        (base(204, 79), 0x0000_ffff)
    } else if dom("windowsupdate.com") || host.contains("akamai") || dom("akamaized.net") {
        (base(23, 32), 0x001f_ffff)
    } else if dom("live.com") || dom("live.net") || dom("msauth.net") {
        (base(40, 126), 0x0000_ffff)
    } else if dom("azureedge.net") || dom("azurefd.net") || dom("msedge.net") || dom("sfx.ms") {
        (base(13, 107), 0x0000_ffff)
    } else if dom("google.com") || dom("googleapis.com") {
        (base(142, 250), 0x0000_ffff)
    } else if host.contains("microsoft") || dom("windows.com") || dom("windows.net") {
        (base(20, 0), 0x00ff_ffff)
    } else {
        (base(104, 16), 0x000f_ffff)
    }
}

fn allocate(hosts: &[(String, bool)], seed: u64) -> BTreeMap<String, IpAddr> {
    let mut taken: BTreeSet<IpAddr> = BTreeSet::new();
    let mut out = BTreeMap::new();
    for (h, v6) in hosts {
        let mut k = fnv(seed, &[h, "addr"]);
        loop {
            let a = if *v6 {
                let lo = (k & 0xffff) as u16;
                IpAddr::V6(Ipv6Addr::new(0x2620, 0x1ec, 0xc11, 0, 0, 0, 0, lo | 1))
            } else {
                let (b, mask) = address_pool(h, false);
                let mut x = b | ((k as u32) & mask);
                if x & 0xff == 0 || x & 0xff == 255 {
                    x ^= 7;
                }
                IpAddr::V4(Ipv4Addr::from(x))
            };
            if egressmap::decode::addr::is_public(&a) && taken.insert(a) {
                out.insert(h.clone(), a);
                break;
            }
            k = k.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// LAN noise (out of scope for the report: private, multicast and broadcast destinations)

fn dhcp(kind: u8, xid: u32, ciaddr: Ipv4Addr) -> Vec<u8> {
    let mut p = vec![1u8, 1, 6, 0];
    p.extend_from_slice(&xid.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0]);
    p.extend_from_slice(&ciaddr.octets());
    p.extend_from_slice(&[0; 12]); // yiaddr, siaddr, giaddr
    p.extend_from_slice(&host_mac());
    p.extend_from_slice(&[0; 10 + 64 + 128]);
    p.extend_from_slice(&[99, 130, 83, 99, 53, 1, kind]);
    p.extend_from_slice(&[61, 7, 1]);
    p.extend_from_slice(&host_mac());
    let name = client_name();
    match naming() {
        Naming::Dhcp => {
            p.extend_from_slice(&[12, name.len() as u8]);
            p.extend_from_slice(name.as_bytes());
        }
        // Option 81 (RFC 4702) in ASCII (E flag clear): flags, RCODE1, RCODE2, the FQDN.
        Naming::Nbns => {
            let fqdn = client_fqdn();
            p.extend_from_slice(&[81, 3 + fqdn.len() as u8, 0x00, 0, 0]);
            p.extend_from_slice(fqdn.as_bytes());
        }
        Naming::Ptr => {}
    }
    p.extend_from_slice(&[55, 5, 1, 3, 6, 15, 119, 255]);
    p
}

/// The machine's DHCP FQDN (option 81) when it registers its name over NetBIOS.
fn client_fqdn() -> String {
    format!("{}.corp.example", client_name().to_ascii_lowercase())
}

/// The name the LAN resolver gives the machine's address (its PTR record).
fn client_ptr_name() -> String {
    format!("{}.lan", client_name().to_ascii_lowercase())
}

/// The server's DHCP ACK of `xid`: op 2, `yiaddr` = the machine's address, its MAC in `chaddr`,
/// message type 5, server identifier, lease time (24 h), subnet mask, router, DNS server.
fn dhcp_ack(xid: u32) -> Vec<u8> {
    let mut p = vec![2u8, 1, 6, 0];
    p.extend_from_slice(&xid.to_be_bytes());
    p.extend_from_slice(&[0; 8]); // secs, flags, ciaddr
    p.extend_from_slice(&client4().octets());
    p.extend_from_slice(&[0; 8]); // siaddr, giaddr
    p.extend_from_slice(&host_mac());
    p.extend_from_slice(&[0; 10 + 64 + 128]);
    p.extend_from_slice(&[99, 130, 83, 99, 53, 1, 5, 54, 4]);
    p.extend_from_slice(&GATEWAY4.octets());
    p.extend_from_slice(&[51, 4, 0, 1, 0x51, 0x80, 1, 4, 255, 255, 255, 0, 3, 4]);
    p.extend_from_slice(&GATEWAY4.octets());
    p.extend_from_slice(&[6, 4]);
    p.extend_from_slice(&GATEWAY4.octets());
    p.push(255);
    p
}

/// A NetBIOS name registration request (RFC 1002 4.2.2) as a B-node broadcasts it: `name`
/// padded to 15 bytes plus its suffix, the NB record (TTL 300000 s) with the machine's
/// address; `group` for a workgroup name.
fn nbns_registration(id: u16, name: &str, suffix: u8, group: bool) -> Vec<u8> {
    // Flags: request, opcode 5 (registration), RD, broadcast.
    let mut p = id.to_be_bytes().to_vec();
    p.extend_from_slice(&[0x29, 0x10, 0, 1, 0, 0, 0, 0, 0, 1]);
    let mut n = [b' '; 16];
    for (d, s) in n.iter_mut().zip(name.bytes().take(15)) {
        *d = s.to_ascii_uppercase();
    }
    n[15] = suffix;
    p.push(32);
    for c in n {
        p.push(b'A' + (c >> 4));
        p.push(b'A' + (c & 0xf));
    }
    p.extend_from_slice(&[0, 0, 0x20, 0, 1]);
    // Additional record: pointer to the question name, NB, IN, TTL, 6 bytes of NB data.
    p.extend_from_slice(&[0xc0, 0x0c, 0, 0x20, 0, 1, 0, 0x04, 0x93, 0xe0, 0, 6]);
    p.extend_from_slice(&[if group { 0x80 } else { 0 }, 0]);
    p.extend_from_slice(&client4().octets());
    p
}

/// How the machine tells its name beyond DHCP: NetBIOS registrations at boot (three tries
/// each, 750 ms apart, as a B-node does) and the server's ACK of its DHCP REQUEST; or the
/// PTR lookup of its own address, answered by the LAN resolver.
fn naming_packets(w: &mut Week, t0: u64, xid: u32, seed: u64) {
    let mut r = Rng::new(fnv(seed, &["naming"]));
    let any68 = SocketAddr::new(IpAddr::V4(Ipv4Addr::BROADCAST), 68);
    let gw = |p: u16| SocketAddr::new(IpAddr::V4(GATEWAY4), p);
    let me = |p: u16| SocketAddr::new(IpAddr::V4(client4()), p);
    match naming() {
        Naming::Dhcp => {}
        Naming::Nbns => {
            w.push_lan(t0 + NS + 3 * MS, gw(67), any68, &dhcp_ack(xid));
            let subnet = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 255)), 137);
            let name = client_name();
            let mut t = t0 + 2 * NS;
            for (n, suffix, group) in [
                (name.as_str(), 0x00, false),
                (name.as_str(), 0x20, false),
                ("WORKGROUP", 0x00, true),
            ] {
                let id = r.next_u16();
                for k in 0..3 {
                    let q = nbns_registration(id, n, suffix, group);
                    w.push_lan(t + k * 750 * MS, me(137), subnet, &q);
                }
                t += 10 * MS;
            }
        }
        Naming::Ptr => {
            let o = client4().octets();
            let rev = format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0]);
            let id = r.next_u16();
            let answer = dns::Record {
                name: rev.clone(),
                ttl: 3600,
                data: dns::RData::Ptr(client_ptr_name()),
            };
            let c = me(49152 + r.next_u16() % 16000);
            let q = dns::query(id, &rev, dns::TYPE_PTR);
            let a = dns::response(id, &rev, dns::TYPE_PTR, &[answer], true);
            let t = t0 + 3 * NS;
            w.push_ip(t, &net::udp_packet(c, gw(53), id, 128, &q), true);
            w.push_ip(
                t + 4 * MS,
                &net::udp_packet(gw(53), c, id ^ 0x77, 64, &a),
                false,
            );
        }
    }
}

fn lan_noise(w: &mut Week, days: u64, seed: u64) {
    let t0 = START_NS;
    let mut r = Rng::new(fnv(seed, &["lan"]));
    let me = |p: u16| SocketAddr::new(IpAddr::V4(client4()), p);
    let gw = |p: u16| SocketAddr::new(IpAddr::V4(GATEWAY4), p);
    let group = |a: [u8; 4], p: u16| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), p);
    let end = days * DAY;
    // DHCP at boot (broadcast), renewals at half the 24 h lease (unicast to the server).
    let xid = r.next_u32();
    let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 68);
    let bcast = SocketAddr::new(IpAddr::V4(Ipv4Addr::BROADCAST), 67);
    w.push_lan(
        t0 + NS / 2,
        any,
        bcast,
        &dhcp(1, xid, Ipv4Addr::UNSPECIFIED),
    );
    w.push_lan(t0 + NS, any, bcast, &dhcp(3, xid, Ipv4Addr::UNSPECIFIED));
    naming_packets(w, t0, xid, seed);
    let mut t = 12 * HOUR;
    while t < end {
        w.push_lan(t0 + t, me(68), gw(67), &dhcp(3, r.next_u32(), client4()));
        t += 12 * HOUR;
    }
    // SSDP discovery from this host, NOTIFY from the router.
    let search = b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: urn:dial-multiscreen-org:service:dial:1\r\n\r\n";
    let notify = b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\nLOCATION: http://192.168.1.1:5000/rootDesc.xml\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\nUSN: uuid:3f1a2b4c-0000-1000-8000-00155d0a0001::upnp:rootdevice\r\n\r\n";
    let mut t = 30 * NS;
    while t < end {
        let p = 49152 + r.next_u16() % 16000;
        for k in 0..2 {
            w.push_lan(
                t0 + t + k * NS,
                me(p),
                group([239, 255, 255, 250], 1900),
                search,
            );
        }
        t += between(&mut r, 2 * HOUR, 4 * HOUR);
    }
    let mut t = 5 * MIN;
    while t < end {
        w.push_lan(t0 + t, gw(1900), group([239, 255, 255, 250], 1900), notify);
        t += HOUR;
    }
    // mDNS and LLMNR name lookups.
    let mut t = 40 * NS;
    while t < end {
        let q = dns::query(0, "_googlecast._tcp.local", 12);
        w.push_lan(t0 + t, me(5353), group([224, 0, 0, 251], 5353), &q);
        t += between(&mut r, 50 * MIN, 130 * MIN);
    }
    let mut t = 9 * NS;
    while t < end {
        let q = dns::query(r.next_u16(), "wpad", dns::TYPE_A);
        let p = 49152 + r.next_u16() % 16000;
        w.push_lan(t0 + t, me(p), group([224, 0, 0, 252], 5355), &q);
        t += between(&mut r, 3 * HOUR, 8 * HOUR);
    }
}

// ---------------------------------------------------------------------------------------------

/// One machine's traffic, sorted by time.
fn week(a: &Args) -> Vec<Rec> {
    let db = Database::builtin().unwrap_or_else(|e| panic!("signatures: {e}"));
    if !db
        .builds()
        .iter()
        .any(|b| egressmap::signatures::same_build(b, &a.build))
    {
        eprintln!(
            "unknown build {}; known: {}",
            a.build,
            db.builds().join(", ")
        );
        std::process::exit(2);
    }
    for x in &a.off {
        if db.area(x).is_none() {
            let known: Vec<&str> = db.areas().iter().map(|d| d.id.as_str()).collect();
            eprintln!("unknown area {x:?} in --off; known: {}", known.join(", "));
            std::process::exit(2);
        }
    }
    let mut any = Matcher::new(&db, None, None);
    let mut this = Matcher::new(&db, Some(&a.build), Some(&a.edition));

    // The page: pattern -> (areas, protocols).
    let mut page: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for e in db.endpoints_for(Some(&a.build), Some(&a.edition)) {
        let ent = page.entry(e.pattern.clone()).or_default();
        ent.0.extend(e.areas.iter().cloned());
        ent.1.extend(e.protocols.iter().cloned());
    }
    if page.is_empty() {
        eprintln!("no endpoints documented for {} {}", a.build, a.edition);
        std::process::exit(2);
    }

    // Documented hosts, one target per distinct (host, path).
    // (host, path, areas, protocols)
    type Raw = (String, Option<String>, BTreeSet<String>, BTreeSet<String>);
    let mut raw: Vec<Raw> = Vec::new();
    let mut skipped = Vec::new();
    for (pat, (areas, protos)) in &page {
        let p = Pattern::from_text(pat);
        let h = fnv(a.seed, &[pat, "inst"]);
        let Some(host) = instantiate(&p.host, h) else {
            skipped.push(pat.clone());
            continue;
        };
        // Some documented endpoints stay silent all week (the report must list them).
        if fnv(a.seed, &[pat, "silent"]) % 100 < 7 {
            continue;
        }
        let path = p.path.clone();
        if !p.matches(&host, path.as_deref()) || !any.lookup(&host, path.as_deref()).is_match() {
            skipped.push(pat.clone());
            continue;
        }
        match raw.iter_mut().find(|t| t.0 == host && t.1 == path) {
            Some(t) => {
                t.2.extend(areas.iter().cloned());
                t.3.extend(protos.iter().cloned());
            }
            None => raw.push((host, path, areas.clone(), protos.clone())),
        }
    }
    // Primary telemetry and settings hosts: the busiest of their areas.
    let mut primary = BTreeSet::new();
    for (area, prefs) in [
        (
            "diagnostic-data",
            &[
                "v10.events.data",
                "v10.vortex-win",
                "vortex-win",
                "events.data",
                "vortex",
            ][..],
        ),
        ("settings", &["settings-win", "settings"][..]),
    ] {
        let hosts: Vec<&String> = raw
            .iter()
            .filter(|t| t.2.contains(area))
            .map(|t| &t.0)
            .collect();
        let pick = prefs
            .iter()
            .find_map(|p| hosts.iter().find(|h| h.contains(p)))
            .or(hosts.first());
        if let Some(h) = pick {
            primary.insert((*h).clone());
        }
    }

    let mut targets: Vec<Target> = Vec::new();
    for (host, path, page_areas, protos) in raw {
        let tls_ok = protos.iter().any(|p| p != "HTTP");
        let http_ok = protos.contains("HTTP") || protos.is_empty();
        let ncsi = host.contains("msftconnecttest") || host.contains("msftncsi");
        // Certificate lists and OCSP travel over plain HTTP whatever else the page lists.
        let crypto = page_areas.contains("certificates") || host.starts_with("ocsp.");
        let proto = if ncsi || (http_ok && (!tls_ok || path.is_some() || crypto)) {
            Proto::Http
        } else {
            Proto::Tls
        };
        let mut areas = page_areas.clone();
        let p = if proto == Proto::Http {
            path.as_deref().or(Some("/"))
        } else {
            None
        };
        // What the setting turns off is the build's own area for the host: the page's, and what
        // matching restricted to this build says (`audit --build B --edition E`).
        areas.extend(this.lookup(&host, p).areas.iter().cloned());
        let sched = plan_for(&host, &page_areas, &primary);
        let (up, down) = sizes(sched, &page_areas, proto);
        let h = fnv(a.seed, &[&host, "shape"]);
        targets.push(Target {
            v6: host.starts_with("ipv6."),
            cname: h.is_multiple_of(3),
            host,
            path,
            proto,
            sched,
            up,
            down,
            areas,
            ech: false,
            nameless: false,
        });
    }

    // Undocumented Microsoft names, third parties, ECH and name-less flows.
    for name in UNDOCUMENTED_MS {
        if any.lookup(name, Some("/")).is_match() || !db.is_microsoft_domain(name) {
            continue;
        }
        let every = 10 + fnv(a.seed, &[name]) % 8;
        targets.push(extra(name, Proto::Tls, Sched::Every(every, every + 4)));
    }
    for (name, http) in THIRD_PARTY {
        if any.lookup(name, Some("/")).is_match() {
            continue;
        }
        let proto = if *http { Proto::Http } else { Proto::Tls };
        targets.push(extra(name, proto, Sched::Occasional(20)));
    }
    let mut ech = extra("cloudflare-ech.com", Proto::Tls, Sched::Occasional(30));
    ech.ech = true;
    targets.push(ech);
    for name in ["nosni-a.invalid", "nosni-b.invalid"] {
        let mut t = extra(name, Proto::Tls, Sched::Occasional(20));
        t.nameless = true;
        targets.push(t);
    }

    // Addresses for every host before `--off`, so the pair shares them.
    let hosts: Vec<(String, bool)> = targets.iter().map(|t| (t.host.clone(), t.v6)).collect();
    let addr = allocate(&hosts, a.seed);
    let before = targets.len();
    targets.retain(|t| !t.areas.iter().any(|x| a.off.contains(x)));
    let removed = before - targets.len();

    let mut w = Week {
        recs: Vec::new(),
        snaplen: a.snaplen,
        dns_cache: HashMap::new(),
        addr,
    };
    let mut events: Vec<(u64, usize)> = Vec::new();
    let mut rngs: Vec<Rng> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let mut r = Rng::new(fnv(a.seed, &[&t.host, t.path.as_deref().unwrap_or("")]));
        for off in schedule(t.sched, a.days, &mut r) {
            events.push((off + between(&mut r, 0, 999) * 1_000_000, i));
        }
        rngs.push(r);
    }
    events.sort_unstable();
    let mut connected = vec![false; targets.len()];
    for (off, i) in &events {
        let t = &targets[*i];
        let mut r = Rng::new(rngs[*i].next_u64());
        w.flow(START_NS + off, t, connected[*i], &mut r);
        connected[*i] = true;
    }
    lan_noise(&mut w, a.days, a.seed);
    w.recs.sort_by_key(|r| r.ts_ns);
    eprintln!(
        "{} {} (client {}): {} packets, {} flows to {} hosts ({} removed by --off, {} patterns not instantiable: {})",
        a.build,
        a.edition,
        client4(),
        w.recs.len(),
        events.len(),
        targets.len(),
        removed,
        skipped.len(),
        skipped.join(" "),
    );
    w.recs
}

/// `--fleet 1809:enterprise:3:31,...:nbns`: (build, edition, seed, last address octet, naming).
fn parse_fleet(v: &str) -> Vec<(String, String, u64, u8, Naming)> {
    v.split(',')
        .map(|m| {
            let f: Vec<&str> = m.split(':').collect();
            let naming = match f.get(4).copied() {
                None | Some("dhcp") => Naming::Dhcp,
                Some("nbns") => Naming::Nbns,
                Some("ptr") => Naming::Ptr,
                Some(_) => usage(),
            };
            match f[..] {
                [b, e, seed, octet] | [b, e, seed, octet, _] => (
                    b.to_string(),
                    e.to_string(),
                    seed.parse().unwrap_or_else(|_| usage()),
                    octet.parse().unwrap_or_else(|_| usage()),
                    naming,
                ),
                _ => usage(),
            }
        })
        .collect()
}

fn main() {
    let a = parse_args();
    let mut recs = Vec::new();
    let comment = if a.fleet.is_empty() {
        recs = week(&a);
        format!(
            "synthetic idle week: Windows {} {}, {} days, seed {}{}",
            a.build,
            a.edition,
            a.days,
            a.seed,
            if a.off.is_empty() {
                String::new()
            } else {
                format!(", off: {}", a.off.join(","))
            }
        )
    } else {
        // Several machines on one mirror port: each its own address, MAC and DHCP name.
        let mut what = Vec::new();
        for (build, edition, seed, octet, naming) in &a.fleet {
            MACHINE.with(|m| m.set(*octet));
            NAMING.with(|n| n.set(*naming));
            synth::link::set_host_mac([0x00, 0x15, 0x5d, 0x0a, 0x00, *octet]);
            let one = Args {
                build: build.clone(),
                edition: edition.clone(),
                seed: *seed,
                fleet: Vec::new(),
                out: a.out.clone(),
                off: a.off.clone(),
                ..a
            };
            recs.extend(week(&one));
            what.push(format!("{} {} at {}", build, edition, client4()));
        }
        recs.sort_by_key(|r| r.ts_ns);
        format!(
            "synthetic idle fleet, {} days: Windows {}",
            a.days,
            what.join(", ")
        )
    };
    let bytes = pcapng(&recs, a.snaplen, &comment);
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    std::fs::write(&a.out, &bytes).unwrap_or_else(|e| panic!("{}: {e}", a.out.display()));
    eprintln!(
        "{}: {} packets, {} bytes",
        a.out.display(),
        recs.len(),
        bytes.len()
    );
}

fn extra(name: &str, proto: Proto, sched: Sched) -> Target {
    Target {
        host: name.to_string(),
        path: None,
        proto,
        sched,
        up: (400, 2_000),
        down: (1_500, 20_000),
        v6: false,
        cname: false,
        areas: BTreeSet::new(),
        ech: false,
        nameless: false,
    }
}
