//! Captures that cannot be mapped (standard input, pipes, compressed files), read as a true
//! stream: fixed-size reads into one buffer, records decoded by the same functions as the
//! mapped reader's, a record cut by a read boundary completed by the next read. Memory is the
//! buffer (one read plus at most one pcapng block, [`MAX_BLOCK`]), however long the stream;
//! nothing is written to disk.
//!
//! A pcapng block over [`MAX_BLOCK`] is skipped as its bytes arrive (never held), counted and
//! reported, as the mapped reader does. The one difference from the mapped reader: there is
//! no total length (no progress percentage).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{
    decompressing, err, file_header, is_stdin, map, ng_block, pcap_record, peek, skip_oversize,
    u32_at, Compression, NgState, State, Step, MAGIC_LEN, MAX_BLOCK, PCAP_HEADER,
};
use crate::capture::{CaptureError, CaptureErrorKind, CaptureStats, LinkType, Nanos, Packet};

/// Bytes asked of the source per read.
const READ_BLOCK: usize = 1 << 20;

/// Whether `path` must be read as a stream: standard input, anything that is not a regular
/// file (a pipe, a device), a compressed file, or a file that cannot be mapped.
pub fn needs_stream(path: &Path) -> bool {
    if is_stdin(path) {
        return true;
    }
    // Asked of the path, not of an open file: opening a named pipe waits for its writer, and
    // closing it again would throw away what the writer already sent.
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => return true,
        Ok(_) => {}
        // Opened (and its failure reported) by whichever reader runs.
        Err(_) => return false,
    }
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    let mut head = [0u8; MAGIC_LEN];
    let mut n = 0;
    while n < head.len() {
        match f.read(head.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    // A file that cannot be mapped (some file systems) is read as a stream too.
    head.get(..n).and_then(Compression::detect).is_some() || (n > 0 && map(&f).is_err())
}

/// Reads the records of a stream in order. Same records, statistics and errors (record number,
/// byte offset in the decompressed stream) as [`super::Reader`] on the same bytes.
pub struct StreamReader<'r> {
    path: PathBuf,
    src: Box<dyn Read + 'r>,
    /// Unconsumed bytes are `buf[pos..end]`. `buf[end..]` is scratch a read fills, kept
    /// allocated and initialised, so a read (16 KiB from the xz decoder, a pipe's 64 KiB) does
    /// not zero a whole [`READ_BLOCK`] first.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// Said when the source fails: "reading" or "decompressing".
    what: &'static str,
    state: State,
    stats: CaptureStats,
    done: bool,
}

/// Where a packet lies in the buffer, taken out of the borrow that found it.
struct Found {
    ts: Nanos,
    link: LinkType,
    at: usize,
    len: usize,
    orig_len: u32,
}

impl StreamReader<'static> {
    /// Opens `path` (`-`: standard input), decompressing gzip, zstd or xz detected from the bytes,
    /// and reads the file header. Errors here carry record 0.
    pub fn open(path: &Path) -> Result<StreamReader<'static>, CaptureError> {
        let fail = |k| err(path, 0, 0, k);
        let io = |what: &str, e: std::io::Error| fail(CaptureErrorKind::Io(format!("{what}: {e}")));
        let raw: Box<dyn Read> = if is_stdin(path) {
            Box::new(std::io::stdin())
        } else {
            Box::new(File::open(path).map_err(|e| fail(CaptureErrorKind::Io(e.to_string())))?)
        };
        let (head, stream) = peek(raw, MAGIC_LEN).map_err(|e| io("reading", e))?;
        let c = Compression::detect(&head);
        let src = decompressing(stream, c).map_err(|e| io("decompressing", e))?;
        let what = if c.is_some() {
            "decompressing"
        } else {
            "reading"
        };
        StreamReader::new(path, src, what)
    }
}

