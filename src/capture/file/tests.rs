//! Hand-built pcap/pcapng byte buffers (layouts from the pcap and pcapng specs), property tests
//! and the corpus check against tshark's packet counts.

use super::*;
use proptest::prelude::*;

fn u16b(v: u16, be: bool) -> [u8; 2] {
    if be {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

fn u32b(v: u32, be: bool) -> [u8; 4] {
    if be {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

/// Classic pcap file header, version 2.4.
fn pcap_header(be: bool, nanos: bool, snaplen: u32, network: u32) -> Vec<u8> {
    pcap_header_v(be, nanos, snaplen, network, 2, 4)
}

fn pcap_header_v(be: bool, nanos: bool, snaplen: u32, net: u32, major: u16, minor: u16) -> Vec<u8> {
    let magic = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    let mut v = Vec::new();
    v.extend(u32b(magic, be));
    v.extend(u16b(major, be));
    v.extend(u16b(minor, be));
    v.extend(u32b(0, be)); // thiszone
    v.extend(u32b(0, be)); // sigfigs
    v.extend(u32b(snaplen, be));
    v.extend(u32b(net, be));
    v
}

fn pcap_record(v: &mut Vec<u8>, be: bool, sec: u32, frac: u32, origlen: u32, data: &[u8]) {
    v.extend(u32b(sec, be));
    v.extend(u32b(frac, be));
    v.extend(u32b(data.len() as u32, be));
    v.extend(u32b(origlen, be));
    v.extend(data);
}

/// A pcapng block: type, total length, body padded to 32 bits, total length.
fn block(v: &mut Vec<u8>, be: bool, btype: u32, body: &[u8]) {
    let padded = (body.len() + 3) & !3;
    let len = (12 + padded) as u32;
    v.extend(u32b(btype, be));
    v.extend(u32b(len, be));
    v.extend(body);
    v.extend(std::iter::repeat_n(0u8, padded - body.len()));
    v.extend(u32b(len, be));
}

fn shb(v: &mut Vec<u8>, be: bool) {
    let mut b = Vec::new();
    b.extend(u32b(0x1A2B_3C4D, be));
    b.extend(u16b(1, be));
    b.extend(u16b(0, be));
    b.extend(u64::MAX.to_le_bytes()); // section length: unknown
    block(v, be, 0x0A0D_0D0A, &b);
}

fn option(b: &mut Vec<u8>, be: bool, code: u16, value: &[u8]) {
    b.extend(u16b(code, be));
    b.extend(u16b(value.len() as u16, be));
    b.extend(value);
    b.extend(std::iter::repeat_n(
        0u8,
        ((value.len() + 3) & !3) - value.len(),
    ));
}

fn idb(v: &mut Vec<u8>, be: bool, link: u16, snaplen: u32, tsresol: Option<u8>, tsoff: i64) {
    let mut b = Vec::new();
    b.extend(u16b(link, be));
    b.extend(u16b(0, be));
    b.extend(u32b(snaplen, be));
    option(&mut b, be, 2, b"eth0"); // if_name, to have an option the reader ignores
    if let Some(r) = tsresol {
        option(&mut b, be, 9, &[r]);
    }
    if tsoff != 0 {
        let o = if be {
            tsoff.to_be_bytes()
        } else {
            tsoff.to_le_bytes()
        };
        option(&mut b, be, 14, &o);
    }
    option(&mut b, be, 0, &[]);
    block(v, be, 1, &b);
}

fn epb(v: &mut Vec<u8>, be: bool, if_id: u32, ts: u64, origlen: u32, data: &[u8]) {
    let mut b = Vec::new();
    b.extend(u32b(if_id, be));
    b.extend(u32b((ts >> 32) as u32, be));
    b.extend(u32b(ts as u32, be));
    b.extend(u32b(data.len() as u32, be));
    b.extend(u32b(origlen, be));
    b.extend(data);
    block(v, be, 6, &b);
}

fn spb(v: &mut Vec<u8>, be: bool, origlen: u32, data: &[u8]) {
    let mut b = Vec::new();
    b.extend(u32b(origlen, be));
    b.extend(data);
    block(v, be, 3, &b);
}

fn open_vec(v: Vec<u8>) -> Result<CaptureFile, CaptureError> {
    CaptureFile::from_vec(Path::new("test.pcap"), v)
}

/// A packet, owned: (ts, link, data, orig_len).
type Owned = (Nanos, u32, Vec<u8>, u32);

/// All packets (owned copies) and the error that ended the read, if any.
fn read_all_packets(f: &CaptureFile) -> (Vec<Owned>, Option<CaptureError>) {
    let mut r = f.reader();
    let mut out = Vec::new();
    let mut error = None;
    while let Some(p) = r.next_packet() {
        match p {
            Ok(p) => out.push((p.ts, p.link.0, p.data.to_vec(), p.orig_len)),
            Err(e) => error = Some(e),
        }
    }
    assert!(r.next_packet().is_none(), "reader must stay finished");
    (out, error)
}

fn stats_of(f: &CaptureFile) -> CaptureStats {
    let mut r = f.reader();
    while let Some(Ok(_)) = r.next_packet() {}
    r.stats()
}

const S: u64 = NANOS_PER_SEC;

#[test]
fn pcap_both_byte_orders_microseconds() {
    for be in [false, true] {
        let mut v = pcap_header(be, false, 65535, 1);
        pcap_record(&mut v, be, 1_700_000_000, 123_456, 60, &[0xAA; 60]);
        pcap_record(&mut v, be, 1_700_000_001, 999_999, 1514, &[0xBB; 4]);
        let f = open_vec(v).unwrap();
        assert_eq!(
            f.format(),
            Format::Pcap {
                big_endian: be,
                nanos: false
            }
        );
        let (pkts, e) = read_all_packets(&f);
        assert!(e.is_none());
        assert_eq!(
            pkts,
            vec![
                (1_700_000_000 * S + 123_456_000, 1, vec![0xAA; 60], 60),
                (1_700_000_001 * S + 999_999_000, 1, vec![0xBB; 4], 1514),
            ]
        );
        let st = stats_of(&f);
        assert_eq!(
            (st.records, st.bytes, st.clipped, st.over_snaplen),
            (2, 64, 1, 0)
        );
    }
}

#[test]
fn pcap_nanoseconds_both_byte_orders() {
    for be in [false, true] {
        let mut v = pcap_header(be, true, 65535, 101);
        pcap_record(&mut v, be, 10, 123_456_789, 1, &[0x45]);
        let f = open_vec(v).unwrap();
        let (pkts, e) = read_all_packets(&f);
        assert!(e.is_none());
        assert_eq!(pkts, vec![(10 * S + 123_456_789, 101, vec![0x45], 1)]);
    }
}

#[test]
fn pcap_link_type_upper_bits_are_fcs_info() {
    // 0x1400_0001: "FCS present, 4 bytes" flags above LINKTYPE_ETHERNET.
    let mut v = pcap_header(false, false, 65535, 0x1400_0001);
    pcap_record(&mut v, false, 0, 0, 2, &[1, 2]);
    let (pkts, _) = read_all_packets(&open_vec(v).unwrap());
    assert_eq!(pkts[0].1, LinkType::ETHERNET.0);
}

#[test]
fn pcap_caplen_over_snaplen_is_kept_and_counted() {
    let mut v = pcap_header(false, false, 4, 1);
    pcap_record(&mut v, false, 0, 0, 10, &[7; 10]);
    pcap_record(&mut v, false, 0, 0, 3, &[8; 3]);
    let f = open_vec(v).unwrap();
    let (pkts, e) = read_all_packets(&f);
    assert!(e.is_none());
    assert_eq!(pkts.len(), 2);
    assert_eq!(pkts[0].2, vec![7; 10]);
    assert_eq!(stats_of(&f).over_snaplen, 1);
}

#[test]
fn pcap_truncated_last_record_reports_its_number_and_offset() {
    let mut v = pcap_header(false, false, 65535, 1);
    pcap_record(&mut v, false, 1, 0, 10, &[1; 10]); // offset 24
    pcap_record(&mut v, false, 2, 0, 20, &[2; 20]); // offset 50
    let third = v.len(); // 86
    pcap_record(&mut v, false, 3, 0, 50, &[3; 50]);
    v.truncate(third + 16 + 5);
    let f = open_vec(v).unwrap();
    let (pkts, e) = read_all_packets(&f);
    assert_eq!(pkts.len(), 2);
    let e = e.unwrap();
    assert_eq!(e.kind, CaptureErrorKind::Truncated);
    assert_eq!((e.record, e.offset), (3, 86));
    assert_eq!(third, 86);
}

#[test]
fn pcap_truncated_inside_record_header() {
    let mut v = pcap_header(true, false, 65535, 1);
    pcap_record(&mut v, true, 1, 0, 4, &[1; 4]);
    v.extend([0, 0, 0]);
    let (pkts, e) = read_all_packets(&open_vec(v).unwrap());
    assert_eq!(pkts.len(), 1);
    let e = e.unwrap();
    assert_eq!(
        (e.kind, e.record, e.offset),
        (CaptureErrorKind::Truncated, 2, 44)
    );
}

#[test]
fn pcap_absurd_caplen_is_corrupt_not_truncated() {
    let mut v = pcap_header(false, false, 65535, 1);
    v.extend(u32b(0, false));
    v.extend(u32b(0, false));
    v.extend(u32b(0xFFFF_FFF0, false));
    v.extend(u32b(60, false));
    let (pkts, e) = read_all_packets(&open_vec(v).unwrap());
    assert!(pkts.is_empty());
    let e = e.unwrap();
    assert!(matches!(e.kind, CaptureErrorKind::Corrupt(_)), "{e}");
    assert_eq!((e.record, e.offset), (1, 24));
}

#[test]
fn pcap_before_2_3_has_swapped_lengths() {
    // Version 2.2 stores origlen in the caplen slot (Wireshark swaps them back; the corpus has
    // such a file).
    let mut v = pcap_header_v(false, false, 65535, 1, 2, 2);
    v.extend(u32b(5, false));
    v.extend(u32b(0, false));
    v.extend(u32b(1500, false)); // origlen
    v.extend(u32b(3, false)); // caplen
    v.extend([9, 9, 9]);
    let (pkts, e) = read_all_packets(&open_vec(v).unwrap());
    assert!(e.is_none());
    assert_eq!(pkts, vec![(5 * S, 1, vec![9, 9, 9], 1500)]);
}

#[test]
fn pcap_header_only_and_short_header() {
    let f = open_vec(pcap_header(false, false, 65535, 1)).unwrap();
    let (pkts, e) = read_all_packets(&f);
    assert!(pkts.is_empty() && e.is_none());
    let mut short = pcap_header(false, false, 65535, 1);
    short.truncate(20);
    let e = open_vec(short).unwrap_err();
    assert_eq!((e.kind, e.record), (CaptureErrorKind::Truncated, 0));
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("egressmap-capture-{}-{name}", std::process::id()))
}

#[test]
fn open_maps_real_files_and_reports_empty_and_missing() {
    let p = temp_path("empty.pcap");
    std::fs::write(&p, b"").unwrap();
    let e = CaptureFile::open(&p).unwrap_err();
    assert_eq!(e.kind, CaptureErrorKind::Empty);
    assert_eq!(e.file, p);

    let mut v = pcap_header(false, false, 65535, 1);
    pcap_record(&mut v, false, 1, 2, 3, &[1, 2, 3]);
    std::fs::write(&p, &v).unwrap();
    let f = CaptureFile::open(&p).unwrap();
    assert!(matches!(f.bytes, Bytes::Map(_)), "regular files are mapped");
    assert_eq!(read_all_packets(&f).0.len(), 1);
    assert_eq!(f.reader().len(), v.len() as u64);
    drop(f);
    std::fs::remove_file(&p).unwrap();

    let e = CaptureFile::open(&p).unwrap_err();
    assert!(matches!(e.kind, CaptureErrorKind::Io(_)));
    assert!(e.kind.is_fatal_at_start());
}

/// Character devices and pipes cannot be mapped: they are read into memory instead.
/// Streams (a device, a compressed file, standard input) are not mapped and not spooled:
/// `CaptureFile::open` refuses them, saying why, `needs_stream` routes them to the stream
/// reader, which reads them with no temporary file; a plain regular file is still mapped.
#[cfg(unix)]
#[test]
fn streams_are_refused_by_open_and_read_by_the_stream_reader() {
    let is_stream = |e: CaptureError| match e.kind {
        CaptureErrorKind::Io(m) => m.contains("a stream (standard input, a pipe or a compressed"),
        _ => false,
    };
    let dev_null = Path::new("/dev/null");
    assert!(is_stream(CaptureFile::open(dev_null).unwrap_err()));
    assert!(stream::needs_stream(dev_null));
    let e = stream::StreamReader::open(dev_null).err().unwrap();
    assert_eq!(e.kind, CaptureErrorKind::Empty);
    assert!(is_stream(CaptureFile::open(Path::new("-")).unwrap_err()));
    assert!(stream::needs_stream(Path::new("-")));

    let mut v = pcap_header(false, false, 65535, 1);
    for i in 0..50 {
        pcap_record(&mut v, false, i, 2, 3, &[i as u8; 60]);
    }
    let plain = temp_path("plain-vs-xz.pcap");
    std::fs::write(&plain, &v).unwrap();
    assert!(!stream::needs_stream(&plain));
    let f = CaptureFile::open(&plain).unwrap();
    assert!(matches!(f.bytes, Bytes::Map(_)));
    let want = read_all_packets(&f).0;
    assert_eq!(want.len(), 50);

    let packed = temp_path("plain-vs-xz.bin");
    std::fs::write(&packed, xz(&v)).unwrap();
    assert!(is_stream(CaptureFile::open(&packed).unwrap_err()));
    assert!(stream::needs_stream(&packed));
    let mut r = stream::StreamReader::open(&packed).unwrap();
    let mut got = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        got.push((p.ts, p.link.0, p.data.to_vec(), p.orig_len));
    }
    assert_eq!(got, want);
    for p in [plain, packed] {
        std::fs::remove_file(p).unwrap();
    }
}

#[test]
fn unknown_magic_names_the_bytes() {
    let e = open_vec(b"GET / HTTP/1.1\r\n".to_vec()).unwrap_err();
    assert_eq!(e.kind, CaptureErrorKind::UnknownFormat("47455420".into()));
    assert!(e.to_string().contains("47455420"), "{e}");
    let e = open_vec(vec![0x1f]).unwrap_err();
    assert_eq!(e.kind, CaptureErrorKind::UnknownFormat("1f".into()));
}

#[test]
fn pcapng_interfaces_resolutions_unknown_blocks_and_spb() {
    for be in [false, true] {
        let mut v = Vec::new();
        shb(&mut v, be);
        idb(&mut v, be, 1, 0, None, 0); // if 0: Ethernet, µs (default)
        idb(&mut v, be, 101, 128, Some(9), 100); // if 1: raw IP, ns, +100 s
        block(&mut v, be, 0x0000_0BAD, b"custom stuff"); // skipped
        block(&mut v, be, 5, &[0; 8]); // ISB: skipped too
        epb(&mut v, be, 0, 1_700_000_000_123_456, 60, &[0xE0; 60]);
        epb(&mut v, be, 1, 5_000_000_001, 1000, &[0x45; 7]);
        epb(&mut v, be, 7, 0, 4, &[0; 4]); // no interface 7
        spb(&mut v, be, 3, &[0x51, 0x52, 0x53]);
        let f = open_vec(v).unwrap();
        assert_eq!(f.format(), Format::PcapNg);
        let (pkts, e) = read_all_packets(&f);
        assert!(e.is_none(), "{e:?}");
        assert_eq!(
            pkts,
            vec![
                (1_700_000_000_123_456_000, 1, vec![0xE0; 60], 60),
                (105 * S + 1, 101, vec![0x45; 7], 1000),
                // SPB: interface 0, timestamp of the previous packet.
                (105 * S + 1, 1, vec![0x51, 0x52, 0x53], 3),
            ]
        );
        let st = stats_of(&f);
        assert_eq!(st.records, 3);
        assert_eq!(st.skipped_blocks, 2);
        assert_eq!(st.unknown_interface, 1);
        assert_eq!(st.clipped, 1);
    }
}

#[test]
fn pcapng_power_of_two_resolution_and_negative_offset() {
    let mut v = Vec::new();
    shb(&mut v, false);
    idb(&mut v, false, 1, 0, Some(0x80 | 10), -1); // 1024 units/s, -1 s
    epb(&mut v, false, 0, 1024 * 3 + 512, 1, &[0]);
    let (pkts, _) = read_all_packets(&open_vec(v).unwrap());
    assert_eq!(pkts[0].0, 2 * S + S / 2);
}

#[test]
fn pcapng_spb_is_clipped_to_origlen_and_snaplen() {
    let mut v = Vec::new();
    shb(&mut v, false);
    idb(&mut v, false, 1, 2, None, 0);
    spb(&mut v, false, 3, &[1, 2, 3, 4, 5]); // body padded past origlen
    let (pkts, _) = read_all_packets(&open_vec(v).unwrap());
    assert_eq!(pkts[0].2, vec![1, 2]);
}

#[test]
fn pcapng_obsolete_packet_block() {
    for be in [false, true] {
        let mut v = Vec::new();
        shb(&mut v, be);
        idb(&mut v, be, 1, 0, None, 0);
        idb(&mut v, be, 113, 0, None, 0);
        let mut b = Vec::new();
        b.extend(u16b(1, be)); // interface
        b.extend(u16b(0, be)); // drops
        b.extend(u32b(0, be));
        b.extend(u32b(2_000_000, be));
        b.extend(u32b(2, be));
        b.extend(u32b(2, be));
        b.extend([0xAB, 0xCD]);
        block(&mut v, be, 2, &b);
        let (pkts, e) = read_all_packets(&open_vec(v).unwrap());
        assert!(e.is_none());
        assert_eq!(pkts, vec![(2 * S, 113, vec![0xAB, 0xCD], 2)]);
    }
}

#[test]
fn pcapng_new_section_resets_interfaces_and_byte_order() {
    let mut v = Vec::new();
    shb(&mut v, true);
    idb(&mut v, true, 1, 0, None, 0);
    idb(&mut v, true, 101, 0, None, 0);
    epb(&mut v, true, 1, 1, 1, &[1]);
    shb(&mut v, false);
    idb(&mut v, false, 228, 0, Some(9), 0);
    epb(&mut v, false, 1, 1, 1, &[2]); // interface 1 belonged to the old section
    epb(&mut v, false, 0, 7, 1, &[3]);
    let f = open_vec(v).unwrap();
    let (pkts, e) = read_all_packets(&f);
    assert!(e.is_none());
    assert_eq!(pkts, vec![(1000, 101, vec![1], 1), (7, 228, vec![3], 1)]);
    assert_eq!(stats_of(&f).unknown_interface, 1);
}

#[test]
fn pcapng_bogus_byte_order_magic() {
    let mut bad = Vec::new();
    shb(&mut bad, false);
    bad[8..12].copy_from_slice(&[1, 2, 3, 4]);
    let e = open_vec(bad.clone()).unwrap_err();
    assert!(matches!(e.kind, CaptureErrorKind::Corrupt(_)));

    let mut v = Vec::new();
    shb(&mut v, false);
    idb(&mut v, false, 1, 0, None, 0);
    epb(&mut v, false, 0, 1, 1, &[1]);
    let at = v.len() as u64;
    v.extend(&bad);
    let (pkts, e) = read_all_packets(&open_vec(v).unwrap());
    assert_eq!(pkts.len(), 1);
    let e = e.unwrap();
    assert!(matches!(e.kind, CaptureErrorKind::Corrupt(_)));
    assert_eq!((e.record, e.offset), (2, at));
}

#[test]
fn pcapng_huge_block_length_is_corrupt_without_allocating() {
    let mut v = Vec::new();
    shb(&mut v, false);
    let at = v.len() as u64;
    v.extend(u32b(6, false));
    v.extend(u32b(0xFFFF_FFF0, false));
    v.extend([0; 40]);
    let (pkts, e) = read_all_packets(&open_vec(v).unwrap());
    assert!(pkts.is_empty());
    let e = e.unwrap();
    assert!(matches!(e.kind, CaptureErrorKind::Corrupt(_)), "{e}");
    assert_eq!((e.record, e.offset), (1, at));
}

#[test]
fn pcapng_cut_short_block_is_truncated() {
    let mut v = Vec::new();
    shb(&mut v, false);
    idb(&mut v, false, 1, 0, None, 0);
    epb(&mut v, false, 0, 1, 1, &[1]);
    let at = v.len();
    epb(&mut v, false, 0, 1, 100, &[2; 100]);
    v.truncate(at + 50);
    let (pkts, e) = read_all_packets(&open_vec(v).unwrap());
    assert_eq!(pkts.len(), 1);
    let e = e.unwrap();
    assert_eq!(
        (e.kind, e.record, e.offset),
        (CaptureErrorKind::Truncated, 2, at as u64)
    );
}

#[test]
fn pcapng_malformed_lengths_are_corrupt() {
    let base = {
        let mut v = Vec::new();
        shb(&mut v, false);
        idb(&mut v, false, 1, 0, None, 0);
        v
    };
    // Trailing length differs from the leading one.
    let mut v = base.clone();
    epb(&mut v, false, 0, 1, 4, &[1; 4]);
    let n = v.len();
    v[n - 4] ^= 0x10;
    // EPB whose caplen runs past its block.
    let mut w = base.clone();
    let at = w.len();
    epb(&mut w, false, 0, 1, 4, &[1; 4]);
    w[at + 8 + 12] = 200;
    // Length not a multiple of 4.
    let mut x = base.clone();
    block(&mut x, false, 6, &[0; 24]);
    x[base.len() + 4] = 34;
    for bytes in [v, w, x] {
        let (pkts, e) = read_all_packets(&open_vec(bytes).unwrap());
        assert!(pkts.is_empty());
        let e = e.unwrap();
        assert!(matches!(e.kind, CaptureErrorKind::Corrupt(_)), "{e}");
        assert_eq!(e.offset, base.len() as u64);
    }
}

/// Reads everything, checking the invariants that hold for any input.
fn check_reader(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let len = bytes.len();
    let Ok(f) = open_vec(bytes) else {
        return Ok(());
    };
    let whole = f.bytes.as_slice().as_ptr_range();
    let mut r = f.reader();
    let mut n = 0u64;
    let mut sum = 0u64;
    let mut last = r.offset();
    while let Some(p) = r.next_packet() {
        n += 1;
        // Every record or block advances by at least 12 bytes: the loop must end.
        prop_assert!(n <= len as u64 / 12 + 1);
        let off = r.offset();
        prop_assert!(off >= last && off <= len as u64);
        last = off;
        if let Ok(p) = p {
            let pr = p.data.as_ptr_range();
            prop_assert!(
                whole.start <= pr.start && pr.end <= whole.end,
                "zero-copy view"
            );
            prop_assert!(p.data.len() <= MAX_RECORD as usize);
            sum += p.data.len() as u64;
        }
    }
    prop_assert!(r.next_packet().is_none());
    prop_assert_eq!(r.stats().bytes, sum);
    Ok(())
}

fn headers() -> Vec<Vec<u8>> {
    let mut ng = Vec::new();
    shb(&mut ng, false);
    idb(&mut ng, false, 1, 0, Some(9), 0);
    let mut ng_be = Vec::new();
    shb(&mut ng_be, true);
    idb(&mut ng_be, true, 1, 0, None, 0);
    vec![
        pcap_header(false, false, 65535, 1),
        pcap_header(true, true, 65535, 1),
        pcap_header_v(false, false, 65535, 1, 2, 3),
        ng,
        ng_be,
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_reader(bytes)?;
    }

    #[test]
    fn valid_header_then_arbitrary_bytes_never_panic(
        which in 0usize..5,
        tail in proptest::collection::vec(any::<u8>(), 0..1024),
    ) {
        let mut v = headers().swap_remove(which);
        v.extend(tail);
        check_reader(v)?;
    }

    /// Whatever we write, we read back: timestamps, bytes and lengths, in every flavour.
    #[test]
    fn written_packets_read_back(
        pkts in proptest::collection::vec(
            (0u32..u32::MAX, 0u32..1_000_000, proptest::collection::vec(any::<u8>(), 0..80), 0u32..100),
            0..20,
        ),
        be in any::<bool>(),
        ng in any::<bool>(),
    ) {
        let mut v = Vec::new();
        if ng {
            shb(&mut v, be);
            idb(&mut v, be, 1, 0, None, 0);
        } else {
            v = pcap_header(be, false, 65535, 1);
        }
        let mut want = Vec::new();
        for (sec, usec, data, extra) in &pkts {
            let origlen = data.len() as u32 + extra;
            let ts = u64::from(*sec) * 1_000_000 + u64::from(*usec);
            if ng {
                epb(&mut v, be, 0, ts, origlen, data);
            } else {
                pcap_record(&mut v, be, *sec, *usec, origlen, data);
            }
            want.push((ts * 1000, 1, data.clone(), origlen));
        }
        let (got, e) = read_all_packets(&open_vec(v).unwrap());
        prop_assert!(e.is_none());
        prop_assert_eq!(got, want);
    }
}

/// LINKTYPE_* values behind each of tshark's encapsulation names found in the oracle.
fn link_types(tshark: &str) -> &'static [u32] {
    match tshark {
        "ether" => &[1],
        "rawip" => &[12, 14, 101, 228, 229],
        "ppp" => &[9],
        "null" => &[0],
        "ieee-802-11-radiotap" => &[127],
        "linux-sll" => &[113],
        "linux-sll2" => &[276],
        "ppi" => &[192],
        "fddi-swapped" => &[10],
        _ => &[],
    }
}

/// Every corpus capture opens and yields as many packets as tshark saw; files tshark found cut
/// short end in an error for us too, after the same number of packets.
#[test]
fn corpus_packet_counts_match_tshark() {
    let Some(dir) = std::env::var_os("EGRESSMAP_CORPUS") else {
        eprintln!("SKIPPED: set EGRESSMAP_CORPUS to run the corpus test");
        return;
    };
    let dir = PathBuf::from(dir);
    let oracle = std::fs::read_to_string(dir.join("oracle.jsonl")).unwrap();
    let mut checked = 0;
    let mut bad = Vec::new();
    for line in oracle.lines().filter(|l| !l.trim().is_empty()) {
        let o: serde_json::Value = serde_json::from_str(line).unwrap();
        let name = o["file"].as_str().unwrap();
        let want = o["packets"].as_u64().unwrap();
        let want_error = !o["capinfos_error"].is_null();
        let path = dir.join("pcaps").join(name);
        let (got, error) = match CaptureFile::open(&path) {
            Ok(f) => {
                let (p, e) = read_all_packets(&f);
                let format_ok = match (o["file_type"].as_str(), f.format()) {
                    (Some("pcapng"), Format::PcapNg) => true,
                    (Some("pcap"), Format::Pcap { nanos, .. }) => !nanos,
                    (Some("nsecpcap"), Format::Pcap { nanos, .. }) => nanos,
                    _ => false,
                };
                let links = link_types(o["link_type"].as_str().unwrap_or(""));
                if !format_ok || p.iter().any(|p| !links.contains(&p.1)) {
                    bad.push(format!(
                        "{name}: format {:?} / links {:?} but tshark says {} / {}",
                        f.format(),
                        p.iter()
                            .map(|p| p.1)
                            .collect::<std::collections::BTreeSet<_>>(),
                        o["file_type"],
                        o["link_type"]
                    ));
                }
                (p.len() as u64, e)
            }
            Err(e) => (0, Some(e)),
        };
        if let Some(e) = &error {
            eprintln!("{name}: {e} (tshark: {})", o["capinfos_error"]);
        }
        let cut_short = o["capinfos_error"]
            .as_str()
            .is_some_and(|s| s.contains("cut short"));
        if cut_short && error.as_ref().map(|e| &e.kind) != Some(&CaptureErrorKind::Truncated) {
            bad.push(format!("{name}: tshark says cut short, we say {error:?}"));
        }
        if got != want || error.is_some() != want_error {
            bad.push(format!(
                "{name}: {got} packets (tshark {want}), error {:?} (tshark error: {want_error})",
                error.map(|e| e.to_string())
            ));
        }
        checked += 1;
    }
    eprintln!("{checked} corpus files checked");
    assert!(checked > 0);
    assert!(bad.is_empty(), "differences:\n{}", bad.join("\n"));
}

/// `data` xz-compressed (preset 0: small and quick).
fn xz(data: &[u8]) -> Vec<u8> {
    let opts = lzma_rust2::XzOptions::with_preset(0);
    let mut w = lzma_rust2::XzWriter::new(Vec::new(), opts).expect("xz");
    std::io::Write::write_all(&mut w, data).expect("xz");
    w.finish().expect("xz")
}

/// Everything `decompressing` yields from `data` before its first error, and that error.
fn drain(data: &[u8]) -> (Vec<u8>, Option<std::io::Error>) {
    let mut r = decompressing(data, Compression::detect(data)).expect("decoder");
    let (mut out, mut buf) = (Vec::new(), vec![0u8; 1 << 20]);
    loop {
        match r.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) => {
                // Asked again after an error: the same error, no panic and no more data.
                let again = r.read(&mut buf).map_err(|e| e.kind());
                assert_eq!(again.err(), Some(e.kind()));
                return (out, Some(e));
            }
        }
    }
}

