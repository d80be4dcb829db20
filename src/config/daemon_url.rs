//! DAEMON_URL: where bitcoind's JSON-RPC is, and how to log in.
//!
//! A comma-separated list of `[http://][userinfo@]host[:port][/]` (surrounding whitespace
//! and trailing slashes ignored), where:
//!
//! - `userinfo` is `user:password` or `user`, percent-decoded (as ElectrumX's HTTP client
//!   does), split at the last `@` of the item and at the first `:` of the user info;
//! - `__cookie__:/absolute/path/to/.cookie` is FerrumX's cookie-file form: bitcoind's own
//!   cookie user name with the cookie file as the "password" (taken literally, not
//!   decoded); the file is re-read on every connection, because bitcoind rewrites it at each
//!   start. A `__cookie__` password that does not start with `/` is an ordinary password;
//! - `host` is a DNS name, an IPv4 address or a bracketed IPv6 address;
//! - `port` defaults to the network's RPC port.
//!
//! Error messages never repeat the user info: it may hold a password.

use std::fmt;
use std::net::Ipv6Addr;
use std::path::PathBuf;

use super::host::is_valid_hostname;
use super::services::parse_port;

/// The user name bitcoind's cookie authentication uses, and the marker of the cookie form.
pub const COOKIE_USER: &str = "__cookie__";

/// A secret (password, cookie) whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How to authenticate to one bitcoind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaemonAuth {
    /// `rpcuser`/`rpcpassword` (or `rpcauth`).
    UserPass { user: String, password: Secret },
    /// bitcoind's `.cookie` file, re-read on every (re)connection since bitcoind rewrites it
    /// at each start.
    CookieFile(PathBuf),
    /// No credentials (only useful against test doubles).
    None,
}

/// One bitcoind JSON-RPC endpoint from DAEMON_URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonEndpoint {
    pub host: String,
    pub port: u16,
    pub auth: DaemonAuth,
}

impl DaemonEndpoint {
    /// `http://host:port/` (no credentials: safe to log unless ANON_LOGS).
    pub fn url(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("http://[{}]:{}/", self.host, self.port)
        } else {
            format!("http://{}:{}/", self.host, self.port)
        }
    }

    /// Parses one DAEMON_URL item; `default_port` is the network's RPC port.
    ///
    /// # Errors
    /// A one-line reason that never contains the user info.
    pub fn parse(item: &str, default_port: u16) -> Result<DaemonEndpoint, String> {
        let item = item.trim();
        if item.is_empty() {
            return Err("empty URL".into());
        }
        let rest = strip_scheme(item)?;
        let (userinfo, hostport) = match rest.rfind('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let hostport = hostport.trim_end_matches('/');
        if let Some(slash) = hostport.find('/') {
            return Err(format!(
                "a path ({:?}) is not supported: give host and port only",
                &hostport[slash..]
            ));
        }
        let (host, port) = split_host_port(hostport)?;
        let port = match port {
            Some(port) => parse_port(port)?,
            None => default_port,
        };
        let auth = match userinfo {
            None => DaemonAuth::None,
            Some(userinfo) => parse_userinfo(userinfo)?,
        };
        Ok(DaemonEndpoint { host, port, auth })
    }
}

/// Parses DAEMON_URL's comma-separated list; `default_port` is the network's RPC port.
///
/// # Errors
/// A one-line reason, prefixed with the item's position when there are several.
pub fn parse_daemon_urls(value: &str, default_port: u16) -> Result<Vec<DaemonEndpoint>, String> {
    let items: Vec<&str> = value.split(',').collect();
    let count = items.len();
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            DaemonEndpoint::parse(item, default_port).map_err(|e| {
                if count > 1 {
                    format!("URL {} of {count}: {e}", i + 1)
                } else {
                    e
                }
            })
        })
        .collect()
}

/// Removes an optional case-insensitive `http://`; any other scheme is an error.
fn strip_scheme(item: &str) -> Result<&str, String> {
    let Some((scheme, rest)) = item.split_once("://") else {
        return Ok(item);
    };
    let looks_like_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !looks_like_scheme {
        // "://" inside the user info, e.g. in a password: no scheme was given.
        Ok(item)
    } else if scheme.eq_ignore_ascii_case("http") {
        Ok(rest)
    } else if scheme.eq_ignore_ascii_case("https") {
        Err(
            "https:// is not supported: bitcoind's RPC is plain HTTP (reach a remote one \
             through a tunnel)"
                .into(),
        )
    } else {
        Err(format!(
            "unsupported scheme {scheme:?}: use http:// or none"
        ))
    }
}

/// Splits `host`, `host:port`, `[v6]` or `[v6]:port`, validating the host.
fn split_host_port(hostport: &str) -> Result<(String, Option<&str>), String> {
    if let Some(rest) = hostport.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("unclosed '[' in host {hostport:?}"))?;
        let ip: Ipv6Addr = inside
            .parse()
            .map_err(|_| format!("invalid IPv6 address {inside:?}"))?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| format!("unexpected {after:?} after the IPv6 address"))?,
            ),
        };
        return Ok((ip.to_string(), port));
    }
    let (host, port) = match hostport.split_once(':') {
        Some((_, port)) if port.contains(':') => {
            return Err(format!(
                "an IPv6 address must be in brackets, e.g. [::1]:8332 (got {hostport:?})"
            ))
        }
        Some((host, port)) => (host, Some(port)),
        None => (hostport, None),
    };
    if host.is_empty() {
        return Err("no host given".into());
    }
    if !is_valid_hostname(host) && host.parse::<std::net::Ipv4Addr>().is_err() {
        return Err(format!("invalid host {host:?}"));
    }
    Ok((host.to_owned(), port))
}

