//! Which UCI section types and options `/etc/config/uplink` has, and the TOML key each one
//! stands for. Adding a config key to UCI is one line in one of these tables.

/// How an option's text becomes a TOML value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A string, from `option`.
    Text,
    /// An integer, from `option`.
    Number,
    /// A UCI boolean (`1`/`0`, `yes`/`no`, `on`/`off`, `true`/`false`), from `option`.
    Bool,
    /// A list of strings: `list` items, or an `option` of space-separated words (as many
    /// OpenWrt scripts accept). Empty items are dropped, so `list x ''` is an empty list.
    List,
    /// Like [`Kind::List`], with plain numbers as integers (ports and "low-high" ranges).
    Ports,
}

/// One UCI option and the TOML key it fills.
#[derive(Debug)]
pub(super) struct Key {
    /// Accepted option names, the usual one first (`target`, `targets`).
    pub names: &'static [&'static str],
    /// Dotted TOML path below the section's table, as validation names it.
    pub path: &'static str,
    pub kind: Kind,
}

/// A section type and where its table goes in the TOML document.
#[derive(Debug)]
pub(super) struct SectionType {
    /// The UCI type, as in `config uplink 'main'`.
    pub uci: &'static str,
    /// The TOML array of tables it adds to (`uplink` for `[[uplink]]`), or `None` for
    /// top-level keys (`globals`).
    pub array: Option<&'static str>,
    pub keys: &'static [Key],
}

const fn key(names: &'static [&'static str], path: &'static str, kind: Kind) -> Key {
    Key { names, path, kind }
}

use Kind::*;

/// `config uplink 'NAME'`: the section name is the uplink's name; probe keys sit in the
/// section itself rather than in a sub-table.
const UPLINK: &[Key] = &[
    key(&["device"], "device", Text),
    key(&["interface"], "interface", Text),
    key(&["family"], "family", Text),
    key(&["gateway"], "gateway", Text),
    key(&["metric"], "metric", Number),
    key(&["weight"], "weight", Number),
    key(&["masquerade"], "masquerade", Bool),
    key(&["flush_on"], "flush_on", List),
    key(&["keep_sessions_s"], "keep_sessions_s", Number),
    key(&["target", "targets"], "probe.targets", List),
    key(&["interval_ms"], "probe.interval_ms", Number),
    key(&["timeout_ms"], "probe.timeout_ms", Number),
    key(&["down_after_ms"], "probe.down_after_ms", Number),
    key(&["up_after_ms"], "probe.up_after_ms", Number),
    key(&["reliability"], "probe.reliability", Number),
    key(&["max_rtt_ms"], "probe.max_rtt_ms", Number),
    key(&["max_loss_pct"], "probe.max_loss_pct", Number),
    key(&["quality_window_ms"], "probe.quality_window_ms", Number),
    key(&["dampening"], "probe.dampening", Bool),
    key(
        &["dampening_half_life_ms"],
        "probe.dampening_half_life_ms",
        Number,
    ),
    key(&["dampening_suppress"], "probe.dampening_suppress", Number),
    key(&["dampening_reuse"], "probe.dampening_reuse", Number),
    key(
        &["dampening_max_suppress_ms"],
        "probe.dampening_max_suppress_ms",
        Number,
    ),
    key(&["traffic_aware"], "probe.traffic_aware", Bool),
    key(&["traffic_quiet_ms"], "probe.traffic_quiet_ms", Number),
    key(&["dns_name"], "probe.dns_name", Text),
    key(&["http_status"], "probe.http_status", Text),
    key(&["resolver", "resolvers"], "probe.resolvers", List),
    key(&["enabled"], "enabled", Bool),
];

/// `config policy 'NAME'`.
const POLICY: &[Key] = &[
    key(&["from"], "from", List),
    key(&["to"], "to", List),
    key(&["uplinks", "uplink"], "uplinks", List),
    key(&["fallback"], "fallback", Text),
    key(&["proto"], "proto", Text),
    key(&["ports", "port"], "ports", Ports),
    key(&["set"], "set", Text),
    key(&["enabled"], "enabled", Bool),
];

/// `config set 'NAME'`.
const SET: &[Key] = &[
    key(&["prefix", "prefixes"], "prefixes", List),
    key(&["file"], "file", Text),
    key(&["enabled"], "enabled", Bool),
];

/// `config globals` (anonymous or named): the TOML file's top-level keys.
const GLOBALS: &[Key] = &[
    key(&["socket"], "socket", Text),
    key(&["hooks_dir"], "hooks_dir", Text),
    key(&["hook_timeout_ms"], "hook_timeout_ms", Number),
    key(&["hotplug_iface"], "hotplug_iface", Bool),
    key(&["sticky"], "sticky", Text),
    key(&["http_listen"], "http_listen", Text),
    key(&["metrics_file"], "metrics_file", Text),
    key(&["events_file"], "events_file", Text),
    key(&["history_size"], "history_size", Number),
    key(&["enabled"], "enabled", Bool),
    key(&["log_level"], "log_level", Text),
];

/// Every section type of `/etc/config/uplink`.
pub(super) const SECTIONS: &[SectionType] = &[
    SectionType {
        uci: "uplink",
        array: Some("uplink"),
        keys: UPLINK,
    },
    SectionType {
        uci: "policy",
        array: Some("policy"),
        keys: POLICY,
    },
    SectionType {
        uci: "set",
        array: Some("set"),
        keys: SET,
    },
    SectionType {
        uci: "globals",
        array: None,
        keys: GLOBALS,
    },
];

impl SectionType {
    /// The key an option name stands for.
    pub(super) fn key(&self, option: &str) -> Option<&'static Key> {
        self.keys.iter().find(|k| k.names.contains(&option))
    }

    /// The key with this TOML path.
    pub(super) fn by_path(&self, path: &str) -> Option<&'static Key> {
        self.keys.iter().find(|k| k.path == path)
    }

    /// The usual option names, for "unknown option" messages.
    pub(super) fn option_names(&self) -> String {
        let names: Vec<&str> = self.keys.iter().map(|k| k.names[0]).collect();
        names.join(", ")
    }
}
