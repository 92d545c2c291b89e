//! `audit --guess-build`: which Windows build and edition a capture looks like.
//!
//! Score of a (build, edition) page: the F1 of precision (share of the documented endpoints seen
//! in the capture that this page lists) and recall (share of the page's endpoints seen). A page
//! that lists what was seen, and not much else, ranks first.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::signatures::{Database, MatchResult};

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

    /// (build, edition, score, precision, recall), best first.
    pub fn ranking(&self) -> Vec<(String, String, f64, f64, f64)> {
        let mut v: Vec<(String, String, f64, f64, f64)> = self
            .pages
            .iter()
            .map(|((b, e), listed)| {
                let hit = self.seen.iter().filter(|p| listed.contains(*p)).count() as f64;
                let precision = if self.seen.is_empty() {
                    0.0
                } else {
                    hit / self.seen.len() as f64
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

    pub fn render(&self) -> String {
        let mut o = String::new();
        if self.seen.is_empty() {
            o.push_str("\nBuild guess: no documented endpoint seen, nothing to rank.\n");
            return o;
        }
        let _ = writeln!(
            o,
            "\nBuild guess ({} documented endpoints seen; score = F1 of the share of seen endpoints a page lists and the share of the page seen)",
            self.seen.len()
        );
        for (i, (b, e, f1, p, r)) in self.ranking().iter().take(8).enumerate() {
            let _ = writeln!(
                o,
                "  {}. Windows {b:<5} {e:<11} score {f1:.3}  (lists {:.0}% of what was seen, {:.0}% of the page seen)",
                i + 1,
                p * 100.0,
                r * 100.0
            );
        }
        o
    }
}
