//! `import-mwan3` and `/etc/mwan3.user`: the hook it writes, run by the real hook runner,
//! runs a real mwan3.user script with mwan3's ACTION, INTERFACE and DEVICE and nothing else.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use uplink::hooks::{HookConfig, HookEvent, HookKind, HookRunner};

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn import(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_uplink"))
        .arg("import-mwan3")
        .args(args)
        .arg("tests/data/mwan3/failover.mwan3")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    out
}

fn event(kind: HookKind, line: &str, interface: Option<&str>) -> HookEvent {
    HookEvent {
        kind,
        line: line.into(),
        device: format!("dev-{line}"),
        interface: interface.map(Into::into),
        family: "ipv4".into(),
        gateway: None,
        reason: "test".into(),
        previous_active: Vec::new(),
        active: Vec::new(),
        policy: None,
        failing: Vec::new(),
    }
}

#[test]
fn mwan3_user_runs_on_uplinks_events_through_the_written_hook() {
    let dir = Dir(std::env::temp_dir().join(uplink::netns::unique_prefix("m3user")));
    fs::create_dir_all(&dir.0).unwrap();
    let log = dir.0.join("log");
    let user = dir.0.join("mwan3.user");
    let hooks = dir.0.join("hooks.d");
    // Not executable, as mwan3.user often is not (mwan3 chmods it first; we run it with sh).
    fs::write(
        &user,
        format!(
            "#!/bin/sh\n# as mwan3 documents it\necho \"$ACTION $INTERFACE $DEVICE \
             home=${{HOME-unset}} event=${{UPLINK_EVENT-unset}}\" >> {}\n",
            log.display()
        ),
    )
    .unwrap();
    let (hooks_arg, user_arg) = (hooks.to_str().unwrap(), user.to_str().unwrap());
    let out = import(&["--hooks-dir", hooks_arg, "--mwan3-user", user_arg]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("wrote"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("[[uplink]]"));
    let hook = hooks.join("50-mwan3-user");
    assert!(hook.is_file());
    // Again with the same script: the identical hook is left as it is.
    import(&["--hooks-dir", hooks_arg, "--mwan3-user", user_arg]);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let runner = HookRunner::new(HookConfig {
            dir: hooks.clone(),
            timeout: Duration::from_secs(5),
            hotplug_call: None,
            hotplug_iface: false,
        });
        runner.emit(event(HookKind::Up, "wan", None));
        runner.emit(event(HookKind::Active, "wan", None));
        runner.emit(event(HookKind::Down, "wan", None));
        runner.emit(event(HookKind::Up, "lte", Some("wwan")));
        let start = Instant::now();
        let count = || fs::read_to_string(&log).unwrap_or_default().lines().count();
        while count() < 3 && start.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    let mut lines: Vec<String> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "connected wan dev-wan home=unset event=unset",
            "connected wwan dev-lte home=unset event=unset",
            "disconnected wan dev-wan home=unset event=unset",
        ]
    );
}

#[test]
fn without_hooks_dir_or_commands_nothing_is_written_and_the_note_says_why() {
    let dir = Dir(std::env::temp_dir().join(uplink::netns::unique_prefix("m3note")));
    fs::create_dir_all(&dir.0).unwrap();
    let user = dir.0.join("mwan3.user");
    fs::write(&user, "#!/bin/sh\nlogger hello\n").unwrap();
    let out = import(&["--mwan3-user", user.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--hooks-dir /etc/uplink/hooks.d"),
        "{stderr}"
    );

    fs::write(&user, "#!/bin/sh\n# Put your custom mwan3 action here\n").unwrap();
    let hooks = dir.0.join("hooks.d");
    let args = ["--hooks-dir", hooks.to_str().unwrap()];
    let out = import(&[&args[..], &["--mwan3-user", user.to_str().unwrap()]].concat());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to migrate"));
    assert!(!Path::new(&hooks).exists());

    // A missing script (mwan3 never customised, or already removed): silence.
    let out = import(&["--mwan3-user", "/nonexistent/mwan3.user"]);
    assert!(out.stderr.is_empty(), "{out:?}");
}
