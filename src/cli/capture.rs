//! `egressmap capture`: a monitoring box on a mirror port, running for days, writing the same
//! reports as `audit` every period (atomically: a crash loses at most one period).

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::audit::{
    engine_config, load_signatures, match_flow, names_dropped_warning, report_context_parts,
    warnings_from,
};
use super::{CaptureArgs, EXIT_FAILED, EXIT_OK, EXIT_OUTPUT, EXIT_USAGE};
use crate::capture::live::{self, Batch, LiveConfig, LiveCounters};
use crate::capture::outdir::{OutDir, Owners};
use crate::capture::privs;
use crate::flow::{Flow, InterimKind};
use crate::metrics;
use crate::pipeline::{run_live, LiveSink};
use crate::report::aggregate::{Aggregator, FlowMatch, UNPLACED};
use crate::report::flowlog::{FlowLogWriter, FlowRecord};
use crate::report::model::{CaptureCounters, Input, Report, Scope};
use crate::report::render::{render, Format};
use crate::signatures::{Database, Matcher};

fn peak_rss_bytes() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// How long a snapshot waits for the engines' interim records when none has come (no flow open,
/// or the workers are behind); at most half a period.
const SNAPSHOT_GRACE: u64 = 3_000_000_000;

/// `--report-every` in nanoseconds (at least a second).
fn snapshot_nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos())
        .unwrap_or(u64::MAX)
        .max(1_000_000_000)
}

struct Sink<'a> {
    db: &'a Database,
    sigdir: Option<&'a Path>,
    args: &'a CaptureArgs,
    /// The report directory, held open: every snapshot goes into this directory.
    out: OutDir,
    metrics: Option<Arc<metrics::Shared>>,
    matcher: Matcher,
    agg: Aggregator,
    log: Option<FlowLogWriter<Box<dyn Write>>>,
    counters: &'a LiveCounters,
    stop: &'a AtomicBool,
    started: Instant,
    /// Multiple of `--report-every` (wall clock) of the last periodic snapshot.
    last_epoch: u64,
    /// Interim records of open flows received since the last snapshot (the engines emit one
    /// per open flow when the clock crosses a multiple of `--report-every`).
    open_since_snapshot: u64,
    /// Open flows counted in the last snapshot.
    open_flows: u64,
    snapshots: u64,
    failed_writes: u64,
    names_dropped: u64,
    engine_warnings: Vec<String>,
}

