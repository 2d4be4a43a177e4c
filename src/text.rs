//! Text shown on a terminal (`uplink status`, `uplink check`, error messages): names and
//! values that came from a config, the system or the daemon may carry control characters
//! (an escape sequence rewrites the screen, a newline forges a row), so they are escaped
//! the way Rust's `{:?}` escapes them.

use std::borrow::Cow;

/// `text` with every control or otherwise non-printable character escaped (`\n`,
/// `\u{1b}`, `\u{202e}`); ordinary text, non-ASCII letters included, is unchanged.
pub fn printable(text: &str) -> Cow<'_, str> {
    escaped_except(text, &[])
}

/// Like [`printable`], keeping line breaks and tabs: for multi-line output.
pub fn printable_lines(text: &str) -> Cow<'_, str> {
    escaped_except(text, &['\n', '\t'])
}

fn escaped_except<'a>(text: &'a str, keep: &[char]) -> Cow<'a, str> {
    // `escape_debug` also escapes quotes and backslashes, which are printable as they are.
    let needs_escape = |c: char| {
        !keep.contains(&c) && !matches!(c, '"' | '\'' | '\\') && c.escape_debug().len() > 1
    };
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_invisible_characters_are_escaped() {
        assert_eq!(printable("wan\u{1b}[2J\nx"), "wan\\u{1b}[2J\\nx");
        assert_eq!(printable("a\u{202e}b\u{200b}"), "a\\u{202e}b\\u{200b}");
        assert_eq!(printable("a\u{0}\u{7f}\u{9b}"), "a\\0\\u{7f}\\u{9b}");
        assert_eq!(printable_lines("a\tb\nc\rd"), "a\tb\nc\\rd");
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in ["pppoe-wan", "a\"b\\c'd", "wän ✓", "l*", ""] {
            assert!(matches!(printable(text), Cow::Borrowed(t) if t == text));
        }
    }
}
