//! `CASE x WHEN 'a' THEN ... WHEN 'b' THEN ... END` computed branch by branch on the columns
//! each branch reads.
//!
//! DataFusion evaluates such a `CASE` by filtering, for each branch, every column any branch
//! reads out of the batch twice (the branch's rows, and the rows left for the next) and
//! merging the answers back: for `basic` by pay basis, nine columns filtered six times where
//! each branch reads three (`perf` of `bench calc`: filtering was half of the `CASE`'s time).
//! Here each row's branch is found once, each branch takes its own rows of its own columns,
//! and the answers are interleaved. A branch is computed for its rows only, as DataFusion's
//! is, so an error in one still fails only the batch that has a row in it.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, UInt32Array, new_null_array};
use datafusion::arrow::compute::{interleave, take};
use datafusion::arrow::datatypes::{DataType, FieldRef, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{CaseExpr, Column, Literal};
use datafusion::physical_expr_common::datum::compare_with_eq;

use crate::session::as_case_type;

/// A `CASE` on a value, its `WHEN`s literals, whose answers are not all literals (DataFusion
/// looks those up in a table of its own).
#[derive(Debug)]
pub(crate) struct Branches {
    /// DataFusion's expression: its type and how it prints are this one's.
    planned: Arc<dyn PhysicalExpr>,
    base: Arc<dyn PhysicalExpr>,
    /// Each `WHEN`'s value, in order: the first a row equals is its branch.
    whens: Vec<ScalarValue>,
    /// Each `WHEN`'s answer, then the `ELSE`'s if there is one.
    answers: Vec<Answer>,
    /// The schema of the batches it is evaluated on, which the answers' columns index.
    input: SchemaRef,
}

crate::session::stands_in!(for Branches);

/// A branch's answer, over a batch of only the columns it reads.
#[derive(Debug)]
struct Answer {
    expr: Arc<dyn PhysicalExpr>,
    /// The input batch's columns the answer reads, in the order of `schema`.
    columns: Vec<usize>,
    schema: SchemaRef,
}

impl Answer {
    fn new(expr: &Arc<dyn PhysicalExpr>, input: &Schema) -> Result<Answer> {
        let mut columns = Vec::new();
        expr.apply(|e| {
            if let Some(column) = e.downcast_ref::<Column>() {
                columns.push(column.index());
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        columns.sort_unstable();
        columns.dedup();
        let expr = Arc::clone(expr)
            .transform_up(|e| match e.downcast_ref::<Column>() {
                Some(column) => {
                    let index = columns.binary_search(&column.index()).unwrap_or_default();
                    Ok(Transformed::yes(
                        Arc::new(Column::new(column.name(), index)) as Arc<dyn PhysicalExpr>
                    ))
                }
                None => Ok(Transformed::no(e)),
            })?
            .data;
        let schema = Arc::new(input.project(&columns)?);
        Ok(Answer { expr, columns, schema })
    }

    /// The answer for the rows `rows` of `batch` (all of them when `None`).
    fn of(&self, batch: &RecordBatch, rows: Option<&UInt32Array>) -> Result<ArrayRef> {
        let columns = self
            .columns
            .iter()
            .map(|&c| match rows {
                Some(rows) => Ok(take(batch.column(c), rows, None)?),
                None => Ok(Arc::clone(batch.column(c))),
            })
            .collect::<Result<Vec<_>>>()?;
        let length = rows.map_or(batch.num_rows(), UInt32Array::len);
        let options = datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(length));
        let projected = RecordBatch::try_new_with_options(Arc::clone(&self.schema), columns, &options)?;
        self.expr.evaluate(&projected)?.into_array(length)
    }
}

impl Branches {
    pub(crate) fn rewrite(expr: Arc<dyn PhysicalExpr>, input: &Schema) -> Result<Transformed<Arc<dyn PhysicalExpr>>> {
        let Some(case) = expr.downcast_ref::<CaseExpr>() else {
            return Ok(Transformed::no(expr));
        };
        let Some(base) = case.expr() else {
            return Ok(Transformed::no(expr));
        };
        let whens: Option<Vec<ScalarValue>> = case
            .when_then_expr()
            .iter()
            .map(|(when, _)| when.downcast_ref::<Literal>().map(|l| l.value().clone()))
            .collect();
        let literal = |e: &Arc<dyn PhysicalExpr>| e.downcast_ref::<Literal>().is_some();
        let all_literal =
            case.when_then_expr().iter().all(|(_, then)| literal(then)) && case.else_expr().is_none_or(literal);
        let Some(whens) = whens.filter(|_| !all_literal) else {
            return Ok(Transformed::no(expr));
        };
        // A nested base (a list, a struct) is compared another way: DataFusion's.
        if base.data_type(input)?.is_nested() {
            return Ok(Transformed::no(expr));
        }
        let answers = case
            .when_then_expr()
            .iter()
            .map(|(_, then)| then)
            .chain(case.else_expr())
            .map(|answer| Answer::new(answer, input))
            .collect::<Result<Vec<_>>>()?;
        // A row's branch is a byte: more branches are DataFusion's to take.
        if answers.len() >= usize::from(NONE) {
            return Ok(Transformed::no(expr));
        }
        Ok(Transformed::yes(Arc::new(Branches {
            base: Arc::clone(base),
            planned: Arc::clone(&expr),
            whens,
            answers,
            input: Arc::new(input.clone()),
        })))
    }
}

/// A row that no branch takes (no `WHEN` matches and there is no `ELSE`): NULL.
const NONE: u8 = u8::MAX;

impl PhysicalExpr for Branches {
    crate::session::stands_in!();

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let rows = batch.num_rows();
        let base = self.base.evaluate(batch)?.into_array(rows)?;
        let mut branch = vec![NONE; rows];
        for (index, when) in self.whens.iter().enumerate() {
            if when.is_null() {
                continue;
            }
            let equal: BooleanArray = compare_with_eq(&base, &when.to_scalar()?, false)?;
            // A NULL base equals nothing: its slot is false or NULL here.
            for row in equal.values().set_indices() {
                if branch[row] == NONE && equal.is_valid(row) {
                    branch[row] = index as u8;
                }
            }
        }
        if self.answers.len() > self.whens.len() {
            let otherwise = self.whens.len() as u8;
            branch.iter_mut().filter(|b| **b == NONE).for_each(|b| *b = otherwise);
        }
        let data_type = self.planned.data_type(&batch.schema())?;
        let mut answers: Vec<ArrayRef> = Vec::with_capacity(self.answers.len() + 1);
        let mut slot = vec![(0u8, 0u32); self.answers.len()];
        for (index, answer) in self.answers.iter().enumerate() {
            let taken: Vec<u32> = (0..rows as u32)
                .filter(|&r| branch[r as usize] == index as u8)
                .collect();
            if taken.is_empty() {
                continue;
            }
            let values = match taken.len() == rows {
                true => answer.of(batch, None)?,
                false => answer.of(batch, Some(&UInt32Array::from(taken)))?,
            };
            slot[index].0 = answers.len() as u8;
            answers.push(as_case_type(values, &data_type)?);
        }
        let null = answers.len();
        answers.push(new_null_array(&data_type, 1));
        // Each row's place among its branch's answers.
        let indices: Vec<(usize, usize)> = branch
            .iter()
            .map(|&b| match b {
                NONE => (null, 0),
                b => {
                    let (source, next) = &mut slot[usize::from(b)];
                    *next += 1;
                    (usize::from(*source), *next as usize - 1)
                }
            })
            .collect();
        let sources: Vec<&dyn Array> = answers.iter().map(AsRef::as_ref).collect();
        Ok(ColumnarValue::Array(interleave(&sources, &indices)?))
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn PhysicalExpr>>) -> Result<Arc<dyn PhysicalExpr>> {
        let planned = Arc::clone(&self.planned).with_new_children(children)?;
        Ok(Branches::rewrite(planned, &self.input)?.data)
    }
}
