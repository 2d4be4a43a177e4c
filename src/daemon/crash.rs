//! What a panic does in the daemon: one error line, then the process ends at once.
//!
//! OpenWrt's Rust packages are built with `panic = "unwind"` (the feed's `rust-values.mk`
//! forces it), and with unwinding a panic inside a tokio task or a blocking thread is caught
//! by the runtime: the task ends, the event loop runs on without it (a monitor, a prober or
//! the control server gone), and the daemon stays up half-broken with no one noticing. The
//! hook turns every panic, wherever it happens, into the end of the process, as
//! `panic = "abort"` builds (ours, the Debian package's) already do, so procd or systemd
//! restart it. The routes, rules and nft table it leaves keep traffic on the line that was
//! active (the same as after SIGKILL), and the next start adopts them.

use std::any::Any;

/// Installs the panic hook of `uplink run`: log the panic as one error line, then abort.
///
/// Abort, not `exit`: after a broken invariant no more of our code should run (`exit` runs
/// atexit handlers and flushes stdout, which may wait on a lock the panicking code held),
/// it is exactly what the release build's `panic = "abort"` does, and both procd (`respawn`)
/// and systemd (`Restart=on-failure`) restart a service killed by SIGABRT. Where core dumps
/// are enabled (systemd-coredump), the dump shows where it happened.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| (l.file(), l.line()));
        let line = panic_line(location, payload_message(info.payload()));
        // Before logging is set up (or in a test binary without it) there is no subscriber,
        // and an event would vanish: write to stderr, which procd and systemd both log.
        if tracing::dispatcher::has_been_set() {
            tracing::error!("{line}");
        } else {
            eprintln!("{line}");
        }
        std::process::abort();
    }));
}

/// The log line for a panic at `location` (file, line) with `message`.
pub fn panic_line(location: Option<(&str, u32)>, message: &str) -> String {
    let at = match location {
        Some((file, line)) => format!("{file}:{line}"),
        None => "an unknown place".to_string(),
    };
    // One line whatever the message holds: a newline would forge a second log line.
    format!(
        "uplink: internal error (panic) at {at}: {}; exiting so the service manager restarts it",
        crate::text::printable(message)
    )
}

/// The text of a panic's payload: `panic!("...")` carries a `&str` or a `String`.
fn payload_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "(no message)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_names_the_place_and_the_message() {
        assert_eq!(
            panic_line(Some(("src/daemon/mod.rs", 42)), "index out of bounds"),
            "uplink: internal error (panic) at src/daemon/mod.rs:42: index out of bounds; \
             exiting so the service manager restarts it"
        );
        assert!(panic_line(None, "x").contains("at an unknown place: x;"));
    }

    #[test]
    fn line_stays_one_line() {
        let line = panic_line(Some(("a.rs", 1)), "first\nsecond\u{1b}[2J");
        assert!(!line.contains('\n') && !line.contains('\u{1b}'), "{line}");
        assert!(line.contains(r"first\nsecond\u{1b}[2J"), "{line}");
    }

    #[test]
    fn payloads_of_both_kinds_and_others() {
        let text: Box<dyn Any + Send> = Box::new("static text");
        assert_eq!(payload_message(text.as_ref()), "static text");
        let owned: Box<dyn Any + Send> = Box::new(format!("owned {}", 7));
        assert_eq!(payload_message(owned.as_ref()), "owned 7");
        let other: Box<dyn Any + Send> = Box::new(7u32);
        assert_eq!(payload_message(other.as_ref()), "(no message)");
    }
}
