//! The report: what a run found, per area and destination, as a serde model. JSON is its canonical
//! form (`--report json`, and the input of `egressmap report` and `egressmap compare`); every other
//! format renders this model.

use serde::{Deserialize, Serialize};

/// Bumped when a field is renamed or removed (adding fields keeps the version).
pub const SCHEMA_VERSION: u32 = 1;

pub const COUNTING_NOTE: &str =
    "A flow that matches endpoints of several areas counts in each of those areas; overall totals count each flow once.";

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub schema: u32,
    pub generator: String,
    pub inputs: Vec<Input>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub span_seconds: f64,
    /// Build and edition the matching and "documented but silent" list assumed (null: all).
    pub build: Option<String>,
    pub edition: Option<String>,
    pub signatures_version: String,
    pub scope: Scope,
    pub counting: String,
    pub warnings: Vec<String>,
    pub totals: Totals,
    pub areas: Vec<Area>,
    pub documented_not_seen: Vec<Documented>,
    pub undocumented: Vec<Undocumented>,
    pub unattributed: Unattributed,
    /// Flows to a name that a documented wildcard covers only because any customer of a shared
    /// cloud can own it (`*.blob.core.windows.net`): not counted as documented Windows traffic.
    #[serde(default)]
    pub shared_infrastructure: Vec<SharedDestination>,
    pub ech: Ech,
    /// Every name the clients looked up (see [`DnsView`]).
    #[serde(default)]
    pub dns: DnsView,
    pub timeline: Timeline,
    /// Live capture counters (absent for files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureCounters>,
    /// `--guess-build`: builds and editions ranked by fit (absent without the flag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_guess: Option<BuildGuess>,
    /// Fields the inputs do not record (Zeek/Suricata logs: `ech`, `vlan`, `packets_read`, ...):
    /// their values in this report are unknown, not zero. Absent for packet captures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
    /// `--client`: the report covers only these machines (CIDR; absent: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_filter: Vec<String>,
    /// Per machine: every client address that sent a counted flow (see [`Client`]).
    #[serde(default)]
    pub clients: Vec<Client>,
    /// `egressmap merge`: the reports this one sums, in order (absent for a single run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<MergedInput>,
}

/// One machine (client address) of a report: what it sent, per area, and which build it looks
/// like. Carries its seen patterns so that merged reports rank builds exactly.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Client {
    pub address: String,
    #[serde(flatten)]
    pub traffic: Traffic,
    pub documented_flows: u64,
    pub documented_bytes: u64,
    pub undocumented_flows: u64,
    pub undocumented_bytes: u64,
    pub unattributed_flows: u64,
    pub areas: Vec<ClientArea>,
    /// Documented patterns (of any build the matching covered) this machine's flows matched.
    pub seen_patterns: Vec<String>,
    /// The best (build, edition) for this machine's seen patterns: the `--guess-build` F1
    /// ranking per machine (absent when matching was restricted with --build/--edition, or
    /// nothing documented was seen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_guess: Option<GuessRank>,
    /// Its link-layer address: the source of its earliest frame, else the one a DHCP
    /// message bound to its address (absent: no link layer or DHCP recorded one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Its name: DHCP host name, else NetBIOS name, DHCP FQDN, DNS PTR name (attacker-chosen
    /// text, printable ASCII with other bytes as `\xNN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// All the evidence `mac` and `name` were chosen from, so that merged reports choose the
    /// same (see `report::clients`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identity: Vec<ClientIdentity>,
}

/// One MAC or name seen for a machine.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ClientIdentity {
    /// `link` (MAC of its frames), `dhcp-mac` (MAC a DHCP request or ACK bound to its
    /// address), `dhcp` (option 12), `dhcp-fqdn` (option 81), `netbios`, `dns-ptr`.
    pub source: String,
    pub value: String,
    /// Flows that carried it (names, `dhcp-mac`; 0 for `link`).
    #[serde(default)]
    pub count: u64,
    /// `link`: the machine's earliest frame from this MAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ClientArea {
    pub area: String,
    #[serde(flatten)]
    pub traffic: Traffic,
}

/// Provenance of one report summed by `egressmap merge`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MergedInput {
    /// The report file as given on the command line.
    pub report: String,
    pub generator: String,
    pub signatures_version: String,
    pub build: Option<String>,
    pub edition: Option<String>,
    pub scope: Scope,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Its inputs (capture or log files).
    pub inputs: Vec<String>,
    /// Its `unknown` fields (logs): which inputs of the sum lack what it marks unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

