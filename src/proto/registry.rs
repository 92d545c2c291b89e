//! The registry of client-stream protocols: what names a TCP flow from its client's first flight.
//!
//! Like Retina's and Suricata's parser registries, every protocol registers a cheap `probe` and a
//! `parse`; [`identify`] runs them over the reassembled client stream and the engine never knows a
//! protocol by name. A protocol either names the flow itself (TLS ClientHello, HTTP request) or is
//! a *preamble*: framing in front of another protocol (SOCKS, HTTP CONNECT, the PROXY protocol, a
//! STARTTLS exchange). After a preamble, identification starts over on the bytes that follow it,
//! so "the name after a preamble" is one mechanism, whatever the preamble. A new protocol plugs in
//! by adding an entry to [`CLIENT_STREAM`].
//!
//! UDP datagrams that say who a machine is (DHCP, NetBIOS name registrations) register the same
//! way in [`DATAGRAM`]: a port-and-bytes `probe` and an `observe` that reports [`Observation`]s;
//! the engine runs [`observe_datagram`] on every UDP datagram of the flows it owns.

use std::net::IpAddr;

use super::identity::Observation;
use super::{dhcp, http, nbns, preamble, starttls, tls, Parse};

/// Preambles followed at most (PROXY header, then SOCKS, then CONNECT, then STARTTLS is 4).
pub const MAX_LAYERS: usize = 4;

/// Where a name came from, as far as the protocol parsers can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameSource {
    TlsSni,
    HttpHost,
    /// The authority of an HTTP CONNECT request: the host a proxy was asked to reach.
    HttpConnect,
    /// The host name of a SOCKS4a/SOCKS5 request.
    Socks,
}

/// A destination name stated in a stream, normalised (see [`super::normalize_host`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    pub host: String,
    pub source: NameSource,
}

/// What one protocol found at the start of the bytes it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The first `len` bytes are framing; another protocol starts after them. `name` is the
    /// destination the framing itself states (SOCKS, CONNECT), if any.
    Preamble { len: usize, name: Option<Named> },
    /// A complete ClientHello.
    Tls(tls::ClientHello),
    /// An HTTP request head. `complete: false` when the head has not ended yet but its request
    /// line and Host line are complete (the name is known; more bytes may still come).
    Http {
        req: http::HttpRequest,
        complete: bool,
    },
}

/// One protocol of the registry.
pub trait StreamProtocol: Sync {
    /// Stable label (tests, debugging).
    fn name(&self) -> &'static str;
    /// Whether `stream` could start this protocol. Must be allocation-free and accept short
    /// prefixes that agree so far, so a split first segment is not rejected.
    fn probe(&self, stream: &[u8]) -> bool;
    /// Parse the start of `stream`; only called when `probe` passed.
    fn parse(&self, stream: &[u8]) -> Parse<Found>;
}

/// Every client-stream protocol, most common first (the first `Done` wins).
pub static CLIENT_STREAM: &[&dyn StreamProtocol] = &[
    &TlsHello,
    &HttpHead,
    &preamble::Socks5,
    &preamble::Socks4,
    &preamble::ProxyV1,
    &preamble::ProxyV2,
    &starttls::SMTP,
    &starttls::POP3,
    &starttls::IMAP,
    &starttls::FTP,
    &starttls::Xmpp,
    &starttls::Ldap,
    &starttls::Postgres,
    &starttls::Adb,
];

/// How identification of a client stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Consistent so far; wait for more bytes.
    NeedMore,
    /// No registered protocol at the start of the stream.
    NotThis,
    /// Preambles were read but what follows them is no protocol we know: the preamble names
    /// are all there is.
    Opaque,
    Tls(tls::ClientHello),
    Http {
        req: http::HttpRequest,
        complete: bool,
    },
}

/// The result of [`identify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identified {
    /// Names stated by preambles, outermost first (also when `outcome` is `NeedMore`: a SOCKS
    /// request names the flow before the tunnelled bytes arrive).
    pub preamble_names: Vec<Named>,
    /// Preambles walked.
    pub layers: u8,
    /// Stream offset where the innermost protocol starts.
    pub inner_offset: usize,
    pub outcome: Outcome,
}

/// Run the registry over a client stream from its first byte.
pub fn identify(stream: &[u8]) -> Identified {
    identify_with(CLIENT_STREAM, stream)
}

