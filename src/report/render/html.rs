//! One self-contained HTML page: no fonts, no network fetches; charts are inline SVG. The only
//! script sorts tables when a header is clicked; the page's Content-Security-Policy allows that
//! script by its SHA-256 hash and nothing else, so no name in the report can run as script.
//! Without script the tables keep their (meaningful) default order.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::human_bytes;
use super::unknown::Unknown;
use crate::report::model::Report;
use crate::report::time::parse_rfc3339_secs;

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
        .map(|a| (a.name.as_str(), a.traffic.bytes()))
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

/// One small column chart per area over the capture span (the shape of idle traffic): a day
/// axis (a line and a date at each UTC midnight) and, per row, the scale (its tallest bucket).
fn timeline_chart(r: &Report) -> String {
    let n = r.timeline.buckets.max(1);
    let label_w = label_width(r.areas.iter().map(|a| a.name.as_str()));
    let (w, row_h, scale_w) = (600.0, 30.0, 110.0);
    // Below the rows: the dates, then the caption on a line of its own (they overlapped when
    // 7 px apart).
    let h = row_h * r.areas.len() as f64 + 44.0;
    let mut s = format!(
        r#"<svg id="chart-timeline" class="chart" xmlns="http://www.w3.org/2000/svg" width="{}" height="{h}" role="img" aria-label="Activity over time per area">"#,
        label_w + w + scale_w
    );
    let bw = w / n as f64;
    let bucket = r.timeline.bucket_seconds.max(1);
    let start = r.timeline.start.as_deref().and_then(parse_rfc3339_secs);
    if let Some(start) = start {
        // Day boundaries: buckets are whole hours (or days), so midnight falls on a bucket edge.
        let first_midnight = start.div_ceil(86_400) * 86_400;
        let mut day = first_midnight;
        let mut drawn = 0;
        while day < start + n as u64 * bucket && drawn < 400 {
            let x = label_w + (day - start) as f64 / bucket as f64 * bw;
            let date = crate::report::time::rfc3339_micros(day * 1_000_000_000);
            let _ = write!(
                s,
                r##"<line class="day" x1="{x:.1}" y1="0" x2="{x:.1}" y2="{}" stroke="#bbb" stroke-dasharray="2,2"/><text x="{:.1}" y="{}" font-size="10" fill="#555">{}</text>"##,
                h - 32.0,
                x + 2.0,
                h - 20.0,
                esc(date.get(5..10).unwrap_or(""))
            );
            day += 86_400;
            drawn += 1;
        }
    }
    for (i, a) in r.areas.iter().enumerate() {
        let y0 = i as f64 * row_h + 4.0;
        let max = a.activity.iter().copied().max().unwrap_or(1).max(1);
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" text-anchor="end" font-size="12">{}</text><line x1="{label_w}" y1="{}" x2="{}" y2="{}" stroke="#ccc"/><text x="{}" y="{}" font-size="10" fill="#555">max {} / {}</text>"##,
            label_w - 6.0,
            y0 + 18.0,
            esc(&a.name),
            y0 + row_h - 6.0,
            label_w + w,
            y0 + row_h - 6.0,
            label_w + w + 6.0,
            y0 + 18.0,
            esc(&human_bytes(max)),
            if bucket >= 86_400 { "day" } else { "h" }
        );
        for (j, v) in a.activity.iter().enumerate() {
            if *v == 0 {
                continue;
            }
            let bh = (*v as f64 / max as f64 * (row_h - 8.0)).max(1.0);
            let _ = write!(
                s,
                r##"<rect class="tick" x="{:.2}" y="{:.2}" width="{:.2}" height="{bh:.2}" fill="#d9822b"><title>{}</title></rect>"##,
                label_w + j as f64 * bw,
                y0 + row_h - 6.0 - bh,
                bw.max(1.0),
                esc(&human_bytes(*v))
            );
        }
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" font-size="11" text-anchor="end">UTC from {}; {} buckets of {} h; each row to its own scale</text>"#,
        label_w + w,
        h - 4.0,
        esc(r.timeline.start.as_deref().unwrap_or("")),
        r.timeline.buckets,
        r.timeline.bucket_seconds / 3600
    );
    s.push_str("</svg>");
    s
}

