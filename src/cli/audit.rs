//! `egressmap audit`, `report` and `compare`: captures in, flow log and reports out.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use super::guess::BuildGuesser;
use super::{
    CompareArgs, ReportArgs, RunOpts, EXIT_FAILED, EXIT_OK, EXIT_OUTPUT, EXIT_PARTIAL, EXIT_USAGE,
};
use crate::engine::{Engine, EngineConfig};
use crate::flow::{Flow, FlowTableConfig};
use crate::input::JoinConfig;
use crate::pipeline::{run_files_prepared, PrepareFn, RunResult};
use crate::report::aggregate::{Aggregator, Context, FlowMatch, UNPLACED};
use crate::report::dnsview::NameClass;
use crate::report::flowlog::{self, FlowLogWriter, FlowRecord};
use crate::report::model::{Documented, Input, Report, Scope};
use crate::report::render::escape::term;
use crate::report::render::{render, Format, Options};
use crate::report::summary::Summary;
use crate::resolve::ResolverConfig;
use crate::signatures::{Database, MatchResult, Matcher};

const SEC: u64 = 1_000_000_000;

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

pub fn engine_config(a: &RunOpts) -> EngineConfig {
    EngineConfig {
        table: FlowTableConfig {
            max_flows: a.max_flows.max(1),
            tcp_idle: nanos(a.tcp_idle),
            tcp_handshake_idle: nanos(a.tcp_handshake_idle),
            tcp_half_closed_idle: nanos(a.tcp_half_closed_idle),
            closed_linger: nanos(a.tcp_closed_idle),
            udp_idle: nanos(a.udp_idle),
            dns_idle: nanos(a.dns_idle),
            inspect_idle: nanos(a.inspect_idle),
            flow_update: a.flow_update.map(nanos).filter(|n| *n > 0),
            max_names: a
                .max_names_per_flow
                .clamp(1, crate::flow::NAMES_PER_FLOW_LIMIT),
            ..Default::default()
        },
        resolver: ResolverConfig {
            max_entries: a.dns_cache.max(1),
            grace: a.dns_grace.saturating_mul(SEC),
            ..Default::default()
        },
        reassembly_cap: a.reassembly_cap.max(64),
        reassembly_total: usize::try_from(a.reassembly_total).unwrap_or(usize::MAX),
        quic: !a.scope.no_quic,
        ..Default::default()
    }
}

/// Log-join settings from the audit options (the same resolver knobs as for packets).
pub fn join_config(a: &RunOpts) -> JoinConfig {
    JoinConfig {
        resolver: ResolverConfig {
            max_entries: a.dns_cache.max(1),
            grace: a.dns_grace.saturating_mul(SEC),
            ..ResolverConfig::default()
        },
        max_names: a.max_names_per_flow,
        max_records: a.max_flows.max(1).saturating_mul(8),
    }
}

pub fn load_signatures(dir: Option<&Path>) -> Result<Database, String> {
    match dir {
        Some(d) => Database::load_dir(d)
            .map_err(|e| format!("cannot load signatures from {}: {e}", d.display())),
        None => Database::builtin(),
    }
}

/// Which documented endpoints a flow matches. An ECH outer name is never matched (it names the
/// fronting service, not the endpoint); its inferred inner name is, if it has one. The SNI of a
/// GREASE ECH ClientHello (`ech` without `ech_outer`) is the real name and is matched.
pub fn match_flow(m: &mut Matcher, f: &Flow) -> Option<Arc<MatchResult>> {
    if f.ech_outer {
        let r = m.lookup_chain(f.extra().inferred_host.as_deref()?, &[], None);
        return r.is_match().then_some(r);
    }
    let host = f.host.as_deref()?;
    let cnames: Vec<&str> = f
        .extra()
        .cnames
        .iter()
        .flat_map(|c| c.iter().map(|n| &**n))
        .collect();
    let r = m.lookup_chain(host, &cnames, f.extra().http_path.as_deref());
    r.is_match().then_some(r)
}

