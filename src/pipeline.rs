//! Runs capture files through engines. Several files are one dataset (a week split into rotated
//! files): flows continue across file boundaries, and a bad file stops only itself.
//!
//! With `-j2` one engine thread reads the mapped input itself, exactly as one thread does, and
//! the calling thread keeps its pages mapped ahead of it and released behind it and writes the
//! output ([`run_paged`]). With more threads, the calling thread walks the memory-mapped input
//! once and hands each record (a reference, no copy) to the one of `threads - 1` engine workers
//! that owns its flow (by a direction-independent hash). Between batches the same thread merges
//! the finished flows in [`Ended::order`], which makes the output identical whatever the
//! thread count. Every engine gets the same sweep points, so
//! expiry happens at the same record as with one thread. With several workers, DNS is validated
//! once on the calling thread ([`DnsObserver`]) and the answers go to every engine with the record.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::capture::batch::{Batch, LiveCounters};
use crate::capture::file::stream::{needs_stream, StreamReader};
use crate::capture::file::{CaptureFile, PageRelease, Reader};
use crate::capture::{CaptureError, Nanos, Packet};
use crate::decode::ip::Route;
use crate::decode::Decoder;
use crate::engine::{DnsFacts, DnsObserver, Engine, EngineConfig};
use crate::flow::table::{Ended, SweepClock};
use crate::flow::Flow;

// What reading one input gave is capture's (log inputs report the same).
pub use crate::capture::{FileOutcome, Seen};

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
    /// Rewrite the line with `\r` and spaces instead of the erase-line sequence `ESC[2K`:
    /// under `NO_COLOR` or `TERM=dumb` nothing but plain text reaches the terminal.
    plain: bool,
    /// Characters of the line last written (what the plain mode must cover with spaces).
    shown: usize,
    last: Instant,
    started: Instant,
}

/// Whether the progress line must be plain text: `NO_COLOR` set (not empty, as for the
/// report's colour) or `TERM=dumb`.
fn plain_progress(no_color: Option<&std::ffi::OsStr>, term: Option<&std::ffi::OsStr>) -> bool {
    no_color.is_some_and(|v| !v.is_empty()) || term.is_some_and(|t| t == "dumb")
}

impl Progress {
    fn new(enabled: bool) -> Progress {
        Progress {
            enabled,
            plain: plain_progress(
                std::env::var_os("NO_COLOR").as_deref(),
                std::env::var_os("TERM").as_deref(),
            ),
            shown: 0,
            last: Instant::now(),
            started: Instant::now(),
        }
    }

    fn tick(&mut self, name: &str, offset: u64, len: u64, packets: u64, flows: Option<usize>) {
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
        let flows = flows
            .map(|f| format!("  {f} active flows"))
            .unwrap_or_default();
        let line = format!(
            "{name}: {pct:5.1}%  {packets} packets ({:.2} Mpps){flows}",
            packets as f64 / secs / 1e6
        );
        eprint!("{}", self.frame(&line));
    }

    /// What rewrites the progress line as `line` (empty: clears it).
    fn frame(&mut self, line: &str) -> String {
        let n = line.chars().count();
        let out = if !self.plain {
            format!("\r\x1b[2K{line}")
        } else if line.is_empty() {
            format!("\r{:w$}\r", "", w = self.shown)
        } else {
            format!("\r{line}{:w$}", "", w = self.shown.saturating_sub(n))
        };
        self.shown = n;
        out
    }

    fn done(&mut self) {
        if self.enabled {
            eprint!("{}", self.frame(""));
        }
    }
}

enum Msg<P = ()> {
    /// Finished flows in order; the worker will emit nothing ordered before `low` any more.
    /// `prepared`: what [`Prepare`] made of each flow, in the same order, or empty when the
    /// worker left that to the merge.
    Flows {
        flows: Vec<Ended>,
        prepared: Vec<P>,
        low: u64,
    },
    Done {
        engine: Box<Engine>,
    },
}

/// Records between two batches a worker sends (bounds latency and the aggregator's queues).
const BATCH_RECORDS: u64 = 16_384;
const BATCH_FLOWS: usize = 1_024;

/// Files adding up to less than this run on one thread when `--threads` is not given: their
/// packet work (about 10 ms of CPU at 16 MiB) is too little for a second thread to pay for its
/// start, its hand-off and the merge (measured: `-j2` no faster below it; see README: Threads).
pub const SMALL_INPUT: u64 = 16 << 20;

/// The thread count when `--threads` is not given: `cores`, except one where a second thread
/// cannot help: one core, or inputs that are all regular files (not compressed) adding up to
/// less than [`SMALL_INPUT`]. A stream (stdin, a pipe, a compressed file) has no size known in
/// advance and keeps `cores`. Output is the same either way; only the time differs.
pub fn auto_threads(paths: &[PathBuf], cores: usize) -> usize {
    if cores <= 1 {
        return 1;
    }
    let mut total = 0u64;
    for p in paths {
        if needs_stream(p) {
            return cores;
        }
        // A file that cannot be read is reported by the run; it adds no work.
        total = total.saturating_add(std::fs::metadata(p).map_or(0, |m| m.len()));
    }
    if total < SMALL_INPUT {
        1
    } else {
        cores
    }
}

/// Read `paths` in order as one dataset with `threads` workers. `on_flow` sees every flow once,
/// as it ends, with the name of the file it started in, in an order independent of `threads`.
pub fn run_files(
    paths: &[PathBuf],
    cfg: EngineConfig,
    threads: usize,
    progress: bool,
    on_flow: &mut dyn FnMut(&Flow, &str),
) -> RunResult {
    let nothing = || -> PrepareFn<'_, ()> { Box::new(|_, _| {}) };
    run_files_prepared(paths, cfg, threads, progress, &nothing, &mut |f, n, ()| {
        on_flow(f, n)
    })
}

