//! Events as they arrive from the attendance, leave and adjustment feeds, and their validation.
//! Files and Kafka messages are decoded by these same functions: one code path, one set of
//! reasons in the dead letters.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate};
use payroll_rules::vocabulary::PayPeriod;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::money::parse_amount;

mod scan;

/// The feeds events come from; each has its own file and topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feed {
    Attendance,
    Leave,
    Adjustments,
}

impl Feed {
    pub const ALL: [Feed; 3] = [Feed::Attendance, Feed::Leave, Feed::Adjustments];

    pub fn name(self) -> &'static str {
        match self {
            Feed::Attendance => "attendance",
            Feed::Leave => "leave",
            Feed::Adjustments => "adjustments",
        }
    }

    /// The feed's file in an input folder (POLICY.md): one JSON event a line.
    pub fn file_name(self) -> &'static str {
        match self {
            Feed::Attendance => "attendance.ndjson",
            Feed::Leave => "leave.ndjson",
            Feed::Adjustments => "adjustments.ndjson",
        }
    }

    /// Decodes one JSON event of this feed.
    pub fn decode(self, json: &[u8]) -> Result<Event, Invalid> {
        match self {
            Feed::Attendance => decode_punch(json).map(Event::Punch),
            Feed::Leave => decode_leave(json).map(|l| Event::Leave(Box::new(l))),
            Feed::Adjustments => decode_adjustment(json).map(|a| Event::Adjustment(Box::new(a))),
        }
    }
}

/// Leave and adjustments are boxed: punches are nearly every event, and a batch of them is
/// decoded into one vector before it is folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Punch(Punch),
    Leave(Box<LeaveVersion>),
    Adjustment(Box<AdjustmentVersion>),
}

impl Event {
    pub fn worker_id(&self) -> &str {
        match self {
            Event::Punch(p) => &p.worker_id,
            Event::Leave(l) => &l.worker_id,
            Event::Adjustment(a) => &a.worker_id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    // `In` sorts before `Out`: at equal times a shift opens before it closes.
    In,
    Out,
}

/// A biometric punch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Punch {
    pub event_id: EventId,
    pub worker_id: Box<str>,
    /// Milliseconds since the epoch, UTC.
    pub at_ms: i64,
    pub direction: Direction,
}

/// A punch as decoded, before it is kept: its worker id still in the message's bytes when it
/// can be, so folding a file costs no allocation per punch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PunchRef<'a> {
    pub event_id: EventId,
    pub worker_id: Cow<'a, str>,
    /// Milliseconds since the epoch, UTC.
    pub at_ms: i64,
    pub direction: Direction,
}

impl PunchRef<'_> {
    pub fn to_punch(&self) -> Punch {
        Punch {
            event_id: self.event_id,
            worker_id: (*self.worker_id).into(),
            at_ms: self.at_ms,
            direction: self.direction,
        }
    }
}

/// A punch's event id, the key its worker's state keeps it under, in 128 bits: devices name
/// events with UUIDs, kept as their own bits; any other id is kept as the first 128 bits of its
/// BLAKE3 hash (two ids sharing one is a chance in 2^64 even among 2^32 events). A punch then
/// costs no allocation, and its id 16 bytes: a million workers' month keeps 49 million.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EventId(#[serde(with = "bits")] [u8; 16]);

/// The order of the bytes, compared as the big-endian `u128` they spell: one comparison where
/// the bytes' was a `memcmp` call, and a million workers' month sorts 49 million ids.
impl Ord for EventId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        u128::from_be_bytes(self.0).cmp(&u128::from_be_bytes(other.0))
    }
}

impl PartialOrd for EventId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// An id's bytes in a checkpoint: as the `u128` they spell.
mod bits {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bits: &[u8; 16], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u128(u128::from_be_bytes(*bits))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 16], D::Error> {
        u128::deserialize(deserializer).map(u128::to_be_bytes)
    }
}

impl EventId {
    pub fn new(id: &str) -> EventId {
        if let Some(bits) = canonical_uuid(id.as_bytes()) {
            return EventId(bits);
        }
        let hash = blake3::hash(id.as_bytes());
        let mut bits = [0; 16];
        bits.copy_from_slice(&hash.as_bytes()[..16]);
        EventId(bits)
    }

    /// The id from its 128 bits, as [`EventId::bits`] gives them (an archive keeps them).
    pub fn from_bits(bits: [u8; 16]) -> EventId {
        EventId(bits)
    }

    pub fn bits(&self) -> [u8; 16] {
        self.0
    }
}

