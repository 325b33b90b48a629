//! TLS record, ClientHello, handshake walk and certificate name and subject parsing.
#![no_main]
use exitflow_dpi::parse::Parse;
use exitflow_dpi::tls::parser::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut scratch = Vec::new();
    if let Parse::Done((t, body)) = first_handshake(data, &mut scratch) {
        if t == HS_CLIENT_HELLO
            && let Parse::Done(ch) = client_hello(body)
        {
            let _ = exitflow_dpi::tls::ja4(&ch, 't');
        }
        let _ = server_hello(body);
    }
    let _ = client_hello(data);
    let _ = certificate_subject(data);
    let _ = walk_handshakes(data, &mut scratch, |t, body| {
        if t == HS_CERTIFICATE {
            certificate_names(body, |n| n.is_empty());
            let _ = certificate_subject(body);
        }
        false
    });
});
