//! The worker master (`workers.csv`) and the employment facts the feeds need.

use std::io::{self, Write};
use std::path::Path;

use rand::Rng;
use rand::rngs::StdRng;

use crate::calendar::Period;
use crate::encode::{create_feed, put_money, put_padded, put_uint};
use crate::sites::SITES;
use crate::{pick, pick_weighted};

const HEADER: &str = "worker_id,org_id,site_id,name,gender,state,skill,designation,pay_basis,\
rate,pf_applicable,esi_applicable,uan,esic_no,bank_account,ifsc,pan,joined_on,exited_on,phone,email,language";

/// Central-sphere minimum wage per day in rupees, in skill order.
const SKILLS: [(&str, u64); 4] = [
    ("unskilled", 783),
    ("semi_skilled", 868),
    ("skilled", 954),
    ("highly_skilled", 1035),
];
/// Contract labour is mostly unskilled and semi-skilled.
const SKILL_WEIGHTS: [u32; 4] = [35, 30, 25, 10];

const DESIGNATIONS: [[&str; 3]; 4] = [
    ["Helper", "Loader", "Housekeeping Attendant"],
    ["Machine Operator", "Packer", "Assistant Fitter"],
    ["Electrician", "Welder", "Fitter"],
    ["CNC Programmer", "Line Supervisor", "Quality Inspector"],
];

const MALE_NAMES: [&str; 16] = [
    "Ramesh", "Suresh", "Mahesh", "Anil", "Sunil", "Rajesh", "Vijay", "Sanjay", "Arjun", "Karthik", "Manoj", "Prakash",
    "Ravi", "Imran", "Deepak", "Ganesh",
];
const FEMALE_NAMES: [&str; 16] = [
    "Lakshmi", "Priya", "Anita", "Sunita", "Kavita", "Meena", "Pooja", "Rekha", "Divya", "Asha", "Fatima", "Geeta",
    "Savitri", "Nandini", "Shalini", "Usha",
];
const SURNAMES: [&str; 16] = [
    "Patil", "Kumar", "Sharma", "Reddy", "Naidu", "Gowda", "Iyer", "Singh", "Yadav", "Shaikh", "Pillai", "Jadhav",
    "Verma", "Murugan", "Das", "Khan",
];

const BANKS: [&str; 8] = ["SBIN", "HDFC", "ICIC", "UTIB", "PUNB", "CNRB", "BARB", "KKBK"];

#[derive(Clone, Copy)]
enum PayBasis {
    Daily,
    Hourly,
    Monthly,
}

/// What the feeds need to know about a worker; the rest of the master lives only in the CSV.
pub struct Employee {
    pub number: u32,
    pub site: usize,
    /// Day offset of `joined_on` from the period's first day (negative: before the period).
    pub joined: i32,
    /// Day offset of `exited_on`, if the worker leaves inside the period.
    pub exited: Option<i32>,
}

impl Employee {
    /// The worker's employed days among `from..=to`.
    pub fn employed_days(&self, from: i32, to: i32) -> std::ops::RangeInclusive<i32> {
        from.max(self.joined)..=self.exited.map_or(to, |exit| exit.min(to))
    }
}

/// Formats worker ids (`W0000074`) at one width for the whole run, so ids sort as text.
#[derive(Clone, Copy)]
pub struct WorkerIds {
    width: usize,
}

impl WorkerIds {
    pub fn for_headcount(workers: usize) -> Self {
        WorkerIds {
            width: workers.to_string().len().max(7),
        }
    }

    pub fn put(&self, buf: &mut Vec<u8>, number: u32) {
        buf.push(b'W');
        put_padded(buf, u64::from(number), self.width);
    }
}

/// Writes `workers.csv` for workers numbered `1..=count` and returns their employment facts.
pub fn hire(count: usize, period: &Period, ids: WorkerIds, rng: &mut StdRng, path: &Path) -> io::Result<Vec<Employee>> {
    let mut out = create_feed(path)?;
    writeln!(out, "{HEADER}")?;
    let mut row = Vec::with_capacity(256);
    let mut employees = Vec::with_capacity(count);
    for number in 1..=count as u32 {
        row.clear();
        employees.push(hire_one(number, period, ids, rng, &mut row));
        out.write_all(&row)?;
    }
    out.flush()?;
    Ok(employees)
}