/// The bits of a UUID in its canonical spelling only, lower-case hex with its four hyphens:
/// ids are compared as text, so `ABC…` and `abc…`, or a UUID with and without its hyphens,
/// are different events. Every digit is looked up and checked at once, without a branch per
/// digit: a million workers' month has 49 million ids to read.
fn canonical_uuid(id: &[u8]) -> Option<[u8; 16]> {
    /// Where the 32 digits are among the 36 characters.
    const DIGITS: [usize; 32] = [
        0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17, 19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33,
        34, 35,
    ];
    /// A lower-case hex digit's value, and 0xff for any other byte.
    const HEX: [u8; 256] = {
        let mut table = [0xff; 256];
        let mut digit = 0;
        while digit < 16 {
            table[b"0123456789abcdef"[digit] as usize] = digit as u8;
            digit += 1;
        }
        table
    };
    let id: &[u8; 36] = id.try_into().ok()?;
    if [id[8], id[13], id[18], id[23]] != [b'-'; 4] {
        return None;
    }
    let mut bits = [0; 16];
    let mut invalid = 0;
    for (byte, pair) in bits.iter_mut().zip(DIGITS.chunks_exact(2)) {
        let (high, low) = (HEX[usize::from(id[pair[0]])], HEX[usize::from(id[pair[1]])]);
        invalid |= high | low;
        *byte = high << 4 | low;
    }
    (invalid < 16).then_some(bits)
}

/// An event enum's name as the feeds spell it (`in`, `approved`, `earning`): what archives and
/// published events write.
pub fn wire_name(value: &impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeaveType {
    Casual,
    Sick,
    Earned,
    Unpaid,
}

impl LeaveType {
    pub fn is_paid(self) -> bool {
        self != LeaveType::Unpaid
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Applied,
    Pending,
    Approved,
    Rejected,
    Cancelled,
}

/// One version of a leave request; only the highest version of a `leave_id` counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LeaveVersion {
    pub event_id: Box<str>,
    pub leave_id: Box<str>,
    pub worker_id: Box<str>,
    pub leave_type: LeaveType,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub half_day: bool,
    pub status: Status,
    pub version: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdjustmentKind {
    Earning,
    Deduction,
}

/// One version of a manual override; only the highest version of an `adjustment_id` counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AdjustmentVersion {
    pub event_id: Box<str>,
    pub adjustment_id: Box<str>,
    pub worker_id: Box<str>,
    pub period: PayPeriod,
    pub kind: AdjustmentKind,
    pub code: Box<str>,
    pub amount: Decimal,
    pub status: Status,
    pub version: u64,
    /// The org the sender says the worker is of, checked against the worker's master when the
    /// version is folded ([`crate::Ledger::check_org`]) and never kept in the state: a worker
    /// belongs to one org, and another org's input for them is refused.
    #[serde(skip)]
    pub org_id: Option<Box<str>>,
}

#[derive(Deserialize)]
struct PunchJson<'a> {
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(borrow)]
    worker_id: Cow<'a, str>,
    #[serde(borrow)]
    ts: Cow<'a, str>,
    direction: Direction,
}

#[derive(Deserialize)]
struct LeaveJson<'a> {
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(borrow)]
    leave_id: Cow<'a, str>,
    #[serde(borrow)]
    worker_id: Cow<'a, str>,
    leave_type: LeaveType,
    #[serde(borrow)]
    from: Cow<'a, str>,
    #[serde(borrow)]
    to: Cow<'a, str>,
    half_day: bool,
    status: Status,
    version: u64,
}

#[derive(Deserialize)]
struct AdjustmentJson<'a> {
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(borrow)]
    adjustment_id: Cow<'a, str>,
    #[serde(borrow)]
    worker_id: Cow<'a, str>,
    #[serde(borrow)]
    period: Cow<'a, str>,
    kind: AdjustmentKind,
    #[serde(borrow)]
    code: Cow<'a, str>,
    #[serde(borrow)]
    amount: Cow<'a, str>,
    status: Status,
    version: u64,
    #[serde(default, borrow)]
    org_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    requested_by: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    approved_by: Option<Cow<'a, str>>,
}

pub fn decode_punch(json: &[u8]) -> Result<Punch, Invalid> {
    decode_punch_ref(json).map(|p| p.to_punch())
}

/// A punch, read by the scanner when it is in the devices' plain form, else by the general
/// decoder; either way the same punch, or the same refusal.
pub fn decode_punch_ref(json: &[u8]) -> Result<PunchRef<'_>, Invalid> {
    match scan::punch(json) {
        Some(punch) => Ok(punch),
        None => decode_punch_reference(json),
    }
}

