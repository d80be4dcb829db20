//! The bitcoind JSON-RPC client (being written).
