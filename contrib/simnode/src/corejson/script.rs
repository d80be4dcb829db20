//! Output scripts as Bitcoin Core 29.0 describes them: `asm` (`ScriptToAsmStr`), the
//! output type (`Solver` + `GetTxnOutputType`), the address (`ExtractDestination`) and
//! the inferred descriptor with its checksum (`InferDescriptor` with no signing data).
//!
//! Everything works on raw script bytes so that malformed scripts (truncated pushes,
//! unknown opcodes) are described exactly as Core describes them instead of failing.

use bitcoin::hex::DisplayHex;
use bitcoin::{Address, Network, Script};

use crate::json::Json;

/// Largest script Core considers spendable (`MAX_SCRIPT_SIZE`).
const MAX_SCRIPT_SIZE: usize = 10_000;
/// Most keys a bare `OP_CHECKMULTISIG` output may list (`MAX_PUBKEYS_PER_MULTISIG`).
const MAX_PUBKEYS_PER_MULTISIG: i64 = 20;

const OP_0: u8 = 0x00;
const OP_PUSHDATA1: u8 = 0x4c;
const OP_PUSHDATA2: u8 = 0x4d;
const OP_PUSHDATA4: u8 = 0x4e;
const OP_1NEGATE: u8 = 0x4f;
const OP_1: u8 = 0x51;
const OP_16: u8 = 0x60;
const OP_RETURN: u8 = 0x6a;
const OP_DUP: u8 = 0x76;
const OP_EQUAL: u8 = 0x87;
const OP_EQUALVERIFY: u8 = 0x88;
const OP_HASH160: u8 = 0xa9;
const OP_CHECKSIG: u8 = 0xac;
const OP_CHECKMULTISIG: u8 = 0xae;

/// Core's `TxoutType`: the standard shape an output script has, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputType {
    /// Anything else (`nonstandard`).
    NonStandard,
    /// `<pubkey> OP_CHECKSIG` (`pubkey`).
    PubKey,
    /// P2PKH (`pubkeyhash`).
    PubKeyHash,
    /// P2SH (`scripthash`).
    ScriptHash,
    /// Bare `m <keys> n OP_CHECKMULTISIG` (`multisig`).
    Multisig,
    /// `OP_RETURN` followed by pushes only (`nulldata`).
    NullData,
    /// P2WPKH (`witness_v0_keyhash`).
    WitnessV0KeyHash,
    /// P2WSH (`witness_v0_scripthash`).
    WitnessV0ScriptHash,
    /// P2TR (`witness_v1_taproot`).
    WitnessV1Taproot,
    /// A witness program of a version or size with no meaning yet (`witness_unknown`).
    WitnessUnknown,
    /// Pay-to-anchor, `OP_1 <4e73>` (`anchor`).
    Anchor,
}

impl OutputType {
    /// The name Core prints in `scriptPubKey.type` (`GetTxnOutputType`).
    pub fn name(self) -> &'static str {
        match self {
            OutputType::NonStandard => "nonstandard",
            OutputType::PubKey => "pubkey",
            OutputType::PubKeyHash => "pubkeyhash",
            OutputType::ScriptHash => "scripthash",
            OutputType::Multisig => "multisig",
            OutputType::NullData => "nulldata",
            OutputType::WitnessV0KeyHash => "witness_v0_keyhash",
            OutputType::WitnessV0ScriptHash => "witness_v0_scripthash",
            OutputType::WitnessV1Taproot => "witness_v1_taproot",
            OutputType::WitnessUnknown => "witness_unknown",
            OutputType::Anchor => "anchor",
        }
    }
}

/// The `scriptPubKey` object of Core's `ScriptToUniv` with hex and address:
/// `{"asm","desc","hex","address"?,"type"}`. `address` is left out when the script has
/// none, and for bare public keys (`pubkey`), exactly as Core does.
pub fn script_pubkey_json(script: &Script, network: Network) -> Json {
    let bytes = script.as_bytes();
    let (kind, data) = solve(bytes);
    let address = address_of(bytes, kind, network);
    let mut out = Json::obj()
        .with("asm", script_to_asm(bytes, false))
        .with(
            "desc",
            infer_descriptor_with(bytes, kind, &data, address.as_deref()),
        )
        .with("hex", bytes.to_lower_hex_string());
    if let Some(a) = address {
        if kind != OutputType::PubKey {
            out.push("address", a);
        }
    }
    out.with("type", kind.name())
}

/// The output type of a script (Core's `Solver`).
pub fn output_type(script: &[u8]) -> OutputType {
    solve(script).0
}

/// The address of an output script, when Core's `ExtractDestination` finds one (never for
/// bare public keys, multisig, `OP_RETURN` or non-standard scripts).
pub fn script_address(script: &[u8], network: Network) -> Option<String> {
    address_of(script, solve(script).0, network)
}