fn hire_one(number: u32, period: &Period, ids: WorkerIds, rng: &mut StdRng, row: &mut Vec<u8>) -> Employee {
    let site = pick_weighted(rng, SITES.iter().map(|s| s.headcount_weight));
    let female = rng.random_bool(0.28);
    let skill = pick_weighted(rng, SKILL_WEIGHTS);
    let basis = match rng.random_range(0..100) {
        0..60 => PayBasis::Daily,
        60..85 => PayBasis::Hourly,
        _ => PayBasis::Monthly,
    };
    let first_name = if female {
        pick(rng, &FEMALE_NAMES)
    } else {
        pick(rng, &MALE_NAMES)
    };
    let surname = pick(rng, &SURNAMES);
    let (joined, exited) = employment_window(period, rng);

    ids.put(row, number);
    for field in [SITES[site].org, SITES[site].id] {
        row.push(b',');
        row.extend_from_slice(field.as_bytes());
    }
    row.push(b',');
    row.extend_from_slice(first_name.as_bytes());
    row.push(b' ');
    row.extend_from_slice(surname.as_bytes());
    let gender = if female { ",F," } else { ",M," };
    row.extend_from_slice(gender.as_bytes());
    row.extend_from_slice(SITES[site].state.as_bytes());
    row.push(b',');
    row.extend_from_slice(SKILLS[skill].0.as_bytes());
    row.push(b',');
    row.extend_from_slice(pick(rng, &DESIGNATIONS[skill]).as_bytes());
    row.push(b',');
    let basis_name = match basis {
        PayBasis::Daily => "daily",
        PayBasis::Hourly => "hourly",
        PayBasis::Monthly => "monthly",
    };
    row.extend_from_slice(basis_name.as_bytes());
    row.push(b',');
    put_money(row, rate_paise(SKILLS[skill].1, basis, rng));
    row.push(b',');
    // Nearly all contract workers are in PF; ESI registration is decided at joining, and the
    // engine applies the 21,000 gross ceiling itself.
    for applicable in [rng.random_bool(0.88), rng.random_bool(0.8)] {
        let flag: &[u8] = if applicable { b"true," } else { b"false," };
        row.extend_from_slice(flag);
    }
    put_statutory_numbers(row, number);
    row.push(b',');
    put_bank_account(row, rng);
    row.push(b',');
    put_pan(row, surname, rng);
    row.push(b',');
    period.put_date(row, joined);
    row.push(b',');
    if let Some(exit) = exited {
        period.put_date(row, exit);
    }
    put_contact(row, number, SITES[site].state);
    row.push(b'\n');

    Employee {
        number,
        site,
        joined,
        exited,
    }
}

/// Most workers joined long before the period; ~3% join inside it and ~3% leave inside it,
/// because a month with no joiners or leavers never tests proration.
fn employment_window(period: &Period, rng: &mut StdRng) -> (i32, Option<i32>) {
    let joined = if rng.random_bool(0.03) {
        rng.random_range(0..period.days)
    } else {
        -rng.random_range(30..1500)
    };
    let exited = rng
        .random_bool(0.03)
        .then(|| rng.random_range(joined.max(0)..period.days));
    (joined, exited)
}

/// A rate that mostly clears the skill's minimum wage by 0-35% (0-65% for monthly staff), with
/// ~3% set below it so the engine's minimum-wage flag has something to find.
///
/// Rounded up so that an on-the-minimum hourly or monthly rate is not below the minimum once
/// converted back to a day (hourly x 8, monthly / 26).
fn rate_paise(day_minimum: u64, basis: PayBasis, rng: &mut StdRng) -> u64 {
    let per_mille = if rng.random_bool(0.03) {
        rng.random_range(880..=995)
    } else if matches!(basis, PayBasis::Monthly) {
        rng.random_range(1000..=1650)
    } else {
        rng.random_range(1000..=1350)
    };
    scaled_rate(day_minimum, basis, per_mille)
}

