//! One capture's flow table (`exitflow flows`), written as the policy says:
//! under `research` rows stream into the file as flows end; under
//! `default` every row is held (past a cap, in encrypted chunks), each
//! hour's rows are made k-anonymous ([`crate::kanon`]), and the whole table
//! is written in one uniformly random order with a file time no finer than
//! the profile's — so neither the order of rows nor the file tells when a
//! flow came. `strict` writes no per-flow table at all.
use std::path::{Path, PathBuf};

use crate::OutputError;
use crate::policy::Policy;
use crate::row::Row;
use crate::schema::Col;
use crate::spool::Spool;
use crate::writers::{FlowWriter, Format};

/// A flow table being written.
pub struct FlowTable {
    writer: FlowWriter,
    policy: Policy,
    spool: Option<Spool>,
    /// Rows written generalised (k-anonymity).
    pub generalised_rows: u64,
    /// Rows not written (no k-1 others shared them, even generalised).
    pub suppressed_rows: u64,
}

impl FlowTable {
    /// Creates `path` (through a temporary file) for rows stored by
    /// `policy`; its metadata is stored in Parquet files. An error under a
    /// profile that writes no per-flow rows.
    pub fn create(path: &Path, format: Format, policy: &Policy) -> Result<FlowTable, OutputError> {
        if policy.aggregates_only {
            return Err(OutputError::Policy(format!(
                "the {} profile writes no per-flow rows: use `exitflow ingest`, which writes its hourly aggregate tables",
                policy.profile.as_str()
            )));
        }
        let writer =
            FlowWriter::create(path, format, policy.layout(), &policy.file_metadata(None))?;
        let spool = policy.holds_hours().then(|| {
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            Spool::new(
                dir,
                policy.layout().cols().len(),
                crate::spool::DEFAULT_SPOOL_MEMORY_ROWS,
                crate::dataset::DEFAULT_MAX_HELD_ROWS,
            )
        });
        Ok(FlowTable {
            writer,
            policy: policy.clone(),
            spool,
            generalised_rows: 0,
            suppressed_rows: 0,
        })
    }

    /// Takes one row.
    pub fn push(&mut self, r: Row) -> Result<(), OutputError> {
        let g = self.policy.time_granularity_ms.max(1);
        match &mut self.spool {
            None => self.writer.write(&r),
            Some(s) => {
                let t = r.u(self.policy.layout(), Col::BiFirstSeen);
                s.push(t - t % g, r)
                    .map_err(|_| OutputError::Full { rows: s.len() })
            }
        }
    }

    /// Writes what is held and completes the file.
    pub fn finish(mut self) -> Result<PathBuf, OutputError> {
        let Some(mut spool) = self.spool.take() else {
            return self.writer.finish();
        };
        let l = self.policy.layout().clone();
        let g = self.policy.time_granularity_ms.max(1);
        let buckets = spool.buckets();
        let res = (|| {
            let mut gens = std::collections::HashMap::new();
            if self.policy.k_anonymity > 1 {
                for &b in &buckets {
                    gens.insert(
                        b,
                        crate::kanon::Generaliser::build(&spool, b, &l, self.policy.k_anonymity)?,
                    );
                }
            }
            for row in spool.shuffled(&buckets)? {
                let mut row = row?;
                let t = row.u(&l, Col::BiFirstSeen);
                if let Some(k) = gens.get(&(t - t % g)) {
                    match k.map(&row) {
                        crate::kanon::Mapped::Same => {}
                        crate::kanon::Mapped::Generalised(r) => {
                            row = crate::spool::HeldRow::Read(r);
                            self.generalised_rows += 1;
                        }
                        crate::kanon::Mapped::Suppressed => {
                            self.suppressed_rows += 1;
                            continue;
                        }
                    }
                }
                self.writer.write(&row)?;
            }
            Ok::<(), OutputError>(())
        })();
        for b in buckets {
            spool.remove(b);
        }
        match res {
            Ok(()) => {
                let path = self.writer.finish()?;
                crate::files::coarsen_mtime(&path, g)?;
                Ok(path)
            }
            Err(e) => {
                self.writer.abort();
                Err(e)
            }
        }
    }

    /// Abandons the file (and every held row).
    pub fn abort(self) {
        self.writer.abort();
    }
}
