//! `exitflow gen-dataset`: a dataset of any size written directly (no
//! packets), with the proportions the reference study reported, to measure
//! the report and query engines at scale.
use std::process::ExitCode;

use anyhow::Result;
use exitflow_flow::{EndReason, Flow};
use exitflow_output::dataset::{DatasetConfig, DatasetWriter};
use exitflow_output::{Policy, Record};
use exitflow_synth::Rng;

use crate::args::GenArgs;

/// Application labels with weights: the study's top table (appendix A.3), flows.
const APPS: &[(&str, &str, u64)] = &[
    ("TLS", "Web", 17_025_756),
    ("Unknown", "Unspecified", 10_242_244),
    ("TLS.Cloudflare", "Web", 6_725_942),
    ("HTTP", "Web", 5_900_572),
    ("SMTP", "Email", 5_650_151),
    ("TLS.Google", "Web", 3_599_623),
    ("TLS.Tor", "VPN", 3_080_808),
    ("HTTP.Cloudflare", "Web", 2_897_119),
    ("TLS.Amazon", "Web", 2_311_471),
    ("TLS.Twitch", "Video", 843_340),
    ("TLS.YouTube", "Media", 732_434),
    ("SSH", "RemoteAccess", 691_776),
    ("TLS.Facebook", "SocialNetwork", 545_249),
    ("BitTorrent", "Download", 174_511),
    ("DNS", "Network", 102_421),
];
/// Destination ports with weights (study, top ports).
const PORTS: &[(u16, u64)] = &[
    (443, 34_941_370),
    (5222, 8_118_779),
    (80, 7_937_378),
    (25, 5_907_677),
    (22, 629_224),
    (8118, 498_381),
    (465, 483_023),
    (8080, 475_254),
    (587, 437_006),
    (993, 420_429),
    (53, 102_421),
];
/// Destination countries with weights (study).
const COUNTRIES: &[(&str, u64)] = &[
    ("US", 31_001_644),
    ("NL", 6_221_182),
    ("GB", 3_128_345),
    ("DE", 3_112_332),
    ("RU", 3_007_574),
    ("FR", 2_264_933),
    ("JP", 1_980_225),
    ("CH", 1_299_799),
    ("IE", 1_200_437),
    ("SG", 1_066_878),
];
const UAS: &[&str] = &[
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:83.0) Gecko/20100101 Firefox/83.0",
    "curl/7.68.0",
];
const CTS: &[&str] = &["text/html", "application/json", "text/plain", "image/jpeg"];

fn pick<'a, T>(rng: &mut Rng, table: &'a [(T, u64)]) -> &'a T {
    let total: u64 = table.iter().map(|x| x.1).sum();
    let mut r = rng.below(total);
    for (v, w) in table {
        if r < *w {
            return v;
        }
        r -= w;
    }
    &table[0].0
}

/// Writes the dataset.
pub fn run(a: &GenArgs) -> Result<ExitCode> {
    let mut rng = Rng(a.seed);
    let apps: Vec<((&str, &str), u64)> = APPS.iter().map(|(n, c, w)| ((*n, *c), *w)).collect();
    let mut policy = match a.profile {
        Some(exitflow_output::Profile::Strict) => Policy::strict(),
        Some(exitflow_output::Profile::Research) => Policy::research(),
        _ => Policy::default(),
    };
    let country: Vec<std::sync::Arc<str>> = COUNTRIES.iter().map(|(c, _)| (*c).into()).collect();
    let country_idx: Vec<(usize, u64)> = COUNTRIES
        .iter()
        .enumerate()
        .map(|(i, (_, w))| (i, *w))
        .collect();
    let start_ms = exitflow_synth::DEFAULT_START_S * 1000;
    let de: std::sync::Arc<str> = "DE".into();
    let week_ms = 7 * 86_400_000u64;
    for node in 0..a.nodes.max(1) {
        let name = format!("gen-{node}");
        let cfg = DatasetConfig::new(&a.dataset, &name);
        let mut ds = DatasetWriter::open(&policy, cfg)?;
        let n = a.flows / u64::from(a.nodes.max(1));
        for i in 0..n {
            let (label, cat) = *pick(&mut rng, &apps);
            let port = *pick(&mut rng, PORTS);
            let first = start_ms + week_ms * i / n.max(1);
            let failed = rng.below(100) < 32;
            let (p1, p2) = if failed {
                (1 + rng.below(3), rng.below(2))
            } else {
                (3 + rng.below(40), 2 + rng.below(60))
            };
            let dur = if failed {
                rng.below(3000)
            } else {
                rng.below(50_000)
            };
            let flow = Flow::from_totals(
                i,
                6,
                (ip(exitflow_synth::RELAY), 32768 + (i % 28000) as u16),
                (ip(rng.public_v4()), port),
                (first, first + dur),
                (p1, p1 * 80),
                (p2, p2 * 900),
                EndReason::Idle,
            );
            let mut r = Record::unlabelled(flow);
            r.application_name = label.to_owned();
            r.application_category_name = cat.to_owned();
            r.application_confidence = 6;
            r.dst_country = country[*pick(&mut rng, &country_idx)].clone();
            r.src_country = de.clone();
            r.tor_role = "exit";
            if label.starts_with("HTTP") {
                r.user_agent = Some(UAS[(i % 3) as usize].to_owned());
                r.content_type = (i % 3 != 0).then(|| CTS[(i % 4) as usize].to_owned());
            }
            ds.push(policy.store(r))?;
        }
        let w = ds.close()?;
        eprintln!("{name}: {n} flows, {} files, {} bytes", w.files, w.bytes);
    }
    Ok(ExitCode::SUCCESS)
}

fn ip(a: [u8; 4]) -> [u8; 16] {
    let mut x = [0u8; 16];
    x[..4].copy_from_slice(&a);
    x
}
