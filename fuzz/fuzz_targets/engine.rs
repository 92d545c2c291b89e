//! The whole engine on an arbitrary capture: reader, decoder, flow table, inspection, resolver.
//! Invariant: every decoded record is counted in exactly one flow (packets up + down of all
//! flows handed out == decoded records). Small caps make eviction and reuse reachable.
#![no_main]
use egressmap::capture::file::CaptureFile;
use egressmap::engine::{Engine, EngineConfig};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(f) = CaptureFile::from_vec(Path::new("fuzz.pcap"), data.to_vec()) else {
        return;
    };
    let mut cfg = EngineConfig::default();
    cfg.table.max_flows = 8;
    cfg.reassembly_cap = 512;
    cfg.fragment_bytes = 4096;
    cfg.interned_names = 4;
    let mut eng = Engine::new(cfg);
    let mut r = f.reader();
    let mut pkts = 0u64;
    let mut flows = 0u64;
    while let Some(Ok(p)) = r.next_packet() {
        eng.process(&p, 0, &mut |e| {
            pkts += e.flow.up.packets + e.flow.down.packets;
            flows += 1;
        });
        assert!(eng.table.len() <= 8);
    }
    eng.finish(&mut |e| {
        pkts += e.flow.up.packets + e.flow.down.packets;
        flows += 1;
    });
    assert_eq!(
        pkts, eng.stats.decoded,
        "flow packet counts vs decoded records"
    );
    assert_eq!(flows, eng.table.stats.created);
});
