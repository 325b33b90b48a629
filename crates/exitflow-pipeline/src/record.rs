//! A finished flow and its verdict as the row the writers store.
use exitflow_dpi::Classification;
use exitflow_flow::Flow;
use exitflow_output::{Policy, Record, Row};

use crate::Enricher;

/// A flow and its classification as the stored row, enriched, with the
/// policy applied: the record that still holds the raw flow (addresses
/// included) never leaves this function; the row holds only what the
/// policy writes.
pub fn to_record(
    flow: Flow,
    class: Classification,
    policy: &mut Policy,
    enricher: Option<&mut Enricher>,
) -> Row {
    let mut r = Record::unlabelled(flow);
    if let Some(e) = enricher {
        e.enrich(&mut r);
    }
    r.application_name = class.application_name();
    r.application_category_name = class.category().to_owned();
    r.application_is_guessed = class.guessed;
    r.application_confidence = class.confidence;
    let m = class.meta;
    r.requested_server_name = m.server_name;
    r.client_fingerprint = m.client_fingerprint;
    r.server_fingerprint = m.server_fingerprint;
    r.user_agent = m.user_agent;
    r.content_type = m.content_type;
    policy.store(r)
}
