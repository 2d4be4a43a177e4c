//! Test fixtures shared by the core's tests: two lines, main (metric 100 on wan1) and
//! backup (metric 200 on wan2, masqueraded), each probing one target.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use super::LinkFacts;

pub(crate) const TWO_LINES: &str = r#"
[[uplink]]
name = "main"
device = "wan1"
gateway = "192.0.2.1"
metric = 100
[uplink.probe]
targets = ["203.0.113.100"]

[[uplink]]
name = "backup"
device = "wan2"
gateway = "198.51.100.1"
metric = 200
masquerade = true
[uplink.probe]
targets = ["203.0.113.100"]
"#;

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Link facts for wan1 (carrier as given) and, when `backup`, wan2 (up).
pub(crate) fn two_links(main_carrier: bool, backup: bool) -> HashMap<String, LinkFacts> {
    let facts = |ifindex, addr: [u8; 4], carrier| LinkFacts {
        ifindex,
        admin_up: true,
        carrier,
        addrs: vec![Ipv4Addr::from(addr).into()],
        ..LinkFacts::default()
    };
    let mut map = HashMap::from([("wan1".to_string(), facts(2, [192, 0, 2, 2], main_carrier))]);
    if backup {
        map.insert("wan2".to_string(), facts(3, [198, 51, 100, 2], true));
    }
    map
}
