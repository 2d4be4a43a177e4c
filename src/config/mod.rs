//! Configuration: TOML text (or OpenWrt UCI, see [`uci`] and `from_uci`) -> validated,
//! typed [`Config`].
//!
//! Parsing happens in two steps: serde reads the text into loose "raw" structs
//! (strings for addresses, signed integers for numbers) and validation turns those
//! into the typed values below, so that every rejection can name the object, the key
//! and the offending value. The first problem found is returned; nothing is applied
//! from a config that does not validate.
//!
//! ```toml
//! socket = "/run/uplink/uplink.sock"          # optional
//!
//! [[uplink]]
//! name = "main"                        # [A-Za-z0-9_-], 1..15 chars, unique
//! device = "pppoe-wan"                 # interface name, unique
//! # gateway = "203.0.113.1"            # IPv4 next hop; omit on a point-to-point device
//! metric = 100                         # default 100; lower is preferred
//! weight = 1                           # default 1; 1..=256
//! masquerade = false                   # default false
//! [uplink.probe]                       # optional
//! targets = ["192.0.2.100"]            # default []: follow link state only; also
//!                                      # "tcp://H:P", "dns://S[:P]", "http://H[:P]/PATH"
//! interval_ms = 500
//! timeout_ms = 1000
//! down_after_ms = 2000
//! up_after_ms = 10000
//! reliability = 1
//!
//! [[policy]]
//! name = "speaker"
//! from = ["192.168.1.50"]
//! to = []
//! uplinks = ["backup", "main"]
//! ```

mod disabled;
mod from_uci;
pub mod ifname;
mod location;
pub mod mwan3;
pub mod netifd;
mod parse;
mod prefix;
pub mod target;
pub mod uci;
mod validate;

#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use disabled::{describe_disabled, Disabled, Off};
pub use location::Location;
pub use prefix::{Prefix, PrefixError};
pub use target::{Host, Target, TargetKind};

/// Control socket path used when the config has no `socket` key. The OpenWrt build puts it
/// under /var/run, which every OpenWrt release has (/run only exists on newer ones).
#[cfg(not(feature = "openwrt"))]
pub const DEFAULT_SOCKET: &str = "/run/uplink/uplink.sock";
/// Control socket path used when the config has no `socket` key. The OpenWrt build puts it
/// under /var/run, which every OpenWrt release has (/run only exists on newer ones).
#[cfg(feature = "openwrt")]
pub const DEFAULT_SOCKET: &str = "/var/run/uplink/uplink.sock";

const DEFAULT_METRIC: u32 = 100;
const DEFAULT_WEIGHT: u32 = 1;
const DEFAULT_INTERVAL_MS: u64 = 500;
const DEFAULT_TIMEOUT_MS: u64 = 1000;
const DEFAULT_DOWN_AFTER_MS: u64 = 2000;
const DEFAULT_UP_AFTER_MS: u64 = 10_000;
const DEFAULT_RELIABILITY: usize = 1;
const DEFAULT_QUALITY_WINDOW_MS: u64 = 10_000;
pub(crate) const DEFAULT_TRAFFIC_QUIET_MS: u64 = 300;
const DEFAULT_HALF_LIFE_MS: u64 = 60_000;
const DEFAULT_SUPPRESS: u32 = 1500;
const DEFAULT_REUSE: u32 = 750;
const DEFAULT_MAX_SUPPRESS_MS: u64 = 300_000;
/// The penalty one flap adds (RFC 2439's figure of merit): the thresholds are set against it.
pub const FLAP_PENALTY: u32 = 1000;
/// The root zone: every resolver answers its SOA, from cache or with a referral.
pub(crate) const DEFAULT_DNS_NAME: &str = ".";

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// False when the config switches uplink off (top-level `enabled = false`, UCI
    /// `option enabled '0'` in `config globals`): the daemon does not run.
    pub enabled: bool,
    /// Sections switched off with `enabled = false` (`option enabled '0'`), and policies
    /// left without a line or set by them; none of them is in the lists below.
    pub disabled: Disabled,
    /// Absolute path of the control socket (default [`DEFAULT_SOCKET`]).
    pub socket: PathBuf,
    /// The internet lines that are enabled, in config order; names and devices unique.
    /// Never empty unless [`Config::off`] says why.
    pub uplinks: Vec<Uplink>,
    /// Client pinning rules, in config order; every listed uplink exists.
    pub policies: Vec<Policy>,
    /// Event hooks: executables in `hooks_dir`, each run with a time limit.
    pub hooks: Hooks,
    /// Named prefix lists (`[[set]]`) that policies match destinations against.
    pub sets: Vec<PrefixSet>,
    /// How lines of equal metric share new connections (`sticky`).
    pub sticky: Sticky,
    /// Event history, metrics and the status page.
    pub observe: Observe,
    /// The least severe level logged (`log_level`, default info); a reload applies it.
    pub log_level: tracing::Level,
}

