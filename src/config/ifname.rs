//! Interface (device) names: the one check every entry point applies (the TOML and UCI
//! loaders, names learnt from netifd, `import-mwan3`) and the nft renderer repeats, so
//! that a name is either one the kernel could give a device and nft can match exactly, or
//! it is refused with the reason.
//!
//! The kernel's rule (`dev_valid_name`, net/core/dev.c): not empty, shorter than
//! IFNAMSIZ (16 bytes with the NUL), not `.` or `..`, no `/`, `:` or whitespace. On top
//! of it, refused here:
//! - control characters and anything outside printable ASCII: they would reach logs,
//!   `uplink status` and terminals raw, and telling printable from non-printable Unicode
//!   (bidi overrides, zero-width spaces) needs tables; systemd (udev, networkd) refuses
//!   bytes >= 127 in interface names too, and OpenWrt's netifd names are ASCII;
//! - `%`: the kernel expands `%d` into a number when it names a device (and refuses any
//!   other `%`), so no device is ever called that;
//! - `"` and `\`, which nft cannot match literally: its quoted strings have no escape for
//!   `"` (one inside is a syntax error that fails the whole table), and it keeps a `\` as
//!   is except in a string ending in `\*`, where it drops every `\` (measured with nft
//!   1.0.6: `"a\b\*"` matches `ab*`). Refusing both is the rule that holds for every
//!   name and every nft version.
//!
//! `*` is accepted: nft reads a trailing `*` as a wildcard (`"l*"` would match every
//! device starting with `l`), but `\*` matches the star itself, in a rule and in a set
//! alike, so [`nft_ifname`] escapes it; a `*` elsewhere is literal already.

use thiserror::Error;

/// Longest interface name in bytes: the kernel's IFNAMSIZ (16) less the trailing NUL.
pub const MAX_IFNAME_LEN: usize = 15;

/// Why a name cannot be an interface name; messages are lowercase, for
/// `uplink "main": device "x\"y": REASON`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum IfnameError {
    #[error("must not be empty")]
    Empty,
    #[error("longer than {MAX_IFNAME_LEN} bytes, the kernel's limit")]
    TooLong,
    #[error("not a valid interface name")]
    Dots,
    #[error("must not contain '/' or ':'")]
    SlashOrColon,
    #[error("must not contain whitespace")]
    Whitespace,
    #[error("must not contain control characters")]
    Control,
    #[error("must be printable ASCII (as systemd and netifd name devices)")]
    NotAscii,
    #[error("must not contain '%' (the kernel turns %d into a number, so no device has it)")]
    Percent,
    #[error("must not contain '\"' or '\\': nftables cannot match them literally")]
    NftUnsafe,
}

/// Checks `name` as an interface name (see the module comment for what and why).
pub fn check_ifname(name: &str) -> Result<(), IfnameError> {
    if name.is_empty() {
        return Err(IfnameError::Empty);
    }
    if name.len() > MAX_IFNAME_LEN {
        return Err(IfnameError::TooLong);
    }
    if name == "." || name == ".." {
        return Err(IfnameError::Dots);
    }
    // Per character, in the kernel's order first, so that its reasons win.
    for c in name.chars() {
        let refused = match c {
            '/' | ':' => IfnameError::SlashOrColon,
            c if c.is_whitespace() => IfnameError::Whitespace,
            c if c.is_control() => IfnameError::Control,
            c if !c.is_ascii() => IfnameError::NotAscii,
            '%' => IfnameError::Percent,
            '"' | '\\' => IfnameError::NftUnsafe,
            _ => continue,
        };
        return Err(refused);
    }
    Ok(())
}

/// `name` as an nft string that matches exactly that device, quoted; `None` for a name
/// [`check_ifname`] refuses.
pub fn nft_ifname(name: &str) -> Option<String> {
    check_ifname(name).ok()?;
    // Only a trailing star is a wildcard, and only there does nft take `\*` for a star
    // (elsewhere it would keep the backslash).
    Some(match name.strip_suffix('*') {
        Some(stem) => format!("\"{stem}\\*\""),
        None => format!("\"{name}\""),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_rules() {
        for (name, error) in [
            ("", IfnameError::Empty),
            ("a234567890123456", IfnameError::TooLong),
            (".", IfnameError::Dots),
            ("..", IfnameError::Dots),
            ("eth0/1", IfnameError::SlashOrColon),
            ("eth0:1", IfnameError::SlashOrColon),
            ("eth 0", IfnameError::Whitespace),
            ("eth\t0", IfnameError::Whitespace),
            ("eth\n0", IfnameError::Whitespace),
        ] {
            assert_eq!(check_ifname(name), Err(error), "{name:?}");
        }
        assert_eq!(check_ifname("a23456789012345"), Ok(()));
        assert_eq!(check_ifname("..."), Ok(()));
    }

    #[test]
    fn unprintable_and_unmatchable_characters() {
        for (name, error) in [
            ("eth\0", IfnameError::Control),
            ("eth\u{1b}[2J", IfnameError::Control),
            ("eth\u{7f}", IfnameError::Control),
            ("eth\u{85}", IfnameError::Whitespace),
            ("eth\u{9b}", IfnameError::Control),
            ("wän", IfnameError::NotAscii),
            ("eth\u{202e}", IfnameError::NotAscii),
            ("ppp%d", IfnameError::Percent),
            ("x\"y", IfnameError::NftUnsafe),
            ("x\\y", IfnameError::NftUnsafe),
        ] {
            assert_eq!(check_ifname(name), Err(error), "{name:?}");
        }
        // Two bytes each: the limit is in bytes, as in the kernel.
        assert_eq!(check_ifname(&"é".repeat(8)), Err(IfnameError::TooLong));
    }

    #[test]
    fn odd_but_valid_names() {
        for name in [
            "l-1.2",
            "wan@x",
            "a+b",
            "a;b",
            "a#b{",
            "}",
            "$x",
            "a'b",
            "[x]",
            "a,b",
            "l*",
            "*",
            "a*b",
            "!x",
            "eth0.2",
            "pppoe-wan",
        ] {
            assert_eq!(check_ifname(name), Ok(()), "{name:?}");
        }
    }

    #[test]
    fn nft_matches_the_device_exactly() {
        assert_eq!(nft_ifname("eth0").as_deref(), Some("\"eth0\""));
        assert_eq!(nft_ifname("a;b{").as_deref(), Some("\"a;b{\""));
        // A trailing star would be a wildcard: escaped. One inside is literal as it is.
        assert_eq!(nft_ifname("l*").as_deref(), Some("\"l\\*\""));
        assert_eq!(nft_ifname("*").as_deref(), Some("\"\\*\""));
        assert_eq!(nft_ifname("a*b").as_deref(), Some("\"a*b\""));
        assert_eq!(nft_ifname("**").as_deref(), Some("\"*\\*\""));
        for bad in ["x\"y", "x\\", "a\nb", ""] {
            assert_eq!(nft_ifname(bad), None, "{bad:?}");
        }
    }
}
