//! When each block of the active chain was first served (`getblock`, any verbosity): a
//! bench reads it to see how fast a server pulls the chain, decile by decile, the same way
//! for every server (FerrumX and ElectrumX do not answer clients while they sync).

use std::time::Instant;

/// First time each height was served since the last [`ServedLog::reset`].
#[derive(Debug, Default)]
pub struct ServedLog {
    first: Vec<Option<Instant>>,
}

impl ServedLog {
    /// Notes that the block at `height` is being served now.
    pub fn note(&mut self, height: u32) {
        let i = height as usize;
        if self.first.len() <= i {
            self.first.resize(i + 1, None);
        }
        if self.first[i].is_none() {
            self.first[i] = Some(Instant::now());
        }
    }

    /// Forgets everything served so far.
    pub fn reset(&mut self) {
        self.first.clear();
    }

    /// When the block at `height` was first served, if it was.
    pub fn first_served(&self, height: u32) -> Option<Instant> {
        self.first.get(height as usize).copied().flatten()
    }
}
