//! The stream's archive of closed periods: the raw events a locked period no longer needs in
//! the hot state (`payroll_engine::archive` decides which), as Parquet datasets any engine
//! reads as attendance history, one file per kind, org, period and shard (see `layout`).
//!
//! A file is a set of events, like the state it came from: a shard that closes a period again
//! (it crashed before its checkpoint recorded the close) rewrites its file with the same events
//! or more, and readers fold whatever they find, so nothing is counted twice.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, FixedSizeBinaryArray, RecordBatch, StringArray,
    TimestampMillisecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Field, Schema, TimeUnit, TimestampMillisecondType, UInt64Type,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use payroll_engine::event::{AdjustmentVersion, Direction, EventId, LeaveVersion, wire_name};
use payroll_engine::{ArchivedPunch, PeriodEvents, Shard, WorkerPeriod};
use payroll_rules::vocabulary::PayPeriod;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::layout::{self, ArchiveKind};
use crate::results::parquet;
use crate::store::Store;

/// Where a file came from: the shard (of a partition count) that closed the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardOf {
    pub partitions: u32,
    pub shard: u32,
}

/// Writes a shard's events of an org's closed period; kinds with no events write nothing.
pub async fn write(store: &Store, of: ShardOf, org: &str, period: PayPeriod, events: &PeriodEvents) -> Result<()> {
    let files = [
        (ArchiveKind::Punches, punches_batch(&events.punches)?),
        (ArchiveKind::Leaves, leaves_batch(&events.leaves)?),
        (ArchiveKind::Adjustments, adjustments_batch(&events.adjustments)?),
    ];
    for (kind, batch) in files {
        if batch.num_rows() > 0 {
            let path = layout::archive_file(kind, org, &period.to_string(), of.partitions, of.shard);
            store.put(&path, parquet(&[batch])?).await?;
        }
    }
    Ok(())
}

/// An org's archived events of a period: every shard's, or `only` one shard's (a shard
/// reopening a worker's period reads only its own files, where that worker's events are).
pub async fn read(store: &Store, org: &str, period: PayPeriod, only: Option<ShardOf>) -> Result<PeriodEvents> {
    let mut events = PeriodEvents::default();
    for kind in ArchiveKind::ALL {
        let dir = layout::archive_dir(kind, org, &period.to_string());
        for meta in store.list(&dir).await? {
            if only.is_some_and(|of| {
                meta.location != layout::archive_file(kind, org, &period.to_string(), of.partitions, of.shard)
            }) {
                continue;
            }
            let bytes = store.get(&meta.location).await?;
            let file = store.url_of(&meta.location);
            let batches = ParquetRecordBatchReaderBuilder::try_new(bytes)?
                .build()?
                .collect::<std::result::Result<Vec<_>, _>>()?;
            for batch in &batches {
                let columns = Columns { file: &file, batch };
                match kind {
                    ArchiveKind::Punches => events.punches.extend(columns.punches()?),
                    ArchiveKind::Leaves => events.leaves.extend(columns.leaves()?),
                    ArchiveKind::Adjustments => events.adjustments.extend(columns.adjustments()?),
                }
            }
        }
    }
    Ok(events)
}

/// What an archive pass did to a shard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Locked periods closed, and the events they took out of the state.
    pub closed: usize,
    pub archived: usize,
    /// Workers' closed periods loaded back for late events.
    pub reopened: usize,
}

/// Closes in `shard` each period of `locked` it has not closed yet, save `live` (the period the
/// stream keeps live pay of needs its events), each archived before it is dropped; then loads
/// back the workers' periods late events asked for. Stops at the first error, with nothing
/// dropped that is not archived; the next pass goes on from there.
pub async fn pass(
    store: &Store,
    partitions: u32,
    shard: &mut Shard,
    locked: &[(String, PayPeriod)],
    live: Option<PayPeriod>,
) -> Result<Pass> {
    let of = ShardOf {
        partitions,
        shard: shard.id,
    };
    let mut done = Pass::default();
    for (org, period) in locked {
        if Some(*period) == live || shard.ledger().is_closed(org, *period) {
            continue;
        }
        let events = shard.ledger().closing(org, *period);
        write(store, of, org, *period, &events).await?;
        done.archived += shard.close(org, *period);
        done.closed += 1;
    }
    let mut asked: BTreeMap<(String, PayPeriod), Vec<WorkerPeriod>> = BTreeMap::new();
    for worker_period in shard.ledger().to_reopen() {
        if let Some(worker) = shard.ledger().worker(&worker_period.0) {
            let key = (worker.org_id.to_string(), worker_period.1);
            asked.entry(key).or_default().push(worker_period.clone());
        }
    }
    for ((org, period), workers) in asked {
        let archived = read(store, &org, period, Some(of)).await?;
        for worker_period in workers {
            shard.reopen(&worker_period, archived.of_worker(&worker_period.0));
            done.reopened += 1;
        }
    }
    Ok(done)
}

