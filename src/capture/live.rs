//! Live capture through libpcap (feature `live`): a capture thread that only copies packets into
//! batches and hands them on, so that workers never slow the kernel's ring down.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::Sender;

use super::{LinkType, Nanos};

/// How to open the interface.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    pub interface: String,
    pub filter: Option<String>,
    pub snaplen: i32,
    /// Kernel buffer: 2 MiB drops most packets at a few hundred thousand per second; 64 MiB does not.
    pub buffer_bytes: i32,
    pub promiscuous: bool,
    /// Poll timeout: periodic work (expiry, reports) happens on a silent link too.
    pub timeout_ms: i32,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            interface: String::new(),
            filter: None,
            snaplen: 65_535,
            buffer_bytes: 64 << 20,
            promiscuous: true,
            timeout_ms: 100,
        }
    }
}

// Batches and counters are shared with streamed files (`capture::batch`).
pub use super::batch::{Batch, LiveCounters};

pub fn now_nanos() -> Nanos {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as Nanos)
}

/// An interface name must be a name libpcap lists (no paths, no option-like strings).
pub fn validate_interface(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 || name.starts_with('-') || name.contains(['/', '\0']) {
        return Err(format!("invalid interface name {name:?}"));
    }
    let devices = pcap::Device::list().map_err(|e| format!("cannot list interfaces: {e}"))?;
    if devices.iter().any(|d| d.name == name) {
        Ok(())
    } else {
        let names: Vec<String> = devices.into_iter().map(|d| d.name).collect();
        Err(format!(
            "no interface {name:?}; available: {}",
            names.join(", ")
        ))
    }
}

/// Open the interface and apply the filter. Needs CAP_NET_RAW (or root); drop privileges after.
pub fn open(cfg: &LiveConfig) -> Result<pcap::Capture<pcap::Active>, String> {
    validate_interface(&cfg.interface)?;
    let mut cap = pcap::Capture::from_device(cfg.interface.as_str())
        .map_err(|e| format!("{}: {e}", cfg.interface))?
        .promisc(cfg.promiscuous)
        .snaplen(cfg.snaplen)
        .buffer_size(cfg.buffer_bytes)
        .timeout(cfg.timeout_ms)
        .open()
        .map_err(|e| {
            format!(
                "cannot open {}: {e} (needs root or CAP_NET_RAW)",
                cfg.interface
            )
        })?;
    if let Some(f) = &cfg.filter {
        cap.filter(f, true)
            .map_err(|e| format!("invalid capture filter {f:?}: {e}"))?;
    }
    // Non-blocking, and `run_capture` polls the descriptor itself: with TPACKET_V3 libpcap's
    // read timeout never fires on a silent link (the kernel does not retire an empty block),
    // so a blocking read would hang there forever, deaf to --duration and SIGTERM.
    cap.setnonblock()
        .map_err(|e| format!("cannot make {} non-blocking: {e}", cfg.interface))
}

/// Longest the capture thread sleeps waiting for packets before it checks for a stop.
const POLL_MS: i32 = 50;

/// Sleep until `fd` is readable or `POLL_MS` has passed.
fn wait_readable(fd: std::os::fd::RawFd) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, count 1; an error or EINTR just means we look again sooner.
    unsafe {
        libc::poll(&mut p, 1, POLL_MS);
    }
}

/// Packets per batch at most, and the longest a partial batch waits.
const BATCH_PACKETS: usize = 512;
const BATCH_WAIT: Duration = Duration::from_millis(50);

/// The capture loop: copy packets into batches and give every batch to every worker (each keeps
/// the flows its shard owns). If any worker's queue is full the batch is dropped and counted,
/// rather than blocking the capture (which would make the kernel drop instead, uncounted by us).
pub fn run_capture(
    mut cap: pcap::Capture<pcap::Active>,
    workers: Vec<Sender<Arc<Batch>>>,
    extra: Option<Sender<Arc<Batch>>>,
    stop: &AtomicBool,
    counters: &LiveCounters,
) {
    let link = LinkType(cap.get_datalink().0 as u32);
    let fd = std::os::fd::AsRawFd::as_raw_fd(&cap);
    let new_batch = || Batch {
        link,
        data: Vec::with_capacity(BATCH_PACKETS * 1600),
        records: Vec::with_capacity(BATCH_PACKETS),
        now: 0,
        file: 0,
    };
    let mut batch = new_batch();
    let mut started = Instant::now();
    let send = |mut b: Batch| {
        b.now = now_nanos();
        let n = b.records.len() as u64;
        if workers.iter().any(|w| w.is_full()) {
            counters.queue_dropped.fetch_add(n, Ordering::Relaxed);
            return;
        }
        let b = Arc::new(b);
        for w in &workers {
            let _ = w.try_send(b.clone());
        }
        if let Some(x) = &extra {
            if x.try_send(b).is_err() {
                counters.pcap_dropped.fetch_add(n, Ordering::Relaxed);
            }
        }
    };
    while !stop.load(Ordering::Relaxed) {
        match cap.next_packet() {
            Ok(p) => {
                counters.received.fetch_add(1, Ordering::Relaxed);
                let ts = (p.header.ts.tv_sec as u64)
                    .saturating_mul(1_000_000_000)
                    .saturating_add((p.header.ts.tv_usec as u64).saturating_mul(1_000));
                let off = batch.data.len() as u32;
                batch.data.extend_from_slice(p.data);
                batch
                    .records
                    .push((ts, off, p.data.len() as u32, p.header.len));
            }
            Err(pcap::Error::TimeoutExpired) => wait_readable(fd),
            Err(e) => {
                if let Ok(mut slot) = counters.capture_error.lock() {
                    *slot = Some(e.to_string());
                }
                break;
            }
        }
        if batch.records.len() >= BATCH_PACKETS || started.elapsed() >= BATCH_WAIT {
            send(std::mem::replace(&mut batch, new_batch()));
            started = Instant::now();
            store_drops(&mut cap, counters);
        }
    }
    send(batch);
    store_drops(&mut cap, counters);
}

/// The kernel's and the interface's drop counters as libpcap reports them now.
fn store_drops(cap: &mut pcap::Capture<pcap::Active>, counters: &LiveCounters) {
    if let Ok(s) = cap.stats() {
        counters
            .kernel_dropped
            .store(u64::from(s.dropped), Ordering::Relaxed);
        counters
            .interface_dropped
            .store(u64::from(s.if_dropped), Ordering::Relaxed);
    }
}

// Privileges moved to their own module; kept here for callers of the old path.
pub use super::privs::{drop_privileges, target_ids};
