//! The generator's chains: deterministic, valid in shape, really signed, of every script
//! type, and its truth tables equal a brute-force recomputation from the raw blocks.

use std::collections::{BTreeMap, HashMap, HashSet};

use bitcoin::blockdata::constants::genesis_block;
use bitcoin::consensus::deserialize;
use bitcoin::hashes::Hash;
use bitcoin::{Block, Network, OutPoint, Script, Transaction, TxOut, Txid};
use ferrumx_simnode::accept::verify_scripts;
use ferrumx_simnode::blockbuild::{subsidy, COINBASE_MATURITY, REGTEST_BITS};
use ferrumx_simnode::truth::{is_unspendable, HistoryItem, Utxo};
use ferrumx_simnode::{chainfile, GenParams, Node, ScriptHash};

/// The active chain's blocks, parsed from the node's raw bytes.
fn blocks(node: &Node) -> Vec<Block> {
    (0..=node.tip_height())
        .map(|h| {
            let raw = &node.block_at(h).expect("active block").raw;
            deserialize(raw).expect("block parses")
        })
        .collect()
}

#[test]
fn same_seed_same_bytes_other_seed_other_chain() {
    let a = Node::generate(GenParams::fixture(42));
    let b = Node::generate(GenParams::fixture(42));
    let c = Node::generate(GenParams::fixture(43));
    assert_eq!(a.tip_height(), 150);
    assert_eq!(b.tip_height(), 150);
    for h in 0..=150 {
        assert_eq!(
            a.block_at(h).unwrap().raw,
            b.block_at(h).unwrap().raw,
            "height {h} differs between two runs with the same seed"
        );
    }
    assert_ne!(a.tip_hash(), c.tip_hash());
    // The chain file round-trips byte for byte and rebuilds the same truth.
    assert_eq!(chainfile::encode(&a), chainfile::encode(&b));
    let reloaded = chainfile::decode(&chainfile::encode(&a)).expect("decodes");
    assert_eq!(reloaded.tip_hash(), a.tip_hash());
    for sh in a.truth.script_hashes() {
        assert_eq!(reloaded.truth.history(sh, None), a.truth.history(sh, None));
    }
}

#[test]
fn corrupt_chain_files_are_rejected() {
    let node = Node::generate(GenParams::fixture(5));
    let mut data = chainfile::encode(&node);
    let mid = data.len() / 2;
    data[mid] ^= 1;
    assert!(matches!(
        chainfile::decode(&data),
        Err(chainfile::ChainFileError::Checksum)
    ));
    assert!(chainfile::decode(&data[..100]).is_err());
    assert!(chainfile::decode(b"not a chain file at all, but long enough to hash").is_err());
}

/// Output kinds as a block explorer would classify them.
fn classify(script: &Script) -> &'static str {
    if script.is_op_return() {
        "op_return"
    } else if script.is_p2pk() {
        "p2pk"
    } else if script.is_p2pkh() {
        "p2pkh"
    } else if script.is_p2sh() {
        "p2sh"
    } else if script.is_p2wpkh() {
        "p2wpkh"
    } else if script.is_p2wsh() {
        "p2wsh"
    } else if script.is_p2tr() {
        "p2tr"
    } else if script.is_multisig() {
        "bare_multisig"
    } else {
        "nonstandard"
    }
}

/// The redeem script of a P2SH spend: the last push of the scriptSig.
fn redeem_script(tx: &Transaction, input: usize) -> Vec<u8> {
    let mut last = Vec::new();
    for ins in tx.input[input].script_sig.instructions().flatten() {
        if let bitcoin::script::Instruction::PushBytes(p) = ins {
            last = p.as_bytes().to_vec();
        }
    }
    last
}