/// Which Windows build and edition the capture looks like (`audit --guess-build`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct BuildGuess {
    /// Distinct documented patterns (of any build) that counted flows matched.
    pub seen_patterns: u64,
    /// The seen patterns themselves (what `merge` needs to rank the sum exactly).
    #[serde(default)]
    pub seen: Vec<String>,
    /// Best first; score = F1 of `precision` (share of the seen patterns the page lists) and
    /// `recall` (share of the page's patterns seen).
    pub ranking: Vec<GuessRank>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct GuessRank {
    pub build: String,
    pub edition: String,
    pub score: f64,
    pub precision: f64,
    pub recall: f64,
}

/// What a live capture received and dropped; a drop is never silent.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CaptureCounters {
    pub interface: String,
    pub running_seconds: f64,
    pub packets_received: u64,
    pub kernel_dropped: u64,
    pub interface_dropped: u64,
    pub queue_dropped: u64,
    pub flows_evicted: u64,
    pub names_evicted: u64,
    pub peak_rss_bytes: u64,
    /// Flows still open when this snapshot was taken; their packets and bytes so far are in
    /// the totals (0 in the final report: every flow has ended).
    #[serde(default)]
    pub open_flows: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Input {
    pub name: String,
    pub records: u64,
    /// `ok`, `partial` or `failed`.
    pub status: String,
    pub error: Option<String>,
    /// For logs: `zeek`, `zeek-json` or `suricata-eve` (absent for packet captures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Scope {
    /// Only flows to public server addresses count (Microsoft's method); false with --all-destinations.
    pub public_only: bool,
    /// Only IPv4 flows count (Microsoft's lab was IPv4-only).
    pub ipv4_only: bool,
}

/// Totals over counted flows, each flow once.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Totals {
    pub packets_read: u64,
    pub flows_seen: u64,
    #[serde(flatten)]
    pub traffic: Traffic,
    pub documented_flows: u64,
    pub undocumented_flows: u64,
    pub unattributed_flows: u64,
    pub ech_flows: u64,
    /// Flows matched only through a shared-infrastructure wildcard (see
    /// `Report::shared_infrastructure`); not in `documented_flows`.
    #[serde(default)]
    pub shared_infrastructure_flows: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Area {
    pub area: String,
    pub name: String,
    pub turn_off_url: Option<String>,
    #[serde(flatten)]
    pub traffic: Traffic,
    pub distinct_destinations: u64,
    #[serde(flatten)]
    pub seen: Seen,
    pub destinations: Vec<Destination>,
    /// Bytes (up + down) per timeline bucket, aligned with `Report::timeline`.
    pub activity: Vec<u64>,
    /// The same bytes per clock hour, as [hours since the epoch, bytes] (sparse): what `merge`
    /// needs to rebuild `activity` for the summed timeline exactly.
    #[serde(default)]
    pub activity_hours: Vec<[u64; 2]>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Destination {
    pub host: String,
    /// The documented pattern the host matched (the most specific).
    pub pattern: String,
    pub protocols_seen: Vec<String>,
    pub protocols_documented: Vec<String>,
    pub servers: Vec<String>,
    #[serde(flatten)]
    pub traffic: Traffic,
    #[serde(flatten)]
    pub seen: Seen,
}

/// What a set of flows carried: the counters every row of the report has. Flattened into each
/// row (`flows`, `packets`, `bytes_up`, `bytes_down` stay top-level JSON keys), and summed by one
/// [`Traffic::merge`] wherever rows add up (the aggregator, `merge`, per-machine rows).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Traffic {
    pub flows: u64,
    pub packets: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

impl Traffic {
    /// Both directions' bytes (what rows are sorted by).
    pub fn bytes(&self) -> u64 {
        self.bytes_up.saturating_add(self.bytes_down)
    }

    /// Adds `other` (saturating: a saved report is input that may come from anyone).
    pub fn merge(&mut self, other: &Traffic) {
        self.flows = self.flows.saturating_add(other.flows);
        self.packets = self.packets.saturating_add(other.packets);
        self.bytes_up = self.bytes_up.saturating_add(other.bytes_up);
        self.bytes_down = self.bytes_down.saturating_add(other.bytes_down);
    }

    /// The sum of two.
    pub fn sum(mut self, other: &Traffic) -> Traffic {
        self.merge(other);
        self
    }
}

/// When a row's flows were first and last seen (RFC 3339, [`super::time::rfc3339_micros`]);
/// flattened like [`Traffic`]. Kept apart from it because `Area` lists its destination count
/// between the two in the JSON.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Seen {
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
}

