//! The flow table: one hash lookup per packet, bounded size, idle expiry, and memory of the names
//! of flows that expired (a quiet push connection that wakes up keeps its hostname).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;

use super::{is_service_port, Counters, Flow, FlowKey, HostSource, TCP, UDP};
use crate::capture::Nanos;
use crate::decode::{tcp_flags, Decoded, Transport};
use crate::proto::App;

const SEC: Nanos = 1_000_000_000;

#[derive(Clone, Debug)]
pub struct FlowTableConfig {
    /// Flows held at once; when full the least recently seen are flushed early (counted).
    pub max_flows: usize,
    pub tcp_idle: Nanos,
    pub udp_idle: Nanos,
    pub other_idle: Nanos,
    /// How long a TCP flow that saw FIN/RST stays to collect its last packets.
    pub closed_linger: Nanos,
    /// Names of expired flows remembered for flows that come back on the same key.
    pub remembered_names: usize,
    /// How long (capture time) an expired flow's name is remembered. Time, not the table's
    /// fill level, decides what is forgotten, so the output does not depend on how flows were
    /// sharded across threads.
    pub remember_for: Nanos,
    /// Distinct names kept per flow (at most [`super::NAMES_PER_FLOW_LIMIT`]); more are counted.
    pub max_names: usize,
}