/// [`identify`] over a given protocol list (tests use sub-lists).
pub fn identify_with(protocols: &[&dyn StreamProtocol], stream: &[u8]) -> Identified {
    let mut id = Identified {
        preamble_names: Vec::new(),
        layers: 0,
        inner_offset: 0,
        outcome: Outcome::NeedMore,
    };
    let mut off = 0usize;
    loop {
        let rest = stream.get(off..).unwrap_or_default();
        if rest.is_empty() {
            id.outcome = Outcome::NeedMore;
            return id;
        }
        let mut need_more = false;
        let mut found = None;
        for p in protocols {
            if !p.probe(rest) {
                continue;
            }
            match p.parse(rest) {
                Parse::Done(f) => {
                    found = Some(f);
                    break;
                }
                Parse::NeedMore => need_more = true,
                Parse::NotThis => {}
            }
        }
        match found {
            Some(Found::Preamble { len, name })
                if len > 0 && usize::from(id.layers) < MAX_LAYERS =>
            {
                id.layers += 1;
                id.preamble_names.extend(name);
                off += len;
                id.inner_offset = off;
            }
            Some(Found::Preamble { .. }) => {
                // An empty or too deeply nested preamble: stop here with what we have.
                id.outcome = Outcome::Opaque;
                return id;
            }
            Some(Found::Tls(ch)) => {
                id.outcome = Outcome::Tls(ch);
                return id;
            }
            Some(Found::Http { req, complete }) => {
                id.outcome = Outcome::Http { req, complete };
                return id;
            }
            None => {
                id.outcome = if need_more {
                    Outcome::NeedMore
                } else if id.layers > 0 {
                    Outcome::Opaque
                } else {
                    Outcome::NotThis
                };
                return id;
            }
        }
    }
}

/// One datagram protocol that identifies machines.
pub trait DatagramProtocol: Sync {
    /// Stable label (tests, debugging).
    fn name(&self) -> &'static str;
    /// Whether a UDP datagram between these ports could be this protocol. Allocation-free
    /// and cheap: it runs on every UDP datagram.
    fn probe(&self, payload: &[u8], src_port: u16, dst_port: u16) -> bool;
    /// Report what the datagram (sent by `src`) says about a machine; only called when
    /// `probe` passed.
    fn observe<'a>(&self, payload: &'a [u8], src: IpAddr, out: &mut dyn FnMut(Observation<'a>));
}

/// Every machine-identifying datagram protocol.
pub static DATAGRAM: &[&dyn DatagramProtocol] = &[&Dhcp, &Nbns];

/// Run every datagram protocol whose probe passes over one UDP datagram.
pub fn observe_datagram<'a>(
    payload: &'a [u8],
    src: (IpAddr, u16),
    dst_port: u16,
    out: &mut dyn FnMut(Observation<'a>),
) {
    for p in DATAGRAM {
        if p.probe(payload, src.1, dst_port) {
            p.observe(payload, src.0, out);
        }
    }
}

/// DHCP: host name and FQDN of a client, an ACK's address binding.
struct Dhcp;

impl DatagramProtocol for Dhcp {
    fn name(&self) -> &'static str {
        "dhcp"
    }
    fn probe(&self, payload: &[u8], src_port: u16, dst_port: u16) -> bool {
        dhcp::probe(payload, src_port, dst_port)
    }
    fn observe<'a>(&self, payload: &'a [u8], _src: IpAddr, out: &mut dyn FnMut(Observation<'a>)) {
        if let Some(m) = dhcp::parse(payload) {
            dhcp::observe(&m, out);
        }
    }
}

/// NetBIOS name service: the names a machine registers.
struct Nbns;

impl DatagramProtocol for Nbns {
    fn name(&self) -> &'static str {
        "nbns"
    }
    fn probe(&self, payload: &[u8], src_port: u16, dst_port: u16) -> bool {
        nbns::probe(payload, src_port, dst_port)
    }
    fn observe<'a>(&self, payload: &'a [u8], src: IpAddr, out: &mut dyn FnMut(Observation<'a>)) {
        nbns::observe(payload, src, out);
    }
}

/// TLS: the ClientHello's SNI.
struct TlsHello;

impl StreamProtocol for TlsHello {
    fn name(&self) -> &'static str {
        "tls"
    }
    fn probe(&self, s: &[u8]) -> bool {
        tls::probe(s)
    }
    fn parse(&self, s: &[u8]) -> Parse<Found> {
        tls::parse_client_hello(s).map(Found::Tls)
    }
}

/// HTTP/1.x: the Host header; a CONNECT request is a preamble naming the tunnel's destination.
struct HttpHead;

