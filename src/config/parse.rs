//! The config as serde reads it, before validation.
//!
//! Addresses stay strings and numbers stay `i64` (TOML's integer type) so that
//! validation, not serde, rejects bad values and can name the object they belong to.
//! Unknown keys are rejected here, with toml's line and column.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    /// `false` switches uplink off (`option enabled '0'` in `config globals`).
    pub enabled: Option<bool>,
    pub socket: Option<String>,
    pub hooks_dir: Option<String>,
    pub hook_timeout_ms: Option<i64>,
    pub hotplug_iface: Option<bool>,
    pub sticky: Option<String>,
    pub http_listen: Option<String>,
    pub metrics_file: Option<String>,
    pub events_file: Option<String>,
    pub history_size: Option<i64>,
    pub log_level: Option<String>,
    #[serde(default)]
    pub uplink: Vec<RawUplink>,
    #[serde(default)]
    pub policy: Vec<RawPolicy>,
    #[serde(default)]
    pub set: Vec<RawSet>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSet {
    pub name: String,
    pub enabled: Option<bool>,
    #[serde(default)]
    pub prefixes: Vec<String>,
    pub file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUplink {
    pub name: String,
    pub enabled: Option<bool>,
    // Optional so that validation can explain the device/interface choice.
    pub device: Option<String>,
    pub interface: Option<String>,
    pub family: Option<String>,
    pub gateway: Option<String>,
    pub metric: Option<i64>,
    pub weight: Option<i64>,
    pub masquerade: Option<bool>,
    pub flush_on: Option<Vec<String>>,
    pub keep_sessions_s: Option<i64>,
    pub probe: Option<RawProbe>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProbe {
    #[serde(default)]
    pub targets: Vec<String>,
    pub interval_ms: Option<i64>,
    pub timeout_ms: Option<i64>,
    pub down_after_ms: Option<i64>,
    pub up_after_ms: Option<i64>,
    pub reliability: Option<i64>,
    pub max_rtt_ms: Option<i64>,
    pub max_loss_pct: Option<i64>,
    pub quality_window_ms: Option<i64>,
    pub dampening: Option<bool>,
    pub dampening_half_life_ms: Option<i64>,
    pub dampening_suppress: Option<i64>,
    pub dampening_reuse: Option<i64>,
    pub dampening_max_suppress_ms: Option<i64>,
    pub traffic_aware: Option<bool>,
    pub traffic_quiet_ms: Option<i64>,
    pub dns_name: Option<String>,
    pub http_status: Option<String>,
    #[serde(default)]
    pub resolvers: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub name: String,
    pub enabled: Option<bool>,
    #[serde(default)]
    pub from: Vec<String>,
    #[serde(default)]
    pub to: Vec<String>,
    // Defaulted so a missing list gets the same clear error as an empty one.
    #[serde(default)]
    pub uplinks: Vec<String>,
    pub fallback: Option<String>,
    pub proto: Option<String>,
    #[serde(default)]
    pub ports: Vec<RawPort>,
    pub set: Option<String>,
}

/// A port is a number or a "low-high" range.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawPort {
    Number(i64),
    Text(String),
}
