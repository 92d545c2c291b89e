//! Reassembly of a TCP direction's first bytes, bounded and indexed by stream offset.
//!
//! Only the first flight matters to us (ClientHello, HTTP request head, DNS messages), so the
//! buffer is capped and dropped as soon as the flow is named: this is what keeps per-flow memory
//! small on a mirror port. Segments may arrive out of order, retransmitted or overlapping; bytes
//! are placed by offset, so the result does not depend on arrival order (the first copy of a byte
//! to reach the contiguous prefix wins, which only matters for inconsistent retransmissions).
//! Memory follows the bytes received, never the offset of the furthest byte, and a hole that is
//! not filled within a few segments ends the inspection: a flow cannot pin buffers it never fills.

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
/// Out-of-order segments held at most; a flow with more holes than this is given up on.
const MAX_SEGMENTS: usize = 16;
/// Segments that may arrive while a hole before them stays open; then the flow is given up on
/// (a retransmission fills a real hole within a round trip or two).
pub const GAP_PATIENCE: u8 = 8;
/// What one held out-of-order segment costs besides its bytes (charged to the pool, so a flood
/// of one-byte segments is bounded like real data).
const SEGMENT_OVERHEAD: usize = 32;

/// Outcome of inserting a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    /// The contiguous prefix grew: worth parsing again.
    Advanced,
    /// Nothing new at the front (duplicate, or a segment after a hole).
    Pending,
    /// Data reached past the cap, too many holes, or the budget is spent: stop inspecting.
    Overflow,
    /// A hole stayed open for [`GAP_PATIENCE`] segments: stop inspecting.
    Gap,
}

