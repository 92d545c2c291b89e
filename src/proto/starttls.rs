//! STARTTLS-style upgrades: a cleartext exchange, then TLS on the same connection. Each parser
//! finds where the client's upgrade request ends in the client's stream; the registry then looks
//! for the ClientHello right after it (the client sends it once the server agreed, and the
//! server's reply is in the other direction).
//!
//! Line-based protocols (SMTP, POP3, IMAP, FTP) share one parser; XMPP, LDAP, PostgreSQL and ADB
//! have their own framing.

use super::registry::{Found, StreamProtocol};
use super::Parse;

/// Client lines read before an upgrade at most: a cleartext session that never upgrades is
/// given up on after this many.
const MAX_LINES: usize = 32;
/// Client bytes read before an upgrade at most.
const MAX_PREAMBLE: usize = 4096;

/// A line protocol: the commands a client opens with, and the command lines that start TLS.
pub struct LineUpgrade {
    pub name: &'static str,
    /// Lines are `tag SP command` (IMAP).
    pub tagged: bool,
    /// Commands a session may start with (first word, case-insensitive).
    pub openers: &'static [&'static [u8]],
    /// Whole command lines (case-insensitive, without the tag) that request TLS.
    pub upgrades: &'static [&'static [u8]],
}

pub static SMTP: LineUpgrade = LineUpgrade {
    name: "smtp-starttls",
    tagged: false,
    openers: &[b"EHLO", b"HELO", b"LHLO"],
    upgrades: &[b"STARTTLS"],
};

pub static POP3: LineUpgrade = LineUpgrade {
    name: "pop3-stls",
    tagged: false,
    openers: &[b"CAPA", b"STLS"],
    upgrades: &[b"STLS"],
};

pub static IMAP: LineUpgrade = LineUpgrade {
    name: "imap-starttls",
    tagged: true,
    openers: &[b"CAPABILITY", b"STARTTLS", b"ID", b"NOOP"],
    upgrades: &[b"STARTTLS"],
};

pub static FTP: LineUpgrade = LineUpgrade {
    name: "ftp-auth-tls",
    tagged: false,
    openers: &[b"AUTH", b"FEAT", b"SYST", b"OPTS"],
    upgrades: &[b"AUTH TLS", b"AUTH SSL", b"AUTH TLS-C", b"AUTH TLS-P"],
};

/// Whether `avail` (possibly cut short) starts with `word` followed by a space or line end.
fn word_prefix(avail: &[u8], word: &[u8]) -> bool {
    let n = avail.len().min(word.len());
    if !avail[..n].eq_ignore_ascii_case(&word[..n]) {
        return false;
    }
    avail
        .get(word.len())
        .is_none_or(|b| matches!(b, b' ' | b'\r' | b'\n'))
}

/// The line without its tag, for tagged protocols (`None` if there is no tag).
fn untag(line: &[u8], tagged: bool) -> Option<&[u8]> {
    if !tagged {
        return Some(line);
    }
    let sp = line.iter().position(|&b| b == b' ')?;
    let tag = &line[..sp];
    (!tag.is_empty() && tag.iter().all(u8::is_ascii_alphanumeric)).then(|| &line[sp + 1..])
}

impl StreamProtocol for LineUpgrade {
    fn name(&self) -> &'static str {
        self.name
    }

    fn probe(&self, s: &[u8]) -> bool {
        let first = s.split(|&b| b == b'\n').next().unwrap_or_default();
        let cmd = if self.tagged {
            match first.iter().position(|&b| b == b' ') {
                Some(sp) => &first[sp + 1..],
                // The tag is still arriving.
                None => return first.iter().all(u8::is_ascii_alphanumeric),
            }
        } else {
            first
        };
        self.openers.iter().any(|w| word_prefix(cmd, w))
    }

    fn parse(&self, s: &[u8]) -> Parse<Found> {
        let mut pos = 0usize;
        for _ in 0..MAX_LINES {
            let rest = s.get(pos..).unwrap_or_default();
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                let printable = rest
                    .iter()
                    .all(|b| b.is_ascii_graphic() || *b == b' ' || *b == b'\r');
                return if printable && pos + rest.len() < MAX_PREAMBLE {
                    Parse::NeedMore
                } else {
                    Parse::NotThis
                };
            };
            let raw = &rest[..nl];
            let line = raw.strip_suffix(b"\r").unwrap_or(raw);
            if !line
                .iter()
                .all(|b| b.is_ascii_graphic() || *b == b' ' || *b == b'\t')
            {
                return Parse::NotThis;
            }
            pos += nl + 1;
            if pos > MAX_PREAMBLE {
                return Parse::NotThis;
            }
            let Some(cmd) = untag(line, self.tagged) else {
                return Parse::NotThis;
            };
            let cmd = cmd.trim_ascii();
            if self.upgrades.iter().any(|u| cmd.eq_ignore_ascii_case(u)) {
                return Parse::Done(Found::Preamble {
                    len: pos,
                    name: None,
                });
            }
        }
        Parse::NotThis
    }
}

