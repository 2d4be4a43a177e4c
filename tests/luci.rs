//! luci-app-uplink (packaging/openwrt/luci-app-uplink): every view parses (`node --check`),
//! the menu and ACL JSON are well formed and agree with each other, every ubus method the
//! views declare is granted by the ACL and exists in docs/ubus.md, and a UCI file holding
//! every option the forms can write passes the real `uplink check`.
//!
//! No OpenWrt userland is needed: what LuCI would do with these files in a browser is
//! verified by hand on a locally built userland; this checks what can go wrong quietly.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const APP: &str = "packaging/openwrt/luci-app-uplink";
const VIEWS: &str = "packaging/openwrt/luci-app-uplink/htdocs/luci-static/resources";

/// Every .js file of the app.
fn js_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "js") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new(VIEWS), &mut out);
    out.sort();
    assert!(out.len() >= 7, "expected the app's views, found {out:?}");
    out
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &str) -> serde_json::Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: not JSON: {e}"))
}

#[test]
fn views_parse_with_node() {
    // node is a test dependency (scripts/deps installs nodejs): missing it fails, in CI
    // and locally alike, since a skipped syntax check would pass broken views.
    for file in js_files() {
        let out = Command::new("node")
            .arg("--check")
            .arg(&file)
            .output()
            .unwrap_or_else(|e| {
                panic!("node --check: cannot run node ({e}); scripts/deps installs nodejs")
            });
        assert!(
            out.status.success(),
            "{}: node --check failed:\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A GridSection's edit modal renders clones of the options into a section of its own, so a
/// validator that reads another field through the grid section of render() (`s.formvalue(`,
/// `fieldNumber(s, `) finds no field there: it compared with the placeholder, not with what
/// was typed (seen by hand in a browser). Validators must ask their own `this.section`.
#[test]
fn validators_read_the_modal_section() {
    for file in js_files() {
        let text = read(&file);
        for needle in ["s.formvalue(", "fieldNumber(s,"] {
            for (at, _) in text.match_indices(needle) {
                let before = text[..at].chars().next_back();
                assert!(
                    before.is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '_'),
                    "{}: `{needle}` reads the grid section, not the modal's (use this.section):\n{}",
                    file.display(),
                    text[at..].lines().next().unwrap_or("")
                );
            }
        }
    }
}

/// The quoted string after `key:` in `text` (`object: 'uplink'` gives `uplink`).
fn quoted_after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let rest = text[text.find(key)? + key.len()..].trim_start();
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let rest = &rest[1..];
    Some(&rest[..rest.find(quote)?])
}

/// (object, method) of every `rpc.declare({...})` in the views.
fn declared_calls() -> BTreeSet<(String, String)> {
    let mut calls = BTreeSet::new();
    for file in js_files() {
        let text = read(&file);
        for (at, _) in text.match_indices("rpc.declare(") {
            let block = &text[at..at + text[at..].find("})").expect("rpc.declare closes")];
            let object = quoted_after(block, "object:");
            let method = quoted_after(block, "method:");
            let (Some(object), Some(method)) = (object, method) else {
                panic!(
                    "{}: rpc.declare without literal object/method: {block}",
                    file.display()
                );
            };
            calls.insert((object.to_string(), method.to_string()));
        }
    }
    calls
}

/// Methods docs/ubus.md specifies: its `## \`name\`` headings (`## \`drain\`, \`undrain\``).
fn documented_methods() -> BTreeSet<String> {
    let doc = read("docs/ubus.md");
    let mut methods = BTreeSet::new();
    for line in doc.lines().filter(|l| l.starts_with("## ")) {
        for name in line.split('`').skip(1).step_by(2) {
            methods.insert(name.to_string());
        }
    }
    methods
}

/// Methods of `object` the ACL grants under `access` ("read" or "write").
fn granted(acl: &serde_json::Value, access: &str, object: &str) -> BTreeSet<String> {
    acl["luci-app-uplink"][access]["ubus"][object]
        .as_array()
        .map(|a| a.iter().map(|m| m.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn ubus_calls_are_granted_and_documented() {
    let acl = json(&format!(
        "{APP}/root/usr/share/rpcd/acl.d/luci-app-uplink.json"
    ));
    let read = granted(&acl, "read", "uplink");
    let write = granted(&acl, "write", "uplink");
    let documented = documented_methods();
    let calls = declared_calls();
    assert!(
        calls.iter().filter(|(o, _)| o == "uplink").count() == 5,
        "the views declare the five methods of docs/ubus.md: {calls:?}"
    );

    for (object, method) in &calls {
        assert_eq!(
            object, "uplink",
            "a view calls ubus object {object:?}, not uplink's"
        );
        assert!(
            documented.contains(method),
            "views call uplink.{method}, which docs/ubus.md does not specify ({documented:?})"
        );
        // Actions need the write grant; a read-only LuCI user must not drain lines.
        let needs = if matches!(method.as_str(), "drain" | "undrain") {
            &write
        } else {
            &read
        };
        assert!(
            needs.contains(method),
            "ACL does not grant uplink.{method}: read {read:?}, write {write:?}"
        );
    }
    assert!(
        read.is_disjoint(&BTreeSet::from(["drain".into(), "undrain".into()])),
        "drain in read: {read:?}"
    );
    for access in ["read", "write"] {
        let uci = &acl["luci-app-uplink"][access]["uci"];
        assert!(
            uci.as_array()
                .is_some_and(|a| a.iter().any(|c| c == "uplink")),
            "ACL {access} must grant uci uplink: {uci}"
        );
    }
}

#[test]
fn menu_points_at_existing_views_and_acl() {
    let menu = json(&format!(
        "{APP}/root/usr/share/luci/menu.d/luci-app-uplink.json"
    ));
    let acl = json(&format!(
        "{APP}/root/usr/share/rpcd/acl.d/luci-app-uplink.json"
    ));
    let entries = menu.as_object().expect("menu is an object");
    for page in ["admin/status/uplink", "admin/network/uplink"] {
        let entry = &entries
            .get(page)
            .unwrap_or_else(|| panic!("menu lacks {page}"));
        let acls = entry["depends"]["acl"]
            .as_array()
            .expect("top entries depend on an acl");
        for name in acls {
            assert!(
                acl.get(name.as_str().unwrap()).is_some(),
                "{page}: acl {name} not in ACL file"
            );
        }
        assert_eq!(
            entry["depends"]["uci"]["uplink"], true,
            "{page}: depends on uci uplink"
        );
    }
    for (page, entry) in entries {
        if entry["action"]["type"] == "view" {
            let path = entry["action"]["path"].as_str().expect("view path");
            let file = format!("{VIEWS}/view/{path}.js");
            assert!(Path::new(&file).is_file(), "{page}: no view {file}");
        }
    }
    // LuCI's Status › Overview loads every view/status/include/*.js.
    let includes = std::fs::read_dir(format!("{VIEWS}/view/status/include")).unwrap();
    assert!(includes.count() == 1, "one overview box");
}

/// The UCI section type and the options a form view writes: `form.X, 'name'` and
/// `widgets.X, 'name'` in option/taboption calls, and the lines view's helpers that take
/// the tab first: `timing(s, 'tab', 'name'`, `defaultOn(...` and `penalty(...`. Pseudo
/// options (`_name`, never written) are left out.
fn form_options(file: &Path) -> (String, BTreeSet<String>) {
    let text = read(file);
    let section = quoted_after(&text[text.find("m.section(").expect("a section")..], ",")
        .expect("section type")
        .to_string();
    let mut options = BTreeSet::new();
    for marker in ["form.", "widgets."] {
        for (at, _) in text.match_indices(marker) {
            let rest = &text[at + marker.len()..];
            let Some(comma) = rest.find(", '") else {
                continue;
            };
            let head = &rest[..comma];
            if !head.chars().all(|c| c.is_ascii_alphanumeric()) {
                continue;
            }
            let name = &rest[comma + 3..];
            let name = &name[..name.find('\'').unwrap()];
            if !name.starts_with('_') && head != "Map" && !head.ends_with("Section") {
                options.insert(name.to_string());
            }
        }
    }
    for helper in ["timing(s, '", "defaultOn(s, '", "penalty(s, '"] {
        for (at, _) in text.match_indices(helper) {
            let rest = &text[at + helper.len()..];
            let (tab, rest) = rest.split_once("', '").expect("helper(s, 'tab', 'name'");
            assert!(
                tab.chars().all(|c| c.is_ascii_alphanumeric()),
                "{}: {helper}: tab {tab:?}",
                file.display()
            );
            options.insert(rest[..rest.find('\'').unwrap()].to_string());
        }
    }
    (section, options)
}

/// A valid value for each option the forms know. A new form option without a sample here
/// fails the test: add one, so the daemon's reader is asked about it.
fn sample(option: &str) -> &'static [&'static str] {
    match option {
        "enabled" | "masquerade" => &["1"],
        "device" => &["eth9"],
        "interface" => &["wan"],
        "family" => &["ipv4"],
        "gateway" => &["192.0.2.1"],
        "metric" => &["100"],
        "weight" => &["2"],
        "flush_on" => &[""],
        "target" => &[
            "198.51.100.1",
            "tcp://198.51.100.2:443",
            "dns://198.51.100.53",
            "http://connectivitycheck.example/generate_204",
        ],
        "dns_name" => &["."],
        "http_status" => &["204"],
        "resolver" => &["198.51.100.53"],
        "interval_ms" => &["500"],
        "timeout_ms" => &["1000"],
        "down_after_ms" => &["2000"],
        "up_after_ms" => &["10000"],
        "reliability" => &["2"],
        "max_rtt_ms" => &["300"],
        "max_loss_pct" => &["20"],
        "quality_window_ms" => &["10000"],
        "keep_sessions_s" => &["600"],
        "traffic_aware" | "dampening" => &["1"],
        "traffic_quiet_ms" => &["300"],
        "dampening_half_life_ms" => &["60000"],
        "dampening_suppress" => &["1500"],
        "dampening_reuse" => &["750"],
        "dampening_max_suppress_ms" => &["300000"],
        "from" => &["192.0.2.50"],
        "to" => &["203.0.113.0/24"],
        "proto" => &["udp"],
        "ports" => &["443", "27000-27050"],
        "uplinks" => &["line_a", "line_b"],
        "fallback" => &["unreachable"],
        "set" => &["media"],
        "prefix" => &["198.18.0.0/15"],
        // Replaced by a real file of prefixes (the daemon reads it).
        "file" => &["@SET_FILE@"],
        "socket" => &["/tmp/uplink-luci-test.sock"],
        "hooks_dir" => &["/etc/uplink/hooks.d"],
        "hook_timeout_ms" => &["5000"],
        "sticky" => &["source"],
        "log_level" => &["debug"],
        other => panic!("no sample value for form option {other:?}: add one to tests/luci.rs"),
    }
}

fn uci_section(kind: &str, name: &str, options: &BTreeSet<String>, skip: &[&str]) -> String {
    let mut out = format!("config {kind} '{name}'\n");
    for option in options.iter().filter(|o| !skip.contains(&o.as_str())) {
        let values = sample(option);
        let list = values.len() > 1
            || matches!(
                option.as_str(),
                "flush_on" | "target" | "resolver" | "from" | "to"
            );
        for value in values {
            out += &format!(
                "\t{} {option} '{value}'\n",
                if list { "list" } else { "option" }
            );
        }
    }
    out + "\n"
}

#[test]
fn every_form_option_passes_uplink_check() {
    let mut by_type = std::collections::BTreeMap::new();
    for view in ["lines", "policies", "sets", "globals"] {
        let (section, options) =
            form_options(&PathBuf::from(format!("{VIEWS}/view/uplink/{view}.js")));
        assert!(options.len() >= 3, "{view}: found only {options:?}");
        by_type.insert(section, options);
    }
    let types: Vec<&str> = by_type.keys().map(String::as_str).collect();
    assert_eq!(types, ["globals", "policy", "set", "uplink"]);

    // A line is given by device or by interface, never both: line_a has every option but
    // the interface, line_b is given by its interface.
    let lines = &by_type["uplink"];
    for option in [
        "interval_ms",
        "max_rtt_ms",
        "traffic_aware",
        "dampening_reuse",
        "dampening_max_suppress_ms",
    ] {
        assert!(
            lines.contains(option),
            "lines form: {option} not found in {lines:?}"
        );
    }
    let mut config = uci_section("globals", "globals", &by_type["globals"], &[]);
    config += &uci_section("uplink", "line_a", lines, &["interface"]);
    let by_interface: BTreeSet<String> = ["interface", "metric"].map(String::from).into();
    assert!(by_interface.is_subset(lines), "lines form: {lines:?}");
    config += &uci_section("uplink", "line_b", &by_interface, &[]);
    config += &uci_section("policy", "pol", &by_type["policy"], &[]);
    config += &uci_section("set", "media", &by_type["set"], &[]);

    let dir = std::env::temp_dir().join(uplink::netns::unique_prefix("luci"));
    std::fs::create_dir_all(&dir).unwrap();
    let set_file = dir.join("media.txt");
    std::fs::write(&set_file, "198.51.100.0/24\n").unwrap();
    let config = config.replace("@SET_FILE@", set_file.to_str().unwrap());
    let path = dir.join("uplink");
    std::fs::write(&path, &config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_uplink"))
        .args(["check", "--format", "uci", "-c"])
        .arg(&path)
        .output()
        .expect("run uplink check");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "uplink check refuses what the LuCI forms can write:\n{config}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