/// A punch by the general JSON decoder alone: what the scanner is held to (tests, fuzzing).
#[doc(hidden)]
pub fn decode_punch_reference(json: &[u8]) -> Result<PunchRef<'_>, Invalid> {
    let p: PunchJson = from_json(json)?;
    let event_id = EventId::new(id("event_id", &p.event_id)?);
    id("worker_id", &p.worker_id)?;
    Ok(PunchRef {
        event_id,
        worker_id: p.worker_id,
        at_ms: timestamp_ms(&p.ts)?,
        direction: p.direction,
    })
}

/// Whether the scanner and the general decoder agree on `json`: the scanner reads it as the
/// decoder does, or hands it back (the `events` fuzz target's property).
#[doc(hidden)]
pub fn punch_scan_agrees(json: &[u8]) -> bool {
    scan::punch(json).is_none_or(|fast| Ok(fast) == decode_punch_reference(json))
}

pub fn decode_leave(json: &[u8]) -> Result<LeaveVersion, Invalid> {
    let l: LeaveJson = from_json(json)?;
    let from = date("from", &l.from)?;
    let to = date("to", &l.to)?;
    if to < from {
        return Err(Invalid::field("to", format!("{to} is before `from` ({from})")));
    }
    if (to - from).num_days() > 366 {
        return Err(Invalid::field("to", "a leave longer than a year: split it"));
    }
    if !matches!(
        l.status,
        Status::Applied | Status::Approved | Status::Rejected | Status::Cancelled
    ) {
        return Err(Invalid::field(
            "status",
            "expected applied, approved, rejected or cancelled",
        ));
    }
    Ok(LeaveVersion {
        event_id: id("event_id", &l.event_id)?.into(),
        leave_id: id("leave_id", &l.leave_id)?.into(),
        worker_id: id("worker_id", &l.worker_id)?.into(),
        leave_type: l.leave_type,
        from,
        to,
        half_day: l.half_day,
        status: l.status,
        version: l.version,
    })
}

pub fn decode_adjustment(json: &[u8]) -> Result<AdjustmentVersion, Invalid> {
    let a: AdjustmentJson = from_json(json)?;
    if !matches!(a.status, Status::Pending | Status::Approved | Status::Rejected) {
        return Err(Invalid::field("status", "expected pending, approved or rejected"));
    }
    let version = AdjustmentVersion {
        event_id: id("event_id", &a.event_id)?.into(),
        adjustment_id: id("adjustment_id", &a.adjustment_id)?.into(),
        worker_id: id("worker_id", &a.worker_id)?.into(),
        period: a.period.parse().map_err(|e| Invalid::field("period", e))?,
        kind: a.kind,
        code: id("code", &a.code)?.into(),
        amount: parse_amount(&a.amount).map_err(|e| Invalid::field("amount", e))?,
        status: a.status,
        version: a.version,
        org_id: a.org_id.map(|org| id("org_id", &org).map(Box::from)).transpose()?,
    };
    if a.status == Status::Approved {
        four_eyes(a.requested_by.as_deref(), a.approved_by.as_deref())?;
    }
    Ok(version)
}

/// An approved version names who requested it and a second person who approved it, whatever
/// path it came by (the service's API, a file, a topic): money moves with two people.
fn four_eyes(requested_by: Option<&str>, approved_by: Option<&str>) -> Result<(), Invalid> {
    fn named(who: Option<&str>) -> Option<&str> {
        who.map(str::trim).filter(|who| !who.is_empty())
    }
    let Some(maker) = named(requested_by) else {
        return Err(Invalid::field(
            "requested_by",
            "an approved adjustment names who requested it",
        ));
    };
    match named(approved_by) {
        None => Err(Invalid::field(
            "approved_by",
            "an approved adjustment names who approved it",
        )),
        Some(checker) if checker == maker => Err(Invalid::field(
            "approved_by",
            format!("`{checker}` requested it too: a second person approves an adjustment (four eyes)"),
        )),
        Some(_) => Ok(()),
    }
}

fn from_json<'a, T: Deserialize<'a>>(json: &'a [u8]) -> Result<T, Invalid> {
    // Tracking the path costs on every field; it is only needed to explain a refusal. Checking
    // the record is UTF-8 once, as text, is cheaper than checking each string in it.
    std::str::from_utf8(json)
        .ok()
        .and_then(|text| serde_json::from_str(text).ok())
        .map_or_else(|| explain_refusal(json), Ok)
}