/// Core's `InferDescriptor(script, DUMMY_SIGNING_PROVIDER)->ToString()`: `addr(...)`,
/// `pk(...)`, `multi(...)`, `rawtr(...)` or `raw(...)`, followed by `#` and the checksum.
pub fn infer_descriptor(script: &[u8], network: Network) -> String {
    let (kind, data) = solve(script);
    let address = address_of(script, kind, network);
    infer_descriptor_with(script, kind, &data, address.as_deref())
}

fn infer_descriptor_with(
    script: &[u8],
    kind: OutputType,
    data: &[Vec<u8>],
    address: Option<&str>,
) -> String {
    let body = match kind {
        OutputType::PubKey => data
            .first()
            .filter(|k| is_valid_non_hybrid(k))
            .map(|k| format!("pk({})", k.to_lower_hex_string())),
        OutputType::Multisig => {
            // data = [required, key.., count]
            let keys = data.get(1..data.len().saturating_sub(1)).unwrap_or(&[]);
            let required = data.first().and_then(|r| r.first()).copied().unwrap_or(0);
            if !keys.is_empty() && keys.iter().all(|k| is_valid_non_hybrid(k)) {
                let keys: Vec<String> = keys.iter().map(|k| k.to_lower_hex_string()).collect();
                Some(format!("multi({required},{})", keys.join(",")))
            } else {
                None
            }
        }
        OutputType::WitnessV1Taproot => data
            .first()
            .filter(|k| bitcoin::secp256k1::XOnlyPublicKey::from_slice(k).is_ok())
            .map(|k| format!("rawtr({})", k.to_lower_hex_string())),
        _ => None,
    };
    // Bare public keys have no destination since Core 27 (`PubKeyDestination` is not an
    // address), so a P2PK with a hybrid key falls through to `raw(...)`.
    let body = body.unwrap_or_else(|| match address {
        Some(a) if kind != OutputType::PubKey => format!("addr({a})"),
        _ => format!("raw({})", script.to_lower_hex_string()),
    });
    add_checksum(&body)
}

fn address_of(script: &[u8], kind: OutputType, network: Network) -> Option<String> {
    match kind {
        OutputType::PubKeyHash
        | OutputType::ScriptHash
        | OutputType::WitnessV0KeyHash
        | OutputType::WitnessV0ScriptHash
        | OutputType::WitnessV1Taproot
        | OutputType::WitnessUnknown
        | OutputType::Anchor => Address::from_script(Script::from_bytes(script), network)
            .ok()
            .map(|a| a.to_string()),
        _ => None,
    }
}

/// Appends `#` and the descriptor checksum; leaves the text alone if it holds a
/// character descriptors cannot contain.
fn add_checksum(desc: &str) -> String {
    match descriptor_checksum(desc) {
        Some(c) => format!("{desc}#{c}"),
        None => desc.to_string(),
    }
}

/// The 8-character checksum of a descriptor (BIP 380 / Core's `DescriptorChecksum`), or
/// `None` if the text holds a character outside the descriptor alphabet.
pub fn descriptor_checksum(desc: &str) -> Option<String> {
    const INPUT_CHARSET: &[u8] = b"0123456789()[],'/*abcdefgh@:$%{}\
IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~\
ijklmnopqrstuvwxyzABCDEFGH`#\"\\ ";
    const CHECKSUM_CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

    fn polymod(c: u64, val: u64) -> u64 {
        let c0 = c >> 35;
        let mut c = ((c & 0x7_ffff_ffff) << 5) ^ val;
        for (bit, gen) in [
            0xf5_dee5_1989u64,
            0xa9_fdca_3312,
            0x1b_ab10_e32d,
            0x37_06b1_677a,
            0x64_4d62_6ffd,
        ]
        .into_iter()
        .enumerate()
        {
            if c0 & (1 << bit) != 0 {
                c ^= gen;
            }
        }
        c
    }

    let mut c = 1u64;
    let mut cls = 0u64;
    let mut cls_count = 0;
    for ch in desc.bytes() {
        let pos = INPUT_CHARSET.iter().position(|&x| x == ch)? as u64;
        // Emit the symbol's position within its group, then its group every 3 symbols.
        c = polymod(c, pos & 31);
        cls = cls * 3 + (pos >> 5);
        cls_count += 1;
        if cls_count == 3 {
            c = polymod(c, cls);
            cls = 0;
            cls_count = 0;
        }
    }
    if cls_count > 0 {
        c = polymod(c, cls);
    }
    for _ in 0..8 {
        c = polymod(c, 0);
    }
    c ^= 1;
    let out = (0..8)
        .map(|j| CHECKSUM_CHARSET[((c >> (5 * (7 - j))) & 31) as usize] as char)
        .collect();
    Some(out)
}

