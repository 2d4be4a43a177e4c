//! Event hooks: executables in a directory run when a line goes up or down, starts or stops
//! carrying traffic, or a policy moves. The facts travel in environment variables, never
//! through a shell string. Hooks run beside the event loop, in order per line, each with a
//! time limit, so a slow script never delays a failover. Hooks run as root, so one runs only
//! if no other user could have written it or its directories ([`crate::files::trust`]).

mod run;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::mpsc;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Up,
    Down,
    Active,
    Inactive,
    PolicyChange,
    /// Up but too slow or too lossy (`max_rtt_ms`, `max_loss_pct`).
    Degraded,
    /// Within its quality limits again.
    Recovered,
    /// Suppressed for flapping (see `dampening` in the README).
    Suppressed,
    /// No longer suppressed.
    Unsuppressed,
}

impl HookKind {
    /// The value of `UPLINK_EVENT` (and `ACTION`).
    pub fn as_str(self) -> &'static str {
        match self {
            HookKind::Up => "up",
            HookKind::Down => "down",
            HookKind::Active => "active",
            HookKind::Inactive => "inactive",
            HookKind::PolicyChange => "policy",
            HookKind::Degraded => "degraded",
            HookKind::Recovered => "recovered",
            HookKind::Suppressed => "suppressed",
            HookKind::Unsuppressed => "unsuppressed",
        }
    }
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event, as hooks see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookEvent {
    pub kind: HookKind,
    /// `UPLINK_LINE` (also `INTERFACE`, as hotplug scripts expect).
    pub line: String,
    /// `UPLINK_DEVICE`.
    pub device: String,
    /// `UPLINK_INTERFACE`: the OpenWrt netifd interface the line follows (`interface`),
    /// also `INTERFACE` of the `hotplug-call iface` events.
    pub interface: Option<String>,
    /// `UPLINK_FAMILY`: `ipv4` or `ipv6`; empty for a policy that moved to no line.
    pub family: String,
    /// `UPLINK_GATEWAY`; not set when the line has none.
    pub gateway: Option<String>,
    /// `UPLINK_REASON`.
    pub reason: String,
    /// `UPLINK_PREVIOUS_ACTIVE`, comma-separated.
    pub previous_active: Vec<String>,
    /// `UPLINK_ACTIVE`, comma-separated.
    pub active: Vec<String>,
    /// `UPLINK_POLICY`, for policy events.
    pub policy: Option<String>,
    /// `UPLINK_FAILING`, one per line: the line's probe targets not answering, each as
    /// `KIND TARGET` (`http http://x/generate_204`).
    pub failing: Vec<String>,
}

impl HookEvent {
    /// The environment a hook runs with.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("UPLINK_EVENT", self.kind.as_str().to_string()),
            ("ACTION", self.kind.as_str().to_string()),
            ("UPLINK_LINE", self.line.clone()),
            ("INTERFACE", self.line.clone()),
            ("UPLINK_DEVICE", self.device.clone()),
            ("UPLINK_FAMILY", self.family.clone()),
            ("UPLINK_REASON", self.reason.clone()),
            ("UPLINK_PREVIOUS_ACTIVE", self.previous_active.join(",")),
            ("UPLINK_ACTIVE", self.active.join(",")),
            ("UPLINK_FAILING", self.failing.join("\n")),
        ];
        if let Some(gateway) = &self.gateway {
            env.push(("UPLINK_GATEWAY", gateway.clone()));
        }
        if let Some(policy) = &self.policy {
            env.push(("UPLINK_POLICY", policy.clone()));
        }
        if let Some(interface) = &self.interface {
            env.push(("UPLINK_INTERFACE", interface.clone()));
        }
        env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

/// Where hooks live and how long each may run.
#[derive(Debug, Clone)]
pub struct HookConfig {
    pub dir: PathBuf,
    pub timeout: Duration,
    /// OpenWrt's `hotplug-call`, run as `hotplug-call uplink` so that scripts in
    /// /etc/hotplug.d/uplink work like any other hotplug script.
    pub hotplug_call: Option<PathBuf>,
    /// Also run `hotplug-call iface` with mwan3's `ACTION=connected|disconnected`,
    /// `INTERFACE`, `DEVICE` when a line that follows a netifd interface goes up or down.
    pub hotplug_iface: bool,
}

