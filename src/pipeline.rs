//! Runs capture files through engines. Several files are one dataset (a week split into rotated
//! files): flows continue across file boundaries, and a bad file stops only itself.
//!
//! With `threads > 1`, every worker reads the whole memory-mapped input, decodes each record's
//! headers, and keeps only the flows its shard owns (by a direction-independent hash); DNS answers
//! of other shards' flows still feed its resolver. Workers share nothing, need no dispatcher
//! thread and no packet copies, and each sees the same capture timeline, so expiry and DNS
//! attribution behave exactly as with one thread. An aggregator merges the finished flows in
//! [`Ended::order`], which makes the output identical whatever the thread count.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::capture::file::CaptureFile;
use crate::capture::{CaptureError, CaptureStats};
use crate::engine::{Engine, EngineConfig};
use crate::flow::table::Ended;
use crate::flow::Flow;

/// How reading one input went.
#[derive(Debug, Clone)]
pub struct FileOutcome {
    pub path: PathBuf,
    /// Name used in the flow log (the path as given).
    pub name: String,
    pub stats: CaptureStats,
    /// The problem that stopped this file, if any; records before it were processed.
    pub error: Option<CaptureError>,
    /// True if the file could not be read at all.
    pub failed: bool,
}

pub struct RunResult {
    pub files: Vec<FileOutcome>,
    /// One engine per worker, for their counters.
    pub engines: Vec<Engine>,
}

impl RunResult {
    pub fn all_failed(&self) -> bool {
        !self.files.is_empty() && self.files.iter().all(|f| f.failed)
    }
    pub fn any_error(&self) -> bool {
        self.files.iter().any(|f| f.error.is_some())
    }
}

/// Progress on stderr for long runs, only when a person is watching.
struct Progress {
    enabled: bool,
    last: Instant,
    started: Instant,
}

impl Progress {
    fn tick(&mut self, name: &str, offset: u64, len: u64, packets: u64, flows: usize) {
        if !self.enabled || self.last.elapsed() < Duration::from_millis(250) {
            return;
        }
        self.last = Instant::now();
        let pct = if len > 0 {
            100.0 * offset as f64 / len as f64
        } else {
            0.0
        };
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        eprint!(
            "\r\x1b[2K{name}: {pct:5.1}%  {packets} packets ({:.2} Mpps)  {flows} active flows",
            packets as f64 / secs / 1e6
        );
    }
    fn done(&self) {
        if self.enabled {
            eprint!("\r\x1b[2K");
        }
    }
}

enum Msg {
    /// Finished flows in order; the worker will emit nothing ordered before `low` any more.
    Flows { flows: Vec<Ended>, low: u64 },
    Done {
        engine: Box<Engine>,
        files: Vec<FileOutcome>,
    },
}

/// Records between two batches a worker sends (bounds latency and the aggregator's queues).
const BATCH_RECORDS: u64 = 16_384;
const BATCH_FLOWS: usize = 1_024;

/// Read `paths` in order as one dataset with `threads` workers. `on_flow` sees every flow once,
/// as it ends, with the name of the file it started in, in an order independent of `threads`.
pub fn run_files(
    paths: &[PathBuf],
    cfg: EngineConfig,
    threads: usize,
    progress: bool,
    on_flow: &mut dyn FnMut(&Flow, &str),
) -> RunResult {
    let threads = threads.clamp(1, 256);
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let opened: Vec<Result<CaptureFile, CaptureError>> =
        paths.iter().map(|p| CaptureFile::open(p)).collect();
    // One bounded channel per worker: the aggregator only receives from the worker the ordered
    // merge is waiting for, so no reorder queue holds more than a batch or two however far the
    // workers drift apart (one shared channel let a fast worker's flows pile up without bound).
    let (txs, rxs): (Vec<Sender<Msg>>, Vec<Receiver<Msg>>) =
        (0..threads).map(|_| bounded::<Msg>(4)).unzip();
    let progress = progress && std::io::stderr().is_terminal();

    let mut engines: Vec<Option<Engine>> = (0..threads).map(|_| None).collect();
    let mut files: Vec<FileOutcome> = Vec::new();
    std::thread::scope(|scope| {
        for (worker, tx) in txs.into_iter().enumerate() {
            let mut cfg = cfg.clone();
            if threads > 1 {
                cfg.shard = Some((worker as u64, threads as u64));
                // `--max-flows` bounds the whole run: each worker holds its share of the flows.
                cfg.table.max_flows = cfg.table.max_flows.div_ceil(threads).max(1);
                cfg.reassembly_total = cfg.reassembly_total.div_ceil(threads);
            }
            let (opened, paths, names) = (&opened, paths, &names);
            scope
                .spawn(move || run_worker(cfg, opened, paths, names, progress && worker == 0, &tx));
        }
        let mut queues: Vec<(VecDeque<Ended>, u64, bool)> =
            (0..threads).map(|_| (VecDeque::new(), 0, false)).collect();
        loop {
            merge_ready(&mut queues, &names, on_flow);
            let Some(worker) = waiting_on(&queues) else {
                break;
            };
            let Some(msg) = rxs.get(worker).and_then(|rx| rx.recv().ok()) else {
                // A worker that hung up without `Done` (it panicked): stop waiting for it.
                if let Some(q) = queues.get_mut(worker) {
                    q.2 = true;
                }
                continue;
            };
            match msg {
                Msg::Flows { flows, low } => {
                    if let Some(q) = queues.get_mut(worker) {
                        q.0.extend(flows);
                        q.1 = low;
                    }
                }
                Msg::Done { engine, files: f } => {
                    if let Some(q) = queues.get_mut(worker) {
                        q.2 = true;
                    }
                    if let Some(slot) = engines.get_mut(worker) {
                        *slot = Some(*engine);
                    }
                    if worker == 0 {
                        files = f;
                    }
                }
            }
        }
        merge_ready(&mut queues, &names, on_flow);
    });
    RunResult {
        files,
        engines: engines.into_iter().flatten().collect(),
    }
}

