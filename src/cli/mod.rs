//! Command line: clap definitions, wiring, exit codes.
//!
//! Exit codes (documented in the README):
//! 0 success; 1 partial (an input was truncated or corrupt, or could not be opened while others
//! could; everything readable was processed and reported); 2 usage error; 3 failed (no input
//! could be read); 4 output could not be written.

/// `eprintln!` that never panics: a closed stderr (`2>&1 | head`) is no reason to die.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

mod audit;
#[cfg(feature = "live")]
mod capture;
pub mod docs;
mod export;
mod guess;
mod inputs;
mod merge;

/// How a finished flow is matched (shared with tests that check areas per flow).
pub use audit::match_flow;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::report::render::Format;

pub const EXIT_OK: u8 = 0;
pub const EXIT_PARTIAL: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_FAILED: u8 = 3;
pub const EXIT_OUTPUT: u8 = 4;

/// The exit codes as `--help` and the man page state them.
const EXIT_STATUS_HELP: &str = "EXIT STATUS:
  0  success
  1  partial: an input was truncated or corrupt, or could not be opened while others could
     (everything readable was processed and reported); with --strict, any warning
  2  usage error
  3  failed: no input could be read
  4  output could not be written";

#[derive(Parser, Debug)]
#[command(
    name = "egressmap",
    version,
    about = "Audit network captures against Microsoft's documented Windows endpoints",
    long_about = None,
    after_long_help = EXIT_STATUS_HELP
)]
pub struct Cli {
    /// Load endpoint signatures from this directory instead of the built-in set.
    #[arg(long, global = true, value_name = "DIR")]
    pub signatures: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once per run
pub enum Command {
    /// Read capture files (pcap/pcapng), name every flow, and report documented endpoints by area.
    Audit(AuditArgs),
    /// Capture live on an interface (a mirror port) for days, with periodic reports.
    #[cfg(feature = "live")]
    Capture(CaptureArgs),
    /// Re-render a saved JSON report in another format, without the capture.
    Report(ReportArgs),
    /// Compare two saved JSON reports: what appeared, went silent, grew or shrank.
    Compare(CompareArgs),
    /// Block lists (DNS blockers, packet filters, Windows Firewall) of what a report or capture saw.
    Export(ExportArgs),
    /// Sum saved JSON reports (sensors, weeks) into one: exact, with each input's provenance.
    Merge(MergeArgs),
    /// Inspect and import the endpoint signature database.
    #[command(subcommand)]
    Signatures(crate::signatures::cmd::SignaturesCmd),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page egressmap(1) to stdout, or write one page per subcommand into DIR.
    Man {
        /// Write egressmap.1, egressmap-audit.1, ... into this directory instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[cfg(feature = "live")]
#[derive(Args, Debug, Clone)]
pub struct CaptureArgs {
    /// Interface to capture on (promiscuous).
    #[arg(
        short = 'i',
        long,
        value_name = "IFACE",
        required_unless_present = "read"
    )]
    pub interface: Option<String>,

