//! Writes a realistic mirror-port capture of any size, for benchmarks and throughput baselines.
//!
//! ```text
//! cargo run --release --example gen_traffic -- --size 1GiB --out /tmp/traffic.pcap \
//!     [--seed N] [--clients 500] [--format pcap|pcapng] [--duration 3h] [--sites 2000]
//! ```
//!
//! Many Windows clients (10.20.x.y) behind one router talk to public servers over a few hours of
//! simulated time: DNS lookups (A, often AAAA, CNAME chains, cached per client for the TTL), then
//! TLS 1.3 to the answered address (a fifth of ClientHellos post-quantum sized and split over two
//! TCP segments), plain HTTP (NCSI, CTL/CRL/OCSP fetches), QUIC-looking UDP 443, NTP, and LAN
//! noise (ARP, SSDP, mDNS). Browsing also reaches a long tail of generated sites (`--sites`,
//! incl. blob.core.windows.net / azureedge.net names) so name matching sees many SNIs. A few
//! Windows Update / Office downloads of tens of MB (HTTP or TLS, MSS-sized segments, mostly an
//! ACK every second segment) carry ~60% of the bytes while short telemetry connections make up
//! most TCP flows: the shape a classifier meets on a real uplink.
//!
//! Deterministic for a given seed and size: all randomness comes from `synth::rng::Rng`.
//! Sessions are generated in start-time order and merged by timestamp through a heap, so the
//! file is time-ordered with flows interleaved, and memory stays bounded by what overlaps.
//! `--size` is the target file size; generation stops starting sessions once the written plus
//! pending bytes reach it, so the file ends a little over the target with every flow complete.

#[path = "synth/mod.rs"]
mod synth;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::time::Instant;
use synth::capture::{PcapWriter, PcapngWriter};
use synth::dns;
use synth::net::{self, ACK, PSH};
use synth::rng::Rng;
use synth::tcp::{udp_pkt, Pkt, TcpConn};
use synth::tls;

const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;
/// 2024-03-12T08:00:00Z, a Patch Tuesday morning.
const START_NS: u64 = 1_710_230_400 * SEC;
const ROUTER_MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x01];
/// Multicast group MACs of SSDP (239.255.255.250) and mDNS (224.0.0.251).
const SSDP_MAC: [u8; 6] = [0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa];
const MDNS_MAC: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb];
const RESOLVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 53);
const ETH_IPV4: u16 = 0x0800;
const ETH_ARP: u16 = 0x0806;
/// Share of bytes the bulk downloads are steered to.
const BULK_SHARE: f64 = 0.6;
const SNAPLEN: u32 = 262_144;

// ---------------------------------------------------------------------------------------------
// Name data

#[derive(Clone, Copy, PartialEq)]
enum Prov {
    Microsoft,
    Akamai,
    Google,
    Meta,
    Cloudflare,
    Amazon,
    GitHub,
    Fastly,
    Other,
}

impl Prov {
    /// First two octets of the provider's address blocks (public, plausible for each).
    fn prefixes(self) -> &'static [[u8; 2]] {
        match self {
            Prov::Microsoft => &[
                [20, 42],
                [20, 189],
                [13, 107],
                [40, 126],
                [52, 168],
                [52, 113],
                [20, 190],
                [13, 89],
                [51, 104],
            ],
            Prov::Akamai => &[[23, 32], [23, 45], [23, 55], [104, 73], [2, 16], [184, 28]],
            Prov::Google => &[[142, 250], [172, 217], [216, 58], [142, 251]],
            Prov::Meta => &[[157, 240], [31, 13]],
            Prov::Cloudflare => &[[104, 16], [104, 18], [172, 64], [162, 159]],
            Prov::Amazon => &[[52, 94], [54, 239], [18, 160], [3, 33]],
            Prov::GitHub => &[[140, 82]],
            Prov::Fastly => &[[151, 101], [199, 232]],
            Prov::Other => &[[93, 184], [198, 35], [208, 80], [170, 114], [192, 229]],
        }
    }

    fn has_ipv6(self) -> bool {
        matches!(
            self,
            Prov::Google | Prov::Meta | Prov::Cloudflare | Prov::Akamai
        )
    }
}

struct HostDef {
    name: &'static str,
    /// CNAME targets in order; the last one owns the addresses.
    chain: &'static [&'static str],
    prov: Prov,
    ttl: u32,
}