/// Core's `ScriptToAsmStr`. Pushes of up to 4 bytes print as numbers, longer ones as hex;
/// with `attempt_sighash_decode` (scriptSigs) a push that is a strict DER signature ends
/// in its sighash name, e.g. `3044…01` becomes `3044…[ALL]`. A truncated push ends the
/// text with `[error]`.
pub fn script_to_asm(script: &[u8], attempt_sighash_decode: bool) -> String {
    let unspendable = script.first() == Some(&OP_RETURN) || script.len() > MAX_SCRIPT_SIZE;
    let mut out = String::new();
    let mut pc = 0;
    while pc < script.len() {
        if !out.is_empty() {
            out.push(' ');
        }
        let Some((opcode, data)) = next_op(script, &mut pc) else {
            out.push_str("[error]");
            return out;
        };
        if opcode > OP_PUSHDATA4 {
            out.push_str(op_name(opcode));
        } else if data.len() <= 4 {
            out.push_str(&script_num(data).to_string());
        } else if attempt_sighash_decode && !unspendable {
            match sighash_suffix(data) {
                Some(name) => {
                    out.push_str(&data[..data.len() - 1].to_lower_hex_string());
                    out.push('[');
                    out.push_str(name);
                    out.push(']');
                }
                None => out.push_str(&data.to_lower_hex_string()),
            }
        } else {
            out.push_str(&data.to_lower_hex_string());
        }
    }
    out
}

/// The sighash name of a push that passes Core's `CheckSignatureEncoding` with
/// `SCRIPT_VERIFY_STRICTENC`.
fn sighash_suffix(sig: &[u8]) -> Option<&'static str> {
    if !is_valid_signature_encoding(sig) {
        return None;
    }
    match *sig.last()? {
        0x01 => Some("ALL"),
        0x81 => Some("ALL|ANYONECANPAY"),
        0x02 => Some("NONE"),
        0x82 => Some("NONE|ANYONECANPAY"),
        0x03 => Some("SINGLE"),
        0x83 => Some("SINGLE|ANYONECANPAY"),
        _ => None,
    }
}

/// BIP 66 strict DER of `<sig> <hashtype>` (Core's `IsValidSignatureEncoding`).
fn is_valid_signature_encoding(sig: &[u8]) -> bool {
    let n = sig.len();
    if !(9..=73).contains(&n) || sig[0] != 0x30 || sig[1] as usize != n - 3 {
        return false;
    }
    let len_r = sig[3] as usize;
    if 5 + len_r >= n {
        return false;
    }
    let len_s = sig[5 + len_r] as usize;
    if len_r + len_s + 7 != n {
        return false;
    }
    if sig[2] != 0x02 || len_r == 0 || sig[4] & 0x80 != 0 {
        return false;
    }
    if len_r > 1 && sig[4] == 0 && sig[5] & 0x80 == 0 {
        return false;
    }
    if sig[len_r + 4] != 0x02 || len_s == 0 || sig[len_r + 6] & 0x80 != 0 {
        return false;
    }
    !(len_s > 1 && sig[len_r + 6] == 0 && sig[len_r + 7] & 0x80 == 0)
}

/// Reads one operation at `*pc` (Core's `GetScriptOp`): the opcode and, for pushes, the
/// pushed bytes. `None` when the push runs past the end of the script.
fn next_op<'a>(script: &'a [u8], pc: &mut usize) -> Option<(u8, &'a [u8])> {
    let opcode = *script.get(*pc)?;
    let mut at = *pc + 1;
    let size = match opcode {
        0..=0x4b => opcode as usize,
        OP_PUSHDATA1 => {
            let n = *script.get(at)? as usize;
            at += 1;
            n
        }
        OP_PUSHDATA2 => {
            let b = script.get(at..at + 2)?;
            at += 2;
            u16::from_le_bytes([b[0], b[1]]) as usize
        }
        OP_PUSHDATA4 => {
            let b = script.get(at..at + 4)?;
            at += 4;
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
        }
        _ => 0,
    };
    let data = script.get(at..at.checked_add(size)?)?;
    *pc = at + size;
    Some((opcode, data))
}

/// `CScriptNum(data, false).getint()` for pushes of at most 4 bytes.
fn script_num(data: &[u8]) -> i64 {
    let Some(&last) = data.last() else {
        return 0;
    };
    let mut value: i64 = 0;
    for (i, b) in data.iter().enumerate() {
        value |= i64::from(*b) << (8 * i);
    }
    if last & 0x80 != 0 {
        -(value & !(0x80i64 << (8 * (data.len() - 1))))
    } else {
        value
    }
}

