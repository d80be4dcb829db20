//! Running one bound call: its fixed cost charged as ElectrumX charges it, its arguments
//! turned into a typed [`Request`], and the request handed to its family's handler.

use serde_json::Value;

use super::backend::Backend;
use super::call::Call;
use super::failure::{CallFailure, Outcome};
use super::request::Request;
use super::table::Method;
use crate::jsonrpc::Answer;

impl<B: Backend> Call<'_, B> {
    /// Runs `method` with bound `args` (one entry per signature name, `None` when not
    /// given; extra positional arguments after them for `server.version`).
    pub async fn run(&self, method: Method, args: &[Option<Value>]) -> Outcome {
        let request = self.prepare(method, args)?;
        self.dispatch(&request).await
    }

    /// [`Call::run`] as an [`Answer`]: histories are written straight from the cached
    /// history ([`HistoryJson`]), every other answer is its value.
    pub async fn run_answer(
        &self,
        method: Method,
        args: &[Option<Value>],
    ) -> Result<Answer, CallFailure> {
        let request = self.prepare(method, args)?;
        match &request {
            Request::GetHistory(sh) => self.history_answer(sh.sh, false).await,
            Request::SpkGetHistory(spk) => self.history_answer(spk.sh, true).await,
            _ => self.dispatch(&request).await.map(Answer::Value),
        }
    }

    /// Charges `method`'s fixed cost and checks its arguments.
    fn prepare(&self, method: Method, args: &[Option<Value>]) -> Result<Request, CallFailure> {
        let cost = method.fixed_cost();
        if cost.before_checks > 0.0 {
            self.bump(cost.before_checks);
        }
        let request = Request::parse(method, args)?;
        if cost.after_checks > 0.0 {
            self.bump(cost.after_checks);
        }
        Ok(request)
    }

    /// Hands a checked request to its handler (fixed costs already charged).
    pub async fn dispatch(&self, request: &Request) -> Outcome {
        match request {
            // server
            Request::Version {
                client_name,
                protocol_version,
            } => self.server_version(client_name.as_ref(), protocol_version.as_ref()),
            Request::Banner => self.banner().await,
            Request::DonationAddress => self.donation_address(),
            Request::Features => self.features(),
            Request::PeersSubscribe => self.peers_subscribe(),
            Request::AddPeer => self.add_peer(),
            Request::Ping | Request::PingNotification => self.ping(),
            Request::PingPong { pong_len } => self.ping_pong(pong_len),
            // headers
            Request::HeadersSubscribe => self.headers_subscribe(),
            Request::BlockHeader { height, cp_height } => {
                self.block_header(height, cp_height).await
            }
            Request::BlockHeaders {
                start_height,
                count,
                cp_height,
            } => self.block_headers(start_height, count, cp_height).await,
            // fees and mempool
            Request::EstimateFee { number, mode } => self.estimatefee(number, *mode).await,
            Request::RelayFee => self.relayfee().await,
            Request::FeeHistogram => self.fee_histogram(),
            Request::MempoolInfo => self.mempool_info().await,
            Request::MempoolRecent => self.mempool_recent(),
            // script hashes
            Request::GetBalance(sh) => self.get_balance(sh.sh).await,
            Request::GetHistory(sh) => self.get_history(sh.sh, true).await,
            Request::GetMempool(sh) => self.get_history(sh.sh, false).await,
            Request::ListUnspent(sh) => self.listunspent(sh.sh).await,
            Request::Subscribe(sh) => self.subscribe(sh).await,
            Request::Unsubscribe(sh) => self.unsubscribe(sh.sh),
            // scriptPubKeys (1.7)
            Request::SpkGetBalance(spk) => self.spk_get_balance(spk).await,
            Request::SpkGetHistory(spk) => self.spk_get_history(spk).await,
            Request::SpkGetMempool(spk) => self.spk_get_mempool(spk).await,
            Request::SpkListUnspent(spk) => self.spk_listunspent(spk).await,
            Request::SpkSubscribe(spk) => self.spk_subscribe(spk).await,
            Request::SpkUnsubscribe(spk) => self.spk_unsubscribe(spk),
            // transactions
            Request::Broadcast { raw_tx } => self.broadcast(raw_tx).await,
            Request::BroadcastPackage { raw_txs, verbose } => {
                self.broadcast_package(raw_txs, *verbose).await
            }
            Request::TxGet { txid, verbose } => self.transaction_get(*txid, *verbose).await,
            Request::TxGetMerkle { txid, height } => self.transaction_merkle(*txid, height).await,
            Request::TxIdFromPos {
                height,
                tx_pos,
                merkle,
            } => self.id_from_pos(height, tx_pos, *merkle).await,
            Request::TestMempoolAccept { raw_txs } => self.test_mempool_accept(raw_txs).await,
            // outpoints
            Request::OutpointGetStatus { txid, txout_idx } => {
                self.outpoint_get_status(*txid, txout_idx).await
            }
            Request::OutpointSubscribe { txid, txout_idx } => {
                self.outpoint_subscribe(*txid, txout_idx).await
            }
            Request::OutpointUnsubscribe { txid, txout_idx } => {
                self.outpoint_unsubscribe(*txid, txout_idx)
            }
        }
    }
}
