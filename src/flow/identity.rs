//! What a flow says about machines, as the flow keeps it until the report reads it: a name, a
//! link-layer address, an address (see [`crate::proto::identity`], whose parsers produce them
//! with their names bounded and made printable).

use std::net::IpAddr;

use crate::capture::Nanos;

/// A link-layer (Ethernet) address.
pub type Mac = [u8; 6];

/// Where an identity came from. The order is the preference for a machine's display name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentityKind {
    /// DHCP option 12 (Host Name) in a client's DISCOVER, REQUEST or INFORM.
    DhcpHostName,
    /// A NetBIOS name the machine registered or refreshed (unique workstation/server name).
    Netbios,
    /// DHCP option 81 (Client FQDN).
    DhcpFqdn,
    /// A DNS PTR answer for the machine's address.
    DnsPtr,
    /// A DHCP ACK binding a hardware address to an address (no name).
    DhcpLease,
    /// The link-layer source address of a client's frames (no name).
    Link,
}

impl IdentityKind {
    /// Stable label used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::DhcpHostName => "dhcp",
            IdentityKind::Netbios => "netbios",
            IdentityKind::DhcpFqdn => "dhcp-fqdn",
            IdentityKind::DnsPtr => "dns-ptr",
            IdentityKind::DhcpLease => "dhcp-lease",
            IdentityKind::Link => "link",
        }
    }

    pub fn from_label(s: &str) -> Option<IdentityKind> {
        Some(match s {
            "dhcp" => IdentityKind::DhcpHostName,
            "netbios" => IdentityKind::Netbios,
            "dhcp-fqdn" => IdentityKind::DhcpFqdn,
            "dns-ptr" => IdentityKind::DnsPtr,
            "dhcp-lease" => IdentityKind::DhcpLease,
            "link" => IdentityKind::Link,
            _ => return None,
        })
    }
}

/// An identity kept with a flow until the report reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub kind: IdentityKind,
    pub name: Option<Box<str>>,
    pub mac: Option<Mac>,
    pub addr: Option<IpAddr>,
    /// For [`IdentityKind::Link`]: capture time of the frame (the earliest one counts).
    pub at: Nanos,
}
