//! TLS ClientHello parsing, both from a stream (records) and from a bare handshake message.
#![no_main]
use egressmap::proto::{tls, Parse};
use libfuzzer_sys::fuzz_target;

fn check(ch: &tls::ClientHello) {
    if let Some(s) = &ch.sni {
        assert!(!s.is_empty() && s.len() <= egressmap::proto::MAX_HOST_LEN);
        assert_eq!(s, &s.to_ascii_lowercase());
    }
    assert!(ch.alpn.len() <= 16);
}

fuzz_target!(|data: &[u8]| {
    match tls::parse_client_hello(data) {
        Parse::Done(ch) => {
            check(&ch);
            // More bytes after a complete ClientHello do not change it.
            let mut longer = data.to_vec();
            longer.extend_from_slice(&[0x17, 3, 3, 0, 1, 0]);
            assert_eq!(tls::parse_client_hello(&longer).done(), Some(ch));
        }
        Parse::NeedMore | Parse::NotThis => {}
    }
    if let Some(ch) = tls::parse_client_hello_message(data) {
        check(&ch);
    }
});
