//! The one integration-test crate: every tests/*.rs file is a module of it, so `cargo test`
//! compiles and links one test binary against the library instead of one per file (most of a
//! fresh clone's test build was linking a dozen copies of the same code).
//!
//! The files keep their place and their own doc comments; each is registered below with a
//! `#[path]` line. A new test file must be added here: `every_test_file_is_registered` fails
//! otherwise, since with `autotests = false` Cargo would silently skip it. Run one file's tests
//! with a filter on its module, e.g. `cargo test --profile ci --test it corpus::`.

// hostile (through examples/gen_adversarial.rs) and revival each include the example
// generators' `synth` module by path, as they did as separate crates.
#![allow(clippy::duplicate_mod)]

/// Helpers shared by the modules that run the built binary.
mod support;

#[path = "corpus.rs"]
mod corpus;
#[path = "export.rs"]
mod export;
#[path = "fixtures.rs"]
mod fixtures;
#[path = "fleet.rs"]
mod fleet;
#[path = "hostile.rs"]
mod hostile;
#[path = "inputs.rs"]
mod inputs;
#[path = "layers.rs"]
mod layers;
#[path = "live.rs"]
#[allow(clippy::module_inception)] // live.rs keeps its `mod live` for the feature gate
mod live;
#[path = "live_ops.rs"]
#[allow(clippy::module_inception)]
mod live_ops;
#[path = "logs.rs"]
mod logs;
#[path = "logs_unknown.rs"]
mod logs_unknown;
#[path = "quic_corpus.rs"]
mod quic_corpus;
#[path = "report.rs"]
mod report;
#[path = "report_safety.rs"]
mod report_safety;
#[path = "revival.rs"]
mod revival;
#[path = "shards.rs"]
mod shards;
#[path = "signatures.rs"]
mod signatures;

/// Every `tests/*.rs` file (but this one) has a `#[path]` line above, and every such line names
/// a file that exists.
#[test]
fn every_test_file_is_registered() {
    use std::collections::BTreeSet;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("reading tests/")
        .map(|e| {
            e.expect("tests/ entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".rs") && n != "it.rs")
        .collect();
    let registered: BTreeSet<String> = include_str!("it.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("#[path = \"")?.strip_suffix("\"]"))
        .map(str::to_string)
        .collect();
    let missing: Vec<_> = on_disk.difference(&registered).collect();
    assert!(
        missing.is_empty(),
        "tests/{missing:?} not registered in tests/it.rs (add `#[path = \"NAME.rs\"] mod NAME;`)"
    );
    let stale: Vec<_> = registered.difference(&on_disk).collect();
    assert!(
        stale.is_empty(),
        "tests/it.rs registers missing files {stale:?}"
    );
}
