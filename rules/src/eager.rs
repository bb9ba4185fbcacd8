//! `CASE WHEN c THEN x [WHEN ...] ELSE y END` computed on the whole batch and chosen row by row.
//!
//! DataFusion computes each branch only for the rows that take it, so that a row a branch does
//! not take can never fail the batch: it filters the branch's rows out and merges the answers
//! back, which costs more than a cheap branch itself (ESI's `0.0075 * gross` under its `when`:
//! a twentieth of `bench calc`). Here every condition and every answer is computed for the
//! whole batch and each row takes the answer of its first true condition. Only when that fails
//! (a row some branch does not take made it overflow, say) is the batch computed again by
//! DataFusion's `CASE`, whose answer and error stand.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, new_null_array};
use datafusion::arrow::compute::kernels::zip::zip;
use datafusion::arrow::compute::prep_null_mask_filter;
use datafusion::arrow::datatypes::{DataType, FieldRef, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::CaseExpr;

use crate::session::as_case_type;

/// A `CASE` of conditions (no value after `CASE`), computed whole.
#[derive(Debug)]
pub(crate) struct Eager {
    /// DataFusion's expression: its type and how it prints are this one's, and it answers a
    /// batch the whole computation fails.
    planned: Arc<dyn PhysicalExpr>,
}

crate::session::stands_in!(for Eager);

impl Eager {
    pub(crate) fn rewrite(expr: Arc<dyn PhysicalExpr>) -> Result<Transformed<Arc<dyn PhysicalExpr>>> {
        match expr.downcast_ref::<CaseExpr>() {
            Some(case) if case.expr().is_none() => Ok(Transformed::yes(Arc::new(Eager { planned: expr }))),
            _ => Ok(Transformed::no(expr)),
        }
    }

    /// The answer of every row's first true condition (a NULL condition is not true), the
    /// `ELSE`'s where none is, NULL without an `ELSE`.
    fn whole(&self, batch: &RecordBatch, case: &CaseExpr) -> Result<ArrayRef> {
        let rows = batch.num_rows();
        let data_type = self.planned.data_type(&batch.schema())?;
        let answer = |expr: &Arc<dyn PhysicalExpr>| as_case_type(expr.evaluate(batch)?.into_array(rows)?, &data_type);
        let mut chosen = match case.else_expr() {
            Some(otherwise) => answer(otherwise)?,
            None => new_null_array(&data_type, rows),
        };
        // From the last branch to the first, so that the first true condition wins.
        for (when, then) in case.when_then_expr().iter().rev() {
            let condition = when.evaluate(batch)?.into_array(rows)?;
            let Some(condition) = condition.as_boolean_opt() else {
                return exec_err!("a CASE condition of type {}", condition.data_type());
            };
            let condition = match condition.null_count() {
                0 => condition.clone(),
                _ => prep_null_mask_filter(condition),
            };
            chosen = zip(&condition, &answer(then)?, &chosen)?;
        }
        Ok(chosen)
    }
}

impl PhysicalExpr for Eager {
    crate::session::stands_in!();

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let Some(case) = self.planned.downcast_ref::<CaseExpr>() else {
            unreachable!("an eager CASE stands in for a CASE")
        };
        match self.whole(batch, case) {
            Ok(chosen) => Ok(ColumnarValue::Array(chosen)),
            // Some row failed a branch it may not take: DataFusion's way decides.
            Err(_) => self.planned.evaluate(batch),
        }
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn PhysicalExpr>>) -> Result<Arc<dyn PhysicalExpr>> {
        Ok(Arc::new(Eager {
            planned: Arc::clone(&self.planned).with_new_children(children)?,
        }))
    }
}