/// xz is detected from its 6-byte magic and decoded; cut anywhere or with any byte flipped it
/// after its magic, it yields a prefix of the data and an error, never a panic or wrong bytes.
#[test]
fn xz_decodes_and_fails_cleanly_when_cut_or_corrupt() {
    let data: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 & 0x3f)
        .collect();
    let z = xz(&data);
    assert_eq!(Compression::detect(&z), Some(Compression::Xz));
    assert_eq!(Compression::detect(z.get(..5).unwrap_or_default()), None);
    let (out, e) = drain(&z);
    assert!(e.is_none(), "{e:?}");
    assert!(out == data);
    let step = (z.len() / 60).max(1);
    for cut in (MAGIC_LEN..z.len()).step_by(step) {
        let (out, e) = drain(z.get(..cut).unwrap_or_default());
        assert!(e.is_some(), "cut at {cut}: no error");
        assert!(data.starts_with(&out), "cut at {cut}: not a prefix");
    }
    let mut seed = 0x9e37_79b9_u32;
    for _ in 0..200 {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let mut bad = z.clone();
        let at = MAGIC_LEN + (seed as usize >> 4) % (bad.len() - MAGIC_LEN);
        if let Some(b) = bad.get_mut(at) {
            *b ^= 1 << (seed & 7);
        }
        // Integrity checks (block CRC64, index) catch what the decoder does not: the data
        // stays a prefix or an error comes.
        let (out, e) = drain(&bad);
        assert!(e.is_some() || out == data, "flip at {at}");
    }
}

