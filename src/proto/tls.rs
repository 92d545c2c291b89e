//! TLS ClientHello: the SNI, ALPN and ECH signals a client sends in clear before encryption.
//!
//! The input is the client's reassembled TCP byte stream from its first byte. A ClientHello may
//! be fragmented over several TLS records (large post-quantum key shares, middleboxes), so the
//! handshake fragments are concatenated before parsing; the common single-record case borrows
//! the record body and copies nothing.
//!
//! Only a few fields are read (legacy_version, the extensions block, and in it SNI, ALPN,
//! supported_versions and the ECH/ESNI code points), each length checked against the bytes left;
//! every other field is skipped by its length. The extension list is walked one extension at a
//! time, so one malformed body (e.g. a non-empty encrypt_then_mac) hides nothing after it.
//! (A general TLS parser crate was used before: it cost about 35 s CPU of proc-macro and
//! parser-combinator build per build profile for these three fields; see README: Dependencies.)

use super::{is_ip_literal, normalize_host, Parse};

/// Most client bytes examined for one ClientHello. Real ones are under 4 KiB even with
/// post-quantum key shares; the cap bounds work and the copy of fragmented handshakes.
pub const MAX_WALK: usize = 64 * 1024;

/// Largest record length accepted: 2^14 plaintext plus the expansion allowance of RFC 5246.
const MAX_RECORD: usize = (1 << 14) + 2048;

const CONTENT_HANDSHAKE: u8 = 22;
const HS_CLIENT_HELLO: u8 = 1;
const EXT_SNI: u16 = 0;
const EXT_ALPN: u16 = 16;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
/// encrypted_client_hello (draft-ietf-tls-esni, the value deployed by browsers).
const EXT_ECH: u16 = 0xfe0d;
/// encrypted_server_name of the older ESNI drafts (Firefox 2018-2020): same meaning for us.
const EXT_ESNI: u16 = 0xffce;
const ALPN_MAX: usize = 16;

/// Client-facing ECH public names of the services that deploy ECH, known without seeing their
/// HTTPS records (a client may have cached the record before the capture began). An SNI in this
/// list with the ECH extension is an outer name. Kept short on purpose: anything else needs an
/// HTTPS/SVCB record in the capture as evidence (documented in the README).
pub const KNOWN_ECH_PUBLIC_NAMES: &[&str] = &["cloudflare-ech.com", "encryptedsni.com"];

/// Whether `sni` (normalized) is a known ECH public name.
pub fn is_known_ech_public_name(sni: &str) -> bool {
    KNOWN_ECH_PUBLIC_NAMES.contains(&sni)
}

/// What a ClientHello says about where the client is going.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// Normalized server name; `None` when absent or an IP literal.
    pub sni: Option<String>,
    /// ECH (0xfe0d) or its ESNI predecessor (0xffce) offered. Alone this says nothing about the
    /// SNI: browsers send GREASE ECH (a random extension of the same shape) whenever they have
    /// no ECH config, and then the SNI is the real name. Whether it is an outer name is decided
    /// from evidence (see [`KNOWN_ECH_PUBLIC_NAMES`] and `engine`).
    pub ech: bool,
    /// Offered ALPN protocol ids, in order (lossy UTF-8, at most 16).
    pub alpn: Vec<String>,
    /// The version field of the ClientHello body (0x0303 for TLS 1.2 and 1.3).
    pub legacy_version: u16,
    /// supported_versions lists TLS 1.3 (or a 1.3 draft).
    pub supported_versions_tls13: bool,
}

/// Whether `stream` could begin a TLS handshake from a client: a handshake record of version
/// 3.0-3.4 carrying a ClientHello. Shorter prefixes that agree so far (including empty) pass.
pub fn probe(stream: &[u8]) -> bool {
    let at = |i: usize, ok: fn(u8) -> bool| stream.get(i).is_none_or(|&b| ok(b));
    at(0, |b| b == CONTENT_HANDSHAKE)
        && at(1, |b| b == 3)
        && at(2, |b| b <= 4)
        && at(5, |b| b == HS_CLIENT_HELLO)
}

