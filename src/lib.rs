//! FerrumX: an Electrum server daemon, a drop-in replacement for ElectrumX.
