//! Which DNS answers may name flows: only those a spoofer on the path cannot inject.
//!
//! An answer counts only if it answers an outstanding query of the same exchange (the query's
//! 5-tuple reversed, the same ID, the same question) and only for the records that belong to the
//! question: A/AAAA (and HTTPS hints) whose owner is the question name or a link of the CNAME
//! chain the answer gives from it. A query is answered once: a second, racing answer with the
//! same ID is ignored. Everything rejected is counted.
//!
//! The table is keyed by the exchange, not by flow, so a worker can validate the DNS traffic of
//! flows another worker owns and every worker learns the same answers.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::capture::Nanos;
use crate::proto::dns::{AnswerData, DnsMessage};

const SEC: Nanos = 1_000_000_000;
/// Queries awaiting an answer at most (bounded memory under a query flood).
const MAX_PENDING: usize = 65_536;
/// An answer later than this after its query is not accepted (resolvers give up well before).
const ANSWER_WINDOW: Nanos = 30 * SEC;
/// CNAME links followed from the question.
const MAX_CHAIN: usize = 16;

/// One DNS exchange: transport, client and server endpoints, message ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Exchange {
    pub tcp: bool,
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    pub id: u16,
}

/// The question is kept as a keyed hash of its name (no allocation per query; the key is random
/// per process, so a sender cannot aim at a collision).
#[derive(Clone, Debug)]
struct Pending {
    qname_hash: u64,
    qtype: u16,
    at: Nanos,
}

#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct ValidatorStats {
    pub queries: u64,
    pub answers_accepted: u64,
    /// Responses with no outstanding query on their exchange (unsolicited, wrong ID or port,
    /// already answered, or later than the answer window).
    pub answers_unsolicited: u64,
    /// Responses whose question differs from the query's.
    pub answers_wrong_question: u64,
    /// Address records dropped because their owner is not the question or its CNAME chain.
    pub records_out_of_chain: u64,
    /// Responses (QR=1) sent by the client side of an exchange: ignored.
    pub responses_from_client: u64,
    /// Outstanding queries forgotten because the table was full.
    pub queries_dropped: u64,
}

/// What a validated answer says: the question, the chain, and the addresses that may be bound
/// (names borrowed from the message; DNS names are parsed lowercase).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validated<'m> {
    pub qname: &'m str,
    pub chain: Vec<&'m str>,
    /// Addresses of A/AAAA records and HTTPS hints in the chain, with their TTLs.
    pub addrs: Vec<(IpAddr, u32)>,
    /// ECH public names of HTTPS/SVCB records in the chain, with their TTLs.
    pub ech_public_names: Vec<(&'m str, u32)>,
    /// Targets of PTR records owned by the question name (a reverse lookup's answer).
    pub ptrs: Vec<&'m str>,
}

#[derive(Default)]
pub struct Validator {
    pending: HashMap<Exchange, Pending, ahash::RandomState>,
    names: ahash::RandomState,
    pub stats: ValidatorStats,
}

impl Validator {
    /// A query sent by `x.client` to `x.server`.
    pub fn query(&mut self, x: Exchange, m: &DnsMessage, now: Nanos) {
        let Some((q, qtype)) = m.questions.first() else {
            return;
        };
        self.stats.queries += 1;
        if self.pending.len() >= MAX_PENDING && !self.pending.contains_key(&x) {
            let before = self.pending.len();
            self.pending
                .retain(|_, p| now.saturating_sub(p.at) <= ANSWER_WINDOW);
            if self.pending.len() >= MAX_PENDING {
                // All recent: a flood. Forget the older half.
                let mut ats: Vec<Nanos> = self.pending.values().map(|p| p.at).collect();
                let mid = ats.len() / 2;
                let (_, cut, _) = ats.select_nth_unstable(mid);
                let cut = *cut;
                self.pending.retain(|_, p| p.at > cut);
            }
            self.stats.queries_dropped += (before - self.pending.len()) as u64;
        }
        self.pending.insert(
            x,
            Pending {
                qname_hash: self.names.hash_one(q.as_str()),
                qtype: *qtype,
                at: now,
            },
        );
    }

    /// A message with QR=1 that the client side sent: never an answer.
    pub fn response_from_client(&mut self) {
        self.stats.responses_from_client += 1;
    }

    /// A response sent by `x.server` to `x.client`; `Some` when it answers an outstanding query.
    pub fn answer<'m>(
        &mut self,
        x: Exchange,
        m: &'m DnsMessage,
        now: Nanos,
    ) -> Option<Validated<'m>> {
        let Some(p) = self
            .pending
            .get(&x)
            .filter(|p| now.saturating_sub(p.at) <= ANSWER_WINDOW && p.at <= now)
        else {
            self.stats.answers_unsolicited += 1;
            return None;
        };
        let question = m
            .questions
            .first()
            .filter(|(q, t)| *t == p.qtype && self.names.hash_one(q.as_str()) == p.qname_hash);
        let Some((qname, _)) = question else {
            self.stats.answers_wrong_question += 1;
            return None;
        };
        self.pending.remove(&x);
        self.stats.answers_accepted += 1;
        let qname = qname.as_str();
        // The chain: CNAME links from the question, in order, whatever order the records have.
        let mut chain: Vec<&str> = Vec::new();
        let mut tail = qname;
        for _ in 0..MAX_CHAIN {
            let next = m.answers.iter().find_map(|a| match &a.data {
                AnswerData::Cname(c) if a.name == tail => Some(c.as_str()),
                _ => None,
            });
            match next {
                Some(c) if c != qname && !chain.contains(&c) => {
                    chain.push(c);
                    tail = c;
                }
                _ => break,
            }
        }
        let in_chain = |n: &str| n == qname || chain.contains(&n);
        let mut out = Validated {
            qname,
            ..Default::default()
        };
        for a in &m.answers {
            match &a.data {
                AnswerData::Addr(ip) => {
                    if in_chain(&a.name) {
                        out.addrs.push((*ip, a.ttl));
                    } else {
                        self.stats.records_out_of_chain += 1;
                    }
                }
                AnswerData::Https {
                    ipv4hint,
                    ipv6hint,
                    ech_public_name,
                    ..
                } => {
                    if !in_chain(&a.name) {
                        self.stats.records_out_of_chain += 1;
                        continue;
                    }
                    if let Some(pn) = ech_public_name {
                        out.ech_public_names.push((pn.as_str(), a.ttl));
                    }
                    out.addrs
                        .extend(ipv4hint.iter().map(|v4| (IpAddr::V4(*v4), a.ttl)));
                    out.addrs
                        .extend(ipv6hint.iter().map(|v6| (IpAddr::V6(*v6), a.ttl)));
                }
                AnswerData::Ptr(target) => {
                    if a.name == qname {
                        out.ptrs.push(target.as_str());
                    } else {
                        self.stats.records_out_of_chain += 1;
                    }
                }
                _ => {}
            }
        }
        out.chain = chain;
        Some(out)
    }
}