/// Core's `GetOpName` for non-push opcodes.
fn op_name(opcode: u8) -> &'static str {
    const SMALL: [&str; 16] = [
        "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
    ];
    match opcode {
        OP_1NEGATE => "-1",
        0x50 => "OP_RESERVED",
        OP_1..=OP_16 => SMALL[(opcode - OP_1) as usize],
        0x61 => "OP_NOP",
        0x62 => "OP_VER",
        0x63 => "OP_IF",
        0x64 => "OP_NOTIF",
        0x65 => "OP_VERIF",
        0x66 => "OP_VERNOTIF",
        0x67 => "OP_ELSE",
        0x68 => "OP_ENDIF",
        0x69 => "OP_VERIFY",
        OP_RETURN => "OP_RETURN",
        0x6b => "OP_TOALTSTACK",
        0x6c => "OP_FROMALTSTACK",
        0x6d => "OP_2DROP",
        0x6e => "OP_2DUP",
        0x6f => "OP_3DUP",
        0x70 => "OP_2OVER",
        0x71 => "OP_2ROT",
        0x72 => "OP_2SWAP",
        0x73 => "OP_IFDUP",
        0x74 => "OP_DEPTH",
        0x75 => "OP_DROP",
        OP_DUP => "OP_DUP",
        0x77 => "OP_NIP",
        0x78 => "OP_OVER",
        0x79 => "OP_PICK",
        0x7a => "OP_ROLL",
        0x7b => "OP_ROT",
        0x7c => "OP_SWAP",
        0x7d => "OP_TUCK",
        0x7e => "OP_CAT",
        0x7f => "OP_SUBSTR",
        0x80 => "OP_LEFT",
        0x81 => "OP_RIGHT",
        0x82 => "OP_SIZE",
        0x83 => "OP_INVERT",
        0x84 => "OP_AND",
        0x85 => "OP_OR",
        0x86 => "OP_XOR",
        OP_EQUAL => "OP_EQUAL",
        OP_EQUALVERIFY => "OP_EQUALVERIFY",
        0x89 => "OP_RESERVED1",
        0x8a => "OP_RESERVED2",
        0x8b => "OP_1ADD",
        0x8c => "OP_1SUB",
        0x8d => "OP_2MUL",
        0x8e => "OP_2DIV",
        0x8f => "OP_NEGATE",
        0x90 => "OP_ABS",
        0x91 => "OP_NOT",
        0x92 => "OP_0NOTEQUAL",
        0x93 => "OP_ADD",
        0x94 => "OP_SUB",
        0x95 => "OP_MUL",
        0x96 => "OP_DIV",
        0x97 => "OP_MOD",
        0x98 => "OP_LSHIFT",
        0x99 => "OP_RSHIFT",
        0x9a => "OP_BOOLAND",
        0x9b => "OP_BOOLOR",
        0x9c => "OP_NUMEQUAL",
        0x9d => "OP_NUMEQUALVERIFY",
        0x9e => "OP_NUMNOTEQUAL",
        0x9f => "OP_LESSTHAN",
        0xa0 => "OP_GREATERTHAN",
        0xa1 => "OP_LESSTHANOREQUAL",
        0xa2 => "OP_GREATERTHANOREQUAL",
        0xa3 => "OP_MIN",
        0xa4 => "OP_MAX",
        0xa5 => "OP_WITHIN",
        0xa6 => "OP_RIPEMD160",
        0xa7 => "OP_SHA1",
        0xa8 => "OP_SHA256",
        OP_HASH160 => "OP_HASH160",
        0xaa => "OP_HASH256",
        0xab => "OP_CODESEPARATOR",
        OP_CHECKSIG => "OP_CHECKSIG",
        0xad => "OP_CHECKSIGVERIFY",
        OP_CHECKMULTISIG => "OP_CHECKMULTISIG",
        0xaf => "OP_CHECKMULTISIGVERIFY",
        0xb0 => "OP_NOP1",
        0xb1 => "OP_CHECKLOCKTIMEVERIFY",
        0xb2 => "OP_CHECKSEQUENCEVERIFY",
        0xb3 => "OP_NOP4",
        0xb4 => "OP_NOP5",
        0xb5 => "OP_NOP6",
        0xb6 => "OP_NOP7",
        0xb7 => "OP_NOP8",
        0xb8 => "OP_NOP9",
        0xb9 => "OP_NOP10",
        0xba => "OP_CHECKSIGADD",
        0xff => "OP_INVALIDOPCODE",
        // Push opcodes never reach here; 0xbb..=0xfe have no name.
        _ => "OP_UNKNOWN",
    }
}

/// Length a public key with this first byte must have (`CPubKey::GetLen`), 0 if none.
fn pubkey_len(header: u8) -> usize {
    match header {
        2 | 3 => 33,
        4 | 6 | 7 => 65,
        _ => 0,
    }
}

/// `CPubKey::ValidSize`: the size matches the header byte.
fn valid_pubkey_size(key: &[u8]) -> bool {
    key.first().is_some_and(|&h| pubkey_len(h) == key.len())
}

/// `CPubKey::IsValidNonHybrid`: well-sized and compressed or plain uncompressed.
fn is_valid_non_hybrid(key: &[u8]) -> bool {
    valid_pubkey_size(key) && matches!(key[0], 2..=4)
}