/// One direction's first bytes: the contiguous prefix from stream offset 0, plus the few
/// segments that arrived after a hole. Memory follows the bytes actually received (one byte far
/// ahead costs one byte, not the distance to it), and every byte is charged to the pool.
#[derive(Debug, Default)]
pub struct Reassembler {
    /// Sequence number of stream byte 0.
    base: Option<u32>,
    /// True when `base` came from a SYN, so it can't move.
    base_fixed: bool,
    /// Bytes `[0, buf.len())` of the stream.
    buf: Vec<u8>,
    /// Segments past a hole: (stream offset, bytes), sorted by offset (they may overlap).
    ahead: Vec<(u32, Box<[u8]>)>,
    /// Segments inserted since a hole opened without filling it.
    waiting: u8,
    cap: usize,
    /// Budget the buffers are charged to (none: only `cap` bounds them).
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
            ahead: Vec::new(),
            waiting: 0,
            cap,
            pool: None,
        }
    }

    /// A reassembler whose buffers are charged to `pool`: when the pool is spent, inserts that
    /// would grow them return [`Insert::Overflow`].
    pub fn in_pool(cap: usize, pool: &Pool) -> Self {
        let mut r = Reassembler::new(cap);
        r.pool = Some(pool.clone());
        r
    }

    fn charge(&self, n: usize) -> bool {
        self.pool.as_ref().is_none_or(|p| p.take(n))
    }

    fn refund(&self, n: usize) {
        if let Some(p) = &self.pool {
            p.give(n);
        }
    }

    /// Append `data` to the prefix, charging the pool for any new capacity (doubling, up to
    /// the cap, so appends stay amortised O(1)).
    fn append(&mut self, data: &[u8]) -> bool {
        let need = self.buf.len() + data.len();
        let old = self.buf.capacity();
        if need > old {
            let want = need.max(old.saturating_mul(2)).min(self.cap.max(need));
            if !self.charge(want - old) {
                return false;
            }
            self.buf.reserve_exact(want - self.buf.len());
            let extra = self.buf.capacity().saturating_sub(want);
            if extra > 0 && !self.charge(extra) {
                self.refund(want - old);
                self.buf.shrink_to(old);
                return false;
            }
        }
        self.buf.extend_from_slice(data);
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
        self.buf.is_empty() && self.ahead.is_empty() && self.base.is_none_or(|b| b == seq)
    }

    /// Bytes available from stream offset 0 without a hole.
    pub fn contiguous(&self) -> &[u8] {
        &self.buf
    }

    /// Bytes held (prefix and segments past a hole).
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.ahead.iter().map(|(_, d)| d.len()).sum::<usize>()
    }

    /// Release the buffers (the flow is named or given up on).
    pub fn clear(&mut self) {
        let held = self.buf.capacity()
            + self
                .ahead
                .iter()
                .map(|(_, d)| d.len() + SEGMENT_OVERHEAD)
                .sum::<usize>();
        self.refund(held);
        self.buf = Vec::new();
        self.ahead = Vec::new();
        self.waiting = 0;
    }

    pub fn insert(&mut self, seq: u32, data: &[u8]) -> Insert {
        if data.is_empty() {
            return Insert::Pending;
        }
        let base = *self.base.get_or_insert(seq);
        let off = seq.wrapping_sub(base) as i32 as i64;
        let mut data = data;
        let start = if off < 0 {
            let before = off.unsigned_abs() as usize;
            let extent = self.extent();
            if !self.base_fixed && before.saturating_add(extent) <= self.cap {
                // Capture started mid-stream and an earlier segment showed up late: move the
                // start of the stream back rather than lose the front.
                self.rebase(before);
                self.base = Some(seq);
                0
            } else if before >= data.len() {
                return Insert::Pending;
            } else {
                data = &data[before..];
                0
            }
        } else {
            off as usize
        };
        if start >= self.cap {
            return Insert::Overflow;
        }
        let end = start.saturating_add(data.len()).min(self.cap);
        let clipped = end - start < data.len();
        let data = data.get(..end - start).unwrap_or(&[]);
        let front = self.buf.len();
        if start <= front {
            // Joins the prefix: keep what is new, then pull in the segments it reached.
            if end > front {
                if !self.append(data.get(front - start..).unwrap_or(&[])) {
                    return Insert::Overflow;
                }
                self.absorb();
            }
        } else {
            if self.ahead.len() >= MAX_SEGMENTS {
                return Insert::Overflow;
            }
            let dup = self
                .ahead
                .iter()
                .any(|(s, d)| *s as usize <= start && *s as usize + d.len() >= end);
            if !dup {
                if !self.charge(data.len() + SEGMENT_OVERHEAD) {
                    return Insert::Overflow;
                }
                let at = self.ahead.partition_point(|(s, _)| (*s as usize) <= start);
                self.ahead.insert(at, (start as u32, data.into()));
            }
        }
        if self.buf.len() > front {
            self.waiting = 0;
            return Insert::Advanced;
        }
        if clipped {
            return Insert::Overflow;
        }
        if !self.ahead.is_empty() {
            self.waiting = self.waiting.saturating_add(1);
            if self.waiting > GAP_PATIENCE {
                return Insert::Gap;
            }
        }
        Insert::Pending
    }

    /// One past the furthest byte held.
    fn extent(&self) -> usize {
        self.ahead
            .iter()
            .map(|(s, d)| *s as usize + d.len())
            .fold(self.buf.len(), usize::max)
    }

    /// Move segments the prefix now reaches into it.
    fn absorb(&mut self) {
        while let Some((s, _)) = self.ahead.first() {
            if *s as usize > self.buf.len() {
                break;
            }
            let (s, d) = self.ahead.remove(0);
            self.refund(d.len() + SEGMENT_OVERHEAD);
            let skip = self.buf.len() - s as usize;
            if let Some(tail) = d.get(skip..) {
                if !tail.is_empty() && !self.append(tail) {
                    // Budget spent: what could not be appended is dropped; the next insert
                    // past the front will say Overflow.
                    break;
                }
            }
        }
    }

    /// The stream starts `by` bytes earlier than thought: what was the prefix is now a segment
    /// after a hole.
    fn rebase(&mut self, by: usize) {
        for (s, _) in &mut self.ahead {
            *s += by as u32;
        }
        if !self.buf.is_empty() {
            let old = std::mem::take(&mut self.buf);
            self.refund(old.capacity());
            // Refused: the old front is dropped (the budget is spent).
            if self.charge(old.len() + SEGMENT_OVERHEAD) {
                self.ahead.insert(0, (by as u32, old.into_boxed_slice()));
            }
        }
    }
}

/// A flow's state while its QUIC client Initials are read: [`crate::proto::quic::QuicState`],
/// opaque here so that flows do not depend on the parsers (the engine gets it back with
/// `QuicState::of`). Only QUIC flows still unnamed hold one.
pub trait QuicInspect: std::fmt::Debug + Send {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;
}

