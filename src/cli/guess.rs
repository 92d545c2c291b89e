//! `audit --guess-build`: which Windows build and edition a capture looks like.
//!
//! Score of a (build, edition) page: the F1 of precision (share of the documented endpoints seen
//! in the capture that this page lists) and recall (share of the page's endpoints seen). A page
//! that lists what was seen, and not much else, ranks first.

use crate::report::model::{BuildGuess, GuessRank};
use crate::signatures::{Database, MatchResult};
use std::collections::{BTreeMap, BTreeSet};

pub struct BuildGuesser {
    pages: BTreeMap<(String, String), BTreeSet<String>>,
    seen: BTreeSet<String>,
}

impl BuildGuesser {
    pub fn new(db: &Database) -> Self {
        let mut pages: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for e in db.endpoints() {
            pages
                .entry((e.build.clone(), e.edition.clone()))
                .or_default()
                .insert(e.pattern.clone());
        }
        BuildGuesser {
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

    /// The ranking for any set of seen patterns (one machine's, or a merged report's).
    pub fn rank(&self, seen: &BTreeSet<String>) -> Vec<(String, String, f64, f64, f64)> {
        let mut v: Vec<(String, String, f64, f64, f64)> = self
            .pages
            .iter()
            .map(|((b, e), listed)| {
                let hit = seen.iter().filter(|p| listed.contains(*p)).count() as f64;
                let precision = if seen.is_empty() {
                    0.0
                } else {
                    hit / seen.len() as f64
                };
                let recall = if listed.is_empty() {
                    0.0
                } else {
                    hit / listed.len() as f64
                };
                let f1 = if precision + recall > 0.0 {
                    2.0 * precision * recall / (precision + recall)
                } else {
                    0.0
                };
                (b.clone(), e.clone(), f1, precision, recall)
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
    /// Each machine's best page (none for a machine that matched nothing documented).
    pub fn guess_clients(&self, clients: &mut [crate::report::model::Client]) {
        for c in clients {
            let seen: BTreeSet<String> = c.seen_patterns.iter().cloned().collect();
            c.build_guess = if seen.is_empty() {
                None
            } else {
                self.rank(&seen).into_iter().next().map(
                    |(build, edition, score, precision, recall)| GuessRank {
                        build,
                        edition,
                        score,
                        precision,
                        recall,
                    },
                )
            };
        }
    }
}