impl HookConfig {
    /// Uses `hotplug-call` when it exists (OpenWrt): `/sbin/hotplug-call`, else the first
    /// one on `PATH`. Looked up once here, not at each event.
    pub fn new(dir: PathBuf, timeout: Duration, hotplug_iface: bool) -> Self {
        let path = std::env::var_os("PATH");
        HookConfig {
            dir,
            timeout,
            hotplug_call: find_program("hotplug-call", Path::new("/sbin"), path.as_deref()),
            hotplug_iface,
        }
    }
}

/// Executable `name` in `first`, else in the directories of `path` (a `PATH` value): the
/// daemon may run with a minimal PATH, and OpenWrt keeps its tools in fixed places.
pub(crate) fn find_program(name: &str, first: &Path, path: Option<&OsStr>) -> Option<PathBuf> {
    let on_path = path.into_iter().flat_map(std::env::split_paths);
    std::iter::once(first.to_path_buf())
        .chain(on_path)
        // An empty PATH entry means the working directory: not a place to run things from.
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| run::is_executable(candidate))
}

/// Events waiting per line at most: a line that flaps while its hook is slow (the time
/// limit may be long) must not grow the daemon's memory without bound. Beyond it the newest
/// events are dropped, and the log says so.
const QUEUE: usize = 64;

/// Queues events per line; one task per line runs them in order.
pub struct HookRunner {
    config: HookConfig,
    queues: Mutex<HashMap<String, mpsc::Sender<HookEvent>>>,
}

impl HookRunner {
    /// Spawns nothing until the first event; must be used inside a tokio runtime.
    pub fn new(config: HookConfig) -> Self {
        HookRunner {
            config,
            queues: Mutex::new(HashMap::new()),
        }
    }

    /// Enqueues `event` for its line's hook task and returns at once.
    pub fn emit(&self, event: HookEvent) {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let queue = queues
            .entry(event.line.clone())
            .or_insert_with(|| self.spawn_line_task());
        match queue.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(event)) => tracing::warn!(
                "hooks: {QUEUE} events of uplink \"{}\" still waiting for slow hooks: {} event dropped",
                event.line,
                event.kind
            ),
            Err(mpsc::error::TrySendError::Closed(event)) => {
                // The task is gone (it only ends if its queue closes): start a new one.
                let fresh = self.spawn_line_task();
                let _ = fresh.try_send(event);
                *queue = fresh;
            }
        }
    }

    fn spawn_line_task(&self) -> mpsc::Sender<HookEvent> {
        let (tx, mut rx) = mpsc::channel::<HookEvent>(QUEUE);
        let config = self.config.clone();
        tokio::spawn(async move {
            let mut iface = IfaceState::default();
            while let Some(event) = rx.recv().await {
                run::all_hooks(&config, &event, &mut iface).await;
            }
        });
        tx
    }
}

/// What mwan3track would have told `/etc/hotplug.d/iface` about one line so far.
#[derive(Debug, Default)]
pub(crate) struct IfaceState {
    /// A `connected` was sent and no `disconnected` since.
    online: bool,
    /// A `connected` was sent since the daemon started.
    connected_once: bool,
}

impl IfaceState {
    /// The environment of `hotplug-call iface` for `event`, as mwan3track sets it (`env -i
    /// ACTION=connected|disconnected INTERFACE DEVICE`, `FIRSTCONNECT=1` on the first
    /// `connected`), or `None` when mwan3 would send nothing: not a line of a netifd
    /// interface, not up or down, or a `disconnected` of a line that was not online (mwan3
    /// skips those, e.g. a line that is down from the start). Updates the state.
    pub(crate) fn next(&mut self, event: &HookEvent) -> Option<Vec<(String, String)>> {
        let interface = event.interface.as_ref()?;
        let (action, first) = match event.kind {
            HookKind::Up if !self.online => {
                let first = !self.connected_once;
                self.online = true;
                self.connected_once = true;
                ("connected", first)
            }
            HookKind::Down if self.online => {
                self.online = false;
                ("disconnected", false)
            }
            _ => return None,
        };
        let mut env = vec![
            ("ACTION".to_owned(), action.to_owned()),
            ("INTERFACE".to_owned(), interface.clone()),
            ("DEVICE".to_owned(), event.device.clone()),
        ];
        if action == "connected" {
            let first = if first { "1" } else { "" };
            env.push(("FIRSTCONNECT".to_owned(), first.to_owned()));
        }
        Some(env)
    }
}

#[cfg(test)]
mod tests;
