//! `egressmap merge A.json B.json ... -o fleet.json`.

use std::collections::BTreeSet;
use std::path::Path;

use super::audit::{load_report, load_signatures, signatures_version, write_text};
use super::guess::BuildGuesser;
use super::{MergeArgs, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::report::merge::{incompatibility, merge, provenance};
use crate::report::model::BuildGuess;

pub fn run(a: &MergeArgs, sigdir: Option<&Path>) -> u8 {
    let mut reports = Vec::new();
    for p in &a.reports {
        match load_report(p) {
            Ok(mut r) => {
                r.merged_from = provenance(&r, &p.display().to_string());
                reports.push(r);
            }
            Err(e) => {
                say!("egressmap: {e}");
                return EXIT_FAILED;
            }
        }
    }
    if let Some(first) = reports.first() {
        for (r, p) in reports.iter().zip(&a.reports).skip(1) {
            let why = incompatibility(first, r);
            if !why.is_empty() && !a.force {
                say!(
                    "egressmap: {} and {} were made with different {} (use --force to merge anyway)",
                    a.reports[0].display(),
                    p.display(),
                    why.join("; ")
                );
                return EXIT_USAGE;
            }
        }
    }
    // Build rankings are redone from the summed seen patterns: only with the same signatures.
    let db = match load_signatures(sigdir) {
        Ok(db) => db,
        Err(e) => {
            say!("egressmap: {e}");
            return EXIT_USAGE;
        }
    };
    let here = signatures_version(&db, sigdir);
    let guesser = BuildGuesser::new(&db);
    let rank = |seen: &BTreeSet<String>| -> BuildGuess { guesser.model_for(seen) };
    let same_db = reports.iter().all(|r| r.signatures_version == here);
    if !same_db && !a.force {
        say!(
            "egressmap: the reports were made with signatures other than the ones loaded ({here}); \
             give the same --signatures, or --force to merge without build rankings"
        );
        return EXIT_USAGE;
    }
    let mut merged = match merge(reports, a.force, same_db.then_some(&rank)) {
        Ok(r) => r,
        Err(e) => {
            say!("egressmap: {e}");
            return EXIT_USAGE;
        }
    };
    if !same_db {
        merged.warnings.push(format!(
            "build rankings dropped: the reports' signatures differ from the loaded ones ({here})"
        ));
    }
    let text = match serde_json::to_string_pretty(&merged) {
        Ok(t) => t + "\n",
        Err(e) => {
            say!("egressmap: {e}");
            return EXIT_FAILED;
        }
    };
    match write_text(a.output.as_deref(), &text, "merged report") {
        Ok(()) => EXIT_OK,
        Err(code) => code,
    }
}
