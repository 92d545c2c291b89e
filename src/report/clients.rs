//! Who each machine of a report is: its MAC and names, from what its flows carried.
//!
//! Flows bring the evidence ([`crate::flow::Extra`]'s `identities`): DHCP host names and
//! leases, NetBIOS registrations and DNS PTR answers, counted once per flow that carried them
//! (from the flow's last record), and the link-layer source address of a client's frames, of
//! which the earliest time is kept (a worker puts each address and MAC on its first flow only,
//! so a count would depend on the number of workers; the earliest time does not). Either way
//! the result depends on the set of flows only, not on their order or on which worker owned
//! them. A DHCP name is tied to the
//! MAC it came from too (a DISCOVER from 0.0.0.0 has no address yet), and reaches every address
//! of the machine whose frames came from that MAC, when that is one machine: one IPv4 address
//! and a few IPv6 ones (a router's MAC fronts many addresses and names none of them).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::model::{Client, ClientIdentity};
use super::time::rfc3339_micros;
use crate::capture::Nanos;
use crate::flow::Flow;
use crate::proto::identity::{mac_text, IdentityKind, Mac};

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

/// Per (source, value): flows that carried it, or (link MACs) the earliest frame.
#[derive(Clone, Copy, Default, Debug)]
struct Seen {
    count: u64,
    first: Option<Nanos>,
}

type Tally = BTreeMap<(&'static str, String), Seen>;

/// Identity evidence gathered from flows (part of the report aggregator).
#[derive(Default, Clone)]
pub struct Identities {
    by_addr: HashMap<IpAddr, Tally, ahash::RandomState>,
    by_mac: HashMap<Mac, Tally, ahash::RandomState>,
    /// Observations not kept because a bound was reached (flows' own bounds included).
    pub dropped: u64,
}

/// Count one observation of `value`, or (`at`: a link MAC) keep its earliest time.
fn bump<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, Tally, ahash::RandomState>,
    key: K,
    value: (&'static str, String),
    at: Option<Nanos>,
    dropped: &mut u64,
) {
    if !map.contains_key(&key) && map.len() >= MAX_KEYS {
        *dropped += 1;
        return;
    }
    let t = map.entry(key).or_default();
    if !t.contains_key(&value) && t.len() >= MAX_VALUES {
        *dropped += 1;
        return;
    }
    let e = t.entry(value).or_default();
    match at {
        Some(at) => e.first = Some(e.first.map_or(at, |f| f.min(at))),
        None => e.count += 1,
    }
}

impl Identities {
    /// What one flow says. Only its last record counts (interim records of an open flow are
    /// copies), so a flow is counted once.
    pub fn observe(&mut self, f: &Flow) {
        if f.interim().is_some() {
            return;
        }
        let x = f.extra();
        self.dropped += u64::from(x.identities_dropped);
        for id in &x.identities {
            if id.kind == IdentityKind::Link {
                if let (Some(addr), Some(mac)) = (id.addr, id.mac) {
                    let v = (LINK, mac_text(&mac));
                    bump(&mut self.by_addr, addr, v, Some(id.at), &mut self.dropped);
                }
                continue;
            }
            let name = id
                .name
                .as_deref()
                .map(|n| (id.kind.as_str(), n.to_string()));
            if let Some(addr) = id.addr {
                if let Some(n) = name {
                    bump(&mut self.by_addr, addr, n, None, &mut self.dropped);
                }
                if let Some(m) = id.mac {
                    let v = (DHCP_MAC, mac_text(&m));
                    bump(&mut self.by_addr, addr, v, None, &mut self.dropped);
                }
            }
            if let (Some(mac), Some(n)) = (id.mac, &id.name) {
                let n = (id.kind.as_str(), n.to_string());
                bump(&mut self.by_mac, mac, n, None, &mut self.dropped);
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
            if let Some(mac) = earliest(t) {
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
                        e.count = e.count.max(n.count);
                    }
                }
            }
        }
        for (c, t) in clients.iter_mut().zip(tallies) {
            c.identity = t
                .into_iter()
                .map(|((source, value), n)| ClientIdentity {
                    source: source.to_string(),
                    value,
                    count: n.count,
                    first_seen: n.first.map(rfc3339_micros),
                })
                .collect();
            choose(c);
        }
    }
}

