//! Small helpers several rooms share.

/// Groups a string of decimal digits by thousands: `"1234567"` → `"1,234,567"`.
pub fn group_digits(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Python's `f'{n:,d}'` for machine integers (ElectrumX's messages and logs): `99999` →
/// `"99,999"`, `-1234` → `"-1,234"`.
pub fn thousands(n: impl Into<i128>) -> String {
    let n: i128 = n.into();
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", group_digits(&n.unsigned_abs().to_string()))
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_as_python_prints_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(-1234), "-1,234");
        assert_eq!(thousands(12_345_678u64), "12,345,678");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }
}