/// How new connections are spread over lines of equal metric. Either way a connection
/// keeps its line while that line stays in the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sticky {
    /// Each new connection picks a line at random, by weight (`"connection"`, default).
    #[default]
    Connection,
    /// A hash of the client's address picks the line, so all of a client's connections
    /// use one line while the group is unchanged (`"source"`; for sites that tie a
    /// session to the client's address).
    Source,
}

/// A named list of destination prefixes, kept in an nft set (large lists are fine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixSet {
    pub name: String,
    pub prefixes: Vec<Prefix>,
}

/// What the daemon tells about itself besides `uplink status`: the event history, the
/// HTTP listener (metrics and status page) and the node_exporter textfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observe {
    /// Events kept in memory (`history_size`, default 1000).
    pub history_size: usize,
    /// Where events are also appended, to survive a restart (`events_file`).
    pub events_file: Option<PathBuf>,
    /// Address of the read-only HTTP listener (`http_listen`); none by default.
    pub http_listen: Option<std::net::SocketAddr>,
    /// Prometheus textfile rewritten atomically every few seconds (`metrics_file`).
    pub metrics_file: Option<PathBuf>,
}

/// Where event hooks live and how long each may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hooks {
    /// Directory of executables run on each event (default [`DEFAULT_HOOKS_DIR`]; a missing
    /// directory simply means no hooks).
    pub dir: PathBuf,
    /// Time limit of one hook run (default 10 s).
    pub timeout: Duration,
    /// Tell `/etc/hotplug.d/iface` scripts when a line that follows a netifd interface
    /// goes up or down, as mwan3 does (`hotplug_iface`, default true; only where
    /// `hotplug-call` exists).
    pub hotplug_iface: bool,
}

/// Default directory of event hooks.
pub const DEFAULT_HOOKS_DIR: &str = "/etc/uplink/hooks.d";

/// One internet line (a `[[uplink]]` table).
#[derive(Debug, Clone, PartialEq)]
pub struct Uplink {
    /// Unique name: 1..15 of `[A-Za-z0-9_-]`.
    pub name: String,
    /// Linux interface the line leaves through. Empty for a line given by `interface`
    /// until the daemon resolves it.
    pub device: String,
    /// OpenWrt netifd interface (`interface = "wan"`) whose device the line uses, resolved
    /// at run time (`ubus`, else /etc/config/network) and followed when it changes.
    pub interface: Option<String>,
    /// The address family the line carries (`family`, default told by its addresses).
    pub family: Family,
    /// The next hop (`gateway`): none on a point-to-point device (PPPoE, tun, LTE in
    /// raw-IP mode), a fixed address, or learned at run time.
    pub gateway: Gateway,
    /// Route metric; lower is preferred, equal metrics share load by weight (default 100).
    pub metric: u32,
    /// Multipath weight among lines of equal metric, 1..=256 (default 1).
    pub weight: u32,
    /// Masquerade LAN traffic leaving `device` (default false).
    pub masquerade: bool,
    /// When to delete this line's conntrack entries (`flush_on`, default `["down"]`).
    pub flush: Flush,
    /// How long the line keeps carrying its existing connections after it stops taking
    /// new ones (failback, drain): `keep_sessions_s`; `None` (the default) until they end,
    /// zero moves them at once. For metered backups.
    pub keep_sessions: Option<std::time::Duration>,
    /// Health probing; without targets the line follows its link state only.
    pub probe: Probe,
}

