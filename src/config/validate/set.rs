//! `[[set]]` tables: named prefix lists, given inline or in a file.

use std::path::Path;

use super::{check_name, invalid, quoted};
use crate::config::parse::RawSet;
use crate::config::{ConfigError, Prefix, PrefixSet};

/// Most entries one set may hold (nft handles far more; this keeps memory bounded on a
/// 16 MB router and the config honest).
const MAX_ENTRIES: usize = 1_000_000;

pub(super) fn all(raw: Vec<RawSet>) -> Result<Vec<PrefixSet>, ConfigError> {
    let mut done: Vec<PrefixSet> = Vec::with_capacity(raw.len());
    for r in raw {
        let obj = format!("set {}", quoted(&r.name));
        check_name(&obj, &r.name)?;
        // The name becomes an nft identifier (`@NAME_h`), which nft reads as a number or
        // an operator when it starts with a digit or '-': the whole table would fail.
        if !r
            .name
            .starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        {
            let reason = "must start with a letter or '_' (nft names sets after it)";
            return Err(invalid(&obj, "name", "", reason));
        }
        if done.iter().any(|s| s.name == r.name) {
            return Err(invalid(&obj, "name", "", "duplicate"));
        }
        done.push(set(&obj, r)?);
    }
    Ok(done)
}

fn set(obj: &str, raw: RawSet) -> Result<PrefixSet, ConfigError> {
    let mut prefixes = Vec::new();
    for text in &raw.prefixes {
        prefixes.push(super::prefix(obj, "prefixes", text)?);
    }
    if let Some(file) = &raw.file {
        prefixes.extend(read_file(obj, file)?);
    }
    if prefixes.is_empty() {
        return Err(invalid(
            obj,
            "prefixes",
            "",
            "a set needs prefixes or a file",
        ));
    }
    if prefixes.len() > MAX_ENTRIES {
        return Err(invalid(
            obj,
            "prefixes",
            "",
            format!("more than {MAX_ENTRIES} entries"),
        ));
    }
    Ok(PrefixSet {
        name: raw.name,
        prefixes: without_overlaps(prefixes),
    })
}

/// Sorted, with every prefix that lies inside another removed: nft refuses overlapping
/// intervals in one set, and users' lists (ad blockers, ASN dumps) often overlap.
pub(super) fn without_overlaps(mut prefixes: Vec<Prefix>) -> Vec<Prefix> {
    prefixes.sort_by_key(|p| (u32::from(p.addr), p.len));
    let mut kept: Vec<Prefix> = Vec::with_capacity(prefixes.len());
    let mut covered_to: Option<u32> = None;
    for prefix in prefixes {
        let start = u32::from(prefix.addr);
        if covered_to.is_some_and(|end| start <= end) {
            continue;
        }
        let size = 1u64 << (32 - u32::from(prefix.len));
        covered_to = Some((u64::from(start) + size - 1) as u32);
        kept.push(prefix);
    }
    kept
}

/// One prefix per line; blank lines and `#` comments are skipped.
fn read_file(obj: &str, file: &str) -> Result<Vec<Prefix>, ConfigError> {
    if !Path::new(file).is_absolute() {
        return Err(invalid(
            obj,
            "file",
            quoted(file),
            "must be an absolute path",
        ));
    }
    let text = crate::files::read_limited(Path::new(file), crate::files::SET_FILE_LIMIT)
        .map_err(|e| invalid(obj, "file", quoted(file), e.failure.to_string()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        let key = format!("file {file} line {}", n + 1);
        out.push(super::prefix(obj, &key, entry)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps_and_duplicates_are_removed_adjacent_prefixes_kept() {
        let p = |s: &str| s.parse::<Prefix>().unwrap();
        let input = vec![
            p("198.18.1.0/24"),
            p("198.18.0.0/16"),
            p("198.19.0.1"),
            p("198.19.0.0"),
            p("198.19.0.1"),
            p("192.0.2.0/24"),
        ];
        let kept = without_overlaps(input);
        assert_eq!(
            kept,
            [
                p("192.0.2.0/24"),
                p("198.18.0.0/16"),
                p("198.19.0.0"),
                p("198.19.0.1")
            ]
        );
    }
}