const fn h(name: &'static str, chain: &'static [&'static str], prov: Prov, ttl: u32) -> HostDef {
    HostDef {
        name,
        chain,
        prov,
        ttl,
    }
}

use Prov::*;

#[rustfmt::skip]
static HOSTS: &[HostDef] = &[
    // Microsoft: telemetry, settings, push, identity, store, update, Defender, Office, Edge.
    h("settings-win.data.microsoft.com", &["atm-settingsfe-prod-geo2.trafficmanager.net", "settings-prod-weu-1.westeurope.cloudapp.azure.com"], Microsoft, 300),
    h("v10.events.data.microsoft.com", &["global.asimov.events.data.trafficmanager.net", "onedscolprdweu04.westeurope.cloudapp.azure.com"], Microsoft, 300),
    h("v20.events.data.microsoft.com", &["global.asimov.events.data.trafficmanager.net", "onedscolprdweu04.westeurope.cloudapp.azure.com"], Microsoft, 300),
    h("self.events.data.microsoft.com", &["self-events-data.trafficmanager.net", "onedscolprdneu07.northeurope.cloudapp.azure.com"], Microsoft, 300),
    h("watson.events.data.microsoft.com", &["umwatsonc.events.data.microsoft.com", "umwatsonc.trafficmanager.net", "umwatson-weu.westeurope.cloudapp.azure.com"], Microsoft, 600),
    h("client.wns.windows.com", &["wns.notify.trafficmanager.net", "client.wns.windows.com.akadns.net"], Microsoft, 600),
    h("db5p.wns.windows.com", &[], Microsoft, 3600),
    h("bn3p.wns.windows.com", &[], Microsoft, 3600),
    h("wns2-ln2p.wns.windows.com", &[], Microsoft, 3600),
    h("login.live.com", &["login.msa.msidentity.com", "www.tm.lg.prod.aadmsa.trafficmanager.net", "prdv4a.aadg.msidentity.com"], Microsoft, 300),
    h("fe3cr.delivery.mp.microsoft.com", &["glb.cws.prod.dcat.dsp.trafficmanager.net"], Microsoft, 300),
    h("slscr.update.microsoft.com", &["glb.sls.prod.dcat.dsp.trafficmanager.net"], Microsoft, 300),
    h("tsfe.trafficshaping.dsp.mp.microsoft.com", &["tsfe.trafficshaping.dsp.mp.microsoft.com.akadns.net"], Microsoft, 300),
    h("displaycatalog.mp.microsoft.com", &["displaycatalog-rp.md.mp.microsoft.com.akadns.net", "displaycatalog-rp-europe.md.mp.microsoft.com.akadns.net"], Microsoft, 300),
    h("arc.msn.com", &["arc.trafficmanager.net", "iris-de-prod-azsc-v2-weu.westeurope.cloudapp.azure.com"], Microsoft, 300),
    h("ris.api.iris.microsoft.com", &["ris-prod.trafficmanager.net", "asf-ris-prod-weu.westeurope.cloudapp.azure.com"], Microsoft, 300),
    h("login.microsoftonline.com", &["login.mso.msidentity.com", "ak.privatelink.msidentity.com", "www.tm.ak.prd.aadg.trafficmanager.net"], Microsoft, 300),
    h("graph.microsoft.com", &["ags.privatelink.msidentity.com", "www.tm.prd.ags.trafficmanager.net"], Microsoft, 300),
    h("outlook.office365.com", &["outlook.ha.office365.com", "outlook.ms-acdc.office.com"], Microsoft, 300),
    h("ecs.office.com", &["ecs.office.trafficmanager.net", "s-0005.s-msedge.net"], Microsoft, 300),
    h("config.edge.skype.com", &["config.edge.skype.com.trafficmanager.net", "s-0006.s-msedge.net"], Microsoft, 300),
    h("edge.microsoft.com", &["edge-microsoft-com.dual-a-0036.a-msedge.net", "dual-a-0036.a-msedge.net"], Microsoft, 300),
    h("nav.smartscreen.microsoft.com", &["wd-prod-ss.trafficmanager.net", "wd-prod-ss-eu-west-1-fe.westeurope.cloudapp.azure.com"], Microsoft, 300),
    h("wdcp.microsoft.com", &["wdcp.microsoft.akadns.net"], Microsoft, 300),
    h("go.microsoft.com", &["go.microsoft.com.edgekey.net", "e11290.dspg.akamaiedge.net"], Akamai, 300),
    h("api.msn.com", &["api-msn-com.a-0003.a-msedge.net", "a-0003.a-msedge.net"], Microsoft, 300),
    h("www.bing.com", &["www-www.bing.com.trafficmanager.net", "www.bing.com.edgekey.net", "e86303.dscx.akamaiedge.net"], Akamai, 300),
    h("www.msftconnecttest.com", &["ncsi-geo.trafficmanager.net", "www.msftncsi.com.edgesuite.net", "a1961.g2.akamai.net"], Akamai, 60),
    h("ctldl.windowsupdate.com", &["ctldl.windowsupdate.com.delivery.microsoft.com", "wu-f-net.trafficmanager.net", "cds.d2s7q6s2.hwcdn.net"], Other, 300),
    h("crl.microsoft.com", &["crl.www.ms.akadns.net", "a1363.dscg.akamai.net"], Akamai, 300),
    h("dl.delivery.mp.microsoft.com", &["dl.delivery.mp.microsoft.com.edgesuite.net", "a767.dspw65.akamai.net"], Akamai, 300),
    h("7.tlu.dl.delivery.mp.microsoft.com", &["7.tlu.dl.delivery.mp.microsoft.com-c.edgesuite.net", "a1887.dscd.akamai.net"], Akamai, 300),
    h("download.windowsupdate.com", &["download.windowsupdate.com.delivery.microsoft.com", "wu-f-net.trafficmanager.net", "cds.d2s7q6s2.hwcdn.net"], Other, 300),
    h("officecdn.microsoft.com", &["officecdn.microsoft.com.edgesuite.net", "a1769.dscd.akamai.net"], Akamai, 300),
    h("definitionupdates.microsoft.com", &["definitionupdates.microsoft.com.edgekey.net", "e8652.dscx.akamaiedge.net"], Akamai, 300),
    h("img-prod-cms-rt-microsoft-com.akamaized.net", &["a1449.dscg2.akamai.net"], Akamai, 300),
    h("time.windows.com", &["twc.trafficmanager.net"], Microsoft, 600),
    h("dns.msftncsi.com", &[], Microsoft, 3600),
    // Everything else a corporate desktop reaches.
    h("www.google.com", &[], Google, 300),
    h("fonts.gstatic.com", &[], Google, 300),
    h("www.youtube.com", &["youtube-ui.l.google.com"], Google, 300),
    h("i.ytimg.com", &[], Google, 300),
    h("accounts.google.com", &[], Google, 300),
    h("update.googleapis.com", &[], Google, 300),
    h("ocsp.pki.goog", &["pki-goog.l.google.com"], Google, 300),
    h("www.facebook.com", &["star-mini.c10r.facebook.com"], Meta, 60),
    h("static.xx.fbcdn.net", &["scontent.xx.fbcdn.net"], Meta, 60),
    h("github.com", &[], GitHub, 60),
    h("api.github.com", &[], GitHub, 60),
    h("slack.com", &[], Amazon, 60),
    h("zoom.us", &[], Other, 60),
    h("en.wikipedia.org", &["dyna.wikimedia.org"], Other, 600),
    h("cdn.jsdelivr.net", &["cdn.jsdelivr.net.cdn.cloudflare.net"], Cloudflare, 300),
    h("cdnjs.cloudflare.com", &[], Cloudflare, 300),
    h("www.amazon.com", &["tp.47cf2c8c9-frontier.amazon.com", "d3ag4hukkh62yn.cloudfront.net"], Amazon, 60),
    h("www.apple.com", &["www.apple.com.edgekey.net", "e6858.dscx.akamaiedge.net"], Akamai, 300),
    h("www.reddit.com", &["reddit.map.fastly.net"], Fastly, 300),
    h("ocsp.digicert.com", &["ocsp.edge.digicert.com", "fp2e7a.wpc.phicdn.net"], Other, 300),
    h("teams.microsoft.com", &["teams-office-com.s-0005.dc-msedge.net", "s-0005.dc-msedge.net"], Microsoft, 300),
];

/// (host, weight). Short Microsoft TLS connections: the flow-count bulk of the capture.
static TELEMETRY: &[(&str, u32)] = &[
    ("settings-win.data.microsoft.com", 20),
    ("v10.events.data.microsoft.com", 25),
    ("v20.events.data.microsoft.com", 10),
    ("self.events.data.microsoft.com", 5),
    ("watson.events.data.microsoft.com", 2),
    ("client.wns.windows.com", 8),
    ("db5p.wns.windows.com", 5),
    ("bn3p.wns.windows.com", 5),
    ("wns2-ln2p.wns.windows.com", 3),
    ("login.live.com", 8),
    ("fe3cr.delivery.mp.microsoft.com", 4),
    ("slscr.update.microsoft.com", 3),
    ("tsfe.trafficshaping.dsp.mp.microsoft.com", 2),
    ("displaycatalog.mp.microsoft.com", 3),
    ("arc.msn.com", 4),
    ("ris.api.iris.microsoft.com", 3),
    ("login.microsoftonline.com", 6),
    ("graph.microsoft.com", 4),
    ("outlook.office365.com", 5),
    ("ecs.office.com", 4),
    ("config.edge.skype.com", 4),
    ("edge.microsoft.com", 3),
    ("nav.smartscreen.microsoft.com", 5),
    ("wdcp.microsoft.com", 3),
    ("api.msn.com", 3),
    ("teams.microsoft.com", 4),
];

/// Browsing: larger responses, mostly non-Microsoft.
static WEB: &[(&str, u32)] = &[
    ("www.google.com", 12),
    ("fonts.gstatic.com", 6),
    ("www.youtube.com", 5),
    ("i.ytimg.com", 4),
    ("accounts.google.com", 3),
    ("update.googleapis.com", 2),
    ("www.facebook.com", 4),
    ("static.xx.fbcdn.net", 3),
    ("github.com", 4),
    ("api.github.com", 2),
    ("slack.com", 3),
    ("zoom.us", 2),
    ("en.wikipedia.org", 3),
    ("cdn.jsdelivr.net", 2),
    ("cdnjs.cloudflare.com", 2),
    ("www.amazon.com", 3),
    ("www.apple.com", 2),
    ("www.reddit.com", 2),
    ("www.bing.com", 5),
    ("go.microsoft.com", 2),
    ("img-prod-cms-rt-microsoft-com.akamaized.net", 3),
    ("teams.microsoft.com", 2),
];

/// Google/Meta properties that prefer QUIC.
static QUIC: &[(&str, u32)] = &[
    ("www.google.com", 8),
    ("www.youtube.com", 5),
    ("i.ytimg.com", 4),
    ("fonts.gstatic.com", 4),
    ("accounts.google.com", 2),
    ("www.facebook.com", 3),
    ("static.xx.fbcdn.net", 2),
];

/// Plain HTTP: (host, weight).
static HTTP: &[(&str, u32)] = &[
    ("www.msftconnecttest.com", 6),
    ("ctldl.windowsupdate.com", 5),
    ("crl.microsoft.com", 2),
    ("ocsp.digicert.com", 3),
    ("ocsp.pki.goog", 2),
];

static BULK_HTTP: &[(&str, u32)] = &[
    ("7.tlu.dl.delivery.mp.microsoft.com", 4),
    ("dl.delivery.mp.microsoft.com", 2),
    ("download.windowsupdate.com", 3),
];

static BULK_TLS: &[(&str, u32)] = &[
    ("officecdn.microsoft.com", 3),
    ("dl.delivery.mp.microsoft.com", 2),
    ("definitionupdates.microsoft.com", 2),
];

fn fnv(s: &str) -> u64 {
    let mut x = 0xcbf2_9ce4_8422_2325u64;
    for b in s.bytes() {
        x = (x ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    x
}

struct Host {
    def: &'static HostDef,
    v4: Vec<Ipv4Addr>,
    v6: Vec<Ipv6Addr>,
}

impl Host {
    /// Addresses derive from the name that owns them, so names sharing a CNAME target share
    /// addresses (as v10/v20.events do), which a DNS-based attributor has to cope with.
    fn new(def: &'static HostDef) -> Self {
        let owner = def.chain.last().copied().unwrap_or(def.name);
        let x = fnv(owner);
        let pfx = def.prov.prefixes();
        let p = pfx[(x % pfx.len() as u64) as usize];
        let n = 1 + (x >> 8) % 4;
        let v4 = (0..n)
            .map(|i| {
                let y = x.rotate_left(13 * i as u32 + 7);
                Ipv4Addr::new(
                    p[0],
                    p[1] ^ ((y >> 40) as u8 & 3),
                    (y >> 16) as u8,
                    1 + (y % 253) as u8,
                )
            })
            .collect();
        let v6 = if def.prov.has_ipv6() {
            let seg = (x >> 32) as u16;
            vec![Ipv6Addr::new(0x2a00, 0x1450, 0x4001, seg, 0, 0, 0, 0x2004)]
        } else {
            Vec::new()
        };
        Host { def, v4, v6 }
    }
}

struct Table {
    items: Vec<(usize, u32)>,
    total: u32,
}

impl Table {
    fn new(index: &HashMap<&str, usize>, src: &[(&str, u32)]) -> Self {
        let items: Vec<(usize, u32)> = src
            .iter()
            .map(|(n, w)| {
                (
                    *index.get(n).unwrap_or_else(|| panic!("unknown host {n}")),
                    *w,
                )
            })
            .collect();
        let total = items.iter().map(|i| i.1).sum();
        Table { items, total }
    }

    fn pick(&self, r: &mut Rng) -> usize {
        let mut x = below(r, u64::from(self.total)) as u32;
        for &(i, w) in &self.items {
            if x < w {
                return i;
            }
            x -= w;
        }
        self.items[0].0
    }
}

// ---------------------------------------------------------------------------------------------
// Randomness helpers

fn below(r: &mut Rng, n: u64) -> u64 {
    ((u128::from(r.next_u64()) * u128::from(n.max(1))) >> 64) as u64
}

fn range(r: &mut Rng, lo: u64, hi: u64) -> u64 {
    lo + below(r, hi.saturating_sub(lo) + 1)
}

fn chance(r: &mut Rng, p: f64) -> bool {
    unit(r) < p
}

fn unit(r: &mut Rng) -> f64 {
    (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Exponential with the given mean (Poisson arrivals).
fn expo(r: &mut Rng, mean: f64) -> u64 {
    (-(1.0 - unit(r)).ln() * mean) as u64
}

/// Log-uniform between lo and hi: many small, a few large.
fn log_range(r: &mut Rng, lo: u64, hi: u64) -> u64 {
    let (a, b) = ((lo.max(1) as f64).ln(), (hi.max(2) as f64).ln());
    (a + unit(r) * (b - a)).exp() as u64
}

fn hex(r: &mut Rng, n: usize) -> String {
    let mut s = String::with_capacity(n);
    for _ in 0..n {
        s.push(char::from(b"0123456789abcdef"[below(r, 16) as usize]));
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Output

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Dns,
    Tls,
    Http,
    Quic,
    BulkHttp,
    BulkTls,
    Ntp,
    Ssdp,
    Mdns,
    Arp,
}

const KINDS: [Kind; 10] = [
    Kind::Dns,
    Kind::Tls,
    Kind::Http,
    Kind::Quic,
    Kind::BulkHttp,
    Kind::BulkTls,
    Kind::Ntp,
    Kind::Ssdp,
    Kind::Mdns,
    Kind::Arp,
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Dns => "dns",
            Kind::Tls => "tls",
            Kind::Http => "http",
            Kind::Quic => "quic",
            Kind::BulkHttp => "bulk_http",
            Kind::BulkTls => "bulk_tls",
            Kind::Ntp => "ntp",
            Kind::Ssdp => "ssdp",
            Kind::Mdns => "mdns",
            Kind::Arp => "arp",
        }
    }
}

/// One frame waiting to be written: Ethernet addresses + type, then the L3 bytes.
struct Ev {
    ts: u64,
    dst: [u8; 6],
    src: [u8; 6],
    ethertype: u16,
    kind: Kind,
    data: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Pcap,
    Pcapng,
}

struct Sink {
    w: BufWriter<File>,
    format: Format,
    file_bytes: u64,
    packets: u64,
    pkts_by_kind: HashMap<Kind, u64>,
    bytes_by_kind: HashMap<Kind, u64>,
}

/// A switch pads short frames to the 60-byte Ethernet minimum before mirroring them.
fn frame_len(l3: usize) -> usize {
    (14 + l3).max(60)
}

impl Sink {
    fn new(path: &str, format: Format) -> std::io::Result<Self> {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
        let header = match format {
            Format::Pcap => PcapWriter::new(1, SNAPLEN, false, false).into_bytes(),
            Format::Pcapng => {
                let mut p = PcapngWriter::new("egressmap gen_traffic");
                p.add_interface(1, SNAPLEN, "mirror0", 6);
                p.into_bytes()
            }
        };
        w.write_all(&header)?;
        Ok(Sink {
            w,
            format,
            file_bytes: header.len() as u64,
            packets: 0,
            pkts_by_kind: HashMap::new(),
            bytes_by_kind: HashMap::new(),
        })
    }

    fn record_len(&self, l3: usize) -> u64 {
        let f = frame_len(l3) as u64;
        match self.format {
            Format::Pcap => 16 + f,
            Format::Pcapng => 32 + f.div_ceil(4) * 4,
        }
    }

    fn write(&mut self, ev: &Ev) -> std::io::Result<()> {
        let flen = frame_len(ev.data.len());
        let us = ev.ts / US;
        match self.format {
            Format::Pcap => {
                let mut hdr = [0u8; 16];
                hdr[0..4].copy_from_slice(&((us / 1_000_000) as u32).to_le_bytes());
                hdr[4..8].copy_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
                hdr[8..12].copy_from_slice(&(flen as u32).to_le_bytes());
                hdr[12..16].copy_from_slice(&(flen as u32).to_le_bytes());
                self.w.write_all(&hdr)?;
            }
            Format::Pcapng => {
                let total = 32 + flen.div_ceil(4) * 4;
                let mut hdr = [0u8; 28];
                hdr[0..4].copy_from_slice(&6u32.to_le_bytes());
                hdr[4..8].copy_from_slice(&(total as u32).to_le_bytes());
                hdr[8..12].copy_from_slice(&0u32.to_le_bytes());
                hdr[12..16].copy_from_slice(&((us >> 32) as u32).to_le_bytes());
                hdr[16..20].copy_from_slice(&(us as u32).to_le_bytes());
                hdr[20..24].copy_from_slice(&(flen as u32).to_le_bytes());
                hdr[24..28].copy_from_slice(&(flen as u32).to_le_bytes());
                self.w.write_all(&hdr)?;
            }
        }
        let mut eth = [0u8; 14];
        eth[0..6].copy_from_slice(&ev.dst);
        eth[6..12].copy_from_slice(&ev.src);
        eth[12..14].copy_from_slice(&ev.ethertype.to_be_bytes());
        self.w.write_all(&eth)?;
        self.w.write_all(&ev.data)?;
        let pad = flen - 14 - ev.data.len();
        let zeros = [0u8; 64];
        self.w.write_all(&zeros[..pad])?;
        if self.format == Format::Pcapng {
            let total = 32 + flen.div_ceil(4) * 4;
            self.w.write_all(&zeros[..flen.div_ceil(4) * 4 - flen])?;
            self.w.write_all(&(total as u32).to_le_bytes())?;
        }
        let rec = self.record_len(ev.data.len());
        self.file_bytes += rec;
        self.packets += 1;
        *self.pkts_by_kind.entry(ev.kind).or_default() += 1;
        *self.bytes_by_kind.entry(ev.kind).or_default() += flen as u64;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Generation

struct Client {
    ip: Ipv4Addr,
    mac: [u8; 6],
    next_port: u16,
    /// host index -> (expiry, answered address)
    cache: HashMap<usize, (u64, Ipv4Addr)>,
}

impl Client {
    fn port(&mut self) -> u16 {
        let p = self.next_port;
        self.next_port = if p >= 65_000 { 49_152 } else { p + 1 };
        p
    }

    fn subnet(&self) -> [u8; 3] {
        let o = self.ip.octets();
        [o[0], o[1], o[2]]
    }
}

/// One session's frames before they are merged into the capture.
struct Sess {
    evs: Vec<Ev>,
    pos: usize,
}

#[derive(Default)]
struct Stats {
    flows: HashMap<Kind, u64>,
    tls_pq: u64,
    sni: HashSet<&'static str>,
    http_host: HashSet<&'static str>,
    dns_names: HashSet<&'static str>,
    dns_queries: u64,
}

struct Gen {
    r: Rng,
    hosts: Vec<Host>,
    clients: Vec<Client>,
    telemetry: Table,
    web: Table,
    /// Host indices of the generated long-tail sites.
    tail: std::ops::Range<usize>,
    quic: Table,
    http: Table,
    bulk_http: Table,
    bulk_tls: Table,
    index: HashMap<&'static str, usize>,
    stats: Stats,
    /// Frames of the session being built.
    evs: Vec<Ev>,
    client: usize,
    size: u64,
    /// File bytes generated so far (all sessions, incl. pending) and of those in bulk sessions.
    gen_bytes: u64,
    bulk_bytes: u64,
    next_bulk: u64,
}

impl Gen {
    fn cl(&mut self) -> &mut Client {
        &mut self.clients[self.client]
    }

    /// Adds synthesized IP packets of the current client as frames via the router.
    fn add_pkts(&mut self, pkts: Vec<Pkt>, kind: Kind) {
        let mac = self.clients[self.client].mac;
        for p in pkts {
            let (dst, src) = if p.from_client {
                (ROUTER_MAC, mac)
            } else {
                (mac, ROUTER_MAC)
            };
            self.frame(p.ts_ns, (dst, src), ETH_IPV4, kind, p.ip);
        }
    }

    /// Queues one Ethernet frame (`(dst, src)` MACs) carrying `data`.
    fn frame(
        &mut self,
        ts: u64,
        (dst, src): ([u8; 6], [u8; 6]),
        ethertype: u16,
        kind: Kind,
        data: Vec<u8>,
    ) {
        self.evs.push(Ev {
            ts,
            dst,
            src,
            ethertype,
            kind,
            data,
        });
    }

    fn flow(&mut self, k: Kind) {
        *self.stats.flows.entry(k).or_default() += 1;
    }

    fn client_ip(&self) -> IpAddr {
        IpAddr::V4(self.clients[self.client].ip)
    }

    /// One UDP DNS exchange in its own flow (Windows picks a fresh port per query).
    fn dns_exchange(
        &mut self,
        t: u64,
        qname: &'static str,
        qtype: u16,
        answers: &[dns::Record],
        rcode: u16,
    ) -> u64 {
        let id = self.r.next_u16();
        let port = self.cl().port();
        let c = SocketAddr::new(self.client_ip(), port);
        let s = SocketAddr::new(IpAddr::V4(RESOLVER), 53);
        let q = dns::query(id, qname, qtype);
        let resp = if rcode == 0 {
            dns::response(id, qname, qtype, answers, true)
        } else {
            let mut m = dns::MessageBuilder::new(id, 0x8180 | rcode, 1, 0, true);
            m.question(qname, qtype);
            m.finish()
        };
        // Cached at the resolver (sub-ms) or recursed (tens of ms).
        let delay = if chance(&mut self.r, 0.6) {
            range(&mut self.r, 300 * US, 2 * MS)
        } else {
            range(&mut self.r, 8 * MS, 90 * MS)
        };
        let ident = self.r.next_u16();
        let pkts = vec![
            udp_pkt(c, s, ident, t, true, 0, &q),
            udp_pkt(s, c, self.r.next_u16(), t + delay, false, 0, &resp),
        ];
        self.add_pkts(pkts, Kind::Dns);
        self.flow(Kind::Dns);
        self.stats.dns_queries += 1;
        self.stats.dns_names.insert(qname);
        t + delay
    }

    /// Resolves `host` for the current client unless its cache still holds it; returns the
    /// address to connect to and the time the answer arrived.
    fn resolve(&mut self, host: usize, t: u64, force: bool) -> (Ipv4Addr, u64) {
        if !force {
            if let Some(&(exp, ip)) = self.clients[self.client].cache.get(&host) {
                if exp > t {
                    return (ip, t);
                }
            }
        }
        let hd = &self.hosts[host];
        let def = hd.def;
        let mut names: Vec<&str> = vec![def.name];
        names.extend_from_slice(def.chain);
        // Resolvers rotate the address set.
        let mut v4: Vec<IpAddr> = hd.v4.iter().map(|a| IpAddr::V4(*a)).collect();
        let rot = below(&mut self.r, v4.len() as u64) as usize;
        v4.rotate_left(rot);
        let v6: Vec<IpAddr> = hd.v6.iter().map(|a| IpAddr::V6(*a)).collect();
        let ttl = def.ttl;
        let a = dns::cname_chain(&names, &v4, ttl);
        let mut done = self.dns_exchange(t, def.name, dns::TYPE_A, &a, 0);
        if chance(&mut self.r, 0.5) {
            // AAAA in parallel: addresses where the provider has them, else only the chain.
            let aaaa = dns::cname_chain(&names, &v6, ttl);
            let t6 = t + range(&mut self.r, 50 * US, 400 * US);
            done = done.max(self.dns_exchange(t6, def.name, dns::TYPE_AAAA, &aaaa, 0));
        }
        let ip = match v4[0] {
            IpAddr::V4(a) => a,
            IpAddr::V6(_) => unreachable!(),
        };
        let exp = t + u64::from(ttl) * SEC;
        self.cl().cache.insert(host, (exp, ip));
        (ip, done + range(&mut self.r, 100 * US, 3 * MS))
    }

    fn conn(&mut self, server: Ipv4Addr, port: u16, t: u64) -> TcpConn {
        let cport = self.cl().port();
        let c = SocketAddr::new(self.client_ip(), cport);
        let s = SocketAddr::V4(SocketAddrV4::new(server, port));
        let mut tc = TcpConn::new(c, s, 0, t, self.r.next_u64());
        tc.half_rtt_ns = range(&mut self.r, 2 * MS, 60 * MS) / 2;
        tc.gap_ns = range(&mut self.r, 10 * US, 80 * US);
        tc
    }

    fn client_hello(&mut self, sni: &'static str) -> tls::ClientHello {
        let pq = chance(&mut self.r, 0.2);
        if pq {
            self.stats.tls_pq += 1;
        }
        self.stats.sni.insert(sni);
        tls::ClientHello {
            sni: Some(sni.to_string()),
            post_quantum: pq,
            // Chromium pads to 1800 with GREASE/ECH; Edge-like non-PQ hellos to 512; schannel not at all.
            pad_to: if pq {
                Some(1800)
            } else if chance(&mut self.r, 0.4) {
                Some(512)
            } else {
                None
            },
            alpn: if chance(&mut self.r, 0.5) {
                vec!["h2".into(), "http/1.1".into()]
            } else {
                vec!["http/1.1".into()]
            },
            seed: self.r.next_u64(),
            ..Default::default()
        }
    }

    /// Handshake + TLS handshake; returns whether the hello was post-quantum.
    fn tls_open(&mut self, c: &mut TcpConn, sni: &'static str) -> bool {
        c.handshake();
        let ch = self.client_hello(sni);
        // A PQ hello (~1.8 kB) goes out as MSS + remainder: two segments.
        c.client_send(&ch.records(), &[]);
        let cert = range(&mut self.r, 2400, 5200) as usize;
        let flight = tls::server_flight(self.r.next_u64(), ch.post_quantum, &[32, cert, 264, 53]);
        c.server_send(&flight, &[]);
        ch.post_quantum
    }

    /// Server payload streamed in MSS-sized segments with an ACK every second segment, as a
    /// bulk transfer looks on the wire. `head` goes first; `body` bytes of random content follow,
    /// wrapped in 16 kB application-data records when `tls`.
    fn stream_down(&mut self, c: &mut TcpConn, head: &[u8], body: u64, tls: bool, mbps: u64) {
        let mss = c.mss;
        let (gap, rtt) = (c.gap_ns, c.half_rtt_ns);
        c.gap_ns = (frame_len(mss + 40) as u64 * 8 * 1000 / mbps.max(1)).max(1);
        c.half_rtt_ns = range(&mut self.r, 20 * US, 120 * US);
        let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
        buf.extend_from_slice(head);
        let mut off = 0usize;
        let mut left = body;
        let mut n = 0u64;
        // Delayed ACK (every second segment) mostly; some receivers ACK every segment.
        let ack_every = if chance(&mut self.r, 0.35) { 1 } else { 2 };
        loop {
            if buf.len() - off < mss && left > 0 {
                buf.drain(..off);
                off = 0;
                while buf.len() < mss && left > 0 {
                    if tls {
                        let frag = left.min(16_384 + 17) as usize;
                        buf.extend_from_slice(&[tls::CT_APPLICATION_DATA, 3, 3]);
                        buf.extend_from_slice(&(frag as u16).to_be_bytes());
                        let at = buf.len();
                        buf.resize(at + frag, 0);
                        self.r.fill(&mut buf[at..]);
                        left -= frag as u64;
                    } else {
                        let chunk = left.min(16_384) as usize;
                        let at = buf.len();
                        buf.resize(at + chunk, 0);
                        self.r.fill(&mut buf[at..]);
                        left -= chunk as u64;
                    }
                }
            }
            let avail = buf.len() - off;
            if avail == 0 {
                break;
            }
            let len = avail.min(mss);
            let last = left == 0 && len == avail;
            let flags = if last { ACK | PSH } else { ACK };
            let (seq, ack) = (c.s_next, c.c_next);
            let p = c.raw(false, seq, ack, flags, &[], &buf[off..off + len]);
            c.s_next = c.s_next.wrapping_add(len as u32);
            c.pkts.push(p);
            off += len;
            n += 1;
            if n.is_multiple_of(ack_every) || last {
                let (seq, ack) = (c.c_next, c.s_next);
                let p = c.raw(true, seq, ack, ACK, &[], &[]);
                c.pkts.push(p);
            }
            if last {
                break;
            }
        }
        c.gap_ns = gap;
        c.half_rtt_ns = rtt;
    }

    fn tls_app_data(&mut self, n: u64) -> Vec<u8> {
        let mut sizes = Vec::new();
        let mut left = n.max(1);
        while left > 0 {
            let s = left.min(16_384);
            sizes.push(s as usize + 17);
            left -= s;
        }
        tls::app_data(self.r.next_u64(), &sizes)
    }

    /// DNS (unless cached) then one HTTPS connection with `rounds` request/response pairs.
    fn tls_session(&mut self, host: usize, t: u64, up: (u64, u64), down: (u64, u64), rounds: u64) {
        let name = self.hosts[host].def.name;
        let (ip, t) = self.resolve(host, t, false);
        let mut c = self.conn(ip, 443, t);
        self.tls_open(&mut c, name);
        let mut fin = tls::client_finished(self.r.next_u64());
        let mut first = true;
        for _ in 0..rounds {
            let req_len = log_range(&mut self.r, up.0, up.1);
            let req = self.tls_app_data(req_len);
            if first {
                fin.extend_from_slice(&req);
                c.client_send(&fin, &[]);
                first = false;
            } else {
                c.t_ns += range(&mut self.r, MS, 2 * SEC);
                c.client_send(&req, &[]);
            }
            let resp_len = log_range(&mut self.r, down.0, down.1);
            if resp_len > 24_000 {
                let mbps = range(&mut self.r, 20, 300);
                self.stream_down(&mut c, &[], resp_len, true, mbps);
            } else {
                let resp = self.tls_app_data(resp_len);
                c.server_send(&resp, &[]);
            }
        }
        // Idle keep-alive before the client closes.
        c.t_ns += log_range(&mut self.r, 20 * MS, 30 * SEC);
        c.close();
        self.add_pkts(c.into_pkts(), Kind::Tls);
        self.flow(Kind::Tls);
    }

    fn http_session(&mut self, host: usize, t: u64) {
        let name = self.hosts[host].def.name;
        let (ip, t) = self.resolve(host, t, false);
        let mut c = self.conn(ip, 80, t);
        self.stats.http_host.insert(name);
        let mut ocsp_body: Option<Vec<u8>> = None;
        let (req, status, ctype, body_len): (Vec<u8>, u16, &str, u64) = match name {
            "www.msftconnecttest.com" => (
                synth::http::request(
                    "GET",
                    "/connecttest.txt",
                    &[
                        ("Connection", "Close"),
                        ("User-Agent", "Microsoft NCSI"),
                        ("Host", name),
                    ],
                ),
                200,
                "text/plain",
                22,
            ),
            "ctldl.windowsupdate.com" => {
                let file = if chance(&mut self.r, 0.5) {
                    "disallowedcertstl.cab"
                } else {
                    "pinrulesstl.cab"
                };
                let target = format!(
                    "/msdownload/update/v3/static/trustedr/en/{file}?{}",
                    hex(&mut self.r, 16)
                );
                (
                    synth::http::request(
                        "GET",
                        &target,
                        &[
                            ("Connection", "Keep-Alive"),
                            ("Accept", "*/*"),
                            ("If-Modified-Since", "Tue, 05 Mar 2024 19:25:40 GMT"),
                            ("User-Agent", "Microsoft-CryptoAPI/10.0"),
                            ("Host", name),
                        ],
                    ),
                    200,
                    "application/vnd.ms-cab-compressed",
                    range(&mut self.r, 6_000, 40_000),
                )
            }
            "crl.microsoft.com" => (
                synth::http::request(
                    "GET",
                    "/pki/crl/products/MicCodSigPCA2011_2011-07-08.crl",
                    &[
                        ("Cache-Control", "max-age = 900"),
                        ("Connection", "Keep-Alive"),
                        ("If-Modified-Since", "Fri, 01 Mar 2024 18:01:25 GMT"),
                        ("Accept", "*/*"),
                        ("User-Agent", "Microsoft-CryptoAPI/10.0"),
                        ("Host", name),
                    ],
                ),
                304, // CryptoAPI revalidates with If-Modified-Since; usually unchanged.
                "application/pkix-crl",
                0,
            ),
            _ => {
                let mut req = synth::http::request(
                    "POST",
                    "/",
                    &[
                        ("Cache-Control", "no-cache"),
                        ("Connection", "Keep-Alive"),
                        ("Content-Type", "application/ocsp-request"),
                        ("Content-Length", "83"),
                        ("User-Agent", "Microsoft-CryptoAPI/10.0"),
                        ("Host", name),
                    ],
                );
                let (ocsp_req, ocsp_resp) = ocsp(&mut self.r);
                ocsp_body = Some(ocsp_resp.clone());
                req.extend_from_slice(&ocsp_req);
                (
                    req,
                    200,
                    "application/ocsp-response",
                    ocsp_resp.len() as u64,
                )
            }
        };
        let body = match name {
            "www.msftconnecttest.com" => b"Microsoft Connect Test".to_vec(),
            "ocsp.digicert.com" | "ocsp.pki.goog" => ocsp_body.take().unwrap_or_default(),
            _ => {
                let mut b = vec![0u8; body_len as usize];
                self.r.fill(&mut b);
                b
            }
        };
        let resp = synth::http::response(
            status,
            if status == 304 { "Not Modified" } else { "OK" },
            &[
                ("Content-Type", ctype),
                ("Server", "ECAcc (dcd/7D5A)"),
                ("Cache-Control", "max-age=900"),
            ],
            &body,
        );
        c.handshake();
        c.client_send(&req, &[]);
        c.server_send(&resp, &[]);
        c.t_ns += log_range(&mut self.r, MS, 5 * SEC);
        c.close();
        self.add_pkts(c.into_pkts(), Kind::Http);
        self.flow(Kind::Http);
    }

    /// A QUIC v1 connection as seen on the wire: client Initial padded to 1250 bytes, server
    /// Initial+Handshake flight, then short-header 1-RTT packets both ways. Payloads are random
    /// (not sealed), so the SNI is not recoverable from it; the name comes from DNS. Swap in real
    /// Initial sealing here if synth gains it.
    fn quic_flow(&mut self, server: Ipv4Addr, _sni: &'static str, t: u64) -> Vec<Pkt> {
        let r = &mut self.r;
        let cport = {
            let p = self.clients[self.client].next_port;
            self.clients[self.client].next_port = if p >= 65_000 { 49_152 } else { p + 1 };
            p
        };
        let c = SocketAddr::new(IpAddr::V4(self.clients[self.client].ip), cport);
        let s = SocketAddr::V4(SocketAddrV4::new(server, 443));
        let rtt = range(r, 4 * MS, 50 * MS);
        let mut dcid = [0u8; 8];
        r.fill(&mut dcid);
        let mut scid = [0u8; 8];
        r.fill(&mut scid);
        let long = |r: &mut Rng, ty: u8, dcid: &[u8], scid: &[u8], len: usize| -> Vec<u8> {
            let mut v = vec![0xc3 | (ty << 4), 0, 0, 0, 1, dcid.len() as u8];
            v.extend_from_slice(dcid);
            v.push(scid.len() as u8);
            v.extend_from_slice(scid);
            if ty == 0 {
                v.push(0); // token length
            }
            let body = len.saturating_sub(v.len() + 2).max(20);
            v.extend_from_slice(&(0x4000u16 | body as u16).to_be_bytes());
            let at = v.len();
            v.resize(at + body, 0);
            r.fill(&mut v[at..]);
            v
        };
        let short = |r: &mut Rng, dcid: &[u8], len: usize| -> Vec<u8> {
            let mut v = vec![0x40 | (r.next_u32() as u8 & 0x3f)];
            v.extend_from_slice(dcid);
            let at = v.len();
            v.resize(len.max(at + 20), 0);
            r.fill(&mut v[at..]);
            v
        };
        let mut pkts = Vec::new();
        let (mut ci, mut si) = (r.next_u16(), r.next_u16());
        let mut up = |pkts: &mut Vec<Pkt>, ts: u64, d: &[u8]| {
            ci = ci.wrapping_add(1);
            pkts.push(udp_pkt(c, s, ci, ts, true, 0, d));
        };
        let mut t = t;
        up(&mut pkts, t, &long(r, 0, &dcid, &[], 1250));
        t += rtt;
        let mut down = |pkts: &mut Vec<Pkt>, ts: u64, d: &[u8]| {
            si = si.wrapping_add(1);
            pkts.push(udp_pkt(s, c, si, ts, false, 0, d));
        };
        // Server Initial (ServerHello) coalesced with Handshake (certs).
        let mut d = long(r, 0, &[], &scid, 180);
        d.extend_from_slice(&long(r, 2, &[], &scid, 1020));
        down(&mut pkts, t, &d);
        down(&mut pkts, t + 30 * US, &long(r, 2, &[], &scid, 1200));
        down(&mut pkts, t + 60 * US, &{
            let n = range(r, 300, 900) as usize;
            long(r, 2, &[], &scid, n)
        });
        t += rtt + 200 * US;
        // Client Initial ACK + Handshake Finished, padded, then the first request.
        let mut d = long(r, 0, &scid, &[], 60);
        d.extend_from_slice(&long(r, 2, &scid, &[], 1190));
        up(&mut pkts, t, &d);
        up(&mut pkts, t + 40 * US, &{
            let n = range(r, 200, 900) as usize;
            short(r, &scid, n)
        });
        t += rtt;
        let n = log_range(r, 3, 200);
        let gap = range(r, 40 * US, 400 * US);
        for i in 0..n {
            down(&mut pkts, t, &{
                let len = if i + 1 == n {
                    range(r, 40, 1250) as usize
                } else {
                    1250
                };
                short(r, &[], len)
            });
            t += gap;
            if i % 4 == 3 || i + 1 == n {
                up(&mut pkts, t + 10 * US, &{
                    let n = range(r, 35, 60) as usize;
                    short(r, &scid, n)
                });
            }
        }
        // Idle, then the client's CONNECTION_CLOSE.
        t += log_range(r, 50 * MS, 20 * SEC);
        up(&mut pkts, t, &short(r, &scid, 45));
        pkts
    }

    fn quic_session(&mut self, host: usize, t: u64) {
        let name = self.hosts[host].def.name;
        // QUIC names are only visible through DNS here, so always look up.
        let (ip, t) = self.resolve(host, t, true);
        let pkts = self.quic_flow(ip, name, t);
        self.add_pkts(pkts, Kind::Quic);
        self.flow(Kind::Quic);
    }

    /// A Windows Update / Delivery Optimization download over plain HTTP.
    fn bulk_http(&mut self, host: usize, t: u64, size: u64) {
        let name = self.hosts[host].def.name;
        let (ip, t) = self.resolve(host, t, false);
        let mut c = self.conn(ip, 80, t);
        self.stats.http_host.insert(name);
        let target = if name == "download.windowsupdate.com" {
            format!(
                "/c/msdownload/update/software/secu/2024/03/windows10.0-kb5035845-x64_{}.cab",
                hex(&mut self.r, 40)
            )
        } else {
            format!(
                "/filestreamingservice/files/{}-{}-{}?P1=1710{}&P2=404&P3=2&P4={}",
                hex(&mut self.r, 8),
                hex(&mut self.r, 4),
                hex(&mut self.r, 12),
                range(&mut self.r, 100_000, 999_999),
                hex(&mut self.r, 24)
            )
        };
        let req = synth::http::request(
            "GET",
            &target,
            &[
                ("Connection", "Keep-Alive"),
                ("Accept", "*/*"),
                ("Range", &format!("bytes=0-{}", size - 1)),
                ("User-Agent", "Microsoft-Delivery-Optimization/10.0"),
                ("MS-CV", &hex(&mut self.r, 22)),
                ("Content-Length", "0"),
                ("Host", name),
            ],
        );
        let head = format!("HTTP/1.1 206 Partial Content\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-{}/{size}\r\nContent-Length: {size}\r\nServer: ECAcc (dcd/7D43)\r\nCache-Control: public, max-age=17280000\r\nAccept-Ranges: bytes\r\n\r\n", size - 1);
        c.handshake();
        c.client_send(&req, &[]);
        let mbps = range(&mut self.r, 60, 400);
        self.stream_down(&mut c, head.as_bytes(), size, false, mbps);
        c.t_ns += range(&mut self.r, 10 * MS, 2 * SEC);
        c.close();
        self.add_pkts(c.into_pkts(), Kind::BulkHttp);
        self.flow(Kind::BulkHttp);
    }

    fn bulk_tls(&mut self, host: usize, t: u64, size: u64) {
        let name = self.hosts[host].def.name;
        let (ip, t) = self.resolve(host, t, false);
        let mut c = self.conn(ip, 443, t);
        self.tls_open(&mut c, name);
        let mut fin = tls::client_finished(self.r.next_u64());
        let n = range(&mut self.r, 300, 900);
        let req = self.tls_app_data(n);
        fin.extend_from_slice(&req);
        c.client_send(&fin, &[]);
        let mbps = range(&mut self.r, 60, 400);
        self.stream_down(&mut c, &[], size, true, mbps);
        c.t_ns += range(&mut self.r, 10 * MS, 2 * SEC);
        c.close();
        self.add_pkts(c.into_pkts(), Kind::BulkTls);
        self.flow(Kind::BulkTls);
    }

    /// DNS lookups with no TCP after them: NCSI's dns.msftncsi.com, NTP's time.windows.com
    /// (followed by an NTP exchange), and NXDOMAINs for WPAD and a domain controller.
    fn dns_only(&mut self, t: u64) {
        match below(&mut self.r, 4) {
            0 => {
                let ans = [dns::Record {
                    name: "dns.msftncsi.com".into(),
                    ttl: 3600,
                    data: dns::RData::A(Ipv4Addr::new(131, 107, 255, 255)),
                }];
                self.dns_exchange(t, "dns.msftncsi.com", dns::TYPE_A, &ans, 0);
            }
            1 => {
                let host = self.index["time.windows.com"];
                let (ip, t) = self.resolve(host, t, true);
                let port = self.cl().port();
                let c = SocketAddr::new(self.client_ip(), port);
                let s = SocketAddr::V4(SocketAddrV4::new(ip, 123));
                let mut q = vec![0u8; 48];
                q[0] = 0x23; // v4, client
                self.r.fill(&mut q[40..]);
                let mut a = vec![0u8; 48];
                a[0] = 0x24; // v4, server
                a[1] = 2;
                self.r.fill(&mut a[4..]);
                let rtt = range(&mut self.r, 5 * MS, 40 * MS);
                let pkts = vec![
                    udp_pkt(c, s, self.r.next_u16(), t, true, 0, &q),
                    udp_pkt(s, c, self.r.next_u16(), t + rtt, false, 0, &a),
                ];
                self.add_pkts(pkts, Kind::Ntp);
                self.flow(Kind::Ntp);
            }
            2 => {
                self.dns_exchange(t, "wpad.corp.contoso.com", dns::TYPE_A, &[], 3);
            }
            _ => {
                self.dns_exchange(
                    t,
                    "_ldap._tcp.dc._msdcs.corp.contoso.com",
                    dns::TYPE_A,
                    &[],
                    3,
                );
            }
        }
    }

    /// Broadcast/multicast chatter a mirror port sees on any office LAN.
    fn lan_noise(&mut self, t: u64) {
        let mac = self.clients[self.client].mac;
        let ip = self.clients[self.client].ip;
        let sn = self.clients[self.client].subnet();
        match below(&mut self.r, 3) {
            0 => {
                // ARP for the gateway, and the router's reply.
                let gw = Ipv4Addr::new(sn[0], sn[1], sn[2], 1);
                let req = arp(1, mac, ip, [0; 6], gw);
                let rep = arp(2, ROUTER_MAC, gw, mac, ip);
                self.frame(t, ([0xff; 6], mac), ETH_ARP, Kind::Arp, req);
                let dt = range(&mut self.r, 100 * US, 900 * US);
                self.frame(t + dt, (mac, ROUTER_MAC), ETH_ARP, Kind::Arp, rep);
                self.flow(Kind::Arp);
            }
            1 => {
                let st = [
                    "ssdp:all",
                    "urn:dial-multiscreen-org:service:dial:1",
                    "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
                ][below(&mut self.r, 3) as usize];
                let msg = format!("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: {st}\r\nUSER-AGENT: Microsoft Edge/122.0.2365.80 Windows\r\n\r\n");
                let port = self.cl().port();
                let c = SocketAddr::new(IpAddr::V4(ip), port);
                let g = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(239, 255, 255, 250)), 1900);
                let mut pkts = Vec::new();
                for i in 0..4u64 {
                    let p = net::udp_packet(c, g, self.r.next_u16(), 4, msg.as_bytes());
                    pkts.push((t + i * 250 * MS, p));
                }
                for (ts, p) in pkts {
                    self.frame(ts, (SSDP_MAC, mac), ETH_IPV4, Kind::Ssdp, p);
                }
                self.flow(Kind::Ssdp);
            }
            _ => {
                let svc = [
                    "_googlecast._tcp.local",
                    "_ipp._tcp.local",
                    "_spotify-connect._tcp.local",
                    "_airplay._tcp.local",
                ][below(&mut self.r, 4) as usize];
                let mut m = dns::MessageBuilder::new(0, 0, 1, 0, true);
                m.question(svc, 12);
                let q = m.finish();
                let c = SocketAddr::new(IpAddr::V4(ip), 5353);
                let g = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 251)), 5353);
                let p = net::udp_packet(c, g, self.r.next_u16(), 255, &q);
                self.frame(t, (MDNS_MAC, mac), ETH_IPV4, Kind::Mdns, p);
                self.flow(Kind::Mdns);
            }
        }
    }

    /// Builds one activity of a random client starting at `t` into `self.evs`.
    fn activity(&mut self, t: u64) -> bool {
        self.client = below(&mut self.r, self.clients.len() as u64) as usize;
        // Steer bulk downloads to ~BULK_SHARE of the bytes.
        let n = self.next_bulk;
        if (self.bulk_bytes + n / 2) as f64 <= BULK_SHARE * (self.gen_bytes + n / 2) as f64 {
            let mb = range(&mut self.r, 8, 60) * 1_000_000;
            self.next_bulk = mb.min((self.size / 10).max(256 * 1024));
            if chance(&mut self.r, 0.55) {
                let host = self.bulk_http.pick(&mut self.r);
                self.bulk_http(host, t, n);
            } else {
                let host = self.bulk_tls.pick(&mut self.r);
                self.bulk_tls(host, t, n);
            }
            return true;
        }
        let x = below(&mut self.r, 100);
        match x {
            0..=54 => {
                let host = self.telemetry.pick(&mut self.r);
                let rounds = 1 + below(&mut self.r, 3);
                self.tls_session(host, t, (200, 12_000), (60, 6_000), rounds);
            }
            55..=72 => {
                // A third of browsing goes to the long tail, skewed towards its head.
                let host = if chance(&mut self.r, 0.35) && self.tail.end > self.tail.start {
                    let n = (self.tail.end - self.tail.start) as u64;
                    self.tail.start + (log_range(&mut self.r, 1, n + 1) - 1).min(n - 1) as usize
                } else {
                    self.web.pick(&mut self.r)
                };
                let rounds = 1 + below(&mut self.r, 4);
                self.tls_session(host, t, (300, 2_500), (500, 250_000), rounds);
            }
            73..=79 => {
                let host = self.http.pick(&mut self.r);
                self.http_session(host, t);
            }
            80..=85 => {
                let host = self.quic.pick(&mut self.r);
                self.quic_session(host, t);
            }
            86..=90 => self.dns_only(t),
            _ => self.lan_noise(t),
        }
        false
    }
}

/// Generated site names (leaked: they live for the whole run), so name matching meets a
/// realistic spread of distinct SNIs, including Azure/CDN suffixes that share a parent domain.
fn long_tail(r: &mut Rng, n: usize) -> Vec<&'static HostDef> {
    const SYL: [&str; 24] = [
        "al", "bri", "cor", "dan", "el", "fin", "gro", "hal", "is", "jet", "kor", "lum", "mar",
        "nov", "or", "pix", "qua", "ren", "sol", "tek", "ul", "vel", "wex", "zen",
    ];
    const TLD: [&str; 8] = ["com", "net", "org", "io", "de", "co.uk", "fr", "app"];
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut word = String::new();
        for _ in 0..range(r, 2, 4) {
            word.push_str(SYL[below(r, SYL.len() as u64) as usize]);
        }
        let (name, prov) = match below(r, 10) {
            0 => (
                format!("{word}{}.blob.core.windows.net", hex(r, 4)),
                Prov::Microsoft,
            ),
            1 => (
                format!("{word}-{}.azureedge.net", hex(r, 6)),
                Prov::Microsoft,
            ),
            2 => (format!("d{}.cloudfront.net", hex(r, 12)), Prov::Amazon),
            3 => (
                format!("cdn.{word}.{}", TLD[below(r, 8) as usize]),
                Prov::Cloudflare,
            ),
            4 => (
                format!("api.{word}.{}", TLD[below(r, 8) as usize]),
                Prov::Amazon,
            ),
            _ => (
                format!("www.{word}.{}", TLD[below(r, 8) as usize]),
                Prov::Other,
            ),
        };
        if !seen.insert(name.clone()) {
            continue;
        }
        let name: &'static str = Box::leak(name.into_boxed_str());
        out.push(&*Box::leak(Box::new(HostDef {
            name,
            chain: &[],
            prov,
            ttl: 300,
        })));
    }
    out
}

