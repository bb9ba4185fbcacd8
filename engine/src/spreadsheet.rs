//! Text bound for a spreadsheet. Excel, LibreOffice and Google Sheets read a cell starting with
//! `=`, `+`, `-` or `@` as a formula (and one starting with a tab or carriage return once that
//! is trimmed), so a worker named `=HYPERLINK("http://x","y")`, or a refused input line that
//! starts with `@SUM(1)`, would become a live link or a command on the desk of whoever opens the
//! CSV (OWASP: CSV injection). Every CSV and XLSX written for people passes its text cells
//! through [`neutralise`]. It lives here, the one crate below every writer (`payroll-payslips`
//! depends on this crate and not on `payroll-connectors`).

use std::borrow::Cow;

/// Whether `text` starts with a character a spreadsheet reads as the start of a formula.
pub fn starts_formula(text: &str) -> bool {
    text.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// `text` with a leading `'` if a spreadsheet would read it as a formula, else unchanged
/// (borrowed or owned as given). A number stays as it is, sign and all (`-731.25`, `-5`,
/// `+1e-7`): amounts and counts are never altered, and a number runs nothing.
pub fn neutralise<'a>(text: impl Into<Cow<'a, str>>) -> Cow<'a, str> {
    let text = text.into();
    if !starts_formula(&text) || is_number(&text) {
        return text;
    }
    let mut safe = String::with_capacity(text.len() + 1);
    safe.push('\'');
    safe.push_str(&text);
    Cow::Owned(safe)
}

/// A plain decimal number as a spreadsheet parses one: a sign, digits with at most one point,
/// and an optional exponent. Nothing else (no spaces, no `inf`): anything more is text.
fn is_number(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['+', '-']).unwrap_or(e))),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    !(whole.is_empty() && fraction.is_empty())
        && digits(whole)
        && digits(fraction)
        && exponent.is_none_or(|e| !e.is_empty() && digits(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_would_start_a_formula_gets_a_leading_quote() {
        for (text, safe) in [
            (r#"=HYPERLINK("http://x","y")"#, r#"'=HYPERLINK("http://x","y")"#),
            ("+cmd", "'+cmd"),
            ("-2+3", "'-2+3"),
            ("@SUM(1)", "'@SUM(1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-", "'-"),
            ("+", "'+"),
            ("-.", "'-."),
            ("-1.2.3", "'-1.2.3"),
            ("-1e", "'-1e"),
            ("- 5", "'- 5"),
            ("-inf", "'-inf"),
            ("-5 ", "'-5 "),
        ] {
            assert_eq!(neutralise(text), safe, "{text:?}");
        }
    }

    #[test]
    fn numbers_and_plain_text_are_left_as_they_are_and_not_copied() {
        for text in [
            "-731.25", "-5", "+5", "-0.5", "-.5", "-5.", "+1e-7", "-2E10", "731.25", "Worker 0", "", "W000000", "a=b",
            " =1", "'=1",
        ] {
            assert!(matches!(neutralise(text), Cow::Borrowed(t) if t == text), "{text:?}");
        }
        let owned = String::from("-731.25");
        let at = owned.as_ptr();
        assert!(matches!(neutralise(owned), Cow::Owned(s) if s.as_ptr() == at));
    }
}
