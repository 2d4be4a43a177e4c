//! The README's first two commands are a new user's first contact: the live demonstration
//! (the lab script) and the whole test suite. They must stay exactly the lab script and what
//! CI runs (`.ci/run`), and work as given whether the user is root or may sudo, so they never
//! drift apart again (issue 14). Needs no root.

use std::os::unix::fs::PermissionsExt;

/// The lab script: the main job, the README's first command.
const LAB: &str = "./scripts/lab";
/// Where every script that needs root gets it (and the README's commands with it).
const AS_ROOT: &str = "scripts/deps";

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The commands of the README's first code block, comments and blank lines left out.
fn readme_commands(readme: &str) -> Vec<String> {
    readme
        .lines()
        .skip_while(|l| !l.starts_with("```"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .map(|l| l.split(" #").next().unwrap_or_default().trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// The one command `.ci/run` runs: its `exec` line. Besides it only `set` and `cd` are allowed,
/// so CI runs exactly that command and nothing else.
fn ci_command(ci: &str) -> String {
    let lines: Vec<&str> = ci
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let (last, rest) = lines.split_last().expect(".ci/run is empty");
    for line in rest {
        assert!(
            line.starts_with("set ") || line.starts_with("cd "),
            ".ci/run runs `{line}` besides its exec line: CI must run exactly the README's test command"
        );
    }
    last.strip_prefix("exec ")
        .unwrap_or_else(|| {
            panic!(".ci/run must end with `exec <the README's test command>`, not `{last}`")
        })
        .trim()
        .to_string()
}

/// `cmd` runs a script of this repository, as given, with no arguments and no `sudo`: the
/// script itself gets root (through `AS_ROOT`). Returns the script's text.
fn own_script(cmd: &str, what: &str) -> String {
    assert!(
        cmd.starts_with("./scripts/") && !cmd.contains(char::is_whitespace),
        "the README's {what} command is `{cmd}`: it must be a script of this repository run as \
         given, without arguments or sudo, so it works as root without sudo and as a user with sudo"
    );
    let path = &cmd[2..];
    let mode = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{what} command `{cmd}`: {e}"))
        .permissions()
        .mode();
    assert!(mode & 0o111 != 0, "{path} is not executable");
    let text = read(path);
    assert!(
        text.contains(&format!("source {AS_ROOT}")),
        "{path} does not source {AS_ROOT}, which runs it as root (through sudo when needed)"
    );
    text
}

#[test]
fn readme_starts_with_the_lab_and_the_ci_test_command() {
    let readme = read("README.md");
    let commands = readme_commands(&readme);
    assert!(
        commands.len() >= 2,
        "the README's first code block has {commands:?}, not the lab and the test command"
    );

    assert_eq!(
        commands[0], LAB,
        "the README's first command is not the lab script"
    );
    let lab = own_script(&commands[0], "first");
    assert!(
        lab.contains("target/release/uplink lab \"$@\""),
        "{LAB} no longer runs `uplink lab`"
    );

    let ci = ci_command(&read(".ci/run"));
    assert_eq!(
        commands[1], ci,
        "the README's second command is not what CI runs (.ci/run)"
    );
    own_script(&commands[1], "second");
}

/// The scripts shown anywhere in the README are run as given, never through `sudo`: on a
/// machine with only root there is no sudo, and they get root by themselves.
#[test]
fn readme_runs_scripts_without_sudo() {
    let readme = read("README.md");
    for (n, line) in readme.lines().enumerate() {
        assert!(
            !line.contains("sudo ./scripts/") && !line.contains("sudo scripts/"),
            "README.md line {}: `{}`: run the script as given, it gets root by itself",
            n + 1,
            line.trim()
        );
    }
}