/// Parse the ClientHello at the start of a client's TCP stream.
///
/// `NeedMore` while the records seen so far are consistent but the handshake message is not yet
/// complete; `NotThis` for non-TLS bytes, a malformed ClientHello, or nothing complete within
/// [`MAX_WALK`] bytes.
pub fn parse_client_hello(stream: &[u8]) -> Parse<ClientHello> {
    if !probe(stream) {
        return Parse::NotThis;
    }
    let over_cap = stream.len() > MAX_WALK;
    let stream = stream.get(..MAX_WALK).unwrap_or(stream);

    // Handshake bytes are borrowed from the first record; they are copied into `joined` only
    // when the message continues in a later record.
    let mut first: &[u8] = &[];
    let mut joined: Vec<u8> = Vec::new();
    let mut records = 0usize;
    let mut pos = 0usize;
    while let Some(hdr) = stream.get(pos..pos + 5) {
        if hdr[0] != CONTENT_HANDSHAKE || hdr[1] != 3 || hdr[2] > 4 {
            return Parse::NotThis;
        }
        let len = usize::from(u16::from_be_bytes([hdr[3], hdr[4]]));
        if len > MAX_RECORD {
            return Parse::NotThis;
        }
        let start = pos + 5;
        let end = start + len;
        // A record still arriving contributes the bytes it has so far.
        let body = stream.get(start..end.min(stream.len())).unwrap_or(&[]);
        records += 1;
        if records == 1 {
            first = body;
        } else {
            if joined.is_empty() {
                joined.extend_from_slice(first);
            }
            joined.extend_from_slice(body);
        }
        let hs: &[u8] = if records == 1 { first } else { &joined };
        match message_len(hs) {
            MsgLen::Complete(n) => {
                return match hs.get(..n).and_then(parse_client_hello_message) {
                    Some(ch) => Parse::Done(ch),
                    None => Parse::NotThis,
                }
            }
            MsgLen::Invalid => return Parse::NotThis,
            MsgLen::Incomplete => {}
        }
        if end > stream.len() {
            break;
        }
        pos = end;
    }
    if over_cap {
        Parse::NotThis
    } else {
        Parse::NeedMore
    }
}

enum MsgLen {
    Complete(usize),
    Incomplete,
    Invalid,
}

/// Length of the handshake message at the start of `hs`, once all of it is present.
fn message_len(hs: &[u8]) -> MsgLen {
    match hs {
        [] => MsgLen::Incomplete,
        [t, ..] if *t != HS_CLIENT_HELLO => MsgLen::Invalid,
        [_, a, b, c, ..] => {
            let n = 4 + (usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c));
            if n > MAX_WALK {
                MsgLen::Invalid
            } else if hs.len() >= n {
                MsgLen::Complete(n)
            } else {
                MsgLen::Incomplete
            }
        }
        _ => MsgLen::Incomplete,
    }
}

/// Parse one complete handshake message (type, 24-bit length, ClientHello body), e.g. as carried
/// in QUIC CRYPTO frames. Bytes after the message are ignored.
pub fn parse_client_hello_message(msg: &[u8]) -> Option<ClientHello> {
    let (&ty, rest) = msg.split_first()?;
    if ty != HS_CLIENT_HELLO {
        return None;
    }
    let l = rest.get(..3)?;
    let len = usize::from(l[0]) << 16 | usize::from(l[1]) << 8 | usize::from(l[2]);
    let body = rest.get(3..3 + len)?;
    let (legacy_version, extensions) = hello_body(body)?;
    let mut out = ClientHello {
        legacy_version,
        ..ClientHello::default()
    };
    if let Some(ext) = extensions {
        walk_extensions(ext, &mut out);
    }
    Some(out)
}

/// `n` bytes off the front of `b`, and the rest.
fn take(b: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    b.split_at_checked(n)
}

/// An opaque vector with a one-byte length (`opaque x<0..2^8-1>`), and the bytes after it.
fn u8_prefixed(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&n, rest) = b.split_first()?;
    take(rest, usize::from(n))
}

/// An opaque vector with a two-byte length (`opaque x<0..2^16-1>`), and the bytes after it.
fn u16_prefixed(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (n, rest) = b.split_first_chunk::<2>()?;
    take(rest, usize::from(u16::from_be_bytes(*n)))
}

