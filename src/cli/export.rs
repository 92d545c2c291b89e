//! `egressmap export INPUT... --format F`: a block list from a saved JSON report, or straight
//! from captures (or Zeek/Suricata logs), audited first with the audit's own options.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use clap::{Args, FromArgMatches as _};

use super::audit::{audit, load_report, write_text};
use super::{ExportArgs, RunOpts, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::report::export::{export, Selection};
use crate::report::model::Report;

/// Whether the file is a JSON report (`{` then the `"schema"` key first, as every report
/// writes it), judged from its first bytes: a capture or a log is anything else.
pub fn is_report_file(p: &Path) -> bool {
    // Never peek into a pipe: what is read here is gone for the capture reader.
    if !std::fs::metadata(p).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut head = [0u8; 256];
    let n = match std::fs::File::open(p).and_then(|mut f| f.read(&mut head)) {
        Ok(n) => n,
        Err(_) => return false,
    };
    let head = head.get(..n).unwrap_or_default();
    let mut rest = head.iter().skip_while(|b| b.is_ascii_whitespace());
    if rest.next() != Some(&b'{') {
        return false;
    }
    let rest: Vec<u8> = rest
        .skip_while(|b| b.is_ascii_whitespace())
        .copied()
        .collect();
    rest.starts_with(b"\"schema\"")
}

/// The audit's options with their defaults (as `audit` would parse them), then the ones
/// `export` takes.
fn run_opts(a: &ExportArgs) -> Result<RunOpts, String> {
    let cmd = RunOpts::augment_args(clap::Command::new("export"));
    let m = cmd
        .try_get_matches_from(["export"])
        .map_err(|e| e.to_string())?;
    let mut o = RunOpts::from_arg_matches(&m).map_err(|e| e.to_string())?;
    o.scope.clone_from(&a.scope);
    o.quiet = a.quiet;
    if a.threads.is_some() {
        o.threads = a.threads;
    }
    Ok(o)
}

pub fn run(a: &ExportArgs, sigdir: Option<&Path>) -> u8 {
    let reports: Vec<&PathBuf> = a.inputs.iter().filter(|p| is_report_file(p)).collect();
    let (report, code): (Report, u8) = if !reports.is_empty() {
        if a.inputs.len() > 1 {
            say!("egressmap: export takes one saved report, or captures (merge reports first)");
            return EXIT_USAGE;
        }
        match load_report(&a.inputs[0]) {
            Ok(r) => (r, EXIT_OK),
            Err(e) => {
                say!("egressmap: {e}");
                return EXIT_FAILED;
            }
        }
    } else {
        let opts = match run_opts(a) {
            Ok(o) => o,
            Err(e) => {
                say!("egressmap: {e}");
                return EXIT_USAGE;
            }
        };
        let au = match audit(&a.inputs, &opts, sigdir) {
            Ok(au) => au,
            Err(code) => return code,
        };
        if !opts.quiet && !opts.scope.strict {
            for w in &au.warnings {
                say!(
                    "egressmap: warning: {}",
                    crate::report::render::escape::term(w)
                );
            }
        }
        let code = au.exit_code(&opts);
        if code == EXIT_FAILED {
            return code;
        }
        (au.report, code)
    };
    for want in &a.area {
        if !report.areas.iter().any(|x| &x.area == want) {
            say!(
                "egressmap: warning: no traffic of area {} in the report",
                crate::report::render::escape::term(want)
            );
        }
    }
    let sel = Selection {
        areas: a.area.clone(),
        undocumented: a.undocumented,
    };
    let text = export(&report, &sel, a.format);
    match write_text(a.output.as_deref(), &text, "export") {
        Ok(()) => code,
        Err(code) => code,
    }
}