/// Sorts a `table.sortable` by the clicked header: numerically by `data-v` when cells carry
/// it, else by text; a second click reverses.
const SORT_SCRIPT: &str = "document.querySelectorAll('table.sortable th').forEach(function(th){th.style.cursor='pointer';th.addEventListener('click',function(){var t=th.closest('table'),b=t.tBodies[0],i=Array.prototype.indexOf.call(th.parentNode.children,th),asc=th.getAttribute('data-dir')!=='asc';th.setAttribute('data-dir',asc?'asc':'desc');var rows=Array.prototype.slice.call(b.rows);rows.sort(function(x,y){var a=x.cells[i],c=y.cells[i],va=a.getAttribute('data-v'),vc=c.getAttribute('data-v'),r=(va!==null&&vc!==null)?parseFloat(va)-parseFloat(vc):a.textContent.localeCompare(c.textContent);return asc?r:-r;});rows.forEach(function(r){b.appendChild(r);});});});";

/// Standard base64 (for the CSP hash; ten lines are not worth a crate).
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                o.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

fn script_hash() -> String {
    base64(&Sha256::digest(SORT_SCRIPT.as_bytes()))
}

/// A numeric cell: the human figure shown, the raw number for sorting.
fn num(v: u64, shown: &str) -> String {
    format!("<td class=n data-v=\"{v}\">{}</td>", esc(shown))
}

/// A byte cell: "unknown" (sorted first) where the inputs record no byte counts.
fn bytes_cell(u: &Unknown<'_>, v: u64) -> String {
    if u.is("bytes") && v == 0 {
        "<td class=\"n muted\" data-v=\"-1\">unknown</td>".to_string()
    } else {
        num(v, &human_bytes(v))
    }
}

/// A paragraph saying a field is unknown (or incomplete), when it is.
fn unknown_note(u: &Unknown<'_>, field: &str, counted: bool, what: &str) -> String {
    u.say(field, counted)
        .map(|s| format!("<p class=\"unknown\"><b>{}</b>: {}</p>", esc(what), esc(&s)))
        .unwrap_or_default()
}

