//! Address classes: Microsoft's method counts only traffic to public addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is a public unicast address: not private (RFC 1918), CGNAT, loopback, link-local,
/// multicast, broadcast, documentation, benchmarking, reserved, or IPv6 ULA/site-local.
pub fn is_public(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_public_v4(a),
        IpAddr::V6(a) => is_public_v6(a),
    }
}

fn is_public_v4(a: &Ipv4Addr) -> bool {
    let o = a.octets();
    !(a.is_unspecified()
        || a.is_private()
        || a.is_loopback()
        || a.is_link_local()
        || a.is_multicast()
        || a.is_broadcast()
        || a.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64/10 CGNAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0/24 IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18/15 benchmarking
        || o[0] >= 240) // reserved
}

fn is_public_v6(a: &Ipv6Addr) -> bool {
    if let Some(v4) = a.to_ipv4_mapped() {
        return is_public_v4(&v4);
    }
    let s = a.segments();
    // Global unicast is 2000::/3; within it, exclude documentation and other special ranges.
    (s[0] & 0xe000) == 0x2000
        && !(s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        && !(s[0] == 0x2001 && s[1] < 0x0200) // 2001::/23 IETF special purpose (incl. Teredo)
        && s[0] != 0x2002 // 6to4 relay addresses
        && !(s[0] == 0x3fff && s[1] < 0x1000) // 3fff::/20 documentation
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> bool {
        is_public(&s.parse().expect("test address"))
    }

    #[test]
    fn classes() {
        for public in [
            "13.107.4.52",
            "20.42.65.92",
            "8.8.8.8",
            "2620:1ec:c11::200",
            "2a01:111:f100::1",
        ] {
            assert!(p(public), "{public} is public");
        }
        for private in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.1.1",
            "127.0.0.1",
            "169.254.1.1",
            "224.0.0.251",
            "239.255.255.250",
            "255.255.255.255",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.9",
            "198.18.0.1",
            "0.0.0.0",
            "240.0.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "ff02::fb",
            "2001:db8::1",
            "::ffff:10.0.0.1",
            "::",
        ] {
            assert!(!p(private), "{private} is not public");
        }
        assert!(p("172.32.0.1") && p("100.128.0.1") && p("::ffff:13.107.4.52"));
    }
}
