//! The known truth about a chain, in Electrum's terms: for every script hash its confirmed
//! history, its unspent outputs and its balance, at any height.
//!
//! Semantics follow ElectrumX: a transaction is in a script hash's history when one of its
//! outputs pays to the script or one of its inputs spends an output that did; unspendable
//! outputs (`OP_RETURN` or `OP_FALSE OP_RETURN` first) are ignored; the genesis coinbase is
//! not indexed. History is in chain order (height, then position in the block), each
//! transaction once.

use std::collections::HashMap;
use std::fmt;

use bitcoin::hashes::{sha256, Hash};
use bitcoin::{Block, OutPoint, Script, Txid};

/// Electrum's script hash: `sha256(scriptPubKey)`, displayed byte-reversed in hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScriptHash(pub [u8; 32]);

impl ScriptHash {
    /// The script hash of an output script.
    pub fn of(script: &Script) -> ScriptHash {
        ScriptHash(sha256::Hash::hash(script.as_bytes()).to_byte_array())
    }

    /// Parses Electrum's display form (64 hex chars, byte-reversed).
    pub fn from_hex(s: &str) -> Option<ScriptHash> {
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            let txt = std::str::from_utf8(chunk).ok()?;
            out[31 - i] = u8::from_str_radix(txt, 16).ok()?;
        }
        Some(ScriptHash(out))
    }
}

impl fmt::Display for ScriptHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0.iter().rev() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ScriptHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScriptHash({self})")
    }
}

/// Whether ElectrumX treats an output script as unspendable (and so never indexes it).
pub fn is_unspendable(script: &Script) -> bool {
    let b = script.as_bytes();
    b.first() == Some(&0x6a) || b.starts_with(&[0x00, 0x6a])
}

/// One confirmed history entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryItem {
    pub txid: Txid,
    pub height: u32,
}

/// One unspent output of a script hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utxo {
    pub outpoint: OutPoint,
    pub value: u64,
    pub height: u32,
}

#[derive(Clone, Debug)]
struct OutRec {
    outpoint: OutPoint,
    value: u64,
    height: u32,
    spent_at: Option<u32>,
}

#[derive(Clone, Debug, Default)]
struct Entry {
    history: Vec<HistoryItem>,
    outputs: Vec<OutRec>,
}

/// Truth tables, maintained block by block (connect and disconnect).
#[derive(Clone, Debug, Default)]
pub struct Truth {
    map: HashMap<ScriptHash, Entry>,
    /// Unspent outpoints → (owner, index in its `outputs`).
    owners: HashMap<OutPoint, (ScriptHash, u32)>,
    /// Per connected height: the script hashes it touched and the outpoints it spent.
    undo: Vec<BlockUndo>,
}

#[derive(Clone, Debug, Default)]
struct BlockUndo {
    touched: Vec<ScriptHash>,
    spent: Vec<(OutPoint, ScriptHash, u32)>,
}

impl Truth {
    /// Empty truth (no block connected).
    pub fn new() -> Truth {
        Truth::default()
    }

    /// Height of the last connected block, if any.
    pub fn tip_height(&self) -> Option<u32> {
        (self.undo.len() as u32).checked_sub(1)
    }