fn sortable_head(id: &str, cols: &[&str]) -> String {
    let mut s = format!("<table id=\"{id}\" class=\"sortable\"><thead><tr>");
    for c in cols {
        let _ = write!(s, "<th>{}</th>", esc(c));
    }
    s.push_str("</tr></thead><tbody>");
    s
}

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>egressmap report</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{}'">
<style>body{{font:14px system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ddd;padding:3px 8px;text-align:left}}td.n{{text-align:right;white-space:nowrap}}td.t{{white-space:nowrap}}tr.area td{{background:#eef3f9;font-weight:bold}}.ms{{color:#b35900;font-weight:bold}}.muted{{color:#777}}th{{background:#f6f6f6;white-space:nowrap}}table.sortable th:after{{content:" \2195";color:#aaa}}</style></head><body>
<h1>egressmap report</h1>"#,
        script_hash()
    );
    let t = &r.totals;
    let u = Unknown::of(r);
    let by = |n: u64| u.figure("bytes", n, &human_bytes(n));
    let _ = write!(
        o,
        "<p>Build <b>{}</b> {} · signatures {} · {} to {} · {} of {} flows counted ({}) · {} packets read</p><p>{} documented, {} undocumented, {} unattributed, {} ECH flows · {} up, {} down</p><p class=\"muted\">{}</p>",
        esc(r.build.as_deref().unwrap_or("all builds")),
        esc(r.edition.as_deref().unwrap_or("")),
        esc(&r.signatures_version),
        esc(r.first_seen.as_deref().unwrap_or("-")),
        esc(r.last_seen.as_deref().unwrap_or("-")),
        t.traffic.flows,
        t.flows_seen,
        if r.scope.public_only { "public destinations" } else { "all destinations" },
        esc(&u.figure("packets_read", t.packets_read, &t.packets_read.to_string())),
        t.documented_flows,
        t.undocumented_flows,
        t.unattributed_flows,
        esc(&u.figure("ech", t.ech_flows, &t.ech_flows.to_string())),
        esc(&by(t.traffic.bytes_up)),
        esc(&by(t.traffic.bytes_down)),
        esc(&r.counting)
    );
    if !r.unknown.is_empty() {
        o.push_str("<h2>Unknown</h2><p>The inputs do not record these fields: they are shown as unknown, not 0.</p><ul id=\"unknown\">");
        for (f, why) in u.all() {
            let _ = write!(o, "<li><code>{}</code>: {}</li>", esc(f), esc(why));
        }
        o.push_str("</ul>");
    }
    // Both charts draw bytes: without byte counts there is nothing to draw.
    let no_bytes = t.traffic.bytes() == 0;
    for (title, chart) in [
        ("Bytes per area", bytes_chart as fn(&Report) -> String),
        ("Activity over time", timeline_chart),
    ] {
        let _ = write!(o, "<h2>{title}</h2>");
        o.push_str(&unknown_note(&u, "bytes", !no_bytes, "Bytes"));
        if !(u.is("bytes") && no_bytes) {
            o.push_str(&chart(r));
        }
    }
    o.push_str("<h2>Areas</h2>");
    o.push_str(&sortable_head(
        "area-summary",
        &[
            "Area",
            "Id",
            "Flows",
            "Destinations",
            "Up",
            "Down",
            "First seen",
            "Last seen",
        ],
    ));
    for a in &r.areas {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td>{}{}{}{}<td class=t>{}</td><td class=t>{}</td></tr>",
            esc(&a.name),
            esc(&a.area),
            num(a.traffic.flows, &a.traffic.flows.to_string()),
            num(
                a.distinct_destinations,
                &a.distinct_destinations.to_string()
            ),
            bytes_cell(&u, a.traffic.bytes_up),
            bytes_cell(&u, a.traffic.bytes_down),
            esc(a.seen.first_seen.as_deref().unwrap_or("")),
            esc(a.seen.last_seen.as_deref().unwrap_or(""))
        );
    }
    o.push_str("</tbody></table>");
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
            "<tr class=\"area\"><td>{} ({}){link}</td><td></td><td></td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=t>{}</td><td class=t>{}</td></tr>",
            esc(&a.name),
            esc(&a.area),
            a.traffic.flows,
            esc(&u.cell("bytes", a.traffic.bytes_up, &human_bytes(a.traffic.bytes_up))),
            esc(&u.cell("bytes", a.traffic.bytes_down, &human_bytes(a.traffic.bytes_down))),
            esc(a.seen.first_seen.as_deref().unwrap_or("")),
            esc(a.seen.last_seen.as_deref().unwrap_or(""))
        );
        for d in &a.destinations {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=t>{}</td><td class=t>{}</td></tr>",
                esc(&d.host),
                esc(&d.pattern),
                esc(&d.protocols_seen.join(", ")),
                d.traffic.flows,
                esc(&u.cell("bytes", d.traffic.bytes_up, &human_bytes(d.traffic.bytes_up))),
                esc(&u.cell("bytes", d.traffic.bytes_down, &human_bytes(d.traffic.bytes_down))),
                esc(d.seen.first_seen.as_deref().unwrap_or("")),
                esc(d.seen.last_seen.as_deref().unwrap_or(""))
            );
        }
    }
    o.push_str("</table>");
    let _ = write!(
        o,
        "<h2>Seen but undocumented</h2><p class=\"muted\">Named public traffic that matches no documented endpoint. <span class=ms>Orange bold</span>: a Microsoft-owned domain, likely an undocumented Microsoft endpoint.</p>{}",
        sortable_head(
            "undocumented",
            &["Domain", "Host", "Protocols", "Flows", "Up", "Down", "DNS queries"]
        )
    );
    for x in &r.undocumented {
        let dom = if x.likely_microsoft {
            format!(
                "<span class=ms title=\"Microsoft-owned domain\">{}</span>",
                esc(&x.domain)
            )
        } else {
            esc(&x.domain)
        };
        let _ = write!(
            o,
            "<tr><td>{dom}</td><td>{}</td><td>{}</td>{}{}{}{}</tr>",
            esc(&x.host),
            esc(&x.protocols_seen.join(", ")),
            num(x.traffic.flows, &x.traffic.flows.to_string()),
            bytes_cell(&u, x.traffic.bytes_up),
            bytes_cell(&u, x.traffic.bytes_down),
            num(
                x.dns_queries,
                &u.cell("dns", x.dns_queries, &x.dns_queries.to_string())
            )
        );
    }
    o.push_str("</tbody></table>");
    dns_section(&mut o, r);
    let un = &r.unattributed;
    let _ = write!(
        o,
        "<h2>Unattributed</h2><p>{} flows without a name, {} up, {} down. Encrypted Client Hello: {}{}.</p>",
        un.traffic.flows,
        esc(&by(un.traffic.bytes_up)),
        esc(&by(un.traffic.bytes_down)),
        esc(&match u.say("ech", r.ech.flows > 0) {
            Some(s) if r.ech.flows == 0 => s,
            Some(s) => format!("{} flows ({s})", r.ech.flows),
            None => format!("{} flows", r.ech.flows),
        }),
        if r.ech.outer_names.is_empty() {
            String::new()
        } else {
            format!(" ({})", esc(&r.ech.outer_names.join(", ")))
        }
    );
    if !r.shared_infrastructure.is_empty() {
        o.push_str("<h2>Shared cloud infrastructure</h2><p>Names a documented wildcard covers only because any customer of the cloud can own them; not counted as documented.</p><table id=\"shared\"><tr><th>Host</th><th>Pattern</th><th>Areas</th><th>Flows</th><th>Up</th><th>Down</th></tr>");
        for s in &r.shared_infrastructure {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&s.host),
                esc(&s.pattern),
                esc(&s.areas.join(", ")),
                s.traffic.flows,
                esc(&u.cell(
                    "bytes",
                    s.traffic.bytes_up,
                    &human_bytes(s.traffic.bytes_up)
                )),
                esc(&u.cell(
                    "bytes",
                    s.traffic.bytes_down,
                    &human_bytes(s.traffic.bytes_down)
                ))
            );
        }
        o.push_str("</table>");
    }
    if !un.servers.is_empty() {
        o.push_str(&sortable_head(
            "unattributed",
            &["Protocol", "Server", "Port", "Flows", "Up", "Down"],
        ));
        for s in &un.servers {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td>{}{}{}{}</tr>",
                esc(&s.proto),
                esc(&s.server_ip),
                num(u64::from(s.server_port), &s.server_port.to_string()),
                num(s.flows, &s.flows.to_string()),
                bytes_cell(&u, s.bytes_up),
                bytes_cell(&u, s.bytes_down)
            );
        }
        o.push_str("</tbody></table>");
    }
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
    let _ = write!(
        o,
        "<h2>Documented but silent ({})</h2><p class=\"muted\">Listed for this build and edition, matched by no counted flow.</p>{}",
        r.documented_not_seen.len(),
        sortable_head("silent", &["Pattern", "Areas", "Protocols"])
    );
    for d in &r.documented_not_seen {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td class=\"t\">{}</td></tr>",
            esc(&d.pattern),
            esc(&d.areas.join(", ")),
            esc(&d.protocols.join(", "))
        );
    }
    o.push_str("</tbody></table>");
    if let Some(g) = &r.build_guess {
        let _ = write!(
            o,
            "<h2>Build guess</h2><p class=\"muted\">{} documented endpoints seen; score = F1 of precision (share of the seen endpoints the page lists) and recall (share of the page seen).</p>{}",
            g.seen_patterns,
            sortable_head("guess", &["Rank", "Build", "Edition", "Score", "Precision", "Recall"])
        );
        for (i, x) in g.ranking.iter().enumerate() {
            let _ = write!(
                o,
                "<tr>{}<td>{}</td><td>{}</td><td class=n data-v=\"{:.4}\">{:.3}</td><td class=n data-v=\"{:.4}\">{:.0}%</td><td class=n data-v=\"{:.4}\">{:.0}%</td></tr>",
                num(i as u64 + 1, &(i + 1).to_string()),
                esc(&x.build),
                esc(&x.edition),
                x.score,
                x.score,
                x.precision,
                x.precision * 100.0,
                x.recall,
                x.recall * 100.0
            );
        }
        o.push_str("</tbody></table>");
    }
    machine_matrix(&mut o, r);
    if !r.warnings.is_empty() {
        o.push_str("<h2>Warnings</h2><ul>");
        for w in &r.warnings {
            let _ = write!(o, "<li>{}</li>", esc(w));
        }
        o.push_str("</ul>");
    }
    let _ = writeln!(o, "<script>{SORT_SCRIPT}</script></body></html>");
    o
}

