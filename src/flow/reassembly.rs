//! Reassembly of a TCP direction's first bytes, bounded and indexed by stream offset.
//!
//! Only the first flight matters to us (ClientHello, HTTP request head, DNS messages), so the
//! buffer is capped and dropped as soon as the flow is named: this is what keeps per-flow memory
//! small on a mirror port. Segments may arrive out of order, retransmitted or overlapping; bytes
//! are placed by offset, so the result does not depend on arrival order (a later copy of a byte
//! overwrites an earlier one, which only matters for inconsistent retransmissions).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Default cap on buffered bytes per direction.
pub const DEFAULT_CAP: usize = 16 * 1024;
/// Default budget for all first-flight buffers of a run (flows x per-flow cap could otherwise
/// reach gigabytes on a capture full of unnamed flows).
pub const DEFAULT_TOTAL: usize = 256 * 1024 * 1024;

/// A byte budget shared by every [`Reassembler`] of one engine. Buffers take from it as they
/// grow and give back when cleared or dropped, so the total is bounded however many flows are
/// being inspected at once. An atomic only so the engine stays `Send`: each engine has its own.
#[derive(Clone, Debug)]
pub struct Pool(Arc<PoolInner>);

#[derive(Debug)]
struct PoolInner {
    limit: usize,
    used: AtomicUsize,
    refused: AtomicU64,
    peak: AtomicUsize,
}

impl Pool {
    pub fn new(limit: usize) -> Self {
        Pool(Arc::new(PoolInner {
            limit,
            used: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
            peak: AtomicUsize::new(0),
        }))
    }

    fn take(&self, n: usize) -> bool {
        let p = &self.0;
        let used = p.used.load(Ordering::Relaxed);
        if used.saturating_add(n) > p.limit {
            p.refused.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        p.used.store(used + n, Ordering::Relaxed);
        p.peak.fetch_max(used + n, Ordering::Relaxed);
        true
    }

    fn give(&self, n: usize) {
        self.0.used.fetch_sub(n, Ordering::Relaxed);
    }

    /// Bytes held by live buffers now.
    pub fn used(&self) -> usize {
        self.0.used.load(Ordering::Relaxed)
    }

    /// Most bytes held at once.
    pub fn peak(&self) -> usize {
        self.0.peak.load(Ordering::Relaxed)
    }

    /// Segments not buffered because the budget was spent (their flows stop being inspected).
    pub fn refused(&self) -> u64 {
        self.0.refused.load(Ordering::Relaxed)
    }
}
/// Gaps tracked at most; a flow with more holes than this is given up on.
const MAX_RANGES: usize = 64;

/// Outcome of inserting a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    /// The contiguous prefix grew: worth parsing again.
    Advanced,
    /// Nothing new at the front (duplicate, or a segment after a hole).
    Pending,
    /// Data reached past the cap, or too many holes: the caller should stop inspecting.
    Overflow,
}

/// Offset-indexed buffer of one direction's first bytes.
#[derive(Debug, Default)]
pub struct Reassembler {
    /// Sequence number of stream byte 0.
    base: Option<u32>,
    /// True when `base` came from a SYN, so it can't move.
    base_fixed: bool,
    buf: Vec<u8>,
    /// Filled byte ranges `[start, end)`, sorted and disjoint.
    ranges: Vec<(u32, u32)>,
    cap: usize,
    /// Budget `buf`'s capacity is charged to (none: only `cap` bounds it).
    pool: Option<Pool>,
}

impl Drop for Reassembler {
    fn drop(&mut self) {
        self.clear();
    }
}

impl Reassembler {
    pub fn new(cap: usize) -> Self {
        Reassembler {
            base: None,
            base_fixed: false,
            buf: Vec::new(),
            ranges: Vec::new(),
            cap,
            pool: None,
        }
    }