/// Core's `Solver`: the output type and its solutions (hashes, keys, or for multisig
/// `[required, keys.., count]`; for `witness_unknown` `[version, program]`).
fn solve(s: &[u8]) -> (OutputType, Vec<Vec<u8>>) {
    if s.len() == 23 && s[0] == OP_HASH160 && s[1] == 20 && s[22] == OP_EQUAL {
        return (OutputType::ScriptHash, vec![s[2..22].to_vec()]);
    }
    if (4..=42).contains(&s.len())
        && (s[0] == OP_0 || (OP_1..=OP_16).contains(&s[0]))
        && s[1] as usize + 2 == s.len()
    {
        let version = if s[0] == OP_0 { 0 } else { s[0] - OP_1 + 1 };
        let program = s[2..].to_vec();
        return match (version, program.len()) {
            (0, 20) => (OutputType::WitnessV0KeyHash, vec![program]),
            (0, 32) => (OutputType::WitnessV0ScriptHash, vec![program]),
            (1, 32) => (OutputType::WitnessV1Taproot, vec![program]),
            (1, 2) if program == [0x4e, 0x73] => (OutputType::Anchor, Vec::new()),
            (0, _) => (OutputType::NonStandard, Vec::new()),
            _ => (OutputType::WitnessUnknown, vec![vec![version], program]),
        };
    }
    if s.first() == Some(&OP_RETURN) && is_push_only(&s[1..]) {
        return (OutputType::NullData, Vec::new());
    }
    if let Some(key) = match_pay_to_pubkey(s) {
        return (OutputType::PubKey, vec![key]);
    }
    if s.len() == 25
        && s[0] == OP_DUP
        && s[1] == OP_HASH160
        && s[2] == 20
        && s[23] == OP_EQUALVERIFY
        && s[24] == OP_CHECKSIG
    {
        return (OutputType::PubKeyHash, vec![s[3..23].to_vec()]);
    }
    if let Some((required, keys)) = match_multisig(s) {
        let mut data = Vec::with_capacity(keys.len() + 2);
        data.push(vec![required]);
        let count = keys.len() as u8;
        data.extend(keys);
        data.push(vec![count]);
        return (OutputType::Multisig, data);
    }
    (OutputType::NonStandard, Vec::new())
}

fn is_push_only(s: &[u8]) -> bool {
    let mut pc = 0;
    while pc < s.len() {
        match next_op(s, &mut pc) {
            Some((opcode, _)) if opcode <= OP_16 => {}
            _ => return false,
        }
    }
    true
}

fn match_pay_to_pubkey(s: &[u8]) -> Option<Vec<u8>> {
    for size in [65usize, 33] {
        if s.len() == size + 2 && s[0] as usize == size && s[size + 1] == OP_CHECKSIG {
            let key = &s[1..=size];
            return valid_pubkey_size(key).then(|| key.to_vec());
        }
    }
    None
}

/// Core's `MatchMultisig`: `m <key>… n OP_CHECKMULTISIG` with 1 ≤ m ≤ n ≤ 20.
fn match_multisig(s: &[u8]) -> Option<(u8, Vec<Vec<u8>>)> {
    if s.last() != Some(&OP_CHECKMULTISIG) {
        return None;
    }
    let mut pc = 0;
    let (opcode, data) = next_op(s, &mut pc)?;
    let required = script_number(opcode, data, 1, MAX_PUBKEYS_PER_MULTISIG)?;
    let mut keys = Vec::new();
    let last = loop {
        match next_op(s, &mut pc) {
            Some((_, data)) if valid_pubkey_size(data) => keys.push(data.to_vec()),
            other => break other,
        }
    };
    let (opcode, data) = last?;
    let count = script_number(opcode, data, required, MAX_PUBKEYS_PER_MULTISIG)?;
    if keys.len() as i64 != count || pc + 1 != s.len() {
        return None;
    }
    Some((required as u8, keys))
}

/// Core's `GetScriptNumber`: `OP_1..OP_16` or a minimal push of a minimal number, in range.
fn script_number(opcode: u8, data: &[u8], min: i64, max: i64) -> Option<i64> {
    let n = if (OP_1..=OP_16).contains(&opcode) {
        i64::from(opcode - OP_1 + 1)
    } else if opcode > OP_0 && opcode <= OP_PUSHDATA4 {
        if !is_minimal_push(opcode, data) || data.len() > 4 {
            return None;
        }
        if let Some(&last) = data.last() {
            // Minimal number encoding: no needless trailing zero byte.
            if last & 0x7f == 0 && (data.len() <= 1 || data[data.len() - 2] & 0x80 == 0) {
                return None;
            }
        }
        script_num(data)
    } else {
        return None;
    };
    (min..=max).contains(&n).then_some(n)
}

