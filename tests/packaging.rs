//! Packaging: the systemd unit, the Debian package built by scripts/deb (contents, control
//! fields, maintainer scripts, and the installed binary run from a scratch root), the OpenWrt
//! package files, and shellcheck over every shell script.
//!
//! Tools these tests need (dpkg-deb, shellcheck; cargo-deb is installed by scripts/deb) are
//! skipped with a message when missing locally, and fail the test in CI (`CI` set).
//! `systemd-analyze` is used where available, as issue 6 asks.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CRATE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Whether `tool` runs. Missing: a skip message locally, a failure in CI.
fn require(tool: &str, test: &str) -> bool {
    if Command::new(tool).arg("--version").output().is_ok() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: `{tool}` is missing, and CI must not skip this test (scripts/deps installs it)");
    }
    eprintln!("{test}: skipped: `{tool}` is not installed");
    false
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

/// Runs `cmd`, asserting success; returns stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: cannot run: {e}"));
    assert_success(&format!("{cmd:?}"), &out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[path = "common/tempdir.rs"]
mod tempdir;
use tempdir::TempDir;

/// `systemd-analyze verify` on `unit`, with its ExecStart binary pointed at `binary` (verify
/// checks that the binary exists; the unit names /usr/sbin/uplink). Skips where there is no
/// systemd-analyze.
fn verify_unit(unit: &str, binary: &Path, test: &str) {
    if !have("systemd-analyze") {
        eprintln!("{test}: systemd-analyze verify skipped: not installed");
        return;
    }
    let dir = TempDir::new("unit");
    let path = dir.0.join("uplink.service");
    let unit = unit.replace("/usr/sbin/uplink", binary.to_str().unwrap());
    std::fs::write(&path, unit).unwrap();
    run(Command::new("systemd-analyze").arg("verify").arg(&path));
}

#[test]
fn systemd_unit_verifies() {
    let unit = std::fs::read_to_string("packaging/systemd/uplink.service").unwrap();
    verify_unit(
        &unit,
        Path::new(env!("CARGO_BIN_EXE_uplink")),
        "systemd_unit_verifies",
    );
}

/// The .deb: `UPLINK_TEST_DEB` if set (one built by scripts/deb earlier), else built now
/// by scripts/deb (which installs cargo-deb if missing: about a minute, plus a release build).
fn deb_package() -> PathBuf {
    if let Some(deb) = std::env::var_os("UPLINK_TEST_DEB") {
        return deb.into();
    }
    let stdout = run(Command::new("scripts/deb").stderr(std::process::Stdio::inherit()));
    let last = stdout
        .lines()
        .last()
        .expect("scripts/deb prints the .deb's path");
    PathBuf::from(last.trim())
}

#[test]
fn deb_package_installs_and_runs() {
    const TEST: &str = "deb_package_installs_and_runs";
    if !require("dpkg-deb", TEST) {
        return;
    }
    let deb = deb_package();
    assert!(deb.is_file(), "no package at {}", deb.display());
    let size = std::fs::metadata(&deb).unwrap().len();
    eprintln!("{TEST}: {} ({size} bytes)", deb.display());

    check_deb_contents(&deb);
    check_deb_control(&deb);

    // Installed into a scratch root: dpkg -x unpacks the files exactly as dpkg --install
    // places them, without the host's dpkg database or systemd.
    let root = TempDir::new("debroot");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root.0));
    let bin = root.0.join("usr/sbin/uplink");

    let version = run(Command::new(&bin).arg("--version"));
    assert_eq!(version.trim(), format!("uplink {CRATE_VERSION}"));
    let config = root.0.join("etc/uplink/uplink.toml");
    let plan = run(Command::new(&bin).arg("check").arg("-c").arg(&config));
    assert!(plan.starts_with("config OK"), "{plan}");
    // The router build: the namespace lab is left out, the completion generator is in.
    let lab = Command::new(&bin).args(["lab", "--help"]).output().unwrap();
    assert!(!lab.status.success(), "the packaged binary has the lab");
    let fish = run(Command::new(&bin).args(["completions", "fish"]));
    assert_eq!(
        fish,
        std::fs::read_to_string(
            root.0
                .join("usr/share/fish/vendor_completions.d/uplink.fish")
        )
        .unwrap(),
        "shipped completions differ from what the shipped binary generates"
    );

    // The unit starts the binary where the package puts it, with the packaged config.
    let unit =
        std::fs::read_to_string(root.0.join("usr/lib/systemd/system/uplink.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    assert_eq!(
        exec,
        "/usr/sbin/uplink run -c /etc/uplink/uplink.toml --log journal"
    );
    verify_unit(&unit, &bin, TEST);

    // The licences: named in the copyright file, their texts beside it.
    let doc = root.0.join("usr/share/doc/uplink");
    let copyright = std::fs::read_to_string(doc.join("copyright")).unwrap();
    assert!(copyright.contains("MIT OR Apache-2.0"), "{copyright}");
    for license in ["LICENSE-MIT", "LICENSE-APACHE"] {
        assert_eq!(
            std::fs::read(doc.join(license)).unwrap(),
            std::fs::read(license).unwrap()
        );
    }

    let man = run(Command::new("zcat").arg(root.0.join("usr/share/man/man8/uplink.8.gz")));
    assert!(man.contains(".TH uplink 8"), "{man}");

    #[cfg(feature = "lab")]
    if uplink::netns::require_root(TEST) {
        installed_binary_fails_over_in_the_lab(&bin);
    }
}