/// `data` zstd-compressed by ruzstd's encoder (about `zstd -1`; a content checksum per frame).
fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

/// A skippable frame (magic `0x184D2A5?`, little-endian length, content), as the seekable
/// format's index or a metadata writer puts between zstd frames.
fn skippable(content: &[u8]) -> Vec<u8> {
    let mut v = 0x184D_2A53_u32.to_le_bytes().to_vec();
    v.extend((content.len() as u32).to_le_bytes());
    v.extend(content);
    v
}

/// zstd: several frames with skippable frames between them are one stream, also read a few
/// bytes at a time; cut anywhere or with any byte flipped after its magic, it yields a prefix
/// of the data and an error (the content checksum catches what decoding does not), never a
/// panic or wrong bytes. A frame declaring a window over [`ZSTD_MAX_WINDOW`] is refused.
#[test]
fn zstd_frames_decode_and_fail_cleanly_when_cut_or_corrupt() {
    let data: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 & 0x3f)
        .collect();
    let (a, b) = data.split_at(100_000);
    let mut z = skippable(b"index");
    z.extend(zstd(a));
    z.extend(skippable(&[0xff; 70_000]));
    z.extend(zstd(b));
    z.extend(skippable(b""));
    assert_eq!(
        Compression::detect(&z),
        Some(Compression::Zstd),
        "skippable frame first"
    );
    let one = zstd(&data);
    assert_eq!(Compression::detect(&one), Some(Compression::Zstd));
    assert_eq!(drain(&one).0, data);
    let read = |z: &[u8], step: usize| {
        let mut out = Vec::new();
        let r = decompressing(Trickle { data: z, step }, Some(Compression::Zstd))
            .and_then(|mut r| r.read_to_end(&mut out));
        (out, r.err())
    };
    for step in [1 << 20, 7] {
        let (out, e) = read(&z, step);
        assert!(e.is_none(), "{e:?}");
        assert!(out == data, "step {step}");
    }
    let step = (z.len() / 80).max(1);
    for cut in (1..z.len()).step_by(step) {
        let (out, e) = read(z.get(..cut).unwrap_or_default(), 1 << 20);
        assert!(e.is_some(), "cut at {cut}: no error");
        assert!(data.starts_with(&out), "cut at {cut}: not a prefix");
    }
    let (_, e) = read(&one[..one.len() - 1], 1 << 20);
    assert!(
        e.is_some_and(|e| e.to_string().contains("ends early (the file is cut short)")),
        "cut in the checksum"
    );
    let mut seed = 0x9e37_79b9_u32;
    for _ in 0..200 {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let mut bad = one.clone();
        let at = ZSTD_MAGIC.len() + (seed as usize >> 4) % (bad.len() - ZSTD_MAGIC.len());
        if let Some(b) = bad.get_mut(at) {
            *b ^= 1 << (seed & 7);
        }
        let (out, e) = drain(&bad);
        assert!(e.is_some() || out == data, "flip at {at}");
        assert!(data.starts_with(&out) || e.is_some(), "flip at {at}");
    }
    // ruzstd writes no single-segment flag: byte 5 is the window descriptor (exponent << 3 |
    // mantissa: 2^(10 + exponent) plus mantissa eighths). 128 MiB reads; 144 MiB and 2 TiB
    // are refused before the decoder allocates them.
    assert_eq!(one[4] & 0x23, 0, "no single segment, no dictionary");
    for (desc, ok) in [(0x88u8, true), (0x89, false), (0xf8, false)] {
        let mut big = one.clone();
        big[5] = desc;
        let (out, e) = drain(&big);
        if ok {
            assert!(e.is_none() && out == data, "window {desc:#x}: {e:?}");
        } else {
            let e = e.map(|e| (e.kind(), e.to_string()));
            let (kind, msg) = e.unwrap_or((std::io::ErrorKind::Other, String::new()));
            assert_eq!(kind, std::io::ErrorKind::OutOfMemory, "window {desc:#x}");
            assert!(
                msg.contains("over the 128 MiB limit") && msg.contains("refused before allocating"),
                "window {desc:#x}: {msg}"
            );
            assert!(out.is_empty());
        }
    }
}

