//! Application-protocol parsers: pull names out of a flow's first flight.
//!
//! Each protocol follows Retina's probe-then-parse shape: a cheap, allocation-free `probe` that
//! says whether a byte prefix could be this protocol, and a parser that returns [`Parse`] so the
//! caller knows whether to wait for more reassembled bytes, use the result, or stop looking.
//! TCP client streams go through [`registry`], where every protocol (and every preamble such
//! as SOCKS or STARTTLS in front of one) registers its probe and parser.
//! Everything here treats its input as hostile: no panics, bounded work, bounded allocation.

pub mod dhcp;
pub mod dns;
pub mod http;
pub mod identity;
pub mod nbns;
pub mod preamble;
pub mod quic;
pub mod registry;
pub mod starttls;
pub mod tls;

use std::net::IpAddr;

/// Defined by [`crate::flow`], which labels every flow with it; set from here.
pub use crate::flow::App;

/// Outcome of parsing a (possibly still growing) byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse<T> {
    /// The bytes so far are consistent with this protocol but the message is incomplete.
    NeedMore,
    /// The message is complete and parsed.
    Done(T),
    /// The bytes are not this protocol (or are malformed beyond recovery): stop trying.
    NotThis,
}

impl<T> Parse<T> {
    /// The parsed value, if complete.
    pub fn done(self) -> Option<T> {
        match self {
            Parse::Done(t) => Some(t),
            _ => None,
        }
    }

    /// Apply `f` to a completed value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Parse<U> {
        match self {
            Parse::NeedMore => Parse::NeedMore,
            Parse::Done(t) => Parse::Done(f(t)),
            Parse::NotThis => Parse::NotThis,
        }
    }
}

/// Longest DNS name in presentation form (RFC 1035: 255 octets on the wire, 253 as text).
pub const MAX_HOST_LEN: usize = 253;

/// Canonical form of a host name taken from SNI, an HTTP Host header or an authority, so that
/// every source yields the same key for the same host: whitespace trimmed, `:port` and IPv6
/// brackets removed, one trailing dot removed, ASCII lowercased.
///
/// Returns `None` for empty, oversized (> 253) or non-printable-ASCII names: such a value cannot
/// be a host name and must not be matched against endpoint lists.
pub fn normalize_host(raw: &[u8]) -> Option<String> {
    let mut s = trim_ascii(raw);
    if let Some(rest) = s.strip_prefix(b"[") {
        // `[v6]` or `[v6]:port`: keep what is inside the brackets.
        let end = rest.iter().position(|&b| b == b']')?;
        let after = rest.get(end + 1..)?;
        if !(after.is_empty() || (after.first() == Some(&b':') && is_port(&after[1..]))) {
            return None;
        }
        s = rest.get(..end)?;
    } else if let Some(colon) = s.iter().position(|&b| b == b':') {
        // A single colon separates a port; several colons mean a bare IPv6 literal.
        if !s[colon + 1..].contains(&b':') {
            if !is_port(&s[colon + 1..]) {
                return None;
            }
            s = &s[..colon];
        }
    }
    if let Some(stripped) = s.strip_suffix(b".") {
        s = stripped;
    }
    if s.is_empty() || s.len() > MAX_HOST_LEN || !s.iter().all(|&b| b.is_ascii_graphic()) {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    out.extend(s.iter().map(|&b| b.to_ascii_lowercase() as char));
    Some(out)
}

/// Whether a (normalized) host is an IP address literal rather than a name. An SNI or Host that
/// is an address names nothing, so callers keep `None` and let the resolver attribute the flow.
pub fn is_ip_literal(host: &str) -> bool {
    let h = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    h.parse::<IpAddr>().is_ok()
}

/// An empty port (`host:`) is tolerated, as browsers and servers do.
fn is_port(b: &[u8]) -> bool {
    b.len() <= 5 && b.iter().all(u8::is_ascii_digit)
}

fn trim_ascii(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if last.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_examples() {
        let n = |s: &str| normalize_host(s.as_bytes());
        assert_eq!(n("  Example.COM:8080 ").as_deref(), Some("example.com"));
        assert_eq!(n("www.Example.com.").as_deref(), Some("www.example.com"));
        assert_eq!(n("host:").as_deref(), Some("host"));
        assert_eq!(n("[2001:db8::1]:443").as_deref(), Some("2001:db8::1"));
        assert_eq!(n("[2001:db8::1]").as_deref(), Some("2001:db8::1"));
        assert_eq!(n("2001:db8::1").as_deref(), Some("2001:db8::1"));
        assert_eq!(n("10.0.0.1:80").as_deref(), Some("10.0.0.1"));
        assert_eq!(n(""), None);
        assert_eq!(n("   "), None);
        assert_eq!(n("."), None);
        assert_eq!(n(":80"), None);
        assert_eq!(n("host:port"), None);
        assert_eq!(n("[::1]junk"), None);
        assert_eq!(n("bad\x01name"), None);
        assert_eq!(n("has space"), None);
        assert_eq!(n("caf\u{e9}.fr"), None);
        assert_eq!(n(&"a".repeat(254)), None);
        assert_eq!(n(&"a".repeat(253)).map(|s| s.len()), Some(253));
    }

    #[test]
    fn ip_literals() {
        assert!(is_ip_literal("10.1.2.3"));
        assert!(is_ip_literal("2001:db8::1"));
        assert!(is_ip_literal("[::1]"));
        assert!(!is_ip_literal("example.com"));
        assert!(!is_ip_literal("10.1.2.3.example"));
        assert!(!is_ip_literal("1.2.3"));
    }

    #[test]
    fn app_labels() {
        assert_eq!(App::Tls.as_str(), "tls");
        assert_eq!(App::Quic.as_str(), "quic");
    }
}