    /// Read a capture file instead: exactly what `audit FILE` does.
    #[arg(
        short = 'r',
        long = "read",
        value_name = "FILE",
        conflicts_with = "interface"
    )]
    pub read: Option<PathBuf>,

    /// BPF capture filter (libpcap syntax), e.g. "not port 22".
    #[arg(short = 'f', long, value_name = "BPF")]
    pub filter: Option<String>,

    /// Stop after this long (e.g. 7d, 12h); default: until SIGINT/SIGTERM.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<std::time::Duration>,

    /// Write a snapshot of the cumulative report this often (report.json plus the chosen format).
    #[arg(long, value_parser = parse_nonzero_duration, default_value = "1h", value_name = "DURATION")]
    pub report_every: std::time::Duration,

    /// Directory for report snapshots (must not be writable by other users).
    #[arg(long, default_value = "egressmap-reports", value_name = "DIR")]
    pub out: PathBuf,

    /// Also write the captured packets to rotating pcap files in this directory.
    #[arg(long, value_name = "DIR")]
    pub write_pcap: Option<PathBuf>,

    /// Start a new pcap file after this many bytes.
    #[arg(long, value_parser = parse_size, default_value = "1G", value_name = "SIZE")]
    pub rotate_size: u64,

    /// Keep at most this many pcap files (oldest deleted first).
    #[arg(long, default_value_t = 24, value_name = "N")]
    pub rotate_keep: usize,

    /// Drop root to this user once the interface and the output files are open.
    #[arg(long, default_value = "nobody", value_name = "USER")]
    pub user: String,

    /// Give the output files to this group, readable by it (0640; default 0600, owner only).
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,

    /// Serve counters in the Prometheus text format at http://ADDR/metrics (e.g. 127.0.0.1:9813).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,

    /// Kernel capture buffer.
    #[arg(long, value_parser = parse_size, default_value = "64M", value_name = "SIZE")]
    pub buffer: u64,

    /// Bytes captured per packet.
    #[arg(long, default_value_t = 65_535, value_name = "BYTES")]
    pub snaplen: i32,

    #[command(flatten)]
    pub opts: RunOpts,
}

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// A report saved with `audit --report json`.
    pub saved: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub report: Format,
    /// Write the report here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Table: every entry of every list instead of the top ones.
    #[arg(long)]
    pub full: bool,
}

#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// The report before (e.g. default settings).
    pub a: PathBuf,
    /// The report after (e.g. with the turn-off settings applied).
    pub b: PathBuf,
    /// Print the comparison as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 only for these changes (comma-separated); default: any change exits 1.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KINDS")]
    pub fail_on: Vec<crate::report::compare::FailOn>,
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// A report saved with `--report json`, or captures (pcap/pcapng, Zeek/Suricata logs),
    /// audited first: detected from the bytes.
    #[arg(required = true, value_name = "REPORT.json|FILE")]
    pub inputs: Vec<PathBuf>,
    #[arg(long, value_enum)]
    pub format: crate::report::export::ExportFormat,
    /// Only these areas (repeatable; default: every area seen).
    #[arg(long, value_name = "AREA")]
    pub area: Vec<String>,
    /// Also the undocumented names seen.
    #[arg(long)]
    pub undocumented: bool,
    /// Write the export here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// How captures are audited: the same options as `audit`'s, under their own heading
    /// (ignored for a saved report).
    #[command(flatten, next_help_heading = "Captures only (as for audit)")]
    pub scope: ScopeArgs,
    /// Captures only: worker threads, as `audit -j`.
    #[arg(long, short = 'j', value_parser = parse_threads, value_name = "N")]
    pub threads: Option<usize>,
    /// Captures only: no progress display and no warnings on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct MergeArgs {
    /// Reports saved with `--report json` (or earlier merges).
    #[arg(required = true, value_name = "REPORT.json")]
    pub reports: Vec<PathBuf>,
    /// Write the merged JSON report here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Merge reports made with different signature versions, builds/editions or scopes (the
    /// first report's settings are kept, and a warning says what differed).
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug, Clone)]
pub struct AuditArgs {
    /// Capture files, read in order as one dataset (pcap or pcapng, detected from the bytes).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub opts: RunOpts,
}

/// Which flows a capture's audit counts and how: declared once, shared by `audit`, `capture`
/// (through [`RunOpts`]) and `export` (for captures it audits first).
#[derive(Args, Debug, Clone)]
pub struct ScopeArgs {
    /// Match against this Windows build only (1709 ... 21H2, 11); default: all builds.
    #[arg(long, value_name = "BUILD")]
    pub build: Option<String>,

    /// Match against this edition only (enterprise, pro, home, education).
    #[arg(long, value_name = "EDITION")]
    pub edition: Option<String>,

    /// Count flows to private addresses too (Microsoft's method counts public ones only).
    #[arg(long)]
    pub all_destinations: bool,

    /// Count IPv4 flows only, exactly as Microsoft's IPv4-only lab did.
    #[arg(long)]
    pub ipv4_only: bool,

