//! [`Prefix`] parsing and display.

use super::*;

fn parse_prefix(text: &str) -> Result<Prefix, PrefixError> {
    text.parse()
}

#[test]
fn bare_address_is_a_host_prefix() {
    assert_eq!(
        parse_prefix("192.0.2.7"),
        Ok(Prefix {
            addr: ip("192.0.2.7"),
            len: 32
        })
    );
}

#[test]
fn display_round_trips() {
    for text in [
        "0.0.0.0/0",
        "10.0.0.0/8",
        "192.168.1.0/24",
        "192.0.2.7/32",
        "128.0.0.0/1",
    ] {
        assert_eq!(parse_prefix(text).unwrap().to_string(), text);
    }
    assert_eq!(
        parse_prefix("192.0.2.7").unwrap().to_string(),
        "192.0.2.7/32"
    );
}

#[test]
fn host_bits_must_be_zero() {
    let network = Prefix {
        addr: ip("10.0.0.0"),
        len: 8,
    };
    assert_eq!(
        parse_prefix("10.0.0.1/8"),
        Err(PrefixError::HostBits(network))
    );
    assert!(parse_prefix("1.0.0.0/0").is_err());
    assert!(parse_prefix("192.0.2.7/31").is_err());
}

#[test]
fn malformed_lengths() {
    for text in [
        "10.0.0.0/33",
        "10.0.0.0/",
        "10.0.0.0/+8",
        "10.0.0.0/008",
        "10.0.0.0/x",
        "10.0.0.0/8/8",
    ] {
        assert_eq!(parse_prefix(text), Err(PrefixError::Length), "{text}");
    }
}

#[test]
fn malformed_addresses() {
    for text in ["", "10.0.0", "10.0.0.0.0/8", " 10.0.0.0/8", "ten/8", "/8"] {
        assert_eq!(parse_prefix(text), Err(PrefixError::Malformed), "{text}");
    }
    assert_eq!(parse_prefix("2001:db8::/32"), Err(PrefixError::Ipv6));
    assert_eq!(parse_prefix("::1"), Err(PrefixError::Ipv6));
}

#[test]
fn new_checks_length_and_host_bits() {
    assert_eq!(Prefix::new(ip("10.0.0.0"), 33), Err(PrefixError::Length));
    assert!(Prefix::new(ip("10.1.0.0"), 16).is_ok());
}

#[test]
fn contains() {
    let net = parse_prefix("192.168.1.0/24").unwrap();
    assert!(net.contains(ip("192.168.1.255")));
    assert!(!net.contains(ip("192.168.2.0")));
    assert!(parse_prefix("0.0.0.0/0")
        .unwrap()
        .contains(ip("203.0.113.9")));
}

#[test]
fn orders_by_address_then_length() {
    let mut prefixes = [
        parse_prefix("10.0.0.0/16").unwrap(),
        parse_prefix("10.0.0.0/8").unwrap(),
    ];
    prefixes.sort();
    assert_eq!(prefixes[0].len, 8);
}