/// `user[:password]`, or the cookie form `__cookie__:/path`.
fn parse_userinfo(userinfo: &str) -> Result<DaemonAuth, String> {
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    if user == COOKIE_USER {
        if password.starts_with('/') {
            return Ok(DaemonAuth::CookieFile(PathBuf::from(password)));
        }
        if password.is_empty() {
            return Err(format!(
                "user {COOKIE_USER} needs the cookie file's absolute path as its password, \
                 e.g. {COOKIE_USER}:/home/bitcoin/.bitcoin/.cookie@127.0.0.1"
            ));
        }
    }
    let user = percent_decode(user).ok_or("the user name is not valid UTF-8 once decoded")?;
    let password =
        percent_decode(password).ok_or("the password is not valid UTF-8 once decoded")?;
    Ok(DaemonAuth::UserPass {
        user,
        password: Secret(password),
    })
}

/// Decodes `%XX` escapes (a `%` not followed by two hex digits stays as it is).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) => hex_value(hi).zip(hex_value(lo)),
            _ => None,
        };
        match escaped {
            Some((hi, lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|v| u8::try_from(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_pass(user: &str, password: &str) -> DaemonAuth {
        DaemonAuth::UserPass {
            user: user.into(),
            password: Secret(password.into()),
        }
    }

    #[test]
    fn generic_form_and_shorthands() {
        let full = DaemonEndpoint::parse("http://u:p@host.example:1234/", 8332);
        assert_eq!(
            full,
            Ok(DaemonEndpoint {
                host: "host.example".into(),
                port: 1234,
                auth: user_pass("u", "p"),
            })
        );
        for same in ["u:p@host.example:1234", " HTTP://u:p@host.example:1234// "] {
            assert_eq!(DaemonEndpoint::parse(same, 8332), full, "{same}");
        }
        let bare = DaemonEndpoint::parse("127.0.0.1", 18443);
        assert_eq!(
            bare.map(|e| (e.host, e.port, e.auth)),
            Ok(("127.0.0.1".into(), 18443, DaemonAuth::None))
        );
    }

    #[test]
    fn passwords_with_special_characters() {
        let e = DaemonEndpoint::parse("http://u:p@ss:w/rd@h", 1);
        assert_eq!(e.map(|e| e.auth), Ok(user_pass("u", "p@ss:w/rd")));
        let e = DaemonEndpoint::parse("u:a%2Cb%40c%zz@h", 1);
        assert_eq!(e.map(|e| e.auth), Ok(user_pass("u", "a,b@c%zz")));
        let e = DaemonEndpoint::parse("user@h", 1);
        assert_eq!(e.map(|e| e.auth), Ok(user_pass("user", "")));
        let e = DaemonEndpoint::parse("u:pa://ss@h", 1);
        assert_eq!(e.map(|e| e.auth), Ok(user_pass("u", "pa://ss")));
    }

    #[test]
    fn cookie_form() {
        let e = DaemonEndpoint::parse("__cookie__:/var/lib/bit coin@x/.cookie@[::1]:18443/", 1);
        assert_eq!(
            e,
            Ok(DaemonEndpoint {
                host: "::1".into(),
                port: 18443,
                auth: DaemonAuth::CookieFile("/var/lib/bit coin@x/.cookie".into()),
            })
        );
        // A pasted cookie value is an ordinary password.
        let e = DaemonEndpoint::parse("__cookie__:0a1b2c@h", 1);
        assert_eq!(e.map(|e| e.auth), Ok(user_pass("__cookie__", "0a1b2c")));
        assert!(DaemonEndpoint::parse("__cookie__@h", 1).is_err());
        assert!(DaemonEndpoint::parse("__cookie__:@h", 1).is_err());
    }

    #[test]
    fn errors_never_show_the_password() {
        for bad in [
            "u:hunter2@h:x",
            "u:hunter2@h:0",
            "u:hunter2@h/wallet/w1",
            "u:hunter2@::1",
            "https://u:hunter2@h",
            "u:hunter2@",
            "u:hunter2@[::1",
            "u:hunter2@[zz]:1",
            "u:hunter2@bad_host!",
        ] {
            let e = DaemonEndpoint::parse(bad, 1);
            let msg = e.expect_err(bad);
            assert!(!msg.contains("hunter2"), "{bad}: {msg}");
        }
    }

    #[test]
    fn port_errors() {
        assert_eq!(
            DaemonEndpoint::parse("u:p@h:x", 1),
            Err("port \"x\" is not a number".into())
        );
        assert!(DaemonEndpoint::parse("h:", 1).is_err());
        assert!(DaemonEndpoint::parse("h:65536", 1).is_err());
        assert!(DaemonEndpoint::parse("ftp://h", 1).is_err());
    }

    #[test]
    fn list_positions_in_errors() {
        assert_eq!(
            parse_daemon_urls("a:1,b:x", 1),
            Err("URL 2 of 2: port \"x\" is not a number".into())
        );
        assert!(parse_daemon_urls("a:1,", 1).is_err());
        assert_eq!(parse_daemon_urls(" a , b:2 ", 7).map(|v| v.len()), Ok(2));
    }

    #[test]
    fn url_brackets_ipv6() {
        let e = DaemonEndpoint::parse("[fe80::1]", 8332).map(|e| e.url());
        assert_eq!(e, Ok("http://[fe80::1]:8332/".into()));
    }

    #[test]
    fn secrets_hidden() {
        let e = DaemonEndpoint::parse("u:hunter2@h", 1);
        let shown = format!("{e:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("Secret(***)"),
            "{shown}"
        );
        assert_eq!(Secret("x".into()).to_string(), "***");
    }
}
