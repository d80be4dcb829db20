//! Deterministic keys, the output script of every kind the generator pays to, and signing.
//!
//! Every address is derived from `(seed, index)` alone, so a saved chain file needs only the
//! seed and the number of addresses to rebuild the wallet that can spend its outputs.

use bitcoin::hashes::{sha256, Hash};
use bitcoin::key::{Keypair, TapTweak, TweakedKeypair};
use bitcoin::opcodes::all::{OP_CHECKMULTISIG, OP_CHECKSIG, OP_DROP};
use bitcoin::script::{Builder, PushBytesBuf, ScriptBuf};
use bitcoin::secp256k1::{All, Message, PublicKey, Secp256k1, SecretKey};
use bitcoin::sighash::{EcdsaSighashType, Prevouts, SighashCache, TapSighashType};
use bitcoin::{CompressedPublicKey, Transaction, TxOut, Witness};

/// The kinds of output the generator creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Pay-to-pubkey (`<pubkey> OP_CHECKSIG`), as early coinbases.
    P2pk,
    P2pkh,
    /// P2SH wrapping a 2-of-3 multisig.
    P2shMultisig,
    /// P2SH wrapping P2WPKH.
    P2shP2wpkh,
    P2wpkh,
    /// P2WSH wrapping a 2-of-3 multisig.
    P2wsh,
    /// Taproot, spent by key path.
    P2tr,
    /// Bare 1-of-2 multisig.
    BareMultisig,
    /// `<32-byte tag> OP_DROP <pubkey> OP_CHECKSIG`: spendable but matches no template.
    NonStandard,
}

impl Kind {
    /// Every spendable kind, in a fixed order.
    pub const ALL: [Kind; 9] = [
        Kind::P2pk,
        Kind::P2pkh,
        Kind::P2shMultisig,
        Kind::P2shP2wpkh,
        Kind::P2wpkh,
        Kind::P2wsh,
        Kind::P2tr,
        Kind::BareMultisig,
        Kind::NonStandard,
    ];

    fn code(self) -> u8 {
        Kind::ALL.iter().position(|k| *k == self).unwrap_or(0) as u8
    }

    fn key_count(self) -> usize {
        match self {
            Kind::P2shMultisig | Kind::P2wsh => 3,
            Kind::BareMultisig => 2,
            _ => 1,
        }
    }

    /// Rough virtual size of an input spending this kind, for fee estimates.
    pub fn input_vbytes(self) -> u64 {
        match self {
            Kind::P2pk => 114,
            Kind::P2pkh => 148,
            Kind::P2shMultisig => 297,
            Kind::P2shP2wpkh => 91,
            Kind::P2wpkh => 68,
            Kind::P2wsh => 105,
            Kind::P2tr => 58,
            Kind::BareMultisig => 114,
            Kind::NonStandard => 114,
        }
    }

    /// Whether spending it puts data in the witness.
    pub fn is_segwit(self) -> bool {
        matches!(
            self,
            Kind::P2shP2wpkh | Kind::P2wpkh | Kind::P2wsh | Kind::P2tr
        )
    }
}

/// One derived address: its keys and scripts.
#[derive(Clone, Debug)]
pub struct Address {
    pub index: u32,
    pub kind: Kind,
    pub secret_keys: Vec<SecretKey>,
    pub public_keys: Vec<PublicKey>,
    pub script_pubkey: ScriptBuf,
    /// P2SH redeem script or P2WSH witness script.
    pub inner_script: Option<ScriptBuf>,
    /// Tweaked key pair, for P2TR.
    pub tweaked: Option<TweakedKeypair>,
}

/// Derives the `j`-th secret key of address `index` from the seed.
fn derive_key(seed: u64, index: u32, j: usize) -> SecretKey {
    let mut counter = 0u32;
    loop {
        let mut data = Vec::with_capacity(32);
        data.extend_from_slice(b"ferrumx-simnode key");
        data.extend_from_slice(&seed.to_le_bytes());
        data.extend_from_slice(&index.to_le_bytes());
        data.extend_from_slice(&(j as u32).to_le_bytes());
        data.extend_from_slice(&counter.to_le_bytes());
        let digest = sha256::Hash::hash(&data);
        if let Ok(sk) = SecretKey::from_slice(digest.as_byte_array()) {
            return sk;
        }
        counter += 1;
    }
}

fn multisig_script(m: u8, keys: &[PublicKey]) -> ScriptBuf {
    let mut b = Builder::new().push_int(i64::from(m));
    for k in keys {
        b = b.push_slice(k.serialize());
    }
    b.push_int(keys.len() as i64)
        .push_opcode(OP_CHECKMULTISIG)
        .into_script()
}

