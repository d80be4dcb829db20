//! One refresh against the daemon: ElectrumX's `_refresh_hashes` (one round) and
//! `_process_mempool`, `_fetch_and_accept` and `_accept_transactions`.
//!
//! Steps, each keeping the state lock only for short stretches and never across an
//! `.await`:
//! 1. `getblockcount`, `getrawmempool`, `getblockcount`, repeated until both heights agree;
//!    the daemon's block at that height must be the index's flushed tip (else
//!    [`RefreshError::IndexNotSynced`], ElectrumX's `DBSyncError`; ElectrumX compares only
//!    heights, which an equal-height reorg fools).
//! 2. Transactions that left the daemon's mempool are removed.
//! 3. New ones are fetched in batches of [`FETCH_BATCH`] (`getrawtransaction`, one JSON-RPC
//!    batch each), at most [`FETCH_CONCURRENCY`] batches in flight; each batch is parsed and
//!    its confirmed prevouts (those whose transaction is not in the daemon's mempool) looked
//!    up in one index snapshot on a blocking thread. A snapshot, or the index tip after all
//!    batches, at another height than the daemon's is `IndexNotSynced` again.
//! 4. Inputs are resolved against the looked-up UTXOs, then mempool outputs (the held
//!    mempool and the new transactions accepted so far), in passes until a pass accepts
//!    nothing more; what is left (a parent missing) is dropped and logged, and fetched again
//!    next time, as ElectrumX does.
//! 5. The accepted transactions are inserted, parents first.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use bitcoin::consensus::deserialize;
use bitcoin::{BlockHash, OutPoint, Transaction, Txid};
use tokio::task::JoinSet;
use tracing::{debug, error, warn};

use super::state::{Entry, State};
use super::types::RefreshError;
use crate::daemon::Daemon;
use crate::index::{HashX, IndexReader};

/// Transactions per `getrawtransaction` batch (ElectrumX: 200).
pub const FETCH_BATCH: usize = 250;
/// Batches in flight at once (ElectrumX leaves this to the daemon client's semaphore).
pub const FETCH_CONCURRENCY: usize = 4;
/// Transactions inserted or removed per write-lock hold.
const APPLY_CHUNK: usize = 1_000;

/// A parsed new transaction whose inputs are not resolved yet.
struct NewTx {
    txid: Txid,
    prevouts: Box<[OutPoint]>,
    outs: Box<[(HashX, u64)]>,
    vsize: u64,
}

/// What one fetched batch gave.
struct Batch {
    txs: Vec<NewTx>,
    /// Confirmed outputs found for the batch's prevouts outside the daemon's mempool.
    utxos: Vec<(OutPoint, (HashX, u64))>,
    /// Height of the index snapshot they were read from.
    snapshot_height: Option<u32>,
}

/// The script hashes touched since the last successful refresh: kept across failed ones,
/// taken by the caller after a successful one.
#[derive(Default)]
pub(super) struct Touched(Mutex<HashSet<HashX>>);

impl Touched {
    fn add(&self, more: HashSet<HashX>) {
        if more.is_empty() {
            return;
        }
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if t.is_empty() {
            *t = more;
        } else {
            t.extend(more);
        }
    }

    /// Everything touched so far; empty afterwards.
    pub(super) fn take(&self) -> HashSet<HashX> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// One refresh of `state` against the daemon (the steps above), adding what it touches to
/// `touched` as it goes. Returns the daemon height the mempool was taken at. The caller runs
/// one refresh at a time.
pub(super) async fn refresh(
    state: &Arc<RwLock<State>>,
    touched: &Touched,
    daemon: &Daemon,
    index: &IndexReader,
) -> Result<u32, RefreshError> {
    let (height, txids) = loop {
        let before = daemon.block_count().await?;
        let txids = daemon.mempool_txids().await?;
        let after = daemon.block_count().await?;
        if before == after {
            break (after, txids);
        }
        debug!(
            before,
            after, "a block arrived while reading the mempool; reading again"
        );
    };
    // The index must be at the daemon's very block, not just its height: during an
    // equal-height reorg the heights agree while the index still has the old block.
    let best = daemon.block_hash(height).await?;
    check_index(index, height, best)?;

    // Transactions that left, and the new ones in the daemon's order.
    let shared = Arc::clone(state);
    let (removed, new, all) = blocking(move || sort_out(&shared, txids)).await?;
    touched.add(removed);
    if !new.is_empty() {
        let batches = fetch(daemon, index, new, &all).await?;
        for b in &batches {
            if b.snapshot_height != Some(height) {
                return Err(RefreshError::IndexNotSynced {
                    index: b.snapshot_height,
                    daemon: height,
                });
            }
        }
        check_index(index, height, best)?;
        let shared = Arc::clone(state);
        let added = blocking(move || accept_and_insert(&shared, batches)).await?;
        touched.add(added);
    }
    Ok(height)
}

fn check_index(index: &IndexReader, daemon: u32, best: BlockHash) -> Result<(), RefreshError> {
    let tip = index.tip();
    if tip == Some((daemon, best)) {
        Ok(())
    } else {
        Err(RefreshError::IndexNotSynced {
            index: tip.map(|t| t.0),
            daemon,
        })
    }
}

/// Runs `f` on a blocking thread.
async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, RefreshError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RefreshError::Task(e.to_string()))
}

