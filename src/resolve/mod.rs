//! Passive DNS: which name a client asked for when it learned a server address.
//!
//! A flow without SNI or Host (QUIC with ECH, a TLS resumption without SNI, plain TCP) is named
//! after the most recent answer *that client* received for its server address before the flow
//! began. Only answers the worker validated ([`validate`]: they match an outstanding query of
//! the same exchange, and their address records belong to the question's CNAME chain) get here.
//! A name another client learned may be used too, but is reported as such
//! (`host_source: "dns-other-client"`), never silently.
//!
//! Memory is bounded per client and overall. Eviction is per client and oldest-first: a host
//! flooding its own answers pushes out its own oldest bindings (and, past the overall bound,
//! those of the client holding the most), never the one its neighbour got just now. Each
//! (client, address) keeps a short history with timestamps, so a flow is named by the answer
//! current at its first packet even if a later answer rebound the address. TTLs are honoured
//! plus a grace period (clients keep using addresses a little past the TTL).
//!
//! The API is narrow on purpose ([`Resolver::learn`], [`Resolver::lookup`]) so that the stage
//! owning the resolver can move (e.g. to a time-ordered merge of the workers' facts).

pub mod validate;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

use crate::capture::Nanos;

const SEC: Nanos = 1_000_000_000;
/// Stale answers are dropped this often (capture time).
const PURGE_EVERY: Nanos = 300 * SEC;
/// Answers remembered per (client, address): enough to name a flow by the answer current at its
/// start when a resolver rotates addresses between names.
const HISTORY: usize = 4;
/// Clients remembered per address for "another client learned it" lookups.
const CLIENTS_PER_ADDR: usize = 4;

#[derive(Clone, Debug)]
pub struct ResolverConfig {
    /// Bindings kept at most, over all clients.
    pub max_entries: usize,
    /// Bindings kept at most for one client.
    pub max_per_client: usize,
    /// Added to every TTL before an answer is considered stale.
    pub grace: Nanos,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            max_entries: 200_000,
            max_per_client: 50_000,
            grace: 300 * SEC,
        }
    }
}

/// A validated DNS answer: `client` asked for `name` and was told, through the CNAME chain
/// `cnames`, that `addrs` (with their TTLs) serve it.
#[derive(Clone, Debug)]
pub struct DnsFact<'a> {
    pub client: IpAddr,
    pub name: Arc<str>,
    pub cnames: Arc<[Arc<str>]>,
    pub addrs: &'a [(IpAddr, u32)],
    pub ts: Nanos,
}

/// What we know about one address, for one client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// The name the client asked for.
    pub name: Arc<str>,
    /// The CNAME chain from `name` to the address's owner (empty when answered directly).
    pub cnames: Arc<[Arc<str>]>,
    pub seen: Nanos,
    pub expires: Nanos,
}

/// Whose answer named a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingSource {
    /// The flow's own client received the answer.
    SameClient,
    /// Only another client did (same network, possibly another resolver's view).
    OtherClient,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub resolution: Resolution,
    pub source: BindingSource,
}

#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct ResolverStats {
    pub answers: u64,
    pub lookups_hit: u64,
    /// Flows named only from another client's answer.
    pub lookups_other_client: u64,
    pub lookups_stale: u64,
    /// Bindings dropped, oldest first, because their client (or all clients) reached the bound.
    pub evicted: u64,
    /// HTTPS/SVCB answers whose ECH config named a public name, remembered per client.
    pub ech_hints: u64,
    /// ECH ClientHellos whose outer SNI matched such an answer: the inner name was inferred.
    pub ech_inferred: u64,
    /// ECH hints dropped because their table was full.
    pub ech_hints_evicted: u64,
    /// ECH public names seen in HTTPS/SVCB answers (any client), and ones forgotten because
    /// that set was full.
    pub ech_public_names: u64,
    pub ech_public_names_evicted: u64,
}

/// An HTTPS record with ECH that a client received: `(client, public name)` to the name it
/// asked for. An ECH ClientHello only shows the public name (the fronting service); if the same
/// client was just told that name fronts `owner`, `owner` is the likely inner name.
#[derive(Clone, Debug)]
struct EchHint {
    owner: Arc<str>,
    seen: Nanos,
    expires: Nanos,
}