/// Makes, for each thread that calls it, a function from an ended flow (and its file's name) to
/// what the output needs of it (its signature match, its rendered flow-log line). It must depend
/// on the flow and the name alone: which thread ran it never shows in the output.
pub type Prepare<'p, P> = dyn Fn() -> PrepareFn<'p, P> + Sync + 'p;

/// One thread's [`Prepare`] function.
pub type PrepareFn<'p, P> = Box<dyn FnMut(&Flow, &str) -> P + Send + 'p>;

/// [`run_files`] with per-flow work taken off the merge: a worker that has nothing queued runs
/// `prepare` on the flows it ended, and the merge runs it only on the others, so the thread
/// that reads, merges and writes (the one every other waits on) is left the ordering, the
/// aggregation and the writing. `on_flow` gets each flow with its prepared value.
pub fn run_files_prepared<P: Send>(
    paths: &[PathBuf],
    cfg: EngineConfig,
    threads: usize,
    progress: bool,
    prepare: &Prepare<'_, P>,
    on_flow: &mut dyn FnMut(&Flow, &str, P),
) -> RunResult {
    let mut prep = prepare();
    let mut on_flow = |f: &Flow, name: &str, p: Option<P>| {
        let p = p.unwrap_or_else(|| prep(f, name));
        on_flow(f, name, p);
    };
    if paths.iter().any(|p| needs_stream(p)) {
        return run_stream(paths, cfg, threads, &mut |f, n| on_flow(f, n, None));
    }
    let threads = threads.clamp(1, 256);
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let opened: Vec<Result<CaptureFile, CaptureError>> =
        paths.iter().map(|p| CaptureFile::open(p)).collect();
    let progress = progress && std::io::stderr().is_terminal();
    if threads == 1 {
        let mut on_flow = |f: &Flow, n: &str| on_flow(f, n, None);
        return run_single(cfg, &opened, paths, &names, progress, &mut on_flow);
    }
    // One engine beside the calling thread (`-j2`): it reads the files itself, as with one
    // thread, and the calling thread does the page-table work and the output (`run_paged`).
    // Otherwise the calling thread reads, routes and merges, and `threads - 1` engines do the
    // per-flow work. More workers than virtual shards would have nothing to own.
    let workers = (threads - 1).min(cfg.table.shards());
    if workers == 1 {
        let mut on_flow = |f: &Flow, n: &str| on_flow(f, n, None);
        return run_paged(cfg, &opened, paths, &names, progress, &mut on_flow);
    }
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..workers).map(|_| bounded::<Msg<P>>(4)).unzip();
    let mut merger = Merger::new(workers);
    let mut files: Vec<FileOutcome> = Vec::new();
    let table_cfg = cfg.table.clone();
    // Several workers: DNS is validated once, here, and its facts go to every worker.
    let mut observer = Some(DnsObserver::new(cfg.clone()));
    std::thread::scope(|scope| {
        let mut work = Vec::with_capacity(workers);
        for (worker, tx) in txs.into_iter().enumerate() {
            let mut cfg = cfg.clone();
            if workers > 1 {
                cfg.shard = Some((worker as u64, workers as u64));
                cfg.routed = true;
                cfg.dns_observed = true;
                // `--max-flows` and `--reassembly-total` bound the whole run: each worker holds
                // its virtual shards, each with its share of both (`FlowTableConfig::shards`).
            }
            let (btx, brx) = bounded::<Work<'_>>(WORK_QUEUE);
            let (ftx, frx) = bounded::<Vec<Item<'_>>>(WORK_QUEUE + 2);
            work.push((btx, frx));
            let names = &names;
            scope.spawn(move || routed_worker(cfg, (&brx, &ftx, &tx), prepare, names));
        }
        let mut emit = |f: &Flow, name: &str, p: Option<P>| on_flow(f, name, p);
        files = dispatch(
            (&opened, paths, &names),
            (&table_cfg, observer.as_mut()),
            work,
            (&rxs, &mut merger),
            progress,
            &mut emit,
        );
        // Every work sender is gone: the workers finish their tables and hang up.
        merger.drain(&rxs, &names, &mut |ev| {
            if let Merged::Flow(f, name, p) = ev {
                on_flow(f, name, p);
            }
        });
    });
    let mut engines: Vec<Engine> = merger.engines.into_iter().flatten().collect();
    if let (Some(obs), Some(first)) = (observer, engines.first_mut()) {
        // The workers validated nothing: the report's validator counts are the observer's.
        first.validator = obs.validator;
        first.stats.dns_parses += obs.stats.dns_parses;
    }
    RunResult { files, engines }
}

/// One thread: the engine reads the records itself, no dispatcher, no merge.
fn run_single(
    cfg: EngineConfig,
    opened: &[Result<CaptureFile, CaptureError>],
    paths: &[PathBuf],
    names: &[String],
    progress: bool,
    on_flow: &mut dyn FnMut(&Flow, &str),
) -> RunResult {
    let mut engine = Engine::new(cfg);
    let mut progress = Progress::new(progress);
    let mut emit = |e: Ended| {
        let name = names
            .get(e.flow.file as usize)
            .map(String::as_str)
            .unwrap_or("");
        on_flow(&e.flow, name);
    };
    let files = read_files(
        opened,
        paths,
        names,
        false,
        &mut |pkt, file, reader, name| {
            engine.process(pkt, file, &mut emit);
            if engine.seq.is_multiple_of(BATCH_RECORDS) {
                let flows = Some(engine.table.len());
                progress.tick(name, reader.offset(), reader.len(), engine.seq, flows);
            }
        },
    );
    engine.finish(&mut emit);
    progress.done();
    RunResult {
        files,
        engines: vec![engine],
    }
}

/// Records between two reports of the paged engine thread (its position and what ended).
const PAGED_RECORDS: u64 = 4_096;