impl Sink<'_> {
    fn report(&self) -> Report {
        let (ctx_build, documented, version) =
            report_context_parts(self.db, self.sigdir, &self.args.opts);
        let area_info = |id: &str| match self.db.area(id) {
            Some(a) => (a.name.clone(), a.turn_off_url()),
            None => (id.to_string(), None),
        };
        let is_ms = |h: &str| self.db.is_microsoft_domain(h);
        let ctx = crate::report::aggregate::Context {
            build: ctx_build.0,
            edition: ctx_build.1,
            signatures_version: version,
            area_info: &area_info,
            documented,
            is_microsoft_domain: &is_ms,
            classify: &super::audit::name_classifier(self.db, &self.args.opts),
        };
        let c = self.counters;
        let counters = CaptureCounters {
            interface: self.args.interface.clone().unwrap_or_default(),
            running_seconds: self.started.elapsed().as_secs_f64(),
            packets_received: c.received.load(Ordering::Relaxed),
            kernel_dropped: c.kernel_dropped.load(Ordering::Relaxed),
            interface_dropped: c.interface_dropped.load(Ordering::Relaxed),
            queue_dropped: c.queue_dropped.load(Ordering::Relaxed),
            flows_evicted: c.flows_evicted.load(Ordering::Relaxed),
            names_evicted: c.names_evicted.load(Ordering::Relaxed),
            peak_rss_bytes: peak_rss_bytes(),
            open_flows: self.open_flows,
        };
        let mut warnings = Vec::new();
        for (n, what) in [
            (
                counters.kernel_dropped,
                "packets dropped by the kernel (capture buffer full)",
            ),
            (
                counters.interface_dropped,
                "packets dropped by the interface",
            ),
            (
                counters.queue_dropped,
                "packets dropped in egressmap's queue (workers too slow)",
            ),
            (
                // The final report has the engines' own count (with the flag to raise).
                if self.engine_warnings.is_empty() {
                    counters.flows_evicted
                } else {
                    0
                },
                "flows flushed early because the flow table was full",
            ),
        ] {
            if n > 0 {
                warnings.push(format!("{n} {what}"));
            }
        }
        let pcap_dropped = c.pcap_dropped.load(Ordering::Relaxed);
        if pcap_dropped > 0 {
            warnings.push(format!(
                "{pcap_dropped} packets missing from the --write-pcap files"
            ));
        }
        warnings.extend(self.engine_warnings.iter().cloned());
        warnings.extend(names_dropped_warning(self.names_dropped, &self.args.opts));
        if self.failed_writes > 0 {
            warnings.push(format!(
                "{} report snapshots could not be written",
                self.failed_writes
            ));
        }
        let inputs = vec![Input {
            name: format!("live:{}", counters.interface),
            records: counters.packets_received,
            status: "ok".to_string(),
            error: None,
            format: None,
        }];
        let mut r = self
            .agg
            .clone()
            .finish(&ctx, inputs, counters.packets_received, warnings);
        r.capture = Some(counters);
        r
    }

    /// Write report.json (and report.<fmt>); the error says why not.
    fn snapshot(&mut self) -> std::io::Result<()> {
        let r = self.report();
        let dir = &self.out;
        let json = serde_json::to_string_pretty(&r).unwrap_or_default();
        let mut res = dir.write_atomic("report.json", json.as_bytes());
        let format = self.args.opts.report.unwrap_or(Format::Table);
        if format != Format::Json {
            let ext = match format {
                Format::Table => "txt",
                Format::Csv => "csv",
                Format::Markdown => "md",
                Format::Html => "html",
                Format::Json => "json",
            };
            res = res.and_then(|()| {
                dir.write_atomic(
                    &format!("report.{ext}"),
                    render(&r, format, &Default::default()).as_bytes(),
                )
            });
        }
        match &res {
            Ok(()) => self.snapshots += 1,
            Err(e) => {
                self.failed_writes += 1;
                eprintln!(
                    "egressmap: cannot write report snapshot in {}: {e}",
                    dir.path().display()
                );
            }
        }
        if let Some(m) = &self.metrics {
            let which = if res.is_ok() {
                &m.snapshots_written
            } else {
                &m.snapshot_failures
            };
            which.fetch_add(1, Ordering::Relaxed);
            m.flows_open.store(self.open_flows, Ordering::Relaxed);
        }
        res
    }
}

