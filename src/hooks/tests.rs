//! Finding `hotplug-call` and the environment of an event; running hooks is tested with real
//! scripts in tests/hooks.rs.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::*;

/// A scratch directory with `sbin/` and `bin/`, removed on drop (also when a test fails).
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> Self {
        let dir = std::env::temp_dir().join(crate::netns::unique_prefix(label));
        fs::create_dir_all(dir.join("sbin")).unwrap();
        fs::create_dir_all(dir.join("bin")).unwrap();
        Scratch(dir)
    }

    fn put(&self, sub: &str, mode: u32) -> PathBuf {
        let path = self.0.join(sub).join("hotplug-call");
        fs::write(&path, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn path_var(&self, dirs: &[&str]) -> OsString {
        std::env::join_paths(dirs.iter().map(|d| self.0.join(d))).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn hotplug_call_is_found_in_sbin_first_then_on_path() {
    let s = Scratch::new("hpfind");
    let sbin = s.0.join("sbin");
    let path = s.path_var(&["bin"]);
    assert_eq!(find_program("hotplug-call", &sbin, Some(&path)), None);
    let on_path = s.put("bin", 0o755);
    assert_eq!(
        find_program("hotplug-call", &sbin, Some(&path)),
        Some(on_path)
    );
    let in_sbin = s.put("sbin", 0o755);
    assert_eq!(
        find_program("hotplug-call", &sbin, Some(&path)),
        Some(in_sbin)
    );
}

#[test]
fn a_hotplug_call_that_cannot_run_is_not_used() {
    let s = Scratch::new("hpnoexec");
    s.put("bin", 0o644);
    let path = s.path_var(&["bin"]);
    assert_eq!(
        find_program("hotplug-call", &s.0.join("sbin"), Some(&path)),
        None
    );
    // Relative PATH entries (the working directory) are never searched.
    assert_eq!(
        find_program(
            "hotplug-call",
            Path::new("sbin"),
            Some(&OsString::from(":."))
        ),
        None
    );
}

#[test]
fn env_leaves_out_what_the_event_does_not_have() {
    let event = HookEvent {
        kind: HookKind::Up,
        line: "main".into(),
        device: "pppoe-wan".into(),
        interface: None,
        family: "ipv4".into(),
        gateway: None,
        reason: "probe".into(),
        previous_active: vec![],
        active: vec!["main".into(), "lte".into()],
        policy: None,
        failing: vec!["icmp 192.0.2.1".into(), "http http://x.example/".into()],
    };
    let env = event.env();
    let get = |k: &str| {
        env.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("UPLINK_EVENT"), Some("up"));
    assert_eq!(get("ACTION"), Some("up"));
    assert_eq!(get("INTERFACE"), Some("main"));
    assert_eq!(get("UPLINK_ACTIVE"), Some("main,lte"));
    assert_eq!(get("UPLINK_PREVIOUS_ACTIVE"), Some(""));
    assert_eq!(get("UPLINK_GATEWAY"), None);
    assert_eq!(get("UPLINK_POLICY"), None);
    assert_eq!(
        get("UPLINK_FAILING"),
        Some("icmp 192.0.2.1\nhttp http://x.example/")
    );
}

#[test]
fn exit_statuses_read_as_the_log_says_them() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;
    // Raw wait(2) statuses: exit code in the high byte, terminating signal in the low bits.
    assert_eq!(
        run::describe(ExitStatus::from_raw(3 << 8)),
        "exited with status 3"
    );
    assert_eq!(run::describe(ExitStatus::from_raw(9)), "killed by signal 9");
}
