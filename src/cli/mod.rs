//! Command line: clap definitions, wiring, exit codes, progress.
// TEMPORARY wiring by the signatures helper for testing; the lead owns this file.
use clap::Parser;

#[derive(Parser)]
#[command(name = "egressmap")]
struct Cli {
    /// Load signatures from this directory instead of the built-in set.
    #[arg(long, global = true)]
    signatures: Option<std::path::PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// Endpoint signature database.
    #[command(subcommand)]
    Signatures(crate::signatures::cmd::SignaturesCmd),
}

pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Signatures(c) => crate::signatures::cmd::run(c, cli.signatures.as_deref()),
    }
}
