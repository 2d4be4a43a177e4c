//! Command-line interface: argument definitions and the commands that are not the daemon.

pub mod check;
#[cfg(feature = "docs")]
pub mod docs;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Keeps a Linux router online across several internet lines: probes each line through
/// itself, moves the default route within milliseconds of a link failure and within
/// seconds of an upstream failure, and touches nothing it did not create.
///
/// What `main` parses: the user's commands plus, with the `docs` feature, the hidden
/// packager commands.
#[derive(Debug, Parser)]
#[command(name = "uplink", version, about, long_about = None)]
pub struct Invocation {
    #[command(subcommand)]
    pub command: TopCommand,
}

/// The command line as users see it, which the generated completions and man pages describe.
/// The packager commands stay out of it (clap_complete would offer hidden subcommands all the
/// same); a test keeps its help equal to [`Invocation`]'s.
#[cfg(feature = "docs")]
#[derive(Debug, Parser)]
#[command(name = "uplink", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The user's commands, and the packager ones.
#[derive(Debug, Subcommand)]
pub enum TopCommand {
    #[command(flatten)]
    Uplink(Command),
    /// Print a shell completion script for bash, zsh or fish to stdout.
    ///
    /// Hidden: packagers run it at build time and install the output (the .deb does).
    #[cfg(feature = "docs")]
    #[command(hide = true)]
    Completions {
        /// The shell to complete for.
        shell: CompletionShell,
    },
    /// Print the man page uplink(8) (roff) to stdout, or write every page with --dir.
    ///
    /// Hidden, like `completions`: it is for packagers.
    #[cfg(feature = "docs")]
    #[command(hide = true)]
    Man {
        /// Write uplink.8 and one page per subcommand (uplink-run.8, ...) into this
        /// directory instead: the main page refers to them.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// The user's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground, logging to stderr, journald or syslog.
    ///
    /// Stops cleanly on SIGTERM or SIGINT, removing every route, rule and nft table it
    /// created; SIGHUP reloads the config (a bad new config keeps the old one running).
    Run {
        /// Config file (TOML, or UCI such as /etc/config/uplink).
        #[arg(short, long, default_value = "/etc/uplink/uplink.toml")]
        config: PathBuf,
        /// Config syntax [default: UCI if the file starts with `config` or `package`, else TOML].
        #[arg(long, value_enum)]
        format: Option<ConfigFormat>,
        /// Control socket path (overrides the config's `socket`).
        #[arg(long)]
        socket: Option<PathBuf>,
        /// Where logs go: `journal` writes priority prefixes for journald, `syslog` sends to
        /// --syslog-socket, `auto` is `journal` when systemd connected stderr to the journal
        /// and `stderr` (timestamped lines) otherwise. The level is the config's `log_level`;
        /// RUST_LOG (e.g. `debug` or `info,uplink::probe=debug`) overrides it.
        #[arg(long, value_enum, default_value = "auto")]
        log: LogMode,
        /// The syslog socket for `--log syslog`; if it cannot be reached, logs go to stderr.
        #[arg(long, default_value = "/dev/log")]
        syslog_socket: PathBuf,
    },
    /// Validate a config and print the kernel objects it would create; exit 0 if valid.
    Check {
        /// Config file (TOML, or UCI such as /etc/config/uplink).
        #[arg(short, long, default_value = "/etc/uplink/uplink.toml")]
        config: PathBuf,
        /// Config syntax [default: UCI if the file starts with `config` or `package`, else TOML].
        #[arg(long, value_enum)]
        format: Option<ConfigFormat>,
    },
    /// Print an uplink TOML config equivalent to an mwan3 config (/etc/config/mwan3).
    ///
    /// Everything without an equivalent, or whose meaning changes, gets a `#` comment;
    /// what uplink cannot run yet (IPv6, disabled interfaces) is written commented out.
    ImportMwan3 {
        /// OpenWrt's network config (/etc/config/network), to find each interface's device.
        #[arg(long)]
        network: Option<PathBuf>,
        /// The mwan3 config.
        file: PathBuf,
    },
    /// Show each line's state as the running daemon sees it.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: DaemonTarget,
    },
    /// Move all traffic off a line (for maintenance); it keeps being probed.
    Drain {
        /// The uplink's name.
        line: String,
        #[command(flatten)]
        target: DaemonTarget,
    },
    /// Return a drained line to service.
    Undrain {
        /// The uplink's name.
        line: String,
        #[command(flatten)]
        target: DaemonTarget,
    },
    /// Live demonstration in a network namespace lab (needs root; touches nothing else).
    ///
    /// Builds a LAN host, a router running the real daemon, two ISPs and an "internet"
    /// host in namespaces of their own, sends traffic, breaks the main line, repairs it,
    /// and reports the outage the LAN host saw. Exit 0 when failover and failback both
    /// happened. Everything is torn down at the end, on Ctrl-C and on error.
    #[cfg(feature = "lab")]
    Lab {
        /// The failure to play.
        #[arg(long, value_enum, default_value = "blackhole")]
        fault: LabFault,
        /// Leave the lab and daemon running afterwards and print how to explore them.
        #[arg(long)]
        keep: bool,
    },
    /// Failover benchmark in namespace labs: static routes vs uplink (needs root).
    ///
    /// Runs every fault N times for three contenders (static metrics, uplink with default
    /// settings, uplink fast profile), each on a fresh lab, and writes a markdown table, a
    /// CSV and an SVG timeline. Build with --release for footprint figures that mean
    /// something.
    #[cfg(feature = "lab")]
    Bench(BenchArgs),
    /// Soak test in a namespace lab (needs root): the daemon under carrier flaps,
    /// blackholes, loss and reload storms (valid and invalid configs, a changing 10k set)
    /// with a status request every second. Prints RSS and open descriptors every 10 s and
    /// fails when status and kernel disagree, the daemon dies or stops answering, or
    /// descriptors or memory grow.
    #[cfg(feature = "lab")]
    Soak {
        /// How long, in seconds.
        #[arg(long, default_value_t = 600)]
        secs: u64,
        /// Largest RSS growth accepted after warm-up, in KiB.
        #[arg(long, default_value_t = 1024)]
        max_rss_growth_kib: i64,
    },
}

