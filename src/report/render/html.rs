//! One self-contained HTML page: no scripts, no fonts, no network fetches; charts are inline SVG.

use std::fmt::Write as _;

use super::human_bytes;
use crate::report::model::Report;

use super::escape::{html as esc, https_url};

/// Only `https:` links are rendered as links (a saved report is untrusted input).
fn safe_url(u: &str) -> Option<String> {
    https_url(u).map(|u| esc(&u))
}

/// Width for right-aligned labels: long area names ("Microsoft forward link redirection service
/// (FWLink)") must not run off the left edge of the SVG (~7 px per character at 12 px).
fn label_width<'a>(names: impl Iterator<Item = &'a str>) -> f64 {
    let longest = names.map(|n| n.chars().count()).max().unwrap_or(0);
    (longest as f64 * 7.0 + 12.0).clamp(120.0, 420.0)
}

/// Horizontal bars: bytes per area.
fn bytes_chart(r: &Report) -> String {
    let rows: Vec<(&str, u64)> = r
        .areas
        .iter()
        .map(|a| (a.name.as_str(), a.bytes_up + a.bytes_down))
        .collect();
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
    let (label_w, bar_w, row_h) = (label_width(rows.iter().map(|r| r.0)), 480.0, 22.0);
    let h = row_h * rows.len() as f64 + 10.0;
    let mut s = format!(
        r#"<svg id="chart-bytes" class="chart" xmlns="http://www.w3.org/2000/svg" width="{}" height="{h}" role="img" aria-label="Bytes per area">"#,
        label_w + bar_w + 120.0
    );
    for (i, (name, bytes)) in rows.iter().enumerate() {
        let y = i as f64 * row_h + 5.0;
        let w = (*bytes as f64 / max as f64 * bar_w).max(1.0);
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" text-anchor="end" font-size="12">{}</text><rect class="bar" x="{label_w}" y="{y}" width="{w:.1}" height="{}" fill="#3b6ea8"/><text x="{}" y="{}" font-size="11">{}</text>"##,
            label_w - 6.0,
            y + 14.0,
            esc(name),
            row_h - 6.0,
            label_w + w + 4.0,
            y + 14.0,
            esc(&human_bytes(*bytes))
        );
    }
    s.push_str("</svg>");
    s
}

