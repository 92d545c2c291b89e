//! Several capture files as one dataset: decided before the pipeline runs. Files are read in
//! the order of their first packet (tcpdump `-C` names `dump, dump1, dump10, dump2`, which a glob
//! sorts wrongly), the same capture given twice is refused (its packets would count twice: the
//! same file, a copy, or a compressed copy), and files whose time ranges overlap are warned
//! about. Each regular file is read once here for its first and last packet (compressed ones
//! decompressed as a stream), so a compressed input costs a second decompression.

use std::cell::Cell;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::capture::file::stream::StreamReader;
use crate::capture::file::{is_stdin, open_decompressed, CaptureFile};
use crate::capture::FileOutcome;
use crate::capture::Nanos;
use crate::report::time::rfc3339_micros;

/// The inputs in reading order, and what the plan has to say about them.
pub struct Plan {
    pub files: Vec<PathBuf>,
    /// For stderr: the order was changed.
    pub notes: Vec<String>,
    /// For the report: data that may count twice.
    pub warnings: Vec<String>,
    /// A pipe among the inputs: read once, by the run, in the order given; [`after_run`]
    /// checks for duplicates and overlaps from what the run saw.
    pub check_after_run: bool,
}

/// What the plan knows of one regular file, found by reading it once before the run: an
/// uncompressed file by walking its mapped records, a compressed one by decompressing it as a
/// stream (the same reader as the run's, so memory stays within one read and one block).
#[derive(Clone, Copy, Debug, Default)]
struct Span {
    first: Option<Nanos>,
    last: Option<Nanos>,
    /// Bytes of capture once decompressed; `None` when the file could not be read to its end
    /// (the run reports why), so it is never taken for a duplicate.
    len: Option<u64>,
    compressed: bool,
}

impl Span {
    fn add(&mut self, ts: Nanos) {
        self.first.get_or_insert(ts);
        self.last = Some(self.last.map_or(ts, |l| l.max(ts)));
    }
}

/// A reader that counts the bytes it passes on.
struct Counting<'c, R> {
    inner: R,
    n: &'c Cell<u64>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.set(self.n.get() + k as u64);
        Ok(k)
    }
}

fn span(path: &Path) -> Span {
    let mut s = Span::default();
    let Ok((compression, stream)) = open_decompressed(path) else {
        return s;
    };
    if compression.is_none() {
        drop(stream);
        let Ok(c) = CaptureFile::open(path) else {
            return s;
        };
        let mut r = c.reader();
        let mut complete = true;
        for p in &mut r {
            match p {
                Ok(p) => s.add(p.ts),
                Err(_) => {
                    complete = false;
                    break;
                }
            }
        }
        s.len = complete.then(|| c.len());
        return s;
    }
    s.compressed = true;
    let n = Cell::new(0);
    let src = Counting {
        inner: stream,
        n: &n,
    };
    let Ok(mut r) = StreamReader::new(path, Box::new(src), "decompressing") else {
        return s;
    };
    let mut complete = true;
    while let Some(p) = r.next_packet() {
        match p {
            Ok(p) => s.add(p.ts),
            Err(_) => {
                complete = false;
                break;
            }
        }
    }
    drop(r);
    s.len = complete.then(|| n.get());
    s
}

