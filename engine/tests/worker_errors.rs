//! One bad worker does not sink a run: a component without a value (a table with no row for
//! the worker, a division by zero, a `CASE` with no branch) is that worker's error, named with
//! the component and what was missing; every other worker is computed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use payroll_engine::Calculator;
use payroll_engine::calc::WORKER_ERROR_COLUMN;
use payroll_engine::live::LiveResults;
use payroll_rules::Ruleset;
use payroll_rules::vocabulary::{self, PayPeriod};

const PERIOD: PayPeriod = PayPeriod { year: 2026, month: 10 };

const RULESET: &str = r#"
name = "worker-errors"
version = "2026.10"
effective_from = "2026-10-01"

[[component]]
name = "minimum_wage"
category = "intermediate"
expr = "minimum_wage(skill, state)"

[[component]]
name = "basic"
category = "earning"
round = "half_up(0.01)"
expr = "rate * present_days"

[[component]]
name = "top_up"
category = "earning"
round = "half_up(0.01)"
expr = "greatest(minimum_wage - rate, 0.00) * present_days"

[[component]]
name = "daily_average"
category = "intermediate"
round = "half_up(0.01)"
expr = "basic / present_days"

[[component]]
name = "grade_bonus"
category = "earning"
expr = """
CASE skill
  WHEN 'skilled'   THEN 500.00
  WHEN 'unskilled' THEN 0.00
END"""

[[component]]
name = "gross"
category = "total"
expr = "basic + top_up + grade_bonus"

[[component]]
name = "net_pay"
category = "total"
expr = "gross"

# Computed from inputs that always have a value: a column DataFusion declares non-nullable.
[[component]]
name = "days_worked"
category = "intermediate"
expr = "present_days + paid_leave_days"

[tables.minimum_wage]
match = ["skill", "state"]
rows = [
  { skill = "unskilled", state = "MH", value = "783" },
  { skill = "skilled",                 value = "954" },
  { skill = "semi_skilled",            value = "868" },
]
"#;

fn ruleset() -> Ruleset {
    Ruleset::parse(RULESET, std::path::Path::new("worker-errors.toml")).unwrap()
}

/// One row of period inputs per worker: neutral defaults, the period's own fields, and the
/// given values (as text, parsed to each input's type).
fn inputs(workers: &[&[(&str, &str)]]) -> RecordBatch {
    let rows: Vec<BTreeMap<&str, &str>> = workers.iter().map(|w| w.iter().copied().collect()).collect();
    let columns = vocabulary::INPUTS
        .iter()
        .map(|input| {
            let values = rows
                .iter()
                .map(|row| {
                    let text = row.get(input.name).map(|s| s.to_string()).or_else(|| {
                        Some(match input.name {
                            "org_id" => "org0".into(),
                            "period" => PERIOD.to_string(),
                            "year" => PERIOD.year.to_string(),
                            "month" => PERIOD.month.to_string(),
                            "period_start" => PERIOD.first_day().to_string(),
                            "period_end" => PERIOD.last_day().to_string(),
                            "days_in_period" => PERIOD.days().to_string(),
                            "joined_on" => "2020-01-01".into(),
                            "pay_basis" => "daily".into(),
                            _ => return None,
                        })
                    });
                    match (text, &input.data_type) {
                        (None, t) if input.nullable => ScalarValue::try_from(t).unwrap(),
                        (None, DataType::Utf8) => ScalarValue::from(""),
                        (None, DataType::Boolean) => ScalarValue::from(false),
                        (None, t) => ScalarValue::try_from_string("0".into(), t).unwrap(),
                        (Some(text), t) => ScalarValue::try_from_string(text, t).unwrap(),
                    }
                })
                .collect::<Vec<_>>();
            ScalarValue::iter_to_array(values).unwrap()
        })
        .collect::<Vec<ArrayRef>>();
    RecordBatch::try_new(vocabulary::schema(), columns).unwrap()
}

