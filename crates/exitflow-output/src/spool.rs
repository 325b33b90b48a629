//! Rows held until their time bucket (an hour) is complete: in memory up
//! to a cap, beyond it in chunk files encrypted with a key that exists only
//! in this process's memory (AES-256-GCM). A bucket is read back as one
//! uniformly shuffled stream: each chunk is shuffled before it is written,
//! and the chunks and the rows still in memory are interleaved at random
//! in proportion to what each has left, which gives every order of the
//! bucket's rows the same chance.
//!
//! A killed process leaves chunk files no one can read (the key died with
//! it); the next start removes them.
use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};

use crate::row::Row;
use crate::{OutputError, io_err};

/// Rows a spool keeps in memory before it spills a bucket to disk.
pub const DEFAULT_SPOOL_MEMORY_ROWS: usize = 32_768;
/// Bytes of encoded rows per encrypted frame of a chunk file.
pub const SPILL_FRAME_BYTES: usize = 1 << 18;
/// Prefix of a chunk file (hidden: no dataset reader looks at it).
pub const SPILL_PREFIX: &str = ".spill-";
/// Bytes of an AES-GCM nonce.
const NONCE_BYTES: usize = 12;

/// A uniform random generator seeded by the operating system (xorshift64*;
/// only orders depend on it, never a secret).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new() -> Rng {
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).expect("the operating system's random generator");
        Rng(u64::from_le_bytes(seed) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (multiply-shift; bias below 2^-40 for any n a
    /// spool sees).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Shuffles in place (Fisher-Yates).
    pub(crate) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

struct Chunk {
    path: PathBuf,
    rows: usize,
}

#[derive(Default)]
struct Bucket {
    mem: Vec<Row>,
    chunks: Vec<Chunk>,
}

impl Bucket {
    fn rows(&self) -> usize {
        self.mem.len() + self.chunks.iter().map(|c| c.rows).sum::<usize>()
    }
}

/// Rows held per bucket, in memory and in encrypted chunks.
pub struct Spool {
    dir: PathBuf,
    cipher: Aes256Gcm,
    nonce: u64,
    width: usize,
    buckets: BTreeMap<u64, Bucket>,
    mem_rows: usize,
    mem_cap: usize,
    hard_cap: usize,
    rng: Rng,
    /// Rows written to chunk files.
    pub spilled_rows: u64,
    /// Chunk files written.
    pub spill_files: u64,
    /// Spills that failed (the rows stayed in memory).
    pub spill_errors: u64,
}

impl Drop for Spool {
    fn drop(&mut self) {
        for b in self.buckets.values() {
            for c in &b.chunks {
                let _ = std::fs::remove_file(&c.path);
            }
        }
    }
}

impl Spool {
    /// A spool of rows of `width` cells spilling into `dir`, keeping
    /// `mem_cap` rows in memory; while spilling fails (a full disk) it keeps
    /// up to `hard_cap` rows in memory and refuses more.
    pub fn new(dir: &Path, width: usize, mem_cap: usize, hard_cap: usize) -> Spool {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random generator");
        let cipher = Aes256Gcm::new(&key.into());
        key.fill(0);
        Spool {
            dir: dir.to_owned(),
            cipher,
            nonce: 0,
            width,
            buckets: BTreeMap::new(),
            mem_rows: 0,
            // Never more in memory than may be held at all.
            mem_cap: mem_cap.min(hard_cap).max(1),
            hard_cap: hard_cap.max(1),
            rng: Rng::new(),
            spilled_rows: 0,
            spill_files: 0,
            spill_errors: 0,
        }
    }

    /// Rows held (memory and disk).
    pub fn len(&self) -> usize {
        self.buckets.values().map(Bucket::rows).sum()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Rows held in memory.
    pub fn mem_rows(&self) -> usize {
        self.mem_rows
    }

    /// The buckets held, oldest first.
    pub fn buckets(&self) -> Vec<u64> {
        self.buckets.keys().copied().collect()
    }

    /// Rows held in one bucket.
    pub fn bucket_len(&self, bucket: u64) -> usize {
        self.buckets.get(&bucket).map_or(0, Bucket::rows)
    }

    /// Holds `row` in `bucket`; gives it back when the spool is full (over
    /// the memory cap with spilling failing, and at the hard cap).
    pub fn push(&mut self, bucket: u64, row: Row) -> Result<(), Row> {
        if self.mem_rows >= self.mem_cap && self.spill_largest().is_err() {
            self.spill_errors += 1;
            if self.mem_rows >= self.hard_cap {
                return Err(row);
            }
        }
        self.buckets.entry(bucket).or_default().mem.push(row);
        self.mem_rows += 1;
        Ok(())
    }

    /// Writes the bucket with the most rows in memory to a chunk file.
    fn spill_largest(&mut self) -> Result<(), OutputError> {
        let Some((&b, _)) = self.buckets.iter().max_by_key(|(_, b)| b.mem.len()) else {
            return Ok(());
        };
        let mut rows = std::mem::take(&mut self.buckets.get_mut(&b).expect("found").mem);
        self.rng.shuffle(&mut rows);
        match self.write_chunk(&rows) {
            Ok(path) => {
                self.mem_rows -= rows.len();
                self.spilled_rows += rows.len() as u64;
                self.spill_files += 1;
                let bucket = self.buckets.get_mut(&b).expect("found");
                bucket.chunks.push(Chunk {
                    path,
                    rows: rows.len(),
                });
                Ok(())
            }
            Err(e) => {
                self.buckets.get_mut(&b).expect("found").mem = rows;
                Err(e)
            }
        }
    }

    fn write_chunk(&mut self, rows: &[Row]) -> Result<PathBuf, OutputError> {
        std::fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let name = format!(
            "{SPILL_PREFIX}{}.{}.tmp",
            crate::files::random_hex(8),
            std::process::id()
        );
        let path = self.dir.join(name);
        let file = crate::files::create_new(&path)?;
        let done = (|| {
            let mut w = BufWriter::new(file);
            let mut frame = Vec::with_capacity(SPILL_FRAME_BYTES + 4096);
            let mut in_frame = 0u32;
            for (i, r) in rows.iter().enumerate() {
                r.encode(&mut frame);
                in_frame += 1;
                if frame.len() >= SPILL_FRAME_BYTES || i + 1 == rows.len() {
                    self.write_frame(&mut w, in_frame, &frame, &path)?;
                    frame.clear();
                    in_frame = 0;
                }
            }
            w.flush().map_err(io_err(&path))
        })();
        match done {
            Ok(()) => Ok(path),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(e)
            }
        }
    }

    fn write_frame(
        &mut self,
        w: &mut impl Write,
        rows: u32,
        plain: &[u8],
        path: &Path,
    ) -> Result<(), OutputError> {
        self.nonce += 1;
        let mut nonce = [0u8; NONCE_BYTES];
        nonce[..8].copy_from_slice(&self.nonce.to_le_bytes());
        let mut msg = Vec::with_capacity(plain.len() + 4);
        msg.extend_from_slice(&rows.to_le_bytes());
        msg.extend_from_slice(plain);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), msg.as_slice())
            .map_err(|_| io_err(path)(std::io::Error::other("encryption failed")))?;
        w.write_all(&(sealed.len() as u32).to_le_bytes())
            .and_then(|()| w.write_all(&nonce))
            .and_then(|()| w.write_all(&sealed))
            .map_err(io_err(path))
    }

    /// Calls `f` on every row of `bucket`, in no particular order.
    pub fn for_each(&self, bucket: u64, mut f: impl FnMut(&Row)) -> Result<(), OutputError> {
        let Some(b) = self.buckets.get(&bucket) else {
            return Ok(());
        };
        b.mem.iter().for_each(&mut f);
        for c in &b.chunks {
            let mut r = ChunkReader::open(&c.path, self.width)?;
            while let Some(row) = r.next_row(&self.cipher)? {
                f(&row);
            }
        }
        Ok(())
    }

    /// The rows of `buckets`, together, in a uniformly random order (rows
    /// in memory are lent, not copied). Nothing is removed:
    /// [`Spool::remove`] once they are written.
    pub fn shuffled(&mut self, buckets: &[u64]) -> Result<Shuffled<'_>, OutputError> {
        for b in buckets {
            if let Some(b) = self.buckets.get_mut(b) {
                self.rng.shuffle(&mut b.mem);
            }
        }
        let mut sources = Vec::new();
        for b in buckets {
            if let Some(b) = self.buckets.get(b) {
                if !b.mem.is_empty() {
                    sources.push((Source::Mem(b.mem.iter()), b.mem.len()));
                }
                for c in &b.chunks {
                    sources.push((
                        Source::Chunk(Box::new(ChunkReader::open(&c.path, self.width)?)),
                        c.rows,
                    ));
                }
            }
        }
        let left = sources.iter().map(|s| s.1).sum();
        Ok(Shuffled {
            cipher: &self.cipher,
            rng: Rng::new(),
            sources,
            left,
        })
    }

    /// Drops a bucket (written, or given up), removing its chunk files.
    pub fn remove(&mut self, bucket: u64) {
        if let Some(b) = self.buckets.remove(&bucket) {
            self.mem_rows -= b.mem.len();
            for c in b.chunks {
                let _ = std::fs::remove_file(&c.path);
            }
        }
    }
}