#[cfg(unix)]
fn identity(m: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// Reads until `buf` is full or the stream ends.
fn fill(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(buf.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Whether two files hold the same capture bytes once decompressed (compared in chunks, so
/// two different captures part at their first record; called only for equal lengths).
fn same_content(a: &Path, b: &Path) -> bool {
    let (Ok((_, mut ra)), Ok((_, mut rb))) = (open_decompressed(a), open_decompressed(b)) else {
        return false;
    };
    let mut ba = vec![0u8; 1 << 16];
    let mut bb = vec![0u8; 1 << 16];
    loop {
        let (Ok(na), Ok(nb)) = (fill(&mut ra, &mut ba), fill(&mut rb, &mut bb)) else {
            return false;
        };
        if na != nb || ba.get(..na) != bb.get(..nb) {
            return false;
        }
        if na == 0 {
            return true;
        }
    }
}

/// Refuses the same file twice, or two files that hold the same capture (byte for byte once
/// decompressed: a `.pcap` and its `.pcap.gz` are one capture).
fn duplicates(
    files: &[PathBuf],
    meta: &[Option<std::fs::Metadata>],
    len: impl Fn(usize) -> Option<u64>,
    compressed: impl Fn(usize) -> bool,
) -> Result<(), String> {
    for (i, a) in files.iter().enumerate() {
        for (j, b) in files.iter().enumerate().skip(i + 1) {
            let (Some(Some(ma)), Some(Some(mb))) = (meta.get(i), meta.get(j)) else {
                continue;
            };
            if !(ma.is_file() && mb.is_file()) {
                continue;
            }
            let same_file = identity(ma).is_some() && identity(ma) == identity(mb);
            let (la, lb) = (len(i), len(j));
            if same_file || (la.is_some() && la == lb && same_content(a, b)) {
                let what = if same_file {
                    "the same file"
                } else if compressed(i) || compressed(j) {
                    "the same capture (identical once decompressed)"
                } else {
                    "identical files"
                };
                return Err(format!(
                    "{} and {} are {what}: their packets would count twice; give each capture once",
                    a.display(),
                    b.display(),
                ));
            }
        }
    }
    Ok(())
}

/// Orders `files` by first packet, refuses duplicates (`Err`: a usage error), warns on overlaps.
/// One input (or standard input alone) is left as it is.
pub fn plan(files: &[PathBuf]) -> Result<Plan, String> {
    let mut plan = Plan {
        files: files.to_vec(),
        notes: Vec::new(),
        warnings: Vec::new(),
        check_after_run: false,
    };
    if files.iter().any(|f| is_stdin(f)) {
        if files.len() > 1 {
            return Err("standard input (-) can only be the only input".to_string());
        }
        return Ok(plan);
    }
    if files.len() < 2 {
        return Ok(plan);
    }
    let meta: Vec<Option<std::fs::Metadata>> =
        files.iter().map(|f| std::fs::metadata(f).ok()).collect();
    // A pipe or device can be read once only: peeking at its first packet here would consume
    // records the run then never sees. Keep the given order instead and say so.
    if let Some(stream) = files
        .iter()
        .zip(&meta)
        .find(|(_, m)| m.as_ref().is_some_and(|m| !m.is_file()))
        .map(|(f, _)| f)
    {
        plan.notes.push(format!(
            "{} is not a regular file (a pipe?): the inputs are read in the order given, not ordered by first packet; duplicates and overlaps are checked as they are read",
            stream.display()
        ));
        plan.check_after_run = true;
        // Regular files are still compared, by their size on disk (a copy, compressed the
        // same way or not at all, has the same).
        let plain_len = |i: usize| meta.get(i)?.as_ref().map(std::fs::Metadata::len);
        duplicates(files, &meta, plain_len, |_| false)?;
        return Ok(plan);
    }
    let spans: Vec<Span> = files.iter().map(|f| span(f)).collect();
    duplicates(
        files,
        &meta,
        |i| spans.get(i).and_then(|s| s.len),
        |i| spans.get(i).is_some_and(|s| s.compressed),
    )?;
    let mut order: Vec<usize> = (0..files.len()).collect();
    // Stable: files without a readable first packet keep their place relative to each other,
    // after the others (the pipeline reports why they could not be read).
    order.sort_by_key(|&i| spans.get(i).and_then(|s| s.first).unwrap_or(u64::MAX));
    if order.iter().enumerate().any(|(k, &i)| k != i) {
        let names: Vec<String> = order
            .iter()
            .filter_map(|&i| files.get(i))
            .map(|f| f.display().to_string())
            .collect();
        plan.notes.push(format!(
            "reading the inputs in the order of their first packet: {}",
            names.join(", ")
        ));
    }
    plan.files = order
        .iter()
        .filter_map(|&i| files.get(i).cloned())
        .collect();
    let ordered: Vec<(String, Option<Nanos>, Option<Nanos>)> = order
        .iter()
        .filter_map(|&i| Some((files.get(i)?.display().to_string(), spans.get(i)?)))
        .map(|(n, s)| (n, s.first, s.last))
        .collect();
    plan.warnings = overlaps(&ordered, "the captures overlap");
    Ok(plan)
}

/// A file (name, first, last packet) starting before an earlier one ended, in reading order.
fn overlaps(files: &[(String, Option<Nanos>, Option<Nanos>)], what: &str) -> Vec<String> {
    let mut w = Vec::new();
    let mut latest: Option<(Nanos, &str)> = None;
    for (name, first, last) in files {
        if let (Some(first), Some((end, by))) = (*first, latest) {
            if first < end {
                w.push(format!(
                    "{name} starts ({}) before {by} ends ({}): {what}; packets captured in both count twice",
                    rfc3339_micros(first),
                    rfc3339_micros(end),
                ));
            }
        }
        if let Some(last) = *last {
            if latest.is_none_or(|(end, _)| last > end) {
                latest = Some((last, name));
            }
        }
    }
    w
}

/// The checks [`plan`] could not make before the run (a pipe among the inputs), from what the
/// run read: `Err` when two inputs held the same records (the run's report would count them
/// twice, so it is refused), else the overlap warnings.
pub fn after_run(files: &[FileOutcome]) -> Result<Vec<String>, String> {
    for (i, a) in files.iter().enumerate() {
        for b in files.iter().skip(i + 1) {
            if let (Some(sa), Some(sb)) = (a.seen, b.seen) {
                if sa.records > 0 && sa == sb {
                    return Err(format!(
                        "{} and {} hold the same {} records: their packets would count twice, so \
                         no report is made; give each capture once",
                        a.name, b.name, sa.records
                    ));
                }
            }
        }
    }
    let seen: Vec<(String, Option<Nanos>, Option<Nanos>)> = files
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                f.seen.map(|s| s.first),
                f.seen.map(|s| s.last),
            )
        })
        .collect();
    Ok(overlaps(
        &seen,
        "the captures overlap or are out of order (with a pipe among them, inputs are read in \
         the order given)",
    ))
}
