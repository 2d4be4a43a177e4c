//! `uplink check` run as a user runs it: what reaches the terminal.

use std::process::Command;

/// A config with a raw escape sequence: toml's message quotes the offending line, which
/// is shown escaped, never sent to the terminal as is.
#[test]
fn an_error_quoting_control_characters_shows_them_escaped() {
    let dir = std::env::temp_dir().join(uplink::netns::unique_prefix("cli-check"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("uplink.toml");
    std::fs::write(
        &config,
        "[[uplink]]\nname = \"main\"\ndevice = \"eth\u{1b}[2J0\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_uplink"))
        .arg("check")
        .arg("-c")
        .arg(&config)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success());
    assert!(stderr.starts_with("uplink: "), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(stderr.contains("eth\\u{1b}[2J0"), "{stderr}");
}
