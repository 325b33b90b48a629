//! The stored row: the values one flow leaves memory with, exactly as they
//! are written, and nothing else. Only [`crate::Policy::store`] makes one
//! from a [`crate::Record`] (which still holds the raw flow); every writer
//! of this crate takes rows, never records, so nothing the profile does not
//! keep can reach a file by mistake.
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};

use crate::OutputError;
use crate::schema::{COLUMNS, Col, ColType, ColumnDef, Value};

/// One stored value. Equal values are equal cells whichever way the
/// string is held.
#[derive(Clone)]
pub enum Cell {
    /// Unsigned integer.
    U(u64),
    /// Boolean.
    B(bool),
    /// String.
    S(Arc<str>),
    /// String known at compile time (labels such as the Tor role).
    Static(&'static str),
    /// Absent.
    Null,
}

impl PartialEq for Cell {
    fn eq(&self, o: &Cell) -> bool {
        // Labels are shared (`Policy::store`): the same allocation is equal
        // without comparing bytes.
        if let (Cell::S(a), Cell::S(b)) = (self, o)
            && Arc::ptr_eq(a, b)
        {
            return true;
        }
        self.value() == o.value()
    }
}

impl Eq for Cell {}

impl std::hash::Hash for Cell {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        match self.value() {
            Value::U(v) => (0u8, v).hash(h),
            Value::B(b) => (1u8, b).hash(h),
            Value::S(s) => (2u8, s).hash(h),
            Value::Null => 3u8.hash(h),
        }
    }
}

impl std::fmt::Debug for Cell {
    /// Never the value (see [`Row`]'s).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cell")
    }
}

impl Cell {
    /// The cell as a [`Value`].
    pub fn value(&self) -> Value<'_> {
        match self {
            Cell::U(v) => Value::U(*v),
            Cell::B(b) => Value::B(*b),
            Cell::S(s) => Value::S(s),
            Cell::Static(s) => Value::S(s),
            Cell::Null => Value::Null,
        }
    }

    /// The string, if the cell holds one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Cell::S(s) => Some(s),
            Cell::Static(s) => Some(s),
            _ => None,
        }
    }
}

/// Marks a column absent from a layout.
const ABSENT: u8 = u8::MAX;

/// The columns a policy writes, in output order, and where each is in a
/// row.
#[derive(Clone, Debug)]
pub struct Layout {
    cols: Vec<&'static ColumnDef>,
    pos: [u8; COLUMNS.len()],
}

impl Layout {
    /// A layout of these columns (in this order).
    pub fn new(cols: Vec<&'static ColumnDef>) -> Layout {
        let mut pos = [ABSENT; COLUMNS.len()];
        for (i, c) in cols.iter().enumerate() {
            pos[c.col as usize] = i as u8;
        }
        Layout { cols, pos }
    }

    /// The columns, in output order.
    pub fn cols(&self) -> &[&'static ColumnDef] {
        &self.cols
    }

    /// Where column `c` is in a row, if the layout has it.
    pub fn index(&self, c: Col) -> Option<usize> {
        let p = self.pos[c as usize];
        (p != ABSENT).then_some(usize::from(p))
    }

    /// Whether the layout has column `c`.
    pub fn has(&self, c: Col) -> bool {
        self.index(c).is_some()
    }

    /// The column names, in output order.
    pub fn names(&self) -> Vec<&'static str> {
        self.cols.iter().map(|c| c.name).collect()
    }
}

/// A flow's exact duration, carried beside a row whose cells hold it as a
/// power-of-two bucket (default and strict). It never reaches a file or
/// the spool: the dataset writer takes it off the row in memory and sums
/// it per held hour and slice; only a slice's mean over at least
/// [`crate::aggregate::EXACT_DURATION_MIN_FLOWS`] flows of one write is
/// written (see `aggregate::put_exact_durations`). Packets and bytes are
/// not summed: `_totals.json` holds their exact node totals, and exact
/// sums of some slices would give the rest by subtraction.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct ExactSums {
    /// Flows summed.
    pub flows: u64,
    /// Durations, ms.
    pub duration_ms: u64,
}

impl std::fmt::Debug for ExactSums {
    /// Never the values (one flow's exact duration is what the buckets hide).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExactSums")
    }
}