/// XMPP (RFC 6120 5.4): the client's stream header, then `<starttls xmlns=...-tls'/>`.
pub struct Xmpp;

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl StreamProtocol for Xmpp {
    fn name(&self) -> &'static str {
        "xmpp-starttls"
    }

    fn probe(&self, s: &[u8]) -> bool {
        let p = |w: &[u8]| s[..s.len().min(w.len())] == w[..s.len().min(w.len())];
        p(b"<?xml ") || p(b"<stream:stream ")
    }

    fn parse(&self, s: &[u8]) -> Parse<Found> {
        let head = s.get(..MAX_PREAMBLE).unwrap_or(s);
        let more = || {
            if s.len() >= MAX_PREAMBLE || head.contains(&0) {
                Parse::NotThis
            } else {
                Parse::NeedMore
            }
        };
        let Some(at) = find(head, b"<starttls") else {
            return more();
        };
        let tail = &head[at..];
        let Some(gt) = tail.iter().position(|&b| b == b'>') else {
            return more();
        };
        let end = if tail[..gt].ends_with(b"/") {
            at + gt + 1
        } else {
            match find(tail, b"</starttls>") {
                Some(c) => at + c + b"</starttls>".len(),
                None => return more(),
            }
        };
        Parse::Done(Found::Preamble {
            len: end,
            name: None,
        })
    }
}

/// LDAP (RFC 4511 4.14): an ExtendedRequest with the StartTLS OID, possibly after a few other
/// requests (a root DSE search to check for the extension).
pub struct Ldap;

const LDAP_STARTTLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";
/// LDAP messages walked before the StartTLS request at most.
const LDAP_MAX_MESSAGES: usize = 4;

/// A BER tag-length at `at`: (tag, content start, content length). `None`: incomplete.
/// `Some(Err(()))`: not a definite length we accept.
#[allow(clippy::type_complexity)]
fn ber(s: &[u8], at: usize) -> Option<Result<(u8, usize, usize), ()>> {
    let tag = *s.get(at)?;
    let l0 = *s.get(at + 1)?;
    if l0 < 0x80 {
        return Some(Ok((tag, at + 2, usize::from(l0))));
    }
    let n = usize::from(l0 & 0x7f);
    if n == 0 || n > 3 {
        return Some(Err(()));
    }
    let b = s.get(at + 2..at + 2 + n)?;
    let len = b.iter().fold(0usize, |a, &x| a << 8 | usize::from(x));
    Some(Ok((tag, at + 2 + n, len)))
}

