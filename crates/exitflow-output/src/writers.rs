//! One flow table per file, in CSV, JSON lines or Parquet. Every file is
//! written under a temporary name and renamed when complete, so a crash never
//! leaves a half-written file under the final name.
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, StringBuilder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::row::{Layout, Row};
use crate::schema::{ColType, ColumnDef, Value};
use crate::{OutputError, io_err};

/// Rows buffered before an Arrow batch is handed to the Parquet writer.
pub const DEFAULT_BATCH_ROWS: usize = 8192;
/// Parquet files of fewer rows are written uncompressed.
pub const COMPRESS_MIN_ROWS: usize = 8192;
/// Rows per Parquet row group.
pub const DEFAULT_ROW_GROUP_ROWS: usize = 128 * 1024;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet, zstd-compressed, dictionary-encoded strings.
    Parquet,
}

impl Format {
    /// File extension.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
        }
    }
}

/// Writes records to one file.
pub struct FlowWriter {
    tmp: PathBuf,
    path: PathBuf,
    cols: Vec<&'static ColumnDef>,
    inner: Inner,
    rows: u64,
}

enum Inner {
    Csv(Box<csv::Writer<BufWriter<File>>>),
    Jsonl(BufWriter<File>),
    Parquet(Box<ParquetSink>),
}

pub use crate::files::temp_path;

impl FlowWriter {
    /// Creates `path` (through a temporary file) for rows of `layout`.
    /// `metadata` is stored in the Parquet footer (ignored by the text
    /// formats).
    pub fn create(
        path: &Path,
        format: Format,
        layout: &Layout,
        metadata: &[(String, String)],
    ) -> Result<FlowWriter, OutputError> {
        Self::create_sized(path, format, layout, metadata, usize::MAX)
    }

    /// [`FlowWriter::create`] for about `rows` rows: a Parquet file of
    /// fewer than [`COMPRESS_MIN_ROWS`] is not compressed (its dictionaries
    /// already make it small, and a compressor per column costs more than
    /// the bytes it saves — an hour's part at a quiet exit).
    pub fn create_sized(
        path: &Path,
        format: Format,
        layout: &Layout,
        metadata: &[(String, String)],
        rows: usize,
    ) -> Result<FlowWriter, OutputError> {
        let tmp = temp_path(path);
        let file = crate::files::create_new(&tmp)?;
        let cols = layout.cols().to_vec();
        let inner = match format {
            Format::Csv => {
                let mut w = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::CRLF)
                    .quote_style(csv::QuoteStyle::Necessary)
                    .from_writer(BufWriter::with_capacity(1 << 16, file));
                w.write_record(cols.iter().map(|c| c.name))
                    .map_err(|e| csv_err(&tmp, e))?;
                Inner::Csv(Box::new(w))
            }
            Format::Jsonl => Inner::Jsonl(BufWriter::with_capacity(1 << 16, file)),
            Format::Parquet => Inner::Parquet(Box::new(ParquetSink::new(
                file,
                &tmp,
                cols.clone(),
                if rows < COMPRESS_MIN_ROWS {
                    table_properties(metadata)
                } else {
                    parquet_properties(metadata)
                },
            )?)),
        };
        Ok(FlowWriter {
            tmp,
            path: path.to_owned(),
            cols,
            inner,
            rows: 0,
        })
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Bytes written so far (Parquet: including the buffered row group estimate).
    pub fn bytes(&self) -> u64 {
        match &self.inner {
            Inner::Csv(_) | Inner::Jsonl(_) => std::fs::metadata(&self.tmp).map_or(0, |m| m.len()),
            Inner::Parquet(p) => p.bytes(),
        }
    }

