//! Fuzzes `uplink import-mwan3`: any mwan3 config (and network config, after a NUL byte in
//! the input) gives TOML or an error, never a panic. Run as the UCI target (see uci.rs):
//! `cargo fuzz run mwan3`.
//!
//! 2026-12-01: 1,884,659 runs in 91 s (`RUSTC_BOOTSTRAP=1 cargo fuzz run mwan3 -- -max_total_time=90`),
//! no crash.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (mwan3, network) = match text.split_once('\0') {
        Some((m, n)) => (m, Some(n)),
        None => (text, None),
    };
    if let Ok(toml) = uplink::config::mwan3::import(mwan3, network) {
        // What it writes is TOML uplink reads: valid, or refused with an error (a FIX note).
        let _ = uplink::config::parse(&toml);
    }
});
