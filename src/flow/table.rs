//! The flow table: one hash lookup per packet, bounded size, idle expiry, and memory of the names
//! of flows that expired (a quiet push connection that wakes up keeps its hostname).

use std::collections::HashMap;
use std::sync::Arc;

use super::App;
use super::{is_service_port, Flow, FlowKey, HostSource, InterimKind, TcpState, TCP, UDP};
use crate::capture::Nanos;
use crate::decode::{tcp_flags, Decoded, Transport};

const SEC: Nanos = 1_000_000_000;
const DAY: Nanos = 86_400 * SEC;

/// Limits of the table. Timeouts follow the connection's state as conntrack's do: a connection
/// that is established stays one flow for days of silence, one that never got going or is
/// closing goes quickly. A flow that comes back after its timeout is a new flow (its name is
/// remembered, see `remember_for`).
#[derive(Clone, Debug)]
pub struct FlowTableConfig {
    /// Flows held at once; when full, flows that are not established and then the least
    /// recently seen are flushed early (counted).
    pub max_flows: usize,
    /// Silence that ends an established TCP connection (`--tcp-idle`).
    pub tcp_idle: Nanos,
    /// Silence that ends a TCP connection whose handshake did not complete: a SYN without
    /// answer (a scan), or a SYN-ACK the client never followed (`--tcp-handshake-idle`).
    pub tcp_handshake_idle: Nanos,
    /// Silence that ends a TCP connection after one side's FIN (`--tcp-half-closed-idle`).
    pub tcp_half_closed_idle: Nanos,
    /// How long a TCP flow closed by both FINs or an RST stays to collect its last packets.
    pub closed_linger: Nanos,
    pub udp_idle: Nanos,
    /// Silence that ends a DNS exchange over UDP (`--dns-idle`).
    pub dns_idle: Nanos,
    pub other_idle: Nanos,
    /// A flow still holding reassembly or decryption buffers that stays silent this long is
    /// given up on and its buffers released (the flow itself stays).
    pub inspect_idle: Nanos,
    /// IPFIX-style active timeout (`--flow-update`): an open flow gets an interim record this
    /// often after it started.
    pub flow_update: Option<Nanos>,
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
            // conntrack's established timeout: Windows push (WNS) and Delivery Optimization
            // connections stay open for days with keep-alives an hour apart.
            tcp_idle: 5 * DAY,
            tcp_handshake_idle: 30 * SEC,
            tcp_half_closed_idle: 120 * SEC,
            closed_linger: 10 * SEC,
            udp_idle: 60 * SEC,
            dns_idle: 10 * SEC,
            other_idle: 60 * SEC,
            inspect_idle: 30 * SEC,
            flow_update: None,
            remembered_names: 65_536,
            remember_for: 3600 * SEC,
            max_names: super::MAX_NAMES_PER_FLOW,
        }
    }
}

