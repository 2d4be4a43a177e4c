//! `uplink lab` as a user runs it: unattended, exit 0, nothing left behind.

#![cfg(feature = "lab")]

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
    let child = Command::new(env!("CARGO_BIN_EXE_uplink"))
        .args(["lab", "--fault", "carrier"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The lab's daemon lives in a directory named after the lab process's pid.
    let marker = format!("ul{}x", child.id());
    let out = child.wait_with_output().unwrap();
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
    let procs = Command::new("pgrep")
        .args(["-f", &marker])
        .output()
        .unwrap();
    assert!(procs.stdout.is_empty(), "daemon left running");
}