/// What the signatures say of a name looked up over DNS (the report's DNS view), matched as
/// the run's flows are (same build and edition; no CNAMEs or path: the name alone).
#[cfg(feature = "live")]
pub fn name_classifier(db: &Database, a: &RunOpts) -> impl Fn(&str) -> NameClass {
    let (build, edition) = if a.guess_build {
        (None, None)
    } else {
        (a.scope.build.as_deref(), a.scope.edition.as_deref())
    };
    classifier_with(Matcher::new(db, build, edition))
}

/// [`name_classifier`] with the run's own matcher (built for the same build and edition), so
/// the signatures are not compiled a second time.
fn classifier_with(m: Matcher) -> impl Fn(&str) -> NameClass {
    let m = std::cell::RefCell::new(m);
    move |name: &str| {
        let r = m.borrow_mut().lookup_chain(name, &[], None);
        if !r.is_match() {
            return NameClass::default();
        }
        NameClass {
            areas: if r.areas.is_empty() {
                vec![UNPLACED.to_string()]
            } else {
                r.areas.clone()
            },
            pattern: r.endpoints.first().map(|e| e.pattern.clone()),
            shared: r.shared_infrastructure(),
        }
    }
}

/// A match's areas ([`UNPLACED`] for an endpoint without one; none without a match) and the
/// patterns of its endpoints, as the flow log and the report record them.
pub fn areas_endpoints<'a>(
    m: &'a Option<Arc<MatchResult>>,
    unplaced: &'a [String],
) -> (&'a [String], Vec<String>) {
    let Some(r) = m else {
        return (&[], Vec::new());
    };
    let areas = if r.areas.is_empty() {
        unplaced
    } else {
        &r.areas
    };
    (
        areas,
        r.endpoints.iter().map(|e| e.pattern.clone()).collect(),
    )
}

fn open_output(path: &Path) -> io::Result<Box<dyn Write>> {
    if path.as_os_str() == "-" {
        Ok(Box::new(BufWriter::new(io::stdout().lock())))
    } else {
        Ok(Box::new(BufWriter::with_capacity(
            1 << 20,
            File::create(path)?,
        )))
    }
}

pub(crate) fn signatures_version(db: &Database, dir: Option<&Path>) -> String {
    let origin = match dir {
        Some(d) => d.display().to_string(),
        None => format!("built-in {}", env!("CARGO_PKG_VERSION")),
    };
    format!(
        "{origin} ({} endpoint rows, {} builds)",
        db.endpoints().len(),
        db.builds().len()
    )
}

/// What one audit run produced, before it is rendered.
pub struct Audited {
    pub report: Report,
    summary: Summary,
    pub warnings: Vec<String>,
    result: RunResult,
    write_error: Option<io::Error>,
}

impl Audited {
    /// The exit code the inputs earn: 3 when none could be read, 1 when one was truncated or
    /// corrupt (or, with `--strict`, when anything was warned about), else 0.
    pub fn exit_code(&self, a: &RunOpts) -> u8 {
        if self.result.all_failed() {
            EXIT_FAILED
        } else if self.result.any_error() {
            EXIT_PARTIAL
        } else if a.scope.strict && !self.warnings.is_empty() {
            say!(
                "egressmap: exit 1 (--strict): {} warning{}:",
                self.warnings.len(),
                if self.warnings.len() == 1 { "" } else { "s" }
            );
            for w in &self.warnings {
                say!("  {}", term(w));
            }
            EXIT_PARTIAL
        } else {
            EXIT_OK
        }
    }
}

