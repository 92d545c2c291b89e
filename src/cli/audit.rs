//! `egressmap audit`: files in, flow log and summary out.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};

use super::{AuditArgs, EXIT_FAILED, EXIT_OK, EXIT_OUTPUT, EXIT_PARTIAL};
use crate::engine::{Engine, EngineConfig};
use crate::flow::FlowTableConfig;
use crate::pipeline::{run_files, RunResult};
use crate::report::flowlog::{FlowLogWriter, FlowRecord};
use crate::report::summary::Summary;
use crate::resolve::ResolverConfig;

const SEC: u64 = 1_000_000_000;

pub fn engine_config(a: &AuditArgs) -> EngineConfig {
    EngineConfig {
        table: FlowTableConfig {
            max_flows: a.max_flows.max(1),
            tcp_idle: a.tcp_idle.saturating_mul(SEC),
            udp_idle: a.udp_idle.saturating_mul(SEC),
            ..Default::default()
        },
        resolver: ResolverConfig {
            max_entries: a.dns_cache.max(1),
            grace: a.dns_grace.saturating_mul(SEC),
        },
        reassembly_cap: a.reassembly_cap.max(64),
        ..Default::default()
    }
}

pub fn run(a: &AuditArgs) -> u8 {
    let mut log: Option<FlowLogWriter<Box<dyn Write>>> = match &a.flows {
        None => None,
        Some(p) if p.as_os_str() == "-" => Some(FlowLogWriter::new(Box::new(BufWriter::new(
            io::stdout().lock(),
        )))),
        Some(p) => match File::create(p) {
            Ok(f) => Some(FlowLogWriter::new(Box::new(BufWriter::with_capacity(
                1 << 20,
                f,
            )))),
            Err(e) => {
                eprintln!("egressmap: cannot write flow log {}: {e}", p.display());
                return EXIT_OUTPUT;
            }
        },
    };
    let mut summary = Summary::default();
    let mut write_error: Option<io::Error> = None;
    let none: [String; 0] = [];
    let result = run_files(
        &a.files,
        engine_config(a),
        a.threads,
        !a.quiet,
        &mut |flow, file| {
            summary.add(flow);
            if let (Some(w), None) = (log.as_mut(), write_error.as_ref()) {
                if let Err(e) = w.write(&FlowRecord::new(flow, file, &none, &none)) {
                    write_error = Some(e);
                }
            }
        },
    );
    if let Some(w) = log.take() {
        if let Err(e) = w.finish() {
            write_error.get_or_insert(e);
        }
    }
    let warnings = warnings(&result);
    for e in result.files.iter().filter_map(|f| f.error.as_ref()) {
        eprintln!("egressmap: {e}");
    }
    if a.flows.is_none() {
        print!("{}", render_summary(&result, &summary, &warnings));
    } else {
        for w in &warnings {
            eprintln!("egressmap: warning: {w}");
        }
    }
    if let Some(e) = write_error {
        eprintln!("egressmap: cannot write flow log: {e}");
        return EXIT_OUTPUT;
    }
    if result.all_failed() {
        EXIT_FAILED
    } else if result.any_error() || (a.strict && !warnings.is_empty()) {
        EXIT_PARTIAL
    } else {
        EXIT_OK
    }
}

/// Everything that was dropped or could not be read, one line each.
pub fn warnings(r: &RunResult) -> Vec<String> {
    let mut w = Vec::new();
    for f in &r.files {
        if let Some(e) = &f.error {
            let what = if f.failed {
                "not read"
            } else {
                "stopped early; records before it were processed"
            };
            w.push(format!("{e} ({what})"));
        }
        if f.stats.over_snaplen > 0 {
            w.push(format!(
                "{}: {} records longer than the snap length",
                f.name, f.stats.over_snaplen
            ));
        }
        if f.stats.unknown_interface > 0 {
            w.push(format!(
                "{}: {} packets on undeclared interfaces skipped",
                f.name, f.stats.unknown_interface
            ));
        }
    }
    let (s, t, rs) = Engine::merged_stats(&r.engines);
    let counters = [
        (s.truncated, "packets with truncated headers"),
        (s.unsupported_link, "packets of an unsupported link type"),
        (s.bad_ip_header, "packets with a bad IP header"),
        (s.ip_fragments_dropped, "IP fragments dropped"),
        (s.tunnel_too_deep, "packets tunnelled too deep to follow"),
        (
            s.reassembly_cap_hit,
            "flows whose first flight exceeded the reassembly cap",
        ),
        (s.dns_unparsed, "DNS messages that could not be parsed"),
        (
            t.evicted,
            "flows flushed early because the flow table was full (--max-flows)",
        ),
        (
            rs.evicted,
            "DNS answers evicted from the cache (--dns-cache)",
        ),
    ];
    for (n, what) in counters {
        if n > 0 {
            w.push(format!("{n} {what}"));
        }
    }
    w
}

fn render_summary(r: &RunResult, s: &Summary, warnings: &[String]) -> String {
    let mut out = String::new();
    let (e, _, _) = Engine::merged_stats(&r.engines);
    let _ = writeln!(out, "files: {}", r.files.len());
    for f in &r.files {
        let status = match (&f.error, f.failed) {
            (None, _) => "ok",
            (Some(_), true) => "FAILED",
            (Some(_), false) => "partial",
        };
        let _ = writeln!(out, "  {} ({} records, {status})", f.name, f.stats.records);
    }
    let _ = writeln!(
        out,
        "packets: {} ({} IP, {} not IP), {} IP bytes in flows",
        e.packets, e.decoded, e.not_ip, s.bytes
    );
    s.render_flows(&mut out);
    if warnings.is_empty() {
        let _ = writeln!(out, "warnings: none");
    } else {
        let _ = writeln!(out, "warnings:");
        for w in warnings {
            let _ = writeln!(out, "  {w}");
        }
    }
    out
}
