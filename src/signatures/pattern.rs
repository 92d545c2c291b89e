//! Destination patterns: turning what a page publishes into a canonical glob, and the glob
//! semantics themselves (the slow, obviously-correct form the fast matcher is tested against).

/// A published destination, normalised.
///
/// `host` is lowercase, without scheme, trailing dot or path; `*` stands for any run of characters
/// (dots included). `path` is a lowercase prefix without query string, or `None` for any path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pattern {
    pub host: String,
    pub path: Option<String>,
}

impl Pattern {
    /// Normalise a cleaned destination cell entry (markup already removed).
    ///
    /// Returns `None` when nothing host-like remains.
    pub fn parse(published: &str) -> Option<Pattern> {
        let mut s = published.trim().to_ascii_lowercase();
        for scheme in ["https://", "http://"] {
            if let Some(rest) = s.strip_prefix(scheme) {
                s = rest.to_string();
            }
        }
        let (host_part, path_part) = match s.find('/') {
            Some(i) => (&s[..i], Some(&s[i..])),
            None => (s.as_str(), None),
        };
        // A query string glued to the host ("host?x=1") is still a path component.
        let (host_part, path_part) = match (host_part.find('?'), path_part) {
            (Some(i), None) => (&host_part[..i], Some("/")),
            _ => (host_part, path_part),
        };
        let mut host: String = host_part.trim_end_matches('.').to_string();
        while host.contains("**") {
            host = host.replace("**", "*");
        }
        // `.g.akamaiedge.net` can only mean "any label(s) under g.akamaiedge.net".
        if host.starts_with('.') {
            host.insert(0, '*');
        }
        // A `*` glued to the end of a complete host (`www.bing.com*`) is "any path", not "any
        // suffix": reading it as a suffix would let `login.live.com.evil.org` match.
        if host.len() > 1 && host.ends_with('*') && !host.ends_with(".*") {
            host.pop();
        }
        // `*windowsupdate.com`: a partial wildcard glued to a registrable domain would let anyone
        // register `evilwindowsupdate.com`; read it as the label-boundary `*.windowsupdate.com`.
        if let Some(rest) = host.strip_prefix('*') {
            if !rest.starts_with('.') && !rest.contains('*') && rest.matches('.').count() == 1 {
                host = format!("*.{rest}");
            }
        }
        if host.is_empty()
            || host == "*"
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'*'))
        {
            return None;
        }
        let path = path_part.and_then(|p| {
            let p = p.split(['?', '#']).next().unwrap_or("");
            let p = p.trim_end_matches('*');
            if p.is_empty() || p == "/" {
                None
            } else {
                Some(p.to_string())
            }
        });
        Some(Pattern { host, path })
    }

    /// The canonical text form, `host` or `host/path`.
    pub fn text(&self) -> String {
        match &self.path {
            Some(p) => format!("{}{}", self.host, p),
            None => self.host.clone(),
        }
    }

    /// Parse the canonical text form back.
    pub fn from_text(s: &str) -> Pattern {
        match s.find('/') {
            Some(i) => Pattern {
                host: s[..i].to_string(),
                path: Some(s[i..].to_string()),
            },
            None => Pattern {
                host: s.to_string(),
                path: None,
            },
        }
    }

    pub fn is_exact(&self) -> bool {
        !self.host.contains('*')
    }

    /// Ordering key: exact hosts first, then more literal host characters. A path only counts
    /// (see [`path_bonus`]) once an HTTP request path has actually been checked against it.
    pub fn specificity(&self) -> u32 {
        let literal = self.host.bytes().filter(|&b| b != b'*').count() as u32;
        (u32::from(self.is_exact()) << 24) | (literal.min(0xffff) << 8)
    }

    /// Slow reference semantics of the glob alone (no ownership rule), used by tests.
    pub fn matches(&self, host: &str, http_path: Option<&str>) -> bool {
        let h = normalise_host(host);
        if !glob(self.host.as_bytes(), h.as_bytes()) {
            return false;
        }
        path_ok(self.path.as_deref(), http_path)
    }

    /// Slow reference semantics of a match: the glob, the path, and the wildcard rule of
    /// [`super::owned`]. `Some(shared_infrastructure)` when it matches.
    pub fn matches_owned(
        &self,
        host: &str,
        http_path: Option<&str>,
        owned: &super::Owned,
    ) -> Option<bool> {
        if !self.matches(host, http_path) {
            return None;
        }
        let h = normalise_host(host);
        super::owned::wildcard_rule(self.host.as_bytes(), h.as_bytes(), owned.facts(&h))
    }
}

/// Added to a pattern's specificity when its path was verified against a real request path.
pub fn path_bonus(path: &str) -> u32 {
    (path.len() as u32).min(0xff)
}

/// Lowercase, trailing dots removed.
pub fn normalise_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Path restriction: only checked when a path is known (HTTP); prefix match, case-insensitive,
/// query string ignored.
pub fn path_ok(pattern_path: Option<&str>, http_path: Option<&str>) -> bool {
    match (pattern_path, http_path) {
        (Some(pp), Some(hp)) => {
            let hp = hp.split(['?', '#']).next().unwrap_or("");
            hp.len() >= pp.len()
                && hp
                    .as_bytes()
                    .get(..pp.len())
                    .is_some_and(|pre| pre.eq_ignore_ascii_case(pp.as_bytes()))
        }
        _ => true,
    }
}

/// Glob where `*` matches any (possibly empty) run of bytes; everything else is literal.
/// Iterative with single backtrack point: linear-ish and allocation-free.
pub fn glob(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match pat.get(p) {
            Some(b'*') => {
                star = Some((p, i));
                p += 1;
            }
            Some(&c) if c == s[i] => {
                p += 1;
                i += 1;
            }
            _ => match star {
                Some((sp, si)) => {
                    p = sp + 1;
                    i = si + 1;
                    star = Some((sp, si + 1));
                }
                None => return false,
            },
        }
    }
    pat[p.min(pat.len())..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        Pattern::parse(s).map(|p| p.text()).unwrap_or_default()
    }

    #[test]
    fn normalises_published_forms() {
        assert_eq!(n("www.bing.com*"), "www.bing.com");
        assert_eq!(n("login.live.com/*"), "login.live.com");
        assert_eq!(
            n("cy2.*.md.mp.microsoft.com.*."),
            "cy2.*.md.mp.microsoft.com.*"
        );
        assert_eq!(n(".g.akamaiedge.net"), "*.g.akamaiedge.net");
        assert_eq!(n("*.aria.microsoft.com*"), "*.aria.microsoft.com");
        assert_eq!(
            n("cdn.onenote.net/livetile/?Language=en-US"),
            "cdn.onenote.net/livetile/"
        );
        assert_eq!(n("http://www.microsoft.com/"), "www.microsoft.com");
        assert_eq!(n("Watson.*.Microsoft.com"), "watson.*.microsoft.com");
        assert_eq!(n("*windowsupdate.com"), "*.windowsupdate.com");
        assert_eq!(
            n("*prod.do.dsp.mp.microsoft.com"),
            "*prod.do.dsp.mp.microsoft.com"
        );
    }

    #[test]
    fn glob_basics() {
        assert!(glob(b"*.a.com", b"x.y.a.com"));
        assert!(!glob(b"*.a.com", b"xa.com"));
        assert!(!glob(b"*.a.com", b"a.com"));
        assert!(glob(b"*prod.do", b"kv.prod.do"));
        assert!(glob(b"w.*.m.com", b"w.t.m.com"));
        assert!(!glob(b"a.com", b"a.com.evil"));
    }
}
