//! The strict profile's dataset: no per-flow rows, only hourly aggregate
//! tables per node, enough for every table of the study. One long table per
//! file (`agg-<random>.parquet`, one hour): for each dimension and value,
//! the flows, failed flows, and sums of packets, bytes and durations — sums
//! of the per-flow values the default profile would write (power-of-two
//! buckets), and the same sums clipped per flow for publication.
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;

use crate::OutputError;
use crate::row::{Layout, Row};
use crate::schema::Col;

/// Prefix of an aggregate file.
pub const AGG_PREFIX: &str = "agg-";
/// Per-flow packets are clipped at this in the clipped sums.
pub const PACKETS_CLIP: u64 = 10_000;
/// Per-flow bytes are clipped at this in the clipped sums.
pub const BYTES_CLIP: u64 = 10_000_000;
/// Per-flow durations are clipped at this in the clipped sums (ms).
pub const DURATION_CLIP_MS: u64 = 1_800_000;

/// Column names of an aggregate file.
pub mod cols {
    /// Start of the hour, ms since the epoch (UTC).
    pub const HOUR: &str = "hour_ms";
    /// Which flows the row counts: one of [`super::SCOPES`].
    pub const SCOPE: &str = "scope";
    /// What is counted: one of [`super::DIMENSIONS`].
    pub const DIMENSION: &str = "dimension";
    /// The value counted (a label, a country, a port...).
    pub const VALUE: &str = "value";
    /// Flows.
    pub const FLOWS: &str = "flows";
    /// Flows with at most 4 packets.
    pub const FAILED: &str = "failed_flows";
    /// Sum of per-flow packets (buckets).
    pub const PACKETS: &str = "packets";
    /// Sum of per-flow bytes (buckets).
    pub const BYTES: &str = "bytes";
    /// Sum of per-flow durations (buckets), ms.
    pub const DURATION: &str = "duration_ms";
    /// Sum of per-flow packets clipped at [`super::PACKETS_CLIP`].
    pub const PACKETS_CLIPPED: &str = "packets_clipped";
    /// Sum of per-flow bytes clipped at [`super::BYTES_CLIP`].
    pub const BYTES_CLIPPED: &str = "bytes_clipped";
    /// Sum of per-flow durations clipped at [`super::DURATION_CLIP_MS`].
    pub const DURATION_CLIPPED: &str = "duration_clipped_ms";
    /// On a `total` row: the flows of the row whose durations
    /// [`EXACT_DURATION`] estimates from exact values (0: none; see
    /// [`super::put_exact_durations`]).
    pub const EXACT_DURATION_FLOWS: &str = "exact_duration_flows";
    /// On a `total` row: the slice's mean exact duration (over the write's
    /// own flows, at least [`super::EXACT_DURATION_MIN_FLOWS`] of them)
    /// times [`EXACT_DURATION_FLOWS`], ms.
    pub const EXACT_DURATION: &str = "exact_duration_ms";
}

/// The dimensions every hour is counted by. `total` has one value (`all`);
/// `user_agent` and `content_type` count HTTP flows that carry one.
pub const DIMENSIONS: [&str; 12] = [
    "total",
    "application",
    "category",
    "dst_country",
    "src_country",
    "dst_port",
    "dst_port_country",
    "tor_role",
    "user_agent",
    "content_type",
    "proxy",
    "guessed",
];

/// The flows a row counts: exit flows (role `exit`) or the others, each
/// split into flows of more than 4 packets and failed ones — the study's
/// shares are over the first.
pub const SCOPES: [&str; 4] = ["exit", "exit_failed", "other", "other_failed"];

/// The scope of a flow with role `role` that failed or not.
pub fn scope_of(role: &str, failed: bool) -> &'static str {
    SCOPES[usize::from(role != "exit") * 2 + usize::from(failed)]
}

