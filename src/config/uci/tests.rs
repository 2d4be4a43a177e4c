//! Unit tests of the UCI reader: one per syntax case, errors, and a never-panics corpus.

use super::*;

fn doc(text: &str) -> Document {
    parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// The values of option `name` in the only section of `text`.
fn values(text: &str, name: &str) -> Vec<String> {
    let d = doc(text);
    assert_eq!(d.sections.len(), 1, "{d:?}");
    let option = d.sections[0].option(name).expect("option present");
    option.value.items().into_iter().map(String::from).collect()
}

/// The single value of `option x VALUE` written as `raw`.
fn value(raw: &str) -> String {
    let vs = values(&format!("config t\n\toption x {raw}\n"), "x");
    assert_eq!(vs.len(), 1);
    vs[0].clone()
}

fn error(text: &str) -> UciError {
    match parse(text) {
        Ok(d) => panic!("expected an error for {text:?}, got {d:?}"),
        Err(e) => e,
    }
}

#[test]
fn sections_options_and_lists_with_lines() {
    let d = doc("package uplink\n\nconfig uplink 'main'\n\toption device 'eth0'\n\tlist target '192.0.2.1'\n\tlist target '192.0.2.2'\n\nconfig globals\n\toption socket /run/u.sock\n");
    assert_eq!(d.package.as_deref(), Some("uplink"));
    assert_eq!(d.sections.len(), 2);
    let main = &d.sections[0];
    assert_eq!(
        (main.kind.as_str(), main.name.as_deref(), main.line),
        ("uplink", Some("main"), 3)
    );
    let device = main.option("device").unwrap();
    assert_eq!(
        (device.line, &device.value),
        (4, &Value::Single("eth0".into()))
    );
    let target = main.option("target").unwrap();
    assert_eq!(target.line, 5);
    let Value::List(items) = &target.value else {
        panic!("not a list")
    };
    let got: Vec<(&str, usize)> = items.iter().map(|i| (i.value.as_str(), i.line)).collect();
    assert_eq!(got, [("192.0.2.1", 5), ("192.0.2.2", 6)]);
    let globals = &d.sections[1];
    assert_eq!((globals.name.as_ref(), globals.line), (None, 8));
    assert_eq!(globals.get("socket"), Some("/run/u.sock"));
    assert_eq!(globals.describe(), "globals (anonymous)");
    assert_eq!(main.describe(), "uplink \"main\"");
}

#[test]
fn quoting_styles() {
    assert_eq!(value("plain"), "plain");
    assert_eq!(value("'single quoted'"), "single quoted");
    assert_eq!(value("\"double quoted\""), "double quoted");
    assert_eq!(
        value("'a'\"b\"c"),
        "abc",
        "pieces written together are one word"
    );
    assert_eq!(value("'it'\\''s'"), "it's", "uci's own export escaping");
    assert_eq!(value("\"say \\\"hi\\\"\""), "say \"hi\"");
    assert_eq!(value("'no \\ escapes \" here'"), "no \\ escapes \" here");
    assert_eq!(value("''x"), "x");
}

#[test]
fn backslash_takes_the_next_character_literally() {
    assert_eq!(value("a\\ b"), "a b");
    assert_eq!(value("a\\#b"), "a#b");
    assert_eq!(value("a\\;b"), "a;b");
    assert_eq!(value("a\\\\b"), "a\\b");
    assert_eq!(value("\\n"), "n", "no C escapes: the letter itself");
}

#[test]
fn backslash_newline_joins_lines() {
    let d = doc("config t\n\toption x abc\\\ndef\n\toption y 'z'\n");
    assert_eq!(d.sections[0].get("x"), Some("abcdef"));
    assert_eq!(d.sections[0].option("y").unwrap().line, 4);
    assert_eq!(values("config t\n\toption x \"ab\\\ncd\"\n", "x"), ["abcd"]);
    assert_eq!(
        values("config t\r\n\toption x ab\\\r\ncd\r\n", "x"),
        ["abcd"]
    );
    // The joined line's indentation ends the word, and strict mode refuses the rest.
    let e = error("config t\n\toption x ab\\\n  cd\n");
    assert!(
        matches!(e, UciError::TooManyArguments { line: 2, .. }),
        "{e}"
    );
}

#[test]
fn quotes_may_span_lines() {
    let d = doc("config t\n\toption x 'one\ntwo'\n\toption y 1\n");
    assert_eq!(d.sections[0].get("x"), Some("one\ntwo"));
    assert_eq!(d.sections[0].option("y").unwrap().line, 4);
}

#[test]
fn comments() {
    let d = doc("# head\n  # indented\nconfig t # trailing\n\toption x 'a#b' # c\n\toption y b#c\n#config u\n");
    assert_eq!(d.sections.len(), 1);
    assert_eq!(d.sections[0].get("x"), Some("a#b"));
    assert_eq!(d.sections[0].get("y"), Some("b"), "# ends an unquoted word");
}

#[test]
fn blank_lines_tabs_crlf_and_no_final_newline() {
    let d = doc("\n\n   \nconfig\tt\t'n'\r\n\toption\tx\t'1'\r\n\n\tlist y 2");
    let s = &d.sections[0];
    assert_eq!(
        (s.name.as_deref(), s.get("x"), s.get("y")),
        (Some("n"), Some("1"), Some("2"))
    );
    assert_eq!(s.line, 4);
}

#[test]
fn short_statement_words_and_semicolons() {
    let d = doc("c t n; o x 1; l y 2\n");
    let s = &d.sections[0];
    assert_eq!((s.get("x"), s.get("y")), (Some("1"), Some("2")));
}

#[test]
fn anonymous_sections_stay_apart() {
    let d = doc("config t\n\toption x 1\nconfig t\n\toption x 2\nconfig t ''\n");
    assert_eq!(d.sections.len(), 3);
    assert!(d.sections.iter().all(|s| s.name.is_none()));
    assert_eq!(d.sections_of("t").count(), 3);
}

#[test]
fn repeated_named_section_continues_the_first() {
    let d = doc("config t 'a'\n\toption x 1\nconfig u 'b'\nconfig t 'a'\n\toption y 2\n");
    assert_eq!(d.sections.len(), 2);
    assert_eq!(
        (d.sections[0].get("x"), d.sections[0].get("y")),
        (Some("1"), Some("2"))
    );
    let e = error("config t 'a'\nconfig u 'a'\n");
    assert_eq!(
        e.to_string(),
        "line 2: section \"a\" has type \"u\" but was declared with type \"t\" on line 1"
    );
}

#[test]
fn option_and_list_semantics_follow_uci() {
    let text = "config t\n\toption x 1\n\toption x 2\n";
    let d = doc(text);
    let x = d.sections[0].option("x").unwrap();
    assert_eq!(
        (x.line, x.value.items()),
        (3, vec!["2"]),
        "last option wins"
    );
    assert_eq!(
        values("config t\n\toption x 1\n\tlist x 2\n", "x"),
        ["1", "2"]
    );
    assert_eq!(values("config t\n\tlist x 1\n\toption x 2\n", "x"), ["2"]);
    assert_eq!(values("config t\n\tlist x ''\n", "x"), [""]);
    let d = doc("config t\n\toption x 1\n\toption x ''\n\toption y ''\n");
    assert!(d.sections[0].options.is_empty(), "an empty option deletes");
    let d = doc("config t\n\toption a 1\n\toption b 2\n\toption a 3\n");
    let names: Vec<&str> = d.sections[0]
        .options
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(names, ["a", "b"], "replaced in place");
}

#[test]
fn option_without_value_is_accepted_and_deletes() {
    let d = doc("config t\n\toption x\t\n");
    assert!(d.sections[0].options.is_empty());
}

#[test]
fn error_messages_name_line_and_statement() {
    let cases: &[(&str, &str)] = &[
        ("config t\n\n\n\n\n\toption metric '1\n", "line 6: option \"metric\": unterminated quote"),
        ("config t\n\toption x \"1\n\n", "line 2: option \"x\": unterminated quote"),
        ("config t 'a\n", "line 1: config: unterminated quote"),
        ("confg t\n", "line 1: unknown statement \"confg\" (expected config, option, list or package)"),
        ("config\n", "line 1: config: missing section type"),
        ("config t\n\toption\n", "line 2: option: missing option name"),
        ("config t\n\toption '' 1\n", "line 2: option: missing option name"),
        ("package\n", "line 1: package: missing package name"),
        ("option x 1\n", "line 1: option before the first section (config)"),
        ("config t\n\toption x 1 2\n", "line 2: option \"x\": unexpected \"2\" (too many arguments; quote values with spaces)"),
        ("config t a b\n", "line 1: config: unexpected \"b\" (too many arguments; quote values with spaces)"),
        ("config t 'my-name'\n", "line 1: config: invalid section name \"my-name\" (only letters, digits and '_' are allowed)"),
        ("config t\n\toption 'a.b' 1\n", "line 2: option: invalid option name \"a.b\" (only letters, digits and '_' are allowed)"),
        ("config 'a b'\n", "line 1: config: invalid section type \"a b\" (printable characters without spaces only)"),
        ("config t\n\toption x a\0b\n", "line 2: NUL character"),
    ];
    for (text, expected) in cases {
        assert_eq!(error(text).to_string(), *expected, "{text:?}");
    }
    assert_eq!(error("config t\n\toption metric '1\n").line(), 2);
}

#[test]
fn package_names_may_have_dashes() {
    assert_eq!(doc("package my-pkg\n").package.as_deref(), Some("my-pkg"));
    assert!(doc("package a\npackage b\n").package.as_deref() == Some("a"));
}

#[test]
fn uci_detection() {
    assert!(looks_like_uci("# comment\n\nconfig uplink 'main'\n"));
    assert!(looks_like_uci("package uplink\n"));
    assert!(looks_like_uci("  config\tglobals\n"));
    assert!(!looks_like_uci("[[uplink]]\nname = \"main\"\n"));
    assert!(!looks_like_uci("config = 1\n"));
    assert!(!looks_like_uci("# only a comment\n"));
    assert!(!looks_like_uci(""));
}

/// Writes `doc` back as UCI text the way `uci export` does (single quotes, `'\''`).
fn export(doc: &Document) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let mut out = String::new();
    for s in &doc.sections {
        out += &format!("config {}", quote(&s.kind));
        if let Some(name) = &s.name {
            out += &format!(" {}", quote(name));
        }
        out += "\n";
        for o in &s.options {
            match &o.value {
                Value::Single(v) => out += &format!("\toption {} {}\n", o.name, quote(v)),
                Value::List(items) => {
                    for i in items {
                        out += &format!("\tlist {} {}\n", o.name, quote(&i.value));
                    }
                }
            }
        }
    }
    out
}