/// Two threads: the engine thread reads the mapped files itself and runs every record exactly
/// as one thread does (so the output is the same by construction), sending what ended and how
/// far it has read every [`PAGED_RECORDS`] records. The calling thread does the rest of what one
/// thread does: it keeps the engine's next pages mapped and releases those read ([`Pager`]:
/// page faults and unmapping are kernel work the engine would otherwise wait on; the engine's
/// reader still releases at one thread's lag, so memory stays bounded if this thread falls
/// behind), and matches, renders, aggregates and writes each flow (`on_flow`).
fn run_paged(
    cfg: EngineConfig,
    opened: &[Result<CaptureFile, CaptureError>],
    paths: &[PathBuf],
    names: &[String],
    progress: bool,
    on_flow: &mut dyn FnMut(&Flow, &str),
) -> RunResult {
    use std::sync::atomic::{AtomicU64, Ordering};
    let mut progress = Progress::new(progress);
    // The engine's position: file index in the top 16 bits, byte offset below.
    let at = AtomicU64::new(0);
    let (tx, rx) = bounded::<Msg>(16);
    let mut engine = None;
    let mut files = Vec::new();
    std::thread::scope(|scope| {
        let (at, tx) = (&at, tx);
        let reader = scope.spawn(move || {
            let mut engine = Engine::new(cfg);
            let mut out: Vec<Ended> = Vec::new();
            let files = read_files(opened, paths, names, false, &mut |pkt, file, reader, _| {
                engine.process(pkt, file, &mut |e| out.push(e));
                if engine.seq.is_multiple_of(PAGED_RECORDS) {
                    at.store(u64::from(file) << 48 | reader.offset(), Ordering::Relaxed);
                    let _ = tx.send(Msg::Flows {
                        flows: std::mem::take(&mut out),
                        prepared: Vec::new(),
                        low: engine.seq + 1,
                    });
                }
            });
            engine.finish(&mut |e| {
                out.push(e);
                if out.len() >= BATCH_FLOWS {
                    let _ = tx.send(Msg::Flows {
                        flows: std::mem::take(&mut out),
                        prepared: Vec::new(),
                        low: u64::MAX,
                    });
                }
            });
            let _ = tx.send(Msg::Flows {
                flows: out,
                prepared: Vec::new(),
                low: u64::MAX,
            });
            (files, engine)
        });
        let pager = |file: u64| {
            let f = usize::try_from(file).ok()?;
            let cap = opened.get(f)?.as_ref().ok()?;
            Some((file, cap.pager(), cap.len()))
        };
        // The first pages before the engine asks for them.
        let mut current = pager(0);
        if let Some((_, p, _)) = current.as_mut() {
            p.follow(0);
        }
        for msg in rx.iter() {
            let a = at.load(Ordering::Relaxed);
            let (file, offset) = (a >> 48, a & ((1 << 48) - 1));
            if current.as_ref().is_none_or(|(f, _, _)| *f != file) {
                if let Some((_, mut p, _)) = current.take() {
                    p.finish();
                }
                current = pager(file);
            }
            if let Some((_, p, _)) = current.as_mut() {
                p.follow(usize::try_from(offset).unwrap_or(usize::MAX));
            }
            let Msg::Flows { flows, low, .. } = msg else {
                continue;
            };
            for e in flows {
                let name = names.get(e.flow.file as usize).map_or("", String::as_str);
                on_flow(&e.flow, name);
            }
            if let (Some((f, _, len)), true) = (&current, low < u64::MAX) {
                let name = names.get(*f as usize).map_or("", String::as_str);
                progress.tick(name, offset, *len, low - 1, None);
            }
        }
        match reader.join() {
            Ok((f, e)) => {
                files = f;
                engine = Some(e);
            }
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    progress.done();
    RunResult {
        files,
        engines: engine.into_iter().collect(),
    }
}

/// Walk every record of every file in order, handing each to `each` with its file's index, the
/// reader (its position for progress, pages to release) and the file's name; returns how each
/// file went. `hand_off`: pages read are left for `each` to release ([`Reader::take_release`]).
fn read_files<'a>(
    opened: &'a [Result<CaptureFile, CaptureError>],
    paths: &[PathBuf],
    names: &[String],
    hand_off: bool,
    each: &mut dyn FnMut(&Packet<'a>, u16, &mut Reader<'a>, &str),
) -> Vec<FileOutcome> {
    let mut files = Vec::with_capacity(paths.len());
    for (idx, (cap, path)) in opened.iter().zip(paths).enumerate() {
        let name = names.get(idx).cloned().unwrap_or_default();
        let file_idx = u16::try_from(idx).unwrap_or(u16::MAX);
        let cap = match cap {
            Ok(c) => c,
            Err(e) => {
                files.push(FileOutcome::not_opened(path, name, e.clone()));
                continue;
            }
        };
        let mut reader = cap.reader();
        if hand_off {
            reader.hand_off_release();
        }
        let mut error = None;
        while let Some(next) = reader.next_packet() {
            match next {
                Ok(pkt) => each(&pkt, file_idx, &mut reader, &name),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        files.push(FileOutcome::read(path, name, reader.stats(), error));
    }
    files
}

/// One record as the dispatcher hands it to a worker: a reference into the mapped file, no copy.
struct Item<'a> {
    /// `None`: a record of another worker's flow that is a sweep point.
    pkt: Option<Packet<'a>>,
    seq: u64,
    file: u16,
    /// This worker counts the record (each record is counted by exactly one worker).
    count: bool,
    sweep: Option<Nanos>,
    /// The record's DNS, validated once by the dispatcher's [`DnsObserver`].
    facts: Option<Arc<DnsFacts>>,
}

/// A worker's share of a run of records; `end` is the number of the run's last record (the
/// worker's watermark after it, whether or not it got any of them).
struct Work<'a> {
    items: Vec<Item<'a>>,
    end: u64,
    /// Pages the reader is done with, for the worker to release after this run (the reader's
    /// thread is the one the others wait on; see [`Reader::hand_off_release`]).
    release: Option<PageRelease<'a>>,
}

/// Batches queued per worker: with [`DISPATCH_RECORDS`] records each, the records in flight
/// (queued, being filled, being processed) stay within the reader's page-release lag, so a
/// worker never faults in a page the reader already handed back.
const WORK_QUEUE: usize = 2;

/// The reader's per-record work, on the calling thread: walk the record header and hand a
/// reference to the worker that owns the flow ([`Decoder::route`] reads the outer IP/ports;
/// records every worker must see (DNS, fragments, tunnels) go to all, counted by one). Between batches it merges what the workers
/// finished, and while a worker's queue is full it merges instead of waiting.
fn dispatch<'a, P>(
    (opened, paths, names): (
        &'a [Result<CaptureFile, CaptureError>],
        &[PathBuf],
        &[String],
    ),
    (table, mut observer): (&crate::flow::FlowTableConfig, Option<&mut DnsObserver>),
    work: Vec<(Sender<Work<'a>>, Receiver<Vec<Item<'a>>>)>,
    (rxs, merger): (&[Receiver<Msg<P>>], &mut Merger<P>),
    progress: bool,
    on_flow: &mut dyn FnMut(&Flow, &str, Option<P>),
) -> Vec<FileOutcome> {
    let n = work.len().max(1);
    let mut progress = Progress::new(progress);
    let mut clock = SweepClock::new(table);
    let shards = table.shards();
    let fresh = |w: usize| -> Vec<Item<'a>> {
        work.get(w)
            .and_then(|(_, free)| free.try_recv().ok())
            .unwrap_or_else(|| Vec::with_capacity(DISPATCH_RECORDS))
    };
    let mut batches: Vec<Vec<Item<'a>>> = (0..n).map(fresh).collect();
    let mut seq: u64 = 0;
    // Pages released by the first worker, between its runs of records.
    let mut release: Option<PageRelease<'a>> = None;
    let mut flush = |batches: &mut Vec<Vec<Item<'a>>>,
                     end: u64,
                     release: Option<PageRelease<'a>>,
                     merger: &mut Merger<P>| {
        let mut release = release;
        for (w, (tx, _)) in work.iter().enumerate() {
            if let Some(b) = batches.get_mut(w) {
                let items = std::mem::replace(b, fresh(w));
                let release = release.take();
                merger.send(
                    tx,
                    Work {
                        items,
                        end,
                        release,
                    },
                    rxs,
                );
            }
        }
        merger.poll(rxs);
        merger.ready(names, on_flow);
    };
    let files = read_files(
        opened,
        paths,
        names,
        true,
        &mut |pkt, file, reader, name| {
            seq += 1;
            let sweep = clock.fires(pkt.ts).then_some(pkt.ts);
            let route = Decoder::route(pkt);
            let (owner, all) = match route {
                Route::Flow(key) | Route::Dns(key) => (key.owner(shards, n as u64) as usize, false),
                Route::All => (0, true),
                Route::Any => (0, false),
            };
            // DNS, and what may hide DNS (fragments, tunnels), is decoded here once more; a
            // DNS record then goes to its flow's owner alone, its answers to every worker.
            let facts = match (route, observer.as_deref_mut()) {
                (Route::Dns(_) | Route::All, Some(o)) => o.observe(pkt, file),
                _ => None,
            };
            let shared = facts.as_ref().filter(|f| f.learned_any());
            for (w, b) in batches.iter_mut().enumerate() {
                if w == owner || all {
                    b.push(Item {
                        pkt: Some(*pkt),
                        seq,
                        file,
                        count: w == owner,
                        sweep,
                        facts: facts.clone(),
                    });
                } else if sweep.is_some() || shared.is_some() {
                    b.push(Item {
                        pkt: None,
                        seq,
                        file,
                        count: false,
                        sweep,
                        facts: shared.cloned(),
                    });
                }
            }
            if let Some(r) = reader.take_release() {
                match release.as_mut() {
                    Some(p) => p.extend(r),
                    None => release = Some(r),
                }
            }
            if seq.is_multiple_of(DISPATCH_RECORDS as u64) {
                flush(&mut batches, seq, release.take(), merger);
                progress.tick(name, reader.offset(), reader.len(), seq, None);
            }
        },
    );
    flush(&mut batches, seq, release.take(), merger);
    progress.done();
    files
}

