//! Configuration: ElectrumX's environment variables → typed, validated settings.
//!
//! Names, defaults and meanings are ElectrumX's (see `docs/environment.md` for every
//! variable and where FerrumX differs). Everything is read and checked once, at start;
//! errors name the variable on one line, and oddities worth telling the operator about are
//! collected in [`Config::warnings`] for the caller to log.
//!
//! Layout: `env` (typed accessors), `net` (COIN, NET and what follows), `daemon_url`
//! (DAEMON_URL, credentials), `services` (SERVICES, REPORT_SERVICES), `host` (host names and
//! address classes), `values` (LOG_LEVEL, PEER_DISCOVERY, DROP_CLIENT), `limits` (root and
//! open-file checks at start), `defaults` (ElectrumX's defaults of the session and cost
//! settings), `error`.
//!
//! Who uses whom: `mod.rs` (the [`Config`] struct and its reading) uses its children; of the
//! children, `env` and `limits` use `error`, `services` uses `host`, `daemon_url` uses `host`
//! and `services`, and no child uses `mod.rs`.

mod daemon_url;
pub mod defaults;
mod env;
mod error;
mod host;
pub(crate) use host::is_valid_hostname;
mod limits;
mod net;
mod services;
mod values;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use daemon_url::{parse_daemon_urls, DaemonAuth, DaemonEndpoint, Secret, COOKIE_USER};
pub use error::ConfigError;
pub use limits::sane_max_sessions;
pub use net::{Coin, Net};
pub use services::{
    listen_services, parse_services, report_services, Protocol, Service, ServiceDefaults,
    ServiceHost,
};
pub use values::{ClientFilter, LogLevel, PeerDiscovery};

use env::Env;
use error::{invalid, OBSOLETE};

/// MAX_SEND is never below this: a headers "chunk" response is almost that large.
pub const MIN_MAX_SEND: usize = 350_000;

/// Every variable FerrumX reads (obsolete ones included).
pub const VARIABLES: &[&str] = &[
    "COIN",
    "NET",
    "DB_DIRECTORY",
    "DB_ENGINE",
    "DAEMON_URL",
    "SERVICES",
    "REPORT_SERVICES",
    "SSL_CERTFILE",
    "SSL_KEYFILE",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "ALLOW_ROOT",
    "DONATION_ADDRESS",
    "BANNER_FILE",
    "TOR_BANNER_FILE",
    "ANON_LOGS",
    "LOG_SESSIONS",
    "REORG_LIMIT",
    "EVENT_LOOP_POLICY",
    "DROP_CLIENT",
    "DROP_CLIENT_UNKNOWN",
    "MAX_SESSIONS",
    "MAX_SEND",
    "MAX_RECV",
    "COST_SOFT_LIMIT",
    "COST_HARD_LIMIT",
    "REQUEST_SLEEP",
    "INITIAL_CONCURRENT",
    "SESSION_GROUP_BY_SUBNET_IPV4",
    "SESSION_GROUP_BY_SUBNET_IPV6",
    "SESSION_GROUP_PRIVATE",
    "BANDWIDTH_UNIT_COST",
    "REQUEST_TIMEOUT",
    "SESSION_TIMEOUT",
    "SEND_TIMEOUT",
    "SESSION_TIMEOUT_CHECK",
    "PEER_DISCOVERY",
    "PEER_ANNOUNCE",
    "FORCE_PROXY",
    "TOR_PROXY_HOST",
    "TOR_PROXY_PORT",
    "BLACKLIST_URL",
    "CACHE_MB",
    "DAEMON_POLL_INTERVAL_BLOCKS",
    "DAEMON_POLL_INTERVAL_MEMPOOL",
    "MAX_SUBSCRIPTIONS",
    "MAX_SUBS",
    "MAX_SESSION_SUBS",
    "BANDWIDTH_LIMIT",
    "HOST",
    "TCP_PORT",
    "SSL_PORT",
    "RPC_HOST",
    "RPC_PORT",
    "REPORT_HOST",
    "REPORT_TCP_PORT",
    "REPORT_SSL_PORT",
    "REPORT_HOST_TOR",
    "REPORT_TCP_PORT_TOR",
    "REPORT_SSL_PORT_TOR",
];

