//! The one rule every secret key is held to (the service's signing and link secrets, the
//! checkpoint key): it lives here, the lowest crate reading any of them, so that `stream`,
//! `run --state` and `serve` refuse the same keys. A key that signs tokens or seals bank
//! accounts must be one no one can guess: at least 256 bits, not a repeated character, and not
//! a value the documentation shows (an operator who copies the example file runs with it, and
//! so can anyone who reads it).

/// Values the documentation gives as examples: `docker/.env.example` and the README.
pub const PLACEHOLDERS: &[&str] = &[
    "replace-with-the-output-of-openssl-rand-hex-32",
    "change-me-postgres",
    "change-me-minio",
    "...",
];

/// The least key material, in bits: HMAC-SHA256's and AES-256's key size.
pub const MIN_BITS: usize = 256;

/// Fewer distinct characters than this is a pattern, not a random key (`aaaa…`, `0000…`):
/// 64 random hex digits hold 16 but for a chance of about 1 in 10^13.
pub const MIN_DISTINCT: usize = 10;

/// Why `value` may not serve as a secret key, if it may not (with how to make one); the caller
/// names the key.
pub fn weakness(value: &str) -> Option<String> {
    let how = "generate one with `openssl rand -hex 32`";
    let trimmed = value.trim();
    if PLACEHOLDERS.iter().any(|p| p.eq_ignore_ascii_case(trimmed)) {
        return Some(format!(
            "this is the documentation's placeholder, known to anyone who reads it; {how}"
        ));
    }
    let bits = bits(trimmed);
    if bits < MIN_BITS {
        return Some(format!(
            "{bits} bits of key material, at least {MIN_BITS} needed (64 hex digits, 44 base64 characters \
             or 32 bytes); {how}"
        ));
    }
    let mut distinct: Vec<char> = trimmed.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < MIN_DISTINCT {
        return Some(format!(
            "made of {} distinct characters, at least {MIN_DISTINCT} needed: a pattern, not a random key; {how}",
            distinct.len()
        ));
    }
    None
}

/// The key material in `value`: its decoded bytes when it is hex (`openssl rand -hex`) or
/// base64 (`openssl rand -base64`, standard or URL-safe alphabet), else its raw bytes. Hex wins
/// where both read: hex digits are base64 characters too, but carry 4 bits each, not 6.
fn bits(value: &str) -> usize {
    let bytes = value.as_bytes();
    if bytes.len().is_multiple_of(2) && bytes.iter().all(u8::is_ascii_hexdigit) {
        return bytes.len() / 2 * 8;
    }
    let body = value.trim_end_matches('=');
    let padding = value.len() - body.len();
    let alphabet = |extra: [u8; 2]| body.bytes().all(|c| c.is_ascii_alphanumeric() || extra.contains(&c));
    let base64 = !body.is_empty()
        && (alphabet([b'+', b'/']) || alphabet([b'-', b'_']))
        && body.len() % 4 != 1
        && (padding == 0 || (padding <= 2 && value.len().is_multiple_of(4)));
    if base64 {
        return body.len() * 6 / 8 * 8;
    }
    bytes.len() * 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_material_is_counted_decoded() {
        // 32 bytes however written.
        assert_eq!(bits(&"ab".repeat(32)), 256);
        assert_eq!(bits("sbOEBBbO5TNb5GfpXtcpZ6rlBTu9iVrUQVNw02aF9tc="), 256);
        assert_eq!(bits("sbOEBBbO5TNb5GfpXtcpZ6rlBTu9iVrUQVNw02aF9tc"), 256);
        assert_eq!(bits("sbOEBBbO5TNb5GfpXtcpZ6rlBTu9iVrUQVNw02aF9tc_"), 264);
        // 31 bytes.
        assert_eq!(bits("h0nFs4E28b3Awd9QiR9nVzTTq0oPSOnhWzMPs6F9MQ=="), 248);
        assert_eq!(bits(&"ab".repeat(31)), 248);
        // Neither hex nor base64 (mixed alphabets, spaces, a length base64 never has): raw bytes.
        assert_eq!(bits("cli-upload-test-secret-of-32-chars+"), 35 * 8);
        assert_eq!(bits("test-secret-of-at-least-thirty-two-characters"), 45 * 8);
        assert_eq!(bits("a payslip link secret"), 21 * 8);
    }

    #[test]
    fn weak_keys_are_refused_saying_why() {
        for (value, why) in [
            ("replace-with-the-output-of-openssl-rand-hex-32", "placeholder"),
            ("REPLACE-WITH-THE-OUTPUT-OF-OPENSSL-RAND-HEX-32 ", "placeholder"),
            (&"a".repeat(64), "distinct"),
            (&"0123".repeat(16), "distinct"),
            ("short", "bits"),
            (&"ab".repeat(31), "bits"),
        ] {
            let error = weakness(value).unwrap();
            assert!(
                error.contains(why) && error.contains("openssl rand"),
                "{value}: {error}"
            );
        }
        for strong in [
            "9b3bcb8885304cc72abc9cccf937e2c07dafe59a6a9c0170981d073a4a74edc8",
            "test-secret-of-at-least-thirty-two-characters",
        ] {
            assert_eq!(weakness(strong), None, "{strong}");
        }
    }
}
