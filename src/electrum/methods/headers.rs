//! The headers family: `blockchain.block.header`, `blockchain.block.headers` (with header
//! proofs to a `cp_height`) and `blockchain.headers.subscribe`.

use bitcoin::consensus::serialize;
use bitcoin::hex::DisplayHex;
use serde_json::json;

use crate::py::{thousands, PyInt};

use super::backend::Backend;
use super::call::{hex_hash, merge, Call};
use super::failure::{bad, CallFailure, Outcome};

/// Most headers one `blockchain.block.headers` returns.
pub const MAX_CHUNK_SIZE: u64 = 2016;

impl<B: Backend> Call<'_, B> {
    /// `blockchain.headers.subscribe`: the notified tip, and notifications of new ones.
    pub(super) fn headers_subscribe(&self) -> Outcome {
        self.session.subscribe_headers();
        Ok(self.backend.notified_tip())
    }

    /// `blockchain.block.header(height, cp_height=0)`.
    pub(super) async fn block_header(&self, height: &PyInt, cp_height: &PyInt) -> Outcome {
        let hex = self.raw_header(height).await?;
        let no_proof = *cp_height == PyInt::zero();
        self.bump(if no_proof { 0.25 } else { 1.25 });
        if no_proof {
            return Ok(json!(hex));
        }
        let mut result = json!({ "header": hex });
        let proof = self.merkle_proof(cp_height, height).await?;
        merge(&mut result, proof);
        Ok(result)
    }

    /// `blockchain.block.headers(start_height, count, cp_height=0)`: at most
    /// [`MAX_CHUNK_SIZE`] headers, concatenated before protocol 1.6, a list from 1.6.
    pub(super) async fn block_headers(
        &self,
        start: &PyInt,
        count: &PyInt,
        cp_height: &PyInt,
    ) -> Outcome {
        let count = count.saturating_u64();
        let mut cost = count as f64 / 50.0;
        let count = count.min(MAX_CHUNK_SIZE);
        let headers = match start.to_u32() {
            Some(start) if start <= self.db_height() => {
                self.blocking(move |b| b.headers(start, count as usize))
                    .await??
            }
            _ => Vec::new(),
        };
        let n = headers.len() as u64;
        let hexes: Vec<String> = headers
            .iter()
            .map(|h| serialize(h).to_lower_hex_string())
            .collect();
        let mut result = if self.session.with_protocol(|v| v.at_least(&[1, 6])) {
            json!({"count": n, "max": MAX_CHUNK_SIZE, "headers": hexes})
        } else {
            json!({"hex": hexes.concat(), "count": n, "max": MAX_CHUNK_SIZE})
        };
        if n > 0 && *cp_height != PyInt::zero() {
            cost += 1.0;
            let last = PyInt::from(start.saturating_u64() + n - 1);
            let proof = self.merkle_proof(cp_height, &last).await?;
            merge(&mut result, proof);
        }
        self.bump(cost);
        Ok(result)
    }

    /// The header at `height` in hex, else ElectrumX's `height … out of range`.
    async fn raw_header(&self, height: &PyInt) -> Result<String, CallFailure> {
        let header = match height.to_u32() {
            Some(h) => self.blocking(move |b| b.header(h)).await??,
            None => None,
        };
        match header {
            Some(header) => Ok(serialize(&header).to_lower_hex_string()),
            None => Err(bad(format!("height {} out of range", height.grouped()))),
        }
    }

    /// ElectrumX's `_merkle_proof`: the branch and root proving header `height` in the
    /// headers up to `cp_height`.
    async fn merkle_proof(&self, cp_height: &PyInt, height: &PyInt) -> Outcome {
        let max_height = self.db_height();
        let max = PyInt::from(u64::from(max_height));
        if !(height <= cp_height && *cp_height <= max) {
            return Err(bad(format!(
                "require header height {} <= cp_height {} <= chain height {}",
                height.grouped(),
                cp_height.grouped(),
                thousands(max_height)
            )));
        }
        // Both are at most the chain height here.
        let (Some(cp), Some(index)) = (cp_height.to_u32(), height.to_u32()) else {
            return Err(bad("height out of range"));
        };
        let length = cp + 1;
        let (branch, root) = self
            .blocking(move |b| b.header_proof(length, index))
            .await??;
        Ok(json!({
            "branch": branch.iter().map(hex_hash).collect::<Vec<_>>(),
            "root": hex_hash(&root),
        }))
    }
}
