//! The systemd unit: `systemd-analyze verify` accepts it, where that tool exists (issue 6
//! asks for the check "where available"; it is not a namespace test).

use std::process::Command;

#[test]
fn systemd_unit_verifies() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd_unit_verifies: skipped: no systemd-analyze on this machine");
        return;
    }
    let dir = std::env::temp_dir().join(uplink::netns::unique_prefix("unit"));
    std::fs::create_dir_all(&dir).unwrap();
    let unit = std::fs::read_to_string("packaging/systemd/uplink.service").unwrap();
    // Point ExecStart at the binary under test: verify checks that it exists.
    let unit = unit.replace("/usr/sbin/uplink", env!("CARGO_BIN_EXE_uplink"));
    let path = dir.join("uplink.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
