//! `capture --metrics ADDR`: the capture's counters in the Prometheus text format (version 0.0.4)
//! over plain HTTP, for the operator's monitoring to alert on drops or a silent link between
//! report periods. Off by default. The server is one thread answering one request at a time,
//! each bounded in size and time, so a scraper (or anyone who can reach the port) cannot hold
//! the capture's memory or threads.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::capture::live::LiveCounters;

/// What the report side knows and the capture counters do not.
#[derive(Debug, Default)]
pub struct Shared {
    pub snapshots_written: AtomicU64,
    pub snapshot_failures: AtomicU64,
    /// Open flows at the last snapshot.
    pub flows_open: AtomicU64,
    /// Flows the report counts (in scope), ended or reported open.
    pub flows: AtomicU64,
    /// Bytes (up, down) per area id, of flows in the report's scope; a flow in several areas
    /// counts in each, as in the report.
    areas: Mutex<BTreeMap<String, (u64, u64)>>,
    /// Unix time the capture started, in seconds.
    pub started: AtomicU64,
}

impl Shared {
    pub fn add_area_bytes(&self, area: &str, up: u64, down: u64) {
        // A poisoned lock only means a panic elsewhere mid-update: the numbers are still sums.
        let mut m = self.areas.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = m.get_mut(area) {
            v.0 += up;
            v.1 += down;
        } else {
            m.insert(area.to_string(), (up, down));
        }
    }
}

/// A label value escaped as the text format wants (backslash, double quote, newline).
fn label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The exposition: every family with HELP and TYPE, counters ending in `_total`.
pub fn encode(c: &LiveCounters, s: &Shared) -> String {
    let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let mut out = String::with_capacity(4096);
    family(
        &mut out,
        "egressmap_packets_received_total",
        "counter",
        "Packets the capture received from the kernel.",
    );
    let _ = writeln!(out, "egressmap_packets_received_total {}", ld(&c.received));
    family(&mut out, "egressmap_packets_dropped_total", "counter", "Packets lost before analysis, by cause: kernel (capture buffer full), interface, queue (egressmap's workers too slow).");
    for (cause, v) in [
        ("kernel", ld(&c.kernel_dropped)),
        ("interface", ld(&c.interface_dropped)),
        ("queue", ld(&c.queue_dropped)),
    ] {
        let _ = writeln!(
            out,
            "egressmap_packets_dropped_total{{cause=\"{cause}\"}} {v}"
        );
    }
    family(
        &mut out,
        "egressmap_write_pcap_missing_packets_total",
        "counter",
        "Packets missing from the --write-pcap files (writer behind or stopped).",
    );
    let _ = writeln!(
        out,
        "egressmap_write_pcap_missing_packets_total {}",
        ld(&c.pcap_dropped)
    );
    family(
        &mut out,
        "egressmap_flows_evicted_total",
        "counter",
        "Flows flushed early because the flow table was full.",
    );
    let _ = writeln!(
        out,
        "egressmap_flows_evicted_total {}",
        ld(&c.flows_evicted)
    );
    family(
        &mut out,
        "egressmap_names_evicted_total",
        "counter",
        "DNS answers evicted from the name cache before use.",
    );
    let _ = writeln!(
        out,
        "egressmap_names_evicted_total {}",
        ld(&c.names_evicted)
    );
    family(
        &mut out,
        "egressmap_flows_open",
        "gauge",
        "Flows open at the last report snapshot.",
    );
    let _ = writeln!(out, "egressmap_flows_open {}", ld(&s.flows_open));
    family(
        &mut out,
        "egressmap_flows_total",
        "counter",
        "Flows counted in the report (its scope), ended or reported while open.",
    );
    let _ = writeln!(out, "egressmap_flows_total {}", ld(&s.flows));
    family(
        &mut out,
        "egressmap_snapshots_written_total",
        "counter",
        "Report snapshots written.",
    );
    let _ = writeln!(
        out,
        "egressmap_snapshots_written_total {}",
        ld(&s.snapshots_written)
    );
    family(
        &mut out,
        "egressmap_snapshot_failures_total",
        "counter",
        "Report snapshots or flow-log writes that failed.",
    );
    let _ = writeln!(
        out,
        "egressmap_snapshot_failures_total {}",
        ld(&s.snapshot_failures)
    );
    family(&mut out, "egressmap_area_bytes_total", "counter", "Bytes of flows per area (\"unplaced\": Microsoft, no area; \"unmatched\": no signature), by direction.");
    {
        let m = s.areas.lock().unwrap_or_else(|e| e.into_inner());
        for (area, (up, down)) in m.iter() {
            let a = label(area);
            let _ = writeln!(
                out,
                "egressmap_area_bytes_total{{area=\"{a}\",direction=\"up\"}} {up}"
            );
            let _ = writeln!(
                out,
                "egressmap_area_bytes_total{{area=\"{a}\",direction=\"down\"}} {down}"
            );
        }
    }
    family(
        &mut out,
        "egressmap_start_time_seconds",
        "gauge",
        "Unix time the capture started.",
    );
    let _ = writeln!(out, "egressmap_start_time_seconds {}", ld(&s.started));
    out
}