/// Sums of one bin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bin {
    /// Flows.
    pub flows: u64,
    /// Failed flows.
    pub failed_flows: u64,
    /// Packets (bucketed per flow).
    pub packets: u64,
    /// Bytes (bucketed per flow).
    pub bytes: u64,
    /// Durations (bucketed per flow), ms.
    pub duration_ms: u64,
    /// Packets clipped per flow.
    pub packets_clipped: u64,
    /// Bytes clipped per flow.
    pub bytes_clipped: u64,
    /// Durations clipped per flow, ms.
    pub duration_clipped_ms: u64,
    /// On a `total` bin: flows whose durations come from exact values
    /// ([`cols::EXACT_DURATION_FLOWS`]).
    pub exact_duration_flows: u64,
    /// On a `total` bin: their durations, from the slice's exact mean
    /// ([`cols::EXACT_DURATION`]), ms.
    pub exact_duration_ms: u64,
}

impl Bin {
    /// Adds another bin's sums.
    pub fn add(&mut self, o: &Bin) {
        self.flows += o.flows;
        self.failed_flows += o.failed_flows;
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.duration_ms += o.duration_ms;
        self.packets_clipped += o.packets_clipped;
        self.bytes_clipped += o.bytes_clipped;
        self.duration_clipped_ms += o.duration_clipped_ms;
        self.exact_duration_flows += o.exact_duration_flows;
        self.exact_duration_ms += o.exact_duration_ms;
    }
}

/// The aggregate tables of some records: (hour, scope, dimension, value).
pub type Tables = BTreeMap<(u64, &'static str, &'static str, String), Bin>;

/// Adds a stored row to the tables of its `granularity_ms` bin. For many
/// rows, [`Accumulator`] is faster: this is the same, one at a time.
pub fn add(t: &mut Tables, r: &Row, layout: &Layout, granularity_ms: u64) {
    let mut one = Accumulator::default();
    one.add(r, layout, granularity_ms);
    for (k, bin) in one.tables() {
        t.entry(k).or_default().add(&bin);
    }
}

/// The value cells of fewer than `k` flows fold into, per dimension.
pub const OTHER: &str = "Other";

/// Folds every cell of fewer than `k` flows into its dimension's
/// [`OTHER`] cell (the `total` dimension, one cell an hour, stays);
/// returns the flows folded.
pub fn fold_small(t: &mut Tables, k: usize) -> u64 {
    let k = k as u64;
    let small: Vec<_> = t
        .iter()
        .filter(|(key, b)| b.flows < k && key.2 != "total" && key.3 != OTHER)
        .map(|(key, _)| key.clone())
        .collect();
    let mut folded = 0;
    for key in small {
        let bin = t.remove(&key).expect("listed above");
        folded += bin.flows;
        t.entry((key.0, key.1, key.2, OTHER.to_owned()))
            .or_default()
            .add(&bin);
    }
    folded
}

/// The tables of an aggregate file this crate wrote.
pub fn read(path: &Path) -> Result<Tables, OutputError> {
    use arrow_array::cast::AsArray;
    let bad = |why: &str| OutputError::Io {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_owned()),
    };
    let pq = |source| OutputError::Parquet {
        path: path.to_owned(),
        source,
    };
    let f = std::fs::File::open(path).map_err(crate::io_err(path))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(pq)?
        .build()
        .map_err(pq)?;
    let mut t = Tables::new();
    for b in reader {
        let b = b.map_err(|source| OutputError::Arrow {
            path: path.to_owned(),
            source,
        })?;
        let u = |n: &str| {
            b.column_by_name(n)
                .and_then(|c| c.as_primitive_opt::<arrow_array::types::UInt64Type>())
                .ok_or_else(|| bad(&format!("column {n} missing")))
        };
        let s = |n: &str| {
            b.column_by_name(n)
                .and_then(|c| c.as_string_opt::<i32>())
                .ok_or_else(|| bad(&format!("column {n} missing")))
        };
        let (hour, scope, dim, value) = (
            u(cols::HOUR)?,
            s(cols::SCOPE)?,
            s(cols::DIMENSION)?,
            s(cols::VALUE)?,
        );
        let sums = [
            u(cols::FLOWS)?,
            u(cols::FAILED)?,
            u(cols::PACKETS)?,
            u(cols::BYTES)?,
            u(cols::DURATION)?,
            u(cols::PACKETS_CLIPPED)?,
            u(cols::BYTES_CLIPPED)?,
            u(cols::DURATION_CLIPPED)?,
        ];
        // Files written before the exact durations have none: 0.
        let opt = |n: &str| {
            b.column_by_name(n)
                .and_then(|c| c.as_primitive_opt::<arrow_array::types::UInt64Type>())
        };
        let exact = [opt(cols::EXACT_DURATION_FLOWS), opt(cols::EXACT_DURATION)];
        let ex = |j: usize, i: usize| exact[j].map_or(0, |a| a.value(i));
        for i in 0..b.num_rows() {
            let sc = SCOPES
                .iter()
                .find(|x| **x == scope.value(i))
                .ok_or_else(|| bad("unknown scope"))?;
            let d = DIMENSIONS
                .iter()
                .find(|x| **x == dim.value(i))
                .ok_or_else(|| bad("unknown dimension"))?;
            let bin = Bin {
                flows: sums[0].value(i),
                failed_flows: sums[1].value(i),
                packets: sums[2].value(i),
                bytes: sums[3].value(i),
                duration_ms: sums[4].value(i),
                packets_clipped: sums[5].value(i),
                bytes_clipped: sums[6].value(i),
                duration_clipped_ms: sums[7].value(i),
                exact_duration_flows: ex(0, i),
                exact_duration_ms: ex(1, i),
            };
            t.entry((hour.value(i), *sc, *d, value.value(i).to_owned()))
                .or_default()
                .add(&bin);
        }
    }
    Ok(t)
}