/// DER TLV with definite length.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = content.len();
    if n < 0x80 {
        v.push(n as u8);
    } else if n < 0x100 {
        v.extend_from_slice(&[0x81, n as u8]);
    } else {
        v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    v.extend_from_slice(content);
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A well-formed OCSP request (83 bytes, as CryptoAPI sends) and a "good" response for the same
/// CertID, so dissectors see OCSP rather than garbage; signature and hashes are random.
fn ocsp(r: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let sha1 = der(
        0x30,
        &[0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00],
    );
    let (mut name_hash, mut key_hash, mut serial) = ([0u8; 20], [0u8; 20], [0u8; 16]);
    r.fill(&mut name_hash);
    r.fill(&mut key_hash);
    r.fill(&mut serial);
    serial[0] = 0x01 + serial[0] % 0x7f;
    let cert_id = der(
        0x30,
        &cat(&[
            &sha1,
            &der(0x04, &name_hash),
            &der(0x04, &key_hash),
            &der(0x02, &serial),
        ]),
    );
    let req = der(0x30, &der(0x30, &der(0x30, &der(0x30, &cert_id))));
    let time = der(0x18, b"20240312080000Z");
    let single = der(0x30, &cat(&[&cert_id, &[0x80, 0x00], &time]));
    let tbs = der(
        0x30,
        &cat(&[
            &der(0xa2, &der(0x04, &key_hash)),
            &time,
            &der(0x30, &single),
        ]),
    );
    let sha256_rsa = der(
        0x30,
        &[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
        ],
    );
    let mut sig = vec![0u8; 257];
    r.fill(&mut sig[1..]);
    sig[0] = 0;
    let basic = der(0x30, &cat(&[&tbs, &sha256_rsa, &der(0x03, &sig)]));
    let basic_oid = [
        0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01,
    ];
    let bytes = der(0xa0, &der(0x30, &cat(&[&basic_oid, &der(0x04, &basic)])));
    let resp = der(0x30, &cat(&[&[0x0a, 0x01, 0x00], &bytes]));
    (req, resp)
}

fn arp(op: u16, sha: [u8; 6], spa: Ipv4Addr, tha: [u8; 6], tpa: Ipv4Addr) -> Vec<u8> {
    let mut v = vec![0, 1, 8, 0, 6, 4];
    v.extend_from_slice(&op.to_be_bytes());
    v.extend_from_slice(&sha);
    v.extend_from_slice(&spa.octets());
    v.extend_from_slice(&tha);
    v.extend_from_slice(&tpa.octets());
    v
}

// ---------------------------------------------------------------------------------------------
// CLI

struct Args {
    size: u64,
    out: String,
    seed: u64,
    clients: usize,
    format: Format,
    duration_ns: u64,
    tail: usize,
}

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        _ => return None,
    };
    Some((n * mult as f64) as u64)
}

fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'h' => (&s[..s.len() - 1], 3600),
        'm' => (&s[..s.len() - 1], 60),
        's' => (&s[..s.len() - 1], 1),
        _ => (s, 1),
    };
    let n: f64 = num.parse().ok()?;
    Some((n * mult as f64 * SEC as f64) as u64)
}

const USAGE: &str = "usage: gen_traffic --size 1GiB --out FILE [--seed N] [--clients 500] [--format pcap|pcapng] [--duration 3h] [--sites 2000]\n  sizes: B, KB/MB/GB (10^3), K/M/G or KiB/MiB/GiB (2^10)";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        size: 0,
        out: String::new(),
        seed: 1,
        clients: 500,
        format: Format::Pcap,
        duration_ns: 3 * 3600 * SEC,
        tail: 2000,
    };
    let mut it = std::env::args().skip(1);
    let mut format_set = false;
    while let Some(k) = it.next() {
        if k == "-h" || k == "--help" {
            return Err(USAGE.into());
        }
        let v = it
            .next()
            .ok_or_else(|| format!("{k} needs a value\n{USAGE}"))?;
        let bad = || format!("bad value for {k}: {v}\n{USAGE}");
        match k.as_str() {
            "--size" => a.size = parse_size(&v).ok_or_else(bad)?,
            "--out" => a.out = v.clone(),
            "--seed" => a.seed = v.parse().map_err(|_| bad())?,
            "--clients" => a.clients = v.parse().map_err(|_| bad())?,
            "--sites" => a.tail = v.parse().map_err(|_| bad())?,
            "--duration" => a.duration_ns = parse_duration(&v).ok_or_else(bad)?,
            "--format" => {
                format_set = true;
                a.format = match v.as_str() {
                    "pcap" => Format::Pcap,
                    "pcapng" => Format::Pcapng,
                    _ => return Err(bad()),
                }
            }
            _ => return Err(format!("unknown option {k}\n{USAGE}")),
        }
    }
    if a.size == 0 || a.out.is_empty() {
        return Err(USAGE.into());
    }
    if !format_set && a.out.ends_with(".pcapng") {
        a.format = Format::Pcapng;
    }
    if a.clients == 0 || a.clients > 200 * 256 {
        return Err(format!("--clients must be 1..={}", 200 * 256));
    }
    Ok(a)
}