/// The validated settings. `Debug` is safe to log: passwords live only in [`Secret`].
///
/// Relative BANNER_FILE, TOR_BANNER_FILE, SSL_CERTFILE and SSL_KEYFILE paths are already
/// resolved against DB_DIRECTORY (ElectrumX changes into DB_DIRECTORY before reading them).
#[derive(Clone, Debug)]
pub struct Config {
    // Core
    /// COIN (required): Bitcoin.
    pub coin: Coin,
    /// NET, default mainnet.
    pub net: Net,
    /// DB_DIRECTORY (required), as given (relative to the working directory).
    pub db_dir: PathBuf,
    /// DAEMON_URL (required): failover order.
    pub daemon_endpoints: Vec<DaemonEndpoint>,

    // Services
    /// SERVICES: where to listen; empty by default (no listening).
    pub services: Vec<Service>,
    /// REPORT_SERVICES: what to advertise; empty by default.
    pub report_services: Vec<Service>,
    /// SSL_CERTFILE: required when SERVICES has `ssl` or `wss`.
    pub ssl_certfile: Option<PathBuf>,
    /// SSL_KEYFILE: required when SERVICES has `ssl` or `wss`.
    pub ssl_keyfile: Option<PathBuf>,

    // Miscellaneous
    /// LOG_LEVEL, default info.
    pub log_level: LogLevel,
    /// ALLOW_ROOT, default false.
    pub allow_root: bool,
    /// ANON_LOGS, default false: redact IP addresses in logs.
    pub anon_logs: bool,
    /// LOG_SESSIONS, default 3600 s; `None` when 0 (no periodic session log).
    pub log_sessions: Option<Duration>,
    /// DONATION_ADDRESS, default empty.
    pub donation_address: String,
    /// BANNER_FILE, default none.
    pub banner_file: Option<PathBuf>,
    /// TOR_BANNER_FILE, default BANNER_FILE.
    pub tor_banner_file: Option<PathBuf>,
    /// REORG_LIMIT, default 200 on mainnet, 8,000 elsewhere.
    pub reorg_limit: u32,
    /// DROP_CLIENT, default none.
    pub drop_client: Option<ClientFilter>,
    /// DROP_CLIENT_UNKNOWN, default false (ElectrumX 1.16–1.18).
    pub drop_client_unknown: bool,
    /// CACHE_MB, default 1,200.
    pub cache_mb: u64,
    /// DAEMON_POLL_INTERVAL_BLOCKS, default 5,000 ms.
    pub daemon_poll_interval_blocks: Duration,
    /// DAEMON_POLL_INTERVAL_MEMPOOL, default 5,000 ms.
    pub daemon_poll_interval_mempool: Duration,

    // Resource limits
    /// MAX_SESSIONS, default 1,000 (see [`sane_max_sessions`]).
    pub max_sessions: usize,
    /// MAX_SEND, default 1,000,000, never below [`MIN_MAX_SEND`].
    pub max_send: usize,
    /// MAX_RECV, default 1,000,000.
    pub max_recv: usize,
    /// COST_SOFT_LIMIT, default 1,000.
    pub cost_soft_limit: u64,
    /// COST_HARD_LIMIT, default 10,000; raised to soft + 1 when equal to a non-zero soft
    /// limit.
    pub cost_hard_limit: u64,
    /// REQUEST_SLEEP, default 2,500 ms.
    pub request_sleep: Duration,
    /// INITIAL_CONCURRENT, default 10.
    pub initial_concurrent: usize,
    /// BANDWIDTH_UNIT_COST, default 5,000 bytes.
    pub bandwidth_unit_cost: u64,
    /// REQUEST_TIMEOUT, default 30 s.
    pub request_timeout: Duration,
    /// SESSION_TIMEOUT, default 600 s.
    pub session_timeout: Duration,
    /// SESSION_TIMEOUT_CHECK (FerrumX), default 60 s (ElectrumX's fixed period): how often
    /// sessions are checked against SESSION_TIMEOUT.
    pub session_timeout_check: Duration,
    /// SEND_TIMEOUT (FerrumX), default 20 s (aiorpcX's fixed `max_send_delay`): a session
    /// whose writes make no progress for this long is closed.
    pub send_timeout: Duration,
    /// SESSION_GROUP_BY_SUBNET_IPV4, default 24 (prefix length).
    pub session_group_by_subnet_ipv4: u8,
    /// SESSION_GROUP_BY_SUBNET_IPV6, default 48 (prefix length).
    pub session_group_by_subnet_ipv6: u8,
    /// SESSION_GROUP_PRIVATE (FerrumX), default false: give private addresses (loopback,
    /// LAN) subnet groups too; ElectrumX leaves them out of every group.
    pub session_group_private: bool,