fn scaled_rate(day_minimum: u64, basis: PayBasis, per_mille: u64) -> u64 {
    let scaled = day_minimum * 100 * per_mille;
    match basis {
        PayBasis::Daily => scaled.div_ceil(1000),
        PayBasis::Hourly => scaled.div_ceil(8 * 1000),
        // Monthly salaries are whole rupees.
        PayBasis::Monthly => (scaled * 26).div_ceil(100 * 1000) * 100,
    }
}

/// UAN (12 digits) and ESIC number (10 digits). They identify a person nationally, so they must
/// not repeat: multiplying by a prime coprime to the number range is a bijection on it.
fn put_statutory_numbers(row: &mut Vec<u8>, number: u32) {
    let n = u64::from(number);
    put_uint(row, 100_000_000_000 + n * 104_729 % 900_000_000_000);
    row.push(b',');
    put_uint(row, 3_100_000_000 + n * 7_919 % 6_900_000_000);
}

/// Account numbers are 9 to 16 digits depending on the bank; the IFSC is the bank's four
/// letters, a zero and a six-character branch code.
/// A contact for payslip notices, from the worker's number alone (no draw from `rng`, so the
/// rest of the month is the same as without it): nine in ten have a phone, one in three an
/// email, and the language is the site's state's.
fn put_contact(row: &mut Vec<u8>, number: u32, state: &str) {
    row.push(b',');
    if !number.is_multiple_of(10) {
        row.extend_from_slice(format!("+919{:09}", number % 1_000_000_000).as_bytes());
    }
    row.push(b',');
    if number.is_multiple_of(3) {
        row.extend_from_slice(format!("worker{number}@example.in").as_bytes());
    }
    row.push(b',');
    let language = match state {
        "UP" | "BR" | "MP" | "RJ" | "DL" | "HR" | "GJ" => "hi",
        "TN" => "ta",
        "KA" => "kn",
        "MH" => "mr",
        "WB" => "bn",
        _ => "en",
    };
    row.extend_from_slice(language.as_bytes());
}

fn put_bank_account(row: &mut Vec<u8>, rng: &mut StdRng) {
    let len = rng.random_range(9..=16);
    row.push(b'0' + rng.random_range(1..10));
    for _ in 1..len {
        row.push(b'0' + rng.random_range(0..10));
    }
    row.push(b',');
    row.extend_from_slice(pick(rng, &BANKS).as_bytes());
    row.push(b'0');
    put_padded(row, rng.random_range(1..100_000), 6);
}

/// PAN: three letters, `P` for an individual, the surname's initial, four digits, a letter.
fn put_pan(row: &mut Vec<u8>, surname: &str, rng: &mut StdRng) {
    for _ in 0..3 {
        row.push(rng.random_range(b'A'..=b'Z'));
    }
    row.push(b'P');
    row.push(surname.as_bytes()[0]);
    put_padded(row, rng.random_range(1..10_000), 4);
    row.push(rng.random_range(b'A'..=b'Z'));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_on_the_minimum_are_not_below_it() {
        // 783 / 8 = 97.875: rounding down would put an hourly rate under the minimum.
        assert_eq!(scaled_rate(783, PayBasis::Hourly, 1000), 9_788);
        assert_eq!(scaled_rate(783, PayBasis::Daily, 1000), 78_300);
        assert_eq!(scaled_rate(783, PayBasis::Monthly, 1000), 2_035_800);
        assert!(scaled_rate(783, PayBasis::Hourly, 995) * 8 < 78_300);
    }

    #[test]
    fn statutory_numbers_have_their_lengths() {
        let mut row = Vec::new();
        put_statutory_numbers(&mut row, 1_000_000);
        let text = String::from_utf8(row).unwrap();
        let (uan, esic) = text.split_once(',').unwrap();
        assert_eq!((uan.len(), esic.len()), (12, 10));
    }

    #[test]
    fn worker_ids_are_at_least_seven_digits() {
        let mut buf = Vec::new();
        WorkerIds::for_headcount(100).put(&mut buf, 74);
        assert_eq!(buf, b"W0000074");
        buf.clear();
        WorkerIds::for_headcount(12_000_000).put(&mut buf, 74);
        assert_eq!(buf, b"W00000074");
    }
}