/// Records per dispatcher batch (per worker at most): a channel send per batch, not per record.
const DISPATCH_RECORDS: usize = 4_096;

/// Records between the one being decoded and the one whose headers are prefetched.
const PREFETCH_AHEAD: usize = 8;

/// Hint that the first two cache lines of `data` (link, IP and transport headers) are needed
/// soon. Only a hint: no effect on results, and nothing on other architectures.
#[inline(always)]
fn prefetch(data: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = data.as_ptr().cast::<i8>();
        // SAFETY: SSE is part of the x86_64 baseline, and a prefetch never faults or reads
        // into the program (any address is allowed, even one past the slice).
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(p);
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

/// One engine over the records the reader hands it. After each run of records, if no further
/// run is queued (it keeps up with the reader), it also prepares the flows it ended, which
/// takes that work off the reader's thread; otherwise it leaves them to the merge. Either way
/// the output is the same: only where the work runs changes.
fn routed_worker<'a, P>(
    cfg: EngineConfig,
    (rx, free, tx): (&Receiver<Work<'a>>, &Sender<Vec<Item<'a>>>, &Sender<Msg<P>>),
    prepare: &Prepare<'_, P>,
    names: &[String],
) {
    let mut engine = Engine::new(cfg);
    let mut prep = prepare();
    let mut prepare_all = |out: &[Ended]| -> Vec<P> {
        out.iter()
            .map(|e| {
                let name = names.get(e.flow.file as usize).map_or("", String::as_str);
                prep(&e.flow, name)
            })
            .collect()
    };
    let mut out: Vec<Ended> = Vec::new();
    for mut w in rx.iter() {
        for k in 0..w.items.len() {
            // The reader touched these bytes on the other core: ask for the headers of a
            // record a few ahead now, so decoding this one does not wait on memory.
            if let Some(ahead) = w.items.get(k + PREFETCH_AHEAD).and_then(|i| i.pkt.as_ref()) {
                prefetch(ahead.data);
            }
            let Some(it) = w.items.get(k) else { break };
            engine.process_routed(
                it.pkt.as_ref(),
                it.file,
                it.seq,
                it.count,
                it.sweep,
                it.facts.as_deref(),
                &mut |e| out.push(e),
            );
        }
        w.items.clear();
        if let Some(r) = w.release.take() {
            r.run();
        }
        let prepared = if rx.is_empty() {
            prepare_all(&out)
        } else {
            Vec::new()
        };
        // Sent even when empty: the watermark lets the merge pass the other workers' flows.
        let _ = tx.send(Msg::Flows {
            flows: std::mem::take(&mut out),
            prepared,
            low: w.end + 1,
        });
        let _ = free.try_send(w.items);
    }
    // End of input: the table is handed over in chunks as it drains, so a full table (a flood
    // at the flow cap) is never copied whole into one message and the merge queue at once.
    // The reader is done: preparing here runs beside the merge's aggregation and writing.
    engine.finish(&mut |e| {
        out.push(e);
        if out.len() >= BATCH_FLOWS {
            let _ = tx.send(Msg::Flows {
                prepared: prepare_all(&out),
                flows: std::mem::take(&mut out),
                low: u64::MAX,
            });
        }
    });
    let _ = tx.send(Msg::Flows {
        prepared: prepare_all(&out),
        flows: out,
        low: u64::MAX,
    });
    let _ = tx.send(Msg::Done {
        engine: Box::new(engine),
    });
}

