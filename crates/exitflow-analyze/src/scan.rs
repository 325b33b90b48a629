//! Reading a dataset: each file's rows (or its part's hourly tables)
//! streamed batch by batch, only the columns the report needs, into
//! per-node aggregates, on one thread per core.
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{Array, RecordBatch};
use exitflow_output::aggregate::cols as agg_cols;
use exitflow_output::{Col, layout};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::*;

/// The dataset files under the given roots: `(node, path)`.
pub fn dataset_files(
    roots: &[PathBuf],
    filter: &Filter,
) -> Result<Vec<(String, PathBuf)>, AnalyzeError> {
    let mut out = Vec::new();
    let io = |p: &Path| {
        let p = p.to_owned();
        move |source| AnalyzeError::Io { path: p, source }
    };
    for root in roots {
        for node_dir in std::fs::read_dir(root).map_err(io(root))? {
            let node_dir = node_dir.map_err(io(root))?.path();
            let name = node_dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let Some(node) = layout::node_of(name) else {
                continue;
            };
            if !filter.nodes.is_empty() && !filter.nodes.iter().any(|n| n == node) {
                continue;
            }
            for date_dir in std::fs::read_dir(&node_dir).map_err(io(&node_dir))? {
                let date_dir = date_dir.map_err(io(&node_dir))?.path();
                if !date_dir.is_dir() {
                    continue;
                }
                if let Some((lo, hi)) = filter.days {
                    let day = date_dir
                        .file_name()
                        .and_then(|n| n.to_str())
                        .and_then(|n| n.strip_prefix(layout::DATE_PREFIX))
                        .and_then(exitflow_output::dataset::parse_utc_date);
                    if day.is_none_or(|d| d < lo || d >= hi) {
                        continue;
                    }
                }
                for f in std::fs::read_dir(&date_dir).map_err(io(&date_dir))? {
                    let f = f.map_err(io(&date_dir))?.path();
                    let fname = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    if layout::is_data_file(fname) {
                        out.push((node.to_owned(), f));
                    }
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The columns the report reads (and no others).
const COLUMNS: &[Col] = &[
    Col::AppName,
    Col::AppCategory,
    Col::BiPackets,
    Col::BiBytes,
    Col::BiFirstSeen,
    Col::BiDuration,
    Col::DstPort,
    Col::Failed,
    Col::DstCountry,
    Col::SrcCountry,
    Col::SrcIsProxy,
    Col::DstIsProxy,
    Col::UserAgent,
    Col::ContentType,
    Col::TorRole,
    Col::AppGuessed,
];

/// Reads every file once, only the needed columns, batch by batch.
pub fn scan(roots: &[PathBuf], filter: &Filter) -> Result<Report, AnalyzeError> {
    scan_with_progress(roots, filter, &|_, _| {})
}

/// [`scan`], telling `progress` the files done and the files in all after each file.
pub fn scan_with_progress(
    roots: &[PathBuf],
    filter: &Filter,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Report, AnalyzeError> {
    let files = dataset_files(roots, filter)?;
    if files.is_empty() {
        return Err(AnalyzeError::empty(roots));
    }
    // Files are shared out to one thread per core through an atomic index
    // (they differ in size); each thread keeps its own aggregates, merged
    // at the end: sums, so the result does not depend on the order.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len())
        .max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicUsize::new(0);
    type Scanned = (BTreeMap<String, NodeAgg>, HowMade);
    // Sidecars count whole hours: usable unless asked for rows, or a time
    // filter cuts an hour.
    let whole_hour = |t: Option<u64>| t.is_none_or(|t| t % 3_600_000 == 0);
    let use_sidecars = !filter.rows && whole_hour(filter.from_ms) && whole_hour(filter.to_ms);
    let results: Vec<Result<Scanned, AnalyzeError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut nodes: BTreeMap<String, NodeAgg> = BTreeMap::new();
                    let mut how = HowMade::default();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((node, path)) = files.get(i) else {
                            return Ok((nodes, how));
                        };
                        let agg = nodes.entry(node.clone()).or_default();
                        let tz = filter.zones.get(node).cloned().unwrap_or_default();
                        // A part's sidecar holds the same flows as hourly
                        // tables: far fewer rows to read.
                        let side = layout::sidecar_of(path);
                        let read = if use_sidecars && side.is_file() {
                            side.as_path()
                        } else {
                            path.as_path()
                        };
                        if let Err(e) = scan_file(read, path, filter, &tz, agg, &mut how) {
                            // Let the other threads stop early too.
                            next.store(usize::MAX / 2, std::sync::atomic::Ordering::Relaxed);
                            return Err(e);
                        }
                        let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        progress(d, files.len());
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a report thread panicked"))
            .collect()
    });
    let mut report = Report {
        zones: filter.zones.clone(),
        files: files.len() as u64,
        ..Report::default()
    };
    for r in results {
        let (nodes, how) = r?;
        for (node, agg) in nodes {
            report.nodes.entry(node).or_default().merge(&agg);
        }
        report.how.merge(how);
    }
    for n in report.nodes.values_mut() {
        n.finish();
    }
    if filter.from_ms.is_none() && filter.to_ms.is_none() {
        node_volumes(roots, &mut report)?;
    }
    exit_policies(roots, &mut report)?;
    for a in report.nodes.values() {
        report.all.merge(a);
    }
    Ok(report)
}

/// Packets and bytes from each node's totals (`_totals.json`) where the
/// rows hold power-of-two buckets (default and strict, whose totals are
/// noisy and rounded, but unbiased: closer than sums of buckets). Only
/// without a time filter: the totals cover every flow of the node.
fn node_volumes(roots: &[PathBuf], report: &mut Report) -> Result<(), AnalyzeError> {
    for node in report.nodes.keys() {
        let mut sum: Option<(u64, u64)> = None;
        for root in roots {
            let path = layout::node_dir(root, node).join(layout::TOTALS_FILE);
            let t = exitflow_output::totals::read(&path).map_err(AnalyzeError::Totals)?;
            if let Some(t) = t {
                let (p, b) = sum.unwrap_or((0, 0));
                sum = Some((p + t.packets, b + t.bytes));
            }
        }
        if let Some(v) = sum {
            report.volumes.insert(node.clone(), v);
        }
    }
    Ok(())
}

/// The exit policy each node recorded last (from any of the roots).
fn exit_policies(roots: &[PathBuf], report: &mut Report) -> Result<(), AnalyzeError> {
    for node in report.nodes.keys() {
        for root in roots {
            let path = layout::node_dir(root, node).join(layout::TOTALS_FILE);
            let t = exitflow_output::totals::read(&path).map_err(AnalyzeError::Totals)?;
            let Some(t) = t else { continue };
            let a = report.anonymity.entry(node.clone()).or_default();
            for (x, v) in a.iter_mut().zip([
                t.flows,
                t.generalised_flows,
                t.suppressed_flows,
                t.folded_flows,
            ]) {
                *x += v;
            }
            if let Some(p) = t.exit_policy {
                report.exit_policies.insert(node.clone(), p);
            }
        }
    }
    Ok(())
}

fn scan_file(
    path: &Path,
    data: &Path,
    filter: &Filter,
    tz: &Zone,
    node: &mut NodeAgg,
    how: &mut HowMade,
) -> Result<(), AnalyzeError> {
    let pq = |source: parquet::errors::ParquetError| AnalyzeError::Parquet {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(|source| AnalyzeError::Io {
        path: path.to_owned(),
        source,
    })?;
    node.slices[EXIT].dataset_bytes += std::fs::metadata(data).map_or(0, |m| m.len());
    use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(pq)?;
    // The strict profile's files and the parts' sidecars are hourly
    // aggregate tables, read whole; flow rows are read for the report's
    // columns only, their strings as the dictionaries Parquet stores, so the
    // scan counts dictionary keys and looks each string up once per batch.
    let is_agg = meta.schema().field_with_name(agg_cols::DIMENSION).is_ok();
    let meta = if is_agg {
        meta
    } else {
        let dict = arrow_schema::DataType::Dictionary(
            Box::new(arrow_schema::DataType::Int32),
            Box::new(arrow_schema::DataType::Utf8),
        );
        let fields: Vec<arrow_schema::Field> = meta
            .schema()
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                arrow_schema::DataType::Utf8 => f.as_ref().clone().with_data_type(dict.clone()),
                _ => f.as_ref().clone(),
            })
            .collect();
        let schema = std::sync::Arc::new(arrow_schema::Schema::new_with_metadata(
            fields,
            meta.schema().metadata().clone(),
        ));
        ArrowReaderMetadata::try_new(
            meta.metadata().clone(),
            ArrowReaderOptions::new().with_schema(schema),
        )
        .map_err(pq)?
    };
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta);
    let mut labelled = false;
    // Counts as power-of-two buckets (default, strict): see `Agg::bucketed_flows`.
    let mut coarse = false;
    for kv in builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten()
    {
        if kv.key == meta_keys::SYNTHETIC && kv.value.as_deref() == Some("true") {
            how.synthetic = true;
        }
        let set = match kv.key.as_str() {
            meta_keys::VERSION => &mut how.versions,
            meta_keys::POLICY => &mut how.policies,
            meta_keys::GEOIP => &mut how.geoip,
            meta_keys::TIMEOUTS => &mut how.timeouts,
            _ => continue,
        };
        labelled |= kv.key == meta_keys::POLICY && kv.value.is_some();
        coarse |= kv.key == meta_keys::POLICY
            && kv
                .value
                .as_deref()
                .is_some_and(|v| v.split(' ').any(|w| w == "coarse_counts=true"));
        if let Some(v) = &kv.value
            && !set.contains(v)
        {
            set.insert(v.clone());
        }
    }
    how.unlabelled |= !labelled;
    let schema = builder.parquet_schema();
    let builder = if is_agg {
        builder
    } else {
        let wanted: Vec<usize> = (0..schema.num_columns())
            .filter(|i| COLUMNS.iter().any(|c| c.name() == schema.column(*i).name()))
            .collect();
        let mask = ProjectionMask::leaves(schema, wanted);
        builder.with_projection(mask)
    };
    let reader = builder
        .with_batch_size(DEFAULT_BATCH_ROWS)
        .build()
        .map_err(pq)?;
    for batch in reader {
        let batch = batch.map_err(|source| AnalyzeError::Arrow {
            path: path.to_owned(),
            source,
        })?;
        if is_agg {
            add_aggregates(&batch, filter, tz, coarse, node);
        } else {
            add_batch(&batch, filter, tz, coarse, node);
        }
    }
    Ok(())
}

/// The hour of the day of `t` (ms, UTC) shifted by `tz_ms`.
fn hour_of_day(t: u64, tz_ms: i64) -> usize {
    ((t as i64 + tz_ms).rem_euclid(86_400_000) / 3_600_000) as usize
}

/// Adds a batch of an aggregate file (scope, dimension, value, sums per hour).
fn add_aggregates(b: &RecordBatch, filter: &Filter, tz: &Zone, coarse: bool, node: &mut NodeAgg) {
    let mut local = zone::LocalClock::new(tz);
    let u = |n: &str| {
        b.column_by_name(n)
            .map(|c| c.as_primitive::<UInt64Type>().clone())
    };
    let s = |n: &str| b.column_by_name(n).map(|c| c.as_string::<i32>().clone());
    let (Some(hour), Some(dim), Some(value), Some(flows)) = (
        u(agg_cols::HOUR),
        s(agg_cols::DIMENSION),
        s(agg_cols::VALUE),
        u(agg_cols::FLOWS),
    ) else {
        return;
    };
    let scope = s(agg_cols::SCOPE);
    let get = |c: &Option<arrow_array::UInt64Array>, i: usize| c.as_ref().map_or(0, |a| a.value(i));
    let (failed, pk, by, du) = (
        u(agg_cols::FAILED),
        u(agg_cols::PACKETS),
        u(agg_cols::BYTES),
        u(agg_cols::DURATION),
    );
    let (pkc, byc, duc) = (
        u(agg_cols::PACKETS_CLIPPED),
        u(agg_cols::BYTES_CLIPPED),
        u(agg_cols::DURATION_CLIPPED),
    );
    let (exf, exd) = (
        u(agg_cols::EXACT_DURATION_FLOWS),
        u(agg_cols::EXACT_DURATION),
    );
    for i in 0..b.num_rows() {
        let t = hour.value(i);
        if filter.from_ms.is_some_and(|f| t < f) || filter.to_ms.is_some_and(|to| t >= to) {
            continue;
        }
        // Files without scopes (older) count as other roles.
        let slice = scope.as_ref().map_or(OTHER, |c| {
            exitflow_output::aggregate::SCOPES
                .iter()
                .position(|x| *x == c.value(i))
                .unwrap_or(OTHER)
        });
        let agg = &mut node.slices[slice];
        let (d, v, n) = (dim.value(i), value.value(i), flows.value(i));
        let add = |c: &mut Counts| *c.entry(v.to_owned()).or_default() += n;
        match d {
            "total" => {
                agg.flows += n;
                agg.failed_flows += get(&failed, i);
                agg.packets += get(&pk, i);
                agg.bytes += get(&by, i);
                // Durations: the exact estimate for the ef flows it covers
                // (no bucket's bias), the buckets' share for the rest.
                let ef = get(&exf, i).min(n);
                let du_rows = get(&du, i);
                agg.duration_ms += get(&exd, i)
                    + (u128::from(du_rows) * u128::from(n - ef) / u128::from(n.max(1))) as u64;
                if coarse {
                    agg.bucketed_flows += n - ef;
                }
                agg.packets_clipped += get(&pkc, i);
                agg.bytes_clipped += get(&byc, i);
                agg.duration_clipped_ms += get(&duc, i);
                agg.hours_utc[hour_of_day(t, 0)] += n;
                agg.hours_local[local.hour_of_day(t)] += n;
                *agg.hour_flows.entry(t - t % 3_600_000).or_default() += n;
            }
            "application" => {
                add(&mut agg.applications);
                let master = v.split('.').next().unwrap_or("");
                if master == "HTTP" || master == "HTTP_Proxy" {
                    agg.http_flows += n;
                }
            }
            "category" => add(&mut agg.categories),
            "dst_country" => add(&mut agg.dst_countries),
            "src_country" => add(&mut agg.src_countries),
            "tor_role" => add(&mut agg.roles),
            "user_agent" => add(&mut agg.user_agents),
            "content_type" => add(&mut agg.content_types),
            "guessed" if v == "1" => agg.guessed += n,
            "dst_port" => {
                if let Ok(p) = v.parse::<u64>() {
                    *agg.hour_ports.entry((t - t % 3_600_000, p)).or_default() += n;
                }
            }
            "dst_port_country" => {
                if let Some((p, c)) = v.split_once('/')
                    && let Ok(p) = p.parse::<u64>()
                    && PORT_COUNTRY_PORTS.contains(&p)
                {
                    *agg.port_countries
                        .entry(p)
                        .or_default()
                        .entry(c.to_owned())
                        .or_default() += n;
                }
            }
            "proxy" if v == "src" => agg.src_proxy += n,
            "proxy" if v == "dst" => agg.dst_proxy += n,
            _ => {}
        }
    }
}

/// A string column of a batch: dictionary keys per row and the values.
struct StrCol {
    /// Dictionary keys; `None`: plain strings, each row its own key.
    keys: Option<arrow_array::Int32Array>,
    valid: Option<arrow_array::BooleanArray>,
    values: arrow_array::StringArray,
}

impl StrCol {
    fn of(b: &RecordBatch, c: Col) -> Option<StrCol> {
        let col = b.column_by_name(c.name())?;
        Some(
            match col.as_dictionary_opt::<arrow_array::types::Int32Type>() {
                Some(d) => StrCol {
                    // A null key's slot may hold anything: it is never read.
                    keys: Some(d.keys().clone()),
                    valid: d.keys().nulls().map(|n| n.inner().clone().into()),
                    values: d.values().as_string::<i32>().clone(),
                },
                None => {
                    // Not dictionary-encoded: each row its own key.
                    let v = col.as_string::<i32>().clone();
                    StrCol {
                        keys: None,
                        valid: v.nulls().map(|n| n.inner().clone().into()),
                        values: v,
                    }
                }
            },
        )
    }

    fn n_keys(&self) -> usize {
        self.values.len()
    }

    fn key(&self, i: usize) -> usize {
        self.keys
            .as_ref()
            .map_or(i, |k| usize::try_from(k.value(i)).unwrap_or(0))
    }

    fn is_valid(&self, i: usize) -> bool {
        self.valid.as_ref().is_none_or(|v| v.value(i))
    }
}

/// Per-batch counts per (slice, dictionary key), added to the counters
/// once per distinct key at the end of the batch.
struct KeyCounts {
    n: usize,
    counts: Vec<u64>,
}

impl KeyCounts {
    fn new(n: usize) -> KeyCounts {
        KeyCounts {
            n,
            counts: vec![0; 4 * n],
        }
    }

    fn add(&mut self, slice: usize, key: usize) {
        self.counts[slice * self.n + key] += 1;
    }

    fn flush(&self, col: &StrCol, node: &mut NodeAgg, pick: impl Fn(&mut Agg) -> &mut Counts) {
        for slice in 0..4 {
            for k in 0..self.n {
                let v = self.counts[slice * self.n + k];
                if v > 0 {
                    let c = pick(&mut node.slices[slice]);
                    let name = col.values.value(k);
                    match c.get_mut(name) {
                        Some(x) => *x += v,
                        None => {
                            c.insert(name.to_owned(), v);
                        }
                    }
                }
            }
        }
    }
}

fn add_batch(b: &RecordBatch, filter: &Filter, tz: &Zone, coarse: bool, node: &mut NodeAgg) {
    let mut local = zone::LocalClock::new(tz);
    let n = b.num_rows();
    let u = |c: Col| {
        b.column_by_name(c.name())
            .map(|c| c.as_primitive::<UInt64Type>().clone())
    };
    let bo = |c: Col| b.column_by_name(c.name()).map(|c| c.as_boolean().clone());
    let (pk, by, first, dur, port) = (
        u(Col::BiPackets),
        u(Col::BiBytes),
        u(Col::BiFirstSeen),
        u(Col::BiDuration),
        u(Col::DstPort),
    );
    let (failed, sp, dp, guessed) = (
        bo(Col::Failed),
        bo(Col::SrcIsProxy),
        bo(Col::DstIsProxy),
        bo(Col::AppGuessed),
    );
    let app = StrCol::of(b, Col::AppName);
    let cols = [
        StrCol::of(b, Col::AppCategory),
        StrCol::of(b, Col::DstCountry),
        StrCol::of(b, Col::SrcCountry),
        StrCol::of(b, Col::TorRole),
        StrCol::of(b, Col::UserAgent),
        StrCol::of(b, Col::ContentType),
    ];
    let [_, dc, _, role, _, _] = &cols;
    // Per dictionary key, computed once: is the label HTTP, is the role exit.
    let http_key: Vec<bool> = app.as_ref().map_or(Vec::new(), |a| {
        (0..a.n_keys())
            .map(|k| {
                let m = a.values.value(k).split('.').next().unwrap_or("");
                m == "HTTP" || m == "HTTP_Proxy"
            })
            .collect()
    });
    let exit_key: Vec<bool> = role.as_ref().map_or(Vec::new(), |r| {
        (0..r.n_keys())
            .map(|k| r.values.value(k) == "exit")
            .collect()
    });
    let counts = |c: &Option<StrCol>| KeyCounts::new(c.as_ref().map_or(0, StrCol::n_keys));
    let mut app_c = counts(&app);
    let mut col_c: Vec<KeyCounts> = cols.iter().map(counts).collect();
    let mut unknown_app = [0u64; 4];
    let mut missing_role = [0u64; 4];
    // Flows per hour, run-length counted (a batch rarely spans two hours).
    let mut run: [(u64, u64); 4] = [(0, 0); 4];
    // A coarse file's rows are all buckets: counted per batch, not per row.
    let flows_before = node.slices.each_ref().map(|s| s.flows);
    for i in 0..n {
        let t = first.as_ref().map_or(0, |a| a.value(i));
        if filter.from_ms.is_some_and(|f| t < f) || filter.to_ms.is_some_and(|to| t >= to) {
            continue;
        }
        let is_failed = failed.as_ref().is_some_and(|a| a.value(i));
        let is_exit = role
            .as_ref()
            .is_some_and(|r| r.is_valid(i) && exit_key[r.key(i)]);
        let slice = usize::from(!is_exit) * 2 + usize::from(is_failed);
        let agg = &mut node.slices[slice];
        agg.flows += 1;
        let (p, bb, d) = (
            pk.as_ref().map_or(0, |a| a.value(i)),
            by.as_ref().map_or(0, |a| a.value(i)),
            dur.as_ref().map_or(0, |a| a.value(i)),
        );
        agg.packets += p;
        agg.bytes += bb;
        agg.duration_ms += d;
        agg.packets_clipped += p.min(publish::PACKETS_CLIP);
        agg.bytes_clipped += bb.min(publish::BYTES_CLIP);
        agg.duration_clipped_ms += d.min(publish::DURATION_CLIP_MS);
        agg.failed_flows += u64::from(is_failed);
        agg.src_proxy += u64::from(sp.as_ref().is_some_and(|a| a.value(i)));
        agg.dst_proxy += u64::from(dp.as_ref().is_some_and(|a| a.value(i)));
        agg.guessed += u64::from(guessed.as_ref().is_some_and(|a| a.value(i)));
        agg.hours_utc[hour_of_day(t, 0)] += 1;
        agg.hours_local[local.hour_of_day(t)] += 1;
        let hour = t - t % 3_600_000;
        let r = &mut run[slice];
        if r.0 != hour && r.1 > 0 {
            *agg.hour_flows.entry(r.0).or_default() += r.1;
            r.1 = 0;
        }
        r.0 = hour;
        r.1 += 1;
        let mut is_http = false;
        match &app {
            Some(a) if a.is_valid(i) => {
                let k = a.key(i);
                app_c.add(slice, k);
                is_http = http_key[k];
            }
            _ => unknown_app[slice] += 1,
        }
        for (j, c) in cols.iter().enumerate().take(4) {
            if let Some(c) = c
                && c.is_valid(i)
            {
                col_c[j].add(slice, c.key(i));
            }
        }
        if role.as_ref().is_none_or(|r| !r.is_valid(i)) {
            missing_role[slice] += 1;
        }
        if let Some(pp) = &port {
            let pv = pp.value(i);
            // One count per row: ports and the hourly series are sums of it.
            *agg.hour_ports.entry((hour, pv)).or_default() += 1;
            if PORT_COUNTRY_PORTS.contains(&pv) {
                let country = dc
                    .as_ref()
                    .filter(|c| c.is_valid(i))
                    .map_or("unknown", |c| c.values.value(c.key(i)));
                bump(agg.port_countries.entry(pv).or_default(), country);
            }
        }
        if is_http {
            agg.http_flows += 1;
            for j in [4, 5] {
                if let Some(c) = &cols[j]
                    && c.is_valid(i)
                {
                    col_c[j].add(slice, c.key(i));
                }
            }
        }
    }
    if coarse {
        for (s, before) in node.slices.iter_mut().zip(flows_before) {
            s.bucketed_flows += s.flows - before;
        }
    }
    for (slice, (hour, n)) in run.iter().enumerate() {
        if *n > 0 {
            *node.slices[slice].hour_flows.entry(*hour).or_default() += n;
        }
    }
    if let Some(a) = &app {
        app_c.flush(a, node, |g| &mut g.applications);
    }
    for (slice, v) in unknown_app.iter().enumerate() {
        if *v > 0 {
            *node.slices[slice]
                .applications
                .entry("Unknown".into())
                .or_default() += v;
        }
    }
    for (slice, v) in missing_role.iter().enumerate() {
        if *v > 0 {
            *node.slices[slice].roles.entry("other".into()).or_default() += v;
        }
    }
    let picks: [fn(&mut Agg) -> &mut Counts; 6] = [
        |g| &mut g.categories,
        |g| &mut g.dst_countries,
        |g| &mut g.src_countries,
        |g| &mut g.roles,
        |g| &mut g.user_agents,
        |g| &mut g.content_types,
    ];
    for ((c, kc), pick) in cols.iter().zip(&col_c).zip(picks) {
        if let Some(c) = c {
            kc.flush(c, node, pick);
        }
    }
}