    /// A reassembler whose buffer is charged to `pool`: when the pool is spent, inserts that
    /// would grow the buffer return [`Insert::Overflow`].
    pub fn in_pool(cap: usize, pool: &Pool) -> Self {
        let mut r = Reassembler::new(cap);
        r.pool = Some(pool.clone());
        r
    }

    /// Grow `buf` to `len` bytes, charging the pool exactly for the new capacity.
    fn grow(&mut self, len: usize) -> bool {
        let old = self.buf.capacity();
        if len <= old {
            self.buf.resize(len, 0);
            return true;
        }
        if let Some(p) = &self.pool {
            if !p.take(len - old) {
                return false;
            }
        }
        self.buf.reserve_exact(len - self.buf.len());
        let extra = self.buf.capacity().saturating_sub(len);
        if let (Some(p), true) = (&self.pool, extra > 0) {
            // The allocator rounded up: charge that too (rarely refused; never unbounded).
            if !p.take(extra) {
                p.give(len - old);
                self.buf.shrink_to(old);
                return false;
            }
        }
        self.buf.resize(len, 0);
        true
    }

    /// The SYN's sequence number fixes where the stream starts.
    pub fn set_isn(&mut self, isn: u32) {
        if self.base.is_none() {
            self.base = Some(isn.wrapping_add(1));
            self.base_fixed = true;
        }
    }

    pub fn has_base(&self) -> bool {
        self.base.is_some()
    }

    /// Whether `seq` is exactly the next byte the contiguous prefix needs and nothing is buffered:
    /// the caller may then parse the segment in place, without copying.
    pub fn is_next_and_empty(&self, seq: u32) -> bool {
        self.buf.is_empty() && self.base.is_none_or(|b| b == seq)
    }

