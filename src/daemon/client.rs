//! [`Daemon`], the bitcoind client: one typed method per bitcoind RPC FerrumX uses, each
//! run through the endpoint pool's retry loop (`retry`) and checked by `decode`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::block::Header;
use bitcoin::{BlockHash, Network, Txid};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::decode::{self, ChainTip, MempoolInfo, NetworkInfo, SmartFee};
use super::error::Error;
use super::options::{DaemonOptions, DaemonStats};
use super::retry::Pool;
use super::rpc::{self, Failure, Link};
use crate::config::DaemonEndpoint;

/// The bitcoind client. Clones share connections, counters and the current endpoint.
#[derive(Clone)]
pub struct Daemon {
    pool: Arc<Pool>,
    network: Network,
    /// Return [`Error::Unreachable`] instead of retrying past this.
    give_up_after: Option<Duration>,
}

impl fmt::Debug for Daemon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Daemon")
            .field("urls", &self.urls())
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

impl Daemon {
    /// A client of `endpoints` (DAEMON_URL, in failover order) for `network`, with the
    /// default [`DaemonOptions`]. Connects lazily, on the first call.
    pub fn new(endpoints: Vec<DaemonEndpoint>, network: Network) -> Daemon {
        Daemon::with_options(endpoints, network, DaemonOptions::default())
    }

    /// As [`Daemon::new`], with explicit options.
    pub fn with_options(
        endpoints: Vec<DaemonEndpoint>,
        network: Network,
        options: DaemonOptions,
    ) -> Daemon {
        Daemon {
            pool: Arc::new(Pool::new(endpoints, options)),
            network,
            give_up_after: None,
        }
    }

    /// A handle on the same client whose calls return [`Error::Unreachable`] once they have
    /// retried for `limit` (e.g. for Electrum sessions, which must not wait forever); the
    /// default is to retry until shutdown, as ElectrumX does.
    pub fn give_up_after(&self, limit: Duration) -> Daemon {
        Daemon {
            pool: Arc::clone(&self.pool),
            network: self.network,
            give_up_after: Some(limit),
        }
    }

    /// The configured network.
    pub fn network(&self) -> Network {
        self.network
    }

    /// The endpoints' URLs, without credentials.
    pub fn urls(&self) -> Vec<String> {
        self.pool
            .endpoints()
            .iter()
            .map(|e| e.url.clone())
            .collect()
    }

    /// The URL of the endpoint in use, without credentials.
    pub fn current_url(&self) -> Option<String> {
        self.pool.current().map(|e| e.url.clone())
    }

    /// The host of the endpoint in use, as configured (where its ZMQ notifications are
    /// published when bound to all interfaces).
    pub fn current_host(&self) -> Option<String> {
        self.pool.current().map(|e| e.host().to_string())
    }

    /// Replaces the endpoints at run time (the admin RPC's `daemon_url`, as ElectrumX's
    /// `set_url`) and moves to the first of them. Calls in flight finish where they are;
    /// their retries, and every later call, use the new list. Logs each URL (without
    /// credentials), the first marked current.
    ///
    /// # Errors
    /// An empty list ([`Error::Unreachable`]); nothing changes then.
    pub fn set_endpoints(&self, endpoints: Vec<DaemonEndpoint>) -> Result<(), Error> {
        if endpoints.is_empty() {
            return Err(Error::Unreachable {
                url: "(none)".to_string(),
                reason: "no daemon endpoint given".to_string(),
            });
        }
        for (n, e) in endpoints.iter().enumerate() {
            let current = if n == 0 { " (current)" } else { "" };
            tracing::info!("daemon #{} at {}{current}", n + 1, e.url());
        }
        self.pool.replace(endpoints);
        Ok(())
    }

    /// Counters since start.
    pub fn stats(&self) -> DaemonStats {
        self.pool.stats()
    }

