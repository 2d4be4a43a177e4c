//! The OpenWrt package as the SDK would stage it: `make` runs the package's own Makefile
//! with stand-ins for OpenWrt's rules.mk, package.mk and the feed's rust-package.mk
//! (tests/openwrt/), so its real install recipe, conffiles, maintainer scripts and fields
//! are what is checked. Then: what sysupgrade would keep of /etc/uplink, the feed CI's
//! test.sh against the staged files, and the release archive the feed downloads.

use std::collections::BTreeMap;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const PACKAGE: &str = "packaging/openwrt/uplink";

#[path = "common/tempdir.rs"]
mod tempdir;
use tempdir::TempDir;

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn copy_tree(from: &Path, to: &Path) {
    run(Command::new("cp").arg("-a").arg(from).arg(to));
}

/// The package staged by its Makefile: the installed files under `root`, the control files
/// and the Makefile's evaluated fields under `root/CONTROL`.
struct Staged {
    _dir: TempDir,
    root: PathBuf,
    vars: BTreeMap<String, String>,
}

impl Staged {
    fn control(&self, name: &str) -> String {
        std::fs::read_to_string(self.root.join("CONTROL").join(name)).unwrap()
    }
}

/// Lays out a feed as the packages feed has it (net/uplink beside lang/rust) and runs the
/// Makefile's install with the test build of `uplink` as the compiled binary.
fn stage() -> Staged {
    let dir = TempDir::new("owrtpkg");
    let d = &dir.0;
    for sub in [
        "feed/net",
        "feed/lang/rust",
        "top/include",
        "build/bin",
        "root/CONTROL",
    ] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    copy_tree(Path::new(PACKAGE), &d.join("feed/net"));
    let stub = |name: &str, to: &str| {
        std::fs::copy(format!("tests/openwrt/{name}"), d.join(to)).unwrap();
    };
    stub("rules.mk", "top/rules.mk");
    stub("package.mk", "top/include/package.mk");
    stub("rust-package.mk", "feed/lang/rust/rust-package.mk");
    std::fs::copy(env!("CARGO_BIN_EXE_uplink"), d.join("build/bin/uplink")).unwrap();
    let root = d.join("root");
    let var = |name: &str, path: &str| format!("{name}={}", d.join(path).display());
    run(Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(d.join("feed/net/uplink"))
        .arg(var("TOPDIR", "top"))
        .arg(var("INCLUDE_DIR", "top/include"))
        .arg(var("PKG_INSTALL_DIR", "build"))
        .arg(var("ROOT", "root"))
        .arg("stage"));
    let vars = std::fs::read_to_string(root.join("CONTROL/vars"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Staged {
        _dir: dir,
        root,
        vars,
    }
}

#[test]
fn makefile_installs_the_files_with_their_modes() {
    let staged = stage();
    let mut files = Vec::new();
    for entry in walk(&staged.root) {
        let rel = entry.strip_prefix(&staged.root).unwrap();
        if rel.starts_with("CONTROL") || entry.is_dir() {
            continue;
        }
        let mode = std::fs::metadata(&entry).unwrap().permissions().mode() & 0o7777;
        files.push((format!("/{}", rel.display()), mode));
    }
    files.sort();
    assert_eq!(
        files,
        [
            ("/etc/config/uplink".to_string(), 0o600),
            ("/etc/init.d/uplink".to_string(), 0o755),
            ("/lib/upgrade/keep.d/uplink".to_string(), 0o644),
            ("/usr/libexec/rpcd/uplink".to_string(), 0o755),
            ("/usr/sbin/uplink".to_string(), 0o755),
        ]
    );
    assert_eq!(staged.control("conffiles"), "/etc/config/uplink\n");
    assert_eq!(
        staged.vars["CARGO_PKG_ARGS"], "--locked --no-default-features --features openwrt",
        "the router build, with the feed's --locked"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.is_symlink() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

/// The fields a feed reviewer looks for, as make evaluates them.
#[test]
fn makefile_fields_are_those_of_a_feed_package() {
    let staged = stage();
    let v = |name: &str| staged.vars[name].as_str();
    assert_eq!(v("PKG_NAME"), "uplink");
    assert_eq!(v("PKG_VERSION"), VERSION);
    assert_eq!(v("PKG_SOURCE"), format!("uplink-{VERSION}.tar.gz"));
    // The codeload form of the feed's Rust packages: GitHub's archive of the tag, whose
    // top directory is uplink-VERSION/, the build directory the SDK expects.
    let repo = v("URL")
        .strip_prefix("https://github.com/")
        .expect("URL is the GitHub repository");
    assert_eq!(repo.split('/').count(), 2, "{repo}");
    assert_eq!(
        v("PKG_SOURCE_URL"),
        format!("https://codeload.github.com/{repo}/tar.gz/v{VERSION}?")
    );
    let hash = v("PKG_HASH");
    assert!(
        hash.len() == 64
            && hash
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "PKG_HASH is no sha256: {hash}"
    );
    assert_eq!(v("PKG_LICENSE"), "Apache-2.0 MIT");
    // Cargo.toml's licence, and each file named ships in the release archive.
    let cargo = std::fs::read_to_string("Cargo.toml").unwrap();
    assert!(cargo.contains("license = \"MIT OR Apache-2.0\""));
    for file in v("PKG_LICENSE_FILES").split(' ') {
        assert!(Path::new(file).is_file(), "{file} missing");
    }
    assert!(v("PKG_MAINTAINER").contains(" <") && v("PKG_MAINTAINER").ends_with('>'));

    // Plain include of the feed's Rust helpers, nothing copied from outside the package.
    let makefile = std::fs::read_to_string(format!("{PACKAGE}/Makefile")).unwrap();
    assert!(makefile.contains("\ninclude ../../lang/rust/rust-package.mk\n"));
    assert!(
        !makefile.contains("Build/Prepare"),
        "the archive is unpacked as usual"
    );
    assert!(!makefile.contains("../../.."), "refers outside the feed");
}

/// rpcd reads exec plugins at start: the package restarts it on install and removal, but
/// not while an image is built (IPKG_INSTROOT set), as mwan3 does.
#[test]
fn maintainer_scripts_restart_rpcd_only_on_a_running_system() {
    let staged = stage();
    for script in ["postinst", "postrm"] {
        let text = staged.control(script);
        assert!(text.starts_with("#!/bin/sh\n"), "{text}");
        assert!(text.contains("\t/etc/init.d/rpcd restart\n"), "{text}");
        let path = staged.root.join("CONTROL").join(script);
        run(Command::new("sh").arg("-n").arg(&path));
        // Building an image: nothing runs, success.
        let out = run(Command::new("sh").arg(&path).env("IPKG_INSTROOT", "/img"));
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    }
}

/// What OpenWrt's sysupgrade keeps of /etc/uplink: it runs `find` over each path listed in
/// /etc/sysupgrade.conf and /lib/upgrade/keep.d/* (blank and # lines skipped) for files and
/// symlinks, and tars the list; the new firmware unpacks it over its root. Done here on a
/// scratch root with the package's own keep.d file.
#[test]
fn sysupgrade_keeps_the_toml_config_and_the_hooks() {
    let staged = stage();
    let keep = std::fs::read_to_string(staged.root.join("lib/upgrade/keep.d/uplink")).unwrap();
    let paths: Vec<&str> = keep
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(paths, ["/etc/uplink/"]);

    // The router before the upgrade: a converted mwan3 config, a hook, a hook linked in.
    let old = TempDir::new("owrtold");
    let etc = old.0.join("etc/uplink");
    std::fs::create_dir_all(etc.join("hooks.d")).unwrap();
    std::fs::write(etc.join("uplink.toml"), "# from import-mwan3\n").unwrap();
    let hook = etc.join("hooks.d/10-notify");
    std::fs::write(&hook, "#!/bin/sh\nlogger -t uplink \"$UPLINK_EVENT\"\n").unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    symlink("10-notify", etc.join("hooks.d/20-same")).unwrap();

    let mut find = Command::new("find");
    for path in &paths {
        find.arg(old.0.join(path.trim_start_matches('/')));
    }
    let found = run(find.args(["(", "-type", "f", "-o", "-type", "l", ")"]));
    let mut kept: Vec<String> = String::from_utf8(found.stdout)
        .unwrap()
        .lines()
        .map(|l| l.strip_prefix(old.0.to_str().unwrap()).unwrap().to_string())
        .collect();
    kept.sort();
    assert_eq!(
        kept,
        [
            "/etc/uplink/hooks.d/10-notify",
            "/etc/uplink/hooks.d/20-same",
            "/etc/uplink/uplink.toml"
        ]
    );

    // tar c -T list, then unpacked on the new root: contents, modes and links survive.
    let list = old.0.join("conffiles");
    let rel: Vec<String> = kept.iter().map(|p| format!(".{p}")).collect();
    std::fs::write(&list, rel.join("\n") + "\n").unwrap();
    let tgz = old.0.join("sysupgrade.tgz");
    run(Command::new("tar")
        .arg("-C")
        .arg(&old.0)
        .arg("-czf")
        .arg(&tgz)
        .arg("-T")
        .arg(&list));
    let new = TempDir::new("owrtnew");
    run(Command::new("tar")
        .arg("-C")
        .arg(&new.0)
        .arg("-xzf")
        .arg(&tgz));
    let new_etc = new.0.join("etc/uplink");
    assert_eq!(
        std::fs::read_to_string(new_etc.join("uplink.toml")).unwrap(),
        "# from import-mwan3\n"
    );
    let mode = std::fs::metadata(new_etc.join("hooks.d/10-notify"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        std::fs::read_link(new_etc.join("hooks.d/20-same")).unwrap(),
        Path::new("10-notify")
    );
}

/// The feed CI's test.sh (run on the target with the package's name and version), here
/// against the staged files: it passes with the right version and fails with a wrong one.
#[test]
fn feed_test_script_passes_on_the_staged_package() {
    let staged = stage();
    let script = std::fs::read_to_string(format!("{PACKAGE}/test.sh")).unwrap();
    assert!(script.starts_with("#!/bin/sh\n"));
    let script = script
        .replace(
            "/etc/config/uplink",
            staged.root.join("etc/config/uplink").to_str().unwrap(),
        )
        .replace(
            "/lib/upgrade/keep.d/uplink",
            staged
                .root
                .join("lib/upgrade/keep.d/uplink")
                .to_str()
                .unwrap(),
        );
    let path_var = format!(
        "{}:{}",
        staged.root.join("usr/sbin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run_with = |version: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(&script)
            .arg("test.sh")
            .args(["uplink", version])
            .env("PATH", &path_var)
            .env("PKG_NAME", "uplink")
            .env("PKG_VERSION", version)
            .output()
            .unwrap()
    };
    let good = run_with(VERSION);
    let stdout = String::from_utf8_lossy(&good.stdout);
    assert!(good.status.success(), "{good:?}");
    assert!(stdout.contains(&format!("uplink {VERSION}")), "{stdout}");
    let bad = run_with("9.9.9");
    assert!(!bad.status.success(), "{bad:?}");
    assert!(String::from_utf8_lossy(&bad.stdout).contains("FAIL"));
}

/// `git archive` of this commit, as GitHub serves it for a tag: the files the build needs
/// are in it under uplink-VERSION/, the build directory the SDK expects.
#[test]
fn release_archive_holds_the_source_but_not_the_makefile() {
    let out = run(Command::new("git").args([
        "archive",
        "--format=tar",
        &format!("--prefix=uplink-{VERSION}/"),
        "HEAD",
    ]));
    let dir = TempDir::new("owrtarch");
    let tar = dir.0.join("a.tar");
    std::fs::write(&tar, &out.stdout).unwrap();
    let listing = String::from_utf8(run(Command::new("tar").arg("-tf").arg(&tar)).stdout).unwrap();
    let names: Vec<&str> = listing.lines().collect();
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "src/main.rs",
        "LICENSE-MIT",
        "LICENSE-APACHE",
    ] {
        let name = format!("uplink-{VERSION}/{file}");
        assert!(names.contains(&name.as_str()), "{name} not in the archive");
    }
    assert!(names
        .iter()
        .all(|n| n.starts_with(&format!("uplink-{VERSION}/"))));
}

/// After the lead tags v{VERSION} and commits its archive's hash (README: "Releasing"): the
/// Makefile's PKG_HASH is the sha256 of that tag's archive, made as GitHub makes it. (The
/// archive names its commit, so the tagged commit cannot hold its own hash: the hash is
/// committed after the tag.) Run with `cargo test --test openwrt_package -- --ignored`.
#[test]
#[ignore = "needs the release tag; run after tagging (README: Releasing)"]
fn pkg_hash_is_the_tagged_archive() {
    let staged = stage();
    let tag = format!("v{VERSION}");
    let archive = run(Command::new("git").args([
        "-c",
        "tar.tar.gz.command=gzip -cn",
        "archive",
        "--format=tar.gz",
        &format!("--prefix=uplink-{VERSION}/"),
        &tag,
    ]));
    let dir = TempDir::new("owrthash");
    let file = dir.0.join("a.tar.gz");
    std::fs::write(&file, &archive.stdout).unwrap();
    let sum = String::from_utf8(run(Command::new("sha256sum").arg(&file)).stdout).unwrap();
    let sum = sum.split_whitespace().next().unwrap();
    assert_eq!(
        staged.vars["PKG_HASH"], sum,
        "PKG_HASH is not the archive of {tag}"
    );
}
