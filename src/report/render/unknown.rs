//! What a report cannot know, said the same way by every format. A report from Zeek or Suricata
//! logs lists in `Report::unknown` the fields its inputs do not record (`dns` without dns.log,
//! `bytes` when conn.log has no counts, ...); the model keeps 0 there (JSON says `unknown`
//! beside it), and every other format must show "unknown", never that 0.
//!
//! A merged report is unknown in a field when any of its inputs is (the sum lacks that input's
//! share), yet may have counted the field from its other inputs: those figures are shown, marked
//! as incomplete (a lower bound) rather than unknown.

use crate::report::model::{MergedInput, Report};

/// Known fields and why logs lack them (plain text: each renderer escapes it).
const REASONS: &[(&str, &str)] = &[
    (
        "dns",
        "the logs hold no DNS records: no dns.log, or eve.json without dns events",
    ),
    (
        "dns.answers",
        "no DNS response was logged: Suricata with responses off, or a one-way tap",
    ),
    (
        "packets",
        "the connection records carry no packet counts, as in a zeek-cut subset",
    ),
    (
        "bytes",
        "the connection records carry no byte counts, as in a zeek-cut subset",
    ),
    ("packets_read", "logs record flows, not packets"),
    (
        "ech",
        "logs do not record Encrypted Client Hello: an ECH flow shows as its outer name",
    ),
    (
        "inferred_host",
        "logs do not record the HTTPS records ECH inner names are inferred from",
    ),
    (
        "vlan",
        "Zeek's conn.log records VLANs only with a policy script",
    ),
    (
        "clients.mac",
        "the logs record no link-layer addresses (Zeek's mac-logging policy and Suricata's ethernet: yes add them)",
    ),
    (
        "clients.name",
        "logs do not record DHCP or NetBIOS host names",
    ),
];

/// Why `field` is unknown (a field this version does not know: a generic reason).
pub fn reason(field: &str) -> &'static str {
    REASONS
        .iter()
        .find(|(f, _)| *f == field)
        .map_or("the report's inputs do not record it", |(_, r)| r)
}

/// The report's unknown fields, asked about by name.
#[derive(Clone, Copy)]
pub struct Unknown<'a> {
    fields: &'a [String],
    /// A merge's inputs, with each one's own unknown fields.
    merged: &'a [MergedInput],
}

/// Merged reports named in an "incomplete" sentence at most.
const NAMED_INPUTS: usize = 3;

impl<'a> Unknown<'a> {
    pub fn of(r: &'a Report) -> Self {
        Unknown {
            fields: &r.unknown,
            merged: &r.merged_from,
        }
    }

    /// Which merged reports lack `field` ("a.json and 1 more, 2 of 3 merged reports"), when
    /// the provenance says (reports merged before it did not).
    fn lacking(&self, field: &str) -> Option<String> {
        let lack = |m: &&MergedInput| {
            m.unknown
                .iter()
                .any(|f| f == field || field.split_once('.').is_some_and(|(p, _)| f == p))
        };
        let names: Vec<&str> = self
            .merged
            .iter()
            .filter(lack)
            .map(|m| m.report.as_str())
            .collect();
        if names.is_empty() {
            return None;
        }
        let mut s = names
            .iter()
            .take(NAMED_INPUTS)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if names.len() > NAMED_INPUTS {
            s.push_str(&format!(" and {} more", names.len() - NAMED_INPUTS));
        }
        Some(format!(
            "{s}: {} of {} merged reports",
            names.len(),
            self.merged.len()
        ))
    }

    /// Whether `field` itself is listed.
    fn listed(&self, field: &str) -> bool {
        self.fields.iter().any(|f| f == field)
    }

    /// Whether `field` is unknown: listed, or part of a listed field (`dns.answers` of `dns`).
    pub fn is(&self, field: &str) -> bool {
        self.listed(field) || field.split_once('.').is_some_and(|(p, _)| self.listed(p))
    }

    /// Every field listed, with its reason, in the report's order.
    pub fn all(&self) -> impl Iterator<Item = (&'a str, &'static str)> {
        self.fields.iter().map(|f| (f.as_str(), reason(f)))
    }

