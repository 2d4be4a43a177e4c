//! Fuzzes the UCI reader and the `/etc/config/uplink` mapping: any input must give a
//! document or an error, never a panic, and an accepted config must validate or fail
//! with an error, never panic either.
//!
//! Run (cargo-fuzz needs nightly flags for the sanitizer; `RUSTC_BOOTSTRAP=1` lets a stable
//! toolchain accept them, as on the machine this was run on):
//!
//! ```sh
//! cargo install cargo-fuzz
//! cd fuzz && cargo +nightly fuzz run uci -- -max_total_time=300
//! cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run uci -- -max_total_time=120   # stable
//! ```
//!
//! 2026-11-25: 4,462,420 runs in 121 s (the stable command above), no crash.
//!
//! Crashes land in `fuzz/artifacts/uci/`; replay one with
//! `cargo +nightly fuzz run uci fuzz/artifacts/uci/<file>`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = uplink::config::uci::looks_like_uci(text);
    if uplink::config::uci::parse(text).is_ok() {
        let _ = uplink::config::parse_as(text, uplink::config::Format::Uci);
    }
});
