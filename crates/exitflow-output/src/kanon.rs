//! k-anonymity within a node-hour: before an hour is written, every row
//! must share all its stored columns with at least k-1 other rows of the
//! hour. Rows of rarer combinations are generalised, column by column, the
//! least useful column first (durations, bytes and packets to coarser
//! power-of-two buckets; the user-agent to its family, then `Other`; the
//! content type to `other`; countries to `ZZ`; the port to 0; the
//! application to its master protocol, then `Unknown`), only as far as
//! needed and only for the rows that need it (local recoding). A row that
//! even fully generalised shares its columns with fewer than k-1 others is
//! not written (suppressed, and counted).
//!
//! The work is on the hour's distinct rows and their counts, not on every
//! row, so an hour spilled to disk is read twice (count, then write).
use std::collections::HashMap;
use std::sync::Arc;

use crate::OutputError;
use crate::row::{Cell, Layout, Row};
use crate::schema::Col;
use crate::spool::Spool;

/// What a country becomes once generalised (ISO 3166's user-assigned
/// "unknown or unspecified" code).
pub const COUNTRY_GENERALISED: &str = "ZZ";
/// What a content type becomes once generalised.
pub const CONTENT_TYPE_GENERALISED: &str = "other";
/// What a user-agent becomes once generalised past its family.
pub const USER_AGENT_GENERALISED: &str = "Other";
/// What a port becomes once generalised.
pub const PORT_GENERALISED: u64 = 0;
/// What an application becomes once generalised past its master protocol.
pub const APP_GENERALISED: &str = "Unknown";

/// Columns in the order they are generalised, with their number of
/// levels beyond the stored value.
const ORDER: [(Col, u8); 9] = [
    (Col::BiDuration, 6),
    (Col::BiBytes, 6),
    (Col::BiPackets, 6),
    (Col::UserAgent, 2),
    (Col::ContentType, 1),
    (Col::SrcCountry, 1),
    (Col::DstCountry, 1),
    (Col::DstPort, 1),
    (Col::AppName, 2),
];

/// A power-of-two bucket at generalisation level `level`: level 1 keeps
/// powers of 4, 2 of 16, 3 of 256, ..., 6 only 1 (or 0).
fn coarser(v: u64, level: u8) -> u64 {
    if v == 0 {
        return 0;
    }
    let e = 63 - v.leading_zeros();
    let step = 1u32 << level;
    1 << (e - e % step)
}

/// The cell of column `c` at `level` (0: as stored).
fn generalise(c: Col, cell: &Cell, level: u8) -> Cell {
    if level == 0 {
        return cell.clone();
    }
    let s = |v: &str| Cell::S(Arc::from(v));
    match (c, cell) {
        (Col::BiDuration | Col::BiBytes | Col::BiPackets, Cell::U(v)) => {
            Cell::U(coarser(*v, level))
        }
        (_, Cell::Null) => Cell::Null,
        (Col::UserAgent, x) if level == 1 => {
            let v = x.as_str().unwrap_or("");
            match v.rsplit_once(' ') {
                Some((fam, major)) if major.bytes().all(|b| b.is_ascii_digit()) => s(fam),
                _ => x.clone(),
            }
        }
        (Col::UserAgent, _) => s(USER_AGENT_GENERALISED),
        (Col::ContentType, _) => s(CONTENT_TYPE_GENERALISED),
        (Col::SrcCountry, x)
            if x.as_str() == Some(crate::policy::WITHHELD)
                || x.as_str() == Some(crate::policy::SELF_SOURCE) =>
        {
            x.clone()
        }
        (Col::SrcCountry | Col::DstCountry, _) => s(COUNTRY_GENERALISED),
        (Col::DstPort, _) => Cell::U(PORT_GENERALISED),
        (Col::AppName, x) if level == 1 => {
            let v = x.as_str().unwrap_or("");
            s(v.split('.').next().unwrap_or(v))
        }
        (Col::AppName, _) => s(APP_GENERALISED),
        (_, x) => x.clone(),
    }
}

/// What happens to a row.
pub enum Mapped {
    /// Written as it is.
    Same,
    /// Written generalised.
    Generalised(Row),
    /// Not written.
    Suppressed,
}

/// A row's cells as small integers (one interner per column): rows are
/// compared and counted as these, not as strings.
type Sig = Box<[u32]>;