pub fn run(files: &[std::path::PathBuf], a: &RunOpts, sigdir: Option<&Path>) -> u8 {
    let flows_to_stdout = a.flows.as_deref().is_some_and(|p| p.as_os_str() == "-");
    let au = match audit(files, a, sigdir) {
        Ok(au) => au,
        Err(code) => return code,
    };
    let want_report = a.report.is_some() || !flows_to_stdout;
    if want_report {
        let format = a.report.unwrap_or(Format::Table);
        let to_tty = a.output.is_none() && io::stdout().is_terminal();
        let opt = Options::for_stdout(to_tty, a.full);
        let mut text = render(&au.report, format, &opt);
        if format == Format::Table && a.report.is_none() {
            // The plain `audit FILE` view also says how flows got their names.
            text.push_str("\nNames\n");
            au.summary.render_flows(&mut text, a.full, opt.width);
            if au.report.unknown.iter().any(|u| u == "dns") {
                // Logs without DNS records: no flow could be named from DNS; not a finding.
                text.push_str("  (dns, dns-query, dns-other-client: the logs hold no DNS records, so no flow could be named from DNS)\n");
            }
        }
        if let Err(code) = write_text(a.output.as_deref(), &text, "report") {
            return code;
        }
    } else {
        for w in &au.warnings {
            say!("egressmap: warning: {w}");
        }
    }
    if let Some(e) = &au.write_error {
        // `--flows - | head`: the reader went away, as quiet as `head` itself.
        if flows_to_stdout && e.kind() == io::ErrorKind::BrokenPipe {
            return EXIT_OK;
        }
        say!("egressmap: cannot write flow log: {e}");
        return EXIT_OUTPUT;
    }
    au.exit_code(a)
}

/// A flow's signature match and its flow-log line (with `--flows`), made where the flow ended.
struct Prepared {
    m: Option<Arc<MatchResult>>,
    endpoints: Vec<String>,
    line: Option<io::Result<Vec<u8>>>,
}

impl Prepared {
    fn areas<'s>(&'s self, unplaced: &'s [String]) -> &'s [String] {
        areas_endpoints(&self.m, unplaced).0
    }
    fn shared(&self) -> bool {
        self.m.as_ref().is_some_and(|r| r.shared_infrastructure())
    }
}

