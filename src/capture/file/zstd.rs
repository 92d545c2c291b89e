//! zstd-compressed captures, decoded by `ruzstd` (pure Rust: no C library to build).
//!
//! ruzstd's own reader decodes one frame; a `.zst` file may hold several (`cat a.zst b.zst`,
//! `zstd` writing a multi-frame stream) and skippable frames (metadata, seekable-format
//! indexes), so this reader walks the frames itself: each frame's header is read, its declared
//! window checked against [`ZSTD_MAX_WINDOW`] before anything is allocated, its blocks decoded
//! one at a time (the decoder holds the window and one block), its content checksum verified,
//! and skippable frames are read past in bounded pieces.

use std::io::{BufRead, ErrorKind, Read};

use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

/// Largest zstd window decoded: 128 MiB, the reference decoder's own default limit (`zstd -d`
/// refuses more without `--long` or `--memory`), and what `zstd --ultra -22` writes. The window
/// is declared by the frame header, so a hostile header could otherwise make the decoder
/// allocate up to terabytes; a frame declaring more is refused before anything is allocated.
pub const ZSTD_MAX_WINDOW: u64 = 128 << 20;

/// Several zstd frames (and skippable frames) read one after the other, as one stream.
pub struct Zstd<R: BufRead> {
    source: R,
    decoder: FrameDecoder,
    /// A frame is being decoded (its header was read, its output not all handed out).
    in_frame: bool,
    /// Frames decoded so far, for the errors.
    frames: u64,
    failed: Option<(ErrorKind, String)>,
}

impl<R: BufRead> Zstd<R> {
    /// A decoder reading `source` from its first frame header.
    pub fn new(source: R) -> Zstd<R> {
        let mut decoder = FrameDecoder::new();
        decoder.set_max_window_size(ZSTD_MAX_WINDOW);
        Zstd {
            source,
            decoder,
            in_frame: false,
            frames: 0,
            failed: None,
        }
    }

    /// Bytes decoded into `buf`, 0 only at the end of the last frame.
    fn next(&mut self, buf: &mut [u8]) -> Result<usize, (ErrorKind, String)> {
        loop {
            if !self.in_frame {
                if self
                    .source
                    .fill_buf()
                    .map_err(|e| read_error(&e))?
                    .is_empty()
                {
                    return Ok(0);
                }
                match self.decoder.reset(&mut self.source) {
                    Ok(()) => self.in_frame = true,
                    Err(FrameDecoderError::ReadFrameHeaderError(
                        ReadFrameHeaderError::SkipFrame { length, .. },
                    )) => self.skip(length)?,
                    Err(e) => return Err(self.frame_error(e)),
                }
                continue;
            }
            if self.decoder.can_collect() > 0 {
                return self.decoder.read(buf).map_err(|e| read_error(&e));
            }
            if self.decoder.is_finished() {
                // All of the frame handed out: its checksum (if it has one) covers it all.
                let (declared, computed) = (
                    self.decoder.get_checksum_from_data(),
                    self.decoder.get_calculated_checksum(),
                );
                if declared.is_some() && declared != computed {
                    return Err((
                        ErrorKind::InvalidData,
                        format!(
                            "zstd: frame {} fails its content checksum (corrupt data)",
                            self.frames + 1
                        ),
                    ));
                }
                self.in_frame = false;
                self.frames += 1;
                continue;
            }
            self.decoder
                .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBlocks(1))
                .map_err(|e| self.frame_error(e))?;
        }
    }

    /// Reads past a skippable frame's `length` bytes of content.
    fn skip(&mut self, length: u32) -> Result<(), (ErrorKind, String)> {
        let n = std::io::copy(
            &mut (&mut self.source).take(u64::from(length)),
            &mut std::io::sink(),
        )
        .map_err(|e| read_error(&e))?;
        if n < u64::from(length) {
            return Err(cut());
        }
        Ok(())
    }

    /// A decoder error said plainly: the window limit, a cut, or corrupt data.
    fn frame_error(&self, e: FrameDecoderError) -> (ErrorKind, String) {
        if let FrameDecoderError::WindowSizeTooBig { requested, .. } = e {
            return (
                ErrorKind::OutOfMemory,
                format!(
                    "zstd frame {} declares a window of {} MiB, over the {} MiB limit (what \
                     `zstd -d` reads without --long), refused before allocating it",
                    self.frames + 1,
                    requested.div_ceil(1 << 20),
                    ZSTD_MAX_WINDOW >> 20
                ),
            );
        }
        // Running out of input anywhere in a frame is a cut file, whatever the layer said it.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if let Some(io) = c.downcast_ref::<std::io::Error>() {
                if io.kind() == ErrorKind::UnexpectedEof {
                    return cut();
                }
            }
            cause = c.source();
        }
        (
            ErrorKind::InvalidData,
            format!("zstd: frame {}: {e}", self.frames + 1),
        )
    }
}

fn cut() -> (ErrorKind, String) {
    (
        ErrorKind::UnexpectedEof,
        "zstd: compressed data ends early (the file is cut short)".to_string(),
    )
}

fn read_error(e: &std::io::Error) -> (ErrorKind, String) {
    (e.kind(), e.to_string())
}

impl<R: BufRead> Read for Zstd<R> {
    /// Never asked again after an error (the decoder's state after one is not meant to be read
    /// on): the same error again.
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some((kind, msg)) = &self.failed {
            return Err(std::io::Error::new(*kind, msg.clone()));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        self.next(buf).map_err(|(kind, msg)| {
            self.failed = Some((kind, msg.clone()));
            std::io::Error::new(kind, msg)
        })
    }
}
