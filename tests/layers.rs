//! The module layering of `src/lib.rs` holds: every `crate::<module>` path in a top-level module
//! names a module of a lower layer, so data flows one way and no two modules import each other.
//!
//! The order is read from the line of `src/lib.rs`'s module docs that starts `Layers, lowest
//! first:` (the documentation is the declaration), and must list exactly the `pub mod`s of
//! `src/lib.rs`. Comments, doc links and string literals are not references; a `super::` path
//! that climbs to the crate root is one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layer order declared in `src/lib.rs`, lowest first.
fn declared_order(lib: &str) -> Vec<String> {
    // The declaration runs from that line to the one that ends with a full stop.
    let mut text = String::new();
    let mut lines = lib.lines().map(str::trim_start);
    let first = lines
        .find_map(|l| l.strip_prefix("//! Layers, lowest first:"))
        .expect("src/lib.rs declares `//! Layers, lowest first: ...`");
    text.push_str(first);
    let mut more = lines.map_while(|l| l.strip_prefix("//!"));
    while !text.trim_end().ends_with('.') {
        match more.next() {
            Some(l) => text.push_str(l),
            None => break,
        }
    }
    text.trim_end()
        .trim_end_matches('.')
        .split('<')
        .map(|s| s.trim().trim_matches('`').to_string())
        .collect()
}

/// Source text with comments, string and char literals blanked (newlines kept, so offsets still
/// give line numbers): what is left is code.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &src[i..];
        let end = if rest.starts_with("//") {
            i + rest.find('\n').unwrap_or(rest.len())
        } else if rest.starts_with("/*") {
            // Block comments nest.
            let (mut j, mut depth) = (i + 2, 1);
            while j < b.len() && depth > 0 {
                if src[j..].starts_with("/*") {
                    depth += 1;
                    j += 2;
                } else if src[j..].starts_with("*/") {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            j
        } else if let Some(hashes) = raw_string_start(b, i) {
            // r"..." or r#"..."#: ends at a quote followed by as many hashes.
            let open = i + rest.find('"').unwrap_or(0) + 1;
            let close = format!("\"{}", "#".repeat(hashes));
            src[open..]
                .find(&close)
                .map_or(b.len(), |p| open + p + close.len())
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            j + 1
        } else if b[i] == b'\'' {
            // A char literal ('x', '\n', '\u{..}'), or else a lifetime or label (code).
            let mut chars = rest[1..].chars();
            match (chars.next(), chars.next()) {
                (Some('\\'), _) => {
                    i + 3
                        + rest
                            .get(3..)
                            .and_then(|r| r.find('\''))
                            .map_or(0, |p| p + 1)
                }
                (Some(c), Some('\'')) => i + 2 + c.len_utf8(),
                _ => i + 1,
            }
        } else {
            let c = rest.chars().next().map_or(1, char::len_utf8);
            out.push_str(&rest[..c]);
            i += c;
            continue;
        };
        let end = end.clamp(i + 1, b.len());
        if b[i] == b'\'' && end == i + 1 {
            out.push('\'');
        } else {
            // Blanked, newlines kept.
            out.extend(
                src[i..end]
                    .chars()
                    .map(|c| if c == '\n' { '\n' } else { ' ' }),
            );
        }
        i = end;
    }
    out
}

/// At `i`, the start of a raw string literal (`r"`, `r#"`, `br"`, ...): its number of hashes.
fn raw_string_start(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        return None;
    }
    let mut j = i;
    if b.get(j) == Some(&b'b') {
        j += 1;
    }
    if b.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let hashes = b[j..].iter().take_while(|&&c| c == b'#').count();
    (b.get(j + hashes) == Some(&b'"')).then_some(hashes)
}

