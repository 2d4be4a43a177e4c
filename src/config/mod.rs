//! Temporary stub of the config types (replaced by the real module).
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub socket: PathBuf,
    pub uplinks: Vec<Uplink>,
    pub policies: Vec<Policy>,
}
#[derive(Debug, Clone, PartialEq)]
pub struct Uplink {
    pub name: String,
    pub device: String,
    pub gateway: Option<Ipv4Addr>,
    pub metric: u32,
    pub weight: u32,
    pub masquerade: bool,
    pub probe: Probe,
}
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub targets: Vec<Ipv4Addr>,
    pub interval: Duration,
    pub timeout: Duration,
    pub down_after: Duration,
    pub up_after: Duration,
    pub reliability: usize,
}
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub name: String,
    pub uplinks: Vec<String>,
}
impl Probe {
    pub fn default_timing() -> Probe {
        Probe {
            targets: vec![],
            interval: Duration::from_millis(500),
            timeout: Duration::from_millis(1000),
            down_after: Duration::from_millis(2000),
            up_after: Duration::from_millis(10000),
            reliability: 1,
        }
    }
}
impl Uplink {
    pub fn follows_link_only(&self) -> bool {
        self.probe.targets.is_empty()
    }
}
pub const DEFAULT_SOCKET: &str = "/run/uplink.sock";
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);
pub fn load(_p: &std::path::Path) -> Result<Config, ConfigError> {
    unimplemented!()
}
pub fn parse(_t: &str) -> Result<Config, ConfigError> {
    unimplemented!()
}