/// "No value" in a signature (no user-agent, not HTTP).
const NONE: u32 = u32::MAX;

/// What a flow contributes to the tables, with its strings interned.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Sig {
    hour: u64,
    scope: u8,
    app: u32,
    category: u32,
    dst_country: u32,
    src_country: u32,
    role: u32,
    ua: u32,
    ct: u32,
    port: u16,
    guessed: bool,
    src_proxy: bool,
    dst_proxy: bool,
}

/// Builds the tables of many records cheaply: each record is reduced to
/// its signature (strings interned, one map update per record); the
/// tables' keys are made once per distinct signature by [`Accumulator::tables`].
/// The same tables as [`add`] for every record.
#[derive(Default)]
pub struct Accumulator {
    ids: std::collections::HashMap<String, u32, ahash::RandomState>,
    names: Vec<String>,
    sigs: std::collections::HashMap<Sig, Bin, ahash::RandomState>,
}

impl Accumulator {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.to_owned());
        self.ids.insert(s.to_owned(), i);
        i
    }

    /// Adds a stored row to the tables of its `granularity_ms` bin.
    pub fn add(&mut self, r: &Row, l: &Layout, granularity_ms: u64) {
        self.add_n(r, l, granularity_ms, 1);
    }

    /// Adds `n` flows stored as the same row.
    pub fn add_n(&mut self, r: &Row, l: &Layout, granularity_ms: u64, n: u64) {
        let g = granularity_ms.max(1);
        let (p, b, d) = (
            r.u(l, Col::BiPackets),
            r.u(l, Col::BiBytes),
            r.u(l, Col::BiDuration),
        );
        let failed = r.b(l, Col::Failed);
        let one = Bin {
            flows: n,
            failed_flows: n * u64::from(failed),
            packets: n * p,
            bytes: n * b,
            duration_ms: n * d,
            packets_clipped: n * p.min(PACKETS_CLIP),
            bytes_clipped: n * b.min(BYTES_CLIP),
            duration_clipped_ms: n * d.min(DURATION_CLIP_MS),
            exact_duration_flows: 0,
            exact_duration_ms: 0,
        };
        let app = r.s(l, Col::AppName);
        let master = app.split('.').next().unwrap_or("");
        let http = master == "HTTP" || master == "HTTP_Proxy";
        let opt = |a: &mut Accumulator, c: Col| match r.value(l, c) {
            crate::Value::S(v) if http => a.intern(v),
            _ => NONE,
        };
        let role = r.s(l, Col::TorRole);
        let t = r.u(l, Col::BiFirstSeen);
        let sig = Sig {
            hour: t - t % g,
            scope: SCOPES
                .iter()
                .position(|s| *s == scope_of(role, failed))
                .unwrap_or(0) as u8,
            app: self.intern(app),
            category: self.intern(r.s(l, Col::AppCategory)),
            dst_country: self.intern(r.s(l, Col::DstCountry)),
            src_country: self.intern(r.s(l, Col::SrcCountry)),
            role: self.intern(role),
            ua: opt(self, Col::UserAgent),
            ct: opt(self, Col::ContentType),
            port: r.u(l, Col::DstPort) as u16,
            guessed: r.b(l, Col::AppGuessed),
            src_proxy: r.b(l, Col::SrcIsProxy),
            dst_proxy: r.b(l, Col::DstIsProxy),
        };
        self.sigs.entry(sig).or_default().add(&one);
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.sigs.is_empty()
    }

    /// The tables of everything added.
    pub fn tables(&self) -> Tables {
        let mut t = Tables::new();
        let name = |i: u32| self.names[i as usize].clone();
        for (s, bin) in &self.sigs {
            let scope = SCOPES[usize::from(s.scope)];
            let mut put = |dim: &'static str, value: String| {
                t.entry((s.hour, scope, dim, value)).or_default().add(bin);
            };
            let port = s.port.to_string();
            put("total", "all".into());
            put("application", name(s.app));
            put("category", name(s.category));
            put("dst_country", name(s.dst_country));
            put("src_country", name(s.src_country));
            put("dst_port", port.clone());
            put(
                "dst_port_country",
                format!("{port}/{}", self.names[s.dst_country as usize]),
            );
            put("tor_role", name(s.role));
            put("guessed", u8::from(s.guessed).to_string());
            if s.src_proxy {
                put("proxy", "src".into());
            }
            if s.dst_proxy {
                put("proxy", "dst".into());
            }
            if s.ua != NONE {
                put("user_agent", name(s.ua));
            }
            if s.ct != NONE {
                put("content_type", name(s.ct));
            }
        }
        t
    }
}

