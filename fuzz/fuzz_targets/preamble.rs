//! Client-stream identification through preambles (SOCKS4/4a/5, HTTP CONNECT, PROXY v1/v2,
//! STARTTLS for SMTP/POP3/IMAP/FTP/XMPP/LDAP/PostgreSQL/ADB): offsets stay inside the stream,
//! the layers walked are bounded, names are normalised host names (printable ASCII, lowercase,
//! at most 253 bytes), and identification is a function of the bytes.
#![no_main]
use egressmap::proto::registry::{identify, Outcome, MAX_LAYERS};
use egressmap::proto::MAX_HOST_LEN;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let id = identify(data);
    assert!(id.inner_offset <= data.len());
    // Every layer takes at least one byte, and nesting is bounded.
    assert!(usize::from(id.layers) <= id.inner_offset.min(MAX_LAYERS));
    for n in &id.preamble_names {
        assert!(!n.host.is_empty());
        assert!(n.host.len() <= MAX_HOST_LEN, "{:?}", n.host);
        assert!(
            n.host.bytes().all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase()),
            "{:?}",
            n.host
        );
    }
    if matches!(id.outcome, Outcome::NotThis) {
        assert!(id.preamble_names.is_empty() && id.layers == 0);
    }
    assert_eq!(identify(data), id, "identification is deterministic");
});
