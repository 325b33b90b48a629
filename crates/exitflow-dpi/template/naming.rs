//! What a <Protocol> flow is called from what was parsed.
use crate::registry::{ProtoId, known};
use crate::{FlowCtx, FlowDpi, Need, service_of};

/// Names the flow from a parsed message: the master protocol (a known id),
/// the service from the name it carries.
pub(crate) fn name(st: &mut FlowDpi, _flow: &FlowCtx, m: &super::parser::Message<'_>) -> Need {
    let app = std::str::from_utf8(m.name).map_or(ProtoId::UNKNOWN, service_of);
    st.set(known().tls, app); // the protocol's own known id here
    Need::Nothing
}
