#!/usr/bin/env bash
# FerrumX demo: the bitcoind stand-in serves a generated regtest chain (and mines a block
# every 10 s with fresh mempool traffic); FerrumX syncs from it, follows the tip and serves
# Electrum clients on tcp://127.0.0.1:50001 (override with DEMO_SERVICES), e.g.
#   electrum --regtest --oneserver -s 127.0.0.1:50001:t
#   printf '%s\n' '{"id":1,"method":"server.version","params":["demo","1.4"]}' \
#     '{"id":2,"method":"blockchain.headers.subscribe","params":[]}' | nc 127.0.0.1 50001
# and the admin RPC on rpc://127.0.0.1:8000, e.g.
#   ./target/debug/ferrumx_rpc getinfo;  ./target/debug/ferrumx_rpc sessions
# Ctrl-C stops both. Uses the debug build shared with the tests (RocksDB is built once).
set -euo pipefail
cd "$(dirname "$0")/.."
port="${SIMNODE_PORT:-18443}"
cargo build -p ferrumx-simnode -p ferrumx --bins
dir="$(mktemp -d)"
./target/debug/ferrumx-simnode --port "$port" --blocks 400 --txs-per-block 40 \
    --mine-every 10 --traffic 20 &
sim=$!
fx=""
cleanup() {
    [ -n "$fx" ] && kill -TERM "$fx" 2>/dev/null && wait "$fx" 2>/dev/null
    kill -TERM "$sim" 2>/dev/null || true
    wait "$sim" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM
# Wait until the stand-in answers.
for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.2
done
allow_root=""
if [ "$(id -u)" -eq 0 ]; then
    echo "demo: running as root, so setting ALLOW_ROOT=1 for this demo only"
    allow_root=1
fi
COIN=Bitcoin NET=regtest DB_DIRECTORY="$dir" \
    DAEMON_URL="http://user:pass@127.0.0.1:$port/" ALLOW_ROOT="$allow_root" \
    SERVICES="${DEMO_SERVICES:-tcp://127.0.0.1:50001,rpc://127.0.0.1:8000}" \
    ./target/debug/ferrumx_server &
fx=$!
wait "$fx"
