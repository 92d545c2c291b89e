//! Capture files: pcap (µs/ns, both byte orders) and pcapng (several interfaces, link types and
//! timestamp resolutions), detected from the magic bytes, read from a memory map.
//!
//! Why a memory map: the file is read once, front to back, and every [`Packet`] borrows its bytes
//! straight from the map, so there is no read buffer to refill, no copy per record and no
//! allocation per record; the kernel does the read-ahead (we advise it that access is sequential).
//! Standard input, pipes, compressed files and files that cannot be mapped are read by
//! [`stream::StreamReader`] instead (same record decoding, bounded memory, no disk);
//! [`CaptureFile::open`] refuses them, and [`stream::needs_stream`] says which inputs they are.
//!
//! pcap-parser parses the file and section headers and interface descriptions. Packet records
//! and the generic pcapng block framing are read here because on the hot path the crate would
//! allocate (an options `Vec` per EPB), and because we need cases it does not make: the swapped
//! length fields of pcap before 2.3, "truncated" versus "corrupt" for an oversized length, and
//! power-of-two `if_tsresol` / big-endian `if_tsoffset` (decoded here from the raw options).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use pcap_parser::pcap::parse_pcap_header;
use pcap_parser::pcapng::{
    parse_interfacedescriptionblock_be, parse_interfacedescriptionblock_le,
    parse_sectionheaderblock, InterfaceDescriptionBlock,
};
use pcap_parser::OptionCode;

use super::{CaptureError, CaptureErrorKind, CaptureStats, LinkType, Nanos, Packet};

/// Largest captured length we accept for one record, as Wireshark does for the common link
/// types; anything bigger is a corrupt length field, not a packet.
pub const MAX_RECORD: u32 = 256 * 1024;
/// Largest pcapng block read. A packet block is far smaller (its packet is at most
/// [`MAX_RECORD`]); a bigger block (a huge name-resolution, secrets or custom block) is skipped
/// unread, counted in [`CaptureStats::oversize_blocks`] and reported, by the mapped and the
/// stream reader alike, so a stream's buffer never holds more than one read and one block. A
/// bigger block that runs past the end of the input is a garbage length field (Corrupt), not a
/// file cut short (Truncated).
pub const MAX_BLOCK: u32 = 16 * 1024 * 1024;
/// Interfaces kept per pcapng section; further IDBs are skipped (bounds memory on hostile files).
const MAX_INTERFACES: usize = 4096;

const NANOS_PER_SEC: u64 = 1_000_000_000;

const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_BOM: u32 = 0x1A2B_3C4D;
const BLOCK_IDB: u32 = 1;
const BLOCK_PB: u32 = 2;
const BLOCK_SPB: u32 = 3;
const BLOCK_EPB: u32 = 6;

/// Container format found from the magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Classic pcap; `nanos` when timestamps are in nanoseconds (magic 0xa1b23c4d).
    Pcap {
        big_endian: bool,
        nanos: bool,
    },
    PcapNg,
}

enum Bytes {
    Map(Mmap),
    Owned(Vec<u8>),
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Map(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// Header fields of a classic pcap file that every record needs.
#[derive(Clone, Copy, Debug)]
struct PcapInfo {
    big_endian: bool,
    nanos: bool,
    /// Files older than 2.3 store origlen before caplen; Wireshark swaps them back.
    swapped_lengths: bool,
    /// 2.3 files written by some tools swap them too; Wireshark swaps when caplen > origlen.
    maybe_swapped: bool,
    snaplen: u32,
    link: LinkType,
}

/// An opened capture file. Cheap to share between threads (`&CaptureFile` is `Sync`); each
/// [`Reader`] borrows it.
pub struct CaptureFile {
    path: PathBuf,
    bytes: Bytes,
    format: Format,
    pcap: Option<PcapInfo>,
}

impl std::fmt::Debug for CaptureFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureFile")
            .field("path", &self.path)
            .field("len", &self.bytes.as_slice().len())
            .field("format", &self.format)
            .finish()
    }
}

fn err(path: &Path, record: u64, offset: usize, kind: CaptureErrorKind) -> CaptureError {
    CaptureError {
        file: path.to_path_buf(),
        record,
        offset: offset as u64,
        kind,
    }
}

fn corrupt(msg: impl Into<String>) -> CaptureErrorKind {
    CaptureErrorKind::Corrupt(msg.into())
}

