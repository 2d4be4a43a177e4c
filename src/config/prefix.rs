//! IPv4 prefixes as written in policies ("192.168.1.0/24", or a bare address for /32).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

/// An IPv4 network prefix whose host bits are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    /// Network address (host bits zero).
    pub addr: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub len: u8,
}

/// Why a string is not a [`Prefix`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// Neither an address nor address/length.
    #[error("not an IPv4 address or prefix")]
    Malformed,
    /// An IPv6 address or prefix.
    #[error("IPv6 is not supported yet")]
    Ipv6,
    /// The length is not a number in 0..=32.
    #[error("prefix length must be 0..=32")]
    Length,
    /// Bits beyond the prefix length are set.
    #[error("host bits are set (did you mean {0}?)")]
    HostBits(Prefix),
}

impl Prefix {
    /// Builds a prefix, rejecting lengths over 32 and set host bits.
    pub fn new(addr: Ipv4Addr, len: u8) -> Result<Prefix, PrefixError> {
        if len > 32 {
            return Err(PrefixError::Length);
        }
        let network = Ipv4Addr::from(u32::from(addr) & mask(len));
        if network != addr {
            return Err(PrefixError::HostBits(Prefix { addr: network, len }));
        }
        Ok(Prefix { addr, len })
    }

    /// The /32 prefix of one address.
    pub fn host(addr: Ipv4Addr) -> Prefix {
        Prefix { addr, len: 32 }
    }

    /// As `ip rule` prints it: a host without its `/32`.
    pub fn short(&self) -> String {
        if self.len == 32 {
            self.addr.to_string()
        } else {
            self.to_string()
        }
    }

    /// True when `addr` lies inside this prefix.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & mask(self.len) == u32::from(self.addr)
    }
}

fn mask(len: u8) -> u32 {
    // checked_shl because shifting a u32 by 32 is an overflow, and /0 means "no bits".
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for Prefix {
    type Err = PrefixError;

    fn from_str(s: &str) -> Result<Prefix, PrefixError> {
        let (addr, len) = match s.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (s, None),
        };
        let addr = parse_addr(addr)?;
        let len = match len {
            Some(len) => parse_len(len)?,
            None => 32,
        };
        Prefix::new(addr, len)
    }
}

fn parse_addr(s: &str) -> Result<Ipv4Addr, PrefixError> {
    match s.parse::<IpAddr>() {
        Ok(IpAddr::V4(addr)) => Ok(addr),
        Ok(IpAddr::V6(_)) => Err(PrefixError::Ipv6),
        Err(_) => Err(PrefixError::Malformed),
    }
}

fn parse_len(s: &str) -> Result<u8, PrefixError> {
    // u8::from_str would also take "+8"; only plain digits are a length.
    if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PrefixError::Length);
    }
    s.parse().map_err(|_| PrefixError::Length)
}
