//! Fast name -> documented endpoints matching.
//!
//! Every pattern contributes its longest literal run as a needle to one Aho-Corasick automaton;
//! a name is scanned once, and only patterns whose needle occurs (at a position consistent with
//! the pattern's anchoring) are verified with the glob. Names unrelated to any pattern therefore
//! cost one automaton pass and no verification. Results are cached per distinct name.

use super::owned::{wildcard_rule, Owned};
use super::pattern::{glob, path_bonus, path_ok, Pattern};
use super::{same_build, same_edition, Database};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Longest name we try to match; DNS names are at most 253 bytes.
const MAX_NAME: usize = 255;
/// Bound for the result-set cache (bounded memory on hostile input).
const CACHE_CAP: usize = 1 << 16;
/// Slots of the per-name cache: direct-mapped, fixed size, so caching a new name allocates
/// nothing and evicts exactly one older name. A slot is 16 bytes (the table stays in L2).
const NAME_SLOTS: usize = 1 << 15;

/// A name is identified by its 64-bit keyed hash (ahash with a per-process random key): a
/// collision needs ~2^32 names in one slot's lifetime and cannot be aimed at by a sender.
#[derive(Clone)]
struct Slot {
    hash: u64,
    result: Option<Arc<MatchResult>>,
}

/// One documented pattern that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointMatch {
    /// Normalised pattern text (`host` or `host/path`).
    pub pattern: String,
    pub areas: Vec<String>,
    pub builds: Vec<String>,
    pub editions: Vec<String>,
    /// Higher is more specific: exact beats wildcard, then more literal characters.
    pub specificity: u32,
    /// Path restriction, checked only when an HTTP path is known.
    pub path: Option<String>,
    /// A `*` of the pattern produced a cloud customer's name (`*.blob.core.windows.net`): any
    /// tenant of that cloud matches, so the match says nothing about who runs the endpoint.
    pub shared_infrastructure: bool,
}

/// What a name matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchResult {
    /// Areas of the most specific matching pattern(s).
    pub areas: Vec<String>,
    /// Every matching pattern, most specific first.
    pub endpoints: Vec<EndpointMatch>,
    /// The CNAME that matched, when the queried host itself did not.
    pub via: Option<String>,
}

impl MatchResult {
    pub fn is_match(&self) -> bool {
        !self.endpoints.is_empty()
    }

    /// The most specific match is shared cloud infrastructure (see
    /// [`EndpointMatch::shared_infrastructure`]).
    pub fn shared_infrastructure(&self) -> bool {
        self.endpoints
            .first()
            .is_some_and(|e| e.shared_infrastructure)
    }

    fn from_matches(mut endpoints: Vec<EndpointMatch>) -> MatchResult {
        endpoints.sort_by(|a, b| {
            b.specificity
                .cmp(&a.specificity)
                .then_with(|| a.pattern.cmp(&b.pattern))
        });
        let mut areas = BTreeSet::new();
        if let Some(top) = endpoints.first().map(|e| e.specificity) {
            for e in endpoints.iter().take_while(|e| e.specificity == top) {
                areas.extend(e.areas.iter().cloned());
            }
        }
        MatchResult {
            areas: areas.into_iter().collect(),
            endpoints,
            via: None,
        }
    }
}

/// Where the needle sits in its pattern, for a cheap position check before the glob.
#[derive(Clone, Copy)]
enum Anchor {
    /// The whole host is literal: the needle must span the name.
    Whole,
    Prefix,
    Suffix,
    Inner,
}

#[derive(Clone)]
struct Compiled {
    host: Box<[u8]>,
    anchor: Anchor,
    info: EndpointMatch,
}

#[derive(Clone)]
pub struct Matcher {
    pats: Vec<Compiled>,
    ac: Option<AhoCorasick>,
    /// Needle id -> patterns using it.
    needle_pats: Vec<Vec<u32>>,
    cache: Vec<Slot>,
    hasher: ahash::RandomState,
    /// Results shared by every name that matches the same set of patterns (most names under a
    /// wildcard do), so a new name costs no result construction.
    by_set: HashMap<Box<[u32]>, Arc<MatchResult>, ahash::RandomState>,
    empty: Arc<MatchResult>,
    /// Who may own a registrable domain a `*` produces.
    owned: Owned,
}

/// Set in a hit id when the match is shared infrastructure (ids stay below 2^31).
const SHARED_BIT: u32 = 1 << 31;

