//! One definition's figures: the ones set beside the published studies.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The figures of one row set: the 2021 study's definition (every role,
/// more than 4 packets), exit traffic, or all flows. Shares are percent.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// The definition in words.
    pub definition: String,
    /// Flows of the definition.
    pub flows: u64,
    /// Failed flows of the same roles (4 packets or fewer).
    pub failed_flows: u64,
    /// Failed flows among the same roles' flows, failed ones included.
    pub failed_share: f64,
    /// Labels whose master protocol is TLS.
    pub tls_share: f64,
    /// `TLS.Tor`: connections to relays.
    pub tls_tor_share: f64,
    /// HTTP and HTTP_Proxy.
    pub http_share: f64,
    /// BitTorrent.
    pub bittorrent_share: f64,
    /// Unknown.
    pub unknown_share: f64,
    /// Labels guessed from the port.
    pub guessed_share: f64,
    /// Mean duration, s (`null`: too noisy to publish).
    pub mean_duration_s: Option<f64>,
    /// Flows whose duration is a power-of-two bucket, percent.
    pub duration_bucketed_share: f64,
    /// Destination port 443.
    pub port_443_share: f64,
    /// Destination port 80.
    pub port_80_share: f64,
    /// Destination port 5222.
    pub port_5222_share: f64,
    /// Destination port 25.
    pub port_25_share: f64,
    /// The three busiest countries (ISO codes only) of port 5222's flows.
    pub port_5222_top3_countries_share: f64,
    /// Destinations flagged as anonymous proxies.
    pub dst_proxy_share: f64,
    /// Distinct destination countries (ISO codes).
    pub unique_dst_countries: u64,
    /// Distinct source countries (ISO codes; not the relay itself).
    pub unique_src_countries: u64,
    /// HTTP flows without a content type.
    pub http_unknown_content_type_share: f64,
    /// Content-type family text, of HTTP flows with one.
    pub content_type_text: f64,
    /// Family application.
    pub content_type_application: f64,
    /// Family image.
    pub content_type_image: f64,
    /// Family audio.
    pub content_type_audio: f64,
    /// Family video.
    pub content_type_video: f64,
    /// Any other family.
    pub content_type_other: f64,
}

/// The three definitions of a node (or of all nodes).
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Definitions {
    /// The 2021 study's.
    pub study_2021: Definition,
    /// Exit traffic (`null` when no flow has the exit role).
    pub exit: Option<Definition>,
    /// All flows.
    pub all: Definition,
}
