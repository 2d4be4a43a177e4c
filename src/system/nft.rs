//! nftables driver: our one table, applied whole with `nft -f -` in one transaction (as
//! OpenWrt's fw4 does), and a netlink monitor that tells when any nft ruleset changes.

use std::process::Stdio;
use std::time::Duration;

use futures::Stream;
use netlink_sys::{protocols::NETLINK_NETFILTER, AsyncSocket, AsyncSocketExt, TokioSocket};
use thiserror::Error;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::core::owned::NFT_TABLE;
use crate::core::Ruleset;
use crate::reconcile::Firewall;

/// nfnetlink multicast group for nf_tables changes (`NFNLGRP_NFTABLES`,
/// include/uapi/linux/netfilter/nfnetlink.h).
const NFNLGRP_NFTABLES: u32 = 7;

/// How long one nft run may take before it is killed. Loading a 100k-entry set takes about
/// a second on this project's test machines; a router's slow CPU gets ample margin, yet a
/// hung nft (a kernel lock, a stuck netlink socket) cannot hold the table's repair forever.
const NFT_TIMEOUT: Duration = Duration::from_secs(60);

/// A failed nft invocation.
#[derive(Debug, Error)]
pub enum NftError {
    // Not named `source`: the I/O error is already in the message, and as the error's
    // source `{:#}` would print it twice.
    #[error("nft: cannot run `{program}`: {error}{}", install_hint(error))]
    Spawn {
        program: String,
        error: std::io::Error,
    },
    #[error("nft: {action} failed: {stderr}")]
    Failed { action: String, stderr: String },
    #[error("nft: {action}: no answer within {} s, killed", NFT_TIMEOUT.as_secs())]
    TimedOut { action: String },
}

/// Only a missing program is an installation problem; EMFILE or ENOMEM are not.
fn install_hint(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::NotFound => " (is the nftables package installed?)",
        _ => "",
    }
}

impl NftError {
    /// Whether nft could not run at all, or was refused the permission to change the
    /// ruleset: an installation problem, not something a retry mends.
    pub fn is_fatal(&self) -> bool {
        match self {
            // Out of file descriptors or memory passes; a missing binary does not.
            NftError::Spawn { error, .. } => matches!(
                error.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ),
            NftError::Failed { stderr, .. } => stderr.contains("Operation not permitted"),
            NftError::TimedOut { .. } => false,
        }
    }
}

/// Runs the `nft` program. Remembers what our table looked like right after our own last
/// apply, because nft prints a ruleset in its own normal form, not in the form we wrote.
pub struct Nft {
    program: String,
    applied: Option<(Ruleset, String)>,
}

impl Default for Nft {
    fn default() -> Self {
        Nft {
            program: "nft".into(),
            applied: None,
        }
    }
}

impl Nft {
    /// Runs nft with `args`, feeding `stdin`, and returns its output. Async and bounded in
    /// time, so the event loop never waits on it (a large set takes seconds to load).
    async fn run(
        &self,
        args: &[&str],
        stdin: Option<&str>,
        action: &str,
    ) -> Result<String, NftError> {
        let spawn_err = |error| NftError::Spawn {
            program: self.program.clone(),
            error,
        };
        let mut child = Command::new(&self.program)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(spawn_err)?;
        let input = child.stdin.take();
        let feed = async move {
            if let (Some(text), Some(mut pipe)) = (stdin, input) {
                // A broken pipe means nft exited early: its status and stderr say why.
                let _ = pipe.write_all(text.as_bytes()).await;
            }
        };
        let run = async { tokio::join!(feed, child.wait_with_output()).1 };
        let out = tokio::time::timeout(NFT_TIMEOUT, run)
            .await
            .map_err(|_| NftError::TimedOut {
                action: action.into(),
            })?
            .map_err(spawn_err)?;
        if !out.status.success() {
            return Err(NftError::Failed {
                action: action.into(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Our table as nft lists it, or `None` when it does not exist. Terse (`-t`): set
    /// elements are left out, so a large set does not make every check slow.
    async fn current(&self) -> Result<Option<String>, NftError> {
        let args = ["-t", "list", "table", "inet", NFT_TABLE];
        match self.run(&args, None, "list").await {
            Ok(text) => Ok(Some(text)),
            // nft exits 1 with "No such file or directory" when the table is missing.
            Err(NftError::Failed { stderr, .. }) if stderr.contains("No such file") => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Declaring the table first makes the delete succeed whether or not it existed, so the
/// whole replacement is one atomic transaction with no moment without our rules.
fn replace_script(ruleset: &Ruleset) -> String {
    format!(
        "table inet {NFT_TABLE}\ndelete table inet {NFT_TABLE}\n{}{}",
        ruleset.table, ruleset.share
    )
}

impl Firewall for Nft {
    type Error = NftError;

    async fn holds(&mut self, ruleset: &Ruleset) -> Result<bool, NftError> {
        let Some((applied, listed)) = &self.applied else {
            return Ok(false);
        };
        if !applied.same_as(ruleset) {
            return Ok(false);
        }
        let intact = self.current().await?.as_ref() == Some(listed);
        if !intact {
            // Changed behind our back: the next apply replaces the whole table without
            // listing it again.
            self.applied = None;
        }
        Ok(intact)
    }

    /// Only the share rule when nothing else differs from our last apply and the table
    /// is still as we left it; otherwise the whole table.
    async fn apply(&mut self, ruleset: &Ruleset) -> Result<(), NftError> {
        let intact = match &self.applied {
            Some((applied, listed)) if applied.same_table(ruleset) => {
                self.current().await?.as_ref() == Some(listed)
            }
            _ => false,
        };
        self.applied = None;
        // The share commands flush and refill their own chains, so on their own they apply a
        // change of selection without reloading the table's sets.
        if intact {
            self.run(&["-f", "-"], Some(&ruleset.share), "apply load sharing")
                .await?;
        } else {
            let script = replace_script(ruleset);
            self.run(&["-f", "-"], Some(&script), "apply table").await?;
        }
        let listed = self.current().await?.unwrap_or_default();
        self.applied = Some((ruleset.clone(), listed));
        Ok(())
    }

    async fn remove(&mut self) -> Result<(), NftError> {
        self.applied = None;
        let script = replace_script(&Ruleset::default());
        self.run(&["-f", "-"], Some(&script), "remove table")
            .await?;
        Ok(())
    }
}

/// Yields `()` whenever any nftables ruleset changes (our own applies included), so a
/// firewall reload or `nft flush ruleset` is noticed at once instead of by polling.
pub fn monitor() -> std::io::Result<impl Stream<Item = ()>> {
    let mut socket = TokioSocket::new(NETLINK_NETFILTER)?;
    socket.socket_mut().bind_auto()?;
    socket.socket_mut().add_membership(NFNLGRP_NFTABLES)?;
    Ok(futures::stream::unfold(socket, |socket| async move {
        match socket.recv_from_full().await {
            Ok(_) => Some(((), socket)),
            Err(e) => {
                tracing::warn!("nft monitor stopped: {e}");
                None
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_script_declares_before_deleting() {
        let ruleset = Ruleset {
            table: "table inet uplink {\n}\n".into(),
            share: "add rule inet uplink share goto share_0\n".into(),
        };
        assert_eq!(
            replace_script(&ruleset),
            "table inet uplink\ndelete table inet uplink\ntable inet uplink {\n}\n\
             add rule inet uplink share goto share_0\n"
        );
    }
}
