//! The exit-relay kit: everything one node of an exit-traffic study needs
//! besides the packages — a torrc (exit policy, bandwidth, nyx's control
//! port, tor's metrics), the exit notice its DirPort serves, a local
//! recursive resolver (unbound), exitflow's configuration for the node, an
//! install script and the operator's checklist. The systemd units are the
//! Debian package's (a copy in /etc/systemd/system would shadow a fixed one).
//!
//! [`render`] builds the files from validated [`KitSettings`]; [`write`]
//! puts them in a directory without overwriting anything.
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use exitflow_enrich::ExitPolicy;
use exitflow_enrich::exitpolicy::{REDUCED_EXIT_PORTS, parse_rules};

mod templates;
pub mod torvalues;

/// The ORPort unless asked otherwise (reachable through most firewalls).
pub const DEFAULT_OR_PORT: u16 = 443;
/// The DirPort, which serves the exit notice to anyone who looks up the address.
pub const DEFAULT_DIR_PORT: u16 = 80;
/// tor's own Prometheus metrics, on localhost.
pub const DEFAULT_TOR_METRICS_PORT: u16 = 9035;
/// tor's control port for nyx, on localhost with cookie authentication.
pub const DEFAULT_CONTROL_PORT: u16 = 9051;
/// tor's `MaxMemInQueues`, MiB: stated, so that tor and exitflow's capture
/// (its unit's `MemoryMax=2G`) fit a small server together.
pub const DEFAULT_MAX_MEM_IN_QUEUES_MIB: u32 = 1024;
/// Days the kit keeps the dataset's date partitions (`policy.retention_days`)
/// unless told otherwise: a study's data is not kept for ever by default.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// The interface exitflow captures on.
pub const DEFAULT_INTERFACE: &str = "eth0";
/// Where exitflow's dataset lives on the relay.
pub const DEFAULT_DATASET: &str = "/var/lib/exitflow/dataset";
/// Longest relay nickname tor accepts.
pub const MAX_NICKNAME_LEN: usize = 19;

/// Why a kit could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// A setting is not usable.
    #[error("{what}: {why}")]
    Invalid {
        /// The setting.
        what: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// A file of the kit exists already (nothing is overwritten).
    #[error("{0}: exists already; choose an empty --out directory")]
    Exists(PathBuf),
    /// Writing a file failed.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn invalid(what: &'static str, why: impl Into<String>) -> RelayError {
    RelayError::Invalid {
        what,
        why: why.into(),
    }
}

/// Which ports the exit lets out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitPolicyChoice {
    /// Every port, as the 2021 study's relays (`accept *:*`): the most
    /// complete picture of exit traffic, and the most abuse complaints.
    Study,
    /// Tor's reduced exit policy: common services, no SMTP, no file sharing.
    Reduced,
    /// The web only: ports 80 and 443.
    Web,
}

impl ExitPolicyChoice {
    /// Parses `study`, `reduced` or `web`.
    pub fn parse(s: &str) -> Result<ExitPolicyChoice, RelayError> {
        match s {
            "study" => Ok(ExitPolicyChoice::Study),
            "reduced" => Ok(ExitPolicyChoice::Reduced),
            "web" => Ok(ExitPolicyChoice::Web),
            _ => Err(invalid(
                "exit policy",
                format!("{s:?}: expected study, reduced or web"),
            )),
        }
    }

    /// The torrc lines that set it; port 25 (SMTP, spam's port) is let out
    /// only when asked (`allow_smtp`), whatever the choice.
    fn torrc(self, allow_smtp: bool) -> String {
        let smtp = if allow_smtp { "accept" } else { "reject" };
        match self {
            ExitPolicyChoice::Study => format!("ExitPolicy {smtp} *:25\nExitPolicy accept *:*\n"),
            ExitPolicyChoice::Reduced if allow_smtp => {
                "ExitPolicy accept *:25\nReducedExitPolicy 1\n".into()
            }
            ExitPolicyChoice::Reduced => "ReducedExitPolicy 1\n".into(),
            ExitPolicyChoice::Web => format!(
                "ExitPolicy {smtp} *:25, accept *:80, accept *:443\nExitPolicy reject *:*\n"
            ),
        }
    }

