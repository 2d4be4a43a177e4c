//! The real `uplink run` as a child process in the lab's router namespace, with its config,
//! control socket and log in a private directory. Shared by `uplink lab` and the tests.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{Lab, LabError, Line, Role, PROBE_TARGETS};
use crate::daemon::control::{request, Request};
use crate::daemon::status::Status;
use crate::netns::{unique_prefix, Netns};

/// Probe settings for the lab's lines: the defaults, or a faster profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeProfile {
    /// The documented defaults (no probe keys written).
    Default,
    /// The fast profile: sub-second detection of a dead upstream.
    Fast,
    /// Quick enough for tests to finish fast, slow enough to be robust on busy machines.
    Test,
}

impl ProbeProfile {
    /// The probe keys of this profile, as TOML lines.
    pub fn keys(self) -> &'static str {
        match self {
            ProbeProfile::Default => "",
            ProbeProfile::Fast => {
                "interval_ms = 100\ntimeout_ms = 300\ndown_after_ms = 400\nup_after_ms = 3000\n"
            }
            ProbeProfile::Test => {
                "interval_ms = 200\ntimeout_ms = 500\ndown_after_ms = 1000\nup_after_ms = 3000\n"
            }
        }
    }
}

/// The lab's two lines as uplink config: "main" on wan1 (metric 100), "backup" on wan2
/// (metric 200), both masquerading and probing both targets.
pub fn two_line_config(socket: &Path, profile: ProbeProfile) -> String {
    let targets = format!("[\"{}\", \"{}\"]", PROBE_TARGETS[0], PROBE_TARGETS[1]);
    two_line_config_probing(socket, profile, &format!("targets = {targets}\n"))
}

/// The two-line config whose lines judge the web, not ICMP: an HTTP check (a 204 expected)
/// and a DNS query to `net`'s web host (see [`Lab::start_net_responders`]), both needed.
pub fn probe_kinds_config(socket: &Path, profile: ProbeProfile) -> String {
    let web = super::ECHO_SERVER.ip();
    let keys = format!(
        "targets = [\"http://{web}{}\", \"dns://{web}\"]\nreliability = 2\n",
        super::LAB_CHECK_PATH
    );
    two_line_config_probing(socket, profile, &keys)
}

/// The two-line config with `probe_keys` (TOML lines) in both lines' probe tables.
pub fn two_line_config_probing(socket: &Path, profile: ProbeProfile, probe_keys: &str) -> String {
    let line = |name: &str, line: Line| {
        format!(
            "[[uplink]]\nname = \"{name}\"\ndevice = \"{}\"\ngateway = \"{}\"\nmetric = {}\nmasquerade = true\n[uplink.probe]\n{probe_keys}{}\n",
            line.device(),
            line.gateway(),
            line.static_metric(),
            profile.keys()
        )
    };
    format!(
        "socket = \"{}\"\n\n{}{}",
        socket.display(),
        line("main", Line::One),
        line("backup", Line::Two)
    )
}

/// A daemon process in the router namespace; killed and its files removed on drop.
pub struct LabDaemon {
    exe: PathBuf,
    dir: PathBuf,
    child: Option<Child>,
    /// Extra environment for the daemon (e.g. systemd's NOTIFY_SOCKET in a test).
    env: Vec<(String, String)>,
    /// Extra `uplink run` arguments (e.g. `--log syslog`).
    args: Vec<String>,
}

impl LabDaemon {
    /// Prepares a private directory with the two-line config; `exe` is the uplink binary.
    pub fn new(exe: &Path, profile: ProbeProfile) -> Result<Self, LabError> {
        let dir = std::env::temp_dir().join(unique_prefix("daemon"));
        fs::create_dir_all(&dir).map_err(LabError::io("create daemon directory"))?;
        let daemon = LabDaemon {
            exe: exe.to_path_buf(),
            dir,
            child: None,
            env: Vec::new(),
            args: Vec::new(),
        };
        daemon.write_config(&two_line_config(&daemon.socket(), profile))?;
        Ok(daemon)
    }

