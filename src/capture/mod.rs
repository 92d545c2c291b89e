//! Sources of packets: capture files now, live interfaces later. A source only hands out records;
//! it never looks inside them.

pub mod batch;
pub mod file;
#[cfg(feature = "live")]
pub mod live;
#[cfg(feature = "live")]
pub mod outdir;
#[cfg(feature = "live")]
pub mod privs;

use std::fmt;
use std::path::{Path, PathBuf};

/// Link-layer type of a record, as a pcap `LINKTYPE_*` value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const PPP: LinkType = LinkType(9);
    pub const FDDI: LinkType = LinkType(10);
    pub const RAW: LinkType = LinkType(101);
    pub const IEEE802_11: LinkType = LinkType(105);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const PPI: LinkType = LinkType(192);
    pub const IEEE802_11_RADIOTAP: LinkType = LinkType(127);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// Capture timestamp in nanoseconds since the Unix epoch.
pub type Nanos = u64;

/// One captured record. `data` borrows from the source (a memory-mapped file or a capture buffer).
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    pub ts: Nanos,
    pub link: LinkType,
    /// Bytes captured (at most the snap length).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
}

/// A problem with the capture file itself (not with a packet inside it).
#[derive(Debug, Clone)]
pub struct CaptureError {
    pub file: PathBuf,
    /// 1-based number of the record that could not be read (0: the file header).
    pub record: u64,
    /// Byte offset in the file where the problem starts.
    pub offset: u64,
    pub kind: CaptureErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureErrorKind {
    /// The file could not be opened or mapped (record 0), or a stream failed mid-way.
    Io(String),
    /// Empty file.
    Empty,
    /// Neither pcap nor pcapng magic; holds the first (up to 4) bytes in hex.
    UnknownFormat(String),
    /// The file ends inside a record or block header.
    Truncated,
    /// A block or record is malformed (bad length, bad magic, ...).
    Corrupt(String),
}

impl CaptureErrorKind {
    /// Whether records before the error were readable (partial) or nothing was (failed).
    pub fn is_fatal_at_start(&self) -> bool {
        matches!(
            self,
            CaptureErrorKind::Io(_) | CaptureErrorKind::Empty | CaptureErrorKind::UnknownFormat(_)
        )
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        // A file that could not be opened or recognised has no record to point at: say what
        // failed, not "record 0, byte offset 0".
        match &self.kind {
            CaptureErrorKind::Io(e) if self.record == 0 => {
                return write!(f, "{file}: cannot open: {e}")
            }
            CaptureErrorKind::Empty => return write!(f, "{file}: empty file (no capture header)"),
            CaptureErrorKind::UnknownFormat(magic) => {
                return write!(
                    f,
                    "{file}: not a pcap or pcapng capture (first bytes {magic}; gzip, zstd and xz \
                     compressed captures are read, other formats are not)"
                )
            }
            CaptureErrorKind::Truncated if self.record == 0 => {
                return write!(
                    f,
                    "{file}: file header cut short (file ends at byte {})",
                    self.offset
                )
            }
            CaptureErrorKind::Corrupt(s) if self.record == 0 => {
                return write!(f, "{file}: bad file header at byte {}: {s}", self.offset)
            }
            _ => {}
        }
        let what = match &self.kind {
            CaptureErrorKind::Truncated => "file ends in the middle of a record".to_string(),
            CaptureErrorKind::Corrupt(s) => format!("corrupt record: {s}"),
            // A stream that failed after records were read (a pipe's writer died, a corrupt
            // compressed block): everything before is kept.
            CaptureErrorKind::Io(e) => format!("stream broke: {e}"),
            _ => String::new(),
        };
        write!(
            f,
            "{file}: record {}, byte offset {}: {what}",
            self.record, self.offset
        )
    }
}

impl std::error::Error for CaptureError {}

/// Non-fatal things a reader noticed, counted rather than reported one by one.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct CaptureStats {
    pub records: u64,
    pub bytes: u64,
    /// Records whose captured length exceeded the snap length (kept, clipped to what is there).
    pub over_snaplen: u64,
    /// Records shorter on disk than on the wire (snap length clipping).
    pub clipped: u64,
    /// pcapng blocks skipped because their type is not a packet block.
    pub skipped_blocks: u64,
    /// Packets on an interface whose link type we do not know.
    pub unknown_interface: u64,
    /// pcapng blocks over the 16 MiB bound ([`file::MAX_BLOCK`]), skipped unread.
    pub oversize_blocks: u64,
    /// Where the first of them was.
    pub first_oversize: Option<Oversize>,
}

/// A pcapng block skipped for its size: where it was, for the warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Oversize {
    /// 1-based number of the record that would follow it.
    pub record: u64,
    /// Byte offset of the block (in the decompressed stream for a compressed input).
    pub offset: u64,
    pub len: u32,
    /// The pcapng block type.
    pub btype: u32,
}

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
    /// Streamed inputs of a multi-input run, read to their end: what they held.
    pub seen: Option<Seen>,
}

/// What a streamed input held, for the checks that could not run before it was read (a pipe
/// among several inputs is read once, by the run): its time range and a fingerprint of its
/// records (timestamp, wire length, bytes) under a key drawn per run, so equal fingerprints
/// mean the same records (a false match has odds of 2^-64, and cannot be aimed at).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub first: Nanos,
    pub last: Nanos,
    pub records: u64,
    pub fingerprint: u64,
}

impl FileOutcome {
    /// A file that could not be opened: failed, nothing read.
    pub(crate) fn not_opened(path: &Path, name: String, error: CaptureError) -> Self {
        FileOutcome {
            path: path.to_path_buf(),
            name,
            stats: CaptureStats::default(),
            failed: true,
            error: Some(error),
            seen: None,
        }
    }

    /// A file read to its end or to `error`: failed only if the error came before any record.
    pub(crate) fn read(
        path: &Path,
        name: String,
        stats: CaptureStats,
        error: Option<CaptureError>,
    ) -> Self {
        let failed = error
            .as_ref()
            .is_some_and(|e| stats.records == 0 && e.kind.is_fatal_at_start());
        FileOutcome {
            path: path.to_path_buf(),
            name,
            stats,
            error,
            failed,
            seen: None,
        }
    }
}
