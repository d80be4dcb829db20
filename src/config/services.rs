//! SERVICES and REPORT_SERVICES: comma-separated `protocol://host:port` lists.
//!
//! The grammar is ElectrumX's (which takes it from aiorpcX's `Service.from_string`):
//!
//! - An item is `protocol://address`; without `://` the whole item is the address and the
//!   protocol comes from the list's defaults, except that an item that is exactly a protocol
//!   name whose host and port both have defaults (`rpc` in SERVICES) stands for that
//!   protocol with default host and port.
//! - The protocol is case-insensitive and one of `tcp`, `ssl`, `ws`, `wss`, `rpc`.
//! - The address is `host:port`, `[host]:port`, `host`, `[host]`, `:port` or empty; an
//!   empty host or port takes the list's default, and is an error where there is none.
//! - A host is a DNS name (see [`super::host`]), an IPv4 address, or an IPv6 address in
//!   brackets; a port is a decimal integer from 1 to 65535.
//! - Empty items (`a,,b`, a trailing comma) are skipped; nothing else is trimmed, so a space
//!   around an item is an error, as it is for ElectrumX.
//! - Two services on the same host and port are an error, whatever their protocols.
//!
//! SERVICES defaults: every protocol's host is all interfaces, except `rpc`'s, which is
//! `localhost`; only `rpc` has a default port, 8000; there is no default protocol. Onion
//! hosts are refused. REPORT_SERVICES has no defaults, and refuses `rpc`, `localhost`,
//! multicast and unspecified addresses, and private addresses while PEER_ANNOUNCE is on.

use std::fmt;
use std::net::IpAddr;

use super::host::{is_multicast_or_unspecified, is_private, is_valid_hostname};

/// The protocols a service can speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Plaintext TCP sockets.
    Tcp,
    /// SSL/TLS-encrypted TCP sockets.
    Ssl,
    /// Plaintext websockets.
    Ws,
    /// TLS-encrypted websockets.
    Wss,
    /// Plaintext local RPC (the admin interface).
    Rpc,
}

impl Protocol {
    /// Every protocol, in the order the docs list them.
    pub const ALL: [Protocol; 5] = [
        Protocol::Tcp,
        Protocol::Ssl,
        Protocol::Ws,
        Protocol::Wss,
        Protocol::Rpc,
    ];

    /// The lower-case name used in service strings.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Ssl => "ssl",
            Protocol::Ws => "ws",
            Protocol::Wss => "wss",
            Protocol::Rpc => "rpc",
        }
    }

    /// The protocol whose lower-case name is exactly `name`.
    pub fn from_name(name: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether the protocol needs SSL_CERTFILE and SSL_KEYFILE (`ssl`, `wss`).
    pub fn uses_tls(self) -> bool {
        matches!(self, Protocol::Ssl | Protocol::Wss)
    }

    /// Whether the protocol is a websocket one (`ws`, `wss`).
    pub fn is_websocket(self) -> bool {
        matches!(self, Protocol::Ws | Protocol::Wss)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The host part of a service.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ServiceHost {
    /// Every interface of the machine (the SERVICES default; ElectrumX spells it
    /// `all_interfaces`, and so may the operator).
    AllInterfaces,
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// A DNS name, as written (names compare case-sensitively, as in ElectrumX).
    Name(String),
}

impl ServiceHost {
    /// Classifies a host string: a valid DNS name first, then an IP address.
    fn classify(host: &str) -> Result<ServiceHost, String> {
        if host == "all_interfaces" {
            Ok(ServiceHost::AllInterfaces)
        } else if is_valid_hostname(host) {
            Ok(ServiceHost::Name(host.to_owned()))
        } else {
            host.parse()
                .map(ServiceHost::Ip)
                .map_err(|_| format!("invalid host {host:?}"))
        }
    }
}

impl fmt::Display for ServiceHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceHost::AllInterfaces => f.write_str("all_interfaces"),
            ServiceHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            ServiceHost::Ip(ip) => write!(f, "{ip}"),
            ServiceHost::Name(name) => f.write_str(name),
        }
    }
}

/// One service: a protocol on a host and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Service {
    pub protocol: Protocol,
    pub host: ServiceHost,
    pub port: u16,
}

impl fmt::Display for Service {
    /// `protocol://host:port`, an IPv6 host in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.protocol, self.host, self.port)
    }
}

/// What a service string may leave out, and what it then means.
#[derive(Clone, Copy, Debug)]
pub struct ServiceDefaults {
    /// The protocol of an item without `protocol://`.
    pub protocol: Option<Protocol>,
    /// The host of an item whose host is empty, per protocol.
    pub host: fn(Protocol) -> Option<ServiceHost>,
    /// The port of an item whose port is empty, per protocol.
    pub port: fn(Protocol) -> Option<u16>,
}

