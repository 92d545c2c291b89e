//! Shell completions and man pages, generated from the clap definitions at run time so they
//! can never drift from what the parser accepts (a `capture` subcommand appears only in a
//! build with the `live` feature, as it does in `--help`).

use std::io::{self, Write};
use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

/// The completion script for `shell`, for the binary name `egressmap`.
pub fn completions(shell: Shell, out: &mut dyn Write) -> io::Result<()> {
    let mut cmd = Cli::command();
    // clap_complete writes through `write_all` and panics on an error; render into memory
    // first so a closed stdout is an error we report, not a panic.
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "egressmap", &mut buf);
    out.write_all(&buf)?;
    out.flush()
}

/// egressmap(1): name, synopsis, options, subcommands, exit status, version. clap_mangen's
/// `render` would print `--help`'s exit-status text as one run-on paragraph, so the page is
/// assembled from its sections with the exit codes as a proper list.
pub fn man(out: &mut dyn Write) -> io::Result<()> {
    let page = clap_mangen::Man::new(Cli::command());
    let mut buf = Vec::new();
    page.render_title(&mut buf)?;
    page.render_name_section(&mut buf)?;
    page.render_synopsis_section(&mut buf)?;
    page.render_description_section(&mut buf)?;
    page.render_options_section(&mut buf)?;
    page.render_subcommands_section(&mut buf)?;
    buf.extend_from_slice(b".SH \"EXIT STATUS\"\n");
    for (code, what) in EXIT_CODES {
        buf.extend_from_slice(format!(".TP\n{code}\n{what}\n").as_bytes());
    }
    page.render_version_section(&mut buf)?;
    out.write_all(&buf)?;
    out.flush()
}

/// The exit codes (src/cli/mod.rs), in roff-safe words.
const EXIT_CODES: [(u8, &str); 5] = [
    (super::EXIT_OK, "success"),
    (
        super::EXIT_PARTIAL,
        "partial: an input was truncated or corrupt, or could not be opened while others could; \
         everything readable was processed and reported (with \\-\\-strict: any warning)",
    ),
    (super::EXIT_USAGE, "usage error"),
    (super::EXIT_FAILED, "failed: no input could be read"),
    (super::EXIT_OUTPUT, "output could not be written"),
];

/// egressmap(1) and one page per subcommand (egressmap-audit(1), ...) written into `dir`,
/// for packagers; returns the file names written.
pub fn man_pages(dir: &Path) -> io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let cmd = Cli::command();
    clap_mangen::generate_to(cmd.clone(), dir)?;
    // The top page again, with its exit-status list (see `man`).
    let mut top = std::fs::File::create(dir.join("egressmap.1"))?;
    man(&mut top)?;
    let mut names = vec![clap_mangen::Man::new(cmd.clone()).get_filename()];
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    collect_names(&cmd, &mut names);
    names.sort();
    Ok(names)
}

/// The file names `clap_mangen::generate_to` gives the subcommands' pages.
fn collect_names(cmd: &clap::Command, names: &mut Vec<String>) {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        names.push(clap_mangen::Man::new(sub.clone()).get_filename());
        collect_names(sub, names);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut buf = Vec::new();
        f(&mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn bash_completion_offers_subcommands_and_options() {
        let s = text(|b| completions(Shell::Bash, b));
        assert!(s.contains("_egressmap()"), "no completion function");
        for word in [
            "audit",
            "report",
            "compare",
            "signatures",
            "completions",
            "man",
        ] {
            assert!(s.contains(word), "bash completion lacks {word}");
        }
        assert!(s.contains("--reassembly-total"), "audit's options missing");
        assert!(s.contains("complete -F _egressmap"));
        assert_eq!(s.contains("capture"), cfg!(feature = "live"));
    }

    #[test]
    fn every_shell_renders() {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Elvish,
            Shell::PowerShell,
        ] {
            let s = text(|b| completions(shell, b));
            assert!(s.contains("audit"), "{shell} completion lacks audit");
        }
    }

    #[test]
    fn man_page_is_roff_with_sections() {
        let s = text(|b| man(b));
        assert!(
            s.starts_with(".ie") || s.contains("\n.TH egressmap 1"),
            "{s}"
        );
        assert!(s.contains(".TH egressmap 1"));
        for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH SUBCOMMANDS"] {
            assert!(s.contains(section), "man page lacks {section}");
        }
        assert!(s.contains("egressmap\\-audit(1)"), "subcommand not listed");
        assert!(s.contains(".SH \"EXIT STATUS\"\n.TP\n0\nsuccess\n"));
        assert!(!s.contains(".SH EXTRA"));
    }

    #[test]
    fn man_pages_written_per_subcommand() {
        let dir = std::env::temp_dir().join(format!("egressmap-man-{}", std::process::id()));
        let names = man_pages(&dir).unwrap();
        assert!(names.contains(&"egressmap.1".to_string()), "{names:?}");
        assert!(
            names.contains(&"egressmap-audit.1".to_string()),
            "{names:?}"
        );
        assert!(
            names.contains(&"egressmap-signatures-import.1".to_string()),
            "{names:?}"
        );
        for n in &names {
            let page = std::fs::read_to_string(dir.join(n)).unwrap();
            assert!(page.contains(".TH "), "{n} is not a man page");
        }
        let audit = std::fs::read_to_string(dir.join("egressmap-audit.1")).unwrap();
        assert!(
            audit.contains("\\-\\-max\\-flows"),
            "audit page lacks its options"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The page as a man reader shows it: groff (what `man -l` runs) formats it without a
    /// warning. Skipped, and said so, where groff is not installed.
    #[test]
    fn man_page_formats_without_warnings() {
        let page = text(|b| man(b));
        let child = std::process::Command::new("groff")
            .args(["-man", "-Tascii", "-P-bou", "-ww"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn();
        let Ok(mut child) = child else {
            eprintln!("SKIPPED: groff not installed");
            return;
        };
        child
            .stdin
            .take()
            .unwrap()
            .write_all(page.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "groff warnings: {stderr}");
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(shown.contains("EXIT STATUS"), "{shown}");
        assert!(shown.contains("egressmap-audit(1)"), "{shown}");
    }
}
