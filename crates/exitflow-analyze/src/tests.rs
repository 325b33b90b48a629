//! Report tests over a small dataset written with exitflow's own writer.
use super::*;

#[test]
fn published_figures_load() {
    let p = published();
    assert_eq!(p.len(), 2);
    assert_eq!(p[1].figures["tls_share"], 55.03);
    assert_eq!(p[0].figures["http_share"], 68.57);
}

#[test]
fn empty_roots_are_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let e = scan(&[d.path().to_owned()], &Filter::default()).unwrap_err();
    assert!(e.to_string().contains("no dataset files"), "{e}");
}
