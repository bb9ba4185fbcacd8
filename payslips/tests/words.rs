//! Amounts in words against golden values made with Python's num2words
//! (en_IN); see data/words.py for how they were produced.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use payroll_payslips::amount_in_words;
use rust_decimal::Decimal;

#[test]
fn matches_num2words_golden_file() {
    let golden = include_str!("data/words.csv");
    let mut checked = 0;
    for line in golden.lines().skip(1) {
        let (amount, want) = line.split_once(',').expect("amount,words");
        let amount: Decimal = amount.parse().expect("amount");
        assert_eq!(amount_in_words(amount), want, "amount {amount}");
        checked += 1;
    }
    assert!(checked >= 100, "golden file has only {checked} rows");
}
