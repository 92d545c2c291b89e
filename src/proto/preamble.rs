//! Proxy preambles in front of a client's real protocol: SOCKS4/4a, SOCKS5 and the HAProxy PROXY
//! protocol (v1 text, v2 binary). Each reports how many client bytes the preamble takes and, for
//! SOCKS, the host name the client asked the proxy to reach. HTTP CONNECT is read by the HTTP
//! parser (see [`super::registry`]).
//!
//! Only the client's direction is seen: the server's replies (method choice, grant) are not
//! needed, because what the client sends next already says which way the exchange went.

use super::registry::{Found, NameSource, Named, StreamProtocol};
use super::{is_ip_literal, normalize_host, Parse};

/// Bytes of a NUL-terminated SOCKS4 field (user id, host) accepted at most.
const SOCKS4_FIELD_MAX: usize = 255;

fn prefix_matches(stream: &[u8], want: &[u8]) -> bool {
    let n = stream.len().min(want.len());
    stream[..n] == want[..n]
}

fn socks_name(raw: &[u8]) -> Option<Named> {
    normalize_host(raw)
        .filter(|h| !is_ip_literal(h))
        .map(|host| Named {
            host,
            source: NameSource::Socks,
        })
}

/// SOCKS5 (RFC 1928): greeting, optional username/password sub-negotiation (RFC 1929), request.
pub struct Socks5;

fn socks5_method_ok(m: u8) -> bool {
    m <= 0x09 || (0x80..=0xfe).contains(&m)
}

impl StreamProtocol for Socks5 {
    fn name(&self) -> &'static str {
        "socks5"
    }

    fn probe(&self, s: &[u8]) -> bool {
        let n = usize::from(s.get(1).copied().unwrap_or(1));
        s.first().is_none_or(|&v| v == 5)
            && (1..=16).contains(&n)
            && s.iter().skip(2).take(n).all(|&m| socks5_method_ok(m))
    }

    fn parse(&self, s: &[u8]) -> Parse<Found> {
        let Some(&n) = s.get(1) else {
            return Parse::NeedMore;
        };
        let mut pos = 2 + usize::from(n);
        if s.len() < pos {
            return Parse::NeedMore;
        }
        // Username/password sub-negotiation, if the server chose it.
        if s.get(pos) == Some(&1) {
            let Some(&ulen) = s.get(pos + 1) else {
                return Parse::NeedMore;
            };
            let p = pos + 2 + usize::from(ulen);
            let Some(&plen) = s.get(p) else {
                return Parse::NeedMore;
            };
            pos = p + 1 + usize::from(plen);
        }
        let Some(req) = s.get(pos..) else {
            return Parse::NeedMore;
        };
        // VER CMD RSV ATYP
        let head = match req {
            [5, 1..=3, 0, atyp, ..] => *atyp,
            [] | [5] | [5, 1..=3] | [5, 1..=3, 0] => return Parse::NeedMore,
            _ => return Parse::NotThis,
        };
        let (addr_len, name) = match head {
            1 => (4, None),
            4 => (16, None),
            3 => {
                let Some(&hl) = req.get(4) else {
                    return Parse::NeedMore;
                };
                if hl == 0 {
                    return Parse::NotThis;
                }
                let Some(host) = req.get(5..5 + usize::from(hl)) else {
                    return Parse::NeedMore;
                };
                (1 + usize::from(hl), Some(host))
            }
            _ => return Parse::NotThis,
        };
        let len = pos + 4 + addr_len + 2;
        if s.len() < len {
            return Parse::NeedMore;
        }
        Parse::Done(Found::Preamble {
            len,
            name: name.and_then(socks_name),
        })
    }
}

/// SOCKS4 and its 4a extension (a host name after the user id when the address is 0.0.0.x).
pub struct Socks4;

/// A NUL-terminated printable field at `at`: its bytes and the offset after the NUL.
fn c_string(s: &[u8], at: usize) -> Parse<(&[u8], usize)> {
    let rest = s.get(at..).unwrap_or_default();
    match rest.iter().take(SOCKS4_FIELD_MAX + 1).position(|&b| b == 0) {
        Some(i) => {
            let f = &rest[..i];
            if f.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
                Parse::Done((f, at + i + 1))
            } else {
                Parse::NotThis
            }
        }
        None if rest.len() > SOCKS4_FIELD_MAX => Parse::NotThis,
        None if rest.iter().all(|b| b.is_ascii_graphic() || *b == b' ') => Parse::NeedMore,
        None => Parse::NotThis,
    }
}