impl ServiceDefaults {
    /// Nothing may be left out (REPORT_SERVICES).
    pub const NONE: ServiceDefaults = ServiceDefaults {
        protocol: None,
        host: |_| None,
        port: |_| None,
    };

    /// SERVICES: host all interfaces (`localhost` for `rpc`), port 8000 for `rpc` only.
    pub const LISTEN: ServiceDefaults = ServiceDefaults {
        protocol: None,
        host: |protocol| match protocol {
            Protocol::Rpc => Some(ServiceHost::Name("localhost".to_owned())),
            _ => Some(ServiceHost::AllInterfaces),
        },
        port: |protocol| match protocol {
            Protocol::Rpc => Some(8000),
            _ => None,
        },
    };
}

impl Service {
    /// A service from its parts.
    pub fn new(protocol: Protocol, host: ServiceHost, port: u16) -> Service {
        Service {
            protocol,
            host,
            port,
        }
    }

    /// Parses one service string, filling what it leaves out from `defaults`.
    ///
    /// # Errors
    /// A one-line reason when the string is not a service, or leaves out a part that has no
    /// default.
    pub fn parse(text: &str, defaults: &ServiceDefaults) -> Result<Service, String> {
        let (protocol, address) = match text.split_once("://") {
            Some((name, address)) => {
                let protocol = Protocol::from_name(&name.to_ascii_lowercase())
                    .ok_or_else(|| format!("unknown protocol {name:?}"))?;
                (protocol, address)
            }
            None => match Protocol::from_name(text) {
                Some(protocol)
                    if (defaults.host)(protocol).is_some()
                        && (defaults.port)(protocol).is_some() =>
                {
                    (protocol, "")
                }
                _ => match defaults.protocol {
                    Some(protocol) => (protocol, text),
                    None => return Err("no protocol given (expected protocol://host:port)".into()),
                },
            },
        };
        if address.starts_with('[') && !address.contains(']') {
            return Err(format!("unclosed '[' in {address:?}"));
        }
        if !address.starts_with('[') && address.matches(':').count() > 1 {
            return Err("an IPv6 address must be in brackets, e.g. [::1]:50001".into());
        }
        let (host, port) = split_address(address);
        let host = if host.is_empty() {
            (defaults.host)(protocol).ok_or_else(|| format!("no host given for {protocol}"))?
        } else {
            ServiceHost::classify(host)?
        };
        let port = if port.is_empty() {
            (defaults.port)(protocol).ok_or_else(|| format!("no port given for {protocol}"))?
        } else {
            parse_port(port)?
        };
        Ok(Service::new(protocol, host, port))
    }
}

/// Splits `host:port`, `[host]:port`, `[host]` or `host`; the port is empty when absent.
fn split_address(address: &str) -> (&str, &str) {
    if let Some(rest) = address.strip_prefix('[') {
        if let Some(end) = rest.find(']') {
            let (host, after) = (&rest[..end], &rest[end + 1..]);
            if after.is_empty() {
                return (host, "");
            }
            if let Some(port) = after.strip_prefix(':') {
                return (host, port);
            }
        }
    }
    address.split_once(':').unwrap_or((address, ""))
}

/// A decimal port from 1 to 65535.
pub(crate) fn parse_port(port: &str) -> Result<u16, String> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("port {port:?} is not a number"));
    }
    match port.trim_start_matches('0').parse::<u32>() {
        Ok(n @ 1..=65535) => u16::try_from(n).map_err(|_| format!("port {port:?} is out of range")),
        _ => Err(format!("port {port:?} is out of range (1-65535)")),
    }
}

/// Parses a comma-separated list: skips empty items, rejects two services on one address.
///
/// # Errors
/// A one-line reason naming the offending item or address.
pub fn parse_services(value: &str, defaults: &ServiceDefaults) -> Result<Vec<Service>, String> {
    let mut services: Vec<Service> = Vec::new();
    for item in value.split(',').filter(|item| !item.is_empty()) {
        let service =
            Service::parse(item, defaults).map_err(|e| format!("{item:?} invalid: {e}"))?;
        if services
            .iter()
            .any(|s| s.host == service.host && s.port == service.port)
        {
            return Err(format!(
                "address {}:{} has multiple services",
                service.host, service.port
            ));
        }
        services.push(service);
    }
    Ok(services)
}