/// The MAC of the earliest frame (ties: the smallest).
fn earliest(t: &Tally) -> Option<String> {
    t.iter()
        .filter_map(|((s, v), n)| (*s == LINK).then_some((n.first?, v)))
        .min()
        .map(|(_, v)| v.clone())
}

/// Set `mac` and `name` from `identity`: the MAC of the machine's earliest frame (else the
/// one DHCP bound to its address most often), and the name of the best source that has one
/// (DHCP host name, NetBIOS, DHCP FQDN, DNS PTR), most counted first. `identity` is sorted.
pub fn choose(c: &mut Client) {
    c.identity
        .sort_by(|a, b| (&a.source, &a.value).cmp(&(&b.source, &b.value)));
    // RFC 3339 UTC with fixed digits: the text orders like the time.
    let link = c
        .identity
        .iter()
        .filter(|i| i.source == LINK)
        .filter_map(|i| Some((i.first_seen.as_deref()?, &i.value)))
        .min()
        .map(|(_, v)| v.clone());
    let top = |source: &str| {
        c.identity
            .iter()
            .filter(|i| i.source == source)
            .max_by(|a, b| a.count.cmp(&b.count).then(b.value.cmp(&a.value)))
            .map(|i| i.value.clone())
    };
    c.mac = link.or_else(|| top(DHCP_MAC));
    c.name = [
        IdentityKind::DhcpHostName,
        IdentityKind::Netbios,
        IdentityKind::DhcpFqdn,
        IdentityKind::DnsPtr,
    ]
    .iter()
    .find_map(|k| top(k.as_str()));
}

