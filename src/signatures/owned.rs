//! Who owns a host's registrable domain, and the wildcard rule built on it.
//!
//! A published wildcard such as `store-images.*microsoft.com` or `fe3.*.mp.microsoft.com.*` is
//! meant to cover Microsoft's names and its CDNs' aliases, but read as a plain glob it also
//! covers `store-images.evilmicrosoft.com` and `fe3.delivery.mp.microsoft.com.evil.org`, which
//! anyone can register. One rule closes every such hole: **a `*` may not produce the host's
//! registrable domain** (public suffix + 1, from the public suffix list) unless that domain is
//! owned by Microsoft (`microsoft-domains.txt`) or by a CDN the pages name (`cdn-domains.txt`).
//!
//! Shared clouds (`shared-infrastructure.txt`) hand a name to any customer: `*.blob.core.windows.net` matches every
//! storage account. Such a match is kept but marked shared, so exfiltration to a customer's
//! account is not reported as documented Windows traffic.

use super::pattern::glob;

/// The ownership lists a matcher applies, lowercase registrable domains / suffixes.
#[derive(Debug, Clone, Default)]
pub struct Owned {
    /// Microsoft's and the named CDNs' registrable domains.
    domains: Vec<String>,
    /// Suffixes under which any cloud customer gets a name.
    shared: Vec<String>,
}

/// What the wildcard rule needs to know about one host (computed once per name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFacts {
    /// Length of the host's registrable domain, or of `tenant.suffix` under a shared suffix.
    pub reg_len: usize,
    /// That domain is Microsoft's or a named CDN's (or a tenant under one of them).
    pub owned: bool,
    /// The domain is a customer's name under a shared cloud suffix.
    pub tenant: bool,
}

/// Whether `host` is `domain` or ends with `.domain` (case already folded).
fn under(host: &str, domain: &str) -> bool {
    host.len() >= domain.len()
        && host.ends_with(domain)
        && (host.len() == domain.len()
            || host.as_bytes().get(host.len() - domain.len() - 1) == Some(&b'.'))
}

impl Owned {
    pub fn new(domains: Vec<String>, shared: Vec<String>) -> Owned {
        Owned { domains, shared }
    }

    pub fn domains(&self) -> &[String] {
        &self.domains
    }

    pub fn shared_suffixes(&self) -> &[String] {
        &self.shared
    }

    /// Facts of a host that is already lowercase without trailing dot.
    pub fn facts(&self, host: &str) -> HostFacts {
        // A name the list cannot split (one label, a bare suffix) counts as its own domain.
        let mut reg = psl::domain_str(host).unwrap_or(host);
        let mut tenant = false;
        // The customer's label under a shared suffix is the registrable part, whether or not
        // the public suffix list knows that suffix.
        for s in &self.shared {
            if host.len() > s.len() + 1 && under(host, s) {
                let head = host.get(..host.len() - s.len() - 1).unwrap_or("");
                let label_start = head.rfind('.').map_or(0, |i| i + 1);
                let t = host.get(label_start..).unwrap_or(host);
                if t.len() > reg.len() {
                    reg = t;
                }
                tenant = true;
            }
        }
        // A shared suffix is its cloud operator's: the customer's name under it is allowed.
        let mut owned = tenant;
        for d in &self.domains {
            if reg == d {
                owned = true;
            } else if under(reg, d) {
                // The list makes some CDN zones public suffixes (`akadns.net`): a name under
                // them is still the CDN's. Shared only when `shared-infrastructure.txt` says so.
                owned = true;
            }
        }
        HostFacts {
            reg_len: reg.len(),
            owned,
            tenant,
        }
    }
}

/// Apply the wildcard rule to a host the glob `pat` already matched. `Some(shared)` when the
/// match stands (`shared`: a `*` produced a cloud customer's name), `None` when a `*` produced
/// a registrable domain nobody on the lists owns.
pub fn wildcard_rule(pat: &[u8], host: &[u8], f: HostFacts) -> Option<bool> {
    if fixes_suffix(pat, host, f.reg_len) {
        return Some(false);
    }
    f.owned.then_some(f.tenant)
}

