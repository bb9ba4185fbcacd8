//! Live results: the open period's pay of every worker of a shard, kept current by
//! recalculating only the workers that changed. Each recalculation appends its batch as a
//! segment and points the changed workers at their new rows; rows nobody points at are dropped
//! when the segments are compacted.

use std::collections::HashMap;

use datafusion::arrow::array::{AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{concat_batches, filter_record_batch};
use datafusion::arrow::error::Result;

/// Segments beyond this are merged into one, so a long-running stream keeps few small batches.
const MAX_SEGMENTS: usize = 16;

#[derive(Debug, Default)]
pub struct LiveResults {
    segments: Vec<RecordBatch>,
    /// Each worker's current row: (segment, row).
    index: HashMap<Box<str>, (usize, usize)>,
}

impl LiveResults {
    /// Takes in a recalculation of `recalculated` workers; `results` has a row for each of
    /// them still employed in the period (those without one are removed).
    #[allow(clippy::expect_used, reason = "results carry worker_id; worker_id is never null")]
    pub fn update(&mut self, recalculated: &[Box<str>], results: Vec<RecordBatch>) -> Result<()> {
        for id in recalculated {
            self.index.remove(id);
        }
        for batch in results.into_iter().filter(|b| b.num_rows() > 0) {
            let segment = self.segments.len();
            let ids = batch
                .column_by_name("worker_id")
                .expect("results carry worker_id")
                .as_string::<i32>();
            for (row, id) in ids.iter().enumerate() {
                self.index
                    .insert(id.expect("worker_id is never null").into(), (segment, row));
            }
            self.segments.push(batch);
        }
        if self.segments.len() > MAX_SEGMENTS {
            let current = self.current()?;
            self.segments.clear();
            self.index.clear();
            self.update(&[], current)?;
        }
        Ok(())
    }

    /// The current row of every worker, one batch.
    pub fn current(&self) -> Result<Vec<RecordBatch>> {
        let Some(schema) = self.segments.first().map(RecordBatch::schema) else {
            return Ok(Vec::new());
        };
        let mut keep: Vec<Vec<bool>> = self.segments.iter().map(|s| vec![false; s.num_rows()]).collect();
        for &(segment, row) in self.index.values() {
            keep[segment][row] = true;
        }
        let kept = self
            .segments
            .iter()
            .zip(keep)
            .map(|(segment, mask)| filter_record_batch(segment, &BooleanArray::from(mask)))
            .collect::<Result<Vec<_>>>()?;
        Ok(vec![concat_batches(&schema, &kept)?])
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch(rows: &[(&str, i64)]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("worker_id", DataType::Utf8, false),
            Field::new("net_pay", DataType::Int64, false),
        ]));
        let ids = StringArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>());
        let pay = Int64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>());
        RecordBatch::try_new(schema, vec![Arc::new(ids), Arc::new(pay)]).unwrap()
    }

    fn rows(live: &LiveResults) -> Vec<(String, i64)> {
        let mut rows = Vec::new();
        for b in live.current().unwrap() {
            let ids = b.column(0).as_string::<i32>();
            let pay = b.column(1).as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            rows.extend((0..b.num_rows()).map(|i| (ids.value(i).to_string(), pay.value(i))));
        }
        rows.sort();
        rows
    }

    #[test]
    fn recalculated_workers_replace_their_rows_and_leavers_drop_out() {
        let mut live = LiveResults::default();
        live.update(&[], vec![batch(&[("W1", 100), ("W2", 200), ("W3", 300)])])
            .unwrap();
        live.update(&["W2".into(), "W3".into()], vec![batch(&[("W2", 250)])])
            .unwrap();
        assert_eq!(rows(&live), vec![("W1".into(), 100), ("W2".into(), 250)]);
        for pay in 0..40 {
            live.update(&["W1".into()], vec![batch(&[("W1", pay)])]).unwrap();
        }
        assert!(live.segments.len() <= MAX_SEGMENTS);
        assert_eq!(rows(&live), vec![("W1".into(), 39), ("W2".into(), 250)]);
    }
}
