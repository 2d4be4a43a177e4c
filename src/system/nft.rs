//! nftables driver: our one table, applied whole with `nft -f -` in one transaction (as
//! OpenWrt's fw4 does), and a netlink monitor that tells when any nft ruleset changes.

use std::io::Write;
use std::process::{Command, Stdio};

use futures::Stream;
use netlink_sys::{protocols::NETLINK_NETFILTER, AsyncSocket, AsyncSocketExt, TokioSocket};
use thiserror::Error;

use crate::core::owned::NFT_TABLE;
use crate::reconcile::Firewall;

/// nfnetlink multicast group for nf_tables changes (`NFNLGRP_NFTABLES`,
/// include/uapi/linux/netfilter/nfnetlink.h).
const NFNLGRP_NFTABLES: u32 = 7;

/// A failed nft invocation.
#[derive(Debug, Error)]
pub enum NftError {
    // Not named `source`: the I/O error is already in the message, and as the error's
    // source `{:#}` would print it twice.
    #[error("nft: cannot run `{program}`: {error} (is the nftables package installed?)")]
    Spawn {
        program: String,
        error: std::io::Error,
    },
    #[error("nft: {action} failed: {stderr}")]
    Failed { action: String, stderr: String },
}

/// Runs the `nft` program. Remembers what our table looked like right after our own last
/// apply, because nft prints a ruleset in its own normal form, not in the form we wrote.
pub struct Nft {
    program: String,
    applied: Option<(String, String)>,
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
    fn run(&self, args: &[&str], stdin: Option<&str>, action: &str) -> Result<String, NftError> {
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
            .spawn()
            .map_err(spawn_err)?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes()).map_err(spawn_err)?;
        }
        let out = child.wait_with_output().map_err(spawn_err)?;
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
    fn current(&self) -> Result<Option<String>, NftError> {
        match self.run(&["-t", "list", "table", "inet", NFT_TABLE], None, "list") {
            Ok(text) => Ok(Some(text)),
            // nft exits 1 with "No such file or directory" when the table is missing.
            Err(NftError::Failed { stderr, .. }) if stderr.contains("No such file") => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Declaring the table first makes the delete succeed whether or not it existed, so the
/// whole replacement is one atomic transaction with no moment without our rules.
fn replace_script(ruleset: &str) -> String {
    format!("table inet {NFT_TABLE}\ndelete table inet {NFT_TABLE}\n{ruleset}")
}

impl Firewall for Nft {
    type Error = NftError;

    fn holds(&mut self, ruleset: &str) -> Result<bool, NftError> {
        let Some((applied_ruleset, listed)) = &self.applied else {
            return Ok(false);
        };
        Ok(applied_ruleset == ruleset && self.current()?.as_ref() == Some(listed))
    }

    fn apply(&mut self, ruleset: &str) -> Result<(), NftError> {
        self.applied = None;
        self.run(&["-f", "-"], Some(&replace_script(ruleset)), "apply table")?;
        let listed = self.current()?.unwrap_or_default();
        self.applied = Some((ruleset.to_string(), listed));
        Ok(())
    }

    fn remove(&mut self) -> Result<(), NftError> {
        self.applied = None;
        let script = format!("table inet {NFT_TABLE}\ndelete table inet {NFT_TABLE}\n");
        self.run(&["-f", "-"], Some(&script), "remove table")?;
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
        let script = replace_script("table inet uplink {\n}\n");
        assert_eq!(
            script,
            "table inet uplink\ndelete table inet uplink\ntable inet uplink {\n}\n"
        );
    }
}
