//! A peer's name as the operator gives it ([`RealName`], `add_peer`'s argument) and the
//! text a peer sends, cut before it is logged or kept ([`peer_text`]). Uses no sibling.

use std::net::IpAddr;

use crate::config::is_valid_hostname;

/// What an `add_peer` argument says: ElectrumX's "real name", e.g.
/// `"electrum.example.com v1.4 s t50001"`: the host, then `t[PORT]` / `s[PORT]` (the
/// network's default port when left out), `vVERSION` and `pPRUNING`. Other items are
/// ignored, as ElectrumX ignores them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealName {
    pub host: String,
    pub tcp_port: Option<u16>,
    pub ssl_port: Option<u16>,
    pub protocol: Option<String>,
    pub pruning: Option<u64>,
}

impl RealName {
    /// Parses a real name; `defaults` are the network's (TCP, SSL) peer ports.
    ///
    /// # Errors
    /// A one-line reason: no host, an invalid host, a bad port, or no port at all.
    pub fn parse(text: &str, defaults: (u16, u16)) -> Result<RealName, String> {
        let mut parts = text.split_whitespace();
        let host = parts.next().ok_or("no host given")?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.parse::<IpAddr>().is_err() && !is_valid_hostname(host) {
            return Err(format!("invalid host {host:?}"));
        }
        let mut name = RealName {
            host: host.to_string(),
            tcp_port: None,
            ssl_port: None,
            protocol: None,
            pruning: None,
        };
        for part in parts {
            // Split after the first character (a peer may send any UTF-8).
            let first = part.chars().next().map_or(0, char::len_utf8);
            let (letter, rest) = part.split_at(first);
            match letter {
                "t" | "s" => {
                    let port = if rest.is_empty() {
                        if letter == "t" {
                            defaults.0
                        } else {
                            defaults.1
                        }
                    } else {
                        match rest.parse::<u16>() {
                            Ok(p) if p > 0 => p,
                            _ => return Err(format!("bad port in {part:?}")),
                        }
                    };
                    if letter == "t" {
                        name.tcp_port = Some(port);
                    } else {
                        name.ssl_port = Some(port);
                    }
                }
                "v" => name.protocol = Some(rest.to_string()),
                "p" => name.pruning = rest.parse().ok().filter(|&p| p > 0),
                _ => {}
            }
        }
        if name.tcp_port.is_none() && name.ssl_port.is_none() {
            return Err("no port given: add t[PORT] and/or s[PORT]".into());
        }
        Ok(name)
    }
}

/// Text that came from a peer (or quotes it), cut to at most [`PEER_TEXT_MAX`] characters
/// before it is logged or kept: a peer may send megabytes.
pub(super) fn peer_text(text: &str) -> String {
    match text.char_indices().nth(PEER_TEXT_MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Characters of a peer's text kept by [`peer_text`].
const PEER_TEXT_MAX: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    const PORTS: (u16, u16) = (51001, 51002);

    #[test]
    fn peer_text_is_cut_at_a_character_boundary() {
        assert_eq!(peer_text("short"), "short");
        let long = "é".repeat(150);
        let cut = peer_text(&long);
        assert_eq!(cut.chars().count(), PEER_TEXT_MAX + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn non_ascii_real_name_parts_are_ignored_not_a_panic() {
        let n = RealName::parse("h.example ét s ü t", PORTS).expect("parse");
        assert_eq!((n.tcp_port, n.ssl_port), (Some(PORTS.0), Some(PORTS.1)));
    }

    #[test]
    fn real_names_parse_like_electrumx() {
        let n = RealName::parse("ecdsa.net v1.0 s110 t", PORTS).expect("parse");
        assert_eq!(n.host, "ecdsa.net");
        assert_eq!((n.tcp_port, n.ssl_port), (Some(51001), Some(110)));
        assert_eq!(n.protocol.as_deref(), Some("1.0"));
        let n = RealName::parse("x s t p10000 v1.4.2 h8080", PORTS).expect("parse");
        assert_eq!(
            (n.tcp_port, n.ssl_port, n.pruning),
            (Some(51001), Some(51002), Some(10000))
        );
        let n = RealName::parse("  127.0.0.1   t50001 ", PORTS).expect("parse");
        assert_eq!(
            (n.host.as_str(), n.tcp_port, n.ssl_port),
            ("127.0.0.1", Some(50001), None)
        );
        let n = RealName::parse("[::1] s", PORTS).expect("parse");
        assert_eq!(n.host, "::1");
    }

    #[test]
    fn bad_real_names_are_refused() {
        for bad in [
            "",
            "   ",
            "h.example",
            "bad_host! t",
            "a.b tfoo",
            "a.b t99999",
            "a.b t0",
            "1.2.3 t",
        ] {
            assert!(RealName::parse(bad, PORTS).is_err(), "{bad:?}");
        }
    }
}
