//! The markdown importer on arbitrary page text: the page is imported as-is and also used as
//! the turn-off page (anchor map), and the JSONL it produces must load back.
#![no_main]
use egressmap::signatures::import::{import_pages, to_jsonl, turnoff_anchor_map};
use egressmap::signatures::Database;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static DB: OnceLock<Database> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let db = DB.get_or_init(|| Database::builtin().expect("builtin signatures"));
    let anchors = turnoff_anchor_map(text);
    let pages = vec![("fuzz.md".to_string(), text.to_string())];
    let imp = import_pages(&pages, "21H2", db.areas(), &anchors);
    for e in &imp.endpoints {
        assert!(!e.pattern.is_empty());
    }
    let jsonl = to_jsonl(&imp.endpoints);
    for line in jsonl.lines() {
        let _: egressmap::signatures::Endpoint =
            serde_json::from_str(line).expect("importer output parses back");
    }
});
