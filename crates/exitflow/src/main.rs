//! The `exitflow` command: flag definitions ([`args`]) → one settings merge
//! ([`settings`], over the configuration file [`config`]) → one module per
//! command ([`commands`]). The work itself lives in the library crates.
#![forbid(unsafe_code)]

mod args;
mod commands;
mod config;
mod settings;
mod values;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    let run = || -> anyhow::Result<ExitCode> {
        let conf = match &cli.config {
            Some(p) => config::Config::load(p)?,
            // `status` on the relay reads the package's configuration
            // (where the capture's endpoint and tor's are).
            None if matches!(cli.cmd, args::Cmd::Status(_))
                && std::path::Path::new(config::SYSTEM_CONFIG).is_file() =>
            {
                config::Config::load(std::path::Path::new(config::SYSTEM_CONFIG))?
            }
            None => config::Config::default(),
        };
        if commands::needs_dpi(&cli.cmd) {
            let dir = exitflow_dpi::data::load(cli.data_dir.as_deref())?;
            tracing::debug!(dir = %dir.display(), "nDPI's tables loaded");
        }
        commands::run(cli.cmd, &conf)
    };
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
