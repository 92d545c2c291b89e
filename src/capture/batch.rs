//! Records copied into batches, handed to every worker: what a live capture and a streamed
//! input (standard input, a pipe, a compressed file) feed the pipeline with.

use std::sync::atomic::AtomicU64;

use super::{LinkType, Nanos, Packet};

/// Packets copied out of a source's buffer (libpcap's ring, or a streamed file's read block),
/// with their records. One allocation per batch.
#[derive(Debug, Default)]
pub struct Batch {
    pub link: LinkType,
    pub data: Vec<u8>,
    /// (timestamp, offset in `data`, captured length, length on the wire)
    pub records: Vec<(Nanos, u32, u32, u32)>,
    /// Wall-clock time the batch was sent: lets workers expire flows on a quiet link. 0 for a
    /// streamed file, whose time is its records' alone (so it reads exactly as the mapped file).
    pub now: Nanos,
    /// Index of the input the records come from (0 for a live capture).
    pub file: u16,
}

impl Batch {
    pub fn packets(&self) -> impl Iterator<Item = Packet<'_>> {
        self.records
            .iter()
            .filter_map(move |&(ts, off, len, orig)| {
                let data = self
                    .data
                    .get(off as usize..(off as usize).checked_add(len as usize)?)?;
                Some(Packet {
                    ts,
                    link: self.link,
                    data,
                    orig_len: orig,
                })
            })
    }
}

/// Counters the capture thread keeps; every report prints them.
#[derive(Debug, Default)]
pub struct LiveCounters {
    pub received: AtomicU64,
    pub kernel_dropped: AtomicU64,
    pub interface_dropped: AtomicU64,
    /// Packets dropped because a worker's queue was full (never silent).
    pub queue_dropped: AtomicU64,
    /// Kept up to date by the workers (sums over shards).
    pub flows_evicted: AtomicU64,
    pub names_evicted: AtomicU64,
    /// Packets missing from the `--write-pcap` files (writer behind, or stopped by an error).
    pub pcap_dropped: AtomicU64,
    /// Why the capture thread stopped on its own (the interface went away or down): the capture
    /// must then exit non-zero, for a supervisor to restart it.
    pub capture_error: std::sync::Mutex<Option<String>>,
}