/// The sum of two machines' identity evidence (`egressmap merge`): counts added, the earliest
/// time kept; then [`choose`].
pub fn merge_identity(a: Vec<ClientIdentity>, b: Vec<ClientIdentity>, into: &mut Client) {
    let mut t: BTreeMap<(String, String), (u64, Option<String>)> = BTreeMap::new();
    for i in a.into_iter().chain(b) {
        let e = t.entry((i.source, i.value)).or_default();
        e.0 += i.count;
        e.1 = match (e.1.take(), i.first_seen) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
    }
    into.identity = t
        .into_iter()
        .map(|((source, value), (count, first_seen))| ClientIdentity {
            source,
            value,
            count,
            first_seen,
        })
        .collect();
    choose(into);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{FlowKey, UDP};
    use crate::proto::identity::Identity;

    fn flow(client: &str, ids: Vec<Identity>) -> Flow {
        let (key, fwd) = FlowKey::of_tuple(
            UDP,
            (client.parse().unwrap(), 50000),
            ("192.0.2.1".parse().unwrap(), 443),
            Default::default(),
        );
        let mut f = Flow::new(key, fwd, 0, 0);
        for id in ids {
            f.add_identity(id);
        }
        f
    }

    fn id(
        kind: IdentityKind,
        name: Option<&str>,
        mac: Option<Mac>,
        addr: Option<&str>,
        at: u64,
    ) -> Identity {
        Identity {
            kind,
            name: name.map(Into::into),
            mac,
            addr: addr.map(|a| a.parse().unwrap()),
            at,
        }
    }

    fn client(addr: &str) -> Client {
        Client {
            address: addr.into(),
            ..Default::default()
        }
    }

    const PC: Mac = [0, 0x15, 0x5d, 0, 0, 1];
    const ROUTER: Mac = [0, 0x15, 0x5d, 0, 0, 0xfe];

    #[test]
    fn names_reach_the_machine_by_address_and_by_mac() {
        use IdentityKind::*;
        let mut ids = Identities::default();
        // A DISCOVER (MAC only), the machine's frames from two addresses, later a second MAC.
        ids.observe(&flow(
            "0.0.0.0",
            vec![id(DhcpHostName, Some("PC-1"), Some(PC), None, 0)],
        ));
        ids.observe(&flow(
            "10.0.0.5",
            vec![id(Link, None, Some(PC), Some("10.0.0.5"), 20)],
        ));
        ids.observe(&flow(
            "10.0.0.5",
            vec![id(Link, None, Some(ROUTER), Some("10.0.0.5"), 90)],
        ));
        ids.observe(&flow(
            "2001:db8::5",
            vec![id(Link, None, Some(PC), Some("2001:db8::5"), 30)],
        ));
        ids.observe(&flow(
            "10.0.0.5",
            vec![id(Netbios, Some("PC-1-NB"), None, Some("10.0.0.5"), 0)],
        ));
        // Two IPv4 addresses behind one MAC: a router, whose DHCP name names neither.
        ids.observe(&flow(
            "0.0.0.0",
            vec![id(DhcpHostName, Some("RTR"), Some(ROUTER), None, 0)],
        ));
        ids.observe(&flow(
            "10.0.0.7",
            vec![id(Link, None, Some(ROUTER), Some("10.0.0.7"), 10)],
        ));
        ids.observe(&flow(
            "10.0.0.8",
            vec![id(Link, None, Some(ROUTER), Some("10.0.0.8"), 10)],
        ));
        let mut cs = vec![
            client("10.0.0.5"),
            client("2001:db8::5"),
            client("10.0.0.7"),
            client("10.0.0.8"),
        ];
        ids.apply(&mut cs);
        assert_eq!(
            cs[0].mac.as_deref(),
            Some("00:15:5d:00:00:01"),
            "the earliest frame's MAC"
        );
        assert_eq!(cs[0].name.as_deref(), Some("PC-1"), "DHCP before NetBIOS");
        assert_eq!(cs[1].mac, cs[0].mac);
        assert_eq!(cs[1].name.as_deref(), Some("PC-1"));
        assert_eq!(cs[2].mac.as_deref(), Some("00:15:5d:00:00:fe"));
        assert_eq!(cs[2].name, None);
        assert_eq!(cs[3].name, None);
        let nb = cs[0]
            .identity
            .iter()
            .find(|i| i.source == "netbios")
            .unwrap();
        assert_eq!((nb.value.as_str(), nb.count), ("PC-1-NB", 1));

        // Merging a machine with itself: counts add, the earliest time stays, same choice.
        let mut m = client("10.0.0.5");
        merge_identity(cs[0].identity.clone(), cs[0].identity.clone(), &mut m);
        assert_eq!(
            (m.mac.clone(), m.name.clone()),
            (cs[0].mac.clone(), cs[0].name.clone())
        );
        let nb = m.identity.iter().find(|i| i.source == "netbios").unwrap();
        assert_eq!(nb.count, 2);
        let link: Vec<_> = m.identity.iter().filter(|i| i.source == "link").collect();
        assert_eq!(link.len(), 2);
        assert_eq!(
            link,
            cs[0]
                .identity
                .iter()
                .filter(|i| i.source == "link")
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn interim_records_and_bounds() {
        use IdentityKind::*;
        let mut ids = Identities::default();
        let mut f = flow(
            "10.0.0.5",
            vec![id(Netbios, Some("A"), None, Some("10.0.0.5"), 0)],
        );
        let copy = f.interim_copy(crate::flow::InterimKind::Snapshot);
        ids.observe(&copy);
        assert!(ids.by_addr.is_empty(), "an interim copy is not counted");
        ids.observe(&f);
        for i in 0..40 {
            let n = format!("N{i}");
            ids.observe(&flow(
                "10.0.0.5",
                vec![id(Netbios, Some(&n), None, Some("10.0.0.5"), 0)],
            ));
        }
        assert_eq!(
            ids.by_addr.values().next().map(|t| t.len()),
            Some(MAX_VALUES)
        );
        assert_eq!(ids.dropped, 40 + 1 - MAX_VALUES as u64);
    }
}