/// The syntax of a config file (`--format`).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ConfigFormat {
    /// TOML, like examples/home.toml.
    Toml,
    /// OpenWrt UCI, like /etc/config/uplink (examples/uplink.uci).
    Uci,
}

impl From<ConfigFormat> for uplink::config::Format {
    fn from(format: ConfigFormat) -> Self {
        match format {
            ConfigFormat::Toml => uplink::config::Format::Toml,
            ConfigFormat::Uci => uplink::config::Format::Uci,
        }
    }
}

/// Where `uplink run` logs (`--log`).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogMode {
    /// `journal` if stderr is systemd's journal stream, else `stderr`.
    Auto,
    /// Timestamped lines on stderr, for a terminal or a file.
    Stderr,
    /// stderr lines with sd-daemon priority prefixes (<3> error ... <7> debug).
    Journal,
    /// Datagrams to the syslog socket, facility daemon, tag `uplink` (OpenWrt's logd).
    Syslog,
}

impl From<LogMode> for uplink::log::Mode {
    fn from(mode: LogMode) -> Self {
        match mode {
            LogMode::Auto => uplink::log::Mode::Auto,
            LogMode::Stderr => uplink::log::Mode::Stderr,
            LogMode::Journal => uplink::log::Mode::Journal,
            LogMode::Syslog => uplink::log::Mode::Syslog,
        }
    }
}

/// The shells `uplink completions` writes for: the ones Debian ships completion directories
/// for. (clap_complete knows more; these are the ones the packages install.)
#[cfg(feature = "docs")]
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

/// Which running daemon to talk to.
#[derive(Debug, clap::Args)]
pub struct DaemonTarget {
    /// Control socket of the daemon [default: the config's `socket`, else /run/uplink/uplink.sock].
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// Config whose `socket` to use when --socket is not given.
    #[arg(short, long, default_value = "/etc/uplink/uplink.toml")]
    pub config: PathBuf,
}

/// Arguments of `uplink bench`.
#[cfg(feature = "lab")]
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Runs of the whole fault matrix.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Seconds each random-loss level is held.
    #[arg(long, default_value_t = 60)]
    pub loss_secs: u64,
    /// Folder in which a dated results folder is created.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Skip the footprint measurement (2 × 60 s).
    #[arg(long)]
    pub skip_footprint: bool,
    /// Only the cases whose name contains this, e.g. "blackhole" or "10% loss".
    #[arg(long)]
    pub only: Option<String>,
}

/// The failure `uplink lab` plays.
#[cfg(feature = "lab")]
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LabFault {
    /// The main ISP drops everything beyond its gateway; the link stays up.
    Blackhole,
    /// The main link loses carrier.
    Carrier,
    /// The router's main interface is taken down.
    Ifdown,
    /// 80% random loss on the main line.
    Loss,
}
