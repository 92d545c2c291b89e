//! DNS question names from arbitrary label bytes: the presented name (tshark-style escapes,
//! README "Names") never holds a control character, stays within four bytes per wire byte,
//! names the root as nothing, and decodes back to the wire bytes (ASCII lowercased) whenever
//! no label holds `.` or `\`, which the rendering leaves as is.
#![no_main]
use egressmap::proto::dns;
use libfuzzer_sys::fuzz_target;

/// The labels the input spells: a length byte (taken modulo 64, 0 skipped), then that many bytes.
fn labels(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() && out.len() < 8 {
        let n = usize::from(data[i] % 64);
        i += 1;
        if n == 0 {
            continue;
        }
        let Some(l) = data.get(i..i + n) else { break };
        out.push(l);
        i += n;
    }
    out
}


fuzz_target!(|data: &[u8]| {
    let labels = labels(data);
    let mut msg = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in &labels {
        msg.push(l.len() as u8);
        msg.extend_from_slice(l);
    }
    msg.extend_from_slice(&[0, 0, 1, 0, 1]);
    let wire_len: usize = labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1;
    if wire_len > 255 {
        // Too long to be a name: unusable, never truncated into another name.
        assert!(dns::parse(&msg).is_none_or(|m| m.questions.is_empty()));
        return;
    }
    let m = dns::parse(&msg).expect("a well-formed query parses");
    assert_eq!(m.questions.len(), 1);
    let name = &m.questions[0].0;
    assert!(!name.chars().any(|c| c < ' ' || c == '\u{7f}'), "{name:?}");
    assert!(name.len() <= 4 * wire_len);
    if labels.is_empty() {
        assert_eq!(name, "", "the root names nothing");
    }
    if !labels.iter().any(|l| l.contains(&b'.') || l.contains(&b'\\')) {
        let want = labels.join(&b'.').to_ascii_lowercase();
        assert_eq!(dns::unescape_presented(name), Some(want), "{name:?}");
    }
});