/// Bound on remembered ECH hints; small because HTTPS records with ECH are rare next to A/AAAA.
const MAX_ECH_HINTS: usize = 16_384;

/// One client's bindings in insertion order (for oldest-first eviction).
#[derive(Default)]
struct ClientQueue {
    order: VecDeque<(IpAddr, Nanos)>,
    /// Bindings of this client still held (`order` may also hold records of ones gone).
    live: usize,
}

#[derive(Default)]
pub struct Resolver {
    /// (client, address) -> answers, oldest first, at most [`HISTORY`].
    map: HashMap<(IpAddr, IpAddr), Vec<Resolution>, ahash::RandomState>,
    clients: HashMap<IpAddr, ClientQueue, ahash::RandomState>,
    /// Address -> clients holding a binding for it, most recent last.
    by_addr: HashMap<IpAddr, Vec<IpAddr>, ahash::RandomState>,
    total: usize,
    ech: HashMap<(IpAddr, Arc<str>), EchHint, ahash::RandomState>,
    /// ECH public name -> capture time it was first seen in an answer: the evidence that an
    /// ECH ClientHello with that SNI is an outer name, not GREASE ECH.
    ech_public: HashMap<Arc<str>, Nanos, ahash::RandomState>,
    /// Capture time of the next purge of stale entries: memory follows the answers still
    /// usable, not the length of the capture.
    next_purge: Nanos,
    cfg: ResolverConfig,
    pub stats: ResolverStats,
}

impl Resolver {
    pub fn new(cfg: ResolverConfig) -> Self {
        Resolver {
            cfg,
            ..Default::default()
        }
    }

    /// Bindings held.
    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Remember a validated answer.
    pub fn learn(&mut self, fact: &DnsFact<'_>) {
        for &(addr, ttl) in fact.addrs {
            self.insert(
                fact.client,
                addr,
                fact.name.clone(),
                fact.cnames.clone(),
                ttl,
                fact.ts,
            );
        }
    }

    /// Record that `client` was given `addr` in answer to a query for `name` (via `cnames`).
    pub fn insert(
        &mut self,
        client: IpAddr,
        addr: IpAddr,
        name: Arc<str>,
        cnames: Arc<[Arc<str>]>,
        ttl: u32,
        now: Nanos,
    ) {
        self.stats.answers += 1;
        if now >= self.next_purge {
            self.next_purge = now.saturating_add(PURGE_EVERY);
            self.purge(now);
        }
        let expires = now
            .saturating_add(u64::from(ttl).saturating_mul(SEC))
            .saturating_add(self.cfg.grace);
        let hist = self.map.entry((client, addr)).or_default();
        let mut added = true;
        if hist.len() >= HISTORY {
            // The oldest answer for this very pair gives way: not a loss of another binding.
            hist.remove(0);
            added = false;
        }
        hist.push(Resolution {
            name,
            cnames,
            seen: now,
            expires,
        });
        let q = self.clients.entry(client).or_default();
        q.order.push_back((addr, now));
        if added {
            q.live += 1;
            self.total += 1;
        }
        if q.order.len() > 2 * q.live + 64 {
            // Records of bindings gone (expired, superseded): compact, amortised O(1).
            let map = &self.map;
            q.order.retain(|(a, seen)| {
                map.get(&(client, *a))
                    .is_some_and(|h| h.iter().any(|r| r.seen == *seen))
            });
        }
        let cl = self.by_addr.entry(addr).or_default();
        if cl.last() != Some(&client) {
            cl.retain(|c| *c != client);
            if cl.len() >= CLIENTS_PER_ADDR {
                cl.remove(0);
            }
            cl.push(client);
        }
        if self
            .clients
            .get(&client)
            .is_some_and(|q| q.live > self.cfg.max_per_client.max(1))
        {
            self.evict_oldest(client, 1);
        }
        if self.total > self.cfg.max_entries.max(1) {
            // Past the overall bound: the client holding the most gives up its oldest eighth.
            let noisiest = self
                .clients
                .iter()
                .max_by_key(|(c, q)| (q.live, std::cmp::Reverse(**c)))
                .map(|(c, q)| (*c, q.live));
            if let Some((c, live)) = noisiest {
                self.evict_oldest(c, (live / 8).max(1));
            }
        }
    }