    /// Connects the block at `height` (must be the next height).
    pub fn connect_block(&mut self, height: u32, block: &Block) {
        debug_assert_eq!(self.undo.len() as u32, height);
        let mut undo = BlockUndo::default();
        if height > 0 {
            for tx in &block.txdata {
                let txid = tx.compute_txid();
                let mut touched_here: Vec<ScriptHash> = Vec::new();
                if !tx.is_coinbase() {
                    for input in &tx.input {
                        if let Some((sh, idx)) = self.owners.remove(&input.previous_output) {
                            if let Some(e) = self.map.get_mut(&sh) {
                                if let Some(rec) = e.outputs.get_mut(idx as usize) {
                                    rec.spent_at = Some(height);
                                }
                            }
                            undo.spent.push((input.previous_output, sh, idx));
                            touched_here.push(sh);
                        }
                    }
                }
                for (vout, out) in tx.output.iter().enumerate() {
                    if is_unspendable(&out.script_pubkey) {
                        continue;
                    }
                    let sh = ScriptHash::of(&out.script_pubkey);
                    let e = self.map.entry(sh).or_default();
                    let outpoint = OutPoint::new(txid, vout as u32);
                    e.outputs.push(OutRec {
                        outpoint,
                        value: out.value.to_sat(),
                        height,
                        spent_at: None,
                    });
                    self.owners
                        .insert(outpoint, (sh, (e.outputs.len() - 1) as u32));
                    touched_here.push(sh);
                }
                for sh in touched_here {
                    let e = self.map.entry(sh).or_default();
                    if e.history.last().map(|h| h.txid) != Some(txid) {
                        e.history.push(HistoryItem { txid, height });
                        undo.touched.push(sh);
                    }
                }
            }
        }
        self.undo.push(undo);
    }

    /// Records that the block at `height` (the next height) is connected without its truth:
    /// a block of a disk-backed chain ([`crate::archive`]), which the truth does not cover.
    pub fn connect_untracked(&mut self, height: u32) {
        debug_assert_eq!(self.undo.len() as u32, height);
        self.undo.push(BlockUndo::default());
    }

    /// Disconnects the last connected block.
    pub fn disconnect_tip(&mut self) {
        let Some(undo) = self.undo.pop() else { return };
        let height = self.undo.len() as u32;
        for sh in undo.touched.iter() {
            if let Some(e) = self.map.get_mut(sh) {
                while e.history.last().is_some_and(|h| h.height == height) {
                    e.history.pop();
                }
                while e.outputs.last().is_some_and(|o| o.height == height) {
                    if let Some(o) = e.outputs.pop() {
                        self.owners.remove(&o.outpoint);
                    }
                }
            }
        }
        for (outpoint, sh, idx) in undo.spent.into_iter().rev() {
            if let Some(rec) = self
                .map
                .get_mut(&sh)
                .and_then(|e| e.outputs.get_mut(idx as usize))
            {
                rec.spent_at = None;
                self.owners.insert(outpoint, (sh, idx));
            }
        }
        for sh in undo.touched {
            if self.map.get(&sh).is_some_and(|e| e.history.is_empty()) {
                self.map.remove(&sh);
            }
        }
    }

    /// Every script hash with at least one history entry.
    pub fn script_hashes(&self) -> impl Iterator<Item = &ScriptHash> {
        self.map.keys()
    }

    /// Confirmed history at `height` (None = tip), in chain order.
    pub fn history(&self, sh: &ScriptHash, height: Option<u32>) -> Vec<HistoryItem> {
        let h = height.unwrap_or(u32::MAX);
        self.map
            .get(sh)
            .map(|e| {
                e.history
                    .iter()
                    .take_while(|x| x.height <= h)
                    .copied()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Number of confirmed history entries at the tip.
    pub fn history_len(&self, sh: &ScriptHash) -> usize {
        self.map.get(sh).map_or(0, |e| e.history.len())
    }

    /// Unspent outputs at `height` (None = tip), in chain order.
    pub fn utxos(&self, sh: &ScriptHash, height: Option<u32>) -> Vec<Utxo> {
        let h = height.unwrap_or(u32::MAX);
        self.map
            .get(sh)
            .map(|e| {
                e.outputs
                    .iter()
                    .filter(|o| o.height <= h && o.spent_at.is_none_or(|s| s > h))
                    .map(|o| Utxo {
                        outpoint: o.outpoint,
                        value: o.value,
                        height: o.height,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Confirmed balance in satoshis at `height` (None = tip).
    pub fn balance(&self, sh: &ScriptHash, height: Option<u32>) -> u64 {
        self.utxos(sh, height).iter().map(|u| u.value).sum()
    }
}