    /// Writes one row (of the layout the writer was created with).
    pub fn write(&mut self, r: &Row) -> Result<(), OutputError> {
        self.rows += 1;
        let cells = r.cells();
        debug_assert_eq!(cells.len(), self.cols.len(), "a row of another layout");
        match &mut self.inner {
            Inner::Csv(w) => {
                let mut buf = itoa_buf();
                let mut cell = String::new();
                for cv in cells {
                    match cv.value() {
                        Value::U(v) => w.write_field(fmt_u64(&mut buf, v)),
                        Value::B(b) => w.write_field(if b { "1" } else { "0" }),
                        Value::S(s) => w.write_field(spreadsheet_safe(s, &mut cell)),
                        Value::Null => w.write_field(""),
                    }
                    .map_err(|e| csv_err(&self.tmp, e))?;
                }
                w.write_record(None::<&[u8]>)
                    .map_err(|e| csv_err(&self.tmp, e))?;
            }
            Inner::Jsonl(w) => {
                let mut m = serde_json::Map::with_capacity(self.cols.len());
                for (c, cv) in self.cols.iter().zip(cells) {
                    let v = match cv.value() {
                        Value::U(v) => serde_json::Value::from(v),
                        Value::B(b) => serde_json::Value::from(u8::from(b)),
                        Value::S(s) => serde_json::Value::from(s),
                        Value::Null => serde_json::Value::Null,
                    };
                    m.insert(c.name.to_owned(), v);
                }
                serde_json::to_writer(&mut *w, &m).map_err(|e| OutputError::Io {
                    path: self.tmp.clone(),
                    source: e.into(),
                })?;
                w.write_all(b"\n").map_err(io_err(&self.tmp))?;
            }
            Inner::Parquet(p) => p.push(r)?,
        }
        Ok(())
    }

    /// Flushes, syncs and renames the file to its final name. On failure
    /// (a full disk, say) the temporary file is removed: no partial file is
    /// ever left under either name.
    pub fn finish(self) -> Result<PathBuf, OutputError> {
        let tmp = self.tmp.clone();
        let r = self.finish_inner();
        if r.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        r
    }

    fn finish_inner(self) -> Result<PathBuf, OutputError> {
        let file = match self.inner {
            Inner::Csv(w) => w
                .into_inner()
                .map_err(|e| OutputError::Io {
                    path: self.tmp.clone(),
                    source: e.into_error(),
                })?
                .into_inner()
                .map_err(|e| OutputError::Io {
                    path: self.tmp.clone(),
                    source: e.into_error(),
                })?,
            Inner::Jsonl(w) => w.into_inner().map_err(|e| OutputError::Io {
                path: self.tmp.clone(),
                source: e.into_error(),
            })?,
            Inner::Parquet(p) => p.close()?,
        };
        file.sync_all().map_err(io_err(&self.tmp))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(io_err(&self.path))?;
        if let Some(dir) = self.path.parent() {
            // Make the rename itself durable; best effort on filesystems that refuse.
            if let Ok(d) = File::open(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            }) {
                let _ = d.sync_all();
            }
        }
        Ok(self.path)
    }

    /// Abandons the file: the temporary file is removed.
    pub fn abort(self) {
        let tmp = self.tmp.clone();
        drop(self);
        let _ = std::fs::remove_file(tmp);
    }
}

/// First characters that make a spreadsheet read a cell as a formula
/// (OWASP's CSV injection list: `=`, `+`, `-`, `@`, tab, carriage return).
pub const FORMULA_PREFIXES: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A CSV cell that no spreadsheet runs: one starting with a
/// [`FORMULA_PREFIXES`] character gets a leading `'` (OWASP's rule), which
/// spreadsheets show as text and do not evaluate.
pub fn spreadsheet_safe<'a>(s: &'a str, buf: &'a mut String) -> &'a str {
    if s.starts_with(FORMULA_PREFIXES) {
        buf.clear();
        buf.push('\'');
        buf.push_str(s);
        buf
    } else {
        s
    }
}

