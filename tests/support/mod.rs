//! Helpers shared by the integration tests that run the built binary.

use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_egressmap");

/// Runs the binary; returns exit code (-1 when killed by a signal), stdout and stderr.
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("running egressmap");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