impl StreamProtocol for Ldap {
    fn name(&self) -> &'static str {
        "ldap-starttls"
    }

    fn probe(&self, s: &[u8]) -> bool {
        s.first().is_none_or(|&b| b == 0x30)
            && s.get(1)
                .is_none_or(|&b| b < 0x80 || (0x81..=0x83).contains(&b))
    }

    fn parse(&self, s: &[u8]) -> Parse<Found> {
        let mut pos = 0usize;
        for _ in 0..LDAP_MAX_MESSAGES {
            let (tag, body, len) = match ber(s, pos) {
                None => return Parse::NeedMore,
                Some(Err(())) => return Parse::NotThis,
                Some(Ok(t)) => t,
            };
            let end = body + len;
            if tag != 0x30 || len > MAX_PREAMBLE {
                return Parse::NotThis;
            }
            // messageID INTEGER, then the protocol operation.
            let (id_tag, id_body, id_len) = match ber(s, body) {
                None => return Parse::NeedMore,
                Some(Err(())) => return Parse::NotThis,
                Some(Ok(t)) => t,
            };
            if id_tag != 0x02 || !(1..=4).contains(&id_len) {
                return Parse::NotThis;
            }
            let op_at = id_body + id_len;
            let (op, op_body, _) = match ber(s, op_at) {
                None => return Parse::NeedMore,
                Some(Err(())) => return Parse::NotThis,
                Some(Ok(t)) => t,
            };
            if s.len() < end {
                return Parse::NeedMore;
            }
            if op == 0x77 {
                if let Some(Ok((0x80, oid_at, oid_len))) = ber(s, op_body) {
                    if s.get(oid_at..oid_at + oid_len) == Some(LDAP_STARTTLS_OID) {
                        return Parse::Done(Found::Preamble {
                            len: end,
                            name: None,
                        });
                    }
                }
            }
            // APPLICATION-class constructed or primitive operation: another request.
            if op & 0xc0 != 0x40 {
                return Parse::NotThis;
            }
            pos = end;
        }
        Parse::NotThis
    }
}

/// PostgreSQL SSLRequest: length 8, code 80877103.
pub struct Postgres;

const PG_SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

impl StreamProtocol for Postgres {
    fn name(&self) -> &'static str {
        "postgres-ssl"
    }

    fn probe(&self, s: &[u8]) -> bool {
        let n = s.len().min(8);
        s[..n] == PG_SSL_REQUEST[..n]
    }

    fn parse(&self, s: &[u8]) -> Parse<Found> {
        if s.len() < 8 {
            return Parse::NeedMore;
        }
        Parse::Done(Found::Preamble { len: 8, name: None })
    }
}

/// Android Debug Bridge: `CNXN` (and `AUTH`) messages, then `STLS` and TLS.
pub struct Adb;

const ADB_CNXN: u32 = 0x4e58_4e43;
const ADB_AUTH: u32 = 0x4854_5541;
const ADB_STLS: u32 = 0x534c_5453;
/// Payload of one ADB message at most (the protocol's MAX_PAYLOAD is 1 MiB; a connect string
/// is a few hundred bytes).
const ADB_MAX_DATA: usize = 64 * 1024;

fn le32(s: &[u8], at: usize) -> Option<u32> {
    let b = s.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

impl StreamProtocol for Adb {
    fn name(&self) -> &'static str {
        "adb-stls"
    }

    fn probe(&self, s: &[u8]) -> bool {
        let n = s.len().min(4);
        s[..n] == b"CNXN"[..n]
    }

    fn parse(&self, s: &[u8]) -> Parse<Found> {
        let mut pos = 0usize;
        for _ in 0..8 {
            let (Some(cmd), Some(len), Some(magic)) =
                (le32(s, pos), le32(s, pos + 12), le32(s, pos + 20))
            else {
                return Parse::NeedMore;
            };
            if magic != cmd ^ 0xffff_ffff || len as usize > ADB_MAX_DATA {
                return Parse::NotThis;
            }
            let end = pos + 24 + len as usize;
            if s.len() < end && matches!(cmd, ADB_STLS | ADB_CNXN | ADB_AUTH) {
                return Parse::NeedMore;
            }
            match cmd {
                ADB_STLS => {
                    return Parse::Done(Found::Preamble {
                        len: end,
                        name: None,
                    })
                }
                ADB_CNXN | ADB_AUTH => {}
                _ => return Parse::NotThis,
            }
            pos = end;
        }
        Parse::NotThis
    }
}

#[cfg(test)]
mod tests {
    use super::super::registry::{identify, Outcome};
    use super::*;
    use proptest::prelude::*;

