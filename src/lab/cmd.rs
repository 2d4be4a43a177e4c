//! Running `ip`, `nft` and `sysctl` in the lab's namespaces.

use std::io::Write;
use std::process::{Command, Stdio};

use super::LabError;
use crate::netns::Netns;

pub(super) fn sysctl(ns: &Netns, settings: &[String]) -> Result<(), LabError> {
    let mut args = vec!["sysctl", "-q", "-w"];
    args.extend(settings.iter().map(String::as_str));
    ns.exec(&args)?;
    Ok(())
}

/// Runs `ip` commands in `ns` in one process (`ip -batch`), one fork instead of dozens.
pub(super) fn ip_batch(ns: &Netns, cmds: &[String]) -> Result<(), LabError> {
    batch(ns, &[], cmds)
}

/// [`ip_batch`] for IPv6 (`ip -6 -batch`): `default` then means `::/0`.
pub(super) fn ip6_batch(ns: &Netns, cmds: &[String]) -> Result<(), LabError> {
    batch(ns, &["-6"], cmds)
}

fn batch(ns: &Netns, options: &[&str], cmds: &[String]) -> Result<(), LabError> {
    let mut cmd = Command::new("ip");
    cmd.args(["-n", ns.name()])
        .args(options)
        .args(["-batch", "-"]);
    run_with_input(ns, cmd, &(cmds.join("\n") + "\n"))
}

/// Applies an nft script in `ns` as one transaction.
pub(super) fn nft(ns: &Netns, script: &str) -> Result<(), LabError> {
    let mut cmd = ns.command("nft");
    cmd.args(["-f", "-"]);
    run_with_input(ns, cmd, script)
}

/// An nft script that replaces `family name` by `definition` (or just deletes it when
/// `definition` is empty), and does not fail when the table is absent.
pub(super) fn replace_table(family: &str, name: &str, definition: &str) -> String {
    // `add` first makes the `delete` safe when the table does not exist yet.
    format!("add table {family} {name}\ndelete table {family} {name}\n{definition}")
}

fn run_with_input(ns: &Netns, mut cmd: Command, input: &str) -> Result<(), LabError> {
    let described = format!("{cmd:?}");
    let fail = |detail: String| LabError::Command {
        ns: ns.name().to_string(),
        cmd: described.clone(),
        detail,
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| fail(e.to_string()))?;
    }
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(fail(format!("{stderr}\ninput:\n{input}")));
    }
    Ok(())
}
