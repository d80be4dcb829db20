//! Core 31's `-txospenderindex` for the stand-in: which transaction of the active chain spent
//! an output. It follows the active chain (a spend in a stale block is forgotten when the block
//! is disconnected), as Core's index does. Entries are the spender's place (height, position
//! in the block), 8 bytes beside the 36-byte outpoint; the txid and block hash are read from
//! the block itself.

use std::collections::HashMap;

use bitcoin::{Block, OutPoint};

/// Outpoint → (height, transaction position) of the active-chain transaction spending it.
#[derive(Clone, Debug, Default)]
pub struct SpenderIndex {
    map: HashMap<OutPoint, (u32, u32)>,
}

impl SpenderIndex {
    /// Records the spends of a block connected at `height`.
    pub fn connect(&mut self, height: u32, block: &Block) {
        for (pos, tx) in block.txdata.iter().enumerate().skip(1) {
            for input in &tx.input {
                self.map.insert(input.previous_output, (height, pos as u32));
            }
        }
    }

    /// Forgets the spends of a block being disconnected.
    pub fn disconnect(&mut self, block: &Block) {
        for tx in block.txdata.iter().skip(1) {
            for input in &tx.input {
                self.map.remove(&input.previous_output);
            }
        }
    }

    /// Where the spender of `outpoint` sits in the active chain.
    pub fn get(&self, outpoint: &OutPoint) -> Option<(u32, u32)> {
        self.map.get(outpoint).copied()
    }

    /// Number of spent outpoints indexed.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