/// Decodes `json` again, tracking the path, to name the field at fault and what was expected.
#[cold]
fn explain_refusal<'a, T: Deserialize<'a>>(json: &'a [u8]) -> Result<T, Invalid> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return Invalid::record(format!("malformed JSON: {message}"));
        }
        // serde names a missing field in its message, at the record's root.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        match (missing, path.as_str()) {
            (Some(field), _) => Invalid::field(field, "missing"),
            (None, ".") => Invalid::record(message),
            (None, field) => Invalid::field(field, message),
        }
    })?;
    de.end().map_err(|e| Invalid::record(format!("malformed JSON: {e}")))?;
    Ok(value)
}

fn id<'a>(field: &str, value: &'a str) -> Result<&'a str, Invalid> {
    if value.chars().all(char::is_whitespace) {
        return Err(Invalid::field(field, "empty"));
    }
    Ok(value)
}

fn timestamp_ms(ts: &str) -> Result<i64, Invalid> {
    DateTime::parse_from_rfc3339(ts)
        .map(|t| t.timestamp_millis())
        .map_err(|e| {
            Invalid::field(
                "ts",
                format!("`{ts}` is not an RFC 3339 timestamp like 2026-10-01T03:30:00Z ({e})"),
            )
        })
}

pub(crate) fn date(field: &str, value: &str) -> Result<NaiveDate, Invalid> {
    iso_date(value)
        .or_else(|| NaiveDate::parse_from_str(value, "%Y-%m-%d").ok())
        .ok_or_else(|| Invalid::field(field, format!("`{value}` is not a date: expected YYYY-MM-DD")))
}

