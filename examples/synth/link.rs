//! Link-layer framings around an IP packet. Direction matters: MAC order and the SLL2 packet
//! type depend on whether the frame leaves the capturing host (`outgoing`) or arrives at it.

pub const LINKTYPE_ETHERNET: u32 = 1;
pub const LINKTYPE_RAW: u32 = 101;
pub const LINKTYPE_LINUX_SLL: u32 = 113;
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_VLAN: u16 = 0x8100;
pub const ETHERTYPE_QINQ: u16 = 0x88a8;

/// The capturing host (a Hyper-V OUI, as on a Windows VM).
pub const HOST_MAC: [u8; 6] = [0x00, 0x15, 0x5d, 0x0a, 0x00, 0x0a];
thread_local! {
    /// The capturing host's MAC for frames built on this thread (`gen_week --fleet` writes
    /// several machines into one capture); [`HOST_MAC`] unless set.
    static CURRENT_HOST_MAC: std::cell::Cell<[u8; 6]> = const { std::cell::Cell::new(HOST_MAC) };
}

/// Frames built from now on come from (and go to) this host MAC.
#[allow(dead_code)] // used by gen_week only
pub fn set_host_mac(mac: [u8; 6]) {
    CURRENT_HOST_MAC.with(|c| c.set(mac));
}

/// The host MAC frames are built with.
pub fn host_mac() -> [u8; 6] {
    CURRENT_HOST_MAC.with(|c| c.get())
}

/// The default gateway.
pub const GATEWAY_MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x01];

const ARPHRD_ETHER: u16 = 1;
const PACKET_HOST: u8 = 0;
const PACKET_OUTGOING: u8 = 4;

#[derive(Clone, Copy, Debug)]
pub enum Link {
    Ethernet,
    /// One 802.1Q tag.
    Vlan(u16),
    /// 802.1ad outer tag (TPID 0x88a8) then 802.1Q inner tag (TPID 0x8100).
    QinQ {
        outer: u16,
        inner: u16,
    },
    /// Linux cooked capture v2 (20-byte header).
    Sll2 {
        ifindex: u32,
    },
    /// Bare IPv4/IPv6, no link header.
    RawIp,
}

/// (destination, source) MACs of a frame the host sends (`outgoing`) or receives.
pub fn macs(outgoing: bool) -> ([u8; 6], [u8; 6]) {
    if outgoing {
        (GATEWAY_MAC, host_mac())
    } else {
        (host_mac(), GATEWAY_MAC)
    }
}

/// An Ethernet II frame of any ethertype (the framings a mirror port carries around IP: MPLS,
/// PPPoE, MACsec, Cisco MetaData, ...): destination, source, `et`, then `body`.
pub fn ethernet(et: u16, body: &[u8], outgoing: bool) -> Vec<u8> {
    let (dst, src) = macs(outgoing);
    [&dst[..], &src, &et.to_be_bytes(), body].concat()
}

/// An 802.11 QoS data frame (to or from the distribution system) carrying `ip` behind
/// LLC/SNAP, as access points tunnel it to their controller.
pub fn wifi_data(ip: &[u8], to_ds: bool) -> Vec<u8> {
    let mut f = vec![0x88, if to_ds { 0x01 } else { 0x02 }, 0x2c, 0x00];
    f.extend_from_slice(&[0x00, 0x1a, 0x1e, 0x00, 0x00, 0x01]);
    f.extend_from_slice(&host_mac());
    f.extend_from_slice(&GATEWAY_MAC);
    f.extend_from_slice(&[0x10, 0x00, 0x00, 0x00]); // sequence control, QoS control
    f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0]);
    f.extend_from_slice(&ethertype_of(ip).to_be_bytes());
    f.extend_from_slice(ip);
    f
}

pub fn ethertype_of(ip: &[u8]) -> u16 {
    match ip.first().map(|b| b >> 4) {
        Some(6) => ETHERTYPE_IPV6,
        _ => ETHERTYPE_IPV4,
    }
}

impl Link {
    pub fn linktype(&self) -> u32 {
        match self {
            Link::Ethernet | Link::Vlan(_) | Link::QinQ { .. } => LINKTYPE_ETHERNET,
            Link::Sll2 { .. } => LINKTYPE_LINUX_SLL2,
            Link::RawIp => LINKTYPE_RAW,
        }
    }

    pub fn frame(&self, ip: &[u8], outgoing: bool) -> Vec<u8> {
        let (dst, src) = macs(outgoing);
        let et = ethertype_of(ip);
        let mut f = Vec::with_capacity(ip.len() + 22);
        match *self {
            Link::Ethernet | Link::Vlan(_) | Link::QinQ { .. } => {
                f.extend_from_slice(&dst);
                f.extend_from_slice(&src);
                match *self {
                    Link::Vlan(id) => {
                        f.extend_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
                        f.extend_from_slice(&(id & 0x0fff).to_be_bytes());
                    }
                    Link::QinQ { outer, inner } => {
                        f.extend_from_slice(&ETHERTYPE_QINQ.to_be_bytes());
                        f.extend_from_slice(&(outer & 0x0fff).to_be_bytes());
                        f.extend_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
                        f.extend_from_slice(&(inner & 0x0fff).to_be_bytes());
                    }
                    _ => {}
                }
                f.extend_from_slice(&et.to_be_bytes());
            }
            Link::Sll2 { ifindex } => {
                f.extend_from_slice(&et.to_be_bytes());
                f.extend_from_slice(&[0, 0]);
                f.extend_from_slice(&ifindex.to_be_bytes());
                f.extend_from_slice(&ARPHRD_ETHER.to_be_bytes());
                f.push(if outgoing {
                    PACKET_OUTGOING
                } else {
                    PACKET_HOST
                });
                f.push(6);
                f.extend_from_slice(&src);
                f.extend_from_slice(&[0, 0]);
            }
            Link::RawIp => {}
        }
        f.extend_from_slice(ip);
        f
    }
}