/// Hands out at most `step` bytes per read, as a pipe does.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        let (a, b) = self.data.split_at(n);
        buf[..n].copy_from_slice(a);
        self.data = b;
        Ok(n)
    }
}

/// The packets, stats and error of the stream reader over `data` read `step` bytes at a time.
fn stream_all(data: &[u8], step: usize) -> (Vec<Owned>, CaptureStats, Option<CaptureError>) {
    let src = Trickle { data, step };
    let mut r = match stream::StreamReader::new(Path::new("test.pcap"), Box::new(src), "reading") {
        Ok(r) => r,
        Err(e) => return (Vec::new(), CaptureStats::default(), Some(e)),
    };
    let mut out = Vec::new();
    let mut error = None;
    while let Some(p) = r.next_packet() {
        match p {
            Ok(p) => out.push((p.ts, p.link.0, p.data.to_vec(), p.orig_len)),
            Err(e) => error = Some(e),
        }
    }
    assert!(r.next_packet().is_none(), "reader must stay finished");
    (out, r.stats(), error)
}

/// A block just over [`MAX_BLOCK`] (a name-resolution block, type 4), with a valid trailer.
fn oversize(v: &mut Vec<u8>, btype: u32) -> (u64, u32) {
    let at = v.len() as u64;
    let body = vec![0x5a; MAX_BLOCK as usize];
    block(v, false, btype, &body);
    (at, MAX_BLOCK + 12)
}