    // Peers
    /// PEER_DISCOVERY, default on.
    pub peer_discovery: PeerDiscovery,
    /// PEER_ANNOUNCE, default true.
    pub peer_announce: bool,
    /// FORCE_PROXY, default false.
    pub force_proxy: bool,
    /// TOR_PROXY_HOST, default localhost.
    pub tor_proxy_host: String,
    /// TOR_PROXY_PORT, default none (autodetect 9050, 9150, 1080).
    pub tor_proxy_port: Option<u16>,
    /// BLACKLIST_URL, default Electrum's list on mainnet, none elsewhere; none when empty.
    pub blacklist_url: Option<String>,

    /// Things the operator should hear about, for the caller to log as warnings.
    pub warnings: Vec<String>,
}

impl Config {
    /// Reads the process environment.
    ///
    /// # Errors
    /// See [`Config::from_vars`]; also a variable FerrumX reads whose value is not UTF-8.
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut vars = HashMap::new();
        for (name, value) in std::env::vars_os() {
            let Ok(name) = name.into_string() else {
                continue;
            };
            match value.into_string() {
                Ok(value) => {
                    vars.insert(name, value);
                }
                Err(_) => {
                    if let Some(var) = VARIABLES.iter().find(|v| **v == name) {
                        return Err(invalid(var, "value is not valid UTF-8"));
                    }
                }
            }
        }
        Config::from_vars(&vars)
    }

    /// Reads the given variables (the process environment is not touched).
    ///
    /// # Errors
    /// The first problem found: a required variable missing, a value that does not parse
    /// or is out of range, an obsolete variable set, or an unsupported choice.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let mut env = Env::new(vars);
        let allow_root = env.boolean("ALLOW_ROOT", false);
        read_event_loop_policy(&mut env)?;
        let obsolete: Vec<&'static str> = OBSOLETE
            .iter()
            .map(|(var, _)| *var)
            .filter(|var| env.non_empty(var).is_some())
            .collect();
        if !obsolete.is_empty() {
            return Err(ConfigError::Obsolete(obsolete));
        }

        let db_dir = PathBuf::from(env.required("DB_DIRECTORY")?);
        read_db_engine(&env)?;
        let daemon_url = env.required("DAEMON_URL")?;
        let (coin, legacy_name) =
            Coin::parse(env.required("COIN")?).map_err(|e| invalid("COIN", e))?;
        if legacy_name {
            env.warnings.push(
                "COIN=BitcoinSegwit is the legacy name (ElectrumX 1.17+ refuses it): prefer \
                 COIN=Bitcoin"
                    .into(),
            );
        }
        let net = Net::parse(env.get("NET").unwrap_or("mainnet")).map_err(|e| invalid("NET", e))?;
        let daemon_endpoints = parse_daemon_urls(daemon_url, net.default_rpc_port())
            .map_err(|e| invalid("DAEMON_URL", e))?;

        let peer_discovery = match env.get("PEER_DISCOVERY") {
            None => PeerDiscovery::On,
            Some(value) => {
                let (mode, known) = PeerDiscovery::parse(value);
                if !known {
                    env.warnings.push(format!(
                        "PEER_DISCOVERY={value:?} is read as \"on\" (as ElectrumX does): use \
                         on, off or self"
                    ));
                }
                mode
            }
        };
        let peer_announce = env.boolean("PEER_ANNOUNCE", true);
        let force_proxy = env.boolean("FORCE_PROXY", false);
        let tor_proxy_host = env.get("TOR_PROXY_HOST").unwrap_or("localhost").to_owned();
        let tor_proxy_port = env.optional_integer::<u16>("TOR_PROXY_PORT")?;
        if tor_proxy_port == Some(0) {
            return Err(invalid("TOR_PROXY_PORT", "0 is not a port"));
        }

        let in_db_dir = |path: &str| db_dir.join(path);
        let banner_file = env.non_empty("BANNER_FILE").map(in_db_dir);
        let tor_banner_file = match env.get("TOR_BANNER_FILE") {
            None => banner_file.clone(),
            Some(path) => Some(path).filter(|p| !p.is_empty()).map(in_db_dir),
        };
        let anon_logs = env.boolean("ANON_LOGS", false);
        let log_sessions =
            Some(env.seconds("LOG_SESSIONS", defaults::LOG_SESSIONS_S)?).filter(|d| !d.is_zero());
        let log_level = LogLevel::parse(env.get("LOG_LEVEL").unwrap_or("info"))
            .map_err(|e| invalid("LOG_LEVEL", e))?;
        if env.get("LOG_FORMAT").is_some() {
            env.warnings.push(
                "LOG_FORMAT is ignored: it is a Python logging format, and FerrumX has its \
                 own"
                .into(),
            );
        }
        let donation_address = env.get("DONATION_ADDRESS").unwrap_or_default().to_owned();
        let drop_client = match env.get("DROP_CLIENT") {
            None => None,
            Some("") => {
                env.warnings.push(
                    "DROP_CLIENT is empty: no clients are dropped (ElectrumX would drop every \
                     client)"
                        .into(),
                );
                None
            }
            Some(pattern) => {
                Some(ClientFilter::new(pattern).map_err(|e| invalid("DROP_CLIENT", e))?)
            }
        };
        let drop_client_unknown = env.boolean("DROP_CLIENT_UNKNOWN", false);
        let blacklist_url = match env.get("BLACKLIST_URL") {
            None => net.default_blacklist_url().map(str::to_owned),
            Some(url) => Some(url.to_owned()).filter(|u| !u.is_empty()),
        };
        let cache_mb = env.integer("CACHE_MB", 1200u64)?;
        let reorg_limit = env.integer("REORG_LIMIT", net.default_reorg_limit())?;
        let daemon_poll_interval_blocks = env.millis("DAEMON_POLL_INTERVAL_BLOCKS", 5000)?;
        let daemon_poll_interval_mempool = env.millis("DAEMON_POLL_INTERVAL_MEMPOOL", 5000)?;

        let mut max_send = env.integer("MAX_SEND", defaults::MAX_SEND)?;
        if max_send < MIN_MAX_SEND {
            env.warnings.push(format!(
                "MAX_SEND={max_send} is below the minimum: using {MIN_MAX_SEND}"
            ));
            max_send = MIN_MAX_SEND;
        }
        let max_recv = env.integer("MAX_RECV", defaults::MAX_RECV)?;
        let max_sessions = env.integer("MAX_SESSIONS", defaults::MAX_SESSIONS)?;
        let cost_soft_limit = env.integer("COST_SOFT_LIMIT", defaults::COST_SOFT_LIMIT)?;
        let mut cost_hard_limit = env.integer("COST_HARD_LIMIT", defaults::COST_HARD_LIMIT)?;
        let bandwidth_unit_cost =
            env.integer_at_least("BANDWIDTH_UNIT_COST", defaults::BANDWIDTH_UNIT_COST, 1)?;
        let initial_concurrent = env.integer("INITIAL_CONCURRENT", defaults::INITIAL_CONCURRENT)?;
        let request_sleep = env.millis("REQUEST_SLEEP", defaults::REQUEST_SLEEP_MS)?;
        let request_timeout = env.seconds("REQUEST_TIMEOUT", defaults::REQUEST_TIMEOUT_S)?;
        let session_timeout = env.seconds("SESSION_TIMEOUT", defaults::SESSION_TIMEOUT_S)?;
        let session_timeout_check = Duration::from_secs(env.integer_at_least(
            "SESSION_TIMEOUT_CHECK",
            defaults::SESSION_TIMEOUT_CHECK_S,
            1,
        )?);
        let send_timeout = Duration::from_secs(env.integer_at_least(
            "SEND_TIMEOUT",
            defaults::SEND_TIMEOUT_S,
            1,
        )?);
        let session_group_by_subnet_ipv4 = env.integer_at_most(
            "SESSION_GROUP_BY_SUBNET_IPV4",
            defaults::SESSION_GROUP_BY_SUBNET_IPV4,
            32,
        )?;
        let session_group_by_subnet_ipv6 = env.integer_at_most(
            "SESSION_GROUP_BY_SUBNET_IPV6",
            defaults::SESSION_GROUP_BY_SUBNET_IPV6,
            128,
        )?;
        let session_group_private = env.boolean("SESSION_GROUP_PRIVATE", false);
        if initial_concurrent == 0 {
            env.warnings.push(
                "INITIAL_CONCURRENT=0: no client request will ever be served (each waits for \
                 REQUEST_TIMEOUT, as in ElectrumX)"
                    .into(),
            );
        }
        if cost_hard_limit < cost_soft_limit {
            return Err(invalid(
                "COST_HARD_LIMIT",
                format!(
                    "must be >= COST_SOFT_LIMIT (got COST_HARD_LIMIT={cost_hard_limit} and \
                     COST_SOFT_LIMIT={cost_soft_limit})"
                ),
            ));
        }
        if cost_hard_limit == cost_soft_limit && cost_soft_limit > 0 {
            cost_hard_limit = cost_soft_limit + 1;
            env.warnings.push(format!(
                "COST_HARD_LIMIT equals COST_SOFT_LIMIT: raised to {cost_hard_limit}"
            ));
        }

        let services = listen_services(env.get("SERVICES").unwrap_or_default())
            .map_err(|e| invalid("SERVICES", e))?;
        let (ssl_certfile, ssl_keyfile) = if services.iter().any(|s| s.protocol.uses_tls()) {
            let reason = "required because SERVICES has an ssl or wss service";
            let file = |var: &'static str| match env.non_empty(var) {
                Some(path) => Ok(Some(in_db_dir(path))),
                None => Err(invalid(var, reason)),
            };
            (file("SSL_CERTFILE")?, file("SSL_KEYFILE")?)
        } else {
            (
                env.non_empty("SSL_CERTFILE").map(in_db_dir),
                env.non_empty("SSL_KEYFILE").map(in_db_dir),
            )
        };
        let report_services = report_services(
            env.get("REPORT_SERVICES").unwrap_or_default(),
            peer_announce,
        )
        .map_err(|e| invalid("REPORT_SERVICES", e))?;

        Ok(Config {
            coin,
            net,
            db_dir,
            daemon_endpoints,
            services,
            report_services,
            ssl_certfile,
            ssl_keyfile,
            log_level,
            allow_root,
            anon_logs,
            log_sessions,
            donation_address,
            banner_file,
            tor_banner_file,
            reorg_limit,
            drop_client,
            drop_client_unknown,
            cache_mb,
            daemon_poll_interval_blocks,
            daemon_poll_interval_mempool,
            max_sessions,
            max_send,
            max_recv,
            cost_soft_limit,
            cost_hard_limit,
            request_sleep,
            initial_concurrent,
            bandwidth_unit_cost,
            request_timeout,
            session_timeout,
            session_timeout_check,
            send_timeout,
            session_group_by_subnet_ipv4,
            session_group_by_subnet_ipv6,
            session_group_private,
            peer_discovery,
            peer_announce,
            force_proxy,
            tor_proxy_host,
            tor_proxy_port,
            blacklist_url,
            warnings: env.warnings,
        })
    }

    /// The network's genesis block hash (to check against the daemon at start).
    pub fn genesis_hash(&self) -> bitcoin::BlockHash {
        self.net.genesis_hash()
    }

    /// TOR_PROXY_HOST when TOR_PROXY_PORT is set: the address connections from the Tor
    /// hidden service come from.
    pub fn tor_proxy(&self) -> Option<&str> {
        self.tor_proxy_port.map(|_| self.tor_proxy_host.as_str())
    }

    /// The banner file for a session: TOR_BANNER_FILE for Tor sessions, else BANNER_FILE.
    pub fn banner_path(&self, tor: bool) -> Option<&Path> {
        if tor {
            self.tor_banner_file.as_deref()
        } else {
            self.banner_file.as_deref()
        }
    }

    /// Does what ElectrumX does at start about open files: raises the soft RLIMIT_NOFILE to
    /// the hard limit, then lowers [`Config::max_sessions`] to fit what it got. Returns what
    /// the operator should be told (to log as warnings).
    pub fn fit_open_file_limit(&mut self) -> Vec<String> {
        let (sessions, notes) = limits::fit_open_file_limit(self.max_sessions);
        self.max_sessions = sessions;
        notes
    }
}

