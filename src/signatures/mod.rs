//! The endpoint signature database (Microsoft's documented Windows endpoints, per build and
//! edition) and the matcher that tags names with the areas they belong to.
//!
//! Data lives in `signatures/` at the crate root: one JSON Lines file per build, produced by
//! [`import`] from Microsoft's pages and shipped inside the binary, plus hand-written
//! `areas.json` (canonical area ids, display names, spellings, turn-off anchors), `purposes.json`
//! (what each area / destination is for, in our own words) and `microsoft-domains.txt`.
//! Purposes are kept apart so the per-build files stay byte-identical to the importer's output.

pub mod cmd;
pub mod import;
pub mod matcher;
pub mod owned;
pub mod pattern;

pub use matcher::{EndpointMatch, MatchResult, Matcher};
pub use owned::Owned;
pub use pattern::Pattern;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Base of the "how to turn off" links.
pub const TURNOFF_URL: &str = "https://learn.microsoft.com/en-us/windows/privacy/manage-connections-from-windows-operating-system-components-to-microsoft-services";

/// Builds in release order; files are named after these.
pub const BUILDS: &[&str] = &[
    "1709", "1803", "1809", "1903", "1909", "2004", "20H2", "21H1", "21H2", "11",
];

/// Editions, canonical ids. Windows 11 "Family" is Home.
pub const EDITIONS: &[&str] = &["enterprise", "home", "pro", "education"];

const BUILTIN_FILES: &[(&str, &str)] = &[
    ("1709", include_str!("../../signatures/1709.jsonl")),
    ("1803", include_str!("../../signatures/1803.jsonl")),
    ("1809", include_str!("../../signatures/1809.jsonl")),
    ("1903", include_str!("../../signatures/1903.jsonl")),
    ("1909", include_str!("../../signatures/1909.jsonl")),
    ("2004", include_str!("../../signatures/2004.jsonl")),
    ("20H2", include_str!("../../signatures/20H2.jsonl")),
    ("21H1", include_str!("../../signatures/21H1.jsonl")),
    ("21H2", include_str!("../../signatures/21H2.jsonl")),
    ("11", include_str!("../../signatures/11.jsonl")),
];
const BUILTIN_AREAS: &str = include_str!("../../signatures/areas.json");
const BUILTIN_PURPOSES: &str = include_str!("../../signatures/purposes.json");
const BUILTIN_MS_DOMAINS: &str = include_str!("../../signatures/microsoft-domains.txt");
const BUILTIN_CDN_DOMAINS: &str = include_str!("../../signatures/cdn-domains.txt");
const BUILTIN_SHARED: &str = include_str!("../../signatures/shared-infrastructure.txt");

/// One destination entry of one table row of one page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Normalised pattern (see [`Pattern`]): `host` or `host/path`.
    pub pattern: String,
    /// The destination as the page wrote it (markup removed).
    pub published: String,
    pub build: String,
    /// enterprise, home, pro or education.
    pub edition: String,
    /// Canonical area ids; empty only when the row could not be placed.
    pub areas: Vec<String>,
    /// The area name as the page spelled it (empty on pages without an area column).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub area_published: String,
    /// table | same-destination | description | unplaced: how `areas` was decided.
    pub placed_by: String,
    pub protocols: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol_published: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub process: Vec<String>,
    /// Turn-off page anchor, resolved to the section's explicit id where possible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<String>,
    /// The anchor as linked, when it differed (numeric auto-anchors such as `26-microsoft-store`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor_published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applies_from: Option<String>,
    pub page: String,
    pub line: u32,
}

/// A canonical area.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AreaDef {
    pub id: String,
    pub name: String,
    /// Lowercase spellings used by the pages.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Default turn-off anchor for the area.
    #[serde(default)]
    pub anchor: Option<String>,
}

