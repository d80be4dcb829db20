//! The two servers the side-by-side benches compare.

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ElectrumX,
    FerrumX,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::ElectrumX => "ElectrumX 1.20.0",
            Kind::FerrumX => "FerrumX",
        }
    }
}

/// The servers a bench runs, in `order`, as the variable `var` chooses (`ferrumx`,
/// `electrumx`, or unset for both); checks first that ElectrumX is installed when it runs.
pub fn chosen(var: &str, order: [Kind; 2]) -> Vec<Kind> {
    let kinds = match std::env::var(var).unwrap_or_default().as_str() {
        "" => order.to_vec(),
        "ferrumx" => vec![Kind::FerrumX],
        "electrumx" => vec![Kind::ElectrumX],
        other => panic!("{var}={other:?}: ferrumx or electrumx"),
    };
    if kinds.contains(&Kind::ElectrumX) {
        ferrumx_testkit::electrumx::electrumx_server_for_bench();
    }
    kinds
}