/// Removes the held transactions the daemon no longer has (a chunk per write-lock hold) and
/// lists the ones it has that are not held, each once, in the daemon's order. Returns the
/// touched hashXs, the new txids and the daemon's whole mempool as a set.
fn sort_out(
    state: &std::sync::RwLock<State>,
    txids: Vec<Txid>,
) -> (HashSet<HashX>, Vec<Txid>, Arc<HashSet<Txid>>) {
    let all: HashSet<Txid> = txids.iter().copied().collect();
    let (gone, new) = {
        let s = state.read().unwrap_or_else(|e| e.into_inner());
        let gone: Vec<Txid> = s
            .txs
            .keys()
            .filter(|t| !all.contains(*t))
            .copied()
            .collect();
        let mut seen = HashSet::new();
        let new: Vec<Txid> = txids
            .into_iter()
            .filter(|t| !s.txs.contains_key(t) && seen.insert(*t))
            .collect();
        (gone, new)
    };
    let mut touched = HashSet::new();
    for chunk in gone.chunks(APPLY_CHUNK) {
        let mut s = state.write().unwrap_or_else(|e| e.into_inner());
        s.remove(chunk, &mut touched);
    }
    (touched, new, Arc::new(all))
}

/// Fetches, parses and looks up the prevouts of `new`, [`FETCH_CONCURRENCY`] batches at a
/// time; batches come back in order. The first error aborts the rest.
async fn fetch(
    daemon: &Daemon,
    index: &IndexReader,
    new: Vec<Txid>,
    all: &Arc<HashSet<Txid>>,
) -> Result<Vec<Batch>, RefreshError> {
    let chunks: Vec<Vec<Txid>> = new.chunks(FETCH_BATCH).map(<[Txid]>::to_vec).collect();
    let count = chunks.len();
    let mut results: Vec<Option<Batch>> = (0..count).map(|_| None).collect();
    let mut pending = chunks.into_iter().enumerate();
    let mut tasks = JoinSet::new();
    let spawn = |tasks: &mut JoinSet<_>, (i, chunk): (usize, Vec<Txid>)| {
        let daemon = daemon.clone();
        let index = index.clone();
        let all = Arc::clone(all);
        tasks.spawn(async move {
            let raws = daemon.raw_transactions(&chunk).await?;
            let batch = blocking(move || parse_and_look_up(chunk, raws, &all, &index)).await??;
            Ok::<_, RefreshError>((i, batch))
        });
    };
    for item in pending.by_ref().take(FETCH_CONCURRENCY) {
        spawn(&mut tasks, item);
    }
    while let Some(joined) = tasks.join_next().await {
        let (i, batch) = joined.map_err(|e| RefreshError::Task(e.to_string()))??;
        if let Some(slot) = results.get_mut(i) {
            *slot = Some(batch);
        }
        if let Some(item) = pending.next() {
            spawn(&mut tasks, item);
        }
    }
    Ok(results.into_iter().flatten().collect())
}