impl LiveSink for Sink<'_> {
    fn flow(&mut self, flow: &Flow) {
        let interim = flow.interim();
        if interim == Some(InterimKind::Snapshot) {
            self.open_since_snapshot += 1;
        }
        let unplaced = [UNPLACED.to_string()];
        let m = match_flow(&mut self.matcher, flow);
        let (areas, endpoints) = super::audit::areas_endpoints(&m, &unplaced);
        if interim.is_none() {
            self.names_dropped += u64::from(flow.extra().names_dropped);
        }
        if let (Some(mx), true) = (&self.metrics, self.agg.in_scope(flow)) {
            // The same deltas the report adds, so the metrics and the report agree.
            let (new, up, down) = flow.delta();
            mx.flows.fetch_add(u64::from(new), Ordering::Relaxed);
            let unmatched = ["unmatched".to_string()];
            let named = if areas.is_empty() {
                &unmatched[..]
            } else {
                areas
            };
            for a in named {
                mx.add_area_bytes(a, up.bytes, down.bytes);
            }
        }
        self.agg.add(
            flow,
            &FlowMatch {
                areas,
                pattern: endpoints.first().map(String::as_str),
                shared: m.as_ref().is_some_and(|r| r.shared_infrastructure()),
                endpoints: &endpoints,
            },
        );
        // Snapshot records only feed the report; `--flow-update` ones go to the log too.
        if let (Some(w), false) = (self.log.as_mut(), interim == Some(InterimKind::Snapshot)) {
            let name = format!("live:{}", self.args.interface.as_deref().unwrap_or(""));
            if w.write(
                &FlowRecord::new(flow, &name, areas, &endpoints)
                    .shared(m.as_ref().is_some_and(|r| r.shared_infrastructure())),
            )
            .is_err()
            {
                self.failed_writes += 1;
                self.log = None;
                if let Some(m) = &self.metrics {
                    m.snapshot_failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    fn tick(&mut self) {
        if self
            .args
            .duration
            .is_some_and(|d| self.started.elapsed() >= d)
        {
            self.stop.store(true, Ordering::Relaxed);
        }
        // Snapshots fall on multiples of --report-every, when the engines' interim records of
        // open flows for that moment are in (they arrive together: every worker emits them at
        // the same record, and the merge hands them over at once), or a little later if no
        // flow is open.
        let every = snapshot_nanos(self.args.report_every);
        let now = live::now_nanos();
        let epoch = now / every;
        if epoch > self.last_epoch
            && (self.open_since_snapshot > 0
                || now >= (epoch * every).saturating_add(SNAPSHOT_GRACE.min(every / 2)))
        {
            self.last_epoch = epoch;
            self.open_flows = std::mem::take(&mut self.open_since_snapshot);
            let _ = self.snapshot();
        }
    }
}

/// Writes the captured packets to rotating pcap files (`--write-pcap DIR`). Stops at the first
/// error (disk full, directory gone); returns how many packets it was given but did not write.
/// Batches sent after it stopped are counted by the capture thread.
fn pcap_writer(
    dir: OutDir,
    rotate_size: u64,
    keep: usize,
    rx: crossbeam_channel::Receiver<Arc<Batch>>,
) -> u64 {
    let mut n: u64 = 0;
    let mut file: Option<(std::io::BufWriter<File>, u64)> = None;
    let mut written: Vec<String> = Vec::new();
    for b in rx.iter() {
        for (i, p) in b.packets().enumerate() {
            if let Err(e) =
                write_packet(&dir, rotate_size, keep, &mut n, &mut file, &mut written, &p)
            {
                eprintln!("egressmap: --write-pcap stopped: {e}");
                return (b.records.len() - i) as u64;
            }
        }
    }
    if let Some((mut w, _)) = file {
        if let Err(e) = w.flush() {
            eprintln!("egressmap: --write-pcap: {e}");
        }
    }
    0
}

fn write_packet(
    dir: &OutDir,
    rotate_size: u64,
    keep: usize,
    n: &mut u64,
    file: &mut Option<(std::io::BufWriter<File>, u64)>,
    written: &mut Vec<String>,
    p: &crate::capture::Packet<'_>,
) -> std::io::Result<()> {
    if file.as_ref().is_none_or(|(_, size)| *size >= rotate_size) {
        if let Some((mut w, _)) = file.take() {
            w.flush()?;
        }
        *n += 1;
        let name = format!(
            "egressmap-{}-{:05}.pcap",
            live::now_nanos() / 1_000_000_000,
            n
        );
        let f = dir.create_new(&name).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("{}: {e}", dir.path().join(&name).display()),
            )
        })?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        // pcap header, ns resolution, little-endian, snaplen 262144.
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&0xa1b2_3c4du32.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        h[16..20].copy_from_slice(&262_144u32.to_le_bytes());
        h[20..24].copy_from_slice(&p.link.0.to_le_bytes());
        w.write_all(&h)?;
        *file = Some((w, 24));
        written.push(name);
        while written.len() > keep.max(1) {
            let old = written.remove(0);
            let _ = dir.remove(&old);
        }
    }
    if let Some((w, size)) = file.as_mut() {
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&((p.ts / 1_000_000_000) as u32).to_le_bytes());
        rec[4..8].copy_from_slice(&((p.ts % 1_000_000_000) as u32).to_le_bytes());
        rec[8..12].copy_from_slice(&(p.data.len() as u32).to_le_bytes());
        rec[12..16].copy_from_slice(&p.orig_len.to_le_bytes());
        w.write_all(&rec)?;
        w.write_all(p.data)?;
        *size += 16 + p.data.len() as u64;
    }
    Ok(())
}

