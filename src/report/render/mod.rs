//! Renderers: one per output format, each a pure function of the [`Report`] model.

mod csv;
mod html;
mod markdown;
mod table;

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

pub fn render(r: &Report, format: Format, colour: bool) -> String {
    match format {
        Format::Table => table::render(r, colour),
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