/// Parses a batch (skipping transactions the daemon no longer has) and looks up, in one
/// index snapshot, the prevouts whose transaction is not in the daemon's mempool.
fn parse_and_look_up(
    txids: Vec<Txid>,
    raws: Vec<Option<Vec<u8>>>,
    all: &HashSet<Txid>,
    index: &IndexReader,
) -> Result<Batch, RefreshError> {
    let mut txs = Vec::with_capacity(txids.len());
    for (txid, raw) in txids.into_iter().zip(raws) {
        // Evicted or mined since `getrawmempool`.
        let Some(raw) = raw else { continue };
        let tx: Transaction = match deserialize(&raw) {
            Ok(tx) => tx,
            Err(e) => {
                warn!(%txid, error = %e, "skipping a mempool transaction that does not parse");
                continue;
            }
        };
        let prevouts: Box<[OutPoint]> = tx
            .input
            .iter()
            .map(|i| i.previous_output)
            .filter(|p| !p.is_null())
            .collect();
        let outs: Box<[(HashX, u64)]> = tx
            .output
            .iter()
            .map(|o| (HashX::of_script(&o.script_pubkey), o.value.to_sat()))
            .collect();
        txs.push(NewTx {
            txid,
            prevouts,
            outs,
            vsize: tx.vsize() as u64,
        });
    }
    let wanted: Vec<OutPoint> = txs
        .iter()
        .flat_map(|t| t.prevouts.iter())
        .filter(|p| !all.contains(&p.txid))
        .copied()
        .collect();
    let (snapshot_height, found) = index.unspent_outputs(&wanted)?;
    let utxos = wanted
        .into_iter()
        .zip(found)
        .filter_map(|(op, f)| f.map(|f| (op, f)))
        .collect();
    Ok(Batch {
        txs,
        utxos,
        snapshot_height,
    })
}

/// Resolves the new transactions' inputs (ElectrumX's `_accept_transactions`, repeated until
/// a pass accepts nothing), then inserts the accepted ones, parents first, a chunk per
/// write-lock hold. Returns the touched hashXs.
fn accept_and_insert(state: &std::sync::RwLock<State>, batches: Vec<Batch>) -> HashSet<HashX> {
    let mut utxos: HashMap<OutPoint, (HashX, u64)> = HashMap::new();
    let mut pending: Vec<NewTx> = Vec::new();
    for b in batches {
        utxos.extend(b.utxos);
        pending.extend(b.txs);
    }
    let accepted = {
        // Only refreshes write, one at a time: the held mempool cannot change meanwhile, and a
        // read lock does not hold up the Electrum sessions.
        let held = state.read().unwrap_or_else(|e| e.into_inner());
        accept(&held, pending, utxos)
    };
    let mut touched = HashSet::new();
    let mut accepted = accepted.into_iter().peekable();
    while accepted.peek().is_some() {
        let mut s = state.write().unwrap_or_else(|e| e.into_inner());
        for (txid, entry) in accepted.by_ref().take(APPLY_CHUNK) {
            s.insert(txid, entry, &mut touched);
        }
    }
    touched
}

/// The accepting passes; returns the accepted transactions in acceptance order (parents
/// before children).
fn accept(
    held: &State,
    mut pending: Vec<NewTx>,
    mut utxos: HashMap<OutPoint, (HashX, u64)>,
) -> Vec<(Txid, Entry)> {
    let mut accepted: Vec<(Txid, Entry)> = Vec::with_capacity(pending.len());
    let mut position: HashMap<Txid, usize> = HashMap::with_capacity(pending.len());
    loop {
        let before = pending.len();
        let mut deferred = Vec::new();
        for tx in pending {
            let mut ins = Vec::with_capacity(tx.prevouts.len());
            for p in tx.prevouts.iter() {
                let found = utxos.get(p).copied().or_else(|| {
                    let outs = match position.get(&p.txid) {
                        Some(&i) => &accepted.get(i)?.1.outs,
                        None => &held.txs.get(&p.txid)?.outs,
                    };
                    outs.get(p.vout as usize).copied()
                });
                match found {
                    Some(pair) => ins.push(pair),
                    None => break,
                }
            }
            if ins.len() < tx.prevouts.len() {
                deferred.push(tx);
                continue;
            }
            for p in tx.prevouts.iter() {
                utxos.remove(p);
            }
            let value_in: u128 = ins.iter().map(|p| u128::from(p.1)).sum();
            let value_out: u128 = tx.outs.iter().map(|p| u128::from(p.1)).sum();
            // Never negative (ElectrumX: "generation-like transactions").
            let fee = u64::try_from(value_in.saturating_sub(value_out)).unwrap_or(u64::MAX);
            position.insert(tx.txid, accepted.len());
            accepted.push((
                tx.txid,
                Entry {
                    prevouts: tx.prevouts,
                    ins: ins.into_boxed_slice(),
                    outs: tx.outs,
                    fee,
                    vsize: tx.vsize,
                },
            ));
        }
        pending = deferred;
        if pending.is_empty() || pending.len() == before {
            break;
        }
    }
    if !pending.is_empty() {
        error!("{} txs dropped", pending.len());
        for tx in &pending {
            debug!(txid = %tx.txid, "dropped: an input is neither confirmed nor in the mempool");
        }
    }
    accepted
}