    /// What it lets out, as tor summarises it.
    pub fn policy(self, allow_smtp: bool) -> ExitPolicy {
        let smtp = if allow_smtp { "accept" } else { "reject" };
        let mut rules = parse_rules(&format!("{smtp} *:25")).expect("the SMTP rule parses");
        match self {
            ExitPolicyChoice::Study => {
                rules.extend(parse_rules("accept *:*").expect("accept-all parses"))
            }
            ExitPolicyChoice::Reduced => rules.extend(exitflow_enrich::exitpolicy::reduced_rules()),
            ExitPolicyChoice::Web => rules.extend(
                parse_rules("accept *:80, accept *:443, reject *:*").expect("web policy parses"),
            ),
        }
        ExitPolicy::from_rules(&rules)
    }

    fn describe(self) -> String {
        match self {
            ExitPolicyChoice::Study => {
                "every port (the 2021 study's policy) but SMTP unless --allow-smtp".into()
            }
            ExitPolicyChoice::Reduced => {
                format!("Tor's reduced exit policy (ports {REDUCED_EXIT_PORTS})")
            }
            ExitPolicyChoice::Web => "the web only (ports 80 and 443)".into(),
        }
    }
}

/// What the operator chooses for one node.
#[derive(Clone, Debug)]
pub struct KitSettings {
    /// tor nickname, also exitflow's node name.
    pub nickname: String,
    /// How to reach the operator (tor's ContactInfo, the exit notice).
    pub contact: String,
    /// The exit policy.
    pub exit_policy: ExitPolicyChoice,
    /// ORPort.
    pub or_port: u16,
    /// DirPort (serves the exit notice).
    pub dir_port: u16,
    /// `RelayBandwidthRate`, as tor writes it (`10 MBytes`), if limited.
    pub bandwidth_rate: Option<String>,
    /// `RelayBandwidthBurst`, if limited.
    pub bandwidth_burst: Option<String>,
    /// Exit to IPv6 destinations too.
    pub ipv6_exit: bool,
    /// The relay's public addresses (tor's `Address`, exitflow's own
    /// addresses): one IPv4, one IPv6 at most.
    pub addresses: Vec<IpAddr>,
    /// Addresses reserved for exit traffic (tor's `OutboundBindAddressExit`,
    /// exitflow's `exit_addresses`): only TCP from them is exit traffic, by
    /// construction. One IPv4, one IPv6 at most; not among `addresses`.
    pub exit_addresses: Vec<IpAddr>,
    /// A private test network (tor's `TestingTorNetwork`): private
    /// addresses are allowed.
    pub test_network: bool,
    /// Days the dataset's partitions are kept (`policy.retention_days`).
    pub retention_days: u32,
    /// Let port 25 (SMTP) out: off by default, as spam is most of an exit's
    /// abuse complaints.
    pub allow_smtp: bool,
    /// The study's other relays (fingerprints): declared as one family
    /// (`MyFamily`), so that no circuit uses two of them.
    pub family: Vec<String>,
    /// The interface exitflow captures on.
    pub interface: String,
    /// Hosts the operator administers the relay from (their flows are `management`).
    pub admin: Vec<IpAddr>,
    /// exitflow's privacy profile: `default` or `strict`.
    pub profile: String,
    /// exitflow's named flow timeouts (`[flow] preset`), when not NFStream's
    /// defaults: `study-2021` meters as the 2021 study did.
    pub flow_preset: Option<String>,
    /// Where the study's privacy policy is published, linked from the notice.
    pub privacy_url: Option<String>,
    /// Who runs the study (named on the exit notice).
    pub institution: Option<String>,
    /// The ethics approval the study has (board and reference), named on
    /// the exit notice.
    pub ethics_approval: Option<String>,
    /// Where the files are installed: `/` on a relay; a directory for a test.
    pub prefix: PathBuf,
}