/// What the merge hands on: a flow in order, or a pause (nothing arrived for a while).
enum Merged<'f, P> {
    /// With what the worker prepared of it, if it did.
    Flow(&'f Flow, &'f str, Option<P>),
    Idle,
}

/// Finished flows of every worker, merged into one stream in [`Ended::order`]: a flow is
/// handed on once no worker can still send one ordered before it (its queue holds something
/// later, its watermark has passed, or it is done).
/// Per worker: queued flows (with what the worker prepared of them), watermark, done.
type Queue<P> = (VecDeque<(Ended, Option<P>)>, u64, bool);

struct Merger<P = ()> {
    queues: Vec<Queue<P>>,
    engines: Vec<Option<Engine>>,
}

impl<P> Merger<P> {
    fn new(workers: usize) -> Self {
        Merger {
            queues: (0..workers).map(|_| (VecDeque::new(), 0, false)).collect(),
            engines: (0..workers).map(|_| None).collect(),
        }
    }

    fn take(&mut self, worker: usize, msg: Result<Msg<P>, crossbeam_channel::RecvError>) {
        let Some(q) = self.queues.get_mut(worker) else {
            return;
        };
        match msg {
            Ok(Msg::Flows {
                flows,
                prepared,
                low,
            }) => {
                if prepared.len() == flows.len() {
                    q.0.extend(flows.into_iter().zip(prepared.into_iter().map(Some)));
                } else {
                    q.0.extend(flows.into_iter().map(|e| (e, None)));
                }
                q.1 = low;
            }
            Ok(Msg::Done { engine }) => {
                q.2 = true;
                if let Some(slot) = self.engines.get_mut(worker) {
                    *slot = Some(*engine);
                }
            }
            // A worker that hung up without `Done` (it panicked): stop waiting for it.
            Err(_) => q.2 = true,
        }
    }

    /// Take whatever the workers have sent, without waiting.
    fn poll(&mut self, rxs: &[Receiver<Msg<P>>]) {
        for (w, rx) in rxs.iter().enumerate() {
            if self.queues.get(w).is_some_and(|q| q.2) {
                continue;
            }
            loop {
                match rx.try_recv() {
                    Ok(m) => self.take(w, Ok(m)),
                    Err(crossbeam_channel::TryRecvError::Empty) => break,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => {
                        self.take(w, Err(crossbeam_channel::RecvError));
                        break;
                    }
                }
            }
        }
    }

    /// Hand `work` to a worker; while its queue is full, take the workers' results instead of
    /// waiting (a worker blocked on a full result queue would otherwise never drain its work).
    fn send<T>(&mut self, tx: &Sender<T>, msg: T, rxs: &[Receiver<Msg<P>>]) {
        let mut msg = match tx.try_send(msg) {
            Ok(()) => return,
            Err(crossbeam_channel::TrySendError::Full(m)) => m,
            Err(crossbeam_channel::TrySendError::Disconnected(_)) => return,
        };
        loop {
            let mut sel = crossbeam_channel::Select::new();
            let send_at = sel.send(tx);
            let mut open = Vec::new();
            for (i, rx) in rxs.iter().enumerate() {
                if self.queues.get(i).is_some_and(|q| !q.2) {
                    sel.recv(rx);
                    open.push(i);
                }
            }
            let op = sel.select();
            if op.index() == send_at {
                let _ = op.send(tx, msg);
                return;
            }
            let worker = open.get(op.index() - 1).copied().unwrap_or(usize::MAX);
            match rxs.get(worker) {
                Some(rx) => {
                    let m = op.recv(rx);
                    self.take(worker, m);
                }
                None => return,
            }
            match tx.try_send(msg) {
                Ok(()) => return,
                Err(crossbeam_channel::TrySendError::Full(m)) => msg = m,
                Err(crossbeam_channel::TrySendError::Disconnected(_)) => return,
            }
        }
    }

