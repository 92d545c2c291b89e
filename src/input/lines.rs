//! Lines of a log file, plain or gzip (detected from the magic bytes), streamed with a bounded
//! line length: a line longer than [`MAX_LINE`] is skipped whole and reported, never buffered.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use crate::capture::CaptureErrorKind;

/// Longest line kept (a Zeek or EVE record is far shorter; a longer one is hostile or broken).
pub const MAX_LINE: usize = 1 << 20;

/// Where a log read stopped: records read, byte offset, and why.
pub type RecordError = (u64, u64, CaptureErrorKind);

pub struct LineReader {
    inner: Box<dyn BufRead>,
    buf: Vec<u8>,
    /// Bytes of (decompressed) input consumed so far.
    pub offset: u64,
    /// Lines skipped because they exceeded [`MAX_LINE`].
    pub too_long: u64,
    pub gzip: bool,
}

impl LineReader {
    pub fn open(path: &Path) -> io::Result<LineReader> {
        let f = File::open(path)?;
        Self::from_reader(Box::new(f))
    }

    pub fn from_reader(r: Box<dyn Read>) -> io::Result<LineReader> {
        let mut br = BufReader::with_capacity(1 << 16, r);
        let head = br.fill_buf()?;
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        let inner: Box<dyn BufRead> = if gzip {
            // Multi-member: `cat a.gz b.gz` and rotated-then-appended logs are one stream.
            Box::new(BufReader::with_capacity(
                1 << 16,
                flate2::bufread::MultiGzDecoder::new(br),
            ))
        } else {
            Box::new(br)
        };
        Ok(LineReader {
            inner,
            buf: Vec::new(),
            offset: 0,
            too_long: 0,
            gzip,
        })
    }

    /// [`next_line`](Self::next_line) for a log reader: a read error becomes the
    /// `(records, byte offset, kind)` a capture error carries (a gzip stream that breaks is corrupt
    /// input, anything else an I/O failure).
    pub fn next_record(&mut self, records: u64) -> Option<Result<&[u8], RecordError>> {
        let offset = self.offset;
        let gzip = self.gzip;
        Some(self.next_line()?.map_err(|e| {
            let kind = if gzip {
                CaptureErrorKind::Corrupt(format!("gzip: {e}"))
            } else {
                CaptureErrorKind::Io(e.to_string())
            };
            (records, offset, kind)
        }))
    }

    /// The next line without its `\n` (and `\r`), or `None` at the end.
    pub fn next_line(&mut self) -> Option<io::Result<&[u8]>> {
        self.buf.clear();
        let mut skipping = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(Err(e)),
            };
            if chunk.is_empty() {
                if self.buf.is_empty() && !skipping {
                    return None;
                }
                break;
            }
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if !skipping {
                let room = MAX_LINE.saturating_sub(self.buf.len());
                if take > room {
                    skipping = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(chunk.get(..take).unwrap_or(&[]));
                }
            }
            self.inner.consume(take);
            self.offset += take as u64;
            if done {
                break;
            }
        }
        if skipping {
            self.too_long += 1;
            self.buf.clear();
            return Some(Ok(&self.buf));
        }
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        Some(Ok(&self.buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines(data: Vec<u8>) -> (Vec<Vec<u8>>, u64) {
        let mut r = LineReader::from_reader(Box::new(io::Cursor::new(data))).unwrap();
        let mut v = Vec::new();
        while let Some(l) = r.next_line() {
            v.push(l.unwrap().to_vec());
        }
        (v, r.too_long)
    }

    #[test]
    fn plain_and_gzip_read_the_same_lines() {
        let text = b"#fields\ta\tb\r\nx\ty\nlast".to_vec();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text[..10]).unwrap();
        let mut two = gz.finish().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text[10..]).unwrap();
        two.extend(gz.finish().unwrap());
        let want: Vec<Vec<u8>> = vec![
            b"#fields\ta\tb".to_vec(),
            b"x\ty".to_vec(),
            b"last".to_vec(),
        ];
        assert_eq!(lines(text).0, want);
        assert_eq!(lines(two).0, want, "two gzip members are one stream");
    }

    #[test]
    fn overlong_line_is_skipped_and_counted() {
        let mut data = vec![b'a'; MAX_LINE + 10];
        data.extend_from_slice(b"\nok\n");
        let (v, long) = lines(data);
        assert_eq!(long, 1);
        assert_eq!(v, vec![Vec::new(), b"ok".to_vec()]);
    }
}
