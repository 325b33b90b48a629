//! A relay's exit policy as the ports it lets out to the whole Internet:
//! tor's "policy summary" (dir-spec: the consensus `p` line), computed from
//! torrc rules or read from the consensus. Rules for single addresses or
//! networks (`reject private:*`) do not make a port rejected in the summary.
use std::fmt;

/// Highest TCP port.
const MAX_PORT: u16 = u16::MAX;

/// Tor's default exit policy (tor(1), `ExitPolicy`), used after the
/// operator's rules unless they end with a rule for every address and port.
pub const DEFAULT_EXIT_POLICY: &str = "reject *:25, reject *:119, reject *:135-139, \
    reject *:445, reject *:563, reject *:1214, reject *:4661-4666, reject *:6346-6429, \
    reject *:6699, reject *:6881-6999, accept *:*";

/// The ports of Tor's reduced exit policy (tor(1), `ReducedExitPolicy`).
pub const REDUCED_EXIT_PORTS: &str = "20-23,43,53,79-81,88,110,143,194,220,389,443,464-465,\
    531,543-544,554,563,587,636,706,749,873,902-904,981,989-995,1194,1220,1293,1500,1533,1677,\
    1723,1755,1863,2082-2083,2086-2087,2095-2096,2102-2104,3128,3389,3690,4321,4643,5050,5190,\
    5222-5223,5228,5900,6660-6669,6679,6697,8000,8008,8074,8080,8082,8087-8088,8232-8233,\
    8332-8333,8443,8888,9418,9999-10000,11371,18080-18081,18089,19294,19638,50002,64738";

/// Ports an exit lets out, as sorted, disjoint, non-adjacent ranges.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ExitPolicy {
    accepted: Vec<(u16, u16)>,
}

/// One `accept`/`reject` rule of a torrc `ExitPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// `accept` (or `accept6`) rather than `reject`.
    pub accept: bool,
    /// Whether the rule is for every address (`*`, `*4`, `*6`).
    pub every_address: bool,
    /// First and last port.
    pub ports: (u16, u16),
    /// For IPv6 destinations only (`accept6`/`reject6`, `*6`): not part of
    /// the IPv4 summary (tor's `exit-policy/full` starts with `reject6 *:*`
    /// when IPv6 exits are off).
    pub ipv6_only: bool,
}

fn port_range(s: &str) -> Result<(u16, u16), String> {
    if s == "*" {
        return Ok((1, MAX_PORT));
    }
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let p = |v: &str| {
        v.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("bad port {v:?}"))
    };
    let (a, b) = (p(a)?, p(b)?);
    if a > b {
        return Err(format!("port range {s:?} ends before it starts"));
    }
    Ok((a, b))
}

impl Rule {
    /// Parses `accept|reject[6] ADDRESS[/MASK]:PORTS`.
    pub fn parse(s: &str) -> Result<Rule, String> {
        let s = s.trim();
        let (verb, target) = s
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("exit policy rule {s:?}: expected accept|reject ADDR:PORTS"))?;
        let accept = match verb.to_ascii_lowercase().as_str() {
            "accept" | "accept6" => true,
            "reject" | "reject6" => false,
            v => return Err(format!("exit policy rule {s:?}: unknown action {v:?}")),
        };
        let target = target.trim();
        let (addr, ports) = target
            .rsplit_once(':')
            .filter(|(a, _)| !a.is_empty())
            .ok_or_else(|| format!("exit policy rule {s:?}: expected ADDR:PORTS"))?;
        let ports = port_range(ports).map_err(|e| format!("exit policy rule {s:?}: {e}"))?;
        Ok(Rule {
            accept,
            every_address: matches!(addr, "*" | "*4" | "*6"),
            ports,
            ipv6_only: verb.ends_with('6') || addr == "*6",
        })
    }
}

/// Parses a comma-separated list of rules (one torrc `ExitPolicy` value).
pub fn parse_rules(s: &str) -> Result<Vec<Rule>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(Rule::parse)
        .collect()
}

/// Tor's reduced exit policy as rules: its ports accepted, the rest rejected.
pub fn reduced_rules() -> Vec<Rule> {
    let mut rules: Vec<Rule> = ranges(REDUCED_EXIT_PORTS)
        .expect("the reduced policy's ports parse")
        .into_iter()
        .map(|ports| Rule {
            ipv6_only: false,
            accept: true,
            every_address: true,
            ports,
        })
        .collect();
    rules.push(Rule {
        ipv6_only: false,
        accept: false,
        every_address: true,
        ports: (1, MAX_PORT),
    });
    rules
}