fn csv_err(path: &Path, e: csv::Error) -> OutputError {
    OutputError::Csv {
        path: path.to_owned(),
        source: e,
    }
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

fn fmt_u64(buf: &mut [u8; 20], mut v: u64) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

/// The Arrow schema of the written columns.
pub fn arrow_schema(cols: &[&'static ColumnDef]) -> SchemaRef {
    Arc::new(Schema::new(
        cols.iter()
            .map(|c| {
                let ty = match c.ty {
                    ColType::U64 => DataType::UInt64,
                    ColType::Bool => DataType::Boolean,
                    ColType::Str | ColType::OptStr => DataType::Utf8,
                };
                Field::new(c.name, ty, c.ty == ColType::OptStr)
            })
            .collect::<Vec<_>>(),
    ))
}

enum Builder {
    U(UInt64Builder),
    B(BooleanBuilder),
    S(StringBuilder),
}

/// Every Parquet file's writer settings: zstd, dictionary-encoded strings,
/// bounded row groups, `metadata` in the footer.
pub(crate) fn parquet_properties(metadata: &[(String, String)]) -> WriterProperties {
    properties(metadata, Compression::ZSTD(ZstdLevel::default()))
}

/// Properties of small files (the hourly aggregate tables, a quiet hour's
/// part): a few hundred rows of dictionary-encoded values, for which
/// compression saves little and costs a compressor per column (a tenth of
/// an hourly ingest's time).
pub(crate) fn table_properties(metadata: &[(String, String)]) -> WriterProperties {
    properties(metadata, Compression::UNCOMPRESSED)
}

fn properties(metadata: &[(String, String)], compression: Compression) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(compression)
        .set_dictionary_enabled(true)
        .set_max_row_group_row_count(Some(DEFAULT_ROW_GROUP_ROWS))
        .set_key_value_metadata(Some(
            metadata
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                .collect(),
        ))
        .build()
}

/// Buffers records column-wise and writes Parquet row groups.
pub(crate) struct ParquetSink {
    path: PathBuf,
    schema: SchemaRef,
    builders: Vec<Builder>,
    buffered: usize,
    writer: ArrowWriter<File>,
}

impl ParquetSink {
    pub(crate) fn new(
        file: File,
        path: &Path,
        cols: Vec<&'static ColumnDef>,
        props: WriterProperties,
    ) -> Result<ParquetSink, OutputError> {
        let schema = arrow_schema(&cols);
        let writer =
            ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| pq_err(path, e))?;
        let builders = new_builders(&cols);
        Ok(ParquetSink {
            path: path.to_owned(),
            schema,
            builders,
            buffered: 0,
            writer,
        })
    }

    fn bytes(&self) -> u64 {
        (self.writer.bytes_written() + self.writer.in_progress_size()) as u64
    }

    fn push(&mut self, r: &Row) -> Result<(), OutputError> {
        for (cv, b) in r.cells().iter().zip(self.builders.iter_mut()) {
            match (b, cv.value()) {
                (Builder::U(b), Value::U(v)) => b.append_value(v),
                (Builder::B(b), Value::B(v)) => b.append_value(v),
                (Builder::S(b), Value::S(v)) => b.append_value(v),
                (Builder::S(b), Value::Null) => b.append_null(),
                _ => unreachable!("column types come from the same table"),
            }
        }
        self.buffered += 1;
        if self.buffered >= DEFAULT_BATCH_ROWS {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn flush_batch(&mut self) -> Result<(), OutputError> {
        if self.buffered == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    Builder::U(b) => Arc::new(b.finish()),
                    Builder::B(b) => Arc::new(b.finish()),
                    Builder::S(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        let batch =
            RecordBatch::try_new(self.schema.clone(), arrays).map_err(|e| OutputError::Arrow {
                path: self.path.clone(),
                source: e,
            })?;
        self.writer
            .write(&batch)
            .map_err(|e| pq_err(&self.path, e))?;
        self.buffered = 0;
        Ok(())
    }

    fn close(mut self) -> Result<File, OutputError> {
        self.flush_batch()?;
        self.writer.into_inner().map_err(|e| pq_err(&self.path, e))
    }
}

fn new_builders(cols: &[&'static ColumnDef]) -> Vec<Builder> {
    cols.iter()
        .map(|c| match c.ty {
            ColType::U64 => Builder::U(UInt64Builder::with_capacity(DEFAULT_BATCH_ROWS)),
            ColType::Bool => Builder::B(BooleanBuilder::with_capacity(DEFAULT_BATCH_ROWS)),
            ColType::Str | ColType::OptStr => {
                Builder::S(StringBuilder::with_capacity(DEFAULT_BATCH_ROWS, 1 << 16))
            }
        })
        .collect()
}

fn pq_err(path: &Path, e: parquet::errors::ParquetError) -> OutputError {
    OutputError::Parquet {
        path: path.to_owned(),
        source: e,
    }
}