    /// The sentence for an unknown `field` ("unknown (REASON)"), or when something was still
    /// counted (`counted`: a merge with inputs that record it) that the figures are incomplete;
    /// `None` when the field is known.
    pub fn say(&self, field: &str, counted: bool) -> Option<String> {
        if !self.listed(field) {
            return None;
        }
        Some(if counted {
            let which = self
                .lacking(field)
                .unwrap_or_else(|| "some merged inputs".to_string());
            format!(
                "incomplete: {which} do not record it ({}); the figures are the other inputs' only",
                reason(field)
            )
        } else {
            format!("unknown ({})", reason(field))
        })
    }

    /// A figure of `field`: `shown` when known; "unknown" when unknown and nothing was counted;
    /// "at least `shown`" when unknown but some inputs counted it (a merge).
    pub fn figure(&self, field: &str, n: u64, shown: &str) -> String {
        if !self.is(field) {
            shown.to_string()
        } else if n == 0 {
            "unknown".to_string()
        } else {
            format!("at least {shown}")
        }
    }

    /// A table cell of `field`: `shown` when known or counted, "unknown" when unknown and 0
    /// (a cell cannot say "at least": the report's statement says the figures are incomplete).
    pub fn cell(&self, field: &str, n: u64, shown: &str) -> String {
        if self.is(field) && n == 0 {
            "unknown".to_string()
        } else {
            shown.to_string()
        }
    }

    /// A CSV number: `None` (an empty cell) when unknown and 0.
    pub fn number(&self, field: &str, n: u64) -> Option<u64> {
        (!self.is(field) || n > 0).then_some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_say_unknown_or_incomplete_never_zero() {
        let r = Report {
            unknown: vec!["dns".into(), "bytes".into(), "no-such-field".into()],
            ..Report::default()
        };
        let u = Unknown::of(&r);
        assert_eq!(u.figure("dns", 0, "0"), "unknown");
        assert_eq!(u.figure("dns", 3, "3"), "at least 3");
        assert_eq!(u.figure("ech", 0, "0"), "0");
        assert_eq!(u.cell("bytes", 0, "0 B"), "unknown");
        assert_eq!(u.cell("bytes", 5, "5 B"), "5 B");
        assert_eq!(u.number("dns", 0), None);
        assert_eq!(u.number("dns", 2), Some(2));
        assert_eq!(u.number("ech", 0), Some(0));
        assert!(u
            .say("dns", false)
            .unwrap()
            .starts_with("unknown (the logs hold no DNS"));
        assert!(u
            .say("dns", true)
            .unwrap()
            .starts_with("incomplete: some merged inputs do not record it"));
        // A merge names the reports that lack it, from its provenance.
        let input = |name: &str, unknown: &[&str]| MergedInput {
            report: name.to_string(),
            unknown: unknown.iter().map(|u| u.to_string()).collect(),
            ..MergedInput::default()
        };
        let m = Report {
            unknown: vec!["dns".into()],
            merged_from: vec![
                input("pcap.json", &[]),
                input("zeek.json", &["ech", "dns"]),
                input("eve.json", &["dns.answers"]),
            ],
            ..Report::default()
        };
        let mu = Unknown::of(&m);
        assert_eq!(
            mu.say("dns", true).unwrap(),
            "incomplete: zeek.json: 1 of 3 merged reports do not record it (the logs hold no DNS records: no dns.log, or eve.json without dns events); the figures are the other inputs' only"
        );
        assert_eq!(
            mu.lacking("dns.answers").unwrap(),
            "zeek.json, eve.json: 2 of 3 merged reports"
        );
        assert_eq!(u.say("ech", false), None);
        // Part of an unknown field is unknown; said once, for the field.
        assert!(u.is("dns.answers") && u.say("dns.answers", false).is_none());
        assert_eq!(u.cell("dns.answers", 0, "0"), "unknown");
        assert_eq!(
            u.all().last(),
            Some(("no-such-field", "the report's inputs do not record it"))
        );
    }
}