impl KitSettings {
    /// Settings with the defaults for everything but the name and contact.
    pub fn new(nickname: &str, contact: &str) -> KitSettings {
        KitSettings {
            nickname: nickname.to_owned(),
            contact: contact.to_owned(),
            exit_policy: ExitPolicyChoice::Reduced,
            or_port: DEFAULT_OR_PORT,
            dir_port: DEFAULT_DIR_PORT,
            bandwidth_rate: None,
            bandwidth_burst: None,
            ipv6_exit: false,
            addresses: Vec::new(),
            exit_addresses: Vec::new(),
            test_network: false,
            allow_smtp: false,
            family: Vec::new(),
            retention_days: DEFAULT_RETENTION_DAYS,
            interface: DEFAULT_INTERFACE.into(),
            admin: Vec::new(),
            profile: "default".into(),
            flow_preset: None,
            privacy_url: None,
            institution: None,
            ethics_approval: None,
            prefix: PathBuf::from("/"),
        }
    }

    fn validate(&self) -> Result<(), RelayError> {
        let n = &self.nickname;
        if n.is_empty()
            || n.len() > MAX_NICKNAME_LEN
            || !n.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(invalid(
                "nickname",
                format!("{n:?}: 1 to {MAX_NICKNAME_LEN} letters and digits (tor's rule)"),
            ));
        }
        let c = &self.contact;
        if c.trim().is_empty() || c.chars().any(char::is_control) {
            return Err(invalid(
                "contact",
                format!("{c:?}: one line, not empty (tor's ContactInfo)"),
            ));
        }
        if self.or_port == 0 || self.dir_port == 0 || self.or_port == self.dir_port {
            return Err(invalid(
                "ports",
                format!(
                    "ORPort {} and DirPort {}: two different ports, not 0",
                    self.or_port, self.dir_port
                ),
            ));
        }
        torvalues::check_bandwidth(
            self.bandwidth_rate.as_deref(),
            self.bandwidth_burst.as_deref(),
        )
        .map_err(|(what, why)| invalid(what, why))?;
        self.check_addresses()?;
        if self.retention_days == 0 {
            return Err(invalid(
                "retention",
                "at least one day (the dataset's partitions are days)",
            ));
        }
        if let Some(f) = self.family.iter().find(|f| {
            let h = f.strip_prefix('$').unwrap_or(f);
            h.len() != 40 || !h.bytes().all(|b| b.is_ascii_hexdigit())
        }) {
            return Err(invalid(
                "family",
                format!("{f:?}: a relay fingerprint, 40 hex digits (optionally after $)"),
            ));
        }
        // Linux's rule for interface names; it is written quoted into
        // exitflow.toml.
        let i = &self.interface;
        if i.is_empty()
            || i.len() > 15
            || i == "."
            || i == ".."
            || i.chars()
                .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
        {
            return Err(invalid(
                "interface",
                format!("{i:?}: not an interface name (1 to 15 bytes, no '/', ':' or spaces)"),
            ));
        }
        if !matches!(self.profile.as_str(), "default" | "strict") {
            return Err(invalid(
                "profile",
                format!(
                    "{:?}: default or strict (the research profile is chosen by hand, after an ethics review; see docs/privacy.md)",
                    self.profile
                ),
            ));
        }
        for (what, v) in [
            ("institution", &self.institution),
            ("ethics approval", &self.ethics_approval),
        ] {
            if let Some(v) = v
                && (v.trim().is_empty() || v.chars().any(char::is_control))
            {
                return Err(invalid(what, format!("{v:?}: one line, not empty")));
            }
        }
        if let Some(u) = &self.privacy_url
            && (!(u.starts_with("https://") || u.starts_with("http://"))
                || u.chars().any(|c| c.is_whitespace() || "\"<>'".contains(c)))
        {
            return Err(invalid("privacy URL", format!("{u:?}: an http(s) URL")));
        }
        if !self.prefix.is_absolute() {
            return Err(invalid(
                "prefix",
                format!("{}: an absolute path", self.prefix.display()),
            ));
        }
        Ok(())
    }

    /// The relay's addresses and its exit addresses: at least one address,
    /// at most one of each family in each list, public (but in a test
    /// network), and an exit address is not the relay's main one.
    fn check_addresses(&self) -> Result<(), RelayError> {
        if self.addresses.is_empty() {
            return Err(invalid(
                "address",
                "the relay's public address is needed (--address, IPv4 and/or IPv6): without it \
                 exitflow cannot tell exit traffic from the rest",
            ));
        }
        for (what, list) in [
            ("address", &self.addresses),
            ("exit address", &self.exit_addresses),
        ] {
            for v6 in [false, true] {
                let n = list.iter().filter(|a| a.is_ipv6() == v6).count();
                if n > 1 {
                    return Err(invalid(
                        what,
                        format!(
                            "{n} IPv{} addresses: tor takes one of each family",
                            if v6 { 6 } else { 4 }
                        ),
                    ));
                }
            }
            if !self.test_network
                && let Some((a, why)) = list
                    .iter()
                    .find_map(|a| torvalues::not_public(*a).map(|why| (a, why)))
            {
                return Err(invalid(
                    what,
                    format!("{a} is {why}: the Tor network cannot reach a relay there"),
                ));
            }
        }
        if let Some(a) = self
            .exit_addresses
            .iter()
            .find(|a| self.addresses.contains(a))
        {
            return Err(invalid(
                "exit address",
                format!(
                    "{a} is also the relay's address: an exit address is reserved for exit traffic"
                ),
            ));
        }
        Ok(())
    }

    /// `prefix` joined with an absolute path of the installed system.
    fn at(&self, path: &str) -> String {
        self.prefix
            .join(path.trim_start_matches('/'))
            .display()
            .to_string()
    }
}