/// The address family a line carries (`family`). A dual-stack line is two lines on one
/// device, `main` and `main6` say, as in mwan3: each is probed, selected and failed over on
/// its own, so a line can be up for IPv4 and down for IPv6 (a broken DS-Lite tunnel, a dead
/// prefix delegation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum Family {
    #[default]
    V4,
    V6,
}

impl Family {
    /// Both families, IPv4 first.
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    /// The config's (and nft's `meta nfproto`) name: `ipv4` or `ipv6`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }

    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// A line's next hop (the `gateway` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gateway {
    /// No next hop: routes are `dev X scope link` (point-to-point devices; key omitted).
    #[default]
    None,
    /// A fixed next hop, of the line's family.
    Fixed(IpAddr),
    /// `"auto"`: the gateway of the default route that the system (DHCP client, netifd)
    /// installed on the device, in any table but uplink's own, followed at run time.
    Auto,
}

impl Gateway {
    /// The fixed address, if any.
    pub fn fixed(self) -> Option<IpAddr> {
        match self {
            Gateway::Fixed(addr) => Some(addr),
            _ => None,
        }
    }
}

/// When a line's connection-tracking entries are deleted, so that long-lived flows move
/// at once instead of waiting for their entries to time out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flush {
    /// When the line goes down (and another line can take its traffic).
    pub down: bool,
    /// When the line comes back and takes traffic again: the entries of the lines it
    /// takes over from are deleted, so flows return to it.
    pub up: bool,
}

impl Default for Flush {
    fn default() -> Self {
        Flush {
            down: true,
            up: false,
        }
    }
}

/// Health probing of one uplink (the `[uplink.probe]` table).
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Hosts beyond the gateway to probe, each with its kind (ICMP, TCP, DNS, HTTP); unique,
    /// addresses of the line's family or host names resolved through the line; may be empty.
    pub targets: Vec<Target>,
    /// Probe period per target (default 500 ms, at least 10 ms).
    pub interval: Duration,
    /// A probe unanswered for this long is lost (default 1 s, at most `down_after`).
    pub timeout: Duration,
    /// Too few targets answering for this long -> down (default 2 s, at least `interval`).
    pub down_after: Duration,
    /// Good for this long -> up again (default 10 s, at least `interval`).
    pub up_after: Duration,
    /// Targets that must answer for the line to count as good (default 1,
    /// at most the number of targets when there are any).
    pub reliability: usize,
    /// Latency and loss limits; `None` (default): a line that answers is good enough.
    pub quality: Option<QualityLimits>,
    /// Flap dampening; `None` when switched off (`dampening = false`) or without targets.
    pub dampening: Option<Dampening>,
    /// Traffic-aware detection: how long the LAN's packets through the line may go
    /// unanswered before a burst of probes goes out (`traffic_quiet_ms`, default 300 ms);
    /// `None` when switched off (`traffic_aware = false`) or without targets.
    pub traffic_quiet: Option<Duration>,
    /// The name `dns://` targets are asked for (`dns_name`, default `.`: the root zone's
    /// SOA, which every resolver can answer).
    pub dns_name: String,
    /// The status an `http://` target must answer (`http_status`, default any 2xx).
    pub http_status: HttpStatus,
    /// Resolvers for host-name targets, asked through the line (`resolvers`); empty
    /// (default): the line's own, as the system reports them (see README).
    pub resolvers: Vec<IpAddr>,
}