/// legacy_version and the extensions block of a ClientHello body (RFC 8446 4.1.2), or `None`
/// when a fixed field is truncated, the session id is longer than 32 bytes or the cipher suite
/// list has an odd length. A missing or truncated extensions block reads as no extensions (an
/// SSL 3.0-style hello has none); bytes after the block are ignored.
fn hello_body(body: &[u8]) -> Option<(u16, Option<&[u8]>)> {
    let (version, rest) = body.split_first_chunk::<2>()?;
    let (_random, rest) = take(rest, 32)?;
    let (session_id, rest) = u8_prefixed(rest)?;
    if session_id.len() > 32 {
        return None;
    }
    let (cipher_suites, rest) = u16_prefixed(rest)?;
    if cipher_suites.len() % 2 != 0 {
        return None;
    }
    let (_compression_methods, rest) = u8_prefixed(rest)?;
    let extensions = u16_prefixed(rest).map(|(ext, _)| ext);
    Some((u16::from_be_bytes(*version), extensions))
}

/// The first host_name (type 0) entry of a server_name extension body (RFC 6066 3). Entries of
/// other types before it are skipped; entries are read until one is truncated, and bytes after
/// the list are ignored. `None` for an empty or malformed body.
fn sni_host_name(data: &[u8]) -> Option<&[u8]> {
    let (mut list, _) = u16_prefixed(data)?;
    while let Some((&kind, rest)) = list.split_first() {
        let (name, rest) = u16_prefixed(rest)?;
        if kind == 0 {
            return Some(name);
        }
        list = rest;
    }
    None
}

/// The protocol ids of an ALPN extension body (RFC 7301 3.1), in order, up to the first truncated
/// entry (empty ids included, as sent). `None` when the list length is missing or overlong.
fn alpn_ids(data: &[u8]) -> Option<impl Iterator<Item = &[u8]>> {
    let (mut list, _) = u16_prefixed(data)?;
    Some(std::iter::from_fn(move || {
        let (id, rest) = u8_prefixed(list)?;
        list = rest;
        Some(id)
    }))
}

