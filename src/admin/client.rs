//! The `ferrumx_rpc` command-line client: arguments as `electrumx_rpc` takes them, one
//! request to the server's `rpc` port on localhost, and the answer printed for a person
//! (tables, lines, indented JSON) or, with `--json`, as JSON for scripts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::query;
use super::text;

/// The default port of the `rpc` service and of `ferrumx_rpc` (ElectrumX's).
pub const DEFAULT_PORT: u16 = 8000;
/// Default time allowed for the whole exchange (ElectrumX's `--timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes of an answer read.
const MAX_ANSWER: u64 = 1 << 30;

/// What to do, from the command line.
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    pub port: u16,
    pub json: bool,
    pub timeout: Duration,
    pub method: String,
    /// By name, as `electrumx_rpc` sends them.
    pub params: Map<String, Value>,
}

/// The command line's meaning.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    Run(Invocation),
    /// `-h`/`--help`/`help`: print the usage.
    Help,
}

/// The commands, their arguments and what they do (the usage text).
const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "add_peer",
        "\"HOST [vVERSION] [t[PORT]] [s[PORT]]\"",
        "add a peer to the peers list and verify it",
    ),
    (
        "daemon_url",
        "[URLS]",
        "switch daemons (DAEMON_URL syntax; none: back to DAEMON_URL)",
    ),
    ("disconnect", "ID|GROUP|all ...", "disconnect sessions"),
    ("getinfo", "", "print a summary of server state"),
    ("groups", "", "print the session groups"),
    (
        "log",
        "ID|GROUP|all|none|new ...",
        "toggle logging of sessions' requests",
    ),
    ("peers", "", "print the peer servers"),
    (
        "query",
        "[-l|--limit N] ITEM ...",
        "history, UTXOs and balance of addresses, hex scripts or script hashes (limit 1000)",
    ),
    (
        "reorg",
        "[COUNT]",
        "roll back COUNT blocks (3) and apply them again",
    ),
    ("sessions", "", "print the client sessions"),
    (
        "stop",
        "",
        "flush and shut the server down, as SIGINT/SIGTERM",
    ),
];

/// The usage text.
pub fn usage() -> String {
    let mut out = String::from(
        "usage: ferrumx_rpc [-p PORT] [--json] [--timeout SECS] COMMAND [ARGS]\n\n\
         Sends one command to a running ferrumx_server's admin RPC port on localhost\n\
         (-p, else RPC_PORT, else 8000; SERVICES must include rpc://).\n\n\
         options:\n  -p, --port PORT   the rpc service's port\n  \
         --json            print the answer as JSON, for scripts\n  \
         --timeout SECS    give up after SECS seconds (30)\n  \
         -h, --help        this help\n\ncommands:\n",
    );
    for (name, args, what) in COMMANDS {
        let head = if args.is_empty() {
            (*name).to_string()
        } else {
            format!("{name} {args}")
        };
        out.push_str(&format!("  {head}\n      {what}\n"));
    }
    out
}

fn value_of<'a>(
    flag: &str,
    inline: Option<&'a str>,
    rest: &mut impl Iterator<Item = &'a String>,
) -> Result<&'a str, String> {
    inline
        .or_else(|| rest.next().map(String::as_str))
        .ok_or_else(|| format!("{flag} needs a value"))
}

fn port_of(text: &str, what: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("{what} {text:?} is not a port number (1-65535)")),
    }
}

