//! Probe targets: a plain address or host name (ICMP echo), `tcp://HOST:PORT`,
//! `dns://SERVER[:PORT]` and `http://HOST[:PORT]/PATH`, parsed from the strings of
//! `probe.targets`. Host names are kept as names: they are resolved at run time through the
//! line itself, so a name that does not resolve is a failed probe, never a config error.

use std::fmt;
use std::net::IpAddr;

/// Longest HTTP path accepted: the request must fit in one small write.
const MAX_PATH_LEN: usize = 256;
/// Longest host name (RFC 1035: 255 octets on the wire, 253 characters written).
const MAX_NAME_LEN: usize = 253;
/// The DNS port, `dns://` targets' default.
const DNS_PORT: u16 = 53;
/// The HTTP port, `http://` targets' default.
const HTTP_PORT: u16 = 80;

/// How a target is probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// ICMP (or ICMPv6) echo: a plain address or host name.
    Icmp,
    /// A TCP handshake: a completed one or a reset both prove the path works.
    Tcp,
    /// A DNS query over UDP: any well-formed answer, whatever its rcode.
    Dns,
    /// An HTTP/1.1 GET whose status must match `probe.http_status`.
    Http,
}

impl TargetKind {
    /// The name shown in status, events and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Icmp => "icmp",
            TargetKind::Tcp => "tcp",
            TargetKind::Dns => "dns",
            TargetKind::Http => "http",
        }
    }
}

/// Where a probe goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A literal address.
    Addr(IpAddr),
    /// A host name (lower case, without a trailing dot), resolved through the line.
    Name(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Addr(IpAddr::V6(addr)) => write!(f, "[{addr}]"),
            Host::Addr(addr) => write!(f, "{addr}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

/// One entry of `probe.targets`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The string as written in the config: what status, events and metrics show.
    pub text: String,
    /// How it is probed.
    pub kind: TargetKind,
    /// Where the probe goes.
    pub host: Host,
    /// TCP or UDP port; 0 for ICMP.
    pub port: u16,
    /// HTTP request path (starting with `/`); empty for the other kinds.
    pub path: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<IpAddr> for Target {
    fn from(addr: IpAddr) -> Target {
        Target::icmp(addr)
    }
}

impl From<std::net::Ipv4Addr> for Target {
    fn from(addr: std::net::Ipv4Addr) -> Target {
        Target::icmp(addr.into())
    }
}

impl From<std::net::Ipv6Addr> for Target {
    fn from(addr: std::net::Ipv6Addr) -> Target {
        Target::icmp(addr.into())
    }
}

impl Target {
    /// A plain ICMP target at `addr` (tests and generated configs).
    pub fn icmp(addr: IpAddr) -> Target {
        Target {
            text: addr.to_string(),
            kind: TargetKind::Icmp,
            host: Host::Addr(addr),
            port: 0,
            path: String::new(),
        }
    }

    /// The literal address, if the target names no host name.
    pub fn addr(&self) -> Option<IpAddr> {
        match self.host {
            Host::Addr(addr) => Some(addr),
            Host::Name(_) => None,
        }
    }

    /// Parses one `probe.targets` string; the error is the reason, for the caller to put
    /// after the uplink, key and value.
    pub fn parse(text: &str) -> Result<Target, String> {
        let (kind, rest) = match text.split_once("://") {
            None => (TargetKind::Icmp, text),
            Some(("tcp", rest)) => (TargetKind::Tcp, rest),
            Some(("dns", rest)) => (TargetKind::Dns, rest),
            Some(("http", rest)) => (TargetKind::Http, rest),
            Some(("https", _)) => {
                return Err("https is not probed: use \"tcp://HOST:443\" or http://".into())
            }
            Some((scheme, _)) => {
                return Err(format!(
                    "unknown probe kind {scheme:?}: expected tcp://, dns:// or http://"
                ))
            }
        };
        let (authority, path) = match kind {
            TargetKind::Http => match rest.find('/') {
                Some(at) => (&rest[..at], &rest[at..]),
                None => (rest, "/"),
            },
            _ => (rest, ""),
        };
        check_path(path)?;
        let (host, port) = split_port(authority, kind)?;
        Ok(Target {
            text: text.to_owned(),
            kind,
            host: parse_host(host)?,
            port,
            path: path.to_owned(),
        })
    }
}

/// Splits `HOST[:PORT]` (`[v6]:PORT` for IPv6 with a port) and applies the kind's rules:
/// ICMP has no port, TCP needs one, DNS and HTTP default to 53 and 80.
fn split_port(authority: &str, kind: TargetKind) -> Result<(&str, u16), String> {
    if authority.is_empty() {
        return Err("no host".into());
    }
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or("an opening [ without a closing ]")?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(format!("unexpected {after:?} after the address")),
            },
        }
    } else if authority.matches(':').count() == 1 {
        let (host, port) = authority.split_once(':').unwrap_or((authority, ""));
        (host, Some(port))
    } else {
        // No colon, or a bare IPv6 address (several colons, no port).
        (authority, None)
    };
    let port = port.map(parse_port).transpose()?;
    let port = match (kind, port) {
        (TargetKind::Icmp, None) => 0,
        (TargetKind::Icmp, Some(_)) => {
            return Err("an ICMP target has no port: write tcp://HOST:PORT for TCP".into())
        }
        (TargetKind::Tcp, None) => return Err("needs a port: tcp://HOST:PORT".into()),
        (_, Some(port)) => port,
        (TargetKind::Dns, None) => DNS_PORT,
        (TargetKind::Http, None) => HTTP_PORT,
    };
    Ok((host, port))
}

fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
        _ => Err(format!("port {text:?}: must be 1..65535")),
    }
}

/// An address, or a host name made of letters, digits and hyphens (RFC 1123).
fn parse_host(text: &str) -> Result<Host, String> {
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Ok(Host::Addr(addr));
    }
    let name =
        normal_name(text).map_err(|reason| format!("not an IP address or host name: {reason}"))?;
    Ok(Host::Name(name))
}

/// A host name as compared and queried: checked, without a trailing dot, lower case.
pub(crate) fn normal_name(text: &str) -> Result<String, &'static str> {
    let name = text.strip_suffix('.').unwrap_or(text);
    check_name(name)?;
    Ok(name.to_ascii_lowercase())
}

/// Checks a host name (without trailing dot): what a DNS query can carry and what reads as
/// a name rather than a mistyped address.
pub(crate) fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err("1..253 characters");
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("each label 1..63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err("letters, digits, hyphens and dots only");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label starts or ends with a hyphen");
        }
    }
    // "192.0.2.300" is a mistyped address, not a name: top-level labels are not numeric.
    let last = name.rsplit('.').next().unwrap_or(name);
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err("an all-numeric last label");
    }
    Ok(())
}

/// An HTTP path goes verbatim into the request line: printable ASCII, no spaces.
fn check_path(path: &str) -> Result<(), String> {
    if path.len() > MAX_PATH_LEN {
        return Err(format!("path longer than {MAX_PATH_LEN} characters"));
    }
    if !path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("path must be printable ASCII without spaces".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Target {
        Target::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn plain_address_and_name_are_icmp() {
        let t = parse("192.0.2.1");
        assert_eq!(t.kind, TargetKind::Icmp);
        assert_eq!(t.host, Host::Addr("192.0.2.1".parse().unwrap()));
        assert_eq!(t.port, 0);
        let t = parse("2001:db8::1");
        assert_eq!(t.addr(), Some("2001:db8::1".parse().unwrap()));
        let t = parse("Probe.Example.");
        assert_eq!(t.host, Host::Name("probe.example".into()));
        assert_eq!(t.to_string(), "Probe.Example.", "shown as written");
    }

    #[test]
    fn tcp_needs_a_port_in_range() {
        let t = parse("tcp://203.0.113.10:443");
        assert_eq!((t.kind, t.port), (TargetKind::Tcp, 443));
        let t = parse("tcp://[2001:db8::1]:80");
        assert_eq!(t.addr(), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(t.port, 80);
        assert_eq!(
            parse("tcp://example.com:443").host,
            Host::Name("example.com".into())
        );
        for (text, reason) in [
            ("tcp://192.0.2.1", "needs a port: tcp://HOST:PORT"),
            ("tcp://192.0.2.1:0", "port \"0\": must be 1..65535"),
            ("tcp://192.0.2.1:65536", "port \"65536\": must be 1..65535"),
            ("tcp://192.0.2.1:+5", "port \"+5\": must be 1..65535"),
            (
                "tcp://:80",
                "not an IP address or host name: 1..253 characters",
            ),
            ("tcp://", "no host"),
            ("tcp://[2001:db8::1:80", "an opening [ without a closing ]"),
        ] {
            assert_eq!(Target::parse(text).unwrap_err(), reason, "{text}");
        }
    }

    #[test]
    fn dns_and_http_have_default_ports() {
        let t = parse("dns://192.0.2.53");
        assert_eq!((t.kind, t.port), (TargetKind::Dns, 53));
        assert_eq!(parse("dns://[2001:db8::53]:5353").port, 5353);
        let t = parse("http://connectivitycheck.example/generate_204");
        assert_eq!((t.kind, t.port), (TargetKind::Http, 80));
        assert_eq!(t.path, "/generate_204");
        let t = parse("http://203.0.113.10:8080");
        assert_eq!((t.port, t.path.as_str()), (8080, "/"));
    }

    #[test]
    fn wrong_forms_are_rejected_with_a_reason() {
        for (text, reason) in [
            ("192.0.2.300", "an all-numeric last label"),
            ("ex ample", "letters, digits, hyphens and dots only"),
            ("-a.example", "a label starts or ends with a hyphen"),
            ("a..example", "each label 1..63 characters"),
            ("192.0.2.1:80", "an ICMP target has no port"),
            ("ftp://192.0.2.1", "unknown probe kind \"ftp\""),
            ("https://192.0.2.1/", "https is not probed"),
            ("http://192.0.2.1/a b", "path must be printable ASCII"),
        ] {
            let error = Target::parse(text).unwrap_err();
            assert!(error.contains(reason), "{text}: {error}");
        }
        let long = format!("http://192.0.2.1/{}", "a".repeat(300));
        assert!(Target::parse(&long).is_err());
    }
}