/// Whether `pat` can match `host` with its last `n` bytes produced by literal pattern bytes only
/// (every `*` there empty): the pattern then fixes that domain literally.
pub fn fixes_suffix(pat: &[u8], host: &[u8], n: usize) -> bool {
    let Some(split_h) = host.len().checked_sub(n) else {
        return false;
    };
    // Start of the pattern's shortest tail holding `n` literal bytes.
    let mut need = n;
    let mut k = pat.len();
    while need > 0 {
        let Some(next) = k.checked_sub(1) else {
            return false;
        };
        k = next;
        if pat.get(k) != Some(&b'*') {
            need -= 1;
        }
    }
    let tail = pat.get(k..).unwrap_or(&[]).iter().filter(|&&b| b != b'*');
    let want = host.get(split_h..).unwrap_or(&[]);
    tail.eq(want.iter())
        && glob(
            pat.get(..k).unwrap_or(&[]),
            host.get(..split_h).unwrap_or(&[]),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned() -> Owned {
        Owned::new(
            [
                "microsoft.com",
                "s-microsoft.com",
                "akadns.net",
                "windows.net",
                "azure.com",
            ]
            .map(String::from)
            .to_vec(),
            ["blob.core.windows.net", "cloudapp.azure.com"]
                .map(String::from)
                .to_vec(),
        )
    }

    fn rule(p: &str, h: &str) -> Option<bool> {
        let o = owned();
        if !glob(p.as_bytes(), h.as_bytes()) {
            return None;
        }
        wildcard_rule(p.as_bytes(), h.as_bytes(), o.facts(h))
    }

    #[test]
    fn lookalikes_rejected_legit_kept() {
        assert_eq!(
            rule(
                "store-images.*microsoft.com",
                "store-images.evilmicrosoft.com"
            ),
            None
        );
        assert_eq!(
            rule(
                "store-images.*microsoft.com",
                "store-images.s-microsoft.com"
            ),
            Some(false)
        );
        assert_eq!(rule("wdcp.microsoft.*", "wdcp.microsoft.evil"), None);
        assert_eq!(
            rule("wdcp.microsoft.*", "wdcp.microsoft.com.evil.org"),
            None
        );
        assert_eq!(rule("wdcp.microsoft.*", "wdcp.microsoft.com"), Some(false));
        assert_eq!(
            rule(
                "cy2.*.md.mp.microsoft.com.*",
                "cy2.x.md.mp.microsoft.com.attacker.net"
            ),
            None
        );
        assert_eq!(
            rule(
                "cy2.*.md.mp.microsoft.com.*",
                "cy2.displaycatalog.md.mp.microsoft.com.akadns.net"
            ),
            Some(false)
        );
        assert_eq!(rule("*.a.microsoft.com", "x.a.microsoft.com"), Some(false));
        // An empty `*` inside the domain still leaves it literal.
        assert_eq!(rule("*.g.evil*.org", "a.g.evil.org"), Some(false));
        assert_eq!(rule("*.g.evil*.org", "a.g.evilx.org"), None);
    }

    #[test]
    fn shared_tenants_marked() {
        assert_eq!(
            rule("*.blob.core.windows.net", "exfil.blob.core.windows.net"),
            Some(true)
        );
        assert_eq!(
            rule(
                "wd-prod-*fe*.cloudapp.azure.com",
                "wd-prod-xfe1.cloudapp.azure.com"
            ),
            Some(true)
        );
        // A pattern naming the tenant literally is not shared.
        assert_eq!(
            rule("acct.blob.core.windows.net", "acct.blob.core.windows.net"),
            Some(false)
        );
        assert_eq!(
            rule(
                "*.acct.blob.core.windows.net",
                "x.acct.blob.core.windows.net"
            ),
            Some(false)
        );
    }

    #[test]
    fn fixes_suffix_edges() {
        assert!(fixes_suffix(b"a.com", b"a.com", 5));
        assert!(!fixes_suffix(b"*.com", b"a.com", 5));
        assert!(fixes_suffix(b"*a.com", b"xa.com", 5));
        assert!(!fixes_suffix(b"a.com", b"a.com", 6));
        assert!(fixes_suffix(b"", b"", 0));
    }
}
