//! Who each machine of a report is: its MAC and names, from what its flows carried.
//!
//! Flows bring two kinds of evidence: the client's link-layer source address
//! ([`Flow::client_mac`]) and identities their datagrams stated ([`crate::flow::Extra`]'s
//! `identities`: DHCP host names and leases, NetBIOS registrations, DNS PTR answers). Each is
//! counted once per flow, from the flow's last record, so the tallies depend on the set of
//! flows only, not on their order or on which worker owned them. A DHCP name is tied to the
//! MAC it came from too (a DISCOVER from 0.0.0.0 has no address yet), and reaches every address
//! of the machine whose frames came from that MAC, when that is one machine: one IPv4 address
//! and a few IPv6 ones (a router's MAC fronts many addresses and names none of them).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::model::{Client, ClientIdentity};
use crate::flow::Flow;
use crate::proto::identity::{mac_text, usable_addr, IdentityKind, Mac};

/// Source label of a MAC taken from the client's own frames.
pub const LINK: &str = "link";
/// Source label of a MAC a DHCP message bound to the address.
pub const DHCP_MAC: &str = "dhcp-mac";
/// Distinct (source, value) pairs kept per address or MAC; more are counted as dropped.
const MAX_VALUES: usize = 16;
/// Addresses one machine may have behind its MAC (one IPv4, temporary IPv6 ones): more means a
/// router, whose MAC names none of them.
const MAX_ADDRESSES_PER_MAC: usize = 8;
/// Addresses and MACs tracked at most.
const MAX_KEYS: usize = 65_536;

type Tally = BTreeMap<(&'static str, String), u64>;

/// Identity evidence gathered from flows (part of the report aggregator).
#[derive(Default, Clone)]
pub struct Identities {
    by_addr: HashMap<IpAddr, Tally, ahash::RandomState>,
    by_mac: HashMap<Mac, Tally, ahash::RandomState>,
    /// Observations not kept because a bound was reached (flows' own bounds included).
    pub dropped: u64,
}

fn bump<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, Tally, ahash::RandomState>,
    key: K,
    value: (&'static str, String),
    dropped: &mut u64,
) {
    if !map.contains_key(&key) && map.len() >= MAX_KEYS {
        *dropped += 1;
        return;
    }
    let t = map.entry(key).or_default();
    if let Some(n) = t.get_mut(&value) {
        *n += 1;
    } else if t.len() < MAX_VALUES {
        t.insert(value, 1);
    } else {
        *dropped += 1;
    }
}

impl Identities {
    /// What one flow says. Only its last record counts (interim records of an open flow are
    /// copies), so a flow is counted once.
    pub fn observe(&mut self, f: &Flow) {
        if f.interim().is_some() {
            return;
        }
        let client = f.client().0;
        if f.client_mac != [0; 6] && usable_addr(&client) {
            bump(
                &mut self.by_addr,
                client,
                (LINK, mac_text(&f.client_mac)),
                &mut self.dropped,
            );
        }
        let x = f.extra();
        self.dropped += u64::from(x.identities_dropped);
        for id in &x.identities {
            let name = id
                .name
                .as_deref()
                .map(|n| (id.kind.as_str(), n.to_string()));
            if let Some(addr) = id.addr {
                if let Some(n) = name {
                    bump(&mut self.by_addr, addr, n, &mut self.dropped);
                }
                if let Some(m) = id.mac {
                    bump(
                        &mut self.by_addr,
                        addr,
                        (DHCP_MAC, mac_text(&m)),
                        &mut self.dropped,
                    );
                }
            }
            if let (Some(mac), Some(n)) = (id.mac, &id.name) {
                let n = (id.kind.as_str(), n.to_string());
                bump(&mut self.by_mac, mac, n, &mut self.dropped);
            }
        }
    }

    /// Fill in every machine's `identity`, `mac` and `name`.
    pub fn apply(&self, clients: &mut [Client]) {
        let mut tallies: Vec<Tally> = clients
            .iter()
            .map(|c| {
                c.address
                    .parse::<IpAddr>()
                    .ok()
                    .and_then(|a| self.by_addr.get(&a))
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        // Names stated for a MAC alone go to the one machine whose frames came from it.
        let mut owners: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, t) in tallies.iter().enumerate() {
            if let Some(mac) = best(t, LINK) {
                owners.entry(mac).or_default().push(i);
            }
        }
        for (mac, names) in &self.by_mac {
            let Some(own) = owners.get(&mac_text(mac)) else {
                continue;
            };
            // One machine: a single IPv4 address (and its IPv6 ones) behind the MAC.
            let v4 = own
                .iter()
                .filter(|i| clients.get(**i).is_some_and(|c| !c.address.contains(':')))
                .count();
            if v4 > 1 || own.len() > MAX_ADDRESSES_PER_MAC {
                continue;
            }
            for i in own {
                if let Some(t) = tallies.get_mut(*i) {
                    for (k, n) in names {
                        let e = t.entry((k.0, k.1.clone())).or_default();
                        *e = (*e).max(*n);
                    }
                }
            }
        }
        for (c, t) in clients.iter_mut().zip(tallies) {
            c.identity = t
                .into_iter()
                .map(|((source, value), count)| ClientIdentity {
                    source: source.to_string(),
                    value,
                    count,
                })
                .collect();
            choose(c);
        }
    }
}

/// The most counted value of a source (ties: the smallest).
fn best(t: &Tally, source: &str) -> Option<String> {
    t.iter()
        .filter(|((s, _), _)| *s == source)
        .max_by(|(a, x), (b, y)| x.cmp(y).then(b.1.cmp(&a.1)))
        .map(|((_, v), _)| v.clone())
}

/// Set `mac` and `name` from `identity`: the MAC most of the machine's own frames came from
/// (else the one DHCP bound to its address), and the name of the best source that has one
/// (DHCP host name, NetBIOS, DHCP FQDN, DNS PTR), most counted first. `identity` is sorted.
pub fn choose(c: &mut Client) {
    c.identity
        .sort_by(|a, b| (&a.source, &a.value).cmp(&(&b.source, &b.value)));
    let top = |source: &str| {
        c.identity
            .iter()
            .filter(|i| i.source == source)
            .max_by(|a, b| a.count.cmp(&b.count).then(b.value.cmp(&a.value)))
            .map(|i| i.value.clone())
    };
    c.mac = top(LINK).or_else(|| top(DHCP_MAC));
    c.name = [
        IdentityKind::DhcpHostName,
        IdentityKind::Netbios,
        IdentityKind::DhcpFqdn,
        IdentityKind::DnsPtr,
    ]
    .iter()
    .find_map(|k| top(k.as_str()));
}

/// The sum of two machines' identity evidence (`egressmap merge`), then [`choose`].
pub fn merge_identity(a: Vec<ClientIdentity>, b: Vec<ClientIdentity>, into: &mut Client) {
    let mut t: BTreeMap<(String, String), u64> = BTreeMap::new();
    for i in a.into_iter().chain(b) {
        *t.entry((i.source, i.value)).or_default() += i.count;
    }
    into.identity = t
        .into_iter()
        .map(|((source, value), count)| ClientIdentity {
            source,
            value,
            count,
        })
        .collect();
    choose(into);
}