fn ids(batches: &[RecordBatch]) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| {
            let ids = b.column_by_name("worker_id").unwrap().as_string::<i32>();
            ids.iter().map(|id| id.unwrap().to_string()).collect::<Vec<_>>()
        })
        .collect()
}

fn month() -> RecordBatch {
    inputs(&[
        &[
            ("worker_id", "W1"),
            ("skill", "unskilled"),
            ("state", "MH"),
            ("rate", "800.00"),
            ("present_days", "20"),
        ],
        // No row of minimum_wage for (unskilled, KA).
        &[
            ("worker_id", "W2"),
            ("skill", "unskilled"),
            ("state", "KA"),
            ("rate", "800.00"),
            ("present_days", "20"),
        ],
        // grade_bonus has no branch for semi_skilled.
        &[
            ("worker_id", "W3"),
            ("skill", "semi_skilled"),
            ("state", "MH"),
            ("rate", "900.00"),
            ("present_days", "10"),
        ],
        // No day present: daily_average divides by zero.
        &[
            ("worker_id", "W4"),
            ("skill", "skilled"),
            ("state", "KA"),
            ("rate", "1000.00"),
            ("present_days", "0"),
        ],
        &[
            ("worker_id", "W5"),
            ("skill", "skilled"),
            ("state", "TN"),
            ("rate", "900.00"),
            ("present_days", "2"),
        ],
    ])
}

#[tokio::test]
async fn a_worker_without_a_value_is_an_error_and_the_others_are_computed() {
    let ruleset = ruleset();
    let version = ruleset.version_on(PERIOD.first_day()).unwrap();
    let calculation = Calculator::new(2).compute(version, vec![month()]).await.unwrap();

    assert_eq!(ids(&calculation.results), ["W1", "W5"]);
    let errors: Vec<(&str, &str, &str)> = calculation
        .errors
        .iter()
        .map(|e| (e.worker_id.as_str(), e.component.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            (
                "W2",
                "minimum_wage",
                "no row of table `minimum_wage` for skill=`unskilled`, state=`KA`"
            ),
            (
                "W3",
                "grade_bonus",
                "no branch of the CASE matches skill=`semi_skilled` and it has no ELSE"
            ),
            ("W4", "daily_average", "division by zero: `present_days` is 0"),
        ]
    );

    // Totals are over the computed workers only: W1 800 x 20, W5 900 x 2 + 54 x 2 + 500.
    let totals = payroll_engine::run::totals(version, &calculation.results).unwrap();
    assert_eq!(totals["net_pay"].to_string(), "18408.00");
}