impl AreaDef {
    pub fn turn_off_url(&self) -> Option<String> {
        self.anchor.as_ref().map(|a| format!("{TURNOFF_URL}#{a}"))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Purposes {
    #[serde(default)]
    areas: BTreeMap<String, String>,
    #[serde(default)]
    patterns: BTreeMap<String, String>,
}

/// The loaded signature set.
#[derive(Debug, Clone)]
pub struct Database {
    endpoints: Vec<Endpoint>,
    areas: Vec<AreaDef>,
    purposes: Purposes,
    ms_domains: Vec<String>,
    /// Who may own a registrable domain a `*` produces (see [`owned`]).
    owned: Owned,
    builds: Vec<String>,
}

impl Database {
    /// The set compiled into the binary.
    pub fn builtin() -> Result<Database, String> {
        let files: Vec<(String, String)> = BUILTIN_FILES
            .iter()
            .map(|(b, t)| (format!("{b}.jsonl"), t.to_string()))
            .collect();
        Self::from_parts(
            &files,
            BUILTIN_AREAS,
            BUILTIN_PURPOSES,
            [BUILTIN_MS_DOMAINS, BUILTIN_CDN_DOMAINS, BUILTIN_SHARED],
        )
    }

    /// A set from a directory laid out like `signatures/` (`--signatures DIR`).
    pub fn load_dir(dir: &Path) -> Result<Database, String> {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .map_err(|e| format!("{}: {e}", dir.join(name).display()))
        };
        let mut files = Vec::new();
        let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for ent in rd {
            let ent = ent.map_err(|e| e.to_string())?;
            let name = ent.file_name().to_string_lossy().to_string();
            if name.ends_with(".jsonl") {
                files.push((name.clone(), read(&name)?));
            }
        }
        files.sort();
        // Directories made before the ownership lists existed get the built-in ones.
        let optional = |name: &str, builtin: &str| {
            if dir.join(name).exists() {
                read(name)
            } else {
                Ok(builtin.to_string())
            }
        };
        Self::from_parts(
            &files,
            &read("areas.json")?,
            &read("purposes.json")?,
            [
                &read("microsoft-domains.txt")?,
                &optional("cdn-domains.txt", BUILTIN_CDN_DOMAINS)?,
                &optional("shared-infrastructure.txt", BUILTIN_SHARED)?,
            ],
        )
    }

    fn from_parts(
        files: &[(String, String)],
        areas: &str,
        purposes: &str,
        [ms_domains, cdn_domains, shared]: [&str; 3],
    ) -> Result<Database, String> {
        let areas: Vec<AreaDef> =
            serde_json::from_str(areas).map_err(|e| format!("areas.json: {e}"))?;
        let purposes: Purposes =
            serde_json::from_str(purposes).map_err(|e| format!("purposes.json: {e}"))?;
        let mut endpoints = Vec::new();
        for (name, text) in files {
            for (n, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let e: Endpoint =
                    serde_json::from_str(line).map_err(|err| format!("{name}:{}: {err}", n + 1))?;
                endpoints.push(e);
            }
        }
        let mut builds: Vec<String> = endpoints.iter().map(|e| e.build.clone()).collect();
        builds.sort_by_key(|b| build_rank(b));
        builds.dedup();
        let ms_domains = domain_list(ms_domains);
        let mut all = ms_domains.clone();
        all.extend(domain_list(cdn_domains));
        Ok(Database {
            endpoints,
            areas,
            purposes,
            ms_domains,
            owned: Owned::new(all, domain_list(shared)),
            builds,
        })
    }

    /// A database of just these rows (no areas metadata, purposes or domain list); for tests
    /// and tools that synthesise patterns.
    pub fn from_endpoints(endpoints: Vec<Endpoint>) -> Database {
        let mut builds: Vec<String> = endpoints.iter().map(|e| e.build.clone()).collect();
        builds.sort_by_key(|b| build_rank(b));
        builds.dedup();
        Database {
            endpoints,
            areas: Vec::new(),
            purposes: Purposes::default(),
            ms_domains: Vec::new(),
            owned: Owned::default(),
            builds,
        }
    }

    /// The same rows with these ownership lists (tests of the wildcard rule).
    pub fn with_owned(mut self, owned: Owned) -> Database {
        self.owned = owned;
        self
    }

    /// Microsoft's and the named CDNs' domains and the shared cloud suffixes.
    pub fn owned(&self) -> &Owned {
        &self.owned
    }

    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// Builds present, in release order.
    pub fn builds(&self) -> &[String] {
        &self.builds
    }

    /// Editions present for a build (all builds when `None`).
    pub fn editions(&self, build: Option<&str>) -> Vec<String> {
        let mut v: Vec<String> = self
            .endpoints
            .iter()
            .filter(|e| build.is_none_or(|b| same_build(&e.build, b)))
            .map(|e| e.edition.clone())
            .collect();
        v.sort_by_key(|e| EDITIONS.iter().position(|x| x == e).unwrap_or(99));
        v.dedup();
        v
    }

    pub fn areas(&self) -> &[AreaDef] {
        &self.areas
    }

    pub fn area(&self, id: &str) -> Option<&AreaDef> {
        self.areas.iter().find(|a| a.id == id)
    }

    /// Display name of an area id (the id itself when unknown).
    pub fn area_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.area(id).map_or(id, |a| a.name.as_str())
    }