#[cfg(feature = "lab")]
/// The packaged binary, run by hand as the daemon in the namespace lab's router: main
/// active, an upstream blackhole on main moves traffic to backup, clearing it moves it back.
fn installed_binary_fails_over_in_the_lab(bin: &Path) {
    use std::time::{Duration, Instant};
    use uplink::lab::{two_line_config, Fault, Lab, LabDaemon, LabOptions, Line, ProbeProfile};

    let lab = Lab::build(LabOptions {
        label: "deb".into(),
        rp_filter: true,
        static_routes: false,
    })
    .unwrap();
    let mut daemon = LabDaemon::new(bin, ProbeProfile::Test).unwrap();
    daemon
        .write_config(&two_line_config(&daemon.socket(), ProbeProfile::Test))
        .unwrap();
    daemon.start(&lab).unwrap();
    let wait_active = |name: &str| {
        let start = Instant::now();
        while daemon.active() != Some(vec![name.to_string()]) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "installed binary: {name} not active\n{}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_active("main");
    lab.inject(Fault::Blackhole(Line::One)).unwrap();
    wait_active("backup");
    lab.clear(Fault::Blackhole(Line::One)).unwrap();
    wait_active("main");
    let status = daemon
        .stop(Duration::from_secs(10))
        .expect("daemon was running");
    assert!(status.success(), "clean stop: {status:?}\n{}", daemon.log());
}

fn check_deb_contents(deb: &Path) {
    let listing = run(Command::new("dpkg-deb").arg("-c").arg(deb));
    // "-rwxr-xr-x root/root 2544296 2026-01-01 00:00 ./usr/sbin/uplink" -> (mode, path)
    let entries: Vec<(&str, &str)> = listing
        .lines()
        .filter_map(|l| {
            let mode = l.split_whitespace().next()?;
            let path = l.split_whitespace().last()?.strip_prefix('.')?;
            Some((mode, path))
        })
        .collect();
    let mode_of = |path: &str| {
        entries
            .iter()
            .find(|(_, p)| *p == path)
            .map(|(m, _)| *m)
            .unwrap_or_else(|| panic!("{path} is not in the package:\n{listing}"))
    };
    assert_eq!(mode_of("/usr/sbin/uplink"), "-rwxr-xr-x");
    for path in [
        "/etc/uplink/uplink.toml",
        "/usr/lib/systemd/system/uplink.service",
        "/usr/share/doc/uplink/README.md",
        "/usr/share/doc/uplink/BENCHMARKS.md",
        "/usr/share/doc/uplink/copyright",
        "/usr/share/doc/uplink/LICENSE-MIT",
        "/usr/share/doc/uplink/LICENSE-APACHE",
        "/usr/share/bash-completion/completions/uplink",
        "/usr/share/zsh/vendor-completions/_uplink",
        "/usr/share/fish/vendor_completions.d/uplink.fish",
        "/usr/share/man/man8/uplink.8.gz",
        "/usr/share/man/man8/uplink-run.8.gz",
        "/usr/share/man/man8/uplink-check.8.gz",
    ] {
        assert_eq!(mode_of(path), "-rw-r--r--", "{path}");
    }
    // Nothing of the development tree: no lab or bench pages, nothing outside these roots.
    for (_, path) in &entries {
        assert!(!path.contains("lab") && !path.contains("bench"), "{path}");
        assert!(
            ["/", "/etc/", "/usr/"]
                .iter()
                .any(|root| path.starts_with(root)),
            "{path}"
        );
    }
}

fn check_deb_control(deb: &Path) {
    let dir = TempDir::new("debctl");
    run(Command::new("dpkg-deb").arg("-e").arg(deb).arg(&dir.0));
    let read = |name: &str| std::fs::read_to_string(dir.0.join(name)).unwrap_or_default();

    let control = read("control");
    let field = |name: &str| {
        control
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in control:\n{control}"))
    };
    assert_eq!(field("Package"), "uplink");
    assert_eq!(field("Version"), format!("{CRATE_VERSION}-1"));
    assert_eq!(field("Section"), "net");
    let depends: Vec<&str> = field("Depends").split(", ").collect();
    assert!(depends.contains(&"nftables"), "{depends:?}");
    assert!(
        depends.iter().any(|d| d.starts_with("libc6")),
        "{depends:?}"
    );

    assert_eq!(read("conffiles").trim(), "/etc/uplink/uplink.toml");

    // Installed disabled and stopped (the config is an example until edited); an upgrade
    // restarts only a running daemon; removal stops it.
    let postinst = read("postinst");
    assert!(
        postinst.contains("deb-systemd-helper debian-installed uplink.service"),
        "postinst enables the unit on a fresh install:\n{postinst}"
    );
    assert!(
        !postinst.contains("deb-systemd-invoke start") && !postinst.contains("_dh_action=start"),
        "postinst starts the daemon:\n{postinst}"
    );
    assert!(
        postinst.contains("deb-systemd-invoke try-restart uplink.service"),
        "{postinst}"
    );
    let prerm = read("prerm");
    assert!(
        prerm.contains("deb-systemd-invoke stop uplink.service"),
        "{prerm}"
    );
    assert!(read("postrm").contains("deb-systemd-helper purge uplink.service"));
    for script in ["postinst", "prerm", "postrm"] {
        run(Command::new("sh").arg("-n").arg(dir.0.join(script)));
    }
}

const OPENWRT: &str = "packaging/openwrt/uplink";

#[test]
fn openwrt_package_matches_the_crate() {
    let makefile = std::fs::read_to_string(format!("{OPENWRT}/Makefile")).unwrap();
    let var = |name: &str| {
        makefile
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:=")))
            .unwrap_or_else(|| panic!("no {name} in the Makefile"))
    };
    assert_eq!(
        var("PKG_VERSION"),
        CRATE_VERSION,
        "PKG_VERSION != Cargo.toml"
    );
    assert_eq!(var("PKG_NAME"), "uplink");
    // The router build: no lab, no docs generators.
    assert!(makefile.contains("CARGO_PKG_ARGS+= --no-default-features --features openwrt"));
    // What the package installs exists here, and the conffile is the installed config.
    for file in ["files/uplink.init", "files/uplink.config"] {
        assert!(
            makefile.contains(&format!("./{file}")),
            "{file} not installed"
        );
        assert!(Path::new(OPENWRT).join(file).is_file(), "{file} missing");
    }
    let conffiles = makefile
        .split("define Package/uplink/conffiles\n")
        .nth(1)
        .and_then(|s| s.split("endef").next())
        .expect("conffiles");
    assert_eq!(conffiles.trim(), "/etc/config/uplink");
    let init = std::fs::read_to_string(format!("{OPENWRT}/files/uplink.init")).unwrap();
    assert!(init.starts_with("#!/bin/sh /etc/rc.common\n"));
}

/// The init script's functions, run by `sh` (dash here, close to OpenWrt's ash) with procd's
/// helpers stubbed to print their calls: what rc.common would hand to procd.
fn run_init(config: &Path, call: &str, procd_running: bool) -> (bool, String) {
    let init = std::fs::read_to_string(format!("{OPENWRT}/files/uplink.init")).unwrap();
    let init = init
        .replace(
            "PROG=/usr/sbin/uplink\n",
            &format!("PROG={}\n", env!("CARGO_BIN_EXE_uplink")),
        )
        .replace(
            "CONF=/etc/config/uplink\n",
            &format!("CONF={}\n", config.display()),
        )
        .replace(
            "TOML_CONF=/etc/uplink/uplink.toml\n",
            "TOML_CONF=/nonexistent/uplink.toml\n",
        );
    let stubs = format!(
        "procd_open_instance() {{ echo open; }}\n\
         procd_set_param() {{ echo \"param $*\"; }}\n\
         procd_close_instance() {{ echo close; }}\n\
         procd_send_signal() {{ echo \"signal $*\"; }}\n\
         procd_add_reload_trigger() {{ echo \"trigger $*\"; }}\n\
         procd_running() {{ {}; }}\n\
         start() {{ echo start; }}\n\
         stop() {{ echo stop; }}\n\
         logger() {{ echo \"logger $*\"; }}\n",
        if procd_running { "true" } else { "false" }
    );
    let script = format!("{stubs}{init}\n{call}\n");
    let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn openwrt_init_script_starts_only_a_valid_config() {
    let bin = env!("CARGO_BIN_EXE_uplink");
    let valid = std::fs::canonicalize("examples/home.toml").unwrap();
    let (ok, out) = run_init(&valid, "start_service", false);
    assert!(ok, "{out}");
    let expected = format!(
        "open\nparam command {bin} run -c {} --log syslog\nparam respawn\nparam stdout 1\nparam stderr 1\n\
         param term_timeout 10\nclose\n",
        valid.display()
    );
    assert_eq!(out, expected);

    // The shipped example (all commented out): no instance, a log line saying why.
    let shipped = std::fs::canonicalize(format!("{OPENWRT}/files/uplink.config")).unwrap();
    let (ok, out) = run_init(&shipped, "start_service", false);
    assert!(!ok, "{out}");
    assert!(!out.lines().any(|l| l == "open"), "{out}");
    assert!(
        out.starts_with("logger -t uplink -p daemon.notice not started: uplink: "),
        "{out}"
    );

    // Reload: SIGHUP to a running daemon; a start when it is not running.
    assert_eq!(
        run_init(&valid, "reload_service", true).1,
        "signal uplink\n"
    );
    assert_eq!(run_init(&valid, "reload_service", false).1, "start\n");
    assert_eq!(
        run_init(&valid, "service_triggers", false).1,
        "trigger uplink\n"
    );
}

/// `option enabled '0'` in `config globals`, or every line disabled: the init script starts
/// nothing, says why, and is not failing; a reload stops a running daemon.
#[test]
fn openwrt_init_script_leaves_a_switched_off_uplink_stopped() {
    let dir = TempDir::new("owrtoff");
    let off = dir.0.join("off");
    let line = "config uplink 'main'\n\toption device 'eth0'\n";
    std::fs::write(
        &off,
        format!("config globals\n\toption enabled '0'\n{line}"),
    )
    .unwrap();
    let no_lines = dir.0.join("nolines");
    std::fs::write(&no_lines, format!("{line}\toption enabled '0'\n")).unwrap();
    for (config, why) in [
        (&off, "uplink: uplink is switched off in the config"),
        (&no_lines, "uplink: every uplink is disabled"),
    ] {
        let (ok, out) = run_init(config, "start_service", false);
        assert!(ok, "{out}");
        assert!(!out.lines().any(|l| l == "open"), "{out}");
        let logged = format!("logger -t uplink -p daemon.notice not started: {why}");
        assert!(out.starts_with(&logged), "{out}");
        let (ok, out) = run_init(config, "reload_service", true);
        assert!(ok, "{out}");
        let expected = format!(
            "logger -t uplink -p daemon.notice stopping: switched off in {}\nstop\n",
            config.display()
        );
        assert_eq!(out, expected);
    }
}

/// The OpenWrt example ships fully commented out, so the init script's `uplink check` gate
/// keeps the service stopped after install; uncommented, it must be a valid config.
#[test]
fn openwrt_example_config_is_inert_until_uncommented_then_valid() {
    let bin = env!("CARGO_BIN_EXE_uplink");
    let shipped = format!("{OPENWRT}/files/uplink.config");
    let out = Command::new(bin)
        .args(["check", "-c", &shipped])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the shipped example validates, so the service would start with it"
    );

    // Uncomment the TOML lines ("# key = ...", "# [table]", "#   # comment"), not the prose.
    let text = std::fs::read_to_string(&shipped).unwrap();
    let uncommented: String = text
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest) if is_uci_statement(rest) => rest,
            _ => line,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = TempDir::new("owrtcfg");
    let path = dir.0.join("uplink");
    std::fs::write(&path, &uncommented).unwrap();
    let plan = run(Command::new(bin).arg("check").arg("-c").arg(&path));
    assert!(
        plan.starts_with("config OK: 2 uplinks"),
        "{plan}\n{uncommented}"
    );
}

/// A commented-out UCI statement of the example (not its prose).
fn is_uci_statement(s: &str) -> bool {
    let s = s.trim_start();
    ["config ", "option ", "list "]
        .iter()
        .any(|word| s.starts_with(word))
}

/// Every shell script of the project: scripts/*, the OpenWrt init script and the feed CI's
/// test.sh.
#[test]
fn shell_scripts_pass_shellcheck() {
    const TEST: &str = "shell_scripts_pass_shellcheck";
    if !require("shellcheck", TEST) {
        return;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir("scripts")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files.push(PathBuf::from(format!("{OPENWRT}/files/uplink.init")));
    files.push(PathBuf::from(format!("{OPENWRT}/test.sh")));
    assert!(files.len() >= 5, "{files:?}");
    // -x: follow `source scripts/deps` into the sourced file.
    run(Command::new("shellcheck").arg("-x").args(&files));
}