impl Matcher {
    /// Compile the patterns of `db` restricted to a build / edition (`None` = all).
    pub fn new(db: &Database, build: Option<&str>, edition: Option<&str>) -> Matcher {
        // Group rows by normalised pattern.
        struct Acc {
            areas: BTreeSet<String>,
            builds: BTreeSet<String>,
            editions: BTreeSet<String>,
        }
        let mut groups: HashMap<String, Acc> = HashMap::new();
        for e in db.endpoints() {
            if !build.is_none_or(|b| same_build(&e.build, b))
                || !edition.is_none_or(|ed| same_edition(&e.edition, ed))
            {
                continue;
            }
            let acc = groups.entry(e.pattern.clone()).or_insert_with(|| Acc {
                areas: BTreeSet::new(),
                builds: BTreeSet::new(),
                editions: BTreeSet::new(),
            });
            acc.areas.extend(e.areas.iter().cloned());
            acc.builds.insert(e.build.clone());
            acc.editions.insert(e.edition.clone());
        }
        let mut keys: Vec<String> = groups.keys().cloned().collect();
        keys.sort();
        let mut pats = Vec::with_capacity(keys.len());
        let mut needles: Vec<Vec<u8>> = Vec::new();
        let mut needle_ix: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut needle_pats: Vec<Vec<u32>> = Vec::new();
        for k in keys {
            let Some(acc) = groups.remove(&k) else {
                continue;
            };
            let p = Pattern::from_text(&k);
            let host = p.host.as_bytes();
            let segs: Vec<&[u8]> = host.split(|&b| b == b'*').collect();
            let (si, needle) = segs
                .iter()
                .enumerate()
                .max_by_key(|(i, s)| (s.len(), usize::MAX - i))
                .map(|(i, s)| (i, s.to_vec()))
                .unwrap_or((0, Vec::new()));
            if needle.is_empty() {
                continue; // "*": never produced by the importer
            }
            let anchor = if segs.len() == 1 {
                Anchor::Whole
            } else if si == 0 {
                Anchor::Prefix
            } else if si == segs.len() - 1 {
                Anchor::Suffix
            } else {
                Anchor::Inner
            };
            let mut builds: Vec<String> = acc.builds.into_iter().collect();
            builds.sort_by_key(|b| super::BUILDS.iter().position(|x| x == b).unwrap_or(99));
            let mut editions: Vec<String> = acc.editions.into_iter().collect();
            editions.sort_by_key(|e| super::EDITIONS.iter().position(|x| x == e).unwrap_or(99));
            let id = pats.len() as u32;
            pats.push(Compiled {
                host: host.into(),
                anchor,
                info: EndpointMatch {
                    specificity: p.specificity(),
                    path: p.path.clone(),
                    pattern: k,
                    areas: acc.areas.into_iter().collect(),
                    builds,
                    editions,
                    shared_infrastructure: false,
                },
            });
            let nid = *needle_ix.entry(needle.clone()).or_insert_with(|| {
                needles.push(needle);
                needle_pats.push(Vec::new());
                (needle_pats.len() - 1) as u32
            });
            if let Some(v) = needle_pats.get_mut(nid as usize) {
                v.push(id);
            }
        }
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&needles)
            .ok();
        Matcher {
            pats,
            ac,
            needle_pats,
            cache: vec![
                Slot {
                    hash: 0,
                    result: None,
                };
                NAME_SLOTS
            ],
            hasher: ahash::RandomState::new(),
            by_set: HashMap::with_hasher(ahash::RandomState::new()),
            empty: Arc::new(MatchResult::default()),
            owned: db.owned().clone(),
        }
    }

    /// Number of distinct compiled patterns.
    pub fn len(&self) -> usize {
        self.pats.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pats.is_empty()
    }

    /// Match a host (and, for HTTP, the request path). Cached per distinct host.
    pub fn lookup(&mut self, host: &str, http_path: Option<&str>) -> Arc<MatchResult> {
        let r = self.lookup_host(host);
        match http_path {
            Some(p) if r.endpoints.iter().any(|e| e.path.is_some()) => {
                let kept: Vec<EndpointMatch> = r
                    .endpoints
                    .iter()
                    .filter(|e| path_ok(e.path.as_deref(), Some(p)))
                    .map(|e| with_path_bonus(e.clone()))
                    .collect();
                if kept.is_empty() {
                    self.empty.clone()
                } else {
                    Arc::new(MatchResult::from_matches(kept))
                }
            }
            _ => r,
        }
    }

    /// Match the host; if it matches nothing, each CNAME in resolution order.
    pub fn lookup_chain(
        &mut self,
        host: &str,
        cnames: &[&str],
        http_path: Option<&str>,
    ) -> Arc<MatchResult> {
        let r = self.lookup(host, http_path);
        if r.is_match() {
            return r;
        }
        for c in cnames {
            let r = self.lookup(c, http_path);
            if r.is_match() {
                let mut m = (*r).clone();
                m.via = Some(c.trim_end_matches('.').to_ascii_lowercase());
                return Arc::new(m);
            }
        }
        self.empty.clone()
    }

    /// Match without consulting or filling the per-name cache (benchmarks, one-off names).
    pub fn lookup_uncached(&mut self, host: &str) -> Arc<MatchResult> {
        let mut buf = [0u8; MAX_NAME];
        let Some(name) = normalise(host, &mut buf) else {
            return self.empty.clone();
        };
        self.compute(name)
    }

    fn lookup_host(&mut self, host: &str) -> Arc<MatchResult> {
        let mut buf = [0u8; MAX_NAME];
        let Some(name) = normalise(host, &mut buf) else {
            return self.empty.clone();
        };
        let hash = self.hasher.hash_one(&*name);
        let ix = (hash as usize) & (NAME_SLOTS - 1);
        if let Some(Slot {
            hash: h,
            result: Some(r),
        }) = self.cache.get(ix)
        {
            if *h == hash {
                return r.clone();
            }
        }
        let r = self.compute(name);
        if let Some(slot) = self.cache.get_mut(ix) {
            slot.hash = hash;
            slot.result = Some(r.clone());
        }
        r
    }

    fn compute(&mut self, name: &[u8]) -> Arc<MatchResult> {
        let Some(ac) = &self.ac else {
            return self.empty.clone();
        };
        let mut hits: [u32; 64] = [0; 64];
        let mut nhits = 0usize;
        // Registrable-domain facts, computed once and only for names some glob matched.
        let mut facts = None;
        for m in ac.find_overlapping_iter(name) {
            let Some(ids) = self.needle_pats.get(m.pattern().as_usize()) else {
                continue;
            };
            for &id in ids {
                let Some(c) = self.pats.get(id as usize) else {
                    continue;
                };
                let ok = match c.anchor {
                    Anchor::Whole => m.start() == 0 && m.end() == name.len(),
                    Anchor::Prefix => m.start() == 0 && glob(&c.host, name),
                    Anchor::Suffix => m.end() == name.len() && glob(&c.host, name),
                    Anchor::Inner => glob(&c.host, name),
                };
                if !ok || hits[..nhits].iter().any(|&h| h & !SHARED_BIT == id) {
                    continue;
                }
                let f = *facts.get_or_insert_with(|| {
                    self.owned
                        .facts(std::str::from_utf8(name).unwrap_or_default())
                });
                let Some(shared) = wildcard_rule(&c.host, name, f) else {
                    continue;
                };
                if nhits < hits.len() {
                    hits[nhits] = id | if shared { SHARED_BIT } else { 0 };
                    nhits += 1;
                }
            }
        }
        if nhits == 0 {
            return self.empty.clone();
        }
        let set = &mut hits[..nhits];
        set.sort_unstable();
        if let Some(r) = self.by_set.get(&*set) {
            return r.clone();
        }
        let found = set
            .iter()
            .filter_map(|&id| {
                let c = self.pats.get((id & !SHARED_BIT) as usize)?;
                let mut e = c.info.clone();
                e.shared_infrastructure = id & SHARED_BIT != 0;
                Some(e)
            })
            .collect();
        let r = Arc::new(MatchResult::from_matches(found));
        if self.by_set.len() >= CACHE_CAP {
            self.by_set.clear();
        }
        self.by_set.insert(set.into(), r.clone());
        r
    }

    /// Slow reference: every pattern's glob and the wildcard rule against the name. Used by
    /// tests.
    pub fn lookup_slow(&self, host: &str, http_path: Option<&str>) -> MatchResult {
        let found = self
            .pats
            .iter()
            .filter_map(|c| {
                let shared = Pattern::from_text(&c.info.pattern).matches_owned(
                    host,
                    http_path,
                    &self.owned,
                )?;
                let mut e = match http_path {
                    Some(_) => with_path_bonus(c.info.clone()),
                    None => c.info.clone(),
                };
                e.shared_infrastructure = shared;
                Some(e)
            })
            .collect();
        MatchResult::from_matches(found)
    }
}

fn with_path_bonus(mut e: EndpointMatch) -> EndpointMatch {
    if let Some(p) = &e.path {
        e.specificity += path_bonus(p);
    }
    e
}

/// `host` without trailing dots, lowercased, in `buf` (no allocation); `None` when empty or
/// longer than any name the matcher can hold.
fn normalise<'b>(host: &str, buf: &'b mut [u8; MAX_NAME]) -> Option<&'b mut [u8]> {
    let raw = host.as_bytes();
    let len = raw.len() - raw.iter().rev().take_while(|&&b| b == b'.').count();
    if len == 0 || len > MAX_NAME {
        return None;
    }
    let name = buf.get_mut(..len)?;
    name.copy_from_slice(raw.get(..len)?);
    name.make_ascii_lowercase();
    Some(name)
}
