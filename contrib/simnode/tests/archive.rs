//! Big chains from disk: a chain generated straight into a file is the chain `Node::generate`
//! makes (byte for byte), and a node serving the file from disk answers with the same blocks
//! and transactions as the node holding it in memory.

use std::path::PathBuf;

use ferrumx_simnode::{archive, chainfile, GenParams, Node};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("simnode-archive-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn params() -> GenParams {
    GenParams::sized(17, 4_000, 40)
}

#[test]
fn streamed_file_is_the_generated_chain_byte_for_byte() {
    let path = temp("streamed.chain");
    let stats = archive::generate(&params(), &path).expect("generate into the file");
    let node = Node::generate(params());
    assert_eq!(stats.blocks, node.tip_height());
    assert!(stats.txs >= 4_000, "{stats:?}");
    let streamed = std::fs::read(&path).expect("read the file");
    assert_eq!(stats.bytes, streamed.len() as u64);
    assert!(
        streamed == chainfile::encode(&node),
        "the streamed file differs from the in-memory chain's"
    );
    // The file loads in memory too, validated block by block.
    let loaded = chainfile::load(&path).expect("load");
    assert_eq!(loaded.tip_hash(), node.tip_hash());
    let _ = std::fs::remove_file(&path);
}

#[test]
fn disk_backed_node_serves_the_same_blocks_and_transactions() {
    let path = temp("served.chain");
    let (opened, reused) = archive::open_or_generate(&params(), &path).expect("open");
    assert!(!reused);
    let memory = Node::generate(params());
    assert_eq!(opened.tip_height(), memory.tip_height());
    assert_eq!(opened.tip_hash(), memory.tip_hash());
    assert_eq!(opened.archived_height(), memory.tip_height());
    assert!(opened.is_archived() && !memory.is_archived());
    for h in 0..=memory.tip_height() {
        let (a, b) = (opened.block_at(h).unwrap(), memory.block_at(h).unwrap());
        assert_eq!(a.hash, b.hash);
        assert_eq!(a.bytes().unwrap(), b.bytes().unwrap(), "block {h}");
        assert_eq!(a.size(), b.raw.len());
        assert_eq!(a.txids, b.txids);
        assert_eq!(a.fees, b.fees, "fees of block {h}");
        assert_eq!(a.vsizes, b.vsizes);
        assert_eq!(a.chainwork, b.chainwork);
        assert_eq!(a.median_time, b.median_time);
        // (The genesis coinbase is in no transaction index, as in Core.)
        for (i, txid) in b.txids.iter().enumerate().filter(|_| h > 0) {
            assert_eq!(opened.txindex_lookup(txid), Some((b.hash, i as u32)));
            let (tx, _) = opened.find_tx(txid).expect("transaction found");
            assert_eq!(tx.compute_txid(), *txid);
        }
    }
    let unknown = "00".repeat(32).parse().unwrap();
    assert!(opened.find_tx(&unknown).is_none());
    // Opened again, the file is reused.
    let (again, reused) = archive::open_or_generate(&params(), &path).expect("reopen");
    assert!(reused);
    assert_eq!(again.tip_hash(), memory.tip_hash());
    // Blocks mined on top are held in memory, with their truth.
    let mut opened = opened;
    let hashes = opened.mine(2).expect("mine on a disk-backed chain");
    assert_eq!(opened.tip_hash(), hashes[1]);
    assert_eq!(
        opened.block_at(memory.tip_height() + 2).unwrap().hash,
        hashes[1]
    );
    assert_eq!(opened.truth.tip_height(), Some(memory.tip_height() + 2));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn other_versions_and_corrupt_files_are_regenerated_or_rejected() {
    let path = temp("versions.chain");
    archive::generate(&params(), &path).expect("generate");
    let good = std::fs::read(&path).unwrap();
    // Another format version: not current, and not misread.
    let mut old = good.clone();
    old[8..12].copy_from_slice(&2u32.to_le_bytes());
    std::fs::write(&path, &old).unwrap();
    assert!(!chainfile::is_current(&path, &params()));
    assert!(matches!(
        archive::open(&path),
        Err(chainfile::ChainFileError::Version(2))
    ));
    let (node, reused) = archive::open_or_generate(&params(), &path).expect("regenerated");
    assert!(!reused);
    assert_eq!(std::fs::read(&path).unwrap(), good);
    drop(node);
    // Other parameters: regenerated.
    let mut other = params();
    other.seed += 1;
    assert!(!chainfile::is_current(&path, &other));
    // A flipped bit: the checksum catches it.
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    std::fs::write(&path, &bad).unwrap();
    assert!(archive::open(&path).is_err());
    // Truncated: rejected.
    std::fs::write(&path, &good[..good.len() - 40]).unwrap();
    assert!(archive::open(&path).is_err());
    let _ = std::fs::remove_file(&path);
}

/// A chain with a whale: written as format 4 (format 3 without one), the same bytes streamed
/// or generated in memory, its parameters read back whole, and its whale in most
/// transactions, both receiving and spending — as the truth of the loaded chain shows.
#[test]
fn a_whale_chain_is_format_4_and_its_truth_knows_the_whale() {
    let params = GenParams::whale(23, 3_000, 40, 0.5);
    let path = temp("whale.chain");
    let stats = archive::generate(&params, &path).expect("generate into the file");
    let bytes = std::fs::read(&path).expect("read the file");
    assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 4);
    let plain = chainfile::encode(&Node::generate(GenParams::sized(23, 3_000, 40)));
    assert_eq!(u32::from_le_bytes(plain[8..12].try_into().unwrap()), 3);
    assert_eq!(chainfile::read_params(&bytes).expect("header"), params);
    assert!(chainfile::is_current(&path, &params));
    assert!(!chainfile::is_current(
        &path,
        &GenParams::sized(23, 3_000, 40)
    ));
    let memory = Node::generate(params.clone());
    assert!(
        bytes == chainfile::encode(&memory),
        "streamed and in-memory chains differ"
    );

    let loaded = chainfile::load(&path).expect("load");
    let script = loaded.gen.whale_script().expect("a whale");
    assert_eq!(memory.gen.whale_script(), Some(script.clone()));
    let whale = ferrumx_simnode::ScriptHash::of(&script);
    let history = loaded.truth.history_len(&whale);
    assert!(
        history as u64 * 2 > stats.txs,
        "{history} of {} transactions",
        stats.txs
    );
    // It spends too: some of its history are transactions spending its outputs.
    let spends = (1..=loaded.tip_height())
        .filter_map(|h| loaded.block_at(h).and_then(|b| b.block()))
        .flat_map(|b| b.txdata)
        .filter(|tx| {
            tx.input.iter().any(|i| {
                loaded
                    .find_tx(&i.previous_output.txid)
                    .is_some_and(|(p, _)| {
                        p.output[i.previous_output.vout as usize].script_pubkey == script
                    })
            })
        })
        .count();
    assert!(spends * 4 > history, "{spends} spends in {history} entries");
    let utxos = loaded.truth.utxos(&whale, None);
    let balance: u64 = utxos.iter().map(|u| u.value).sum();
    assert!(!utxos.is_empty());
    assert_eq!(loaded.truth.balance(&whale, None), balance);
    // Served from disk, the node knows the whale too (its script, not its truth).
    let opened = archive::open(&path).expect("open");
    assert_eq!(opened.gen.whale_script(), Some(script));
    let _ = std::fs::remove_file(&path);
}
