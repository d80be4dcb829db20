//! A session's script-hash subscriptions, kept small: a session may hold thousands, and a
//! server hundreds of thousands (see `benches/load.rs` for the bytes each costs).

use std::collections::HashMap;

use bitcoin::hex::DisplayHex;

use crate::index::{HashX, HASHX_LEN};

/// Bytes of a script hash after its [`HashX`] key.
const REST_LEN: usize = 32 - HASHX_LEN;
/// [`Sub::flags`]: a status was sent (else there was no history).
const HAS_STATUS: u8 = 1;
/// [`Sub::flags`]: that status had mempool transactions (it may then change when another
/// transaction confirms: re-checked on every new block, as ElectrumX does).
const HAS_MEMPOOL: u8 = 2;

/// One script-hash subscription, kept small (65 bytes with its key, byte-aligned: a session
/// may hold thousands): the script hash is its key plus `rest`, the last status is 32 bytes
/// and a flag, and the client's spelling of the script hash is kept apart, only when it is
/// not the canonical one.
#[derive(Clone, Debug)]
pub(super) struct Sub {
    /// The script hash's bytes after its key (internal byte order).
    rest: [u8; REST_LEN],
    /// The status last sent (or answered to `subscribe`), if [`HAS_STATUS`].
    last: [u8; 32],
    flags: u8,
}

impl Sub {
    pub(super) fn new(sh: &[u8; 32], status: Option<[u8; 32]>, has_mempool: bool) -> Sub {
        let mut rest = [0u8; REST_LEN];
        rest.copy_from_slice(&sh[HASHX_LEN..]);
        let mut sub = Sub {
            rest,
            last: [0; 32],
            flags: 0,
        };
        sub.set(status, has_mempool);
        sub
    }

    pub(super) fn set(&mut self, status: Option<[u8; 32]>, has_mempool: bool) {
        self.flags = if has_mempool { HAS_MEMPOOL } else { 0 };
        if let Some(s) = status {
            self.last = s;
            self.flags |= HAS_STATUS;
        }
    }

    pub(super) fn last(&self) -> Option<[u8; 32]> {
        (self.flags & HAS_STATUS != 0).then_some(self.last)
    }

    pub(super) fn has_mempool(&self) -> bool {
        self.flags & HAS_MEMPOOL != 0
    }

    /// The full script hash, given its key.
    pub(super) fn sh(&self, x: &HashX) -> [u8; 32] {
        let mut sh = [0u8; 32];
        sh[..HASHX_LEN].copy_from_slice(&x.0);
        sh[HASHX_LEN..].copy_from_slice(&self.rest);
        sh
    }
}

/// A session's script-hash subscriptions.
#[derive(Debug, Default)]
pub(super) struct Subs {
    pub(super) map: HashMap<HashX, Sub>,
    /// The client's spelling of a subscribed script hash, when not the canonical lowercase
    /// hex (notifications echo what the client sent, as ElectrumX does).
    pub(super) aliases: HashMap<HashX, Box<str>>,
}

impl Subs {
    /// The script hash of `x` as notifications name it.
    pub(super) fn alias(&self, x: &HashX, sub: &Sub) -> String {
        match self.aliases.get(x) {
            Some(a) => a.to_string(),
            None => {
                let mut r = sub.sh(x);
                r.reverse();
                r.to_lower_hex_string()
            }
        }
    }

    pub(super) fn remove(&mut self, x: &HashX) -> Option<String> {
        let sub = self.map.remove(x)?;
        let alias = self.alias(x, &sub);
        self.aliases.remove(x);
        Some(alias)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscription_is_65_bytes_and_keeps_its_script_hash_and_status() {
        assert_eq!(std::mem::size_of::<(HashX, Sub)>(), 65);
        let sh: [u8; 32] = std::array::from_fn(|i| i as u8 + 1);
        let x = HashX::from_script_hash(&sh);
        let mut sub = Sub::new(&sh, None, false);
        assert_eq!(sub.sh(&x), sh);
        assert_eq!((sub.last(), sub.has_mempool()), (None, false));
        sub.set(Some([7; 32]), true);
        assert_eq!((sub.last(), sub.has_mempool()), (Some([7; 32]), true));
        sub.set(None, false);
        assert_eq!((sub.last(), sub.has_mempool()), (None, false));
    }

    #[test]
    fn notifications_name_the_script_hash_as_the_client_spelt_it() {
        let sh: [u8; 32] = std::array::from_fn(|i| 0xa0 + i as u8);
        let x = HashX::from_script_hash(&sh);
        let mut canonical = sh;
        canonical.reverse();
        let canonical = canonical.to_lower_hex_string();
        let mut subs = Subs::default();
        subs.map.insert(x, Sub::new(&sh, None, false));
        let sub = subs.map[&x].clone();
        assert_eq!(subs.alias(&x, &sub), canonical);
        subs.aliases.insert(x, canonical.to_uppercase().into());
        assert_eq!(subs.alias(&x, &sub), canonical.to_uppercase());
        assert_eq!(subs.remove(&x), Some(canonical.to_uppercase()));
        assert!(subs.aliases.is_empty() && subs.map.is_empty());
        assert_eq!(subs.remove(&x), None);
    }
}