/// Largest request we read (request line and headers); a scraper sends a few hundred bytes.
const MAX_REQUEST: usize = 4096;
/// Longest one connection may take, all reads and the write together.
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

/// Bind `addr` (before privileges are dropped: a port below 1024 needs root).
pub fn bind(addr: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr} (--metrics): {e}"))
}

/// Answer scrapes on `listener` until the process ends.
pub fn spawn(
    listener: TcpListener,
    counters: Arc<LiveCounters>,
    shared: Arc<Shared>,
) -> std::io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = answer(stream, &|| encode(&counters, &shared));
            }
        })?;
    Ok(addr)
}

fn respond(s: &mut TcpStream, status: &str, ctype: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body.as_bytes())?;
    s.flush()
}

/// After an early answer, read (and discard) what the client still sends for the rest of the
/// deadline, so that closing with unread bytes does not reset the connection before the client
/// has read the answer.
fn drain(mut s: TcpStream, start: Instant) -> std::io::Result<()> {
    s.shutdown(std::net::Shutdown::Write)?;
    let mut sink = [0u8; 4096];
    let mut total = 0usize;
    while total < 1 << 20 {
        let left = REQUEST_DEADLINE.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        s.set_read_timeout(Some(left))?;
        match s.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(k) => total += k,
        }
    }
    Ok(())
}

/// One request: read at most `MAX_REQUEST` bytes within `REQUEST_DEADLINE`, answer, close.
fn answer(mut s: TcpStream, body: &dyn Fn() -> String) -> std::io::Result<()> {
    let start = Instant::now();
    s.set_write_timeout(Some(REQUEST_DEADLINE))?;
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut n = 0;
    loop {
        if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
        if n == buf.len() {
            respond(
                &mut s,
                "431 Request Header Fields Too Large",
                "text/plain",
                "request too large\n",
            )?;
            return drain(s, start);
        }
        let left = REQUEST_DEADLINE.saturating_sub(start.elapsed());
        if left.is_zero() {
            return respond(
                &mut s,
                "408 Request Timeout",
                "text/plain",
                "request timeout\n",
            );
        }
        s.set_read_timeout(Some(left))?;
        let Some(rest) = buf.get_mut(n..) else { break };
        match s.read(rest)? {
            0 => return Ok(()),
            k => n += k,
        }
    }
    let head = buf.get(..n).unwrap_or_default();
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    if method != b"GET" {
        return respond(&mut s, "405 Method Not Allowed", "text/plain", "only GET\n");
    }
    if target != b"/metrics" {
        return respond(&mut s, "404 Not Found", "text/plain", "see /metrics\n");
    }
    respond(
        &mut s,
        "200 OK",
        "text/plain; version=0.0.4; charset=utf-8",
        &body(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(addr: SocketAddr, req: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(req).unwrap();
        let mut r = String::new();
        let _ = s.read_to_string(&mut r);
        r
    }

    #[test]
    fn serves_the_text_format_and_bounds_requests() {
        let c = Arc::new(LiveCounters::default());
        c.received.store(1234, Ordering::Relaxed);
        c.queue_dropped.store(7, Ordering::Relaxed);
        let sh = Arc::new(Shared::default());
        sh.add_area_bytes("telemetry", 100, 50);
        sh.add_area_bytes("tele\"metry\n", 1, 2);
        sh.add_area_bytes("telemetry", 1, 1);
        let addr = spawn(bind("127.0.0.1:0").unwrap(), c, sh).unwrap();
        let r = get(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(r.contains("Content-Type: text/plain; version=0.0.4"), "{r}");
        let body = r.split("\r\n\r\n").nth(1).unwrap();
        assert!(
            body.lines()
                .any(|l| l == "egressmap_packets_received_total 1234"),
            "{body}"
        );
        assert!(
            body.lines()
                .any(|l| l == "egressmap_packets_dropped_total{cause=\"queue\"} 7"),
            "{body}"
        );
        assert!(body.lines().any(|l| l == "egressmap_area_bytes_total{area=\"telemetry\",direction=\"up\"} 101"), "{body}");
        assert!(
            body.lines().any(|l| l
                == "egressmap_area_bytes_total{area=\"tele\\\"metry\\n\",direction=\"down\"} 2"),
            "{body}"
        );
        // Every sample line is `name{labels} value` with a number, every family typed once.
        for l in body.lines().filter(|l| !l.starts_with('#')) {
            let (name, v) = l.rsplit_once(' ').unwrap();
            assert!(v.parse::<f64>().is_ok(), "{l}");
            let base = name.split('{').next().unwrap();
            assert!(body.contains(&format!("# TYPE {base} ")), "{l}");
        }
        assert!(get(addr, b"GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        assert!(get(addr, b"POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
        let big = [b"GET /metrics HTTP/1.1\r\nX: ".as_slice(), &[b'a'; 8000]].concat();
        assert!(get(addr, &big).starts_with("HTTP/1.1 431"));
        // A client that sends nothing does not keep the server from the next one for long.
        let idle = TcpStream::connect(addr).unwrap();
        let t = Instant::now();
        assert!(get(addr, b"GET /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200"));
        assert!(t.elapsed() < REQUEST_DEADLINE + Duration::from_secs(2));
        drop(idle);
    }
}
