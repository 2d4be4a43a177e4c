//! Command-line interface: argument definitions and the commands that are not the daemon.

pub mod check;
#[cfg(feature = "docs")]
pub mod docs;
pub mod events;
pub mod mwan3_user;
pub mod rpcd;
pub mod since;
pub mod staged;
#[cfg(test)]
mod tests;

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
        #[arg(short, long, default_value_os_t = default_config())]
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
        #[arg(short, long, default_value_os_t = default_config())]
        config: PathBuf,
        /// Config syntax [default: UCI if the file starts with `config` or `package`, else TOML].
        #[arg(long, value_enum)]
        format: Option<ConfigFormat>,
    },
    /// Print an uplink TOML config equivalent to an mwan3 config (/etc/config/mwan3).
    ///
    /// Everything without an equivalent, or whose meaning changes, gets a `#` comment;
    /// what uplink cannot run yet (IPv6, disabled interfaces) is written commented out.
    ///
    /// mwan3's user script (/etc/mwan3.user), if it has commands, keeps running on uplink's
    /// events through a hook written with --hooks-dir; without it, a note says what to do.
    ImportMwan3 {
        /// OpenWrt's network config (/etc/config/network), to find each interface's device.
        #[arg(long)]
        network: Option<PathBuf>,
        /// Write a hook (50-mwan3-user) into this directory that runs mwan3's user script on
        /// uplink's up/down as ACTION=connected/disconnected, INTERFACE, DEVICE.
        #[arg(long)]
        hooks_dir: Option<PathBuf>,
        /// mwan3's user script.
        #[arg(long, default_value = uplink::config::mwan3::user::MWAN3_USER)]
        mwan3_user: PathBuf,
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
    /// Stop new connections on a line (for maintenance); it keeps being probed, and its
    /// connections stay until they end (or its keep_sessions_s) unless --now.
    Drain {
        /// The uplink's name.
        line: String,
        /// Move its existing connections to the other lines at once too.
        #[arg(long)]
        now: bool,
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
    /// Show the daemon's recent events: line transitions, switches, policy moves,
    /// drains and reloads, oldest first.
    Events {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// How many of the newest events.
        #[arg(long, short = 'n', default_value_t = 100)]
        limit: usize,
        /// Only events at or after this time: 2026-12-01T03:00:00Z, 2026-12-01, or a time
        /// ago such as 30m, 2h, 7d.
        #[arg(long)]
        since: Option<String>,
        /// Then keep printing new events as they happen (one JSON object per line with
        /// --json), until interrupted.
        #[arg(long, short = 'f')]
        follow: bool,
        #[command(flatten)]
        target: DaemonTarget,
    },
    /// The rpcd exec-plugin protocol: publishes the ubus object `uplink` on OpenWrt.
    ///
    /// rpcd runs /usr/libexec/rpcd/uplink, which runs `uplink rpcd list` to learn the
    /// methods and `uplink rpcd call METHOD` with the arguments as JSON on stdin. Every
    /// answer is one JSON object; failures are `{"error": "..."}`.
    Rpcd {
        /// Config to check and to take the control socket from [default:
        /// /etc/uplink/uplink.toml if it exists, else /etc/config/uplink, as the init
        /// script chooses].
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Control socket of the daemon [default: the config's `socket`].
        #[arg(long)]
        socket: Option<PathBuf>,
        #[command(subcommand)]
        action: RpcdAction,
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

/// What rpcd asks of its plugin.
#[derive(Debug, Subcommand)]
pub enum RpcdAction {
    /// Print the methods and their argument types.
    List,
    /// Run a method with the JSON arguments on stdin.
    Call {
        /// status, drain, undrain, events or check.
        method: String,
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

/// The TOML config: uplink's own default, and on OpenWrt what `import-mwan3` writes.
pub const TOML_CONFIG: &str = "/etc/uplink/uplink.toml";

/// OpenWrt's UCI config of uplink.
#[cfg(feature = "openwrt")]
pub const UCI_CONFIG: &str = "/etc/config/uplink";

/// `-c`'s default: /etc/uplink/uplink.toml; on the OpenWrt build that file when present (the
/// init script runs the daemon with it then), else /etc/config/uplink. Evaluated when the
/// arguments are defined, so `--help` shows the path this very run would read.
pub fn default_config() -> PathBuf {
    default_config_with(|path| std::path::Path::new(path).exists())
}

/// [`default_config`], asking `exists` whether a file is there.
#[cfg_attr(not(feature = "openwrt"), allow(unused_variables))]
pub fn default_config_with(exists: impl Fn(&str) -> bool) -> PathBuf {
    #[cfg(feature = "openwrt")]
    if !exists(TOML_CONFIG) {
        return PathBuf::from(UCI_CONFIG);
    }
    PathBuf::from(TOML_CONFIG)
}

/// `--socket`'s help, naming the build's default socket ([`uplink::config::DEFAULT_SOCKET`]).
#[cfg(not(feature = "openwrt"))]
pub const SOCKET_HELP: &str =
    "Control socket of the daemon [default: the config's `socket`, else /run/uplink/uplink.sock]";
/// `--socket`'s help, naming the build's default socket ([`uplink::config::DEFAULT_SOCKET`]).
#[cfg(feature = "openwrt")]
pub const SOCKET_HELP: &str =
    "Control socket of the daemon [default: the config's `socket`, else /var/run/uplink/uplink.sock]";

/// Which running daemon to talk to.
#[derive(Debug, clap::Args)]
pub struct DaemonTarget {
    #[arg(long, help = SOCKET_HELP)]
    pub socket: Option<PathBuf>,
    /// Config whose `socket` to use when --socket is not given.
    #[arg(short, long, default_value_os_t = default_config())]
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
    /// Only the cases whose name contains this, e.g. "blackhole", "10% loss", "features" or
    /// "sessions" (sessions alive after failback).
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