#[derive(Default)]
struct Interner {
    ids: Vec<HashMap<Cell, u32, ahash::RandomState>>,
    cells: Vec<Vec<Cell>>,
    /// Per column and level, stored cell id -> generalised cell id
    /// (`u32::MAX`: not worked out yet).
    generalised: Vec<Vec<Vec<u32>>>,
}

impl Interner {
    fn new(ncols: usize) -> Interner {
        Interner {
            ids: (0..ncols).map(|_| HashMap::default()).collect(),
            cells: vec![Vec::new(); ncols],
            generalised: vec![Vec::new(); ncols],
        }
    }

    fn id(&mut self, col: usize, c: &Cell) -> u32 {
        if let Some(&i) = self.ids[col].get(c) {
            return i;
        }
        let i = self.cells[col].len() as u32;
        self.cells[col].push(c.clone());
        self.ids[col].insert(c.clone(), i);
        i
    }

    fn sig(&mut self, r: &Row) -> Sig {
        r.cells()
            .iter()
            .enumerate()
            .map(|(i, c)| self.id(i, c))
            .collect()
    }

    fn row(&self, sig: &[u32]) -> Row {
        Row::new(
            sig.iter()
                .enumerate()
                .map(|(i, &id)| self.cells[i][id as usize].clone())
                .collect(),
        )
    }

    /// Column `i` (column `c`) of stored cell `id` at `level`.
    fn raise(&mut self, i: usize, c: Col, id: u32, level: u8) -> u32 {
        let (lv, at) = (usize::from(level), id as usize);
        if let Some(&g) = self.generalised[i].get(lv).and_then(|v| v.get(at))
            && g != u32::MAX
        {
            return g;
        }
        let cell = generalise(c, &self.cells[i][at].clone(), level);
        let g = self.id(i, &cell);
        let per_level = &mut self.generalised[i];
        if per_level.len() <= lv {
            per_level.resize(lv + 1, Vec::new());
        }
        if per_level[lv].len() <= at {
            per_level[lv].resize(at + 1, u32::MAX);
        }
        per_level[lv][at] = g;
        g
    }
}

/// Classes of equal rows (by id), their sizes, and the rows in classes of
/// fewer than k, kept up to date as rows move between classes.
struct Classes {
    ids: HashMap<Sig, u32, ahash::RandomState>,
    size: Vec<usize>,
    k: usize,
    /// Rows in classes smaller than k.
    small: usize,
}

impl Classes {
    fn id(&mut self, sig: &Sig) -> u32 {
        if let Some(&c) = self.ids.get(sig) {
            return c;
        }
        let c = self.size.len() as u32;
        self.size.push(0);
        self.ids.insert(sig.clone(), c);
        c
    }

    fn small_part(&self, size: usize) -> usize {
        if size < self.k { size } else { 0 }
    }

    fn add(&mut self, c: u32, n: usize) {
        let s = &mut self.size[c as usize];
        let before = *s;
        *s += n;
        let after = *s;
        self.small = self.small + self.small_part(after) - self.small_part(before);
    }

    fn remove(&mut self, c: u32, n: usize) {
        let s = &mut self.size[c as usize];
        let before = *s;
        *s -= n;
        let after = *s;
        self.small = self.small + self.small_part(after) - self.small_part(before);
    }
}

/// The generalisation of one hour's rows.
pub struct Generaliser {
    /// Distinct stored row -> its generalisation (`None`: suppressed);
    /// rows absent are written as they are.
    map: HashMap<Row, Option<Row>, ahash::RandomState>,
    /// Every distinct row written and how many flows it stands for.
    written: Vec<(Row, u64)>,
}

impl Generaliser {
    /// Works out the generalisation of bucket `b` of `spool` for `k`.
    pub fn build(spool: &Spool, b: u64, l: &Layout, k: usize) -> Result<Generaliser, OutputError> {
        // Each row is hashed once here and once when it is written; the
        // work itself is on the distinct rows, as small integers.
        let mut counts: HashMap<Row, usize, ahash::RandomState> = HashMap::default();
        spool.for_each(b, |r| match counts.get_mut(r) {
            Some(n) => *n += 1,
            None => {
                counts.insert(r.clone(), 1);
            }
        })?;
        Ok(Self::from_counts(counts, l, k))
    }