/// Magic bytes of the compressions read transparently (how rotated captures are kept).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// A zstd skippable frame's magic, `0x184D2A50` to `0x184D2A5F` little-endian, without its low
/// nibble: `pzstd` and the seekable format start a file with one.
const ZSTD_SKIPPABLE_MAGIC: [u8; 3] = [0x2a, 0x4d, 0x18];
const XZ_MAGIC: [u8; 6] = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
/// Bytes [`Compression::detect`] needs to see (the longest magic).
pub const MAGIC_LEN: usize = XZ_MAGIC.len();

/// Largest xz dictionary decoded: 64 MiB, what `xz -9` (the largest preset) writes. The
/// dictionary is declared by the block header, so a hostile 6-byte header could otherwise
/// make the decoder allocate up to 4 GiB; a block declaring more is refused before anything is
/// allocated.
pub const XZ_MAX_DICT: u32 = 64 << 20;

/// A compression detected from the first bytes of an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    Xz,
}

impl Compression {
    /// The compression whose magic `head` starts with (give it [`MAGIC_LEN`] bytes).
    pub fn detect(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&GZIP_MAGIC) {
            Some(Compression::Gzip)
        } else if head.starts_with(&ZSTD_MAGIC)
            || (head.first().is_some_and(|b| b >> 4 == 5)
                && head.get(1..4) == Some(&ZSTD_SKIPPABLE_MAGIC[..]))
        {
            Some(Compression::Zstd)
        } else if head.starts_with(&XZ_MAGIC) {
            Some(Compression::Xz)
        } else {
            None
        }
    }
}

/// `source` decompressed as it is read (gzip members, zstd frames and xz streams concatenated,
/// as `cat a.gz b.gz` makes).
pub fn decompressing<'r>(
    source: impl Read + 'r,
    c: Option<Compression>,
) -> std::io::Result<Box<dyn Read + 'r>> {
    let source = std::io::BufReader::with_capacity(1 << 16, source);
    Ok(match c {
        None => Box::new(source),
        Some(Compression::Gzip) => Box::new(flate2::bufread::MultiGzDecoder::new(source)),
        Some(Compression::Zstd) => Box::new(zstd::Zstd::new(source)),
        Some(Compression::Xz) => Box::new(Xz {
            inner: lzma_rust2::XzReader::new_mem_limit(
                source,
                true,
                lzma_rust2::lzma2_get_memory_usage(XZ_MAX_DICT),
            ),
            failed: None,
        }),
    })
}

/// Bytes asked of the xz decoder per read. It fills the whole buffer it is given or fails, and
/// a failure throws away what that call had decoded: small reads keep all but the last few KiB
/// before a cut (plus the LZMA2 chunk the cut falls in, which cannot be decoded).
const XZ_PIECE: usize = 16 << 10;

/// The xz decoder, read in [`XZ_PIECE`]s, with its memory-limit error said plainly, and never
/// asked again after an error (its state after one is not meant to be read on).
struct Xz<R: Read> {
    inner: lzma_rust2::XzReader<R>,
    failed: Option<(std::io::ErrorKind, String)>,
}

impl<R: Read> Read for Xz<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some((kind, msg)) = &self.failed {
            return Err(std::io::Error::new(*kind, msg.clone()));
        }
        let n = buf.len().min(XZ_PIECE);
        self.inner
            .read(buf.get_mut(..n).unwrap_or_default())
            .map_err(|e| {
                let msg = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    "xz: compressed data ends early (the file is cut short)".to_string()
                } else if e.kind() == std::io::ErrorKind::OutOfMemory {
                    format!(
                        "xz block declares a dictionary larger than {} MiB (xz -9's), refused \
                     before allocating it",
                        XZ_MAX_DICT >> 20
                    )
                } else {
                    format!("xz: {e}")
                };
                self.failed = Some((e.kind(), msg.clone()));
                std::io::Error::new(e.kind(), msg)
            })
    }
}

/// The first bytes of a stream, put back in front of the rest.
fn peek(mut r: impl Read, n: usize) -> std::io::Result<(Vec<u8>, impl Read)> {
    let mut head = Vec::with_capacity(n);
    (&mut r).take(n as u64).read_to_end(&mut head)?;
    let again = std::io::Cursor::new(head.clone());
    Ok((head, again.chain(r)))
}

/// A file's content, decompressed as it is read if it is compressed (detected from the bytes),
/// and which compression that was.
pub fn open_decompressed(path: &Path) -> std::io::Result<(Option<Compression>, Box<dyn Read>)> {
    let file = File::open(path)?;
    let (head, stream) = peek(file, MAGIC_LEN)?;
    let c = Compression::detect(&head);
    Ok((c, decompressing(stream, c)?))
}

