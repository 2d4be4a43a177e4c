//! The UCI reader: a transcription of libuci's `file.c` parsing loop.
//!
//! libuci reads one line into a buffer and parses it in place; a backslash at the end of a
//! line or an open quote appends the next line to the buffer. Keeping that structure (a
//! growing byte buffer, a read position, `getln`) is what makes the odd corners behave
//! like `uci`: `'a'"b"` is one word, `;` ends a statement, a continuation followed by
//! indentation ends the word. Errors carry the line of the statement, or for an open
//! quote the line where the quote started.

use super::{Document, Section, UciError};

/// Parser state over one text.
pub(super) struct Reader<'a> {
    /// Lines not read yet, each with its `\n`.
    lines: std::str::SplitInclusive<'a, char>,
    /// The current logical line (grows on continuation and multi-line quotes).
    buf: Vec<u8>,
    /// Read position in `buf`.
    pos: usize,
    /// Number of physical lines read so far.
    line: usize,
    /// Line and wording of the statement being parsed, for messages.
    statement_line: usize,
    statement: String,
    doc: Document,
    /// Index of the section that `option` and `list` add to.
    current: Option<usize>,
    /// Text, kept to locate a NUL byte.
    text: &'a str,
}

/// C's `isspace` in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// `uci_validate_str` for option and section names (and package names with `-`).
fn valid_name(name: &str, package: bool) -> bool {
    name.bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'_' || (package && c == b'-'))
}

/// `uci_validate_type`: printable ASCII without spaces.
fn valid_type(kind: &str) -> bool {
    !kind.is_empty() && kind.bytes().all(|c| (33..=126).contains(&c))
}

#[derive(Clone, Copy)]
enum Statement {
    Package,
    Config,
    Option,
    List,
}

/// The statement a command word stands for; libuci accepts the first letter alone too.
fn statement(word: &str) -> Option<Statement> {
    match word {
        "p" | "package" => Some(Statement::Package),
        "c" | "config" => Some(Statement::Config),
        "o" | "option" => Some(Statement::Option),
        "l" | "list" => Some(Statement::List),
        _ => None,
    }
}