/// Walk the extension list, reading only what we need. Unknown and GREASE extensions are skipped
/// by length; a truncated list keeps what was read before the truncation.
fn walk_extensions(mut rest: &[u8], out: &mut ClientHello) {
    let mut seen_sni = false;
    let mut seen_alpn = false;
    while let [t0, t1, l0, l1, tail @ ..] = rest {
        let ty = u16::from_be_bytes([*t0, *t1]);
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        let Some((data, after)) = take(tail, len) else {
            break;
        };
        rest = after;
        match ty {
            EXT_SNI if !seen_sni => {
                seen_sni = true;
                out.sni = sni_host_name(data)
                    .and_then(normalize_host)
                    .filter(|h| !is_ip_literal(h));
            }
            EXT_ALPN if !seen_alpn => {
                seen_alpn = true;
                if let Some(ids) = alpn_ids(data) {
                    out.alpn = ids
                        .take(ALPN_MAX)
                        .map(|id| String::from_utf8_lossy(id).into_owned())
                        .collect();
                }
            }
            EXT_SUPPORTED_VERSIONS => {
                // ClientHello form: u8 byte length, then u16 versions.
                if let Some((&n, list)) = data.split_first() {
                    let list = list.get(..usize::from(n)).unwrap_or(list);
                    out.supported_versions_tls13 |= list.chunks_exact(2).any(|v| {
                        let v = u16::from_be_bytes([v[0], v[1]]);
                        v == 0x0304 || v >> 8 == 0x7f
                    });
                }
            }
            EXT_ECH | EXT_ESNI => out.ech = true,
            _ => {}
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn ext(ty: u16, data: &[u8]) -> Vec<u8> {
        let mut v = ty.to_be_bytes().to_vec();
        v.extend_from_slice(&(data.len() as u16).to_be_bytes());
        v.extend_from_slice(data);
        v
    }

    pub(crate) fn sni_ext(name: &[u8]) -> Vec<u8> {
        let mut entry = vec![0u8];
        entry.extend_from_slice(&(name.len() as u16).to_be_bytes());
        entry.extend_from_slice(name);
        let mut list = (entry.len() as u16).to_be_bytes().to_vec();
        list.extend_from_slice(&entry);
        ext(0, &list)
    }

    fn alpn_ext(ids: &[&str]) -> Vec<u8> {
        let mut inner = Vec::new();
        for id in ids {
            inner.push(id.len() as u8);
            inner.extend_from_slice(id.as_bytes());
        }
        let mut data = (inner.len() as u16).to_be_bytes().to_vec();
        data.extend_from_slice(&inner);
        ext(16, &data)
    }

    fn versions_ext(vs: &[u16]) -> Vec<u8> {
        let mut data = vec![(vs.len() * 2) as u8];
        for v in vs {
            data.extend_from_slice(&v.to_be_bytes());
        }
        ext(43, &data)
    }

    /// key_share with (group, share length) entries; share bytes are a fill pattern.
    fn key_share_ext(shares: &[(u16, usize)]) -> Vec<u8> {
        let mut inner = Vec::new();
        for &(g, n) in shares {
            inner.extend_from_slice(&g.to_be_bytes());
            inner.extend_from_slice(&(n as u16).to_be_bytes());
            inner.extend((0..n).map(|i| i as u8));
        }
        let mut data = (inner.len() as u16).to_be_bytes().to_vec();
        data.extend_from_slice(&inner);
        ext(51, &data)
    }

    /// A ClientHello handshake message (type 1 + 24-bit length + body) with the given extensions.
    pub(crate) fn client_hello(exts: &[Vec<u8>], n_ciphers: usize) -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend([0x5a; 32]); // random
        body.push(32);
        body.extend([0x11; 32]); // session id
        body.extend_from_slice(&((n_ciphers * 2) as u16).to_be_bytes());
        for i in 0..n_ciphers {
            body.extend_from_slice(&(i as u16 ^ 0x1301).to_be_bytes());
        }
        body.extend([1, 0]); // compression: null
        let all: Vec<u8> = exts.concat();
        body.extend_from_slice(&(all.len() as u16).to_be_bytes());
        body.extend_from_slice(&all);
        let mut msg = vec![1];
        msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        msg.extend_from_slice(&body);
        msg
    }

    /// Wrap a handshake message in records whose fragments have the given sizes (the last
    /// fragment takes the rest).
    pub(crate) fn records(msg: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = msg;
        for &s in sizes.iter().chain(std::iter::once(&usize::MAX)) {
            if rest.is_empty() {
                break;
            }
            let (frag, tail) = rest.split_at(s.min(rest.len()));
            out.extend([0x16, 0x03, 0x01]);
            out.extend_from_slice(&(frag.len() as u16).to_be_bytes());
            out.extend_from_slice(frag);
            rest = tail;
        }
        out
    }

    fn typical() -> Vec<u8> {
        client_hello(
            &[
                ext(0x0a0a, &[]),
                sni_ext(b"Www.Example.COM."),
                ext(23, &[]),
                alpn_ext(&["h2", "http/1.1"]),
                versions_ext(&[0x3a3a, 0x0304, 0x0303]),
                key_share_ext(&[(0x001d, 32)]),
                ext(0x1a1a, &[0]),
            ],
            16,
        )
    }

    fn done(stream: &[u8]) -> ClientHello {
        match parse_client_hello(stream) {
            Parse::Done(ch) => ch,
            other => panic!("expected Done, got {other:?}"),
        }
    }

    #[test]
    fn typical_client_hello() {
        let ch = done(&records(&typical(), &[]));
        assert_eq!(ch.sni.as_deref(), Some("www.example.com"));
        assert_eq!(ch.alpn, vec!["h2".to_string(), "http/1.1".to_string()]);
        assert_eq!(ch.legacy_version, 0x0303);
        assert!(ch.supported_versions_tls13);
        assert!(!ch.ech);
        assert_eq!(parse_client_hello_message(&typical()), Some(ch));
    }

    #[test]
    fn without_sni_and_tls12_only() {
        let msg = client_hello(&[versions_ext(&[0x0303]), ext(11, &[1, 0])], 4);
        let ch = done(&records(&msg, &[]));
        assert_eq!(ch.sni, None);
        assert!(!ch.supported_versions_tls13);
        assert!(ch.alpn.is_empty());
        // No extensions block at all (SSL 3.0-style hello).
        let mut bare = client_hello(&[], 2);
        bare.truncate(bare.len() - 2);
        let l = (bare.len() - 4) as u32;
        bare[1..4].copy_from_slice(&l.to_be_bytes()[1..]);
        assert_eq!(done(&records(&bare, &[])).sni, None);
    }

    #[test]
    fn ech_with_outer_sni() {
        let msg = client_hello(
            &[
                sni_ext(b"public.example.net"),
                ext(0xfe0d, &[0, 0, 1, 0, 1, 0x42, 0, 0]),
                versions_ext(&[0x0304]),
            ],
            3,
        );
        let ch = done(&records(&msg, &[]));
        assert!(ch.ech);
        assert_eq!(ch.sni.as_deref(), Some("public.example.net"));
        // ESNI (ndpi__encrypted_sni): no SNI at all, the name is hidden.
        let msg = client_hello(&[ext(0xffce, &[0x13, 0x01, 0, 0x1d, 0, 0])], 3);
        let ch = done(&records(&msg, &[]));
        assert!(ch.ech);
        assert_eq!(ch.sni, None);
    }

    #[test]
    fn ip_literal_sni_is_none() {
        let msg = client_hello(&[sni_ext(b"192.0.2.7")], 1);
        assert_eq!(done(&records(&msg, &[])).sni, None);
        let msg = client_hello(&[sni_ext(b"2001:db8::1")], 1);
        assert_eq!(done(&records(&msg, &[])).sni, None);
    }

    #[test]
    fn malformed_extension_before_sni_does_not_hide_it() {
        // encrypt_then_mac must be empty; a strict list parser would stop here and lose the SNI.
        let msg = client_hello(&[ext(22, &[1, 2, 3]), sni_ext(b"later.example")], 2);
        assert_eq!(
            done(&records(&msg, &[])).sni.as_deref(),
            Some("later.example")
        );
    }

    #[test]
    fn split_across_two_and_three_records() {
        let msg = typical();
        let one = done(&records(&msg, &[]));
        assert_eq!(done(&records(&msg, &[50])), one);
        assert_eq!(done(&records(&msg, &[1, 100])), one);
        assert_eq!(done(&records(&msg, &[3, 2])), one);
    }

    #[test]
    fn post_quantum_key_share() {
        let msg = client_hello(
            &[
                ext(0x2a2a, &[]),
                sni_ext(b"pq.example.org"),
                key_share_ext(&[(0x4a4a, 1), (0x11ec, 1216), (0x001d, 32)]),
                versions_ext(&[0x0304]),
                ext(21, &[0; 200]),
            ],
            16,
        );
        assert!(msg.len() > 1600, "{}", msg.len());
        let ch = done(&records(&msg, &[]));
        assert_eq!(ch.sni.as_deref(), Some("pq.example.org"));
        assert_eq!(done(&records(&msg, &[1200])), ch);
    }

    #[test]
    fn lots_of_cipher_suites() {
        let msg = client_hello(&[sni_ext(b"many.example")], 8000);
        assert!(msg.len() > MAX_RECORD / 2 + 1000);
        let stream = records(&msg, &[MAX_RECORD / 2]);
        assert_eq!(done(&stream).sni.as_deref(), Some("many.example"));
    }

    #[test]
    fn every_prefix_needs_more() {
        for sizes in [&[][..], &[50], &[3, 2]] {
            let stream = records(&typical(), sizes);
            for n in 0..stream.len() {
                assert_eq!(parse_client_hello(&stream[..n]), Parse::NeedMore, "len {n}");
            }
        }
    }

    #[test]
    fn not_tls() {
        assert_eq!(parse_client_hello(b"GET / HTTP/1.1\r\n"), Parse::NotThis);
        assert!(!probe(b"\x17\x03\x03"));
        assert!(!probe(b"\x16\x03\x05"));
        // ServerHello instead of ClientHello.
        assert!(!probe(&[0x16, 3, 3, 0, 4, 2]));
        // A non-handshake record before the message is complete.
        let mut s = records(&typical(), &[10]);
        s[15] = 0x17;
        assert_eq!(parse_client_hello(&s), Parse::NotThis);
        // Message length beyond the walk cap.
        assert_eq!(
            parse_client_hello(&[0x16, 3, 1, 0, 4, 1, 2, 0, 0]),
            Parse::NotThis
        );
        // Complete but malformed body.
        assert_eq!(
            parse_client_hello(&[0x16, 3, 1, 0, 5, 1, 0, 0, 1, 3]),
            Parse::NotThis
        );
        assert!(probe(b""));
        assert!(probe(&[0x16, 3]));
    }

    #[test]
    fn gives_up_past_the_cap() {
        // Endless one-byte records never complete a large message.
        let msg = client_hello(&[ext(21, &vec![0; 40_000])], 1);
        let sizes = vec![1; 30_000];
        let stream = records(&msg, &sizes);
        assert!(stream.len() > MAX_WALK);
        assert_eq!(parse_client_hello(&stream), Parse::NotThis);
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_client_hello(&data);
            let _ = parse_client_hello_message(&data);
            let mut tls = vec![0x16, 3, 1];
            tls.extend_from_slice(&data);
            let _ = parse_client_hello(&tls);
            let mut hs = vec![0x16, 3, 1, 2, 0, 1, 0, 1, 0xfc, 3, 3];
            hs.extend_from_slice(&data);
            let _ = parse_client_hello(&hs);
        }

        #[test]
        fn prefixes_need_more_and_whole_is_done(
            name in "[a-z0-9-]{1,20}(\\.[a-z0-9-]{1,20}){0,3}",
            pad in 0usize..300,
            splits in proptest::collection::vec(1usize..400, 0..4),
        ) {
            prop_assume!(!is_ip_literal(&name));
            let msg = client_hello(&[sni_ext(name.as_bytes()), ext(21, &vec![0; pad])], 8);
            let stream = records(&msg, &splits);
            let whole = parse_client_hello(&stream);
            prop_assert_eq!(whole.clone().done().and_then(|c| c.sni), Some(name));
            for n in 0..stream.len() {
                prop_assert_eq!(parse_client_hello(&stream[..n]), Parse::NeedMore);
            }
            // Bytes after the message (e.g. a pipelined record) do not change the result.
            let mut longer = stream.clone();
            longer.extend_from_slice(&[0x14, 3, 3, 0, 1, 1]);
            prop_assert_eq!(parse_client_hello(&longer), whole);
        }

        #[test]
        fn field_parsers_stay_inside_their_input(
            data in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let inside = |part: &[u8]| {
                let (lo, hi) = (data.as_ptr() as usize, data.as_ptr() as usize + data.len());
                let (a, b) = (part.as_ptr() as usize, part.as_ptr() as usize + part.len());
                part.is_empty() || (lo <= a && b <= hi)
            };
            if let Some(name) = sni_host_name(&data) {
                prop_assert!(inside(name));
            }
            if let Some(ids) = alpn_ids(&data) {
                let mut total = 0;
                for id in ids {
                    prop_assert!(inside(id));
                    total += 1 + id.len();
                }
                prop_assert!(total + 2 <= data.len());
            }
            if let Some((_, Some(ext))) = hello_body(&data) {
                prop_assert!(inside(ext));
            }
        }

        #[test]
        fn generated_hellos_round_trip(g in generated_hello()) {
            prop_assert_eq!(parse_client_hello_message(&g.msg), Some(g.expected.clone()));
            let stream = records(&g.msg, &[]);
            prop_assert_eq!(parse_client_hello(&stream), Parse::Done(g.expected.clone()));
            // Cut anywhere: an incomplete message is no ClientHello.
            for n in 0..g.msg.len() {
                prop_assert_eq!(parse_client_hello_message(&g.msg[..n]), None);
            }
            // Cut anywhere with the message length patched to match: the extensions block is the
            // last field, so no name or ALPN survives, and never a wrong one.
            for n in 4..g.msg.len() {
                let mut cut = g.msg[..n].to_vec();
                cut[1..4].copy_from_slice(&((n - 4) as u32).to_be_bytes()[1..]);
                if let Some(ch) = parse_client_hello_message(&cut) {
                    prop_assert_eq!(ch.sni, None);
                    prop_assert!(ch.alpn.is_empty());
                    prop_assert_eq!(ch.legacy_version, g.expected.legacy_version);
                }
            }
        }
    }

    /// A ClientHello message from random field sizes, SNI entries, ALPN ids and extension order,
    /// with what parsing it must give.
    #[derive(Debug, Clone)]
    struct Generated {
        msg: Vec<u8>,
        expected: ClientHello,
    }

    fn generated_hello() -> impl Strategy<Value = Generated> {
        let name = "[a-z0-9-]{1,20}(\\.[a-z0-9-]{1,20}){0,3}"
            .prop_filter("not an IP literal", |n| !is_ip_literal(n));
        let other_entries =
            proptest::collection::vec((1u8.., proptest::collection::vec(any::<u8>(), 0..12)), 0..3);
        let alpn = proptest::collection::vec("[a-z0-9./-]{0,12}", 0..20);
        // Extensions we skip by length: GREASE, padding, encrypt_then_mac, key_share, ...
        let extra = proptest::collection::vec(
            (
                prop::sample::select(vec![0x0a0a_u16, 0x1a1a, 10, 11, 13, 21, 22, 23, 35, 45, 51]),
                proptest::collection::vec(any::<u8>(), 0..40),
            ),
            0..6,
        );
        (
            (any::<u16>(), 0usize..=32, 0usize..40, 1usize..4),
            proptest::option::of((name, other_entries)),
            proptest::option::of(alpn),
            proptest::option::of(proptest::collection::vec(any::<u16>(), 0..6)),
            (any::<bool>(), any::<bool>()),
            extra,
        )
            .prop_flat_map(|(fixed, sni, alpn, versions, (ech, esni), extra)| {
                let mut exts: Vec<Vec<u8>> = Vec::new();
                let mut expected = ClientHello {
                    legacy_version: fixed.0,
                    ech: ech || esni,
                    ..ClientHello::default()
                };
                if let Some((name, others)) = &sni {
                    let mut list = Vec::new();
                    for (kind, data) in others {
                        list.push(*kind);
                        list.extend_from_slice(&(data.len() as u16).to_be_bytes());
                        list.extend_from_slice(data);
                    }
                    list.push(0);
                    list.extend_from_slice(&(name.len() as u16).to_be_bytes());
                    list.extend_from_slice(name.as_bytes());
                    let mut data = (list.len() as u16).to_be_bytes().to_vec();
                    data.extend_from_slice(&list);
                    exts.push(ext(EXT_SNI, &data));
                    expected.sni = Some(name.clone());
                }
                if let Some(ids) = &alpn {
                    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                    exts.push(alpn_ext(&ids));
                    expected.alpn = ids.iter().take(ALPN_MAX).map(|s| s.to_string()).collect();
                }
                if let Some(vs) = &versions {
                    exts.push(versions_ext(vs));
                    expected.supported_versions_tls13 =
                        vs.iter().any(|&v| v == 0x0304 || v >> 8 == 0x7f);
                }
                if ech {
                    exts.push(ext(EXT_ECH, &[0, 0, 1, 0, 1, 0x42, 0, 0]));
                }
                if esni {
                    exts.push(ext(EXT_ESNI, &[0x13, 0x01, 0, 0x1d, 0, 0]));
                }
                exts.extend(extra.iter().map(|(ty, data)| ext(*ty, data)));
                (Just((fixed, expected)), Just(exts).prop_shuffle())
            })
            .prop_map(|(((version, sid, ciphers, comps), expected), exts)| {
                let mut body = version.to_be_bytes().to_vec();
                body.extend([0x5a; 32]);
                body.push(sid as u8);
                body.extend(std::iter::repeat_n(0x11, sid));
                body.extend_from_slice(&((ciphers * 2) as u16).to_be_bytes());
                body.extend((0..ciphers * 2).map(|i| i as u8));
                body.push(comps as u8);
                body.extend(std::iter::repeat_n(0, comps));
                let all = exts.concat();
                body.extend_from_slice(&(all.len() as u16).to_be_bytes());
                body.extend_from_slice(&all);
                let mut msg = vec![HS_CLIENT_HELLO];
                msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
                msg.extend_from_slice(&body);
                Generated { msg, expected }
            })
    }
}