/// The path that means standard input.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Why [`CaptureFile::open`] refuses an input that only [`stream::StreamReader`] can read.
const IS_STREAM: &str = "a stream (standard input, a pipe or a compressed file), read by the \
                         stream reader, not mapped";

/// The file mapped. Streams are refused (not read whole into memory or spooled to disk):
/// [`stream::needs_stream`] says which inputs need the stream reader.
fn read_all(path: &Path) -> Result<Bytes, CaptureErrorKind> {
    let stream = || CaptureErrorKind::Io(IS_STREAM.to_string());
    if is_stdin(path) {
        return Err(stream());
    }
    let mut file = File::open(path).map_err(|e| CaptureErrorKind::Io(e.to_string()))?;
    if !file.metadata().map(|m| m.is_file()).unwrap_or(false) {
        return Err(stream());
    }
    let mut head = [0u8; MAGIC_LEN];
    let n = read_prefix(&mut file, &mut head).map_err(|e| CaptureErrorKind::Io(e.to_string()))?;
    if n == 0 {
        return Ok(Bytes::Owned(Vec::new()));
    }
    if head.get(..n).and_then(Compression::detect).is_some() {
        return Err(stream());
    }
    map(&file)
        .map(Bytes::Map)
        .map_err(|e| CaptureErrorKind::Io(format!("cannot map the file ({e}); {IS_STREAM}")))
}

/// A read-only map of `file`, advised sequential.
pub(crate) fn map(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: the map is only read. If another process truncates the file while we read it,
    // the process gets SIGBUS; that is the accepted price of mmap for capture files, which
    // are not being written while audited.
    let map = unsafe { Mmap::map(file) }?;
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(map)
}

