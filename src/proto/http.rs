//! HTTP/1.x request heads: the Host a cleartext client asks for.
//!
//! The input is the client's reassembled TCP byte stream. A head is complete at its empty line;
//! real clients also send bare `\n` line endings and split the head across segments, so both are
//! accepted. Only the request line and the Host header are read.

use super::{is_ip_literal, normalize_host, Parse};

/// Most head bytes examined. Past this, a head whose Host line is complete is still used.
pub const MAX_HEAD: usize = 16 * 1024;
const MAX_PATH: usize = 4096;

/// Request methods of HTTP/1.x and its common extensions (WebDAV, SSDP/UPnP, caches).
const METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"CONNECT",
    b"PATCH",
    b"TRACE",
    b"M-SEARCH",
    b"NOTIFY",
    b"SUBSCRIBE",
    b"UNSUBSCRIBE",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
    b"REPORT",
    b"MKACTIVITY",
    b"CHECKOUT",
    b"MERGE",
    b"PURGE",
    b"BPROPFIND",
    b"RPC_IN_DATA",
    b"RPC_OUT_DATA",
];

/// The parts of a request head used for naming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// The request target as sent (origin, absolute or authority form), lossy UTF-8, capped.
    pub path: String,
    /// Normalized host (port stripped); `None` when absent or an IP literal.
    pub host: Option<String>,
    /// The Host header value (or the authority used in its place) as sent, trimmed.
    pub host_raw: Option<String>,
}

/// Whether `stream` starts with a known method followed by a space. Shorter prefixes of such a
/// start (including empty) pass, so a request split after a few bytes is not rejected.
pub fn probe(stream: &[u8]) -> bool {
    METHODS.iter().any(|m| {
        let n = stream.len().min(m.len() + 1);
        let want = m.iter().chain(b" ");
        stream[..n].iter().zip(want).all(|(a, b)| a == b)
    })
}

/// Parse the request head at the start of `stream`.
pub fn parse_request_head(stream: &[u8]) -> Parse<HttpRequest> {
    next_request(stream).map(|(req, _)| req)
}

/// Like [`parse_request_head`], for a stream that will not grow (flow ended, or the caller's
/// reassembly cap was reached): a request line plus a complete Host line is enough.
pub fn parse_request_head_final(stream: &[u8]) -> Option<HttpRequest> {
    match parse(stream, true) {
        Parse::Done((req, _)) => Some(req),
        _ => None,
    }
}

/// Parse the request head at the start of `stream` and return its length, so a caller can look
/// for a pipelined/keep-alive request after it (and after any body the caller skips).
pub fn next_request(stream: &[u8]) -> Parse<(HttpRequest, usize)> {
    parse(stream, false)
}

fn parse(stream: &[u8], is_final: bool) -> Parse<(HttpRequest, usize)> {
    if !probe(stream) {
        return Parse::NotThis;
    }
    let capped = stream.len() >= MAX_HEAD;
    let buf = stream.get(..MAX_HEAD).unwrap_or(stream);
    let mut lines = Lines { buf, pos: 0 };
    let Some(request_line) = lines.next() else {
        return if capped {
            Parse::NotThis
        } else {
            Parse::NeedMore
        };
    };
    let Some((method, target)) = request_line_parts(request_line) else {
        return Parse::NotThis;
    };
    let mut host_raw: Option<&[u8]> = None;
    let mut end = None;
    while let Some(line) = lines.next() {
        if line.is_empty() {
            end = Some(lines.pos);
            break;
        }
        if host_raw.is_none() {
            if let Some(colon) = line.iter().position(|&b| b == b':') {
                if line[..colon].trim_ascii_end().eq_ignore_ascii_case(b"host") {
                    host_raw = Some(line[colon + 1..].trim_ascii());
                }
            }
        }
    }
    let head_len = match end {
        Some(n) => n,
        // Cut off at the cap or at the end of a final stream: use what is complete.
        None if (capped || is_final) && host_raw.is_some() => lines.pos,
        None if capped => return Parse::NotThis,
        None => return Parse::NeedMore,
    };

    // Without a Host header, an absolute-form or CONNECT authority-form target names the host.
    let host_raw = host_raw.or_else(|| target_authority(method, target));
    let host = host_raw
        .and_then(normalize_host)
        .filter(|h| !is_ip_literal(h));
    let path = target.get(..MAX_PATH).unwrap_or(target);
    Parse::Done((
        HttpRequest {
            method: String::from_utf8_lossy(method).into_owned(),
            path: String::from_utf8_lossy(path).into_owned(),
            host,
            host_raw: host_raw.map(|h| String::from_utf8_lossy(h).into_owned()),
        },
        head_len,
    ))
}

