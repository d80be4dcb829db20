//! COIN and NET: the chain FerrumX indexes, and what follows from it (ElectrumX's `Coin`
//! classes for Bitcoin, restated).

use std::fmt;

use bitcoin::blockdata::constants::ChainHash;
use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, Network};

/// The coin (COIN). FerrumX serves Bitcoin only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coin {
    /// `Bitcoin`, or its legacy name `BitcoinSegwit` (ElectrumX up to 1.16).
    Bitcoin,
}

impl Coin {
    /// Parses COIN as ElectrumX does: surrounding whitespace ignored, case-insensitive.
    /// The second value is true for the legacy name `BitcoinSegwit`.
    ///
    /// # Errors
    /// A one-line reason for any other coin.
    pub fn parse(value: &str) -> Result<(Coin, bool), String> {
        let name = value.trim();
        if name.eq_ignore_ascii_case("Bitcoin") {
            Ok((Coin::Bitcoin, false))
        } else if name.eq_ignore_ascii_case("BitcoinSegwit") {
            Ok((Coin::Bitcoin, true))
        } else {
            Err(format!(
                "{value:?} is not supported: FerrumX serves Bitcoin only (COIN=Bitcoin)"
            ))
        }
    }

    /// ElectrumX's `NAME`.
    pub fn name(self) -> &'static str {
        match self {
            Coin::Bitcoin => "Bitcoin",
        }
    }
}

impl fmt::Display for Coin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The Bitcoin network (NET), with ElectrumX's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Net {
    Mainnet,
    /// Testnet3.
    Testnet,
    Testnet4,
    Signet,
    Regtest,
}

impl Net {
    /// Every network.
    pub const ALL: [Net; 5] = [
        Net::Mainnet,
        Net::Testnet,
        Net::Testnet4,
        Net::Signet,
        Net::Regtest,
    ];

    /// Parses NET as ElectrumX does: surrounding whitespace ignored, case-insensitive.
    ///
    /// # Errors
    /// A one-line reason for an unknown network.
    pub fn parse(value: &str) -> Result<Net, String> {
        let name = value.trim();
        Net::ALL
            .into_iter()
            .find(|net| net.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                format!(
                    "{value:?} is not a Bitcoin network: use mainnet, testnet, testnet4, \
                     signet or regtest"
                )
            })
    }

    /// ElectrumX's `NET` name.
    pub fn name(self) -> &'static str {
        match self {
            Net::Mainnet => "mainnet",
            Net::Testnet => "testnet",
            Net::Testnet4 => "testnet4",
            Net::Signet => "signet",
            Net::Regtest => "regtest",
        }
    }

    /// The `bitcoin` crate's network.
    pub fn bitcoin_network(self) -> Network {
        match self {
            Net::Mainnet => Network::Bitcoin,
            Net::Testnet => Network::Testnet,
            Net::Testnet4 => Network::Testnet4,
            Net::Signet => Network::Signet,
            Net::Regtest => Network::Regtest,
        }
    }

    /// The genesis block's hash, checked against the daemon at start.
    pub fn genesis_hash(self) -> BlockHash {
        let chain = ChainHash::using_genesis_block_const(self.bitcoin_network());
        BlockHash::from_byte_array(chain.to_bytes())
    }

    /// bitcoind's default RPC port: the DAEMON_URL port when none is given.
    pub fn default_rpc_port(self) -> u16 {
        match self {
            Net::Mainnet => 8332,
            Net::Testnet => 18332,
            Net::Testnet4 => 48332,
            Net::Signet => 38332,
            Net::Regtest => 18443,
        }
    }

    /// ElectrumX's REORG_LIMIT default: 200 on mainnet, 8,000 on the test networks.
    pub fn default_reorg_limit(self) -> u32 {
        match self {
            Net::Mainnet => 200,
            _ => 8000,
        }
    }

    /// ElectrumX's BLACKLIST_URL default: Electrum's list on mainnet, none elsewhere.
    pub fn default_blacklist_url(self) -> Option<&'static str> {
        match self {
            Net::Mainnet => Some("https://electrum.org/blacklist.json"),
            _ => None,
        }
    }

    /// The (tcp, ssl) ports assumed for a peer that names none (ElectrumX's
    /// `PEER_DEFAULT_PORTS`).
    pub fn peer_default_ports(self) -> (u16, u16) {
        match self {
            Net::Mainnet => (50001, 50002),
            _ => (51001, 51002),
        }
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coin_names() {
        assert_eq!(Coin::parse(" bitcoin "), Ok((Coin::Bitcoin, false)));
        assert_eq!(Coin::parse("BITCOINSEGWIT"), Ok((Coin::Bitcoin, true)));
        assert!(Coin::parse("BitcoinCash").is_err());
        assert!(Coin::parse("").is_err());
    }

    #[test]
    fn net_names() {
        for net in Net::ALL {
            assert_eq!(Net::parse(&net.name().to_uppercase()), Ok(net));
        }
        assert!(Net::parse("testnet3").is_err());
        assert!(Net::parse("").is_err());
    }

    /// ElectrumX's `GENESIS_HASH` values.
    #[test]
    fn genesis_hashes() {
        let expected = [
            "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
            "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
            "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043",
            "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6",
            "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
        ];
        for (net, hash) in Net::ALL.into_iter().zip(expected) {
            assert_eq!(net.genesis_hash().to_string(), hash, "{net}");
        }
    }

    #[test]
    fn ports_and_limits() {
        let ports: Vec<u16> = Net::ALL.iter().map(|n| n.default_rpc_port()).collect();
        assert_eq!(ports, [8332, 18332, 48332, 38332, 18443]);
        let limits: Vec<u32> = Net::ALL.iter().map(|n| n.default_reorg_limit()).collect();
        assert_eq!(limits, [200, 8000, 8000, 8000, 8000]);
    }
}
