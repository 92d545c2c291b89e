//! `audit --guess-build`: which Windows build and edition a capture looks like.
//!
//! Score of a (build, edition) page: the F1 of precision (share of the documented endpoints seen
//! in the capture that this page lists) and recall (share of the page's endpoints seen). A page
//! that lists what was seen, and not much else, ranks first.

use crate::report::model::{BuildGuess, GuessRank};
use crate::signatures::{Database, MatchResult};
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub struct BuildGuesser {
    /// Every pattern some page lists, numbered (its bit in [`Page::listed`]).
    ids: HashMap<String, usize>,
    /// In (build, edition) order.
    pages: Vec<Page>,
    seen: BTreeSet<String>,
}

/// One (build, edition) page: which patterns it lists, as a bit set over [`BuildGuesser::ids`]
/// (ranking a machine tests bits instead of comparing strings).
struct Page {
    build: String,
    edition: String,
    listed: Vec<u64>,
    count: usize,
}

impl Page {
    fn lists(&self, id: usize) -> bool {
        self.listed
            .get(id / 64)
            .is_some_and(|w| w & (1u64 << (id % 64)) != 0)
    }
}

impl BuildGuesser {
    pub fn new(db: &Database) -> Self {
        let mut by_page: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for e in db.endpoints() {
            by_page
                .entry((e.build.clone(), e.edition.clone()))
                .or_default()
                .insert(e.pattern.clone());
        }
        let mut ids: HashMap<String, usize> = HashMap::new();
        for p in by_page.values().flatten() {
            let next = ids.len();
            ids.entry(p.clone()).or_insert(next);
        }
        let words = ids.len().div_ceil(64);
        let pages = by_page
            .into_iter()
            .map(|((build, edition), listed)| {
                let mut bits = vec![0u64; words];
                for id in listed.iter().filter_map(|p| ids.get(p)) {
                    if let Some(w) = bits.get_mut(id / 64) {
                        *w |= 1u64 << (id % 64);
                    }
                }
                Page {
                    build,
                    edition,
                    listed: bits,
                    count: listed.len(),
                }
            })
            .collect();
        BuildGuesser {
            ids,
            pages,
            seen: BTreeSet::new(),
        }
    }

    /// A flow matched these endpoints (all of them count, not only the most specific).
    pub fn add(&mut self, m: &MatchResult) {
        for e in &m.endpoints {
            if !self.seen.contains(&e.pattern) {
                self.seen.insert(e.pattern.clone());
            }
        }
    }

    /// Score of every page for `distinct` seen patterns, `ids` those of them some page lists:
    /// (page, F1, precision, recall), in page order.
    fn scores<'a>(
        &'a self,
        ids: &'a [usize],
        distinct: usize,
    ) -> impl Iterator<Item = (&'a Page, f64, f64, f64)> + 'a {
        self.pages.iter().map(move |page| {
            let hit = ids.iter().filter(|&&id| page.lists(id)).count() as f64;
            let precision = if distinct == 0 {
                0.0
            } else {
                hit / distinct as f64
            };
            let recall = if page.count == 0 {
                0.0
            } else {
                hit / page.count as f64
            };
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            (page, f1, precision, recall)
        })
    }

    /// The numbers of the distinct patterns of `seen` that some page lists.
    fn ids_of<'a>(&self, seen: impl IntoIterator<Item = &'a str>) -> Vec<usize> {
        seen.into_iter()
            .filter_map(|p| self.ids.get(p).copied())
            .collect()
    }

    /// The ranking for any set of seen patterns (one machine's, or a merged report's).
    pub fn rank(&self, seen: &BTreeSet<String>) -> Vec<(String, String, f64, f64, f64)> {
        let ids = self.ids_of(seen.iter().map(String::as_str));
        let mut v: Vec<(String, String, f64, f64, f64)> = self
            .scores(&ids, seen.len())
            .map(|(p, f1, precision, recall)| {
                (p.build.clone(), p.edition.clone(), f1, precision, recall)
            })
            .collect();
        v.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
        v
    }

    /// The ranking as the report carries it (every page, best first).
    pub fn to_model(&self) -> BuildGuess {
        self.model_for(&self.seen)
    }

    /// [`Self::to_model`] for a given seen set.
    pub fn model_for(&self, seen: &BTreeSet<String>) -> BuildGuess {
        BuildGuess {
            seen_patterns: seen.len() as u64,
            seen: seen.iter().cloned().collect(),
            ranking: self
                .rank(seen)
                .into_iter()
                .map(|(build, edition, score, precision, recall)| GuessRank {
                    build,
                    edition,
                    score,
                    precision,
                    recall,
                })
                .collect(),
        }
    }
}

impl BuildGuesser {
    /// Each machine's best page (none for a machine that matched nothing documented): the
    /// first of [`Self::rank`]'s order, found without ranking every page.
    pub fn guess_clients(&self, clients: &mut [crate::report::model::Client]) {
        for c in clients {
            let mut seen: Vec<&str> = c.seen_patterns.iter().map(String::as_str).collect();
            seen.sort_unstable();
            seen.dedup();
            let ids = self.ids_of(seen.iter().copied());
            c.build_guess = self
                .scores(&ids, seen.len())
                .filter(|_| !seen.is_empty())
                .min_by(|a, b| {
                    b.1.total_cmp(&a.1)
                        .then(a.0.build.cmp(&b.0.build))
                        .then(a.0.edition.cmp(&b.0.edition))
                })
                .map(|(p, score, precision, recall)| GuessRank {
                    build: p.build.clone(),
                    edition: p.edition.clone(),
                    score,
                    precision,
                    recall,
                });
        }
    }
}
