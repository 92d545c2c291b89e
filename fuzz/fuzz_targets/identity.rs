//! DHCP and NetBIOS datagrams through the identity registry: no panic, and every name kept is
//! bounded printable ASCII.
#![no_main]
use egressmap::proto::identity::MAX_NAME_BYTES;
use egressmap::proto::{dhcp, nbns, registry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = std::net::IpAddr::from([10, 0, 0, 1]);
    let _ = dhcp::parse(data);
    let _ = nbns::parse_registration(data);
    for (sp, dp) in [(68, 67), (67, 68), (137, 137)] {
        registry::observe_datagram(data, (src, sp), dp, &mut |o| {
            if let Some(id) = o.to_identity() {
                if let Some(n) = id.name {
                    assert!(!n.is_empty() && n.len() <= 4 * MAX_NAME_BYTES);
                    assert!(n.bytes().all(|c| (0x20..0x7f).contains(&c)));
                }
            }
        });
    }
});