/// A slice's exact durations are written only as its mean over at least
/// this many flows of one write (and at least k): an adversary who made
/// all but one of them would learn the last one's duration to the ms, so
/// the bar is far above k. A real exit's slice-hours hold thousands.
pub const EXACT_DURATION_MIN_FLOWS: u64 = 100;

/// Puts exact durations on the hour's `total` rows of `t`: for each slice,
/// `new` (this write's own flows, in memory) where they are at least
/// `min_flows` and complete, combined with `old` (the `(flows, ms)` the
/// replaced files' rows had); else `old`'s mean alone. A row gets a mean
/// times all its flows, never a count of the flows the mean is over (which
/// would give the hour's withheld rows, or where a write ended) nor a sum
/// that totals could complete.
pub fn put_exact_durations(
    t: &mut Tables,
    hour: u64,
    new: &[Option<crate::ExactSums>; 4],
    old: &[(u64, u64); 4],
    min_flows: u64,
) {
    for (i, scope) in SCOPES.iter().enumerate() {
        let Some(bin) = t.get_mut(&(hour, scope, "total", "all".to_owned())) else {
            continue;
        };
        if bin.flows == 0 {
            continue;
        }
        let (old_flows, old_ms) = old[i];
        let fresh = new[i].filter(|s| s.flows >= min_flows);
        let (flows, ms) = match fresh {
            Some(s) => {
                // Both means, weighted by the flows each stands for.
                let mean = (u128::from(old_ms) + u128::from(s.duration_ms))
                    / u128::from(old_flows + s.flows).max(1);
                (bin.flows, (mean * u128::from(bin.flows)) as u64)
            }
            // The replaced part's mean for every row: a count of the rows
            // it covered would show where one write ended (a review).
            None if old_flows > 0 => (
                bin.flows,
                (u128::from(old_ms) * u128::from(bin.flows) / u128::from(old_flows)) as u64,
            ),
            None => (0, 0),
        };
        bin.exact_duration_flows = flows;
        bin.exact_duration_ms = ms;
    }
}