impl Seen {
    /// The span of both (earliest first, latest last). The timestamps share one fixed-width
    /// format, so comparing strings compares times.
    pub fn merge(&mut self, other: &Seen) {
        self.first_seen = match (self.first_seen.take(), &other.first_seen) {
            (Some(a), Some(b)) => Some(a.min(b.clone())),
            (a, b) => a.or_else(|| b.clone()),
        };
        self.last_seen = match (self.last_seen.take(), &other.last_seen) {
            (Some(a), Some(b)) => Some(a.max(b.clone())),
            (a, b) => a.or_else(|| b.clone()),
        };
    }

    /// The span of two.
    pub fn sum(mut self, other: &Seen) -> Seen {
        self.merge(other);
        self
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Documented {
    pub pattern: String,
    pub areas: Vec<String>,
    pub protocols: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Undocumented {
    pub host: String,
    /// Registrable domain (public suffix + 1).
    pub domain: String,
    /// Under a Microsoft-owned domain: likely an undocumented Microsoft endpoint.
    pub likely_microsoft: bool,
    pub protocols_seen: Vec<String>,
    #[serde(flatten)]
    pub traffic: Traffic,
    #[serde(flatten)]
    pub seen: Seen,
    /// DNS queries for this host (the DNS view's count; 0 when it was never looked up in the
    /// capture, or is past the view's bound).
    #[serde(default)]
    pub dns_queries: u64,
}

/// A host under a shared cloud suffix that a documented wildcard covers.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SharedDestination {
    pub host: String,
    /// The documented wildcard it matched.
    pub pattern: String,
    /// The areas the pattern documents (the host may belong to anyone).
    pub areas: Vec<String>,
    pub protocols_seen: Vec<String>,
    #[serde(flatten)]
    pub traffic: Traffic,
    #[serde(flatten)]
    pub seen: Seen,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Unattributed {
    #[serde(flatten)]
    pub traffic: Traffic,
    /// The busiest server endpoints without a name.
    pub servers: Vec<UnnamedServer>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct UnnamedServer {
    pub server_ip: String,
    pub server_port: u16,
    pub proto: String,
    pub flows: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

/// Flows whose real name is hidden by Encrypted Client Hello: the SNI is a known or observed ECH
/// public name (`ech_outer` in the flow log). GREASE ECH flows are not here: their SNI is the
/// real name and they are matched like any other flow.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Ech {
    pub flows: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// Outer (public) names, never matched against signatures.
    pub outer_names: Vec<String>,
    /// Inner names inferred from HTTPS records with ECH that the same client resolved just
    /// before (see the flow log's `inferred_host`). Inferred, not observed: kept apart from the
    /// documented areas, which count only names seen on the wire.
    #[serde(default)]
    pub inferred: Vec<EchInferred>,
}

/// An inferred inner name behind an ECH outer name, and what the signatures say of it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EchInferred {
    pub name: String,
    pub outer_name: String,
    pub flows: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// Areas of the inferred name (empty: undocumented).
    pub areas: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Timeline {
    /// Start of the first bucket (RFC 3339).
    pub start: Option<String>,
    pub bucket_seconds: u64,
    pub buckets: usize,
}

/// Names looked up over DNS by the covered clients (`--client`), counted over every DNS flow,
/// whatever its server (a resolver on the LAN included): per name, however many names a flow
/// carried. At most `report::dnsview::MAX_DNS_NAMES` names, the alphabetically first ones; the
/// messages about the others are in the `unlisted_*` counts.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DnsView {
    /// Queries and answered responses (with at least one answer record), all names.
    pub queries: u64,
    pub answers: u64,
    /// Busiest first.
    pub names: Vec<DnsName>,
    /// Queries and answers about names past the bound.
    pub unlisted_queries: u64,
    pub unlisted_answers: u64,
    /// Questions not counted per name: a flow asked about more than
    /// `flow::DNS_COUNTED_PER_FLOW` distinct names.
    pub uncounted_messages: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DnsName {
    /// As the flow log writes names (tshark-style escapes for odd bytes).
    pub name: String,
    pub queries: u64,
    /// Responses with at least one answer record.
    pub answers: u64,
    /// Client addresses that sent or received a message about it, lowest first (at most 16).
    pub clients: Vec<String>,
    /// More clients than listed.
    pub more_clients: bool,
    /// `documented`, `undocumented` or `shared-infrastructure`.
    pub status: String,
    /// Areas of the documented endpoint it matches (empty: undocumented).
    pub areas: Vec<String>,
    pub pattern: Option<String>,
}