#[test]
fn blocks_are_valid_and_fully_signed() {
    let node = Node::generate(GenParams::fixture(42));
    let chain = blocks(&node);
    assert_eq!(
        chain[0].block_hash(),
        genesis_block(Network::Regtest).block_hash()
    );
    // Independent UTXO replay: (outpoint) -> (output, height, coinbase).
    let mut utxos: HashMap<OutPoint, (TxOut, u32, bool)> = HashMap::new();
    let mut created_kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut spent_kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut same_block_spends = 0;
    let mut multi_input = 0;
    let mut many_outputs = 0;
    for (h, block) in chain.iter().enumerate().skip(1) {
        let h = h as u32;
        let header = &block.header;
        assert_eq!(
            header.prev_blockhash,
            chain[h as usize - 1].block_hash(),
            "link at {h}"
        );
        assert!(block.check_merkle_root(), "merkle root at {h}");
        assert_eq!(header.bits.to_consensus(), REGTEST_BITS);
        assert!(header.target().is_met_by(header.block_hash()), "pow at {h}");
        // BIP34 as Core checks it: the scriptSig starts with `CScript() << height`.
        let expect = bitcoin::script::Builder::new()
            .push_int(i64::from(h))
            .into_script();
        assert!(
            block.txdata[0].input[0]
                .script_sig
                .as_bytes()
                .starts_with(expect.as_bytes()),
            "BIP34 height at {h}"
        );
        assert!(
            header.time > chain[h as usize - 1].header.time,
            "time increases at {h}"
        );
        let has_witness = block
            .txdata
            .iter()
            .any(|t| t.input.iter().any(|i| !i.witness.is_empty()));
        let commits = block.txdata[0].output.iter().any(|o| {
            o.script_pubkey
                .as_bytes()
                .starts_with(&[0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed])
        });
        assert_eq!(
            commits, has_witness,
            "witness commitment iff witness data at {h}"
        );
        if has_witness {
            assert!(
                block.check_witness_commitment(),
                "witness commitment at {h}"
            );
        }
        let txids_in_block: HashSet<Txid> = block.txdata.iter().map(|t| t.compute_txid()).collect();
        let mut fees = 0u64;
        for (i, tx) in block.txdata.iter().enumerate() {
            let txid = tx.compute_txid();
            if i == 0 {
                assert!(tx.is_coinbase());
            } else {
                assert!(!tx.is_coinbase());
                let mut spent = Vec::new();
                for (k, input) in tx.input.iter().enumerate() {
                    let (out, height, coinbase) = utxos
                        .remove(&input.previous_output)
                        .unwrap_or_else(|| panic!("{txid} spends a missing or spent output"));
                    if coinbase {
                        assert!(h - height >= COINBASE_MATURITY, "immature coinbase spend");
                    }
                    if txids_in_block.contains(&input.previous_output.txid) {
                        same_block_spends += 1;
                    }
                    let kind = match classify(&out.script_pubkey) {
                        "p2sh" if redeem_script(tx, k).starts_with(&[0x00, 0x14]) => "p2sh_p2wpkh",
                        "p2sh" => "p2sh_multisig",
                        other => other,
                    };
                    *spent_kinds.entry(kind).or_default() += 1;
                    spent.push(out);
                }
                let value_in: u64 = spent.iter().map(|o| o.value.to_sat()).sum();
                let value_out: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
                assert!(value_in >= value_out, "{txid} creates value");
                fees += value_in - value_out;
                verify_scripts(tx, &spent).unwrap_or_else(|e| panic!("{txid}: {e}"));
                if tx.input.len() > 1 {
                    multi_input += 1;
                }
                if tx.output.len() >= 10 {
                    many_outputs += 1;
                }
            }
            for (vout, out) in tx.output.iter().enumerate() {
                *created_kinds
                    .entry(classify(&out.script_pubkey))
                    .or_default() += 1;
                if !out.script_pubkey.is_op_return() {
                    utxos.insert(OutPoint::new(txid, vout as u32), (out.clone(), h, i == 0));
                }
            }
        }
        let cb_value: u64 = block.txdata[0]
            .output
            .iter()
            .map(|o| o.value.to_sat())
            .sum();
        assert_eq!(
            cb_value,
            subsidy(h) + fees,
            "coinbase collects exactly subsidy + fees at {h}"
        );
    }
    for kind in [
        "p2pk",
        "p2pkh",
        "p2sh",
        "p2wpkh",
        "p2wsh",
        "p2tr",
        "bare_multisig",
        "op_return",
        "nonstandard",
    ] {
        assert!(
            created_kinds.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} output: {created_kinds:?}"
        );
    }
    for kind in [
        "p2pk",
        "p2pkh",
        "p2sh_p2wpkh",
        "p2sh_multisig",
        "p2wpkh",
        "p2wsh",
        "p2tr",
        "bare_multisig",
        "nonstandard",
    ] {
        assert!(
            spent_kinds.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} spend: {spent_kinds:?}"
        );
    }
    assert!(
        same_block_spends > 0,
        "no output spent in the block that created it"
    );
    assert!(multi_input > 0 && many_outputs > 0);
    // The node's UTXO set is exactly the replayed one.
    assert_eq!(node.coin_count(), utxos.len());
    for (op, (out, height, coinbase)) in &utxos {
        let c = node.coin(op).expect("coin in node");
        assert_eq!((&c.txout, c.height, c.coinbase), (out, *height, *coinbase));
    }
}