impl<'r> StreamReader<'r> {
    /// A reader over `src` (already decompressed); reads the file header.
    pub fn new(
        path: &Path,
        src: Box<dyn Read + 'r>,
        what: &'static str,
    ) -> Result<StreamReader<'r>, CaptureError> {
        let mut r = StreamReader {
            path: path.to_path_buf(),
            src,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            what,
            state: State::PcapNg(NgState {
                big_endian: false,
                ifaces: Vec::new(),
                last_ts: 0,
            }),
            stats: CaptureStats::default(),
            done: false,
        };
        while r.end < PCAP_HEADER && !r.eof {
            r.fill().map_err(|k| err(path, 0, 0, k))?;
        }
        let (_, pcap) = file_header(r.buf.get(..r.end).unwrap_or_default())
            .map_err(|(at, k)| err(path, 0, at, k))?;
        if let Some(info) = pcap {
            r.state = State::Pcap(info);
            r.pos = PCAP_HEADER;
        }
        Ok(r)
    }

    pub fn stats(&self) -> CaptureStats {
        self.stats
    }

    /// The next packet (its bytes valid until the next call), `None` at the end or after an
    /// error.
    pub fn next_packet(&mut self) -> Option<Result<Packet<'_>, CaptureError>> {
        if self.done {
            return None;
        }
        let found = loop {
            let rest = self.buf.get(self.pos..self.end).unwrap_or_default();
            let start = rest.as_ptr() as usize;
            let mut oversize = None;
            let step = if rest.is_empty() {
                Ok(None)
            } else {
                match &mut self.state {
                    State::Pcap(info) => {
                        pcap_record(*info, rest, &mut self.stats).map(|(n, p)| Some((n, Some(p))))
                    }
                    State::PcapNg(ng) => match ng_block(ng, rest, &mut self.stats) {
                        Ok((_, Step::Oversize { btype, len })) => {
                            oversize = Some((btype, len));
                            Ok(Some((0, None)))
                        }
                        r => r.map(|(n, s)| {
                            Some((
                                n,
                                match s {
                                    Step::Packet(p) => Some(p),
                                    _ => None,
                                },
                            ))
                        }),
                    },
                }
            };
            if let Some((btype, len)) = oversize {
                if let Err(e) = self.skip_block(btype, len) {
                    return Some(Err(e));
                }
                continue;
            }
            let need_more = match step {
                Ok(Some((n, p))) => {
                    let found = p.map(|p| Found {
                        ts: p.ts,
                        link: p.link,
                        at: self.pos + (p.data.as_ptr() as usize).saturating_sub(start),
                        len: p.data.len(),
                        orig_len: p.orig_len,
                    });
                    self.pos += n;
                    match found {
                        Some(f) => break f,
                        None => continue,
                    }
                }
                Ok(None) if self.eof => {
                    self.done = true;
                    return None;
                }
                // The stream has more: the record continues in the next read.
                Ok(None) => true,
                Err(CaptureErrorKind::Truncated) if !self.eof => true,
                Err(kind) => return Some(Err(self.fail(kind))),
            };
            if need_more {
                if let Err(kind) = self.fill() {
                    return Some(Err(self.fail(kind)));
                }
            }
        };
        let data = self
            .buf
            .get(found.at..found.at.saturating_add(found.len))
            .unwrap_or_default();
        Some(Ok(Packet {
            ts: found.ts,
            link: found.link,
            data,
            orig_len: found.orig_len,
        }))
    }

    /// Skips a block over [`MAX_BLOCK`] starting at `pos` without holding it: its bytes are
    /// dropped as they are read, then its trailing length is checked, as the mapped reader does.
    /// An error points at the block, as the mapped reader's does.
    fn skip_block(&mut self, btype: u32, len: u32) -> Result<(), CaptureError> {
        let (record, offset) = (self.stats.records + 1, self.base + self.pos as u64);
        self.skip_bytes(btype, len, record, offset).map_err(|kind| {
            self.done = true;
            CaptureError {
                file: self.path.clone(),
                record,
                offset,
                kind,
            }
        })
    }

    fn skip_bytes(
        &mut self,
        btype: u32,
        len: u32,
        record: u64,
        offset: u64,
    ) -> Result<(), CaptureErrorKind> {
        let be = match &self.state {
            State::PcapNg(ng) => ng.big_endian,
            State::Pcap(_) => false,
        };
        // Everything but the trailing length, dropped as it comes.
        let mut left = u64::from(len).saturating_sub(4);
        loop {
            let here = self.end.saturating_sub(self.pos) as u64;
            let n = here.min(left);
            self.pos += n as usize;
            left -= n;
            if left == 0 {
                break;
            }
            if self.eof {
                return skip_oversize(btype, len, None, record, offset, &mut self.stats);
            }
            self.fill()?;
        }
        while self.end.saturating_sub(self.pos) < 4 && !self.eof {
            self.fill()?;
        }
        let trailer = self
            .buf
            .get(self.pos..self.end)
            .and_then(|b| u32_at(b, 0, be));
        skip_oversize(btype, len, trailer, record, offset, &mut self.stats)?;
        self.pos += 4;
        Ok(())
    }

    fn fail(&mut self, kind: CaptureErrorKind) -> CaptureError {
        self.done = true;
        CaptureError {
            file: self.path.clone(),
            record: self.stats.records + 1,
            offset: self.base + self.pos as u64,
            kind,
        }
    }

    /// Drops the consumed bytes and reads once more from the source (at least a byte, or the
    /// end). A record held is never longer than [`MAX_BLOCK`] (longer blocks are skipped), so
    /// the buffer stays within one read and one block.
    fn fill(&mut self) -> Result<(), CaptureErrorKind> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.base += self.pos as u64;
            self.pos = 0;
        }
        if self.end > MAX_BLOCK as usize {
            return Err(CaptureErrorKind::Corrupt(format!(
                "record longer than the {MAX_BLOCK} bytes a stream is buffered in"
            )));
        }
        let old = self.end;
        if self.buf.len() < old + READ_BLOCK {
            self.buf.resize(old + READ_BLOCK, 0);
        }
        let got = loop {
            match self
                .src
                .read(self.buf.get_mut(old..old + READ_BLOCK).unwrap_or_default())
            {
                Ok(k) => break Ok(k),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        match got {
            Ok(k) => {
                self.end = old + k.min(READ_BLOCK);
                self.eof = k == 0;
                Ok(())
            }
            Err(e) => Err(CaptureErrorKind::Io(format!("{}: {e}", self.what))),
        }
    }
}
