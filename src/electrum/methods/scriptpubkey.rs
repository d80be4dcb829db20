//! The scriptPubKey family (protocol 1.7): `blockchain.scriptpubkey.get_balance`,
//! `get_history`, `get_mempool`, `listunspent`, `subscribe`, `unsubscribe`. A client names a
//! script by its scriptPubKey (hex) instead of its script hash; the reads, costs and status
//! are the script-hash family's (ElectrumX 2.0's `phandle_scriptpubkey_*` call its hashX
//! functions), the lists come wrapped in dicts (`{"history": [...]}`, `{"utxos": [...]}`),
//! and a subscription is notified as `blockchain.scriptpubkey.subscribe` with the script
//! hash in lowercase hex (what ElectrumX 2.0 stores and echoes).

use serde_json::json;

use super::backend::Backend;
use super::call::Call;
use super::failure::Outcome;
use super::request::ScriptHashArg;

impl<B: Backend> Call<'_, B> {
    /// `blockchain.scriptpubkey.get_balance`: as `scripthash.get_balance`.
    pub(super) async fn spk_get_balance(&self, spk: &ScriptHashArg) -> Outcome {
        self.get_balance(spk.sh).await
    }

    /// `blockchain.scriptpubkey.get_history`: `{"history": [...]}`, the list as
    /// `scripthash.get_history`'s.
    pub(super) async fn spk_get_history(&self, spk: &ScriptHashArg) -> Outcome {
        Ok(json!({"history": self.get_history(spk.sh, true).await?}))
    }

    /// `blockchain.scriptpubkey.get_mempool`: `{"history": [...]}`, the list as
    /// `scripthash.get_mempool`'s.
    pub(super) async fn spk_get_mempool(&self, spk: &ScriptHashArg) -> Outcome {
        Ok(json!({"history": self.get_history(spk.sh, false).await?}))
    }

    /// `blockchain.scriptpubkey.listunspent`: `{"utxos": [...]}`, the list as
    /// `scripthash.listunspent`'s.
    pub(super) async fn spk_listunspent(&self, spk: &ScriptHashArg) -> Outcome {
        Ok(json!({"utxos": self.listunspent(spk.sh).await?}))
    }

    /// `blockchain.scriptpubkey.subscribe`: the status, as `scripthash.subscribe`'s; the
    /// session notifies it under its 1.7 name.
    pub(super) async fn spk_subscribe(&self, spk: &ScriptHashArg) -> Outcome {
        self.subscribe(spk).await
    }

    /// `blockchain.scriptpubkey.unsubscribe`: whether there was a subscription.
    pub(super) fn spk_unsubscribe(&self, spk: &ScriptHashArg) -> Outcome {
        self.unsubscribe(spk.sh)
    }
}