    fn from_counts(
        counts: HashMap<Row, usize, ahash::RandomState>,
        l: &Layout,
        k: usize,
    ) -> Generaliser {
        let mut interner = Interner::new(l.cols().len());
        let mut sigs: HashMap<Sig, usize, ahash::RandomState> = HashMap::default();
        for (r, n) in counts {
            *sigs.entry(interner.sig(&r)).or_default() += n;
        }
        Self::solve(interner, sigs, l, k)
    }

    fn solve(
        mut interner: Interner,
        counts: HashMap<Sig, usize, ahash::RandomState>,
        l: &Layout,
        k: usize,
    ) -> Generaliser {
        let distinct: Vec<(Sig, usize)> = counts.into_iter().collect();
        let steps: Vec<(usize, Col, u8)> = ORDER
            .iter()
            .filter_map(|(c, levels)| l.index(*c).map(|i| (i, *c, *levels)))
            .flat_map(|(i, c, levels)| (1..=levels).map(move |lv| (i, c, lv)))
            .collect();
        let category = l.index(Col::AppCategory);
        let unspecified = category.map(|ci| interner.id(ci, &Cell::Static("Unspecified")));
        let mut classes = Classes {
            ids: HashMap::default(),
            size: Vec::new(),
            k,
            small: 0,
        };
        let mut class: Vec<u32> = Vec::with_capacity(distinct.len());
        for (sig, n) in &distinct {
            let c = classes.id(sig);
            classes.add(c, *n);
            class.push(c);
        }
        let mut current: Vec<Sig> = distinct.iter().map(|(s, _)| s.clone()).collect();
        // Row j with column i at `lv` (from its stored value); `None` when
        // that changes nothing.
        let raise = |interner: &mut Interner, cur: &Sig, j: usize, i: usize, c: Col, lv: u8| {
            let id = interner.raise(i, c, distinct[j].0[i], lv);
            // The category follows the application to its last level.
            let cat = (c == Col::AppName && lv >= 2)
                .then_some((category, unspecified))
                .and_then(|(ci, u)| Some((ci?, u?)));
            if cur[i] == id && cat.is_none_or(|(ci, u)| cur[ci] == u) {
                return None;
            }
            let mut next = cur.clone();
            next[i] = id;
            if let Some((ci, u)) = cat {
                next[ci] = u;
            }
            Some(next)
        };
        let small_rows = |classes: &Classes, class: &[u32]| -> Vec<usize> {
            (0..class.len())
                .filter(|&j| classes.size[class[j] as usize] < k)
                .collect()
        };
        // Greedy, least useful column first, only for the rows in small
        // classes; a step is kept only if it brings rows out of small
        // classes (a step that only splits rare rows off a value others
        // keep would cost without helping).
        for &(i, c, lv) in &steps {
            let small = small_rows(&classes, &class);
            if small.is_empty() {
                break;
            }
            let before = classes.small;
            let mut moved = Vec::with_capacity(small.len());
            for &j in &small {
                if let Some(next) = raise(&mut interner, &current[j], j, i, c, lv) {
                    let n = distinct[j].1;
                    let to = classes.id(&next);
                    classes.remove(class[j], n);
                    classes.add(to, n);
                    moved.push((j, class[j], std::mem::replace(&mut current[j], next)));
                    class[j] = to;
                }
            }
            if classes.small >= before {
                for (j, old_class, old) in moved.into_iter().rev() {
                    let n = distinct[j].1;
                    classes.remove(class[j], n);
                    classes.add(old_class, n);
                    class[j] = old_class;
                    current[j] = old;
                }
            }
        }
        // What is still rare: generalised together, column by column to
        // its last level, where the rare rows still differ in that column
        // (a column they all share, such as the relay's own country as the
        // source of exit flows, is left as it is). Such rows then differ
        // only in what is never generalised: role, failed, guessed, proxy
        // flags, hour.
        for &(i, c, lv) in &steps {
            let small = small_rows(&classes, &class);
            let Some(&s0) = small.first() else {
                break;
            };
            let first = current[s0][i];
            if small.iter().all(|&j| current[j][i] == first) {
                continue;
            }
            for &j in &small {
                let Some(next) = raise(&mut interner, &current[j], j, i, c, lv) else {
                    continue;
                };
                let n = distinct[j].1;
                let to = classes.id(&next);
                classes.remove(class[j], n);
                classes.add(to, n);
                class[j] = to;
                current[j] = next;
            }
        }
        let mut written = Vec::new();
        let map = distinct
            .into_iter()
            .zip(current)
            .zip(class)
            .filter_map(|(((orig, n), general), c)| {
                if classes.size[c as usize] < k {
                    return Some((interner.row(&orig), None));
                }
                written.push((interner.row(&general), n as u64));
                (general != orig).then(|| (interner.row(&orig), Some(interner.row(&general))))
            })
            .collect();
        Generaliser { map, written }
    }