/// A row from a [`Shuffled`] stream: lent from memory, or read back from
/// a chunk.
pub enum HeldRow<'a> {
    /// A row in memory.
    Lent(&'a Row),
    /// A row read back from disk.
    Read(Row),
}

impl std::ops::Deref for HeldRow<'_> {
    type Target = Row;
    fn deref(&self) -> &Row {
        match self {
            HeldRow::Lent(r) => r,
            HeldRow::Read(r) => r,
        }
    }
}

enum Source<'a> {
    Mem(std::slice::Iter<'a, Row>),
    Chunk(Box<ChunkReader>),
}

/// A bucket's rows in a random order ([`Spool::shuffled`]).
pub struct Shuffled<'a> {
    cipher: &'a Aes256Gcm,
    rng: Rng,
    /// Each source (memory rows already shuffled, chunks shuffled when
    /// written) and the rows it has left.
    sources: Vec<(Source<'a>, usize)>,
    left: usize,
}

impl Shuffled<'_> {
    /// Rows not yet returned.
    pub fn len(&self) -> usize {
        self.left
    }

    /// Whether every row was returned.
    pub fn is_empty(&self) -> bool {
        self.left == 0
    }
}

impl<'a> Iterator for Shuffled<'a> {
    type Item = Result<HeldRow<'a>, OutputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        // A source is drawn in proportion to the rows it has left: with
        // each source in a uniform order, the interleaving is uniform too.
        let mut pick = self.rng.below(self.left as u64) as usize;
        self.left -= 1;
        for (source, n) in &mut self.sources {
            if pick >= *n {
                pick -= *n;
                continue;
            }
            *n -= 1;
            return Some(match source {
                Source::Mem(it) => it
                    .next()
                    .map(HeldRow::Lent)
                    .ok_or_else(|| OutputError::Policy("spool: rows in memory ended early".into())),
                Source::Chunk(reader) => match reader.next_row(self.cipher) {
                    Ok(Some(r)) => Ok(HeldRow::Read(r)),
                    Ok(None) => Err(io_err(&reader.path)(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "spool chunk ended early",
                    ))),
                    Err(e) => Err(e),
                },
            });
        }
        None
    }
}