/// Reads the inputs and builds the report (and the flow log, with `--flows`); `Err` is the
/// exit code of a run that could not start.
pub fn audit(
    files: &[std::path::PathBuf],
    a: &RunOpts,
    sigdir: Option<&Path>,
) -> Result<Audited, u8> {
    let db = match load_signatures(sigdir) {
        Ok(db) => db,
        Err(e) => {
            say!("egressmap: {e}");
            return Err(EXIT_USAGE);
        }
    };
    for (what, value, known) in [
        ("build", a.scope.build.as_deref(), db.builds().to_vec()),
        (
            "edition",
            a.scope.edition.as_deref(),
            db.editions(a.scope.build.as_deref()),
        ),
    ] {
        if let Some(v) = value {
            let ok = known.iter().any(|k| {
                if what == "build" {
                    crate::signatures::same_build(k, v)
                } else {
                    crate::signatures::same_edition(k, v)
                }
            });
            if !ok {
                say!(
                    "egressmap: unknown {what} {v:?}; known: {}",
                    known.join(", ")
                );
                return Err(EXIT_USAGE);
            }
        }
    }
    let flows_to_stdout = a.flows.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if flows_to_stdout && a.report.is_some() && a.output.is_none() {
        say!("egressmap: --flows - and --report both want stdout; give the report a file with -o");
        return Err(EXIT_USAGE);
    }
    let mut log = match &a.flows {
        None => None,
        Some(p) => match open_output(p) {
            Ok(w) => Some(FlowLogWriter::new(w)),
            Err(e) => {
                say!("egressmap: cannot write flow log {}: {e}", p.display());
                return Err(EXIT_OUTPUT);
            }
        },
    };
    // --guess-build needs to see every documented endpoint, whatever build was asked for.
    let (build, edition) = if a.guess_build {
        (None, None)
    } else {
        (a.scope.build.as_deref(), a.scope.edition.as_deref())
    };
    let matcher = Matcher::new(&db, build, edition);
    let mut guesser = a.guess_build.then(|| BuildGuesser::new(&db));
    let mut agg = Aggregator::new(Scope {
        public_only: !a.scope.all_destinations,
        ipv4_only: a.scope.ipv4_only,
    })
    .with_clients(a.scope.client.clone());
    let mut summary = Summary::default();
    let unplaced = [UNPLACED.to_string()];
    let mut write_error: Option<io::Error> = None;
    // Zeek/Suricata logs instead of packets (detected from the bytes; a directory is logs).
    let log_input = crate::input::is_log_input(files);
    let log_unknown: Vec<&'static str> = if log_input {
        crate::input::unknown_for(files)
    } else {
        Vec::new()
    };
    // What the output needs of a flow besides the flow itself: its match and its flow-log
    // line. Made on the engine's thread when it has time (`run_files_prepared`), the same
    // bytes wherever it runs.
    let with_log = log.is_some();
    let unknown = log_input.then_some(&log_unknown[..]);
    // A log record without counts: its line's packets and bytes are unknown too.
    let countless: Vec<&'static str> = log_unknown
        .iter()
        .copied()
        .chain(["packets", "bytes"])
        .collect();
    let prepare_with = |m: &mut Matcher, flow: &Flow, file: &str| -> Prepared {
        let m = match_flow(m, flow);
        let (areas, endpoints) = areas_endpoints(&m, &unplaced);
        let shared = m.as_ref().is_some_and(|r| r.shared_infrastructure());
        let line = with_log.then(|| {
            let mut rec = FlowRecord::new(flow, file, areas, &endpoints).shared(shared);
            rec.unknown = unknown.map(|u| {
                if flow.extra().counts_unknown {
                    &countless[..]
                } else {
                    u
                }
            });
            flowlog::render(&rec)
        });
        Prepared { m, endpoints, line }
    };
    let forked = matcher.clone();
    let prepare = || -> PrepareFn<'_, Prepared> {
        let mut m = forked.clone();
        Box::new(move |flow, file| prepare_with(&mut m, flow, file))
    };
    let mut on_prepared = |flow: &Flow, p: Prepared| {
        let interim = flow.interim().is_some();
        let (areas, endpoints) = (p.areas(&unplaced), &p.endpoints);
        if !interim {
            summary.add(flow);
        }
        agg.add(
            flow,
            &FlowMatch {
                areas,
                pattern: endpoints.first().map(String::as_str),
                shared: p.shared(),
                endpoints,
            },
        );
        if let (Some(g), Some(r)) = (guesser.as_mut(), &p.m) {
            if !interim && agg.in_scope(flow) && !flow.ech_outer {
                g.add(r);
            }
        }
        if let (Some(w), None, Some(line)) = (log.as_mut(), write_error.as_ref(), p.line) {
            if let Err(e) = line.and_then(|l| w.write_line(&l)) {
                write_error = Some(e);
            }
        }
    };
    // Several captures: read in time order, each once (decided before the pipeline runs).
    let mut plan_warnings = Vec::new();
    let mut check_after_run = false;
    let planned;
    let files = if log_input {
        files
    } else {
        match super::inputs::plan(files) {
            Ok(p) => {
                if !a.quiet {
                    for n in &p.notes {
                        say!("egressmap: {}", term(n));
                    }
                }
                plan_warnings = p.warnings;
                check_after_run = p.check_after_run;
                planned = p.files;
                &planned[..]
            }
            Err(e) => {
                say!("egressmap: {}", term(&e));
                return Err(EXIT_USAGE);
            }
        }
    };
    let (result, log_warnings, log_formats, data_unknown) = if log_input {
        let mut m = matcher.clone();
        let mut on_flow = |f: &Flow, file: &str| on_prepared(f, prepare_with(&mut m, f, file));
        let lr = crate::input::run_logs(files, &join_config(a), &mut on_flow);
        let r = RunResult {
            files: lr.files,
            engines: Vec::new(),
        };
        (r, lr.warnings, lr.file_formats, lr.unknown)
    } else {
        let threads = a
            .threads
            .unwrap_or_else(|| crate::pipeline::auto_threads(files, super::default_threads()));
        let cfg = engine_config(a);
        let r = run_files_prepared(files, cfg, threads, !a.quiet, &prepare, &mut |f, _, p| {
            on_prepared(f, p)
        });
        (r, Vec::new(), Vec::new(), Vec::new())
    };
    if let Some(w) = log.take() {
        if let Err(e) = w.finish() {
            write_error.get_or_insert(e);
        }
    }
    if check_after_run {
        match super::inputs::after_run(&result.files) {
            Ok(w) => plan_warnings.extend(w),
            Err(e) => {
                say!("egressmap: {}", term(&e));
                return Err(EXIT_USAGE);
            }
        }
    }
    let mut warnings = plan_warnings;
    warnings.extend(self::warnings(&result));
    warnings.extend(log_warnings);
    warnings.extend(names_dropped_warning(summary.names_dropped, a));
    for e in result.files.iter().filter_map(|f| f.error.as_ref()) {
        say!("egressmap: {e}");
    }
    let mut report = build_report(&db, sigdir, a, agg, matcher, &result, warnings.clone());
    report.build_guess = guesser.as_ref().map(BuildGuesser::to_model);
    // Per machine: the same ranking, when matching covered every build.
    if build.is_none() && edition.is_none() {
        match &guesser {
            Some(g) => g.guess_clients(&mut report.clients),
            None => BuildGuesser::new(&db).guess_clients(&mut report.clients),
        }
    }
    if log_input {
        report.unknown = log_unknown
            .iter()
            .chain(&data_unknown)
            .map(|s| s.to_string())
            .collect();
        for (i, f) in report.inputs.iter_mut().zip(&log_formats) {
            i.format = f.map(|f| f.as_str().to_string());
        }
    }

    Ok(Audited {
        report,
        summary,
        warnings,
        result,
        write_error,
    })
}