/// Refuses to run as root unless ALLOW_ROOT is set, as ElectrumX does.
///
/// # Errors
/// [`ConfigError::RunningAsRoot`] when the effective user is root and ALLOW_ROOT is not set.
pub fn check_root(config: &Config) -> Result<(), ConfigError> {
    limits::refuse_root(config.allow_root)
}

/// EVENT_LOOP_POLICY: ElectrumX accepts only `uvloop`, which means nothing on tokio.
fn read_event_loop_policy(env: &mut Env<'_>) -> Result<(), ConfigError> {
    match env.get("EVENT_LOOP_POLICY") {
        None => Ok(()),
        Some("uvloop") => {
            env.warnings
                .push("EVENT_LOOP_POLICY=uvloop is ignored: FerrumX runs on tokio".into());
            Ok(())
        }
        Some(other) => Err(invalid(
            "EVENT_LOOP_POLICY",
            format!("unknown event loop policy {other:?} (ElectrumX accepts only uvloop)"),
        )),
    }
}

/// DB_ENGINE: FerrumX stores its index in RocksDB only.
fn read_db_engine(env: &Env<'_>) -> Result<(), ConfigError> {
    let Some(engine) = env.get("DB_ENGINE") else {
        return Ok(());
    };
    match engine.to_lowercase().as_str() {
        "rocksdb" => Ok(()),
        "leveldb" => Err(invalid(
            "DB_ENGINE",
            "leveldb is not supported: FerrumX keeps its own index in RocksDB (it cannot read \
             an ElectrumX database of either engine); unset DB_ENGINE or set it to rocksdb",
        )),
        _ => Err(invalid(
            "DB_ENGINE",
            format!("bad value {engine:?}: FerrumX supports only rocksdb"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        let mut map: HashMap<String, String> = [
            ("COIN", "Bitcoin"),
            ("DB_DIRECTORY", "/db"),
            ("DAEMON_URL", "u:p@localhost"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (k, v) in pairs {
            map.insert((*k).to_owned(), (*v).to_owned());
        }
        map
    }

    #[test]
    fn relative_files_live_in_db_directory() {
        let config = Config::from_vars(&vars(&[
            ("BANNER_FILE", "banner.txt"),
            ("SERVICES", "ssl://:50002"),
            ("SSL_CERTFILE", "server.crt"),
            ("SSL_KEYFILE", "/etc/ssl/server.key"),
        ]));
        let config = config.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.banner_path(false), Some(Path::new("/db/banner.txt")));
        assert_eq!(config.banner_path(true), Some(Path::new("/db/banner.txt")));
        assert_eq!(
            config.ssl_certfile.as_deref(),
            Some(Path::new("/db/server.crt"))
        );
        assert_eq!(
            config.ssl_keyfile.as_deref(),
            Some(Path::new("/etc/ssl/server.key"))
        );
    }

    #[test]
    fn every_read_variable_is_listed() {
        let source = include_str!("mod.rs");
        for (var, _) in OBSOLETE {
            assert!(VARIABLES.contains(var), "{var}");
        }
        for quoted in source.split('"').skip(1).step_by(2) {
            let is_var = quoted.len() > 2
                && quoted.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
                && quoted.contains('_')
                || ["COIN", "NET"].contains(&quoted);
            if is_var {
                assert!(
                    VARIABLES.contains(&quoted),
                    "{quoted} missing from VARIABLES"
                );
            }
        }
    }
}
