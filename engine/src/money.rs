//! Amounts as the data contract writes them: decimal strings with at most two decimals. A JSON
//! number, float notation (`1e3`) or a third decimal is refused, never rounded silently.

use rust_decimal::Decimal;

/// Parses a non-negative amount of rupees and paise.
pub fn parse_amount(text: &str) -> Result<Decimal, String> {
    let expected = "a decimal string like \"1250.50\" (digits, at most 2 decimals)";
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if text.starts_with('-') {
        return Err(format!("`{text}` is negative; expected {expected}"));
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !(fraction.is_empty() || digits(fraction)) || text.ends_with('.') {
        return Err(format!("`{text}` is not {expected}"));
    }
    if fraction.len() > 2 {
        return Err(format!("`{text}` has more than 2 decimals; expected {expected}"));
    }
    if whole.len() > 12 {
        return Err(format!("`{text}` is too large for an amount"));
    }
    text.parse().map_err(|_| format!("`{text}` is not {expected}"))
}

/// An Arrow `Decimal128` value of `scale` as a [`Decimal`]; `None` when no exact decimal holds
/// it (28 digits, scale 0 to 28): a caller says which cell, never reads it as zero.
pub fn decimal(value: i128, scale: i8) -> Option<Decimal> {
    let scale = u32::try_from(scale).ok()?;
    Decimal::try_from_i128_with_scale(value, scale).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_decimals() {
        assert_eq!(parse_amount("500.00").unwrap().to_string(), "500.00");
        assert_eq!(parse_amount("0").unwrap().to_string(), "0");
        assert_eq!(parse_amount("97.8").unwrap().to_string(), "97.8");
    }

    #[test]
    fn arrow_decimals_convert_exactly_or_not_at_all() {
        assert_eq!(decimal(1_831_405, 2).unwrap().to_string(), "18314.05");
        assert_eq!(decimal(5, -1), None);
        assert_eq!(decimal(i128::MAX, 2), None);
    }

    #[test]
    fn refuses_float_noise_negatives_and_paise_fractions() {
        for bad in ["1e3", "-5.00", "1.005", "", ".5", "5.", "12,000", "NaN", "1_000", " 5"] {
            assert!(parse_amount(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
