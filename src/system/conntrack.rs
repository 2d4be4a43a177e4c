//! Temporary stub of the conntrack driver API (replaced by the real module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConntrackFilter {
    NatAddress(std::net::Ipv4Addr),
    Mark { value: u32, mask: u32 },
}
#[derive(Debug, thiserror::Error)]
#[error("stub")]
pub struct ConntrackError;
pub async fn delete_matching(_f: ConntrackFilter) -> Result<usize, ConntrackError> {
    Ok(0)
}