impl StreamProtocol for Socks4 {
    fn name(&self) -> &'static str {
        "socks4"
    }

    fn probe(&self, s: &[u8]) -> bool {
        s.first().is_none_or(|&v| v == 4) && s.get(1).is_none_or(|&c| c == 1 || c == 2)
    }

    fn parse(&self, s: &[u8]) -> Parse<Found> {
        let Some(ip) = s.get(4..8) else {
            return Parse::NeedMore;
        };
        let socks4a = ip[..3] == [0, 0, 0] && ip[3] != 0;
        let after_user = match c_string(s, 8) {
            Parse::Done((_, end)) => end,
            Parse::NeedMore => return Parse::NeedMore,
            Parse::NotThis => return Parse::NotThis,
        };
        if !socks4a {
            return Parse::Done(Found::Preamble {
                len: after_user,
                name: None,
            });
        }
        match c_string(s, after_user) {
            Parse::Done((host, end)) => Parse::Done(Found::Preamble {
                len: end,
                name: socks_name(host),
            }),
            Parse::NeedMore => Parse::NeedMore,
            Parse::NotThis => Parse::NotThis,
        }
    }
}

/// PROXY protocol v1: one text line of at most 107 bytes.
pub struct ProxyV1;

const PROXY_V1_MAX: usize = 107;

impl StreamProtocol for ProxyV1 {
    fn name(&self) -> &'static str {
        "proxy-v1"
    }

    fn probe(&self, s: &[u8]) -> bool {
        prefix_matches(s, b"PROXY ")
    }

    fn parse(&self, s: &[u8]) -> Parse<Found> {
        let head = s.get(..PROXY_V1_MAX).unwrap_or(s);
        let Some(nl) = head.iter().position(|&b| b == b'\n') else {
            return if s.len() >= PROXY_V1_MAX {
                Parse::NotThis
            } else {
                Parse::NeedMore
            };
        };
        let line = &head[..nl];
        let ok = line.last() == Some(&b'\r')
            && [&b"PROXY TCP4 "[..], b"PROXY TCP6 ", b"PROXY UNKNOWN"]
                .iter()
                .any(|p| line.starts_with(p))
            && line
                .iter()
                .all(|b| b.is_ascii_graphic() || *b == b' ' || *b == b'\r');
        if ok {
            Parse::Done(Found::Preamble {
                len: nl + 1,
                name: None,
            })
        } else {
            Parse::NotThis
        }
    }
}

/// PROXY protocol v2: a 12-byte signature, version/command, family, 16-bit length, addresses
/// and TLVs.
pub struct ProxyV2;

const PROXY_V2_SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

impl StreamProtocol for ProxyV2 {
    fn name(&self) -> &'static str {
        "proxy-v2"
    }

    fn probe(&self, s: &[u8]) -> bool {
        prefix_matches(s, PROXY_V2_SIG) && s.get(12).is_none_or(|b| b >> 4 == 2 && b & 0xf <= 1)
    }

    fn parse(&self, s: &[u8]) -> Parse<Found> {
        let Some(l) = s.get(14..16) else {
            return Parse::NeedMore;
        };
        let len = 16 + usize::from(u16::from_be_bytes([l[0], l[1]]));
        if s.len() < len {
            return Parse::NeedMore;
        }
        Parse::Done(Found::Preamble { len, name: None })
    }
}

#[cfg(test)]
mod tests {
    use super::super::registry::{identify, Outcome};
    use super::*;
    use proptest::prelude::*;

    fn pre(p: &dyn StreamProtocol, s: &[u8]) -> Parse<Found> {
        assert!(p.probe(s), "{} probe", p.name());
        p.parse(s)
    }

    fn socks5_domain(host: &str, auth: bool) -> Vec<u8> {
        let mut v = if auth {
            let mut g = vec![5, 2, 0, 2, 1, 4];
            g.extend_from_slice(b"user");
            g.push(2);
            g.extend_from_slice(b"pw");
            g
        } else {
            vec![5, 1, 0]
        };
        v.extend_from_slice(&[5, 1, 0, 3, host.len() as u8]);
        v.extend_from_slice(host.as_bytes());
        v.extend_from_slice(&443u16.to_be_bytes());
        v
    }