/// Emit, in order, every queued flow that no worker can still precede.
fn merge_ready(
    queues: &mut [(VecDeque<Ended>, u64, bool)],
    names: &[String],
    on_flow: &mut dyn FnMut(&Flow, &str),
) {
    loop {
        let mut best: Option<(usize, (u64, u64, crate::flow::FlowKey))> = None;
        for (i, q) in queues.iter().enumerate() {
            if let Some(h) = q.0.front() {
                let o = h.order();
                if best.as_ref().is_none_or(|(_, b)| o < *b) {
                    best = Some((i, o));
                }
            }
        }
        let Some((i, order)) = best else { return };
        // A worker with nothing queued may still emit something earlier, unless it is done or
        // has promised it won't.
        let blocked = queues
            .iter()
            .enumerate()
            .any(|(j, q)| j != i && q.0.is_empty() && !q.2 && q.1 <= order.0);
        if blocked {
            return;
        }
        if let Some(e) = queues.get_mut(i).and_then(|q| q.0.pop_front()) {
            let name = names
                .get(e.flow.file as usize)
                .map(String::as_str)
                .unwrap_or("");
            on_flow(&e.flow, name);
        }
    }
}

/// The worker whose next message the merge needs: one not done with nothing queued (after
/// [`merge_ready`] such a worker blocks the head of the merge, or every queue is empty).
/// `None` when every worker is done.
fn waiting_on(queues: &[(VecDeque<Ended>, u64, bool)]) -> Option<usize> {
    let open = |q: &&(VecDeque<Ended>, u64, bool)| !q.2;
    queues
        .iter()
        .position(|q| open(&q) && q.0.is_empty())
        .or_else(|| queues.iter().position(|q| open(&q)))
}

