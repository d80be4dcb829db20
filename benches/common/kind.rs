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
