//! Escaping for each output medium. Every name in a report (SNI, Host, DNS names, and anything in
//! a saved JSON report given to `egressmap report`) is attacker-chosen, so every renderer passes
//! every text cell through the function for its medium; links are only ever `https:`.

use std::borrow::Cow;

/// Characters that change how a terminal or a text viewer shows what follows: C0 and C1
/// controls (ESC, CSI U+009B, OSC U+009D, ...), DEL, and the bidirectional overrides, embeddings
/// and isolates that reorder the text around them (the "Trojan Source" characters), plus the
/// Unicode line and paragraph separators.
fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// `s` with every dangerous character written as a visible `\u{..}` escape (and `\` doubled
/// when any escape was needed, so the escape cannot be forged). Borrowed when nothing changes.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_dangerous) {
        return Cow::Borrowed(s);
    }
    let mut o = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_dangerous(c) {
            o.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else if c == '\\' {
            o.push_str("\\\\");
        } else {
            o.push(c);
        }
    }
    Cow::Owned(o)
}

/// A text cell for a terminal: [`visible`].
pub fn term(s: &str) -> Cow<'_, str> {
    visible(s)
}

/// One CSV field (RFC 4180 quoting) with formula injection neutralised as OWASP recommends: a
/// cell starting with `=`, `+`, `-`, `@`, tab or carriage return is prefixed with `'`, so a
/// spreadsheet shows it as text instead of evaluating it. Controls are made visible first.
pub fn csv_field(s: &str) -> String {
    let v = visible(s);
    let mut cell = String::with_capacity(v.len() + 3);
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        cell.push('\'');
    }
    cell.push_str(&v);
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

/// Text for an HTML element or a quoted attribute value.
pub fn html(s: &str) -> String {
    let v = visible(s);
    let mut o = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A Markdown table cell (CommonMark / GitHub): HTML metacharacters become entities (no raw
/// HTML), every other ASCII punctuation character that Markdown gives a meaning (emphasis, code,
/// links, images, autolinks of `www.`, `https:` and `user@host`, tables, headings, escapes) is
/// backslash-escaped, and line breaks become spaces. `-` `/` `,` `;` stay as they are: inside a
/// cell they mean nothing.
pub fn markdown(s: &str) -> String {
    let v = visible(s);
    let mut o = String::with_capacity(v.len() + 8);
    for c in v.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\n' | '\r' => o.push(' '),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '!' | '|'
            | '~' | '.' | ':' | '@' | '=' | '^' | '$' | '%' | '?' | '\'' => {
                o.push('\\');
                o.push(c);
            }
            c => o.push(c),
        }
    }
    o
}

/// The URL when it is an `https:` URL made only of URL characters, percent-encoding anything
/// that could end a Markdown link or an HTML attribute (`(`, `)`, `<`, `>`, quotes, backslash,
/// backtick, spaces, controls, non-ASCII). Anything else (`javascript:`, `data:`, `http:`,
/// scheme-relative) is not a link at all.
pub fn https_url(u: &str) -> Option<String> {
    let rest = u.strip_prefix("https://")?;
    if rest.is_empty() || rest.starts_with('/') {
        return None;
    }
    let mut o = String::from("https://");
    for b in rest.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:/?#@!$&*+,;=%".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    Some(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_escapes_c0_c1_and_bidi() {
        assert_eq!(visible("a.example"), "a.example");
        assert_eq!(visible("\x1b[2Jx"), "\\u{1b}[2Jx");
        assert_eq!(visible("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(visible("\u{9d}8;;x\u{9c}"), "\\u{9d}8;;x\\u{9c}");
        assert_eq!(visible("\u{202e}moc"), "\\u{202e}moc");
        assert_eq!(visible("\u{2066}a\u{2069}"), "\\u{2066}a\\u{2069}");
        // A literal "\u{1b}" in a name cannot pass for an escape once one is needed.
        assert_eq!(visible("\\u{1b}\x07"), "\\\\u{1b}\\u{7}");
    }

    #[test]
    fn csv_neutralises_formulas() {
        assert_eq!(csv_field("host.example"), "host.example");
        assert_eq!(
            csv_field("=HYPERLINK(\"https://evil.example/x\",\"click\")"),
            "\"'=HYPERLINK(\"\"https://evil.example/x\"\",\"\"click\"\")\""
        );
        for s in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            let f = csv_field(s);
            let inner = f.trim_start_matches('"');
            assert!(
                inner.starts_with('\'') || inner.starts_with('\\'),
                "{s:?} -> {f:?}"
            );
        }
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }

    #[test]
    fn markdown_has_no_live_metacharacters() {
        let m = markdown("[click](javascript:alert(1)) <img src=x onerror=y> `x` | *b* www.e.com");
        assert!(!m.contains('<') && !m.contains('>'));
        for (i, c) in m.char_indices() {
            if "[]()`|*:.".contains(c) {
                assert_eq!(m[..i].chars().last(), Some('\\'), "{c} unescaped in {m}");
            }
        }
    }

    #[test]
    fn only_https_links() {
        assert_eq!(https_url("javascript:alert(1)"), None);
        assert_eq!(https_url("http://x.example/"), None);
        assert_eq!(https_url("https:///x"), None);
        assert_eq!(
            https_url("https://learn.microsoft.com/a#b").as_deref(),
            Some("https://learn.microsoft.com/a#b")
        );
        assert_eq!(
            https_url("https://x.example/a) [y](javascript:z \"q\"<").as_deref(),
            Some("https://x.example/a%29%20%5By%5D%28javascript:z%20%22q%22%3C")
        );
    }
}
