//! The kit's longer texts: the exit notice, unbound's configuration and the
//! operator's checklist.
use crate::{DEFAULT_TOR_METRICS_PORT, KitSettings};

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page tor's DirPort serves: what this address is, in plain words.
pub fn notice(s: &KitSettings) -> String {
    let contact = html_escape(&s.contact);
    let policy = match &s.privacy_url {
        Some(u) => format!(
            "<p>The study's privacy policy, with the list of every field kept, is published at <a href=\"{0}\">{0}</a>.</p>",
            html_escape(u)
        ),
        None => String::from(
            "<p>The study's privacy policy, with the list of every field kept, is available from the operator on request.</p>",
        ),
    };
    let who = match (&s.institution, &s.ethics_approval) {
        (None, None) => String::new(),
        (i, e) => format!(
            "<p>{}{}</p>\n",
            i.as_deref()
                .map(|i| format!("The study is run by {}. ", html_escape(i)))
                .unwrap_or_default(),
            e.as_deref()
                .map(|e| format!("It was approved by {}.", html_escape(e)))
                .unwrap_or_default(),
        ),
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{nick}: a Tor exit relay for research</title>
<style>body{{font-family:sans-serif;max-width:42em;margin:2em auto;padding:0 1em;line-height:1.5}}</style>
</head>
<body>
<h1>This address is a Tor exit relay</h1>

<p>The machine at this address, <strong>{nick}</strong>, forwards traffic for
users of the <a href="https://www.torproject.org/">Tor network</a>, a
free service that people use to keep their browsing private and to reach sites
that are blocked where they live. If a connection from this address reached
your systems, it was made by one of those users, not by the people who run
this machine, who cannot tell who that user was.</p>

<p>Blocking this address blocks every Tor user, not only the one you have in
mind. Tor publishes the list of its exit addresses if you need to treat Tor
connections differently; most problems are better solved on the service
itself.</p>

<h2>A research relay</h2>

<p>This relay is part of a study of what kind of traffic leaves the Tor
network. Its operators count, with the program exitflow, how Tor users' connections
are spread over application protocols, destination ports, destination
countries and networks, and hours of the day, with connection sizes in
coarse size classes and, for unencrypted web requests, the browser family and
the type of content.</p>

<p>What is <strong>never</strong> recorded: the address of any Tor user or of any
destination, the names of the sites visited, the contents of any
connection, and any time finer than the hour. These details are dropped
inside the measuring program, before anything is written to disk, and the
study publishes only totals over many connections.</p>

{policy}

{who}
<h2>For network operators and abuse desks</h2>

<p>Whether an address was a Tor relay at a given time:
<a href="https://metrics.torproject.org/exonerator.html">ExoneraTor</a>.
The current list of Tor exit addresses:
<a href="https://check.torproject.org/torbulkexitlist">the bulk exit list</a>.
How Tor exit operators answer abuse complaints:
<a href="https://community.torproject.org/relay/community-resources/tor-abuse-templates/">the Tor Project's abuse templates</a>.</p>

<h2>Contact</h2>

<p>Questions, complaints and requests: {contact}. We answer abuse reports
and will tell you what this relay can and cannot do about them.</p>
</body>
</html>
"#,
        nick = s.nickname,
    )
}

/// unbound as tor's resolver: on localhost only, minimising what each
/// upstream server sees, and logging nothing about the names asked.
pub fn unbound(s: &KitSettings) -> String {
    format!(
        "# unbound: the recursive resolver of the exit relay {nick}, for tor only,\n\
         # written by `exitflow relay init`. Names are resolved here rather than by a\n\
         # public resolver, which would see (and could log) every name Tor users ask for.\n\
         server:\n\
         \x20   interface: 127.0.0.1\n\
         \x20   access-control: 127.0.0.0/8 allow\n\
         \x20   access-control: 0.0.0.0/0 refuse\n\
         \x20   do-ip6: {v6}\n\
         \x20   # Ask each upstream server only the labels it needs (RFC 9156).\n\
         \x20   qname-minimisation: yes\n\
         \x20   # Nothing about the names asked is written down.\n\
         \x20   verbosity: 0\n\
         \x20   log-queries: no\n\
         \x20   log-replies: no\n\
         \x20   log-servfail: no\n\
         \x20   log-local-actions: no\n\
         \x20   hide-identity: yes\n\
         \x20   hide-version: yes\n\
         \x20   harden-glue: yes\n\
         \x20   harden-dnssec-stripped: yes\n\
         \x20   # A busy exit asks many names: a cache that keeps up.\n\
         \x20   prefetch: yes\n\
         \x20   msg-cache-size: 64m\n\
         \x20   rrset-cache-size: 128m\n\
         \x20   # Many names at once: threads, and ports and queries in flight to match.\n\
         \x20   num-threads: 2\n\
         \x20   outgoing-range: 8192\n\
         \x20   num-queries-per-thread: 4096\n",
        nick = s.nickname,
        v6 = if s.ipv6_exit { "yes" } else { "no" },
    ) + &outgoing(s)
}

