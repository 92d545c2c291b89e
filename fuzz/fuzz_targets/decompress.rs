//! The decompressing readers (gzip members, zstd frames with skippable frames, xz streams): the
//! first byte picks the format and its magic is put in front of the rest, so every input
//! exercises a decoder, not the sniffing. Any bytes give a prefix of output and then an end or an
//! error (for zstd and xz the same error if asked again), never a panic or an allocation past the window limits.
#![no_main]
use egressmap::capture::file::{decompressing, Compression};
use libfuzzer_sys::fuzz_target;
use std::io::Read;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (c, magic): (Compression, &[u8]) = match pick % 4 {
        0 => (Compression::Gzip, &[0x1f, 0x8b]),
        1 => (Compression::Xz, &[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]),
        2 => (Compression::Zstd, &[0x50, 0x2a, 0x4d, 0x18]),
        _ => (Compression::Zstd, &[0x28, 0xb5, 0x2f, 0xfd]),
    };
    let mut v = magic.to_vec();
    v.extend_from_slice(rest);
    let Ok(mut r) = decompressing(&v[..], Some(c)) else {
        return;
    };
    let mut buf = vec![0u8; 1 << 16];
    // zstd's RLE blocks expand 4 bytes into 128 KiB: bound the output, not the input.
    let mut out = 0usize;
    while out < 64 << 20 {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                assert!(n <= buf.len());
                out += n;
            }
            Err(e) => {
                // Our zstd and xz readers stay failed (flate2 makes no such promise).
                if c != Compression::Gzip {
                    let again = r.read(&mut buf).map_err(|e| e.kind());
                    assert_eq!(again.err(), Some(e.kind()), "asked again after {e}");
                }
                break;
            }
        }
    }
});