    /// Restrict the report to these machines (address or CIDR; repeatable).
    #[arg(long, value_name = "ADDR|CIDR")]
    pub client: Vec<crate::report::aggregate::ClientNet>,

    /// Treat warnings (truncated files, dropped data) as failures: exit 1 when any occurred.
    #[arg(long)]
    pub strict: bool,

    /// Do not decrypt QUIC Initials (QUIC flows are then named only from DNS).
    #[arg(long)]
    pub no_quic: bool,
}

#[derive(Args, Debug, Clone)]
/// Options shared by `audit` and `capture`.
pub struct RunOpts {
    /// Write one JSON object per flow to this file ('-' for stdout).
    #[arg(long, value_name = "OUT.jsonl")]
    pub flows: Option<PathBuf>,

    /// Flows held at once; when full, the least recently seen are flushed early (counted).
    #[arg(long, default_value_t = 500_000, value_parser = parse_positive, value_name = "N")]
    pub max_flows: usize,

    /// Silence after which an established TCP connection ends (seconds, or 30m, 12h, 5d).
    #[arg(long, value_parser = parse_nonzero_duration, default_value = "5d", value_name = "DURATION")]
    pub tcp_idle: std::time::Duration,

    /// Silence after which a TCP connection whose handshake never completed ends (a SYN
    /// without answer, a SYN-ACK without the client's ACK).
    #[arg(long, value_parser = parse_nonzero_duration, default_value = "30", value_name = "DURATION")]
    pub tcp_handshake_idle: std::time::Duration,

    /// Silence after which a TCP connection ends once one side sent FIN.
    #[arg(long, value_parser = parse_nonzero_duration, default_value = "120", value_name = "DURATION")]
    pub tcp_half_closed_idle: std::time::Duration,

    /// How long a TCP connection closed by both FINs or an RST waits for its last packets.
    #[arg(long, value_parser = parse_nonzero_duration, default_value = "10", value_name = "DURATION")]
    pub tcp_closed_idle: std::time::Duration,

    /// Silence after which a UDP flow ends.
    #[arg(long, value_parser = parse_nonzero_duration, default_value = "60", value_name = "DURATION")]
    pub udp_idle: std::time::Duration,

    /// Silence after which a DNS exchange over UDP ends.
    #[arg(long, value_parser = parse_nonzero_duration, default_value = "10", value_name = "DURATION")]
    pub dns_idle: std::time::Duration,

    /// Silence after which a flow still holding reassembly buffers stops being inspected
    /// (the buffers are released; the flow goes on).
    #[arg(long, value_parser = parse_nonzero_duration, default_value = "30", value_name = "DURATION")]
    pub inspect_idle: std::time::Duration,

    /// Write an interim record of every open flow this long after it started, and again every
    /// such period (IPFIX active timeout; e.g. 1h). Interim records carry `"interim": true`.
    #[arg(long, value_parser = parse_nonzero_duration, value_name = "DURATION")]
    pub flow_update: Option<std::time::Duration>,

    /// Bytes of a flow's first flight buffered to find its name.
    #[arg(long, default_value_t = 16 * 1024, value_parser = parse_positive, value_name = "BYTES")]
    pub reassembly_cap: usize,

    /// Bytes of all flows' first-flight buffers together (e.g. 256M, 1G); when spent, flows
    /// still unnamed stop being inspected (counted and reported).
    #[arg(long, value_parser = parse_size, default_value = "256M", value_name = "SIZE")]
    pub reassembly_total: u64,

    /// Distinct names kept per flow (a DNS flow's queries, a keep-alive HTTP flow's Hosts);
    /// more are counted and reported. At most 255.
    #[arg(long, default_value_t = crate::flow::MAX_NAMES_PER_FLOW, value_parser = parse_names_per_flow, value_name = "N")]
    pub max_names_per_flow: usize,

    /// DNS answers remembered at once (address to name).
    #[arg(long, default_value_t = 200_000, value_parser = parse_positive, value_name = "N")]
    pub dns_cache: usize,

