//! Amounts in words, Indian style: lakh and crore, no "and" between hundreds
//! and tens, paise after "and": "Rupees One Lakh Twenty Three Thousand Four
//! Hundred Fifty Six and Fifty Paise Only".

use rust_decimal::Decimal;

use crate::format::to_paise;

const ONES: [&str; 20] = [
    "Zero",
    "One",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
];
const TENS: [&str; 10] = [
    "", "", "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety",
];

/// The amount, rounded to paise, in words.
///
/// Zero is "Rupees Zero Only"; less than a rupee is "Fifty Paise Only";
/// a negative amount (net pay can be) is prefixed with "Minus". Crores
/// beyond 99 are counted with the same words ("One Thousand Crore").
pub fn amount_in_words(d: Decimal) -> String {
    let (negative, rupees, paise) = to_paise(d);
    let mut out = String::with_capacity(96);
    if negative {
        out.push_str("Minus ");
    }
    if rupees > 0 || paise == 0 {
        out.push_str("Rupees ");
        push_indian(&mut out, rupees);
        if paise > 0 {
            out.push_str(" and ");
        }
    }
    if paise > 0 {
        push_below_hundred(&mut out, paise.into());
        out.push_str(" Paise");
    }
    out.push_str(" Only");
    out
}

/// Writes `n` as crore / lakh / thousand / hundred groups.
fn push_indian(out: &mut String, n: u128) {
    if n == 0 {
        out.push_str(ONES[0]);
        return;
    }
    let start = out.len();
    let space = |out: &mut String| {
        if out.len() > start {
            out.push(' ');
        }
    };
    let crores = n / 10_000_000;
    if crores > 0 {
        push_indian(out, crores);
        out.push_str(" Crore");
    }
    let rest = n % 10_000_000;
    let groups = [
        (rest / 100_000, " Lakh"),
        (rest / 1_000 % 100, " Thousand"),
        (rest / 100 % 10, " Hundred"),
        (rest % 100, ""),
    ];
    for (count, unit) in groups {
        if count > 0 {
            space(out);
            push_below_hundred(out, count);
            out.push_str(unit);
        }
    }
}

fn push_below_hundred(out: &mut String, n: u128) {
    let n = n as usize;
    if n < 20 {
        out.push_str(ONES[n]);
    } else {
        out.push_str(TENS[n / 10]);
        if !n.is_multiple_of(10) {
            out.push(' ');
            out.push_str(ONES[n % 10]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> String {
        amount_in_words(s.parse().unwrap())
    }

    #[test]
    fn the_payslip_example() {
        assert_eq!(
            words("123456.50"),
            "Rupees One Lakh Twenty Three Thousand Four Hundred Fifty Six and Fifty Paise Only"
        );
    }

    #[test]
    fn zero_paise_only_and_negative() {
        assert_eq!(words("0"), "Rupees Zero Only");
        assert_eq!(words("0.004"), "Rupees Zero Only");
        assert_eq!(words("0.5"), "Fifty Paise Only");
        assert_eq!(words("-1500"), "Minus Rupees One Thousand Five Hundred Only");
        assert_eq!(words("-0.05"), "Minus Five Paise Only");
    }

    #[test]
    fn crores_beyond_ninety_nine() {
        assert_eq!(
            words("12345000000000"),
            "Rupees Twelve Lakh Thirty Four Thousand Five Hundred Crore Only"
        );
    }
}