/// The services to listen on, from SERVICES.
///
/// # Errors
/// As [`parse_services`] with [`ServiceDefaults::LISTEN`]; also an onion host.
pub fn listen_services(value: &str) -> Result<Vec<Service>, String> {
    let services = parse_services(value, &ServiceDefaults::LISTEN)?;
    for service in &services {
        if matches!(&service.host, ServiceHost::Name(name) if name.ends_with(".onion")) {
            return Err(format!("{service}: Tor onion hosts are invalid here"));
        }
    }
    Ok(services)
}

/// The services to advertise, from REPORT_SERVICES.
///
/// # Errors
/// As [`parse_services`] with [`ServiceDefaults::NONE`]; also `rpc`, `localhost`, all
/// interfaces, multicast or unspecified addresses, and private addresses when
/// `peer_announce` (ElectrumX tests PEER_ANNOUNCE here, not PEER_DISCOVERY).
pub fn report_services(value: &str, peer_announce: bool) -> Result<Vec<Service>, String> {
    let services = parse_services(value, &ServiceDefaults::NONE)?;
    for service in &services {
        let problem = match &service.host {
            _ if service.protocol == Protocol::Rpc => "the rpc protocol cannot be advertised",
            ServiceHost::Ip(ip) if is_multicast_or_unspecified(*ip) => {
                "a multicast or unspecified address cannot be advertised"
            }
            ServiceHost::Ip(ip) if peer_announce && is_private(*ip) => {
                "a private address cannot be advertised while PEER_ANNOUNCE is on"
            }
            ServiceHost::Name(name) if name.eq_ignore_ascii_case("localhost") => {
                "localhost cannot be advertised"
            }
            ServiceHost::AllInterfaces => "all_interfaces cannot be advertised",
            _ => continue,
        };
        return Err(format!("{service}: {problem}"));
    }
    Ok(services)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> ServiceHost {
        ServiceHost::Name(s.to_owned())
    }

    #[test]
    fn split_address_forms() {
        assert_eq!(split_address("h:1"), ("h", "1"));
        assert_eq!(split_address("[::1]:1"), ("::1", "1"));
        assert_eq!(split_address("[::1]"), ("::1", ""));
        assert_eq!(split_address(":8000"), ("", "8000"));
        assert_eq!(split_address(""), ("", ""));
        assert_eq!(split_address("[::1]x"), ("[", ":1]x"));
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("1"), Ok(1));
        assert_eq!(parse_port("65535"), Ok(65535));
        assert_eq!(parse_port("050001"), Ok(50001));
        for bad in ["0", "65536", "99999999999999999999", "", "+1", "x", "1 "] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bare_protocol_needs_both_defaults() {
        let rpc = Service::parse("rpc", &ServiceDefaults::LISTEN);
        assert_eq!(
            rpc,
            Ok(Service::new(Protocol::Rpc, name("localhost"), 8000))
        );
        // Only an exact lower-case name counts, as in ElectrumX.
        assert!(Service::parse("RPC", &ServiceDefaults::LISTEN).is_err());
        assert!(Service::parse("tcp", &ServiceDefaults::LISTEN).is_err());
        assert!(Service::parse("rpc", &ServiceDefaults::NONE).is_err());
    }

    #[test]
    fn literal_all_interfaces_is_the_default_host() {
        let e = listen_services("tcp://:50001,ssl://all_interfaces:50001");
        assert_eq!(
            e,
            Err("address all_interfaces:50001 has multiple services".into())
        );
    }

    #[test]
    fn duplicates_compare_addresses_by_value() {
        let e = listen_services("tcp://[::1]:5,ws://[0:0::1]:5");
        assert_eq!(e, Err("address [::1]:5 has multiple services".into()));
        assert!(listen_services("tcp://Host:5,ws://host:5").is_ok());
    }

    #[test]
    fn no_trimming() {
        assert!(listen_services("tcp://:50001, ssl://:50002").is_err());
        assert!(listen_services("tcp://:50001 ").is_err());
        assert_eq!(listen_services(",,"), Ok(vec![]));
    }

    #[test]
    fn report_rules() {
        assert!(report_services("tcp://localhost:1", false).is_err());
        assert!(report_services("tcp://LocalHost:1", false).is_err());
        assert!(report_services("tcp://0.0.0.0:1", false).is_err());
        assert!(report_services("tcp://[ff02::1]:1", false).is_err());
        assert!(report_services("tcp://all_interfaces:1", false).is_err());
        assert!(report_services("tcp://192.168.1.2:1", true).is_err());
        assert!(report_services("tcp://192.168.1.2:1", false).is_ok());
        assert!(report_services("tcp://:1", false).is_err());
        assert!(report_services("tcp://h.com", false).is_err());
    }
}