/// The command line's generator called from a test (pcap, default seed and formats otherwise).
#[allow(dead_code)]
pub fn generate(
    out: &str,
    size: u64,
    clients: usize,
    duration_ns: u64,
    sites: usize,
) -> std::io::Result<()> {
    run(&Args {
        size,
        out: out.to_string(),
        seed: 1,
        clients,
        format: Format::Pcap,
        duration_ns,
        tail: sites,
    })
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("gen_traffic: {}: {e}", args.out);
        std::process::exit(1);
    }
}

fn run(a: &Args) -> std::io::Result<()> {
    let started = Instant::now();
    let mut r = Rng::new(a.seed ^ 0x7472_6166_6669_6321);
    let mut hosts: Vec<Host> = HOSTS.iter().map(Host::new).collect();
    let tail_start = hosts.len();
    hosts.extend(long_tail(&mut r, a.tail).into_iter().map(Host::new));
    let tail = tail_start..hosts.len();
    let index: HashMap<&'static str, usize> =
        HOSTS.iter().enumerate().map(|(i, d)| (d.name, i)).collect();
    const OUIS: [[u8; 3]; 6] = [
        [0xb8, 0xca, 0x3a],
        [0x3c, 0x52, 0x82],
        [0x54, 0xee, 0x75],
        [0x8c, 0x8d, 0x28],
        [0xc4, 0x9d, 0xed],
        [0x00, 0x15, 0x5d],
    ];
    let clients: Vec<Client> = (0..a.clients)
        .map(|i| {
            let o = OUIS[below(&mut r, OUIS.len() as u64) as usize];
            let x = r.next_u32().to_be_bytes();
            Client {
                ip: Ipv4Addr::new(10, 20, (i / 200) as u8, 10 + (i % 200) as u8),
                mac: [o[0], o[1], o[2], x[1], x[2], x[3]],
                next_port: 49_152 + (r.next_u32() % 15_000) as u16,
                cache: HashMap::new(),
            }
        })
        .collect();
    let mut g = Gen {
        telemetry: Table::new(&index, TELEMETRY),
        web: Table::new(&index, WEB),
        tail,
        quic: Table::new(&index, QUIC),
        http: Table::new(&index, HTTP),
        bulk_http: Table::new(&index, BULK_HTTP),
        bulk_tls: Table::new(&index, BULK_TLS),
        r,
        hosts,
        clients,
        index,
        stats: Stats::default(),
        evs: Vec::new(),
        client: 0,
        size: a.size,
        gen_bytes: 0,
        bulk_bytes: 0,
        next_bulk: 0,
    };
    g.next_bulk = (range(&mut g.r, 8, 60) * 1_000_000).min((a.size / 10).max(256 * 1024));

    let mut sink = Sink::new(&a.out, a.format)?;
    let mut heap: BinaryHeap<Reverse<(u64, u64, usize)>> = BinaryHeap::new();
    let mut slab: Vec<Option<Sess>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut pending: u64 = 0;
    let mut seq = 0u64;
    let mut t = START_NS;
    let mut sessions = 0u64;
    // Prior guess of file bytes per activity, refined as we go; sets the arrival rate so the
    // capture spans about `duration`.
    let prior = 40_000.0;
    while sink.file_bytes + pending < a.size {
        g.evs.clear();
        let bulk = g.activity(t);
        sessions += 1;
        let mut evs = std::mem::take(&mut g.evs);
        evs.sort_by_key(|e| e.ts);
        let bytes: u64 = evs.iter().map(|e| sink.record_len(e.data.len())).sum();
        g.gen_bytes += bytes;
        if bulk {
            g.bulk_bytes += bytes;
        }
        if let Some(first) = evs.first() {
            let slot = free.pop().unwrap_or_else(|| {
                slab.push(None);
                slab.len() - 1
            });
            heap.push(Reverse((first.ts, seq, slot)));
            seq += 1;
            slab[slot] = Some(Sess { evs, pos: 0 });
            pending += bytes;
        }
        let avg = (g.gen_bytes as f64 + prior * 20.0) / (sessions as f64 + 20.0);
        t += expo(&mut g.r, a.duration_ns as f64 * avg / a.size as f64);
        drain(
            &mut sink,
            &mut heap,
            &mut slab,
            &mut free,
            &mut pending,
            Some(t),
        )?;
    }
    drain(
        &mut sink,
        &mut heap,
        &mut slab,
        &mut free,
        &mut pending,
        None,
    )?;
    sink.w.flush()?;
    let secs = started.elapsed().as_secs_f64();

    let s = &g.stats;
    let flows: u64 = s
        .flows
        .iter()
        .filter(|(k, _)| **k != Kind::Arp)
        .map(|(_, v)| v)
        .sum();
    let mut per = String::new();
    for k in KINDS {
        let f = s.flows.get(&k).copied().unwrap_or(0);
        let p = sink.pkts_by_kind.get(&k).copied().unwrap_or(0);
        let b = sink.bytes_by_kind.get(&k).copied().unwrap_or(0);
        per.push_str(&format!(
            " {}={}f/{}p/{:.1}%B",
            k.name(),
            f,
            p,
            100.0 * b as f64 / sink.file_bytes.max(1) as f64
        ));
    }
    let names: HashSet<&str> = s.sni.union(&s.http_host).copied().collect();
    let frame_bytes: u64 = sink.bytes_by_kind.values().sum();
    eprintln!(
        "gen_traffic: {} packets, {} flows (+{} ARP exchanges), {} file bytes, avg frame {:.0} B,{per}; tls_pq={} dns_queries={} names: sni={} http_host={} distinct={} dns_qnames={}; {} clients, {:.0} s simulated; {:.2} s, {:.0} MB/s",
        sink.packets,
        flows,
        s.flows.get(&Kind::Arp).copied().unwrap_or(0),
        sink.file_bytes,
        frame_bytes as f64 / sink.packets.max(1) as f64,
        s.tls_pq,
        s.dns_queries,
        s.sni.len(),
        s.http_host.len(),
        names.len(),
        s.dns_names.len(),
        a.clients,
        (t - START_NS) as f64 / SEC as f64,
        secs,
        sink.file_bytes as f64 / 1e6 / secs,
    );
    Ok(())
}

