//! The local proxy's HTTP and SOCKS5 handshakes and its allow/deny rule
//! parser on arbitrary bytes: no panics, bounded consumption, prefixes
//! never complete early (see `ssm_forward_fuzz::proxy_handshake`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ssm_forward_fuzz::proxy_handshake::check(data);
});
