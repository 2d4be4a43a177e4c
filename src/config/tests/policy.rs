//! `[[policy]]` tables.

use super::*;

/// Two uplinks and one policy with the given body lines.
fn policy(body: &str) -> String {
    format!("{MAIN}[[uplink]]\nname = \"backup\"\ndevice = \"eth2\"\n[[policy]]\n{body}\n")
}

fn speaker(keys: &str) -> String {
    policy(&format!(
        "name = \"speaker\"\nuplinks = [\"backup\", \"main\"]\n{keys}"
    ))
}

fn policy_of(keys: &str) -> Policy {
    parse(&speaker(keys)).unwrap().policies.remove(0)
}

fn prefix(addr: &str, len: u8) -> Prefix {
    Prefix {
        addr: ip(addr),
        len,
    }
}

#[test]
fn from_and_to_are_optional() {
    let p = policy_of("");
    assert_eq!(
        (p.name.as_str(), p.from.len(), p.to.len()),
        ("speaker", 0, 0)
    );
    assert_eq!(p.uplinks, ["backup", "main"]);
}

#[test]
fn prefixes_are_parsed() {
    let p = policy_of("from = [\"192.168.1.50\", \"10.0.0.0/8\"]\nto = [\"0.0.0.0/0\"]");
    assert_eq!(p.from, [prefix("192.168.1.50", 32), prefix("10.0.0.0", 8)]);
    assert_eq!(p.to, [prefix("0.0.0.0", 0)]);
}

#[test]
fn bad_names() {
    assert_error(
        &policy("name = \"\"\nuplinks = [\"main\"]"),
        &["policy \"\": name: only letters, digits, '_' and '-' are allowed"],
    );
    assert_error(
        &policy("name = \"tv room\"\nuplinks = [\"main\"]"),
        &["policy \"tv room\": name:"],
    );
}

#[test]
fn duplicate_name() {
    let text = format!(
        "{}[[policy]]\nname = \"speaker\"\nuplinks = [\"main\"]\n",
        speaker("")
    );
    assert_eq!(
        error(&text),
        r#"policy "speaker": name: duplicate (also policy #1)"#
    );
}

#[test]
fn uplinks_required() {
    let expected = r#"policy "speaker": uplinks: must name at least one uplink"#;
    assert_eq!(error(&policy("name = \"speaker\"\nuplinks = []")), expected);
    assert_eq!(error(&policy("name = \"speaker\"")), expected);
}

#[test]
fn unknown_uplink() {
    assert_eq!(
        error(&policy("name = \"speaker\"\nuplinks = [\"lte\", \"main\"]")),
        r#"policy "speaker": uplinks: unknown uplink "lte""#
    );
}

#[test]
fn duplicate_uplink_in_list() {
    assert_eq!(
        error(&policy(
            "name = \"speaker\"\nuplinks = [\"main\", \"backup\", \"main\"]"
        )),
        r#"policy "speaker": uplinks: duplicate uplink "main""#
    );
}

#[test]
fn bad_prefix_in_from() {
    assert_eq!(
        error(&speaker("from = [\"192.168.1.500\"]")),
        r#"policy "speaker": from "192.168.1.500": not an IPv4 address or prefix"#
    );
    assert_error(
        &speaker("from = [\"10.0.0.0/33\"]"),
        &["from \"10.0.0.0/33\": prefix length"],
    );
}

#[test]
fn bad_prefix_in_to() {
    assert_error(
        &speaker("to = [\"2001:db8::/32\"]"),
        &["to \"2001:db8::/32\": IPv6 is not supported yet"],
    );
    assert_error(&speaker("to = [\"\"]"), &["to \"\": not an IPv4 address"]);
}

#[test]
fn host_bits_set() {
    assert_eq!(
        error(&speaker("from = [\"192.168.1.1/24\"]")),
        r#"policy "speaker": from "192.168.1.1/24": host bits are set (did you mean 192.168.1.0/24?)"#
    );
}

#[test]
fn duplicate_prefix() {
    assert_eq!(
        error(&speaker("to = [\"192.0.2.7\", \"192.0.2.7/32\"]")),
        r#"policy "speaker": to "192.0.2.7/32": duplicate"#
    );
}

#[test]
fn fallback_defaults_to_default_and_accepts_unreachable() {
    assert_eq!(policy_of("").fallback, Fallback::Default);
    assert_eq!(
        policy_of("fallback = \"default\"").fallback,
        Fallback::Default
    );
    assert_eq!(
        policy_of("fallback = \"unreachable\"").fallback,
        Fallback::Unreachable
    );
}

#[test]
fn unknown_fallback_is_rejected() {
    let err = parse(&speaker("fallback = \"drop\""))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "policy \"speaker\": fallback \"drop\": must be \"default\" or \"unreachable\""
    );
}

