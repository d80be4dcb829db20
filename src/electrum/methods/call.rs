//! What a handler works with: the backend and the session its cost is charged to, and the
//! few helpers every family uses.

use std::sync::Arc;

use bitcoin::hex::DisplayHex;
use serde_json::Value;

use crate::electrum::session::SessionState;

use super::backend::Backend;
use super::failure::CallFailure;

/// One call in progress: what it may use (the backend, generic so that tests can fake it)
/// and the session it runs for (which its cost is charged to).
pub struct Call<'a, B> {
    pub backend: &'a Arc<B>,
    pub session: &'a Arc<SessionState>,
}

impl<B: Backend> Call<'_, B> {
    /// Charges `cost` to the session at once, as ElectrumX's `bump_cost` does: what a
    /// request has incurred stays charged even if REQUEST_TIMEOUT cuts it off (most methods
    /// charge before their slow part).
    pub(super) fn bump(&self, cost: f64) {
        self.session.bump_cost(cost);
    }

    /// Runs `f` on a blocking thread (index reads).
    pub(super) async fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&B) -> R + Send + 'static,
    ) -> Result<R, CallFailure> {
        let backend = self.backend.clone();
        Ok(tokio::task::spawn_blocking(move || f(&backend)).await?)
    }

    /// The height of the flushed tip (0 before the first block).
    pub(super) fn db_height(&self) -> u32 {
        self.backend.tip().map_or(0, |t| t.0)
    }
}

/// A hash in internal byte order as clients see it: reversed, in hex.
pub(super) fn hex_hash(h: &[u8; 32]) -> String {
    let mut r = *h;
    r.reverse();
    r.to_lower_hex_string()
}

/// Appends `extra`'s fields to `target` (both objects).
pub(super) fn merge(target: &mut Value, extra: Value) {
    if let (Some(t), Value::Object(e)) = (target.as_object_mut(), extra) {
        for (k, v) in e {
            t.insert(k, v);
        }
    }
}