struct ChunkReader {
    path: PathBuf,
    file: BufReader<std::fs::File>,
    width: usize,
    frame: Vec<u8>,
    at: usize,
    rows_left: u32,
}

impl ChunkReader {
    fn open(path: &Path, width: usize) -> Result<ChunkReader, OutputError> {
        let file = std::fs::File::open(path).map_err(io_err(path))?;
        Ok(ChunkReader {
            path: path.to_owned(),
            file: BufReader::new(file),
            width,
            frame: Vec::new(),
            at: 0,
            rows_left: 0,
        })
    }

    fn next_row(&mut self, cipher: &Aes256Gcm) -> Result<Option<Row>, OutputError> {
        let bad = |why: &str| {
            io_err(&self.path)(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                why.to_owned(),
            ))
        };
        if self.rows_left == 0 {
            let mut len = [0u8; 4];
            match self.file.read_exact(&mut len) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
                Err(e) => return Err(io_err(&self.path)(e)),
            }
            let len = u32::from_le_bytes(len) as usize;
            if len > 4 * SPILL_FRAME_BYTES {
                return Err(bad("spool frame too large"));
            }
            let mut nonce = [0u8; NONCE_BYTES];
            let mut sealed = vec![0u8; len];
            self.file
                .read_exact(&mut nonce)
                .and_then(|()| self.file.read_exact(&mut sealed))
                .map_err(io_err(&self.path))?;
            let plain = cipher
                .decrypt(Nonce::from_slice(&nonce), sealed.as_slice())
                .map_err(|_| bad("spool frame does not authenticate"))?;
            if plain.len() < 4 {
                return Err(bad("spool frame too short"));
            }
            self.rows_left = u32::from_le_bytes(plain[..4].try_into().expect("4 bytes"));
            self.frame = plain;
            self.at = 4;
        }
        let mut s = &self.frame[self.at..];
        let row = Row::decode(&mut s, self.width).ok_or_else(|| bad("spool row is corrupt"))?;
        self.at = self.frame.len() - s.len();
        self.rows_left -= 1;
        Ok(Some(row))
    }
}