    /// A minimal ClientHello record naming `sni` (built the way the TLS tests build theirs).
    fn client_hello(sni: &str) -> Vec<u8> {
        let name = sni.as_bytes();
        let mut ext = Vec::new();
        let list_len = name.len() + 3;
        ext.extend_from_slice(&[0, 0]);
        ext.extend_from_slice(&((list_len + 2) as u16).to_be_bytes());
        ext.extend_from_slice(&(list_len as u16).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
        ext.extend_from_slice(name);
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.push(0);
        body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![1, 0];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    fn sni_after(pre: &[u8]) -> Option<String> {
        let mut s = pre.to_vec();
        s.extend_from_slice(&client_hello("mail.example.org"));
        match identify(&s).outcome {
            Outcome::Tls(ch) => ch.sni,
            o => panic!("{o:?} after {:?}", String::from_utf8_lossy(pre)),
        }
    }

    pub(crate) fn ldap_starttls(id: u8) -> Vec<u8> {
        let mut op = vec![0x80, LDAP_STARTTLS_OID.len() as u8];
        op.extend_from_slice(LDAP_STARTTLS_OID);
        let mut msg = vec![0x02, 1, id, 0x77, op.len() as u8];
        msg.extend_from_slice(&op);
        let mut v = vec![0x30, msg.len() as u8];
        v.extend_from_slice(&msg);
        v
    }

    fn adb(cmd: u32, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [
            cmd,
            0x0100_0001,
            256 * 1024,
            data.len() as u32,
            0,
            cmd ^ 0xffff_ffff,
        ] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn each_upgrade_is_followed_by_its_client_hello() {
        let want = Some("mail.example.org".to_string());
        assert_eq!(sni_after(b"EHLO client.local\r\nSTARTTLS\r\n"), want);
        assert_eq!(sni_after(b"ehlo [10.0.0.5]\r\nstarttls\r\n"), want);
        assert_eq!(sni_after(b"CAPA\r\nSTLS\r\n"), want);
        assert_eq!(sni_after(b"a001 CAPABILITY\r\na002 STARTTLS\r\n"), want);
        assert_eq!(sni_after(b"FEAT\r\nAUTH TLS\r\n"), want);
        assert_eq!(sni_after(b"AUTH SSL\r\n"), want);
        assert_eq!(
            sni_after(b"<?xml version='1.0'?><stream:stream to='example.org' xmlns='jabber:client' version='1.0'><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
            want
        );
        assert_eq!(sni_after(&ldap_starttls(1)), want);
        assert_eq!(sni_after(&PG_SSL_REQUEST), want);
        let mut a = adb(ADB_CNXN, b"host::features=shell_v2\0");
        a.extend(adb(ADB_STLS, &[]));
        assert_eq!(sni_after(&a), want);
    }

    #[test]
    fn cleartext_sessions_wait_then_give_up() {
        let id = identify(b"EHLO client.local\r\n");
        assert_eq!(id.outcome, Outcome::NeedMore);
        let mut s = b"EHLO x\r\n".to_vec();
        for _ in 0..40 {
            s.extend_from_slice(b"RCPT TO:<a@b>\r\n");
        }
        assert_eq!(SMTP.parse(&s), Parse::NotThis);
        // An upgrade line inside another protocol's lines is not read as one.
        assert!(!SMTP.probe(b"GET / HTTP/1.1\r\n"));
        assert!(IMAP.probe(b"a0"));
        assert!(!IMAP.probe(b"a01 LOGIN x y\r\n"));
        assert_eq!(SMTP.parse(b"EHLO x\r\n\x16\x03\x01"), Parse::NotThis);
    }

    proptest! {
        #[test]
        fn upgrades_never_panic_and_stay_in_bounds(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let all: [&dyn StreamProtocol; 8] = [&SMTP, &POP3, &IMAP, &FTP, &Xmpp, &Ldap, &Postgres, &Adb];
            for p in all {
                if p.probe(&data) {
                    if let Parse::Done(Found::Preamble { len, .. }) = p.parse(&data) {
                        prop_assert!(len <= data.len());
                    }
                }
            }
        }

        #[test]
        fn smtp_any_ehlo_name(name in "[a-z0-9.-]{1,40}") {
            let pre = format!("EHLO {name}\r\nSTARTTLS\r\n");
            prop_assert_eq!(sni_after(pre.as_bytes()), Some("mail.example.org".to_string()));
        }
    }
}
