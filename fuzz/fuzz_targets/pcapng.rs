//! pcapng reader: inputs are forced to start with a Section Header Block type so the block walk
//! (interfaces, EPB/SPB/OPB, later sections with other byte orders) is what gets fuzzed.
#![no_main]
use egressmap::capture::file::CaptureFile;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let mut v = data.to_vec();
    if v.len() >= 4 {
        v[..4].copy_from_slice(&[0x0a, 0x0d, 0x0d, 0x0a]);
    }
    let len = v.len();
    let Ok(f) = CaptureFile::from_vec(Path::new("fuzz.pcapng"), v) else {
        return;
    };
    let mut r = f.reader();
    let mut n = 0u64;
    while let Some(p) = r.next_packet() {
        match p {
            Ok(p) => assert!(p.data.len() <= len),
            Err(e) => {
                assert!(e.offset <= len as u64, "{e}");
                break;
            }
        }
        n += 1;
        // Blocks are at least 12 bytes: more records than that means the reader is stuck.
        assert!(n <= len as u64 / 12 + 1, "reader does not advance");
    }
    assert!(r.offset() <= len as u64);
});
