//! `exitflow relay init`: the exit-relay kit (see the `exitflow-relay` crate).
use std::process::ExitCode;

use anyhow::{Context, Result};
use exitflow_relay::{ExitPolicyChoice, KitSettings};

use crate::args::{ExitPolicyArg, RelayArgs, RelayCmd};

/// Writes the kit and says what to do next.
pub fn run(a: &RelayArgs) -> Result<ExitCode> {
    let RelayCmd::Init(i) = &a.cmd;
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
        interface: i.interface.clone(),
        admin: i.admin.clone(),
        profile: i.profile.clone(),
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
