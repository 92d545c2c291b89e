//! A TCP connection as Windows would produce it: SYN with MSS/WS/SACK options, data split into
//! chosen segment sizes, ACKs, FIN close. Packets carry a flow label so a generator can count
//! what it actually wrote per expected flow.

use super::net::{self, TcpSeg, ACK, FIN, PSH, SYN};
use super::rng::Rng;
use std::net::SocketAddr;

/// One synthesized IP packet.
#[derive(Clone, Debug)]
pub struct Pkt {
    pub ts_ns: u64,
    pub ip: Vec<u8>,
    pub from_client: bool,
    /// Caller-chosen flow label (index into the caller's expectations).
    pub flow: usize,
}

pub struct TcpConn {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub flow: usize,
    /// Next sequence number each side will send.
    pub c_next: u32,
    pub s_next: u32,
    c_isn: u32,
    s_isn: u32,
    c_ident: u16,
    s_ident: u16,
    pub c_ttl: u8,
    pub s_ttl: u8,
    pub mss: usize,
    /// Clock of the next packet, ns since the epoch.
    pub t_ns: u64,
    /// Gap between back-to-back packets in the same direction.
    pub gap_ns: u64,
    /// Added when the direction changes (half an RTT).
    pub half_rtt_ns: u64,
    last_from_client: Option<bool>,
    pub pkts: Vec<Pkt>,
}

impl TcpConn {
    pub fn new(
        client: SocketAddr,
        server: SocketAddr,
        flow: usize,
        start_ns: u64,
        seed: u64,
    ) -> Self {
        let mut r = Rng::new(seed);
        let c_isn = r.next_u32();
        let s_isn = r.next_u32();
        let mss = if client.is_ipv4() { 1460 } else { 1440 };
        TcpConn {
            client,
            server,
            flow,
            c_next: c_isn,
            s_next: s_isn,
            c_isn,
            s_isn,
            c_ident: r.next_u16(),
            s_ident: 0,
            c_ttl: 128,
            s_ttl: 116,
            mss,
            t_ns: start_ns,
            gap_ns: 40_000,
            half_rtt_ns: 9_000_000,
            last_from_client: None,
            pkts: Vec::new(),
        }
    }

    /// Relative client stream offset 0 = first payload byte (ISN + 1).
    pub fn client_seq_at(&self, offset: u32) -> u32 {
        self.c_isn.wrapping_add(1).wrapping_add(offset)
    }

    fn clock(&mut self, from_client: bool) -> u64 {
        match self.last_from_client {
            None => {}
            Some(prev) if prev == from_client => self.t_ns += self.gap_ns,
            Some(_) => self.t_ns += self.half_rtt_ns,
        }
        self.last_from_client = Some(from_client);
        self.t_ns
    }

    /// Builds one packet with explicit seq/ack/flags; advances the clock but not the sequence
    /// state (use for retransmissions and overlaps).
    pub fn raw(
        &mut self,
        from_client: bool,
        seq: u32,
        ack: u32,
        flags: u8,
        options: &[u8],
        payload: &[u8],
    ) -> Pkt {
        let ts_ns = self.clock(from_client);
        // Unscaled windows on SYNs; afterwards values that read sensibly with scale 8.
        let syn = flags & SYN != 0;
        let (src, dst, ttl, window) = if from_client {
            (
                self.client,
                self.server,
                self.c_ttl,
                if syn { 64240u16 } else { 1026 },
            )
        } else {
            (
                self.server,
                self.client,
                self.s_ttl,
                if syn { 65535u16 } else { 8212 },
            )
        };
        let seg = net::tcp_segment(&TcpSeg {
            src,
            dst,
            seq,
            ack,
            flags,
            window,
            options,
            payload,
        });
        let ident = if from_client {
            self.c_ident = self.c_ident.wrapping_add(1);
            self.c_ident
        } else {
            self.s_ident = self.s_ident.wrapping_add(1);
            self.s_ident
        };
        let ip = net::ip_packet(src.ip(), dst.ip(), net::PROTO_TCP, ident, ttl, &seg);
        Pkt {
            ts_ns,
            ip,
            from_client,
            flow: self.flow,
        }
    }