/// A pcapng block over the 16 MiB bound is skipped, counted and reported (record, offset,
/// length, type) by the mapped and the stream reader alike, with every packet before and after
/// it read; one that runs past the end, or has a wrong trailer, is corrupt at its offset in
/// both; an oversize interface description cannot be skipped (later packets depend on it).
#[test]
fn pcapng_oversize_blocks_are_skipped_counted_and_reported_alike_mapped_and_streamed() {
    let mut v = Vec::new();
    shb(&mut v, false);
    idb(&mut v, false, 1, 0, None, 0);
    for i in 0..5u8 {
        epb(&mut v, false, 0, u64::from(i) * S, 60, &[i; 60]);
    }
    let (at, len) = oversize(&mut v, 4);
    for i in 5..9u8 {
        epb(&mut v, false, 0, u64::from(i) * S, 60, &[i; 60]);
    }
    let (at2, _) = oversize(&mut v, 6);
    epb(&mut v, false, 0, 9 * S, 60, &[9; 60]);
    let f = open_vec(v.clone()).unwrap();
    let (pkts, e) = read_all_packets(&f);
    assert!(e.is_none(), "{e:?}");
    assert_eq!(pkts.len(), 10, "every packet before and after");
    let st = stats_of(&f);
    assert_eq!(st.oversize_blocks, 2);
    let first = super::super::Oversize {
        record: 6,
        offset: at,
        len,
        btype: 4,
    };
    assert_eq!(st.first_oversize, Some(first));
    assert!(at2 > at);
    // Pipe-sized reads (64 KiB), odd-sized ones, and whole 1 MiB reads.
    for step in [1 << 20, 65_536, 65_521] {
        let (sp, sst, se) = stream_all(&v, step);
        assert!(se.is_none(), "{se:?}");
        assert_eq!(sp, pkts, "step {step}");
        assert_eq!(
            (sst.records, sst.oversize_blocks, sst.first_oversize),
            (st.records, 2, Some(first)),
            "step {step}"
        );
    }

    // Cut inside the oversize block, or its trailer wrong: corrupt at the block, both readers,
    // the five packets before it read.
    let mut cut = v[..at as usize + (len as usize) / 2].to_vec();
    let mut bad = v.clone();
    bad[at as usize + len as usize - 1] ^= 1;
    for (what, data) in [("cut", &mut cut), ("trailer", &mut bad)] {
        let (pkts, e) = read_all_packets(&open_vec(data.clone()).unwrap());
        let e = e.unwrap();
        assert_eq!(pkts.len(), 5, "{what}");
        assert!(
            matches!(e.kind, CaptureErrorKind::Corrupt(_)),
            "{what}: {e}"
        );
        assert_eq!((e.record, e.offset), (6, at), "{what}");
        let (sp, _, se) = stream_all(data, 65_521);
        let se = se.unwrap();
        assert_eq!(sp, pkts, "{what}");
        assert_eq!((se.record, se.offset, se.kind), (6, at, e.kind), "{what}");
    }

    // An oversize interface description: corrupt, not skipped.
    let mut w = Vec::new();
    shb(&mut w, false);
    let at = w.len() as u64;
    oversize(&mut w, 1);
    epb(&mut w, false, 0, S, 60, &[1; 60]);
    let (pkts, e) = read_all_packets(&open_vec(w.clone()).unwrap());
    let e = e.unwrap();
    assert!(pkts.is_empty());
    assert!(e.to_string().contains("interface description block"), "{e}");
    assert_eq!((e.record, e.offset), (1, at));
    let (_, _, se) = stream_all(&w, 65_521);
    let se = se.unwrap();
    assert_eq!((se.record, se.offset, se.kind), (1, at, e.kind));
}
