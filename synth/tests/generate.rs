//! End-to-end checks of a generated month against the data contract of the reference sample.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate};
use payroll_synth::{SynthConfig, SynthSummary, generate};
use serde_json::{Map, Value};

const WORKERS_HEADER: &str = "worker_id,org_id,site_id,name,gender,state,skill,designation,\
pay_basis,rate,pf_applicable,esi_applicable,uan,esic_no,bank_account,ifsc,pan,joined_on,exited_on,phone,email,language";
const SITES_HEADER: &str = "site_id,org_id,name,state,timezone,weekly_off";

/// Field order as in the reference sample's lines.
const ATTENDANCE_FIELDS: [&str; 5] = ["event_id", "worker_id", "ts", "direction", "device_id"];
const LEAVE_FIELDS: [&str; 9] = [
    "leave_id",
    "worker_id",
    "leave_type",
    "from",
    "to",
    "half_day",
    "event_id",
    "status",
    "version",
];
const ADJUSTMENT_FIELDS: [&str; 12] = [
    "adjustment_id",
    "worker_id",
    "period",
    "kind",
    "code",
    "amount",
    "reason",
    "requested_by",
    "event_id",
    "status",
    "version",
    "approved_by",
];

const FEEDS: [(&str, &[&str]); 3] = [
    ("attendance.ndjson", &ATTENDANCE_FIELDS),
    ("leave.ndjson", &LEAVE_FIELDS),
    ("adjustments.ndjson", &ADJUSTMENT_FIELDS),
];

fn config(workers: usize, seed: u64, bad_lines: usize) -> SynthConfig {
    SynthConfig {
        workers,
        year: 2026,
        month: 10,
        seed,
        bad_lines,
    }
}

fn generate_into(name: &str, cfg: &SynthConfig) -> (PathBuf, SynthSummary) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = fs::remove_dir_all(&dir);
    let summary = generate(cfg, &dir).expect("generation succeeds");
    (dir, summary)
}

fn lines(dir: &Path, file: &str) -> Vec<String> {
    fs::read_to_string(dir.join(file))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn objects(dir: &Path, file: &str) -> Vec<Map<String, Value>> {
    lines(dir, file)
        .iter()
        .map(|line| match serde_json::from_str(line) {
            Ok(Value::Object(obj)) => obj,
            other => panic!("{file}: not a JSON object: {line} ({other:?})"),
        })
        .collect()
}

fn text<'a>(obj: &'a Map<String, Value>, key: &str) -> &'a str {
    obj[key].as_str().unwrap_or_else(|| panic!("{key} not a string"))
}

fn worker_ids(dir: &Path) -> HashSet<String> {
    lines(dir, "workers.csv")
        .iter()
        .skip(1)
        .map(|row| row.split(',').next().unwrap().to_owned())
        .collect()
}

