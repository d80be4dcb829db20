//! The admin RPC through the real `ferrumx_rpc` binary against the real `ferrumx_server`
//! (on 127.0.0.1, against the in-process stand-in), every answer checked against state
//! known here: the stand-in's chain and truth tables, the sessions this test opens, the
//! server's own log, and the database it leaves behind (compared with a fresh index).
//!
//! - `every_command_against_a_running_server`: getinfo, sessions, groups, log, disconnect,
//!   query, reorg, daemon_url, add_peer/peers (verification of a real peer: the server
//!   itself), `--json`, bad arguments, stop and a restart that resumes without resyncing,
//!   and the message when no server runs.
//! - `stop_during_initial_sync_resumes_identical`: the rpc port answers while the server
//!   is still syncing (slowed stand-in); `stop` then exits 0 after flushing; the restart
//!   resumes from there, is stopped again after catching up, and the database equals an
//!   uninterrupted sync's.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use bitcoin::{Address, Network};
use ferrumx_simnode::{chainfile, GenParams, Node, ScriptHash, SimNode};
use ferrumx_testkit::electrumx::{self, require};
use ferrumx_testkit::oracle::grouped;
use ferrumx_testkit::tls::SelfSigned;
use ferrumx_testkit::{
    digest_of, free_port, fresh_digest, poll_until, serve, start_on_free_ports, Client, Server,
    ServerEnv, TempDir, STEP,
};
use serde_json::{json, Value};

const REORG_LIMIT: u32 = 8;