fn punches_batch(punches: &[ArchivedPunch]) -> Result<RecordBatch> {
    let schema = Schema::new(vec![
        Field::new("worker_id", DataType::Utf8, false),
        Field::new("event_id", DataType::FixedSizeBinary(16), false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("direction", DataType::Utf8, false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(punches.iter().map(|p| &*p.worker_id))),
        Arc::new(FixedSizeBinaryArray::try_from_iter(
            punches.iter().map(|p| p.event_id.bits()),
        )?),
        Arc::new(TimestampMillisecondArray::from_iter_values(punches.iter().map(|p| p.at_ms)).with_timezone("UTC")),
        Arc::new(StringArray::from_iter_values(
            punches.iter().map(|p| wire_name(&p.direction)),
        )),
    ];
    Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
}

fn leaves_batch(leaves: &[LeaveVersion]) -> Result<RecordBatch> {
    let strings = |f: &dyn Fn(&LeaveVersion) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(leaves.iter().map(f)))
    };
    let schema = Schema::new(vec![
        Field::new("worker_id", DataType::Utf8, false),
        Field::new("leave_id", DataType::Utf8, false),
        Field::new("event_id", DataType::Utf8, false),
        Field::new("leave_type", DataType::Utf8, false),
        Field::new("from", DataType::Date32, false),
        Field::new("to", DataType::Date32, false),
        Field::new("half_day", DataType::Boolean, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("version", DataType::UInt64, false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        strings(&|l| l.worker_id.to_string()),
        strings(&|l| l.leave_id.to_string()),
        strings(&|l| l.event_id.to_string()),
        strings(&|l| wire_name(&l.leave_type)),
        Arc::new(Date32Array::from_iter_values(
            leaves.iter().map(|l| Date32Type::from_naive_date(l.from)),
        )),
        Arc::new(Date32Array::from_iter_values(
            leaves.iter().map(|l| Date32Type::from_naive_date(l.to)),
        )),
        Arc::new(BooleanArray::from_iter(leaves.iter().map(|l| Some(l.half_day)))),
        strings(&|l| wire_name(&l.status)),
        Arc::new(UInt64Array::from_iter_values(leaves.iter().map(|l| l.version))),
    ];
    Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
}

fn adjustments_batch(adjustments: &[AdjustmentVersion]) -> Result<RecordBatch> {
    let strings = |f: &dyn Fn(&AdjustmentVersion) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(adjustments.iter().map(f)))
    };
    // Amounts as the decimal text they came in: exact whatever their scale.
    let schema = Schema::new(vec![
        Field::new("worker_id", DataType::Utf8, false),
        Field::new("adjustment_id", DataType::Utf8, false),
        Field::new("event_id", DataType::Utf8, false),
        Field::new("period", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("code", DataType::Utf8, false),
        Field::new("amount", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("version", DataType::UInt64, false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        strings(&|a| a.worker_id.to_string()),
        strings(&|a| a.adjustment_id.to_string()),
        strings(&|a| a.event_id.to_string()),
        strings(&|a| a.period.to_string()),
        strings(&|a| wire_name(&a.kind)),
        strings(&|a| a.code.to_string()),
        strings(&|a| a.amount.to_string()),
        strings(&|a| wire_name(&a.status)),
        Arc::new(UInt64Array::from_iter_values(adjustments.iter().map(|a| a.version))),
    ];
    Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
}

/// A batch read back, with the file it came from: an archive is outside bytes like any other,
/// so a damaged one is an error naming the file, row and column, never a panic.
struct Columns<'a> {
    file: &'a str,
    batch: &'a RecordBatch,
}

impl Columns<'_> {
    fn bad(&self, column: &str, row: usize, expected: &str) -> Error {
        Error::input(
            self.file,
            format!("row {}, column {column}: expected {expected}", row + 1),
        )
    }

    fn column(&self, name: &str) -> Result<&ArrayRef> {
        self.batch
            .column_by_name(name)
            .ok_or_else(|| Error::input(self.file, format!("no column {name}: not an archive of this engine")))
    }

    fn strings(&self, name: &str) -> Result<Vec<&str>> {
        let column = self.column(name)?;
        let array = column.as_string_opt::<i32>().ok_or_else(|| self.bad(name, 0, "text"))?;
        (0..array.len())
            .map(|row| match array.is_valid(row) {
                true => Ok(array.value(row)),
                false => Err(self.bad(name, row, "a value")),
            })
            .collect()
    }

    fn parsed<T>(&self, name: &str, parse: impl Fn(&str) -> Option<T>, expected: &str) -> Result<Vec<T>> {
        self.strings(name)?
            .into_iter()
            .enumerate()
            .map(|(row, value)| parse(value).ok_or_else(|| self.bad(name, row, expected)))
            .collect()
    }

    fn named<T: DeserializeOwned>(&self, name: &str, expected: &str) -> Result<Vec<T>> {
        self.parsed(
            name,
            |v| serde_json::from_value(serde_json::Value::from(v)).ok(),
            expected,
        )
    }

    fn dates(&self, name: &str) -> Result<Vec<chrono::NaiveDate>> {
        let column = self.column(name)?;
        let array = column
            .as_primitive_opt::<Date32Type>()
            .ok_or_else(|| self.bad(name, 0, "dates"))?;
        (0..array.len())
            .map(|row| {
                array
                    .is_valid(row)
                    .then(|| Date32Type::to_naive_date_opt(array.value(row)))
                    .flatten()
                    .ok_or_else(|| self.bad(name, row, "a date"))
            })
            .collect()
    }

    fn versions(&self) -> Result<Vec<u64>> {
        let column = self.column("version")?;
        let array = column
            .as_primitive_opt::<UInt64Type>()
            .ok_or_else(|| self.bad("version", 0, "whole numbers"))?;
        (0..array.len())
            .map(|row| match array.is_valid(row) {
                true => Ok(array.value(row)),
                false => Err(self.bad("version", row, "a version")),
            })
            .collect()
    }

    fn punches(&self) -> Result<Vec<ArchivedPunch>> {
        let workers = self.strings("worker_id")?;
        let ids = self.column("event_id")?;
        let ids = ids
            .as_fixed_size_binary_opt()
            .filter(|a| a.value_length() == 16)
            .ok_or_else(|| self.bad("event_id", 0, "16-byte ids"))?;
        let ts = self.column("ts")?;
        let ts = ts
            .as_primitive_opt::<TimestampMillisecondType>()
            .ok_or_else(|| self.bad("ts", 0, "timestamps in milliseconds"))?;
        let directions: Vec<Direction> = self.named("direction", "in or out")?;
        let mut punches = Vec::with_capacity(workers.len());
        for (row, (worker, direction)) in workers.into_iter().zip(directions).enumerate() {
            let bits = <[u8; 16]>::try_from(ids.value(row)).map_err(|_| self.bad("event_id", row, "a 16-byte id"))?;
            let at_ms = ts.value(row);
            // The state keeps an instant a date can be taken of, in 62 bits.
            if !ts.is_valid(row)
                || chrono::DateTime::from_timestamp_millis(at_ms).is_none()
                || at_ms.abs() > i64::MAX >> 2
            {
                return Err(self.bad("ts", row, "an instant"));
            }
            punches.push(ArchivedPunch {
                worker_id: worker.into(),
                event_id: EventId::from_bits(bits),
                at_ms,
                direction,
            });
        }
        Ok(punches)
    }

    fn leaves(&self) -> Result<Vec<LeaveVersion>> {
        let (workers, ids, events) = (
            self.strings("worker_id")?,
            self.strings("leave_id")?,
            self.strings("event_id")?,
        );
        let types = self.named("leave_type", "casual, sick, earned or unpaid")?;
        let (from, to) = (self.dates("from")?, self.dates("to")?);
        let half_day = self.column("half_day")?;
        let half_day = half_day
            .as_boolean_opt()
            .ok_or_else(|| self.bad("half_day", 0, "true or false"))?;
        let statuses = self.named("status", "a leave status")?;
        let versions = self.versions()?;
        Ok((0..workers.len())
            .map(|row| LeaveVersion {
                event_id: events[row].into(),
                leave_id: ids[row].into(),
                worker_id: workers[row].into(),
                leave_type: types[row],
                from: from[row],
                to: to[row],
                half_day: half_day.value(row),
                status: statuses[row],
                version: versions[row],
            })
            .collect())
    }

    fn adjustments(&self) -> Result<Vec<AdjustmentVersion>> {
        let (workers, ids, events) = (
            self.strings("worker_id")?,
            self.strings("adjustment_id")?,
            self.strings("event_id")?,
        );
        let periods = self.parsed("period", |v| PayPeriod::from_str(v).ok(), "a period YYYY-MM")?;
        let kinds = self.named("kind", "earning or deduction")?;
        let codes = self.strings("code")?;
        let amounts = self.parsed("amount", |v| Decimal::from_str(v).ok(), "a decimal amount")?;
        let statuses = self.named("status", "an adjustment status")?;
        let versions = self.versions()?;
        Ok((0..workers.len())
            .map(|row| AdjustmentVersion {
                event_id: events[row].into(),
                adjustment_id: ids[row].into(),
                worker_id: workers[row].into(),
                period: periods[row],
                kind: kinds[row],
                code: codes[row].into(),
                amount: amounts[row],
                status: statuses[row],
                version: versions[row],
                org_id: None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payroll_engine::event::{AdjustmentKind, LeaveType, Status};

    fn events(worker: &str) -> PeriodEvents {
        PeriodEvents {
            punches: vec![ArchivedPunch {
                worker_id: worker.into(),
                event_id: EventId::new("p1"),
                at_ms: 1_791_000_000_000,
                direction: Direction::Out,
            }],
            leaves: vec![LeaveVersion {
                event_id: "l1-v2".into(),
                leave_id: "l1".into(),
                worker_id: worker.into(),
                leave_type: LeaveType::Sick,
                from: "2026-10-05".parse().unwrap(),
                to: "2026-10-06".parse().unwrap(),
                half_day: true,
                status: Status::Cancelled,
                version: 2,
            }],
            adjustments: vec![AdjustmentVersion {
                event_id: "a1-v1".into(),
                adjustment_id: "a1".into(),
                worker_id: worker.into(),
                period: "2026-10".parse().unwrap(),
                kind: AdjustmentKind::Deduction,
                code: "CANTEEN".into(),
                amount: "1234.505".parse().unwrap(),
                status: Status::Approved,
                version: 1,
                org_id: None,
            }],
        }
    }

    #[tokio::test]
    async fn events_read_back_as_written_from_every_shard_or_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().display().to_string()).unwrap();
        let october: PayPeriod = "2026-10".parse().unwrap();
        let shard = |n| ShardOf {
            partitions: 4,
            shard: n,
        };
        write(&store, shard(0), "ORG1", october, &events("W1")).await.unwrap();
        write(&store, shard(3), "ORG1", october, &events("W2")).await.unwrap();
        write(&store, shard(3), "ORG2", october, &events("W9")).await.unwrap();

        assert_eq!(
            read(&store, "ORG1", october, Some(shard(3))).await.unwrap(),
            events("W2")
        );
        let mut both = read(&store, "ORG1", october, None).await.unwrap();
        both.punches.sort_by(|a, b| a.worker_id.cmp(&b.worker_id));
        assert_eq!(both.punches.len(), 2);
        assert_eq!(both.punches[0], events("W1").punches[0]);
        assert!(read(&store, "ORG1", october.next(), None).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_damaged_file_is_an_error_naming_it_and_the_column() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().display().to_string()).unwrap();
        let october: PayPeriod = "2026-10".parse().unwrap();
        let batch =
            RecordBatch::try_from_iter([("worker_id", Arc::new(StringArray::from(vec!["W1"])) as ArrayRef)]).unwrap();
        let path = layout::archive_file(ArchiveKind::Punches, "ORG1", "2026-10", 1, 0);
        store.put(&path, parquet(&[batch]).unwrap()).await.unwrap();
        let refused = read(&store, "ORG1", october, None).await.unwrap_err().to_string();
        assert!(
            refused.contains("shard-0000.parquet") && refused.contains("no column event_id"),
            "{refused}"
        );
    }
}