/// One file of the kit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KitFile {
    /// Its name in the kit directory.
    pub name: &'static str,
    /// Where `install.sh` puts it; `None`: stays in the kit (checklist, script).
    pub install_to: Option<String>,
    /// Unix permission bits.
    pub mode: u32,
    /// The text.
    pub contents: String,
}

/// Where the relay's files go, relative to the prefix.
pub mod paths {
    /// tor's configuration.
    pub const TORRC: &str = "/etc/tor/torrc";
    /// The exit notice.
    pub const NOTICE: &str = "/etc/tor/tor-exit-notice.html";
    /// The resolver tor uses.
    pub const RESOLV: &str = "/etc/tor/exitflow-resolv.conf";
    /// unbound's drop-in.
    pub const UNBOUND: &str = "/etc/unbound/unbound.conf.d/exitflow-resolver.conf";
    /// exitflow's configuration.
    pub const EXITFLOW: &str = "/etc/exitflow/exitflow.toml";
    /// tor's data directory.
    pub const TOR_DATA: &str = "/var/lib/tor";
    /// exitflow's copy of the consensus (full flavour: it has exit policies).
    pub const CONSENSUS_COPY: &str = "/var/lib/exitflow-consensus/cached-consensus";
}

/// The kit's files for `s`.
pub fn render(s: &KitSettings) -> Result<Vec<KitFile>, RelayError> {
    s.validate()?;
    let contents = |name: &str| -> String {
        match name {
            "torrc" => torrc(s),
            "tor-exit-notice.html" => templates::notice(s),
            "exitflow-resolv.conf" => {
                "# tor resolves its users' names through the local unbound.\nnameserver 127.0.0.1\n"
                    .into()
            }
            "unbound-exitflow.conf" => templates::unbound(s),
            "exitflow.toml" => exitflow_toml(s),
            _ => unreachable!("every installed file has its text"),
        }
    };
    let mut files: Vec<KitFile> = installed(s)
        .into_iter()
        .map(|(name, to, mode)| KitFile {
            name,
            contents: contents(name),
            install_to: Some(to),
            mode,
        })
        .collect();
    files.push(KitFile {
        name: "CHECKLIST.md",
        install_to: None,
        mode: 0o644,
        contents: templates::checklist(s),
    });
    files.push(KitFile {
        name: "install.sh",
        install_to: None,
        mode: 0o755,
        contents: install_script(s),
    });
    Ok(files)
}