    /// Runs `job` until it gets an answer (see [`Pool::run`]): retrying transport failures
    /// and warm-up, failing over, stopping on shutdown or after [`Daemon::give_up_after`].
    async fn run<T, F>(&self, job: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: Fn(&mut Link<'_>) -> Result<T, Failure> + Send + Sync + 'static,
    {
        self.pool.run(self.give_up_after, job).await
    }

    /// One call, its answer checked by `decode`.
    async fn call<T, D>(
        &self,
        method: &'static str,
        params: Vec<Value>,
        decode: D,
    ) -> Result<T, Error>
    where
        T: Send + 'static,
        D: Fn(Option<&RawValue>) -> Result<T, Error> + Send + Sync + 'static,
    {
        self.run(move |c| Ok(decode(rpc::call(c, method, &params)?.as_deref())?))
            .await
    }

    /// Checks that the daemon's genesis block (`getblockhash 0`) is the configured network's.
    ///
    /// # Errors
    /// [`Error::WrongNetwork`] on a mismatch.
    pub async fn check_network(&self) -> Result<(), Error> {
        let network = self.network;
        let expected = bitcoin::constants::genesis_block(network).block_hash();
        let got = self.block_hash(0).await?;
        if got == expected {
            Ok(())
        } else {
            Err(Error::WrongNetwork {
                network,
                expected,
                got,
            })
        }
    }

    /// `getblockcount`: the height of the daemon's tip.
    pub async fn block_count(&self) -> Result<u32, Error> {
        self.call("getblockcount", vec![], decode::height).await
    }

    /// `getbestblockhash`.
    pub async fn best_block_hash(&self) -> Result<BlockHash, Error> {
        self.call("getbestblockhash", vec![], decode::block_hash)
            .await
    }

    /// `getblockhash <height>`. A height above the tip is `Rpc { code: -8, .. }`.
    pub async fn block_hash(&self, height: u32) -> Result<BlockHash, Error> {
        self.call("getblockhash", vec![json!(height)], decode::block_hash)
            .await
    }

    /// The hashes of blocks `start..start + count`, in ONE JSON-RPC batch request. Any height
    /// above the tip makes the whole call `Rpc { code: -8, .. }`.
    pub async fn block_hashes(&self, start: u32, count: u32) -> Result<Vec<BlockHash>, Error> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let start = u64::from(start);
        let params: Vec<Vec<Value>> = (start..start + u64::from(count))
            .map(|h| vec![json!(h)])
            .collect();
        self.run(move |c| {
            let items = rpc::batch(c, "getblockhash", &params)?;
            let hashes = items
                .into_iter()
                .map(|item| decode::block_hash(item?.as_deref()))
                .collect::<Result<Vec<_>, Error>>()?;
            Ok(hashes)
        })
        .await
    }

    /// The serialized blocks, in the order asked: through REST (`/rest/block/<hash>.bin`, one
    /// request per block on one connection) where the endpoint serves it, else by JSON-RPC
    /// (`getblock <hash> 0`, hex-decoded) in ONE batch request. Each block's header is checked
    /// to hash to what was asked; the rest is parsed by the indexer. Any REST failure falls
    /// back to JSON-RPC for the same blocks (logged once as a warning). A block the daemon
    /// does not have (e.g. after a reorg) makes the whole call `Rpc { code: -5, .. }`. The
    /// caller bounds the batch (a JSON-RPC answer is at most
    /// [`DaemonOptions::max_reply_bytes`]).
    pub async fn raw_blocks(&self, hashes: &[BlockHash]) -> Result<Vec<Vec<u8>>, Error> {
        self.raw_blocks_upto(hashes, usize::MAX).await
    }

    /// As [`Daemon::raw_blocks`], but through REST (one request a block) it stops once the
    /// blocks fetched reach `max_bytes`: the first blocks of `hashes`, at least one. (A
    /// JSON-RPC batch comes whole.) The prefetcher's bound when its guess of the blocks'
    /// size was low.
    ///
    /// # Errors
    /// As [`Daemon::raw_blocks`].
    pub async fn raw_blocks_upto(
        &self,
        hashes: &[BlockHash],
        max_bytes: usize,
    ) -> Result<Vec<Vec<u8>>, Error> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let hashes = hashes.to_vec();
        let params: Vec<Vec<Value>> = hashes
            .iter()
            .map(|h| vec![json!(h.to_string()), json!(0)])
            .collect();
        let pool = Arc::clone(&self.pool);
        let (blocks, note) = self
            .run(move |link| {
                let mut note = None;
                if link.endpoint.rest.wanted() {
                    let fetched = rpc::rest_blocks(link, &hashes, max_bytes);
                    let change = link.endpoint.rest.record(fetched.as_ref().map(|_| ()));
                    note = change.map(|n| (link.endpoint.url.clone(), n));
                    if let Ok(blocks) = fetched {
                        pool.count_blocks(true, blocks.len());
                        return Ok((blocks, note));
                    }
                }
                let items = rpc::batch(link, "getblock", &params);
                if items.is_err() {
                    // No answer to carry the note back: log it here.
                    if let Some((url, n)) = note.take() {
                        n.log(&url);
                    }
                }
                let blocks = items?
                    .into_iter()
                    .zip(&hashes)
                    .map(|(item, hash)| decode::raw_block(item?.as_deref(), hash))
                    .collect::<Result<Vec<_>, Error>>()?;
                pool.count_blocks(false, blocks.len());
                Ok((blocks, note))
            })
            .await?;
        if let Some((url, note)) = note {
            note.log(&url);
        }
        Ok(blocks)
    }

    /// One serialized block (see [`Daemon::raw_blocks`]).
    pub async fn raw_block(&self, hash: BlockHash) -> Result<Vec<u8>, Error> {
        let params = vec![json!(hash.to_string()), json!(0)];
        self.call("getblock", params, move |r| decode::raw_block(r, &hash))
            .await
    }

    /// `getblockheader <hash> false`, checked to hash to `hash`.
    pub async fn block_header(&self, hash: BlockHash) -> Result<Header, Error> {
        let params = vec![json!(hash.to_string()), json!(false)];
        self.call("getblockheader", params, move |r| decode::header(r, &hash))
            .await
    }