impl Address {
    /// Derives address `index` of kind `kind` from `seed`.
    pub fn derive(secp: &Secp256k1<All>, seed: u64, index: u32, kind: Kind) -> Address {
        let secret_keys: Vec<SecretKey> = (0..kind.key_count())
            .map(|j| derive_key(seed, index, j))
            .collect();
        let public_keys: Vec<PublicKey> = secret_keys
            .iter()
            .map(|sk| PublicKey::from_secret_key(secp, sk))
            .collect();
        let pk0 = public_keys[0];
        let cpk = CompressedPublicKey(pk0);
        let mut tweaked = None;
        let mut inner_script = None;
        let script_pubkey = match kind {
            Kind::P2pk => Builder::new()
                .push_slice(pk0.serialize())
                .push_opcode(OP_CHECKSIG)
                .into_script(),
            Kind::P2pkh => ScriptBuf::new_p2pkh(&cpk.pubkey_hash()),
            Kind::P2shMultisig => {
                let redeem = multisig_script(2, &public_keys);
                let spk = ScriptBuf::new_p2sh(&redeem.script_hash());
                inner_script = Some(redeem);
                spk
            }
            Kind::P2shP2wpkh => {
                let redeem = ScriptBuf::new_p2wpkh(&cpk.wpubkey_hash());
                let spk = ScriptBuf::new_p2sh(&redeem.script_hash());
                inner_script = Some(redeem);
                spk
            }
            Kind::P2wpkh => ScriptBuf::new_p2wpkh(&cpk.wpubkey_hash()),
            Kind::P2wsh => {
                let ws = multisig_script(2, &public_keys);
                let spk = ScriptBuf::new_p2wsh(&ws.wscript_hash());
                inner_script = Some(ws);
                spk
            }
            Kind::P2tr => {
                let kp = Keypair::from_secret_key(secp, &secret_keys[0]);
                let tw = kp.tap_tweak(secp, None);
                tweaked = Some(tw);
                let (xonly, _) = tw.to_keypair().x_only_public_key();
                ScriptBuf::new_p2tr_tweaked(
                    bitcoin::key::TweakedPublicKey::dangerous_assume_tweaked(xonly),
                )
            }
            Kind::BareMultisig => multisig_script(1, &public_keys),
            Kind::NonStandard => {
                let tag = sha256::Hash::hash(&[&index.to_le_bytes()[..], &[kind.code()]].concat());
                Builder::new()
                    .push_slice(tag.to_byte_array())
                    .push_opcode(OP_DROP)
                    .push_slice(pk0.serialize())
                    .push_opcode(OP_CHECKSIG)
                    .into_script()
            }
        };
        Address {
            index,
            kind,
            secret_keys,
            public_keys,
            script_pubkey,
            inner_script,
            tweaked,
        }
    }
}

fn ecdsa_sig(secp: &Secp256k1<All>, sighash: [u8; 32], sk: &SecretKey) -> Vec<u8> {
    let msg = Message::from_digest(sighash);
    let sig = secp.sign_ecdsa(&msg, sk);
    let mut v = sig.serialize_der().to_vec();
    v.push(EcdsaSighashType::All as u8);
    v
}

fn push(bytes: &[u8]) -> PushBytesBuf {
    PushBytesBuf::try_from(bytes.to_vec()).unwrap_or_default()
}

/// Why signing failed (only on inconsistent input; the generator never triggers it).
#[derive(Debug, thiserror::Error)]
#[error("signing input {input}: {reason}")]
pub struct SignError {
    pub input: usize,
    pub reason: String,
}

