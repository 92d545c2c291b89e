//! Zeek (TSV, zeek-cut, JSON) and Suricata EVE readers over arbitrary bytes: every reader and
//! the join into flows must stay within bounds and never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let flows = egressmap::input::parse_bytes(data);
    assert!(flows <= 3 * 10_000);
});