impl Default for FlowTableConfig {
    fn default() -> Self {
        FlowTableConfig {
            max_flows: 500_000,
            // Windows push (WNS) connections send keep-alives every few minutes; 15 minutes keeps
            // them one flow.
            tcp_idle: 900 * SEC,
            udp_idle: 60 * SEC,
            other_idle: 60 * SEC,
            closed_linger: 10 * SEC,
            remembered_names: 65_536,
            remember_for: 3600 * SEC,
            max_names: super::MAX_NAMES_PER_FLOW,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct FlowTableStats {
    pub created: u64,
    pub ended_fin_rst: u64,
    pub expired_idle: u64,
    /// Flushed before their time because the table was full.
    pub evicted: u64,
    /// Flows that came back after expiring and got their old name again.
    pub revived_names: u64,
    /// Remembered names dropped because that memory was full.
    pub remembered_names_evicted: u64,
    pub peak_flows: u64,
}

/// A flow leaving the table, with why and when. `at` is the capture time; the engine replaces it
/// with the number of the record that ended the flow (`u64::MAX` at end of input), so output
/// ordered by [`Ended::order`] does not depend on how flows were sharded across threads.
#[derive(Debug)]
pub struct Ended {
    pub flow: Flow,
    pub reason: EndReason,
    pub at: u64,
}

impl Ended {
    pub fn order(&self) -> (u64, Nanos, FlowKey) {
        (self.at, self.flow.first_seen, self.flow.key)
    }
}

/// Why a flow left the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    FinRst,
    Idle,
    Evicted,
    /// A new SYN on a closed flow's tuple.
    Reused,
    EndOfInput,
}

#[derive(Clone, Debug)]
struct Remembered {
    app: Option<App>,
    host: Arc<str>,
    source: HostSource,
    ech: bool,
    ech_outer: bool,
    inferred_host: Option<Arc<str>>,
    cnames: Option<Arc<[Arc<str>]>>,
    /// Capture time the flow was last seen.
    at: Nanos,
}

pub struct FlowTable {
    flows: HashMap<FlowKey, Flow, ahash::RandomState>,
    remembered: HashMap<FlowKey, Remembered, ahash::RandomState>,
    cfg: FlowTableConfig,
    pub stats: FlowTableStats,
    next_sweep: Nanos,
    /// Next capture time stale remembered names are purged.
    next_forget: Nanos,
}

impl FlowTable {
    pub fn new(cfg: FlowTableConfig) -> Self {
        FlowTable {
            flows: HashMap::with_capacity_and_hasher(cfg.max_flows.min(1_024), Default::default()),
            remembered: HashMap::default(),
            cfg,
            stats: FlowTableStats::default(),
            next_sweep: 0,
            next_forget: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// The flow a packet belongs to, created (and oriented) if new. Returns the flow and whether
    /// it was created by this packet. Flows pushed out to make room are handed to `out`.
    pub fn lookup(
        &mut self,
        d: &Decoded<'_>,
        key: FlowKey,
        forward: bool,
        ts: Nanos,
        file: u16,
        out: &mut dyn FnMut(Ended),
    ) -> (&mut Flow, bool) {
        let syn_only = matches!(d.transport, Transport::Tcp { flags, .. }
            if flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN);
        if syn_only {
            if let Some(f) = self.flows.get(&key) {
                let is_new_conn = f.closed || (f.saw_syn && f.up.packets + f.down.packets > 3);
                if is_new_conn && f.client_is_lo == forward {
                    if let Some(old) = self.flows.remove(&key) {
                        self.stats.ended_fin_rst += u64::from(old.closed);
                        out(Ended {
                            flow: old,
                            reason: EndReason::Reused,
                            at: ts,
                        });
                    }
                }
            }
        }
        if self.flows.len() >= self.cfg.max_flows && !self.flows.contains_key(&key) {
            self.evict_oldest(ts, out);
        }
        let len = self.flows.len() as u64;
        let (cfg_max_names, remember_for) = (self.cfg.max_names, self.cfg.remember_for);
        let (remembered, stats) = (&mut self.remembered, &mut self.stats);
        let (flow, created) = match self.flows.entry(key) {
            Entry::Occupied(o) => (o.into_mut(), false),
            Entry::Vacant(v) => {
                stats.created += 1;
                stats.peak_flows = stats.peak_flows.max(len + 1);
                let mut flow = new_flow(remembered, remember_for, stats, key, forward, d, ts, file);
                flow.names_cap = u8::try_from(cfg_max_names).unwrap_or(u8::MAX);
                (v.insert(flow), true)
            }
        };
        (flow, created)
    }

    /// Flush flows that have been idle too long. Cheap to call per packet: it scans the table
    /// once per eighth of the shortest idle timeout of capture time (so a flow leaves at most
    /// that late, and a sparse capture spanning hours does not rescan the table every second).
    pub fn sweep(&mut self, now: Nanos, out: &mut dyn FnMut(Ended)) {
        if now < self.next_sweep {
            return;
        }
        let step = (self
            .cfg
            .udp_idle
            .min(self.cfg.tcp_idle)
            .min(self.cfg.other_idle)
            / 8)
        .clamp(SEC, 60 * SEC);
        self.next_sweep = now.saturating_add(step);
        if now >= self.next_forget {
            self.next_forget = now.saturating_add(self.cfg.remember_for / 8);
            let keep = self.cfg.remember_for;
            self.remembered
                .retain(|_, r| now.saturating_sub(r.at) <= keep);
        }
        let cfg = self.cfg.clone();
        let mut ended: Vec<(Flow, EndReason)> = Vec::new();
        let idle_limit = |f: &Flow| {
            if f.closed {
                cfg.closed_linger
            } else {
                match f.key.protocol {
                    TCP => cfg.tcp_idle,
                    UDP => cfg.udp_idle,
                    _ => cfg.other_idle,
                }
            }
        };
        let mut keys = Vec::new();
        for (k, f) in &self.flows {
            if now.saturating_sub(f.last_seen) > idle_limit(f) {
                keys.push(*k);
            }
        }
        for k in keys {
            if let Some(f) = self.flows.remove(&k) {
                let reason = if f.closed {
                    EndReason::FinRst
                } else {
                    EndReason::Idle
                };
                ended.push((f, reason));
            }
        }
        // A sweep walks the whole allocation, not just the live flows: give memory back after a
        // burst so that later sweeps (and RSS) follow the live flow count.
        if self.flows.capacity() > 4_096 && self.flows.len() < self.flows.capacity() / 8 {
            self.flows.shrink_to(self.flows.len() * 2);
        }
        ended.sort_by_key(|(f, _)| (f.first_seen, f.key));
        for (f, reason) in ended {
            self.finish(f, reason, now, out);
        }
    }

    fn finish(&mut self, f: Flow, reason: EndReason, at: Nanos, out: &mut dyn FnMut(Ended)) {
        match reason {
            EndReason::FinRst => self.stats.ended_fin_rst += 1,
            EndReason::Idle => {
                self.stats.expired_idle += 1;
                self.remember(&f);
            }
            EndReason::Evicted => {
                self.stats.evicted += 1;
                self.remember(&f);
            }
            EndReason::Reused | EndReason::EndOfInput => {}
        }
        out(Ended {
            flow: f,
            reason,
            at,
        });
    }

    fn remember(&mut self, f: &Flow) {
        let (Some(host), Some(source)) = (&f.host, f.host_source) else {
            return;
        };
        if self.cfg.remembered_names == 0 {
            return;
        }
        if self.remembered.len() >= self.cfg.remembered_names {
            // Forget half at once so the cost is amortised over many insertions.
            let before = self.remembered.len();
            let mut keep = false;
            self.remembered.retain(|_, _| {
                keep = !keep;
                keep
            });
            self.stats.remembered_names_evicted += (before - self.remembered.len()) as u64;
        }
        self.remembered.insert(
            f.key,
            Remembered {
                app: f.app,
                host: host.clone(),
                source,
                ech: f.ech,
                ech_outer: f.ech_outer,
                inferred_host: f.inferred_host.clone(),
                cnames: f.cnames.clone(),
                at: f.last_seen,
            },
        );
    }

    /// Make room by flushing the least recently seen sixteenth of the table (amortised O(1)).
    fn evict_oldest(&mut self, now: Nanos, out: &mut dyn FnMut(Ended)) {
        let mut ages: Vec<(Nanos, FlowKey)> =
            self.flows.iter().map(|(k, f)| (f.last_seen, *k)).collect();
        let n = (ages.len() / 16).max(1);
        if n < ages.len() {
            ages.select_nth_unstable_by_key(n, |a| a.0);
        }
        ages.truncate(n);
        ages.sort_by_key(|a| a.0);
        for (_, k) in ages {
            if let Some(f) = self.flows.remove(&k) {
                self.finish(f, EndReason::Evicted, now, out);
            }
        }
    }

    /// End of input: flush everything, oldest first, so output order is deterministic.
    ///
    /// Only the keys are sorted, and each flow leaves the table as it is handed out, so a full
    /// table is never held twice (a flood at the flow cap ends with the cap's worth of flows).
    pub fn drain(&mut self, out: &mut dyn FnMut(Ended)) {
        let mut order: Vec<(Nanos, FlowKey)> =
            self.flows.iter().map(|(k, f)| (f.first_seen, *k)).collect();
        order.sort_unstable();
        for (_, k) in order {
            let Some(f) = self.flows.remove(&k) else {
                continue;
            };
            let reason = if f.closed {
                EndReason::FinRst
            } else {
                EndReason::EndOfInput
            };
            if reason == EndReason::FinRst {
                self.stats.ended_fin_rst += 1;
            }
            out(Ended {
                flow: f,
                reason,
                at: u64::MAX,
            });
        }
        self.flows = HashMap::default();
        self.remembered = HashMap::default();
    }
}

#[allow(clippy::too_many_arguments)]
fn new_flow(
    remembered: &mut HashMap<FlowKey, Remembered, ahash::RandomState>,
    remember_for: Nanos,
    stats: &mut FlowTableStats,
    key: FlowKey,
    forward: bool,
    d: &Decoded<'_>,
    ts: Nanos,
    file: u16,
) -> Flow {
    let (sp, dp, flags) = match d.transport {
        Transport::Tcp {
            src_port,
            dst_port,
            flags,
            ..
        } => (src_port, dst_port, Some(flags)),
        Transport::Udp { src_port, dst_port } => (src_port, dst_port, None),
        Transport::Other { .. } => (0, 0, None),
    };
    let sender_is_client = match flags {
        Some(f) if f & tcp_flags::SYN != 0 => f & tcp_flags::ACK == 0,
        _ => {
            let (s, t) = (is_service_port(sp), is_service_port(dp));
            if s != t {
                t
            } else if key.protocol == TCP && s && t {
                // Both look like services (or neither): the lower port is the server.
                dp <= sp
            } else {
                true
            }
        }
    };
    let client_is_lo = sender_is_client == forward;
    let (client, server) = if sender_is_client {
        ((d.src, sp), (d.dst, dp))
    } else {
        ((d.dst, dp), (d.src, sp))
    };
    let mut flow = Flow {
        key,
        client,
        server,
        client_is_lo,
        first_seen: ts,
        last_seen: ts,
        up: Counters::default(),
        down: Counters::default(),
        file,
        app: None,
        host: None,
        host_source: None,
        ech: false,
        ech_outer: false,
        inferred_host: None,
        quic_version: None,
        names: Vec::new(),
        names_dropped: 0,
        names_cap: super::MAX_NAMES_PER_FLOW as u8,
        host_revived: false,
        http_path: None,
        cnames: None,
        saw_syn: flags.is_some_and(|f| f & tcp_flags::SYN != 0),
        closed: false,
        client_isn: None,
        server_isn: None,
        inspect: Default::default(),
    };
    if let Some(r) = remembered
        .remove(&key)
        .filter(|r| ts.saturating_sub(r.at) <= remember_for)
    {
        stats.revived_names += 1;
        flow.app = r.app;
        flow.ech = r.ech;
        flow.ech_outer = r.ech_outer;
        flow.inferred_host = r.inferred_host;
        flow.cnames = r.cnames;
        flow.set_host(r.host, r.source);
        // A name of the flow's own (a new query, SNI or Host) replaces the remembered one.
        flow.host_revived = true;
    }
    flow
}