/// Parses the arguments (without the program name); `rpc_port` is RPC_PORT if set.
///
/// # Errors
/// A one-line reason (shown with the usage, exit status 2).
pub fn parse_args(args: &[String], rpc_port: Option<&str>) -> Result<Parsed, String> {
    let mut port = None;
    let mut json = false;
    let mut timeout = DEFAULT_TIMEOUT;
    let mut it = args.iter();
    let mut command = None;
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v)),
            _ => (arg.as_str(), None),
        };
        match flag {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-p" | "--port" => port = Some(port_of(value_of(flag, inline, &mut it)?, "port")?),
            "--json" => json = true,
            "--timeout" => {
                let v = value_of(flag, inline, &mut it)?;
                let secs: u64 = v.parse().ok().filter(|&s| s > 0).ok_or_else(|| {
                    format!("--timeout {v:?} is not a positive number of seconds")
                })?;
                timeout = Duration::from_secs(secs);
            }
            _ if flag.starts_with("-p") && flag.len() > 2 => {
                port = Some(port_of(&flag[2..], "port")?)
            }
            _ if flag.starts_with('-') => return Err(format!("unknown option {arg:?}")),
            _ => {
                command = Some(arg.clone());
                break;
            }
        }
    }
    let Some(method) = command else {
        return Err("no command given".into());
    };
    if method == "help" {
        return Ok(Parsed::Help);
    }
    // After the command: its arguments; `--json` is still understood anywhere.
    let mut rest: Vec<String> = Vec::new();
    let mut limit: Option<u64> = None;
    while let Some(arg) = it.next() {
        if arg == "--json" {
            json = true;
            continue;
        }
        if method == "query" {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f == "--limit" => (f, Some(v)),
                _ => (arg.as_str(), None),
            };
            if flag == "-l" || flag == "--limit" {
                let v = value_of(flag, inline, &mut it)?;
                limit =
                    Some(v.parse().map_err(|_| {
                        format!("query: --limit {v:?} is not a non-negative integer")
                    })?);
                continue;
            }
        }
        rest.push(arg.clone());
    }
    let mut params = Map::new();
    let no_args = |rest: &[String]| {
        if rest.is_empty() {
            Ok(())
        } else {
            Err(format!("{method}: takes no arguments, got {rest:?}"))
        }
    };
    match method.as_str() {
        "getinfo" | "groups" | "peers" | "sessions" | "stop" => no_args(&rest)?,
        "disconnect" | "log" => {
            if rest.is_empty() {
                return Err(format!("{method}: give session IDs or group names"));
            }
            params.insert("session_ids".into(), json!(rest));
        }
        "add_peer" => {
            if rest.is_empty() {
                return Err("add_peer: give the peer, e.g. \"host.example s t\"".into());
            }
            params.insert("real_name".into(), json!(rest.join(" ")));
        }
        "daemon_url" => {
            if rest.len() > 1 {
                return Err("daemon_url: give one comma-separated list of URLs".into());
            }
            let url = rest.first().cloned().unwrap_or_default();
            params.insert("daemon_url".into(), json!(url));
        }
        "query" => {
            if rest.is_empty() {
                return Err("query: give addresses, hex scripts or script hashes".into());
            }
            params.insert("items".into(), json!(rest));
            params.insert("limit".into(), json!(limit.unwrap_or(query::DEFAULT_LIMIT)));
        }
        "reorg" => {
            let count: u64 = match rest.as_slice() {
                [] => 3,
                [c] => c
                    .parse()
                    .map_err(|_| format!("reorg: {c:?} is not a non-negative integer"))?,
                _ => return Err("reorg: give at most one count".into()),
            };
            params.insert("count".into(), json!(count));
        }
        other => return Err(format!("unknown command {other:?}")),
    }
    let port = match (port, rpc_port) {
        (Some(p), _) => p,
        (None, Some(env)) if !env.trim().is_empty() => port_of(env, "RPC_PORT")?,
        _ => DEFAULT_PORT,
    };
    Ok(Parsed::Run(Invocation {
        port,
        json,
        timeout,
        method,
        params,
    }))
}

/// Why a command failed.
#[derive(Debug)]
pub enum CallError {
    /// Nothing listens on the port (or it cannot be reached).
    Connect { port: u16, reason: String },
    /// The exchange failed or timed out.
    Io(String),
    /// The server answered with an error.
    Rpc { code: i64, message: String },
    /// The answer is not a JSON-RPC response.
    BadAnswer(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Connect { port, reason } => write!(
                f,
                "cannot connect to localhost:{port} ({reason}) - is ferrumx_server running \
                 with rpc in SERVICES, still starting, or is {port} the wrong RPC port \
                 (-p, RPC_PORT)?"
            ),
            CallError::Io(e) => write!(f, "error making request: {e}"),
            CallError::Rpc { code, message } => write!(f, "{message} (error {code})"),
            CallError::BadAnswer(e) => write!(f, "bad answer from the server: {e}"),
        }
    }
}

/// The addresses `localhost` stands for (IPv6 and IPv4 loopback when it does not resolve).
fn localhost(port: u16) -> Vec<SocketAddr> {
    let mut addrs: Vec<SocketAddr> = ("localhost", port)
        .to_socket_addrs()
        .map(Iterator::collect)
        .unwrap_or_default();
    for fallback in [
        SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
        SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port)),
    ] {
        if !addrs.contains(&fallback) {
            addrs.push(fallback);
        }
    }
    addrs
}

