//! Runs capture files through an engine: several files are one dataset (a week split into rotated
//! files), flows continue across file boundaries, and a bad file stops only itself.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::capture::file::CaptureFile;
use crate::capture::{CaptureError, CaptureStats};
use crate::engine::{Engine, EngineConfig};
use crate::flow::table::EndReason;
use crate::flow::Flow;

/// How reading one input went.
#[derive(Debug)]
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
    pub engine: Engine,
}

impl RunResult {
    pub fn any_failed(&self) -> bool {
        self.files.iter().any(|f| f.failed)
    }
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

/// Read `paths` in order through one engine. `on_flow` sees every flow once, as it ends, with the
/// name of the file it started in.
pub fn run_files(
    paths: &[PathBuf],
    cfg: EngineConfig,
    progress: bool,
    on_flow: &mut dyn FnMut(&Flow, &str),
) -> RunResult {
    let mut engine = Engine::new(cfg);
    let mut files: Vec<FileOutcome> = Vec::with_capacity(paths.len());
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let mut progress = Progress {
        enabled: progress && std::io::stderr().is_terminal(),
        last: Instant::now(),
        started: Instant::now(),
    };
    let mut emit = |f: Flow, _r: EndReason| {
        let name = names.get(f.file as usize).map(String::as_str).unwrap_or("");
        on_flow(&f, name);
    };
    for (idx, path) in paths.iter().enumerate() {
        let name = names.get(idx).cloned().unwrap_or_default();
        let file_idx = u16::try_from(idx).unwrap_or(u16::MAX);
        let cap = match CaptureFile::open(path) {
            Ok(c) => c,
            Err(e) => {
                files.push(FileOutcome {
                    path: path.clone(),
                    name,
                    stats: CaptureStats::default(),
                    failed: true,
                    error: Some(e),
                });
                continue;
            }
        };
        let mut reader = cap.reader();
        let mut error = None;
        let mut n: u64 = 0;
        while let Some(next) = reader.next_packet() {
            match next {
                Ok(pkt) => {
                    engine.process(&pkt, file_idx, &mut emit);
                    n += 1;
                    if n & 0xffff == 0 {
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
    engine.finish(&mut emit);
    progress.done();
    RunResult { files, engine }
}