/// Complete lines (ending in `\n`, with an optional `\r` removed); `pos` is after the last one.
struct Lines<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.buf.get(self.pos..)?;
        let nl = rest.iter().position(|&b| b == b'\n')?;
        self.pos += nl + 1;
        let line = &rest[..nl];
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

/// `METHOD SP target SP HTTP/x.y`, tolerating repeated spaces. HTTP/0.9 (no version) is not
/// accepted: it has no Host and the check keeps binary protocols that start with `GET ` out.
fn request_line_parts(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let method = parts.next()?;
    let target = parts.next()?;
    let version = parts.next()?;
    if parts.next().is_some() || !version.starts_with(b"HTTP/") {
        return None;
    }
    Some((method, target))
}

/// The authority of an absolute-form target (`http://host:port/path`), or a CONNECT target.
fn target_authority<'a>(method: &[u8], target: &'a [u8]) -> Option<&'a [u8]> {
    if method == b"CONNECT" {
        return Some(target);
    }
    let scheme_end = target.windows(3).position(|w| w == b"://")?;
    if !target[..scheme_end].iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let rest = &target[scheme_end + 3..];
    let end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    // Drop userinfo.
    let authority = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    Some(authority)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn done(s: &[u8]) -> HttpRequest {
        match parse_request_head(s) {
            Parse::Done(r) => r,
            other => panic!("expected Done, got {other:?}"),
        }
    }

    const ODD: &[u8] = b"GET /index.html?q=1 HTTP/1.1\r\nUser-Agent: t\r\nhOsT:  Example.COM:8080 \r\nAccept: */*\r\n\r\n";

    #[test]
    fn host_with_port_and_odd_case() {
        let r = done(ODD);
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/index.html?q=1");
        assert_eq!(r.host.as_deref(), Some("example.com"));
        assert_eq!(r.host_raw.as_deref(), Some("Example.COM:8080"));
        assert_eq!(next_request(ODD).done().map(|(_, n)| n), Some(ODD.len()));
    }

    #[test]
    fn bare_lf_line_endings() {
        let r = done(b"POST /x HTTP/1.0\nHost: a.example\nContent-Length: 0\n\n");
        assert_eq!(r.method, "POST");
        assert_eq!(r.host.as_deref(), Some("a.example"));
    }

    #[test]
    fn every_prefix_needs_more() {
        let whole = done(ODD);
        for n in 0..ODD.len() {
            assert_eq!(parse_request_head(&ODD[..n]), Parse::NeedMore, "len {n}");
        }
        assert_eq!(parse_request_head(ODD), Parse::Done(whole));
    }

    #[test]
    fn no_host_and_ip_host() {
        let r = done(b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n");
        assert_eq!((r.host, r.host_raw), (None, None));
        let r = done(b"GET / HTTP/1.1\r\nHost: 192.0.2.1:8080\r\n\r\n");
        assert_eq!(r.host, None);
        assert_eq!(r.host_raw.as_deref(), Some("192.0.2.1:8080"));
        let r = done(b"GET / HTTP/1.1\r\nHost: [2001:db8::2]:80\r\n\r\n");
        assert_eq!(r.host, None);
    }

    #[test]
    fn connect_and_absolute_uri() {
        let r = done(b"CONNECT Proxy.Example:443 HTTP/1.1\r\nUser-Agent: x\r\n\r\n");
        assert_eq!(r.host.as_deref(), Some("proxy.example"));
        assert_eq!(r.path, "Proxy.Example:443");
        let r = done(b"GET http://user@abs.example:8080/a?b HTTP/1.1\r\n\r\n");
        assert_eq!(r.host.as_deref(), Some("abs.example"));
        // The Host header wins when both are present, as tshark reports it.
        let r = done(b"GET http://abs.example/ HTTP/1.1\r\nHost: hdr.example\r\n\r\n");
        assert_eq!(r.host.as_deref(), Some("hdr.example"));
    }

    #[test]
    fn ssdp_and_webdav() {
        let r = done(
            b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\n\r\n",
        );
        assert_eq!(r.method, "M-SEARCH");
        assert_eq!(r.host, None);
        let r = done(b"PROPFIND /dav/ HTTP/1.1\r\nHost: dav.example\r\n\r\n");
        assert_eq!(r.host.as_deref(), Some("dav.example"));
    }

    #[test]
    fn keep_alive_second_request() {
        let s = b"GET /1 HTTP/1.1\r\nHost: one.example\r\n\r\nGET /2 HTTP/1.1\r\nHost: two.example\r\n\r\n";
        let Parse::Done((first, n)) = next_request(s) else {
            panic!("first")
        };
        assert_eq!(first.host.as_deref(), Some("one.example"));
        let second = done(&s[n..]);
        assert_eq!(
            (second.path.as_str(), second.host.as_deref()),
            ("/2", Some("two.example"))
        );
    }

    #[test]
    fn cap_and_final() {
        let mut s = b"GET / HTTP/1.1\r\nHost: big.example\r\n".to_vec();
        while s.len() < MAX_HEAD + 10 {
            s.extend_from_slice(b"Cookie: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert_eq!(done(&s).host.as_deref(), Some("big.example"));
        let mut no_host = b"GET / HTTP/1.1\r\n".to_vec();
        no_host.resize(MAX_HEAD + 10, b'a');
        assert_eq!(parse_request_head(&no_host), Parse::NotThis);

        let partial = b"GET / HTTP/1.1\r\nHost: part.example\r\nUser-Ag";
        assert_eq!(parse_request_head(partial), Parse::NeedMore);
        let r = parse_request_head_final(partial).and_then(|r| r.host);
        assert_eq!(r.as_deref(), Some("part.example"));
        assert_eq!(
            parse_request_head_final(b"GET / HTTP/1.1\r\nHost: cut.exa"),
            None
        );
    }

    #[test]
    fn not_http() {
        assert!(probe(b""));
        assert!(probe(b"GE"));
        assert!(probe(b"M-SEA"));
        assert!(!probe(b"GETX / HTTP/1.1"));
        assert!(!probe(b"get / HTTP/1.1"));
        assert!(!probe(b"\x16\x03\x01"));
        assert_eq!(
            parse_request_head(b"HTTP/1.1 200 OK\r\n\r\n"),
            Parse::NotThis
        );
        assert_eq!(parse_request_head(b"GET / FOO/1.1\r\n\r\n"), Parse::NotThis);
        assert_eq!(parse_request_head(b"GET /\r\n\r\n"), Parse::NotThis);
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_request_head(&data);
            let mut get = b"GET ".to_vec();
            get.extend_from_slice(&data);
            let _ = next_request(&get);
            let _ = parse_request_head_final(&get);
        }

        #[test]
        fn prefixes_need_more_and_whole_is_done(
            host in "[a-zA-Z0-9-]{1,20}(\\.[a-zA-Z0-9-]{1,20}){0,3}",
            port in proptest::option::of(1u16..),
            crlf in any::<bool>(),
            extra in proptest::collection::vec("X-[A-Za-z-]{1,10}: [ -~]{0,30}", 0..4),
        ) {
            prop_assume!(!is_ip_literal(&host));
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut head = format!("GET /p HTTP/1.1{nl}");
            for h in &extra {
                head.push_str(h);
                head.push_str(nl);
            }
            match port {
                Some(p) => head.push_str(&format!("Host: {host}:{p}{nl}{nl}")),
                None => head.push_str(&format!("Host: {host}{nl}{nl}")),
            }
            let head = head.as_bytes();
            let whole = next_request(head);
            let Parse::Done((req, n)) = whole.clone() else { panic!("{whole:?}") };
            prop_assert_eq!(n, head.len());
            prop_assert_eq!(req.host, Some(host.to_ascii_lowercase()));
            for k in 0..head.len() {
                prop_assert_eq!(next_request(&head[..k]), Parse::NeedMore);
            }
        }
    }
}