/// Machines shown in the matrix at most (the busiest); the JSON report has every one.
const MATRIX_MACHINES: usize = 500;

/// Machine by area: flows and bytes of each machine in each documented area, with the
/// machine's name, MAC and build guess (sortable by the page's hashed script, no inline code).
fn machine_matrix(o: &mut String, r: &Report) {
    if r.clients.is_empty() {
        return;
    }
    let u = Unknown::of(r);
    // No MAC or name: an empty cell (none seen), or "unknown" when the inputs cannot say.
    let absent = |f: &str| if u.is(f) { "unknown" } else { "" };
    let mut machines: Vec<&crate::report::model::Client> = r.clients.iter().collect();
    machines.sort_by_key(|c| std::cmp::Reverse(c.traffic.bytes()));
    let mut cols: Vec<&str> = vec!["Address", "Name", "MAC", "Build guess", "Flows", "Bytes"];
    cols.extend(r.areas.iter().map(|a| a.name.as_str()));
    let _ = write!(
        o,
        "<h2>Machines by area</h2><p class=\"muted\">{} machines; each cell: flows / bytes of that machine in that area. Names are what the machines announced (DHCP, NetBIOS) or a DNS PTR answer.</p>{}",
        machines.len(),
        sortable_head("machines", &cols)
    );
    for c in machines.iter().take(MATRIX_MACHINES) {
        let guess = c.build_guess.as_ref().map_or(String::new(), |g| {
            format!("{} {} ({:.3})", g.build, g.edition, g.score)
        });
        let _ = write!(
            o,
            "<tr><td class=\"t\">{}</td><td>{}</td><td class=\"t\">{}</td><td>{}</td>{}{}",
            esc(&c.address),
            esc(c.name.as_deref().unwrap_or(absent("clients.name"))),
            esc(c.mac.as_deref().unwrap_or(absent("clients.mac"))),
            esc(&guess),
            num(c.traffic.flows, &c.traffic.flows.to_string()),
            bytes_cell(&u, c.traffic.bytes()),
        );
        for a in &r.areas {
            match c.areas.iter().find(|x| x.area == a.area) {
                Some(x) => o.push_str(&num(
                    x.traffic.bytes(),
                    &format!(
                        "{} / {}",
                        x.traffic.flows,
                        u.cell("bytes", x.traffic.bytes(), &human_bytes(x.traffic.bytes()))
                    ),
                )),
                None => o.push_str("<td class=n data-v=\"0\"></td>"),
            }
        }
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table>");
    if machines.len() > MATRIX_MACHINES {
        let _ = write!(
            o,
            "<p class=\"muted\">{} more machines (--report json has them all).</p>",
            machines.len() - MATRIX_MACHINES
        );
    }
}

/// Every name looked up: its counts and what the signatures say of it.
fn dns_section(o: &mut String, r: &Report) {
    let d = &r.dns;
    let u = Unknown::of(r);
    o.push_str("<h2>Names looked up (DNS)</h2>");
    let counted = !d.names.is_empty() || d.queries > 0 || d.answers > 0;
    // Logs without DNS records: the view is unknown, said instead of a table of zeros.
    o.push_str(&unknown_note(&u, "dns", counted, "DNS view"));
    if u.is("dns") && !counted {
        return;
    }
    let answered = match u.say("dns.answers", d.answers > 0) {
        Some(s) if d.answers == 0 => format!("answered responses {s}"),
        Some(s) => format!("{} answered responses ({s})", d.answers),
        None => format!("{} answered responses", d.answers),
    };
    let _ = write!(
        o,
        "<p class=\"muted\">Every name the clients asked their resolvers for, however many names one DNS flow carried: {} queries, {}.</p>{}",
        d.queries,
        esc(&answered),
        sortable_head("dns", &["Name", "Status", "Areas", "Queries", "Answers", "Clients"])
    );
    for n in &d.names {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td>{}{}{}</tr>",
            esc(&n.name),
            esc(&n.status),
            esc(&n.areas.join(", ")),
            num(n.queries, &n.queries.to_string()),
            num(
                n.answers,
                &u.cell("dns.answers", n.answers, &n.answers.to_string())
            ),
            num(n.clients.len() as u64, &super::dns_clients(n))
        );
    }
    o.push_str("</tbody></table>");
    if d.unlisted_queries + d.unlisted_answers > 0 {
        let _ = write!(
            o,
            "<p>Not itemised (past the bound): {} queries, {} answers.</p>",
            d.unlisted_queries, d.unlisted_answers
        );
    }
}
