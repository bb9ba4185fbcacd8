//! Byte-level writers for the feed formats.
//!
//! A month for 100,000 workers is ~700 MB of text, so formatting is the hot path: values go
//! straight into one reusable line buffer instead of through `format!` or a JSON library, and
//! every string we emit comes from a fixed vocabulary that never needs JSON escaping.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

use chrono::{DateTime, Datelike, NaiveDate, Timelike};

/// Large buffer because the attendance feed is written in one pass of hundreds of megabytes.
pub fn create_feed(path: &Path) -> io::Result<BufWriter<File>> {
    Ok(BufWriter::with_capacity(1 << 20, File::create(path)?))
}

/// Decimal digits of `n`, left-padded with zeros to at least `width`.
pub fn put_padded(buf: &mut Vec<u8>, mut n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = start.min(digits.len() - width.min(digits.len()));
    buf.extend_from_slice(&digits[start..]);
}

pub fn put_uint(buf: &mut Vec<u8>, n: u64) {
    put_padded(buf, n, 1);
}

/// Amounts travel as decimal strings with exactly two places (`1234.50`), never as floats.
pub fn put_money(buf: &mut Vec<u8>, paise: u64) {
    put_uint(buf, paise / 100);
    buf.push(b'.');
    put_padded(buf, paise % 100, 2);
}

pub fn put_date(buf: &mut Vec<u8>, date: NaiveDate) {
    put_padded(buf, date.year() as u64, 4);
    buf.push(b'-');
    put_padded(buf, date.month() as u64, 2);
    buf.push(b'-');
    put_padded(buf, date.day() as u64, 2);
}

/// RFC 3339 in UTC with a `Z`, the way the biometric devices in the sample stamp punches.
#[allow(clippy::expect_used, reason = "punch times stay within a few days of the period")]
pub fn put_utc(buf: &mut Vec<u8>, unix_secs: i64) {
    let at = DateTime::from_timestamp(unix_secs, 0)
        .expect("punch times stay within a few days of the period")
        .naive_utc();
    put_date(buf, at.date());
    buf.push(b'T');
    put_padded(buf, at.hour() as u64, 2);
    buf.push(b':');
    put_padded(buf, at.minute() as u64, 2);
    buf.push(b':');
    put_padded(buf, at.second() as u64, 2);
    buf.push(b'Z');
}

/// A random 128-bit value shaped as a version-4 UUID, since that is what real feeds carry as
/// `event_id`; the version and variant bits are forced so the ids look genuine.
pub fn put_event_id(buf: &mut Vec<u8>, bits: u128) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits = (bits & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    for nibble in 0..32 {
        if matches!(nibble, 8 | 12 | 16 | 20) {
            buf.push(b'-');
        }
        buf.push(HEX[((bits >> (124 - 4 * nibble)) & 0xf) as usize]);
    }
}

/// One JSON object per line in the sample's style (`{"key": "value", "n": 1}`).
///
/// `omit` drops one field, which is how a "missing field" bad line is made without a second
/// copy of every record writer.
pub struct JsonLine<'a> {
    buf: &'a mut Vec<u8>,
    omit: Option<&'static str>,
    fields: usize,
}

impl<'a> JsonLine<'a> {
    pub fn begin(buf: &'a mut Vec<u8>, omit: Option<&'static str>) -> Self {
        buf.push(b'{');
        JsonLine { buf, omit, fields: 0 }
    }

    /// A string field whose characters are written by `value`.
    pub fn text(&mut self, key: &'static str, value: impl FnOnce(&mut Vec<u8>)) {
        if self.key(key) {
            self.buf.push(b'"');
            value(self.buf);
            self.buf.push(b'"');
        }
    }

    pub fn str(&mut self, key: &'static str, value: &str) {
        self.text(key, |buf| buf.extend_from_slice(value.as_bytes()));
    }

    pub fn uint(&mut self, key: &'static str, value: u64) {
        if self.key(key) {
            put_uint(self.buf, value);
        }
    }

    pub fn bool(&mut self, key: &'static str, value: bool) {
        if self.key(key) {
            let literal: &[u8] = if value { b"true" } else { b"false" };
            self.buf.extend_from_slice(literal);
        }
    }

    pub fn end(self) {
        self.buf.extend_from_slice(b"}\n");
    }

    fn key(&mut self, key: &'static str) -> bool {
        if self.omit == Some(key) {
            return false;
        }
        if self.fields > 0 {
            self.buf.extend_from_slice(b", ");
        }
        self.buf.push(b'"');
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\": ");
        self.fields += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut buf = Vec::new();
        write(&mut buf);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn numbers_pad_and_never_truncate() {
        assert_eq!(written(|b| put_padded(b, 74, 7)), "0000074");
        assert_eq!(written(|b| put_padded(b, 12_345_678, 7)), "12345678");
        assert_eq!(written(|b| put_uint(b, 0)), "0");
    }

    #[test]
    fn money_has_two_decimals() {
        assert_eq!(written(|b| put_money(b, 78_300)), "783.00");
        assert_eq!(written(|b| put_money(b, 9_788)), "97.88");
        assert_eq!(written(|b| put_money(b, 5)), "0.05");
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        // 2026-09-30 09:09:52 IST
        let secs = NaiveDate::from_ymd_opt(2026, 9, 30)
            .unwrap()
            .and_hms_opt(3, 39, 52)
            .unwrap()
            .and_utc()
            .timestamp();
        assert_eq!(written(|b| put_utc(b, secs)), "2026-09-30T03:39:52Z");
    }

    #[test]
    fn event_ids_look_like_uuid_v4() {
        let id = written(|b| put_event_id(b, u128::MAX));
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let id = written(|b| put_event_id(b, 0));
        assert_eq!(id, "00000000-0000-4000-8000-000000000000");
    }

    #[test]
    fn json_line_matches_sample_style_and_can_omit_a_field() {
        let line = written(|b| {
            let mut obj = JsonLine::begin(b, Some("skip"));
            obj.str("a", "x");
            obj.str("skip", "y");
            obj.uint("n", 2);
            obj.bool("half_day", false);
            obj.end();
        });
        assert_eq!(line, "{\"a\": \"x\", \"n\": 2, \"half_day\": false}\n");
    }
}