    /// `getrawtransaction <txid> false [<block>]`: the transaction's bytes, checked to hash
    /// to `txid`. Give the block hash of a confirmed transaction: the daemon then needs no
    /// `-txindex`. Unknown transactions are `Rpc { code: -5, .. }`.
    pub async fn raw_transaction(
        &self,
        txid: Txid,
        block: Option<BlockHash>,
    ) -> Result<Vec<u8>, Error> {
        let params = tx_params(&txid, false, block);
        self.call("getrawtransaction", params, move |r| {
            decode::raw_tx(r, &txid)
        })
        .await
    }

    /// `getrawtransaction <txid> true [<block>]`, passed through as the daemon wrote it (once
    /// checked to be an object for `txid`).
    pub async fn raw_transaction_verbose(
        &self,
        txid: Txid,
        block: Option<BlockHash>,
    ) -> Result<Value, Error> {
        let params = tx_params(&txid, true, block);
        self.call("getrawtransaction", params, move |r| {
            decode::verbose_tx(r, &txid)
        })
        .await
    }

    /// Many `getrawtransaction <txid> false` in ONE batch request (mempool transactions, or
    /// confirmed ones with `-txindex`), in the order asked; `None` for a transaction the
    /// daemon does not know (-5: e.g. it left the mempool meanwhile).
    pub async fn raw_transactions(&self, txids: &[Txid]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        if txids.is_empty() {
            return Ok(Vec::new());
        }
        let txids = txids.to_vec();
        let params: Vec<Vec<Value>> = txids.iter().map(|t| tx_params(t, false, None)).collect();
        self.run(move |c| {
            let items = rpc::batch(c, "getrawtransaction", &params)?;
            let txs = items
                .into_iter()
                .zip(&txids)
                .map(|(item, txid)| match item {
                    Ok(raw) => decode::raw_tx(raw.as_deref(), txid).map(Some),
                    Err(e) if e.is_not_found() => Ok(None),
                    Err(e) => Err(e),
                })
                .collect::<Result<Vec<_>, Error>>()?;
            Ok(txs)
        })
        .await
    }

    /// `getrawmempool`: the txids in the daemon's mempool.
    pub async fn mempool_txids(&self) -> Result<Vec<Txid>, Error> {
        self.call("getrawmempool", vec![], decode::txids).await
    }

    /// `getmempoolinfo`.
    pub async fn mempool_info(&self) -> Result<MempoolInfo, Error> {
        self.call("getmempoolinfo", vec![], decode::mempool_info)
            .await
    }

    /// `getnetworkinfo`: version, subversion, relay fee.
    pub async fn network_info(&self) -> Result<NetworkInfo, Error> {
        self.call("getnetworkinfo", vec![], decode::network_info)
            .await
    }

    /// `estimatesmartfee <target> [<mode>]`. The mode ("economical", "conservative",
    /// "unset") is passed as given; the daemon's error for a bad one comes back as
    /// [`Error::Rpc`].
    pub async fn estimate_smart_fee(
        &self,
        target: u32,
        mode: Option<&str>,
    ) -> Result<SmartFee, Error> {
        let mut params = vec![json!(target)];
        params.extend(mode.map(|m| json!(m)));
        self.call("estimatesmartfee", params, decode::smart_fee)
            .await
    }

    /// `sendrawtransaction <hex>`. A rejection is `Rpc` with the daemon's code (-22 decode
    /// failure, -25 missing inputs, -26 policy, -27 already confirmed) and message, to pass on
    /// to the wallet; it is never retried.
    pub async fn broadcast(&self, tx_hex: &str) -> Result<Txid, Error> {
        self.call("sendrawtransaction", vec![json!(tx_hex)], decode::txid)
            .await
    }

    /// `submitpackage [<hex>, ...]`: the daemon's answer object, passed through.
    pub async fn submit_package(&self, txs_hex: &[String]) -> Result<Value, Error> {
        self.call("submitpackage", vec![json!(txs_hex)], |r| {
            decode::object(r, "submitpackage")
        })
        .await
    }

    /// Any method whose answer the protocol layer passes on to clients as the daemon wrote
    /// it (fee rates, `getmempoolinfo` fields, `getnetworkinfo`): the JSON value, `null` for
    /// an empty result.
    pub async fn call_json(
        &self,
        method: &'static str,
        params: Vec<Value>,
    ) -> Result<Value, Error> {
        self.call(method, params, move |r| match r {
            None => Ok(Value::Null),
            Some(raw) => {
                serde_json::from_str(raw.get()).map_err(|e| Error::bad(format!("{method}: {e}")))
            }
        })
        .await
    }

    /// `getchaintips`.
    pub async fn chain_tips(&self) -> Result<Vec<ChainTip>, Error> {
        self.call("getchaintips", vec![], decode::chain_tips).await
    }
}

fn tx_params(txid: &Txid, verbose: bool, block: Option<BlockHash>) -> Vec<Value> {
    let mut params = vec![json!(txid.to_string()), json!(verbose)];
    params.extend(block.map(|b| json!(b.to_string())));
    params
}

// `Daemon` is shared across tasks and threads.
const _: fn() = || {
    fn check<T: Send + Sync>() {}
    check::<Daemon>();
};
