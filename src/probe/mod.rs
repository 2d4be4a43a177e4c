//! Temporary stub of the prober API (replaced by the real module).
use std::net::Ipv4Addr;
use std::time::Duration;
pub struct ProbeSpec {
    pub line: usize,
    pub device: String,
    pub source: Ipv4Addr,
    pub mark: u32,
    pub ident: u16,
    pub targets: Vec<Ipv4Addr>,
    pub interval: Duration,
    pub timeout: Duration,
}
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeOutcome {
    Reply { rtt: Duration },
    Lost,
}
#[derive(Debug, Clone)]
pub struct ProbeEvent {
    pub line: usize,
    pub target: usize,
    pub outcome: ProbeOutcome,
    pub at: std::time::Instant,
}
#[derive(Debug, thiserror::Error)]
#[error("stub")]
pub struct ProbeError;
pub struct Prober;
pub fn start(
    _spec: ProbeSpec,
    _events: tokio::sync::mpsc::UnboundedSender<ProbeEvent>,
) -> Result<Prober, ProbeError> {
    Ok(Prober)
}