fn run_worker(
    cfg: EngineConfig,
    opened: &[Result<CaptureFile, CaptureError>],
    paths: &[PathBuf],
    names: &[String],
    progress: bool,
    tx: &Sender<Msg>,
) {
    let mut engine = Engine::new(cfg);
    let mut progress = Progress {
        enabled: progress,
        last: Instant::now(),
        started: Instant::now(),
    };
    let mut files = Vec::with_capacity(paths.len());
    let mut batch: Vec<Ended> = Vec::new();
    let mut since_send: u64 = 0;
    for (idx, (cap, path)) in opened.iter().zip(paths).enumerate() {
        let name = names.get(idx).cloned().unwrap_or_default();
        let file_idx = u16::try_from(idx).unwrap_or(u16::MAX);
        let cap = match cap {
            Ok(c) => c,
            Err(e) => {
                files.push(FileOutcome {
                    path: path.clone(),
                    name,
                    stats: CaptureStats::default(),
                    failed: true,
                    error: Some(e.clone()),
                });
                continue;
            }
        };
        let mut reader = cap.reader();
        let mut error = None;
        while let Some(next) = reader.next_packet() {
            match next {
                Ok(pkt) => {
                    engine.process(&pkt, file_idx, &mut |e| batch.push(e));
                    since_send += 1;
                    if since_send >= BATCH_RECORDS || batch.len() >= BATCH_FLOWS {
                        since_send = 0;
                        let low = engine.stats.packets + 1;
                        let _ = tx.send(Msg::Flows {
                            flows: std::mem::take(&mut batch),
                            low,
                        });
                        progress.tick(
                            &name,
                            reader.offset(),
                            reader.len(),
                            engine.stats.packets,
                            engine.table.len(),
                        );
                    }
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let stats = reader.stats();
        let failed = error
            .as_ref()
            .is_some_and(|e| stats.records == 0 && e.kind.is_fatal_at_start());
        files.push(FileOutcome {
            path: path.clone(),
            name,
            stats,
            error,
            failed,
        });
    }
    // End of input: the table is handed over in chunks as it drains, so a full table (a flood
    // at the flow cap) is never copied whole into one message and the merge queue at once.
    engine.finish(&mut |e| {
        batch.push(e);
        if batch.len() >= BATCH_FLOWS {
            let _ = tx.send(Msg::Flows {
                flows: std::mem::take(&mut batch),
                low: u64::MAX,
            });
        }
    });
    progress.done();
    let _ = tx.send(Msg::Flows {
        flows: batch,
        low: u64::MAX,
    });
    let _ = tx.send(Msg::Done {
        engine: Box::new(engine),
        files,
    });
}

/// Receives the merged stream of finished flows during a live capture, and a tick about once a
/// second (for periodic reports) even when nothing ends.
#[cfg(feature = "live")]
pub trait LiveSink {
    fn flow(&mut self, flow: &Flow);
    fn tick(&mut self);
}

/// Live capture: `workers` engines fed by the capture thread's batches (every worker sees every
/// batch and keeps its shard, exactly as with files), merged into `sink` in the same order as
/// `audit` would produce. Returns when the capture thread has stopped and everything drained.
#[cfg(feature = "live")]
pub fn run_live(
    cap: pcap::Capture<pcap::Active>,
    cfg: EngineConfig,
    threads: usize,
    stop: &std::sync::atomic::AtomicBool,
    counters: &crate::capture::live::LiveCounters,
    pcap_out: Option<crossbeam_channel::Sender<std::sync::Arc<crate::capture::live::Batch>>>,
    sink: &mut dyn LiveSink,
) -> Vec<Engine> {
    use crate::capture::live::{run_capture, Batch};
    use std::sync::Arc;
    let threads = threads.clamp(1, 256);
    let (txs, rxs): (Vec<Sender<Msg>>, Vec<crossbeam_channel::Receiver<Msg>>) =
        (0..threads).map(|_| bounded::<Msg>(8)).unzip();
    let mut engines: Vec<Option<Engine>> = (0..threads).map(|_| None).collect();
    std::thread::scope(|scope| {
        let mut senders = Vec::new();
        for worker in 0..threads {
            let (btx, brx) = bounded::<Arc<Batch>>(256);
            senders.push(btx);
            let Some(tx) = txs.get(worker).cloned() else {
                break;
            };
            let mut cfg = cfg.clone();
            if threads > 1 {
                cfg.shard = Some((worker as u64, threads as u64));
                cfg.table.max_flows = cfg.table.max_flows.div_ceil(threads).max(1);
                cfg.reassembly_total = cfg.reassembly_total.div_ceil(threads);
            }
            scope.spawn(move || {
                let mut engine = Engine::new(cfg);
                let mut out: Vec<Ended> = Vec::new();
                let (mut evicted, mut names) = (0u64, 0u64);
                for b in brx.iter() {
                    for pkt in b.packets() {
                        engine.process(&pkt, 0, &mut |e| out.push(e));
                    }
                    engine.tick(b.now, &mut |e| out.push(e));
                    let t = &engine.table.stats;
                    let (e, n) = (
                        t.evicted,
                        t.remembered_names_evicted
                            + if worker == 0 {
                                engine.resolver.stats.evicted
                            } else {
                                0
                            },
                    );
                    counters.flows_evicted.fetch_add(
                        e.saturating_sub(evicted),
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    counters.names_evicted.fetch_add(
                        n.saturating_sub(names),
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    (evicted, names) = (e, n);
                    let low = engine.stats.packets + 1;
                    let _ = tx.send(Msg::Flows {
                        flows: std::mem::take(&mut out),
                        low,
                    });
                }
                engine.finish(&mut |e| out.push(e));
                let _ = tx.send(Msg::Flows {
                    flows: out,
                    low: u64::MAX,
                });
                let _ = tx.send(Msg::Done {
                    engine: Box::new(engine),
                    files: Vec::new(),
                });
            });
        }
        drop(txs);
        scope.spawn(move || run_capture(cap, senders, pcap_out, stop, counters));
        let mut queues: Vec<(VecDeque<Ended>, u64, bool)> =
            (0..threads).map(|_| (VecDeque::new(), 0, false)).collect();
        let names: [String; 1] = [String::new()];
        let mut last_tick = Instant::now();
        loop {
            merge_ready(&mut queues, &names, &mut |f, _| sink.flow(f));
            if last_tick.elapsed() >= Duration::from_secs(1) {
                last_tick = Instant::now();
                sink.tick();
            }
            let Some(worker) = waiting_on(&queues) else {
                break;
            };
            let Some(rx) = rxs.get(worker) else { break };
            match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(Msg::Flows { flows, low }) => {
                    if let Some(q) = queues.get_mut(worker) {
                        q.0.extend(flows);
                        q.1 = low;
                    }
                }
                Ok(Msg::Done { engine, .. }) => {
                    if let Some(q) = queues.get_mut(worker) {
                        q.2 = true;
                    }
                    if let Some(slot) = engines.get_mut(worker) {
                        *slot = Some(*engine);
                    }
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    if let Some(q) = queues.get_mut(worker) {
                        q.2 = true;
                    }
                }
            }
        }
        merge_ready(&mut queues, &names, &mut |f, _| sink.flow(f));
    });
    engines.into_iter().flatten().collect()
}