fn merge(mut r: Vec<(u16, u16)>) -> Vec<(u16, u16)> {
    r.sort_unstable();
    let mut out: Vec<(u16, u16)> = Vec::with_capacity(r.len());
    for (a, b) in r {
        match out.last_mut() {
            Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn ranges(s: &str) -> Result<Vec<(u16, u16)>, String> {
    s.split(',')
        .map(|p| port_range(p.trim()))
        .collect::<Result<_, _>>()
        .map(merge)
}

impl ExitPolicy {
    /// An exit that lets nothing out (a non-exit relay).
    pub fn reject_all() -> ExitPolicy {
        ExitPolicy::default()
    }

    /// What the rules let out: for each port, the first rule for every
    /// address that covers it decides; a port no such rule covers is
    /// accepted (as at the end of tor's default policy).
    pub fn from_rules(rules: &[Rule]) -> ExitPolicy {
        // Decided ranges, walked per rule: each rule decides the ports of
        // its range not yet decided by an earlier rule.
        let mut decided: Vec<(u16, u16)> = Vec::new();
        let mut accepted = Vec::new();
        for r in rules.iter().filter(|r| r.every_address && !r.ipv6_only) {
            let mut free = vec![r.ports];
            for &(a, b) in &decided {
                free = free
                    .into_iter()
                    .flat_map(|(x, y)| {
                        let mut parts = Vec::with_capacity(2);
                        if b < x || a > y {
                            parts.push((x, y));
                        } else {
                            if a > x {
                                parts.push((x, a - 1));
                            }
                            if b < y {
                                parts.push((b + 1, y));
                            }
                        }
                        parts
                    })
                    .collect();
            }
            if r.accept {
                accepted.extend(free.iter().copied());
            }
            decided.push(r.ports);
            decided = merge(decided);
        }
        // Ports no rule decided.
        accepted.extend(complement(&decided));
        ExitPolicy {
            accepted: merge(accepted),
        }
    }

    /// Parses a policy summary: `accept PORTS` or `reject PORTS`, as the
    /// consensus `p` line and [`fmt::Display`] write it.
    pub fn parse_summary(s: &str) -> Result<ExitPolicy, String> {
        let (verb, list) = s
            .trim()
            .split_once(' ')
            .ok_or_else(|| format!("exit policy summary {s:?}: expected accept|reject PORTS"))?;
        let list = ranges(list).map_err(|e| format!("exit policy summary {s:?}: {e}"))?;
        match verb {
            "accept" => Ok(ExitPolicy { accepted: list }),
            "reject" => Ok(ExitPolicy {
                accepted: complement(&list),
            }),
            _ => Err(format!(
                "exit policy summary {s:?}: unknown action {verb:?}"
            )),
        }
    }

    /// Tor's reduced exit policy.
    pub fn reduced() -> ExitPolicy {
        ExitPolicy::from_rules(&reduced_rules())
    }

    /// Whether connections to `port` may leave through this exit.
    pub fn accepts(&self, port: u16) -> bool {
        self.accepted.iter().any(|&(a, b)| (a..=b).contains(&port))
    }

    /// Whether the policy lets nothing out.
    pub fn is_reject_all(&self) -> bool {
        self.accepted.is_empty()
    }
}

fn complement(r: &[(u16, u16)]) -> Vec<(u16, u16)> {
    let mut out = Vec::new();
    let mut next = 1u32;
    for &(a, b) in r {
        if u32::from(a) > next {
            out.push((next as u16, a - 1));
        }
        next = u32::from(b) + 1;
    }
    if next <= u32::from(MAX_PORT) {
        out.push((next as u16, MAX_PORT));
    }
    out
}

fn write_ranges(f: &mut fmt::Formatter<'_>, r: &[(u16, u16)]) -> fmt::Result {
    for (i, (a, b)) in r.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        if a == b {
            write!(f, "{sep}{a}")?;
        } else {
            write!(f, "{sep}{a}-{b}")?;
        }
    }
    Ok(())
}

impl fmt::Display for ExitPolicy {
    /// The shorter of the accept and reject forms, as tor writes summaries.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rejected = complement(&self.accepted);
        if self.accepted.is_empty() {
            f.write_str("reject 1-65535")
        } else if rejected.is_empty() {
            f.write_str("accept 1-65535")
        } else if rejected.len() < self.accepted.len() {
            f.write_str("reject ")?;
            write_ranges(f, &rejected)
        } else {
            f.write_str("accept ")?;
            write_ranges(f, &self.accepted)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(rules: &str) -> ExitPolicy {
        ExitPolicy::from_rules(&parse_rules(rules).unwrap())
    }

    #[test]
    fn tor_policies_summarise_as_tor_writes_them() {
        assert_eq!(p("accept *:*").to_string(), "accept 1-65535");
        assert_eq!(p("reject *:*").to_string(), "reject 1-65535");
        assert_eq!(
            p(DEFAULT_EXIT_POLICY).to_string(),
            "reject 25,119,135-139,445,563,1214,4661-4666,6346-6429,6699,6881-6999"
        );
        assert_eq!(
            p("accept *:80, accept *:443, reject *:*").to_string(),
            "accept 80,443"
        );
        // Rules for some addresses only do not reject a port for everyone.
        assert_eq!(
            p("reject private:*, reject 192.0.2.0/24:80, accept *:80, reject *:*").to_string(),
            "accept 80"
        );
        // The first rule for a port wins; a later accept does not undo a reject.
        assert_eq!(
            p("reject *:22, accept *:20-25, reject *:*").to_string(),
            "accept 20-21,23-25"
        );
        let r = ExitPolicy::reduced();
        assert!(r.accepts(443) && r.accepts(5222) && !r.accepts(25) && !r.accepts(6881));
        assert_eq!(ExitPolicy::parse_summary(&r.to_string()).unwrap(), r);
    }

    #[test]
    fn summaries_round_trip_and_errors_say_what_is_wrong() {
        for s in [
            "accept 80,443",
            "reject 25,119,135-139",
            "reject 1-65535",
            "accept 1-65535",
        ] {
            assert_eq!(ExitPolicy::parse_summary(s).unwrap().to_string(), s);
        }
        assert!(
            ExitPolicy::parse_summary("reject 1-65535")
                .unwrap()
                .is_reject_all()
        );
        assert!(Rule::parse("accept *:~").unwrap_err().contains("bad port"));
        assert!(
            Rule::parse("allow *:80")
                .unwrap_err()
                .contains("unknown action")
        );
        assert!(
            Rule::parse("accept *:90-80")
                .unwrap_err()
                .contains("ends before")
        );
        assert!(ExitPolicy::parse_summary("accept").is_err());
    }
}