/// Core's `CheckMinimalPush`.
fn is_minimal_push(opcode: u8, data: &[u8]) -> bool {
    match data.len() {
        0 => opcode == OP_0,
        // 1..=16 and -1 have their own opcodes.
        1 if (1..=16).contains(&data[0]) || data[0] == 0x81 => false,
        n @ 1..=75 => opcode as usize == n,
        76..=255 => opcode == OP_PUSHDATA1,
        256..=65535 => opcode == OP_PUSHDATA2,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hex::FromHex;

    fn hex(s: &str) -> Vec<u8> {
        Vec::from_hex(s).unwrap()
    }

    fn describe(script_hex: &str) -> (String, String, Option<String>, &'static str) {
        let s = hex(script_hex);
        (
            script_to_asm(&s, false),
            infer_descriptor(&s, Network::Regtest),
            script_address(&s, Network::Regtest),
            output_type(&s).name(),
        )
    }

    #[test]
    fn checksums_match_core() {
        // Values printed by Core 29.0 in the recordings.
        assert_eq!(
            descriptor_checksum("addr(mzLFjwWyjrSQs6etLXCv8FBUaLhPLWLqXs)").unwrap(),
            "tuxclc60"
        );
        assert_eq!(
            descriptor_checksum(
                "raw(6a24aa21a9ed898d73e90d4d3bc3fec4e9233aeb064f4c13636dc5c7574de4c8c5bdd6a17a4a)"
            )
            .unwrap(),
            "nhkqunxh"
        );
        assert_eq!(
            descriptor_checksum(
                "rawtr(94325a59785c60d0164990d8f773305b1cdadb8924b4e90af229ff9af75def9b)"
            )
            .unwrap(),
            "6gp8l6xl"
        );
        // BIP 380 test vectors.
        assert_eq!(descriptor_checksum("raw(deadbeef)").unwrap(), "89f8spxm");
        assert_eq!(
            descriptor_checksum(
                "pkh([d34db33f/44'/0'/0']xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL/1/*)"
            )
            .unwrap(),
            "ml40v0wf"
        );
        assert_eq!(descriptor_checksum("raw(é)"), None);
    }

    #[test]
    fn pubkeyhash() {
        let (asm, desc, addr, kind) =
            describe("76a914ce6460b57c015117391992a432f040a8e4a1e75f88ac");
        assert_eq!(
            asm,
            "OP_DUP OP_HASH160 ce6460b57c015117391992a432f040a8e4a1e75f OP_EQUALVERIFY OP_CHECKSIG"
        );
        assert_eq!(desc, "addr(mzLFjwWyjrSQs6etLXCv8FBUaLhPLWLqXs)#tuxclc60");
        assert_eq!(addr.as_deref(), Some("mzLFjwWyjrSQs6etLXCv8FBUaLhPLWLqXs"));
        assert_eq!(kind, "pubkeyhash");
    }

    #[test]
    fn scripthash() {
        let (asm, desc, addr, kind) = describe("a914973da26de8e3437b4d5a2145e94c654772aa7dcf87");
        assert_eq!(
            asm,
            "OP_HASH160 973da26de8e3437b4d5a2145e94c654772aa7dcf OP_EQUAL"
        );
        assert_eq!(desc, "addr(2N72urgxbpvUpQxmG8DVACmMu88Zzzp9N4r)#tm5ur846");
        assert_eq!(addr.as_deref(), Some("2N72urgxbpvUpQxmG8DVACmMu88Zzzp9N4r"));
        assert_eq!(kind, "scripthash");
    }

    #[test]
    fn witness_v0_keyhash() {
        let (asm, desc, addr, kind) = describe("00148f5bb89259a04a8600acc272bafc385366008479");
        assert_eq!(asm, "0 8f5bb89259a04a8600acc272bafc385366008479");
        assert_eq!(
            desc,
            "addr(bcrt1q3adm3yje5p9gvq9vcfet4lpc2dnqppre8xqlaq)#gwyjnpy4"
        );
        assert_eq!(
            addr.as_deref(),
            Some("bcrt1q3adm3yje5p9gvq9vcfet4lpc2dnqppre8xqlaq")
        );
        assert_eq!(kind, "witness_v0_keyhash");
    }

    #[test]
    fn witness_v0_scripthash() {
        let program = "1863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262";
        let (asm, desc, addr, kind) = describe(&format!("0020{program}"));
        assert_eq!(asm, format!("0 {program}"));
        let addr = addr.unwrap();
        assert!(addr.starts_with("bcrt1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q"));
        assert!(desc.starts_with(&format!("addr({addr})#")));
        assert_eq!(kind, "witness_v0_scripthash");
        // A v0 program of another size is no witness output at all.
        let (_, desc, addr, kind) = describe("0003aabbcc");
        assert_eq!((addr, kind), (None, "nonstandard"));
        assert!(desc.starts_with("raw(0003aabbcc)#"));
    }

    #[test]
    fn witness_v1_taproot() {
        let key = "94325a59785c60d0164990d8f773305b1cdadb8924b4e90af229ff9af75def9b";
        let (asm, desc, addr, kind) = describe(&format!("5120{key}"));
        assert_eq!(asm, format!("1 {key}"));
        assert_eq!(desc, format!("rawtr({key})#6gp8l6xl"));
        assert_eq!(
            addr.as_deref(),
            Some("bcrt1pjse95ktct3sdq9jfjrv0wuestvwd4kufyj6wjzhj98le4a6aa7ds4uq0g8")
        );
        assert_eq!(kind, "witness_v1_taproot");
        // An x-only key off the curve cannot be rawtr(): Core falls back to addr().
        let (_, desc, addr, kind) = describe(&format!("5120{}", "00".repeat(32)));
        assert_eq!(kind, "witness_v1_taproot");
        assert!(desc.starts_with(&format!("addr({})#", addr.unwrap())));
    }

    #[test]
    fn anchor_and_witness_unknown() {
        let (asm, desc, addr, kind) = describe("51024e73");
        assert_eq!(asm, "1 29518");
        assert_eq!(addr.as_deref(), Some("bcrt1pfeesnyr2tx"));
        assert!(desc.starts_with("addr(bcrt1pfeesnyr2tx)#"));
        assert_eq!(kind, "anchor");
        let (asm, desc, addr, kind) = describe("5210000102030405060708090a0b0c0d0e0f");
        assert_eq!(asm, "2 000102030405060708090a0b0c0d0e0f");
        assert_eq!(kind, "witness_unknown");
        let addr = addr.unwrap();
        assert!(addr.starts_with("bcrt1z"));
        assert!(desc.starts_with(&format!("addr({addr})#")));
    }

    #[test]
    fn nulldata() {
        let (asm, desc, addr, kind) = describe(
            "6a24aa21a9ed898d73e90d4d3bc3fec4e9233aeb064f4c13636dc5c7574de4c8c5bdd6a17a4a",
        );
        assert_eq!(
            asm,
            "OP_RETURN aa21a9ed898d73e90d4d3bc3fec4e9233aeb064f4c13636dc5c7574de4c8c5bdd6a17a4a"
        );
        assert_eq!(
            desc,
            "raw(6a24aa21a9ed898d73e90d4d3bc3fec4e9233aeb064f4c13636dc5c7574de4c8c5bdd6a17a4a)#nhkqunxh"
        );
        assert_eq!((addr, kind), (None, "nulldata"));
        // Small pushes print as numbers, OP_RETURN alone is still nulldata.
        assert_eq!(describe("6a").3, "nulldata");
        assert_eq!(describe("6a0102").0, "OP_RETURN 2");
        assert_eq!(describe("6a02ff00").0, "OP_RETURN 255");
        assert_eq!(describe("6a0181").0, "OP_RETURN -1");
        // A non-push after OP_RETURN makes it non-standard.
        assert_eq!(describe("6a76").3, "nonstandard");
    }

    #[test]
    fn pubkey() {
        let key = "02448e093de3406e4b49364d5959151852107153a1bf1df0da7a50562115d1d043";
        let (asm, desc, addr, kind) = describe(&format!("21{key}ac"));
        assert_eq!(asm, format!("{key} OP_CHECKSIG"));
        assert!(desc.starts_with(&format!("pk({key})#")));
        assert_eq!((addr, kind), (None, "pubkey"));
        let j = script_pubkey_json(
            Script::from_bytes(&hex(&format!("21{key}ac"))),
            Network::Regtest,
        );
        assert!(j.get("address").is_none());
        // A hybrid key is still "pubkey", but its descriptor is raw().
        let hybrid = format!("06{}", "11".repeat(64));
        let (_, desc, _, kind) = describe(&format!("41{hybrid}ac"));
        assert_eq!(kind, "pubkey");
        assert!(desc.starts_with(&format!("raw(41{hybrid}ac)#")));
    }

    #[test]
    fn multisig() {
        let k1 = "02448e093de3406e4b49364d5959151852107153a1bf1df0da7a50562115d1d043";
        let k2 = "03dc6b72fd71f2f19111630665a7b9c66dd0b1a1e9cd32bf85e7bd30f277c2ab57";
        let k3 = "03e71429a6d8e4f2b1972099e38bae9f67cc4b68ea57ebf57d44996a956723f680";
        let script = format!("5221{k1}21{k2}21{k3}53ae");
        let (asm, desc, addr, kind) = describe(&script);
        assert_eq!(asm, format!("2 {k1} {k2} {k3} 3 OP_CHECKMULTISIG"));
        assert!(desc.starts_with(&format!("multi(2,{k1},{k2},{k3})#")));
        assert_eq!((addr, kind), (None, "multisig"));
        // Counts that do not match, or m > n, are non-standard.
        assert_eq!(describe(&format!("5221{k1}21{k2}53ae")).3, "nonstandard");
        assert_eq!(describe(&format!("5321{k1}21{k2}52ae")).3, "nonstandard");
        // A non-minimal count push is rejected like Core does.
        assert_eq!(describe(&format!("010221{k1}21{k2}52ae")).3, "nonstandard");
    }

    #[test]
    fn nonstandard_and_malformed() {
        let (asm, desc, addr, kind) = describe("");
        assert_eq!(asm, "");
        assert!(desc.starts_with("raw()#"));
        assert_eq!((addr, kind), (None, "nonstandard"));
        // Truncated push: the text stops with [error].
        assert_eq!(describe("76a914aabb").0, "OP_DUP OP_HASH160 [error]");
        assert_eq!(describe("4c").0, "[error]");
        // PUSHDATA forms, OP_0, unknown and named opcodes.
        assert_eq!(describe("4c0101").0, "1");
        assert_eq!(describe("4d0100ff").0, "-127");
        assert_eq!(describe("00").0, "0");
        assert_eq!(
            describe("4f50bbbaff").0,
            "-1 OP_RESERVED OP_UNKNOWN OP_CHECKSIGADD OP_INVALIDOPCODE"
        );
        assert_eq!(
            describe("b1b2b061").0,
            "OP_CHECKLOCKTIMEVERIFY OP_CHECKSEQUENCEVERIFY OP_NOP1 OP_NOP"
        );
        assert_eq!(describe("0400000080").0, "0");
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        let key = "02448e093de3406e4b49364d5959151852107153a1bf1df0da7a50562115d1d043";
        let multisig = hex(&format!("5121{key}21{key}52ae"));
        let mut scripts: Vec<Vec<u8>> = (0..multisig.len())
            .map(|n| multisig[..n].to_vec())
            .collect();
        for a in 0..=255u8 {
            for b in [0x00, 0x01, 0x02, 0x4c, 0x4e, 0x80, 0xff] {
                scripts.push(vec![a, b]);
                scripts.push(vec![a, b, 0xff, 0xff, 0xff, 0xff]);
            }
        }
        scripts.push(vec![0x4e, 0xff, 0xff, 0xff, 0xff, 0x00]);
        scripts.push(vec![0x6a; 10_001]);
        for s in &scripts {
            for decode in [false, true] {
                let _ = script_to_asm(s, decode);
            }
            let _ = script_pubkey_json(Script::from_bytes(s), Network::Regtest);
        }
    }

    #[test]
    fn scriptsig_signatures_get_sighash_names() {
        let sig = "304402202891c3b4b9e0855a6b0fe644f3fe9f7372220db15c5e47a5a58b711c94fdce7c022005782cacf32d784dd57ce14810e769ccf2b022d1bada8d2d974e9b85c1c8415b";
        let key = "02448e093de3406e4b49364d5959151852107153a1bf1df0da7a50562115d1d043";
        let script = hex(&format!("47{sig}0121{key}"));
        assert_eq!(script_to_asm(&script, true), format!("{sig}[ALL] {key}"));
        // Without decoding (scriptPubKeys) the hashtype byte stays in the hex.
        assert_eq!(script_to_asm(&script, false), format!("{sig}01 {key}"));
        for (byte, name) in [
            ("81", "ALL|ANYONECANPAY"),
            ("02", "NONE"),
            ("82", "NONE|ANYONECANPAY"),
            ("03", "SINGLE"),
            ("83", "SINGLE|ANYONECANPAY"),
        ] {
            let s = hex(&format!("47{sig}{byte}"));
            assert_eq!(script_to_asm(&s, true), format!("{sig}[{name}]"));
        }
        // Undefined hashtype: plain hex.
        let s = hex(&format!("47{sig}04"));
        assert_eq!(script_to_asm(&s, true), format!("{sig}04"));
        // P2SH-multisig spend: OP_0, two signatures, the redeem script.
        let redeem = format!("5221{key}21{key}52ae");
        let s = hex(&format!(
            "0047{sig}0147{sig}014c{:02x}{redeem}",
            redeem.len() / 2
        ));
        assert_eq!(
            script_to_asm(&s, true),
            format!("0 {sig}[ALL] {sig}[ALL] {redeem}")
        );
        // Never decoded in an unspendable (OP_RETURN) script.
        let s = hex(&format!("6a47{sig}01"));
        assert_eq!(script_to_asm(&s, true), format!("OP_RETURN {sig}01"));
        // P2SH-P2WPKH scriptSig: the redeem script is a 22-byte push.
        let s = hex("1600148f5b0709f3125c9ec990c9869b623d872de7e500");
        assert_eq!(
            script_to_asm(&s, true),
            "00148f5b0709f3125c9ec990c9869b623d872de7e500"
        );
    }
}