/// Writes `text` to the file, or to stdout. A reader that went away (`| head`) is not an
/// error: nothing is printed and the exit code is 0, as for `head` itself. `Err` is the exit code.
pub fn write_text(path: Option<&Path>, text: &str, what: &str) -> Result<(), u8> {
    let written = match path {
        Some(p) if p.as_os_str() != "-" => std::fs::write(p, text.as_bytes()).map_err(|e| {
            io::Error::new(e.kind(), format!("{}: {e}", term(&p.display().to_string())))
        }),
        _ => {
            let mut out = io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush())
        }
    };
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(EXIT_OK),
        Err(e) => {
            say!("egressmap: cannot write {what}: {e}");
            Err(EXIT_OUTPUT)
        }
    }
}

/// What a report needs from the signature database: the build/edition assumed, the documented
/// endpoints of that page (for "documented but silent"), and the signature version.
pub fn report_context_parts(
    db: &Database,
    sigdir: Option<&Path>,
    a: &RunOpts,
) -> ((Option<String>, Option<String>), Vec<Documented>, String) {
    let (build, edition) = (a.scope.build.as_deref(), a.scope.edition.as_deref());
    let mut documented: Vec<Documented> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = Default::default();
    for e in db.endpoints_for(build, edition) {
        match index.get(&e.pattern).and_then(|&i| documented.get_mut(i)) {
            Some(d) => {
                for x in &e.areas {
                    if !d.areas.contains(x) {
                        d.areas.push(x.clone());
                    }
                }
                for p in &e.protocols {
                    if !d.protocols.contains(p) {
                        d.protocols.push(p.clone());
                    }
                }
            }
            None => {
                index.insert(e.pattern.clone(), documented.len());
                documented.push(Documented {
                    pattern: e.pattern.clone(),
                    areas: e.areas.clone(),
                    protocols: e.protocols.clone(),
                });
            }
        }
    }
    documented.sort_by(|x, y| x.areas.cmp(&y.areas).then(x.pattern.cmp(&y.pattern)));
    (
        (a.scope.build.clone(), a.scope.edition.clone()),
        documented,
        signatures_version(db, sigdir),
    )
}

