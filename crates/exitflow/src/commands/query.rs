//! `exitflow query DATASET "SQL"`: SQL over a dataset with Apache DataFusion
//! (cargo feature `sql`). The dataset is the table `flows`; the Hive
//! partitions `node` and `date` are columns.
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::prelude::SessionContext;

use crate::args::QueryArgs;

/// Runs the query and prints the result as a table.
pub fn run(a: &QueryArgs) -> Result<ExitCode> {
    let root = a
        .dataset
        .canonicalize()
        .with_context(|| format!("dataset {}", a.dataset.display()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .context("starting the query runtime")?;
    let text = rt.block_on(async {
        let ctx = SessionContext::new();
        let opts = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(vec![
                ("node".to_string(), DataType::Utf8),
                ("date".to_string(), DataType::Utf8),
            ]);
        // Data files only, not the parts' sidecar tables (`_agg-*`); files
        // in progress end in `.tmp`.
        let url = format!("{}/**/[!_]*.parquet", root.display());
        ctx.register_listing_table("flows", &url, opts, None, None)
            .await
            .with_context(|| format!("reading {}", root.display()))?;
        let batches = ctx.sql(&a.sql).await?.collect().await?;
        anyhow::Ok(pretty_format_batches(&batches)?.to_string())
    })?;
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}
