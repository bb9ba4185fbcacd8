//! The one masking policy for bank account numbers and PANs. They leave the worker master only
//! masked: in results, payslips, API responses, dead letters, DLQ messages and logs. The payout
//! file is the one audited exception, and reads the master itself.

use std::borrow::Cow;

/// The fields of a worker record that hold a bank account number or a PAN, or a contact (phone,
/// email): personal data masked alike.
pub const SENSITIVE_FIELDS: [&str; 4] = ["bank_account", "pan", "phone", "email"];

/// A bank account with only its last four characters visible: `XXXXXXXX1340`. Spaces and
/// dashes are dropped first so the masked form does not reveal the grouping; an account of four
/// characters or fewer is masked entirely, since its last four would be all of it.
pub fn mask_account(account: &str) -> String {
    let chars: Vec<char> = account.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    let visible_from = if chars.len() > 4 { chars.len() - 4 } else { chars.len() };
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| if i < visible_from { 'X' } else { c })
        .collect()
}

/// A PAN (`ABCDE1234F`) as `XXXXX1234X`: the letters carry the holder's category and surname
/// initial, so only the serial digits stay visible. Anything not shaped like a PAN is masked
/// like an account number.
pub fn mask_pan(pan: &str) -> String {
    let trimmed = pan.trim();
    if !is_pan(trimmed.as_bytes()) {
        return mask_account(pan);
    }
    format!("XXXXX{}X", &trimmed[5..9])
}

/// A phone number as an account is masked: only its last four digits visible.
pub fn mask_phone(phone: &str) -> String {
    mask_account(phone.trim().trim_start_matches('+'))
}

/// An email as `a***@example.in`: the domain says which provider, not who.
pub fn mask_email(email: &str) -> String {
    match email.trim().rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

/// The value of field `name` as it may be shown: masked if the field is sensitive.
pub fn mask_field<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    match name {
        "bank_account" => Cow::Owned(mask_account(value)),
        "pan" => Cow::Owned(mask_pan(value)),
        "phone" => Cow::Owned(mask_phone(value)),
        "email" => Cow::Owned(mask_email(value)),
        _ => Cow::Borrowed(value),
    }
}

/// A refused record as a dead letter may carry it. A JSON object has its sensitive fields
/// masked by name. Anything else (a CSV line, broken JSON, bytes that are not text) is scanned,
/// since which part is which field cannot be known: a run of nine or more digits (Indian bank
/// accounts have 9 to 18) and anything shaped like a PAN is masked. A CSV reader that knows the
/// header masks by column first ([`mask_field`]); the scan is the net under it.
pub fn mask_record(original: &[u8]) -> Cow<'_, [u8]> {
    if let Ok(serde_json::Value::Object(mut object)) = serde_json::from_slice::<serde_json::Value>(original) {
        let mut masked = false;
        for name in SENSITIVE_FIELDS {
            if let Some(value) = object.get_mut(name) {
                let text = match &mut *value {
                    serde_json::Value::String(s) => std::mem::take(s),
                    serde_json::Value::Null => continue,
                    other => other.to_string(),
                };
                *value = serde_json::Value::String(mask_field(name, &text).into_owned());
                masked = true;
            }
        }
        return match masked {
            // Serializing a `Value` cannot fail: its keys are strings.
            true => Cow::Owned(serde_json::to_vec(&object).unwrap_or_default()),
            false => Cow::Borrowed(original),
        };
    }
    scan(original)
}

