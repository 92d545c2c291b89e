fn main() -> std::process::ExitCode {
    egressmap::cli::main()
}