    /// Turn-off link for an endpoint: its own anchor, else its area's.
    pub fn turn_off_url(&self, e: &Endpoint) -> Option<String> {
        match &e.anchor {
            Some(a) => Some(format!("{TURNOFF_URL}#{a}")),
            None => e
                .areas
                .first()
                .and_then(|a| self.area(a))
                .and_then(|a| a.turn_off_url()),
        }
    }

    /// What the destination is for, in our words: a per-pattern note, else the area's.
    pub fn purpose(&self, pattern: &str, area: Option<&str>) -> Option<&str> {
        self.purposes
            .patterns
            .get(pattern)
            .or_else(|| {
                self.purposes
                    .patterns
                    .get(pattern.split('/').next().unwrap_or(""))
            })
            .or_else(|| area.and_then(|a| self.purposes.areas.get(a)))
            .map(String::as_str)
    }

    /// Registrable domains Microsoft owns.
    pub fn microsoft_domains(&self) -> &[String] {
        &self.ms_domains
    }

    /// Whether `host` is, or is under, a Microsoft-owned registrable domain (label boundary only).
    pub fn is_microsoft_domain(&self, host: &str) -> bool {
        let h = host.trim_end_matches('.');
        self.ms_domains.iter().any(|d| {
            h.len() >= d.len()
                && h.as_bytes()
                    .get(h.len() - d.len()..)
                    .is_some_and(|s| s.eq_ignore_ascii_case(d.as_bytes()))
                && (h.len() == d.len() || h.as_bytes().get(h.len() - d.len() - 1) == Some(&b'.'))
        })
    }

    /// Endpoints documented for a build/edition (`None` = any): the "documented but silent" list.
    pub fn endpoints_for<'a>(
        &'a self,
        build: Option<&'a str>,
        edition: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Endpoint> + 'a {
        self.endpoints.iter().filter(move |e| {
            build.is_none_or(|b| same_build(&e.build, b))
                && edition.is_none_or(|ed| same_edition(&e.edition, ed))
        })
    }
}

/// One lowercase domain per line, `#` comments.
fn domain_list(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            l.split('#')
                .next()
                .unwrap_or("")
                .trim()
                .trim_end_matches('.')
                .to_ascii_lowercase()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

fn build_rank(b: &str) -> usize {
    BUILDS
        .iter()
        .position(|x| x.eq_ignore_ascii_case(b))
        .unwrap_or(BUILDS.len())
}

/// Build names compare case-insensitively; "win11" / "Windows 11" mean "11".
pub fn same_build(have: &str, want: &str) -> bool {
    let w = want.trim().to_ascii_lowercase();
    let w = w
        .strip_prefix("windows")
        .or_else(|| w.strip_prefix("win"))
        .unwrap_or(&w)
        .trim_start_matches([' ', '-', '_']);
    have.eq_ignore_ascii_case(w)
}

/// Editions compare case-insensitively; Family is Home, Professional is Pro.
pub fn same_edition(have: &str, want: &str) -> bool {
    let w = want.trim().to_ascii_lowercase();
    let w = match w.as_str() {
        "family" => "home",
        "professional" => "pro",
        x => x,
    };
    have.eq_ignore_ascii_case(w)
}
