//! The report's DNS view: every name the clients looked up, with its queries, answers and
//! clients, however many names one flow carried (the flow log lists a flow's first names only).
//!
//! Bounded: at most [`MAX_DNS_NAMES`] names are itemised, the alphabetically first ones. That
//! choice makes the view a pure function of the set of messages: the same for any flow order
//! (so for any thread count), and a merge of two views itemises exactly the names, with exactly
//! the counts, the view of both captures together would (a name pushed out once can never come
//! back: every name that pushed it out sorts before it). A name past the bound is never dropped
//! silently: its messages are summed in `unlisted_queries`/`unlisted_answers`.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::net::IpAddr;

use super::model::{DnsName, DnsView};

/// Distinct names itemised at most.
pub const MAX_DNS_NAMES: usize = 50_000;
/// Client addresses listed per name at most (the lowest ones); `more_clients` says when a
/// name had more.
pub const MAX_DNS_CLIENTS: usize = 16;

/// What the signatures say about a looked-up name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NameClass {
    /// Areas of the most specific documented endpoint (empty: undocumented).
    pub areas: Vec<String>,
    pub pattern: Option<String>,
    /// Documented only through a shared cloud's wildcard (see `Report::shared_infrastructure`).
    pub shared: bool,
}

impl NameClass {
    /// `documented`, `undocumented` or `shared-infrastructure` (the view's `status`).
    pub fn status(&self) -> &'static str {
        match (self.areas.is_empty(), self.shared) {
            (true, _) => "undocumented",
            (false, true) => "shared-infrastructure",
            (false, false) => "documented",
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Entry {
    queries: u64,
    answers: u64,
    /// The lowest addresses that asked, at most [`MAX_DNS_CLIENTS`], in listing order.
    clients: Vec<ClientId>,
    more_clients: bool,
    /// Carried from a saved report (`merge`); computed from the signatures otherwise.
    class: Option<NameClass>,
}

/// The bounded per-name counter behind [`DnsView`].
#[derive(Clone, Debug)]
pub struct DnsNames {
    bound: usize,
    names: BTreeMap<String, Entry>,
    queries: u64,
    answers: u64,
    unlisted_queries: u64,
    unlisted_answers: u64,
    uncounted: u64,
}

impl Default for DnsNames {
    fn default() -> Self {
        Self::with_bound(MAX_DNS_NAMES)
    }
}

impl DnsNames {
    pub fn with_bound(bound: usize) -> Self {
        DnsNames {
            bound: bound.max(1),
            names: BTreeMap::new(),
            queries: 0,
            answers: 0,
            unlisted_queries: 0,
            unlisted_answers: 0,
            uncounted: 0,
        }
    }

    /// Messages about a name whose question the flow could not count (its per-flow bound).
    pub fn add_uncounted(&mut self, n: u64) {
        self.uncounted += n;
    }

    /// Add `queries` and `answers` about `name` from `clients` (`more`: further clients not
    /// listed). Past the bound, the name stays itemised only if it sorts before the last one,
    /// which is then pushed out into the unlisted sums.
    pub fn add<'a>(
        &mut self,
        name: &str,
        queries: u64,
        answers: u64,
        clients: impl IntoIterator<Item = &'a str>,
        more: bool,
        class: Option<&NameClass>,
    ) {
        let Some(e) = self.entry(name, queries, answers) else {
            return;
        };
        e.more_clients |= more;
        for c in clients {
            e.add_client(ClientId::parse(c));
        }
        if e.class.is_none() {
            e.class = class.cloned();
        }
    }

    /// [`Self::add`] for one flow's messages: its client's address, no class (the hot path:
    /// one per DNS flow, so nothing is formatted or allocated for a name already itemised).
    pub fn add_flow(&mut self, name: &str, queries: u64, answers: u64, client: IpAddr) {
        if let Some(e) = self.entry(name, queries, answers) {
            e.add_client(ClientId::Addr(client));
        }
    }

    /// Count the messages and return the name's entry (none: the name is past the bound).
    fn entry(&mut self, name: &str, queries: u64, answers: u64) -> Option<&mut Entry> {
        self.queries += queries;
        self.answers += answers;
        if !self.names.contains_key(name) {
            if self.names.len() >= self.bound {
                if self
                    .names
                    .last_key_value()
                    .is_some_and(|(l, _)| l.as_str() < name)
                {
                    self.unlisted_queries += queries;
                    self.unlisted_answers += answers;
                    return None;
                }
                if let Some((_, e)) = self.names.pop_last() {
                    self.unlisted_queries += e.queries;
                    self.unlisted_answers += e.answers;
                }
            }
            self.names.insert(name.to_string(), Entry::default());
        }
        let e = self.names.get_mut(name)?;
        e.queries += queries;
        e.answers += answers;
        Some(e)
    }

    /// Queries counted for `name` (0 when it is not itemised).
    pub fn queries_of(&self, name: &str) -> u64 {
        self.names.get(name).map_or(0, |e| e.queries)
    }

    /// A saved view, to be summed with others (`egressmap merge`).
    pub fn from_view(v: &DnsView) -> Self {
        let mut d = Self::default();
        d.absorb(v);
        d
    }

    /// Add a saved view's counts.
    pub fn absorb(&mut self, v: &DnsView) {
        for n in &v.names {
            let class = NameClass {
                areas: n.areas.clone(),
                pattern: n.pattern.clone(),
                shared: n.status == "shared-infrastructure",
            };
            self.add(
                &n.name,
                n.queries,
                n.answers,
                n.clients.iter().map(String::as_str),
                n.more_clients,
                Some(&class),
            );
        }
        // The itemised counts were added above; the rest arrives as unlisted.
        self.queries += v.unlisted_queries;
        self.answers += v.unlisted_answers;
        self.unlisted_queries += v.unlisted_queries;
        self.unlisted_answers += v.unlisted_answers;
        self.uncounted += v.uncounted_messages;
    }

    /// The view, busiest names first; `classify` gives names without a saved class theirs.
    pub fn to_view(&self, classify: &dyn Fn(&str) -> NameClass) -> DnsView {
        let mut names: Vec<DnsName> = self
            .names
            .iter()
            .map(|(name, e)| {
                let class = e.class.clone().unwrap_or_else(|| classify(name));
                let clients: Vec<String> = e.clients.iter().map(ClientId::to_text).collect();
                DnsName {
                    name: name.clone(),
                    queries: e.queries,
                    answers: e.answers,
                    clients,
                    more_clients: e.more_clients,
                    status: class.status().to_string(),
                    areas: class.areas,
                    pattern: class.pattern,
                }
            })
            .collect();
        names.sort_by(|a, b| b.queries.cmp(&a.queries).then(a.name.cmp(&b.name)));
        DnsView {
            queries: self.queries,
            answers: self.answers,
            names,
            unlisted_queries: self.unlisted_queries,
            unlisted_answers: self.unlisted_answers,
            uncounted_messages: self.uncounted,
        }
    }
}

impl Entry {
    /// Keep `c` if it is among the lowest [`MAX_DNS_CLIENTS`] distinct clients so far; a
    /// client past them sets `more_clients`.
    fn add_client(&mut self, c: ClientId) {
        let Err(at) = self.clients.binary_search(&c) else {
            return;
        };
        if self.clients.len() >= MAX_DNS_CLIENTS {
            self.more_clients = true;
            if at >= self.clients.len() {
                return;
            }
            self.clients.pop();
        }
        self.clients.insert(at, c);
    }
}

/// A client as the view lists them: addresses in numeric order (IPv4 before IPv6), then text
/// that is no address, in string order. Two clients are the same when their text is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ClientId {
    /// An address, written the way `IpAddr` displays it (every client the engine counts).
    Addr(IpAddr),
    /// Text from a saved report (`merge`) that is no address, or an address written some
    /// other way (kept verbatim: it is listed as it was).
    Text(Option<IpAddr>, Box<str>),
}