fn build_report(
    db: &Database,
    sigdir: Option<&Path>,
    a: &RunOpts,
    agg: Aggregator,
    matcher: Matcher,
    r: &RunResult,
    warnings: Vec<String>,
) -> Report {
    let ((build, edition), documented, version) = report_context_parts(db, sigdir, a);
    let area_info = |id: &str| match db.area(id) {
        Some(a) => (a.name.clone(), a.turn_off_url()),
        None => (id.to_string(), None),
    };
    let is_ms = |h: &str| db.is_microsoft_domain(h);
    let ctx = Context {
        build,
        edition,
        signatures_version: version,
        area_info: &area_info,
        documented,
        is_microsoft_domain: &is_ms,
        classify: &classifier_with(matcher),
    };
    let inputs = r
        .files
        .iter()
        .map(|f| Input {
            name: f.name.clone(),
            records: f.stats.records,
            status: match (&f.error, f.failed) {
                (None, _) => "ok",
                (Some(_), true) => "failed",
                (Some(_), false) => "partial",
            }
            .to_string(),
            error: f.error.as_ref().map(|e| e.to_string()),
            format: None,
        })
        .collect();
    let (e, _, _) = Engine::merged_stats(&r.engines);
    agg.finish(&ctx, inputs, e.packets, warnings)
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
        if let Some(o) = f.stats.first_oversize {
            w.push(oversize_warning(&f.name, f.stats.oversize_blocks, o));
        }
    }
    w.extend(warnings_from(&r.engines));
    w
}

/// pcapng blocks skipped for their size: where the first was, and how many.
fn oversize_warning(name: &str, n: u64, o: crate::capture::Oversize) -> String {
    let what = match o.btype {
        2 | 3 | 6 => "packet block (its packet is not read)".to_string(),
        4 => "name resolution block".to_string(),
        5 => "interface statistics block".to_string(),
        0x0A => "decryption secrets block".to_string(),
        0x0BAD | 0x4000_0BAD => "custom block".to_string(),
        t => format!("block of type {t:#x}"),
    };
    format!(
        "{name}: record {}, byte offset {}: pcapng {what} of {} bytes, over the {} MiB bound, \
         skipped unread ({n} such block{} in all; the records before and after are read)",
        o.record,
        o.offset,
        o.len,
        crate::capture::file::MAX_BLOCK >> 20,
        if n == 1 { "" } else { "s" },
    )
}

/// Names flows could not keep (counted as flows end, so by the sink rather than the engines).
pub fn names_dropped_warning(n: u64, a: &RunOpts) -> Option<String> {
    (n > 0).then(|| {
        format!(
            "{n} names not kept: flows carried more than {} (--max-names-per-flow)",
            a.max_names_per_flow
        )
    })
}