/// Where a flow is in its inspection: looking at the first flight, or done.
#[derive(Debug)]
pub enum Inspect {
    /// No payload seen yet; the initial sequence numbers of the SYN and SYN-ACK (where each
    /// stream starts) once seen, client's first.
    Fresh { isns: [u32; 2], have: [bool; 2] },
    /// Buffering the first flight (boxed: most flows in a big table are past this stage).
    Buffering(Box<FirstFlight>),
    /// HTTP/1.x keep-alive: later requests are probed segment by segment for more Host names.
    HttpFollow { requests: u16 },
    /// DNS over UDP: every datagram is parsed.
    Dns,
    /// QUIC: the client's Initial packets are being decrypted for the ClientHello. Boxed twice
    /// (built by [`Inspect::quic`]): a `Box<dyn _>` is two words, which would grow every flow's slot.
    Quic(Box<Box<dyn QuicInspect>>),
    /// Nothing more to learn from payload.
    Done,
}

impl Default for Inspect {
    fn default() -> Self {
        Inspect::Fresh {
            isns: [0; 2],
            have: [false; 2],
        }
    }
}

impl Inspect {
    /// Reading a QUIC flow's Initials with `state`.
    pub fn quic(state: impl QuicInspect + 'static) -> Self {
        Inspect::Quic(Box::new(Box::new(state)))
    }

    /// The client's (or server's) initial sequence number, while nothing was inspected.
    pub fn isn(&self, client: bool) -> Option<u32> {
        match self {
            Inspect::Fresh { isns, have } => {
                let i = usize::from(!client);
                have[i].then_some(isns[i])
            }
            _ => None,
        }
    }

    /// Remember a SYN's sequence number (the first one seen per side).
    pub fn set_isn(&mut self, client: bool, seq: u32) {
        if let Inspect::Fresh { isns, have } = self {
            let i = usize::from(!client);
            if !have[i] {
                isns[i] = seq;
                have[i] = true;
            }
        }
    }

    pub fn swap_isns(&mut self) {
        if let Inspect::Fresh { isns, have } = self {
            isns.swap(0, 1);
            have.swap(0, 1);
        }
    }

    /// Holding reassembly or decryption buffers.
    pub fn is_buffering(&self) -> bool {
        matches!(self, Inspect::Buffering(_) | Inspect::Quic(_))
    }
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
    fn a_hole_left_open_gives_up() {
        let mut r = Reassembler::new(4096);
        r.set_isn(0);
        let mut seen = Vec::new();
        for i in 0..(GAP_PATIENCE as u32 + 2) {
            seen.push(r.insert(10 + i * 3, b"x"));
        }
        assert_eq!(
            seen[..GAP_PATIENCE as usize],
            [Insert::Pending; GAP_PATIENCE as usize]
        );
        assert_eq!(seen.last(), Some(&Insert::Gap));
    }

    #[test]
    fn a_byte_far_ahead_costs_a_byte() {
        let pool = Pool::new(1 << 20);
        let mut r = Reassembler::in_pool(65_536, &pool);
        r.set_isn(0);
        assert_eq!(r.insert(60_000, b"x"), Insert::Pending);
        assert!(pool.used() <= 1 + SEGMENT_OVERHEAD, "{}", pool.used());
        assert_eq!(r.buffered(), 1);
        // The hole filled: the prefix reaches the held byte and takes it in.
        assert_eq!(r.insert(1, &vec![b'a'; 59_999]), Insert::Advanced);
        assert_eq!(r.contiguous().len(), 60_000);
        assert_eq!(r.contiguous().last(), Some(&b'x'));
        drop(r);
        assert_eq!(pool.used(), 0);
    }

    #[test]
    fn too_many_segments_ahead_overflows() {
        let mut r = Reassembler::new(4096);
        r.set_isn(0);
        // Filling the hole now and then resets the patience, not the segment bound.
        let mut last = Insert::Pending;
        for i in 0..(MAX_SEGMENTS as u32 + 1) {
            last = r.insert(100 + i * 3, b"x");
            if i % 4 == 3 {
                r.waiting = 0;
            }
        }
        assert_eq!(last, Insert::Overflow);
    }

    proptest! {
        /// Whatever the order, duplication or overlap of segments covering a stream, the
        /// contiguous prefix is the stream.
        #[test]
        fn order_does_not_matter(
            stream in proptest::collection::vec(any::<u8>(), 1..600),
            // At most 13 pieces and 4 duplicates: never more than MAX_SEGMENTS ahead of a hole.
            cuts in proptest::collection::vec(any::<u16>(), 0..12),
            dups in proptest::collection::vec(any::<u16>(), 0..4),
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