/// Sections as (description, [(option, values)]), without lines.
type Plain = Vec<(String, Vec<(String, Vec<String>)>)>;

/// Values and names with every special character survive an export and a re-read.
#[test]
fn round_trip_through_export() {
    let text = "config t 'n'\n\toption a \"q'uote\\\"d # ; \\\\ x\"\n\tlist b 'one two'\n\tlist b \"multi\nline\"\nconfig u\n\toption c plain\n";
    let first = doc(text);
    let again = doc(&export(&first));
    let strip = |d: &Document| -> Plain {
        d.sections
            .iter()
            .map(|s| {
                let opts = s.options.iter().map(|o| {
                    (
                        o.name.clone(),
                        o.value.items().into_iter().map(String::from).collect(),
                    )
                });
                (s.describe(), opts.collect())
            })
            .collect()
    };
    assert_eq!(strip(&first), strip(&again));
    assert_eq!(first.sections[0].get("a"), Some("q'uote\"d # ; \\ x"));
}

/// Mangled inputs: the reader must return Ok or Err, never panic, and whatever it
/// accepts must survive an export and re-read.
#[test]
fn mangled_inputs_never_panic() {
    let seeds = [
        "config uplink 'main'\n\toption device 'eth0'\n\tlist target \"192.0.2.1\"\n",
        "c t n; o x 'a'\"b\"\\\nc # d\n",
        "config t\n\toption x 'multi\nline' ; list y z\n",
    ];
    let cuts = ['\'', '"', '\\', '#', ';', '\n', ' ', '\t', '\r', 'é', 'x'];
    let mut corpus: Vec<String> = Vec::new();
    for seed in seeds {
        let chars: Vec<char> = seed.chars().collect();
        for i in 0..=chars.len() {
            corpus.push(chars[..i].iter().collect()); // every prefix
            corpus.push(chars[i..].iter().collect()); // every suffix
            for c in cuts {
                let mut mangled = chars.clone();
                if i < mangled.len() {
                    mangled[i] = c; // replaced
                }
                corpus.push(mangled.iter().collect());
                let mut inserted = chars.clone();
                inserted.insert(i, c);
                corpus.push(inserted.iter().collect());
            }
        }
    }
    let mut accepted = 0;
    for text in &corpus {
        if let Ok(d) = parse(text) {
            accepted += 1;
            let again = parse(&export(&d)).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(again.sections.len(), d.sections.len(), "{text:?}");
        }
        let _ = looks_like_uci(text);
    }
    assert!(
        accepted > 100 && accepted < corpus.len(),
        "{accepted} of {}",
        corpus.len()
    );
}
