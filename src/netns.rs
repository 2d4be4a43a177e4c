//! Network namespaces for tests and the lab: created with a unique name, removed on drop
//! (also when a test fails or panics), never touching the machine's own namespace.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::thread;

use thiserror::Error;

/// Failure to create, enter or run something in a namespace.
#[derive(Debug, Error)]
pub enum NetnsError {
    #[error("netns {ns}: `{cmd}` failed: {detail}")]
    Command {
        ns: String,
        cmd: String,
        detail: String,
    },
    #[error("netns {ns}: cannot enter: {source}")]
    Enter { ns: String, source: std::io::Error },
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Namespaces this process created and has not deleted yet, so that a panic hook can remove
/// them even when the release profile aborts on panic (no unwinding, no `Drop`).
static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<String>> {
    LIVE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Installs a panic hook that kills the processes in, and deletes, every namespace this
/// process still holds, then runs the previous hook. For programs (the lab) whose
/// namespaces must not outlive a crash.
pub fn delete_all_on_panic() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        for name in live().drain(..) {
            delete(&name);
        }
        previous(info);
    }));
}

/// A named network namespace (`/run/netns/NAME`) that is deleted when dropped.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

/// A name prefix unique to this process and call, so tests can run in parallel.
pub fn unique_prefix(label: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("ul{}x{}-{}", std::process::id(), n, label)
}

impl Netns {
    /// Creates the namespace `name` with its loopback up.
    pub fn create(name: &str) -> Result<Self, NetnsError> {
        run_checked("host", &["ip", "netns", "add", name])?;
        live().push(name.to_string());
        let ns = Netns {
            name: name.to_string(),
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name, as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME ARGS...` and returns its stdout.
    pub fn ip(&self, args: &[&str]) -> Result<String, NetnsError> {
        let mut full = vec!["ip", "-n", &self.name];
        full.extend_from_slice(args);
        run_checked(&self.name, &full)
    }

    /// Runs a command inside the namespace and returns its stdout; fails on non-zero exit.
    pub fn exec(&self, args: &[&str]) -> Result<String, NetnsError> {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(args);
        run_checked(&self.name, &full)
    }

    /// Runs a command inside the namespace and returns its full output, whatever the exit code.
    pub fn exec_output(&self, args: &[&str]) -> std::io::Result<Output> {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .stdin(Stdio::null())
            .output()
    }

    /// A `Command` that runs `program` inside the namespace (for long-running children).
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// Runs `f` on a thread that has entered the namespace, so sockets it creates live there.
    ///
    /// `setns(2)` changes only the calling thread's namespace, which is why this uses a
    /// fresh thread instead of touching the caller's.
    pub fn run_in<F, R>(&self, f: F) -> Result<R, NetnsError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let path = format!("/run/netns/{}", self.name);
        let file = File::open(&path).map_err(|source| self.enter_error(source))?;
        let handle = thread::spawn(move || {
            // SAFETY: setns on a valid namespace fd affects only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(f())
        });
        match handle.join() {
            Ok(result) => result.map_err(|source| self.enter_error(source)),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    fn enter_error(&self, source: std::io::Error) -> NetnsError {
        NetnsError::Enter {
            ns: self.name.clone(),
            source,
        }
    }

    /// Kills every process still running in the namespace.
    pub fn kill_all(&self) {
        kill_all(&self.name);
    }

    /// Leaves the namespace in place when dropped (`uplink lab --keep`); returns its name.
    pub fn keep(self) -> String {
        live().retain(|n| *n != self.name);
        let name = self.name.clone();
        std::mem::forget(self);
        name
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        live().retain(|n| *n != self.name);
        delete(&self.name);
    }
}

fn kill_all(name: &str) {
    let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() else {
        return;
    };
    for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        if let Ok(pid) = pid.parse::<i32>() {
            // SAFETY: plain kill(2) on a pid read from the namespace.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

fn delete(name: &str) {
    kill_all(name);
    let _ = Command::new("ip")
        .args(["netns", "del", name])
        .stderr(Stdio::null())
        .status();
}

/// Runs a command and returns stdout, or an error carrying stderr.
fn run_checked(ns: &str, args: &[&str]) -> Result<String, NetnsError> {
    let err = |detail: String| NetnsError::Command {
        ns: ns.to_string(),
        cmd: args.join(" "),
        detail,
    };
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| err(e.to_string()))?;
    if !out.status.success() {
        return Err(err(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether this process may create namespaces; tests call [`require_root`] instead.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Gate for namespace tests: true when they can run. Without root they are skipped with a
/// message locally, but in CI (`CI` set) that is a failure, never a silent skip.
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: namespace tests need root, and CI must not skip them");
    }
    eprintln!("{test}: skipped: not root (namespace tests need root)");
    false
}