impl<'a> Reader<'a> {
    pub(super) fn new(text: &'a str) -> Reader<'a> {
        Reader {
            lines: text.split_inclusive('\n'),
            buf: Vec::new(),
            pos: 0,
            line: 0,
            statement_line: 0,
            statement: String::new(),
            doc: Document::default(),
            current: None,
            text,
        }
    }

    pub(super) fn read(mut self) -> Result<Document, UciError> {
        if let Some(at) = self.text.find('\0') {
            let line = self.text[..at].matches('\n').count() + 1;
            return Err(UciError::Nul { line });
        }
        loop {
            self.pos = 0;
            if !self.getln(0) {
                return Ok(self.doc);
            }
            self.parse_line()?;
        }
    }

    /// Replaces the buffer from `offset` on with the next line; false at the end of input.
    fn getln(&mut self, offset: usize) -> bool {
        self.buf.truncate(offset);
        match self.lines.next() {
            Some(next) => {
                self.buf.extend_from_slice(next.as_bytes());
                self.line += 1;
                true
            }
            None => false,
        }
    }

    /// The byte at the read position, 0 past the end (C's terminating NUL).
    fn cur(&self) -> u8 {
        self.at(self.pos)
    }

    fn at(&self, i: usize) -> u8 {
        self.buf.get(i).copied().unwrap_or(0)
    }

    fn skip_whitespace(&mut self) {
        while self.cur() != 0 && is_space(self.cur()) {
            self.pos += 1;
        }
    }

    /// `uci_parse_line`: statements until the end of the buffer (`;` separates them).
    fn parse_line(&mut self) -> Result<(), UciError> {
        self.skip_whitespace();
        loop {
            // strtok(" \t"): the word ends at a space or tab only, so a bare `config` at the
            // end of a line keeps its newline and is rejected below.
            while matches!(self.cur(), b' ' | b'\t') {
                self.pos += 1;
            }
            if self.cur() == 0 {
                return Ok(());
            }
            let start = self.pos;
            while self.cur() != 0 && !matches!(self.cur(), b' ' | b'\t') {
                self.pos += 1;
            }
            let word = String::from_utf8_lossy(&self.buf[start..self.pos]).into_owned();
            if word.starts_with('#') {
                return Ok(());
            }
            self.statement_line = self.line;
            let bare = word.trim_end_matches(|c: char| c.is_ascii() && is_space(c as u8));
            let Some(kind) = statement(bare) else {
                return Err(UciError::UnknownStatement {
                    line: self.line,
                    word: bare.to_owned(),
                });
            };
            self.statement = bare.to_owned();
            if bare.len() != word.len() || self.cur() == 0 {
                return Err(self.missing(kind));
            }
            self.pos += 1; // the space or tab after the word
            match kind {
                Statement::Package => self.package()?,
                Statement::Config => self.config()?,
                Statement::Option => self.option(false)?,
                Statement::List => self.option(true)?,
            }
        }
    }

    fn missing(&self, kind: Statement) -> UciError {
        let what = match kind {
            Statement::Package => "package name",
            Statement::Config => "section type",
            Statement::Option | Statement::List => "option name",
        };
        UciError::MissingArgument {
            line: self.statement_line,
            statement: self.statement.clone(),
            what,
        }
    }

    fn package(&mut self) -> Result<(), UciError> {
        let name = self.next_arg()?;
        if name.is_empty() {
            return Err(self.missing(Statement::Package));
        }
        self.check_name(&name, "package name", true)?;
        self.assert_eol()?;
        // `uci` ignores `package` inside a config file; remember the first for callers.
        self.doc.package.get_or_insert(name);
        Ok(())
    }

    fn config(&mut self) -> Result<(), UciError> {
        let kind = self.next_arg()?;
        if kind.is_empty() {
            return Err(self.missing(Statement::Config));
        }
        if !valid_type(&kind) {
            return Err(UciError::InvalidType {
                line: self.statement_line,
                kind,
            });
        }
        let name = self.next_arg()?;
        if !name.is_empty() {
            self.check_name(&name, "section name", false)?;
        }
        self.assert_eol()?;
        self.open_section(kind, (!name.is_empty()).then_some(name))
    }

    /// Starts a section, or continues an earlier one of the same name (as libuci does).
    fn open_section(&mut self, kind: String, name: Option<String>) -> Result<(), UciError> {
        let earlier = name.as_ref().and_then(|n| {
            let sections = &self.doc.sections;
            sections.iter().position(|s| s.name.as_ref() == Some(n))
        });
        if let Some(i) = earlier {
            let first = &self.doc.sections[i];
            if first.kind != kind {
                return Err(UciError::TypeConflict {
                    line: self.statement_line,
                    name: name.unwrap_or_default(),
                    kind,
                    first_kind: first.kind.clone(),
                    first_line: first.line,
                });
            }
            self.current = Some(i);
            return Ok(());
        }
        self.doc.sections.push(Section {
            kind,
            name,
            line: self.statement_line,
            options: Vec::new(),
        });
        self.current = Some(self.doc.sections.len() - 1);
        Ok(())
    }

    fn option(&mut self, list: bool) -> Result<(), UciError> {
        let Some(section) = self.current else {
            return Err(UciError::OutsideSection {
                line: self.statement_line,
                statement: self.statement.clone(),
            });
        };
        let name = self.next_arg()?;
        if name.is_empty() {
            return Err(self.missing(Statement::Option));
        }
        self.check_name(&name, "option name", false)?;
        self.statement = format!("{} {name:?}", self.statement);
        let value = self.next_arg()?;
        self.assert_eol()?;
        let line = self.statement_line;
        let section = &mut self.doc.sections[section];
        if list {
            section.add_item(name, value, line);
        } else {
            section.set_option(name, value, line);
        }
        Ok(())
    }

    fn check_name(&self, name: &str, what: &'static str, package: bool) -> Result<(), UciError> {
        if valid_name(name, package) {
            return Ok(());
        }
        Err(UciError::InvalidName {
            line: self.statement_line,
            statement: self.statement.clone(),
            what,
            name: name.to_owned(),
        })
    }

    /// Strict mode: one more argument that is not empty is an error.
    fn assert_eol(&mut self) -> Result<(), UciError> {
        self.skip_whitespace();
        let extra = self.next_arg()?;
        if extra.is_empty() {
            return Ok(());
        }
        Err(UciError::TooManyArguments {
            line: self.statement_line,
            statement: self.statement.clone(),
            extra,
        })
    }

    /// `next_arg`: the next argument, empty at the end of the statement.
    fn next_arg(&mut self) -> Result<String, UciError> {
        self.skip_whitespace();
        if self.cur() == b';' {
            self.pos += 1;
            return Ok(String::new());
        }
        let bytes = self.parse_str()?;
        // Only ASCII bytes are special, so the pieces of the valid UTF-8 input stay whole.
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// `parse_str`: quoted and unquoted pieces up to whitespace, `;`, `#` or the end.
    fn parse_str(&mut self) -> Result<Vec<u8>, UciError> {
        let mut out = Vec::new();
        let mut next = true;
        loop {
            match self.cur() {
                quote @ (b'\'' | b'"') => self.quoted(&mut out, quote)?,
                b'#' => {
                    self.buf.truncate(self.pos);
                    break;
                }
                0 => break,
                b';' => {
                    next = false;
                    break;
                }
                b'\\' => self.escaped(&mut out),
                c => {
                    out.push(c);
                    self.pos += 1;
                }
            }
            if self.cur() == 0 || is_space(self.cur()) {
                break;
            }
        }
        if self.cur() != 0 && next {
            self.pos += 1;
        }
        Ok(out)
    }

    /// After a backslash: true when the next character is to be taken literally, false
    /// when it ended the line and the next line was joined in its place.
    fn backslash(&mut self) -> bool {
        self.pos += 1;
        let c = self.cur();
        let crlf_end = c == b'\r' && self.at(self.pos + 1) == b'\n' && self.at(self.pos + 2) == 0;
        if c == 0 || c == b'\n' || crlf_end {
            self.getln(self.pos);
            return false;
        }
        true
    }

    /// A quoted piece: `'...'` takes everything literally, `"..."` honours backslashes
    /// (libuci's `parse_single_quote` and `parse_double_quote`).
    fn quoted(&mut self, out: &mut Vec<u8>, quote: u8) -> Result<(), UciError> {
        let start_line = self.line;
        self.pos += 1;
        loop {
            match self.cur() {
                c if c == quote => {
                    self.pos += 1;
                    return Ok(());
                }
                0 => self.more_quoted(start_line)?,
                b'\\' if quote == b'"' => self.escaped(out),
                c => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// At a backslash: the next character literally, or the next line joined.
    fn escaped(&mut self, out: &mut Vec<u8>) {
        if self.backslash() {
            out.push(self.cur());
            self.pos += 1;
        }
    }

    /// A quoted value continues on the next line; none left means the quote never closes.
    fn more_quoted(&mut self, start_line: usize) -> Result<(), UciError> {
        self.getln(self.pos);
        if self.cur() == 0 {
            return Err(UciError::UnterminatedQuote {
                line: start_line,
                statement: self.statement.clone(),
            });
        }
        Ok(())
    }
}
