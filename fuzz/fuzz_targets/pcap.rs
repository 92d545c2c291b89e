//! Classic pcap reader: the first 4 bytes are replaced by one of the four pcap magics (picked by
//! the first byte), so every input exercises the record walk, not the format sniffing.
#![no_main]
use egressmap::capture::file::CaptureFile;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

const MAGICS: [[u8; 4]; 4] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
];

fuzz_target!(|data: &[u8]| {
    let mut v = data.to_vec();
    if let Some(&b) = v.first() {
        if v.len() >= 4 && !MAGICS.iter().any(|m| v[..4] == m[..]) {
            v[..4].copy_from_slice(&MAGICS[usize::from(b) % 4]);
        }
    }
    read_all(v);
});

fn read_all(v: Vec<u8>) {
    let len = v.len();
    let Ok(f) = CaptureFile::from_vec(Path::new("fuzz.pcap"), v) else {
        return;
    };
    let mut r = f.reader();
    let mut n = 0u64;
    while let Some(p) = r.next_packet() {
        match p {
            Ok(p) => {
                n += 1;
                assert!(p.data.len() <= len);
            }
            Err(e) => {
                assert!(e.offset <= len as u64, "{e}");
                break;
            }
        }
        // Each record takes at least a 16-byte header: more records than that is a loop.
        assert!(n <= len as u64 / 12 + 1, "reader does not advance");
    }
}
