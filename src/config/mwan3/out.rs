//! The TOML text being written: keys with a note beside them, comment lines, and blocks
//! that are commented out whole (a line uplink cannot run yet, shown for reference).

/// Lines of TOML text.
#[derive(Debug, Default)]
pub(super) struct Out {
    lines: Vec<String>,
}

impl Out {
    /// One `# ...` line per line of `text`.
    pub fn comment(&mut self, text: impl AsRef<str>) {
        for line in text.as_ref().lines() {
            self.lines.push(format!("# {line}"));
        }
    }

    pub fn blank(&mut self) {
        self.lines.push(String::new());
    }

    /// A table header or other literal line.
    pub fn raw(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }

    /// `key = value`, with toml's own quoting.
    pub fn key(&mut self, key: &str, value: impl Into<toml::Value>) {
        self.lines.push(format!("{key} = {}", value.into()));
    }

    /// `key = value  # note`.
    pub fn key_note(&mut self, key: &str, value: impl Into<toml::Value>, note: impl AsRef<str>) {
        let note = note.as_ref();
        self.lines
            .push(format!("{key} = {}  # {note}", value.into()));
    }

    /// Appends `block`; `disabled` comments out its keys and tables as `#key = ...` (no
    /// space), while its notes stay `# ...`, so removing the `#` of the lines that start
    /// with `#` and a letter or `[` restores it.
    pub fn append(&mut self, block: Out, disabled: bool) {
        for line in block.lines {
            let keep = !disabled || line.is_empty() || line.starts_with('#');
            self.lines
                .push(if keep { line } else { format!("#{line}") });
        }
    }

    pub fn text(self) -> String {
        let mut text = self.lines.join("\n");
        text.push('\n');
        text
    }
}