    /// Receive from whichever worker has something (never from one chosen in advance, which
    /// let an idle worker stall the others), merging in order until every worker is done.
    /// `out` gets [`Merged::Idle`] about every `IDLE_EVERY` (live: periodic reports).
    fn drain(
        &mut self,
        rxs: &[Receiver<Msg<P>>],
        names: &[String],
        out: &mut dyn FnMut(Merged<'_, P>),
    ) {
        loop {
            self.ready(names, &mut |f, n, p| out(Merged::Flow(f, n, p)));
            let mut sel = crossbeam_channel::Select::new();
            let mut open = Vec::new();
            for (i, rx) in rxs.iter().enumerate() {
                if self.queues.get(i).is_some_and(|q| !q.2) {
                    sel.recv(rx);
                    open.push(i);
                }
            }
            if open.is_empty() {
                break;
            }
            let op = sel.select_timeout(IDLE_EVERY);
            out(Merged::Idle);
            let Ok(op) = op else {
                continue;
            };
            let worker = open.get(op.index()).copied().unwrap_or(usize::MAX);
            match rxs.get(worker) {
                Some(rx) => {
                    let m = op.recv(rx);
                    self.take(worker, m);
                }
                None => break,
            }
        }
        self.ready(names, &mut |f, n, p| out(Merged::Flow(f, n, p)));
    }

    /// Emit, in order, every queued flow that no worker can still precede.
    fn ready(&mut self, names: &[String], on_flow: &mut dyn FnMut(&Flow, &str, Option<P>)) {
        let queues = &mut self.queues;
        loop {
            let mut best: Option<(usize, (u64, u64, crate::flow::FlowKey))> = None;
            for (i, q) in queues.iter().enumerate() {
                if let Some((h, _)) = q.0.front() {
                    let o = h.order();
                    if best.as_ref().is_none_or(|(_, b)| o < *b) {
                        best = Some((i, o));
                    }
                }
            }
            let Some((i, order)) = best else { return };
            // A worker with nothing queued may still emit something earlier, unless it is done
            // or its watermark has passed.
            let blocked = queues
                .iter()
                .enumerate()
                .any(|(j, q)| j != i && q.0.is_empty() && !q.2 && q.1 <= order.0);
            if blocked {
                return;
            }
            if let Some((e, p)) = queues.get_mut(i).and_then(|q| q.0.pop_front()) {
                let name = names
                    .get(e.flow.file as usize)
                    .map(String::as_str)
                    .unwrap_or("");
                on_flow(&e.flow, name, p);
            }
        }
    }
}

/// Longest the merge waits for a message before it runs its idle work.
const IDLE_EVERY: Duration = Duration::from_millis(200);

/// Receives the merged stream of finished flows during a live capture, and a tick about once a
/// second (for periodic reports) even when nothing ends.
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
    pcap_out: Option<crossbeam_channel::Sender<std::sync::Arc<Batch>>>,
    sink: &mut dyn LiveSink,
) -> Vec<Engine> {
    let source =
        move |senders| crate::capture::live::run_capture(cap, senders, pcap_out, stop, counters);
    run_live_from(source, cfg, threads, counters, sink)
}

/// `run_live` (feature `live`) with any source of batches (the capture thread, or a test
/// replaying a file): `source` runs on its own thread, sends every batch to every sender it is
/// given (the worker, or with several workers the DNS observer's thread), and returns when done.
///
/// Every worker gets every batch (one copy out of libpcap's ring, shared) and fully decodes
/// only the records of its flows ([`Decoder::route`] reads the outer headers), plus the ones
/// every worker must see (fragments, tunnels); with several workers, the observer's thread
/// validates DNS once and each batch comes with its facts. Sweep points come from record times,
/// as with files. A worker sends its watermark after every batch, and the merge receives from any
/// worker, so a snapshot never waits on an idle one.
pub fn run_live_from<F>(
    source: F,
    cfg: EngineConfig,
    threads: usize,
    counters: &LiveCounters,
    sink: &mut dyn LiveSink,
) -> Vec<Engine>
where
    F: FnOnce(Vec<Sender<std::sync::Arc<Batch>>>) + Send,
{
    let shards = cfg.table.shards();
    let threads = threads.clamp(1, 256).min(shards);
    let (txs, rxs): (Vec<Sender<Msg>>, Vec<crossbeam_channel::Receiver<Msg>>) =
        (0..threads).map(|_| bounded::<Msg>(8)).unzip();
    let mut merger = Merger::new(threads);
    // Several workers: one thread validates the DNS of every batch once ([`DnsObserver`]) and
    // hands the batch on with its facts, as the reader does for mapped files.
    let observed = threads > 1;
    let mut observer = None;
    std::thread::scope(|scope| {
        let mut senders = Vec::new();
        let mut observed_tx = Vec::new();
        for worker in 0..threads {
            let (btx, brx) = bounded::<Arc<Batch>>(256);
            let (ftx, frx) = bounded::<Arc<BatchFacts>>(256);
            if observed {
                observed_tx.push((btx, ftx));
            } else {
                senders.push(btx);
            }
            let Some(tx) = txs.get(worker).cloned() else {
                break;
            };
            let mut cfg = cfg.clone();
            if threads > 1 {
                cfg.shard = Some((worker as u64, threads as u64));
                cfg.routed = true;
                cfg.dns_observed = true;
            }
            scope.spawn(move || {
                let mut clock = SweepClock::new(&cfg.table);
                let mut engine = Engine::new(cfg);
                let mut out: Vec<Ended> = Vec::new();
                let (mut evicted, mut names) = (0u64, 0u64);
                let n = threads as u64;
                let none: Arc<BatchFacts> = Arc::default();
                for b in brx.iter() {
                    let facts = if observed {
                        frx.recv().unwrap_or_else(|_| none.clone())
                    } else {
                        none.clone()
                    };
                    let mut next = facts.iter().peekable();
                    for (i, pkt) in b.packets().enumerate() {
                        let seq = engine.seq + 1;
                        let sweep = clock.fires(pkt.ts).then_some(pkt.ts);
                        let f = next.next_if(|(k, _)| *k == i).map(|(_, f)| f.as_ref());
                        let (mine, count) = match Decoder::route(&pkt) {
                            _ if n == 1 => (true, true),
                            Route::Flow(k) => {
                                let own = k.owner(shards, n) == worker as u64;
                                (own, own)
                            }
                            // With an observer, DNS goes to its flow's owner alone.
                            Route::Dns(k) if observed => {
                                let own = k.owner(shards, n) == worker as u64;
                                (own, own)
                            }
                            Route::All | Route::Dns(_) => (true, worker == 0),
                            Route::Any => (worker == 0, worker == 0),
                        };
                        // Another worker's record: only the answers it gives every resolver.
                        let f = if mine {
                            f
                        } else {
                            f.filter(|f| f.learned_any())
                        };
                        let pkt = mine.then_some(&pkt);
                        engine.process_routed(pkt, b.file, seq, count, sweep, f, &mut |e| {
                            out.push(e)
                        });
                    }
                    // A streamed file has no wall clock: its records' times alone drive expiry,
                    // exactly as when the file is mapped.
                    if b.now > 0 {
                        engine.tick(b.now, &mut |e| out.push(e));
                    }
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
                    let low = engine.seq + 1;
                    let _ = tx.send(Msg::Flows {
                        flows: std::mem::take(&mut out),
                        prepared: Vec::new(),
                        low,
                    });
                }
                engine.finish(&mut |e| out.push(e));
                let _ = tx.send(Msg::Flows {
                    flows: out,
                    prepared: Vec::new(),
                    low: u64::MAX,
                });
                let _ = tx.send(Msg::Done {
                    engine: Box::new(engine),
                });
            });
        }
        drop(txs);
        let observing = observed.then(|| {
            let (otx, orx) = bounded::<Arc<Batch>>(256);
            senders.push(otx);
            let cfg = cfg.clone();
            scope.spawn(move || observe_batches(cfg, &orx, &observed_tx))
        });
        scope.spawn(move || source(senders));
        let names: [String; 1] = [String::new()];
        let mut last_tick = Instant::now();
        merger.drain(&rxs, &names, &mut |ev| {
            if let Merged::Flow(f, _, _) = ev {
                sink.flow(f);
            }
            if last_tick.elapsed() >= Duration::from_secs(1) {
                last_tick = Instant::now();
                sink.tick();
            }
        });
        observer = observing.and_then(|h| h.join().ok());
    });
    let mut engines: Vec<Engine> = merger.engines.into_iter().flatten().collect();
    if let (Some(obs), Some(first)) = (observer, engines.first_mut()) {
        // The workers validated nothing: the report's validator counts are the observer's.
        first.validator = obs.validator;
        first.stats.dns_parses += obs.stats.dns_parses;
    }
    engines
}

