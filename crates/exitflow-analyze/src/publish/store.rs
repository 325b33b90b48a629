//! Where releases live: each node's `_releases/` directory holds one file
//! per released unit and a ledger of them all, and each day directory a
//! released unit covers says so (`_released`), so that a copy of the data
//! carries its release history with it.
//!
//! A unit is released once: the ledger is written before the unit's file
//! (the budget is spent even if the file is then lost), and a dataset whose
//! ledger is missing, unreadable or does not match its files is refused.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::units::UnitRelease;
use crate::AnalyzeError;

/// The directory, in a node's directory.
pub const RELEASES_DIR: &str = "_releases";
/// The ledger's file name in it.
pub const LEDGER_FILE: &str = "ledger.json";
/// The lock taken while releasing.
pub const LOCK_FILE: &str = ".lock";
/// The marker in each released day's directory.
pub const DAY_MARKER: &str = exitflow_output::layout::RELEASED_MARKER;
/// Version of the ledger's format.
pub const LEDGER_FORMAT: u32 = 1;

/// One release, as the ledger lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// First day (`YYYY-MM-DD`).
    pub unit: String,
    /// Days.
    pub days: u32,
    /// Start (ms, inclusive).
    pub start_ms: u64,
    /// End (ms, exclusive).
    pub end_ms: u64,
    /// ε spent on each of its days.
    pub epsilon: f64,
    /// Flows of one client protected.
    pub action_bound: u32,
    /// Noise values drawn.
    pub draws: u64,
    /// The unit's file in `_releases/`.
    pub file: String,
    /// SHA-256 of that file, hex.
    pub sha256: String,
}

/// A node's ledger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// [`LEDGER_FORMAT`].
    pub format: u32,
    /// The node.
    pub node: String,
    /// ε any one day of the node may have spent, over all releases.
    pub budget_per_day: f64,
    /// Every release, oldest first.
    pub releases: Vec<Entry>,
}

/// A node's releases, verified against its ledger, under a lock.
pub struct NodeStore {
    dir: PathBuf,
    node_dir: PathBuf,
    /// The ledger.
    pub ledger: Ledger,
    /// The released units by their first day.
    pub units: BTreeMap<String, UnitRelease>,
    _lock: std::fs::File,
}

fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Where a unit waits while its release is recorded.
fn pending_name(file: &str) -> String {
    format!(".pending-{file}")
}

/// Makes the directory's entries (renames) durable.
fn sync_dir(dir: &Path) -> Result<(), AnalyzeError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

/// The file name of a unit.
pub fn unit_file(unit: &str, days: u32) -> String {
    format!("{unit}+{days}d.json")
}

fn bad(path: &Path, reason: impl Into<String>) -> AnalyzeError {
    AnalyzeError::Ledger {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> AnalyzeError + '_ {
    move |source| AnalyzeError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The `date=` directories of a node with a release marker: (date, units).
fn markers(node_dir: &Path) -> Result<Vec<(PathBuf, Vec<String>)>, AnalyzeError> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(node_dir) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io(node_dir)(e)),
    };
    for e in entries {
        let p = e.map_err(io(node_dir))?.path();
        let is_day = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(exitflow_output::layout::DATE_PREFIX));
        let m = p.join(DAY_MARKER);
        if is_day && m.is_file() {
            let text = std::fs::read_to_string(&m).map_err(io(&m))?;
            out.push((m, text.lines().map(str::to_owned).collect()));
        }
    }
    out.sort();
    Ok(out)
}

