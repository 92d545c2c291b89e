//! HTTP request heads: one head, the final-stream variant, and a keep-alive walk over pipelined
//! requests (each step must consume bytes and stay within the input).
#![no_main]
use egressmap::proto::{http, Parse};
use libfuzzer_sys::fuzz_target;

fn check(r: &http::HttpRequest) {
    if let Some(h) = &r.host {
        assert!(!h.is_empty() && h.len() <= egressmap::proto::MAX_HOST_LEN);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Parse::Done(r) = http::parse_request_head(data) {
        check(&r);
    }
    if let Some(r) = http::parse_request_head_final(data) {
        check(&r);
    }
    let mut rest = data;
    let mut steps = 0;
    while let Parse::Done((r, used)) = http::next_request(rest) {
        check(&r);
        assert!(used > 0 && used <= rest.len() && used <= http::MAX_HEAD);
        rest = &rest[used..];
        steps += 1;
        assert!(steps <= data.len());
    }
});