    /// Drop `n` of `client`'s oldest bindings.
    fn evict_oldest(&mut self, client: IpAddr, mut n: usize) {
        let Some(q) = self.clients.get_mut(&client) else {
            return;
        };
        while n > 0 {
            let Some((addr, seen)) = q.order.pop_front() else {
                break;
            };
            let Some(hist) = self.map.get_mut(&(client, addr)) else {
                continue;
            };
            let Some(i) = hist.iter().position(|r| r.seen == seen) else {
                continue; // superseded in its history already
            };
            hist.remove(i);
            if hist.is_empty() {
                self.map.remove(&(client, addr));
                if let Some(cl) = self.by_addr.get_mut(&addr) {
                    cl.retain(|c| *c != client);
                    if cl.is_empty() {
                        self.by_addr.remove(&addr);
                    }
                }
            }
            q.live = q.live.saturating_sub(1);
            self.total = self.total.saturating_sub(1);
            self.stats.evicted += 1;
            n -= 1;
        }
        if q.live == 0 {
            self.clients.remove(&client);
        }
    }

    /// Drop expired answers. Bookkeeping is fixed only where something expired (a hash per
    /// expired binding, not per binding held); eviction order records of expired bindings are
    /// skipped when met and compacted in [`Self::insert`].
    fn purge(&mut self, now: Nanos) {
        let (clients, by_addr) = (&mut self.clients, &mut self.by_addr);
        self.map.retain(|&(c, a), h| {
            let before = h.len();
            h.retain(|r| r.expires >= now);
            let gone = before - h.len();
            if gone > 0 {
                if let Some(q) = clients.get_mut(&c) {
                    q.live = q.live.saturating_sub(gone);
                }
            }
            if h.is_empty() {
                if let Some(cl) = by_addr.get_mut(&a) {
                    cl.retain(|x| *x != c);
                    if cl.is_empty() {
                        by_addr.remove(&a);
                    }
                }
                return false;
            }
            true
        });
        self.clients.retain(|_, q| q.live > 0);
        self.total = self.clients.values().map(|q| q.live).sum();
        self.ech.retain(|_, h| h.expires >= now);
    }

    /// The answer for (`client`, `addr`) current at `at`: the most recent one seen at or before
    /// `at`, if it has not gone stale.
    fn current(&self, client: IpAddr, addr: IpAddr, at: Nanos) -> Result<&Resolution, bool> {
        let Some(h) = self.map.get(&(client, addr)) else {
            return Err(false);
        };
        match h.iter().rev().find(|r| r.seen <= at) {
            Some(r) if r.expires >= at => Ok(r),
            Some(_) => Err(true),
            None => Err(false),
        }
    }

    /// The name for a flow from `client` to `server` starting at `at`: from `client`'s own
    /// answers, else (marked) from another client's most recent one.
    pub fn lookup(&mut self, client: IpAddr, server: IpAddr, at: Nanos) -> Option<Binding> {
        match self.current(client, server, at).cloned() {
            Ok(r) => {
                self.stats.lookups_hit += 1;
                return Some(Binding {
                    resolution: r,
                    source: BindingSource::SameClient,
                });
            }
            Err(true) => self.stats.lookups_stale += 1,
            Err(false) => {}
        }
        let others = self.by_addr.get(&server)?;
        let best = others
            .iter()
            .filter(|c| **c != client)
            .filter_map(|c| self.current(*c, server, at).ok().map(|r| (*c, r)))
            .max_by_key(|(c, r)| (r.seen, std::cmp::Reverse(*c)))
            .map(|(_, r)| r.clone())?;
        self.stats.lookups_other_client += 1;
        Some(Binding {
            resolution: best,
            source: BindingSource::OtherClient,
        })
    }