#[test]
fn tampered_signatures_fail_verification() {
    let node = Node::generate(GenParams::fixture(42));
    let chain = blocks(&node);
    let mut outputs: HashMap<OutPoint, TxOut> = HashMap::new();
    let mut checked = BTreeMap::new();
    for block in &chain {
        for tx in &block.txdata {
            if !tx.is_coinbase() {
                let spent: Vec<TxOut> = tx
                    .input
                    .iter()
                    .map(|i| outputs[&i.previous_output].clone())
                    .collect();
                let kind = classify(&spent[0].script_pubkey);
                if checked.get(kind).copied().unwrap_or(0) < 3 {
                    // Change one output's value: every signature commits to outputs.
                    let mut bad = tx.clone();
                    bad.output[0].value += bitcoin::Amount::from_sat(1);
                    assert!(
                        verify_scripts(&bad, &spent).is_err(),
                        "{kind} accepted a tampered tx"
                    );
                    *checked.entry(kind).or_insert(0) += 1;
                }
            }
            let txid = tx.compute_txid();
            for (v, o) in tx.output.iter().enumerate() {
                outputs.insert(OutPoint::new(txid, v as u32), o.clone());
            }
        }
    }
    assert!(checked.len() >= 8, "{checked:?}");
}

type Expected = HashMap<ScriptHash, (Vec<HistoryItem>, Vec<Utxo>)>;

/// Brute force: replay every transaction of the chain up to `height` with a plain map of
/// every output ever created, collecting each script hash's history and unspent outputs.
fn brute_force(chain: &[Block], height: u32) -> Expected {
    let mut outputs: HashMap<OutPoint, ScriptHash> = HashMap::new();
    let mut out: Expected = HashMap::new();
    for (h, block) in chain.iter().enumerate().take(height as usize + 1).skip(1) {
        for tx in &block.txdata {
            let txid = tx.compute_txid();
            let mut touched: Vec<ScriptHash> = Vec::new();
            for input in &tx.input {
                if let Some(owner) = outputs.get(&input.previous_output) {
                    let entry = out.entry(*owner).or_default();
                    entry.1.retain(|u| u.outpoint != input.previous_output);
                    touched.push(*owner);
                }
            }
            for (v, o) in tx.output.iter().enumerate() {
                if is_unspendable(&o.script_pubkey) {
                    continue;
                }
                let owner = ScriptHash(
                    bitcoin::hashes::sha256::Hash::hash(o.script_pubkey.as_bytes()).to_byte_array(),
                );
                let op = OutPoint::new(txid, v as u32);
                outputs.insert(op, owner);
                out.entry(owner).or_default().1.push(Utxo {
                    outpoint: op,
                    value: o.value.to_sat(),
                    height: h as u32,
                });
                touched.push(owner);
            }
            let mut seen = HashSet::new();
            for owner in touched {
                if seen.insert(owner) {
                    out.entry(owner).or_default().0.push(HistoryItem {
                        txid,
                        height: h as u32,
                    });
                }
            }
        }
    }
    out
}