    /// Seconds a DNS answer stays usable past its TTL.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub dns_grace: u64,

    /// Report format (default: table on stdout).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub report: Option<Format>,

    /// Write the report here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub scope: ScopeArgs,

    /// Rank builds and editions by how well the documented endpoints seen fit each page.
    #[arg(long)]
    pub guess_build: bool,

    /// Worker threads (each owns a share of the flows; output is the same for any number).
    /// Default: one per core, but one for files under 16 MiB in all or on one core.
    #[arg(long, short = 'j', value_parser = parse_threads, value_name = "N")]
    pub threads: Option<usize>,

    /// No progress display on stderr.
    #[arg(short, long)]
    pub quiet: bool,

    /// Table: every entry of every list (destinations, undocumented hosts, silent endpoints)
    /// instead of the top ones.
    #[arg(long)]
    pub full: bool,
}

/// "7d", "1h", "30m", "90s" or plain seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (e.g. 7d, 1h, 30m, 90s)"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("invalid duration unit in {s:?} (s, m, h, d)")),
    };
    Ok(std::time::Duration::from_secs(n.saturating_mul(mult)))
}

/// A duration that must not be zero: a zero idle timeout ends every flow at its first packet,
/// a zero period would snapshot or update without end.
pub fn parse_nonzero_duration(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!("{s:?} is zero; give at least 1s"));
    }
    Ok(d)
}

/// A count of at least 1 (a bound of 0 would hold nothing).
pub fn parse_positive(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{s:?}: {e}")),
    }
}

/// Worker threads: 1 to 256.
pub fn parse_threads(s: &str) -> Result<usize, String> {
    let n = parse_positive(s)?;
    if n > 256 {
        return Err(format!("{n} threads; at most 256"));
    }
    Ok(n)
}

/// Names kept per flow: 1 to 255 (the count is stored in a byte).
pub fn parse_names_per_flow(s: &str) -> Result<usize, String> {
    let n = parse_positive(s)?;
    if n > 255 {
        return Err(format!("{n}; at most 255"));
    }
    Ok(n)
}

/// "1G", "100M", "64K" or plain bytes (binary units).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?} (e.g. 1G, 100M)"))?;
    let mult: u64 = match unit
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return Err(format!("invalid size unit in {s:?} (K, M, G)")),
    };
    Ok(n.saturating_mul(mult))
}

/// One thread per core: with two, the reading/merging thread and one engine run side by side
/// (see README: Threads). One core: one thread.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Exit code of a documentation command: 4 when stdout could not be written.
fn docs_out(r: std::io::Result<()>) -> u8 {
    match r {
        Ok(()) => EXIT_OK,
        Err(e) => {
            say!("egressmap: writing to stdout: {e}");
            EXIT_OUTPUT
        }
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    EXIT_OK
                }
                _ => EXIT_USAGE,
            });
        }
    };
    let sigdir = cli.signatures.as_deref();
    let code = match cli.command {
        Command::Audit(a) => audit::run(&a.files, &a.opts, sigdir),
        #[cfg(feature = "live")]
        Command::Capture(c) => capture::run(&c, sigdir),
        Command::Report(r) => audit::rerender(&r),
        Command::Compare(c) => audit::compare(&c),
        Command::Merge(m) => merge::run(&m, sigdir),
        Command::Export(x) => export::run(&x, sigdir),
        Command::Signatures(cmd) => return crate::signatures::cmd::run(cmd, sigdir),
        Command::Completions { shell } => {
            docs_out(docs::completions(shell, &mut std::io::stdout()))
        }
        Command::Man { dir: None } => docs_out(docs::man(&mut std::io::stdout())),
        Command::Man { dir: Some(dir) } => match docs::man_pages(&dir) {
            Ok(names) => {
                say!("wrote {} man pages to {}", names.len(), dir.display());
                EXIT_OK
            }
            Err(e) => {
                say!("egressmap: man pages to {}: {e}", dir.display());
                EXIT_OUTPUT
            }
        },
    };
    ExitCode::from(code)
}
