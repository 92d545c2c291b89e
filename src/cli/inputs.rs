//! Several capture files as one dataset: decided before the pipeline runs. Files are read in
//! the order of their first packet (tcpdump `-C` names `dump, dump1, dump10, dump2`, which a glob
//! sorts wrongly), the same file given twice is refused (its packets would count twice), and
//! files whose time ranges overlap are warned about.

use std::path::{Path, PathBuf};

use crate::capture::file::{decompressed_prefix, is_stdin, CaptureFile, Compression, MAGIC_LEN};
use crate::capture::Nanos;
use crate::report::time::rfc3339_micros;

/// Bytes of a compressed file decompressed to find its first packet.
const PREFIX: usize = 1 << 20;

/// The inputs in reading order, and what the plan has to say about them.
pub struct Plan {
    pub files: Vec<PathBuf>,
    /// For stderr: the order was changed.
    pub notes: Vec<String>,
    /// For the report: data that may count twice.
    pub warnings: Vec<String>,
}

/// First and last packet time of one input (`last` only where it is cheap: uncompressed files,
/// which are mapped; a compressed file would have to be decompressed twice).
#[derive(Clone, Copy, Debug, Default)]
struct Span {
    first: Option<Nanos>,
    last: Option<Nanos>,
}

fn span(path: &Path) -> Span {
    let compressed = std::fs::File::open(path)
        .ok()
        .and_then(|mut f| {
            use std::io::Read as _;
            let mut raw = [0u8; MAGIC_LEN];
            f.read_exact(&mut raw).ok()?;
            Compression::detect(&raw)
        })
        .is_some();
    if compressed {
        let first = decompressed_prefix(path, PREFIX)
            .ok()
            .and_then(|b| CaptureFile::from_vec(path, b).ok())
            .and_then(|c| c.reader().next_packet().and_then(Result::ok).map(|p| p.ts));
        return Span { first, last: None };
    }
    let Ok(c) = CaptureFile::open(path) else {
        return Span::default();
    };
    let mut r = c.reader();
    let mut s = Span::default();
    while let Some(Ok(p)) = r.next_packet() {
        s.first.get_or_insert(p.ts);
        s.last = Some(s.last.map_or(p.ts, |l| l.max(p.ts)));
    }
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

/// Whether two files hold the same bytes (compared in chunks; called only for equal sizes).
fn same_bytes(a: &Path, b: &Path) -> bool {
    use std::io::Read as _;
    let (Ok(mut fa), Ok(mut fb)) = (std::fs::File::open(a), std::fs::File::open(b)) else {
        return false;
    };
    let mut ba = vec![0u8; 1 << 16];
    let mut bb = vec![0u8; 1 << 16];
    loop {
        let (Ok(na), Ok(nb)) = (fa.read(&mut ba), fb.read(&mut bb)) else {
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

/// Orders `files` by first packet, refuses duplicates (`Err`: a usage error), warns on overlaps.
/// One input (or standard input alone) is left as it is.
pub fn plan(files: &[PathBuf]) -> Result<Plan, String> {
    let mut plan = Plan {
        files: files.to_vec(),
        notes: Vec::new(),
        warnings: Vec::new(),
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
    for (i, a) in files.iter().enumerate() {
        for (j, b) in files.iter().enumerate().skip(i + 1) {
            let (Some(Some(ma)), Some(Some(mb))) = (meta.get(i), meta.get(j)) else {
                continue;
            };
            if !(ma.is_file() && mb.is_file()) || ma.len() != mb.len() {
                continue;
            }
            let same_file = identity(ma).is_some() && identity(ma) == identity(mb);
            if same_file || same_bytes(a, b) {
                return Err(format!(
                    "{} and {} are {}: their packets would count twice; give each capture once",
                    a.display(),
                    b.display(),
                    if same_file {
                        "the same file"
                    } else {
                        "identical files"
                    }
                ));
            }
        }
    }
    // A pipe or device can be read once only: peeking at its first packet here would consume
    // records the run then never sees. Keep the given order instead and say so.
    if let Some(stream) = files
        .iter()
        .zip(&meta)
        .find(|(_, m)| m.as_ref().is_some_and(|m| !m.is_file()))
        .map(|(f, _)| f)
    {
        plan.notes.push(format!(
            "{} is not a regular file (a pipe?): the inputs are read in the order given, not ordered by first packet, and overlaps are not checked",
            stream.display()
        ));
        return Ok(plan);
    }
    let spans: Vec<Span> = files.iter().map(|f| span(f)).collect();
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
    // Overlap: a file starting before an earlier one ended.
    let mut latest: Option<(Nanos, usize)> = None;
    for &i in &order {
        let Some(s) = spans.get(i) else { continue };
        if let (Some(first), Some((end, by))) = (s.first, latest) {
            if first < end {
                plan.warnings.push(format!(
                    "{} starts ({}) before {} ends ({}): the captures overlap; packets captured in both count twice",
                    files.get(i).map_or(String::new(), |f| f.display().to_string()),
                    rfc3339_micros(first),
                    files.get(by).map_or(String::new(), |f| f.display().to_string()),
                    rfc3339_micros(end),
                ));
            }
        }
        if let Some(last) = s.last {
            if latest.is_none_or(|(end, _)| last > end) {
                latest = Some((last, i));
            }
        }
    }
    Ok(plan)
}