impl ClientId {
    fn parse(s: &str) -> ClientId {
        match s.parse::<IpAddr>() {
            Ok(a) if a.to_string() == s => ClientId::Addr(a),
            p => ClientId::Text(p.ok(), s.into()),
        }
    }

    fn addr(&self) -> Option<IpAddr> {
        match self {
            ClientId::Addr(a) => Some(*a),
            ClientId::Text(a, _) => *a,
        }
    }

    fn to_text(&self) -> String {
        match self {
            ClientId::Addr(a) => a.to_string(),
            ClientId::Text(_, s) => s.to_string(),
        }
    }
}

impl Ord for ClientId {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.addr(), other.addr());
        (a.is_none(), a)
            .cmp(&(b.is_none(), b))
            .then_with(|| match (self, other) {
                (ClientId::Addr(_), ClientId::Addr(_)) => Ordering::Equal,
                (ClientId::Text(_, x), ClientId::Text(_, y)) => x.cmp(y),
                // The same address written two ways (rare: a hand-edited saved report).
                _ => self.to_text().cmp(&other.to_text()),
            })
    }
}

impl PartialOrd for ClientId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// How the view's warnings start (`merge` recomputes them).
pub const WARNING_PREFIX: &str = "DNS view: ";

/// The warning a view's bounds call for (none when nothing was left out).
pub fn warnings(v: &DnsView) -> Vec<String> {
    let mut w = Vec::new();
    if v.unlisted_queries + v.unlisted_answers > 0 {
        w.push(format!(
            "{WARNING_PREFIX}more than {MAX_DNS_NAMES} names looked up; {} queries and {} answers about the alphabetically last ones are counted but not itemised",
            v.unlisted_queries, v.unlisted_answers
        ));
    }
    if v.uncounted_messages > 0 {
        w.push(format!(
            "{WARNING_PREFIX}{} questions not counted per name: their flows asked about more than {} distinct names",
            v.uncounted_messages,
            crate::flow::DNS_COUNTED_PER_FLOW
        ));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(d: &mut DnsNames, msgs: &[(&str, u64, &str)]) {
        for (n, q, c) in msgs {
            d.add(n, *q, 0, [*c], false, None);
        }
    }

    fn class(_: &str) -> NameClass {
        NameClass::default()
    }

    #[test]
    fn the_bound_keeps_the_first_names_whatever_the_order() {
        let msgs = [
            ("d.example", 1, "10.0.0.1"),
            ("a.example", 2, "10.0.0.2"),
            ("c.example", 1, "10.0.0.1"),
            ("b.example", 4, "10.0.0.3"),
            ("d.example", 1, "10.0.0.1"),
        ];
        let mut one = DnsNames::with_bound(2);
        feed(&mut one, &msgs);
        let mut rev = DnsNames::with_bound(2);
        let mut r = msgs;
        r.reverse();
        feed(&mut rev, &r);
        let (v1, v2) = (one.to_view(&class), rev.to_view(&class));
        assert_eq!(v1, v2);
        let got: Vec<(&str, u64)> = v1.names.iter().map(|n| (&*n.name, n.queries)).collect();
        assert_eq!(got, [("b.example", 4), ("a.example", 2)]);
        assert_eq!((v1.queries, v1.unlisted_queries), (9, 3));
    }

    #[test]
    fn merging_views_equals_counting_both() {
        let a = [("x.example", 1, "10.0.0.1"), ("y.example", 2, "10.0.0.2")];
        let b = [("y.example", 1, "10.0.0.9"), ("z.example", 5, "10.0.0.1")];
        let mut both = DnsNames::with_bound(2);
        feed(&mut both, &a);
        feed(&mut both, &b);
        let (mut va, mut vb) = (DnsNames::with_bound(2), DnsNames::with_bound(2));
        feed(&mut va, &a);
        feed(&mut vb, &b);
        let mut m = DnsNames::with_bound(2);
        m.absorb(&va.to_view(&class));
        m.absorb(&vb.to_view(&class));
        let merged = m.to_view(&class);
        let want = both.to_view(&class);
        assert_eq!(merged.names, want.names);
        assert_eq!(
            (merged.queries, merged.unlisted_queries),
            (want.queries, want.unlisted_queries)
        );
        let y = merged.names.iter().find(|n| n.name == "y.example").unwrap();
        assert_eq!(y.clients, ["10.0.0.2", "10.0.0.9"]);
    }

    /// The listing order spelled out: addresses numerically (IPv4 first), then other text.
    fn reference_lowest(clients: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = clients.iter().map(|s| s.to_string()).collect();
        v.sort_by_cached_key(|s| {
            let a = s.parse::<IpAddr>().ok();
            (a.is_none(), a, s.clone())
        });
        v.dedup();
        v.truncate(MAX_DNS_CLIENTS);
        v
    }

    #[test]
    fn clients_listed_are_the_lowest_distinct_ones_in_any_order() {
        let mut pool: Vec<String> = (0..30u32)
            .map(|i| format!("10.0.{}.{}", i % 3, (i * 37) % 251))
            .collect();
        pool.extend(
            [
                "::1",
                "0::1",
                "fe80::1",
                "2.0.0.1",
                "not-an-address",
                "1.1.1.1x",
            ]
            .map(String::from),
        );
        pool.extend(["9.9.9.9", "10.0.0.0", "::ffff:10.0.0.1", "10.0.0.37"].map(String::from));
        let strs: Vec<&str> = pool.iter().map(String::as_str).collect();
        let want = reference_lowest(&strs);
        // Several orders, each client asked for several times.
        for step in [1usize, 7, 11, 13] {
            let mut d = DnsNames::default();
            for round in 0..3 {
                for i in 0..strs.len() {
                    let c = strs[(i * step + round) % strs.len()];
                    d.add("n.example", 1, 0, [c], false, None);
                }
            }
            let v = d.to_view(&class);
            assert_eq!(v.names[0].clients, want, "step {step}");
            assert!(v.names[0].more_clients);
        }
        let mut few = DnsNames::default();
        for c in ["10.0.0.2", "::1", "10.0.0.2", "x"] {
            few.add("n.example", 1, 0, [c], false, None);
        }
        let v = few.to_view(&class);
        assert_eq!(v.names[0].clients, ["10.0.0.2", "::1", "x"]);
        assert!(!v.names[0].more_clients);
    }

    #[test]
    fn a_flow_client_is_the_same_client_as_its_text() {
        let mut by_addr = DnsNames::default();
        let mut by_text = DnsNames::default();
        for i in (0..20u8).rev() {
            let a = IpAddr::from([192, 168, 1, i]);
            by_addr.add_flow("n.example", 1, 1, a);
            by_addr.add_flow("n.example", 1, 0, a);
            let t = a.to_string();
            by_text.add("n.example", 1, 1, [t.as_str()], false, None);
            by_text.add("n.example", 1, 0, [t.as_str()], false, None);
        }
        assert_eq!(by_addr.to_view(&class), by_text.to_view(&class));
    }

    #[test]
    fn clients_are_capped_and_flagged() {
        let mut d = DnsNames::default();
        for i in (0..40u8).rev() {
            let c = format!("10.0.0.{i}");
            d.add("n.example", 1, 1, [c.as_str()], false, None);
        }
        let v = d.to_view(&class);
        let n = &v.names[0];
        assert_eq!(n.clients.len(), MAX_DNS_CLIENTS);
        assert_eq!(n.clients[0], "10.0.0.0");
        assert_eq!(n.clients[MAX_DNS_CLIENTS - 1], "10.0.0.15");
        assert!(n.more_clients);
        assert_eq!((n.queries, n.answers), (40, 40));
    }
}