/// The DNS facts of a batch's records, by index in the batch, in order.
type BatchFacts = Vec<(usize, Arc<DnsFacts>)>;

/// Where the observer's thread sends a worker's batches, and their facts.
type ObservedTx = (Sender<Arc<Batch>>, Sender<Arc<BatchFacts>>);

/// The observer's thread: every batch from the source is passed on to every worker, each time
/// with the facts of its records. Blocking: a slow worker fills this thread's queue, and a live
/// capture then counts the drops, as when it fed the workers itself.
fn observe_batches(
    cfg: EngineConfig,
    rx: &Receiver<Arc<Batch>>,
    workers: &[ObservedTx],
) -> DnsObserver {
    let mut obs = DnsObserver::new(cfg);
    for b in rx.iter() {
        let mut facts = BatchFacts::new();
        for (i, pkt) in b.packets().enumerate() {
            if matches!(Decoder::route(&pkt), Route::Dns(_) | Route::All) {
                if let Some(f) = obs.observe(&pkt, b.file) {
                    facts.push((i, f));
                }
            }
        }
        let facts = Arc::new(facts);
        for (btx, ftx) in workers {
            let _ = ftx.send(facts.clone());
            let _ = btx.send(b.clone());
        }
    }
    obs
}

/// Records per streamed batch at most, and bytes: with the workers' queues full, the batches in
/// flight stay within a few tens of MiB however long the stream.
const STREAM_BATCH_RECORDS: usize = 1_024;
const STREAM_BATCH_BYTES: usize = 128 << 10;

/// [`run_files`] for inputs that cannot be mapped (standard input, pipes, compressed files):
/// each is read as a stream ([`StreamReader`]), its records copied into batches that go,
/// through [`run_live_from`], to the same engines and merge as a live capture's. Batches carry
/// no wall clock, so flows end at the same records as when the file is mapped: same flows,
/// same order, same report. Memory is bounded (the read buffer and the queued batches); a
/// never-ending `tcpdump -w - |` is read until it ends.
pub fn run_stream(
    paths: &[PathBuf],
    cfg: EngineConfig,
    threads: usize,
    on_flow: &mut dyn FnMut(&Flow, &str),
) -> RunResult {
    struct Sink<'s> {
        names: &'s [String],
        on_flow: &'s mut dyn FnMut(&Flow, &str),
    }
    impl LiveSink for Sink<'_> {
        fn flow(&mut self, f: &Flow) {
            let name = self
                .names
                .get(f.file as usize)
                .map(String::as_str)
                .unwrap_or("");
            (self.on_flow)(f, name);
        }
        fn tick(&mut self) {}
    }
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let mut files = Vec::new();
    let source = |senders: Vec<Sender<std::sync::Arc<Batch>>>| {
        files = stream_batches(paths, &names, &senders);
    };
    let mut sink = Sink {
        names: &names,
        on_flow,
    };
    let engines = run_live_from(source, cfg, threads, &LiveCounters::default(), &mut sink);
    RunResult { files, engines }
}