    #[test]
    fn socks5_domain_request_names_the_host() {
        for auth in [false, true] {
            let s = socks5_domain("Update.Example.COM", auth);
            assert_eq!(
                pre(&Socks5, &s),
                Parse::Done(Found::Preamble {
                    len: s.len(),
                    name: Some(Named {
                        host: "update.example.com".into(),
                        source: NameSource::Socks
                    })
                })
            );
            for cut in 0..s.len() {
                assert_eq!(Socks5.parse(&s[..cut]), Parse::NeedMore, "cut {cut}");
            }
        }
        // IPv4 and IPv6 requests: a preamble without a name.
        let mut v4 = vec![5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 1, 0, 80];
        assert_eq!(
            pre(&Socks5, &v4),
            Parse::Done(Found::Preamble {
                len: 13,
                name: None
            })
        );
        v4[3] = 9; // not a request
        assert_eq!(Socks5.parse(&v4), Parse::NotThis);
        let mut v6 = vec![5, 1, 0, 5, 1, 0, 4];
        v6.extend_from_slice(&[0; 18]);
        assert_eq!(
            pre(&Socks5, &v6),
            Parse::Done(Found::Preamble {
                len: 25,
                name: None
            })
        );
    }

    #[test]
    fn socks4_and_4a() {
        let mut s4 = vec![4, 1, 0, 80, 93, 184, 216, 34];
        s4.extend_from_slice(b"bob\0");
        assert_eq!(
            pre(&Socks4, &s4),
            Parse::Done(Found::Preamble {
                len: 12,
                name: None
            })
        );
        let mut s4a = vec![4, 1, 1, 187, 0, 0, 0, 1];
        s4a.extend_from_slice(b"\0ctldl.windowsupdate.com\0");
        let want = Parse::Done(Found::Preamble {
            len: s4a.len(),
            name: Some(Named {
                host: "ctldl.windowsupdate.com".into(),
                source: NameSource::Socks,
            }),
        });
        assert_eq!(pre(&Socks4, &s4a), want);
        assert_eq!(Socks4.parse(&s4a[..12]), Parse::NeedMore);
        // Binary bytes where the user id should be: not SOCKS.
        assert_eq!(
            Socks4.parse(&[4, 1, 0, 80, 1, 2, 3, 4, 0xff, 0]),
            Parse::NotThis
        );
    }

    #[test]
    fn proxy_v1_and_v2() {
        let v1 = b"PROXY TCP4 192.0.2.1 198.51.100.2 51000 443\r\n";
        assert_eq!(
            pre(&ProxyV1, v1),
            Parse::Done(Found::Preamble {
                len: v1.len(),
                name: None
            })
        );
        assert_eq!(ProxyV1.parse(&v1[..20]), Parse::NeedMore);
        assert_eq!(ProxyV1.parse(b"PROXY BOGUS\r\n"), Parse::NotThis);
        let mut v2 = PROXY_V2_SIG.to_vec();
        v2.extend_from_slice(&[0x21, 0x11, 0, 12]);
        v2.extend_from_slice(&[192, 0, 2, 1, 198, 51, 100, 2, 0xc7, 0x38, 1, 187]);
        assert_eq!(
            pre(&ProxyV2, &v2),
            Parse::Done(Found::Preamble {
                len: 28,
                name: None
            })
        );
        assert_eq!(ProxyV2.parse(&v2[..20]), Parse::NeedMore);
        let mut bad = v2.clone();
        bad[12] = 0x11;
        assert!(!ProxyV2.probe(&bad));
    }

    #[test]
    fn socks_then_http_through_the_registry() {
        let mut s = socks5_domain("proxied.example", false);
        s.extend_from_slice(b"GET / HTTP/1.1\r\nHost: inner.example\r\n\r\n");
        let id = identify(&s);
        assert_eq!(id.layers, 1);
        assert_eq!(id.preamble_names[0].host, "proxied.example");
        match id.outcome {
            Outcome::Http {
                req,
                complete: true,
            } => {
                assert_eq!(req.host.as_deref(), Some("inner.example"))
            }
            o => panic!("{o:?}"),
        }
    }

    proptest! {
        #[test]
        fn preambles_never_panic_and_stay_in_bounds(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            for p in [&Socks5 as &dyn StreamProtocol, &Socks4, &ProxyV1, &ProxyV2] {
                if p.probe(&data) {
                    if let Parse::Done(Found::Preamble { len, .. }) = p.parse(&data) {
                        prop_assert!(len <= data.len());
                    }
                }
            }
            let id = identify(&data);
            prop_assert!(id.inner_offset <= data.len());
        }

        #[test]
        fn socks5_host_round_trips(host in "[a-z]{1,20}(\\.[a-z]{1,10}){1,3}") {
            let s = socks5_domain(&host, false);
            let id = identify(&s);
            prop_assert_eq!(id.preamble_names.first().map(|n| n.host.clone()), Some(host));
        }
    }
}
