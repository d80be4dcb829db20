//! The few Unicode tables of CPython 3.11 (Unicode 14) that ElectrumX's answers depend on:
//! `str.isprintable` (what `repr()` escapes), `str.isspace` beyond ASCII and
//! `unicodedata.decimal` (what `int()` strips and accepts).

/// Non-printable ranges (Python's `str.isprintable` is false) beyond ASCII: C1 controls and
/// NBSP, the separators (Zs, Zl, Zp), format characters (Cf), private use (Co) and
/// noncharacters, plus the wholly unassigned planes.
const NON_PRINTABLE: &[(u32, u32)] = &[
    (0x80, 0xa0),
    (0xad, 0xad),
    (0x600, 0x605),
    (0x61c, 0x61c),
    (0x6dd, 0x6dd),
    (0x70f, 0x70f),
    (0x890, 0x891),
    (0x8e2, 0x8e2),
    (0x1680, 0x1680),
    (0x180e, 0x180e),
    (0x2000, 0x200f),
    (0x2028, 0x202f),
    (0x205f, 0x2064),
    (0x2066, 0x206f),
    (0x3000, 0x3000),
    (0xe000, 0xf8ff),
    (0xfdd0, 0xfdef),
    (0xfeff, 0xfeff),
    (0xfff9, 0xfffb),
    (0x110bd, 0x110bd),
    (0x110cd, 0x110cd),
    (0x13430, 0x13438),
    (0x1bca0, 0x1bca3),
    (0x1d173, 0x1d17a),
    (0x3134b, 0xe00ff),
    (0xe01f0, 0x10ffff),
];

/// Python's `str.isprintable` for one character: exact for ASCII, Latin-1, the separators,
/// the common format characters, private use and noncharacters; code points unassigned in
/// Python's Unicode database are (unlike Python) treated as printable.
pub fn is_printable(c: char) -> bool {
    let v = u32::from(c);
    if v < 0x80 {
        return (0x20..0x7f).contains(&v);
    }
    if v & 0xfffe == 0xfffe {
        return false;
    }
    !NON_PRINTABLE.iter().any(|&(lo, hi)| (lo..=hi).contains(&v))
}

/// Characters Python's `str.isspace` accepts beyond ASCII (`int()` strips them).
pub fn is_non_ascii_space(c: char) -> bool {
    matches!(
        c,
        '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

/// The first code point (digit zero) of each run of ten Unicode decimal digits (category Nd,
/// Unicode 14 as in Python 3.11).
const DECIMAL_ZEROS: &[u32] = &[
    0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66,
    0xde6, 0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90,
    0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
    0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650,
    0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50,
    0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
];

/// The value of a Unicode decimal digit (Python's `unicodedata.decimal`).
pub fn decimal(c: char) -> Option<u8> {
    let v = u32::from(c);
    DECIMAL_ZEROS
        .iter()
        .find(|&&zero| (zero..zero + 10).contains(&v))
        .map(|&zero| (v - zero) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables() {
        assert!(is_printable('a') && is_printable('é') && is_printable('😀'));
        assert!(!is_printable('\u{7f}') && !is_printable('\u{a0}') && !is_printable('\u{fffe}'));
        assert!(is_non_ascii_space('\u{3000}') && !is_non_ascii_space(' '));
        assert_eq!(decimal('\u{661}'), Some(1));
        assert_eq!(decimal('7'), Some(7));
        assert_eq!(decimal('x'), None);
    }
}