    /// Remember that `client` was told (an HTTPS record for `owner`) that `public_name` fronts
    /// `owner` with ECH.
    pub fn insert_ech(
        &mut self,
        client: IpAddr,
        public_name: Arc<str>,
        owner: Arc<str>,
        ttl: u32,
        now: Nanos,
    ) {
        self.stats.ech_hints += 1;
        self.note_ech_public_name(&public_name, now);
        let key = (client, public_name);
        if self.ech.len() >= MAX_ECH_HINTS.min(self.cfg.max_entries) && !self.ech.contains_key(&key)
        {
            let before = self.ech.len();
            self.ech.retain(|_, h| h.expires >= now);
            if self.ech.len() == before {
                // None stale: forget everything older than the newest half rather than sort.
                let mut seen: Vec<Nanos> = self.ech.values().map(|h| h.seen).collect();
                let mid = seen.len() / 2;
                let (_, cut, _) = seen.select_nth_unstable(mid);
                let cut = *cut;
                self.ech.retain(|_, h| h.seen > cut);
            }
            self.stats.ech_hints_evicted += (before - self.ech.len()) as u64;
        }
        let expires = now
            .saturating_add(u64::from(ttl).saturating_mul(SEC))
            .saturating_add(self.cfg.grace);
        self.ech.insert(
            key,
            EchHint {
                owner,
                seen: now,
                expires,
            },
        );
    }

    /// An HTTPS/SVCB answer named `public_name` as an ECH public name at `now`.
    fn note_ech_public_name(&mut self, public_name: &Arc<str>, now: Nanos) {
        if let Some(t) = self.ech_public.get_mut(public_name) {
            *t = (*t).min(now);
            return;
        }
        if self.ech_public.len() >= MAX_ECH_HINTS {
            // Public names are few (one per fronting service); a full set means a flood:
            // forget the newer half, keeping the long-established names.
            let before = self.ech_public.len();
            let mut seen: Vec<Nanos> = self.ech_public.values().copied().collect();
            let mid = seen.len() / 2;
            let (_, cut, _) = seen.select_nth_unstable(mid);
            let cut = *cut;
            self.ech_public.retain(|_, t| *t < cut);
            self.stats.ech_public_names_evicted += (before - self.ech_public.len()) as u64;
        }
        self.stats.ech_public_names += 1;
        self.ech_public.insert(public_name.clone(), now);
    }

    /// Whether an answer seen at or before `at` gave `name` as an ECH public name.
    pub fn is_ech_public_name(&self, name: &str, at: Nanos) -> bool {
        self.ech_public.get(name).is_some_and(|&t| t <= at)
    }