/// The stream's view: every worker keeps a row, the one without pay says why, and once the
/// input is fixed the worker is computed again.
#[tokio::test]
async fn live_results_keep_every_worker_and_say_why_one_has_no_pay() {
    let ruleset = ruleset();
    let version = ruleset.version_on(PERIOD.first_day()).unwrap();
    let calculator = Calculator::new(2);
    let mut live = LiveResults::default();
    let all: Vec<Box<str>> = ["W1", "W2", "W3", "W4", "W5"].map(Box::from).to_vec();
    live.update(&all, calculator.calculate(version, vec![month()]).await.unwrap())
        .unwrap();
    let why = |live: &LiveResults| -> Vec<(String, Option<String>, Option<String>)> {
        let current = live.current().unwrap();
        let mut rows: Vec<_> = current
            .iter()
            .flat_map(|b| {
                let ids = b.column_by_name("worker_id").unwrap().as_string::<i32>();
                let errors = b.column_by_name(WORKER_ERROR_COLUMN).unwrap().as_string::<i32>();
                let net = b.column_by_name("net_pay").unwrap();
                (0..b.num_rows())
                    .map(|r| {
                        let net = (!net.is_null(r))
                            .then(|| datafusion::arrow::util::display::array_value_to_string(net, r).unwrap());
                        (
                            ids.value(r).to_string(),
                            net,
                            errors.is_valid(r).then(|| errors.value(r).to_string()),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        rows.sort();
        rows
    };
    let rows = why(&live);
    assert_eq!(rows.len(), 5, "every worker keeps a row: {rows:?}");
    assert_eq!(rows[0], ("W1".into(), Some("16000.00".into()), None));
    assert_eq!(
        rows[1],
        (
            "W2".into(),
            None,
            Some("component `minimum_wage`: no row of table `minimum_wage` for skill=`unskilled`, state=`KA`".into())
        )
    );
    assert!(rows[4].1.is_some() && rows[4].2.is_none(), "{:?}", rows[4]);

    // Every component of a worker with an error is blank, even one a formula could fill.
    let current = live.current().unwrap();
    let top_up = current[0].column_by_name("top_up").unwrap();
    assert_eq!(top_up.null_count(), 3, "W2, W3 and W4 have no figure at all");

    // W2 moves to Maharashtra: recalculated alone, computed, and the others untouched.
    let fixed = inputs(&[&[
        ("worker_id", "W2"),
        ("skill", "unskilled"),
        ("state", "MH"),
        ("rate", "800.00"),
        ("present_days", "20"),
    ]]);
    live.update(
        &["W2".into()],
        calculator.calculate(version, vec![fixed]).await.unwrap(),
    )
    .unwrap();
    let rows = why(&live);
    assert_eq!(rows[1], ("W2".into(), Some("16000.00".into()), None));
    assert_eq!(
        rows.iter().filter(|r| r.2.is_some()).count(),
        2,
        "W3 and W4 still: {rows:?}"
    );
}

/// A condition that divides by zero has no answer: a worker error, never the `otherwise` value
/// a false condition gives. A slab table with no row names the amount it was looked up with.
#[tokio::test]
async fn conditions_and_slabs_without_an_answer_are_worker_errors() {
    let text = r#"
name = "conditions"
version = "2026.10"
effective_from = "2026-10-01"

[[component]]
name = "attendance_bonus"
category = "earning"
when = "present_days / working_days >= 0.9"
expr = "500.00"

[[component]]
name = "gross"
category = "total"
expr = "rate * present_days + attendance_bonus"

[[component]]
name = "professional_tax"
category = "deduction"
expr = "pt(state, gross)"

[tables.pt]
match = ["state"]
range = "gross"
rows = [
  { state = "MH", upto = "7500", value = "0" },
  { state = "MH", value = "200" },
  { state = "TN", value = "0" },
]
"#;
    let ruleset = Ruleset::parse(text, std::path::Path::new("conditions.toml")).unwrap();
    let version = ruleset.version_on(PERIOD.first_day()).unwrap();
    let month = inputs(&[
        &[
            ("worker_id", "A"),
            ("state", "MH"),
            ("rate", "800.00"),
            ("present_days", "19"),
            ("working_days", "20"),
        ],
        &[
            ("worker_id", "B"),
            ("state", "MH"),
            ("rate", "800.00"),
            ("present_days", "10"),
            ("working_days", "20"),
        ],
        &[
            ("worker_id", "C"),
            ("state", "MH"),
            ("rate", "800.00"),
            ("present_days", "2"),
            ("working_days", "0"),
        ],
        &[
            ("worker_id", "D"),
            ("state", "KA"),
            ("rate", "800.00"),
            ("present_days", "19"),
            ("working_days", "20"),
        ],
    ]);
    let calculation = Calculator::new(1).compute(version, vec![month]).await.unwrap();
    assert_eq!(ids(&calculation.results), ["A", "B"]);
    let bonus = |row: usize| {
        datafusion::arrow::util::display::array_value_to_string(
            calculation.results[0].column_by_name("attendance_bonus").unwrap(),
            row,
        )
        .unwrap()
    };
    assert_eq!((bonus(0), bonus(1)), ("500.00".into(), "0.00".into()));
    let errors: Vec<String> = calculation.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "C: component `attendance_bonus`: division by zero in the `when` condition: `working_days` is 0",
            "D: component `professional_tax`: no row of table `pt` for state=`KA`, gross=`15700.000`",
        ]
    );
}
