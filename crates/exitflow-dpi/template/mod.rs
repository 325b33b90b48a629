//! <Protocol>: what it is, what names it (a port, a message, a server
//! name), and what is kept as metadata (nothing personal: see the privacy
//! policy).
pub(crate) mod naming;
pub mod parser;
