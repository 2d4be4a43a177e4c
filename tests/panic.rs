//! A panic in the daemon ends the process with one clear error line, also where panics
//! unwind (test binaries always do, as OpenWrt's `panic = "unwind"` packages do).
//!
//! Each case re-runs this test binary as a child that does what `uplink run` does at start
//! (logging to stderr, then `install_panic_hook`), builds the daemon's runtime and panics in
//! a task or a blocking thread while the main future carries on, as the event loop would.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const MODE: &str = "UPLINK_TEST_PANIC_CHILD";

/// How long the child's "event loop" runs on after the panic if nothing ends it.
const RUNS_ON: Duration = Duration::from_secs(30);

/// Runs the `child` test below in a new process with `mode`.
fn run_child(mode: &str) -> (Output, Duration) {
    let start = Instant::now();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(MODE, mode)
        .output()
        .unwrap();
    (out, start.elapsed())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The child: not a test of its own (ignored), run only by the tests below.
#[test]
#[ignore = "run by the other tests of this file in a child process"]
fn child() {
    let mode = std::env::var(MODE).expect("run by the panic tests with UPLINK_TEST_PANIC_CHILD");
    // The daemon's own subscriber, writing plain lines to stderr.
    let notes = uplink::log::init(
        uplink::log::Mode::Stderr,
        std::path::Path::new("/dev/null"),
        None,
    );
    assert!(notes.is_empty(), "{notes:?}");
    if mode != "task-without-hook" {
        uplink::daemon::crash::install_panic_hook();
    }
    // The runtime `uplink run` uses: one thread, blocking work on a pool beside it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let wait = if mode == "task-without-hook" {
        Duration::from_millis(300)
    } else {
        RUNS_ON
    };
    runtime.block_on(async move {
        match mode.as_str() {
            "task" | "task-without-hook" => {
                tokio::spawn(async { panic!("probe table corrupt") });
            }
            "blocking" => {
                tokio::task::spawn_blocking(|| panic!("nft output unreadable"));
            }
            other => panic!("unknown mode {other}"),
        }
        tokio::time::sleep(wait).await;
    });
    println!("still running after the panic");
}

/// Asserts the child was ended by the hook: SIGABRT well before it would have finished,
/// one error line naming the place and the message, and nothing after it.
fn assert_ended_by_the_hook(mode: &str, message: &str) {
    let (out, took) = run_child(mode);
    let stderr = text(&out.stderr);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "{mode}: {:?}\n{stdout}{stderr}",
        out.status
    );
    assert!(took < RUNS_ON / 2, "{mode}: ended only after {took:?}");
    assert!(!stdout.contains("still running"), "{stdout}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("internal error (panic)"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let expected = "uplink: internal error (panic) at tests/panic.rs:";
    let line = lines[0];
    assert!(
        line.contains(" ERROR "),
        "not logged at error level: {line}"
    );
    let tail = line
        .split_once(expected)
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("{line}"));
    assert!(
        tail.ends_with(&format!(
            ": {message}; exiting so the service manager restarts it"
        )),
        "{line}"
    );
    // Rust's own "thread ... panicked at" message is replaced, not added.
    assert!(!stderr.contains("panicked at"), "{stderr}");
}

#[test]
fn panic_in_a_task_ends_the_process() {
    assert_ended_by_the_hook("task", "probe table corrupt");
}

#[test]
fn panic_in_a_blocking_thread_ends_the_process() {
    assert_ended_by_the_hook("blocking", "nft output unreadable");
}

/// Why the hook exists: without it the runtime catches the task's panic and the rest of the
/// daemon runs on as if nothing happened.
#[test]
fn without_the_hook_a_task_panic_leaves_the_process_running() {
    let (out, _) = run_child("task-without-hook");
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{:?}\n{}",
        out.status,
        text(&out.stderr)
    );
    assert!(stdout.contains("still running after the panic"), "{stdout}");
}
