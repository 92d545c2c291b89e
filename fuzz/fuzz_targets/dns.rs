//! DNS messages over UDP (one message) and TCP (length-prefixed stream), with name bounds.
#![no_main]
use egressmap::proto::dns;
use libfuzzer_sys::fuzz_target;

/// Names are at most 255 octets on the wire; presentation escapes (`\ddd`, like tshark) can
/// make one up to four times longer, never more.
const MAX_PRESENTED: usize = 4 * 255;

fn check(m: &dns::DnsMessage) {
    for (q, _) in &m.questions {
        assert!(
            q.len() <= MAX_PRESENTED,
            "question name of {} bytes",
            q.len()
        );
    }
    for a in &m.answers {
        assert!(a.name.len() <= MAX_PRESENTED);
        if let dns::AnswerData::Cname(c) = &a.data {
            assert!(c.len() <= MAX_PRESENTED);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(m) = dns::parse(data) {
        check(&m);
    }
    let (msgs, used) = dns::split_tcp(data);
    assert!(used <= data.len());
    assert_eq!(used, msgs.iter().map(|m| m.len() + 2).sum::<usize>());
    for m in msgs {
        if let Some(m) = dns::parse(m) {
            check(&m);
        }
    }
    let _ = dns::probe_udp(data, 53, 40000);
});