    /// The name `client` most recently looked up whose HTTPS record gave `public_name` as its
    /// ECH public name, if that answer was seen before `now` and is still fresh.
    pub fn lookup_ech(
        &mut self,
        client: IpAddr,
        public_name: Arc<str>,
        now: Nanos,
    ) -> Option<Arc<str>> {
        let h = self.ech.get(&(client, public_name))?;
        if h.seen > now || h.expires < now {
            return None;
        }
        self.stats.ech_inferred += 1;
        Some(h.owner.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn cfg(max_entries: usize, max_per_client: usize) -> ResolverConfig {
        ResolverConfig {
            max_entries,
            max_per_client,
            grace: 0,
        }
    }

    #[test]
    fn answer_current_at_flow_start_and_ttl() {
        let mut r = Resolver::new(cfg(10, 10));
        let (c, s) = (a("10.0.0.5"), a("1.2.3.4"));
        r.insert(c, s, "a.example".into(), Arc::new([]), 60, 10 * SEC);
        r.insert(c, s, "b.example".into(), Arc::new([]), 60, 20 * SEC);
        let name = |r: &mut Resolver, at| r.lookup(c, s, at).map(|b| b.resolution.name);
        assert_eq!(name(&mut r, 30 * SEC).as_deref(), Some("b.example"));
        // A flow that began between the two answers is named by the first.
        assert_eq!(name(&mut r, 15 * SEC).as_deref(), Some("a.example"));
        assert!(name(&mut r, 81 * SEC).is_none());
        // An answer seen after the flow started does not name it.
        assert!(name(&mut r, 5 * SEC).is_none());
    }

    #[test]
    fn per_client_with_marked_fallback() {
        let mut r = Resolver::new(cfg(10, 10));
        let (c1, c2, s) = (a("10.0.0.5"), a("10.0.0.6"), a("1.2.3.4"));
        r.insert(c1, s, "mine.example".into(), Arc::new([]), 60, 10 * SEC);
        r.insert(c2, s, "theirs.example".into(), Arc::new([]), 60, 11 * SEC);
        let b = r.lookup(c1, s, 20 * SEC).unwrap();
        assert_eq!(
            (&*b.resolution.name, b.source),
            ("mine.example", BindingSource::SameClient)
        );
        let b = r.lookup(a("10.0.0.7"), s, 20 * SEC).unwrap();
        assert_eq!(
            (&*b.resolution.name, b.source),
            ("theirs.example", BindingSource::OtherClient)
        );
        assert_eq!(r.stats.lookups_other_client, 1);
    }

    #[test]
    fn a_flooding_client_evicts_only_its_own_oldest() {
        let mut r = Resolver::new(cfg(1_000, 100));
        let (victim, noisy) = (a("10.0.0.5"), a("10.0.0.66"));
        let s = a("52.1.1.1");
        r.insert(
            victim,
            s,
            "genuine.example".into(),
            Arc::new([]),
            3600,
            10 * SEC,
        );
        for i in 0..5_000u32 {
            let addr = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
            r.insert(
                noisy,
                addr,
                "x".into(),
                Arc::new([]),
                3600,
                11 * SEC + u64::from(i),
            );
        }
        assert!(r.len() <= 1_000);
        assert_eq!(r.stats.evicted, 4_900);
        let b = r.lookup(victim, s, 20 * SEC).unwrap();
        assert_eq!(&*b.resolution.name, "genuine.example");
        // The noisy client keeps its newest.
        let newest = IpAddr::from((0x0a00_0000u32 + 4_999).to_be_bytes());
        assert!(r.lookup(noisy, newest, 20 * SEC).is_some());
        let oldest = IpAddr::from(0x0a00_0000u32.to_be_bytes());
        assert!(r.lookup(noisy, oldest, 20 * SEC).is_none());
    }

    #[test]
    fn overall_bound_takes_from_the_biggest_client() {
        let mut r = Resolver::new(cfg(100, 1_000));
        let victim = a("10.0.0.5");
        r.insert(
            victim,
            a("52.1.1.1"),
            "genuine.example".into(),
            Arc::new([]),
            3600,
            SEC,
        );
        for i in 0..1_000u32 {
            let noisy = IpAddr::from((0x0a00_1000 + i % 3).to_be_bytes());
            let addr = IpAddr::from((0x0b00_0000 + i).to_be_bytes());
            r.insert(
                noisy,
                addr,
                "x".into(),
                Arc::new([]),
                3600,
                2 * SEC + u64::from(i),
            );
        }
        assert!(r.len() <= 100, "{}", r.len());
        assert!(r.stats.evicted >= 900);
        assert!(r.lookup(victim, a("52.1.1.1"), 100 * SEC).is_some());
    }

    #[test]
    fn ech_hint_is_per_client_and_fresh() {
        let mut r = Resolver::new(cfg(10, 10));
        let c = a("10.0.0.5");
        r.insert_ech(
            c,
            "cover.example".into(),
            "inner.example".into(),
            60,
            10 * SEC,
        );
        assert_eq!(
            r.lookup_ech(c, "cover.example".into(), 20 * SEC).as_deref(),
            Some("inner.example")
        );
        // Another client, another public name, before the answer, after the TTL: nothing.
        assert!(r
            .lookup_ech(a("10.0.0.6"), "cover.example".into(), 20 * SEC)
            .is_none());
        assert!(r.lookup_ech(c, "other.example".into(), 20 * SEC).is_none());
        assert!(r.lookup_ech(c, "cover.example".into(), 5 * SEC).is_none());
        assert!(r.lookup_ech(c, "cover.example".into(), 71 * SEC).is_none());
        assert_eq!(r.stats.ech_inferred, 1);
        // Bounded like the address cache.
        for i in 0..100u32 {
            r.insert_ech(
                IpAddr::from(i.to_be_bytes()),
                "cover.example".into(),
                "x".into(),
                3600,
                (100 + u64::from(i)) * SEC,
            );
        }
        assert!(r.ech.len() <= 10);
        assert!(r.stats.ech_hints_evicted >= 90);
    }
}
