//! Passive DNS: which name a client asked for when it learned a server address.
//!
//! A flow without SNI or Host (QUIC with ECH, a TLS resumption without SNI, plain TCP) is named
//! after the most recent answer that resolved its server address before the flow began. The
//! cache is bounded and honours TTLs (plus a grace period: clients keep using addresses a little
//! past the TTL, and connections opened just before expiry are common).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::capture::Nanos;

const SEC: Nanos = 1_000_000_000;
/// Stale answers are dropped this often (capture time).
const PURGE_EVERY: Nanos = 300 * SEC;

#[derive(Clone, Debug)]
pub struct ResolverConfig {
    pub max_entries: usize,
    /// Added to every TTL before an answer is considered stale.
    pub grace: Nanos,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            max_entries: 200_000,
            grace: 300 * SEC,
        }
    }
}

/// What we know about one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// The name the client asked for.
    pub name: Arc<str>,
    /// The CNAME chain from `name` to the address's owner (empty when answered directly).
    pub cnames: Arc<[Arc<str>]>,
    pub seen: Nanos,
    pub expires: Nanos,
}

#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct ResolverStats {
    pub answers: u64,
    pub lookups_hit: u64,
    pub lookups_stale: u64,
    /// Entries dropped because the cache was full.
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

#[derive(Default)]
pub struct Resolver {
    map: HashMap<IpAddr, Resolution, ahash::RandomState>,
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
            map: HashMap::default(),
            ech: HashMap::default(),
            ech_public: HashMap::default(),
            next_purge: 0,
            cfg,
            stats: ResolverStats::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Record that `addr` was given in answer to a query for `name` (via `cnames`).
    pub fn insert(
        &mut self,
        addr: IpAddr,
        name: Arc<str>,
        cnames: Arc<[Arc<str>]>,
        ttl: u32,
        now: Nanos,
    ) {
        self.stats.answers += 1;
        if now >= self.next_purge {
            self.next_purge = now.saturating_add(PURGE_EVERY);
            self.map.retain(|_, r| r.expires >= now);
            self.ech.retain(|_, h| h.expires >= now);
        }
        if self.map.len() >= self.cfg.max_entries && !self.map.contains_key(&addr) {
            self.make_room(now);
        }
        let expires = now
            .saturating_add(u64::from(ttl).saturating_mul(SEC))
            .saturating_add(self.cfg.grace);
        self.map.insert(
            addr,
            Resolution {
                name,
                cnames,
                seen: now,
                expires,
            },
        );
    }

    /// The name for `addr` as of `now`, if an answer was seen and has not gone stale.
    pub fn lookup(&mut self, addr: &IpAddr, now: Nanos) -> Option<&Resolution> {
        let r = self.map.get(addr)?;
        if r.seen > now || r.expires < now {
            self.stats.lookups_stale += 1;
            return None;
        }
        self.stats.lookups_hit += 1;
        Some(r)
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

    /// Drop stale entries; if none are stale, drop the oldest eighth (amortised O(1)).
    fn make_room(&mut self, now: Nanos) {
        let before = self.map.len();
        self.map.retain(|_, r| r.expires >= now);
        if self.map.len() >= self.cfg.max_entries {
            let mut seen: Vec<Nanos> = self.map.values().map(|r| r.seen).collect();
            let n = (seen.len() / 8).max(1).min(seen.len() - 1);
            let (_, cut, _) = seen.select_nth_unstable(n);
            let cut = *cut;
            self.map.retain(|_, r| r.seen > cut);
        }
        self.stats.evicted += (before - self.map.len()) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn latest_answer_wins_and_ttl_expires() {
        let mut r = Resolver::new(ResolverConfig {
            max_entries: 10,
            grace: 0,
        });
        r.insert(a("1.2.3.4"), "a.example".into(), Arc::new([]), 60, 10 * SEC);
        r.insert(a("1.2.3.4"), "b.example".into(), Arc::new([]), 60, 20 * SEC);
        assert_eq!(
            &*r.lookup(&a("1.2.3.4"), 30 * SEC).unwrap().name,
            "b.example"
        );
        assert!(r.lookup(&a("1.2.3.4"), 81 * SEC).is_none());
        // An answer seen after the flow started does not name it.
        assert!(r.lookup(&a("1.2.3.4"), 5 * SEC).is_none());
    }

    #[test]
    fn ech_hint_is_per_client_and_fresh() {
        let mut r = Resolver::new(ResolverConfig {
            max_entries: 10,
            grace: 0,
        });
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

    #[test]
    fn bounded() {
        let mut r = Resolver::new(ResolverConfig {
            max_entries: 100,
            grace: 0,
        });
        for i in 0..1000u32 {
            r.insert(
                IpAddr::from(i.to_be_bytes()),
                "x".into(),
                Arc::new([]),
                3600,
                u64::from(i) * SEC,
            );
        }
        assert!(r.len() <= 100);
        assert!(r.stats.evicted >= 900);
        // The newest survive.
        assert!(r
            .lookup(&IpAddr::from(999u32.to_be_bytes()), 1000 * SEC)
            .is_some());
    }
}
