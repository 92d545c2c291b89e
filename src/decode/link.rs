//! Link layers: Ethernet (802.1Q, QinQ), Linux SLL and SLL2, raw IP, BSD null/loop, PPP, ...

use super::{DecodeError, Vlans};
use crate::capture::LinkType;

/// Strip the link layer of a record: returns the bytes starting at the IP header (IPv4 or IPv6,
/// told apart by the version nibble), recording VLAN tags on the way.
pub fn strip<'a>(
    link: LinkType,
    data: &'a [u8],
    vlans: &mut Vlans,
) -> Result<&'a [u8], DecodeError> {
    let _ = (link, data, vlans);
    Err(DecodeError::UnsupportedLink)
}
