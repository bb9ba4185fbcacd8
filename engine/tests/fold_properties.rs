//! The fold is order-free and idempotent: any permutation of the events, with any repeats,
//! gives the same state and the same period inputs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use std::collections::HashMap;

use payroll_engine::event::{
    AdjustmentKind, AdjustmentVersion, Direction, EventId, LeaveType, LeaveVersion, Punch, Status,
};
use payroll_engine::{Checkpoint, Event, Ledger, Site, Worker};
use payroll_rules::vocabulary::PayPeriod;
use proptest::prelude::*;

const PERIOD: PayPeriod = PayPeriod { year: 2026, month: 10 };
const WORKERS: [&str; 2] = ["W1", "W2"];

fn ledger() -> Ledger {
    let site = HashMap::from([
        ("site_id", "S1"),
        ("org_id", "org"),
        ("name", "Site 1"),
        ("state", "MH"),
        ("timezone", "Asia/Kolkata"),
        ("weekly_off", "SUN"),
    ]);
    let mut ledger = Ledger::new([Site::decode(|f| site.get(f).copied()).unwrap()]);
    for (i, id) in WORKERS.into_iter().enumerate() {
        let joined = ["2026-01-01", "2026-10-03"][i];
        let worker = HashMap::from([
            ("worker_id", id),
            ("org_id", "org"),
            ("site_id", "S1"),
            ("name", "A Worker"),
            ("gender", "F"),
            ("state", "MH"),
            ("skill", "skilled"),
            ("pay_basis", "daily"),
            ("rate", "900.00"),
            ("pf_applicable", "true"),
            ("esi_applicable", "true"),
            ("joined_on", joined),
        ]);
        ledger
            .upsert_worker(Worker::decode(|f| worker.get(f).copied()).unwrap())
            .unwrap();
    }
    ledger
}

/// Punches within the first week of October (and the last day of September), so shifts pair,
/// double-tap, cross midnight and miss each other.
fn punch() -> impl Strategy<Value = Event> {
    (0..WORKERS.len(), 0u32..40, 0i64..8 * 24 * 60, any::<bool>()).prop_map(|(w, id, minute, is_in)| {
        Event::Punch(Punch {
            // Half the ids in the UUID spelling devices use, which the state keeps as bits.
            event_id: match id % 2 {
                0 => EventId::new(&format!("p{id}")),
                _ => EventId::new(&format!("00000000-0000-4000-8000-{id:012}")),
            },
            worker_id: WORKERS[w].into(),
            at_ms: 1_790_707_200_000 + minute * 60_000 + (id as i64 % 3) * 40_000,
            direction: if is_in { Direction::In } else { Direction::Out },
        })
    })
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Applied),
        Just(Status::Approved),
        Just(Status::Rejected),
        Just(Status::Cancelled)
    ]
}

fn leave() -> impl Strategy<Value = Event> {
    (
        0..WORKERS.len(),
        0u32..4,
        0u32..12,
        1u32..8,
        0u32..3,
        any::<bool>(),
        status(),
        1u64..4,
    )
        .prop_map(|(w, leave, id, day, days, half_day, status, version)| {
            let from = chrono::NaiveDate::from_ymd_opt(2026, 10, day).unwrap();
            Event::Leave(Box::new(LeaveVersion {
                event_id: format!("l{id}").into(),
                leave_id: format!("L{leave}").into(),
                worker_id: WORKERS[w].into(),
                leave_type: [LeaveType::Casual, LeaveType::Sick, LeaveType::Earned, LeaveType::Unpaid][leave as usize],
                from,
                to: from + chrono::Days::new(days.into()),
                half_day,
                status,
                version,
            }))
        })
}

fn adjustment() -> impl Strategy<Value = Event> {
    (
        0..WORKERS.len(),
        0u32..3,
        0u32..8,
        any::<bool>(),
        0u32..100_000,
        any::<bool>(),
        1u64..4,
    )
        .prop_map(|(w, adjustment, id, earning, paise, approved, version)| {
            Event::Adjustment(Box::new(AdjustmentVersion {
                event_id: format!("a{id}").into(),
                adjustment_id: format!("A{adjustment}").into(),
                worker_id: WORKERS[w].into(),
                period: PERIOD,
                kind: if earning {
                    AdjustmentKind::Earning
                } else {
                    AdjustmentKind::Deduction
                },
                code: "bonus".into(),
                amount: rust_decimal::Decimal::new(paise.into(), 2),
                status: if approved { Status::Approved } else { Status::Pending },
                version,
                org_id: None,
            }))
        })
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec(prop_oneof![6 => punch(), 2 => leave(), 1 => adjustment()], 0..120)
}

fn fold(events: &[Event]) -> Ledger {
    let mut ledger = ledger();
    for event in events {
        ledger.apply(event.clone());
    }
    ledger
}

fn inputs(ledger: &Ledger) -> Vec<(String, payroll_engine::PeriodInputs)> {
    ledger
        .period_inputs(PERIOD)
        .into_iter()
        .map(|(w, _, i)| (w.worker_id.to_string(), i))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_order_and_any_repeats_give_the_same_inputs(
        (events, shuffled) in events().prop_flat_map(|events| {
            let n = events.len().max(1);
            (Just(events.clone()), prop::collection::vec(0..n, 0..30)).prop_flat_map(|(events, repeats)| {
                let mut with_repeats = events.clone();
                with_repeats.extend(repeats.iter().filter_map(|&i| events.get(i).cloned()));
                (Just(events), Just(with_repeats).prop_shuffle())
            })
        })
    ) {
        let once = fold(&events);
        let again = fold(&shuffled);
        for worker in WORKERS {
            prop_assert_eq!(once.state(worker), again.state(worker));
        }
        prop_assert_eq!(inputs(&once), inputs(&again));
    }

    /// Shards each fold part of the events; merging them, through their checkpoints and in any
    /// order, gives the state of one fold of everything.
    #[test]
    fn shards_restored_from_checkpoints_and_merged_give_one_fold(
        (events, shard_of, order) in events().prop_flat_map(|events| {
            let n = events.len();
            (Just(events), prop::collection::vec(0usize..3, n), Just(vec![0usize, 1, 2]).prop_shuffle())
        })
    ) {
        let whole = fold(&events);
        let sites = ledger();
        let mut shards: Vec<Ledger> = (0..3).map(|_| sites.empty_like()).collect();
        for (event, &shard) in events.iter().zip(&shard_of) {
            shards[shard].apply(event.clone());
        }
        let mut merged = ledger();
        for &i in &order {
            let ledger = std::mem::take(&mut shards[i]);
            let checkpoint = Checkpoint { shard: i as u32, seq: 7, offsets: [("attendance".to_string(), 42)].into(), ledger };
            let restored = Checkpoint::decode(&checkpoint.encode(), &sites).unwrap();
            prop_assert_eq!((restored.shard, restored.seq, &restored.offsets), (i as u32, 7, &checkpoint.offsets));
            merged.merge(restored.ledger);
        }
        for worker in WORKERS {
            prop_assert_eq!(whole.state(worker), merged.state(worker));
        }
        prop_assert_eq!(inputs(&whole), inputs(&merged));
    }
}