fn is_date(s: &str) -> bool {
    s.len() == 10 && NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

fn is_money(s: &str) -> bool {
    matches!(s.split_once('.'), Some((rupees, paise))
        if !rupees.is_empty() && rupees.bytes().all(|b| b.is_ascii_digit())
            && paise.len() == 2 && paise.bytes().all(|b| b.is_ascii_digit()))
}

fn is_digits(s: &str, lengths: std::ops::RangeInclusive<usize>) -> bool {
    lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_event_id(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_utc(ts: &str) -> bool {
    ts.len() == 20 && ts.ends_with('Z') && DateTime::parse_from_rfc3339(ts).is_ok()
}

/// Why a line would be dead-lettered by a strict reader, if it would.
fn defect(line: &str, fields: &[&str], workers: &HashSet<String>) -> Option<&'static str> {
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(line) else {
        return Some("malformed");
    };
    if obj.len() != fields.len() || fields.iter().any(|f| !obj.contains_key(*f)) {
        return Some("missing field");
    }
    if !workers.contains(text(&obj, "worker_id")) {
        return Some("unknown worker");
    }
    if let Some(direction) = obj.get("direction") {
        if !is_utc(text(&obj, "ts")) {
            return Some("bad date");
        }
        if !matches!(direction.as_str(), Some("in" | "out")) {
            return Some("unknown direction");
        }
    }
    if obj.contains_key("from") && !(is_date(text(&obj, "from")) && is_date(text(&obj, "to"))) {
        return Some("bad date");
    }
    if obj.contains_key("amount") && !is_money(text(&obj, "amount")) {
        return Some("bad amount");
    }
    None
}

fn defects_per_feed(dir: &Path) -> Vec<Vec<&'static str>> {
    let workers = worker_ids(dir);
    FEEDS
        .iter()
        .map(|(file, fields)| {
            lines(dir, file)
                .iter()
                .filter_map(|line| defect(line, fields, &workers))
                .collect()
        })
        .collect()
}

#[test]
fn files_have_the_shape_of_the_reference_sample() {
    let (dir, summary) = generate_into("shape", &config(400, 1, 0));

    assert_eq!(summary.sites, 8);
    let sites = lines(&dir, "sites.csv");
    assert_eq!(sites[0], SITES_HEADER);
    let mut site_states = HashMap::new();
    let mut orgs = HashSet::new();
    for row in &sites[1..] {
        let f: Vec<&str> = row.split(',').collect();
        assert_eq!(f.len(), 6, "{row}");
        assert!(["MH", "KA", "TN", "DL"].contains(&f[3]), "{row}");
        assert_eq!(f[4], "Asia/Kolkata");
        assert!(["SUN", "SAT"].contains(&f[5]), "{row}");
        site_states.insert(f[0].to_owned(), (f[1].to_owned(), f[3].to_owned()));
        orgs.insert(f[1].to_owned());
    }
    assert!((2..=3).contains(&orgs.len()));

    let workers = lines(&dir, "workers.csv");
    assert_eq!(workers[0], WORKERS_HEADER);
    assert_eq!(workers.len() - 1, summary.workers);
    assert_eq!(summary.workers, 400);
    for row in &workers[1..] {
        let f: Vec<&str> = row.split(',').collect();
        assert_eq!(f.len(), 22, "{row}");
        assert!(
            f[19].is_empty() || (f[19].starts_with("+919") && is_digits(&f[19][1..], 12..=12)),
            "{row}"
        );
        assert!(f[20].is_empty() || f[20].ends_with("@example.in"), "{row}");
        assert!(f[21].len() == 2, "{row}");
        assert!(f[0].starts_with('W') && is_digits(&f[0][1..], 7..=7), "{row}");
        assert_eq!(site_states[f[2]], (f[1].to_owned(), f[5].to_owned()), "{row}");
        assert!(["M", "F"].contains(&f[4]), "{row}");
        let skills = ["unskilled", "semi_skilled", "skilled", "highly_skilled"];
        assert!(skills.contains(&f[6]), "{row}");
        assert!(["daily", "hourly", "monthly"].contains(&f[8]), "{row}");
        assert!(is_money(f[9]), "{row}");
        assert!(["true", "false"].contains(&f[10]) && ["true", "false"].contains(&f[11]));
        assert!(is_digits(f[12], 12..=12) && is_digits(f[13], 10..=10), "{row}");
        assert!(is_digits(f[14], 9..=16), "{row}");
        let (bank, branch) = f[15].split_at(4);
        assert!(
            bank.bytes().all(|b| b.is_ascii_uppercase()) && branch.len() == 7,
            "{row}"
        );
        let pan = f[16].as_bytes();
        assert!(pan.len() == 10 && pan[..5].iter().all(u8::is_ascii_uppercase), "{row}");
        assert!(pan[5..9].iter().all(u8::is_ascii_digit) && pan[9].is_ascii_uppercase());
        assert!(is_date(f[17]), "{row}");
        assert!(f[18].is_empty() || (is_date(f[18]) && f[18] >= f[17]), "{row}");
    }
    let ids = worker_ids(&dir);

    let period = "2026-10";
    for (file, fields) in FEEDS {
        for line in lines(&dir, file) {
            // Same key order as the sample, in the sample's `"key": value` style.
            let positions: Vec<usize> = fields
                .iter()
                .map(|f| line.find(&format!("\"{f}\": ")).expect(&line))
                .collect();
            assert!(positions.is_sorted(), "{line}");
            assert_eq!(defect(&line, fields, &ids), None, "{line}");
        }
    }
    for punch in objects(&dir, "attendance.ndjson") {
        assert!(is_event_id(text(&punch, "event_id")));
        assert!(is_utc(text(&punch, "ts")));
        let site = text(&punch, "device_id").strip_prefix("BIO-").unwrap();
        assert!(site_states.contains_key(site));
    }
    for event in objects(&dir, "leave.ndjson") {
        let (from, to) = (text(&event, "from"), text(&event, "to"));
        assert!(from <= to && from.starts_with(period) && to.starts_with(period));
        let leave_id = format!("L-{}-{from}", text(&event, "worker_id"));
        assert_eq!(text(&event, "leave_id"), leave_id);
        assert!(["casual", "sick", "earned", "unpaid"].contains(&text(&event, "leave_type")));
        let status = text(&event, "status");
        assert!(["applied", "approved", "rejected", "cancelled"].contains(&status));
        assert!(event["half_day"].is_boolean() && event["version"].is_u64());
    }
    for event in objects(&dir, "adjustments.ndjson") {
        let adjustment_id = format!("ADJ-{}", text(&event, "worker_id"));
        assert_eq!(text(&event, "adjustment_id"), adjustment_id);
        assert_eq!(text(&event, "period"), period);
        assert!(["earning", "deduction"].contains(&text(&event, "kind")));
        let code = text(&event, "code");
        assert!(["bonus", "incentive", "advance_recovery", "canteen"].contains(&code));
        let status = text(&event, "status");
        assert!(["pending", "approved", "rejected"].contains(&status));
        assert_eq!(status == "pending", text(&event, "approved_by").is_empty());
        assert!(event["version"].is_u64());
    }

    assert_eq!(lines(&dir, "attendance.ndjson").len(), summary.punches);
    assert_eq!(lines(&dir, "leave.ndjson").len(), summary.leave_events);
    assert_eq!(lines(&dir, "adjustments.ndjson").len(), summary.adjustment_events);
    assert_eq!(summary.bad_lines, 0);
    assert!(summary.punches > 400 * 40, "{summary:?}");
    assert!(summary.leave_events > 0 && summary.adjustment_events > 0);
}

#[test]
fn same_seed_gives_identical_bytes() {
    let files = [
        "workers.csv",
        "sites.csv",
        "attendance.ndjson",
        "leave.ndjson",
        "adjustments.ndjson",
    ];
    let (first, _) = generate_into("seed-a", &config(300, 42, 9));
    let (second, _) = generate_into("seed-b", &config(300, 42, 9));
    let (other, _) = generate_into("seed-c", &config(300, 43, 9));
    for file in files {
        let bytes = fs::read(first.join(file)).unwrap();
        assert_eq!(bytes, fs::read(second.join(file)).unwrap(), "{file}");
        if file != "sites.csv" {
            assert_ne!(bytes, fs::read(other.join(file)).unwrap(), "{file}");
        }
    }
}

/// IST wall-clock time of a punch.
fn local(ts: &str) -> chrono::NaiveDateTime {
    DateTime::parse_from_rfc3339(ts).unwrap().naive_utc() + Duration::minutes(330)
}

#[test]
fn feeds_carry_real_world_noise() {
    let (dir, _) = generate_into("noise", &config(2000, 7, 0));

    let raw = lines(&dir, "attendance.ndjson");
    let mut seen: HashMap<&str, &str> = HashMap::new();
    let mut redeliveries = 0;
    for line in &raw {
        let id = &line[14..50];
        if let Some(previous) = seen.insert(id, line) {
            assert_eq!(previous, line, "a redelivery is the identical line");
            redeliveries += 1;
        }
    }
    assert!(redeliveries > 100, "repeated deliveries: {redeliveries}");

    let punches = objects(&dir, "attendance.ndjson");
    let stamps: Vec<&str> = punches.iter().map(|p| text(p, "ts")).collect();
    assert!(!stamps.is_sorted(), "lines arrive out of order");
    let period_start = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    assert!(
        stamps.iter().any(|ts| local(ts).date() < period_start),
        "the feed carries the day before the period"
    );

    // Per worker, in time order, one punch per event id.
    let mut by_worker: HashMap<&str, Vec<(&str, &str, &str)>> = HashMap::new();
    let mut unique = HashSet::new();
    for p in &punches {
        if unique.insert(text(p, "event_id")) {
            let entry = (text(p, "ts"), text(p, "direction"), text(p, "event_id"));
            by_worker.entry(text(p, "worker_id")).or_default().push(entry);
        }
    }
    let (mut double_taps, mut missed, mut night_shifts) = (0, 0, 0);
    for timeline in by_worker.values_mut() {
        timeline.sort();
        for pair in timeline.windows(2) {
            let ((ts0, dir0, _), (ts1, dir1, _)) = (pair[0], pair[1]);
            let gap = (local(ts1) - local(ts0)).num_seconds();
            if dir0 == dir1 && (5..=100).contains(&gap) {
                double_taps += 1;
            }
            if dir0 == dir1 && gap > 4 * 3600 {
                missed += 1;
            }
            if dir0 == "in" && dir1 == "out" && local(ts0).date() != local(ts1).date() {
                night_shifts += 1;
            }
        }
    }
    assert!(double_taps > 100, "double taps: {double_taps}");
    assert!(missed > 100, "missed punches: {missed}");
    assert!(night_shifts > 1000, "night shifts crossing midnight: {night_shifts}");

    let workers = lines(&dir, "workers.csv");
    let masters: Vec<Vec<&str>> = workers[1..].iter().map(|r| r.split(',').collect()).collect();
    let joiners = masters.iter().filter(|f| f[17].starts_with("2026-10")).count();
    let leavers = masters.iter().filter(|f| f[18].starts_with("2026-10")).count();
    assert!(joiners > 20 && leavers > 20, "joiners {joiners}, leavers {leavers}");
    let minimum = |skill: &str| match skill {
        "unskilled" => 783.0,
        "semi_skilled" => 868.0,
        "skilled" => 954.0,
        _ => 1035.0,
    };
    let below_minimum = masters
        .iter()
        .filter(|f| {
            let rate: f64 = f[9].parse().unwrap();
            let per_day = match f[8] {
                "daily" => rate,
                "hourly" => rate * 8.0,
                _ => rate / 26.0,
            };
            per_day < minimum(f[6])
        })
        .count();
    assert!((10..200).contains(&below_minimum), "{below_minimum}");

    let mut leave_versions: HashMap<String, Vec<(u64, String)>> = HashMap::new();
    for event in objects(&dir, "leave.ndjson") {
        let version = (event["version"].as_u64().unwrap(), text(&event, "status").to_owned());
        leave_versions
            .entry(text(&event, "leave_id").to_owned())
            .or_default()
            .push(version);
    }
    let last_status = |wanted: &str| {
        leave_versions
            .values()
            .filter(|v| v.iter().max().unwrap().1 == wanted)
            .count()
    };
    assert!(leave_versions.values().any(|v| v.len() > 1));
    for status in ["approved", "rejected", "cancelled", "applied"] {
        assert!(last_status(status) > 0, "leave ending {status}");
    }
    let adjustments = objects(&dir, "adjustments.ndjson");
    assert!(adjustments.iter().any(|a| a["version"] == 2));
}

#[test]
fn bad_lines_are_exactly_as_many_as_asked() {
    let (dir, summary) = generate_into("bad", &config(500, 3, 30));
    assert_eq!(summary.bad_lines, 30);
    let defects = defects_per_feed(&dir);
    assert_eq!(defects.iter().map(Vec::len).sum::<usize>(), 30);
    assert!(defects.iter().all(|feed| !feed.is_empty()), "{defects:?}");
    let kinds: HashSet<&str> = defects.iter().flatten().copied().collect();
    assert_eq!(kinds.len(), 6, "{kinds:?}");

    let (dir, summary) = generate_into("few-bad", &config(50, 3, 2));
    assert_eq!(summary.bad_lines, 2);
    assert_eq!(defects_per_feed(&dir).iter().map(Vec::len).sum::<usize>(), 2);

    let (dir, _) = generate_into("no-bad", &config(500, 3, 0));
    assert!(defects_per_feed(&dir).iter().all(Vec::is_empty));
}

#[test]
fn no_workers_gives_headers_only() {
    let (dir, summary) = generate_into("empty", &config(0, 1, 5));
    assert_eq!(summary.workers + summary.punches + summary.bad_lines, 0);
    assert_eq!(lines(&dir, "workers.csv"), [WORKERS_HEADER]);
    assert!(lines(&dir, "attendance.ndjson").is_empty());
}

#[test]
fn an_impossible_month_is_rejected() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("month-13");
    let err = generate(
        &SynthConfig {
            month: 13,
            ..config(1, 1, 0)
        },
        &dir,
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}
