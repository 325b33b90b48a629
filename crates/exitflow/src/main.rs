//! The `exitflow` command.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    exitflow::cli::main()
}
