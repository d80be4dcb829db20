//! Host names and IP address classes, judged the way ElectrumX judges them.
//!
//! ElectrumX takes its host-name rule from aiorpcX and its address classes from Python's
//! `ipaddress` module; SERVICES, REPORT_SERVICES and DAEMON_URL must accept and reject the
//! same hosts, so the rules are restated here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `name` is a valid DNS host name by aiorpcX's rule: at most 253 characters (one
/// trailing dot ignored), dot-separated labels of 1–63 letters, digits, `-` or `_` that do
/// not start or end with `-`, and a last label that is not all digits (so that `1.2.3.4` is
/// an address, not a name).
pub(crate) fn is_valid_hostname(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let mut labels = name.split('.').peekable();
    while let Some(label) = labels.next() {
        if !is_valid_label(label) {
            return false;
        }
        if labels.peek().is_none() && label.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    true
}

fn is_valid_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    bytes.len() <= 63
        && first != b'-'
        && last != b'-'
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Python's `ip.is_multicast or ip.is_unspecified`: never a reachable service address.
pub(crate) fn is_multicast_or_unspecified(ip: IpAddr) -> bool {
    ip.is_multicast() || ip.is_unspecified()
}

/// Python's `ipaddress` `is_private` (as of Python 3.13): the IANA special-purpose blocks
/// that are not globally reachable, loopback and link-local included.
pub(crate) fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private_v4(v4),
            None => is_private_v6(v6),
        },
    }
}

const PRIVATE_V4: &[(u32, u32)] = &[
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
    (0x0a00_0000, 8),  // 10.0.0.0/8
    (0x7f00_0000, 8),  // 127.0.0.0/8 loopback
    (0xa9fe_0000, 16), // 169.254.0.0/16 link-local
    (0xac10_0000, 12), // 172.16.0.0/12
    (0xc000_0000, 24), // 192.0.0.0/24 IETF protocol assignments
    (0xc000_00aa, 31), // 192.0.0.170/31 NAT64 discovery
    (0xc000_0200, 24), // 192.0.2.0/24 TEST-NET-1
    (0xc0a8_0000, 16), // 192.168.0.0/16
    (0xc612_0000, 15), // 198.18.0.0/15 benchmarking
    (0xc633_6400, 24), // 198.51.100.0/24 TEST-NET-2
    (0xcb00_7100, 24), // 203.0.113.0/24 TEST-NET-3
    (0xf000_0000, 4),  // 240.0.0.0/4 reserved
    (0xffff_ffff, 32), // limited broadcast
];

/// Globally reachable exceptions inside [`PRIVATE_V4`]: 192.0.0.9 and 192.0.0.10.
const PUBLIC_V4: &[(u32, u32)] = &[(0xc000_0009, 32), (0xc000_000a, 32)];

const PRIVATE_V6: &[(u128, u32)] = &[
    (1, 128),                          // ::1 loopback
    (0, 128),                          // :: unspecified
    (0x0064_ff9b_0001_u128 << 80, 48), // 64:ff9b:1::/48 local NAT64
    (0x0100_u128 << 112, 64),          // 100::/64 discard-only
    (0x2001_u128 << 112, 23),          // 2001::/23 IETF protocol assignments
    (0x2001_0db8_u128 << 96, 32),      // 2001:db8::/32 documentation
    (0x2002_u128 << 112, 16),          // 2002::/16 6to4
    (0x3fff_u128 << 112, 20),          // 3fff::/20 documentation
    (0xfc00_u128 << 112, 7),           // fc00::/7 unique local
    (0xfe80_u128 << 112, 10),          // fe80::/10 link-local
];

/// Globally reachable exceptions inside 2001::/23.
const PUBLIC_V6: &[(u128, u32)] = &[
    ((0x2001_0001_u128 << 96) | 1, 128), // 2001:1::1
    ((0x2001_0001_u128 << 96) | 2, 128), // 2001:1::2
    (0x2001_0003_u128 << 96, 32),        // 2001:3::/32 AMT
    (0x2001_0004_0112_u128 << 80, 48),   // 2001:4:112::/48 AS112-v6
    (0x2001_0020_u128 << 96, 28),        // 2001:20::/28 ORCHIDv2
    (0x2001_0030_u128 << 96, 28),        // 2001:30::/28 drone remote ID
];

fn in_v4(ip: u32, nets: &[(u32, u32)]) -> bool {
    nets.iter().any(|&(net, len)| {
        ip.checked_shr(32 - len).unwrap_or(0) == net.checked_shr(32 - len).unwrap_or(0)
    })
}

fn in_v6(ip: u128, nets: &[(u128, u32)]) -> bool {
    nets.iter().any(|&(net, len)| {
        ip.checked_shr(128 - len).unwrap_or(0) == net.checked_shr(128 - len).unwrap_or(0)
    })
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let ip = u32::from(ip);
    in_v4(ip, PRIVATE_V4) && !in_v4(ip, PUBLIC_V4)
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    let ip = u128::from(ip);
    in_v6(ip, PRIVATE_V6) && !in_v6(ip, PUBLIC_V6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        for good in [
            "localhost",
            "host.domain.tld",
            "host.domain.tld.",
            "h3ubaasdlkheryasd.onion",
            "all_interfaces",
            "1.2.3.x",
            "a-b.c_d",
        ] {
            assert!(is_valid_hostname(good), "{good}");
        }
        let long_label = "a".repeat(64);
        let long_name = ["abc"; 64].join(".");
        for bad in [
            "",
            ".",
            "1.2.3.4",
            "-a.com",
            "a-.com",
            "a..b",
            "a b",
            "a:b",
            "[::1]",
            long_label.as_str(),
            long_name.as_str(),
        ] {
            assert!(!is_valid_hostname(bad), "{bad}");
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn private_addresses_as_python_sees_them() {
        for private in [
            "10.1.2.3",
            "127.0.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.0.1",
            "0.1.2.3",
            "192.0.2.7",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_private(ip(private)), "{private}");
        }
        for public in [
            "23.45.67.78",
            "8.8.8.8",
            "172.32.0.1",
            "100.64.0.1",
            "192.0.0.9",
            "1234:5678:abcd::5601",
            "2a01:4f8::1",
            "2001:20::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_private(ip(public)), "{public}");
        }
    }

    #[test]
    fn multicast_and_unspecified() {
        for bad in ["224.0.0.1", "239.1.1.1", "0.0.0.0", "ff02::1", "::"] {
            assert!(is_multicast_or_unspecified(ip(bad)), "{bad}");
        }
        for ok in ["23.45.67.78", "2a01:4f8::1"] {
            assert!(!is_multicast_or_unspecified(ip(ok)), "{ok}");
        }
    }
}
