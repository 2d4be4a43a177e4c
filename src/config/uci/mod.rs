//! OpenWrt's UCI config syntax (`/etc/config/*`), read the way `uci` itself reads it.
//!
//! ```text
//! package uplink                      # optional, ignored like `uci` does in a config file
//!
//! config uplink 'main'                # a section: type, then an optional name
//!     option device 'pppoe-wan'       # one value
//!     list target '192.0.2.100'       # a list grows by one item per `list` line
//!     list target "198.51.100.200"
//!
//! config globals                      # anonymous section
//!     option socket /run/uplink.sock  # unquoted words are fine
//! ```
//!
//! The rules follow libuci's `file.c` (strict mode, the default of the `uci` command):
//! - a statement is `package`/`config`/`option`/`list` (or `p`/`c`/`o`/`l`); several may
//!   share a line when separated by `;`;
//! - an argument is made of unquoted, `'single'` and `"double"` quoted pieces written
//!   together (`'a'"b"c` is `abc`); quoted pieces may span lines (the newline is kept);
//! - a backslash outside single quotes takes the next character literally, and at the end
//!   of a line joins the next line to the word (without the newline);
//! - `#` starts a comment where a word or an unquoted piece could start;
//! - option and section names are letters, digits and `_`; section types are printable
//!   ASCII without spaces;
//! - a repeated `option` replaces the value, `list` after `option` turns it into a list,
//!   `option x ''` deletes `x`, and a repeated section name adds to the earlier section
//!   (a different type is an error, as in strict mode).
//!
//! The result is a generic [`Document`]; what the sections mean is up to the caller.

mod reader;

#[cfg(test)]
mod tests;

/// A parsed UCI file: its sections in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Document {
    /// The name of the first `package` statement, if any.
    pub package: Option<String>,
    /// Sections in order of first appearance.
    pub sections: Vec<Section>,
}

/// One `config TYPE ['NAME']` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The section type (`uplink` in `config uplink 'main'`).
    pub kind: String,
    /// The name, `None` for an anonymous section.
    pub name: Option<String>,
    /// Line of the `config` statement (1-based).
    pub line: usize,
    /// Options in order of first appearance.
    pub options: Vec<UciOption>,
}

/// One option of a section: a single value or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UciOption {
    /// Option name.
    pub name: String,
    /// Line of the statement that set it (the first `list` line for a list).
    pub line: usize,
    /// The value.
    pub value: Value,
}

/// The value of an option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Set by `option`.
    Single(String),
    /// Built by `list` statements, one item each.
    List(Vec<ListItem>),
}

/// One `list` item and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListItem {
    /// The item's text.
    pub value: String,
    /// Line of its `list` statement.
    pub line: usize,
}

/// Why a UCI file could not be read; every variant names the line (1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UciError {
    /// The first word of a statement is not `package`, `config`, `option` or `list`.
    #[error("line {line}: unknown statement {word:?} (expected config, option, list or package)")]
    UnknownStatement { line: usize, word: String },
    /// A required argument is missing, e.g. `config` without a type.
    #[error("line {line}: {statement}: missing {what}")]
    MissingArgument {
        line: usize,
        statement: String,
        what: &'static str,
    },
    /// More words than the statement takes.
    #[error("line {line}: {statement}: unexpected {extra:?} (too many arguments; quote values with spaces)")]
    TooManyArguments {
        line: usize,
        statement: String,
        extra: String,
    },
    /// A quote that is never closed before the end of the file.
    #[error("line {line}: {statement}: unterminated quote")]
    UnterminatedQuote { line: usize, statement: String },
    /// A section or option name with characters other than letters, digits and `_`.
    #[error("line {line}: {statement}: invalid {what} {name:?} (only letters, digits and '_' are allowed)")]
    InvalidName {
        line: usize,
        statement: String,
        what: &'static str,
        name: String,
    },
    /// A section type with spaces or non-printable characters.
    #[error("line {line}: config: invalid section type {kind:?} (printable characters without spaces only)")]
    InvalidType { line: usize, kind: String },
    /// `option` or `list` before any `config`.
    #[error("line {line}: {statement} before the first section (config)")]
    OutsideSection { line: usize, statement: String },
    /// A named section repeated with another type.
    #[error("line {line}: section {name:?} has type {kind:?} but was declared with type {first_kind:?} on line {first_line}")]
    TypeConflict {
        line: usize,
        name: String,
        kind: String,
        first_kind: String,
        first_line: usize,
    },
    /// A NUL byte, which `uci` cannot store.
    #[error("line {line}: NUL character")]
    Nul { line: usize },
}