/// A request in the shape `ferrumx_rpc` and `electrumx_rpc` send (arguments by name).
pub fn request(id: u64, method: &str, params: Map<String, Value>) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// Sends the request and returns the result.
///
/// # Errors
/// See [`CallError`].
pub fn call(inv: &Invocation) -> Result<Value, CallError> {
    let mut last = String::from("no address");
    let mut stream = None;
    for addr in localhost(inv.port) {
        match TcpStream::connect_timeout(&addr, inv.timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e.to_string(),
        }
    }
    let Some(mut stream) = stream else {
        return Err(CallError::Connect {
            port: inv.port,
            reason: last,
        });
    };
    let io = |e: std::io::Error| {
        if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            CallError::Io(format!("no answer within {} s", inv.timeout.as_secs()))
        } else {
            CallError::Io(e.to_string())
        }
    };
    stream.set_read_timeout(Some(inv.timeout)).map_err(io)?;
    stream.set_write_timeout(Some(inv.timeout)).map_err(io)?;
    let mut line = request(0, &inv.method, inv.params.clone()).to_string();
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(io)?;
    let mut reader = BufReader::new(stream.take(MAX_ANSWER));
    let mut answer = Vec::new();
    reader.read_until(b'\n', &mut answer).map_err(io)?;
    if answer.is_empty() {
        return Err(CallError::Io(
            "the server closed the connection without answering".into(),
        ));
    }
    let answer: Value = serde_json::from_slice(&answer)
        .map_err(|e| CallError::BadAnswer(format!("not JSON: {e}")))?;
    if let Some(err) = answer.get("error").filter(|e| !e.is_null()) {
        return Err(CallError::Rpc {
            code: err["code"].as_i64().unwrap_or(0),
            message: err["message"]
                .as_str()
                .map_or_else(|| err.to_string(), str::to_string),
        });
    }
    answer
        .get("result")
        .cloned()
        .ok_or_else(|| CallError::BadAnswer("no result".into()))
}

/// The text to print for `method`'s `result`: `query` line by line, `sessions`, `groups`
/// and `peers` as tables, anything else as indented JSON (as `electrumx_rpc`); with `json`,
/// the result as one line of JSON.
pub fn render(method: &str, result: &Value, json: bool, now: f64) -> String {
    if json {
        return result.to_string();
    }
    let lines: Vec<String> = match method {
        "query" => result
            .as_array()
            .map(|l| {
                l.iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect()
            })
            .unwrap_or_else(|| vec![text::pretty_json(result)]),
        "sessions" => text::sessions_lines(result),
        "groups" => text::groups_lines(result),
        "peers" => text::peers_lines(result, now),
        _ => vec![text::pretty_json(result)],
    };
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    fn run(s: &[&str], env: Option<&str>) -> Invocation {
        match parse_args(&args(s), env) {
            Ok(Parsed::Run(inv)) => inv,
            other => panic!("{s:?}: {other:?}"),
        }
    }

    #[test]
    fn arguments_as_electrumx_rpc_takes_them() {
        let inv = run(&["getinfo"], None);
        assert_eq!(
            (inv.port, inv.json, inv.method.as_str()),
            (8000, false, "getinfo")
        );
        assert!(inv.params.is_empty());
        assert_eq!(run(&["getinfo"], Some("8123")).port, 8123);
        assert_eq!(run(&["-p", "9000", "getinfo"], Some("8123")).port, 9000);
        assert_eq!(run(&["--port=9001", "--json", "sessions"], None).port, 9001);
        assert!(run(&["sessions", "--json"], None).json);
        let inv = run(&["disconnect", "3", "t0"], None);
        assert_eq!(inv.params["session_ids"], json!(["3", "t0"]));
        let inv = run(&["query", "a", "-l", "5", "b"], None);
        assert_eq!(inv.params["items"], json!(["a", "b"]));
        assert_eq!(inv.params["limit"], json!(5));
        assert_eq!(run(&["query", "a"], None).params["limit"], json!(1000));
        assert_eq!(
            run(&["query", "--limit=7", "a"], None).params["limit"],
            json!(7)
        );
        assert_eq!(run(&["reorg"], None).params["count"], json!(3));
        assert_eq!(run(&["reorg", "5"], None).params["count"], json!(5));
        assert_eq!(run(&["daemon_url"], None).params["daemon_url"], json!(""));
        assert_eq!(
            run(&["add_peer", "h.example s t"], None).params["real_name"],
            json!("h.example s t")
        );
        assert_eq!(parse_args(&args(&["--help"]), None), Ok(Parsed::Help));
        assert_eq!(parse_args(&args(&["help"]), None), Ok(Parsed::Help));
    }

    #[test]
    fn bad_arguments_are_refused() {
        for bad in [
            &[][..],
            &["nosuch"],
            &["getinfo", "x"],
            &["disconnect"],
            &["query"],
            &["query", "a", "-l", "x"],
            &["reorg", "-1"],
            &["reorg", "1", "2"],
            &["-p", "0", "getinfo"],
            &["-p"],
            &["--bogus", "getinfo"],
            &["--timeout", "0", "getinfo"],
        ] {
            assert!(parse_args(&args(bad), None).is_err(), "{bad:?}");
        }
        assert!(parse_args(&args(&["getinfo"]), Some("x")).is_err());
    }

    #[test]
    fn rendering() {
        assert_eq!(
            render("stop", &json!("stopping"), false, 0.0),
            "\"stopping\""
        );
        assert_eq!(
            render(
                "query",
                &json!(["Address: a", "No history found"]),
                false,
                0.0
            ),
            "Address: a\nNo history found"
        );
        assert_eq!(
            render("getinfo", &json!({"b": 1, "a": 2}), true, 0.0),
            "{\"b\":1,\"a\":2}"
        );
        assert!(render("sessions", &json!([]), false, 0.0).starts_with("ID     Flags"));
    }
}