fn torrc(s: &KitSettings) -> String {
    let mut t = format!(
        "## tor configuration of the research exit relay {nick}, written by\n\
         ## `exitflow relay init` (exitflow {ver}). docs/exit-relay.md explains each setting.\n\n\
         Nickname {nick}\nContactInfo {contact}\n\n\
         ## Other relays connect to the ORPort; the DirPort serves the exit notice to\n\
         ## anyone who opens this address in a browser.\n\
         ORPort {or}\nDirPort {dir}\nDirPortFrontPage {notice}\n\n\
         ## This tor is a relay only: no SOCKS port for local programs.\nSocksPort 0\n\n\
         ## Exit policy: {desc}.\n\
         ## Private and local addresses are never exits (tor's default, stated).\n\
         ExitRelay 1\nExitPolicyRejectPrivate 1\nIPv6Exit {v6}\n{policy}\n\
         ## Users' names are resolved by the local unbound, not a third party.\n\
         ServerDNSResolvConfFile {resolv}\n\n\
         ## nyx reads tor's state through the control port (localhost, cookie).\n\
         ControlPort 127.0.0.1:{control}\nCookieAuthentication 1\n\n\
         ## tor's own metrics (Prometheus), for this machine only.\n\
         MetricsPort 127.0.0.1:{metrics}\nMetricsPortPolicy accept 127.0.0.1\n\n\
         ## An exit runs no other program (no pluggable transports), and its\n\
         ## queues have a stated ceiling beside exitflow's (MemoryMax=2G).\n\
         ## tor's system-call sandbox (Linux seccomp), as the Tor Project advises for relays.\n\
         NoExec 1\nSandbox 1\nMaxMemInQueues {mem} MBytes\n\n\
         DataDirectory {data}\n",
        nick = s.nickname,
        ver = env!("CARGO_PKG_VERSION"),
        contact = torvalues::quoted(&s.contact),
        or = s.or_port,
        dir = s.dir_port,
        notice = s.at(paths::NOTICE),
        desc = s.exit_policy.describe(),
        v6 = u8::from(s.ipv6_exit),
        policy = s.exit_policy.torrc(s.allow_smtp),
        resolv = s.at(paths::RESOLV),
        control = DEFAULT_CONTROL_PORT,
        metrics = DEFAULT_TOR_METRICS_PORT,
        data = s.at(paths::TOR_DATA),
        mem = DEFAULT_MAX_MEM_IN_QUEUES_MIB,
    );
    if s.bandwidth_rate.is_some() || s.bandwidth_burst.is_some() {
        t.push_str("\n## Relayed traffic limited to what the hosting plan allows.\n");
        if let Some(rate) = &s.bandwidth_rate {
            let _ = writeln!(t, "RelayBandwidthRate {rate}");
        }
        if let Some(burst) = s.bandwidth_burst.as_ref().or(s.bandwidth_rate.as_ref()) {
            let _ = writeln!(t, "RelayBandwidthBurst {burst}");
        }
    }
    if !s.family.is_empty() {
        let fps: Vec<String> = s
            .family
            .iter()
            .map(|f| format!("${}", f.trim_start_matches('$').to_ascii_uppercase()))
            .collect();
        let _ = write!(
            t,
            "\n## The study's other relays: one family, so that no circuit uses two of them.\nMyFamily {}\n",
            fps.join(",")
        );
    }
    t.push_str("\n## The relay's public addresses.\n");
    for a in &s.addresses {
        let _ = writeln!(t, "Address {a}");
    }
    if !s.exit_addresses.is_empty() {
        t.push_str(
            "\n## Exit connections leave from addresses of their own, and nothing else\n\
             ## does: exitflow tells exit traffic from the machine's own by address.\n",
        );
        for a in &s.exit_addresses {
            let _ = writeln!(t, "OutboundBindAddressExit {a}");
        }
        // Everything else of tor's leaves from the main address, whichever
        // address the kernel would pick.
        for a in &s.addresses {
            let _ = writeln!(t, "OutboundBindAddress {a}");
        }
    }
    t
}

fn quoted_list<T: std::fmt::Display>(v: &[T]) -> String {
    let items: Vec<String> = v.iter().map(|x| toml_string(&x.to_string())).collect();
    format!("[{}]", items.join(", "))
}

