//! `egressmap signatures ...` subcommands.

use super::import::{import_pages, to_jsonl, turnoff_anchor_map, TURNOFF_PAGE};
use super::{Database, Matcher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum SignaturesCmd {
    /// Parse Microsoft endpoint page(s) of one build into our JSON Lines format (stdout).
    ///
    /// Give all pages of a build together: rows of pages without an area column take the areas
    /// their destination has on the other pages.
    Import {
        /// Endpoint page(s) (markdown).
        #[arg(required = true)]
        page: Vec<PathBuf>,
        /// Build the page(s) describe: 1709 ... 21H2, 11.
        #[arg(long)]
        build: String,
        /// The turn-off page, to resolve numeric anchors (default: beside the first page).
        #[arg(long)]
        turnoff: Option<PathBuf>,
        /// Write here instead of stdout.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// List documented endpoints.
    List {
        #[arg(long)]
        build: Option<String>,
        #[arg(long)]
        edition: Option<String>,
        #[arg(long)]
        area: Option<String>,
    },
    /// Which documented endpoints a host matches, and why.
    Lookup {
        host: String,
        /// HTTP request path, to check path-restricted patterns.
        #[arg(long)]
        path: Option<String>,
        #[arg(long)]
        build: Option<String>,
        #[arg(long)]
        edition: Option<String>,
    },
    /// Builds and editions in the database.
    Builds,
    /// Areas (the ids `--area` and reports use), with their names and endpoint counts.
    Areas {
        #[arg(long)]
        build: Option<String>,
        #[arg(long)]
        edition: Option<String>,
    },
}

pub fn run(cmd: SignaturesCmd, sigdir: Option<&Path>) -> ExitCode {
    match run_inner(cmd, sigdir) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head`): as quiet as `head` itself.
        Err(e) if e.is_empty() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("egressmap signatures: {e}");
            ExitCode::FAILURE
        }
    }
}

fn load(sigdir: Option<&Path>) -> Result<Database, String> {
    match sigdir {
        Some(d) => Database::load_dir(d),
        None => Database::builtin(),
    }
}

fn run_inner(cmd: SignaturesCmd, sigdir: Option<&Path>) -> Result<(), String> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let w = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            String::new()
        } else {
            e.to_string()
        }
    };
    match cmd {
        SignaturesCmd::Import {
            page,
            build,
            turnoff,
            out: outfile,
        } => {
            let db = load(sigdir)?;
            let mut pages = Vec::new();
            for p in &page {
                let text =
                    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                // Keep the historical/ prefix so rows from superseded pages stay distinguishable.
                let name = match p.parent().and_then(|d| d.file_name()) {
                    Some(d) if d == "historical" => format!("historical/{name}"),
                    _ => name,
                };
                pages.push((name, text));
            }
            let turnoff = turnoff.or_else(|| {
                let first = page.first()?;
                let dir = first.parent()?;
                let dir = if dir.file_name().is_some_and(|d| d == "historical") {
                    dir.parent()?
                } else {
                    dir
                };
                Some(dir.join(TURNOFF_PAGE))
            });
            let anchors = match turnoff.as_ref().map(std::fs::read_to_string) {
                Some(Ok(t)) => turnoff_anchor_map(&t),
                _ => {
                    eprintln!("note: turn-off page not found; numeric anchors stay as published");
                    Default::default()
                }
            };
            let imp = import_pages(&pages, &build, db.areas(), &anchors);
            for wmsg in &imp.warnings {
                eprintln!("warning: {wmsg}");
            }
            for (p, (rows, entries)) in &imp.row_counts {
                eprintln!("{p}: {rows} rows, {entries} destination entries");
            }
            let text = to_jsonl(&imp.endpoints);
            match outfile {
                Some(f) => std::fs::write(&f, text).map_err(|e| format!("{}: {e}", f.display()))?,
                None => out.write_all(text.as_bytes()).map_err(w)?,
            }
        }
        SignaturesCmd::List {
            build,
            edition,
            area,
        } => {
            let db = load(sigdir)?;
            if let Some(a) = area.as_deref() {
                if db.area(a).is_none() {
                    let ids: Vec<&str> = db.areas().iter().map(|d| d.id.as_str()).collect();
                    return Err(format!(
                        "unknown area {a:?}; known (egressmap signatures areas): {}",
                        ids.join(", ")
                    ));
                }
            }
            let mut listed = 0usize;
            for e in db.endpoints_for(build.as_deref(), edition.as_deref()) {
                if area
                    .as_ref()
                    .is_some_and(|a| !e.areas.iter().any(|x| x == a))
                {
                    continue;
                }
                listed += 1;
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}:{}",
                    e.build,
                    e.edition,
                    e.areas.join(","),
                    e.pattern,
                    e.protocols.join("/"),
                    e.page,
                    e.line
                )
                .map_err(w)?;
            }
            if listed == 0 {
                // An empty list with exit 0 reads as "nothing documented": say what was asked.
                return Err(format!(
                    "no documented endpoint for{}{}{}",
                    build.map_or(String::new(), |b| format!(" build {b}")),
                    edition.map_or(String::new(), |e| format!(" edition {e}")),
                    area.map_or(String::new(), |a| format!(" area {a}")),
                ));
            }
        }
        SignaturesCmd::Lookup {
            host,
            path,
            build,
            edition,
        } => {
            let db = load(sigdir)?;
            let mut m = Matcher::new(&db, build.as_deref(), edition.as_deref());
            let r = m.lookup(&host, path.as_deref());
            if !r.is_match() {
                let ms = if db.is_microsoft_domain(&host) {
                    " (but under a Microsoft-owned domain: likely undocumented Microsoft endpoint)"
                } else {
                    ""
                };
                writeln!(out, "{host}: no documented endpoint matches{ms}").map_err(w)?;
                return Ok(());
            }
            let names: Vec<String> = r
                .areas
                .iter()
                .map(|a| format!("{a} ({})", db.area_name(a)))
                .collect();
            writeln!(out, "{host}: areas {}", names.join(", ")).map_err(w)?;
            for (i, em) in r.endpoints.iter().enumerate() {
                let why = if i == 0 {
                    "most specific"
                } else {
                    "also matches"
                };
                let kind = if em.specificity >> 24 == 1 {
                    "exact"
                } else if em.shared_infrastructure {
                    "wildcard, shared infrastructure: any customer of this cloud can own the name"
                } else {
                    "wildcard"
                };
                writeln!(
                    out,
                    "  {why}: {} [{kind}, specificity {}]\n    areas: {}\n    builds: {}\n    editions: {}",
                    em.pattern,
                    em.specificity,
                    em.areas.join(", "),
                    em.builds.join(", "),
                    em.editions.join(", ")
                )
                .map_err(w)?;
                if let Some(p) = db.purpose(&em.pattern, em.areas.first().map(String::as_str)) {
                    writeln!(out, "    purpose: {p}").map_err(w)?;
                }
                let rows: Vec<&super::Endpoint> = db
                    .endpoints_for(build.as_deref(), edition.as_deref())
                    .filter(|e| e.pattern == em.pattern)
                    .collect();
                if let Some(e) = rows.first() {
                    if let Some(u) = db.turn_off_url(e) {
                        writeln!(out, "    turn off: {u}").map_err(w)?;
                    }
                }
                let mut published: Vec<&str> = rows.iter().map(|e| e.published.as_str()).collect();
                published.sort();
                published.dedup();
                writeln!(
                    out,
                    "    published as: {} ({} rows, e.g. {}:{})",
                    published.join(", "),
                    rows.len(),
                    rows.first().map_or("", |e| e.page.as_str()),
                    rows.first().map_or(0, |e| e.line)
                )
                .map_err(w)?;
            }
        }
        SignaturesCmd::Builds => {
            let db = load(sigdir)?;
            for b in db.builds() {
                let n = db.endpoints_for(Some(b), None).count();
                let mut pats: Vec<&str> = db
                    .endpoints_for(Some(b), None)
                    .map(|e| e.pattern.as_str())
                    .collect();
                pats.sort();
                pats.dedup();
                writeln!(
                    out,
                    "{b}\teditions: {}\trows: {n}\tdistinct patterns: {}",
                    db.editions(Some(b)).join(","),
                    pats.len()
                )
                .map_err(w)?;
            }
        }
        SignaturesCmd::Areas { build, edition } => {
            let db = load(sigdir)?;
            for a in db.areas() {
                let mut pats: Vec<&str> = db
                    .endpoints_for(build.as_deref(), edition.as_deref())
                    .filter(|e| e.areas.contains(&a.id))
                    .map(|e| e.pattern.as_str())
                    .collect();
                pats.sort_unstable();
                pats.dedup();
                writeln!(out, "{}\t{}\tpatterns: {}", a.id, a.name, pats.len()).map_err(w)?;
            }
        }
    }
    Ok(())
}
