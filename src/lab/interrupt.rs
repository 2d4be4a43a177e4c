//! Ctrl-C and SIGTERM for the lab's long-running commands (`uplink lab`, `uplink bench`):
//! the handler only raises a flag; the command notices it between steps and returns an
//! error through the normal path, so every namespace and process is torn down.

use std::sync::atomic::{AtomicBool, Ordering};

use super::LabError;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Ctrl-C and SIGTERM end the demo through the normal path, so everything is torn down.
pub fn catch_interrupts() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(sig, on_interrupt as *const () as libc::sighandler_t) };
    }
}

pub fn interrupted() -> Result<(), LabError> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(LabError::Interrupted);
    }
    Ok(())
}

/// Sleeps for `how_long`, waking early with an error when interrupted.
pub fn sleep(how_long: std::time::Duration) -> Result<(), LabError> {
    let end = std::time::Instant::now() + how_long;
    while std::time::Instant::now() < end {
        interrupted()?;
        let left = end.saturating_duration_since(std::time::Instant::now());
        std::thread::sleep(left.min(std::time::Duration::from_millis(50)));
    }
    interrupted()
}

/// Checks `done` every `every` until it holds, for at most `within`; an error naming `what`
/// when it never does, or when interrupted.
pub fn poll(
    within: std::time::Duration,
    every: std::time::Duration,
    what: &str,
    mut done: impl FnMut() -> bool,
) -> Result<(), LabError> {
    let start = std::time::Instant::now();
    while start.elapsed() < within {
        if done() {
            return Ok(());
        }
        sleep(every)?;
    }
    Err(LabError::Timeout(format!(
        "{what}: not within {} s",
        within.as_secs()
    )))
}