/// A TOML basic string.
fn toml_string(v: &str) -> String {
    let mut out = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn exitflow_toml(s: &KitSettings) -> String {
    format!(
        "# exitflow on the exit relay {nick}, written by `exitflow relay init`.\n\
         # `exitflow config` prints every setting with its default.\n\n\
         [node]\nname = \"{nick}\"\n\n\
         [paths]\ndataset = \"{dataset}\"\n\
         # tor's own file: ports, addresses and the exit policy are read from it.\n\
         torrc = \"{torrc}\"\n\
         # exitflow-consensus.service's copy (exitflow is not in tor's group).\n\
         consensus = \"{consensus}\"\n\
         # geoip = [\"/var/lib/GeoIP/GeoLite2-Country.mmdb\", \"/var/lib/GeoIP/GeoLite2-ASN.mmdb\"]\n\n\
         [capture]\ninterfaces = {iface}\nmetrics = \"127.0.0.1:9477\"\n\n\
         {flow}[policy]\n# Nothing finer than an hour on disk; see docs/privacy.md.\nprofile = \"{profile}\"\n\
         # Date partitions older than this are deleted: as long as the ethics review approved.\n\
         retention_days = {retention}\n\n\
         [relay]\nown_addresses = {own}\n\
         # tor's OutboundBindAddressExit: only TCP from these is exit traffic.\n\
         exit_addresses = {exit}\nor_port = {or}\ndir_port = {dir}\n\
         # tor's MetricsPort: `exitflow status` shows its stream counts beside exitflow's.\n\
         tor_metrics = \"127.0.0.1:{tm}\"\n\
         # Hosts the relay is administered from: their flows are `management`.\nadmin = {admin}\n",
        nick = s.nickname,
        dataset = DEFAULT_DATASET,
        torrc = s.at(paths::TORRC),
        consensus = s.at(paths::CONSENSUS_COPY),
        iface = quoted_list(std::slice::from_ref(&s.interface)),
        profile = s.profile,
        flow = s.flow_preset.as_ref().map_or(String::new(), |p| format!(
            "[flow]\n# The flow timeouts' preset (study-2021: the 2021 study's, active 3600 s).\npreset = \"{p}\"\n\n"
        )),
        own = quoted_list(&[s.addresses.as_slice(), s.exit_addresses.as_slice()].concat()),
        exit = quoted_list(&s.exit_addresses),
        tm = DEFAULT_TOR_METRICS_PORT,
        retention = s.retention_days,
        or = s.or_port,
        dir = s.dir_port,
        admin = quoted_list(&s.admin),
    )
}

fn install_script(s: &KitSettings) -> String {
    let mut t = String::from(
        "#!/bin/sh\n# Installs this kit on the relay (as root). A file it replaces is kept as\n\
         # FILE.orig the first time. Then follow CHECKLIST.md.\nset -eu\ncd \"$(dirname \"$0\")\"\n\
         put() {\n  if [ -e \"$2\" ] && [ ! -e \"$2.orig\" ]; then cp -p \"$2\" \"$2.orig\"; fi\n  \
         install -D -m \"$3\" \"$1\" \"$2\"\n}\n",
    );
    for f in installed(s) {
        let _ = writeln!(t, "put {} '{}' {:o}", f.0, f.1, f.2);
    }
    t.push_str(
        "echo 'installed; next: CHECKLIST.md (restart tor and unbound, enable exitflow-consensus.path and exitflow-capture@IFACE)'\n",
    );
    t
}

/// (kit name, installed path, mode) of the files `install.sh` installs.
fn installed(s: &KitSettings) -> Vec<(&'static str, String, u32)> {
    vec![
        ("torrc", s.at(paths::TORRC), 0o644),
        ("tor-exit-notice.html", s.at(paths::NOTICE), 0o644),
        ("exitflow-resolv.conf", s.at(paths::RESOLV), 0o644),
        ("unbound-exitflow.conf", s.at(paths::UNBOUND), 0o644),
        ("exitflow.toml", s.at(paths::EXITFLOW), 0o644),
    ]
}

/// Writes the kit into `out` (created if needed); refuses to replace any
/// existing file, and writes nothing then.
pub fn write(out: &Path, files: &[KitFile]) -> Result<(), RelayError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| RelayError::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    if let Some(f) = files.iter().find(|f| out.join(f.name).exists()) {
        return Err(RelayError::Exists(out.join(f.name)));
    }
    for f in files {
        let path = out.join(f.name);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, f.mode);
        let mut file = opts.open(&path).map_err(io(&path))?;
        file.write_all(f.contents.as_bytes()).map_err(io(&path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