/// Fills `script_sig` and `witness` of every input of `tx`.
///
/// `spent[i]` is the output input `i` spends and `owners[i]` the address that owns it.
/// Signatures are deterministic (RFC 6979 for ECDSA, no aux randomness for Schnorr), so the
/// same transaction always gets the same bytes.
pub fn sign_transaction(
    secp: &Secp256k1<All>,
    tx: &mut Transaction,
    spent: &[TxOut],
    owners: &[&Address],
) -> Result<(), SignError> {
    let err = |input: usize, reason: &str| SignError {
        input,
        reason: reason.to_string(),
    };
    let mut script_sigs = Vec::with_capacity(tx.input.len());
    let mut witnesses = Vec::with_capacity(tx.input.len());
    {
        let mut cache = SighashCache::new(&*tx);
        for (i, (prev, owner)) in spent.iter().zip(owners.iter()).enumerate() {
            let legacy = |cache: &SighashCache<&Transaction>, script: &bitcoin::Script| {
                cache
                    .legacy_signature_hash(i, script, EcdsaSighashType::All as u32)
                    .map(|h| h.to_byte_array())
                    .map_err(|e| err(i, &e.to_string()))
            };
            let (ss, wit) = match owner.kind {
                Kind::P2pk | Kind::NonStandard => {
                    let h = legacy(&cache, &prev.script_pubkey)?;
                    let sig = ecdsa_sig(secp, h, &owner.secret_keys[0]);
                    (
                        Builder::new().push_slice(push(&sig)).into_script(),
                        Witness::new(),
                    )
                }
                Kind::P2pkh => {
                    let h = legacy(&cache, &prev.script_pubkey)?;
                    let sig = ecdsa_sig(secp, h, &owner.secret_keys[0]);
                    (
                        Builder::new()
                            .push_slice(push(&sig))
                            .push_slice(owner.public_keys[0].serialize())
                            .into_script(),
                        Witness::new(),
                    )
                }
                Kind::BareMultisig => {
                    let h = legacy(&cache, &prev.script_pubkey)?;
                    let sig = ecdsa_sig(secp, h, &owner.secret_keys[0]);
                    (
                        Builder::new()
                            .push_int(0)
                            .push_slice(push(&sig))
                            .into_script(),
                        Witness::new(),
                    )
                }
                Kind::P2shMultisig => {
                    let redeem = owner
                        .inner_script
                        .as_ref()
                        .ok_or_else(|| err(i, "no redeem script"))?;
                    let h = legacy(&cache, redeem)?;
                    let s0 = ecdsa_sig(secp, h, &owner.secret_keys[0]);
                    let s1 = ecdsa_sig(secp, h, &owner.secret_keys[1]);
                    (
                        Builder::new()
                            .push_int(0)
                            .push_slice(push(&s0))
                            .push_slice(push(&s1))
                            .push_slice(push(redeem.as_bytes()))
                            .into_script(),
                        Witness::new(),
                    )
                }
                Kind::P2shP2wpkh | Kind::P2wpkh => {
                    let spk = ScriptBuf::new_p2wpkh(
                        &CompressedPublicKey(owner.public_keys[0]).wpubkey_hash(),
                    );
                    let h = cache
                        .p2wpkh_signature_hash(i, &spk, prev.value, EcdsaSighashType::All)
                        .map_err(|e| err(i, &e.to_string()))?;
                    let sig = ecdsa_sig(secp, h.to_byte_array(), &owner.secret_keys[0]);
                    let mut w = Witness::new();
                    w.push(sig);
                    w.push(owner.public_keys[0].serialize());
                    let ss = if owner.kind == Kind::P2shP2wpkh {
                        Builder::new()
                            .push_slice(push(spk.as_bytes()))
                            .into_script()
                    } else {
                        ScriptBuf::new()
                    };
                    (ss, w)
                }
                Kind::P2wsh => {
                    let ws = owner
                        .inner_script
                        .as_ref()
                        .ok_or_else(|| err(i, "no witness script"))?;
                    let h = cache
                        .p2wsh_signature_hash(i, ws, prev.value, EcdsaSighashType::All)
                        .map_err(|e| err(i, &e.to_string()))?;
                    let s0 = ecdsa_sig(secp, h.to_byte_array(), &owner.secret_keys[0]);
                    let s1 = ecdsa_sig(secp, h.to_byte_array(), &owner.secret_keys[1]);
                    let mut w = Witness::new();
                    w.push(Vec::<u8>::new());
                    w.push(s0);
                    w.push(s1);
                    w.push(ws.as_bytes());
                    (ScriptBuf::new(), w)
                }
                Kind::P2tr => {
                    let tw = owner.tweaked.ok_or_else(|| err(i, "no tweaked key"))?;
                    let h = cache
                        .taproot_key_spend_signature_hash(
                            i,
                            &Prevouts::All(spent),
                            TapSighashType::Default,
                        )
                        .map_err(|e| err(i, &e.to_string()))?;
                    let msg = Message::from_digest(h.to_byte_array());
                    let sig = secp.sign_schnorr_no_aux_rand(&msg, &tw.to_keypair());
                    let mut w = Witness::new();
                    w.push(sig.as_ref());
                    (ScriptBuf::new(), w)
                }
            };
            script_sigs.push(ss);
            witnesses.push(wit);
        }
    }
    for ((input, ss), w) in tx.input.iter_mut().zip(script_sigs).zip(witnesses) {
        input.script_sig = ss;
        input.witness = w;
    }
    Ok(())
}
