//! `exitflow relay init`: the exit-relay kit (see the `exitflow-relay` crate).
use std::process::ExitCode;

use anyhow::{Context, Result};
use exitflow_relay::{ExitPolicyChoice, KitSettings};

use crate::args::{ExitPolicyArg, ExitPolicyArgs, RelayArgs, RelayCmd};

/// How long tor's control port may take to answer.
const CONTROL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs a `relay` command.
pub fn run(a: &RelayArgs) -> Result<ExitCode> {
    match &a.cmd {
        RelayCmd::Init(i) => init(i),
        RelayCmd::ExitPolicy(e) => exit_policy(e),
    }
}

/// Asks tor for its exit policy and writes it beside the consensus copy.
fn exit_policy(e: &ExitPolicyArgs) -> Result<ExitCode> {
    use exitflow_enrich::torcontrol;
    let (rules, version) = if let Ok(addr) = e.control.parse::<std::net::SocketAddr>() {
        let s = std::net::TcpStream::connect_timeout(&addr, CONTROL_TIMEOUT)
            .with_context(|| format!("tor's control port {addr}"))?;
        s.set_read_timeout(Some(CONTROL_TIMEOUT))?;
        s.set_write_timeout(Some(CONTROL_TIMEOUT))?;
        torcontrol::exit_policy_full(s)
    } else {
        let s = std::os::unix::net::UnixStream::connect(&e.control)
            .with_context(|| format!("tor's control socket {}", e.control))?;
        s.set_read_timeout(Some(CONTROL_TIMEOUT))?;
        s.set_write_timeout(Some(CONTROL_TIMEOUT))?;
        torcontrol::exit_policy_full(s)
    }
    .with_context(|| format!("asking tor at {} for its exit policy", e.control))?;
    let summary =
        torcontrol::summarise(&rules).map_err(|why| anyhow::anyhow!("tor's exit policy: {why}"))?;
    torcontrol::write_policy_file(&e.out, &rules, &version)
        .with_context(|| format!("writing {}", e.out.display()))?;
    tracing::info!(policy = %summary, tor = %version, out = %e.out.display(), "tor's exit policy written");
    Ok(ExitCode::SUCCESS)
}

/// Writes the kit and says what to do next.
fn init(i: &crate::args::RelayInitArgs) -> Result<ExitCode> {
    let settings = KitSettings {
        exit_policy: match i.exit_policy {
            ExitPolicyArg::Study => ExitPolicyChoice::Study,
            ExitPolicyArg::Reduced => ExitPolicyChoice::Reduced,
            ExitPolicyArg::Web => ExitPolicyChoice::Web,
        },
        or_port: i.or_port,
        dir_port: i.dir_port,
        bandwidth_rate: i.bandwidth.clone(),
        bandwidth_burst: i.burst.clone(),
        ipv6_exit: i.ipv6_exit,
        addresses: i.address.clone(),
        exit_addresses: i.exit_address.clone(),
        test_network: i.test_network,
        allow_smtp: i.allow_smtp,
        retention_days: i.retention_days,
        family: i.family.clone(),
        interface: i.interface.clone(),
        admin: i.admin.clone(),
        profile: i.profile.clone(),
        flow_preset: i.flow_preset.map(|p| p.as_str().to_owned()),
        privacy_url: i.privacy_url.clone(),
        institution: i.institution.clone(),
        ethics_approval: i.ethics_approval.clone(),
        prefix: i.prefix.clone(),
        ..KitSettings::new(&i.nickname, &i.contact)
    };
    let files = exitflow_relay::render(&settings)?;
    exitflow_relay::write(&i.out, &files)
        .with_context(|| format!("writing the kit into {}", i.out.display()))?;
    println!("exit-relay kit for {} in {}:", i.nickname, i.out.display());
    for f in &files {
        match &f.install_to {
            Some(to) => println!("  {:<28} → {to}", f.name),
            None => println!("  {}", f.name),
        }
    }
    println!(
        "next: read {0}/CHECKLIST.md, then `sh {0}/install.sh` as root on the relay",
        i.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