/// Reads up to `buf.len()` bytes (fewer only at the end of the file).
fn read_prefix(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(buf.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn u32_at(b: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let a: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl CaptureFile {
    /// Opens and maps `path`, detects the format and checks the file header. Errors here carry
    /// record 0.
    pub fn open(path: &Path) -> Result<CaptureFile, CaptureError> {
        let bytes = read_all(path).map_err(|k| err(path, 0, 0, k))?;
        Self::from_bytes(path, bytes)
    }

    /// A capture held in memory (tests, or data that arrived some other way).
    pub fn from_vec(path: &Path, data: Vec<u8>) -> Result<CaptureFile, CaptureError> {
        Self::from_bytes(path, Bytes::Owned(data))
    }

    fn from_bytes(path: &Path, bytes: Bytes) -> Result<CaptureFile, CaptureError> {
        let (format, pcap) =
            file_header(bytes.as_slice()).map_err(|(at, k)| err(path, 0, at, k))?;
        Ok(CaptureFile {
            path: path.to_path_buf(),
            bytes,
            format,
            pcap,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Size of the file in bytes.
    pub fn len(&self) -> u64 {
        self.bytes.as_slice().len() as u64
    }

    /// Never true for an opened file (empty files fail to open); here for clippy's sake.
    pub fn is_empty(&self) -> bool {
        self.bytes.as_slice().is_empty()
    }

    /// A reader over the records, borrowing the map. Several readers may run at once.
    pub fn reader(&self) -> Reader<'_> {
        let state = match self.pcap {
            Some(info) => State::Pcap(info),
            None => State::PcapNg(NgState {
                big_endian: false,
                ifaces: Vec::new(),
                last_ts: 0,
            }),
        };
        Reader {
            path: &self.path,
            map: match &self.bytes {
                Bytes::Map(m) => Some(m),
                Bytes::Owned(_) => None,
            },
            released: 0,
            hand_off: false,
            pending: 0,
            data: self.bytes.as_slice(),
            pos: if self.pcap.is_some() { PCAP_HEADER } else { 0 },
            state,
            stats: CaptureStats::default(),
            done: false,
            fetched: 0,
        }
    }
}

/// The format from the first bytes (the first 24 are enough), and a classic pcap's header;
/// `Err` holds the offset of the problem. The pcapng section itself is walked by the reader.
fn file_header(data: &[u8]) -> Result<(Format, Option<PcapInfo>), (usize, CaptureErrorKind)> {
    if data.is_empty() {
        return Err((0, CaptureErrorKind::Empty));
    }
    let head = data.get(..4).unwrap_or(data);
    match u32_at(data, 0, false) {
        Some(PCAPNG_SHB) => {
            let bom = u32_at(data, 8, false).ok_or((0, CaptureErrorKind::Truncated))?;
            if bom != PCAPNG_BOM && bom != PCAPNG_BOM.swap_bytes() {
                return Err((8, bad_bom(bom)));
            }
            Ok((Format::PcapNg, None))
        }
        Some(0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1) => {
            let info = parse_pcap_file_header(data).ok_or((0, CaptureErrorKind::Truncated))?;
            let format = Format::Pcap {
                big_endian: info.big_endian,
                nanos: info.nanos,
            };
            Ok((format, Some(info)))
        }
        _ => Err((0, CaptureErrorKind::UnknownFormat(hex(head)))),
    }
}

/// Size of a classic pcap file header: where its first record starts.
const PCAP_HEADER: usize = 24;

fn bad_bom(bom: u32) -> CaptureErrorKind {
    corrupt(format!(
        "section header byte-order magic is {bom:#010x}, not 0x1a2b3c4d"
    ))
}

fn parse_pcap_file_header(data: &[u8]) -> Option<PcapInfo> {
    let (_, h) = parse_pcap_header(data).ok()?;
    let (major, minor) = (h.version_major, h.version_minor);
    Some(PcapInfo {
        big_endian: h.is_bigendian(),
        nanos: h.is_nanosecond_precision(),
        swapped_lengths: major < 2 || (major == 2 && minor < 3),
        maybe_swapped: major == 2 && minor == 3,
        snaplen: h.snaplen,
        // The upper 16 bits carry FCS length information, not the link type.
        link: LinkType((h.network.0 as u32) & 0xFFFF),
    })
}

/// How one interface's raw timestamps become nanoseconds.
#[derive(Clone, Copy, Debug)]
struct Iface {
    link: LinkType,
    snaplen: u32,
    /// Timestamp units per second (`if_tsresol`).
    units: u64,
    /// `if_tsoffset`, seconds.
    offset: i64,
}

impl Iface {
    #[inline]
    fn nanos(&self, raw: u64) -> Nanos {
        let ns = match self.units {
            1_000_000 => raw.saturating_mul(1000),
            NANOS_PER_SEC => raw,
            units => {
                let v = u128::from(raw) * u128::from(NANOS_PER_SEC) / u128::from(units.max(1));
                u64::try_from(v).unwrap_or(u64::MAX)
            }
        };
        if self.offset == 0 {
            return ns;
        }
        let v = i128::from(ns) + i128::from(self.offset) * i128::from(NANOS_PER_SEC);
        u64::try_from(v.max(0)).unwrap_or(u64::MAX)
    }
}

/// Decodes `if_tsresol`: bit 7 clear is a power of ten, set is a power of two. Out-of-range
/// values fall back to microseconds, the pcapng default.
fn tsresol_units(v: u8) -> u64 {
    let exp = u32::from(v & 0x7F);
    let units = if v & 0x80 == 0 {
        10u64.checked_pow(exp)
    } else {
        1u64.checked_shl(exp)
    };
    units.unwrap_or(1_000_000)
}

fn iface_from_idb(idb: &InterfaceDescriptionBlock<'_>, big_endian: bool) -> Iface {
    let mut units = 1_000_000;
    let mut offset = 0;
    for opt in &idb.options {
        let Ok(v) = opt.as_bytes() else { continue };
        if opt.code == OptionCode::IfTsresol {
            if let Some(&b) = v.first() {
                units = tsresol_units(b);
            }
        } else if opt.code == OptionCode::IfTsoffset {
            if let Some(a) = v.get(..8).and_then(|s| <[u8; 8]>::try_from(s).ok()) {
                offset = if big_endian {
                    i64::from_be_bytes(a)
                } else {
                    i64::from_le_bytes(a)
                };
            }
        }
    }
    Iface {
        link: LinkType(u32::from(idb.linktype.0 as u16)),
        snaplen: idb.snaplen,
        units,
        offset,
    }
}

#[derive(Debug)]
struct NgState {
    big_endian: bool,
    ifaces: Vec<Iface>,
    /// Simple Packet Blocks carry no timestamp: they get the last one seen.
    last_ts: Nanos,
}

#[derive(Debug)]
enum State {
    Pcap(PcapInfo),
    PcapNg(NgState),
}

/// How far behind the read position pages are released from the resident set.
const RELEASE_LAG: usize = 16 << 20;
/// Release in whole pages (2 MiB covers huge pages too).
const RELEASE_ALIGN: usize = 2 << 20;

/// Pages of a mapped capture, `start..end`, already read and due to leave the resident set.
/// Any thread may do it: the map is read-only, so a page touched again after its release is
/// only read back (a minor fault), never lost.
#[derive(Debug)]
pub struct PageRelease<'a> {
    map: &'a Mmap,
    start: usize,
    end: usize,
}

impl<'a> PageRelease<'a> {
    /// Add `next`, which starts where this range ends when the reader hands them out in
    /// order; a range that does not follow on (another file) releases this one first.
    pub fn extend(&mut self, next: PageRelease<'a>) {
        if next.start != self.end || !std::ptr::eq(self.map, next.map) {
            std::mem::replace(self, next).run();
            return;
        }
        self.end = next.end;
    }

    /// Hand the pages back to the kernel.
    pub fn run(self) {
        if self.end <= self.start {
            return;
        }
        // SAFETY: the map is a read-only file mapping that nobody writes, so dropping its pages
        // loses nothing: a later access reads the same bytes back from the file. Packets handed
        // out earlier stay valid for the same reason.
        let _ = unsafe {
            self.map.unchecked_advise_range(
                memmap2::UncheckedAdvice::DontNeed,
                self.start,
                self.end - self.start,
            )
        };
    }
}

/// How far ahead of the position a [`Pager`] is told about it maps pages in.
const PAGER_AHEAD: usize = 8 << 20;
/// How far behind that position it releases them.
const PAGER_BEHIND: usize = 4 << 20;

/// Keeps the pages of a mapped capture that a reader on another thread is about to read in its
/// page tables, and releases those it has read: the page-table work (a fault per 64 KiB in,
/// unmapping out) then runs on the thread that calls [`Pager::follow`], not the reader's.
/// Only a hint either way: a page the reader gets to first it faults in itself, and one touched
/// again after its release is read back (the map is read-only), so results never change.
#[derive(Debug)]
pub struct Pager<'a> {
    map: Option<&'a Mmap>,
    /// Bytes before this offset were populated (or asked to be).
    populated: usize,
    /// Bytes before this offset were released.
    released: usize,
}

impl<'a> Pager<'a> {
    /// The reader has read up to `offset`: populate up to [`PAGER_AHEAD`] past it, release
    /// what lies more than [`PAGER_BEHIND`] before it, in whole 2 MiB steps.
    pub fn follow(&mut self, offset: usize) {
        let Some(map) = self.map else { return };
        let len = map.len();
        let ahead = (offset.saturating_add(PAGER_AHEAD) & !(RELEASE_ALIGN - 1)).min(len);
        if ahead > self.populated {
            let start = self.populated.max(offset & !(RELEASE_ALIGN - 1));
            if ahead > start {
                #[cfg(target_os = "linux")]
                let _ = map.advise_range(memmap2::Advice::PopulateRead, start, ahead - start);
            }
            self.populated = ahead;
        }
        let behind = offset.saturating_sub(PAGER_BEHIND) & !(RELEASE_ALIGN - 1);
        if behind > self.released {
            PageRelease {
                map,
                start: self.released,
                end: behind,
            }
            .run();
            self.released = behind;
        }
    }

    /// The reader is done with the file: release everything still mapped.
    pub fn finish(&mut self) {
        if let Some(map) = self.map {
            PageRelease {
                map,
                start: self.released,
                end: map.len(),
            }
            .run();
            self.released = map.len();
        }
    }
}

impl CaptureFile {
    /// A [`Pager`] for this file (one that does nothing when the file is not mapped).
    pub fn pager(&self) -> Pager<'_> {
        Pager {
            map: match &self.bytes {
                Bytes::Map(m) => Some(m),
                Bytes::Owned(_) => None,
            },
            populated: 0,
            released: 0,
        }
    }
}

/// Walks the records of a [`CaptureFile`]. After an error it yields nothing more.
///
/// `CaptureError::record` is the 1-based number of the packet record being read when the problem
/// was found (packets read before it + 1), whatever kind of pcapng block holds the problem.
#[derive(Debug)]
pub struct Reader<'a> {
    path: &'a Path,
    /// The mapping, to hand pages already read back to the kernel (see [`Reader::release`]).
    map: Option<&'a Mmap>,
    /// Bytes before this offset were released (or handed out to be, see [`Reader::hand_off_release`]).
    released: usize,
    /// Pages due for release are kept for [`Reader::take_release`] instead of released here.
    hand_off: bool,
    /// Start of the range due for release and not taken yet (up to `released`).
    pending: usize,
    data: &'a [u8],
    pos: usize,
    state: State,
    stats: CaptureStats,
    done: bool,
    /// Bytes before this offset were prefetched (see [`Reader::read_ahead`]).
    fetched: usize,
}

/// How far ahead of the read position the reader asks for cache lines: the record headers
/// form a chain (each one's length says where the next one is), so without it every record
/// waits on memory in turn; a few pages ahead keeps the lines on their way.
const READ_AHEAD: usize = 8 << 10;

/// Hint that the cache line at `p` is needed soon. Only a hint: no effect on results (a
/// prefetch never faults, whatever the address), nothing on other architectures.
#[inline(always)]
pub fn prefetch_line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE is part of the x86_64 baseline, and a prefetch never faults or reads
        // into the program (any address is allowed, even one outside every allocation).
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// What one pcapng block turned out to be.
enum Step<'a> {
    Packet(Packet<'a>),
    Skip,
    /// Over [`MAX_BLOCK`]: only its type and length were read; the reader skips it (checking
    /// its trailing length) and counts it.
    Oversize {
        btype: u32,
        len: u32,
    },
}

/// The block is there whole and ends with its length: counted as skipped. `Err`: it is not.
fn skip_oversize(
    btype: u32,
    len: u32,
    trailer: Option<u32>,
    record: u64,
    offset: u64,
    stats: &mut CaptureStats,
) -> Result<(), CaptureErrorKind> {
    match trailer {
        None => Err(corrupt(format!(
            "block length {len} (over the {MAX_BLOCK}-byte bound) runs past the end of the input"
        ))),
        Some(t) if t != len => Err(corrupt(format!(
            "block length {len} but trailing length {t}"
        ))),
        Some(_) => {
            stats.oversize_blocks += 1;
            stats.first_oversize.get_or_insert(super::Oversize {
                record,
                offset,
                len,
                btype,
            });
            Ok(())
        }
    }
}

impl<'a> Reader<'a> {
    /// The next packet, `None` at the end or after an error.
    #[inline]
    pub fn next_packet(&mut self) -> Option<Result<Packet<'a>, CaptureError>> {
        if self.done {
            return None;
        }
        self.read_ahead();
        let r = match self.state {
            State::Pcap(info) => self.next_pcap(info),
            State::PcapNg(_) => self.next_pcapng(),
        };
        if self.pos - self.released.min(self.pos) >= self.lag() * 2 {
            self.release();
        }
        match r {
            Ok(Some(p)) => Some(Ok(p)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(kind) => {
                self.done = true;
                Some(Err(err(self.path, self.stats.records + 1, self.pos, kind)))
            }
        }
    }

    pub fn stats(&self) -> CaptureStats {
        self.stats
    }

    /// Prefetch every cache line up to [`READ_AHEAD`] past the read position (those not
    /// asked for yet), inside the data.
    #[inline(always)]
    fn read_ahead(&mut self) {
        let end = (self.pos + READ_AHEAD).min(self.data.len());
        let base = self.data.as_ptr();
        let mut at = self.fetched.max(self.pos);
        while at < end {
            prefetch_line(base.wrapping_add(at));
            at += 64;
        }
        self.fetched = at;
    }

    /// Memory stays flat however large the file: pages more than [`RELEASE_LAG`] behind the read
    /// position leave our resident set (they stay in the page cache, so another reader of the
    /// same map only takes a minor fault).
    fn release(&mut self) {
        let Some(map) = self.map else { return };
        let end = self.pos.saturating_sub(self.lag()) & !(RELEASE_ALIGN - 1);
        if end <= self.released {
            return;
        }
        if self.hand_off {
            self.released = end;
            return;
        }
        PageRelease {
            map,
            start: self.released,
            end,
        }
        .run();
        self.released = end;
        self.pending = end;
    }

    /// Leave the page release to whoever calls [`Reader::take_release`] (another thread):
    /// unmapping pages is kernel work (a third of a reader's time with page faults), and the
    /// thread that only walks record headers is the one the others wait on.
    pub fn hand_off_release(&mut self) {
        self.hand_off = true;
    }

    /// How far behind the read position pages become due for release. Handed-off pages are
    /// released a few batches later, by a thread that has read up to where they were handed
    /// out: half the lag then keeps the resident set as small as when the reader releases.
    fn lag(&self) -> usize {
        if self.hand_off {
            RELEASE_LAG / 2
        } else {
            RELEASE_LAG
        }
    }

    /// The pages due for release since the last call, if any (with [`Reader::hand_off_release`]).
    pub fn take_release(&mut self) -> Option<PageRelease<'a>> {
        let map = self.map?;
        if self.pending >= self.released {
            return None;
        }
        let r = PageRelease {
            map,
            start: self.pending,
            end: self.released,
        };
        self.pending = self.released;
        Some(r)
    }

    /// Bytes consumed so far (for progress).
    pub fn offset(&self) -> u64 {
        self.pos as u64
    }

    /// Size of the file in bytes (for progress).
    pub fn len(&self) -> u64 {
        self.data.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    #[inline]
    fn next_pcap(&mut self, info: PcapInfo) -> Result<Option<Packet<'a>>, CaptureErrorKind> {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        if rest.is_empty() {
            return Ok(None);
        }
        let (used, p) = pcap_record(info, rest, &mut self.stats)?;
        self.pos += used;
        Ok(Some(p))
    }

    fn next_pcapng(&mut self) -> Result<Option<Packet<'a>>, CaptureErrorKind> {
        loop {
            let rest = self.data.get(self.pos..).unwrap_or(&[]);
            if rest.is_empty() {
                return Ok(None);
            }
            let State::PcapNg(ng) = &mut self.state else {
                return Ok(None);
            };
            let be = ng.big_endian;
            let (block, step) = ng_block(ng, rest, &mut self.stats)?;
            match step {
                Step::Packet(p) => {
                    self.pos += block;
                    return Ok(Some(p));
                }
                Step::Skip => self.pos += block,
                Step::Oversize { btype, len } => {
                    let trailer = (len as usize)
                        .checked_sub(4)
                        .and_then(|at| u32_at(rest, at, be));
                    let (record, offset) = (self.stats.records + 1, self.pos as u64);
                    skip_oversize(btype, len, trailer, record, offset, &mut self.stats)?;
                    self.pos += len as usize;
                }
            }
        }
    }
}

