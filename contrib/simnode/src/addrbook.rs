//! The generator's addresses, compactly: a big chain's generator derives tens of millions of
//! addresses, so it keeps of each only its kind and output script (in one arena), and an
//! index from a 64-bit hash of the script to the address; keys are derived again from the
//! seed when an address's coins are spent. The first addresses (the hot ones, spent over and
//! over) are kept whole.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use bitcoin::secp256k1::{All, Secp256k1};
use bitcoin::Script;

use crate::wallet::{Address, Kind};

/// Every address the generator has derived, by index.
pub struct AddressBook {
    seed: u64,
    kinds: Vec<Kind>,
    /// Output scripts, end to end; address `i`'s is `scripts[ends[i-1]..ends[i]]`.
    scripts: Vec<u8>,
    ends: Vec<u64>,
    /// 64-bit hash of an output script → the first address with that hash.
    by_script: HashMap<u64, u32>,
    /// Addresses `0..kept.len()`, whole.
    kept: Vec<Address>,
    keep: u32,
}

fn script_key(script: &[u8]) -> u64 {
    // SipHash with fixed keys: the same key in every run.
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    script.hash(&mut h);
    h.finish()
}

impl AddressBook {
    /// An empty book for `seed`, keeping the first `keep` addresses whole.
    pub fn new(seed: u64, keep: u32) -> AddressBook {
        AddressBook {
            seed,
            kinds: Vec::new(),
            scripts: Vec::new(),
            ends: Vec::new(),
            by_script: HashMap::new(),
            kept: Vec::new(),
            keep,
        }
    }

    /// Number of addresses.
    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// Derives the next address, of `kind`; returns its index.
    pub fn push(&mut self, secp: &Secp256k1<All>, kind: Kind) -> u32 {
        let index = self.kinds.len() as u32;
        let a = Address::derive(secp, self.seed, index, kind);
        let script = a.script_pubkey.as_bytes();
        self.by_script.entry(script_key(script)).or_insert(index);
        self.scripts.extend_from_slice(script);
        self.ends.push(self.scripts.len() as u64);
        self.kinds.push(kind);
        if index < self.keep {
            self.kept.push(a);
        }
        index
    }

    /// Kind of address `i`.
    pub fn kind(&self, i: u32) -> Option<Kind> {
        self.kinds.get(i as usize).copied()
    }

    /// Kinds of every address, in order.
    pub fn kinds(&self) -> &[Kind] {
        &self.kinds
    }

    /// Output script of address `i`.
    pub fn script(&self, i: u32) -> Option<&Script> {
        let end = *self.ends.get(i as usize)? as usize;
        let start = match i.checked_sub(1) {
            Some(p) => *self.ends.get(p as usize)? as usize,
            None => 0,
        };
        self.scripts.get(start..end).map(Script::from_bytes)
    }

    /// The address owning an output script, if it is one of the book's.
    pub fn owner_of(&self, script: &Script) -> Option<u32> {
        let i = *self.by_script.get(&script_key(script.as_bytes()))?;
        (self.script(i) == Some(script)).then_some(i)
    }

    /// Address `i` whole (keys derived again unless it is kept).
    pub fn address(&self, secp: &Secp256k1<All>, i: u32) -> Option<Address> {
        if let Some(a) = self.kept.get(i as usize) {
            return Some(a.clone());
        }
        let kind = self.kind(i)?;
        Some(Address::derive(secp, self.seed, i, kind))
    }
}