    fn emit(&mut self, from_client: bool, flags: u8, options: &[u8], payload: &[u8]) {
        let (seq, ack) = if from_client {
            (self.c_next, self.s_next)
        } else {
            (self.s_next, self.c_next)
        };
        let ack = if flags & ACK != 0 { ack } else { 0 };
        let p = self.raw(from_client, seq, ack, flags, options, payload);
        let adv = payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
        if from_client {
            self.c_next = self.c_next.wrapping_add(adv);
        } else {
            self.s_next = self.s_next.wrapping_add(adv);
        }
        self.pkts.push(p);
    }

    /// SYN, SYN-ACK, ACK.
    pub fn handshake(&mut self) {
        let mss = self.mss as u16;
        let m = mss.to_be_bytes();
        // MSS, NOP, WS=8, NOP, NOP, SACK permitted (Windows' SYN layout).
        let c_opts = [2, 4, m[0], m[1], 1, 3, 3, 8, 1, 1, 4, 2];
        self.emit(true, SYN, &c_opts, &[]);
        self.emit(false, SYN | ACK, &c_opts, &[]);
        self.emit(true, ACK, &[], &[]);
    }

    /// Splits `data` into segments: first the given sizes, the rest in MSS-sized chunks.
    /// Does not ACK; see [`TcpConn::client_send`].
    pub fn segments(&self, data: &[u8], sizes: &[usize]) -> Vec<(u32, std::ops::Range<usize>)> {
        let mut out = Vec::new();
        let mut off = 0usize;
        let mut i = 0usize;
        while off < data.len() {
            let want = sizes
                .get(i)
                .copied()
                .unwrap_or(self.mss)
                .min(self.mss)
                .max(1);
            let end = (off + want).min(data.len());
            out.push((off as u32, off..end));
            off = end;
            i += 1;
        }
        out
    }

    fn send(&mut self, from_client: bool, data: &[u8], sizes: &[usize]) {
        let segs = self.segments(data, sizes);
        let n = segs.len();
        for (i, (_, r)) in segs.into_iter().enumerate() {
            let flags = if i + 1 == n { ACK | PSH } else { ACK };
            self.emit(from_client, flags, &[], &data[r]);
        }
    }

    /// Client data in the given segment sizes, then the server's ACK.
    pub fn client_send(&mut self, data: &[u8], sizes: &[usize]) {
        self.send(true, data, sizes);
        self.server_ack();
    }

    /// Server data in the given segment sizes, then the client's ACK.
    pub fn server_send(&mut self, data: &[u8], sizes: &[usize]) {
        self.send(false, data, sizes);
        self.client_ack();
    }

    /// Client data with no ACK afterwards.
    pub fn client_push(&mut self, data: &[u8], sizes: &[usize]) {
        self.send(true, data, sizes);
    }

    pub fn server_push(&mut self, data: &[u8], sizes: &[usize]) {
        self.send(false, data, sizes);
    }

    pub fn server_ack(&mut self) {
        self.emit(false, ACK, &[], &[]);
    }

    pub fn client_ack(&mut self) {
        self.emit(true, ACK, &[], &[]);
    }

    /// Marks `len` client bytes as sent without emitting them (after hand-built segments).
    pub fn client_advance(&mut self, len: usize) {
        self.c_next = self.c_next.wrapping_add(len as u32);
    }

    /// Client-initiated close: FIN/ACK, FIN/ACK, ACK.
    pub fn close(&mut self) {
        self.emit(true, FIN | ACK, &[], &[]);
        self.emit(false, FIN | ACK, &[], &[]);
        self.emit(true, ACK, &[], &[]);
    }

    pub fn into_pkts(self) -> Vec<Pkt> {
        self.pkts
    }
}

/// One UDP packet as a [`Pkt`].
pub fn udp_pkt(
    src: SocketAddr,
    dst: SocketAddr,
    ident: u16,
    ts_ns: u64,
    from_client: bool,
    flow: usize,
    payload: &[u8],
) -> Pkt {
    let ttl = if from_client { 128 } else { 64 };
    Pkt {
        ts_ns,
        ip: net::udp_packet(src, dst, ident, ttl, payload),
        from_client,
        flow,
    }
}