/// Open `--flows` (or stdout for `-`) through its directory, before privileges are dropped: the
/// capture user need not be able to create files there.
fn open_flow_log(p: &Path, owners: Owners) -> Result<Box<dyn Write>, String> {
    if p.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdout()));
    }
    let name = p
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("--flows {}: not a file name", p.display()))?;
    let parent = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = OutDir::open(parent, owners)?;
    let f = dir.replace_streaming(name).map_err(|e| {
        let who = if owners.user.is_some() {
            "as root, before dropping privileges to --user".to_string()
        } else {
            format!(
                "as uid {} (start as root with --user USER to open it before dropping privileges, or choose a directory this user can write)",
                rustix::process::geteuid().as_raw()
            )
        };
        format!("cannot create flow log {}: {e} (opened {who})", p.display())
    })?;
    Ok(Box::new(std::io::BufWriter::new(f)))
}

pub fn run(a: &CaptureArgs, sigdir: Option<&Path>) -> u8 {
    if let Some(f) = &a.read {
        // The same pipeline on a file: exactly what `audit` does.
        return super::audit::run(std::slice::from_ref(f), &a.opts, sigdir);
    }
    let Some(iface) = a.interface.clone() else {
        eprintln!("egressmap: capture needs -i INTERFACE (or -r FILE)");
        return EXIT_USAGE;
    };
    let db = match load_signatures(sigdir) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("egressmap: {e}");
            return EXIT_USAGE;
        }
    };
    let user = match live::target_ids(&a.user) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("egressmap: {e}");
            return EXIT_USAGE;
        }
    };
    let group = match a.group.as_deref().map(privs::group_id).transpose() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("egressmap: {e}");
            return EXIT_USAGE;
        }
    };
    let owners = Owners { user, group };
    let out = match OutDir::open(&a.out, owners) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("egressmap: {e} (--out)");
            return EXIT_USAGE;
        }
    };
    let pcap_dir = match a
        .write_pcap
        .as_deref()
        .map(|d| OutDir::open(d, owners))
        .transpose()
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!("egressmap: {e} (--write-pcap)");
            return EXIT_USAGE;
        }
    };
    let log: Option<FlowLogWriter<Box<dyn Write>>> = match a
        .opts
        .flows
        .as_deref()
        .map(|p| open_flow_log(p, owners))
        .transpose()
    {
        Ok(w) => w.map(FlowLogWriter::new),
        Err(e) => {
            eprintln!("egressmap: {e}");
            return EXIT_OUTPUT;
        }
    };
    let listener = match a.metrics.as_deref().map(metrics::bind).transpose() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("egressmap: {e}");
            return EXIT_USAGE;
        }
    };
    let cfg = LiveConfig {
        interface: iface,
        filter: a.filter.clone(),
        snaplen: a.snaplen,
        buffer_bytes: i32::try_from(a.buffer).unwrap_or(i32::MAX),
        ..Default::default()
    };
    let cap = match live::open(&cfg) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("egressmap: {e}");
            return EXIT_FAILED;
        }
    };
    match privs::drop_privileges(&a.user, group) {
        Ok(Some(warning)) => eprintln!("egressmap: {warning}"),
        Ok(None) => {}
        Err(e) => {
            eprintln!("egressmap: {e}");
            return EXIT_FAILED;
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    // The first SIGINT/SIGTERM drains and writes the final report; a second one (the drain
    // hangs, the operator insists) exits at once, leaving the last periodic snapshot.
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register_conditional_shutdown(sig, 1, stop.clone())
            .and_then(|_| signal_hook::flag::register(sig, stop.clone()))
        {
            eprintln!("egressmap: cannot handle signals: {e}");
            return EXIT_FAILED;
        }
    }
    let counters = Arc::new(LiveCounters::default());
    let shared = listener.map(|l| {
        let sh = Arc::new(metrics::Shared::default());
        sh.started
            .store(live::now_nanos() / 1_000_000_000, Ordering::Relaxed);
        match metrics::spawn(l, counters.clone(), sh.clone()) {
            Ok(addr) => eprintln!("egressmap: metrics on http://{addr}/metrics"),
            Err(e) => eprintln!("egressmap: --metrics: cannot start the server: {e}"),
        }
        sh
    });
    let mut sink = Sink {
        db: &db,
        sigdir,
        args: a,
        out,
        metrics: shared,
        matcher: Matcher::new(
            &db,
            a.opts.scope.build.as_deref(),
            a.opts.scope.edition.as_deref(),
        ),
        agg: Aggregator::new(Scope {
            public_only: !a.opts.scope.all_destinations,
            ipv4_only: a.opts.scope.ipv4_only,
        })
        .with_clients(a.opts.scope.client.clone()),
        log,
        counters: &counters,
        stop: &stop,
        started: Instant::now(),
        last_epoch: live::now_nanos() / snapshot_nanos(a.report_every),
        open_since_snapshot: 0,
        open_flows: 0,
        snapshots: 0,
        failed_writes: 0,
        names_dropped: 0,
        engine_warnings: Vec::new(),
    };
    // A first (empty) snapshot now: a directory the capture user cannot write to fails here, not
    // after the first period, and readers find a report from the start.
    if let Err(e) = sink.snapshot() {
        eprintln!(
            "egressmap: cannot write reports into {} as user {}: {e}",
            a.out.display(),
            if user.is_some() {
                a.user.as_str()
            } else {
                "(current)"
            }
        );
        return EXIT_OUTPUT;
    }
    let (ptx, prx) = crossbeam_channel::bounded::<Arc<Batch>>(1024);
    let writer = pcap_dir.map(|dir| {
        let (size, keep) = (a.rotate_size, a.rotate_keep);
        std::thread::spawn(move || pcap_writer(dir, size, keep, prx))
    });
    let pcap_out = writer.is_some().then_some(ptx);
    eprintln!(
        "egressmap: capturing on {} (reports every {:?} in {}); Ctrl-C to stop",
        cfg.interface,
        a.report_every,
        a.out.display()
    );
    let mut engine_cfg = engine_config(&a.opts);
    engine_cfg.snapshot_every = Some(snapshot_nanos(a.report_every));
    let engines = run_live(
        cap,
        engine_cfg,
        a.opts.threads.unwrap_or_else(super::default_threads),
        &stop,
        &counters,
        pcap_out,
        &mut sink,
    );
    if let Some(w) = writer {
        let unwritten = w.join().unwrap_or(0);
        counters
            .pcap_dropped
            .fetch_add(unwritten, Ordering::Relaxed);
    }
    // The engines' own drop counters (reassembly, DNS cache, decode) are known once the workers
    // are done: the final report carries them.
    sink.engine_warnings = warnings_from(&engines);
    let capture_error = counters
        .capture_error
        .lock()
        .ok()
        .and_then(|mut e| e.take());
    if let Some(e) = &capture_error {
        sink.engine_warnings.push(format!(
            "the capture stopped on its own: {e} (the interface went away or down)"
        ));
    }
    sink.open_flows = 0;
    let _ = sink.snapshot();
    if let Some(w) = sink.log.take() {
        let _ = w.finish();
    }
    eprintln!(
        "egressmap: stopped; {} packets received, {} snapshots, final report in {}",
        counters.received.load(Ordering::Relaxed),
        sink.snapshots,
        a.out.join("report.json").display()
    );
    if let Some(e) = capture_error {
        eprintln!(
            "egressmap: capture on {} failed: {e} (the interface went away or down); exiting with status {EXIT_FAILED} so that a supervisor restarts the capture",
            cfg.interface
        );
        return EXIT_FAILED;
    }
    if sink.failed_writes > 0 {
        EXIT_OUTPUT
    } else {
        EXIT_OK
    }
}