/// Packet- and flow-level drops counted by the engines.
pub fn warnings_from(engines: &[Engine]) -> Vec<String> {
    let mut w = Vec::new();
    let (s, t, rs) = Engine::merged_stats(engines);
    // Files: one validator saw every exchange (the engine's, or with several workers the
    // dispatcher's, handed to the first engine; the others validated nothing). Live: every
    // worker validates the same UDP exchanges, DNS over TCP only its owner: take the largest
    // count (a lower bound for the TCP part). Ties go to the first, so a validator that only
    // saw responses is not passed over for an empty one.
    let vs = engines
        .iter()
        .map(|e| e.validator.stats)
        .rev()
        .max_by_key(|v| {
            (
                v.queries,
                v.answers_accepted
                    + v.answers_unsolicited
                    + v.answers_wrong_question
                    + v.records_out_of_chain
                    + v.responses_from_client
                    + v.queries_dropped,
            )
        })
        .unwrap_or_default();
    let counters = [
        (s.truncated, "packets with truncated headers"),
        (s.unsupported_link, "packets of an unsupported link type"),
        (s.bad_ip_header, "packets with a bad IP header"),
        (s.ip_fragments_dropped, "IP fragments dropped"),
        (
            s.ip_fragments_evicted,
            "incomplete IP datagrams evicted from the fragment pool to make room (their fragments were never used)",
        ),
        (
            s.tunnel_too_deep,
            "packets nested too deep to follow (VLAN tags, MPLS labels or tunnels past the limit)",
        ),
        (
            s.reassembly_cap_hit,
            "flows whose first flight exceeded the reassembly cap",
        ),
        (
            s.reassembly_gap_gave_up,
            "flows no longer inspected: a hole in their first flight stayed open for several segments",
        ),
        (
            t.inspect_timed_out,
            "flows no longer inspected: silent for --inspect-idle with their first flight incomplete",
        ),
        (
            s.reassembly_budget_refused,
            "segments not buffered: all first-flight buffers together reached --reassembly-total",
        ),
        (s.dns_unparsed, "DNS messages that could not be parsed"),
        (
            t.evicted,
            "flows flushed early because the flow table was full (--max-flows)",
        ),
        (
            rs.evicted,
            "DNS answers evicted, oldest first per client, because a client or the cache was full (--dns-cache)",
        ),
        (
            vs.answers_unsolicited,
            "DNS responses ignored: no outstanding query on their exchange (unsolicited, spoofed or late)",
        ),
        (
            vs.answers_wrong_question,
            "DNS responses ignored: question differs from the query's",
        ),
        (
            vs.records_out_of_chain,
            "DNS address records ignored: owner is not the question or its CNAME chain",
        ),
        (
            vs.responses_from_client,
            "DNS responses sent by a client (QR=1 towards port 53) ignored",
        ),
        (
            vs.queries_dropped,
            "outstanding DNS queries forgotten because their table was full",
        ),
    ];
    for (n, what) in counters {
        if n > 0 {
            w.push(format!("{n} {what}"));
        }
    }
    let uf = &s.unsupported_framing;
    if uf.total() > 0 {
        let mut kinds: Vec<String> = uf.kinds.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        if uf.other > 0 {
            kinds.push(format!("other kinds: {}", uf.other));
        }
        w.push(format!(
            "{} packets in framings not decoded ({})",
            uf.total(),
            kinds.join(", ")
        ));
    }
    w
}

pub(crate) fn load_report(p: &Path) -> Result<Report, String> {
    let text =
        std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{} is not an egressmap JSON report: {e}", p.display()))
}

/// `egressmap report SAVED.json --report FORMAT`.
pub fn rerender(a: &ReportArgs) -> u8 {
    let r = match load_report(&a.saved) {
        Ok(r) => r,
        Err(e) => {
            say!("egressmap: {e}");
            return EXIT_FAILED;
        }
    };
    let to_tty = a.output.is_none() && io::stdout().is_terminal();
    let text = render(&r, a.report, &Options::for_stdout(to_tty, a.full));
    match write_text(a.output.as_deref(), &text, "report") {
        Ok(()) => EXIT_OK,
        Err(code) => code,
    }
}

/// `egressmap compare A.json B.json`: exits like `diff`, 0 when nothing changed beyond 10%, 1
/// when something did (or, with `--fail-on`, when one of those kinds of change occurred).
pub fn compare(a: &CompareArgs) -> u8 {
    let (ra, rb) = match (load_report(&a.a), load_report(&a.b)) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(e), _) | (_, Err(e)) => {
            say!("egressmap: {}", term(&e));
            return EXIT_FAILED;
        }
    };
    let c = crate::report::compare::compare(&ra, &rb);
    let text = if a.json {
        // The table carries its warnings; JSON on stdout is for machines, so say them here too.
        for w in &c.warnings {
            say!("egressmap: warning: {w}");
        }
        serde_json::to_string_pretty(&c).unwrap_or_default() + "\n"
    } else {
        crate::report::compare::render_table(
            &c,
            &a.a.display().to_string(),
            &a.b.display().to_string(),
        )
    };
    if let Err(code) = write_text(None, &text, "comparison") {
        return code;
    }
    if c.fails(&a.fail_on) {
        EXIT_PARTIAL
    } else {
        EXIT_OK
    }
}