    pub fn config(&self) -> PathBuf {
        self.dir.join("uplink.toml")
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("uplink.sock")
    }

    /// The file that receives the daemon's stdout and stderr.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("daemon.log")
    }

    /// Adds `uplink run` arguments for the next start.
    pub fn add_args(&mut self, args: &[&str]) {
        self.args.extend(args.iter().map(|a| a.to_string()));
    }

    /// Sets an environment variable for the next start.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.push((key.to_string(), value.to_string()));
    }

    /// Replaces the config file (takes effect at start or on SIGHUP).
    pub fn write_config(&self, text: &str) -> Result<(), LabError> {
        fs::write(self.config(), text).map_err(LabError::io("write daemon config"))
    }

    /// Everything the daemon logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Starts `uplink run` in the lab's router namespace.
    pub fn start(&mut self, lab: &Lab) -> Result<(), LabError> {
        self.start_in(lab.ns(Role::Router))
    }

    /// Starts `uplink run` in `ns`, logging to the private directory.
    pub fn start_in(&mut self, ns: &Netns) -> Result<(), LabError> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(LabError::io("open daemon log"))?;
        let stderr = log.try_clone().map_err(LabError::io("open daemon log"))?;
        let child = ns
            .command(self.exe.to_str().unwrap_or("uplink"))
            .args(["run", "-c"])
            .arg(self.config())
            .args(&self.args)
            .env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .map_err(LabError::io("start uplink run"))?;
        self.child = Some(child);
        Ok(())
    }

    /// Runs `uplink ARGS` in the router namespace to completion.
    pub fn run_once(&self, lab: &Lab, args: &[&str]) -> Result<std::process::Output, LabError> {
        lab.ns(Role::Router)
            .command(self.exe.to_str().unwrap_or("uplink"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(LabError::io("run uplink"))
    }

    /// The daemon's status over its control socket, or `None` when it does not answer.
    pub fn status(&self) -> Option<Status> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        let value = rt
            .block_on(request(&self.socket(), &Request::Status))
            .ok()?;
        serde_json::from_value(value).ok()
    }

    /// The names of the active lines, if the daemon answers.
    pub fn active(&self) -> Option<Vec<String>> {
        let status = self.status()?;
        Some(
            status
                .uplinks
                .into_iter()
                .filter(|l| l.active)
                .map(|l| l.name)
                .collect(),
        )
    }

    /// The daemon's process id, if running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends `signal` to the daemon, if running.
    pub fn signal(&self, signal: i32) {
        if let Some(child) = &self.child {
            // SAFETY: kill(2) on our own child process.
            unsafe { libc::kill(child.id() as i32, signal) };
        }
    }

    /// SIGTERM and wait (up to `within`, then SIGKILL); `None` if it was not running.
    pub fn stop(&mut self, within: Duration) -> Option<ExitStatus> {
        self.signal(libc::SIGTERM);
        let mut child = self.child.take()?;
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if start.elapsed() > within {
                let _ = child.kill();
                return child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits up to `within` for the daemon to exit by itself (no signal: its pid may be
    /// reused once it is gone); `None` if it is still running or was never started.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            if start.elapsed() > within {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to clean up (a crash).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Leaves the daemon running and its directory in place (`uplink lab --keep`);
    /// returns the directory.
    pub fn keep(mut self) -> PathBuf {
        self.child.take();
        let dir = self.dir.clone();
        std::mem::forget(self);
        dir
    }

    /// Whether the process has exited (or was never started).
    pub fn exited(&mut self) -> bool {
        match &mut self.child {
            Some(child) => !matches!(child.try_wait(), Ok(None)),
            None => true,
        }
    }
}

impl Drop for LabDaemon {
    fn drop(&mut self) {
        self.kill();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
