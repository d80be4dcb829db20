//! The configuration room against ElectrumX's documentation: required variables, defaults,
//! malformed values, SERVICES / REPORT_SERVICES examples, DAEMON_URL forms, obsolete
//! variables, and secrets kept out of `Debug`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferrumx::config::{
    listen_services, parse_services, report_services, Coin, Config, ConfigError, DaemonAuth,
    DaemonEndpoint, LogLevel, Net, PeerDiscovery, Protocol, Secret, Service, ServiceDefaults,
    ServiceHost,
};

const REQUIRED: [(&str, &str); 3] = [
    ("COIN", "Bitcoin"),
    ("DB_DIRECTORY", "/var/lib/ferrumx"),
    ("DAEMON_URL", "http://rpcuser:hunter2@127.0.0.1/"),
];

fn vars(extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for (k, v) in REQUIRED.iter().chain(extra) {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    map
}

fn config(extra: &[(&str, &str)]) -> Config {
    Config::from_vars(&vars(extra)).unwrap_or_else(|e| panic!("{extra:?}: {e}"))
}

fn error(extra: &[(&str, &str)]) -> ConfigError {
    match Config::from_vars(&vars(extra)) {
        Ok(c) => panic!("{extra:?} accepted: {c:?}"),
        Err(e) => e,
    }
}

/// Asserts the error names `var` first, on one line.
fn assert_names(e: &ConfigError, var: &str) {
    let text = e.to_string();
    assert_eq!(e.variable(), Some(var), "{text}");
    assert!(text.starts_with(&format!("{var}: ")), "{text}");
    assert!(!text.contains('\n'), "{text}");
}

fn name(s: &str) -> ServiceHost {
    ServiceHost::Name(s.to_owned())
}

fn ip(s: &str) -> ServiceHost {
    ServiceHost::Ip(s.parse::<IpAddr>().unwrap_or_else(|e| panic!("{s}: {e}")))
}

#[test]
fn each_required_variable_missing_or_empty_is_named() {
    for (var, _) in REQUIRED {
        let mut map = vars(&[]);
        map.remove(var);
        let e = Config::from_vars(&map).err();
        assert_eq!(e, Some(ConfigError::Missing(var)));
        map.insert(var.to_owned(), "  ".to_owned());
        let e = Config::from_vars(&map).err();
        assert_eq!(
            e.as_ref().and_then(ConfigError::variable),
            Some(var),
            "{e:?}"
        );
    }
    assert_eq!(
        ConfigError::Missing("COIN").to_string(),
        "COIN: required but not set"
    );
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = config(&[]);
    assert_eq!(c.coin, Coin::Bitcoin);
    assert_eq!(c.net, Net::Mainnet);
    assert_eq!(c.db_dir, PathBuf::from("/var/lib/ferrumx"));
    assert!(c.services.is_empty() && c.report_services.is_empty());
    assert_eq!(
        (c.ssl_certfile.clone(), c.ssl_keyfile.clone()),
        (None, None)
    );
    assert_eq!(c.log_level, LogLevel::Info);
    assert!(!c.allow_root && !c.anon_logs && !c.force_proxy && !c.drop_client_unknown);
    assert_eq!(c.log_sessions, Some(Duration::from_secs(3600)));
    assert_eq!(c.donation_address, "");
    assert_eq!(
        (c.banner_file.clone(), c.tor_banner_file.clone()),
        (None, None)
    );
    assert_eq!(c.reorg_limit, 200);
    assert!(c.drop_client.is_none());
    assert_eq!(c.cache_mb, 1200);
    assert_eq!(c.max_sessions, 1000);
    assert_eq!(c.max_send, 1_000_000);
    assert_eq!(c.max_recv, 1_000_000);
    assert_eq!((c.cost_soft_limit, c.cost_hard_limit), (1000, 10_000));
    assert_eq!(c.request_sleep, Duration::from_millis(2500));
    assert_eq!(c.initial_concurrent, 10);
    assert_eq!(c.bandwidth_unit_cost, 5000);
    assert_eq!(c.request_timeout, Duration::from_secs(30));
    assert_eq!(c.session_timeout, Duration::from_secs(600));
    // aiorpcX's max_send_delay.
    assert_eq!(c.send_timeout, Duration::from_secs(20));
    // ElectrumX's fixed period of the idle-session check.
    assert_eq!(c.session_timeout_check, Duration::from_secs(60));
    assert_eq!(
        (
            c.session_group_by_subnet_ipv4,
            c.session_group_by_subnet_ipv6
        ),
        (24, 48)
    );
    assert_eq!(c.peer_discovery, PeerDiscovery::On);
    assert!(c.peer_announce);
    assert_eq!(c.tor_proxy_host, "localhost");
    assert_eq!(c.tor_proxy_port, None);
    assert_eq!(
        c.blacklist_url.as_deref(),
        Some("https://electrum.org/blacklist.json")
    );
    assert_eq!(c.daemon_poll_interval_blocks, Duration::from_millis(5000));
    assert_eq!(c.daemon_poll_interval_mempool, Duration::from_millis(5000));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn network_defaults() {
    let expected = [
        ("mainnet", 8332, 200, true),
        ("testnet", 18332, 8000, false),
        ("testnet4", 48332, 8000, false),
        ("signet", 38332, 8000, false),
        ("regtest", 18443, 8000, false),
    ];
    for (net, port, reorg_limit, blacklist) in expected {
        let c = config(&[("NET", net), ("DAEMON_URL", "u:p@node")]);
        assert_eq!(c.net.name(), net);
        assert_eq!(c.daemon_endpoints[0].port, port, "{net}");
        assert_eq!(c.reorg_limit, reorg_limit, "{net}");
        assert_eq!(c.blacklist_url.is_some(), blacklist, "{net}");
        assert_eq!(c.genesis_hash(), c.net.genesis_hash());
    }
    assert_eq!(
        config(&[("NET", "regtest")]).genesis_hash().to_string(),
        "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
    );
    assert_eq!(config(&[("NET", " TestNet4 ")]).net, Net::Testnet4);
}

#[test]
fn bad_enumerations_are_named() {
    for (var, value) in [
        ("COIN", "BitcoinCash"),
        ("NET", "mutinynet"),
        ("LOG_LEVEL", "verbose"),
        ("DB_ENGINE", "leveldb"),
        ("DB_ENGINE", "lmdb"),
        ("EVENT_LOOP_POLICY", "asyncio"),
        ("DROP_CLIENT", r"1\.[0-2"),
    ] {
        assert_names(&error(&[(var, value)]), var);
    }
    assert_eq!(config(&[("COIN", " bitcoin ")]).coin, Coin::Bitcoin);
    assert_eq!(config(&[("LOG_LEVEL", "Debug")]).log_level, LogLevel::Debug);
    assert!(config(&[("DB_ENGINE", "RocksDB")]).warnings.is_empty());
}

#[test]
fn malformed_numbers_are_named() {
    let numeric =
        "CACHE_MB REORG_LIMIT LOG_SESSIONS MAX_SESSIONS MAX_SEND MAX_RECV COST_SOFT_LIMIT \
         COST_HARD_LIMIT REQUEST_SLEEP INITIAL_CONCURRENT BANDWIDTH_UNIT_COST \
         REQUEST_TIMEOUT SESSION_TIMEOUT SEND_TIMEOUT SESSION_GROUP_BY_SUBNET_IPV4 \
         SESSION_GROUP_BY_SUBNET_IPV6 TOR_PROXY_PORT DAEMON_POLL_INTERVAL_BLOCKS \
         DAEMON_POLL_INTERVAL_MEMPOOL SESSION_TIMEOUT_CHECK"
            .split_whitespace();
    for var in numeric {
        for bad in ["x", "", "1.5", "-1", "99999999999999999999999"] {
            assert_names(&error(&[(var, bad)]), var);
        }
    }
    let e = error(&[("CACHE_MB", "lots")]);
    assert_eq!(e.to_string(), "CACHE_MB: \"lots\" is not an integer");
    assert_eq!(config(&[("CACHE_MB", " 2_000 ")]).cache_mb, 2000);
    for (var, bad) in [
        ("SESSION_GROUP_BY_SUBNET_IPV4", "33"),
        ("SESSION_GROUP_BY_SUBNET_IPV6", "129"),
        ("TOR_PROXY_PORT", "0"),
        ("TOR_PROXY_PORT", "65536"),
        ("BANDWIDTH_UNIT_COST", "0"),
        ("SEND_TIMEOUT", "0"),
        ("SESSION_TIMEOUT_CHECK", "0"),
    ] {
        assert_names(&error(&[(var, bad)]), var);
    }
}

#[test]
fn numbers_and_durations_are_typed() {
    let c = config(&[
        ("REQUEST_SLEEP", "100"),
        ("REQUEST_TIMEOUT", "5"),
        ("SESSION_TIMEOUT", "60"),
        ("SEND_TIMEOUT", "3"),
        ("SESSION_TIMEOUT_CHECK", "2"),
        ("LOG_SESSIONS", "0"),
        ("TOR_PROXY_PORT", "9150"),
        ("REORG_LIMIT", "1000"),
    ]);
    assert_eq!(c.request_sleep, Duration::from_millis(100));
    assert_eq!(c.request_timeout, Duration::from_secs(5));
    assert_eq!(c.session_timeout, Duration::from_secs(60));
    assert_eq!(c.send_timeout, Duration::from_secs(3));
    assert_eq!(c.session_timeout_check, Duration::from_secs(2));
    assert_eq!(c.log_sessions, None);
    assert_eq!(c.tor_proxy_port, Some(9150));
    assert_eq!(c.reorg_limit, 1000);
}

#[test]
fn max_send_has_a_floor() {
    let c = config(&[("MAX_SEND", "1000")]);
    assert_eq!(c.max_send, 350_000);
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert_eq!(config(&[("MAX_SEND", "8100000")]).max_send, 8_100_000);
}

#[test]
fn cost_limits_are_checked_as_electrumx_does() {
    assert_names(
        &error(&[("COST_SOFT_LIMIT", "100"), ("COST_HARD_LIMIT", "99")]),
        "COST_HARD_LIMIT",
    );
    let c = config(&[("COST_SOFT_LIMIT", "100"), ("COST_HARD_LIMIT", "100")]);
    assert_eq!((c.cost_soft_limit, c.cost_hard_limit), (100, 101));
    let c = config(&[("COST_SOFT_LIMIT", "0"), ("COST_HARD_LIMIT", "0")]);
    assert_eq!((c.cost_soft_limit, c.cost_hard_limit), (0, 0));
}

#[test]
fn booleans_are_any_non_empty_value() {
    for (value, expected) in [("1", true), ("yes", true), ("", false), ("  ", false)] {
        let c = config(&[("ANON_LOGS", value), ("PEER_ANNOUNCE", value)]);
        assert_eq!(
            (c.anon_logs, c.peer_announce),
            (expected, expected),
            "{value:?}"
        );
    }
    let c = config(&[("ANON_LOGS", "false")]);
    assert!(c.anon_logs);
    assert!(
        c.warnings[0].starts_with("ANON_LOGS=false counts as true"),
        "{:?}",
        c.warnings
    );
    let c = config(&[
        ("ALLOW_ROOT", "x"),
        ("FORCE_PROXY", "x"),
        ("DROP_CLIENT_UNKNOWN", "x"),
    ]);
    assert!(c.allow_root && c.force_proxy && c.drop_client_unknown);
}

#[test]
fn obsolete_variables_are_refused() {
    let obsolete = "MAX_SUBSCRIPTIONS MAX_SUBS MAX_SESSION_SUBS BANDWIDTH_LIMIT HOST TCP_PORT \
         SSL_PORT RPC_HOST RPC_PORT REPORT_HOST REPORT_TCP_PORT REPORT_SSL_PORT \
         REPORT_HOST_TOR REPORT_TCP_PORT_TOR REPORT_SSL_PORT_TOR"
        .split_whitespace();
    for var in obsolete {
        let e = error(&[(var, "1")]);
        assert_eq!(e, ConfigError::Obsolete(vec![var]));
        assert_names(&e, var);
        // ElectrumX ignores them when empty.
        config(&[(var, "")]);
    }
    let e = error(&[("TCP_PORT", "50001"), ("REPORT_HOST", "h")]);
    assert_eq!(
        e.to_string(),
        "TCP_PORT, REPORT_HOST: obsolete environment variables, remove them \
         (use SERVICES; use REPORT_SERVICES)"
    );
}

#[test]
fn accepted_with_a_warning() {
    for (var, value) in [
        ("EVENT_LOOP_POLICY", "uvloop"),
        ("LOG_FORMAT", "%(message)s"),
        ("COIN", "BitcoinSegwit"),
        ("PEER_DISCOVERY", "maybe"),
        ("DROP_CLIENT", ""),
    ] {
        let c = config(&[(var, value)]);
        assert_eq!(c.warnings.len(), 1, "{var}: {:?}", c.warnings);
        assert!(c.warnings[0].starts_with(var), "{:?}", c.warnings);
    }
    assert_eq!(
        config(&[("PEER_DISCOVERY", "maybe")]).peer_discovery,
        PeerDiscovery::On
    );
    assert_eq!(
        config(&[("PEER_DISCOVERY", "self")]).peer_discovery,
        PeerDiscovery::SelfOnly
    );
    assert_eq!(
        config(&[("PEER_DISCOVERY", "OFF")]).peer_discovery,
        PeerDiscovery::Off
    );
}

#[test]
fn misc_strings_and_files() {
    let c = config(&[
        ("DONATION_ADDRESS", "bc1qexample"),
        ("BANNER_FILE", "/etc/banner"),
        ("TOR_BANNER_FILE", "tor-banner"),
        ("BLACKLIST_URL", ""),
        ("TOR_PROXY_HOST", "10.0.0.5"),
        ("DROP_CLIENT", r"1\.[0-2]\.\d+"),
    ]);
    assert_eq!(c.donation_address, "bc1qexample");
    assert_eq!(c.banner_path(false), Some(Path::new("/etc/banner")));
    assert_eq!(
        c.banner_path(true),
        Some(Path::new("/var/lib/ferrumx/tor-banner"))
    );
    assert_eq!(c.blacklist_url, None);
    assert_eq!(c.tor_proxy_host, "10.0.0.5");
    let filter = c
        .drop_client
        .as_ref()
        .map(|f| (f.matches("1.2.3"), f.matches("2.0")));
    assert_eq!(filter, Some((true, false)));
    let c = config(&[("BANNER_FILE", "b"), ("TOR_BANNER_FILE", "")]);
    assert_eq!(c.banner_path(true), None);
}

/// The examples of valid services in ElectrumX's documentation, parsed with the grammar's
/// defaults spelled out (the doc's "default protocol" example needs one; say tcp).
#[test]
fn documented_service_examples() {
    let with_protocol = ServiceDefaults {
        protocol: Some(Protocol::Tcp),
        ..ServiceDefaults::LISTEN
    };
    let examples = [
        (
            "tcp://host.domain.tld:50001",
            Service::new(Protocol::Tcp, name("host.domain.tld"), 50001),
        ),
        (
            "SSL://23.45.67.78:50002",
            Service::new(Protocol::Ssl, ip("23.45.67.78"), 50002),
        ),
        (
            "rpC://localhost",
            Service::new(Protocol::Rpc, name("localhost"), 8000),
        ),
        (
            "ws://[1234:5678:abcd::5601]:8000",
            Service::new(Protocol::Ws, ip("1234:5678:abcd::5601"), 8000),
        ),
        (
            "wss://h3ubaasdlkheryasd.onion:50001",
            Service::new(Protocol::Wss, name("h3ubaasdlkheryasd.onion"), 50001),
        ),
        (
            "rpc://:8000",
            Service::new(Protocol::Rpc, name("localhost"), 8000),
        ),
        (
            "host.domain.tld:5151",
            Service::new(Protocol::Tcp, name("host.domain.tld"), 5151),
        ),
        (
            "rpc://",
            Service::new(Protocol::Rpc, name("localhost"), 8000),
        ),
    ];
    for (text, expected) in examples {
        assert_eq!(Service::parse(text, &with_protocol), Ok(expected), "{text}");
    }
    // SERVICES has no default protocol, so the "default protocol" example is refused there.
    assert!(listen_services("host.domain.tld:5151").is_err());
    assert_eq!(
        Service::parse("ws://[1234:5678:abcd::5601]:8000", &ServiceDefaults::NONE)
            .map(|s| s.to_string()),
        Ok("ws://[1234:5678:abcd::5601]:8000".to_owned())
    );
}

#[test]
fn documented_services_value() {
    let c = config(&[
        ("SERVICES", "tcp://:50001,ssl://:50002,wss://:50004,rpc://"),
        ("SSL_CERTFILE", "/etc/ssl/server.crt"),
        ("SSL_KEYFILE", "/etc/ssl/server.key"),
    ]);
    assert_eq!(
        c.services,
        [
            Service::new(Protocol::Tcp, ServiceHost::AllInterfaces, 50001),
            Service::new(Protocol::Ssl, ServiceHost::AllInterfaces, 50002),
            Service::new(Protocol::Wss, ServiceHost::AllInterfaces, 50004),
            Service::new(Protocol::Rpc, name("localhost"), 8000),
        ]
    );
    assert_eq!(
        c.ssl_certfile.as_deref(),
        Some(Path::new("/etc/ssl/server.crt"))
    );
    assert_eq!(
        c.services[0].to_string(),
        "tcp://all_interfaces:50001",
        "ElectrumX's spelling"
    );
}

#[test]
fn documented_report_services_value() {
    let c = config(&[(
        "REPORT_SERVICES",
        "tcp://sv.usebsv.com:50001,ssl://sv.usebsv.com:50002,wss://sv.usebsv.com:50004",
    )]);
    let host = name("sv.usebsv.com");
    assert_eq!(
        c.report_services,
        [
            Service::new(Protocol::Tcp, host.clone(), 50001),
            Service::new(Protocol::Ssl, host.clone(), 50002),
            Service::new(Protocol::Wss, host, 50004),
        ]
    );
}

#[test]
fn services_the_docs_call_invalid() {
    for bad in [
        "tcp://host",                          // port can only be defaulted for rpc
        "ssl://",                              // likewise
        "wss://h3ubaasdlkheryasd.onion:50001", // onion addresses are invalid in SERVICES
        "tcp://:0",                            // port from 1 to 65535
        "tcp://:65536",
        "tcp://:x",
        "gopher://:70",             // not a recognised protocol
        "tcp://1234:5678::1:50001", // IPv6 needs brackets
        "tcp://[1234:5678::1:50001",
        "tcp://bad_host!:1",
        "tcp://:50001,ssl://:50001", // two services on one address
        "rpc,rpc://localhost:8000",
        "host.domain.tld:5151", // no default protocol in SERVICES
    ] {
        assert_names(&error(&[("SERVICES", bad)]), "SERVICES");
    }
    for bad in [
        "rpc://h.example.com:8000", // rpc is invalid in REPORT_SERVICES
        "tcp://localhost:50001",    // so is localhost
        "tcp://0.0.0.0:50001",      // and special addresses
        "tcp://[::]:50001",
        "tcp://224.0.0.1:50001",
        "tcp://192.168.1.10:50001", // private, while peer discovery announces us
        "tcp://10.0.0.1:50001",
        "tcp://h.example.com", // no defaults at all
        "tcp://:50001",
        "h.example.com:50001",
        "tcp://a.com:1,ssl://a.com:1",
    ] {
        assert_names(&error(&[("REPORT_SERVICES", bad)]), "REPORT_SERVICES");
    }
    let private = [
        ("REPORT_SERVICES", "tcp://192.168.1.10:50001"),
        ("PEER_ANNOUNCE", ""),
    ];
    assert_eq!(config(&private).report_services.len(), 1);
    assert!(report_services("wss://h3ubaasdlkheryasd.onion:50001", true).is_ok());
}

#[test]
fn service_list_details() {
    assert_eq!(parse_services("", &ServiceDefaults::LISTEN), Ok(vec![]));
    assert_eq!(config(&[("SERVICES", "")]).services, []);
    let c = config(&[("SERVICES", "tcp://127.0.0.1:50001,tcp://[::1]:50001,,rpc")]);
    assert_eq!(c.services.len(), 3);
    let e = error(&[("SERVICES", "tcp://:50001,ws://all_interfaces:50001")]);
    assert_eq!(
        e.to_string(),
        "SERVICES: address all_interfaces:50001 has multiple services"
    );
}

#[test]
fn ssl_services_need_certificate_and_key() {
    for services in ["ssl://:50002", "wss://:50004"] {
        assert_names(&error(&[("SERVICES", services)]), "SSL_CERTFILE");
        assert_names(
            &error(&[("SERVICES", services), ("SSL_CERTFILE", "c")]),
            "SSL_KEYFILE",
        );
        config(&[
            ("SERVICES", services),
            ("SSL_CERTFILE", "c"),
            ("SSL_KEYFILE", "k"),
        ]);
    }
    config(&[("SERVICES", "tcp://:50001,ws://:50003")]);
}

fn endpoints(url: &str, net: &str) -> Result<Vec<DaemonEndpoint>, String> {
    Config::from_vars(&vars(&[("DAEMON_URL", url), ("NET", net)]))
        .map(|c| c.daemon_endpoints)
        .map_err(|e| e.to_string())
}

fn user_pass(user: &str, password: &str) -> DaemonAuth {
    DaemonAuth::UserPass {
        user: user.to_owned(),
        password: Secret(password.to_owned()),
    }
}

#[test]
fn daemon_url_forms() {
    let one = |host: &str, port, auth| DaemonEndpoint {
        host: host.to_owned(),
        port,
        auth,
    };
    assert_eq!(
        endpoints("http://u:p@node1:8332/,u2:p2@node2,[::1]:18443", "mainnet"),
        Ok(vec![
            one("node1", 8332, user_pass("u", "p")),
            one("node2", 8332, user_pass("u2", "p2")),
            one("::1", 18443, DaemonAuth::None),
        ])
    );
    for (net, port) in [
        ("mainnet", 8332),
        ("testnet", 18332),
        ("testnet4", 48332),
        ("signet", 38332),
        ("regtest", 18443),
    ] {
        for url in ["u:p@h", "http://u:p@h/", "u:p@h//"] {
            assert_eq!(
                endpoints(url, net),
                Ok(vec![one("h", port, user_pass("u", "p"))])
            );
        }
        let v6 = endpoints("http://u:p@[2001:db8::7]/", net);
        assert_eq!(v6, Ok(vec![one("2001:db8::7", port, user_pass("u", "p"))]));
    }
    assert_eq!(
        endpoints(
            "__cookie__:/home/bitcoin/.bitcoin/regtest/.cookie@127.0.0.1",
            "regtest"
        ),
        Ok(vec![one(
            "127.0.0.1",
            18443,
            DaemonAuth::CookieFile("/home/bitcoin/.bitcoin/regtest/.cookie".into())
        )])
    );
    assert_eq!(
        endpoints("u:p@h:x", "mainnet"),
        Err("DAEMON_URL: port \"x\" is not a number".into())
    );
    for bad in "u:p@h:0 u:p@h:65536 u:p@::1 https://u:p@h u:p@h/wallet/w u:p@h, __cookie__:@h"
        .split_whitespace()
    {
        let e = Config::from_vars(&vars(&[("DAEMON_URL", bad)])).err();
        let e = e.unwrap_or_else(|| panic!("{bad} accepted"));
        assert_names(&e, "DAEMON_URL");
    }
}

#[test]
fn debug_never_shows_passwords() {
    let c = config(&[
        ("DAEMON_URL", "u:hunter2@a,http://v:s%33cret@b:1/"),
        ("SERVICES", "tcp://:50001"),
    ]);
    assert_eq!(c.daemon_endpoints[1].auth, user_pass("v", "s3cret"));
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("s3cret"),
        "{shown}"
    );
    assert!(!format!("{c:#?}").contains("hunter2"));
    let e = error(&[("DAEMON_URL", "u:hunter2@h:bad")]);
    assert!(!format!("{e:?} {e}").contains("hunter2"), "{e}");
}
