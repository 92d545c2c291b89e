//! pcap and pcapng writers. Each `packet` call returns the timestamp (in ns) that a correct
//! reader will decode from what was written, so expectations follow the file, not the intent.

const NS_PER_S: u64 = 1_000_000_000;

pub struct PcapWriter {
    buf: Vec<u8>,
    nanos: bool,
    big_endian: bool,
    snaplen: u32,
}

impl PcapWriter {
    /// `nanos` selects magic 0xa1b23c4d (ns fractions) over 0xa1b2c3d4 (µs).
    pub fn new(linktype: u32, snaplen: u32, nanos: bool, big_endian: bool) -> Self {
        let mut w = PcapWriter {
            buf: Vec::new(),
            nanos,
            big_endian,
            snaplen,
        };
        w.u32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
        w.u16(2);
        w.u16(4);
        w.u32(0); // thiszone
        w.u32(0); // sigfigs
        w.u32(snaplen);
        w.u32(linktype);
        w
    }

    fn u16(&mut self, v: u16) {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
    }

    fn u32(&mut self, v: u32) {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
    }

    fn header(&mut self, ts_ns: u64, incl: usize, orig: usize) -> u64 {
        let sec = ts_ns / NS_PER_S;
        let frac = if self.nanos {
            ts_ns % NS_PER_S
        } else {
            (ts_ns % NS_PER_S) / 1000
        };
        self.u32(u32::try_from(sec).expect("synth: timestamp beyond 2106"));
        self.u32(frac as u32);
        self.u32(incl as u32);
        self.u32(orig as u32);
        sec * NS_PER_S + if self.nanos { frac } else { frac * 1000 }
    }

    /// Writes one record, cut to the snaplen like a capturing tool would.
    pub fn packet(&mut self, ts_ns: u64, frame: &[u8]) -> u64 {
        let incl = frame.len().min(self.snaplen as usize);
        let ts = self.header(ts_ns, incl, frame.len());
        self.buf.extend_from_slice(&frame[..incl]);
        ts
    }

    /// Writes a record whose header promises the full (snapped) frame but of which only
    /// `present` bytes follow: a file cut short mid-record. Must be the last call.
    pub fn truncated_packet(&mut self, ts_ns: u64, frame: &[u8], present: usize) -> u64 {
        let incl = frame.len().min(self.snaplen as usize);
        let ts = self.header(ts_ns, incl, frame.len());
        self.buf.extend_from_slice(&frame[..present.min(incl)]);
        ts
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// Little-endian pcapng, one section.
pub struct PcapngWriter {
    buf: Vec<u8>,
    /// Per interface: timestamp units per second.
    units: Vec<u64>,
}

fn pad4(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

fn push_opt(v: &mut Vec<u8>, code: u16, val: &[u8]) {
    v.extend_from_slice(&code.to_le_bytes());
    v.extend_from_slice(&(val.len() as u16).to_le_bytes());
    v.extend_from_slice(val);
    pad4(v);
}

/// if_tsresol: high bit clear = 10^-n s, set = 2^-n s.
pub fn tsresol_units(tsresol: u8) -> u64 {
    let n = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u64.pow(n)
    } else {
        1u64 << n
    }
}

impl PcapngWriter {
    pub fn new(user_appl: &str) -> Self {
        let mut w = PcapngWriter {
            buf: Vec::new(),
            units: Vec::new(),
        };
        let mut body = Vec::new();
        body.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes()); // section length unspecified
        push_opt(&mut body, 4, user_appl.as_bytes()); // shb_userappl
        push_opt(&mut body, 0, &[]);
        w.block(0x0A0D_0D0A, &body);
        w
    }

    fn block(&mut self, ty: u32, body: &[u8]) {
        let total = (12 + body.len()) as u32;
        self.buf.extend_from_slice(&ty.to_le_bytes());
        self.buf.extend_from_slice(&total.to_le_bytes());
        self.buf.extend_from_slice(body);
        self.buf.extend_from_slice(&total.to_le_bytes());
    }

    /// Adds an Interface Description Block; returns its interface id.
    pub fn add_interface(&mut self, linktype: u16, snaplen: u32, name: &str, tsresol: u8) -> u32 {
        let mut body = Vec::new();
        body.extend_from_slice(&linktype.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&snaplen.to_le_bytes());
        push_opt(&mut body, 2, name.as_bytes()); // if_name
        push_opt(&mut body, 9, &[tsresol]); // if_tsresol
        push_opt(&mut body, 0, &[]);
        self.block(1, &body);
        self.units.push(tsresol_units(tsresol));
        (self.units.len() - 1) as u32
    }

    /// Writes an Enhanced Packet Block (full frame captured).
    pub fn packet(&mut self, iface: u32, ts_ns: u64, frame: &[u8]) -> u64 {
        let units = self.units[iface as usize];
        let ts = (u128::from(ts_ns) * u128::from(units) / u128::from(NS_PER_S)) as u64;
        let mut body = Vec::with_capacity(frame.len() + 24);
        body.extend_from_slice(&iface.to_le_bytes());
        body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(ts as u32).to_le_bytes());
        body.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        body.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        body.extend_from_slice(frame);
        pad4(&mut body);
        self.block(6, &body);
        (u128::from(ts) * u128::from(NS_PER_S) / u128::from(units)) as u64
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}