/// With an exit address reserved, unbound asks from the relay's main
/// address, whichever address the kernel would pick: its queries are never
/// mistaken for exit traffic.
fn outgoing(s: &KitSettings) -> String {
    if s.exit_addresses.is_empty() {
        return String::new();
    }
    s.addresses
        .iter()
        .filter(|a| a.is_ipv4() || s.ipv6_exit)
        .map(|a| format!("    outgoing-interface: {a}\n"))
        .collect()
}

/// What the operator does besides installing the files.
pub fn checklist(s: &KitSettings) -> String {
    let addresses = if s.addresses.is_empty() {
        "the relay's address".to_owned()
    } else {
        s.addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "# Checklist for the exit relay {nick}\n\n\
         Written by `exitflow relay init`. docs/exit-relay.md walks through each step.\n\n\
         ## Before the relay goes online\n\n\
         - [ ] The hosting company allows Tor exit relays on this server, in writing.\n\
         - [ ] The study has an ethics review (a research ethics board, or the Tor\n      \
               Research Safety Board) that approved what is measured: the `{profile}` profile.\n\
         - [ ] The privacy policy is published{url}, and the exit notice links to it.\n\
         - [ ] Reverse DNS of {addresses} names it a Tor exit (e.g. `tor-exit.example.org`).\n\
         - [ ] The WHOIS entry of the address points abuse reports to {contact}.\n\
         - [ ] The exit policy is the one the study needs: {policy}.\n\
         - [ ] The dataset's retention is what the ethics review approved (`policy.retention_days`\n      \
               in exitflow.toml: {retention} days, `--retention-days`), and the exit notice names the\n      \
               institution and the approval.\n\
         - [ ] SSH is reachable only from the admin hosts (their flows are `management`).\n\n\
         ## Installing\n\n\
         - [ ] `apt install tor unbound nyx` and the exitflow package.\n\
         - [ ] `sh install.sh` (as root), then `systemctl restart unbound tor`.\n\
         - [ ] `tor --verify-config` and `unbound-checkconf` print no error.\n\
         - [ ] `systemctl status exitflow-consensus.path`: the package enabled it; it copies\n      \
               tor's consensus for exitflow whenever tor writes one.\n\
         - [ ] `systemctl enable --now exitflow-capture@{iface}`.\n\
         - [ ] `exitflow status` shows packets and flows; `nyx` shows the relay.\n\
         - [ ] Once a day, the exit notice is at http://ADDRESS:{dir}/ and the relay is in\n      \
               the consensus with the Exit flag.\n\n\
         ## Answering an abuse complaint\n\n\
         - Thank the sender; explain that the address is a Tor exit relay and that\n  \
           the operators cannot identify the user (the notice says the same).\n\
         - exitflow's counts per destination port and hour tell whether the complaint\n  \
           matches what left the relay; its data holds no address to hand over, by design.\n\
         - If complaints for one port keep coming, narrow the exit policy rather than\n  \
           blocking destinations one by one.\n\n\
         ## Watching it\n\n\
         - `exitflow status` (packets/s, flows, drops, last file, lost flows).\n\
         - tor's metrics on 127.0.0.1:{tm}, exitflow's on 127.0.0.1:9477: both on\n  \
           localhost only; reach them through SSH.\n",
        nick = s.nickname,
        profile = s.profile,
        url = s
            .privacy_url
            .as_deref()
            .map(|u| format!(" ({u})"))
            .unwrap_or_default(),
        contact = s.contact,
        policy = s.exit_policy.describe(),
        iface = s.interface,
        dir = s.dir_port,
        tm = DEFAULT_TOR_METRICS_PORT,
        retention = s.retention_days,
    )
}