/// Reads every input in order into batches, each sent to every worker (waiting while a queue is
/// full: nothing is dropped); returns how each input went.
fn stream_batches(
    paths: &[PathBuf],
    names: &[String],
    senders: &[Sender<std::sync::Arc<Batch>>],
) -> Vec<FileOutcome> {
    let send = |b: Batch| {
        if b.records.is_empty() {
            return;
        }
        let b = std::sync::Arc::new(b);
        for s in senders {
            let _ = s.send(b.clone());
        }
    };
    let new_batch = |file: u16| Batch {
        data: Vec::with_capacity(STREAM_BATCH_BYTES),
        records: Vec::with_capacity(STREAM_BATCH_RECORDS),
        file,
        ..Batch::default()
    };
    let mut files = Vec::with_capacity(paths.len());
    // One key for the run: the same records give the same fingerprint in every input.
    let keys = (paths.len() > 1).then(std::collections::hash_map::RandomState::new);
    for (idx, path) in paths.iter().enumerate() {
        let mut print = keys.as_ref().map(std::hash::BuildHasher::build_hasher);
        let mut span: Option<(Nanos, Nanos)> = None;
        let name = names.get(idx).cloned().unwrap_or_default();
        let file = u16::try_from(idx).unwrap_or(u16::MAX);
        let mut reader = match StreamReader::open(path) {
            Ok(r) => r,
            Err(e) => {
                files.push(FileOutcome::not_opened(path, name, e));
                continue;
            }
        };
        let mut batch = new_batch(file);
        let mut error = None;
        while let Some(next) = reader.next_packet() {
            let pkt = match next {
                Ok(p) => p,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            };
            let full = batch.records.len() >= STREAM_BATCH_RECORDS
                || batch.data.len() + pkt.data.len() > STREAM_BATCH_BYTES;
            if !batch.records.is_empty() && (full || pkt.link != batch.link) {
                send(std::mem::replace(&mut batch, new_batch(file)));
            }
            if let Some(h) = print.as_mut() {
                use std::hash::Hasher as _;
                h.write_u64(pkt.ts);
                h.write_u32(pkt.orig_len);
                h.write_usize(pkt.data.len());
                h.write(pkt.data);
                span = Some(span.map_or((pkt.ts, pkt.ts), |(a, b)| (a, b.max(pkt.ts))));
            }
            batch.link = pkt.link;
            // Batch offsets are u32; a batch holds at most STREAM_BATCH_BYTES plus one record.
            let off = u32::try_from(batch.data.len()).unwrap_or(u32::MAX);
            batch.data.extend_from_slice(pkt.data);
            batch.records.push((
                pkt.ts,
                off,
                u32::try_from(pkt.data.len()).unwrap_or(u32::MAX),
                pkt.orig_len,
            ));
        }
        send(batch);
        let complete = error.is_none();
        let mut outcome = FileOutcome::read(path, name, reader.stats(), error);
        if let (Some(h), Some((first, last)), true) = (print, span, complete) {
            use std::hash::Hasher as _;
            outcome.seen = Some(Seen {
                first,
                last,
                records: outcome.stats.records,
                fingerprint: h.finish(),
            });
        }
        files.push(outcome);
    }
    files
}

#[cfg(test)]
mod threads_tests {
    use super::*;

    #[test]
    fn a_second_thread_only_where_it_can_help() {
        let dir = std::env::temp_dir().join(format!("egressmap-auto-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let small = dir.join("small.pcap");
        std::fs::write(&small, vec![0u8; 4096]).unwrap();
        // Sparse: the size is what counts, not what is on disk.
        let big = dir.join("big.pcap");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(SMALL_INPUT)
            .unwrap();
        let gz = dir.join("small.pcap.gz");
        std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]).unwrap();
        let p = |v: &[&PathBuf]| v.iter().map(|p| (*p).clone()).collect::<Vec<_>>();
        assert_eq!(auto_threads(&p(&[&small]), 4), 1);
        assert_eq!(auto_threads(&p(&[&big]), 4), 4);
        assert_eq!(auto_threads(&p(&[&big]), 1), 1);
        // Small files that add up to the threshold count together.
        let just_under = dir.join("under.pcap");
        std::fs::File::create(&just_under)
            .unwrap()
            .set_len(SMALL_INPUT - 4096)
            .unwrap();
        assert_eq!(auto_threads(&p(&[&just_under]), 2), 1);
        assert_eq!(auto_threads(&p(&[&just_under, &small]), 2), 2);
        // A compressed file or standard input: the size is not known, the default stays.
        assert_eq!(auto_threads(&p(&[&gz]), 2), 2);
        assert_eq!(auto_threads(&[PathBuf::from("-")], 2), 2);
        assert_eq!(auto_threads(&p(&[&small, &gz]), 2), 2);
        // A file that is not there adds nothing (the run reports it).
        assert_eq!(auto_threads(&[dir.join("missing.pcap")], 2), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod progress_tests {
    use super::{plain_progress, Progress};

    fn progress(plain: bool) -> Progress {
        let mut p = Progress::new(true);
        p.plain = plain;
        p
    }

    /// Under NO_COLOR or TERM=dumb the line is rewritten with `\r` and spaces only: a shorter
    /// line covers the longer one before it, and the end blanks it; otherwise `ESC[2K` erases.
    #[test]
    fn plain_progress_has_no_escape_and_covers_the_previous_line() {
        let mut p = progress(true);
        assert_eq!(p.frame("a.pcap: 10.0%"), "\ra.pcap: 10.0%");
        assert_eq!(p.frame("a: 9%"), "\ra: 9%        ");
        assert_eq!(p.frame("a: 100.0% ok"), "\ra: 100.0% ok");
        assert_eq!(p.frame(""), format!("\r{}\r", " ".repeat(12)));
        let mut p = progress(false);
        assert_eq!(p.frame("a.pcap: 10.0%"), "\r\x1b[2Ka.pcap: 10.0%");
        assert_eq!(p.frame(""), "\r\x1b[2K");
    }

    #[test]
    fn no_color_or_dumb_terminal_selects_plain_progress() {
        let os = |s: &'static str| Some(std::ffi::OsStr::new(s));
        for (no_color, term, plain) in [
            (None, os("xterm-256color"), false),
            (os("1"), os("xterm-256color"), true),
            (os(""), os("xterm"), false),
            (None, os("dumb"), true),
            (None, None, false),
        ] {
            assert_eq!(
                plain_progress(no_color, term),
                plain,
                "{no_color:?} {term:?}"
            );
        }
    }
}
