//! Command-line interface: argument definitions and the commands that are not the daemon.

pub mod check;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Keeps a Linux router online across several internet lines: probes each line through
/// itself, moves the default route within milliseconds of a link failure and within
/// seconds of an upstream failure, and touches nothing it did not create.
#[derive(Debug, Parser)]
#[command(name = "uplink", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground, logging to stderr (RUST_LOG=debug for more).
    ///
    /// Stops cleanly on SIGTERM or SIGINT, removing every route, rule and nft table it
    /// created; SIGHUP reloads the config (a bad new config keeps the old one running).
    Run {
        /// Config file (TOML).
        #[arg(short, long, default_value = "/etc/uplink/uplink.toml")]
        config: PathBuf,
        /// Control socket path (overrides the config's `socket`).
        #[arg(long)]
        socket: Option<PathBuf>,
    },
    /// Validate a config and print the kernel objects it would create; exit 0 if valid.
    Check {
        /// Config file (TOML).
        #[arg(short, long, default_value = "/etc/uplink/uplink.toml")]
        config: PathBuf,
    },
    /// Show each line's state as the running daemon sees it.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Control socket path of the daemon to ask.
        #[arg(long, default_value = crate_default_socket())]
        socket: PathBuf,
    },
}

const fn crate_default_socket() -> &'static str {
    uplink::config::DEFAULT_SOCKET
}
