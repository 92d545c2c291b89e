//! Command line: clap definitions, wiring, exit codes, progress.
pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