/// Flap dampening (RFC 2439 route-flap damping, the `dampening*` keys of a probe table).
/// Each flap (the probes turning from good to bad) adds [`FLAP_PENALTY`]; the penalty halves
/// every `half_life`. At `suppress` the line is suppressed: not chosen while another line is
/// up, as a degraded line, until the penalty falls below `reuse`, at most `max_suppress`
/// after its last flap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dampening {
    /// The penalty halves every this long (`dampening_half_life_ms`, default 60 s).
    pub half_life: Duration,
    /// Suppressed at this penalty (`dampening_suppress`, default 1500: two flaps within
    /// a half-life).
    pub suppress: u32,
    /// Usable again below this penalty (`dampening_reuse`, default 750).
    pub reuse: u32,
    /// The longest a line stays suppressed after its last flap (`dampening_max_suppress_ms`,
    /// default 300 s).
    pub max_suppress: Duration,
}

impl Default for Dampening {
    fn default() -> Self {
        Dampening {
            half_life: Duration::from_millis(DEFAULT_HALF_LIFE_MS),
            suppress: DEFAULT_SUPPRESS,
            reuse: DEFAULT_REUSE,
            max_suppress: Duration::from_millis(DEFAULT_MAX_SUPPRESS_MS),
        }
    }
}

/// The HTTP status an `http://` probe expects (`http_status`): a redirect is never a
/// success by default, since a captive portal answers with one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpStatus {
    /// Any status of this class: `2xx` is `Class(2)`.
    Class(u16),
    /// Exactly this status, e.g. 204.
    Code(u16),
}

impl HttpStatus {
    /// Whether `status` is what is expected.
    pub fn matches(self, status: u16) -> bool {
        match self {
            HttpStatus::Class(class) => status / 100 == class,
            HttpStatus::Code(code) => status == code,
        }
    }
}

impl std::fmt::Display for HttpStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpStatus::Class(class) => write!(f, "{class}xx"),
            HttpStatus::Code(code) => write!(f, "{code}"),
        }
    }
}

/// When a line that answers its probes still counts as degraded: too slow or too lossy
/// over a sliding window. A degraded line is avoided while a line that is not is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QualityLimits {
    /// Mean round-trip time above this degrades the line (`max_rtt_ms`).
    pub max_rtt: Option<Duration>,
    /// Lost probes above this share, in percent, degrade the line (`max_loss_pct`).
    pub max_loss_pct: Option<u32>,
    /// The sliding window the mean and the share are taken over (`quality_window_ms`,
    /// default 10 s).
    pub window: Duration,
}

/// Pins matching traffic to an ordered list of uplinks (a `[[policy]]` table).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Unique name: 1..15 of `[A-Za-z0-9_-]`.
    pub name: String,
    /// Source prefixes; empty matches any source.
    pub from: Vec<Prefix>,
    /// Destination prefixes; empty matches any destination.
    pub to: Vec<Prefix>,
    /// Uplink names in order of preference; the first healthy one wins. Never empty.
    pub uplinks: Vec<String>,
    /// What matching traffic does while none of `uplinks` is up.
    pub fallback: Fallback,
    /// Transport protocol to match (`proto`), if any.
    pub proto: Option<Proto>,
    /// Destination ports or ranges to match (`ports`, needs `proto` tcp or udp).
    pub ports: Vec<(u16, u16)>,
    /// Name of a `[[set]]` whose prefixes destinations must be in (`set`).
    pub set: Option<String>,
}

impl Policy {
    /// Whether the policy needs connection marking (a protocol, with or without ports, or
    /// an address set) rather than plain address rules.
    pub fn marks_connections(&self) -> bool {
        self.proto.is_some() || self.set.is_some()
    }
}

/// A transport protocol a policy can match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
}

impl Proto {
    /// nft's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
        }
    }
}

/// A policy's behaviour while none of its uplinks is up (`fallback` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fallback {
    /// Use the normal selection, like traffic that matches no policy (`"default"`).
    #[default]
    Default,
    /// Refuse the traffic, so it never leaks through another line (`"unreachable"`).
    Unreachable,
}

