//! nDPI's certificate subjects (`certificates.tsv`): a text found in a TLS
//! server certificate's subject names the service, as nDPI 5.0 matches its
//! `tls_certificate_match` list when the server name named none.
use crate::data::{CERTIFICATES_FILE, DataError, Text};
use crate::registry::{ProtoId, Registry};

/// The subject texts and their services, in nDPI's order (the first found wins).
pub(crate) struct Subjects(Vec<(String, ProtoId)>);

/// Builds the list from the tables' text: `service<TAB>text` lines, every
/// service checked against registry `r`.
pub(crate) fn build(t: &Text, r: &Registry) -> Result<Subjects, DataError> {
    let mut v = Vec::new();
    for (n, line) in t.certificates.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let bad = |what: String| DataError::Bad {
            path: t.dir.join(CERTIFICATES_FILE),
            line: n + 1,
            what,
        };
        let Some((name, text)) = line.split_once('\t') else {
            return Err(bad("not `service<TAB>subject text`".into()));
        };
        let id = r
            .id(name)
            .ok_or_else(|| bad(format!("{name}: not a protocol of the protocol table")))?;
        if text.is_empty() {
            return Err(bad("an empty subject text".into()));
        }
        v.push((text.to_owned(), id));
    }
    Ok(Subjects(v))
}

/// The service a certificate subject (as [`super::parser::certificate_subject`]
/// writes it) names, if any.
pub fn service(subject: &str) -> Option<ProtoId> {
    let list = &crate::data::tables().certificates.0;
    list.iter()
        .find(|(t, _)| subject.contains(t.as_str()))
        .map(|(_, id)| *id)
}

/// Whether a service has a subject text in the list.
pub fn has(id: ProtoId) -> bool {
    crate::data::tables()
        .certificates
        .0
        .iter()
        .any(|(_, i)| *i == id)
}