    /// Bytes available from stream offset 0 without a hole.
    pub fn contiguous(&self) -> &[u8] {
        match self.ranges.first() {
            Some(&(0, end)) => self.buf.get(..end as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Release the buffer (the flow is named or given up on).
    pub fn clear(&mut self) {
        if let Some(p) = &self.pool {
            p.give(self.buf.capacity());
        }
        self.buf = Vec::new();
        self.ranges = Vec::new();
    }

    pub fn insert(&mut self, seq: u32, data: &[u8]) -> Insert {
        if data.is_empty() {
            return Insert::Pending;
        }
        let base = *self.base.get_or_insert(seq);
        let mut off = seq.wrapping_sub(base) as i32 as i64;
        let mut data = data;
        if off < 0 {
            let before = off.unsigned_abs() as usize;
            if !self.base_fixed && before + self.buf.len() <= self.cap {
                // Capture started mid-stream and an earlier segment showed up late: move the
                // start of the stream back rather than lose the front.
                if !self.rebase(before) {
                    return Insert::Overflow;
                }
                self.base = Some(seq);
                off = 0;
            } else if before >= data.len() {
                return Insert::Pending;
            } else {
                data = &data[before..];
                off = 0;
            }
        }
        let start = off as usize;
        if start >= self.cap {
            return Insert::Overflow;
        }
        let end = start.saturating_add(data.len()).min(self.cap);
        let clipped = end - start < data.len();
        if self.buf.len() < end && !self.grow(end) {
            return Insert::Overflow;
        }
        if let (Some(dst), Some(src)) = (self.buf.get_mut(start..end), data.get(..end - start)) {
            dst.copy_from_slice(src);
        }
        let before_front = self.front_len();
        if !self.add_range(start as u32, end as u32) {
            return Insert::Overflow;
        }
        if self.front_len() > before_front {
            Insert::Advanced
        } else if clipped {
            Insert::Overflow
        } else {
            Insert::Pending
        }
    }

    fn front_len(&self) -> u32 {
        match self.ranges.first() {
            Some(&(0, end)) => end,
            _ => 0,
        }
    }

    fn rebase(&mut self, by: usize) -> bool {
        let len = self.buf.len();
        if !self.grow(by + len) {
            return false;
        }
        self.buf.copy_within(..len, by);
        if let Some(front) = self.buf.get_mut(..by) {
            front.fill(0);
        }
        for r in &mut self.ranges {
            r.0 += by as u32;
            r.1 += by as u32;
        }
        true
    }

    /// Merge `[start, end)` into the sorted, disjoint range list. False if too fragmented.
    fn add_range(&mut self, start: u32, end: u32) -> bool {
        let mut s = start;
        let mut e = end;
        // Ranges that overlap or touch the new one are absorbed into it.
        let first = self.ranges.partition_point(|r| r.1 < s);
        let mut last = first;
        while let Some(&(rs, re)) = self.ranges.get(last) {
            if rs > e {
                break;
            }
            s = s.min(rs);
            e = e.max(re);
            last += 1;
        }
        self.ranges.splice(first..last, std::iter::once((s, e)));
        self.ranges.len() <= MAX_RANGES
    }
}

/// Where a flow is in its inspection: looking at the first flight, or done.
#[derive(Debug, Default)]
pub enum Inspect {
    /// No payload seen yet.
    #[default]
    Fresh,
    /// Buffering the first flight (boxed: most flows in a big table are past this stage).
    Buffering(Box<FirstFlight>),
    /// HTTP/1.x keep-alive: later requests are probed segment by segment for more Host names.
    HttpFollow { requests: u16 },
    /// DNS over UDP: every datagram is parsed.
    Dns,
    /// QUIC: the client's Initial packets are being decrypted for the ClientHello.
    Quic(Box<crate::proto::quic::QuicState>),
    /// Nothing more to learn from payload.
    Done,
}

/// The reassembly state of a flow still being inspected.
#[derive(Debug, Default)]
pub struct FirstFlight {
    pub client: Reassembler,
    /// Only for DNS over TCP, where answers (server side) feed the resolver.
    pub server: Option<Reassembler>,
    /// Bytes of complete DNS-over-TCP messages already parsed, per direction.
    pub dns_done: [usize; 2],
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn in_order_segments_concatenate() {
        let mut r = Reassembler::new(64);
        r.set_isn(999);
        assert_eq!(r.insert(1000, b"hello "), Insert::Advanced);
        assert_eq!(r.insert(1006, b"world"), Insert::Advanced);
        assert_eq!(r.contiguous(), b"hello world");
    }

    #[test]
    fn hole_then_fill() {
        let mut r = Reassembler::new(64);
        r.set_isn(u32::MAX); // base wraps to 0
        assert_eq!(r.insert(6, b"world"), Insert::Pending);
        assert_eq!(r.contiguous(), b"");
        assert_eq!(r.insert(0, b"hello "), Insert::Advanced);
        assert_eq!(r.contiguous(), b"hello world");
    }

    #[test]
    fn retransmission_and_overlap() {
        let mut r = Reassembler::new(64);
        r.set_isn(0);
        r.insert(1, b"abcdef");
        assert_eq!(r.insert(1, b"abcdef"), Insert::Pending);
        assert_eq!(r.insert(4, b"defghi"), Insert::Advanced);
        assert_eq!(r.contiguous(), b"abcdefghi");
    }

    #[test]
    fn data_before_syn_base_is_trimmed() {
        let mut r = Reassembler::new(64);
        r.set_isn(99);
        assert_eq!(r.insert(99, b"xab"), Insert::Advanced);
        assert_eq!(r.contiguous(), b"ab");
    }

    #[test]
    fn without_syn_a_late_earlier_segment_moves_the_start() {
        let mut r = Reassembler::new(64);
        r.insert(500, b"world");
        assert_eq!(r.insert(494, b"hello "), Insert::Advanced);
        assert_eq!(r.contiguous(), b"hello world");
    }

    #[test]
    fn pool_bounds_all_buffers_together_and_is_refilled_on_drop() {
        let pool = Pool::new(100);
        let mut a = Reassembler::in_pool(64, &pool);
        let mut b = Reassembler::in_pool(64, &pool);
        a.set_isn(0);
        b.set_isn(0);
        assert_eq!(a.insert(1, &[7; 60]), Insert::Advanced);
        assert!(pool.used() >= 60 && pool.used() <= 100);
        // b may not take what a holds.
        assert_eq!(b.insert(1, &[7; 60]), Insert::Overflow);
        assert_eq!(pool.refused(), 1);
        assert!(b.contiguous().is_empty());
        drop(a);
        assert_eq!(pool.used(), 0);
        assert_eq!(b.insert(1, &[7; 60]), Insert::Advanced);
        b.clear();
        assert_eq!(pool.used(), 0);
        assert!(pool.peak() <= 100);
    }

    proptest! {
        /// Whatever is inserted, the pool never goes over its limit and every byte charged comes
        /// back when the buffers are gone.
        #[test]
        fn pool_accounting_balances(
            limit in 0usize..4096,
            segs in proptest::collection::vec((0u32..3000, 1usize..700, 0usize..3), 0..40),
        ) {
            let pool = Pool::new(limit);
            let mut rs: Vec<Reassembler> = (0..3).map(|_| Reassembler::in_pool(2048, &pool)).collect();
            for (i, r) in rs.iter_mut().enumerate() {
                if i != 2 {
                    r.set_isn(0);
                }
            }
            for (off, len, which) in segs {
                let _ = rs[which].insert(off.wrapping_add(1), &vec![1u8; len]);
                prop_assert!(pool.used() <= limit);
            }
            drop(rs);
            prop_assert_eq!(pool.used(), 0);
        }
    }

    #[test]
    fn cap_is_enforced() {
        let mut r = Reassembler::new(8);
        r.set_isn(0);
        assert_eq!(r.insert(1, b"0123456789"), Insert::Advanced);
        assert_eq!(r.contiguous(), b"01234567");
        assert_eq!(r.insert(11, b"x"), Insert::Overflow);
        assert!(r.buffered() <= 8);
    }

    #[test]
    fn sequence_wraparound() {
        let mut r = Reassembler::new(64);
        r.set_isn(u32::MAX - 3);
        r.insert(u32::MAX - 2, b"abc");
        r.insert(0, b"def");
        assert_eq!(r.contiguous(), b"abcdef");
    }

    #[test]
    fn too_many_holes_overflows() {
        let mut r = Reassembler::new(4096);
        r.set_isn(0);
        let mut last = Insert::Pending;
        for i in 0..(MAX_RANGES as u32 + 2) {
            last = r.insert(10 + i * 3, b"x");
        }
        assert_eq!(last, Insert::Overflow);
    }

    proptest! {
        /// Whatever the order, duplication or overlap of segments covering a stream, the
        /// contiguous prefix is the stream.
        #[test]
        fn order_does_not_matter(
            stream in proptest::collection::vec(any::<u8>(), 1..600),
            cuts in proptest::collection::vec(any::<u16>(), 0..20),
            dups in proptest::collection::vec(any::<u16>(), 0..10),
            order_seed in any::<u64>(),
            isn in any::<u32>(),
        ) {
            let n = stream.len();
            let mut points: Vec<usize> = cuts.iter().map(|c| *c as usize % n).collect();
            points.push(0);
            points.push(n);
            points.sort_unstable();
            points.dedup();
            let mut segs: Vec<(usize, usize)> = points.windows(2).map(|w| (w[0], w[1])).collect();
            // Overlapping duplicates: random sub-ranges.
            for d in &dups {
                let s = *d as usize % n;
                let e = (s + 1 + (*d as usize / 7) % 50).min(n);
                segs.push((s, e));
            }
            // Deterministic shuffle.
            let mut x = order_seed | 1;
            for i in (1..segs.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                segs.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let mut r = Reassembler::new(1024);
            r.set_isn(isn);
            for (s, e) in segs {
                r.insert(isn.wrapping_add(1).wrapping_add(s as u32), &stream[s..e]);
            }
            prop_assert_eq!(r.contiguous(), &stream[..]);
        }
    }
}