/// Why a config was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config {}: {reason}", path.display())]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// What the operating system said, or why the file was refused (not a regular
        /// file, larger than [`crate::files::CONFIG_LIMIT`]). Not a `source`: the message
        /// already carries it, and `{:#}` would print it twice.
        reason: crate::files::ReadFailure,
    },
    /// Not valid TOML, an unknown key, a missing key or a value of the wrong type;
    /// the text is toml's own message, which carries line and column.
    #[error("{0}")]
    Syntax(String),
    /// The config has no `[[uplink]]` table.
    #[error("no [[uplink]] configured")]
    NoUplinks,
    /// Not valid UCI syntax (a UCI config); the message carries the line.
    #[error("{0}")]
    Uci(uci::UciError),
    /// A UCI config has no `config uplink` section.
    #[error("no uplink configured (config uplink 'NAME')")]
    NoUciUplinks,
    /// A value is out of range or inconsistent with another one.
    #[error("{object}: {key}{}: {reason}", spaced(value))]
    Invalid {
        /// The table holding the key, e.g. `uplink "main"`, or `config` for top-level keys.
        object: String,
        /// The key, dotted below the object, e.g. `probe.timeout_ms`.
        key: String,
        /// The offending value as written (strings quoted); empty when the reason says it all.
        value: String,
        /// What is wrong, in lowercase.
        reason: String,
    },
}

fn spaced(value: &str) -> String {
    if value.is_empty() {
        String::new()
    } else {
        format!(" {value}")
    }
}

/// The syntax of a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// TOML (`/etc/uplink/uplink.toml`).
    Toml,
    /// OpenWrt UCI (`/etc/config/uplink`), same keys as options of sections.
    Uci,
}

impl Format {
    /// UCI when the first word outside comments is `config` or `package`, else TOML.
    pub fn detect(text: &str) -> Format {
        if uci::looks_like_uci(text) {
            Format::Uci
        } else {
            Format::Toml
        }
    }
}

/// Reads and validates the config file at `path`, telling TOML from UCI by its content.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_as(path, None)
}

/// Reads and validates the config file at `path` in `format`, or the detected one.
pub fn load_as(path: &Path, format: Option<Format>) -> Result<Config, ConfigError> {
    let text = crate::files::read_limited(path, crate::files::CONFIG_LIMIT).map_err(|e| {
        ConfigError::Read {
            path: e.path,
            reason: e.failure,
        }
    })?;
    parse_as(&text, format.unwrap_or_else(|| Format::detect(&text)))
}

/// Parses and validates config text in `format`.
pub fn parse_as(text: &str, format: Format) -> Result<Config, ConfigError> {
    match format {
        Format::Toml => parse(text),
        Format::Uci => from_uci::parse(text),
    }
}

/// Parses and validates TOML config text.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let raw: parse::RawConfig = toml::from_str(text)
        .map_err(|e| ConfigError::Syntax(e.to_string().trim_end().to_owned()))?;
    validate::config(raw)
}

impl Probe {
    /// Default probe timing with no targets (link state only).
    pub fn default_timing() -> Probe {
        Probe {
            targets: Vec::new(),
            interval: Duration::from_millis(DEFAULT_INTERVAL_MS),
            timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS),
            down_after: Duration::from_millis(DEFAULT_DOWN_AFTER_MS),
            up_after: Duration::from_millis(DEFAULT_UP_AFTER_MS),
            reliability: DEFAULT_RELIABILITY,
            quality: None,
            dampening: None,
            traffic_quiet: None,
            dns_name: DEFAULT_DNS_NAME.into(),
            http_status: HttpStatus::Class(2),
            resolvers: Vec::new(),
        }
    }
}

impl Uplink {
    /// True when the line has no probe targets, so only link events decide its health.
    pub fn follows_link_only(&self) -> bool {
        self.probe.targets.is_empty()
    }
}