    /// The distinct rows written and the flows each stands for (the
    /// hour's sidecar tables are made from them, not row by row).
    pub fn written(&self) -> &[(Row, u64)] {
        &self.written
    }

    /// What becomes of `r`.
    pub fn map(&self, r: &Row) -> Mapped {
        match self.map.get(r) {
            None => Mapped::Same,
            Some(Some(g)) => Mapped::Generalised(g.clone()),
            Some(None) => Mapped::Suppressed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        crate::Policy::default().layout().clone()
    }

    fn row(l: &Layout, port: u64, app: &str, ua: Option<&str>, bytes: u64) -> Row {
        let cells = l
            .cols()
            .iter()
            .map(|c| match c.col {
                Col::DstPort => Cell::U(port),
                Col::AppName => Cell::S(app.into()),
                Col::UserAgent => ua.map_or(Cell::Null, |u| Cell::S(u.into())),
                Col::BiBytes => Cell::U(bytes),
                Col::TorRole => Cell::Static("exit"),
                Col::Failed | Col::AppGuessed | Col::SrcIsProxy | Col::DstIsProxy => Cell::B(false),
                Col::BiFirstSeen => Cell::U(3_600_000),
                Col::BiDuration | Col::BiPackets => Cell::U(8),
                _ => Cell::S("US".into()),
            })
            .collect();
        Row::new(cells)
    }

    fn apply(g: &Generaliser, rows: &[Row]) -> Vec<Row> {
        rows.iter()
            .filter_map(|r| match g.map(r) {
                Mapped::Same => Some(r.clone()),
                Mapped::Generalised(x) => Some(x),
                Mapped::Suppressed => None,
            })
            .collect()
    }

    fn counts(rows: &[Row]) -> HashMap<Row, usize, ahash::RandomState> {
        let mut m = HashMap::default();
        for r in rows {
            *m.entry(r.clone()).or_default() += 1;
        }
        m
    }

    /// Every row written shares its columns with k-1 others; common rows
    /// are untouched; a marker value (a unique port, user-agent) is gone.
    #[test]
    fn no_written_row_is_shared_by_fewer_than_k() {
        let l = layout();
        let mut rows = Vec::new();
        for i in 0..200u64 {
            rows.push(row(&l, 443, "TLS.Google", None, 1024));
            rows.push(row(
                &l,
                [80, 443, 22][(i % 3) as usize],
                "HTTP",
                Some("Firefox 128"),
                1 << (i % 12),
            ));
        }
        rows.push(row(&l, 31337, "TLS.Google", Some("curl 4242"), 4096));
        rows.push(row(&l, 443, "HTTP.Example", Some("zqxmarker"), 1 << 30));
        let g = Generaliser::from_counts(counts(&rows), &l, 5);
        let out = apply(&g, &rows);
        let c = counts(&out);
        assert!(
            c.values().all(|&n| n >= 5),
            "{:?}",
            c.values().collect::<Vec<_>>()
        );
        let common = row(&l, 443, "TLS.Google", None, 1024);
        assert_eq!(c[&common], 200, "common rows untouched");
        let port = l.index(Col::DstPort).unwrap();
        assert!(!out.iter().any(|r| r.cells()[port] == Cell::U(31337)));
        let ua = l.index(Col::UserAgent).unwrap();
        assert!(!out.iter().any(|r| {
            r.cells()[ua]
                .as_str()
                .is_some_and(|s| s.contains("4242") || s.contains("zqx"))
        }));
        assert!(
            out.len() + 2 >= rows.len(),
            "at most the two outliers suppressed"
        );
    }

    #[test]
    fn coarser_buckets_stay_lower_bounds() {
        assert_eq!(coarser(8, 1), 4);
        assert_eq!(coarser(16, 1), 16);
        assert_eq!(coarser(1 << 20, 2), 1 << 20);
        assert_eq!(coarser(1 << 21, 2), 1 << 20);
        assert_eq!(coarser(1 << 40, 6), 1);
        assert_eq!(coarser(0, 3), 0);
    }
}