impl ExactSums {
    /// Adds another's sums.
    pub fn add(&mut self, o: &ExactSums) {
        self.flows += o.flows;
        self.duration_ms += o.duration_ms;
    }
}

/// One flow as stored: one cell per column of its policy's [`Layout`].
/// Rows are equal when their cells are (the exact sums beside them are
/// not part of what is stored).
#[derive(Clone)]
pub struct Row {
    cells: Box<[Cell]>,
    exact: Option<ExactSums>,
}

impl PartialEq for Row {
    fn eq(&self, o: &Row) -> bool {
        self.cells == o.cells
    }
}

impl Eq for Row {}

impl std::hash::Hash for Row {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.cells.hash(h);
    }
}

impl std::fmt::Debug for Row {
    /// Never the values: under `research` a row may hold addresses or
    /// server names, and a debug line must not leak them into a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Row({} cells)", self.cells.len())
    }
}

impl Row {
    /// A row of these cells (crate-private: rows come from a policy, or
    /// back from a file this crate wrote).
    pub(crate) fn new(cells: Vec<Cell>) -> Row {
        Row {
            cells: cells.into_boxed_slice(),
            exact: None,
        }
    }

    /// The same row with the flow's exact sums beside it.
    pub(crate) fn with_exact(mut self, e: ExactSums) -> Row {
        self.exact = Some(e);
        self
    }

    /// Takes the exact sums off the row (the dataset writer, before the
    /// row is held).
    pub fn take_exact(&mut self) -> Option<ExactSums> {
        self.exact.take()
    }

    /// The cells, in the layout's order.
    pub fn cells(&self) -> &[Cell] {
        &self.cells
    }

    /// The value of column `c` under `layout` (`Null` when the layout does
    /// not have it).
    pub fn value<'a>(&'a self, layout: &Layout, c: Col) -> Value<'a> {
        match layout.index(c) {
            Some(i) => self.cells[i].value(),
            None => Value::Null,
        }
    }

    /// An unsigned column's value (0 when absent).
    pub fn u(&self, layout: &Layout, c: Col) -> u64 {
        match self.value(layout, c) {
            Value::U(v) => v,
            _ => 0,
        }
    }

    /// A boolean column's value (false when absent).
    pub fn b(&self, layout: &Layout, c: Col) -> bool {
        matches!(self.value(layout, c), Value::B(true))
    }

    /// A string column's value (`""` when absent or null).
    pub fn s<'a>(&'a self, layout: &Layout, c: Col) -> &'a str {
        match self.value(layout, c) {
            Value::S(s) => s,
            _ => "",
        }
    }

    /// Appends the row's compact binary form (for the encrypted spool).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        for c in self.cells.iter() {
            match c {
                Cell::Null => out.push(0),
                Cell::U(v) => {
                    out.push(1);
                    out.extend_from_slice(&v.to_le_bytes());
                }
                Cell::B(b) => out.push(2 + u8::from(*b)),
                Cell::S(s) => put_str(out, s),
                Cell::Static(s) => put_str(out, s),
            }
        }
    }

    /// Reads a row of `n` cells written by [`Row::encode`], advancing `buf`.
    pub(crate) fn decode(buf: &mut &[u8], n: usize) -> Option<Row> {
        let mut cells = Vec::with_capacity(n);
        for _ in 0..n {
            let (&tag, rest) = buf.split_first()?;
            *buf = rest;
            cells.push(match tag {
                0 => Cell::Null,
                1 => {
                    let (v, rest) = buf.split_at_checked(8)?;
                    *buf = rest;
                    Cell::U(u64::from_le_bytes(v.try_into().ok()?))
                }
                2 | 3 => Cell::B(tag == 3),
                4 => {
                    let (len, rest) = buf.split_at_checked(4)?;
                    let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
                    let (s, rest) = rest.split_at_checked(len)?;
                    *buf = rest;
                    Cell::S(Arc::from(std::str::from_utf8(s).ok()?))
                }
                _ => return None,
            });
        }
        Some(Row::new(cells))
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.push(4);
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The rows of a Parquet file this crate wrote under `layout` (to rewrite
/// an hour as one whole). A file whose columns are not the layout's was
/// written under another policy: an error naming it.
pub fn read_rows(path: &std::path::Path, layout: &Layout) -> Result<Vec<Row>, OutputError> {
    let bad = |why: String| OutputError::Io {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, why),
    };
    let f = std::fs::File::open(path).map_err(crate::io_err(path))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|source| OutputError::Parquet {
            path: path.to_owned(),
            source,
        })?
        .build()
        .map_err(|source| OutputError::Parquet {
            path: path.to_owned(),
            source,
        })?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|source| OutputError::Arrow {
            path: path.to_owned(),
            source,
        })?;
        let names: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        if names != layout.names() {
            return Err(bad(format!(
                "written with other columns than this profile's ({} vs {}): was it written under another profile?",
                names.join(","),
                layout.names().join(",")
            )));
        }
        append_rows(&batch, layout, &mut rows).map_err(bad)?;
    }
    Ok(rows)
}

