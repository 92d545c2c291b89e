//! Renderers: one per output format, each a pure function of the [`Report`] model.

mod csv;
pub mod escape;
mod html;
mod markdown;
mod table;
mod unknown;

pub use table::clip;

use super::model::Report;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned terminal table (colour only on a terminal).
    Table,
    /// The report model (documented schema); input of `report` and `compare`.
    Json,
    /// One row per area and destination.
    Csv,
    /// Microsoft's |Area|Description|Protocol|Destination| layout plus measured columns.
    Markdown,
    /// One self-contained page with inline SVG charts.
    Html,
}

/// How the terminal table is laid out (the other formats ignore it).
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// ANSI colour (only on a terminal, never with `NO_COLOR` set).
    pub colour: bool,
    /// Every entry of every list, instead of the top ones.
    pub full: bool,
    /// Columns to fit; lines longer than this are cut with an ellipsis.
    pub width: usize,
}

/// Width when the output is not a terminal: nothing is cut.
pub const UNLIMITED_WIDTH: usize = 100_000;

impl Default for Options {
    fn default() -> Self {
        Options {
            colour: false,
            full: false,
            width: UNLIMITED_WIDTH,
        }
    }
}

impl Options {
    /// For standard output: colour and the terminal's width when it is a terminal (`NO_COLOR`,
    /// any value, turns colour off; `COLUMNS` overrides the width).
    pub fn for_stdout(to_terminal: bool, full: bool) -> Options {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let columns = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|&c| c > 0);
        let width = match (to_terminal, columns) {
            (_, Some(c)) if to_terminal => c,
            (true, _) => terminal_size::terminal_size()
                .map_or(100, |(terminal_size::Width(w), _)| usize::from(w)),
            (false, _) => UNLIMITED_WIDTH,
        };
        Options {
            colour: to_terminal && !no_color,
            full,
            width,
        }
    }
}

/// A DNS name's clients as every format shows them: the count, `16+` when more were seen.
fn dns_clients(n: &super::model::DnsName) -> String {
    if n.more_clients {
        format!("{}+", n.clients.len())
    } else {
        n.clients.len().to_string()
    }
}

pub fn render(r: &Report, format: Format, opt: &Options) -> String {
    match format {
        Format::Table => table::render(r, opt),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(r).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Csv => csv::render(r),
        Format::Markdown => markdown::render(r),
        Format::Html => html::render(r),
    }
}

/// 1234567 -> "1.2 MB" (decimal units, as capture tools print them).
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