/// Writes every pending frame earlier than `until` (all of them for `None`) in time order.
/// Safe because every later session starts at or after `until`.
fn drain(
    sink: &mut Sink,
    heap: &mut BinaryHeap<Reverse<(u64, u64, usize)>>,
    slab: &mut [Option<Sess>],
    free: &mut Vec<usize>,
    pending: &mut u64,
    until: Option<u64>,
) -> std::io::Result<()> {
    while let Some(&Reverse((ts, seq, slot))) = heap.peek() {
        if until.is_some_and(|u| ts >= u) {
            break;
        }
        heap.pop();
        let other = heap.peek().map_or(u64::MAX, |r| r.0 .0);
        let Some(sess) = slab[slot].as_mut() else {
            continue;
        };
        // Ties go to the session already popped; order stays deterministic.
        while let Some(ev) = sess.evs.get_mut(sess.pos) {
            if ev.ts > other || until.is_some_and(|u| ev.ts >= u) {
                break;
            }
            sink.write(ev)?;
            let rec = sink.record_len(ev.data.len());
            *pending -= rec;
            ev.data = Vec::new();
            sess.pos += 1;
        }
        match sess.evs.get(sess.pos) {
            Some(next) => heap.push(Reverse((next.ts, seq, slot))),
            None => {
                slab[slot] = None;
                free.push(slot);
            }
        }
    }
    Ok(())
}