impl FlowTableConfig {
    /// How long `f` may stay silent in its current state.
    pub fn idle_limit(&self, f: &Flow) -> Nanos {
        match f.key.protocol {
            TCP => match f.tcp {
                TcpState::SynSent | TcpState::SynAnswered => self.tcp_handshake_idle,
                TcpState::Established => self.tcp_idle,
                TcpState::ClientFin | TcpState::ServerFin => self.tcp_half_closed_idle,
                TcpState::Closed => self.closed_linger,
            },
            UDP if f.app == Some(App::Dns) => self.dns_idle,
            UDP => self.udp_idle,
            _ => self.other_idle,
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
    /// TCP flows ended because their handshake never completed (SYN scans, unreachable hosts).
    pub expired_handshake: u64,
    /// Unnamed flows whose reassembly or decryption buffers were released because they went
    /// silent while still being inspected (`inspect_idle`).
    pub inspect_timed_out: u64,
    /// Interim records emitted for open flows (report snapshots and `--flow-update`).
    pub interim_records: u64,
    /// Flows that came back after expiring and got their old name again.
    pub revived_names: u64,
    /// Remembered names dropped because that memory was full.
    pub remembered_names_evicted: u64,
    pub peak_flows: u64,
}

/// A flow leaving the table, with why and when, or an interim record of a flow still open
/// ([`EndReason::Interim`]: a copy, see [`Flow::interim`]). `at` is the capture time; the engine
/// replaces it with the number of the record that ended the flow (`u64::MAX` at end of input),
/// so output ordered by [`Ended::order`] does not depend on how flows were sharded across threads.
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

    /// An interim record of a flow that is still open.
    pub fn is_interim(&self) -> bool {
        self.reason == EndReason::Interim
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
    /// Not an end: an interim record of an open flow (snapshot or `--flow-update`).
    Interim,
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

/// Virtual shards of a table (fewer when `max_flows` is smaller, see
/// [`FlowTableConfig::shards`]). Fixed, never derived from the thread count: which flows are
/// evicted, and which remembered names forgotten, is decided inside one shard, and a shard lives
/// whole in one worker, so output is the same for any number of workers.
pub const VIRTUAL_SHARDS: usize = 64;

impl FlowTableConfig {
    /// Virtual shards: [`VIRTUAL_SHARDS`], or `max_flows` if smaller (every shard holds at
    /// least one flow).
    pub fn shards(&self) -> usize {
        VIRTUAL_SHARDS.min(self.max_flows).max(1)
    }
}

/// Shard `v`'s share of `total` over `shards`: the shares add up to `total` exactly.
pub fn share(total: usize, shards: usize, v: usize) -> usize {
    let shards = shards.max(1);
    total / shards + usize::from(v < total % shards)
}

/// One virtual shard: its flows in a dense slab, the hash index holding only slab positions (4
/// bytes a bucket, so a full table costs about one [`Flow`] per flow and growing it never holds
/// two copies), its names of expired flows, and its shares of the table's bounds.
struct Shard {
    slab: Vec<Flow>,
    index: hashbrown::HashTable<u32>,
    remembered: HashMap<FlowKey, Remembered, ahash::RandomState>,
    /// This shard's share of `max_flows`.
    max_flows: usize,
    /// This shard's share of `remembered_names`.
    max_remembered: usize,
}

impl Shard {
    fn find(&self, hash: u64, key: &FlowKey) -> Option<usize> {
        let slab = &self.slab;
        self.index
            .find(hash, |&i| {
                slab.get(i as usize).is_some_and(|f| f.key == *key)
            })
            .map(|&i| i as usize)
    }

    fn push(&mut self, hasher: &ahash::RandomState, hash: u64, flow: Flow) -> usize {
        let i = self.slab.len();
        self.slab.push(flow);
        let slab = &self.slab;
        self.index.insert_unique(hash, i as u32, |&j| {
            slab.get(j as usize).map_or(0, |f| hasher.hash_one(f.key))
        });
        i
    }

    /// Take the flow at slab position `i` out (the last flow moves into its place).
    fn take(&mut self, hasher: &ahash::RandomState, i: usize) -> Option<Flow> {
        let key = self.slab.get(i)?.key;
        let hash = hasher.hash_one(key);
        if let Ok(e) = self.index.find_entry(hash, |&j| j as usize == i) {
            e.remove();
        }
        let flow = self.slab.swap_remove(i);
        if let Some(moved) = self.slab.get(i) {
            let (old, hash) = (self.slab.len() as u32, hasher.hash_one(moved.key));
            if let Some(slot) = self.index.find_mut(hash, |&j| j == old) {
                *slot = i as u32;
            }
        }
        Some(flow)
    }

    /// Take the flows at `positions` out, in any order.
    fn take_all(&mut self, hasher: &ahash::RandomState, mut positions: Vec<usize>) -> Vec<Flow> {
        // Highest first: a flow moved into a freed place is never one still to be taken.
        positions.sort_unstable_by(|a, b| b.cmp(a));
        positions
            .into_iter()
            .filter_map(|i| self.take(hasher, i))
            .collect()
    }

    /// Give memory back after a burst, so later sweeps (and RSS) follow the live flow count.
    fn shrink(&mut self, hasher: &ahash::RandomState) {
        if self.slab.capacity() > 256 && self.slab.len() < self.slab.capacity() / 8 {
            self.slab.shrink_to(self.slab.len() * 2);
            let slab = &self.slab;
            self.index.shrink_to(self.slab.len() * 2, |&j| {
                slab.get(j as usize).map_or(0, |f| hasher.hash_one(f.key))
            });
        }
    }

    /// Remember the name of a flow that expired or was evicted. When this shard's share is
    /// full, the older half (by when the flows were last seen) is forgotten at once, so the
    /// cost is amortised and the choice depends on nothing but this shard's flows.
    fn remember(&mut self, f: &Flow, stats: &mut FlowTableStats) {
        let (Some(host), Some(source)) = (&f.host, f.host_source) else {
            return;
        };
        if self.max_remembered == 0 {
            return;
        }
        if self.remembered.len() >= self.max_remembered && !self.remembered.contains_key(&f.key) {
            let mut ages: Vec<(Nanos, FlowKey)> =
                self.remembered.iter().map(|(k, r)| (r.at, *k)).collect();
            let mid = ages.len() / 2;
            if mid < ages.len() {
                let (_, cut, _) = ages.select_nth_unstable(mid);
                let cut = *cut;
                let before = self.remembered.len();
                self.remembered.retain(|k, r| (r.at, *k) > cut);
                stats.remembered_names_evicted += (before - self.remembered.len()) as u64;
            }
        }
        let x = f.extra();
        self.remembered.insert(
            f.key,
            Remembered {
                app: f.app,
                host: host.clone(),
                source,
                ech: f.ech,
                ech_outer: f.ech_outer,
                inferred_host: x.inferred_host.clone(),
                cnames: x.cnames.clone(),
                at: f.last_seen,
            },
        );
    }
}

/// The flow table: [`FlowTable::shards`] virtual shards, each with its exact share of
/// `max_flows` and of `remembered_names`, its own eviction and its own remembered names. A
/// flow's shard comes from its fixed-seed hash ([`super::virtual_shard`]); a worker of several
/// holds only its shards (the others stay empty and allocate nothing).
pub struct FlowTable {
    shards: Vec<Shard>,
    hasher: ahash::RandomState,
    /// Flows held, over all shards.
    len: usize,
    cfg: FlowTableConfig,
    pub stats: FlowTableStats,
    next_sweep: Nanos,
    /// Next capture time stale remembered names are purged.
    next_forget: Nanos,
}

impl FlowTable {
    pub fn new(cfg: FlowTableConfig) -> Self {
        let n = cfg.shards();
        let shards = (0..n)
            .map(|v| Shard {
                slab: Vec::new(),
                index: hashbrown::HashTable::new(),
                remembered: HashMap::with_hasher(super::shard_hasher()),
                max_flows: share(cfg.max_flows, n, v).max(1),
                max_remembered: share(cfg.remembered_names, n, v),
            })
            .collect();
        FlowTable {
            shards,
            hasher: super::shard_hasher(),
            len: 0,
            cfg,
            stats: FlowTableStats::default(),
            next_sweep: 0,
            next_forget: 0,
        }
    }

    pub fn config(&self) -> &FlowTableConfig {
        &self.cfg
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Virtual shards of this table.
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// Flows held by each virtual shard (tests, diagnostics).
    pub fn shard_lens(&self) -> Vec<usize> {
        self.shards.iter().map(|s| s.slab.len()).collect()
    }

    fn shard_of(&self, hash: u64) -> usize {
        super::virtual_shard(hash, self.shards.len())
    }

    /// Take the flow at position `i` of shard `v` out.
    fn take(&mut self, v: usize, i: usize) -> Option<Flow> {
        let f = self.shards.get_mut(v)?.take(&self.hasher, i)?;
        self.len = self.len.saturating_sub(1);
        Some(f)
    }

    fn take_all(&mut self, v: usize, positions: Vec<usize>) -> Vec<Flow> {
        let Some(sh) = self.shards.get_mut(v) else {
            return Vec::new();
        };
        let flows = sh.take_all(&self.hasher, positions);
        self.len = self.len.saturating_sub(flows.len());
        flows
    }

    /// The flow a packet belongs to, created (and oriented) if new. Returns the flow and whether
    /// it was created by this packet. Flows pushed out to make room, past their timeout, or
    /// replaced by a new connection on the same tuple are handed to `out`.
    pub fn lookup(
        &mut self,
        d: &Decoded<'_>,
        key: FlowKey,
        forward: bool,
        ts: Nanos,
        file: u16,
        out: &mut dyn FnMut(Ended),
    ) -> (&mut Flow, bool) {
        let (flow, created, _) = self.lookup_in_shard(d, key, forward, ts, file, out);
        (flow, created)
    }

    /// [`FlowTable::lookup`], also returning the flow's virtual shard (for budgets kept per
    /// shard, such as the engine's first-flight buffers).
    pub fn lookup_in_shard(
        &mut self,
        d: &Decoded<'_>,
        key: FlowKey,
        forward: bool,
        ts: Nanos,
        file: u16,
        out: &mut dyn FnMut(Ended),
    ) -> (&mut Flow, bool, usize) {
        let syn_only = matches!(d.transport, Transport::Tcp { flags, .. }
            if flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN);
        let hash = self.hasher.hash_one(key);
        let v = self.shard_of(hash);
        let mut found = self.shards[v].find(hash, &key);
        if let Some(i) = found {
            if let Some(f) = self.shards[v].slab.get(i) {
                let expired = ts.saturating_sub(f.last_seen) > self.cfg.idle_limit(f);
                let closing = f.tcp.is_closing() && f.key.protocol == TCP;
                let is_new_conn = closing || (f.saw_syn && f.up.packets + f.down.packets > 3);
                if expired {
                    // Past its timeout (the sweep has not come round yet): the packet starts
                    // a new flow, exactly as if the sweep had run.
                    if let Some(old) = self.take(v, i) {
                        let reason = end_reason(&old);
                        self.finish(old, reason, ts, out);
                    }
                    found = None;
                } else if syn_only && is_new_conn && f.client_is_lo == forward {
                    if let Some(old) = self.take(v, i) {
                        self.stats.ended_fin_rst += u64::from(closing);
                        out(Ended {
                            flow: old,
                            reason: EndReason::Reused,
                            at: ts,
                        });
                    }
                    found = None;
                }
            }
        }
        let i = match found {
            Some(i) => i,
            None => {
                if self.shards[v].slab.len() >= self.shards[v].max_flows {
                    self.evict_oldest(v, ts, out);
                }
                self.stats.created += 1;
                self.stats.peak_flows = self.stats.peak_flows.max(self.len as u64 + 1);
                let sh = &mut self.shards[v];
                let mut flow = new_flow(
                    &mut sh.remembered,
                    self.cfg.remember_for,
                    &mut self.stats,
                    key,
                    forward,
                    d,
                    ts,
                    file,
                );
                flow.names_cap = u8::try_from(self.cfg.max_names).unwrap_or(u8::MAX);
                let i = sh.push(&self.hasher, hash, flow);
                self.len += 1;
                return (&mut self.shards[v].slab[i], true, v);
            }
        };
        (&mut self.shards[v].slab[i], false, v)
    }

    /// Flush flows past their timeout, release the buffers of flows that went silent while
    /// being inspected, and emit `--flow-update` interim records that are due. Cheap to call
    /// per packet: it scans the table once per eighth of the shortest timeout of capture time
    /// (a packet for a flow past its timeout starts a new flow in [`FlowTable::lookup`] anyway,
    /// so the sweep's timing changes only when records come out, never what they say).
    pub fn sweep(&mut self, now: Nanos, out: &mut dyn FnMut(Ended)) {
        // `SweepClock` mirrors this test for a dispatcher that tells engines when to sweep.
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now.saturating_add(self.cfg.sweep_step());
        if now >= self.next_forget {
            self.next_forget = now.saturating_add(self.cfg.remember_for / 8);
            let keep = self.cfg.remember_for;
            for sh in &mut self.shards {
                sh.remembered
                    .retain(|_, r| now.saturating_sub(r.at) <= keep);
            }
        }
        let mut expired: Vec<Vec<usize>> = Vec::with_capacity(self.shards.len());
        let mut updates: Vec<(usize, usize)> = Vec::new();
        for (v, sh) in self.shards.iter_mut().enumerate() {
            let mut gone = Vec::new();
            for (i, f) in sh.slab.iter_mut().enumerate() {
                let silent = now.saturating_sub(f.last_seen);
                if silent > self.cfg.idle_limit(f) {
                    gone.push(i);
                    continue;
                }
                if silent > self.cfg.inspect_idle && f.inspect.is_buffering() {
                    f.inspect = super::reassembly::Inspect::Done;
                    // Only a flow left without a name lost something (a DNS-over-TCP flow keeps
                    // its buffers between queries and has its name already).
                    self.stats.inspect_timed_out += u64::from(f.host.is_none());
                }
                if let Some(every) = self.cfg.flow_update.filter(|e| *e > 0) {
                    let done = f
                        .extra
                        .as_ref()
                        .and_then(|x| x.reported)
                        .map_or(0, |r| r.updates);
                    let due = f
                        .first_seen
                        .saturating_add(every.saturating_mul(u64::from(done) + 1));
                    if now >= due {
                        updates.push((v, i));
                    }
                }
            }
            expired.push(gone);
        }
        if !updates.is_empty() {
            // Before the expired flows leave (positions still hold).
            self.emit_updates(&mut updates, now, out);
        }
        let mut ended = Vec::new();
        for (v, gone) in expired.into_iter().enumerate() {
            if !gone.is_empty() {
                ended.extend(self.take_all(v, gone));
            }
            if let Some(sh) = self.shards.get_mut(v) {
                sh.shrink(&self.hasher);
            }
        }
        ended.sort_by_key(|f| (f.first_seen, f.key));
        for f in ended {
            let reason = end_reason(&f);
            self.finish(f, reason, now, out);
        }
    }

    /// `--flow-update` records of the flows at `positions` (shard, slot), oldest first.
    fn emit_updates(
        &mut self,
        positions: &mut Vec<(usize, usize)>,
        now: Nanos,
        out: &mut dyn FnMut(Ended),
    ) {
        let shards = &self.shards;
        positions.sort_unstable_by_key(|&(v, i)| {
            shards
                .get(v)
                .and_then(|s| s.slab.get(i))
                .map(|f| (f.first_seen, f.key))
        });
        for (v, i) in positions.drain(..) {
            if let Some(f) = self.shards.get_mut(v).and_then(|s| s.slab.get_mut(i)) {
                self.stats.interim_records += 1;
                out(Ended {
                    flow: f.interim_copy(InterimKind::Update),
                    reason: EndReason::Interim,
                    at: now,
                });
            }
        }
    }

    /// An interim record of every open flow (a report snapshot), oldest first.
    pub fn interim_all(&mut self, at: u64, out: &mut dyn FnMut(Ended)) {
        let mut order: Vec<(u32, u32)> = Vec::with_capacity(self.len);
        for (v, sh) in self.shards.iter().enumerate() {
            order.extend((0..sh.slab.len() as u32).map(|i| (v as u32, i)));
        }
        let shards = &self.shards;
        order.sort_unstable_by_key(|&(v, i)| {
            shards
                .get(v as usize)
                .and_then(|s| s.slab.get(i as usize))
                .map(|f| (f.first_seen, f.key))
        });
        for (v, i) in order {
            if let Some(f) = self
                .shards
                .get_mut(v as usize)
                .and_then(|s| s.slab.get_mut(i as usize))
            {
                self.stats.interim_records += 1;
                out(Ended {
                    flow: f.interim_copy(InterimKind::Snapshot),
                    reason: EndReason::Interim,
                    at,
                });
            }
        }
    }

    fn finish(&mut self, f: Flow, reason: EndReason, at: Nanos, out: &mut dyn FnMut(Ended)) {
        match reason {
            EndReason::FinRst => self.stats.ended_fin_rst += 1,
            EndReason::Idle => {
                self.stats.expired_idle += 1;
                if f.key.protocol == TCP
                    && matches!(f.tcp, TcpState::SynSent | TcpState::SynAnswered)
                {
                    self.stats.expired_handshake += 1;
                }
                self.remember(&f);
            }
            EndReason::Evicted => {
                self.stats.evicted += 1;
                self.remember(&f);
            }
            EndReason::Reused | EndReason::EndOfInput | EndReason::Interim => {}
        }
        out(Ended {
            flow: f,
            reason,
            at,
        });
    }

    fn remember(&mut self, f: &Flow) {
        if f.host.is_none() {
            return;
        }
        let v = self.shard_of(self.hasher.hash_one(f.key));
        if let Some(sh) = self.shards.get_mut(v) {
            sh.remember(f, &mut self.stats);
        }
    }

    /// Make room in shard `v` by flushing a sixteenth of it (amortised O(1)): connections that
    /// never got established or are closing first (a SYN flood pushes out its own flows, not
    /// the quiet long-lived connections), then the least recently seen.
    fn evict_oldest(&mut self, v: usize, now: Nanos, out: &mut dyn FnMut(Ended)) {
        let rank = |f: &Flow| {
            let settled = f.key.protocol != TCP || f.tcp == TcpState::Established;
            (u64::from(settled) << 63) | (f.last_seen & (u64::MAX >> 1))
        };
        let Some(sh) = self.shards.get(v) else {
            return;
        };
        let mut ages: Vec<(u64, u32)> = sh
            .slab
            .iter()
            .enumerate()
            .map(|(i, f)| (rank(f), i as u32))
            .collect();
        let n = (ages.len() / 16).max(1);
        if n < ages.len() {
            ages.select_nth_unstable(n);
        }
        ages.truncate(n);
        let mut flows = self.take_all(v, ages.into_iter().map(|(_, i)| i as usize).collect());
        flows.sort_by_key(|f| (rank(f), f.first_seen, f.key));
        for f in flows {
            self.finish(f, EndReason::Evicted, now, out);
        }
    }

    /// End of input: flush everything, oldest first, so output order is deterministic.
    ///
    /// Each shard's slab is sorted in place and the shards are merged (k-way, by first packet
    /// and key); each flow leaves its slab as it is handed out, so a full table is never held
    /// twice (a flood at the flow cap ends with the cap's worth of flows).
    pub fn drain(&mut self, out: &mut dyn FnMut(Ended)) {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let mut slabs: Vec<std::vec::IntoIter<Flow>> = Vec::with_capacity(self.shards.len());
        for sh in &mut self.shards {
            sh.index = hashbrown::HashTable::new();
            sh.remembered = HashMap::with_hasher(super::shard_hasher());
            let mut slab = std::mem::take(&mut sh.slab);
            slab.sort_unstable_by_key(|f| (f.first_seen, f.key));
            slabs.push(slab.into_iter());
        }
        self.len = 0;
        let mut heads: Vec<Option<Flow>> = slabs.iter_mut().map(Iterator::next).collect();
        let mut heap: BinaryHeap<Reverse<(Nanos, FlowKey, usize)>> = heads
            .iter()
            .enumerate()
            .filter_map(|(v, h)| h.as_ref().map(|f| Reverse((f.first_seen, f.key, v))))
            .collect();
        while let Some(Reverse((_, _, v))) = heap.pop() {
            let Some(f) = heads.get_mut(v).and_then(Option::take) else {
                continue;
            };
            if let Some(next) = slabs.get_mut(v).and_then(Iterator::next) {
                heap.push(Reverse((next.first_seen, next.key, v)));
                if let Some(h) = heads.get_mut(v) {
                    *h = Some(next);
                }
            }
            let reason = if f.key.protocol == TCP && f.tcp.is_closing() {
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
    }
}

/// Why a flow past its timeout ends: its close, or silence.
fn end_reason(f: &Flow) -> EndReason {
    if f.key.protocol == TCP && f.tcp.is_closing() {
        EndReason::FinRst
    } else {
        EndReason::Idle
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
    let mut flow = Flow::new(key, client_is_lo, ts, file);
    if let Some(f) = flags {
        flow.saw_syn = f & tcp_flags::SYN != 0;
        flow.tcp = if f & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN {
            TcpState::SynSent
        } else if f & tcp_flags::SYN != 0 {
            // Only the SYN-ACK was seen: the handshake is half done.
            TcpState::SynAnswered
        } else {
            TcpState::Established
        };
    }
    if let Some(r) = remembered
        .remove(&key)
        .filter(|r| ts.saturating_sub(r.at) <= remember_for)
    {
        stats.revived_names += 1;
        flow.app = r.app;
        flow.ech = r.ech;
        flow.ech_outer = r.ech_outer;
        if r.inferred_host.is_some() || r.cnames.is_some() {
            let x = flow.extra_mut();
            x.inferred_host = r.inferred_host;
            x.cnames = r.cnames;
        }
        flow.set_host(r.host, r.source);
        // A name of the flow's own (a new query, SNI or Host) replaces the remembered one.
        flow.host_revived = true;
    }
    flow
}

impl FlowTableConfig {
    /// Capture time between two sweeps of the table.
    pub fn sweep_step(&self) -> Nanos {
        (self
            .udp_idle
            .min(self.other_idle)
            .min(self.tcp_handshake_idle)
            .min(self.inspect_idle)
            .min(self.flow_update.unwrap_or(Nanos::MAX))
            / 8)
        .clamp(SEC, 60 * SEC)
    }
}

/// The records at which [`FlowTable::sweep`] does its work, computed from record times alone:
/// a dispatcher that hands each record to one engine tells every engine about these, so all
/// tables sweep at the same records as one table fed every record would.
#[derive(Clone, Debug)]
pub struct SweepClock {
    next: Nanos,
    step: Nanos,
}

impl SweepClock {
    pub fn new(cfg: &FlowTableConfig) -> Self {
        SweepClock {
            next: 0,
            step: cfg.sweep_step(),
        }
    }

    /// Whether a record at `now` is a sweep point.
    pub fn fires(&mut self, now: Nanos) -> bool {
        if now < self.next {
            return false;
        }
        self.next = now.saturating_add(self.step);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_shares_add_up_to_the_bounds_exactly() {
        for max_flows in [1, 2, 63, 64, 65, 1_000, 500_000] {
            let cfg = FlowTableConfig {
                max_flows,
                remembered_names: 1_001,
                ..Default::default()
            };
            let t = FlowTable::new(cfg);
            assert_eq!(t.shards(), max_flows.min(VIRTUAL_SHARDS));
            let flows: usize = t.shards.iter().map(|s| s.max_flows).sum();
            let names: usize = t.shards.iter().map(|s| s.max_remembered).sum();
            assert_eq!((flows, names), (max_flows, 1_001), "max_flows {max_flows}");
            assert!(t.shards.iter().all(|s| s.max_flows >= 1));
        }
    }
}
