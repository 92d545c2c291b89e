//! Reassembly of a TCP direction's first bytes, bounded and indexed by stream offset.
//!
//! Only the first flight matters to us (ClientHello, HTTP request head, DNS messages), so the
//! buffer is capped and dropped as soon as the flow is named: this is what keeps per-flow memory
//! small on a mirror port. Segments may arrive out of order, retransmitted or overlapping; bytes
//! are placed by offset, so the result does not depend on arrival order (a later copy of a byte
//! overwrites an earlier one, which only matters for inconsistent retransmissions).

/// Default cap on buffered bytes per direction.
pub const DEFAULT_CAP: usize = 16 * 1024;
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
}

impl Reassembler {
    pub fn new(cap: usize) -> Self {
        Reassembler {
            cap,
            ..Default::default()
        }
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
                self.rebase(before);
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
        if self.buf.len() < end {
            self.buf.resize(end, 0);
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

    fn rebase(&mut self, by: usize) {
        let mut nb = vec![0u8; by + self.buf.len()];
        if let Some(dst) = nb.get_mut(by..) {
            dst.copy_from_slice(&self.buf);
        }
        self.buf = nb;
        for r in &mut self.ranges {
            r.0 += by as u32;
            r.1 += by as u32;
        }
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
