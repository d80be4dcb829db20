//! Python 3.11's `ipaddress` as ElectrumX uses it for session groups: the text of an IPv6
//! address ([`ipv6_text`]) and `is_private` ([`is_private`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IPv6 address as Python's `ipaddress` writes it: lowercase hextets without leading
/// zeros, the longest run (leftmost on ties) of two or more zero hextets as `::`, and no
/// dotted IPv4 form (Rust writes `::ffff:a.b.c.d`).
pub fn ipv6_text(ip: Ipv6Addr) -> String {
    let h = ip.segments();
    let (mut best, mut best_len) = (0usize, 0usize);
    let mut i = 0;
    while i < 8 {
        if h[i] == 0 {
            let start = i;
            while i < 8 && h[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best = start;
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    let hex = |s: &[u16]| {
        s.iter()
            .map(|x| format!("{x:x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    if best_len < 2 {
        return hex(&h);
    }
    format!("{}::{}", hex(&h[..best]), hex(&h[best + best_len..]))
}

/// Python 3.11's `ipaddress` `is_private` (what ElectrumX's reference install runs).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private_v4(v4),
            None => is_private_v6(v6),
        },
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    const NETS: [([u8; 4], u32); 14] = [
        ([0, 0, 0, 0], 8),
        ([10, 0, 0, 0], 8),
        ([127, 0, 0, 0], 8),
        ([169, 254, 0, 0], 16),
        ([172, 16, 0, 0], 12),
        ([192, 0, 0, 0], 29),
        ([192, 0, 0, 170], 31),
        ([192, 0, 2, 0], 24),
        ([192, 168, 0, 0], 16),
        ([198, 18, 0, 0], 15),
        ([198, 51, 100, 0], 24),
        ([203, 0, 113, 0], 24),
        ([240, 0, 0, 0], 4),
        ([255, 255, 255, 255], 32),
    ];
    NETS.iter().any(|(net, prefix)| in_v4(ip, *net, *prefix))
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    const NETS: [([u16; 8], u32); 10] = [
        ([0, 0, 0, 0, 0, 0, 0, 1], 128),
        ([0, 0, 0, 0, 0, 0, 0, 0], 128),
        ([0, 0, 0, 0, 0, 0xffff, 0, 0], 96),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
        ([0x2001, 2, 0, 0, 0, 0, 0, 0], 48),
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        ([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
    ];
    let bits = u128::from(ip);
    NETS.iter().any(|(net, prefix)| {
        let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
        bits & mask == u128::from(Ipv6Addr::from(*net)) & mask
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_as_python_writes_it() {
        let text = |s: &str| ipv6_text(s.parse().unwrap());
        assert_eq!(text("2a00:1450:4001:80b::200e"), "2a00:1450:4001:80b::200e");
        assert_eq!(text("2a00:0:0:1:0:0:0:5"), "2a00:0:0:1::5");
        assert_eq!(text("2a00:0:0:1:0:0:5:5"), "2a00::1:0:0:5:5");
        assert_eq!(text("2a00:1:0:1:0:1:0:1"), "2a00:1:0:1:0:1:0:1");
        assert_eq!(text("::ffff:10.0.0.1"), "::ffff:a00:1");
        assert_eq!(text("::"), "::");
        assert_eq!(text("::1"), "::1");
    }

    #[test]
    fn private_as_python_3_11_says() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_private(ip(private)), "{private}");
        }
        assert!(!is_private(ip("100.64.0.1")));
        assert!(is_private(ip("2001:db8::1")));
        assert!(!is_private(ip("2002::1")));
        assert!(!is_private(ip("8.8.8.8")));
    }
}
