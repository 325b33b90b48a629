//! The figures of one node, or of all nodes: its totals, the main tables
//! (exit traffic), the three definitions and the abuse tables.
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::definition::Definitions;

/// `[value, flows]` rows, the most flows first.
pub type Ranked = Vec<(String, u64)>;

/// The figures of a node or of all nodes. Shares are percent.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Figures {
    /// The three definitions' figures, set beside the published ones.
    pub definitions: Definitions,
    /// Every flow on the interface, every role.
    pub flows: u64,
    /// Of them, failed (4 packets or fewer).
    pub failed_flows: u64,
    /// Failed among every flow.
    pub failed_share: f64,
    /// Packets (`null`: too noisy to publish).
    pub packets: Option<u64>,
    /// Bytes (`null`: too noisy to publish).
    pub bytes: Option<u64>,
    /// Bytes, GB.
    pub traffic_gb: Option<f64>,
    /// Parquet bytes read.
    pub dataset_bytes: u64,
    /// `node totals` (every flow; noisy and rounded under default and strict) or `rows`.
    pub volume_from: String,
    /// Flows per Tor role.
    pub tor_roles: Ranked,
    /// Exit flows.
    pub exit_flows: u64,
    /// Failed exit flows.
    pub exit_failed_flows: u64,
    /// Failed among exit flows (every flow when none has the exit role).
    pub exit_failed_share: f64,
    /// Every flow's labels.
    pub all_flows: AllFlows,
    /// What the main tables are over, in words.
    pub study_scope: String,
    /// Flows of the main tables.
    pub study_flows: u64,
    /// Mean duration, s (`null`: too noisy to publish).
    pub mean_duration_s: Option<f64>,
    /// Flows whose duration is a power-of-two bucket.
    pub duration_bucketed_share: f64,
    /// TLS.
    pub tls_share: f64,
    /// HTTP and HTTP_Proxy.
    pub http_share: f64,
    /// BitTorrent.
    pub bittorrent_share: f64,
    /// Unknown.
    pub unknown_share: f64,
    /// Labels guessed from the port.
    pub guessed_share: f64,
    /// Destination port 443.
    pub port_443_share: f64,
    /// Destination port 80.
    pub port_80_share: f64,
    /// Destination port 5222.
    pub port_5222_share: f64,
    /// Destination port 25.
    pub port_25_share: f64,
    /// The three busiest countries of port 5222.
    pub port_5222_top3_countries_share: f64,
    /// Flows from sources flagged as proxies.
    pub src_proxy_flows: u64,
    /// Flows to destinations flagged as proxies.
    pub dst_proxy_flows: u64,
    /// Labels, top 8 and Other.
    pub applications_top8: Ranked,
    /// Master protocols (services summed), top 8 and Other.
    pub masters_top8: Ranked,
    /// Labels, top 40.
    pub applications_top40: Ranked,
    /// Categories.
    pub categories: Ranked,
    /// Destination countries.
    pub dst_countries: Ranked,
    /// Source countries (every role, not begun by the relay).
    pub src_countries: Ranked,
    /// Flows the source countries are of.
    pub src_country_flows: u64,
    /// Distinct destination countries.
    pub unique_dst_countries: u64,
    /// Distinct source countries.
    pub unique_src_countries: u64,
    /// `[port, flows]`, top 40.
    pub dst_ports_top40: Vec<(u64, u64)>,
    /// Per port of `PORT_COUNTRY_PORTS`, its destination countries.
    pub port_countries: BTreeMap<String, PortCountries>,
    /// User-agents of HTTP flows.
    pub user_agents: Ranked,
    /// Crawlers among them.
    pub crawlers: Ranked,
    /// HTTP flows naming a crawler.
    pub crawler_flows: u64,
    /// Of HTTP flows.
    pub crawler_share: f64,
    /// HTTP flows.
    pub http_flows: u64,
    /// HTTP flows without a content type.
    pub http_unknown_content_type_share: f64,
    /// HTTP flows with one.
    pub http_flows_with_content_type: u64,
    /// `[family, flows, percent]` (each family's share per definition is
    /// in [`Figures::definitions`]).
    pub content_type_families: Vec<(String, u64, f64)>,
    /// Content types, top 40.
    pub content_types_top40: Ranked,
    /// Flows per hour of the day, UTC (24).
    pub flows_per_hour_utc: Vec<u64>,
    /// Flows per hour of the day, local (24).
    pub flows_per_hour_local: Vec<u64>,
    /// The hours with flows.
    pub period: Period,
    /// `[hour, flows, failed, percent]` per hour of the measurement.
    pub failed_by_hour: Vec<(String, u64, u64, f64)>,
    /// Traffic that looks like abuse.
    pub abuse: Abuse,
    /// A node's share of all flows (nodes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_flow_share: Option<f64>,
    /// A node's share of all bytes (nodes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_traffic_share: Option<f64>,
    /// A node's time zone in words (nodes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// Every flow's labels.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllFlows {
    /// Labels, top 40.
    pub applications_top40: Ranked,
    /// TLS.
    pub tls_share: f64,
    /// HTTP and HTTP_Proxy.
    pub http_share: f64,
    /// Unknown.
    pub unknown_share: f64,
}

/// The hours with flows.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// First hour (`YYYY-MM-DD HH:00` UTC).
    pub first_hour: Option<String>,
    /// Last hour.
    pub last_hour: Option<String>,
    /// Hours with flows.
    pub hours: u64,
}

/// One port's destination countries.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortCountries {
    /// Flows to the port.
    pub flows: u64,
    /// Its countries.
    pub countries: Ranked,
    /// The three busiest countries' share.
    pub top3_share: f64,
}

/// Failed attempts by hour and port, fan-out per hour, login services.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Abuse {
    /// `[hour, port, failed, flows, percent]`, the most failed first.
    pub failed_by_hour_port: Vec<(String, u64, u64, u64, f64)>,
    /// `[hour, ports with failed attempts, failed attempts]`.
    pub ports_per_hour: Vec<(String, u64, u64)>,
    /// `[port, service, flows, failed, percent, busiest hour's flows]`.
    pub login_ports: Vec<(u64, String, u64, u64, f64, u64)>,
}