/// Runs `ferrumx_rpc -p PORT ARGS` with an empty environment.
fn rpc(port: u16, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrumx_rpc"))
        .env_clear()
        .args(["--timeout", "120", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("run ferrumx_rpc")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A command that must succeed: its standard output.
fn ok(port: u16, args: &[&str]) -> String {
    let o = rpc(port, args);
    assert!(
        o.status.success(),
        "ferrumx_rpc {args:?}: {}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    assert!(stderr(&o).is_empty(), "{args:?}: stderr {}", stderr(&o));
    stdout(&o)
}

/// A command with `--json`: its result, parsed.
fn json_of(port: u16, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = ok(port, &all);
    assert_eq!(out.lines().count(), 1, "--json prints one line: {out}");
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
}

/// A command that must fail with exit status `code`: its standard error.
fn fails(port: u16, args: &[&str], code: i32) -> String {
    let o = rpc(port, args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "ferrumx_rpc {args:?} should fail: {}",
        stdout(&o)
    );
    assert!(stdout(&o).is_empty(), "{args:?}: stdout {}", stdout(&o));
    let err = stderr(&o);
    assert!(err.starts_with("ferrumx_rpc: "), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    err
}

/// The ports of one server run.
#[derive(Clone, Copy, Debug)]
struct Ports {
    rpc: u16,
    tcp: u16,
    ssl: u16,
}

/// Starts the server with SERVICES from `services` (`{rpc}`, `{tcp}`, `{ssl}` replaced by
/// free ports, also in the values of `extra`), retrying on other ports if one was taken
/// meanwhile. Waits until the admin RPC listens and, when there are client services, until
/// the server has caught up and listens on them.
fn start(
    name: &str,
    db: &Path,
    daemon_url: &str,
    services: &str,
    extra: &[(&str, &str)],
) -> (Server, Ports) {
    let clients = services.matches("{tcp}").count() + services.matches("{ssl}").count();
    start_on_free_ports(
        name,
        || {
            let ports = Ports {
                rpc: free_port(),
                tcp: free_port(),
                ssl: free_port(),
            };
            let fill = |v: &str| {
                v.replace("{rpc}", &ports.rpc.to_string())
                    .replace("{tcp}", &ports.tcp.to_string())
                    .replace("{ssl}", &ports.ssl.to_string())
            };
            let mut env = ServerEnv::new(db, daemon_url)
                .set("SERVICES", &fill(services))
                .set("REORG_LIMIT", &REORG_LIMIT.to_string());
            for (k, v) in extra {
                env = env.set(k, &fill(v));
            }
            (env, ports)
        },
        |server| {
            server.wait_for("admin RPC listening", STEP);
            if clients > 0 {
                server.wait_for("caught up with the daemon", STEP);
                for _ in 0..clients {
                    server.wait_for("listening service=", STEP);
                }
            }
        },
    )
}

/// The height of the first line containing `needle` so far.
fn height_in(server: &Server, needle: &str) -> Option<u64> {
    server
        .lines_with(needle)
        .first()
        .and_then(|l| l.field("height"))
}

/// `f'{Decimal(sats) / 100000000:,f}'`.
fn btc(sats: u64) -> String {
    let frac = format!("{:08}", sats % 100_000_000);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        grouped(sats / 100_000_000)
    } else {
        format!("{}.{frac}", grouped(sats / 100_000_000))
    }
}

/// ElectrumX's `query` lines for `sh` from the stand-in's truth, after the item's label.
fn expected_query(node: &Node, sh: &ScriptHash, limit: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let history = node.truth.history(sh, None);
    for (n, h) in history.iter().take(limit).enumerate() {
        lines.push(format!(
            "History #{}: height {} tx_hash {}",
            grouped(n as u64),
            grouped(u64::from(h.height)),
            h.txid
        ));
    }
    if history.is_empty() || limit == 0 {
        lines.push("No history found".into());
    }
    let utxos = node.truth.utxos(sh, None);
    for (i, u) in utxos.iter().enumerate() {
        lines.push(format!(
            "UTXO #{}: tx_hash {} tx_pos {} height {} value {}",
            grouped(i as u64 + 1),
            u.outpoint.txid,
            grouped(u64::from(u.outpoint.vout)),
            grouped(u64::from(u.height)),
            grouped(u.value)
        ));
        if i + 1 == limit {
            break;
        }
    }
    if utxos.is_empty() {
        lines.push("No UTXOs found".into());
    }
    lines.push(format!(
        "Balance: {} XTN",
        btc(node.truth.balance(sh, None))
    ));
    lines
}

/// FerrumX's mempool lines of `query` for `script`, from the stand-in's mempool: every
/// transaction paying it or spending from it, those without unconfirmed inputs first, then
/// by txid; and the net change of its balance.
fn expected_mempool(node: &Node, script: &bitcoin::Script) -> Vec<String> {
    let mut txs: Vec<(bool, String, u64)> = Vec::new();
    let mut delta: i128 = 0;
    for e in node.mempool.entries() {
        let paid: u64 =
            e.tx.output
                .iter()
                .filter(|o| o.script_pubkey.as_script() == script)
                .map(|o| o.value.to_sat())
                .sum();
        let mut spent = 0u64;
        let mut touches =
            e.tx.output
                .iter()
                .any(|o| o.script_pubkey.as_script() == script);
        for i in &e.tx.input {
            let (prev, _) = node.find_tx(&i.previous_output.txid).expect("prevout tx");
            let out = &prev.output[i.previous_output.vout as usize];
            if out.script_pubkey.as_script() == script {
                touches = true;
                spent += out.value.to_sat();
            }
        }
        if touches {
            let unconfirmed = e.tx.input.iter().any(|i| {
                node.mempool
                    .entries()
                    .any(|m| m.txid == i.previous_output.txid)
            });
            txs.push((unconfirmed, e.txid.to_string(), e.fee));
            delta += i128::from(paid) - i128::from(spent);
        }
    }
    txs.sort();
    let mut lines: Vec<String> = txs
        .iter()
        .enumerate()
        .map(|(n, (unconfirmed, txid, fee))| {
            let height = if *unconfirmed { -1 } else { 0 };
            format!(
                "Mempool #{}: height {height} tx_hash {txid} fee {}",
                grouped(n as u64),
                grouped(*fee)
            )
        })
        .collect();
    let sign = if delta < 0 { "-" } else { "+" };
    let abs = u64::try_from(delta.unsigned_abs()).expect("small");
    lines.push(format!("Mempool balance change: {sign}{} XTN", btc(abs)));
    lines
}

/// An address of the chain (with its script and script hash) with at least two history
/// entries and two unspent outputs.
fn busy_address(node: &Node) -> (String, String, ScriptHash) {
    for h in 1..=node.tip_height() {
        let block = node.block_at(h).expect("block").block().expect("decoded");
        for tx in &block.txdata {
            for out in &tx.output {
                let sh = ScriptHash::of(&out.script_pubkey);
                let Ok(addr) = Address::from_script(&out.script_pubkey, Network::Regtest) else {
                    continue;
                };
                if node.truth.history(&sh, None).len() >= 2
                    && node.truth.utxos(&sh, None).len() >= 2
                {
                    let hex: String = out
                        .script_pubkey
                        .as_bytes()
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    return (addr.to_string(), hex, sh);
                }
            }
        }
    }
    panic!("no address with two history entries and two UTXOs");
}

/// A call on an Electrum (or admin) session that must succeed: its result.
fn ok_call(c: &mut Client, method: &str, params: Value) -> Value {
    c.call(method, params)
        .unwrap_or_else(|e| panic!("{method}: {e:?}"))
}

/// Sends one raw line; returns the next message received, parsed.
fn raw(c: &mut Client, text: &str) -> Value {
    c.send_raw(text);
    c.recv()
        .unwrap_or_else(|| panic!("connection closed after {text}"))
}

/// The single `sessions` row of session `id` in a `--json` answer.
fn session_row(sessions: &Value, id: u64) -> Option<Vec<Value>> {
    sessions
        .as_array()?
        .iter()
        .find(|r| r[0] == json!(id))
        .and_then(|r| r.as_array().cloned())
}

/// A chain of 1,500 transactions served, and a server synced to it with tcp (127.0.0.1),
/// ssl (127.0.0.2) and rpc services; it reports itself (for the peer checks) on 127.0.0.1
/// (tcp) and 127.0.0.2 (ssl). Also: a busy address of the chain (two history entries, two
/// UTXOs) with its script and script hash, another script hash, and a copy of the chain.
struct Admin {
    sim: SimNode,
    copy: Node,
    tip: u32,
    server: Server,
    port: u16,
    tcp: u16,
    ssl: u16,
    db: PathBuf,
    address: String,
    script_hex: String,
    busy: ScriptHash,
    other: ScriptHash,
    _dir: TempDir,
}

fn admin(name: &str) -> Admin {
    let node = Node::generate(GenParams::sized(61, 1_500, 20));
    let copy = chainfile::decode(&chainfile::encode(&node)).expect("chain file");
    let tip = node.tip_height();
    let sim = serve(node);
    let dir = TempDir::created(name);
    let db = dir.path().join("db");
    let (cert, key) = SelfSigned::p256().write_to(&dir);
    let (server, ports) = start(
        name,
        &db,
        &sim.daemon_url(),
        "tcp://127.0.0.1:{tcp},ssl://127.0.0.2:{ssl},rpc://127.0.0.1:{rpc}",
        &[
            ("SSL_CERTFILE", cert.to_str().expect("utf-8")),
            ("SSL_KEYFILE", key.to_str().expect("utf-8")),
            (
                "REPORT_SERVICES",
                "tcp://127.0.0.1:{tcp},ssl://127.0.0.2:{ssl}",
            ),
            ("PEER_ANNOUNCE", ""),
        ],
    );
    assert_eq!(
        height_in(&server, "caught up with the daemon"),
        Some(u64::from(tip))
    );
    let (address, script_hex, busy) = sim.with_node(|n| busy_address(n));
    let other = sim.with_node(|n| {
        *n.truth
            .script_hashes()
            .find(|sh| **sh != busy)
            .expect("a second script hash")
    });
    Admin {
        sim,
        copy,
        tip,
        server,
        port: ports.rpc,
        tcp: ports.tcp,
        ssl: ports.ssl,
        db,
        address,
        script_hex,
        busy,
        other,
        _dir: dir,
    }
}

/// A wallet session: its name ("wallet-x"), protocol (1.4) and two subscriptions (`busy`
/// and `other`).
fn wallet_session(a: &Admin) -> Client {
    let mut wallet = Client::tcp(a.tcp);
    let v = ok_call(&mut wallet, "server.version", json!(["wallet-x", "1.4"]));
    assert_eq!(v[1], json!("1.4"));
    for sh in [a.busy, a.other] {
        ok_call(
            &mut wallet,
            "blockchain.scripthash.subscribe",
            json!([sh.to_string()]),
        );
    }
    wallet
}

/// The id of the only session, from `sessions`.
fn only_session(port: u16) -> u64 {
    let sessions = json_of(port, &["sessions"]);
    let rows = sessions.as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{sessions}");
    rows[0][0].as_u64().expect("id")
}

/// `getinfo`, as JSON and for people: the coin, heights, pid, version, daemon, no sessions
/// and no peers yet.
#[test]
fn getinfo_describes_the_server() {
    let a = admin("admin-getinfo");
    let (port, tip, server, sim) = (a.port, a.tip, &a.server, &a.sim);
    let info = json_of(port, &["getinfo"]);
    assert_eq!(info["coin"], json!("BitcoinRegtest"));
    assert_eq!(info["db height"], json!(tip));
    assert_eq!(info["daemon height"], json!(tip));
    assert_eq!(info["pid"], json!(server.pid()));
    assert_eq!(
        info["version"],
        json!(format!("FerrumX {}", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(info["daemon"], json!(format!("{}/", sim.addr())));
    assert_eq!(info["sessions"]["count"], json!(0));
    assert_eq!(info["peers"]["total"], json!(0));
    let text = ok(port, &["getinfo"]);
    assert!(
        text.starts_with("{\n    \"coin\": \"BitcoinRegtest\",\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("\n    \"db height\": {tip},\n")),
        "{text}"
    );
}

/// `sessions` (JSON and table), `getinfo`'s session summary and exact per-method request
/// counts, and `groups` describe a wallet session.
#[test]
fn sessions_getinfo_and_groups_describe_a_wallet_session() {
    let a = admin("admin-sessions");
    let port = a.port;
    let wallet = wallet_session(&a);
    let sessions = json_of(port, &["sessions"]);
    let rows = sessions.as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{sessions}");
    let id = rows[0][0].as_u64().expect("id");
    let row = session_row(&sessions, id).expect("row");
    assert_eq!(row.len(), 15, "{row:?}");
    assert_eq!(row[3], json!("wallet-x"));
    assert_eq!(row[4], json!("1.4"));
    assert_eq!(row[9], json!(2), "subscriptions");
    assert_eq!(row[10], json!(3), "messages received");
    let flags = row[1].as_str().expect("flags");
    assert!(flags.starts_with('T') && !flags.contains('L'), "{flags}");
    let local = wallet.local.to_string();
    assert_eq!(row[2], json!(local));
    let table = ok(port, &["sessions"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(
        lines[0].starts_with("ID     Flags            Client Proto"),
        "{table}"
    );
    assert!(
        lines[1].starts_with(&format!("{id:<6} {flags:<5}")),
        "{table}"
    );
    assert!(lines[1].contains("wallet-x   1.4"), "{table}");
    assert!(lines[1].ends_with(&format!("{local:>21}")), "{table}");
    let info = json_of(port, &["getinfo"]);
    assert_eq!(info["sessions"]["count"], json!(1));
    assert_eq!(info["sessions"]["subs"], json!(2));
    assert_eq!(info["sessions"]["count with subs"], json!(1));
    // Per-method counts: the only Electrum session so far is the wallet's (admin calls are
    // not counted): its version and two subscriptions.
    assert_eq!(
        info["request counts"],
        json!({"blockchain.scripthash.subscribe": 2, "server.version": 1}),
        "{info}"
    );
    assert_eq!(info["request total"], json!(3), "{info}");
    // Loopback is private: no subnet group (ElectrumX's rule); the session is in the group
    // of the timeslice it connected in, t0 (the server started less than 5 minutes ago).
    assert_eq!(info["groups"], json!(1), "{info}");
    let groups = json_of(port, &["groups"]);
    let rows = groups.as_array().expect("group rows");
    assert_eq!(rows.len(), 1, "{groups}");
    assert_eq!(rows[0][0], json!("t0"), "{groups}");
    assert_eq!(rows[0][1], json!(1), "{groups}");
    let groups = ok(port, &["groups"]);
    assert!(groups.starts_with("Name            Sessions"), "{groups}");
    assert!(
        groups.lines().nth(1).is_some_and(|l| l.starts_with("t0 ")),
        "{groups}"
    );
}

/// `log`: the session's next request appears in the server's log, with its id; unknown ids
/// are reported; the flag shows in `sessions`; asked again, logging stops.
#[test]
fn log_logs_a_session_s_requests() {
    let mut a = admin("admin-log");
    let (port, other) = (a.port, a.other);
    let mut wallet = wallet_session(&a);
    let id = only_session(port);
    let server = &mut a.server;
    assert_eq!(server.count("request received"), 0);
    let out = json_of(port, &["log", &id.to_string(), "nosuch"]);
    assert_eq!(
        out,
        json!([format!("logging session {id}"), "unknown: nosuch"])
    );
    let flags = session_row(&json_of(port, &["sessions"]), id).expect("row")[1].clone();
    assert!(flags.as_str().is_some_and(|f| f.contains('L')), "{flags}");
    let marker = other.to_string();
    ok_call(
        &mut wallet,
        "blockchain.scripthash.get_balance",
        json!([marker]),
    );
    let logged = server.wait_for("request received", STEP);
    assert!(logged.text.contains(&marker), "{}", logged.text);
    assert_eq!(logged.field("session"), Some(id), "{}", logged.text);
    let out = json_of(port, &["log", &id.to_string()]);
    assert_eq!(out, json!([format!("not logging session {id}")]));
}

/// `query`: ElectrumX's lines, from the truth; by address, script and script hash; with a
/// limit; an address of another network.
#[test]
fn query_answers_from_the_truth() {
    let a = admin("admin-query");
    let (port, sim, busy) = (a.port, &a.sim, a.busy);
    let (address, script_hex) = (a.address.clone(), a.script_hex.clone());
    let want = sim.with_node(|n| expected_query(n, &busy, 1000));
    let got = ok(port, &["query", &address]);
    let mut expect = vec![format!("Address: {address}")];
    expect.extend(want.iter().cloned());
    assert_eq!(got.lines().collect::<Vec<_>>(), expect);
    let got = ok(port, &["query", &script_hex, &busy.to_string()]);
    let mut expect = vec![format!("Script: {script_hex}")];
    expect.extend(want.iter().cloned());
    expect.push(format!("Script hash: {busy}"));
    expect.extend(want.iter().cloned());
    assert_eq!(got.lines().collect::<Vec<_>>(), expect);
    let limited = sim.with_node(|n| expected_query(n, &busy, 1));
    let got = ok(port, &["query", "--limit", "1", &address]);
    assert_eq!(got.lines().skip(1).collect::<Vec<_>>(), limited);
    let got = ok(
        port,
        &["query", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"],
    );
    assert!(
        got.contains("not an address of the regtest network"),
        "{got}"
    );
}

/// `query` (FerrumX's addition): the mempool's transactions of the script, once the server
/// has seen them, and its balance change.
#[test]
fn query_shows_the_mempool() {
    let a = admin("admin-query-mempool");
    let (port, sim) = (a.port, &a.sim);
    let (pending, confirmed, script) = sim.with_node(|n| {
        n.add_traffic(12);
        let last = n.mempool.entries().max_by_key(|e| e.seq).expect("traffic");
        let script = last
            .tx
            .output
            .iter()
            .map(|o| o.script_pubkey.clone())
            .find(|s| !s.is_op_return())
            .expect("an output script");
        let sh = ScriptHash::of(&script);
        (
            expected_mempool(n, &script),
            expected_query(n, &sh, 1000),
            script,
        )
    });
    let hex: String = script
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let got = poll_until("the mempool in query", STEP, || {
        let out = ok(port, &["query", &hex]);
        out.contains("Mempool #").then_some(out)
    });
    let mut expect = vec![format!("Script: {hex}")];
    expect.extend(confirmed);
    expect.extend(pending);
    assert_eq!(got.lines().collect::<Vec<_>>(), expect);
}

/// `reorg`: refused beyond REORG_LIMIT; three blocks rolled back and applied again; the
/// same answers afterwards; the database then equals a fresh index.
#[test]
fn reorg_rolls_back_and_catches_up_to_the_same_answers() {
    let mut a = admin("admin-reorg");
    let (port, tip, address) = (a.port, a.tip, a.address.clone());
    let server = &mut a.server;
    let before = ok(port, &["query", &address]);
    let err = fails(port, &["reorg", &(REORG_LIMIT + 1).to_string()], 1);
    assert!(err.contains("REORG_LIMIT"), "{err}");
    let out = json_of(port, &["reorg", "3"]);
    assert_eq!(
        out,
        json!(format!(
            "reorg of 3 blocks: rolled back to height {}, catching up with the daemon",
            grouped(u64::from(tip - 3))
        ))
    );
    let rollback = server.wait_for("forced chain reorganisation", STEP);
    assert_eq!(rollback.field("fork"), Some(u64::from(tip - 3)));
    for h in tip - 2..=tip {
        server.wait_new_block(h);
    }
    assert_eq!(json_of(port, &["getinfo"])["db height"], json!(tip));
    assert_eq!(ok(port, &["query", &address]), before);
    stop(port, server);
    let digest = a.sim.with_node(|n| fresh_digest(n, REORG_LIMIT));
    assert_eq!(digest_of(&a.db, REORG_LIMIT), digest, "index after a reorg");
}

/// `disconnect`: the session's socket is closed (and the session goes); unknown ids are
/// reported.
#[test]
fn disconnect_closes_a_session() {
    let a = admin("admin-disconnect");
    let port = a.port;
    let mut wallet = wallet_session(&a);
    let id = only_session(port);
    let out = json_of(port, &["disconnect", &id.to_string(), "999"]);
    assert_eq!(
        out,
        json!([format!("disconnecting session {id}"), "unknown: 999"])
    );
    assert!(
        wallet.closed_within(STEP),
        "the disconnected session's socket sees EOF"
    );
    poll_until("the session to go", STEP, || {
        (json_of(port, &["getinfo"])["sessions"]["count"] == json!(0)).then_some(())
    });
    let text = ok(port, &["disconnect", "999"]);
    assert!(text.contains("\"unknown: 999\""), "{text}");
}

/// `daemon_url`: a second stand-in (same chain) that mines a block the first never sees;
/// the password is shown nowhere; a bad URL is refused without showing its secret and the
/// daemon stays; the database then equals a fresh index of the second daemon's chain.
#[test]
fn daemon_url_switches_to_another_daemon() {
    let mut a = admin("admin-daemon-url");
    let (port, tip) = (a.port, a.tip);
    let copy = a.copy;
    let server = &mut a.server;
    let sim2 = serve(copy);
    let url2 = sim2.daemon_url();
    let (_, password) = sim2.user_pass().expect("password auth");
    let out = ok(port, &["daemon_url", &url2]);
    assert_eq!(
        out.trim(),
        format!("\"now using daemon at {}/\"", sim2.addr())
    );
    assert!(
        !out.contains(&password) && !server.stdout().iter().any(|l| l.text.contains(&password))
    );
    let mined = sim2.with_node(|n| n.mine(1)).expect("mine");
    let line = server.wait_new_block(tip + 1);
    assert!(line.text.contains(&mined[0].to_string()), "{}", line.text);
    let info = json_of(port, &["getinfo"]);
    assert_eq!(info["daemon"], json!(format!("{}/", sim2.addr())));
    assert_eq!(info["db height"], json!(tip + 1));
    let err = fails(port, &["daemon_url", "http://u:secret@bad host:1/"], 1);
    assert!(
        err.contains("invalid daemon URL") && !err.contains("secret"),
        "{err}"
    );
    assert_eq!(
        json_of(port, &["getinfo"])["daemon"],
        json!(format!("{}/", sim2.addr()))
    );
    stop(port, server);
    let digest = sim2.with_node(|n| fresh_digest(n, REORG_LIMIT));
    assert_eq!(
        digest_of(&a.db, REORG_LIMIT),
        digest,
        "index after a switch"
    );
}

/// Peers: the server itself verifies as good, over TCP (127.0.0.1) and SSL (127.0.0.2);
/// "localhost" is not in its hosts list (bad); a closed port is never reached; `peers` as
/// JSON and as ElectrumX's table; `getinfo`'s peer counts.
#[test]
fn peers_are_verified_by_connecting_to_them() {
    let a = admin("admin-peers");
    let (port, tcp, ssl) = (a.port, a.tcp, a.ssl);
    // "localhost" is not in its hosts list (bad); a closed port is never reached.
    let closed = free_port();
    for real in [
        format!("127.0.0.1 t{tcp}"),
        format!("127.0.0.2 s{ssl}"),
        format!("localhost t{tcp}"),
        format!("127.0.0.3 t{closed}"),
    ] {
        let out = json_of(port, &["add_peer", &real]);
        assert_eq!(out, json!(format!("peer '{real}' added")));
    }
    let err = fails(port, &["add_peer", "bad!host t1"], 1);
    assert!(err.contains("invalid host"), "{err}");
    let peers = poll_until("the peers to be tried", STEP, || {
        let p = json_of(port, &["peers"]);
        let statuses: Vec<&str> = p
            .as_array()?
            .iter()
            .filter_map(|x| x["status"].as_str())
            .collect();
        let tried = p.as_array()?.iter().all(|x| x["last_try"] != json!(0.0));
        let good = statuses.iter().filter(|s| **s == "good").count();
        (tried && good == 2 && statuses.contains(&"bad")).then_some(p)
    });
    let by_host = |h: &str| -> Value {
        peers
            .as_array()
            .and_then(|a| a.iter().find(|p| p["host"] == json!(h)).cloned())
            .unwrap_or(Value::Null)
    };
    let good = by_host("127.0.0.1");
    assert_eq!(good["status"], json!("good"), "{peers}");
    assert_eq!(good["ip_addr"], json!("127.0.0.1"));
    assert_eq!(good["source"], json!("peer"));
    assert_eq!(
        good["features"]["server_version"],
        json!(format!("FerrumX {}", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(
        good["features"]["hosts"]["127.0.0.1"]["tcp_port"],
        json!(tcp)
    );
    let good_ssl = by_host("127.0.0.2");
    assert_eq!(good_ssl["status"], json!("good"), "{peers}");
    assert_eq!(good_ssl["ip_addr"], json!("127.0.0.2"));
    assert_eq!(
        good_ssl["features"]["hosts"]["127.0.0.2"]["ssl_port"],
        json!(ssl)
    );
    assert_eq!(by_host("localhost")["status"], json!("bad"), "{peers}");
    let never = by_host("127.0.0.3");
    assert_eq!(never["status"], json!("never"), "{peers}");
    assert_eq!(never["source"], json!("RPC"));
    assert_eq!(never["try_count"], json!(1));
    let info = json_of(port, &["getinfo"]);
    assert_eq!(
        info["peers"],
        json!({"bad": 1, "good": 2, "never": 1, "stale": 0, "total": 4})
    );
    let table = ok(port, &["peers"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    assert!(lines[0].starts_with("Host "), "{table}");
    // The good ones first, the bad one last (ElectrumX's order).
    let row = |host: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(&format!("{host} ")))
    };
    let tcp_row = row("127.0.0.1").expect("127.0.0.1's row");
    assert!(tcp_row <= 2, "{table}");
    assert!(
        lines[tcp_row].contains(&format!(" good   {tcp:>5}       FerrumX ")),
        "{table}"
    );
    let ssl_row = row("127.0.0.2").expect("127.0.0.2's row");
    assert!(
        lines[ssl_row].contains(&format!(" good         {ssl:>5} FerrumX ")),
        "{table}"
    );
    assert_eq!(row("localhost"), Some(4), "{table}");
}

/// The protocol itself: aiorpcx's codes and messages, notifications, batches; the only group
/// left is the timeslice group t0, with no sessions but the cost they left behind.
#[test]
fn the_admin_protocol_answers_as_aiorpcx_does() {
    let a = admin("admin-protocol");
    let port = a.port;
    drop(wallet_session(&a));
    poll_until("the session to go", STEP, || {
        (json_of(port, &["getinfo"])["sessions"]["count"] == json!(0)).then_some(())
    });
    let mut admin = Client::tcp(port);
    let err = |code: i64, message: &str, id: Value| json!({"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": id});
    assert_eq!(
        raw(&mut admin, "{not json"),
        err(-32700, "invalid JSON", Value::Null)
    );
    assert_eq!(
        raw(&mut admin, r#"{"jsonrpc":"2.0","id":1,"method":"nosuch"}"#),
        err(-32601, "unknown method \"nosuch\"", json!(1))
    );
    assert_eq!(
        raw(
            &mut admin,
            r#"{"jsonrpc":"2.0","id":2,"method":"reorg","params":[1,2]}"#
        ),
        err(
            -32602,
            "2 arguments passed to method reorg taking at most 1",
            json!(2)
        )
    );
    assert_eq!(
        raw(
            &mut admin,
            r#"{"jsonrpc":"2.0","id":3,"method":"log","params":{}}"#
        ),
        err(
            -32602,
            "method \"log\" requires parameter \"session_ids\"",
            json!(3)
        )
    );
    assert_eq!(
        raw(
            &mut admin,
            r#"{"jsonrpc":"2.0","id":"x","method":"disconnect","params":{"session_ids":"3"}}"#
        ),
        err(1, "expected a list of session IDs", json!("x"))
    );
    assert_eq!(
        raw(
            &mut admin,
            r#"{"jsonrpc":"2.0","id":4,"method":"reorg","params":{"count":-1}}"#
        ),
        err(1, "-1 should be a non-negative integer", json!(4))
    );
    assert_eq!(
        raw(
            &mut admin,
            r#"{"jsonrpc":"2.0","id":5,"method":"query","params":[["zz"],"x"]}"#
        ),
        err(1, "x should be a non-negative integer", json!(5))
    );
    // A notification gets no answer: the next line answers the batch after it.
    let batch = raw(
        &mut admin,
        "{\"jsonrpc\":\"2.0\",\"method\":\"getinfo\"}\n\
         [{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"groups\"},\
         {\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"disconnect\",\"params\":[[\"998\"]]}]",
    );
    // The only group left is the timeslice group t0, with no sessions (the test's sessions
    // have gone) but the cost they left behind.
    let groups = &batch[0]["result"];
    assert_eq!(groups.as_array().map(Vec::len), Some(1), "{batch}");
    assert_eq!(groups[0][0], json!("t0"), "{batch}");
    assert_eq!(groups[0][1], json!(0), "{batch}");
    assert_eq!(groups[0][2], json!(0.0), "{batch}");
    assert!(groups[0][3].as_f64().is_some_and(|c| c > 0.0), "{batch}");
    assert_eq!(
        batch,
        json!([
            {"jsonrpc": "2.0", "result": groups, "id": 6},
            {"jsonrpc": "2.0", "result": ["unknown: 998"], "id": 7}
        ])
    );
    drop(admin);
}

/// Errors of the command line: unknown command and bad arguments (usage, exit 2), RPC
/// errors (exit 1); `--help`.
#[test]
fn command_line_errors_and_help() {
    let a = admin("admin-cli");
    let port = a.port;
    let err = fails(port, &["nosuch"], 2);
    assert!(err.contains("unknown command"), "{err}");
    fails(port, &["reorg", "x"], 2);
    fails(port, &["getinfo", "extra"], 2);
    let help = ok(port, &["--help"]);
    assert!(help.starts_with("usage: ferrumx_rpc"), "{help}");
}

/// `stop`: "stopping", exit 0 after the flush, nothing on stderr; then the message when no
/// server runs; the restart resumes at the same height without indexing anything, and stops
/// again; the database equals a fresh index.
#[test]
fn stop_exits_0_and_a_restart_resumes_without_resyncing() {
    let a = admin("admin-stop");
    let (port, tip, db) = (a.port, a.tip, a.db.clone());
    let mut server = a.server;
    let out = json_of(port, &["stop"]);
    assert_eq!(out, json!("stopping"));
    let status = server.wait_exit(STEP);
    assert!(status.success(), "stop must exit 0, got {status}");
    server.wait_for("flushed on shutdown", STEP);
    assert!(server.stderr().is_empty(), "{:?}", server.stderr());
    drop(server);
    let err = fails(port, &["getinfo"], 1);
    assert!(
        err.contains("cannot connect to localhost:") && err.contains("ferrumx_server running"),
        "{err}"
    );

    let (mut again, ports) = start(
        "admin-restart",
        &db,
        &a.sim.daemon_url(),
        "tcp://127.0.0.1:{tcp},rpc://127.0.0.1:{rpc}",
        &[],
    );
    let port = ports.rpc;
    assert_eq!(height_in(&again, "database opened"), Some(u64::from(tip)));
    let caught = again.lines_with("caught up with the daemon");
    assert_eq!(caught[0].field("tx_indexed"), Some(0), "{}", caught[0].text);
    assert_eq!(json_of(port, &["getinfo"])["db height"], json!(tip));
    assert_eq!(json_of(port, &["stop"]), json!("stopping"));
    assert!(again.wait_exit(STEP).success());
    drop(again);
    let digest = a.sim.with_node(|n| fresh_digest(n, REORG_LIMIT));
    assert_eq!(digest_of(&db, REORG_LIMIT), digest, "index after restarts");
}

/// `stop` through `ferrumx_rpc`: exit 0 after the flush, nothing on stderr.
fn stop(port: u16, server: &mut Server) {
    assert_eq!(json_of(port, &["stop"]), json!("stopping"));
    let status = server.wait_exit(STEP);
    assert!(status.success(), "stop must exit 0, got {status}");
    server.wait_for("flushed on shutdown", STEP);
    assert!(server.stderr().is_empty(), "{:?}", server.stderr());
}

/// REQUEST_TIMEOUT cuts a request off, yet what it had cost is charged: a broadcast whose
/// daemon answers too late still costs `0.25 + size / 5,000` (charged before the daemon is
/// asked, as ElectrumX's handler does), besides the 100 of the error answered. With both
/// cost limits 0 nothing decays, so the session's cost, as `sessions` shows it, is exactly
/// the sum of what it was charged.
#[test]
fn a_request_cut_off_by_request_timeout_is_still_charged() {
    let sim = serve(Node::generate(GenParams::fixture(63)));
    let dir = TempDir::new("admin-cost");
    std::fs::create_dir_all(dir.path()).expect("temp dir");
    let (_server, ports) = start(
        "admin-cost",
        &dir.path().join("db"),
        &sim.daemon_url(),
        "tcp://127.0.0.1:{tcp},rpc://127.0.0.1:{rpc}",
        &[
            ("COST_SOFT_LIMIT", "0"),
            ("COST_HARD_LIMIT", "0"),
            ("REQUEST_TIMEOUT", "1"),
        ],
    );
    let mut wallet = Client::tcp(ports.tcp);
    let local = wallet.local.to_string();
    ok_call(&mut wallet, "server.version", json!(["cost", "1.4"]));
    sim.control().set_delay(Duration::from_secs(3));
    // 10,000 hex digits: 0.25 + 10,000 / 5,000 = 2.25.
    let raw_tx = "00".repeat(5_000);
    let request = json!({"jsonrpc": "2.0", "id": 100, "method":
        "blockchain.transaction.broadcast", "params": [raw_tx]});
    let answer = raw(&mut wallet, &request.to_string());
    assert_eq!(
        answer["error"],
        json!({"code": -102, "message": "server busy - request timed out"}),
        "{answer}"
    );
    sim.control().set_delay(Duration::ZERO);
    // Connection 5.0, server.version 0.5, the broadcast 2.25, its error 100, and every byte
    // received and sent at 1 / 5,000.
    let (mut cost, mut expected) = (0.0, f64::NAN);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let sessions = json_of(ports.rpc, &["sessions"]);
        let row = sessions
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r[2] == json!(local)))
            .unwrap_or_else(|| panic!("no session from {local}: {sessions}"));
        let bytes = row[11].as_f64().expect("recv") + row[13].as_f64().expect("sent");
        cost = row[5].as_f64().expect("cost");
        expected = 5.0 + 0.5 + 2.25 + 100.0 + bytes / 5000.0;
        if (cost - expected).abs() < 1e-6 {
            return;
        }
        // The last bytes sent may not be counted yet.
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the session's cost is {cost}, not {expected}");
}

#[test]
fn stop_during_initial_sync_resumes_identical() {
    let started = Instant::now();
    let node = Node::generate(GenParams::sized(62, 3_000, 20));
    let tip = node.tip_height();
    let sim = serve(node);
    sim.control().set_delay(Duration::from_millis(250));
    let dir = TempDir::new("admin-stop");
    // CACHE_MB=0: a flush per block, so what was indexed before `stop` is known.
    let (mut server, ports) = start(
        "admin-stop",
        dir.path(),
        &sim.daemon_url(),
        "rpc://127.0.0.1:{rpc}",
        &[("CACHE_MB", "0")],
    );
    let port = ports.rpc;
    server.wait_for_where("flushed caches", STEP, |l| l.field("height") >= Some(5));
    // The rpc port answers during the sync.
    let info = json_of(port, &["getinfo"]);
    let h = info["db height"].as_u64().expect("db height");
    assert!(
        (5..u64::from(tip)).contains(&h),
        "db height {h} of {tip}: {info}"
    );
    assert_eq!(info["daemon height"], json!(tip));
    let err = fails(port, &["reorg", "1"], 1);
    assert!(err.contains("still catching up with daemon"), "{err}");
    assert_eq!(json_of(port, &["stop"]), json!("stopping"));
    let status = server.wait_exit(STEP);
    assert!(status.success(), "stop must exit 0, got {status}");
    assert_eq!(
        server.count("caught up with the daemon"),
        0,
        "stopped mid-sync"
    );
    let flushed = server.wait_for("flushed on shutdown", STEP);
    let stopped_at = flushed.field("height").expect("height");
    assert!(stopped_at < u64::from(tip));
    drop(server);

    sim.control().set_delay(Duration::ZERO);
    let (mut again, ports) = start(
        "admin-stop-2",
        dir.path(),
        &sim.daemon_url(),
        "rpc://127.0.0.1:{rpc}",
        &[],
    );
    let port = ports.rpc;
    let opened = again.lines_with("database opened");
    assert_eq!(opened.len(), 1);
    assert_eq!(
        opened[0].field("height"),
        Some(stopped_at),
        "resumes where it stopped"
    );
    assert_eq!(again.wait_caught_up(), tip);
    assert_eq!(json_of(port, &["getinfo"])["db height"], json!(tip));
    assert_eq!(json_of(port, &["stop"]), json!("stopping"));
    assert!(again.wait_exit(STEP).success());
    drop(again);
    let digest = sim.with_node(|n| fresh_digest(n, REORG_LIMIT));
    assert_eq!(digest_of(dir.path(), REORG_LIMIT), digest);
    eprintln!("stop during sync test: {:?}", started.elapsed());
}

/// Operators' existing tool works unchanged: ElectrumX's `electrumx_rpc` drives FerrumX
/// (arguments by name, its table formatting of FerrumX's rows, its error path, `stop`).
#[test]
fn electrumx_rpc_drives_ferrumx() {
    let Some(exe) = require(
        electrumx::electrumx_rpc(),
        "ElectrumX 1.20's electrumx_rpc is not installed (contrib/electrumx/install.sh)",
    ) else {
        return;
    };
    let node = Node::generate(GenParams::fixture(63));
    let tip = node.tip_height();
    let sim = serve(node);
    let dir = TempDir::new("admin-ex");
    let (mut server, ports) = start(
        "admin-ex",
        dir.path(),
        &sim.daemon_url(),
        "tcp://127.0.0.1:{tcp},rpc://127.0.0.1:{rpc}",
        &[],
    );
    assert_eq!(
        height_in(&server, "caught up with the daemon"),
        Some(u64::from(tip))
    );
    let (port, tcp) = (ports.rpc, ports.tcp);
    let mut wallet = Client::tcp(tcp);
    ok_call(&mut wallet, "server.version", json!(["wallet-x", "1.4"]));
    let ex = |args: &[&str]| -> String {
        let o = Command::new(&exe)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .expect("run electrumx_rpc");
        assert!(o.status.success(), "electrumx_rpc {args:?}: {}", stderr(&o));
        stdout(&o)
    };
    let info: Value = serde_json::from_str(&ex(&["getinfo"])).expect("getinfo JSON");
    assert_eq!(info["db height"], json!(tip));
    assert_eq!(info["sessions"]["count"], json!(1));
    let sessions = ex(&["sessions"]);
    let lines: Vec<&str> = sessions.lines().collect();
    assert_eq!(lines.len(), 2, "{sessions}");
    assert!(lines[1].contains("wallet-x   1.4"), "{sessions}");
    assert!(
        lines[1].ends_with(&format!("{:>21}", wallet.local.to_string())),
        "{sessions}"
    );
    assert!(ex(&["groups"]).starts_with("Name "));
    assert!(ex(&["peers"]).starts_with("Host "));
    let out: Value = serde_json::from_str(&ex(&["disconnect", "999"])).expect("JSON");
    assert_eq!(out, json!(["unknown: 999"]));
    let out = ex(&["query", "--limit", "2", "00"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "Script: 00",
            "No history found",
            "No UTXOs found",
            "Balance: 0 XTN"
        ]
    );
    let out: Value = serde_json::from_str(&ex(&["reorg", "1"])).expect("JSON");
    assert!(
        out.as_str()
            .is_some_and(|s| s.starts_with("reorg of 1 blocks")),
        "{out}"
    );
    server.wait_new_block(tip);
    // Its error path: ElectrumX's client prints the error and exits 1.
    let o = Command::new(&exe)
        .env_clear()
        .args(["-p", &port.to_string(), "add_peer", "no-port.example"])
        .output()
        .expect("run electrumx_rpc");
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("no port given"), "{}", stdout(&o));
    let out: Value = serde_json::from_str(&ex(&["stop"])).expect("JSON");
    assert_eq!(out, json!("stopping"));
    assert!(server.wait_exit(STEP).success());
}