/// Reads the classic pcap record at the start of `rest` (not empty); returns its length and
/// the packet. `Truncated`: `rest` ends inside the record.
#[inline]
fn pcap_record<'a>(
    info: PcapInfo,
    rest: &'a [u8],
    stats: &mut CaptureStats,
) -> Result<(usize, Packet<'a>), CaptureErrorKind> {
    let be = info.big_endian;
    let field = |i: usize| u32_at(rest, i * 4, be).ok_or(CaptureErrorKind::Truncated);
    let (sec, frac, mut caplen, mut origlen) = (field(0)?, field(1)?, field(2)?, field(3)?);
    if info.swapped_lengths || (info.maybe_swapped && caplen > origlen) {
        std::mem::swap(&mut caplen, &mut origlen);
    }
    if caplen > MAX_RECORD {
        return Err(corrupt(format!(
            "captured length {caplen} exceeds {MAX_RECORD}"
        )));
    }
    let bytes = rest
        .get(16..16 + caplen as usize)
        .ok_or(CaptureErrorKind::Truncated)?;
    let frac_ns = if info.nanos {
        u64::from(frac)
    } else {
        u64::from(frac) * 1000
    };
    count(stats, caplen, origlen, info.snaplen);
    Ok((
        16 + caplen as usize,
        Packet {
            ts: u64::from(sec) * NANOS_PER_SEC + frac_ns,
            link: info.link,
            data: bytes,
            orig_len: origlen,
        },
    ))
}