impl UciError {
    /// The line the error is on (1-based).
    pub fn line(&self) -> usize {
        match self {
            UciError::UnknownStatement { line, .. }
            | UciError::MissingArgument { line, .. }
            | UciError::TooManyArguments { line, .. }
            | UciError::UnterminatedQuote { line, .. }
            | UciError::InvalidName { line, .. }
            | UciError::InvalidType { line, .. }
            | UciError::OutsideSection { line, .. }
            | UciError::TypeConflict { line, .. }
            | UciError::Nul { line } => *line,
        }
    }
}

/// Parses UCI text into a [`Document`], stopping at the first error.
pub fn parse(text: &str) -> Result<Document, UciError> {
    reader::Reader::new(text).read()
}

/// A UCI boolean, as OpenWrt's scripts accept it (`config_get_bool`).
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "yes" | "on" | "true" | "enabled" => Some(true),
        "0" | "no" | "off" | "false" | "disabled" => Some(false),
        _ => None,
    }
}

/// True when `text` looks like UCI rather than TOML: its first word outside comments is
/// a `config` or `package` statement. (In TOML such a line is an error unless it is the
/// assignment `config = ...`, which is told apart by its `=`.)
pub fn looks_like_uci(text: &str) -> bool {
    let first = text
        .lines()
        .map(str::trim_start)
        .find(|line| !line.is_empty() && !line.starts_with('#'));
    let Some(line) = first else { return false };
    let (word, rest) = line.split_once([' ', '\t']).unwrap_or((line, ""));
    matches!(word, "config" | "package") && !rest.trim_start().starts_with('=')
}

impl Document {
    /// Sections of the given type, in file order.
    pub fn sections_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Section> + 'a {
        self.sections.iter().filter(move |s| s.kind == kind)
    }
}

impl Section {
    /// The option called `name`, if set.
    pub fn option(&self, name: &str) -> Option<&UciOption> {
        self.options.iter().find(|o| o.name == name)
    }

    /// The single value of `name` (the last item if it is a list).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.option(name).and_then(|o| o.value.last())
    }

    /// `config TYPE 'NAME'` as a short description for messages: `TYPE "NAME"`, or
    /// `TYPE (anonymous)`.
    pub fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("{} {name:?}", self.kind),
            None => format!("{} (anonymous)", self.kind),
        }
    }
}

impl Section {
    /// `option`: sets or replaces the value in place; an empty value deletes the option.
    pub(super) fn set_option(&mut self, name: String, value: String, line: usize) {
        let options = &mut self.options;
        let existing = options.iter().position(|o| o.name == name);
        match (existing, value.is_empty()) {
            (Some(i), true) => {
                options.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => {
                options[i].line = line;
                options[i].value = Value::Single(value);
            }
            (None, false) => options.push(UciOption {
                name,
                line,
                value: Value::Single(value),
            }),
        }
    }

    /// `list`: appends an item, turning a single value into the list's first item.
    pub(super) fn add_item(&mut self, name: String, value: String, line: usize) {
        let options = &mut self.options;
        let item = ListItem { value, line };
        let Some(option) = options.iter_mut().find(|o| o.name == name) else {
            options.push(UciOption {
                name,
                line,
                value: Value::List(vec![item]),
            });
            return;
        };
        match &mut option.value {
            Value::List(items) => items.push(item),
            Value::Single(old) => {
                let first = ListItem {
                    value: std::mem::take(old),
                    line: option.line,
                };
                option.value = Value::List(vec![first, item]);
            }
        }
    }
}

impl Value {
    /// Every value: one for `option`, each item for `list`.
    pub fn items(&self) -> Vec<&str> {
        match self {
            Value::Single(s) => vec![s.as_str()],
            Value::List(items) => items.iter().map(|i| i.value.as_str()).collect(),
        }
    }

    /// The single value, or the last item of a list.
    pub fn last(&self) -> Option<&str> {
        match self {
            Value::Single(s) => Some(s),
            Value::List(items) => items.last().map(|i| i.value.as_str()),
        }
    }
}