fn append_rows(batch: &RecordBatch, layout: &Layout, rows: &mut Vec<Row>) -> Result<(), String> {
    let n = batch.num_rows();
    let mut cols: Vec<Vec<Cell>> = Vec::with_capacity(layout.cols().len());
    for (i, c) in layout.cols().iter().enumerate() {
        let a = batch.column(i);
        let mut v = Vec::with_capacity(n);
        match c.ty {
            ColType::U64 => {
                let a = a
                    .as_primitive_opt::<arrow_array::types::UInt64Type>()
                    .ok_or_else(|| format!("{}: not uint64", c.name))?;
                v.extend(a.values().iter().map(|x| Cell::U(*x)));
            }
            ColType::Bool => {
                let a = a
                    .as_boolean_opt()
                    .ok_or_else(|| format!("{}: not bool", c.name))?;
                v.extend((0..n).map(|r| Cell::B(a.value(r))));
            }
            ColType::Str | ColType::OptStr => {
                let a = arrow_cast_strings(a.as_ref())
                    .ok_or_else(|| format!("{}: not a string", c.name))?;
                let mut last: Option<Arc<str>> = None;
                for r in 0..n {
                    if a.is_null(r) {
                        v.push(Cell::Null);
                        continue;
                    }
                    let s = a.value(r);
                    // Consecutive equal strings share one allocation.
                    let cell = match &last {
                        Some(l) if &**l == s => l.clone(),
                        _ => {
                            let l: Arc<str> = Arc::from(s);
                            last = Some(l.clone());
                            l
                        }
                    };
                    v.push(Cell::S(cell));
                }
            }
        }
        cols.push(v);
    }
    let mut iters: Vec<_> = cols.into_iter().map(Vec::into_iter).collect();
    for _ in 0..n {
        rows.push(Row::new(
            iters
                .iter_mut()
                .map(|i| i.next().unwrap_or(Cell::Null))
                .collect(),
        ));
    }
    Ok(())
}

/// A string column, plain or dictionary-encoded, as plain strings.
fn arrow_cast_strings(a: &dyn Array) -> Option<arrow_array::StringArray> {
    if let Some(s) = a.as_string_opt::<i32>() {
        return Some(s.clone());
    }
    let d = a.as_any_dictionary_opt()?;
    let values = d.values().as_string_opt::<i32>()?;
    let keys = d.normalized_keys();
    Some(
        (0..a.len())
            .map(|i| (!a.is_null(i)).then(|| values.value(keys[i])))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_round_trips_through_its_binary_form_and_prints_no_value() {
        let r = Row::new(vec![
            Cell::U(7),
            Cell::B(true),
            Cell::S("203.0.113.9".into()),
            Cell::Static("exit"),
            Cell::Null,
            Cell::U(u64::MAX),
        ]);
        let mut buf = Vec::new();
        r.encode(&mut buf);
        r.encode(&mut buf);
        let mut s = &buf[..];
        let a = Row::decode(&mut s, 6).unwrap();
        let b = Row::decode(&mut s, 6).unwrap();
        assert!(s.is_empty());
        assert_eq!(a.cells()[2].as_str(), Some("203.0.113.9"));
        assert_eq!(a.cells()[3].as_str(), Some("exit"));
        assert_eq!(a.cells()[5], Cell::U(u64::MAX));
        assert_eq!(b.cells()[1], Cell::B(true));
        let dbg = format!("{a:?}");
        assert!(!dbg.contains("203.0.113"), "{dbg}");
        // Every prefix of the encoding is refused or short, never a panic.
        for n in 0..buf.len() {
            let mut s = &buf[..n];
            let _ = Row::decode(&mut s, 6);
        }
    }
}
