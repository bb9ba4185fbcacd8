//! Amounts in Indian digit grouping.

use rust_decimal::{Decimal, RoundingStrategy};

/// Rounds to paise the way a payslip shows money (half away from zero) and
/// splits into sign, whole rupees and paise.
pub(crate) fn to_paise(d: Decimal) -> (bool, u128, u8) {
    let mut r = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(2);
    let m = r.mantissa();
    let abs = m.unsigned_abs();
    (m < 0, abs / 100, (abs % 100) as u8)
}

/// `1,23,456.50`: the last three digits of the rupees, then groups of two,
/// always two decimals; negatives get a leading `-`.
pub fn format_inr(d: Decimal) -> String {
    let (negative, rupees, paise) = to_paise(d);
    let digits = rupees.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 2 + 5);
    if negative {
        out.push('-');
    }
    let head_len = digits.len().saturating_sub(3);
    let (head, tail) = digits.split_at(head_len);
    // The head splits into pairs counted from its right end, so an odd-length
    // head starts with a single digit: 12,34,567 / 1,23,456.
    for (i, c) in head.chars().enumerate() {
        if i > 0 && (head_len - i) % 2 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !head.is_empty() {
        out.push(',');
    }
    out.push_str(tail);
    out.push('.');
    out.push(char::from(b'0' + paise / 10));
    out.push(char::from(b'0' + paise % 10));
    out
}

/// `₹1,23,456.50`, with the sign ahead of the symbol (`-₹500.00`) as Indian
/// statements print it.
pub(crate) fn format_rupees(d: Decimal) -> String {
    let grouped = format_inr(d);
    match grouped.strip_prefix('-') {
        Some(abs) => format!("-₹{abs}"),
        None => format!("₹{grouped}"),
    }
}

/// What an identity field shows when the worker has no such number (yet):
/// a dash, so a blank is visibly "none" rather than a rendering fault.
pub(crate) fn or_dash(s: &str) -> &str {
    if s.trim().is_empty() { "—" } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inr(s: &str) -> String {
        format_inr(s.parse().unwrap())
    }

    #[test]
    fn groups_in_lakhs_and_crores() {
        let cases = [
            ("0", "0.00"),
            ("0.5", "0.50"),
            ("7", "7.00"),
            ("999", "999.00"),
            ("1000", "1,000.00"),
            ("99999.99", "99,999.99"),
            ("100000", "1,00,000.00"),
            ("123456.5", "1,23,456.50"),
            ("1234567", "12,34,567.00"),
            ("9999999.99", "99,99,999.99"),
            ("10000000", "1,00,00,000.00"),
            ("123456789.05", "12,34,56,789.05"),
            ("1234567890123", "12,34,56,78,90,123.00"),
        ];
        for (input, want) in cases {
            assert_eq!(inr(input), want, "format_inr({input})");
        }
    }

    #[test]
    fn rounds_to_paise_half_away_from_zero() {
        assert_eq!(inr("1.005"), "1.01");
        assert_eq!(inr("1.004"), "1.00");
        assert_eq!(inr("99999.995"), "1,00,000.00");
        assert_eq!(inr("-2.675"), "-2.68");
    }

    #[test]
    fn negatives_keep_grouping_and_zero_has_no_sign() {
        assert_eq!(inr("-123456.5"), "-1,23,456.50");
        assert_eq!(inr("-0.50"), "-0.50");
        assert_eq!(inr("-0.001"), "0.00");
        assert_eq!(format_rupees("-1234".parse().unwrap()), "-₹1,234.00");
        assert_eq!(format_rupees("123456.5".parse().unwrap()), "₹1,23,456.50");
    }
}
