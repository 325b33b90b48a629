//! DNS, mDNS and LLMNR: the query name names the service (DNS.Google, ...).
pub(crate) mod naming;
pub mod parser;
