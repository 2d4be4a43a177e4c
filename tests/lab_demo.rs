//! `uplink lab` as a user runs it: unattended, exit 0, nothing left behind.

use std::process::Command;

fn demo_namespaces() -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("-demo-"))
        .map(String::from)
        .collect()
}

#[test]
fn uplink_lab_fails_over_and_back_and_leaves_nothing() {
    if !uplink::netns::require_root("uplink_lab_fails_over_and_back_and_leaves_nothing") {
        return;
    }
    let before = demo_namespaces();
    let out = Command::new(env!("CARGO_BIN_EXE_uplink"))
        .args(["lab", "--fault", "carrier"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("result: failover and failback both happened"),
        "{stdout}"
    );
    assert!(
        !stdout.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    assert_eq!(demo_namespaces(), before, "namespaces left behind");
    let procs = Command::new("pgrep").args(["-f", "uplink.toml"]).output();
    if let Ok(p) = procs {
        assert!(p.stdout.is_empty(), "daemon left running");
    }
}