/// [`mask_record`] for text.
pub fn mask_record_text(original: &str) -> Cow<'_, str> {
    match mask_record(original.as_bytes()) {
        Cow::Borrowed(_) => Cow::Borrowed(original),
        Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

/// Shortest digit run taken for a bank account.
const ACCOUNT_DIGITS: usize = 9;

fn scan(text: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    while i < text.len() {
        let word_start = i == 0 || !text[i - 1].is_ascii_alphanumeric();
        let digits = text[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let masked = if digits >= ACCOUNT_DIGITS && word_start {
            Some((digits, mask_account(ascii(&text[i..i + digits]))))
        } else if word_start
            && text.len() - i >= 10
            && is_pan(&text[i..i + 10])
            && text.get(i + 10).is_none_or(|b| !b.is_ascii_alphanumeric())
        {
            Some((10, mask_pan(ascii(&text[i..i + 10]))))
        } else {
            None
        };
        match masked {
            Some((len, replacement)) => {
                out.get_or_insert_with(|| text[..i].to_vec())
                    .extend_from_slice(replacement.as_bytes());
                i += len;
            }
            None => {
                let step = digits.max(1);
                if let Some(out) = &mut out {
                    out.extend_from_slice(&text[i..i + step]);
                }
                i += step;
            }
        }
    }
    match out {
        Some(out) => Cow::Owned(out),
        None => Cow::Borrowed(text),
    }
}

fn is_pan(b: &[u8]) -> bool {
    b.len() == 10
        && b[..5].iter().all(u8::is_ascii_alphabetic)
        && b[5..9].iter().all(u8::is_ascii_digit)
        && b[9].is_ascii_alphabetic()
}

/// Bytes already checked to be ASCII digits or letters.
fn ascii(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_shows_last_four_only() {
        assert_eq!(mask_account("123456781340"), "XXXXXXXX1340");
        assert_eq!(mask_account("1234 5678 1340"), "XXXXXXXX1340");
        assert_eq!(mask_account("12345"), "X2345");
        for short in ["1340", "134", "1", ""] {
            assert_eq!(mask_account(short), "X".repeat(short.len()), "{short}");
        }
    }

    #[test]
    fn pan_shows_serial_digits_only() {
        assert_eq!(mask_pan("ABCDE1234F"), "XXXXX1234X");
        assert_eq!(mask_pan(" ABCDE1234F "), "XXXXX1234X");
        assert_eq!(mask_pan("ABC123"), "XXC123");
        assert_eq!(mask_pan("ABC1"), "XXXX");
    }

    #[test]
    fn json_records_are_masked_by_field() {
        let cases = [
            (
                r#"{"worker_id":"W1","bank_account":"123456781340","pan":"ABCDE1234F"}"#,
                r#"{"bank_account":"XXXXXXXX1340","pan":"XXXXX1234X","worker_id":"W1"}"#,
            ),
            // A number where a string belongs is masked as its text.
            (r#"{"bank_account":123456781340}"#, r#"{"bank_account":"XXXXXXXX1340"}"#),
            (r#"{"bank_account":"1340"}"#, r#"{"bank_account":"XXXX"}"#),
            (r#"{"pan":null}"#, r#"{"pan":null}"#),
            (r#"{"worker_id":"W1"}"#, r#"{"worker_id":"W1"}"#),
        ];
        for (original, want) in cases {
            let masked = mask_record(original.as_bytes());
            let masked: serde_json::Value = serde_json::from_slice(&masked).unwrap();
            let want: serde_json::Value = serde_json::from_str(want).unwrap();
            assert_eq!(masked, want, "{original}");
        }
    }

    #[test]
    fn anything_else_is_scanned_for_accounts_and_pans() {
        let cases = [
            (
                "W1,acme,S1,Asha,123456781340,ABCDE1234F,2026-01-01",
                "W1,acme,S1,Asha,XXXXXXXX1340,XXXXX1234X,2026-01-01",
            ),
            (
                r#"{"worker_id":"W1","bank_account":"123456781340""#,
                r#"{"worker_id":"W1","bank_account":"XXXXXXXX1340""#,
            ),
            // Short digit runs, dates, ids and longer words stay as they are.
            ("W00012345,2026-03-31,480", "W00012345,2026-03-31,480"),
            ("XABCDE1234F,ABCDE1234FG", "XABCDE1234F,ABCDE1234FG"),
            ("", ""),
        ];
        for (original, want) in cases {
            assert_eq!(mask_record_text(original), want, "{original}");
        }
        assert_eq!(
            &*mask_record(b"\xff123456781340\xfe"),
            b"\xffXXXXXXXX1340\xfe".as_slice()
        );
    }
}