/// One small column chart per area over the capture span (the shape of idle traffic).
fn timeline_chart(r: &Report) -> String {
    let n = r.timeline.buckets.max(1);
    let label_w = label_width(r.areas.iter().map(|a| a.name.as_str()));
    let (w, row_h) = (600.0, 30.0);
    let h = row_h * r.areas.len() as f64 + 24.0;
    let mut s = format!(
        r#"<svg id="chart-timeline" class="chart" xmlns="http://www.w3.org/2000/svg" width="{}" height="{h}" role="img" aria-label="Activity over time per area">"#,
        label_w + w + 10.0
    );
    let bw = w / n as f64;
    for (i, a) in r.areas.iter().enumerate() {
        let y0 = i as f64 * row_h + 4.0;
        let max = a.activity.iter().copied().max().unwrap_or(1).max(1);
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" text-anchor="end" font-size="12">{}</text><line x1="{label_w}" y1="{}" x2="{}" y2="{}" stroke="#ccc"/>"##,
            label_w - 6.0,
            y0 + 18.0,
            esc(&a.name),
            y0 + row_h - 6.0,
            label_w + w,
            y0 + row_h - 6.0
        );
        for (j, v) in a.activity.iter().enumerate() {
            if *v == 0 {
                continue;
            }
            let bh = (*v as f64 / max as f64 * (row_h - 8.0)).max(1.0);
            let _ = write!(
                s,
                r##"<rect class="tick" x="{:.2}" y="{:.2}" width="{:.2}" height="{bh:.2}" fill="#d9822b"/>"##,
                label_w + j as f64 * bw,
                y0 + row_h - 6.0 - bh,
                bw.max(1.0)
            );
        }
    }
    let _ = write!(
        s,
        r#"<text x="{label_w}" y="{}" font-size="11">{}</text><text x="{}" y="{}" font-size="11" text-anchor="end">{} buckets of {} h</text>"#,
        h - 4.0,
        esc(r.timeline.start.as_deref().unwrap_or("")),
        label_w + w,
        h - 4.0,
        r.timeline.buckets,
        r.timeline.bucket_seconds / 3600
    );
    s.push_str("</svg>");
    s
}

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>egressmap report</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<style>body{{font:14px system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ddd;padding:3px 8px;text-align:left}}td.n{{text-align:right}}tr.area td{{background:#eef3f9;font-weight:bold}}.ms{{color:#b35900;font-weight:bold}}.muted{{color:#777}}</style></head><body>
<h1>egressmap report</h1>"#
    );
    let t = &r.totals;
    let _ = write!(
        o,
        "<p>Build <b>{}</b> {} · signatures {} · {} to {} · {} of {} flows counted ({}) · {} packets read</p><p class=\"muted\">{}</p>",
        esc(r.build.as_deref().unwrap_or("all builds")),
        esc(r.edition.as_deref().unwrap_or("")),
        esc(&r.signatures_version),
        esc(r.first_seen.as_deref().unwrap_or("-")),
        esc(r.last_seen.as_deref().unwrap_or("-")),
        t.flows,
        t.flows_seen,
        if r.scope.public_only { "public destinations" } else { "all destinations" },
        t.packets_read,
        esc(&r.counting)
    );
    let _ = write!(o, "<h2>Bytes per area</h2>{}", bytes_chart(r));
    let _ = write!(o, "<h2>Activity over time</h2>{}", timeline_chart(r));
    let _ = write!(
        o,
        "<h2>Documented endpoints seen</h2><table id=\"areas\"><tr><th>Area / destination</th><th>Pattern</th><th>Protocols</th><th>Flows</th><th>Up</th><th>Down</th><th>First seen</th><th>Last seen</th></tr>"
    );
    for a in &r.areas {
        let link = a
            .turn_off_url
            .as_deref()
            .and_then(safe_url)
            .map(|u| format!(" <a href=\"{u}\">turn off</a>"))
            .unwrap_or_default();
        let _ = write!(
            o,
            "<tr class=\"area\"><td>{} ({}){link}</td><td></td><td></td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&a.name),
            esc(&a.area),
            a.flows,
            human_bytes(a.bytes_up),
            human_bytes(a.bytes_down),
            esc(a.first_seen.as_deref().unwrap_or("")),
            esc(a.last_seen.as_deref().unwrap_or(""))
        );
        for d in &a.destinations {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&d.host),
                esc(&d.pattern),
                esc(&d.protocols_seen.join(", ")),
                d.flows,
                human_bytes(d.bytes_up),
                human_bytes(d.bytes_down),
                esc(d.first_seen.as_deref().unwrap_or("")),
                esc(d.last_seen.as_deref().unwrap_or(""))
            );
        }
    }
    o.push_str("</table>");
    let _ = write!(o, "<h2>Seen but undocumented</h2><table id=\"undocumented\"><tr><th>Domain</th><th>Host</th><th>Protocols</th><th>Flows</th><th>Up</th><th>Down</th></tr>");
    for u in &r.undocumented {
        let dom = if u.likely_microsoft {
            format!(
                "<span class=ms title=\"Microsoft-owned domain\">{}</span>",
                esc(&u.domain)
            )
        } else {
            esc(&u.domain)
        };
        let _ = write!(
            o,
            "<tr><td>{dom}</td><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            esc(&u.host),
            esc(&u.protocols_seen.join(", ")),
            u.flows,
            human_bytes(u.bytes_up),
            human_bytes(u.bytes_down)
        );
    }
    o.push_str("</table>");
    let un = &r.unattributed;
    let _ = write!(
        o,
        "<h2>Unattributed</h2><p>{} flows without a name, {} up, {} down. Encrypted Client Hello: {} flows ({}).</p>",
        un.flows,
        human_bytes(un.bytes_up),
        human_bytes(un.bytes_down),
        r.ech.flows,
        esc(&r.ech.outer_names.join(", "))
    );
    if !r.ech.inferred.is_empty() {
        o.push_str("<table id=\"ech-inferred\"><tr><th>Inferred name (not observed)</th><th>Outer name</th><th>Flows</th><th>Areas</th></tr>");
        for i in &r.ech.inferred {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&i.name),
                esc(&i.outer_name),
                i.flows,
                esc(&i.areas.join(", "))
            );
        }
        o.push_str("</table>");
    }
    let _ = write!(o, "<h2>Documented but silent ({})</h2><table id=\"silent\"><tr><th>Pattern</th><th>Areas</th><th>Protocols</th></tr>", r.documented_not_seen.len());
    for d in &r.documented_not_seen {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&d.pattern),
            esc(&d.areas.join(", ")),
            esc(&d.protocols.join(", "))
        );
    }
    o.push_str("</table>");
    if !r.warnings.is_empty() {
        o.push_str("<h2>Warnings</h2><ul>");
        for w in &r.warnings {
            let _ = write!(o, "<li>{}</li>", esc(w));
        }
        o.push_str("</ul>");
    }
    o.push_str("</body></html>\n");
    o
}