/// Reads the block at the start of `rest`; returns its length and what it held. `Truncated`:
/// `rest` ends inside the block (whose length is at most [`MAX_BLOCK`]; a longer one is
/// [`Step::Oversize`], whatever `rest` holds).
#[inline]
fn ng_block<'a>(
    ng: &mut NgState,
    rest: &'a [u8],
    stats: &mut CaptureStats,
) -> Result<(usize, Step<'a>), CaptureErrorKind> {
    let mut be = ng.big_endian;
    let btype = u32_at(rest, 0, be).ok_or(CaptureErrorKind::Truncated)?;
    if btype == PCAPNG_SHB {
        // The byte-order magic decides how this section (including this block's length) reads.
        let bom = u32_at(rest, 8, false).ok_or(CaptureErrorKind::Truncated)?;
        be = match bom {
            PCAPNG_BOM => false,
            b if b == PCAPNG_BOM.swap_bytes() => true,
            b => return Err(bad_bom(b)),
        };
    }
    let len = u32_at(rest, 4, be).ok_or(CaptureErrorKind::Truncated)?;
    if len < 12 || len % 4 != 0 {
        return Err(corrupt(format!("block length {len}")));
    }
    if len > MAX_BLOCK {
        // The blocks after a section header or interface description depend on it.
        if btype == PCAPNG_SHB || btype == BLOCK_IDB {
            return Err(corrupt(format!(
                "{} block of {len} bytes, over the {MAX_BLOCK}-byte bound (the blocks after \
                 it depend on it, so it cannot be skipped)",
                if btype == BLOCK_IDB {
                    "interface description"
                } else {
                    "section header"
                }
            )));
        }
        return Ok((len as usize, Step::Oversize { btype, len }));
    }
    let Some(block) = rest.get(..len as usize) else {
        return Err(CaptureErrorKind::Truncated);
    };
    let trailer = u32_at(block, len as usize - 4, be).ok_or(CaptureErrorKind::Truncated)?;
    if trailer != len {
        return Err(corrupt(format!(
            "block length {len} but trailing length {trailer}"
        )));
    }
    let body = block.get(8..len as usize - 4).unwrap_or(&[]);
    let step = match btype {
        BLOCK_EPB | BLOCK_PB => {
            // EPB: if_id u32; PB: if_id u16 + drops u16. Then ts_high, ts_low, caplen, origlen.
            let f = |i: usize| u32_at(body, i * 4, be).ok_or_else(|| corrupt("short packet block"));
            let (mut if_id, ts_hi, ts_lo, caplen, origlen) = (f(0)?, f(1)?, f(2)?, f(3)?, f(4)?);
            if btype == BLOCK_PB {
                if_id = if be { if_id >> 16 } else { if_id & 0xFFFF };
            }
            if caplen > MAX_RECORD {
                return Err(corrupt(format!(
                    "captured length {caplen} exceeds {MAX_RECORD}"
                )));
            }
            let data = body
                .get(20..20 + caplen as usize)
                .ok_or_else(|| corrupt(format!("captured length {caplen} exceeds its block")))?;
            match ng.ifaces.get(if_id as usize) {
                Some(iface) => {
                    let ts = iface.nanos((u64::from(ts_hi) << 32) | u64::from(ts_lo));
                    ng.last_ts = ts;
                    count(stats, caplen, origlen, iface.snaplen);
                    Step::Packet(Packet {
                        ts,
                        link: iface.link,
                        data,
                        orig_len: origlen,
                    })
                }
                None => {
                    stats.unknown_interface += 1;
                    Step::Skip
                }
            }
        }
        BLOCK_SPB => {
            let origlen =
                u32_at(body, 0, be).ok_or_else(|| corrupt("short simple packet block"))?;
            match ng.ifaces.first() {
                Some(iface) => {
                    let room = body.len() - 4;
                    let mut caplen = (origlen as usize).min(room);
                    if iface.snaplen != 0 {
                        caplen = caplen.min(iface.snaplen as usize);
                    }
                    let data = body.get(4..4 + caplen).unwrap_or(&[]);
                    count(stats, caplen as u32, origlen, 0);
                    Step::Packet(Packet {
                        ts: ng.last_ts,
                        link: iface.link,
                        data,
                        orig_len: origlen,
                    })
                }
                None => {
                    stats.unknown_interface += 1;
                    Step::Skip
                }
            }
        }
        BLOCK_IDB => {
            let parsed = if be {
                parse_interfacedescriptionblock_be(block)
            } else {
                parse_interfacedescriptionblock_le(block)
            };
            let (_, idb) = parsed.map_err(|_| corrupt("bad interface description block"))?;
            if ng.ifaces.len() < MAX_INTERFACES {
                ng.ifaces.push(iface_from_idb(&idb, be));
            } else {
                stats.skipped_blocks += 1;
            }
            Step::Skip
        }
        PCAPNG_SHB => {
            let (_, shb) =
                parse_sectionheaderblock(block).map_err(|_| corrupt("bad section header block"))?;
            if shb.major_version != 1 {
                return Err(corrupt(format!(
                    "pcapng version {}.{}",
                    shb.major_version, shb.minor_version
                )));
            }
            ng.big_endian = be;
            ng.ifaces.clear();
            Step::Skip
        }
        _ => {
            stats.skipped_blocks += 1;
            Step::Skip
        }
    };
    Ok((len as usize, step))
}

#[inline]
fn count(stats: &mut CaptureStats, caplen: u32, origlen: u32, snaplen: u32) {
    stats.records += 1;
    stats.bytes += u64::from(caplen);
    if snaplen != 0 && caplen > snaplen {
        stats.over_snaplen += 1;
    }
    if caplen < origlen {
        stats.clipped += 1;
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Packet<'a>, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_packet()
    }
}

pub mod stream;
mod zstd;
pub use zstd::ZSTD_MAX_WINDOW;

#[cfg(test)]
mod tests;
