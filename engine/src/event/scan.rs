//! The punch as devices send it, read by hand: a flat object of plain strings, with the
//! timestamp in whole UTC seconds. Nearly every event is one, and the general JSON decoder
//! spent most of a run's reading on them.
//!
//! The scanner only ever says "this is the punch" or "ask the general decoder": anything it does
//! not know for certain (an escape, a number, a nested value, a repeated key, an offset or a
//! fraction in the timestamp, a leap second) is handed back, and the general decoder then gives
//! the event or the reason it is refused. So the scanner decides nothing the general decoder
//! would decide otherwise; `tests` and the `events` fuzz target hold it to that.

use std::borrow::Cow;

use super::{Direction, EventId, PunchRef, id};

/// The punch in `json`, when it is one the scanner reads for certain; `None` hands it back.
pub(super) fn punch(json: &[u8]) -> Option<PunchRef<'_>> {
    // The general decoder reads text: a record that is not UTF-8 is its to refuse.
    let text = std::str::from_utf8(json).ok()?;
    let mut fields = Fields {
        text,
        at: 0,
        pairs: 0,
        // A line without a backslash or a control character, as devices write punches: each
        // of its strings means its bytes, and ends at the next quote.
        plain: plain(json),
    };
    let mut slots: [Option<&str>; 4] = [None; 4];
    fields.open()?;
    fields.devices_order(&mut slots);
    while let Some((key, value)) = fields.next()? {
        let Some(slot) = FIELDS.iter().position(|field| *field == key) else {
            continue;
        };
        // A repeated field is refused by the general decoder, which names it.
        if slots[slot].replace(value).is_some() {
            return None;
        }
    }
    fields.end()?;
    let [event_id, worker_id, ts, direction] = slots;
    let direction = match direction? {
        "in" => Direction::In,
        "out" => Direction::Out,
        _ => return None,
    };
    Some(PunchRef {
        event_id: EventId::new(id("event_id", event_id?).ok()?),
        worker_id: Cow::Borrowed(id("worker_id", worker_id?).ok()?),
        at_ms: utc_seconds_ms(ts?.as_bytes())?,
        direction,
    })
}

/// A punch's fields, in the order devices write them.
const FIELDS: [&str; 4] = ["event_id", "worker_id", "ts", "direction"];

/// How devices spell the start of each field's pair, up to its value's opening quote.
const DEVICES_PAIRS: [&[u8]; 4] = [
    b"\"event_id\": \"",
    b", \"worker_id\": \"",
    b", \"ts\": \"",
    b", \"direction\": \"",
];

/// A cursor over one flat JSON object whose values are all strings without escapes.
struct Fields<'a> {
    text: &'a str,
    at: usize,
    pairs: usize,
    /// The whole object is without a backslash or a control character.
    plain: bool,
}

impl<'a> Fields<'a> {
    fn open(&mut self) -> Option<()> {
        self.skip_space();
        self.eat(b'{')
    }