impl StreamProtocol for HttpHead {
    fn name(&self) -> &'static str {
        "http"
    }
    fn probe(&self, s: &[u8]) -> bool {
        http::probe(s)
    }
    fn parse(&self, s: &[u8]) -> Parse<Found> {
        match http::next_request(s) {
            Parse::Done((req, len)) if req.method == "CONNECT" => Parse::Done(Found::Preamble {
                len,
                name: req.host.map(|host| Named {
                    host,
                    source: NameSource::HttpConnect,
                }),
            }),
            Parse::Done((req, _)) => Parse::Done(Found::Http {
                req,
                complete: true,
            }),
            Parse::NeedMore => match http::parse_request_head_final(s) {
                // The head goes on (or never ends) but its Host line is complete.
                Some(req) if req.host.is_some() && req.method != "CONNECT" => {
                    Parse::Done(Found::Http {
                        req,
                        complete: false,
                    })
                }
                _ => Parse::NeedMore,
            },
            Parse::NotThis => Parse::NotThis,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_protocol_has_a_distinct_name() {
        let mut names: Vec<&str> = CLIENT_STREAM.iter().map(|p| p.name()).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
        let mut names: Vec<&str> = DATAGRAM.iter().map(|p| p.name()).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    #[test]
    fn datagrams_reach_their_protocol_by_port() {
        use std::net::Ipv4Addr;
        let a = Ipv4Addr::new(192, 168, 1, 33);
        let nb = nbns::tests::registration(b"WIN-PC33", 0, false, a);
        let mac = [0, 0x15, 0x5d, 0x0a, 0, 0x21];
        let dh = dhcp::tests::message(
            1,
            dhcp::REQUEST,
            a,
            Ipv4Addr::UNSPECIFIED,
            mac,
            &[(12, b"WIN-PC33")],
        );
        let src = IpAddr::V4(a);
        let mut kinds = Vec::new();
        observe_datagram(&nb, (src, 137), 137, &mut |o| kinds.push(o.kind));
        observe_datagram(&dh, (src, 68), 67, &mut |o| kinds.push(o.kind));
        // The right bytes on the wrong ports are nothing.
        observe_datagram(&dh, (src, 5000), 53, &mut |o| kinds.push(o.kind));
        observe_datagram(&nb, (src, 137), 138, &mut |o| kinds.push(o.kind));
        use super::super::identity::IdentityKind::*;
        assert_eq!(kinds, vec![Netbios, DhcpHostName]);
    }

    #[test]
    fn plain_http_and_partial_head() {
        let id = identify(b"GET /a HTTP/1.1\r\nHost: Example.com\r\n\r\n");
        match id.outcome {
            Outcome::Http { req, complete } => {
                assert!(complete);
                assert_eq!(req.host.as_deref(), Some("example.com"));
            }
            o => panic!("{o:?}"),
        }
        // A head that does not end yet, but whose Host line is complete.
        let id = identify(b"GET /a HTTP/1.1\r\nHost: example.com\r\nX-Long: aaaa");
        match id.outcome {
            Outcome::Http { req, complete } => {
                assert!(!complete);
                assert_eq!(req.host.as_deref(), Some("example.com"));
            }
            o => panic!("{o:?}"),
        }
        assert_eq!(
            identify(b"GET /a HTTP/1.1\r\nHo").outcome,
            Outcome::NeedMore
        );
        assert_eq!(identify(b"\x00\x01\x02\x03junk").outcome, Outcome::NotThis);
    }

    #[test]
    fn connect_then_plain_bytes() {
        let s =
            b"CONNECT inner.example:443 HTTP/1.1\r\nHost: inner.example:443\r\n\r\n\x17\x03\x03";
        let id = identify(s);
        assert_eq!(id.layers, 1);
        assert_eq!(
            id.preamble_names,
            vec![Named {
                host: "inner.example".into(),
                source: NameSource::HttpConnect
            }]
        );
        assert_eq!(id.outcome, Outcome::Opaque);
        // The CONNECT alone: named, waiting for the tunnel.
        let id = identify(&s[..s.len() - 3]);
        assert_eq!(id.outcome, Outcome::NeedMore);
        assert_eq!(id.preamble_names.len(), 1);
    }

    #[test]
    fn layers_are_bounded() {
        // Five PROXY v1 headers in a row: four are walked, the fifth stops identification.
        let one = b"PROXY TCP4 1.2.3.4 5.6.7.8 1000 443\r\n";
        let s: Vec<u8> = one.iter().copied().cycle().take(one.len() * 5).collect();
        let id = identify(&s);
        assert_eq!(usize::from(id.layers), MAX_LAYERS);
        assert_eq!(id.outcome, Outcome::Opaque);
    }
}