/// A date written exactly `YYYY-MM-DD`, as masters write them, read without parsing a format
/// string for each (a million-worker master has a million). Anything else is left to
/// `parse_from_str`, which takes what it always took.
fn iso_date(value: &str) -> Option<NaiveDate> {
    let b = value.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |digits: &[u8]| {
        digits
            .iter()
            .try_fold(0u32, |n, &d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
    };
    let year = i32::try_from(number(&b[..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, number(&b[5..7])?, number(&b[8..])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_ordered_as_their_bytes() {
        let mut ids: Vec<[u8; 16]> = vec![[0; 16], [0xff; 16]];
        for at in [0, 1, 7, 8, 15] {
            for byte in [0x01, 0x7f, 0x80, 0xff] {
                let mut bits = [0x80; 16];
                bits[at] = byte;
                ids.push(bits);
            }
        }
        for a in &ids {
            for b in &ids {
                assert_eq!(
                    EventId::from_bits(*a).cmp(&EventId::from_bits(*b)),
                    a.cmp(b),
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn a_date_reads_as_the_format_string_reads_it() {
        for value in [
            "2026-10-01",
            "2024-02-29",
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "0000-01-01",
            "9999-12-31",
            "2026-1-05",
            "2026-10-1",
            "+2026-10-01",
            "2026/10/01",
            "2026-10-01 ",
            "２０２６-10-01",
            "2026-1a-01",
            "",
        ] {
            let expected = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok();
            assert_eq!(date("joined_on", value).ok(), expected, "{value:?}");
        }
    }

    fn reason(feed: Feed, json: &str) -> String {
        feed.decode(json.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn decodes_a_punch() {
        let json = r#"{"event_id": "e1", "worker_id": "W1", "ts": "2026-09-30T03:39:52Z", "direction": "in", "device_id": "BIO-S10"}"#;
        let Event::Punch(p) = Feed::Attendance.decode(json.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!((p.at_ms, p.direction), (1_790_739_592_000, Direction::In));
    }

    #[test]
    fn only_the_canonical_uuid_spelling_is_kept_as_bits() {
        let uuid = "62466127-5e23-e4de-7048-3471780c432b";
        assert_eq!(
            EventId::new(uuid),
            EventId(0x62466127_5e23_e4de_7048_3471780c432b_u128.to_be_bytes())
        );
        // Other spellings of the same UUID are other ids, each its own.
        let others = [
            "62466127-5E23-E4DE-7048-3471780C432B",
            "624661275e23e4de70483471780c432b",
            "{62466127-5e23-e4de-7048-3471780c432b}",
            "e1",
        ];
        let mut ids: Vec<EventId> = others.iter().map(|id| EventId::new(id)).collect();
        ids.push(EventId::new(uuid));
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), others.len() + 1);
        assert_eq!(EventId::new("e1"), EventId::new("e1"));
    }

    proptest::proptest! {
        /// Bits exactly when the uuid crate reads the id as a hyphenated UUID without an
        /// upper-case letter, and then the same bits.
        #[test]
        fn a_canonical_uuid_is_read_as_the_uuid_crate_reads_it(
            id in proptest::prop_oneof![
                "[0-9a-fA-F-]{36}",
                "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                "[0-9a-gA-G-]{8}[-x][0-9a-f]{4}-[0-9a-f]{4}[-{]?[0-9a-f]{4}-[0-9a-fA-F]{12}",
                "\\PC{30,40}",
            ]
        ) {
            let expected = uuid::Uuid::try_parse(&id)
                .ok()
                .filter(|_| id.len() == 36 && !id.bytes().any(|b| b.is_ascii_uppercase()))
                .map(|uuid| *uuid.as_bytes());
            proptest::prop_assert_eq!(canonical_uuid(id.as_bytes()), expected);
        }
    }

    #[test]
    fn names_the_field_and_what_was_expected() {
        let cases = [
            (
                Feed::Attendance,
                r#"{"event_id": "e1", "worker_id": "W1", "ts": "2026-09-30T03:39:52Z""#,
                "malformed JSON",
            ),
            (
                Feed::Attendance,
                r#"{"event_id": "e1", "worker_id": "W1", "direction": "in"}"#,
                "field `ts`: missing",
            ),
            (
                Feed::Attendance,
                r#"{"event_id": "e1", "worker_id": "W1", "ts": "2026-09-30T03:39:52Z", "direction": "sideways"}"#,
                "field `direction`: unknown variant `sideways`, expected `in` or `out`",
            ),
            (
                Feed::Attendance,
                r#"{"event_id": "e1", "worker_id": "W1", "ts": "2026-09-31T03:39:52Z", "direction": "in"}"#,
                "field `ts`: `2026-09-31T03:39:52Z` is not an RFC 3339 timestamp",
            ),
            (
                Feed::Leave,
                r#"{"event_id": "e", "leave_id": "L", "worker_id": "W1", "leave_type": "casual", "from": "2026-10-32", "to": "2026-10-09", "half_day": false, "status": "approved", "version": 1}"#,
                "field `from`: `2026-10-32` is not a date",
            ),
            (
                Feed::Adjustments,
                r#"{"event_id": "e", "adjustment_id": "A", "worker_id": "W1", "period": "2026-10", "kind": "earning", "code": "bonus", "amount": "-5.00", "status": "approved", "version": 1}"#,
                "field `amount`: `-5.00` is negative",
            ),
            (
                Feed::Adjustments,
                r#"{"event_id": "e", "adjustment_id": "A", "worker_id": "W1", "period": "2026-10", "kind": "earning", "code": "bonus", "amount": "1e3", "status": "approved", "version": 1}"#,
                "field `amount`: `1e3` is not a decimal string",
            ),
            (
                Feed::Adjustments,
                r#"{"event_id": "e", "adjustment_id": "A", "worker_id": "W1", "period": "2026-10", "kind": "earning", "code": "bonus", "amount": 1000.5, "status": "approved", "version": 1}"#,
                "field `amount`: invalid type: floating point `1000.5`, expected a string",
            ),
        ];
        for (feed, json, want) in cases {
            let got = reason(feed, json);
            assert!(got.starts_with(want), "{json}\n  got:  {got}\n  want: {want}");
        }
    }

    #[test]
    fn an_approved_adjustment_names_a_maker_and_a_different_checker() {
        let version = |status: &str, who: &str| {
            format!(
                r#"{{"event_id": "e", "adjustment_id": "A", "worker_id": "W1", "period": "2026-10", "kind": "earning", "code": "bonus", "amount": "5000.00", "status": "{status}", "version": 2{who}}}"#
            )
        };
        let refused = [
            (
                "",
                "field `requested_by`: an approved adjustment names who requested it",
            ),
            (
                r#", "requested_by": "mallory""#,
                "field `approved_by`: an approved adjustment names who approved it",
            ),
            (
                r#", "requested_by": "mallory", "approved_by": " mallory ""#,
                "field `approved_by`: `mallory` requested it too: a second person approves an adjustment (four eyes)",
            ),
        ];
        for (who, want) in refused {
            assert_eq!(reason(Feed::Adjustments, &version("approved", who)), want, "{who}");
        }
        let two = r#", "requested_by": "maker1", "approved_by": "checker1", "org_id": "org0""#;
        let Event::Adjustment(a) = Feed::Adjustments.decode(version("approved", two).as_bytes()).unwrap() else {
            panic!("an adjustment")
        };
        assert_eq!(a.org_id.as_deref(), Some("org0"));
        // A request still pending names no checker yet.
        assert!(
            Feed::Adjustments
                .decode(version("pending", r#", "requested_by": "maker1""#).as_bytes())
                .is_ok()
        );
    }
}
