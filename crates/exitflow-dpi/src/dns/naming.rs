//! What a DNS, mDNS or LLMNR flow is named: the master by port, the service
//! by the query name; queries that name a service by themselves on any port
//! (DNSCrypt certificates, Avast's resolver).
use crate::detect::either_port;
use crate::dns;
use crate::registry::{ProtoId, known};
use crate::{FlowCtx, FlowDpi, service_of};

pub(crate) fn dns_label(st: &mut FlowDpi, flow: &FlowCtx, m: &dns::parser::Message) {
    let k = known();
    let master = if either_port(flow, 5353) {
        k.mdns
    } else if either_port(flow, 5355) {
        k.llmnr
    } else {
        k.dns
    };
    let name = m.qname.as_ref().map(|n| n.as_str().to_owned());
    let app = if master == k.dns {
        name.as_deref().map(service_of).unwrap_or(ProtoId::UNKNOWN)
    } else {
        ProtoId::UNKNOWN
    };
    st.set(master, app);
    if name.as_deref().is_some_and(|n| !n.is_empty()) {
        st.meta().server_name = name;
    }
}

/// Queries that name a service by themselves, on any port.
pub(crate) fn special_dns(st: &mut FlowDpi, m: &dns::parser::Message) -> bool {
    let Some(q) = m.qname.as_ref() else {
        return false;
    };
    let n = q.as_str();
    let lower = |s: &str| n.len() >= s.len() && n[n.len() - s.len()..].eq_ignore_ascii_case(s);
    let k = known();
    let id = if n.to_ascii_lowercase().contains("dnscrypt-cert") {
        k.dnscrypt
    } else if lower("securedns.avast.com") {
        k.avast_dns
    } else {
        return false;
    };
    st.set(id, ProtoId::UNKNOWN);
    true
}