/// Removes the chunk files a killed process left in `dir` (unreadable:
/// their key is gone).
pub fn remove_stale_chunks(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(SPILL_PREFIX) {
            continue;
        }
        let alive = crate::files::temp_pid(&name)
            .is_some_and(|pid| pid != 0 && Path::new(&format!("/proc/{pid}")).exists());
        if !alive && std::fs::remove_file(e.path()).is_ok() {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::Cell;

    fn row(i: u64) -> Row {
        Row::new(vec![Cell::U(i), Cell::S(format!("v{i}").into())])
    }

    fn ids(s: Shuffled<'_>) -> Vec<u64> {
        s.map(|r| match r.unwrap().cells()[0] {
            Cell::U(v) => v,
            _ => unreachable!(),
        })
        .collect()
    }

    /// Past the memory cap rows go to encrypted files holding none of the
    /// rows' bytes; every row comes back once, and the files go with the
    /// bucket.
    #[test]
    fn spilled_rows_are_encrypted_and_come_back_once() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Spool::new(d.path(), 2, 100, 1000);
        for i in 0..1050 {
            s.push(i % 2, row(i)).unwrap();
        }
        assert!(s.mem_rows() <= 100);
        assert!(s.spill_files >= 9, "{}", s.spill_files);
        for e in std::fs::read_dir(d.path()).unwrap() {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            assert!(
                !bytes.windows(4).any(|w| w == b"v100"),
                "plain text spilled"
            );
        }
        let mut got = ids(s.shuffled(&[0]).unwrap());
        got.sort();
        assert_eq!(got, (0..1050).filter(|i| i % 2 == 0).collect::<Vec<_>>());
        let mut seen = 0;
        s.for_each(1, |_| seen += 1).unwrap();
        assert_eq!(seen, 525);
        s.remove(0);
        s.remove(1);
        assert!(s.is_empty());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }

    /// The shuffled stream is a uniform order: over many draws, each row
    /// is first about equally often, whether it spilled or stayed.
    #[test]
    fn the_order_is_uniform_across_memory_and_chunks() {
        let d = tempfile::tempdir().unwrap();
        let mut first = [0u32; 12];
        for _ in 0..3000 {
            let mut s = Spool::new(d.path(), 2, 4, 100);
            for i in 0..12 {
                s.push(0, row(i)).unwrap();
            }
            first[ids(s.shuffled(&[0]).unwrap())[0] as usize] += 1;
        }
        // 250 expected each; a 5-sigma band.
        assert!(first.iter().all(|&n| (170..=330).contains(&n)), "{first:?}");
    }

    #[test]
    fn when_spilling_fails_rows_are_held_to_the_hard_cap_then_refused() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let mut s = Spool::new(&file, 2, 10, 20);
        for i in 0..20 {
            s.push(0, row(i)).unwrap();
        }
        assert!(s.push(0, row(99)).is_err());
        assert!(s.spill_errors > 0);
        assert_eq!(s.len(), 20);
    }

    #[test]
    fn a_tampered_chunk_is_an_error_naming_it() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Spool::new(d.path(), 2, 2, 10);
        for i in 0..5 {
            s.push(0, row(i)).unwrap();
        }
        for e in std::fs::read_dir(d.path()).unwrap() {
            let p = e.unwrap().path();
            let mut b = std::fs::read(&p).unwrap();
            let n = b.len();
            b[n - 1] ^= 1;
            std::fs::write(&p, b).unwrap();
        }
        let err = crate::error_chain(&s.for_each(0, |_| {}).unwrap_err());
        assert!(
            err.contains(SPILL_PREFIX) && err.contains("authenticate"),
            "{err}"
        );
    }
}
