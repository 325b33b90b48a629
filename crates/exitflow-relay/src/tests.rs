use super::*;
use exitflow_enrich::torrc;

fn kit(s: &KitSettings) -> Vec<KitFile> {
    render(s).unwrap()
}

/// Settings with a public address (the one thing `new` cannot default).
fn settings(nick: &str, contact: &str) -> KitSettings {
    KitSettings {
        addresses: vec!["192.0.2.10".parse().unwrap()],
        ..KitSettings::new(nick, contact)
    }
}

fn text<'a>(files: &'a [KitFile], name: &str) -> &'a str {
    &files.iter().find(|f| f.name == name).unwrap().contents
}

#[test]
fn the_torrc_says_what_exitflow_reads_back() {
    for (choice, summary) in [
        (ExitPolicyChoice::Study, "reject 25"),
        (ExitPolicyChoice::Web, "accept 80,443"),
        (
            ExitPolicyChoice::Reduced,
            ExitPolicy::reduced().to_string().as_str(),
        ),
    ] {
        let mut s = settings("exitflowA", "research@example.org");
        s.exit_policy = choice;
        s.addresses = vec!["192.0.2.10".parse().unwrap()];
        s.bandwidth_rate = Some("10 MBytes".into());
        let files = kit(&s);
        // exitflow's own torrc reader finds the policy, ports and address.
        let t = torrc::parse(text(&files, "torrc")).unwrap();
        assert_eq!(t.exit_policy().to_string(), summary, "{choice:?}");
        assert_eq!(choice.policy(false).to_string(), summary);
        assert_eq!((t.or_port, t.dir_port), (Some(443), Some(80)));
        assert_eq!(t.addresses, s.addresses);
        assert!(text(&files, "torrc").contains("RelayBandwidthBurst 10 MBytes"));
    }
}

#[test]
fn every_file_is_there_and_the_script_installs_each_under_the_prefix() {
    let mut s = settings("n1", "ops@example.org");
    s.prefix = "/tmp/kit-root".into();
    s.admin = vec!["198.51.100.7".parse().unwrap()];
    let files = kit(&s);
    let script = text(&files, "install.sh");
    for f in &files {
        match &f.install_to {
            Some(to) => {
                assert!(to.starts_with("/tmp/kit-root/"), "{to}");
                assert!(
                    script.contains(&format!("put {} '{to}'", f.name)),
                    "{script}"
                );
            }
            None => assert!(["CHECKLIST.md", "install.sh"].contains(&f.name)),
        }
    }
    let torrc = text(&files, "torrc");
    assert!(torrc.contains("DirPortFrontPage /tmp/kit-root/etc/tor/tor-exit-notice.html"));
    assert!(torrc.contains("ControlPort 127.0.0.1:9051\nCookieAuthentication 1"));
    assert!(torrc.contains("MetricsPort 127.0.0.1:9035"));
    let toml = text(&files, "exitflow.toml");
    assert!(toml.contains("admin = [\"198.51.100.7\"]"), "{toml}");
    assert!(toml.contains("retention_days = 30\n"), "{toml}");
    assert!(toml.contains("profile = \"default\""));
    let unbound = text(&files, "unbound-exitflow.conf");
    for line in [
        "qname-minimisation: yes",
        "log-queries: no",
        "log-replies: no",
    ] {
        assert!(unbound.contains(line), "{line}");
    }
}

#[test]
fn the_notice_names_the_operator_and_what_is_never_recorded_and_escapes_html() {
    let mut s = settings("n1", "<script>x</script> ops@example.org");
    s.privacy_url = Some("https://example.org/privacy".into());
    let n = kit(&s);
    let page = text(&n, "tor-exit-notice.html");
    assert!(page.contains("&lt;script&gt;x&lt;/script&gt; ops@example.org"));
    assert!(!page.contains("<script>"));
    assert!(page.contains("href=\"https://example.org/privacy\""));
    assert!(page.contains("<strong>never</strong> recorded"));
    // Where an abuse desk checks an address, and who answers for the study.
    for link in [
        "https://metrics.torproject.org/exonerator.html",
        "https://check.torproject.org/torbulkexitlist",
    ] {
        assert!(page.contains(link), "{link}");
    }
    assert!(!page.contains("The study is run by"));
    s.institution = Some("Example University <CS>".into());
    s.ethics_approval = Some("the Tor Research Safety Board (#42)".into());
    let page = text(&kit(&s), "tor-exit-notice.html").to_owned();
    assert!(page.contains("The study is run by Example University &lt;CS&gt;. It was approved by the Tor Research Safety Board (#42)."), "{page}");
    s.institution = Some("two\nlines".into());
    assert!(
        render(&s)
            .unwrap_err()
            .to_string()
            .starts_with("institution: ")
    );
}