fn assert_truth(node: &Node, chain: &[Block], height: u32, what: &str) {
    let expected = brute_force(chain, height);
    let at = if height == node.tip_height() {
        None
    } else {
        Some(height)
    };
    for (sh, (history, utxos)) in &expected {
        assert_eq!(
            &node.truth.history(sh, at),
            history,
            "{sh} history at {height} {what}"
        );
        assert_eq!(
            &node.truth.utxos(sh, at),
            utxos,
            "{sh} utxos at {height} {what}"
        );
        let balance: u64 = utxos.iter().map(|u| u.value).sum();
        assert_eq!(node.truth.balance(sh, at), balance);
    }
    // Nothing in the truth that the replay does not know.
    for sh in node.truth.script_hashes() {
        if !node.truth.history(sh, at).is_empty() {
            assert!(
                expected.contains_key(sh),
                "{sh} unknown to the replay {what}"
            );
        }
    }
}

#[test]
fn truth_equals_brute_force_at_every_checked_height() {
    let node = Node::generate(GenParams::fixture(42));
    let chain = blocks(&node);
    assert!(node.truth.script_hashes().count() > 100);
    // Heavy reuse: the hot addresses dominate.
    let longest = node
        .truth
        .script_hashes()
        .map(|sh| node.truth.history_len(sh))
        .max()
        .unwrap_or(0);
    assert!(longest >= 40, "longest history only {longest}");
    for height in [101, 125, 140, 150] {
        assert_truth(&node, &chain, height, "");
    }
}

#[test]
fn truth_follows_reorgs_and_mempool_traffic_chains() {
    let mut node = Node::generate(GenParams::fixture(9));
    let added = node.add_traffic(60);
    assert!(added.len() >= 50, "only {} of 60 accepted", added.len());
    let chained = added
        .iter()
        .filter(|t| !node.mempool.parents(t).is_empty())
        .count();
    assert!(chained > 0, "no unconfirmed chains");
    node.mine(1).expect("mine");
    for depth in [1, 2, 5] {
        let old_tip = node.tip_hash();
        let tip = node.tip_height();
        node.reorg(depth, depth + 1).expect("reorg");
        assert_eq!(node.tip_height(), tip + 1);
        assert!(!node.is_active(&old_tip));
        let chain = blocks(&node);
        assert_truth(
            &node,
            &chain,
            node.tip_height(),
            &format!("after reorg {depth}"),
        );
        // The UTXO set equals a replay of the final chain too.
        let mut utxos: HashSet<OutPoint> = HashSet::new();
        for b in &chain[1..] {
            for tx in &b.txdata {
                for i in &tx.input {
                    if !tx.is_coinbase() {
                        assert!(
                            utxos.remove(&i.previous_output),
                            "double spend after reorg {depth}"
                        );
                    }
                }
                for (v, o) in tx.output.iter().enumerate() {
                    if !is_unspendable(&o.script_pubkey) {
                        utxos.insert(OutPoint::new(tx.compute_txid(), v as u32));
                    }
                }
            }
        }
        assert_eq!(node.coin_count(), utxos.len());
        assert!(utxos.iter().all(|op| node.coin(op).is_some()));
    }
}

#[test]
fn sized_chains_reach_their_transaction_count_with_heavy_reuse() {
    let node = Node::generate(GenParams::sized(3, 6_000, 150));
    let txs: usize = (1..=node.tip_height())
        .map(|h| node.block_at(h).unwrap().txids.len() - 1)
        .sum();
    assert!(txs >= 6_000, "only {txs} transactions");
    let mut lens: Vec<usize> = node
        .truth
        .script_hashes()
        .map(|sh| node.truth.history_len(sh))
        .collect();
    lens.sort_unstable_by(|a, b| b.cmp(a));
    // Five hot script hashes, each in over 1% of all transactions (10,000+ at 1M txs).
    assert!(
        lens[4] * 100 >= txs,
        "fifth-longest history {} of {txs}",
        lens[4]
    );
    // And a long tail of single-use ones.
    assert!(lens.iter().filter(|l| **l <= 2).count() * 2 > lens.len());
    // Some large transactions.
    let big = (1..=node.tip_height())
        .flat_map(|h| {
            let b: Block = deserialize(&node.block_at(h).unwrap().raw).unwrap();
            b.txdata
        })
        .filter(|t| t.output.len() >= 100 || t.input.len() >= 50)
        .count();
    assert!(big > 0, "no large transactions");
}
