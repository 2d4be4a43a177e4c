//! The nft table's handling of names: every device quoted, a trailing `*` escaped, and a
//! name that slipped past validation costing only its own rules, never the table.

use super::*;
use crate::config::{parse, Config};

/// Two masquerading lines, `a` on `first` and `b` on `second`, and a policy by set.
fn config(first: &str, second: &str) -> Config {
    let text = format!(
        "[[uplink]]\nname = \"a\"\ndevice = {}\nmasquerade = true\n\
         [[uplink]]\nname = \"b\"\ndevice = {}\nmetric = 200\nmasquerade = true\n\
         [[set]]\nname = \"media\"\nprefixes = [\"198.51.100.7\"]\n\
         [[policy]]\nname = \"tv\"\nset = \"media\"\nuplinks = [\"b\"]\n",
        toml::Value::from(first),
        toml::Value::from(second)
    );
    parse(&text).unwrap()
}

fn ruleset(config: &Config) -> String {
    let policies: Vec<&Policy> = config.policies.iter().collect();
    nft_ruleset(&config.uplinks, &policies, &config.sets)
}

/// The table's braces and quotes pair up: a name could not have cut a statement short.
fn well_formed(table: &str) {
    assert_eq!(table.matches('"').count() % 2, 0, "{table}");
    let depth = table.chars().try_fold(0i32, |depth, c| {
        let depth = depth + i32::from(c == '{') - i32::from(c == '}');
        (depth >= 0).then_some(depth)
    });
    assert_eq!(depth, Some(0), "{table}");
}

#[test]
fn odd_names_are_quoted_and_a_trailing_star_is_escaped() {
    let table = ruleset(&config("l*", "a;b{"));
    assert!(
        table.contains("oifname \"l\\*\" meta nfproto ipv4 masquerade comment \"uplink a\""),
        "{table}"
    );
    assert!(
        table.contains("oifname \"a;b{\" meta nfproto ipv4 masquerade"),
        "{table}"
    );
    assert!(table.contains("ct state new iifname \"l\\*\" meta nfproto ipv4"));
    assert!(
        table.contains("iifname { \"a;b{\", \"l\\*\" } return"),
        "{table}"
    );
    assert!(!table.contains("\"l*\""), "a wildcard: {table}");
}

/// A device name that got past validation (a bug, or a path not yet checked) leaves out
/// its line's rules; the other line's masquerade and marks stay, and the table parses.
#[test]
fn a_name_that_slipped_through_costs_only_its_own_rules() {
    for bad in [
        "x\"; flush ruleset; \"",
        "wan\nx",
        "l\\*",
        "",
        "a234567890123456",
    ] {
        let mut config = config("wan1", "wan2");
        config.uplinks[1].device = bad.to_owned();
        let table = ruleset(&config);
        well_formed(&table);
        assert!(table.contains("oifname \"wan1\" meta nfproto ipv4 masquerade"));
        assert!(table.contains("ct state new iifname \"wan1\" "), "{table}");
        assert!(table.contains("iifname { \"wan1\" } return"), "{table}");
        assert!(!table.contains("uplink b"), "{bad:?}: {table}");
        assert!(!table.contains("flush ruleset") && !table.contains("wan\n"));
    }
}

#[test]
fn a_line_with_a_name_unfit_for_a_comment_is_left_out() {
    let mut config = config("wan1", "wan2");
    config.uplinks[1].name = "b\" drop comment \"".to_owned();
    let table = ruleset(&config);
    well_formed(&table);
    assert!(!table.contains("drop"), "{table}");
    assert!(!table.contains("\"wan2\""), "{table}");
}

/// A set whose name is no nft identifier is left out, and so is its policy's match:
/// without the set the policy would claim every destination.
#[test]
fn a_set_with_a_bad_name_takes_its_policy_matches_with_it() {
    let mut config = config("wan1", "wan2");
    let good = ruleset(&config);
    assert!(good.contains("set media_h {"), "{good}");
    assert!(good.contains("ip daddr @media_h ct mark set"), "{good}");
    for bad in ["1media", "me dia", "m;x"] {
        config.sets[0].name = bad.to_owned();
        config.policies[0].set = Some(bad.to_owned());
        let table = ruleset(&config);
        well_formed(&table);
        assert!(!table.contains(bad) && !table.contains('@'), "{table}");
        assert!(!table.contains(&set_ct_mark(policy_mark(0))), "{table}");
        assert!(table.contains("oifname \"wan2\" meta nfproto ipv4 masquerade"));
    }
}
