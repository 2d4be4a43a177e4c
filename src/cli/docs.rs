//! Shell completions and man pages, generated from the same clap definitions that parse the
//! command line, so they cannot drift from it.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use super::{Cli, CompletionShell};

/// Section 8: uplink is a daemon that needs root, installed in /usr/sbin.
const SECTION: &str = "8";

/// Writes the completion script for `shell`.
pub fn completions(shell: CompletionShell, out: &mut dyn Write) -> std::io::Result<()> {
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    // clap_complete panics when its writer fails (e.g. `| head` closing the pipe); render
    // into memory and let a write error be an ordinary error.
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "uplink", &mut buf);
    out.write_all(&buf)
}

/// Writes the main page, uplink(8).
pub fn man(out: &mut dyn Write) -> std::io::Result<()> {
    clap_mangen::Man::new(command())
        .section(SECTION)
        .render(out)
}

/// Writes uplink.8 and a page per visible subcommand (uplink-run.8, ...) into `dir`, the
/// pages the main page's SUBCOMMANDS section refers to. Returns the files written.
pub fn man_pages(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let root = command();
    let mut written = Vec::new();
    // clap_mangen::generate_to would do this too, but always in section 1.
    for cmd in std::iter::once(root.clone())
        .chain(root.get_subcommands().filter(|s| !s.is_hide_set()).cloned())
    {
        written.push(
            clap_mangen::Man::new(cmd)
                .section(SECTION)
                .generate_to(dir)?,
        );
    }
    Ok(written)
}

/// The command as the man pages describe it: built (so subcommands are named `uplink-run`)
/// and without clap's `help` subcommand, which needs no page of its own.
fn command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

#[cfg(test)]
mod tests {
    use super::super::Invocation;
    use super::*;

    #[test]
    fn completions_know_the_subcommands_but_not_the_hidden_ones() {
        for shell in [
            CompletionShell::Bash,
            CompletionShell::Zsh,
            CompletionShell::Fish,
        ] {
            let mut buf = Vec::new();
            completions(shell, &mut buf).unwrap();
            let text = String::from_utf8(buf).unwrap();
            for word in ["run", "check", "status", "drain", "undrain", "config"] {
                assert!(text.contains(word), "{shell:?} lacks {word}");
            }
            // Packager commands stay out of what users are offered.
            assert!(
                !text.contains("completions"),
                "{shell:?} offers completions"
            );
        }
    }

    /// `Cli` is what the docs describe, `Invocation` what `main` parses: the same for users.
    #[test]
    fn cli_and_invocation_show_the_same_help() {
        let help = |mut cmd: clap::Command| cmd.render_long_help().to_string();
        assert_eq!(help(Cli::command()), help(Invocation::command()));
        for sub in Cli::command().get_subcommands() {
            let name = sub.get_name();
            let inv = Invocation::command();
            let twin = inv.find_subcommand(name).expect(name).clone();
            assert_eq!(help(sub.clone()), help(twin), "{name}");
        }
    }

    #[test]
    fn man_page_is_section_8_and_lists_the_subcommands() {
        let mut buf = Vec::new();
        man(&mut buf).unwrap();
        let page = String::from_utf8(buf).unwrap();
        assert!(page.contains(".TH uplink 8"), "{page}");
        assert!(page.contains("uplink\\-run(8)"), "{page}");
        assert!(!page.contains("completions"), "{page}");
        assert!(!page.contains("uplink\\-help"), "{page}");
    }

    #[test]
    fn man_pages_has_one_page_per_visible_subcommand() {
        let dir = std::env::temp_dir().join(format!("uplink-man-{}", std::process::id()));
        let written = man_pages(&dir).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        std::fs::remove_dir_all(&dir).unwrap();
        for name in [
            "uplink.8",
            "uplink-run.8",
            "uplink-check.8",
            "uplink-undrain.8",
        ] {
            assert!(names.iter().any(|n| n == name), "{names:?} lacks {name}");
        }
        assert!(!names
            .iter()
            .any(|n| n.contains("completions") || n.contains("help")));
    }
}