#[test]
fn bad_settings_are_refused_with_the_setting_named() {
    let base = settings("n1", "ops@example.org");
    let cases: Vec<(KitSettings, &str)> = vec![
        (settings("", "x"), "nickname"),
        (settings("has space", "x"), "nickname"),
        (settings("abcdefghijklmnopqrst", "x"), "nickname"),
        (settings("n1", "line\nbreak"), "contact"),
        (
            KitSettings {
                dir_port: 443,
                ..base.clone()
            },
            "ports",
        ),
        (
            KitSettings {
                bandwidth_rate: Some("fast".into()),
                ..base.clone()
            },
            "bandwidth",
        ),
        (
            KitSettings {
                bandwidth_rate: Some("2 MBytes".into()),
                bandwidth_burst: Some("1 MBytes".into()),
                ..base.clone()
            },
            "bandwidth burst",
        ),
        (
            KitSettings {
                addresses: Vec::new(),
                ..base.clone()
            },
            "address",
        ),
        (
            KitSettings {
                addresses: vec![
                    "192.0.2.10".parse().unwrap(),
                    "198.51.100.3".parse().unwrap(),
                ],
                ..base.clone()
            },
            "address",
        ),
        (
            KitSettings {
                addresses: vec!["10.0.0.1".parse().unwrap()],
                ..base.clone()
            },
            "address",
        ),
        (
            KitSettings {
                exit_addresses: vec!["192.0.2.10".parse().unwrap()],
                ..base.clone()
            },
            "exit address",
        ),
        (
            KitSettings {
                exit_addresses: vec!["::1".parse().unwrap()],
                ..base.clone()
            },
            "exit address",
        ),
        (
            KitSettings {
                profile: "research".into(),
                ..base.clone()
            },
            "profile",
        ),
        (
            KitSettings {
                privacy_url: Some("javascript:alert(1)".into()),
                ..base.clone()
            },
            "privacy URL",
        ),
        (
            KitSettings {
                prefix: "relative".into(),
                ..base.clone()
            },
            "prefix",
        ),
        (
            KitSettings {
                interface: "../eth0".into(),
                ..base.clone()
            },
            "interface",
        ),
        (
            KitSettings {
                interface: "eth 0".into(),
                ..base.clone()
            },
            "interface",
        ),
    ];
    for (s, what) in cases {
        let e = render(&s).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{what}: ")), "{what}: {e}");
    }
    assert!(ExitPolicyChoice::parse("all").is_err());
}

/// Issue 20, findings 2, 3 and 6: the exit address goes into the torrc as
/// `OutboundBindAddressExit` and into exitflow's configuration as an exit
/// and own address; a contact with quotes and `#` is one quoted string; an
/// interface name with a quote stays one TOML string.
#[test]
fn the_exit_address_contact_and_interface_reach_tor_and_exitflow_whole() {
    let mut s = settings("n1", r#""jane" <jane@example.org> # room 4"#);
    s.exit_addresses = vec![
        "192.0.2.11".parse().unwrap(),
        "2001:db8::11".parse().unwrap(),
    ];
    s.interface = "en\"p1".into();
    let files = kit(&s);
    let torrc = text(&files, "torrc");
    assert!(
        torrc
            .contains("OutboundBindAddressExit 192.0.2.11\nOutboundBindAddressExit 2001:db8::11\n"),
        "{torrc}"
    );
    assert!(
        torrc.contains(r#"ContactInfo "\"jane\" <jane@example.org> # room 4""#),
        "{torrc}"
    );
    assert!(
        torrc.contains("OutboundBindAddress 192.0.2.10\n"),
        "{torrc}"
    );
    let t = torrc::parse(torrc).unwrap();
    assert_eq!(t.exit_addresses, s.exit_addresses);
    assert!(text(&files, "unbound-exitflow.conf").contains("    outgoing-interface: 192.0.2.10\n"));
    let toml: toml::Value = toml::from_str(text(&files, "exitflow.toml")).unwrap();
    assert_eq!(toml["capture"]["interfaces"][0].as_str(), Some("en\"p1"));
    let list = |k: &str| -> Vec<String> {
        toml["relay"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(list("exit_addresses"), ["192.0.2.11", "2001:db8::11"]);
    assert_eq!(
        list("own_addresses"),
        ["192.0.2.10", "192.0.2.11", "2001:db8::11"]
    );
}

/// Port 25 only when asked, whatever the policy; the study's relays as one
/// family.
#[test]
fn smtp_is_let_out_only_when_asked_and_the_family_is_declared() {
    for choice in [
        ExitPolicyChoice::Study,
        ExitPolicyChoice::Reduced,
        ExitPolicyChoice::Web,
    ] {
        for allow in [false, true] {
            let mut s = settings("n1", "ops@example.org");
            s.exit_policy = choice;
            s.allow_smtp = allow;
            let t = torrc::parse(text(&kit(&s), "torrc")).unwrap();
            assert_eq!(t.exit_policy().accepts(25), allow, "{choice:?} {allow}");
            assert_eq!(
                t.exit_policy().to_string(),
                choice.policy(allow).to_string()
            );
            assert!(t.exit_policy().accepts(443));
        }
    }
    let mut s = settings("n1", "ops@example.org");
    s.family = vec![
        "9695dfc35ffeb861329b9f1ab04c46397020ce31".into(),
        "$9695DFC35FFEB861329B9F1AB04C46397020CE32".into(),
    ];
    assert!(text(&kit(&s), "torrc").contains("MyFamily $9695DFC35FFEB861329B9F1AB04C46397020CE31,$9695DFC35FFEB861329B9F1AB04C46397020CE32\n"));
    s.family = vec!["relay2".into()];
    assert!(render(&s).unwrap_err().to_string().starts_with("family: "));
}

#[test]
fn writing_never_replaces_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let files = kit(&settings("n1", "ops@example.org"));
    write(dir.path(), &files).unwrap();
    let script = dir.path().join("install.sh");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&script).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
    }
    std::fs::write(dir.path().join("torrc"), "mine").unwrap();
    let e = write(dir.path(), &files).unwrap_err();
    assert!(matches!(e, RelayError::Exists(_)), "{e}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("torrc")).unwrap(),
        "mine"
    );
}