#[test]
fn too_many_policies_are_rejected() {
    let mut text = policy("name = \"p0\"\nuplinks = [\"main\"]");
    for i in 1..=50 {
        text += &format!("[[policy]]\nname = \"p{i}\"\nuplinks = [\"main\"]\n");
    }
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.contains("51 tables configured, at most 50"), "{err}");
}

#[test]
fn proto_and_ports_are_parsed() {
    let p = policy_of("proto = \"udp\"\nports = [7, \"27000-27050\"]");
    assert_eq!(p.proto, Some(Proto::Udp));
    assert_eq!(p.ports, [(7, 7), (27000, 27050)]);
    assert!(p.marks_connections());
    assert!(!policy_of("").marks_connections());
}

#[test]
fn bad_proto_and_ports_are_rejected() {
    let err = |keys: &str| parse(&speaker(keys)).unwrap_err().to_string();
    assert_eq!(
        err("proto = \"sctp\""),
        "policy \"speaker\": proto \"sctp\": must be \"tcp\", \"udp\" or \"icmp\""
    );
    assert_eq!(
        err("ports = [443]"),
        "policy \"speaker\": ports: need proto = \"tcp\" or \"udp\""
    );
    assert_eq!(
        err("proto = \"tcp\"\nports = [\"90-80\"]"),
        "policy \"speaker\": ports \"90-80\": must be a port 1..65535 or a range \"low-high\""
    );
    assert_eq!(
        err("proto = \"tcp\"\nports = [70000]"),
        "policy \"speaker\": ports 70000: must be a port 1..65535 or a range \"low-high\""
    );
}

#[test]
fn sets_come_inline_or_from_a_file_and_policies_must_name_one_that_exists() {
    let file = std::env::temp_dir().join(crate::netns::unique_prefix("set.txt"));
    std::fs::write(
        &file,
        "# streaming\n203.0.113.0/25\n\n203.0.113.128/25 # second half\n",
    )
    .unwrap();
    let text = format!(
        "{}[[set]]\nname = \"media\"\nprefixes = [\"198.51.100.7\"]\nfile = \"{}\"\n",
        speaker("set = \"media\""),
        file.display()
    );
    let config = parse(&text).unwrap();
    assert_eq!(config.sets[0].prefixes.len(), 3);
    assert!(config.policies[0].marks_connections());
    std::fs::write(&file, "203.0.113.0/25\nnot-a-prefix\n").unwrap();
    let err = parse(&text).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "set \"media\": file {} line 2 \"not-a-prefix\":",
            file.display()
        )),
        "{err}"
    );
    std::fs::remove_file(&file).unwrap();
    let err = parse(&speaker("set = \"nope\"")).unwrap_err().to_string();
    assert_eq!(
        err,
        "policy \"speaker\": set \"nope\": no [[set]] has this name"
    );
}

#[test]
fn a_set_file_must_be_a_regular_file_within_the_limit() {
    let with_file = |file: &str| {
        format!(
            "{}[[set]]\nname = \"media\"\nfile = \"{file}\"\n",
            speaker("set = \"media\"")
        )
    };
    // /dev/zero never ends: it used to grow memory until the router ran out.
    assert_eq!(
        parse(&with_file("/dev/zero")).unwrap_err().to_string(),
        "set \"media\": file \"/dev/zero\": is a character device, not a regular file"
    );
    let big = std::env::temp_dir().join(crate::netns::unique_prefix("bigset.txt"));
    let file = std::fs::File::create(&big).unwrap();
    // Sparse: costs no disk space.
    file.set_len(crate::files::SET_FILE_LIMIT + 1).unwrap();
    let err = parse(&with_file(big.to_str().unwrap()))
        .unwrap_err()
        .to_string();
    std::fs::remove_file(&big).unwrap();
    assert_eq!(
        err,
        format!(
            "set \"media\": file \"{}\": larger than the limit of 16777216 bytes (16 MiB)",
            big.display()
        )
    );
}

/// A set's name is an nft identifier: one that nft would read as a number or an operator
/// made the whole table fail to load.
#[test]
fn set_names_must_start_like_an_nft_identifier() {
    let with_set = |name: &str| {
        format!(
            "{}[[set]]\nname = \"{name}\"\nprefixes = [\"198.51.100.7\"]\n",
            speaker(&format!("set = \"{name}\""))
        )
    };
    for name in ["1media", "-media"] {
        assert_eq!(
            error(&with_set(name)),
            format!(
                "set \"{name}\": name: must start with a letter or '_' (nft names sets after it)"
            )
        );
    }
    for name in ["media", "_m-1"] {
        assert!(parse(&with_set(name)).is_ok(), "{name}");
    }
}