    /// Reads the punch's fields while they come as devices write them (in [`FIELDS`]' order,
    /// spaced as [`DEVICES_PAIRS`]), each compared whole rather than scanned byte by byte;
    /// [`Fields::next`] goes on from the first pair that does not, as from any other.
    fn devices_order(&mut self, slots: &mut [Option<&'a str>; 4]) {
        for (slot, pair) in slots.iter_mut().zip(DEVICES_PAIRS) {
            let start = self.at;
            if !self.text.as_bytes()[self.at..].starts_with(pair) {
                return;
            }
            self.at += pair.len() - 1;
            match self.string() {
                Some(value) => *slot = Some(value),
                None => {
                    self.at = start;
                    return;
                }
            }
            self.pairs += 1;
        }
    }

    /// The next `"key": "value"` pair; `Some(None)` at the closing brace.
    fn next(&mut self) -> Option<Option<(&'a str, &'a str)>> {
        self.skip_space();
        match (self.peek()?, self.pairs) {
            (b'}', _) => {
                self.at += 1;
                return Some(None);
            }
            (b',', 1..) => {
                self.at += 1;
                self.skip_space();
            }
            (_, 0) => {}
            _ => return None,
        }
        let key = self.string()?;
        self.skip_space();
        self.eat(b':')?;
        self.skip_space();
        let value = self.string()?;
        self.pairs += 1;
        Some(Some((key, value)))
    }

    /// Nothing but white space after the object.
    fn end(&mut self) -> Option<()> {
        self.skip_space();
        (self.at == self.text.len()).then_some(())
    }

    /// A string with no escape and no control character, without its quotes.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let rest = &self.text.as_bytes()[self.at..];
        let len = quote(rest)?;
        if !self.plain && !plain(&rest[..len]) {
            return None;
        }
        let start = self.at;
        self.at += len + 1;
        // Quotes are ASCII, so both ends are character boundaries.
        self.text.get(start..start + len)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// JSON's white space: space, tab, line feed and carriage return.
    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `word` that equals `byte`, and maybe of bytes above such a
/// one (a borrow carries on): the lowest set bit is exact, and so is "none" (the "has zero
/// byte" test of Bit Twiddling Hacks).
fn bytes_equal(word: u64, byte: u8) -> u64 {
    let zeroed = word ^ (ONES * u64::from(byte));
    zeroed.wrapping_sub(ONES) & !zeroed & HIGHS
}

/// Where the first quote of `bytes` is, eight bytes at a time: a device's strings are 2 to 36
/// bytes, too short for a vector search to pay for setting itself up.
fn quote(bytes: &[u8]) -> Option<usize> {
    let words = bytes.chunks_exact(8);
    let tail = words.remainder();
    for (n, word) in words.enumerate() {
        let found = bytes_equal(u64::from_le_bytes(word.try_into().unwrap_or_default()), b'"');
        if found != 0 {
            return Some(n * 8 + found.trailing_zeros() as usize / 8);
        }
    }
    let at = bytes.len() - tail.len();
    tail.iter().position(|&b| b == b'"').map(|i| at + i)
}

/// Whether `bytes` hold no backslash and no control character, so a JSON string of them means
/// them as they are. Eight bytes at a time (the "has less than" and "has zero byte" tests of
/// Bit Twiddling Hacks: exact as yes-or-no answers).
fn plain(bytes: &[u8]) -> bool {
    let words = bytes.chunks_exact(8);
    let tail = words.remainder();
    let word_plain = |word: u64| {
        let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
        below_space | bytes_equal(word, b'\\') == 0
    };
    words
        .into_iter()
        .all(|word| word_plain(u64::from_le_bytes(word.try_into().unwrap_or_default())))
        && tail.iter().all(|&b| b != b'\\' && b >= 0x20)
}

/// `YYYY-MM-DDTHH:MM:SSZ` as milliseconds since the epoch; any other spelling (an offset, a
/// fraction, a lower-case `t`, a leap second) is left to the general decoder.
fn utc_seconds_ms(ts: &[u8]) -> Option<i64> {
    let &[
        y0,
        y1,
        y2,
        y3,
        b'-',
        m0,
        m1,
        b'-',
        d0,
        d1,
        b'T',
        h0,
        h1,
        b':',
        i0,
        i1,
        b':',
        s0,
        s1,
        b'Z',
    ] = ts
    else {
        return None;
    };
    let digits = |ds: &[u8]| {
        ds.iter()
            .try_fold(0i64, |n, &d| d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0')))
    };
    let (year, month, day) = (digits(&[y0, y1, y2, y3])?, digits(&[m0, m1])?, digits(&[d0, d1])?);
    let (hour, minute, second) = (digits(&[h0, h1])?, digits(&[i0, i1])?, digits(&[s0, s1])?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second;
    Some(seconds * 1_000)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::decode_punch_reference;
    use super::*;

    /// Whatever the scanner reads, the general decoder reads the same; whatever it hands back
    /// is still decoded (or refused) by the general decoder alone.
    fn agrees(json: &str) {
        if let Some(fast) = punch(json.as_bytes()) {
            assert_eq!(Ok(fast), decode_punch_reference(json.as_bytes()), "{json}");
        }
    }

    #[test]
    fn reads_the_devices_punch_and_hands_back_the_rest() {
        let line = r#"{"event_id": "311b8c47-4dc5-417f-b939-037f32670775", "worker_id": "W0000982", "ts": "2026-10-21T12:58:22Z", "direction": "out", "device_id": "BIO-S00"}"#;
        let fast = punch(line.as_bytes()).expect("the devices' punch is scanned");
        assert_eq!((fast.at_ms, fast.direction), (1_792_587_502_000, Direction::Out));
        agrees(line);
        let handed_back = [
            r#"{"event_id": "e", "worker_id": "W\u0031", "ts": "2026-10-21T12:58:22Z", "direction": "in"}"#,
            r#"{"event_id": "e", "worker_id": "W1", "ts": "2026-10-21T12:58:22.5Z", "direction": "in"}"#,
            r#"{"event_id": "e", "worker_id": "W1", "ts": "2026-10-21T18:28:22+05:30", "direction": "in"}"#,
            r#"{"event_id": "e", "worker_id": "W1", "ts": "2026-12-31T23:59:60Z", "direction": "in"}"#,
            r#"{"event_id": "e", "worker_id": "W1", "ts": "2026-02-29T00:00:00Z", "direction": "in"}"#,
            r#"{"event_id": "e", "worker_id": "W1", "ts": "2026-10-21t12:58:22z", "direction": "in"}"#,
            r#"{"event_id": "e", "worker_id": "W1", "ts": "2026-10-21T12:58:22Z", "direction": "in", "seq": 4}"#,
            r#"{"event_id": "e", "worker_id": "W1", "worker_id": "W2", "ts": "2026-10-21T12:58:22Z", "direction": "in"}"#,
            r#"{"event_id": " ", "worker_id": "W1", "ts": "2026-10-21T12:58:22Z", "direction": "in"}"#,
            r#"{"event_id": "e", "worker_id": "W1", "ts": "2026-10-21T12:58:22Z", "direction": "IN"}"#,
            r#"{"event_id": "e", "worker_id": "W1", "ts": "2026-10-21T12:58:22Z"}"#,
            r#"{"event_id": "e", "worker_id": "W1", "ts": "2026-10-21T12:58:22Z", "direction": "in"} x"#,
            r#"{"event_id": "e", "worker_id": "W1", "ts": "2026-10-21T12:58:22Z", "direction": "in",}"#,
            r#"{"event_id": "e" "worker_id": "W1", "ts": "2026-10-21T12:58:22Z", "direction": "in"}"#,
            r#"[{"event_id": "e", "worker_id": "W1", "ts": "2026-10-21T12:58:22Z", "direction": "in"}]"#,
        ];
        for json in handed_back {
            assert!(punch(json.as_bytes()).is_none(), "{json}");
        }
        // Leap days and the far ends of the calendar are computed, not handed back.
        for ts in [
            "2024-02-29T23:59:59Z",
            "2000-03-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ] {
            let json = format!(r#"{{"event_id":"e","worker_id":"W1","ts":"{ts}","direction":"in"}}"#);
            assert!(punch(json.as_bytes()).is_some(), "{ts}");
            agrees(&json);
        }
        assert!(punch(br#" {} "#).is_none());
        // Every byte value, at every place of a word and of the tail.
        for len in 1..20 {
            for at in 0..len {
                for byte in 0..=255u8 {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = byte;
                    assert_eq!(plain(&bytes), byte != b'\\' && byte >= 0x20, "{len} {at} {byte}");
                    assert_eq!(quote(&bytes), (byte == b'"').then_some(at), "{len} {at} {byte}");
                }
            }
        }
        agrees("{}");
    }

    fn id() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("311b8c47-4dc5-417f-b939-037f32670775".to_string()),
            Just("311B8C47-4DC5-417F-B939-037F32670775".to_string()),
            "[ -~]{0,12}",
            "\\PC{0,6}",
        ]
    }

    /// Punch lines built of pieces right and wrong, in the devices' order and spacing or in any
    /// other.
    fn line() -> impl Strategy<Value = String> {
        let ts = prop_oneof![
            (1900i32..2200, 0u32..14, 0u32..33, 0u32..25, 0u32..61, 0u32..61)
                .prop_map(|(y, mo, d, h, mi, s)| format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")),
            "[0-9TZ:+. -]{0,26}",
        ];
        let direction = prop_oneof![Just("in".to_string()), Just("out".to_string()), "[a-zA-Z]{0,4}"];
        let quoted = |s: &str| serde_json::to_string(s).unwrap_or_default();
        // White space around the object, and after each comma.
        let spacing = prop_oneof![
            Just((String::new(), " ".to_string())),
            Just((String::new(), String::new())),
            "[ \t\r\n]{0,2}".prop_map(|s| (s.clone(), s)),
        ];
        (
            (id(), id(), ts, direction),
            any::<bool>(),
            prop_oneof![Just(0u64), any::<u64>()],
            spacing,
            prop_oneof![Just(" "), Just(""), Just("\t")],
        )
            .prop_map(
                move |((event, worker, ts, direction), extra, seed, (space, comma), colon)| {
                    let mut fields = vec![
                        format!(r#""event_id":{colon}{}"#, quoted(&event)),
                        format!(r#""worker_id":{colon}{}"#, quoted(&worker)),
                        format!(r#""ts":{colon}{}"#, quoted(&ts)),
                        format!(r#""direction":{colon}{}"#, quoted(&direction)),
                    ];
                    if extra {
                        fields.push(r#""device_id": "BIO-S00""#.to_string());
                    }
                    // A shuffle by the seed (none for a seed of 0), and a join with the chosen
                    // white space.
                    for i in (1..fields.len()).rev() {
                        fields.swap(i, i - (seed >> (4 * i)) as usize % (i + 1));
                    }
                    format!("{space}{{{}}}{space}", fields.join(&format!(",{comma}")))
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4_000))]

        #[test]
        fn the_scanner_agrees_with_the_general_decoder(json in line()) {
            agrees(&json);
        }

        #[test]
        fn quote_finds_the_first_quote(
            bytes in proptest::collection::vec(prop_oneof![Just(b'"'), Just(0x21u8), Just(0x23u8), Just(0u8), any::<u8>()], 0..40)
        ) {
            prop_assert_eq!(quote(&bytes), bytes.iter().position(|&b| b == b'"'));
        }

        #[test]
        fn plain_is_the_byte_by_byte_test(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(plain(&bytes), bytes.iter().all(|&b| b != b'\\' && b >= 0x20));
        }

        #[test]
        fn the_scanner_agrees_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
            if let Some(fast) = punch(&bytes) {
                prop_assert_eq!(Ok(fast), decode_punch_reference(&bytes));
            }
        }
    }
}