/// The top-level modules a file's code names, each with its 1-based line: through `crate::`
/// (`crate::flow::X`, and every item of a group, `crate::{flow::X, proto}`), and through a
/// `super::` chain that climbs to the crate root from a file `depth` modules deep (plus the
/// inline `mod`s it is in).
fn crate_refs(code: &str, depth: usize) -> Vec<(String, usize)> {
    let b = code.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let line_of = |at: usize| 1 + b[..at].iter().filter(|&&c| c == b'\n').count();
    let ident = |from: usize| -> &str {
        let n = b[from..].iter().take_while(|&&c| is_ident(c)).count();
        &code[from..from + n]
    };
    let skip_ws = |mut j: usize| {
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        j
    };
    // After a path segment ending at `j`: where the next segment starts, if `::` follows.
    let next_segment = |j: usize| {
        let j = skip_ws(j);
        code[j..].starts_with("::").then(|| skip_ws(j + 2))
    };
    // The first segment at `j`, or of every item of a `{...}` group there.
    let names_at = |j: usize, refs: &mut Vec<(String, usize)>| {
        if b.get(j) != Some(&b'{') {
            let name = ident(j);
            if !name.is_empty() {
                refs.push((name.to_string(), line_of(j)));
            }
            return;
        }
        let (mut nest, mut item_start) = (0, true);
        for (k, &c) in b.iter().enumerate().skip(j) {
            match c {
                b'{' => {
                    nest += 1;
                    item_start = nest == 1;
                }
                b'}' => {
                    nest -= 1;
                    if nest == 0 {
                        break;
                    }
                }
                b',' if nest == 1 => item_start = true,
                c if item_start && (c.is_ascii_alphabetic() || c == b'_') => {
                    refs.push((ident(k).to_string(), line_of(k)));
                    item_start = false;
                }
                _ => {}
            }
        }
    };
    let mut refs = Vec::new();
    // Open braces, and the brace depth of each inline `mod` body we are in.
    let (mut braces, mut mods, mut mod_next) = (0usize, Vec::new(), false);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let starts_word = (c.is_ascii_alphabetic() || c == b'_')
            && (i == 0 || !(is_ident(b[i - 1]) || b[i - 1] == b'$'));
        if !starts_word {
            match c {
                b'{' => {
                    braces += 1;
                    if std::mem::take(&mut mod_next) {
                        mods.push(braces);
                    }
                }
                b'}' => {
                    if mods.last() == Some(&braces) {
                        mods.pop();
                    }
                    braces = braces.saturating_sub(1);
                }
                b';' => mod_next = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        let word = ident(i);
        let mut end = i + word.len();
        match word {
            "mod" => mod_next = true,
            "crate" => {
                if let Some(j) = next_segment(end) {
                    names_at(j, &mut refs);
                }
            }
            "super" => {
                let mut climbs = 1;
                while let Some(j) = next_segment(end) {
                    if ident(j) != "super" {
                        if climbs >= depth + mods.len() {
                            names_at(j, &mut refs);
                        }
                        break;
                    }
                    climbs += 1;
                    end = j + "super".len();
                }
            }
            _ => {}
        }
        i = end;
    }
    refs
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("reading src/")
        .map(|e| e.expect("src/ entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every `crate::` edge of `src/` that does not go to a lower layer, as `file:line: a -> b`.
fn violations(src: &Path, order: &[String]) -> Vec<String> {
    let rank = |m: &str| order.iter().position(|o| o == m);
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut bad = Vec::new();
    for f in files {
        let rel = f.strip_prefix(src).expect("under src/");
        let first = rel.components().next().expect("non-empty path");
        let top = Path::new(first.as_os_str())
            .file_stem()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        if top == "lib" || top == "main" {
            continue;
        }
        let Some(from) = rank(&top) else {
            bad.push(format!(
                "src/{}: module `{top}` has no layer in src/lib.rs",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&f).expect("reading a source file");
        // Modules deep: `engine.rs` and `flow/mod.rs` are 1, `flow/table.rs` is 2.
        let depth = rel.components().count() - usize::from(rel.ends_with("mod.rs"));
        for (to, line) in crate_refs(&code_only(&text), depth) {
            if to == top {
                continue;
            }
            match rank(&to) {
                Some(r) if r < from => {}
                Some(_) => bad.push(format!(
                    "src/{}:{line}: {top} -> {to} (`{to}` is not below `{top}`)",
                    rel.display()
                )),
                None => bad.push(format!(
                    "src/{}:{line}: {top} -> {to} (no layer declared for `{to}`)",
                    rel.display()
                )),
            }
        }
    }
    bad
}

#[test]
fn modules_depend_only_on_lower_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).expect("reading src/lib.rs");
    let order = declared_order(&lib);
    let declared: BTreeSet<&str> = order.iter().map(String::as_str).collect();
    assert_eq!(
        declared.len(),
        order.len(),
        "a layer listed twice: {order:?}"
    );
    let code = code_only(&lib);
    let mods: BTreeSet<&str> = code
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod ")?.strip_suffix(';'))
        .collect();
    assert_eq!(
        mods, declared,
        "src/lib.rs's layers must list exactly its `pub mod`s"
    );
    let bad = violations(&root.join("src"), &order);
    assert!(
        bad.is_empty(),
        "imports against the layer order {}:\n{}",
        order.join(" < "),
        bad.join("\n")
    );
}

#[test]
fn the_scanner_sees_code_paths_only() {
    let src = r##"
//! [`crate::cli`] in a doc link, `crate::cli` in a comment
use crate::flow::Flow; /* crate::cli, /* nested */ crate::cli */
use crate::{decode::{Decoded, Vlans}, proto, capture::Nanos};
let s = "crate::cli"; let r = r#"crate::cli "quoted""#; let c = '"'; let l: &'a str = x;
fn f() -> crate :: resolve::Resolver { $crate::cli::x(); my_crate::cli(); }
use super::report::Report; pub(super) fn g() {}
mod tests { use super::*; use super::helper; use super::super::signatures::Db; }
mod other;
fn h() { super::super::engine::run() }
"##;
    // As a top-level file (`engine.rs`): `super::` is the crate root.
    let refs = crate_refs(&code_only(src), 1);
    let got: Vec<(&str, usize)> = refs.iter().map(|(m, l)| (m.as_str(), *l)).collect();
    assert_eq!(
        got,
        [
            ("flow", 3),
            ("decode", 4),
            ("proto", 4),
            ("capture", 4),
            ("resolve", 6),
            ("report", 7),
            ("signatures", 8),
            ("engine", 10),
        ]
    );
    // Two modules deep (`flow/table.rs`): only `super::super::` outside `mod tests` climbs.
    let refs = crate_refs(&code_only(src), 2);
    let got: Vec<&str> = refs.iter().skip(5).map(|(m, _)| m.as_str()).collect();
    assert_eq!(got, ["engine"]);
}

#[test]
fn an_upward_import_is_reported_with_its_place() {
    let dir = std::env::temp_dir().join(format!("egressmap-layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("flow")).expect("temp dir");
    std::fs::write(dir.join("lib.rs"), "pub mod decode;\npub mod flow;\n").expect("write");
    std::fs::write(dir.join("decode.rs"), "// fine\n\nuse crate::flow::Key;\n").expect("write");
    std::fs::write(dir.join("flow/mod.rs"), "use crate::decode::Decoded;\n").expect("write");
    let order = ["decode".to_string(), "flow".to_string()];
    let bad = violations(&dir, &order);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        bad,
        ["src/decode.rs:3: decode -> flow (`flow` is not below `decode`)"]
    );
}