impl NodeStore {
    /// Opens (and locks) a node's releases, verifying them. `budget` is the
    /// configured ε per day: it may lower the ledger's, never raise it.
    pub fn open(node_dir: &Path, node: &str, budget: f64) -> Result<NodeStore, AnalyzeError> {
        let dir = node_dir.join(RELEASES_DIR);
        let ledger_path = dir.join(LEDGER_FILE);
        // The lock is taken before anything is read, and held until the
        // store is dropped: two reports cannot both find a day unreleased.
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let lock = Self::lock(&dir)?;
        let marked = markers(node_dir)?;
        let text = match std::fs::read(&ledger_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some((m, units)) = marked.first() {
                    return Err(bad(
                        &ledger_path,
                        format!(
                            "missing, but {} says unit(s) {} of this node were released: this is a copy without its release history; copy the node's {RELEASES_DIR}/ with it",
                            m.display(),
                            units.join(", ")
                        ),
                    ));
                }
                if let Some(f) = Self::release_files(&dir)?.first() {
                    return Err(bad(
                        &ledger_path,
                        format!(
                            "missing while {} exists: the releases cannot be accounted for (restore the ledger from the dataset's original)",
                            f.display()
                        ),
                    ));
                }
                return Ok(NodeStore {
                    dir,
                    node_dir: node_dir.to_owned(),
                    ledger: Ledger {
                        format: LEDGER_FORMAT,
                        node: node.to_owned(),
                        budget_per_day: budget,
                        releases: Vec::new(),
                    },
                    units: BTreeMap::new(),
                    _lock: lock,
                });
            }
            Err(e) => return Err(io(&ledger_path)(e)),
        };
        let mut ledger: Ledger = serde_json::from_slice(&text)
            .map_err(|e| bad(&ledger_path, format!("not a ledger: {e}")))?;
        if ledger.format != LEDGER_FORMAT {
            return Err(bad(
                &ledger_path,
                format!("format {} is not {LEDGER_FORMAT}", ledger.format),
            ));
        }
        if ledger.node != node {
            return Err(bad(
                &ledger_path,
                format!(
                    "the ledger is node {:?}'s, found in node {node:?}'s directory",
                    ledger.node
                ),
            ));
        }
        if !(ledger.budget_per_day > 0.0 && ledger.budget_per_day.is_finite()) {
            return Err(bad(&ledger_path, "its budget is not a positive number"));
        }
        if budget > ledger.budget_per_day + 1e-12 {
            return Err(bad(
                &ledger_path,
                format!(
                    "the dataset's budget is ε = {} per node-day; it cannot be raised to {budget}",
                    ledger.budget_per_day
                ),
            ));
        }
        ledger.budget_per_day = budget;
        let mut units = BTreeMap::new();
        for e in &ledger.releases {
            let p = dir.join(&e.file);
            let b = match std::fs::read(&p) {
                Ok(b) => b,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    // A crash between the ledger and the rename: the unit
                    // waits under its pending name, complete and synced.
                    let pending = dir.join(pending_name(&e.file));
                    let b = std::fs::read(&pending).map_err(|_| {
                        bad(&p, format!("listed in the ledger but missing ({err}): the release is lost, its budget spent"))
                    })?;
                    if sha256_hex(&b) == e.sha256 {
                        std::fs::rename(&pending, &p).map_err(io(&p))?;
                        sync_dir(&dir)?;
                    }
                    b
                }
                Err(err) => return Err(io(&p)(err)),
            };
            if sha256_hex(&b) != e.sha256 {
                return Err(bad(
                    &p,
                    "does not match the ledger's SHA-256: the release was changed",
                ));
            }
            let u = UnitRelease::parse(&b)
                .map_err(|err| bad(&p, format!("not a unit release: {err}")))?;
            if u.unit != e.unit
                || u.days != e.days
                || u.node != node
                || u.draws != e.draws
                || (u.start_ms, u.end_ms) != (e.start_ms, e.end_ms)
                || u.epsilon.to_bits() != e.epsilon.to_bits()
            {
                return Err(bad(
                    &p,
                    "its unit, period, node, ε or draws differ from the ledger's",
                ));
            }
            if units.insert(e.unit.clone(), u).is_some() {
                return Err(bad(
                    &ledger_path,
                    format!("unit {} is listed twice", e.unit),
                ));
            }
        }
        for f in Self::release_files(&dir)? {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !ledger.releases.iter().any(|e| e.file == name) {
                return Err(bad(&f, "a release the ledger does not list"));
            }
        }
        for (m, listed) in &marked {
            for u in listed {
                if !units.contains_key(u) {
                    return Err(bad(
                        m,
                        format!("says unit {u} was released, but the ledger does not list it"),
                    ));
                }
            }
        }
        let store = NodeStore {
            dir,
            node_dir: node_dir.to_owned(),
            ledger,
            units,
            _lock: lock,
        };
        for e in &store.ledger.releases {
            let mut d = e.start_ms;
            while d < e.end_ms {
                let spent = store.spent(d);
                if spent > store.ledger.budget_per_day + 1e-9 {
                    return Err(bad(
                        &ledger_path,
                        format!(
                            "day {} has spent ε = {spent}, over the budget of {}",
                            exitflow_output::dataset::utc_date(d),
                            store.ledger.budget_per_day
                        ),
                    ));
                }
                d += super::DAY_MS;
            }
        }
        Ok(store)
    }

    /// The files of `_releases/` that hold (or would hold) a release: all
    /// but the ledger, the lock and pending files.
    fn release_files(dir: &Path) -> Result<Vec<PathBuf>, AnalyzeError> {
        let mut out = Vec::new();
        for f in std::fs::read_dir(dir).map_err(io(dir))? {
            let f = f.map_err(io(dir))?;
            let name = f.file_name().to_string_lossy().into_owned();
            if name == LEDGER_FILE || name == LOCK_FILE || name.starts_with('.') {
                continue;
            }
            out.push(f.path());
        }
        out.sort();
        Ok(out)
    }

    fn lock(dir: &Path) -> Result<std::fs::File, AnalyzeError> {
        let p = dir.join(LOCK_FILE);
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io(&p))?;
        f.try_lock().map_err(|_| {
            bad(
                &p,
                "another report is releasing this node's units; try again when it is done",
            )
        })?;
        Ok(f)
    }

    /// ε spent on the day starting at `day_ms`.
    pub fn spent(&self, day_ms: u64) -> f64 {
        self.ledger
            .releases
            .iter()
            .filter(|e| e.start_ms <= day_ms && day_ms < e.end_ms)
            .map(|e| e.epsilon)
            .sum()
    }

    /// Checks that a unit over `[start, end)` at `epsilon` fits the budget.
    pub fn check_budget(
        &self,
        start_ms: u64,
        end_ms: u64,
        epsilon: f64,
    ) -> Result<(), AnalyzeError> {
        let mut d = start_ms;
        while d < end_ms {
            let spent = self.spent(d);
            if spent + epsilon > self.ledger.budget_per_day + 1e-9 {
                return Err(AnalyzeError::Budget {
                    node: self.ledger.node.clone(),
                    day: exitflow_output::dataset::utc_date(d),
                    spent,
                    asked: epsilon,
                    budget: self.ledger.budget_per_day,
                });
            }
            d += super::DAY_MS;
        }
        Ok(())
    }

    /// Records a release: the ledger first (the budget is spent from then
    /// on), then the unit's file, then each covered day's marker.
    pub fn record(&mut self, u: UnitRelease) -> Result<(), AnalyzeError> {
        self.check_budget(u.start_ms, u.end_ms, u.epsilon)?;
        if self.units.contains_key(&u.unit) {
            return Err(bad(
                &self.dir,
                format!("unit {} is already released", u.unit),
            ));
        }
        let body = serde_json::to_vec_pretty(&u).expect("a release serialises");
        let file = unit_file(&u.unit, u.days);
        self.ledger.releases.push(Entry {
            unit: u.unit.clone(),
            days: u.days,
            start_ms: u.start_ms,
            end_ms: u.end_ms,
            epsilon: u.epsilon,
            action_bound: u.action_bound,
            draws: u.draws,
            file: file.clone(),
            sha256: sha256_hex(&body),
        });
        let ledger_path = self.dir.join(LEDGER_FILE);
        let write = |p: &Path, b: &[u8]| {
            exitflow_output::files::write_atomic(p, b).map_err(|e| {
                bad(
                    p,
                    format!("not written: {}", exitflow_output::error_chain(&e)),
                )
            })
        };
        // The unit first under a pending name, then the ledger (from then
        // on the budget is spent), then the unit under its name: a crash
        // anywhere leaves either no release or one the next run completes.
        let pending = self.dir.join(pending_name(&file));
        write(&pending, &body)?;
        write(
            &ledger_path,
            &serde_json::to_vec_pretty(&self.ledger).expect("a ledger serialises"),
        )?;
        std::fs::rename(&pending, self.dir.join(&file)).map_err(io(&pending))?;
        sync_dir(&self.dir)?;
        let mut d = u.start_ms;
        while d < u.end_ms {
            let day = exitflow_output::layout::date_dir(
                &self.node_dir,
                &exitflow_output::dataset::utc_date(d),
            );
            if day.is_dir() {
                let m = day.join(DAY_MARKER);
                let mut text = std::fs::read_to_string(&m).unwrap_or_default();
                text.push_str(&u.unit);
                text.push('\n');
                write(&m, text.as_bytes())?;
            }
            d += super::DAY_MS;
        }
        self.units.insert(u.unit.clone(), u);
        Ok(())
    }
}
