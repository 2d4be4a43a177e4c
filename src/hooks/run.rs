//! Running the hooks of one event: every executable in the directory in name order, then
//! `hotplug-call uplink` where it exists; each with a time limit and its output logged.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use super::{HookConfig, HookEvent, IfaceState};
use crate::files::trust;

/// Runs everything for `event`, one program after another: the hooks, `hotplug-call
/// uplink`, then `hotplug-call iface` as mwan3track would call it (`iface` tracks what was
/// sent for the line).
pub(super) async fn all_hooks(config: &HookConfig, event: &HookEvent, iface: &mut IfaceState) {
    let env = Env::Add(event.env());
    for (path, real) in trusted_hooks(&config.dir) {
        run_one(config, &env, &path, &real, &[]).await;
    }
    let Some(hotplug) = &config.hotplug_call else {
        return;
    };
    let Some(real) = trusted(hotplug) else {
        return;
    };
    run_one(config, &env, hotplug, &real, &["uplink"]).await;
    if !config.hotplug_iface {
        return;
    }
    if let Some(vars) = iface.next(event) {
        // `env -i`, as mwan3track: iface scripts see only these.
        run_one(config, &Env::Only(vars), hotplug, &real, &["iface"]).await;
    }
}

/// A program's environment: the daemon's plus some variables, or only the given ones.
enum Env {
    Add(Vec<(String, String)>),
    Only(Vec<(String, String)>),
}

/// The hooks of `dir` that may run as root: none if the directory (or one above it) could
/// be changed by another user, else each executable that only root (or we) could have put
/// there, with the resolved path that was checked (run that one, so a symlink swapped after
/// the check changes nothing).
fn trusted_hooks(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let hooks = executables(dir);
    if hooks.is_empty() {
        return Vec::new();
    }
    if let Err(e) = trust::check(dir) {
        tracing::error!(
            "hooks: not running any hook from {}: {e} (must be owned by root and writable \
             by no one else, like every directory above it)",
            dir.display()
        );
        return Vec::new();
    }
    hooks
        .into_iter()
        .filter_map(|path| trusted(&path).map(|real| (path, real)))
        .collect()
}

/// `path` resolved, if it passes [`trust::check`]; otherwise logs why it is not run.
fn trusted(path: &Path) -> Option<PathBuf> {
    match trust::check(path) {
        Ok(real) => Some(real),
        Err(e) => {
            tracing::error!(
                "hook {}: not run: {e} (a hook must be owned by root and writable by no \
                 one else)",
                file_name(path)
            );
            None
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Executable regular files of `dir` in name order; dotfiles and editor backups (`~`) are
/// skipped. The directory is read at each event, so new scripts need no restart.
pub fn executables(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::debug!("hooks: no directory {}", dir.display());
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| is_hook(p))
        .collect();
    crate::sort::stable(&mut paths);
    paths
}

fn is_hook(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or(".");
    if name.starts_with('.') || name.ends_with('~') {
        return false;
    }
    is_executable(path)
}

/// A regular file (after following links) with an execute bit set.
pub fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs the hook found at `path`, checked and resolved to `real`.
async fn run_one(config: &HookConfig, env: &Env, path: &Path, real: &Path, args: &[&str]) {
    let name = file_name(path);
    let mut command = Command::new(real);
    match env {
        Env::Add(vars) => command.envs(vars.iter().cloned()),
        Env::Only(vars) => command.env_clear().envs(vars.iter().cloned()),
    };
    let mut child = match command
        // The path it was found at, as before the check resolved it: scripts may use $0.
        .arg0(path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group, so the time limit also ends what the hook started.
        .process_group(0)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => return tracing::warn!("hook {name}: cannot run: {e}"),
    };
    let mut out = tokio::spawn(log_lines(child.stdout.take(), name.clone(), false));
    let mut err = tokio::spawn(log_lines(child.stderr.take(), name.clone(), true));
    match tokio::time::timeout(config.timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => {}
        Ok(Ok(status)) => tracing::warn!("hook {name}: {}", describe(status)),
        Ok(Err(e)) => tracing::warn!("hook {name}: {e}"),
        Err(_) => {
            if let Some(pid) = child.id() {
                // SAFETY: killpg(2) on the process group the hook leads.
                unsafe { libc::killpg(pid as i32, libc::SIGKILL) };
            }
            let _ = child.kill().await;
            let limit = config.timeout.as_millis();
            tracing::warn!("hook {name}: killed after its time limit of {limit} ms");
        }
    }
    // Let the readers log what is left, but not for long: a killed hook's children may
    // hold the pipes open.
    let drain = async {
        let _ = (&mut out).await;
        let _ = (&mut err).await;
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), drain).await;
    out.abort();
    err.abort();
}

/// "exited with status 3", or "killed by signal 9" when there is no exit code.
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => format!("ended with {status}"),
    }
}

async fn log_lines(pipe: Option<impl AsyncRead + Unpin>, name: String, is_stderr: bool) {
    let Some(pipe) = pipe else { return };
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if is_stderr {
            tracing::warn!("hook {name}: {line}");
        } else {
            tracing::info!("hook {name}: {line}");
        }
    }
}
