//! Importer for Microsoft's endpoint pages.
//!
//! Three table layouts occur and are told apart by their header row:
//! - `## Area` headings over `| Source process | Protocol | Destination |` (optionally with an
//!   "Applies from" column), the turn-off link in the paragraph above each table;
//! - `|Area|Description|Protocol|Destination|`, where empty Area/Description/Protocol cells carry
//!   on from the row above and a "Learn how to turn off" row gives the area's anchor;
//! - `| Destination | Protocol | Description |` with no area at all, grouped by edition headings.
//!
//! Page descriptions are read only to place area-less rows; they are never stored.

use super::pattern::Pattern;
use super::{AreaDef, Endpoint};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The file name of the turn-off page the endpoint tables link to.
pub const TURNOFF_PAGE: &str =
    "manage-connections-from-windows-operating-system-components-to-microsoft-services.md";

/// A row as read from a page, before area placement.
#[derive(Debug, Clone)]
struct RawRow {
    edition: String,
    area_published: String,
    description: String,
    published: String,
    protocol_published: String,
    process: Vec<String>,
    anchor_published: Option<String>,
    applies_from: Option<String>,
    line: u32,
}

/// Result of importing a set of pages for one build.
#[derive(Debug, Default)]
pub struct Import {
    pub endpoints: Vec<Endpoint>,
    /// Per page: (table rows with a destination, destination entries).
    pub row_counts: BTreeMap<String, (usize, usize)>,
    /// Human-readable problems: unknown protocols, unparsable destinations, unresolved anchors.
    pub warnings: Vec<String>,
}

/// Maps GitHub-style auto anchors (`26-microsoft-store`) of the turn-off page to the explicit
/// `bkmk-*` / named ids on the same headings, so every anchor we store is a stable id.
pub fn turnoff_anchor_map(turnoff_page: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for line in turnoff_page.lines() {
        let t = line.trim();
        if !t.starts_with('#') {
            continue;
        }
        let Some(id_at) = t.find("id=\"") else {
            continue;
        };
        let rest = &t[id_at + 4..];
        let Some(end) = rest.find('"') else { continue };
        let id = rest[..end].to_string();
        let text = strip_tags(t.trim_start_matches('#'));
        map.insert(github_slug(&text), id.clone());
        map.insert(id.clone(), id);
    }
    map
}

/// GitHub/Docs heading slug: lowercase, drop punctuation except `-`, spaces to `-`.
fn github_slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.trim().chars() {
        if c.is_alphanumeric() || c == '-' || c == '_' {
            out.extend(c.to_lowercase());
        } else if c == ' ' {
            out.push('-');
        }
    }
    out
}

fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// `[text](url)` -> `text`.
fn strip_links(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        match after.find("](") {
            Some(close) => match after[close + 2..].find(')') {
                Some(end) => {
                    out.push_str(&rest[..open]);
                    out.push_str(&after[..close]);
                    rest = &after[close + 2 + end + 1..];
                }
                None => {
                    out.push_str(&rest[..open + 1]);
                    rest = after;
                }
            },
            None => {
                out.push_str(&rest[..open + 1]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Anchors of links to the turn-off page in `s`, last one wins.
fn turnoff_link(s: &str) -> Option<String> {
    let mut found = None;
    let mut rest = s;
    while let Some(i) = rest.find(".md#") {
        let before = &rest[..i];
        let after = &rest[i + 4..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(after.len());
        if before.ends_with("microsoft-services") {
            found = Some(after[..end].to_string());
        }
        rest = &after[end..];
    }
    found
}

/// Split a row into cells; escaped pipes stay in the cell.
fn split_cells(line: &str) -> Vec<String> {
    let t = line.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = if t.ends_with('|') && !t.ends_with("\\|") {
        &t[..t.len() - 1]
    } else {
        t
    };
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut prev = '\0';
    for c in t.chars() {
        if c == '|' && prev != '\\' {
            cells.push(cur.trim().to_string());
            cur.clear();
        } else {
            cur.push(c);
        }
        prev = c;
    }
    cells.push(cur.trim().to_string());
    cells
}

/// Destination cell -> cleaned entries (one per host; `<br>` separates several).
pub fn destination_entries(cell: &str) -> Vec<String> {
    let lower = cell.to_ascii_lowercase();
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while let Some(off) = lower[i..].find("<") {
        let at = i + off;
        let tag_end = lower[at..].find('>').map(|e| at + e + 1);
        match tag_end {
            Some(end) if lower[at..end].replace([' ', '/'], "") == "<br>" => {
                parts.push(&cell[start..at]);
                start = end;
                i = end;
            }
            Some(end) => i = end,
            None => break,
        }
    }
    parts.push(&cell[start..]);
    parts
        .into_iter()
        .filter_map(|p| {
            let p = strip_tags(&strip_links(p))
                .replace('\\', "")
                .replace(['`'], "");
            let p = p.replace("**", "");
            let tok = p.split_whitespace().next()?.to_string();
            Some(tok)
        })
        .collect()
}

/// Canonical protocol names for the many spellings (`TLS v1.2`, `TLSV1.2`, `HTTPS\/TLSv1.2`...).
pub fn normalise_protocols(published: &str) -> (Vec<String>, Vec<String>) {
    let mut out = BTreeSet::new();
    let mut unknown = Vec::new();
    let cleaned = published
        .replace('\\', "")
        .replace("**", "")
        .to_ascii_lowercase()
        .replace("tls v", "tlsv")
        .replace("tls 1", "tls1");
    for tok in cleaned.split(['/', ',', '&', ';', ' ']) {
        let t: String = tok
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        if t.is_empty() {
            continue;
        }
        let canon = match t.as_str() {
            "http" => "HTTP",
            "https" => "HTTPS",
            "tlsv1.2" | "tls1.2" | "tlsv12" => "TLSv1.2",
            "tlsv1.3" | "tls1.3" => "TLSv1.3",
            "tls" => "TLS",
            _ => {
                unknown.push(tok.trim().to_string());
                continue;
            }
        };
        out.insert(canon);
    }
    // Stable, readable order.
    let order = ["HTTP", "HTTPS", "TLS", "TLSv1.2", "TLSv1.3"];
    let v = order
        .iter()
        .filter(|p| out.contains(*p))
        .map(|p| p.to_string())
        .collect();
    (v, unknown)
}

fn edition_from_heading(h: &str) -> Option<&'static str> {
    let l = h.to_ascii_lowercase();
    let l = l.trim().trim_matches('*').trim();
    let rest = l
        .strip_prefix("windows 10 ")
        .or_else(|| l.strip_prefix("windows 11 "))?;
    match rest.trim() {
        "home" | "family" => Some("home"),
        "pro" | "professional" => Some("pro"),
        "education" => Some("education"),
        "enterprise" => Some("enterprise"),
        _ => None,
    }
}

/// Published area name -> canonical id, through the aliases in `areas.json`.
pub fn area_id(areas: &[AreaDef], published: &str) -> Option<String> {
    let p = published
        .replace("**", "")
        .trim()
        .trim_matches('*')
        .trim()
        .to_ascii_lowercase();
    if p.is_empty() {
        return None;
    }
    areas
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(&p) || a.aliases.contains(&p))
        .map(|a| a.id.clone())
}

/// Area from what a row says it is for, when the page has no area column and the build's area
/// tables don't list the destination. Ordered: first hit wins (a few rows name two areas).
fn area_from_description(desc: &str) -> Vec<&'static str> {
    let d = desc.to_ascii_lowercase();
    if d.contains("defender") && d.contains("fwlink") {
        return vec!["defender", "fwlink"];
    }
    const RULES: &[(&str, &str)] = &[
        ("device authentication", "device-authentication"),
        ("spotlight", "spotlight"),
        ("onenote", "apps"),
        ("books app", "apps"),
        ("bubble witch", "apps"),
        ("msa related", "microsoft-account"),
        ("notification system", "microsoft-store"),
        ("cortana", "cortana"),
        ("live tiles", "cortana"),
        ("insider", "windows-insider"),
        ("smartscreen", "defender"),
        ("defender", "defender"),
        ("redirection service", "fwlink"),
        ("fwlink", "fwlink"),
        ("certificate", "certificates"),
        ("fraudulent", "certificates"),
        ("baltimore", "certificates"),
        ("trust list", "certificates"),
        ("windows update", "windows-update"),
        ("delivery network", "windows-update"),
        ("patches", "windows-update"),
        ("content regulation", "windows-update"),
        ("to download content", "windows-update"),
        ("download content", "windows-update"),
        ("language input", "windows-update"),
        ("authenticate a device", "device-authentication"),
        ("microsoft account", "microsoft-account"),
        ("sign in", "microsoft-account"),
        ("device metadata", "device-metadata"),
        ("device directory", "device-directory-service"),
        ("activity feed", "activity-feed"),
        ("error reporting", "diagnostic-data"),
        ("telemetry", "diagnostic-data"),
        ("diagnostic", "diagnostic-data"),
        ("connected user experiences", "diagnostic-data"),
        ("dynamically update their configuration", "settings"),
        ("skype", "skype"),
        ("teams", "teams"),
        ("xbox", "xbox-live"),
        ("onedrive", "onedrive"),
        ("officehub", "office"),
        ("office", "office"),
        ("outlook", "office"),
        ("microsoft to do", "microsoft-todo"),
        ("location", "location"),
        ("maps", "maps"),
        ("fonts", "font-streaming"),
        ("revoke licenses", "microsoft-store"),
        ("licens", "licensing"),
        ("activation", "licensing"),
        ("ncsi", "ncsi"),
        ("connectivity", "ncsi"),
        ("edge", "edge"),
        ("microsoft store", "microsoft-store"),
        ("push notification", "microsoft-store"),
        ("store", "microsoft-store"),
        ("live tile", "apps"),
        ("weather", "apps"),
        ("photos app", "apps"),
        ("wallet", "apps"),
        ("groove", "apps"),
        ("candy crush", "apps"),
        ("bing", "bing-search"),
        ("azure", "azure"),
        ("settings", "settings"),
    ];
    RULES
        .iter()
        .find(|(k, _)| d.contains(k))
        .map(|(_, a)| vec![*a])
        .unwrap_or_default()
}

#[derive(Clone, Copy, PartialEq)]
enum Layout {
    SourceProcess,
    AreaColumn,
    DestinationFirst,
}

struct Cols {
    layout: Layout,
    n: usize,
    area: Option<usize>,
    desc: Option<usize>,
    proto: Option<usize>,
    dest: usize,
    process: Option<usize>,
    applies: Option<usize>,
}

fn header_cols(cells: &[String]) -> Option<Cols> {
    let names: Vec<String> = cells
        .iter()
        .map(|c| c.replace("**", "").trim().to_ascii_lowercase())
        .collect();
    let find = |k: &str| names.iter().position(|n| n.starts_with(k));
    let dest = find("destination")?;
    let area = find("area");
    let process = find("source process");
    let layout = if process.is_some() {
        Layout::SourceProcess
    } else if area.is_some() {
        Layout::AreaColumn
    } else {
        Layout::DestinationFirst
    };
    Some(Cols {
        layout,
        n: names.len(),
        area,
        desc: find("description"),
        proto: find("protocol"),
        dest,
        process,
        applies: find("applies from"),
    })
}

/// Parse one page into raw rows. `page_text` may have CRLF, tabs and all the usual mess.
fn parse_page(page_text: &str, warnings: &mut Vec<String>, page: &str) -> (Vec<RawRow>, usize) {
    let text = page_text.replace("\r\n", "\n").replace(['\r'], "\n");
    let text = text.replace('\t', " ");
    let lines: Vec<&str> = text.lines().collect();
    let mut rows = Vec::new();
    let mut table_rows = 0usize;

    let mut default_edition: Option<&str> = Some("enterprise");
    let mut edition: Option<&str> = None;
    let mut section_area = String::new();
    let mut para_anchor: Option<String> = None;

    let mut i = 0usize;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        if let Some(h) = t.strip_prefix("# ") {
            if h.to_ascii_lowercase().contains("non-enterprise") {
                default_edition = None;
            }
            i += 1;
            continue;
        }
        if t.starts_with('#') {
            let h = strip_tags(t.trim_start_matches('#')).trim().to_string();
            if let Some(e) = edition_from_heading(&h) {
                edition = Some(e);
            }
            section_area = h;
            para_anchor = None;
            i += 1;
            continue;
        }
        if !t.starts_with('|') {
            if let Some(a) = turnoff_link(t) {
                para_anchor = Some(a);
            }
            i += 1;
            continue;
        }
        // A table: header, separator, rows.
        let header = split_cells(t);
        let Some(cols) = header_cols(&header) else {
            // Not an endpoint table; skip it whole.
            while i < lines.len() && lines[i].trim().starts_with('|') {
                i += 1;
            }
            continue;
        };
        i += 1;
        if i < lines.len() && lines[i].trim().starts_with('|') && lines[i].contains("--") {
            i += 1;
        }
        let mut cur_area = String::new();
        let mut cur_desc = String::new();
        let mut cur_proto = String::new();
        let mut area_anchor: Option<String> = None;
        loop {
            if i < lines.len() && lines[i].trim().is_empty() {
                // A blank line inside a table: if header-less rows follow, it is the same table.
                let mut j = i;
                while j < lines.len() && lines[j].trim().is_empty() {
                    j += 1;
                }
                let resumes = lines.get(j).is_some_and(|l| {
                    l.trim().starts_with('|')
                        && header_cols(&split_cells(l)).is_none()
                        && split_cells(l).len() == cols.n
                });
                if resumes {
                    i = j;
                }
            }
            if i >= lines.len() || !lines[i].trim().starts_with('|') {
                break;
            }
            let lineno = (i + 1) as u32;
            let mut joined = lines[i].trim().to_string();
            let mut cells = split_cells(&joined);
            // A cell that wraps onto the next line (no leading pipe there).
            while cells.len() < cols.n && i + 1 < lines.len() {
                let next = lines[i + 1].trim();
                if next.is_empty() || next.starts_with('|') || next.starts_with('#') {
                    break;
                }
                joined.push(' ');
                joined.push_str(next);
                cells = split_cells(&joined);
                i += 1;
            }
            i += 1;
            let cell = |k: Option<usize>| -> String {
                k.and_then(|k| cells.get(k)).cloned().unwrap_or_default()
            };
            let dest_cell = cell(Some(cols.dest));
            let mut anchor = None;
            match cols.layout {
                Layout::AreaColumn => {
                    let a = cell(cols.area).replace("**", "").trim().to_string();
                    if !a.is_empty() {
                        cur_area = a;
                        cur_desc.clear();
                        cur_proto.clear();
                        area_anchor = None;
                    }
                    let d = cell(cols.desc);
                    if !d.is_empty() {
                        cur_desc = d;
                    }
                    let p = cell(cols.proto);
                    if !p.is_empty() {
                        cur_proto = p;
                    }
                    if dest_cell.to_ascii_lowercase().contains("learn how")
                        || (dest_cell.contains("](") && turnoff_link(&dest_cell).is_some())
                    {
                        area_anchor = turnoff_link(&dest_cell);
                        continue;
                    }
                    anchor = turnoff_link(&cur_desc).or_else(|| area_anchor.clone());
                }
                Layout::SourceProcess => {
                    cur_area = section_area.clone();
                    cur_desc.clear();
                    cur_proto = cell(cols.proto);
                    anchor = para_anchor.clone();
                }
                Layout::DestinationFirst => {
                    cur_area.clear();
                    cur_desc = cell(cols.desc);
                    cur_proto = cell(cols.proto);
                }
            }
            let entries = destination_entries(&dest_cell);
            if entries.is_empty() {
                continue;
            }
            let Some(ed) = edition.or(default_edition) else {
                warnings.push(format!("{page}:{lineno}: row before any edition heading"));
                continue;
            };
            table_rows += 1;
            let process: Vec<String> = destination_entries(&cell(cols.process))
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect();
            let process = if cols.process.is_some() {
                // Process names may contain spaces ("Windows Apps\..."): keep whole cell parts.
                split_br(&cell(cols.process))
            } else {
                process
            };
            let applies = cell(cols.applies);
            for e in entries {
                rows.push(RawRow {
                    edition: ed.to_string(),
                    area_published: cur_area.clone(),
                    description: cur_desc.clone(),
                    published: e,
                    protocol_published: cur_proto.replace('\\', "").trim().to_string(),
                    process: process.clone(),
                    anchor_published: anchor.clone(),
                    applies_from: (!applies.is_empty()).then(|| applies.clone()),
                    line: lineno,
                });
            }
        }
        para_anchor = None;
    }
    (rows, table_rows)
}

fn split_br(cell: &str) -> Vec<String> {
    let lower = cell.to_ascii_lowercase();
    let mut s = cell.to_string();
    if lower.contains("<br") {
        s = s
            .replace("<br />", "\n")
            .replace("<br/>", "\n")
            .replace("<br>", "\n");
    }
    s.split('\n')
        .map(|p| strip_tags(p).trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Import all pages of one build. Rows without an area take the areas their destination has
/// elsewhere in the same build's pages, else the area their description names.
pub fn import_pages(
    pages: &[(String, String)],
    build: &str,
    areas: &[AreaDef],
    anchors: &HashMap<String, String>,
) -> Import {
    let mut imp = Import::default();
    let mut parsed = Vec::new();
    for (name, text) in pages {
        let (rows, table_rows) = parse_page(text, &mut imp.warnings, name);
        imp.row_counts
            .insert(name.clone(), (table_rows, rows.len()));
        parsed.push((name.clone(), rows));
    }
    // Destination -> areas, from every row of this build that has an area.
    let mut by_pattern: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut by_host: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (_, rows) in &parsed {
        for r in rows {
            if let (Some(a), Some(p)) = (
                area_id(areas, &r.area_published),
                Pattern::parse(&r.published),
            ) {
                by_pattern.entry(p.text()).or_default().insert(a.clone());
                by_host.entry(p.host.clone()).or_default().insert(a);
            }
        }
    }
    for (name, rows) in parsed {
        for r in rows {
            let Some(pat) = Pattern::parse(&r.published) else {
                imp.warnings.push(format!(
                    "{name}:{}: unparsable destination {:?}",
                    r.line, r.published
                ));
                continue;
            };
            let (areas_v, placed_by) = if !r.area_published.is_empty() {
                match area_id(areas, &r.area_published) {
                    Some(a) => (vec![a], "table"),
                    None => {
                        imp.warnings.push(format!(
                            "{name}:{}: unknown area {:?}",
                            r.line, r.area_published
                        ));
                        (vec![], "unplaced")
                    }
                }
            } else if let Some(s) = by_pattern
                .get(&pat.text())
                .or_else(|| by_host.get(&pat.host))
            {
                (s.iter().cloned().collect(), "same-destination")
            } else {
                let v: Vec<String> = area_from_description(&r.description)
                    .into_iter()
                    .map(String::from)
                    .collect();
                if v.is_empty() {
                    (v, "unplaced")
                } else {
                    (v, "description")
                }
            };
            let (protocols, unknown) = normalise_protocols(&r.protocol_published);
            for u in unknown {
                imp.warnings
                    .push(format!("{name}:{}: unknown protocol {u:?}", r.line));
            }
            let anchor = r.anchor_published.as_ref().map(|a| match anchors.get(a) {
                Some(id) => id.clone(),
                None => a.clone(),
            });
            let anchor_published = match (&r.anchor_published, &anchor) {
                (Some(p), Some(a)) if p != a => Some(p.clone()),
                _ => None,
            };
            imp.endpoints.push(Endpoint {
                pattern: pat.text(),
                published: r.published,
                build: build.to_string(),
                edition: r.edition,
                areas: areas_v,
                area_published: r.area_published,
                placed_by: placed_by.to_string(),
                protocols,
                protocol_published: r.protocol_published,
                process: r.process,
                anchor,
                anchor_published,
                applies_from: r.applies_from,
                page: name.clone(),
                line: r.line,
            });
        }
    }
    imp.endpoints.sort_by(|a, b| {
        (&a.pattern, &a.page, a.line, &a.published).cmp(&(
            &b.pattern,
            &b.page,
            b.line,
            &b.published,
        ))
    });
    imp
}

/// Serialise endpoints as JSON Lines, one row per line (the shipped file format).
pub fn to_jsonl(endpoints: &[Endpoint]) -> String {
    let mut out = String::new();
    for e in endpoints {
        out.push_str(&serde_json::to_string(e).unwrap_or_default());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols() {
        assert_eq!(
            normalise_protocols("TLS v1.2/HTTPS/HTTP").0,
            ["HTTP", "HTTPS", "TLSv1.2"]
        );
        assert_eq!(
            normalise_protocols("TLSv1.2\\/HTTPS").0,
            ["HTTPS", "TLSv1.2"]
        );
        assert_eq!(normalise_protocols("TLSV1.2").0, ["TLSv1.2"]);
    }

    #[test]
    fn entries() {
        assert_eq!(
            destination_entries("wdcp.microsoft.com </br>wdcpalt.microsoft.com"),
            ["wdcp.microsoft.com", "wdcpalt.microsoft.com"]
        );
        assert_eq!(
            destination_entries("[www.microsoft.com](http://www.microsoft.com/)"),
            ["www.microsoft.com"]
        );
        assert_eq!(
            destination_entries("cs12.<span class=\"anchor\" id=\"_Hlk5\"></span>wpc.v0cdn.net"),
            ["cs12.wpc.v0cdn.net"]
        );
        assert_eq!(
            destination_entries("cy2.\\*.md.mp.microsoft.com.\\*."),
            ["cy2.*.md.mp.microsoft.com.*."]
        );
        assert_eq!(
            destination_entries("fe3.x.net (an alias for fe3.y.com)"),
            ["fe3.x.net"]
        );
    }

    #[test]
    fn slug() {
        assert_eq!(github_slug("26. Microsoft Store"), "26-microsoft-store");
        assert_eq!(github_slug("18.2 Location"), "182-location");
    }
}