/// Writes the tables to a Parquet file (created with [`crate::files::create_new`]).
pub fn write(path: &Path, t: &Tables, metadata: &[(String, String)]) -> Result<(), OutputError> {
    let pq = |source| OutputError::Parquet {
        path: path.to_owned(),
        source,
    };
    let u64s = |f: &dyn Fn(&Bin) -> u64| -> ArrayRef {
        Arc::new(UInt64Array::from_iter_values(t.values().map(f)))
    };
    let names = [
        cols::FLOWS,
        cols::FAILED,
        cols::PACKETS,
        cols::BYTES,
        cols::DURATION,
        cols::PACKETS_CLIPPED,
        cols::BYTES_CLIPPED,
        cols::DURATION_CLIPPED,
        cols::EXACT_DURATION_FLOWS,
        cols::EXACT_DURATION,
    ];
    let mut fields = vec![
        Field::new(cols::HOUR, DataType::UInt64, false),
        Field::new(cols::SCOPE, DataType::Utf8, false),
        Field::new(cols::DIMENSION, DataType::Utf8, false),
        Field::new(cols::VALUE, DataType::Utf8, false),
    ];
    fields.extend(
        names
            .iter()
            .map(|n| Field::new(*n, DataType::UInt64, false)),
    );
    let schema = Arc::new(Schema::new(fields));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::from_iter_values(t.keys().map(|k| k.0))),
        Arc::new(StringArray::from_iter_values(t.keys().map(|k| k.1))),
        Arc::new(StringArray::from_iter_values(t.keys().map(|k| k.2))),
        Arc::new(StringArray::from_iter_values(
            t.keys().map(|k| k.3.as_str()),
        )),
        u64s(&|b| b.flows),
        u64s(&|b| b.failed_flows),
        u64s(&|b| b.packets),
        u64s(&|b| b.bytes),
        u64s(&|b| b.duration_ms),
        u64s(&|b| b.packets_clipped),
        u64s(&|b| b.bytes_clipped),
        u64s(&|b| b.duration_clipped_ms),
        u64s(&|b| b.exact_duration_flows),
        u64s(&|b| b.exact_duration_ms),
    ];
    let batch =
        RecordBatch::try_new(schema.clone(), columns).map_err(|source| OutputError::Arrow {
            path: path.to_owned(),
            source,
        })?;
    let props = crate::writers::table_properties(metadata);
    let tmp = crate::files::temp_path(path);
    let file = crate::files::create_new(&tmp)?;
    let done = (|| {
        let mut w = ArrowWriter::try_new(file, schema, Some(props)).map_err(pq)?;
        w.write(&batch).map_err(pq)?;
        let f = w.into_inner().map_err(pq)?;
        f.sync_all().map_err(crate::io_err(&tmp))
    })();
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(crate::io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Record;
    use exitflow_flow::{EndReason, Flow};

    /// Grouping records by signature gives the sum of every record's own
    /// tables.
    #[test]
    fn the_accumulator_gives_the_tables_of_adding_each_record() {
        let mut by_add = Tables::new();
        let mut acc = Accumulator::default();
        let mut policy = crate::Policy::research();
        let l = policy.layout().clone();
        for i in 0..500u64 {
            let f = Flow::from_totals(
                i,
                6,
                ([0; 16], 40_000),
                ([0; 16], [443, 80, 5222, 25][(i % 4) as usize]),
                (i * 60_000, i * 60_000 + 10),
                (1 + i % 7, 100),
                (i % 3, 300),
                EndReason::Idle,
            );
            let mut r = Record::unlabelled(f);
            r.application_name = ["TLS", "HTTP", "XMPP", "HTTP.Google"][(i % 4) as usize].into();
            r.application_category_name = "Web".into();
            r.tor_role = ["exit", "relay"][(i % 2) as usize];
            r.dst_country = ["US", "NL", "CH"][(i % 3) as usize].into();
            r.user_agent = (i % 5 != 0).then(|| format!("ua{}", i % 3));
            r.content_type = (i % 2 == 0).then(|| "text/html".to_owned());
            r.src_is_proxy = i % 11 == 0;
            r.dst_is_proxy = i % 13 == 0;
            r.application_is_guessed = i % 6 == 0;
            let row = policy.store(r);
            add(&mut by_add, &row, &l, 3_600_000);
            acc.add(&row, &l, 3_600_000);
        }
        assert_eq!(acc.tables(), by_add);
        assert!(!acc.is_empty());
    }
}
