//! The pipeline's errors. Each keeps its source, so `{:#}` prints the chain.
/// Errors while setting up the pipeline (enrichment, exclusions).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A host, network or port to exclude is malformed.
    #[error("exclusion {spec:?}: {reason}")]
    Exclusion {
        /// What was given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A GeoIP database, the consensus or the torrc could not be used.
    #[error(transparent)]
    Enrich(#[from] exitflow_enrich::EnrichError),
}
