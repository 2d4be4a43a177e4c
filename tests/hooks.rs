//! The hook runner with real scripts: variables, ordering, time limits, skipped files and
//! hotplug-call. No network is involved.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use uplink::hooks::{HookConfig, HookEvent, HookKind, HookRunner};

struct Dir(PathBuf);

impl Dir {
    fn new(label: &str) -> Self {
        let dir = std::env::temp_dir().join(uplink::netns::unique_prefix(label));
        fs::create_dir_all(dir.join("hooks")).unwrap();
        Dir(dir)
    }

    fn hooks(&self) -> PathBuf {
        self.0.join("hooks")
    }

    fn log(&self) -> PathBuf {
        self.0.join("log")
    }

    fn script(&self, name: &str, body: &str, mode: u32) -> PathBuf {
        let path = self.hooks().join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn read_log(&self) -> String {
        fs::read_to_string(self.log()).unwrap_or_default()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn event(kind: HookKind, line: &str) -> HookEvent {
    HookEvent {
        kind,
        line: line.into(),
        device: format!("dev-{line}"),
        interface: None,
        family: "ipv4".into(),
        gateway: None,
        reason: "test reason".into(),
        previous_active: vec!["main".into()],
        active: vec!["backup".into(), "lte".into()],
        policy: None,
        failing: Vec::new(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Waits (on the runtime, so hooks progress) until `check` holds or `within` passes.
async fn wait_for(within: Duration, check: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

fn config(dir: &Dir, timeout: Duration, hotplug: Option<PathBuf>) -> HookConfig {
    HookConfig {
        dir: dir.hooks(),
        timeout,
        hotplug_call: hotplug,
        hotplug_iface: true,
    }
}

#[test]
fn hooks_get_the_facts_in_their_environment() {
    let dir = Dir::new("hookenv");
    let log = dir.log();
    dir.script(
        "10-env",
        &format!(
            "echo \"$UPLINK_EVENT|$ACTION|$UPLINK_LINE|$INTERFACE|$UPLINK_DEVICE|$UPLINK_REASON|$UPLINK_PREVIOUS_ACTIVE|$UPLINK_ACTIVE|${{UPLINK_GATEWAY-unset}}|${{UPLINK_POLICY-unset}}\" >> {}",
            log.display()
        ),
        0o755,
    );
    runtime().block_on(async {
        let runner = HookRunner::new(config(&dir, Duration::from_secs(5), None));
        runner.emit(event(HookKind::Down, "main"));
        let mut with_gateway = event(HookKind::PolicyChange, "backup");
        with_gateway.gateway = Some("198.51.100.1".into());
        with_gateway.policy = Some("speaker".into());
        runner.emit(with_gateway);
        assert!(
            wait_for(Duration::from_secs(5), || dir.read_log().lines().count()
                == 2)
            .await
        );
    });
    let log = dir.read_log();
    let lines: Vec<&str> = log.lines().collect();
    assert!(
        lines.contains(&"down|down|main|main|dev-main|test reason|main|backup,lte|unset|unset"),
        "{log}"
    );
    assert!(lines.contains(&"policy|policy|backup|backup|dev-backup|test reason|main|backup,lte|198.51.100.1|speaker"), "{log}");
}

#[test]
fn a_slow_hook_never_blocks_emit_or_other_lines_and_is_killed_at_its_limit() {
    let dir = Dir::new("hookslow");
    let log = dir.log();
    dir.script(
        "10-slow",
        &format!(
            "if [ \"$UPLINK_LINE\" = main ]; then sleep 31.7; echo late >> {0}; else echo \"fast $UPLINK_LINE\" >> {0}; fi",
            log.display()
        ),
        0o755,
    );
    runtime().block_on(async {
        let runner = HookRunner::new(config(&dir, Duration::from_secs(1), None));
        let start = Instant::now();
        runner.emit(event(HookKind::Down, "main"));
        runner.emit(event(HookKind::Active, "backup"));
        assert!(
            start.elapsed() < Duration::from_millis(50),
            "emit must not wait"
        );
        assert!(
            wait_for(Duration::from_secs(3), || dir
                .read_log()
                .contains("fast backup"))
            .await
        );
        // Past the 1 s limit the slow hook and its sleep are killed: "late" never comes.
        tokio::time::sleep(Duration::from_secs(2)).await;
    });
    assert!(!dir.read_log().contains("late"));
    // The whole process group is killed, not just the shell: no orphaned sleep remains.
    let sleeping = std::process::Command::new("pgrep")
        .args(["-f", "sleep 31.7"])
        .output()
        .unwrap();
    assert!(
        sleeping.stdout.is_empty(),
        "the hook's child outlived its time limit"
    );
}

#[test]
fn events_of_one_line_run_in_order_and_files_in_name_order() {
    let dir = Dir::new("hookorder");
    let log = dir.log();
    let append = |tag: &str| format!("echo \"{tag} $UPLINK_EVENT\" >> {}", log.display());
    dir.script("20-second", &append("b"), 0o755);
    dir.script("10-first", &format!("sleep 0.3; {}", append("a")), 0o755);
    dir.script("30-not-executable", &append("x"), 0o644);
    dir.script(".hidden", &append("x"), 0o755);
    dir.script("40-backup~", &append("x"), 0o755);
    runtime().block_on(async {
        let runner = HookRunner::new(config(&dir, Duration::from_secs(5), None));
        runner.emit(event(HookKind::Down, "main"));
        runner.emit(event(HookKind::Up, "main"));
        assert!(
            wait_for(Duration::from_secs(5), || dir.read_log().lines().count()
                >= 4)
            .await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    assert_eq!(dir.read_log(), "a down\nb down\na up\nb up\n");
}

#[test]
fn hotplug_call_gets_uplink_and_the_same_environment() {
    let dir = Dir::new("hookhp");
    let log = dir.log();
    let fake = dir.0.join("hotplug-call");
    fs::write(
        &fake,
        format!(
            "#!/bin/sh\necho \"$1 $ACTION $INTERFACE\" >> {}\n",
            log.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    runtime().block_on(async {
        let runner = HookRunner::new(config(&dir, Duration::from_secs(5), Some(fake.clone())));
        runner.emit(event(HookKind::Inactive, "main"));
        assert!(wait_for(Duration::from_secs(5), || !dir.read_log().is_empty()).await);
    });
    assert_eq!(dir.read_log(), "uplink inactive main\n");
}

/// Lines of a netifd interface also reach `/etc/hotplug.d/iface` as mwan3track's events do:
/// `env -i ACTION=connected|disconnected INTERFACE DEVICE` (+ `FIRSTCONNECT`), after the
/// `hotplug-call uplink` run of the same event.
#[test]
fn hotplug_call_iface_gets_mwan3s_events_for_netifd_lines() {
    let dir = Dir::new("hookif");
    let fake = dir.0.join("hotplug-call");
    let record = "echo \"$1 ${ACTION-} ${INTERFACE-} ${DEVICE-} first=${FIRSTCONNECT-unset} \
                  line=${UPLINK_LINE-unset} home=${HOME-unset}\"";
    fs::write(
        &fake,
        format!("#!/bin/sh\n{record} >> {}\n", dir.log().display()),
    )
    .unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    let wan = |kind| {
        let mut e = event(kind, "main");
        e.interface = Some("wan".into());
        e
    };
    runtime().block_on(async {
        let runner = HookRunner::new(config(&dir, Duration::from_secs(5), Some(fake.clone())));
        // Down before any up: mwan3 sends no disconnected for a line never online.
        for e in [
            wan(HookKind::Down),
            wan(HookKind::Up),
            wan(HookKind::Active),
            wan(HookKind::Down),
            wan(HookKind::Up),
            event(HookKind::Up, "lte"),
        ] {
            runner.emit(e);
        }
        let lines = || dir.read_log().lines().count();
        assert!(wait_for(Duration::from_secs(5), || lines() >= 9).await);
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    let home = std::env::var("HOME").map_or("unset".to_owned(), |h| h);
    // `hotplug-call uplink` carries uplink's variables (no DEVICE); `iface` only mwan3's.
    let uplink = |action: &str| format!("uplink {action} main  first=unset line=main home={home}");
    let log = dir.read_log();
    let main: Vec<&str> = log.lines().filter(|l| !l.contains("lte")).collect();
    let expected = [
        uplink("down"),
        uplink("up"),
        "iface connected wan dev-main first=1 line=unset home=unset".into(),
        uplink("active"),
        uplink("down"),
        "iface disconnected wan dev-main first=unset line=unset home=unset".into(),
        uplink("up"),
        "iface connected wan dev-main first= line=unset home=unset".into(),
    ];
    assert_eq!(main, expected, "{log}");
    // The line without an interface ("lte") got its uplink call only.
    assert_eq!(log.lines().count(), 9, "{log}");

    // Switched off: no iface call at all.
    fs::remove_file(dir.log()).unwrap();
    runtime().block_on(async {
        let mut off = config(&dir, Duration::from_secs(5), Some(fake.clone()));
        off.hotplug_iface = false;
        let runner = HookRunner::new(off);
        runner.emit(wan(HookKind::Up));
        assert!(wait_for(Duration::from_secs(5), || !dir.read_log().is_empty()).await);
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    assert_eq!(dir.read_log(), format!("{}\n", uplink("up")));
}

#[test]
fn a_hook_that_prints_a_lot_still_finishes() {
    let dir = Dir::new("hookbig");
    let log = dir.log();
    dir.script(
        "10-big",
        &format!(
            "head -c 1000000 /dev/zero | tr '\\0' 'x' | fold -w 100; echo done >> {}",
            log.display()
        ),
        0o755,
    );
    runtime().block_on(async {
        let runner = HookRunner::new(config(&dir, Duration::from_secs(10), None));
        runner.emit(event(HookKind::Up, "main"));
        assert!(wait_for(Duration::from_secs(10), || dir.read_log().contains("done")).await);
    });
    assert!(Path::new(&log).exists());
}

const NOBODY: u32 = 65534;

/// A trusted stand-in for hotplug-call (in `helper`, away from the hooks under test), run
/// after the directory's hooks: once it has logged, every hook of the event has had its
/// chance.
fn last_word(dir: &Dir, helper: &Dir) -> PathBuf {
    let path = helper.0.join("hotplug-call");
    fs::write(
        &path,
        format!("#!/bin/sh\necho hotplug >> {}\n", dir.log().display()),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Emits one event and returns the log once hotplug-call has run.
fn run_event(dir: &Dir) -> String {
    let helper = Dir::new("hookhelper");
    runtime().block_on(async {
        let hotplug = last_word(dir, &helper);
        let runner = HookRunner::new(config(dir, Duration::from_secs(5), Some(hotplug)));
        runner.emit(event(HookKind::Down, "main"));
        assert!(
            wait_for(Duration::from_secs(5), || dir
                .read_log()
                .contains("hotplug"))
            .await
        );
    });
    dir.read_log()
}

#[test]
fn hooks_another_user_could_have_changed_never_run_as_root() {
    if !uplink::netns::require_root("hooks_another_user_could_have_changed_never_run_as_root") {
        return;
    }
    let dir = Dir::new("hookperm");
    let append = |tag: &str| format!("echo {tag} >> {}", dir.log().display());
    dir.script("10-everyone-writes", &append("open"), 0o777);
    dir.script("20-group-writes", &append("group"), 0o775);
    let theirs = dir.script("30-nobody-owns", &append("theirs"), 0o755);
    std::os::unix::fs::chown(&theirs, Some(NOBODY), None).unwrap();
    // A link from the hooks directory to a script in a directory anyone can write.
    let open_dir = dir.0.join("open");
    fs::create_dir(&open_dir).unwrap();
    fs::set_permissions(&open_dir, fs::Permissions::from_mode(0o777)).unwrap();
    let elsewhere = open_dir.join("script");
    fs::write(&elsewhere, format!("#!/bin/sh\n{}\n", append("linked"))).unwrap();
    fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(&elsewhere, dir.hooks().join("40-linked")).unwrap();
    dir.script("90-good", &format!("{} \"$0\"", append("good")), 0o755);
    assert_eq!(
        run_event(&dir),
        format!("good {}\nhotplug\n", dir.hooks().join("90-good").display())
    );
}

#[test]
fn a_hooks_directory_another_user_could_change_runs_nothing() {
    if !uplink::netns::require_root("a_hooks_directory_another_user_could_change_runs_nothing") {
        return;
    }
    let dir = Dir::new("hookdirperm");
    let append = format!("echo ran >> {}", dir.log().display());
    dir.script("10-good", &append, 0o755);
    // The case found: a 0777 hooks directory.
    fs::set_permissions(dir.hooks(), fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(run_event(&dir), "hotplug\n");
    // Owned by another user, who could replace the script at any time.
    fs::set_permissions(dir.hooks(), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(dir.hooks(), Some(NOBODY), None).unwrap();
    fs::remove_file(dir.log()).unwrap();
    assert_eq!(run_event(&dir), "hotplug\n");
    // A directory above it that others can write (without the sticky bit of /tmp).
    std::os::unix::fs::chown(dir.hooks(), Some(0), None).unwrap();
    fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o777)).unwrap();
    fs::remove_file(dir.log()).unwrap();
    let log = run_event(&dir);
    fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(log, "hotplug\n");
    fs::remove_file(dir.log()).unwrap();
    assert_eq!(run_event(&dir), "ran\nhotplug\n");
}

/// A line that flaps while its hook hangs: at most 64 events wait (the daemon's memory stays
/// bounded); the rest are dropped, and those that waited still run, in order, once the hook
/// is free again.
#[test]
fn events_waiting_for_a_slow_hook_are_bounded() {
    let dir = Dir::new("hookbound");
    let log = dir.log();
    let go = dir.0.join("go");
    let body = format!(
        "while [ ! -e {} ]; do sleep 0.05; done\necho \"$UPLINK_EVENT\" >> {}",
        go.display(),
        log.display()
    );
    dir.script("10-slow", &body, 0o755);
    runtime().block_on(async {
        let runner = HookRunner::new(config(&dir, Duration::from_secs(60), None));
        runner.emit(event(HookKind::Down, "main"));
        // The first event is taken by the line's task and runs (waiting for "go").
        tokio::time::sleep(Duration::from_millis(300)).await;
        for _ in 0..200 {
            runner.emit(event(HookKind::Up, "main"));
        }
        fs::write(&go, "").unwrap();
        assert!(
            wait_for(Duration::from_secs(30), || dir.read_log().lines().count()
                >= 65)
            .await,
            "{} ran",
            dir.read_log().lines().count()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    });
    let ran = dir.read_log();
    assert_eq!(ran.lines().count(), 65, "one running and 64 waiting");
    assert!(ran.starts_with("down\nup\n"));
}
